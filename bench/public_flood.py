"""Outage-day flood of a public status page (issue 3, "Performance"); results in docs/benchmarks.md.

Starts the real server (``main.py``, its own temporary data folder, the demo page of 30 components in 5 groups,
monitors off) on 127.0.0.1 and, in one run:

(a) floods ``GET /status/demo`` with C concurrent connections for N seconds, while a live viewer stays connected
    to ``/status/demo/live`` (server-sent events) and a component's status is changed through the management
    API a few times: the time from sending the change to the viewer receiving the new snapshot is measured;
(b) floods ``GET /bench/raw``, a fixed byte string of the same size from the same process (the route exists only
    because the bench sets ``BEACON_BENCH_RAW_BYTES``): the ceiling the fast path is compared with.

Load comes from ``wrk`` (Debian package ``wrk``) when installed, else from an async Python client run in a
separate process (``--client``). Server memory is read from /proc/<pid>/status. All traffic stays on 127.0.0.1
and every step is bounded in time.

    .venv/bin/python bench/public_flood.py [--seconds 30] [--connections 200] [--note TEXT] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from docs_section import DOC, write_section  # bench/docs_section.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SLUG = "demo"
EMAIL = "bench@example.com"
PASSWORD = "bench-password-not-secret"
# status changes made during flood (a); each one makes a new snapshot that the live viewer must receive
CHANGES = ("MAJOR_OUTAGE", "OPERATIONAL", "DEGRADED", "OPERATIONAL")
# what a browser sends: if the fast path ever compresses, the flood and the raw route's size follow the wire size
ACCEPT_ENCODING = "gzip, deflate"
TARGETS = {"rate": 1000.0, "ratio": 0.60, "p99_ms": 250.0, "rss_mb": 150.0, "live_s": 1.0}


@dataclass
class Flood:
    path: str
    tool: str
    seconds: float
    requests: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    bytes_per_response: int = 0


@dataclass
class Live:
    delays_s: list[float] = field(default_factory=list)  # change sent → viewer has the new snapshot
    api_s: list[float] = field(default_factory=list)  # the PATCH's own round trip
    missed: int = 0


# --- the server ---------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, env=env, input=stdin, text=True,
                          capture_output=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"main.py {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@contextmanager
def server(env: dict[str, str], port: int):
    """The real server as a child process; yields its pid once /healthz answers."""
    log = tempfile.TemporaryFile()
    process = subprocess.Popen([sys.executable, "main.py"], cwd=ROOT, env={**env, "BEACON_PORT": str(port)},
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the server exited: {log.read().decode(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /healthz within 60 s")
            time.sleep(0.2)
        yield process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


# --- load generators ----------------------------------------------------------------------------------------------

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNIT_MS[unit]


def parse_wrk(output: str, path: str, seconds: float) -> Flood:
    """Figures from ``wrk --latency`` output."""
    percentiles = {int(p): _ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)\s*$", output, re.M)}
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+),", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not (percentiles and total and rate):
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return Flood(path=path, tool="wrk", seconds=_ms(total.group(2) + total.group(3)) / 1000,
                 requests=int(total.group(1)), rate=float(rate.group(1)), p50_ms=percentiles[50],
                 p99_ms=percentiles[99], errors=errors)


def flood_command(url: str, seconds: int, connections: int) -> tuple[list[str], str]:
    if shutil.which("wrk"):
        # two threads: the machine has two cores and the server needs them more than wrk does
        return ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s",
                "-H", f"Accept-Encoding: {ACCEPT_ENCODING}", url], "wrk"
    return [sys.executable, str(Path(__file__).resolve()), "--client", url, "--connections", str(connections),
            "--seconds", str(seconds)], "python"


async def run_flood(url: str, path: str, seconds: int, connections: int) -> Flood:
    command, tool = flood_command(url, seconds, connections)
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), seconds + 60)
    except TimeoutError:
        process.kill()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {err.decode(errors='replace')}")
    if tool == "wrk":
        return parse_wrk(out.decode(), path, seconds)
    return Flood(path=path, tool="python", **json.loads(out))


async def python_client(url: str, connections: int, seconds: float) -> dict[str, float | int]:
    """The fallback load generator: keep-alive HTTP/1.1 connections, each sending its next request as soon as
    the previous answer is read. Runs in its own process (``--client``), never in the bench's."""
    parts = httpx.URL(url)
    request = (f"GET {parts.raw_path.decode()} HTTP/1.1\r\nHost: {parts.host}:{parts.port}\r\n"
               f"Accept-Encoding: {ACCEPT_ENCODING}\r\n\r\n").encode()
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def connection() -> None:
        nonlocal errors
        reader = writer = None
        while time.monotonic() < stop:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(parts.host, parts.port)
                started = time.perf_counter()
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
                await asyncio.wait_for(reader.readexactly(length), 5)
                latencies.append(time.perf_counter() - started)
                if not head.startswith(b"HTTP/1.1 2"):
                    errors += 1
            except (OSError, TimeoutError, asyncio.IncompleteReadError, AttributeError):
                errors += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"seconds": elapsed, "requests": len(latencies), "rate": len(latencies) / elapsed,
            "p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000, "errors": errors}


