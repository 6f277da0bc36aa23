"""Client TLS contexts for every kind, built once per configuration and shared (PITFALLS.md: building one costs
~20 ms of CPU, which thousands of checks must not pay each time).

A context is rebuilt when one of its files changes (a renewed certificate, a re-pointed certbot link), so a
long-running Beacon never keeps trusting or presenting an old one. Trust starts from the system's CA store (where
operators install their private CAs), plus ``ca_file`` when given.
"""

from __future__ import annotations

import os
import ssl
from typing import Any


class TLSSetupError(Exception):
    """A configured certificate or CA file cannot be read or loaded; ``field`` names the setting."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


# (verify, ca_file, client_cert, client_key, purpose) → (file stamps, context)
_CONTEXTS: dict[tuple[Any, ...], tuple[tuple[Any, ...], ssl.SSLContext]] = {}


def _file_stamp(path: str) -> tuple[int, ...]:
    st = os.stat(path)  # follows symlinks, so a re-pointed "live" link counts as a change
    return st.st_ino, st.st_mtime_ns, st.st_size


def _fresh(verify: bool) -> ssl.SSLContext:
    if verify:
        return ssl.create_default_context()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def client_context(verify: bool = True, ca_file: str | None = None, client_cert: str | None = None,
                   client_key: str | None = None, *, purpose: str = "") -> ssl.SSLContext:
    """The shared client context for one TLS configuration. ``purpose`` keeps separate contexts for users that
    change them: httpx sets ALPN "http/1.1" on the contexts it is given, which a gRPC or raw TLS server may
    refuse, so the HTTP kinds pass ``purpose="http"``."""
    key = (verify, ca_file or None, client_cert or None, client_key or None, purpose)
    stamps = []
    for name, path in (("ca_file", key[1]), ("client_cert", key[2]), ("client_key", key[3])):
        if path:
            try:
                stamps.append(_file_stamp(path))
            except OSError as exc:
                raise TLSSetupError(name, f"cannot read {path}: {exc.strerror or exc}") from None
    cached = _CONTEXTS.get(key)
    if cached and cached[0] == tuple(stamps):
        return cached[1]
    ctx = _fresh(verify)
    if ca_file:
        try:
            ctx.load_verify_locations(cafile=ca_file)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise TLSSetupError("ca_file", f"{ca_file} is not a PEM file of CA certificates ({exc})") from None
    if client_cert:
        try:
            ctx.load_cert_chain(client_cert, client_key or None)
        except (ssl.SSLError, OSError, ValueError) as exc:
            field = "client_key" if client_key and "key" in str(exc).lower() else "client_cert"
            raise TLSSetupError(field, f"cannot load the client certificate and key ({exc})") from None
    _CONTEXTS[key] = (tuple(stamps), ctx)
    return ctx
