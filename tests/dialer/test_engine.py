"""The engine core: dialing, connecting, dropping, reservations and campaign lifecycle."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from structlog.testing import capture_logs

from asterisk import events as ev
from dialer.engine import (
    CampaignRun,
    ConnectCall,
    DropCall,
    Engine,
    EngineError,
    HangupCall,
    Originate,
    RunState,
    StartSeat,
)
from dialer.engine.clock import VirtualClock
from dialer.runtime.mqtt import MemorySink
from dialer.sim.memory import MemoryJournal, MemoryLeads, MemoryRecord, StatusRefusedError
from pacing import types as pt


@dataclass
class FixedPacer:
    """A pacer that asks for a fixed number of calls per tick and remembers events."""

    n: int = 1
    events: list[pt.Event] = field(default_factory=list)
    views: list[pt.View] = field(default_factory=list)

    def observe(self, event: pt.Event) -> None:
        self.events.append(event)

    def decide(self, view: pt.View) -> int:
        self.views.append(view)
        return self.n


def make(
    records: int = 50, *, pacer_n: int = 1, extra: list[MemoryRecord] | None = None
) -> tuple[Engine, VirtualClock, MemoryLeads, MemoryJournal, FixedPacer, MemorySink]:
    clock = VirtualClock()
    recs = [MemoryRecord(i, 1, f"+4822100{i:04d}") for i in range(1, records + 1)]
    leads = MemoryLeads(recs + (extra or []))
    journal = MemoryJournal(leads)
    sink = MemorySink()
    engine = Engine(clock=clock, leads=leads, journal=journal, sink=sink, lines=30)
    pacer = FixedPacer(pacer_n)
    engine.add_campaign(CampaignRun(1, "demo", pacer, max_wait_s=2.0, drop_margin_s=0.2))
    return engine, clock, leads, journal, pacer, sink


def login(engine: Engine, agent_id: int) -> None:
    commands = engine.agent_login(agent_id, f"{1000 + agent_id}", 1)
    assert commands == [StartSeat(agent_id, f"{1000 + agent_id}", "1")]
    engine.on_event(ev.SeatUp(agent_id=f"{1000 + agent_id}", channel="x"))


def originates(commands: list[object]) -> list[Originate]:
    return [c for c in commands if isinstance(c, Originate)]


def test_no_calls_without_a_logged_in_agent() -> None:
    """A running campaign with no agent logged in places no call."""
    engine, *_ = make(pacer_n=5)
    engine.set_state(1, RunState.RUNNING)
    assert engine.tick() == []


def test_paused_campaign_places_no_calls() -> None:
    """A paused campaign does not dial even with ready agents."""
    engine, *_ = make(pacer_n=5)
    login(engine, 1)
    assert originates(engine.tick()) == []


def test_answered_call_goes_to_longest_idle_agent() -> None:
    """An answered person is connected at once to the agent idle the longest."""
    engine, clock, _, _, pacer, sink = make(pacer_n=1)
    login(engine, 1)
    clock.advance(5)
    login(engine, 2)
    engine.set_state(1, RunState.RUNNING)
    call = originates(engine.tick())[0]
    clock.advance(8)
    commands = engine.on_event(ev.CallAnswered(call.call_id, "Local/x;1", "1.1"))
    assert commands[0] == ConnectCall(call.call_id, "1001")
    assert engine.agents[1].state.phase.value == "talking"
    kinds = [e.kind for e in pacer.events]
    assert kinds[-3:] == ["dial", "answer", "connect"]
    assert sink.on("agents/1/screenpop")[0]["record"]["phone"] == call.phone


def test_person_waits_then_is_dropped_before_max_wait() -> None:
    """With no agent free, the person is dropped before max_wait_s and becomes progressive."""
    engine, clock, leads, journal, pacer, _ = make(pacer_n=2)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    first, second = originates(engine.tick())[:2]
    engine.on_event(ev.CallAnswered(first.call_id, "c1", "1"))
    clock.advance(0.5)
    engine.on_event(ev.CallAnswered(second.call_id, "c2", "2"))
    deadline = engine.next_deadline()
    assert deadline == pytest.approx(0.5 + 1.8)
    clock.set(deadline)
    assert engine.on_timer() == [DropCall(second.call_id)]
    engine.on_event(ev.CallHungUp(second.call_id, 16, "Normal Clearing"))
    assert journal.rows[second.call_id]["outcome"] == "dropped"
    record_id = engine_record(journal, second.call_id)
    assert leads.records[record_id].system_status == "CALL_PROGRESSIVE"
    assert [e.kind for e in pacer.events].count("drop") == 1


def engine_record(journal: MemoryJournal, call_id: str) -> int:
    record_id = journal.rows[call_id]["record_id"]
    assert isinstance(record_id, int)
    return record_id


def test_waiting_person_gets_the_agent_who_becomes_ready() -> None:
    """A queued person is connected as soon as an agent finishes wrap-up."""
    engine, clock, *_ = make(pacer_n=2)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    first, second = originates(engine.tick())[:2]
    engine.on_event(ev.CallAnswered(first.call_id, "c1", "1"))
    engine.on_event(ev.CallHungUp(first.call_id, 16, "Normal Clearing"))
    engine.on_event(ev.CallAnswered(second.call_id, "c2", "2"))
    clock.advance(1.0)
    commands = engine.agent_set_status(1, first.call_id, 1)
    assert ConnectCall(second.call_id, "1001") in commands


def test_failed_call_releases_record_and_informs_pacer() -> None:
    """A busy call closes its row with outcome busy and tells the pacer."""
    engine, _, leads, journal, pacer, _ = make(pacer_n=1)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    call = originates(engine.tick())[0]
    engine.on_event(ev.CallFailed(call.call_id, ev.FailOutcome.BUSY, 5, 17))
    assert journal.rows[call.call_id]["outcome"] == "busy"
    assert pacer.events[-1].outcome == "busy"
    assert not leads.records[engine_record(journal, call.call_id)].leased
    assert call.call_id not in engine.calls


def test_callback_dialed_only_with_its_owner_reserved() -> None:
    """A due MY_RECORD callback is dialed for its owner, reserved, and connected only to it."""
    due = dt.datetime(2026, 1, 5, 7, 0, tzinfo=dt.UTC)
    callback = MemoryRecord(900, 1, "+48221009999", "MY_RECORD", owner_agent_id=2, due=due)
    engine, clock, *_ = make(records=0, pacer_n=0, extra=[callback])
    login(engine, 1)
    clock.advance(1)
    login(engine, 2)
    engine.set_state(1, RunState.RUNNING)
    calls = originates(engine.tick())
    assert [c.phone for c in calls] == ["+48221009999"]
    assert engine.agents[2].state.phase.value == "reserved"
    assert engine.agents[1].state.phase.value == "ready"
    commands = engine.on_event(ev.CallAnswered(calls[0].call_id, "c", "u"))
    assert commands[0] == ConnectCall(calls[0].call_id, "1002")


def test_reserved_agents_and_their_calls_are_hidden_from_the_pacer() -> None:
    """The pacer's view leaves out reserved agents and their calls."""
    due = dt.datetime(2026, 1, 5, 7, 0, tzinfo=dt.UTC)
    callback = MemoryRecord(900, 1, "+48221009999", "MY_RECORD", owner_agent_id=1, due=due)
    engine, _, _, _, pacer, _ = make(records=0, pacer_n=0, extra=[callback])
    login(engine, 1)
    login(engine, 2)
    engine.set_state(1, RunState.RUNNING)
    engine.tick()
    view = pacer.views[-1]
    assert (view.agents_logged_in, view.agents_ready, view.ringing_elapsed_s) == (1, 1, ())