# --- the live viewer ----------------------------------------------------------------------------------------------

async def watch_changes(base: str, api_key: str, component_id: str, seconds: int, live: Live) -> None:
    """Stay connected to the page's event stream during the flood; change a status at evenly spaced moments and
    time how long the viewer waits for the snapshot that shows it."""
    arrivals: asyncio.Queue[tuple[float, int]] = asyncio.Queue()
    connected = asyncio.Event()

    async def viewer(client: httpx.AsyncClient) -> None:
        async with client.stream("GET", f"{base}/status/{SLUG}/live") as response:
            connected.set()
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "snapshot":
                    arrivals.put_nowait((time.perf_counter(), json.loads(line[5:])["version"]))

    timeout = httpx.Timeout(10, read=None)
    async with httpx.AsyncClient(timeout=timeout) as stream_client, \
            httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {api_key}"}) as api:
        watching = asyncio.create_task(viewer(stream_client))
        try:
            await asyncio.wait_for(connected.wait(), 10)
            _, version = await asyncio.wait_for(arrivals.get(), 10)  # the current snapshot, sent on connect
            gap = seconds / (len(CHANGES) + 1)
            for status in CHANGES:
                await asyncio.sleep(gap)
                while not arrivals.empty():  # nothing else changes the page, but be sure
                    version = max(version, arrivals.get_nowait()[1])
                sent = time.perf_counter()
                answer = await api.patch(f"{base}/api/v1/components/{component_id}", json={"status": status})
                live.api_s.append(time.perf_counter() - sent)
                answer.raise_for_status()
                try:
                    while True:
                        arrived, new_version = await asyncio.wait_for(arrivals.get(), 10)
                        if new_version > version:
                            live.delays_s.append(arrived - sent)
                            version = new_version
                            break
                except TimeoutError:
                    live.missed += 1
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)


async def sample_rss(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb(pid))
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass


# --- the run ------------------------------------------------------------------------------------------------------

@dataclass
class Result:
    page: Flood
    raw: Flood
    live: Live
    rss_before: float
    rss_peak: float
    rss_after: float
    body_bytes: int
    connections: int
    load_before: tuple[float, float, float]


