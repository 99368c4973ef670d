"""Scheduled jobs (APScheduler 3): campaign hours, due callbacks, lease sweep, rollups.

Jobs that touch the engine's in-memory state are coroutines, so they run in the event loop
beside everything else; jobs that only touch the database may be plain functions, which
APScheduler runs in a worker thread. A job that raises is logged and runs again at its next
time: a scheduled job never stops the engine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = structlog.get_logger(__name__)

JobFunc = Callable[[], Awaitable[None]] | Callable[[], None]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One recurring job: every ``every_s`` seconds, or daily at ``at`` ("HH:MM").

    ``engine_clock``: ``every_s`` counts on the engine's clock, which may run faster than
    the wall clock (``--time-scale``); e.g. lease renewal, whose leases count that clock.
    """

    id: str
    func: JobFunc
    description: str
    every_s: float | None = None
    at: str | None = None
    engine_clock: bool = False

    def trigger(self, timezone: str, *, time_scale: float = 1.0) -> IntervalTrigger | CronTrigger:
        """The APScheduler trigger for this spec (``time_scale``: engine seconds per wall
        second, applied to ``engine_clock`` jobs)."""
        if self.every_s is not None:
            seconds = self.every_s / time_scale if self.engine_clock else self.every_s
            return IntervalTrigger(seconds=seconds, timezone=timezone)
        if self.at is None:
            msg = f"job {self.id}: give every_s or at"
            raise ValueError(msg)
        hour, _, minute = self.at.partition(":")
        return CronTrigger(hour=int(hour), minute=int(minute or 0), timezone=timezone)


def _guarded(spec: JobSpec) -> Callable[[], Any]:
    """Wrap a job so that an error is logged instead of escaping."""
    if inspect.iscoroutinefunction(spec.func):
        coro_func = spec.func

        @functools.wraps(coro_func)
        async def run_async() -> None:
            try:
                await coro_func()
            except Exception:
                log.exception("job_failed", job=spec.id)

        return run_async

    sync_func = spec.func

    @functools.wraps(sync_func)
    def run_sync() -> None:
        try:
            sync_func()
        except Exception:
            log.exception("job_failed", job=spec.id)

    return run_sync


class Jobs:
    """``async with Jobs(specs):`` — the engine's scheduler, started and shut down with it.

    ``time_scale``: how many seconds of the engine's clock pass per wall second (the
    ``ScaledClock`` of ``--time-scale``); jobs marked ``engine_clock`` run that much
    more often, so that they keep pace with what they look after.
    """

    def __init__(
        self, specs: Sequence[JobSpec], *, timezone: str = "UTC", time_scale: float = 1.0
    ) -> None:
        if time_scale <= 0:
            msg = f"time_scale must be positive, got {time_scale}"
            raise ValueError(msg)
        self.specs = list(specs)
        self.scheduler = AsyncIOScheduler(
            timezone=timezone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        for spec in self.specs:
            self.scheduler.add_job(
                _guarded(spec),
                spec.trigger(timezone, time_scale=time_scale),
                id=spec.id,
                name=spec.description,
                replace_existing=True,
            )

    async def __aenter__(self) -> Self:
        self.scheduler.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)

    def run_now(self, job_id: str) -> None:
        """Move a job's next run to now (e.g. after a campaign changed)."""
        job = self.scheduler.get_job(job_id)
        if job is not None:
            job.modify(next_run_time=dt.datetime.now(dt.UTC))
