"""The script family: run a local command and judge it by its exit code (and optionally its output)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Mapping
from typing import Any

from monitors.base import CheckResult, Field, Kind, degraded, down, up
from monitors.registry import register

# Output beyond this many bytes per stream is read and thrown away (a chatty script cannot eat the memory).
_MAX_OUTPUT = 256 * 1024


def _last_line(*texts: str) -> str:
    for text in texts:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            line = lines[-1]
            return line if len(line) <= 200 else line[:197] + "…"
    return ""


async def _drain(stream: asyncio.StreamReader | None, kept: bytearray) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        if len(kept) < _MAX_OUTPUT:
            kept += chunk[: _MAX_OUTPUT - len(kept)]


async def _exit_code(proc: asyncio.subprocess.Process) -> int:
    """The exit code as soon as the process ends. (On Python 3.11, ``proc.wait()`` also waits until every
    process that inherited its stdout/stderr has closed them, e.g. a background child.)"""
    delay = 0.005
    while proc.returncode is None:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    return proc.returncode


def _not_found(config: Mapping[str, Any], exc: FileNotFoundError, program: str) -> str:
    wd = config.get("working_dir")
    if wd and not os.path.isdir(wd):
        return f"Working directory {wd} does not exist"
    return f"Command not found: {exc.filename or program}"


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the script's whole process group (it runs in its own session), children included."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# A script gets a clean environment, never Beacon's own: that holds BEACON_SECRET, the database URL with its
# password and the owner's first password. It finds the usual programs; anything else goes in its ``env``.
BASE_ENVIRONMENT = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


async def _script(config: Mapping[str, Any], timeout: float) -> CheckResult:
    argv = list(config["command"])
    env = {**BASE_ENVIRONMENT, **(config.get("env") or {})}
    started = time.perf_counter()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, cwd=config.get("working_dir") or None,
            start_new_session=True)
    except FileNotFoundError as exc:
        return down(_not_found(config, exc, argv[0]))
    except PermissionError:
        return down(f"Permission denied running {argv[0]} (is it executable?)")
    except OSError as exc:
        return down(f"Cannot run {argv[0]}: {exc.strerror or exc}")
    out, err = bytearray(), bytearray()
    drains = asyncio.gather(_drain(proc.stdout, out), _drain(proc.stderr, err))
    finished = False
    try:
        try:
            async with asyncio.timeout(timeout):
                code = await _exit_code(proc)
            finished = True
            latency = (time.perf_counter() - started) * 1000
        except TimeoutError:
            return down(f"Timed out after {timeout:g} s; the command was killed",
                        latency_ms=(time.perf_counter() - started) * 1000)
    finally:
        # On timeout or cancellation the command is still running; after a normal exit it may have left
        # background children behind, holding its output open. Either way nothing of it outlives the check,
        # and the command is reaped (no zombie).
        _kill_group(proc)
        if proc.returncode is None:
            await asyncio.shield(_exit_code(proc))
        if not finished:
            drains.cancel()
    try:  # the rest of the output: at once, unless a process that left the group still holds the pipe
        async with asyncio.timeout(0.5):
            await drains
    except TimeoutError:  # something that left the process group (setsid) keeps the pipes: let go of them
        drains.cancel()
        transport = getattr(proc, "_transport", None)
        if transport is not None:
            transport.close()
    stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    last = _last_line(stderr, stdout) if code != config["expect_exit"] else _last_line(stdout, stderr)
    detail = f": {last}" if last else ""
    if code in {int(c) for c in config.get("degraded_exit_codes", ())}:
        return degraded(f"Exit code {code}{detail}", latency, exit_code=code)
    if code != config["expect_exit"]:
        if code < 0:
            return down(f"Killed by signal {-code}{detail}", latency, exit_code=code)
        return down(f"Exit code {code}, expected {config['expect_exit']}{detail}", latency, exit_code=code)
    expected = config.get("expected_output")
    if expected and expected not in stdout:
        return down(f"Exit code {code} but the output does not contain {expected!r}{detail}", latency,
                    exit_code=code)
    return up(f"Exit code {code}{detail}", latency, exit_code=code)


def _validate(clean: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    codes: list[int] = []
    for value in clean.get("degraded_exit_codes", []):
        try:
            code = int(value)
        except ValueError:
            errors["degraded_exit_codes"] = f"must be whole numbers between 0 and 255, not {value!r}"
            break
        if not 0 <= code <= 255:
            errors["degraded_exit_codes"] = f"must be between 0 and 255, not {code}"
            break
        codes.append(code)
    else:
        if clean["expect_exit"] in codes:
            errors["degraded_exit_codes"] = "must not include the expected exit code"
    wd = clean.get("working_dir")
    if wd and not os.path.isabs(wd):
        errors["working_dir"] = "must be an absolute path, e.g. /opt/checks"
    for name in clean.get("env", {}):
        if "=" in name or "\0" in name:
            errors["env"] = f"variable name {name!r} must not contain '=' or NUL"
    return errors


register(Kind(
    name="script", label="Script", family="script", library="asyncio subprocess",
    summary="Runs a local command: UP when it exits with the expected code (and prints the expected text), "
            "DEGRADED when it exits with one of the degraded codes, DOWN on any other exit code, when the "
            "command cannot start, or when it runs past the timeout (it is then killed).",
    fields=(
        Field("command", "Command", "list", required=True, placeholder="/usr/lib/nagios/plugins/check_disk\n-w\n20%",
              help="The program and its arguments, one per line. Run directly, without a shell: to use pipes or "
                   "shell syntax, make the first two lines /bin/sh and -c."),
        Field("env", "Environment", "map", help="Environment variables (\"NAME: value\" lines). The command "
                                                 "gets only these, PATH and LANG, never Beacon's own."),
        Field("working_dir", "Working directory", placeholder="/opt/checks",
              help="Absolute path the command runs in; the Beacon process's directory when empty."),
        Field("expect_exit", "Expected exit code", "int", default=0, min=0, max=255),
        Field("degraded_exit_codes", "Degraded exit codes", "list",
              help="Exit codes meaning DEGRADED rather than DOWN, one per line (e.g. 1 for a Nagios WARNING)."),
        Field("expected_output", "Expected output",
              help="Text the standard output must contain for UP (case-sensitive); empty: not checked."),
    ),
    check=_script, validate=_validate,
    notes="""\
