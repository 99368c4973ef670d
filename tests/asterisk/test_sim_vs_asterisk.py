"""The simulator, recorded by the same client as the real transcripts, matches them.

Each lab scenario of ``record.py`` runs against its own in-process simulator loaded with
the lab's dialplan (``conf/extensions.conf``, the one the recordings were made with), all
in parallel and in real time: the recorder sleeps on the wall clock between its actions, so
a faster world would let a talking customer loop more often, or a ringing call time out,
before the recorder acts (at 1x the run lasts about as long as the longest scenario).
``compare.py --per-channel`` must say SAME for every one, with its default ignored events
and also with the dialplan's Newexten events included. Ping exchanges are removed from
both sides first: they come from the client's 10 s timer, so their count depends on how
long a run takes, not on the server. A scenario that records two sessions (h2, h2b) is
compared file by file.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from asterisk.dialplan import Dialplan
from asterisk.simulator import PbxSimulator
from asterisk.world import World
from tests.asterisk.transcripts import TRANSCRIPTS, require

SCENARIOS = [
    "a_login_agent_seat",
    "b_answered_to_agent",
    "c_no_answer_timeout",
    "d1_busy",
    "d2_congestion",
    "d3_invalid_extension",
    "e_no_agent_drop",
    "f1_amd_machine",
    "f2_amd_human",
    "g1_agent_hangs_up_first",
    "h1_originate_unknown_exten",
    "h2_two_sessions_see_results",
    "h3_hangup_while_ringing",
    "h4_duplicate_channelid",
    "h5_hold_timeout_drop",
    "h6_session_dropped_while_ringing",
    "h7_adopt_after_client_crash",
]
FAKE_CLI = Path(__file__).with_name("fake_asterisk_cli.py")
#: Files a scenario writes besides its own (its other sessions).
ALSO_WRITES = {"h2_two_sessions_see_results": ["h2b_two_sessions_see_results"]}


def strip_pings(text: str) -> str:
    """Drop every Ping action and the Response carrying its ActionID."""
    lines = text.splitlines()
    ping_ids: set[str] = set()
    for i, line in enumerate(lines):
        if line.startswith(">>") and line.endswith("| Action: Ping"):
            nxt = lines[i + 1].partition(" | ")[2]
            ping_ids.add(nxt.removeprefix("ActionID: "))
    out: list[str] = []
    block: list[str] = []
    for line in lines:
        if line[:2] not in (">>", "<<"):
            out.append(line)
            continue
        block.append(line)
        if line.partition(" | ")[2] == "":
            body = [b.partition(" | ")[2] for b in block]
            is_ping = "Action: Ping" in body or (
                body[0].startswith("Response:")
                and any(b.removeprefix("ActionID: ") in ping_ids for b in body)
            )
            if not is_ping:
                out.extend(block)
            block = []
    out.extend(block)
    return "\n".join(out) + "\n"


YEAR_S = 366 * 86400.0
# Scenarios whose dialplan shows the server's clock (``Set(END=${EPOCH} + talk)``).
WITH_EPOCHS = ["b_answered_to_agent", "e_no_agent_drop", "f1_amd_machine", "f2_amd_human"]


async def compare_with_real(
    tmp_path: Path,
    names: list[str],
    wall_clock: Callable[[], float] = time.time,
    prepare: Callable[[World], None] | None = None,
) -> dict[str, str]:
    """Record each scenario on a simulator whose clock is ``wall_clock``; the failures."""
    record = TRANSCRIPTS / "record.py"
    compare = TRANSCRIPTS / "compare.py"
    require()

    async def one(name: str) -> tuple[str, int, str]:
        out = tmp_path / name
        out.mkdir()
        world = World(dialplan=Dialplan.load(TRANSCRIPTS / "conf" / "extensions.conf"))
        if prepare is not None:
            prepare(world)
        async with PbxSimulator(world, port=0, time_scale=1.0, wall_clock=wall_clock) as sim:
            # h6 kicks the session with the Asterisk CLI: a stand-in drives the simulator
            cli = tmp_path / f"{name}.asterisk"
            cli.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_CLI}" "$@"\n')
            cli.chmod(0o755)
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(record),
                "--port",
                str(sim.port),
                "--asterisk",
                str(cli),
                "--astconf",
                str(sim.port),
                "--out",
                str(out),
                name,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            stdout, _ = await asyncio.wait_for(proc.communicate(), 60)
        if proc.returncode != 0:
            return name, -1, stdout.decode()
        for file in [name, *ALSO_WRITES.get(name, [])]:
            ref = tmp_path / f"{file}.ref.txt"
            ref.write_text(strip_pings((TRANSCRIPTS / f"{file}.txt").read_text()))
            sim_txt = tmp_path / f"{file}.sim.txt"
            sim_txt.write_text(strip_pings((out / f"{file}.txt").read_text()))
            modes = [[], ["--ignore-events", "VarSet,DeviceStateChange,SuccessfulAuth"]]
            for extra in modes:
                cmp = await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(compare),
                    "--per-channel",
                    *extra,
                    str(ref),
                    str(sim_txt),
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )
                report, _ = await cmp.communicate()
                if cmp.returncode:
                    return name, cmp.returncode, f"{file} {' '.join(extra)}\n{report.decode()}"
        return name, 0, ""

    results = await asyncio.gather(*(one(n) for n in names))
    return {name: report[-3000:] for name, rc, report in results if rc != 0}


@pytest.mark.slow
async def test_simulator_matches_real_asterisk_per_channel(tmp_path: Path) -> None:
    """For scenarios a-f, g1, h1-h5 and h7, compare.py --per-channel finds the same AMI
    behaviour (h2: both sessions' files; h7: both consecutive sessions)."""
    failures = await compare_with_real(tmp_path, SCENARIOS)
    assert not failures, failures


#: The inbound scenarios: a caller abandons in the queue (its only member paused), is
#: answered by the member, rings the member in vain then abandons, calls after hours.
INBOUND_SCENARIOS = [
    "i1_queue_abandon",
    "i2_queue_answered",
    "i3_queue_ring_noanswer_then_abandon",
    "i4_after_hours",
]


def paused_before(world: World) -> None:
    """The lab recorded i1..i4 in that order on one Asterisk: from i2 on, the member has
    been paused once (LastPause is an epoch, not 0; i1 pauses it again itself)."""
    for queue in world.queues.values():
        for member in queue.members:
            member.last_pause = int(time.time())  # the simulator's wall clock


@pytest.mark.slow
async def test_simulator_matches_real_asterisk_inbound(tmp_path: Path) -> None:
    """For i1-i4 (QueueReset/QueuePause/Setvar; Application-form Originates into [inbound];
    the queue member rung, answering or not), compare.py --per-channel finds the same AMI
    behaviour, Newexten included."""
    failures = await compare_with_real(tmp_path, INBOUND_SCENARIOS, prepare=paused_before)
    assert not failures, failures


@pytest.mark.slow
async def test_simulator_matches_real_asterisk_a_year_later(tmp_path: Path) -> None:
    """With the server's clock a year ahead, every clock it shows (Timestamp, EventTV,
    the dialplan's END=epoch) moves together, so the comparison does not depend on the date."""
    failures = await compare_with_real(tmp_path, WITH_EPOCHS, lambda: time.time() + YEAR_S)
    assert not failures, failures


async def test_simulator_clock_is_one_clock() -> None:
    """The simulator's Ping Timestamp and the world's epoch come from the injected clock."""
    start = 2_000_000_000.0
    async with PbxSimulator(World(), port=0, wall_clock=lambda: start) as sim:
        assert sim.world.start_epoch == int(start)
        assert abs(sim.epoch() - start) < 5


def test_strip_pings_removes_only_the_ping_exchange() -> None:
    """The Ping action and its response go; everything else stays in place."""
    text = (
        ">>        1 | Action: Ping\n>>        1 | ActionID: p1\n>>        1 | \n"
        "<<        2 | Event: X\n<<        2 | \n"
        "<<        3 | Response: Success\n<<        3 | ActionID: p1\n<<        3 | Ping: Pong\n"
        "<<        3 | \n"
    )
    assert strip_pings(text) == "<<        2 | Event: X\n<<        2 | \n"