def bench(seconds: int, connections: int) -> Result:
    """Prepare a data folder, learn the page's size, then measure on a server that also has the raw route."""
    data_dir = Path(tempfile.mkdtemp(prefix="beacon-bench-"))
    env = {**os.environ, "BEACON_DATA_DIR": str(data_dir), "BEACON_MONITORS": "off", "BEACON_HOST": HOST,
           "PYTHONUNBUFFERED": "1"}
    for name in ("BEACON_DATABASE_URL", "BEACON_BASE_URL", "BEACON_BENCH_RAW_BYTES"):
        env.pop(name, None)
    port = free_port()
    base = f"http://{HOST}:{port}"
    try:
        cli(env, "demo")
        cli(env, "user", "create", "--email", EMAIL, "--role", "ADMIN", stdin=PASSWORD + "\n")
        api_key = cli(env, "apikey", "create", "--email", EMAIL).splitlines()[-1].strip()

        # the raw route must answer as many bytes as the page: learn the page's size from a first start
        with server(env, port):
            probe = httpx.get(f"{base}/status/{SLUG}", headers={"Accept-Encoding": ACCEPT_ENCODING}, timeout=10)
            probe.raise_for_status()
            body_bytes = probe.num_bytes_downloaded  # on the wire, compressed if the server compresses

        load_before = os.getloadavg()
        with server({**env, "BEACON_BENCH_RAW_BYTES": str(body_bytes)}, port) as pid:
            page, raw, live, rss = asyncio.run(measure(base, pid, api_key, seconds, connections, body_bytes))
        return Result(page=page, raw=raw, live=live, rss_before=rss[0], rss_peak=rss[1], rss_after=rss[2],
                      body_bytes=body_bytes, connections=connections, load_before=load_before)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def measure(base: str, pid: int, api_key: str, seconds: int, connections: int, body_bytes: int
                  ) -> tuple[Flood, Flood, Live, tuple[float, float, float]]:
    """Flood (a) with the live viewer watching, then (b); RSS before, at its peak, and after."""
    async with httpx.AsyncClient(timeout=10, headers={"Accept-Encoding": ACCEPT_ENCODING}) as client:
        listed = (await client.get(f"{base}/api/v1/components", params={"page": SLUG},
                                   headers={"Authorization": f"Bearer {api_key}"})).json()
        component_id = next(c["id"] for c in listed if c["name"] == "REST API")
        for path in (f"/status/{SLUG}", "/bench/raw"):  # warm both paths (first render, caches)
            for _ in range(20):
                (await client.get(base + path)).raise_for_status()
        raw_bytes = (await client.get(f"{base}/bench/raw")).num_bytes_downloaded
        if raw_bytes != body_bytes:
            raise RuntimeError(f"the raw route answers {raw_bytes} bytes, the page {body_bytes}")
    rss_before = rss_mb(pid)
    peak = [rss_before]
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(pid, peak, stop))
    live = Live()
    page, _ = await asyncio.gather(
        run_flood(f"{base}/status/{SLUG}", f"/status/{SLUG}", seconds, connections),
        watch_changes(base, api_key, component_id, seconds, live))
    raw = await run_flood(f"{base}/bench/raw", "/bench/raw", seconds, connections)
    stop.set()
    await sampler
    page.bytes_per_response = raw.bytes_per_response = body_bytes
    return page, raw, live, (rss_before, peak[0], rss_mb(pid))


# --- the report ---------------------------------------------------------------------------------------------------

