"""The call lifecycle as a pure state machine: values in, values out."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.enums import Outcome
from dialer import calls as cl
from dialer.calls import Call, CallPhase, Lead, Now

T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


def at(t: float) -> Now:
    return Now(t, T0 + dt.timedelta(seconds=t))


def dialing(reserved: int | None = None) -> Call:
    lead = Lead(record_id=7, campaign_id=1, phone="+48221000007")
    return Call("c-1", 0, 1, lead, reserved, dial_t=0.0, dial_at=T0)


def test_answer_then_connect_reports_each_fact_when_it_happens() -> None:
    """Pick-up, a waiting person, the connect and the end are facts of their own moments."""
    call, commands, facts = cl.transition(dialing(), cl.Answered(), at(10))
    assert (call.phase, commands, facts) == (
        CallPhase.WAITING,
        (),
        (cl.PickedUp(), cl.PersonWaiting()),
    )
    assert call.answer_at == at(10).at
    assert call.person_at == at(10).at
    call, commands, facts = cl.transition(call, cl.Connect(4, "1004"), at(10.5))
    assert commands == (cl.ConnectCall("c-1", "1004"),)
    assert facts == (cl.Connected(4, 0.5),)
    assert (call.agent_id, call.connect_at) == (4, at(10.5).at)
    call, commands, facts = cl.transition(call, cl.HungUp(16, "Normal Clearing"), at(70))
    assert (call.phase, call.outcome, facts) == (
        CallPhase.ENDED,
        Outcome.ANSWERED,
        (cl.Ended(CallPhase.TALKING),),
    )


def test_transition_leaves_the_given_call_unchanged() -> None:
    """A transition returns a new call; the old value stays what it was."""
    before = dialing()
    after, *_ = cl.transition(before, cl.Answered(), at(3))
    assert before.phase is CallPhase.DIALING
    assert before.answer_at is None
    assert after is not before


def test_amd_screens_before_the_person_waits() -> None:
    """With AMD the wait starts at the human verdict; a machine ends the call, hung up."""
    call, _, facts = cl.transition(dialing(), cl.Answered(amd=True), at(5))
    assert (call.phase, facts) == (CallPhase.SCREENING, (cl.PickedUp(),))
    person, _, facts = cl.transition(call, cl.Screened("HUMAN", "HUMAN-1-1"), at(7))
    assert facts == (cl.Verdict(), cl.PersonWaiting())
    assert (person.answer_t, person.amd_status) == (7, "HUMAN")
    machine, commands, facts = cl.transition(call, cl.Screened("MACHINE", "LONGGREETING"), at(7))
    assert (machine.outcome, commands, facts) == (
        Outcome.MACHINE,
        (cl.HangupCall("c-1"),),
        (cl.Ended(CallPhase.SCREENING),),
    )


def test_adopted_answer_skips_screening() -> None:
    """An answer learned at a resync is a person at once, even on an AMD campaign."""
    call, _, facts = cl.transition(dialing(), cl.Answered(amd=True, adopted=True), at(5))
    assert (call.phase, call.adopted) == (CallPhase.WAITING, True)
    assert facts == (cl.PickedUp(), cl.PersonWaiting(adopted=True))
    screening, *_ = cl.transition(dialing(), cl.Answered(amd=True), at(5))
    call, _, facts = cl.transition(screening, cl.Answered(adopted=True), at(9))
    assert (call.phase, facts) == (CallPhase.WAITING, (cl.PersonWaiting(adopted=True),))


def test_drop_then_hangup_ends_as_dropped() -> None:
    """A dropped person's call ends with outcome dropped; the drop is a fact of its own."""
    call, *_ = cl.transition(dialing(), cl.Answered(), at(1))
    call, commands, facts = cl.transition(call, cl.Drop(), at(2.8))
    assert (commands, facts) == ((cl.DropCall("c-1"),), (cl.Dropped(pytest.approx(1.8)),))
    assert call.drop_at == at(2.8).at
    call, _, facts = cl.transition(call, cl.HungUp(16, ""), at(12))
    assert (call.outcome, facts) == (Outcome.DROPPED, (cl.Ended(CallPhase.DROPPED),))


def test_refused_originate_is_not_placed() -> None:
    """A refused Originate ends the call as not placed, with the server's message."""
    call, commands, facts = cl.transition(
        dialing(), cl.Refused("Extension does not exist."), at(0.01)
    )
    assert (call.phase, call.outcome, commands) == (CallPhase.FAILED, Outcome.NOT_PLACED, ())
    assert call.cause_txt == "Extension does not exist."
    assert facts == (cl.NotPlaced("Extension does not exist."),)


def test_cancelled_reservation_hangs_up_and_refuses_a_late_answer() -> None:
    """A call whose reserved agent is gone is hung up; if answered anyway, hung up again."""
    call, commands, facts = cl.transition(dialing(reserved=3), cl.Cancel(), at(1))
    assert (call.reserved_agent, call.cancelled, commands, facts) == (
        None,
        True,
        (cl.HangupCall("c-1"),),
        (),
    )
    call, commands, _ = cl.transition(call, cl.Answered(), at(2))
    assert (call.phase, commands) == (CallPhase.FAILED, (cl.HangupCall("c-1"),))


def test_late_events_change_nothing_and_wrong_decisions_raise() -> None:
    """A second hang-up is ignored; connecting a call that is not waiting is an error."""
    call, *_ = cl.transition(dialing(), cl.Failed(Outcome.BUSY, 17), at(4))
    assert cl.transition(call, cl.HungUp(16, ""), at(5)) == (call, (), ())
    with pytest.raises(cl.CallTransitionError, match="Connect while failed"):
        cl.transition(call, cl.Connect(1, "1001"), at(5))
