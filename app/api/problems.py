"""Service errors → ``application/problem+json`` (RFC 9457), in one place."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.services.errors import Invalid, ServiceError


def problem(status: int, title: str, detail: str = "", errors: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    # an error class may name response headers, e.g. WWW-Authenticate on 401 (app/api/auth.py)
    return problem(exc.status_code, exc.title, str(exc), exc.errors if isinstance(exc, Invalid) else None,
                   getattr(exc, "headers", None))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = {}
    for err in exc.errors():
        if err.get("type") == "json_invalid":  # its loc is a character position, not a field
            errors["body"] = "The body is not valid JSON."
            continue
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        # a validator's own message, without pydantic's "Value error, " prefix
        message = err["ctx"]["error"] if err.get("type") == "value_error" and "error" in err.get("ctx", {}) else None
        errors[".".join(loc) or "body"] = str(message or err.get("msg", "invalid"))
    return problem(422, "Invalid input", "The request body does not have the expected shape.", errors)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem(exc.status_code, HTTPStatus(exc.status_code).phrase, str(exc.detail or ""),
                   headers=getattr(exc, "headers", None))


def install(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
