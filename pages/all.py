"""Importing this module registers every NiceGUI page."""

from pages import auth  # noqa: F401
from pages.admin import dashboard  # noqa: F401
