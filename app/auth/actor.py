from __future__ import annotations

from dataclasses import dataclass, replace

from app.enums import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs a service call: a signed-in user, an API key, or the system itself."""

    kind: str  # "user", "apikey" or "system"
    id: int | None
    label: str
    role: Role
    ip: str | None = None
    user_agent: str | None = None
    user_id: int | None = None

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(kind="system", id=None, label=label, role=Role.OWNER)

    @classmethod
    def for_user(cls, user, *, ip: str | None = None, user_agent: str | None = None) -> Actor:
        return cls(kind="user", id=user.id, label=user.email, role=Role(user.role), ip=ip,
                   user_agent=user_agent, user_id=user.id)

    def at(self, ip: str | None, user_agent: str | None) -> Actor:
        return replace(self, ip=ip, user_agent=user_agent)
