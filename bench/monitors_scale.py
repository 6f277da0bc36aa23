"""Monitoring at scale (the issue's "Scale" targets); results in docs/benchmarks.md.

Three measurements, each on a fresh SQLite database in a temporary folder (``storage.db.open_database``):

scale   N HTTP monitors (kind "http", every 30 s) run by the real engine (``engine.start()``: scheduler, checks,
        process → batch → flush → rollups → component days) for S seconds against a local HTTP server that runs
        in a separate process (its CPU is not counted). Measured in this process: the scheduler's start lag
        (p50/p99/max), CPU (``time.process_time`` delta over the window) and RSS (VmRSS sampled, VmHWM).
        Then, in a child process of its own, the raw cost: the same number of bare httpx requests on the same
        schedule (N per 30 s, one shared ``httpx.AsyncClient`` with keep-alive off, so a fresh connection each),
        for the same S seconds; ratio engine CPU / bare CPU.
storage 1,000 monitors at 60 s over 30 days, written with the engine's own storage functions and sampling rule
        (simulated, not checked: see ``simulate_storage``), then the engine's ``prune`` and VACUUM: file size and
        rows per table.
bars    500 components × 90 days of ``uptime_daily`` on one status page: the time to build its snapshot
        (``app.snapshot.load``), median of several runs, and of its pure part (``assemble``) alone.

    .venv/bin/python bench/monitors_scale.py [--seconds 300] [--monitors 2000] [--part scale|storage|bars|all]
                                             [--note TEXT] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import heapq
import json
import os
import platform
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from docs_section import DOC, write_section  # bench/docs_section.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
INTERVAL = 30  # seconds between checks of one monitor (scale)
MONITORS_PER_COMPONENT = 10  # scale: monitors are spread over components, as on a real page
TARGETS = {"lag_p99_s": 1.0, "cpu_percent": 50.0, "rss_mb": 400.0, "storage_mb": 300.0, "bars_ms": 100.0}
STORAGE_MONITORS, STORAGE_INTERVAL, STORAGE_DAYS, FAILURE_RATE = 1000, 60, 30, 0.001
BARS_COMPONENTS, BARS_DAYS, BARS_RUNS = 500, 90, 9


# --- measuring this process -----------------------------------------------------------------------------------------

def proc_status_mb(name: str, pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of another process, from /proc/<pid>/stat."""
    fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")


async def sample_rss(peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], proc_status_mb("VmRSS"))
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


# --- the target server (own process) --------------------------------------------------------------------------------

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


async def serve(port: int) -> None:
    """A minimal HTTP/1.1 server: reads the request head, answers 200 "ok" and closes."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            writer.write(RESPONSE)
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, HOST, port, backlog=4096, reuse_address=True)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def target_server():
    """The local HTTP target in a child process; yields (url, pid)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        if process.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            raise RuntimeError("the target server did not start")
        yield f"http://{HOST}:{port}/health", process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- a fresh database -----------------------------------------------------------------------------------------------

@asynccontextmanager
async def fresh_database(prefix: str):
    from app import config
    from app.config import Settings
    from storage.db import close_database, open_database

    data_dir = Path(tempfile.mkdtemp(prefix=f"beacon-{prefix}-"))
    settings = config.use(Settings(data_dir=data_dir, secret="bench-not-secret", monitors=False,
                                   maintenance_timer=False))
    await open_database(settings.effective_database_url)
    try:
        yield data_dir / "beacon.sqlite3"
    finally:
        await close_database()
        shutil.rmtree(data_dir, ignore_errors=True)


# --- (1) scale --------------------------------------------------------------------------------------------------------

@dataclass
class Scale:
    monitors: int
    components: int
    seconds: float
    create_seconds: float
    created_with: str
    start_seconds: float
    checks: int
    up: int
    down: int
    lag_p50_s: float
    lag_p99_s: float
    lag_max_s: float
    cpu_s: float
    cpu_percent: float
    cpu_windows: list[float]
    rss_before_mb: float
    rss_peak_mb: float
    rss_after_mb: float
    hwm_mb: float
    server_cpu_percent: float
    heartbeats: int
    minute_rows: int
    daily_rows: int
    concurrency: int
    bare: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.cpu_s / self.bare["cpu_s"] if self.bare.get("cpu_s") else 0.0