**Scripts are off by default.** The operator turns them on for the whole installation with
`BEACON_SCRIPT_MONITORS=on`; until then monitors of this kind are refused. The command runs as the user the Beacon
process runs as, with its permissions — treat anyone who may edit a script monitor as able to run code on the
server.

- `command` is an argument list, executed directly (no shell, no globbing, no `$VAR` expansion). For shell
  syntax use `["/bin/sh", "-c", "df -h / | tail -1"]`.
- The command gets a clean environment: `PATH` (the usual system directories), `LANG=C.UTF-8` and what `env`
  sets — never Beacon's own, which holds its secret and the database password. Set `HOME` or anything else
  your script needs in `env`.
- The command runs in its own process group with standard input closed. When it runs past the monitor's
  timeout the whole group (the command and anything it started) is killed with SIGKILL and the result is
  DOWN "Timed out". Background processes still running when the command exits are killed too
  (except those that detached into a session of their own).
- The message shows the last non-empty line of the output (standard error first when the check fails), so
  make your script's last line say what is wrong. Up to 256 KiB of each stream is kept.
- `degraded_exit_codes` follows the Nagios plugin convention if you want it: `0` OK, `1` WARNING
  (DEGRADED), `2` CRITICAL (DOWN).

```json
{"command": ["/usr/lib/nagios/plugins/check_disk", "-w", "20%", "-c", "10%", "-p", "/"],
 "env": {"LC_ALL": "C"}, "expect_exit": 0, "degraded_exit_codes": ["1"]}
```
""",
))
