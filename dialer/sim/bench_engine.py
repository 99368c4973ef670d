"""``dialer bench engine``: the whole engine with many simulated agents, in real time.

Agents log in over the first 25 s and latencies are taken after a warm-up (``warmup_s``,
30 s); the warm-up's worst tick is reported apart.

A fresh SQLite database with a generated list, ``dialer pbx-sim`` in a subprocess (so the
simulator does not share the engine's core), and the runtime with N simulated agents for a
while. Reported: answer-to-connect latency (the answered event's bytes arriving to the
Redirect written, for persons connected at once to a free agent), the simulator's own
wire round trip (answered event written to Redirect read, which also counts the time a
person waits in the queue for an agent), and tick-to-originate latency (tick start to each
Originate written).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from asterisk.bench import fetch_sim_stats, start_simulator, tune_gc
from campaigns.abandonment import abandonment_windows
from campaigns.db import make_engine
from campaigns.demo import build_demo
from dialer.config import Settings
from dialer.runtime import Runtime
from dialer.sim.simagents import scenario_agents

#: How long an unanswered bench call rings (the scenario's, and the engines' ring timeout).
NO_ANSWER_TIMEOUT_S = 20

_SCENARIO = """\
name = "{name}"
duration_s = 3600
lines = {lines}
[agents]
schedule = {schedule}
wrapup = {{ dist = "lognormal", mean = 8, sd = 4 }}
[calls]
answer_prob = 0.30
machine_prob = 0.0
busy_prob = 0.05
congestion_prob = 0.01
ring = {{ dist = "lognormal", mean = 8, sd = 4 }}
no_answer_timeout_s = {no_answer}
talk = {{ dist = "lognormal", mean = 40, sd = 20, min = 5 }}
"""


def bench_scenario(name: str, *, agents: int, lines: int) -> str:
    """The simulator's scenario for a bench: ``agents`` log in over 25 s, as a shift does,
    rather than all in the same millisecond; ``lines`` trunk lines."""
    steps = [[5 * i, max(1, agents * (i + 1) // 6)] for i in range(6)]
    return _SCENARIO.format(name=name, schedule=steps, lines=lines, no_answer=NO_ANSWER_TIMEOUT_S)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)


def _prepare(folder: Path, agents: int, records: int) -> tuple[Path, Path]:
    db = folder / "bench.db"
    engine = make_engine(f"sqlite:///{db}")
    build_demo(
        engine,
        records=records,
        now=dt.datetime.now(dt.UTC),
        agents=agents,
        running=True,
        always_open=True,
    )
    engine.dispose()
    scenario = folder / "bench.toml"
    scenario.write_text(bench_scenario(f"bench-{agents}", agents=agents, lines=agents * 6))
    return db, scenario


async def bench_engine(
    *, agents: int, seconds: float, records: int, profiles_dir: Path, warmup_s: float = 30.0
) -> dict[str, Any]:
    """Run the engine with ``agents`` simulated agents for ``seconds``; return the figures."""
    with tempfile.TemporaryDirectory(prefix="dialer-bench-engine-") as tmp:
        db, scenario = _prepare(Path(tmp), agents, records)
        proc, port = await start_simulator(1.0, "--scenario", str(scenario))
        try:
            settings = Settings.model_validate(
                {
                    "database": {"url": f"sqlite:///{db}"},
                    "engine": {"id": "bench", "tick_s": 0.5},
                    "pacing": {"profiles_dir": str(profiles_dir)},
                    "asterisk": {
                        "servers": [
                            {
                                "name": "sim",
                                "port": port,
                                "max_channels": agents * 7,
                                "originates_per_second": 2000,
                                "amd": False,
                            }
                        ]
                    },
                }
            )
            sim = scenario_agents(settings, scenario, "1")
            async with Runtime(settings, sim_agents=sim) as runtime:
                tune_gc()
                started = time.perf_counter()
                await runtime.run(duration_s=seconds)
                wall = time.perf_counter() - started
                stats = runtime.engine.stats(1)
                adapter = runtime.pool.adapters[0]
                wire = await fetch_sim_stats(adapter)
                logged_in = sum(
                    1 for a in runtime.engine.agents.values() if a.state.phase.value != "logged_out"
                )
                steady = started + warmup_s
                warm = [d for t, d in runtime.tick_to_originate if t < steady]
                ticks = [d for t, d in runtime.tick_to_originate if t >= steady]
                inside = [d for t, d in runtime.answer_to_connect if t >= steady]
                errors = runtime.errors
                overload = runtime.engine.overloaded
            # After the engine stopped: every fact written, counted from the call log.
            bench_db = make_engine(f"sqlite:///{db}")
            try:
                windows = abandonment_windows(bench_db, 1, dt.datetime.now(dt.UTC), "UTC")
            finally:
                bench_db.dispose()
        finally:
            proc.terminate()
            await proc.wait()
    return {
        "benchmark": "engine",
        "agents": logged_in,
        "seconds": round(wall, 1),
        "dials": stats["dials"],
        "connected": stats["connected"],
        "dropped": stats["dropped"],
        "abandon_rate": stats["abandon_rate"],
        "occupancy": stats["occupancy"],
        "connect_samples": len(inside),
        "connect_p50_ms": _pct(inside, 0.5),
        "connect_p99_ms": _pct(inside, 0.99),
        "sim_roundtrip_p50_ms": wire.get("RoundtripP50Ms"),
        "sim_roundtrip_p99_ms": wire.get("RoundtripP99Ms"),
        "tick_samples": len(ticks),
        "tick_p50_ms": _pct(ticks, 0.5),
        "tick_p99_ms": _pct(ticks, 0.99),
        "tick_mean_ms": round(1000 * statistics.fmean(ticks), 3) if ticks else None,
        "warmup_s": warmup_s,
        "warmup_tick_max_ms": round(1000 * max(warm), 3) if warm else None,
        "engine_errors": errors,
        "overloaded_at_end": overload,
        **{f"abandon_{w.name}": f"{w.rate:.2%} ({w.dropped} of {w.answered})" for w in windows},
        "target_p99_ms": 100,
    }


def run(agents: int, seconds: float, records: int, profiles_dir: Path) -> dict[str, Any]:
    """Synchronous entry point for the CLI."""
    return asyncio.run(
        bench_engine(agents=agents, seconds=seconds, records=records, profiles_dir=profiles_dir)
    )
