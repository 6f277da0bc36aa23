"""Heartbeats and minute / hour / day rollups of monitor results.

These tables are written tens of times a second and read in ranges, so they are plain SQL rather than ORM
models: a composite primary key (monitor, time) that is also the only index, integer epoch times instead of
timestamp text, and (on SQLite) WITHOUT ROWID storage, so that a row costs ~30 bytes instead of ~150
(docs/benchmarks.md has the measured sizes). They are created by migration 6, or with the rest of a fresh
schema. Rows are written only in batches, inside the caller's transaction (``monitoring.Recorder``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

RESOLUTIONS = {"minute": 60, "hour": 3600, "day": 86400}

# Heartbeat status codes
DOWN, UP, DEGRADED, PENDING = 0, 1, 2, 3
STATUS_CODE = {"down": DOWN, "up": UP, "degraded": DEGRADED, "pending": PENDING}
STATUS_NAME = {v: k for k, v in STATUS_CODE.items()}


def _table(resolution: str) -> str:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}")
    return f"monitor_rollups_{resolution}"


def ddl(dialect: str) -> list[str]:
    big = "BIGINT" if dialect == "postgres" else "INTEGER"
    real = "DOUBLE PRECISION" if dialect == "postgres" else "REAL"
    tail = "" if dialect == "postgres" else " WITHOUT ROWID"
    statements = [
        f"""CREATE TABLE IF NOT EXISTS heartbeats (
            monitor_id INTEGER NOT NULL, at_ms {big} NOT NULL, status SMALLINT NOT NULL,
            latency_ms INTEGER, maintenance SMALLINT NOT NULL DEFAULT 0, message TEXT,
            PRIMARY KEY (monitor_id, at_ms)){tail}"""]
    for resolution in RESOLUTIONS:
        statements.append(f"""CREATE TABLE IF NOT EXISTS {_table(resolution)} (
            monitor_id INTEGER NOT NULL, bucket {big} NOT NULL,
            up INTEGER NOT NULL DEFAULT 0, down INTEGER NOT NULL DEFAULT 0,
            degraded INTEGER NOT NULL DEFAULT 0, maintenance INTEGER NOT NULL DEFAULT 0,
            latency_sum {real} NOT NULL DEFAULT 0, latency_count INTEGER NOT NULL DEFAULT 0,
            latency_min INTEGER, latency_max INTEGER,
            PRIMARY KEY (monitor_id, bucket)){tail}""")
    return statements


async def create_tables(conn: Any, dialect: str) -> None:
    for statement in ddl(dialect):
        await conn.execute_script(statement)


def _dialect(conn: Any) -> str:
    return "postgres" if conn.capabilities.dialect == "postgres" else "sqlite"


def _params(conn: Any, count: int, start: int = 1) -> list[str]:
    if _dialect(conn) == "postgres":
        return [f"${i}" for i in range(start, start + count)]
    return ["?"] * count


@dataclass(slots=True)
class Agg:
    """One bucket's counts. ``up`` includes failed checks still being retried (not yet confirmed down);
    checks made while the component was in maintenance count only as ``maintenance``."""

    up: int = 0
    down: int = 0
    degraded: int = 0
    maintenance: int = 0
    latency_sum: float = 0.0
    latency_count: int = 0
    latency_min: int | None = None
    latency_max: int | None = None

    def add(self, status: int, latency_ms: float | None, maintenance: bool) -> None:
        if maintenance:
            self.maintenance += 1
        elif status == DOWN:
            self.down += 1
        elif status == DEGRADED:
            self.degraded += 1
        else:
            self.up += 1
        if latency_ms is not None and status != DOWN:
            ms = int(round(latency_ms))
            self.latency_sum += latency_ms
            self.latency_count += 1
            self.latency_min = ms if self.latency_min is None else min(self.latency_min, ms)
            self.latency_max = ms if self.latency_max is None else max(self.latency_max, ms)

    def merge(self, other: Agg) -> None:
        self.up += other.up
        self.down += other.down
        self.degraded += other.degraded
        self.maintenance += other.maintenance
        self.latency_sum += other.latency_sum
        self.latency_count += other.latency_count
        for name, pick in (("latency_min", min), ("latency_max", max)):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, theirs if mine is None else mine if theirs is None else pick(mine, theirs))

    @property
    def checks(self) -> int:
        return self.up + self.down + self.degraded + self.maintenance

    @property
    def counted(self) -> int:
        """Checks that count for uptime: all but those in maintenance."""
        return self.up + self.down + self.degraded

    @property
    def uptime_percent(self) -> float | None:
        """Degraded counts as up (the service answered); None when nothing counted."""
        return 100.0 * (self.up + self.degraded) / self.counted if self.counted else None

    @property
    def avg_latency_ms(self) -> float | None:
        return self.latency_sum / self.latency_count if self.latency_count else None


def bucket_of(epoch_seconds: float, resolution: str) -> int:
    size = RESOLUTIONS[resolution]
    return int(epoch_seconds // size * size)


async def write_heartbeats(conn: Any, rows: Sequence[tuple[int, int, int, int | None, int, str | None]]) -> None:
    """Rows of (monitor id, at in epoch ms, status code, latency ms, in maintenance 0/1, message)."""
    if not rows:
        return
    p = _params(conn, 6)
    await conn.execute_many(
        f"INSERT INTO heartbeats (monitor_id, at_ms, status, latency_ms, maintenance, message) "
        f"VALUES ({', '.join(p)}) ON CONFLICT (monitor_id, at_ms) DO NOTHING", list(rows))


async def add_rollups(conn: Any, resolution: str, deltas: dict[tuple[int, int], Agg]) -> None:
    """Add each (monitor id, bucket) delta to what the table holds: increments, so that batches from one run
    and the next add up, and a batch is counted once because it commits with its heartbeats."""
    if not deltas:
        return
    t = _table(resolution)
    least, greatest = ("LEAST", "GREATEST") if _dialect(conn) == "postgres" else ("min", "max")
    p = _params(conn, 10)
    sql = (
        f"INSERT INTO {t} (monitor_id, bucket, up, down, degraded, maintenance, latency_sum, latency_count, "
        f"latency_min, latency_max) VALUES ({', '.join(p)}) ON CONFLICT (monitor_id, bucket) DO UPDATE SET "
        f"up = {t}.up + excluded.up, down = {t}.down + excluded.down, "
        f"degraded = {t}.degraded + excluded.degraded, maintenance = {t}.maintenance + excluded.maintenance, "
        f"latency_sum = {t}.latency_sum + excluded.latency_sum, "
        f"latency_count = {t}.latency_count + excluded.latency_count, "
        f"latency_min = {least}(COALESCE({t}.latency_min, excluded.latency_min), "
        f"COALESCE(excluded.latency_min, {t}.latency_min)), "
        f"latency_max = {greatest}(COALESCE({t}.latency_max, excluded.latency_max), "
        f"COALESCE(excluded.latency_max, {t}.latency_max))")
    await conn.execute_many(sql, [
        (mid, bucket, a.up, a.down, a.degraded, a.maintenance, a.latency_sum, a.latency_count, a.latency_min,
         a.latency_max) for (mid, bucket), a in deltas.items()])


def _agg(row: Any, offset: int = 0) -> Agg:
    values = list(row.values()) if isinstance(row, dict) else list(row)
    values = values[offset:]
    return Agg(int(values[0]), int(values[1]), int(values[2]), int(values[3]), float(values[4] or 0),
               int(values[5]), values[6], values[7])


_AGG_COLUMNS = "up, down, degraded, maintenance, latency_sum, latency_count, latency_min, latency_max"
_SUM_COLUMNS = ("SUM(up), SUM(down), SUM(degraded), SUM(maintenance), SUM(latency_sum), SUM(latency_count), "
                "MIN(latency_min), MAX(latency_max)")


def _in(conn: Any, values: Sequence[int], start: int) -> tuple[str, list[int]]:
    return ", ".join(_params(conn, len(values), start)), list(values)


async def totals(conn: Any, resolution: str, monitor_ids: Sequence[int], since_epoch: int) -> dict[int, Agg]:
    """Each monitor's counts summed over buckets from ``since_epoch`` on."""
    if not monitor_ids:
        return {}
    marks, values = _in(conn, monitor_ids, 2)
    p = _params(conn, 1)[0]
    _, rows = await conn.execute_query(
        f"SELECT monitor_id, {_SUM_COLUMNS} FROM {_table(resolution)} WHERE bucket >= {p} AND monitor_id IN "
        f"({marks}) GROUP BY monitor_id", [since_epoch, *values])
    out: dict[int, Agg] = {}
    for row in rows:
        values_ = list(row.values()) if isinstance(row, dict) else list(row)
        out[int(values_[0])] = _agg(values_, 1)
    return out


