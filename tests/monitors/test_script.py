"""The script kind runs real local commands (/bin/sh and coreutils) through the production runner."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from monitors import registry, schema
from tests.monitors.conftest import assert_times_out, check


def _gone(pid: int) -> bool:
    """The process no longer exists (or, for a grandchild re-parented to a PID 1 that does not reap, is only
    a zombie: it runs no more)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


async def test_up_on_exit_zero_with_output() -> None:
    result = await check("script", {"command": ["/bin/sh", "-c", "echo starting; echo all good"]})
    assert result.outcome == "up", result
    assert result.message == "Exit code 0: all good"
    assert result.details["exit_code"] == 0


async def test_expected_output_and_env_and_working_dir(tmp_path: Path) -> None:
    config = {"command": ["/bin/sh", "-c", 'echo "$GREETING from $(pwd)"'], "env": "GREETING: hello",
              "working_dir": str(tmp_path), "expected_output": f"hello from {tmp_path}"}
    assert (await check("script", config)).outcome == "up"
    result = await check("script", {**config, "expected_output": "goodbye"})
    assert result.outcome == "down"
    assert result.message.startswith("Exit code 0 but the output does not contain 'goodbye'")


async def test_down_on_unexpected_exit_shows_last_stderr_line() -> None:
    result = await check("script", {"command": ["/bin/sh", "-c", "echo fine; echo 'disk / is 97% full' >&2; exit 2"]})
    assert result.outcome == "down"
    assert result.message == "Exit code 2, expected 0: disk / is 97% full"


async def test_degraded_exit_codes_and_custom_expected_exit() -> None:
    config = {"command": ["/bin/sh", "-c", "echo 'WARNING - 85% used'; exit 1"], "degraded_exit_codes": ["1"]}
    result = await check("script", config)
    assert result.outcome == "degraded"
    assert result.message == "Exit code 1: WARNING - 85% used"
    assert (await check("script", {"command": ["/bin/false"], "expect_exit": 1})).outcome == "up"


async def test_missing_command_is_down() -> None:
    result = await check("script", {"command": ["/nonexistent/check-thing", "-v"]})
    assert result.outcome == "down"
    assert result.message == "Command not found: /nonexistent/check-thing"


async def test_no_shell_interpretation() -> None:
    result = await check("script", {"command": ["/bin/echo", "$HOME; rm -rf /"], "expected_output": "$HOME; rm"})
    assert result.outcome == "up", result


async def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    """A command that sleeps past the timeout is DOWN within timeout + 1 s, and neither it nor the child it
    started is left running."""
    pids = tmp_path / "pids"
    command = ["/bin/sh", "-c", f"sleep 30 & echo $! > {pids}; echo $$ >> {pids}; wait"]
    started = time.monotonic()
    await assert_times_out("script", {"command": command}, timeout=1.0)
    assert time.monotonic() - started < 2.0
    child, shell = (int(p) for p in pids.read_text().split())
    deadline = time.monotonic() + 1.0
    while not (_gone(child) and _gone(shell)) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert _gone(child), f"sleep child {child} still running"
    # the shell is our direct child: reaped, not a zombie
    assert not os.path.exists(f"/proc/{shell}"), f"shell {shell} left behind"  # noqa: ASYNC240


async def test_background_children_do_not_outlive_the_check(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    result = await check("script", {"command": ["/bin/sh", "-c", f"sleep 30 >/dev/null 2>&1 & echo $! > {pid_file}"]})
    assert result.outcome == "up", result
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 1.0
    while not _gone(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert _gone(pid)


@pytest.mark.parametrize(("config", "field", "message"), [
    ({}, "command", "is required"),
    ({"command": ["true"], "degraded_exit_codes": ["warn"]}, "degraded_exit_codes", "must be whole numbers"),
    ({"command": ["true"], "degraded_exit_codes": ["300"]}, "degraded_exit_codes", "between 0 and 255"),
    ({"command": ["true"], "degraded_exit_codes": ["0"]}, "degraded_exit_codes", "must not include the expected"),
    ({"command": ["true"], "working_dir": "relative/dir"}, "working_dir", "must be an absolute path"),
    ({"command": ["true"], "expect_exit": 256}, "expect_exit", "must be at most 255"),
])
def test_invalid_config(config: dict, field: str, message: str) -> None:
    with pytest.raises(schema.ConfigError) as err:
        schema.validate(registry.get("script"), config)
    assert message in err.value.errors[field]


async def test_python_interpreter_argv() -> None:
    result = await check("script", {"command": [sys.executable, "-c", "import os; print(os.environ['X'])"],
                                    "env": {"X": "from env"}})
    assert result.message == "Exit code 0: from env"
    assert os.environ.get("X") is None


async def test_missing_working_dir(tmp_path: Path) -> None:
    result = await check("script", {"command": ["/bin/true"], "working_dir": str(tmp_path / "nope")})
    assert (result.outcome, result.message) == ("down", f"Working directory {tmp_path / 'nope'} does not exist")


async def test_background_child_holding_the_output_open() -> None:
    """The command exits but leaves a child with its stdout: the check ends at once (the child is killed)."""
    started = time.monotonic()
    result = await check("script", {"command": ["/bin/sh", "-c", "sleep 30 & echo launched"]}, timeout=5.0)
    assert (result.outcome, result.message) == ("up", "Exit code 0: launched")
    assert time.monotonic() - started < 1.5


async def test_escaped_daemon_holding_the_output_does_not_block() -> None:
    """A child that leaves the process group (setsid) cannot be killed with it; the check still ends."""
    started = time.monotonic()
    result = await check("script", {"command": [sys.executable, "-c", (
        "import os, subprocess; subprocess.Popen(['sleep', '3'], start_new_session=True); print('forked')")]},
        timeout=5.0)
    assert (result.outcome, result.message) == ("up", "Exit code 0: forked")
    assert time.monotonic() - started < 2.0


async def test_a_script_never_sees_beacons_own_environment(monkeypatch) -> None:
    monkeypatch.setenv("BEACON_SECRET", "do-not-leak")
    result = await check("script", {"command": ["/bin/sh", "-c", 'echo "secret=[$BEACON_SECRET] path=$PATH"'],
                                    "expected_output": "secret=[]"})
    assert result.outcome == "up" and "/usr/bin" in result.message, result.message
