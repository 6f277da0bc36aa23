"""API authentication: the key in ``Authorization: Bearer <key>`` (or the UP-style ``Auth: <key>``) → an Actor.

Use ``actor: Actor = Depends(api_actor)`` in a route; a missing, unknown, revoked or expired key answers 401
``application/problem+json`` with ``WWW-Authenticate: Bearer``. What the actor may do is decided by the services.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.auth import Actor
from app.services import apikeys
from app.services.errors import ServiceError

# The audit trail stores these in columns of this size (storage/models/audit.py).
_MAX_IP, _MAX_USER_AGENT = 64, 500

_bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                     description="An API key: `Authorization: Bearer bk_…` (`python main.py apikey create`).")
_up_header = APIKeyHeader(name="Auth", auto_error=False, scheme_name="auth_header",
                          description="The same API key in the UP-style `Auth:` header.")


class Unauthenticated(ServiceError):
    status_code = 401
    title = "Unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


def client_of(request: Request) -> tuple[str | None, str | None]:
    """Client address and user agent as the audit trail records them."""
    ip = request.client.host if request.client else None
    agent = request.headers.get("user-agent")
    return (ip[:_MAX_IP] if ip else None), (agent[:_MAX_USER_AGENT] if agent else None)


async def api_actor(request: Request, bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
                    up_key: str | None = Depends(_up_header)) -> Actor:
    key = (bearer.credentials if bearer else up_key or "").strip()
    if not key:
        raise Unauthenticated("Send an API key: 'Authorization: Bearer <key>' or 'Auth: <key>'.")
    ip, agent = client_of(request)
    actor = await apikeys.actor_for_api_key(key, ip=ip, user_agent=agent)
    if actor is None:
        raise Unauthenticated("The API key is not valid: it is unknown, revoked or expired, "
                              "or its account is disabled.")
    return actor