async def create_monitors(url: str, count: int) -> tuple[float, str]:
    """Components (one page, ``count / 10`` components) and ``count`` http monitors through the services."""
    from app.auth import Actor
    from app.services import components, monitoring, pages

    actor = Actor.system("bench")
    started = time.perf_counter()
    page = await pages.create_page(actor, title="Scale", slug="scale")
    component_ids = [(await components.create_component(actor, name=f"Service {i + 1}", pages=[page.id])).id
                     for i in range(max(1, count // MONITORS_PER_COMPONENT))]
    for i in range(count):
        await monitoring.create_monitor(actor, name=f"http {i + 1}", kind="http", interval=INTERVAL, timeout=10,
                                        config={"url": f"{url}?m={i + 1}"},
                                        component=component_ids[i % len(component_ids)])
    return time.perf_counter() - started, "services (create_page, create_component, create_monitor)"


async def run_scale(monitors: int, seconds: float, url: str, server_pid: int) -> Scale:
    from app.config import current
    from app.services.monitor_engine import engine
    async with fresh_database("scale") as path:
        create_seconds, created_with = await create_monitors(url, monitors)
        gc.collect()
        concurrency = current().monitor_concurrency
        rss_before = proc_status_mb("VmRSS")
        t0 = time.perf_counter()
        await engine.start(concurrency=concurrency)
        start_seconds = time.perf_counter() - t0
        assert engine.scheduler is not None
        peak, stop = [rss_before], asyncio.Event()
        sampler = asyncio.create_task(sample_rss(peak, stop))
        server_cpu0 = proc_cpu_seconds(server_pid)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        windows: list[float] = []
        deadline = wall0 + seconds
        last_cpu, last_wall = cpu0, wall0
        while (left := deadline - time.perf_counter()) > 0:
            await asyncio.sleep(min(INTERVAL, left))
            cpu, wall = time.process_time(), time.perf_counter()
            windows.append(100 * (cpu - last_cpu) / (wall - last_wall))
            last_cpu, last_wall = cpu, wall
            print(f"  engine: {wall - wall0:5.0f} s, CPU {windows[-1]:4.1f} %, lag p99 "
                  f"{engine.scheduler.lag.percentile(99):.3f} s, checks {engine.scheduler.lag.started:,}, "
                  f"RSS {proc_status_mb('VmRSS'):.0f} MB", flush=True)
        cpu_s, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        server_cpu = proc_cpu_seconds(server_pid) - server_cpu0
        lag = engine.scheduler.lag
        lag_p50, lag_p99, lag_max = lag.percentile(50), lag.percentile(99), max(lag.samples, default=0.0)
        started_checks = lag.started
        stop.set()
        await sampler
        stop_problem = ""
        try:
            # engine.stop() cancels the flush and prune loops; a cancel landing inside tortoise's SQLite
            # transaction entry leaks the connection lock and stop() then waits forever (see the report)
            await asyncio.wait_for(asyncio.shield(engine.stop()), 30)
        except TimeoutError:
            stop_problem = "engine.stop() did not return within 30 s (SQLite connection lock held)"
            print(f"  {stop_problem}; reading the figures with sqlite3", flush=True)
        with sqlite3.connect(path, timeout=10) as raw:  # a connection of its own: works even then
            heartbeats = raw.execute("SELECT COUNT(*) FROM heartbeats").fetchone()[0]
            up, down = raw.execute("SELECT COALESCE(SUM(up + degraded), 0), COALESCE(SUM(down), 0) "
                                   "FROM monitor_rollups_minute").fetchone()
            minute_rows = raw.execute("SELECT COUNT(*) FROM monitor_rollups_minute").fetchone()[0]
            daily_rows = raw.execute("SELECT COUNT(*) FROM uptime_daily").fetchone()[0]
        if stop_problem:
            os._exit(3)  # the database cannot be closed: give up rather than hang
        return Scale(monitors=monitors, components=max(1, monitors // MONITORS_PER_COMPONENT), seconds=wall,
                     create_seconds=create_seconds, created_with=created_with, start_seconds=start_seconds,
                     checks=started_checks, up=up, down=down, lag_p50_s=lag_p50, lag_p99_s=lag_p99,
                     lag_max_s=lag_max, cpu_s=cpu_s, cpu_percent=100 * cpu_s / wall, cpu_windows=windows,
                     rss_before_mb=rss_before, rss_peak_mb=max(peak[0], proc_status_mb("VmRSS")),
                     rss_after_mb=proc_status_mb("VmRSS"), hwm_mb=proc_status_mb("VmHWM"),
                     server_cpu_percent=100 * server_cpu / wall, heartbeats=heartbeats, minute_rows=minute_rows,
                     daily_rows=daily_rows, concurrency=concurrency)


async def bare_requests(url: str, count: int, seconds: float) -> dict:
    """The raw cost: ``count`` requests per INTERVAL on the same spread schedule, bare httpx, fresh connection
    each (a shared client, keep-alive off), the body read; nothing recorded. Runs in its own process."""
    import httpx

    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
                               timeout=httpx.Timeout(10))
    slots = asyncio.Semaphore(100)  # the engine's default concurrency
    lags: list[float] = []
    outcome = {"ok": 0, "failed": 0}
    rss_peak, stop = [proc_status_mb("VmRSS")], asyncio.Event()
    sampler = asyncio.create_task(sample_rss(rss_peak, stop))
    loop = asyncio.get_running_loop()
    cpu0, wall0 = time.process_time(), loop.time()
    end = wall0 + seconds

    async def one(i: int, due: float) -> None:
        async with slots:
            lags.append(max(loop.time() - due, 0.0))
            try:
                response = await client.get(f"{url}?m={i + 1}")
                outcome["ok" if response.status_code == 200 else "failed"] += 1
            except httpx.HTTPError:
                outcome["failed"] += 1

    # one timer loop with a heap of due times, like the scheduler (not 2,000 sleeping tasks)
    heap = [(wall0 + random.uniform(0, INTERVAL), i) for i in range(count)]
    heapq.heapify(heap)
    tasks: set[asyncio.Task] = set()
    while heap[0][0] < end:
        due, i = heapq.heappop(heap)
        if (delay := due - loop.time()) > 0:
            await asyncio.sleep(delay)
        task = loop.create_task(one(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        heapq.heappush(heap, (due + INTERVAL, i))
    if (delay := end - loop.time()) > 0:
        await asyncio.sleep(delay)
    if tasks:
        await asyncio.wait(set(tasks), timeout=10)
    cpu_s, wall = time.process_time() - cpu0, loop.time() - wall0
    stop.set()
    await sampler
    await client.aclose()
    lags.sort()
    return {"requests": outcome["ok"] + outcome["failed"], "failed": outcome["failed"], "cpu_s": cpu_s,
            "seconds": wall, "cpu_percent": 100 * cpu_s / wall,
            "lag_p99_s": lags[min(len(lags) - 1, int(0.99 * len(lags)))] if lags else 0.0,
            "rss_peak_mb": rss_peak[0], "hwm_mb": proc_status_mb("VmHWM")}


def run_bare(url: str, count: int, seconds: float, server_pid: int) -> dict:
    server_cpu0, wall0 = proc_cpu_seconds(server_pid), time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--bare", url, "--monitors", str(count), "--seconds",
                           str(seconds)], capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"the bare client failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["server_cpu_percent"] = 100 * (proc_cpu_seconds(server_pid) - server_cpu0) / (time.perf_counter() - wall0)
    return result


def scale(monitors: int, seconds: float) -> Scale:
    with target_server() as (url, pid):
        print(f"scale: {monitors} http monitors every {INTERVAL} s for {seconds:.0f} s against {url} (pid {pid})",
              flush=True)
        result = asyncio.run(run_scale(monitors, seconds, url, pid))
        print(f"scale: engine done ({result.checks:,} checks, CPU {result.cpu_percent:.1f} %); "
              f"now {monitors} bare requests per {INTERVAL} s for {seconds:.0f} s", flush=True)
        result.bare = run_bare(url, monitors, seconds, pid)
    return result


# --- (2) storage ------------------------------------------------------------------------------------------------------

@dataclass
class Storage:
    monitors: int
    days: int
    checks: int
    failures: int
    written: dict[str, int]
    kept: dict[str, int]
    bytes_before_vacuum: int
    bytes: int
    table_bytes: dict[str, int]
    write_seconds: float
    prune_seconds: float


def file_bytes(path: Path) -> int:
    """The database file plus its WAL (empty after a checkpoint)."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def sampled_heartbeats(monitor_id: int, first: float, checks: int, failures: set[int],
                       rng: random.Random) -> list[tuple[int, int, int, int | None, int, str | None]]:
    """The engine's rule (``Engine._add_to_batch``) on one monitor's checks: every non-UP check, every change
    (the first UP after a failure), and an UP at least every SAMPLE_SECONDS. Walks only the kept checks."""
    from app.services.monitor_engine import SAMPLE_SECONDS
    from storage import timeseries as ts

    every = max(1, SAMPLE_SECONDS // STORAGE_INTERVAL)
    rows = []
    i = 0
    stops = sorted(failures) + [checks]
    for stop in stops:
        # UP checks from i (kept: it follows a failure or is the first) up to the next failure
        for k in range(i, stop, every):
            at_ms = int((first + k * STORAGE_INTERVAL) * 1000)
            rows.append((monitor_id, at_ms, ts.UP, rng.randint(20, 200), 0, "200 OK"))
        if stop < checks:
            at_ms = int((first + stop * STORAGE_INTERVAL) * 1000)
            rows.append((monitor_id, at_ms, ts.DOWN, None, 0, "Timed out after 10 s"))
            i = stop + 1
    return rows


async def simulate_storage(path: Path) -> Storage:
    """30 days of 1,000 monitors at 60 s, as the engine would have stored them. Not 43.2 M checks through
    ``engine.process`` (hours of CPU): the rows those checks leave, written with the engine's functions.

    - heartbeats: the engine's sampling rule (``sampled_heartbeats``), with failures at ``FAILURE_RATE`` of the
      checks, each an isolated failed check (every failure and the recovery after it is kept);
    - rollups: the per-check counts and latencies added up into hour and day buckets with ``ts.add_rollups``;
      minute buckets only for the last MINUTE_ROLLUP_DAYS + 1 days (older ones are what ``prune`` deletes: writing
      41 M rows to delete them costs minutes and changes nothing in the file after VACUUM);
    - component days: none (one ``uptime_daily`` row per component and day; the bars part has 45,000 of them);
    then ``engine.prune(now)``, a WAL checkpoint and VACUUM."""
    from tortoise import connections
    from tortoise.transactions import in_transaction

    from app.services.monitor_engine import MINUTE_ROLLUP_DAYS, engine
    from storage import timeseries as ts
    from storage.models import Monitor

    rng = random.Random(42)
    await Monitor.bulk_create([Monitor(name=f"http {i + 1}", kind="http", interval_seconds=STORAGE_INTERVAL,
                                       config={"url": f"https://service-{i + 1}.example.com/health"}, state="up")
                               for i in range(STORAGE_MONITORS)], batch_size=500)
    ids = [m["id"] for m in await Monitor.all().order_by("id").values("id")]
    now = time.time()
    checks = STORAGE_DAYS * 86_400 // STORAGE_INTERVAL
    first = (now // 60 * 60) - checks * STORAGE_INTERVAL  # minute-aligned, so each hour holds 60 checks
    minute_from = now - (MINUTE_ROLLUP_DAYS + 1) * 86_400
    written = {"heartbeats": 0, "minute": 0, "hour": 0, "day": 0}
    failures_total = 0
    mean = checks * FAILURE_RATE
    started = time.perf_counter()
    for n, monitor_id in enumerate(ids):
        count = max(0, round(rng.gauss(mean, (mean * (1 - FAILURE_RATE)) ** 0.5)))
        failures = set(rng.sample(range(checks), k=count))
        failures_total += len(failures)
        heartbeats = sampled_heartbeats(monitor_id, first, checks, failures, rng)
        deltas: dict[str, dict[tuple[int, int], ts.Agg]] = {r: {} for r in ts.RESOLUTIONS}
        # hour buckets: counts exact; latencies summarised (sum, min, max) rather than drawn per check
        per_hour = 3600 // STORAGE_INTERVAL
        failed_in: dict[int, int] = {}
        for k in failures:
            failed_in[k // per_hour] = failed_in.get(k // per_hour, 0) + 1
        for h in range(checks // per_hour):
            bad = failed_in.get(h, 0)
            ok = per_hour - bad
            at = first + h * 3600
            agg = ts.Agg(up=ok, down=bad, latency_sum=ok * rng.uniform(40, 120), latency_count=ok,
                         latency_min=rng.randint(15, 40), latency_max=rng.randint(150, 900))
            deltas["hour"][(monitor_id, ts.bucket_of(at, "hour"))] = agg
            deltas["day"].setdefault((monitor_id, ts.bucket_of(at, "day")), ts.Agg()).merge(agg)
        # minute buckets (one check each) for the days the prune keeps, plus one
        for k in range(int((minute_from - first) // STORAGE_INTERVAL), checks):
            failed = k in failures
            agg = ts.Agg()
            agg.add(ts.DOWN if failed else ts.UP, None if failed else rng.randint(20, 200), False)
            deltas["minute"][(monitor_id, ts.bucket_of(first + k * STORAGE_INTERVAL, "minute"))] = agg
        async with in_transaction() as conn:
            await ts.write_heartbeats(conn, heartbeats)
            for resolution, d in deltas.items():
                await ts.add_rollups(conn, resolution, d)
        written["heartbeats"] += len(heartbeats)
        for resolution, d in deltas.items():
            written[resolution] += len(d)
        if (n + 1) % 100 == 0:
            print(f"  storage: {n + 1} monitors written, {time.perf_counter() - started:.0f} s", flush=True)
    write_seconds = time.perf_counter() - started
    started = time.perf_counter()
    await engine.prune(now)
    prune_seconds = time.perf_counter() - started
    conn = connections.get("default")
    await conn.execute_script("PRAGMA wal_checkpoint(TRUNCATE)")
    before = file_bytes(path)
    await conn.execute_script("VACUUM")
    await conn.execute_script("PRAGMA wal_checkpoint(TRUNCATE)")
    kept = {}
    for table in ("heartbeats", "monitor_rollups_minute", "monitor_rollups_hour", "monitor_rollups_day", "monitors"):
        _, rows = await conn.execute_query(f"SELECT COUNT(*) FROM {table}")
        kept[table] = int(list(rows[0].values())[0] if isinstance(rows[0], dict) else rows[0][0])
    table_bytes: dict[str, int] = {}
    try:
        with sqlite3.connect(path) as raw:
            for name, size in raw.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"):
                table_bytes[name] = size
    except sqlite3.Error:
        pass  # this SQLite has no dbstat table
    return Storage(monitors=len(ids), days=STORAGE_DAYS, checks=checks * len(ids), failures=failures_total,
                   written=written, kept=kept, bytes_before_vacuum=before,
                   bytes=file_bytes(path),
                   table_bytes=table_bytes, write_seconds=write_seconds, prune_seconds=prune_seconds)


def storage() -> Storage:
    async def go() -> Storage:
        async with fresh_database("storage") as path:
            return await simulate_storage(path)
    print(f"storage: {STORAGE_MONITORS} monitors at {STORAGE_INTERVAL} s over {STORAGE_DAYS} days (simulated)",
          flush=True)
    return asyncio.run(go())


# --- (3) bars ---------------------------------------------------------------------------------------------------------

@dataclass
class Bars:
    components: int
    days: int
    rows: int
    bars_drawn: int
    load_ms: list[float]
    assemble_ms: list[float]
    cold_ms: list[float]

    @property
    def load_median(self) -> float:
        return statistics.median(self.load_ms)

    @property
    def assemble_median(self) -> float:
        return statistics.median(self.assemble_ms)


async def measure_bars() -> Bars:
    from app import snapshot
    from app.auth import Actor
    from app.enums import ComponentStatus
    from app.services import components, pages
    from storage.rollups import DailyRow, write_daily

    actor = Actor.system("bench")
    page = await pages.create_page(actor, title="Bars", slug="bars")
    ids = [(await components.create_component(actor, name=f"Service {i + 1}", pages=[page.id])).id
           for i in range(BARS_COMPONENTS)]
    rng = random.Random(7)
    today = datetime.now(UTC).date()
    rows = []
    for cid in ids:
        for d in range(BARS_DAYS):
            down = rng.choice([0] * 20 + [60, 300, 1800])
            degraded = rng.choice([0] * 30 + [120, 600])
            rows.append(DailyRow(cid, today - timedelta(days=d), 86_400, down, degraded, 0,
                                 ComponentStatus.MAJOR_OUTAGE if down else ComponentStatus.DEGRADED if degraded
                                 else ComponentStatus.OPERATIONAL, rng.uniform(20, 300)))
    await write_daily(rows)

    timings: list[float] = []
    real_assemble = snapshot.assemble

    def timed_assemble(*args, **kwargs):
        t = time.perf_counter()
        try:
            return real_assemble(*args, **kwargs)
        finally:
            timings.append((time.perf_counter() - t) * 1000)

    load_ms: list[float] = []
    snapshot.assemble = timed_assemble
    try:
        built = None
        for run in range(BARS_RUNS + 1):  # the first one warms caches and is not counted
            t = time.perf_counter()
            built = await snapshot.load(page.id, f"http://{HOST}:8080")
            if run:
                load_ms.append((time.perf_counter() - t) * 1000)
    finally:
        snapshot.assemble = real_assemble
    assert built is not None
    # cold: the first build after a start, a new UTC day or written history reads all 90 days from the database
    cold_ms: list[float] = []
    for _ in range(3):
        snapshot.settled_cache.clear()
        t = time.perf_counter()
        await snapshot.load(page.id, f"http://{HOST}:8080")
        cold_ms.append((time.perf_counter() - t) * 1000)
    drawn = sum(1 for c in built.all_components for day in c.uptime if day.observed_seconds)
    return Bars(components=len(ids), days=BARS_DAYS, rows=len(rows), bars_drawn=drawn, load_ms=load_ms,
                assemble_ms=timings[1:], cold_ms=cold_ms)


def bars() -> Bars:
    async def go() -> Bars:
        async with fresh_database("bars"):
            return await measure_bars()
    print(f"bars: {BARS_COMPONENTS} components × {BARS_DAYS} days on one page", flush=True)
    return asyncio.run(go())


# --- the report -------------------------------------------------------------------------------------------------------

def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def _mb(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB"


def scale_rows(s: Scale) -> list[str]:
    b = s.bare
    return [
        f"| start lag p99 (scheduler `lag`) | {s.lag_p99_s * 1000:,.1f} ms (p50 {s.lag_p50_s * 1000:.1f} ms, max "
        f"{s.lag_max_s * 1000:,.0f} ms; {s.checks:,} checks) | < {TARGETS['lag_p99_s']:g} s | "
        f"{_mark(s.lag_p99_s < TARGETS['lag_p99_s'])} |",
        f"| CPU of the Beacon process | {s.cpu_percent:.1f} % of one core ({s.cpu_s:.1f} s in {s.seconds:.0f} s; "
        f"per 30 s: {min(s.cpu_windows, default=0):.0f}–{max(s.cpu_windows, default=0):.0f} %) | "
        f"< {TARGETS['cpu_percent']:.0f} % | {_mark(s.cpu_percent < TARGETS['cpu_percent'])} |",
        f"| RSS (VmRSS before → peak → after; VmHWM) | {s.rss_before_mb:.0f} → {s.rss_peak_mb:.0f} → "
        f"{s.rss_after_mb:.0f} MB; {s.hwm_mb:.0f} MB | < {TARGETS['rss_mb']:.0f} MB | "
        f"{_mark(max(s.rss_peak_mb, s.hwm_mb) < TARGETS['rss_mb'])} |",
        f"| bare httpx, same schedule: CPU | {b.get('cpu_percent', 0):.1f} % ({b.get('cpu_s', 0):.1f} s, "
        f"{b.get('requests', 0):,} requests, {b.get('failed', 0)} failed; RSS peak {b.get('rss_peak_mb', 0):.0f} MB) "
        f"| | |",
        f"| engine CPU / bare CPU | {s.ratio:.2f} × | | |",
    ]


def storage_rows(st: Storage) -> list[str]:
    return [f"| SQLite file, {st.monitors:,} monitors × {st.days} days at {STORAGE_INTERVAL} s, after prune + VACUUM "
            f"| {_mb(st.bytes)} | < {TARGETS['storage_mb']:.0f} MB | "
            f"{_mark(st.bytes < TARGETS['storage_mb'] * 1_000_000)} |"]


def bars_rows(b: Bars) -> list[str]:
    return [f"| snapshot of a page with {b.components} components × {b.days} days of bars (`snapshot.load`), "
            f"median of {len(b.load_ms)} | {b.load_median:.0f} ms (pure `assemble`: {b.assemble_median:.0f} ms; "
            f"database: {b.load_median - b.assemble_median:.0f} ms) | < {TARGETS['bars_ms']:.0f} ms | "
            f"{_mark(b.load_median < TARGETS['bars_ms'])} |",
            f"| the same, cold (the first build after a start or a new UTC day reads all 90 days), median of "
            f"{len(b.cold_ms)} | {statistics.median(b.cold_ms):.0f} ms | | |"]


def details(s: Scale | None, st: Storage | None, b: Bars | None) -> list[str]:
    out: list[str] = []
    if s:
        out += [f"- **Scale**: {s.monitors:,} monitors on {s.components} components of one page, created through "
                f"the {s.created_with} in {s.create_seconds:.0f} s; `engine.start(concurrency={s.concurrency})` "
                f"took {s.start_seconds * 1000:.0f} ms. {s.checks:,} checks started in {s.seconds:.0f} s "
                f"({s.up:,} up, {s.down:,} down as counted in the minute rollups after `engine.stop()`); "
                f"{s.heartbeats:,} heartbeats kept, {s.minute_rows:,} minute-rollup rows, {s.daily_rows:,} "
                f"`uptime_daily` rows. CPU per 30 s window: "
                f"{', '.join(f'{w:.0f}' for w in s.cpu_windows)} %. The target server (own process) used "
                f"{s.server_cpu_percent:.0f} % of a core during the engine run, "
                f"{s.bare.get('server_cpu_percent', 0):.0f} % during the bare run; bare client start lag p99 "
                f"{s.bare.get('lag_p99_s', 0) * 1000:.1f} ms."]
    if st:
        tables = ", ".join(f"{k} {v:,}" for k, v in st.kept.items())
        sizes = ", ".join(f"{k} {_mb(v)}" for k, v in list(st.table_bytes.items())[:8])
        out += [f"- **Storage**: {st.checks:,} simulated checks, {st.failures:,} of them failed "
                f"({FAILURE_RATE:.1%}). Written: {st.written['heartbeats']:,} heartbeats, "
                f"{st.written['minute']:,} minute / {st.written['hour']:,} hour / {st.written['day']:,} day rollup "
                f"rows in {st.write_seconds:.0f} s; `engine.prune` {st.prune_seconds:.1f} s. Rows kept: {tables}. "
                f"File {_mb(st.bytes_before_vacuum)} before VACUUM, {_mb(st.bytes)} after"
                + (f"; largest tables and indexes (dbstat): {sizes}." if sizes else ".")]
    if b:
        out += [f"- **Bars**: {b.rows:,} `uptime_daily` rows, {b.bars_drawn:,} bars with data in the snapshot; "
                f"`snapshot.load` runs (ms): {', '.join(f'{x:.0f}' for x in b.load_ms)}; `assemble` alone (ms): "
                f"{', '.join(f'{x:.0f}' for x in b.assemble_ms)}; cold builds (ms): "
                f"{', '.join(f'{x:.0f}' for x in b.cold_ms)}."]
    return out


def report(s: Scale | None, st: Storage | None, b: Bars | None, seconds: float, note: str) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            timeout=10).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                           timeout=10).stdout.strip()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}{' with local changes' if dirty else ''}, "
             f"{os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
             f"load average at the end {load}"
             + (f"; scale: {s.monitors:,} monitors for {seconds:.0f} s" if s else "") + ".", ""]
    if note:
        lines += [f"> **{note}**", ""]
    lines += ["| target | measured | goal | met |", "| --- | --- | --- | :---: |"]
    if s:
        lines += scale_rows(s)
    if st:
        lines += storage_rows(st)
    if b:
        lines += bars_rows(b)
    lines += [""] + details(s, st, b)
    return "\n".join(lines)


METHOD = """\
## Monitoring at scale (`bench/monitors_scale.py`)

**Method.** `.venv/bin/python bench/monitors_scale.py --seconds 300` (about 2 × 300 s plus two minutes; `--part
scale|storage|bars|all`, `--monitors N`) measures, each part on a fresh SQLite database in a temporary folder
(`storage.db.open_database`, the production pragmas):

- **Scale.** 2,000 `http` monitors, interval 30 s, timeout 10 s, spread over 200 components of one page (10 each),
  created through the services (`create_page`, `create_component`, `monitoring.create_monitor(Actor.system(...))`),
  then the real engine: `engine.start(concurrency=100)` (the default `BEACON_MONITOR_CONCURRENCY`), so every result
  goes through `process` → batch → `flush` every 5 s (heartbeats, minute/hour/day rollups, monitor rows, the
  components' `uptime_daily` days). The target is a minimal HTTP/1.1 server (200 "ok", `Connection: close`) in
  a separate process, so its CPU is not counted. In the bench's process: the scheduler's start lag (`lag`, every
  check of the run), CPU as the `time.process_time()` delta over the whole window (it includes the rise of the
  first 30 s, when the spread first runs begin), VmRSS sampled every second and VmHWM from `/proc/self/status`.
  Then the raw cost, in a child process: the same number of requests on the same schedule (each of 2,000
  "monitors" once per 30 s at a random phase, at most 100 at once) with bare `httpx` — one shared
  `AsyncClient`, keep-alive off, so a fresh connection each, the body read, nothing recorded — for the same time;
  its CPU is compared with the engine's.
- **Storage.** 1,000 monitors at 60 s over 30 days are *simulated*, not run: 43.2 M checks through
  `engine.process` would take hours. The rows they leave are written with the engine's storage functions:
  heartbeats with `ts.write_heartbeats` following the engine's sampling rule (every failed check and the first
  UP after it, plus one UP every `SAMPLE_SECONDS` = 600 s; messages "200 OK" / "Timed out after 10 s"), with
  0.1 % of checks failing (isolated failures at random times); every check counted into hour and day rollups
  with `ts.add_rollups`, and into minute rollups for the last three days only (older minute rows are exactly what
  the prune deletes). Then the engine's own retention, `engine.prune(now)` (heartbeats 30 days, minute rollups
  2 days, hour rollups 90 days), a WAL checkpoint and `VACUUM`; the size is the database file (plus WAL, empty).
  Not included: monitor events (state changes) and `uptime_daily` (one row per component and day).
- **Bars.** One page with 500 components (`create_component`), 90 days of `uptime_daily` each (45,000 rows,
  `storage.rollups.write_daily`, a few outage and degraded days mixed in); the time of `app.snapshot.load(page,
  base_url)` — the queries and the pure `assemble` that builds the 90-day bars — median of 9 runs after one
  warm-up, and `assemble` alone (timed inside the same runs). Rebuilds keep the days before yesterday in
  memory (`snapshot.SettledDays`), so a steady rebuild reads 1,000 rows; three cold builds (that memory
  cleared, as after a start or at UTC midnight) are timed too.

Targets (issue): p99 start lag < 1 s, CPU < 50 % of one core, RSS < 400 MB; < 300 MB of SQLite for 1,000
monitors × 30 days; the 90-day bars of 500 components in < 100 ms.
"""


def write_doc(section: str) -> None:
    write_section("monitors_scale", METHOD, section)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300, help="scale: length of each run (default 300)")
    parser.add_argument("--monitors", type=int, default=2000, help="scale: number of http monitors (default 2000)")
    parser.add_argument("--part", choices=("scale", "storage", "bars", "all"), default="all")
    parser.add_argument("--note", default="", help="a line to print above the figures, e.g. that this is a trial")
    parser.add_argument("--no-write", action="store_true", help=f"print only; leave {DOC.relative_to(ROOT)} alone")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the target server's process
    parser.add_argument("--bare", metavar="URL", help=argparse.SUPPRESS)  # the bare client's process
    args = parser.parse_args()
    if args.serve:
        try:
            asyncio.run(serve(args.serve))
        except KeyboardInterrupt:
            pass
        return 0
    if args.bare:
        print(json.dumps(asyncio.run(bare_requests(args.bare, args.monitors, args.seconds))))
        return 0
    if args.seconds < 1 or args.monitors < 1:
        parser.error("--seconds and --monitors must be at least 1")
    import logging
    logging.basicConfig(level=logging.WARNING)
    s = scale(args.monitors, args.seconds) if args.part in ("scale", "all") else None
    st = storage() if args.part in ("storage", "all") else None
    b = bars() if args.part in ("bars", "all") else None
    section = report(s, st, b, args.seconds, args.note)
    print(section)
    if args.json:
        Path(args.json).write_text(json.dumps({"scale": asdict(s) if s else None, "storage": asdict(st) if st else None,
                                               "bars": asdict(b) if b else None}, indent=2))
    if not args.no_write:
        write_doc(section)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