def test_stop_hangs_up_calls_still_ringing() -> None:
    """Stopping a campaign hangs up its calls that are not answered yet."""
    engine, *_ = make(pacer_n=3)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    calls = originates(engine.tick())
    commands = engine.set_state(1, RunState.STOPPED)
    assert sorted(commands, key=str) == sorted((HangupCall(c.call_id) for c in calls), key=str)
    assert originates(engine.tick()) == []


def test_dialing_stops_when_every_agent_logs_out() -> None:
    """Once the last agent logs out, the next tick places no call."""
    engine, *_ = make(pacer_n=1)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    assert originates(engine.tick())
    engine.agent_logout(1)
    assert originates(engine.tick()) == []


def test_invalid_status_is_refused_and_agent_stays_in_wrap_up() -> None:
    """A status the campaign does not offer is refused and changes nothing."""
    engine, *_ = make(pacer_n=1)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    call = originates(engine.tick())[0]
    engine.on_event(ev.CallAnswered(call.call_id, "c", "u"))
    engine.on_event(ev.CallHungUp(call.call_id, 16, "Normal Clearing"))
    with pytest.raises(StatusRefusedError):
        engine.agent_set_status(1, call.call_id, 77)
    assert engine.agents[1].state.phase.value == "wrap_up"
    with pytest.raises(EngineError, match="no call"):
        engine.agent_set_status(1, "nope", 1)


