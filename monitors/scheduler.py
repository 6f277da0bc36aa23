"""Runs jobs on their intervals: one loop keeps a heap of due times and starts each due job as its own task.

- Start times are spread: a new job's first run is at a random point of its first interval, so that a
  thousand monitors added at once (or resumed after a restart) do not fire together.
- A global cap (a semaphore) bounds how many checks run at once; the lag between a job's due time and the
  moment it really starts is recorded (the benchmark's "start lag").
- A job never overlaps itself, and one job hanging or crashing never delays another: each runs in its own
  task, bounded by its own timeout (``monitors.runner``), and an exception in the result handler is logged.
- Due times advance by the interval from the previous due time, not from when the check ended, so a monitor
  keeps its slot instead of drifting.

It knows nothing of storage: what a run does is the job's ``run`` callable, and what happens to the result is
the ``on_result`` callback, which may ask for the next run sooner (a retry) by returning a delay.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from monitors.base import CheckResult

log = logging.getLogger(__name__)

RunFn = Callable[[], Awaitable[CheckResult]]
# (job, result, start lag in seconds) -> seconds until the next run, or None for the job's interval
ResultFn = Callable[["Job", CheckResult, float], Awaitable[float | None]]


@dataclass(eq=False)
class Job:
    id: int
    interval: float
    run: RunFn
    generation: int = 0  # bumped on every change, so stale heap entries are skipped
    running: bool = False
    next_due: float = 0.0
    last_started: float | None = None


@dataclass
class LagStats:
    samples: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))
    started: int = 0

    def add(self, lag: float) -> None:
        self.samples.append(lag)
        self.started += 1

    def percentile(self, p: float) -> float:
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Scheduler:
    def __init__(self, on_result: ResultFn, *, concurrency: int = 100, clock: Callable[[], float] = time.monotonic):
        self.on_result = on_result
        self.clock = clock
        self.jobs: dict[int, Job] = {}
        self.lag = LagStats()
        self._heap: list[tuple[float, int, int, int]] = []  # (due, tiebreak, job id, generation)
        self._tiebreak = itertools.count()
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._loop_task: asyncio.Task | None = None
        self._accepting = True

    # -- the job set -------------------------------------------------------------------------------------------

    def put(self, job_id: int, interval: float, run: RunFn, *, first_in: float | None = None) -> Job:
        """Add or replace a job. ``first_in``: seconds until its first run; by default a random point of its
        first interval (the jitter that spreads start times)."""
        old = self.jobs.get(job_id)
        job = Job(job_id, interval, run, generation=(old.generation + 1) if old else 0,
                  running=old.running if old else False)
        self.jobs[job_id] = job
        delay = random.uniform(0, interval) if first_in is None else max(first_in, 0.0)
        self._schedule(job, self.clock() + delay)
        return job

    def remove(self, job_id: int) -> None:
        job = self.jobs.pop(job_id, None)
        if job is not None:
            job.generation += 1

    def reschedule(self, job_id: int, delay: float) -> None:
        """Move a job's next run to ``delay`` seconds from now (e.g. a push arrived: the silence timer restarts)."""
        job = self.jobs.get(job_id)
        if job is not None:
            job.generation += 1
            self._schedule(job, self.clock() + delay)

    def _schedule(self, job: Job, due: float) -> None:
        job.next_due = due
        heapq.heappush(self._heap, (due, next(self._tiebreak), job.id, job.generation))
        self._wake.set()

    # -- running -----------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._loop_task is None:
            self._accepting = True
            self._loop_task = asyncio.get_running_loop().create_task(self._loop(), name="monitor-scheduler")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop starting checks; give the running ones ``grace`` seconds, then cancel them."""
        self._accepting = False
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    @property
    def running_count(self) -> int:
        return sum(1 for job in self.jobs.values() if job.running)

    async def _loop(self) -> None:
        while True:
            now = self.clock()
            while self._heap and self._heap[0][0] <= now:
                due, _, job_id, generation = heapq.heappop(self._heap)
                job = self.jobs.get(job_id)
                if job is None or job.generation != generation:
                    continue  # removed or rescheduled since
                if job.running:
                    # still running from last time (its timeout will end it): run again right after
                    self._schedule(job, now + min(job.interval, 1.0))
                    continue
                self._spawn(job, due)
            self._wake.clear()
            delay = (self._heap[0][0] - self.clock()) if self._heap else 3600.0
            if delay > 0:
                try:
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    def _spawn(self, job: Job, due: float) -> None:
        job.running = True
        task = asyncio.get_running_loop().create_task(self._run(job, due), name=f"monitor-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Job, due: float) -> None:
        generation = job.generation
        next_delay: float | None = None
        try:
            async with self._slots:
                started = self.clock()
                self.lag.add(max(started - due, 0.0))
                job.last_started = started
                result = await job.run()  # cancelling a check is safe: it holds nothing of ours
                handler = asyncio.ensure_future(self.on_result(job, result, started - due))
                try:
                    next_delay = await asyncio.shield(handler)
                except asyncio.CancelledError:
                    # stop() gave up waiting: let the handler's write finish rather than cut it mid-transaction
                    await asyncio.gather(handler, return_exceptions=True)
                    raise
                except Exception:
                    log.exception("monitor.result_handler_failed job=%s", job.id)
        finally:
            job.running = False
        if self._accepting and self.jobs.get(job.id) is job and job.generation == generation:
            if next_delay is not None:
                self._schedule(job, self.clock() + next_delay)
            else:
                upcoming = due + job.interval
                now = self.clock()
                if upcoming <= now:  # the check overran its interval: skip the missed slots, keep the phase
                    upcoming += ((now - upcoming) // job.interval + 1) * job.interval
                self._schedule(job, upcoming)

    async def run_now(self, job_id: int) -> CheckResult | None:
        """Run a job at once (the "check now" button), through the same result handling. None when unknown."""
        job = self.jobs.get(job_id)
        if job is None:
            return None
        async with self._slots:
            result = await job.run()
        await self.on_result(job, result, 0.0)
        return result
