"""AMI benchmarks: ``dialer bench ami``.

Two measurements:

* **parse + dispatch** — a realistic server byte stream (calls, seats, connects, with the
  Newexten/VarSet noise of a real dialplan) is generated once by the pure world model,
  then fed in 64 KiB chunks through the adapter's real read path (panoramisk protocol
  subclass -> our parser -> mapper -> event sink). ``events_per_s`` counts every AMI
  event in the stream, the skipped noise included; ``dispatched_events_per_s`` only
  those that reached the mapper.
* **answer-to-connect** — the simulator runs in a subprocess (``dialer pbx-sim``), the
  adapter places ``calls`` concurrent calls (lab-encoded humans who ring 1-9 s and talk
  long enough to all be up at once) and a stub engine Redirects each answered call into
  a seat from inside the event callback. ``connect_*_ms`` is measured in the adapter from
  the moment the bytes carrying ``UserEvent CustomerAnswered`` are handed to
  ``data_received`` until the Redirect is written to the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import statistics
import sys
import time
from typing import Any

from asterisk.adapter import AmiAdapter, DialRequest, _Protocol
from asterisk.errors import AmiError
from asterisk.events import CallAnswered, CallConnected, LifecycleEvent, SeatUp
from asterisk.protocol import Message, encode
from asterisk.settings import AmiServerSettings
from asterisk.world import World


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---------------------------------------------------------------------- parse + dispatch
def generate_stream(min_events: int, *, seed: int = 7) -> tuple[bytes, int, list[tuple[str, str]]]:
    """Server bytes of many lab calls; returns (bytes, event count, [(call_id, channel_id)])."""
    world = World(seed=seed)
    chunks: list[bytes] = []
    count = 0
    calls: list[tuple[str, str]] = []
    now = 0.0
    agents = [f"{7000 + i}" for i in range(50)]
    for agent in agents:
        world.action(
            1,
            Message.of(
                [
                    ("Action", "Originate"),
                    ("ActionID", f"seat-{agent}"),
                    ("Channel", f"Local/{agent}@agents"),
                    ("Context", "agent-handset"),
                    ("Exten", agent),
                    ("Priority", "1"),
                    ("Async", "true"),
                    ("Variable", f"DIALER_AGENT={agent}"),
                ]
            ),
            now,
        )
    classes = ["1", "1", "1", "1", "2", "3", "4", "5", "9"]
    n = 0
    while count < min_events:
        for _ in range(200):
            n += 1
            cls = classes[n % len(classes)]
            number = f"{cls}{1 + n % 9:02d}{5 + n % 20:03d}{n:05d}"
            call_id = f"b{n}"
            calls.append((call_id, f"dialer-{call_id}"))
            outs = world.action(
                1,
                Message.of(
                    [
                        ("Action", "Originate"),
                        ("ActionID", f"a{n}"),
                        ("Channel", f"Local/{number}@customers"),
                        ("ChannelId", f"dialer-{call_id}"),
                        ("OtherChannelId", f"dialer-{call_id}-2"),
                        ("Context", "dialer-answered"),
                        ("Exten", number),
                        ("Priority", "1"),
                        ("Async", "true"),
                        ("Timeout", "20000"),
                        ("Variable", f"DIALER_CALLID={call_id}"),
                    ]
                ),
                now,
            )
            chunks.extend(encode(o.pairs) for o in outs)
        for _ in range(40):
            now += 0.25
            outs = world.advance(now)
            redirects: list[tuple[str, str]] = []
            for o in outs:
                chunks.append(encode(o.pairs))
                if o.pairs[0][1] == "UserEvent" and ("UserEvent", "CustomerAnswered") in o.pairs:
                    channel = o.pairs[2][1]
                    agent = agents[len(redirects) % len(agents)]
                    redirects.append((channel, agent))
            for channel, agent in redirects:
                outs = world.action(
                    1,
                    Message.of(
                        [
                            ("Action", "Redirect"),
                            ("ActionID", f"r-{channel}"),
                            ("Channel", channel),
                            ("Context", "agent-bridge"),
                            ("Exten", agent),
                            ("Priority", "1"),
                        ]
                    ),
                    now,
                )
                chunks.extend(encode(o.pairs) for o in outs)
        count = sum(1 for c in chunks if c.startswith(b"Event: "))
    return b"".join(chunks), count, calls


class _NullTransport(asyncio.Transport):
    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Discard."""

    def is_closing(self) -> bool:
        """Never closing."""
        return False