def test_wrapup_timeout_applies_default_status() -> None:
    """An agent who never sets a status is made ready after the campaign's wrap-up timeout."""
    engine, clock, _, journal, *_ = make(pacer_n=1)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    call = originates(engine.tick())[0]
    engine.on_event(ev.CallAnswered(call.call_id, "c", "u"))
    engine.on_event(ev.CallHungUp(call.call_id, 16, "Normal Clearing"))
    clock.advance(121)
    engine.on_timer()
    assert journal.rows[call.call_id]["status"] == "default"
    assert engine.agents[1].state.phase.value == "ready"


def test_lines_cap_the_calls_placed() -> None:
    """The engine never has more calls up than lines, whatever the pacer asks."""
    engine, *_ = make(records=100, pacer_n=100)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    engine.tick()
    engine.tick()
    assert engine.calls_up() == 30


def test_simulator_wrapup_done_applies_default_status() -> None:
    """A simulator agent's end of wrap-up gives the default status and frees the agent."""
    engine, _, _, journal, *_ = make(pacer_n=1)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    call = originates(engine.tick())[0]
    engine.on_event(ev.CallAnswered(call.call_id, "c", "u"))
    engine.on_event(ev.CallHungUp(call.call_id, 16, "Normal Clearing"))
    engine.on_event(ev.SeatWrapupDone(agent_id="1001"))
    assert journal.rows[call.call_id]["status"] == "default"
    assert engine.agents[1].state.phase.value == "ready"


def test_machine_on_a_reserved_call_frees_the_reserved_agent() -> None:
    """When AMD finds a machine on a callback, the agent reserved for it is ready again."""
    due = dt.datetime(2026, 1, 5, 7, 0, tzinfo=dt.UTC)
    callback = MemoryRecord(900, 1, "+48221009999", "MY_RECORD", owner_agent_id=1, due=due)
    engine, *_ = make(records=0, pacer_n=0, extra=[callback])
    engine.campaigns[1].amd = True
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    call = originates(engine.tick())[0]
    assert engine.agents[1].state.phase.value == "reserved"
    engine.on_event(ev.CallAnswered(call.call_id, "c", "u"))
    commands = engine.on_event(ev.CallMachine(call.call_id, "MACHINE", "LONGGREETING"))
    assert HangupCall(call.call_id) in commands
    assert engine.agents[1].state.phase.value == "ready"


def test_no_calls_outside_the_campaign_operating_hours() -> None:
    """Outside the campaign's own hours nothing is dialed; inside them dialing resumes."""
    from campaigns.windows import CallingWindow

    engine, clock, *_ = make(pacer_n=1)
    run = engine.campaigns[1]
    run.hours = CallingWindow.parse("09:00", "17:00", [1, 2, 3, 4, 5, 6, 7])
    run.hours_tz = "UTC"
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    assert originates(engine.tick()) == []  # the virtual clock starts at 08:00 UTC
    assert engine.stats(1)["outside_hours"] is True
    clock.advance(3600)
    assert len(originates(engine.tick())) == 1


def test_each_fact_is_journaled_when_it_happens() -> None:
    """Answer, connect and drop reach the journal at their moment, before the call ends."""
    engine, clock, _, journal, *_ = make(pacer_n=2)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    first, second = originates(engine.tick())[:2]
    clock.advance(3)
    engine.on_event(ev.CallAnswered(first.call_id, "c1", "1"))
    assert journal.facts[-2:] == [("answered", first.call_id), ("connected", first.call_id)]
    assert journal.rows[first.call_id]["agent"] == 1
    assert journal.rows[first.call_id]["connect_at"] == clock.utcnow()
    engine.on_event(ev.CallAnswered(second.call_id, "c2", "2"))
    clock.advance(2)
    engine.on_timer()
    assert journal.facts[-1] == ("dropped", second.call_id)
    assert journal.rows[second.call_id]["drop_at"] == clock.utcnow()
    assert "outcome" not in journal.rows[first.call_id]
    assert "outcome" not in journal.rows[second.call_id]


