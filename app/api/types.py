"""Parameter types the API routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from app.services.validation import MAX_ROW_ID

# A row id in a path: a number no table can hold is a 422, not a database overflow.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="the row's id")]
