"""The shipped deployment files agree with each other and with the documentation.

Structural checks only: nothing here builds an image or starts a proxy (this machine has no registry access).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED = set(re.findall(r"`(BEACON_[A-Z_]+)`", (ROOT / "docs" / "configuration.md").read_text()))
READ_BY_CONFIG = set(re.findall(r"\"(BEACON_[A-Z_]+)\"", (ROOT / "app" / "config.py").read_text()))
COMPOSE_FILES = ["compose.yaml", "compose.postgres.yaml"]


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def _instructions(name: str) -> list[str]:
    return [args for instruction, args in _dockerfile() if instruction == name]


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in _instructions("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def _compose(name: str) -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the compose files")
    return yaml.safe_load((ROOT / name).read_text())


def _unit() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in (ROOT / "deploy" / "beacon.service").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


# --- Dockerfile ----------------------------------------------------------------------------------------------------
def test_the_image_starts_from_debian_python_only():
    assert _instructions("FROM") == ["python:3.11-slim-bookworm"]


def test_packages_come_from_pypi_through_pip_only():
    commands = " ".join(_instructions("RUN"))

    assert "pip install" in commands
    for other in ("--extra-index-url", "--find-links", "conda ", "npm ", "curl ", "wget ", "git+"):
        assert other not in commands, other
    assert set(re.findall(r"--index-url\s+(\S+)", commands)) <= {"https://pypi.org/simple"}
    assert not _instructions("ADD"), "ADD may fetch URLs; COPY is enough"


def test_the_image_sets_the_data_volume_address_and_a_non_root_user():
    env = _dockerfile_env()

    assert env["BEACON_HOST"] == "0.0.0.0"
    assert env["BEACON_DATA_DIR"] == "/data"
    assert _instructions("VOLUME") == ["/data"]
    assert _instructions("EXPOSE") == ["8080"]
    assert _instructions("USER") and _instructions("USER")[-1] not in ("root", "0")
    assert _instructions("CMD") == ['["python", "main.py"]']


def test_the_health_check_asks_healthz_with_python_not_curl():
    (check,) = _instructions("HEALTHCHECK")

    assert "/healthz" in check
    assert '"python"' in check
    assert "curl" not in check and "wget" not in check


def test_the_dockerfile_names_only_documented_settings():
    names = set(_dockerfile_env()) | set(re.findall(r"BEACON_[A-Z_]+", " ".join(_instructions("HEALTHCHECK"))))

    assert {n for n in names if n.startswith("BEACON_")} <= DOCUMENTED & READ_BY_CONFIG


def test_the_build_context_leaves_out_local_data_and_the_virtualenv():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}

    assert {".git", ".venv", "data"} <= ignored
    copied = " ".join(_instructions("COPY"))
    assert all(name not in ignored for name in ("pyproject.toml", "README.md", "main.py", "app", "pages",
                                                "monitors", "storage")), "pip install . needs these"
    assert "pyproject.toml" in copied and "main.py" in copied


# --- compose files -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_keeps_data_in_a_named_volume_and_stops_gracefully(name: str):
    compose = _compose(name)
    beacon = compose["services"]["beacon"]

    assert "beacon-data:/data" in beacon["volumes"]
    assert "beacon-data" in compose["volumes"]
    assert beacon["build"] == "."
    assert int(beacon["stop_grace_period"].rstrip("s")) >= 10


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_sets_only_documented_settings(name: str):
    environment = _compose(name)["services"]["beacon"]["environment"]

    names = {key for key in environment if key.startswith("BEACON_")}
    assert names, "an environment example"
    assert names <= DOCUMENTED & READ_BY_CONFIG, names - DOCUMENTED


def test_the_postgres_variant_runs_postgres_16_and_points_beacon_at_it():
    compose = _compose("compose.postgres.yaml")
    db, beacon = compose["services"]["db"], compose["services"]["beacon"]

    assert db["image"] == "postgres:16"
    assert beacon["environment"]["BEACON_DATABASE_URL"].startswith("postgres://beacon:")
    assert beacon["environment"]["BEACON_DATABASE_URL"].endswith("@db:5432/beacon")
    assert beacon["depends_on"]["db"]["condition"] == "service_healthy"
    assert "db-data" in compose["volumes"]


def test_the_sqlite_variant_has_no_database_service():
    compose = _compose("compose.yaml")

    assert set(compose["services"]) == {"beacon"}
    assert "BEACON_DATABASE_URL" not in compose["services"]["beacon"]["environment"]


# --- systemd ---------------------------------------------------------------------------------------------------------
def test_the_systemd_unit_waits_for_the_graceful_shutdown():
    unit = _unit()

    assert int(unit["TimeoutStopSec"][-1]) >= 10
    assert unit["Restart"] == ["on-failure"]


def test_the_systemd_unit_runs_hardened_as_its_own_user():
    unit = _unit()

    assert unit["User"][-1] not in ("root", "")
    assert unit["ExecStart"] == ["/opt/beacon/.venv/bin/python main.py"]
    assert unit["EnvironmentFile"] == ["/etc/beacon/beacon.env"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"]
    data_dir = next(value.split("=", 1)[1] for value in unit["Environment"] if value.startswith("BEACON_DATA_DIR="))
    assert data_dir in unit["ReadWritePaths"][-1].split()


# --- proxies -------------------------------------------------------------------------------------------------------
def test_nginx_does_not_buffer_the_live_route_and_passes_the_forwarding_headers():
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    live = re.search(r"location ~ \^/status/\[\^/\]\+/live\$ \{(?P<body>[^}]*)\}", text)

    assert live is not None, "a location for /status/<slug>/live"
    assert re.search(r"proxy_buffering\s+off;", live.group("body"))
    for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Upgrade"):
        assert re.search(rf"proxy_set_header\s+{header}\s", text), header


def test_nginx_live_location_matches_the_live_route_only():
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    pattern = re.search(r"location ~ (\S+) \{", text).group(1)

    assert re.search(pattern, "/status/acme/live")
    assert not re.search(pattern, "/status/acme/incidents/1")
    assert not re.search(pattern, "/status/acme/live/extra")


def test_caddy_streams_the_live_route_and_asks_before_on_demand_certificates():
    text = (ROOT / "deploy" / "Caddyfile").read_text()

    assert "flush_interval -1" in text
    assert re.search(r"path_regexp \w+ \^/status/\[\^/\]\+/live\$", text)
    assert re.search(r"on_demand_tls\s*\{[^}]*\bask\s+http://127\.0\.0\.1:8080/", text)
    assert "on_demand" in text
    code = "\n".join(line for line in text.splitlines() if not line.strip().startswith("#"))
    assert not re.search(r"^\s*encode\b", code, re.MULTILINE), "compressing the event stream would hold it back"


def test_the_deploy_guide_links_every_shipped_file():
    guide = (ROOT / "docs" / "deploy.md").read_text()

    for name in ("Dockerfile", "compose.yaml", "compose.postgres.yaml", "deploy/beacon.service", "deploy/Caddyfile",
                 "deploy/nginx.conf", "BEACON_TRUSTED_PROXIES", "BEACON_BASE_URL", "operations.md"):
        assert name in guide, name