def test_refused_originates_use_no_attempt_and_pause_the_campaign() -> None:
    """A refused Originate is no outcome of the number: no attempt is used, the server's
    message is logged and stored; three in a row pause the campaign with the reason."""
    engine, _, leads, journal, _, sink = make(pacer_n=1)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    refused: list[str] = []
    with capture_logs() as logs:
        for _ in range(3):
            calls = originates(engine.tick())
            assert len(calls) == 1
            engine.on_event(ev.CallRefused(calls[0].call_id, "Extension does not exist.", "pbx1"))
            refused.append(calls[0].call_id)
    for call_id in refused:
        row = journal.rows[call_id]
        assert (row["outcome"], row["message"]) == ("not_placed", "Extension does not exist.")
        record = leads.records[row["record_id"]]
        assert (record.attempts, record.leased, record.system_status) == (0, False, "TO_CALL")
    warnings = [e for e in logs if e["event"] == "call_not_placed"]
    assert [w["message"] for w in warnings] == ["Extension does not exist."] * 3
    assert all(w["log_level"] == "warning" for w in warnings)
    stats = engine.stats(1)
    assert stats["state"] == "paused"
    assert "Extension does not exist." in stats["paused_reason"]
    assert engine.self_paused == [(1, stats["paused_reason"])]
    assert sink.on("campaigns/1/stats")[-1]["paused_reason"] == stats["paused_reason"]
    assert originates(engine.tick()) == []
    engine.set_state(1, RunState.RUNNING)
    assert engine.stats(1)["paused_reason"] is None
    for _ in range(5):  # the edge's own refusals (at capacity, not connected) do not count
        call = originates(engine.tick())[0]
        engine.on_event(ev.CallRefused(call.call_id, "pbx1 is at capacity"))
    assert engine.stats(1)["state"] == "running"


def test_a_placed_call_resets_the_circuit_breaker() -> None:
    """Refusals separated by a call that was placed do not pause the campaign."""
    engine, *_ = make(pacer_n=1)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    for n in range(5):
        call = originates(engine.tick())[0]
        if n == 2:
            engine.on_event(ev.CallFailed(call.call_id, ev.FailOutcome.BUSY, 5, 17))
        else:
            engine.on_event(ev.CallRefused(call.call_id, "Extension does not exist.", "pbx1"))
    assert engine.stats(1)["state"] == "running"


def test_call_we_hung_up_before_the_answer_is_cancelled_not_invalid() -> None:
    """Reason 0 after our own hang-up gives outcome cancelled: no attempt, no status change."""
    engine, _, leads, journal, pacer, _ = make(pacer_n=1)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    call = originates(engine.tick())[0]
    engine.set_state(1, RunState.STOPPED)
    engine.on_event(ev.CallFailed(call.call_id, ev.FailOutcome.CANCELLED, 0, 16))
    row = journal.rows[call.call_id]
    assert row["outcome"] == "cancelled"
    record = leads.records[row["record_id"]]
    assert (record.attempts, record.leased, record.system_status) == (0, False, "TO_CALL")
    assert pacer.events[-1].kind == "fail"


def test_adopted_answer_is_connected_at_once_to_a_ready_agent() -> None:
    """An answer learned at a resync goes to a ready agent at once, even on an AMD campaign."""
    engine, *_ = make(pacer_n=1)
    engine.campaigns[1].amd = True
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    call = originates(engine.tick())[0]
    commands = engine.on_event(ev.CallAnswered(call.call_id, "c", "u", adopted=True))
    assert commands[0] == ConnectCall(call.call_id, "1001")