def bench_parse(min_events: int) -> dict[str, Any]:
    """Feed a generated stream through the adapter's read path; events per second."""
    data, events, calls = generate_stream(min_events)
    adapter = AmiAdapter(AmiServerSettings(name="bench"), on_event=lambda _ev: None)
    for call_id, channel_id in calls:
        adapter.mapper.register_call(
            call_id=call_id, action_id=f"x-{call_id}", channel_id=channel_id
        )
    proto = _Protocol(adapter)
    proto.connection_made(_NullTransport())
    proto.data_received(b"Asterisk Call Manager/11.0.0\r\n")
    step = 64 * 1024
    t0 = time.perf_counter()
    for i in range(0, len(data), step):
        proto.data_received(data[i : i + step])
    elapsed = time.perf_counter() - t0
    dispatched = adapter.stats["messages"]
    return {
        "events": events,
        "bytes": len(data),
        "parse_s": round(elapsed, 3),
        "events_per_s": round(events / elapsed),
        "dispatched_events_per_s": round(dispatched / elapsed),
        "lifecycle_events": adapter.stats["events"],
    }


# ---------------------------------------------------------------------- connect latency
class _TimedAdapter(AmiAdapter):
    """An adapter whose protocol notes when each chunk of bytes arrives."""

    rx_t = 0.0

    def _protocol_factory(self) -> _Protocol:
        return _TimedProtocol(self)


class _TimedProtocol(_Protocol):
    def __init__(self, adapter: _TimedAdapter) -> None:
        super().__init__(adapter)
        self._timed = adapter

    def data_received(self, data: bytes) -> None:
        self._timed.rx_t = time.perf_counter()
        super().data_received(data)


async def start_simulator(
    time_scale: float = 1.0, *extra: str
) -> tuple[asyncio.subprocess.Process, int]:
    """A ``dialer pbx-sim --latency-probe`` subprocess on a free port: (process, port)."""
    code = "from dialer.cli import main; main()"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        "pbx-sim",
        "--port",
        "0",
        "--time-scale",
        str(time_scale),
        "--latency-probe",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "DIALER_AMI_SECRET": ""},
    )
    assert proc.stdout is not None  # noqa: S101 - PIPE above
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line:
            msg = "pbx-sim exited before listening"
            raise RuntimeError(msg)
        text = line.decode()
        if text.startswith("pbx-sim listening on"):
            port = int(text.split()[3].rpartition(":")[2])
            return proc, port


