"""The mail kinds against real servers: aiosmtpd for SMTP (plain, STARTTLS with login, implicit TLS) and a real
Debian dovecot for IMAP, started for this module as its own process with its own configuration in a temporary
directory (package dovecot-imapd; skipped only when the dovecot binary is not installed)."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitors import registry, schema
from tests.monitors.conftest import assert_times_out, check, free_port

USER, PASSWORD = "monitor", "correct horse"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("mail-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _server_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


# ------------------------------------------------------------------------------------------------------ smtp

class _Handler:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "250 OK"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and \
        auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


def _smtpd(**kwargs: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(_Handler(), hostname="127.0.0.1", port=port, ident="Beacon-test ESMTP ready",
                            server_hostname="mx.test", **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def smtp_plain() -> Iterator[int]:
    yield from _smtpd()


@pytest.fixture(scope="module")
def smtp_starttls(ca: trustme.CA) -> Iterator[int]:
    """Submission-style: STARTTLS offered and required; AUTH offered only after it."""
    yield from _smtpd(tls_context=_server_ctx(ca), require_starttls=True, authenticator=_authenticator,
                      auth_require_tls=True)


@pytest.fixture(scope="module")
def smtp_tls(ca: trustme.CA) -> Iterator[int]:
    # aiosmtpd does not count implicit TLS as TLS for auth_require_tls, so AUTH is allowed explicitly
    yield from _smtpd(ssl_context=_server_ctx(ca), authenticator=_authenticator, auth_require_tls=False)


async def test_smtp_plain_up_and_banner(smtp_plain: int) -> None:
    result = await check("smtp", {"host": "127.0.0.1", "port": smtp_plain, "expected_banner": "ESMTP"})
    assert (result.outcome, result.message) == ("up", "220 mx.test Beacon-test ESMTP ready")
    result = await check("smtp", {"host": "127.0.0.1", "port": smtp_plain, "expected_banner": "Postfix"})
    assert (result.outcome, result.message) == (
        "down", "Banner does not contain 'Postfix': 220 mx.test Beacon-test ESMTP ready")


async def test_smtp_starttls_requested_but_not_offered(smtp_plain: int) -> None:
    result = await check("smtp", {"host": "127.0.0.1", "port": smtp_plain, "security": "starttls"})
    assert (result.outcome, result.message) == ("down", "Server does not offer STARTTLS")


async def test_smtp_starttls_login(smtp_starttls: int, ca_file: str) -> None:
    config = {"host": "127.0.0.1", "port": smtp_starttls, "security": "starttls", "ca_file": ca_file,
              "username": USER, "password": PASSWORD}
    result = await check("smtp", config)
    assert (result.outcome, result.message) == (
        "up", f"220 mx.test Beacon-test ESMTP ready (STARTTLS, logged in as {USER})")
    result = await check("smtp", {**config, "password": "wrong"})
    assert result.outcome == "down"
    assert result.message.startswith("Authentication failed: 535")
    # AUTH is not offered before STARTTLS
    result = await check("smtp", {**config, "security": "none"})
    assert (result.outcome, result.message) == ("down", "Server does not offer AUTH before STARTTLS")


async def test_smtp_untrusted_certificate(smtp_starttls: int, smtp_tls: int) -> None:
    for port, security in ((smtp_starttls, "starttls"), (smtp_tls, "tls")):
        result = await check("smtp", {"host": "127.0.0.1", "port": port, "security": security})
        assert result.outcome == "down"
        assert result.message.startswith("TLS certificate not trusted"), result.message
    result = await check("smtp", {"host": "127.0.0.1", "port": smtp_tls, "security": "tls", "verify_tls": False})
    assert result.outcome == "up"


async def test_smtp_implicit_tls(smtp_tls: int, ca_file: str) -> None:
    result = await check("smtp", {"host": "127.0.0.1", "port": smtp_tls, "security": "tls", "ca_file": ca_file,
                                  "username": USER, "password": PASSWORD})
    assert (result.outcome, result.message) == ("up", f"220 mx.test Beacon-test ESMTP ready (TLS, logged in as {USER})")


async def test_smtp_refused(closed_port: int) -> None:
    result = await check("smtp", {"host": "127.0.0.1", "port": closed_port})
    assert result.outcome == "down"
    assert result.message.startswith(f"Cannot connect to 127.0.0.1:{closed_port}")


async def test_smtp_hung(hung_port: int) -> None:
    await assert_times_out("smtp", {"host": "127.0.0.1", "port": hung_port})


def test_smtp_invalid_config() -> None:
    with pytest.raises(schema.ConfigError) as err:
        schema.validate(registry.get("smtp"), {"host": "", "port": 70000, "security": "ssl"})
    assert err.value.errors == {"host": "is required", "port": "must be at most 65535",
                                "security": "must be one of none, starttls, tls"}
    with pytest.raises(schema.ConfigError) as err:
        schema.validate(registry.get("smtp"), {"host": "mx", "password": "x"})
    assert err.value.errors == {"username": "is required when a password is given"}


# ------------------------------------------------------------------------------------------------------ imap

DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = yes
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
mail_location = maildir:{base}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service auth {{
  user = {auth_user}
}}
# no auth penalty (a growing delay for an address after a failed login) between the tests
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def _wait_for_greeting(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("dovecot did not start: " + (log.read_text() if log.exists() else "no log"))
        time.sleep(0.05)


@pytest.fixture(scope="module")
def dovecot(ca: trustme.CA) -> Iterator[dict[str, int]]:
    """A real dovecot on two free ports: plain IMAP with STARTTLS, and IMAP over TLS. As root, dovecot's own
    unprivileged users (from the Debian package) run the login processes and mail is stored as "nobody"; as
    another user, everything runs as that user."""
    binary = shutil.which("dovecot") or next((p for p in ("/usr/sbin/dovecot",) if os.path.exists(p)), None)
    if binary is None:
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    base = Path(tempfile.mkdtemp(prefix="beacon-dovecot-"))  # not under pytest's 0700 root-owned tmp dir
    if os.geteuid() == 0:
        internal_user = internal_group = "dovecot"
        login_user, auth_user = "dovenull", "root"
        mail_uid = pwd.getpwnam("nobody").pw_uid
        mail_gid = pwd.getpwnam("nobody").pw_gid
    else:
        me = pwd.getpwuid(os.geteuid())
        internal_user = login_user = auth_user = me.pw_name
        internal_group = str(os.getegid())
        mail_uid, mail_gid = me.pw_uid, me.pw_gid
    (base / "mail").mkdir()
    os.chown(base / "mail", mail_uid, mail_gid)
    base.chmod(0o755)
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(base / "cert.pem"))
    cert.private_key_pem.write_to_path(str(base / "key.pem"))
    (base / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{mail_uid}:{mail_gid}::{base}/mail/{USER}\n")
    ports = {"imap": free_port(), "imaps": free_port()}
    (base / "dovecot.conf").write_text(DOVECOT_CONF.format(
        base=base, internal_user=internal_user, internal_group=internal_group, login_user=login_user,
        auth_user=auth_user, imap_port=ports["imap"], imaps_port=ports["imaps"]))
    proc = subprocess.Popen([binary, "-F", "-c", str(base / "dovecot.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_greeting(ports["imap"], proc, base / "dovecot.log")
        yield ports
    finally:
        proc.terminate()  # the master stops and reaps its imap/auth/login children
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything left of the group
        except ProcessLookupError:
            pass
        proc.wait()
        shutil.rmtree(base, ignore_errors=True)


def _imap(port: int, **extra: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "security": "none", "username": USER, "password": PASSWORD,
            **extra}


async def test_imap_plain_up(dovecot: dict[str, int]) -> None:
    result = await check("imap", _imap(dovecot["imap"]))
    assert (result.outcome, result.message) == ("up", "Logged in, INBOX has 0 messages")
    assert result.details == {"messages": 0}


async def test_imap_starttls_and_tls_up(dovecot: dict[str, int], ca_file: str) -> None:
    result = await check("imap", _imap(dovecot["imap"], security="starttls", ca_file=ca_file))
    assert (result.outcome, result.message) == ("up", "Logged in, INBOX has 0 messages")
    result = await check("imap", _imap(dovecot["imaps"], security="tls", ca_file=ca_file))
    assert (result.outcome, result.message) == ("up", "Logged in, INBOX has 0 messages")


async def test_imap_untrusted_certificate(dovecot: dict[str, int]) -> None:
    result = await check("imap", _imap(dovecot["imaps"], security="tls"))
    assert result.outcome == "down"
    assert result.message.startswith("TLS certificate not trusted"), result.message


async def test_imap_wrong_password(dovecot: dict[str, int]) -> None:
    result = await check("imap", _imap(dovecot["imap"], password="wrong"), timeout=2.0)
    assert (result.outcome, result.message) == ("down", "Login failed: [AUTHENTICATIONFAILED] Authentication failed.")


async def test_imap_unknown_mailbox(dovecot: dict[str, int]) -> None:
    result = await check("imap", _imap(dovecot["imap"], mailbox="Archive 2019"))
    assert result.outcome == "down"
    assert result.message.startswith("Cannot open mailbox 'Archive 2019': Mailbox doesn't exist: Archive 2019")


async def test_imap_refused(closed_port: int) -> None:
    result = await check("imap", _imap(closed_port))
    assert (result.outcome, result.message) == ("down", f"Connection refused by 127.0.0.1:{closed_port}")


async def test_imap_hung(hung_port: int) -> None:
    await assert_times_out("imap", _imap(hung_port))


def test_imap_invalid_config() -> None:
    with pytest.raises(schema.ConfigError) as err:
        schema.validate(registry.get("imap"), {"host": "imap.example.com", "port": 0, "ca_file": "ca.pem"})
    assert err.value.errors == {"port": "must be at least 1", "username": "is required", "password": "is required"}
    with pytest.raises(schema.ConfigError) as err:
        schema.validate(registry.get("imap"), {"host": "imap.example.com", "username": "u", "password": "p",
                                               "ca_file": "ca.pem"})
    assert err.value.errors == {"ca_file": "must be an absolute file path"}