def test_adopted_answer_without_agent_is_dropped_at_once_and_counted() -> None:
    """An adopted answer with no agent free is dropped at once (its wait is unknown) and
    the drop is counted."""
    engine, _, _, journal, pacer, _ = make(pacer_n=2)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    first, second = originates(engine.tick())[:2]
    engine.on_event(ev.CallAnswered(first.call_id, "c1", "1"))
    commands = engine.on_event(ev.CallAnswered(second.call_id, "c2", "2", adopted=True))
    assert commands == [DropCall(second.call_id)]
    assert engine.stats(1)["dropped"] == 1
    assert ("dropped", second.call_id) in journal.facts
    assert [e.kind for e in pacer.events].count("drop") == 1


def test_seats_lost_with_the_server_come_back_by_themselves() -> None:
    """After the PBX restarts, seats are started again without anyone pressing Ready; while
    no seat is left the stats carry an alert."""
    engine, *_ = make(pacer_n=1)
    login(engine, 1)
    login(engine, 2)
    engine.set_state(1, RunState.RUNNING)
    engine.on_event(ev.ServerDown("sim", "connection lost"))
    engine.on_event(ev.SeatDown(agent_id="1001"))
    engine.on_event(ev.SeatDown(agent_id="1002"))
    with capture_logs() as logs:
        assert originates(engine.tick()) == []
    assert "no_seat" in engine.stats(1)["alerts"]
    assert any(e["event"] == "campaign_alert" for e in logs)
    commands = engine.on_event(ev.ServerUp("sim"))
    assert sorted(commands, key=str) == [StartSeat(1, "1001", "1"), StartSeat(2, "1002", "1")]
    engine.on_event(ev.SeatUp(agent_id="1001", channel="x"))
    engine.on_event(ev.SeatUp(agent_id="1002", channel="y"))
    assert {a.state.phase.value for a in engine.agents.values()} == {"ready"}
    assert len(originates(engine.tick())) == 1
    assert engine.stats(1)["alerts"] == {}


def test_agent_on_a_call_when_the_server_returns_is_reseated_after_it() -> None:
    """An agent wrapping up when the server came back gets its seat once the wrap-up ends."""
    engine, *_ = make(pacer_n=1)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    call = originates(engine.tick())[0]
    engine.on_event(ev.CallAnswered(call.call_id, "c", "u"))
    engine.on_event(ev.SeatDown(agent_id="1001"))
    engine.on_event(ev.CallHungUp(call.call_id, 16, "Normal Clearing"))
    assert engine.on_event(ev.ServerUp("sim")) == []
    commands = engine.agent_set_status(1, call.call_id, 1)
    assert StartSeat(1, "1001", "1") in commands


def test_a_record_in_flight_is_never_claimed_again_even_when_its_lease_lapsed() -> None:
    """Claims exclude the records and numbers of the engine's own live calls: a call up
    whose lease lapsed (database away) is not dialed a second time, nor is its number."""
    engine, _, leads, *_ = make(records=2, pacer_n=5)
    login(engine, 1)
    engine.set_state(1, RunState.RUNNING)
    first = originates(engine.tick())
    assert [c.phone for c in first] == ["+48221000001", "+48221000002"]
    # the same person under another record, imported meanwhile
    leads.records[99] = MemoryRecord(99, 1, "+48221000001")
    for record in leads.records.values():
        record.leased = False  # every lease lapsed while the calls are still up
    assert originates(engine.tick()) == []
    assert leads.claims == [1, 2]


def test_a_lagging_loop_makes_the_campaign_dial_progressively_and_says_why() -> None:
    """While the loop lags past the threshold, no more calls are placed than ready agents
    wait for, and the stats say why; once the lag is over, the pacer decides again."""
    engine, clock, *_ = make(pacer_n=5)
    login(engine, 1)
    login(engine, 2)
    engine.set_state(1, RunState.RUNNING)
    engine.report_lag("tick lateness", 0.3)  # within the threshold: nothing changes
    assert engine.stats(1)["alerts"] == {}
    engine.report_lag("tick lateness", 2.5)
    assert len(originates(engine.tick())) == 2  # two ready agents, nothing ringing
    assert "tick lateness 2.50 s" in engine.stats(1)["alerts"]["overload"]
    assert originates(engine.tick()) == []  # both agents have a call ringing for them
    clock.advance(31)
    assert len(originates(engine.tick())) == 5
    assert "overload" not in engine.stats(1)["alerts"]
