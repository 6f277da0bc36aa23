"""/admin/api-keys through NiceGUI's simulated user: a new key is shown once and then only by its prefix, a lower
role and an expiry can be chosen, and revoking (after confirming) makes the key unusable."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from app.auth import Actor
from app.enums import Role
from app.services import apikeys
from storage.models import ApiKey
from storage.models import User as Account


def _set(user: User, marker: str, value) -> None:
    with user:
        next(iter(user.find(marker=marker).elements)).set_value(value)


def _shown_key(user: User) -> str:
    return next(iter(user.find(marker="new-key").elements)).text


async def test_a_new_key_is_shown_once_then_only_by_its_prefix(signed_in: User):
    await signed_in.open("/admin/api-keys")
    await signed_in.should_see("You have no API keys.")

    signed_in.find(marker="key-name").type("deploy pipeline")
    _set(signed_in, "key-role", int(Role.MEMBER))
    _set(signed_in, "key-expiry", 30)
    signed_in.find(kind=ui.button, content="Create key").click()
    await signed_in.should_see("shown only this once")
    plain = _shown_key(signed_in)
    key = await ApiKey.get(prefix=plain[:10])
    acting = await apikeys.actor_for_api_key(plain)
    await signed_in.open("/admin/api-keys")

    await signed_in.should_see("deploy pipeline")
    await signed_in.should_see(f"{key.prefix}…")
    await signed_in.should_not_see(plain)
    await signed_in.should_not_see("shown only this once")
    assert plain.startswith("bk_") and key.name == "deploy pipeline"
    assert key.role == Role.MEMBER and key.expires_at is not None
    assert acting is not None and acting.role == Role.MEMBER


async def test_revoking_after_confirming_makes_the_key_unusable(signed_in: User):
    owner = await Account.get(email="owner@example.com")
    key, plain = await apikeys.create_api_key(Actor.for_user(owner), email=owner.email, name="old script")
    await signed_in.open("/admin/api-keys")
    await signed_in.should_see("old script")

    signed_in.find(marker=f"revoke-{key.id}").click()
    await signed_in.should_see("Anything using it stops working at once")
    signed_in.find(kind=ui.button, content="Revoke key").click()

    await signed_in.should_see("Revoked")
    await signed_in.should_not_see(marker=f"revoke-{key.id}")
    assert await apikeys.actor_for_api_key(plain) is None
    assert (await ApiKey.get(id=key.id)).revoked_at is not None


async def test_only_ones_own_keys_are_listed(signed_in: User):
    other = await Account.create(email="other@example.com", password_hash="!", role=Role.MEMBER)
    await apikeys.create_api_key(Actor.for_user(other), email=other.email, name="someone else's")

    await signed_in.open("/admin/api-keys")

    await signed_in.should_see("You have no API keys.")
    await signed_in.should_not_see("someone else's")
