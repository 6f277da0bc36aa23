"""The sign-in screen through NiceGUI's simulated user: one message for every refusal, throttling, the second
step for two-factor accounts, and roles that must set up two-factor sign-in first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
from nicegui import ui
from nicegui.testing import User

from app.auth import Actor
from app.enums import Role
from app.services import signin
from storage.models import User as Account

PASSWORD = "correct horse"
WRONG_CREDENTIALS = "The e-mail or password is not correct."  # pages/auth.py (importing it here would
# register its pages before NiceGUI's test harness resets them)


async def _owner() -> Account:
    from app.runtime import state
    from app.services import users

    owner = await users.create_first_owner(email="owner@example.com", password=PASSWORD)
    state.has_owner = True
    return owner


async def _type_credentials(user: User, email: str, password: str) -> None:
    await user.open("/login")
    user.find("E-mail").type(email)
    user.find("Password").type(password)
    user.find(kind=ui.button, content="Sign in").click()


async def test_a_throttled_account_is_told_to_wait_whatever_the_password(user: User):
    await _owner()
    start = datetime.now(UTC) - timedelta(minutes=9)
    for minute in range(10):  # somebody else, elsewhere, guessing patiently: the tenth failure locks 15 minutes
        await signin.sign_in("owner@example.com", "a wrong guess", ip="203.0.113.9", user_agent="guesser",
                             now=start + timedelta(minutes=minute))

    await _type_credentials(user, "owner@example.com", PASSWORD)

    await user.should_see("Too many attempts; try again in 15 minutes.", retries=50)
    await user.should_not_see(WRONG_CREDENTIALS)
    await user.should_not_see("Status pages")


async def test_two_factor_accounts_are_asked_for_a_code_after_the_password(user: User):
    owner = await _owner()
    secret, _ = await signin.begin_totp(Actor.for_user(owner))
    await signin.confirm_totp(Actor.for_user(owner), pyotp.TOTP(secret).now())

    await user.open("/login")
    await user.should_not_see("Enter the 6-digit code")
    await _type_credentials(user, "owner@example.com", PASSWORD)
    await user.should_see("Enter the 6-digit code", retries=50)
    await user.should_not_see("Status pages")

    right = pyotp.TOTP(secret).now()
    user.find("Code").type("000000" if right != "000000" else "111111")
    user.find(kind=ui.button, content="Verify").click()
    await user.should_see("The code is wrong or has expired.", retries=50)

    user.find("Code").clear().type(pyotp.TOTP(secret).now())
    user.find(kind=ui.button, content="Verify").click()
    await user.should_see("Status pages", retries=50)


async def test_a_recovery_code_signs_in_instead_of_the_authenticator(user: User):
    owner = await _owner()
    secret, _ = await signin.begin_totp(Actor.for_user(owner))
    codes = await signin.confirm_totp(Actor.for_user(owner), pyotp.TOTP(secret).now())

    await _type_credentials(user, "owner@example.com", PASSWORD)
    await user.should_see("Enter the 6-digit code", retries=50)
    user.find("Code").type(codes[0])
    user.find(kind=ui.button, content="Verify").click()

    await user.should_see("Status pages", retries=50)
    assert len((await Account.get(id=owner.id)).recovery_codes) == 9


async def test_a_role_that_must_use_two_factor_sets_it_up_before_anything_else(user: User):
    owner = await _owner()
    await signin.set_required_2fa_role(Actor.for_user(owner), Role.ADMIN)

    await _type_credentials(user, "owner@example.com", PASSWORD)
    await user.should_see("Your role must use two-factor sign-in", retries=50)

    await user.open("/admin")
    await user.should_see("Your role must use two-factor sign-in")
    await user.should_not_see("Status pages")


async def test_sign_in_is_audited_with_the_browser_address(user: User):
    from storage.models import AuditEntryRow

    await _owner()
    await _type_credentials(user, "owner@example.com", PASSWORD)
    await user.should_see("Status pages", retries=50)

    entry = await AuditEntryRow.filter(action="auth.sign_in").first()
    assert entry is not None
    assert entry.ip is not None
    assert entry.changes["method"] == "password"
    assert (await Account.get(email="owner@example.com")).last_login_at <= datetime.now(UTC)