async def bench_connect(
    calls: int, *, agents: int = 100, within_s: float = 90.0, time_scale: float = 1.0
) -> dict[str, Any]:
    """``calls`` concurrent calls against a simulator subprocess; connect latency."""
    proc, port = await start_simulator(time_scale)
    latencies: list[float] = []
    connected = 0
    seats = 0
    done = asyncio.Event()
    seats_up = asyncio.Event()
    agent_ids = [f"{8000 + i}" for i in range(agents)]

    def on_event(ev: LifecycleEvent) -> None:
        nonlocal connected, seats
        if isinstance(ev, CallAnswered):
            agent = agent_ids[len(latencies) % len(agent_ids)]
            adapter.connect(ev.call_id, agent)
            latencies.append(time.perf_counter() - adapter.rx_t)
        elif isinstance(ev, CallConnected):
            connected += 1
            if connected >= calls:
                done.set()
        elif isinstance(ev, SeatUp):
            seats += 1
            if seats >= agents:
                seats_up.set()

    settings = AmiServerSettings(
        name="bench",
        port=port,
        max_channels=calls + agents + 10,
        originates_per_second=4000,
        ring_timeout_s=60,
        ping_interval_s=30,
        ping_timeout_s=30,
    )
    adapter = _TimedAdapter(settings, on_event=on_event)
    t_start = time.perf_counter()
    try:
        async with adapter:
            await adapter.wait_ready(15)
            for agent in agent_ids:
                adapter.start_seat(agent)
            await asyncio.wait_for(seats_up.wait(), 30)
            t0 = time.perf_counter()
            for i in range(calls):
                # class 1 human, rings 1-9 s, talks 60 s: all calls are up at once
                number = f"1{1 + i % 9:02d}060{i:05d}"
                await adapter.originate(DialRequest(f"k{i}", number))
            originate_s = time.perf_counter() - t0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), within_s)
            elapsed = time.perf_counter() - t0
            peak = adapter.in_use - agents
            sim_stats = await fetch_sim_stats(adapter)
            stats = dict(adapter.stats)
            skipped = adapter._proto._parser.skipped if adapter._proto else 0
    finally:
        proc.terminate()
        with contextlib.suppress(ProcessLookupError, TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
    ms = [x * 1000 for x in latencies]
    return {
        "calls": calls,
        "agents": agents,
        "connected": connected,
        "calls_in_flight_at_end": peak,
        "originate_s": round(originate_s, 2),
        "run_s": round(elapsed, 2),
        "total_s": round(time.perf_counter() - t_start, 2),
        "connect_p50_ms": round(statistics.median(ms), 3) if ms else None,
        "connect_p99_ms": round(_pct(ms, 0.99), 3) if ms else None,
        "connect_max_ms": round(max(ms), 3) if ms else None,
        "sim_roundtrip_p50_ms": sim_stats.get("RoundtripP50Ms"),
        "sim_roundtrip_p99_ms": sim_stats.get("RoundtripP99Ms"),
        "sim_roundtrip_samples": sim_stats.get("Samples"),
        "live_messages": stats["messages"],
        "live_skipped_events": skipped,
        "live_events_per_s": round((stats["messages"] + skipped) / elapsed) if elapsed else None,
    }


async def fetch_sim_stats(adapter: AmiAdapter) -> dict[str, float]:
    """Ask the simulator for its wire-to-wire round-trip figures (SimControl stats)."""
    try:
        res = await adapter.request({"Action": "SimControl", "Op": "stats"}, within_s=5)
    except (TimeoutError, AmiError):
        return {}
    return {k: float(res.get(k) or "nan") for k in ("Samples", "RoundtripP50Ms", "RoundtripP99Ms")}


def tune_gc() -> None:
    """Fewer, cheaper collections: the long-lived start-up objects leave the GC's view.

    Untuned, gen-2 collections over the adapter's many small objects (channels, futures,
    calls) pause the loop for tens of milliseconds now and then, which is what the
    latency tail is made of. The engine's runtime should do the same after start-up.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


async def run_bench(
    *,
    calls: int,
    parse_events: int,
    agents: int = 100,
    time_scale: float = 1.0,
    gc_tuning: bool = True,
) -> dict[str, Any]:
    """Both measurements; the headline keys are ``events_per_s`` and ``connect_p99_ms``."""
    parse = bench_parse(parse_events)
    if gc_tuning:
        tune_gc()
    live = await bench_connect(calls, agents=min(agents, calls), time_scale=time_scale)
    return {
        "events_per_s": parse["events_per_s"],
        "connect_p99_ms": live["connect_p99_ms"],
        "connect_p50_ms": live["connect_p50_ms"],
        "parse": parse,
        "connect": live,
        "time_scale": time_scale,
        "gc_tuning": gc_tuning,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
    }
