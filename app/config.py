"""One Settings object, built from the environment and command-line flags.

Nothing else in the project reads ``os.environ``: everything that can be configured is a field here,
documented in docs/configuration.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./data")
    database_url: str = ""
    base_url: str = ""
    secret: str = ""
    owner_email: str | None = None
    owner_password: str | None = None
    monitors: bool = True
    monitor_concurrency: int = 100  # checks running at once, at most
    heartbeat_retention_days: int = 30
    # the "script" monitor kind runs commands on this machine: off unless the operator turns it on
    script_monitors: bool = False
    # deliver notifications (the outbox worker); off only in tests that drive it themselves
    notifications: bool = True
    # webhook subscribers from the public form may name addresses on this machine or its private networks (off:
    # an anonymous visitor must not make the server call inside the network; tests turn it on)
    subscriber_private_urls: bool = False
    # start, complete and remind maintenance windows on time (off only in tests that drive the clock themselves)
    maintenance_timer: bool = True
    security_admin_key: str | None = None
    # when set, GET /metrics (Prometheus) asks for "Authorization: Bearer <token>"; it lists private pages too
    metrics_token: str | None = None
    # reverse proxies whose X-Forwarded-For/-Proto/-Host are believed (app/proxies.py); empty: nobody's
    trusted_proxies: str = ""
    log_format: str = "text"  # or "json": one JSON object per log line
    # Running inside pytest or CI: lets tests insist on services that are optional elsewhere.
    ci: bool = False
    # bench/public_flood.py only: > 0 adds GET /bench/raw answering this many fixed bytes, the baseline that the
    # status page fast path is compared with. Never set in production.
    bench_raw_bytes: int = 0

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite://{(self.data_dir / 'beacon.sqlite3').resolve()}"

    @property
    def effective_base_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "on", "true", "yes"}


def from_environment(environ: dict[str, str] | None = None, argv: list[str] | None = None) -> Settings:
    """Build settings: defaults, overridden by ``BEACON_*`` variables, overridden by flags."""
    env = dict(os.environ if environ is None else environ)
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--data-dir")
    flags, _ = parser.parse_known_args(argv or [])

    defaults = Settings()
    port_text = env.get("BEACON_PORT") or str(defaults.port)
    if not port_text.isdigit():
        raise SystemExit(f"BEACON_PORT must be a port number, not {port_text!r}")
    raw_bytes_text = env.get("BEACON_BENCH_RAW_BYTES") or "0"
    if not raw_bytes_text.isdigit():
        raise SystemExit(f"BEACON_BENCH_RAW_BYTES must be a number of bytes, not {raw_bytes_text!r}")
    try:
        from app.proxies import parse_trusted

        parse_trusted(env.get("BEACON_TRUSTED_PROXIES", ""))
    except ValueError as exc:
        raise SystemExit(f"BEACON_TRUSTED_PROXIES: {exc}") from None
    log_format = (env.get("BEACON_LOG_FORMAT") or "text").strip().lower()
    if log_format not in ("text", "json"):
        raise SystemExit(f"BEACON_LOG_FORMAT must be text or json, not {log_format!r}")
    numbers = {}
    for name, key, low in (("monitor_concurrency", "BEACON_MONITOR_CONCURRENCY", 1),
                           ("heartbeat_retention_days", "BEACON_HEARTBEAT_RETENTION_DAYS", 1)):
        text = env.get(key) or str(getattr(defaults, name))
        if not text.isdigit() or int(text) < low:
            raise SystemExit(f"{key} must be a whole number of at least {low}, not {text!r}")
        numbers[name] = int(text)
    settings = Settings(
        host=flags.host or env.get("BEACON_HOST") or defaults.host,
        port=flags.port if flags.port is not None else int(port_text),
        data_dir=Path(flags.data_dir or env.get("BEACON_DATA_DIR") or defaults.data_dir),
        database_url=env.get("BEACON_DATABASE_URL", ""),
        base_url=env.get("BEACON_BASE_URL", ""),
        secret=env.get("BEACON_SECRET", ""),
        owner_email=env.get("BEACON_OWNER_EMAIL") or None,
        owner_password=env.get("BEACON_OWNER_PASSWORD") or None,
        monitors=_flag(env.get("BEACON_MONITORS"), True),
        script_monitors=_flag(env.get("BEACON_SCRIPT_MONITORS"), False),
        **numbers,
        maintenance_timer=_flag(env.get("BEACON_MAINTENANCE_TIMER"), True),
        notifications=_flag(env.get("BEACON_NOTIFICATIONS"), True),
        subscriber_private_urls=_flag(env.get("BEACON_SUBSCRIBER_PRIVATE_URLS"), False),
        security_admin_key=env.get("BEACON_SECURITY_ADMIN_KEY") or None,
        metrics_token=env.get("BEACON_METRICS_TOKEN") or None,
        trusted_proxies=env.get("BEACON_TRUSTED_PROXIES", ""),
        log_format=log_format,
        ci=_flag(env.get("CI"), False),
        bench_raw_bytes=int(raw_bytes_text),
    )
    return settings


def with_secret(settings: Settings) -> Settings:
    """Return settings whose secret is set: the given one, or one generated once and kept in the data folder."""
    if settings.secret:
        return settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "secret.key"
    if not path.exists():
        # created readable by the owner only from the first byte on
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return replace(settings, secret=path.read_text().strip())


_current: Settings | None = None


def current() -> Settings:
    """The settings the running process was started with."""
    global _current
    if _current is None:
        _current = with_secret(from_environment())
    return _current


def use(settings: Settings) -> Settings:
    """Make ``settings`` the process-wide settings (the CLI and tests call this)."""
    global _current
    _current = with_secret(settings)
    return _current
