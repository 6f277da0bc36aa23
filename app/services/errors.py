"""The few domain errors services raise. app/api maps them to problem+json, pages/ to a visible message."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400
    title = "Bad request"


class NotFound(ServiceError):
    status_code = 404
    title = "Not found"


class Forbidden(ServiceError):
    status_code = 403
    title = "Forbidden"


class Conflict(ServiceError):
    status_code = 409
    title = "Conflict"


class Invalid(ServiceError):
    """Bad input; ``errors`` maps each field to a message a person can act on."""

    status_code = 422
    title = "Invalid input"

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