async def series(conn: Any, resolution: str, monitor_ids: Sequence[int], since_epoch: int
                 ) -> dict[int, list[tuple[int, Agg]]]:
    """Each monitor's buckets from ``since_epoch`` on, oldest first."""
    if not monitor_ids:
        return {}
    marks, values = _in(conn, monitor_ids, 2)
    p = _params(conn, 1)[0]
    _, rows = await conn.execute_query(
        f"SELECT monitor_id, bucket, {_AGG_COLUMNS} FROM {_table(resolution)} WHERE bucket >= {p} AND "
        f"monitor_id IN ({marks}) ORDER BY monitor_id, bucket", [since_epoch, *values])
    out: dict[int, list[tuple[int, Agg]]] = {mid: [] for mid in monitor_ids}
    for row in rows:
        values_ = list(row.values()) if isinstance(row, dict) else list(row)
        out[int(values_[0])].append((int(values_[1]), _agg(values_, 2)))
    return out


@dataclass(frozen=True, slots=True)
class Heartbeat:
    at_ms: int
    status: str
    latency_ms: int | None
    maintenance: bool
    message: str | None


async def recent_heartbeats(conn: Any, monitor_id: int, limit: int = 50) -> list[Heartbeat]:
    """Newest first."""
    p = _params(conn, 2)
    _, rows = await conn.execute_query(
        f"SELECT at_ms, status, latency_ms, maintenance, message FROM heartbeats WHERE monitor_id = {p[0]} "
        f"ORDER BY at_ms DESC LIMIT {p[1]}", [monitor_id, limit])
    out = []
    for row in rows:
        v = list(row.values()) if isinstance(row, dict) else list(row)
        out.append(Heartbeat(int(v[0]), STATUS_NAME.get(int(v[1]), "up"), v[2], bool(v[3]), v[4]))
    return out


async def delete_monitor(conn: Any, monitor_id: int) -> None:
    p = _params(conn, 1)[0]
    for table in ("heartbeats", *(_table(r) for r in RESOLUTIONS)):
        await conn.execute_query(f"DELETE FROM {table} WHERE monitor_id = {p}", [monitor_id])


async def prune(conn: Any, *, heartbeats_before_ms: int, minute_before: int, hour_before: int) -> None:
    """Drop heartbeats and fine rollups past their retention. Day rollups are kept: they are small and make the
    long-range bars."""
    p = _params(conn, 1)[0]
    await conn.execute_query(f"DELETE FROM heartbeats WHERE at_ms < {p}", [heartbeats_before_ms])
    await conn.execute_query(f"DELETE FROM monitor_rollups_minute WHERE bucket < {p}", [minute_before])
    await conn.execute_query(f"DELETE FROM monitor_rollups_hour WHERE bucket < {p}", [hour_before])


def counts_by_day(rows: Iterable[tuple[int, Agg]]) -> dict[int, Agg]:
    out: dict[int, Agg] = {}
    for bucket, agg in rows:
        out.setdefault(bucket, Agg()).merge(agg)
    return out
