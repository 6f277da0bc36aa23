"""Identity and permission: who is acting (Actor), what they may do (PERMISSIONS), how they prove it."""

from app.auth.actor import Actor
from app.auth.permissions import PERMISSIONS, allowed, required_role

__all__ = ["PERMISSIONS", "Actor", "allowed", "required_role"]
