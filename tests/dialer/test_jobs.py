"""Scheduled jobs run on time, in the right place, and survive their own errors."""

from __future__ import annotations

import asyncio
import threading

import pytest

from dialer.runtime.jobs import Jobs, JobSpec


async def test_coroutine_job_runs_repeatedly_in_the_event_loop() -> None:
    """An async job runs every interval on the engine's own thread."""
    threads: list[int] = []

    async def tick() -> None:
        threads.append(threading.get_ident())

    async with Jobs([JobSpec("tick", tick, "test", every_s=0.05)]):
        await asyncio.sleep(0.3)
    assert len(threads) >= 3
    assert set(threads) == {threading.get_ident()}


async def test_failing_job_is_logged_and_runs_again() -> None:
    """A job that raises keeps its schedule; the error does not escape."""
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("boom")

    async with Jobs([JobSpec("broken", broken, "test", every_s=0.05)]):
        # Waits for the second run (a loaded machine may take a while), never sleep-and-count.
        async with asyncio.timeout(20):
            while len(calls) < 2:
                await asyncio.sleep(0.02)
    assert len(calls) >= 2


async def test_run_now_moves_a_daily_job_forward() -> None:
    """run_now makes a daily job run at once."""
    ran = asyncio.Event()

    async def rollup() -> None:
        ran.set()

    async with Jobs([JobSpec("rollup", rollup, "daily", at="03:00")]) as jobs:
        jobs.run_now("rollup")
        async with asyncio.timeout(2):
            await ran.wait()


def test_spec_without_schedule_is_refused() -> None:
    """A job with neither an interval nor a time of day is a programming error."""
    with pytest.raises(ValueError, match="give every_s or at"):
        JobSpec("x", lambda: None, "none").trigger("UTC")
