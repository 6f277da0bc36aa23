"""Sub-commands of ``python main.py``: serve (default), audit verify, user create, apikey create,
docs roles|monitors, demo, export FILE, import FILE."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable

from app import config
from app.config import Settings


def _positive_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if days < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of days of 1 or more")
    return days


def _parser() -> argparse.ArgumentParser:
    # the server flags are accepted before or after the sub-command (config.from_environment reads them)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--host", default=argparse.SUPPRESS)
    common.add_argument("--port", type=int, default=argparse.SUPPRESS)
    common.add_argument("--data-dir", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="main.py", description="Beacon status pages and monitoring",
                                     parents=[common])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the server (default)", parents=[common])
    audit = sub.add_parser("audit", help="audit trail tools", parents=[common])
    audit.add_argument("action", choices=["verify"])
    user = sub.add_parser("user", help="accounts", parents=[common])
    user.add_argument("action", choices=["create"])
    user.add_argument("--email", required=True)
    user.add_argument("--role", default="MEMBER")
    apikey = sub.add_parser("apikey", help="API keys", parents=[common])
    apikey.add_argument("action", choices=["create"])
    apikey.add_argument("--email", required=True)
    apikey.add_argument("--role")
    apikey.add_argument("--name", default="")
    apikey.add_argument("--expires-days", type=_positive_days, help="the key stops working after this many days")
    docs = sub.add_parser("docs", help="generated documentation", parents=[common])
    docs.add_argument("action", choices=["roles", "monitors"],
                      help="roles: docs/roles.md from the permission table; monitors: docs/monitors.md from the kinds")
    docs.add_argument("--output", help="write here instead of docs/roles.md or docs/monitors.md")
    sub.add_parser("demo", help="load the demo status page", parents=[common])
    export = sub.add_parser("export", help="write a full backup to FILE (JSON; a name ending in .gz is compressed)",
                            parents=[common])
    export.add_argument("file")
    export.add_argument("--with-secrets", action="store_true",
                        help="include channel secrets, monitor passwords and the SMTP password")
    restore = sub.add_parser("import", help="load a backup into a new, empty database", parents=[common])
    restore.add_argument("file")
    return parser


async def _with_database(settings: Settings, work: Callable[[], Awaitable[int]]) -> int:
    from tortoise.exceptions import DBConnectionError, OperationalError

    from storage.db import close_database, open_database
    from storage.migrations import SchemaError

    try:
        await open_database(settings.effective_database_url)
    except SchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ConnectionError, DBConnectionError, OperationalError) as exc:
        # exit 2, not 1: a monitoring job must tell "cannot check" from "the chain is broken"
        print(f"error: cannot open the database: {exc}", file=sys.stderr)
        return 2
    try:
        return await work()
    finally:
        await close_database()


async def _audit_verify() -> int:
    from app import audit

    intact, sentence = await audit.verdict()
    print(sentence)
    return 0 if intact else 1


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Repeat password: "):
            raise SystemExit("The passwords do not match.")
        return first
    return sys.stdin.readline().rstrip("\n")


async def _user_create(email: str, role: str, password: str) -> int:
    from app.auth import Actor
    from app.services import users
    from app.services.errors import ServiceError

    try:
        user = await users.create_user(Actor.system("cli"), email=email, password=password, role=role)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"created {user.email} ({user.role.name})")
    return 0


async def _apikey_create(email: str, role: str | None, name: str, expires_days: int | None) -> int:
    from datetime import UTC, datetime, timedelta

    from app.auth import Actor
    from app.services import apikeys
    from app.services.errors import ServiceError

    expires_at = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    try:
        _, plain = await apikeys.create_api_key(Actor.system("cli"), email=email, role=role, name=name,
                                                expires_at=expires_at)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(plain)  # the only time the key is shown
    return 0


def _docs(action: str, output: str | None) -> int:
    from pathlib import Path

    from app.auth import roles_doc
    from monitors import docs as monitors_doc

    writer = roles_doc if action == "roles" else monitors_doc
    path = writer.write(Path(output)) if output else writer.write()
    print(f"wrote {path}")
    return 0


async def _demo() -> int:
    from app.demo import load_demo

    page_id = await load_demo()
    print(f"demo page ready at /status/demo (id {page_id})")
    return 0


def main(argv: list[str], serve: Callable[[Settings], None]) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    logging.basicConfig(level=logging.INFO if command == "serve" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if command == "docs":
        return _docs(args.action, args.output)  # needs neither settings nor a database
    settings = config.use(config.from_environment(argv=argv))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if command == "serve":
        serve(settings)
        return 0
    if command == "audit":
        work = _audit_verify
    elif command == "user":
        password = _read_password()
        work = lambda: _user_create(args.email, args.role, password)  # noqa: E731
    elif command == "apikey":
        work = lambda: _apikey_create(args.email, args.role, args.name, args.expires_days)  # noqa: E731
    elif command == "export":
        from app import backup

        work = lambda: backup.cli_export(args.file, with_secrets=args.with_secrets)  # noqa: E731
    elif command == "import":
        from app import backup

        work = lambda: backup.cli_import(args.file)  # noqa: E731
    else:
        work = _demo
    return asyncio.run(_with_database(settings, work))
