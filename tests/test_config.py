"""Settings as CONTRACT.md documents them: defaults, environment, flags over environment, the secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings, from_environment, with_secret


def test_defaults_follow_the_contract():
    settings = from_environment({}, [])

    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.data_dir == Path("./data")
    assert settings.effective_database_url == f"sqlite://{(Path('./data') / 'beacon.sqlite3').resolve()}"
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_base_url == "http://127.0.0.1:8080"
    assert settings.secret == ""
    assert settings.owner_email is None
    assert settings.owner_password is None
    assert settings.monitors is True
    assert settings.security_admin_key is None


def test_environment_variables_override_the_defaults(tmp_path):
    settings = from_environment({
        "BEACON_HOST": "0.0.0.0",
        "BEACON_PORT": "9000",
        "BEACON_DATA_DIR": str(tmp_path),
        "BEACON_DATABASE_URL": "postgres://beacon:pw@db:5432/beacon",
        "BEACON_BASE_URL": "https://status.example.com/",
        "BEACON_SECRET": "s3cret",
        "BEACON_OWNER_EMAIL": "owner@example.com",
        "BEACON_OWNER_PASSWORD": "correct horse",
        "BEACON_MONITORS": "off",
        "BEACON_SECURITY_ADMIN_KEY": "admin-key",
    }, [])

    assert (settings.host, settings.port, settings.data_dir) == ("0.0.0.0", 9000, tmp_path)
    assert settings.effective_database_url == "postgres://beacon:pw@db:5432/beacon"
    assert settings.effective_base_url == "https://status.example.com"
    assert settings.secret == "s3cret"
    assert (settings.owner_email, settings.owner_password) == ("owner@example.com", "correct horse")
    assert settings.monitors is False
    assert settings.security_admin_key == "admin-key"


def test_the_base_url_follows_host_and_port_when_unset():
    settings = from_environment({"BEACON_HOST": "status.internal", "BEACON_PORT": "8443"}, [])

    assert settings.effective_base_url == "http://status.internal:8443"


def test_the_sqlite_file_lives_in_the_data_folder(tmp_path):
    settings = from_environment({"BEACON_DATA_DIR": str(tmp_path / "state")}, [])

    assert settings.effective_database_url == f"sqlite://{tmp_path / 'state' / 'beacon.sqlite3'}"


def test_flags_override_the_environment(tmp_path):
    environ = {"BEACON_HOST": "10.0.0.1", "BEACON_PORT": "9000", "BEACON_DATA_DIR": "/srv/beacon"}

    settings = from_environment(environ, ["--host", "0.0.0.0", "--port", "9100", "--data-dir", str(tmp_path)])

    assert (settings.host, settings.port, settings.data_dir) == ("0.0.0.0", 9100, tmp_path)


def test_flags_between_sub_commands_are_still_read():
    settings = from_environment({}, ["--port", "9200", "audit", "verify"])

    assert settings.port == 9200


@pytest.mark.parametrize(("value", "enabled"), [
    ("off", False), ("OFF", False), ("false", False), ("0", False), ("no", False),
    ("on", True), ("true", True), ("1", True), ("", True),
])
def test_the_monitor_scheduler_can_be_switched_off(value, enabled):
    assert from_environment({"BEACON_MONITORS": value}, []).monitors is enabled


def test_monitor_settings_are_read_and_bad_numbers_stop_with_a_message():
    settings = from_environment({"BEACON_MONITOR_CONCURRENCY": "250", "BEACON_HEARTBEAT_RETENTION_DAYS": "7",
                                 "BEACON_SCRIPT_MONITORS": "on"}, [])
    assert (settings.monitor_concurrency, settings.heartbeat_retention_days, settings.script_monitors) == (
        250, 7, True)
    assert from_environment({}, []).script_monitors is False
    for name, value in (("BEACON_MONITOR_CONCURRENCY", "0"), ("BEACON_HEARTBEAT_RETENTION_DAYS", "a week")):
        with pytest.raises(SystemExit, match=name):
            from_environment({name: value}, [])


def test_a_port_that_is_not_a_number_stops_with_a_message():
    with pytest.raises(SystemExit, match="BEACON_PORT"):
        from_environment({"BEACON_PORT": "http"}, [])


def test_the_secret_is_generated_once_into_the_data_folder_and_stays(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")

    first = with_secret(settings)
    second = with_secret(Settings(data_dir=tmp_path / "data"))

    assert len(first.secret) >= 32
    assert first.secret == second.secret
    secret_files = list((tmp_path / "data").iterdir())
    assert len(secret_files) == 1
    assert secret_files[0].read_text().strip() == first.secret
    assert secret_files[0].stat().st_mode & 0o077 == 0


def test_a_secret_from_the_environment_is_used_and_nothing_is_written(tmp_path):
    settings = from_environment({"BEACON_SECRET": "from-env", "BEACON_DATA_DIR": str(tmp_path / "data")}, [])

    assert with_secret(settings).secret == "from-env"
    assert not (tmp_path / "data").exists()


def test_different_data_folders_get_different_secrets(tmp_path):
    one = with_secret(Settings(data_dir=tmp_path / "one"))
    two = with_secret(Settings(data_dir=tmp_path / "two"))

    assert one.secret != two.secret