def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def _latency(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 100 else f"{ms:,.0f} ms"


def table(result: Result) -> str:
    page, raw, live = result.page, result.raw, result.live
    ratio = page.rate / raw.rate if raw.rate else 0.0
    growth = max(result.rss_peak, result.rss_after) - result.rss_before
    worst_live = max(live.delays_s) if live.delays_s else float("inf")
    live_ok = not live.missed and worst_live < TARGETS["live_s"]
    delays = ", ".join(f"{d * 1000:.0f}" for d in live.delays_s) or "none"
    api = ", ".join(f"{d * 1000:.0f}" for d in live.api_s) or "none"
    rows = [
        "| figure | (a) `GET /status/demo` | (b) raw bytes | target | met |",
        "| --- | ---: | ---: | --- | :---: |",
        f"| requests/s | {page.rate:,.0f} | {raw.rate:,.0f} | (a) ≥ {TARGETS['rate']:,.0f} | "
        f"{_mark(page.rate >= TARGETS['rate'])} |",
        f"| (a) / (b) | {ratio:.0%} | | ≥ {TARGETS['ratio']:.0%} | {_mark(ratio >= TARGETS['ratio'])} |",
        f"| latency p50 | {_latency(page.p50_ms)} | {_latency(raw.p50_ms)} | | |",
        f"| latency p99 | {_latency(page.p99_ms)} | {_latency(raw.p99_ms)} | (a) < {TARGETS['p99_ms']:.0f} ms | "
        f"{_mark(page.p99_ms < TARGETS['p99_ms'])} |",
        f"| requests / errors | {page.requests:,} / {page.errors} | {raw.requests:,} / {raw.errors} | no errors | "
        f"{_mark(page.errors == 0)} |",
        f"| server RSS before → peak → after | {result.rss_before:.0f} → {result.rss_peak:.0f} → "
        f"{result.rss_after:.0f} MB | | growth < {TARGETS['rss_mb']:.0f} MB | {_mark(growth < TARGETS['rss_mb'])} |",
        f"| live viewer: change sent → new snapshot received, worst of {len(CHANGES)} | "
        f"{worst_live * 1000:.0f} ms ({delays}; missed {live.missed}) | | < {TARGETS['live_s']:.0f} s | "
        f"{_mark(live_ok)} |",
        f"| the change's own API round trip (PATCH) | {api} ms | | | |",
    ]
    return "\n".join(rows)


def report(result: Result, seconds: int, note: str) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            timeout=10).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                           timeout=10).stdout.strip()
    load = " ".join(f"{x:.2f}" for x in result.load_before)
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}{' with local changes' if dirty else ''}, "
        f"{os.cpu_count()} CPUs, load average before the run {load}; {result.page.tool}, "
        f"{result.connections} connections, {seconds} s per flood, {result.body_bytes:,} bytes per response.",
        "",
    ]
    if note:
        lines += [f"> **{note}**", ""]
    lines += [table(result)]
    return "\n".join(lines)


METHOD = """\
## Public status page under a flood (`bench/public_flood.py`)

**Method.** `make bench` (or `.venv/bin/python bench/public_flood.py --seconds 30`) creates a temporary data
folder, loads the demo page (`python main.py demo`: 30 components in 5 groups, one nested two levels), creates an
API key, and starts the real server (`python main.py`, monitors off) on 127.0.0.1. It then floods, one after the
other, with 200 keep-alive connections for 30 s each (`wrk -t2 --latency` from Debian's `wrk` package, or an async
Python client in its own process when wrk is missing), each request sending a browser's `Accept-Encoding`:

- **(a)** `GET /status/demo`: the public fast path, pre-rendered HTML from the page's snapshot (ETag,
  `Cache-Control`), on the outer FastAPI app (no session cookie, no NiceGUI client);
- **(b)** `GET /bench/raw`: a fixed byte string of the same size on the wire, from the same process — the most a
  route can do here. It exists only when the bench starts the server with `BEACON_BENCH_RAW_BYTES`.

During (a) one live viewer stays connected to `/status/demo/live` (server-sent events) while the status of
"REST API" is changed four times through the management API (`PATCH /api/v1/components/{id}`); for each change
the time from sending the PATCH to the viewer receiving the new snapshot event is measured. The server's resident
memory (VmRSS in `/proc/<pid>/status`) is read before, every 0.5 s during, and after the floods. Client and server
share the machine's two cores, so the figures are a floor for a server with a machine of its own.

Targets (issue 3): (a) ≥ 1,000 requests/s and ≥ 60 % of (b), p99 < 250 ms, RSS growth < 150 MB, and the live
viewer sees each change within 1 s.
"""


def write_doc(section: str) -> None:
    write_section("public_flood", METHOD, section)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="length of each flood (default 30)")
    parser.add_argument("--connections", type=int, default=200, help="concurrent connections (default 200)")
    parser.add_argument("--note", default="", help="a line to print above the figures, e.g. that this is a trial")
    parser.add_argument("--no-write", action="store_true", help=f"print only; leave {DOC.relative_to(ROOT)} alone")
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)  # the fallback load generator's process
    args = parser.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(python_client(args.client, args.connections, args.seconds))))
        return 0
    if args.seconds < 1 or args.connections < 1:
        parser.error("--seconds and --connections must be at least 1")
    result = bench(args.seconds, args.connections)
    section = report(result, args.seconds, args.note)
    print(section)
    if not args.no_write:
        write_doc(section)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
