"""/admin/account through NiceGUI's simulated user: changing one's password (which ends every other session) and
turning two-factor sign-in on and off."""

from __future__ import annotations

import httpx
import pyotp
from nicegui import core, ui
from nicegui.testing import User

from app.services import signin
from storage.models import User as Account

PASSWORD = "correct horse"  # the signed_in fixture's
NEW_PASSWORD = "a brand new password"


async def _change_password(user: User, current: str, new: str, repeat: str | None = None) -> None:
    await user.open("/admin/account")
    user.find("Current password").type(current)
    user.find("New password").type(new)
    user.find("Repeat new password").type(new if repeat is None else repeat)
    user.find(kind=ui.button, content="Change password").click()


async def _sign_in(user: User, password: str) -> None:
    await user.open("/login")
    user.find("E-mail").type("owner@example.com")
    user.find("Password").type(password)
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)


async def test_the_account_page_changes_the_password_and_keeps_this_session(signed_in: User):
    await _change_password(signed_in, PASSWORD, NEW_PASSWORD)

    await signed_in.should_see("Password changed", retries=50)
    await signed_in.open("/admin")
    await signed_in.should_see("Status pages")
    old = await signin.sign_in("owner@example.com", PASSWORD, ip="192.0.2.1", user_agent="test")
    new = await signin.sign_in("owner@example.com", NEW_PASSWORD, ip="192.0.2.1", user_agent="test")
    assert (old.ok, new.ok) == (False, True)


async def test_a_changed_password_ends_the_other_signed_in_sessions(signed_in: User):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url="http://test") as http:
        other_browser = User(http)
        await _sign_in(other_browser, PASSWORD)

        await _change_password(signed_in, PASSWORD, NEW_PASSWORD)
        await signed_in.should_see("Password changed", retries=50)

        await other_browser.open("/admin")
        await other_browser.should_see("Sign in to Beacon")
        await signed_in.open("/admin")
        await signed_in.should_see("Status pages")


async def test_a_wrong_current_password_or_a_mismatch_changes_nothing(signed_in: User):
    await _change_password(signed_in, "not my password", NEW_PASSWORD)
    await signed_in.should_see("Your current password is not correct.", retries=50)

    await _change_password(signed_in, PASSWORD, NEW_PASSWORD, repeat="another new password")
    await signed_in.should_see("The new passwords do not match.")

    await _change_password(signed_in, PASSWORD, "short")
    await signed_in.should_see("Use at least 10 characters.", retries=50)
    assert (await Account.get(email="owner@example.com")).session_epoch == 0


async def test_two_factor_is_set_up_with_a_code_shows_recovery_codes_once_and_turns_off_with_the_password(
        signed_in: User):
    await signed_in.open("/admin/account")
    await signed_in.should_see("Two-factor sign-in is off.")
    signed_in.find(kind=ui.button, content="Set up two-factor sign-in").click()
    await signed_in.should_see("otpauth://totp/", retries=50)
    secret = (await Account.get(email="owner@example.com")).totp_secret
    await signed_in.should_see(secret)

    signed_in.find(kind=ui.input, content="6-digit code").type(pyotp.TOTP(secret).now())
    signed_in.find(kind=ui.button, content="Turn on two-factor sign-in").click()
    await signed_in.should_see("Keep these recovery codes", retries=50)
    shown = [e.text for e in signed_in.current_layout.descendants()
             if isinstance(e, ui.label) and len(e.text) == 11 and e.text[5] == "-"]
    assert len(shown) == 10

    await signed_in.open("/admin/account")
    await signed_in.should_see("10 recovery codes left")
    await signed_in.should_not_see(shown[0])  # shown once only

    signed_in.find(kind=ui.input, content="Password").type("not my password")
    signed_in.find(kind=ui.button, content="Turn off two-factor sign-in").click()
    await signed_in.should_see("The password is not correct.", retries=50)
    signed_in.find(kind=ui.input, content="Password").clear().type(PASSWORD)
    signed_in.find(kind=ui.button, content="Turn off two-factor sign-in").click()
    await signed_in.should_see("Two-factor sign-in is off.", retries=50)
    assert (await Account.get(email="owner@example.com")).totp_enabled_at is None
