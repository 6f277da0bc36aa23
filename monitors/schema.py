"""Validating a kind's config: each field on its own, then the kind's cross-field rules.

Returns the cleaned config (types coerced, defaults filled, unknown keys dropped) and ``{field: message}``
errors in words a person filling in the form understands.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from monitors.base import Field, Kind


class ConfigError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, list | dict) and not value)


def _lines(value: Any) -> list[str]:
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    raise ValueError("must be a list of values")


def _map(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        return {str(k).strip(): str(v) for k, v in value.items() if str(k).strip()}
    if isinstance(value, str):
        out: dict[str, str] = {}
        for number, line in enumerate(value.splitlines(), 1):
            if not line.strip():
                continue
            name, sep, rest = line.partition(":")
            if not sep or not name.strip():
                raise ValueError(f'line {number} must look like "Name: value"')
            out[name.strip()] = rest.strip()
        return out
    raise ValueError('must be "Name: value" pairs')


def _number(f: Field, value: Any, cast: type) -> float | int:
    if isinstance(value, bool):
        raise ValueError("must be a number")
    try:
        number = cast(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError("must be a whole number" if cast is int else "must be a number") from None
    if cast is int and isinstance(value, float) and value != int(value):
        raise ValueError("must be a whole number")
    if f.min is not None and number < f.min:
        raise ValueError(f"must be at least {f.min:g}")
    if f.max is not None and number > f.max:
        raise ValueError(f"must be at most {f.max:g}")
    return number


def clean_field(f: Field, value: Any) -> Any:
    if f.type in ("str", "text", "secret"):
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError("must be text")
        text = str(value)
        return text.strip() if f.type == "str" else text
    if f.type == "int":
        return _number(f, value, int)
    if f.type == "float":
        return _number(f, value, float)
    if f.type == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.strip().lower() in ("true", "yes", "on", "1")
        raise ValueError("must be true or false")
    if f.type == "choice":
        if value not in f.choices:
            raise ValueError("must be one of " + ", ".join(f.choices))
        return value
    if f.type == "list":
        return _lines(value)
    if f.type == "map":
        return _map(value)
    if f.type == "json":
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return value
    raise AssertionError(f"unknown field type {f.type}")


def validate(kind: Kind, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """The cleaned config, or ``ConfigError`` with every field's problem at once."""
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise ConfigError({"config": "must be an object of the kind's settings"})
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in kind.fields:
        value = raw.get(f.name)
        if _empty(value) and not (f.type == "bool" and value is False):
            if f.required:
                errors[f.name] = "is required"
            elif f.default is not None:
                clean[f.name] = f.default
            continue
        try:
            clean[f.name] = clean_field(f, value)
        except ValueError as exc:
            errors[f.name] = str(exc)
    if not errors and kind.validate is not None:
        errors.update(kind.validate(clean))
    if errors:
        raise ConfigError(errors)
    return clean


def defaults(kind: Kind) -> dict[str, Any]:
    return {f.name: f.default for f in kind.fields if f.default is not None}
