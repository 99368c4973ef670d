"""Examples of the status engine: automatic statuses, agent statuses and their errors."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.enums import Outcome, OwnerAbsentPolicy, SystemStatus
from campaigns.models import Campaign
from campaigns.status_engine import (
    AutoTable,
    CampaignRules,
    NotCallable,
    RecordState,
    StatusOption,
    StatusRuleError,
    apply_agent_status,
    apply_outcome,
    why_not_callable,
)
from campaigns.windows import CallingWindow

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)  # a Monday
TO_CALL = StatusOption(1, "Dzwonić", SystemStatus.TO_CALL)
DNC = StatusOption(2, "Nie dzwonić", SystemStatus.DO_NOT_CALL)
MINE = StatusOption(3, "Wstępnie zainteresowany", SystemStatus.MY_RECORD)
LATER = StatusOption(4, "Kontakt nie wcześniej niż", SystemStatus.NOT_BEFORE)
OLD = StatusOption(5, "Stary", SystemStatus.TO_CALL, active=False)
RULES = CampaignRules(max_attempts=3, statuses=(TO_CALL, DNC, MINE, LATER, OLD))


def test_busy_redials_after_the_campaign_delay() -> None:
    """A busy outcome keeps TO_CALL and sets next_call_at to now + the campaign's busy delay."""
    rules = CampaignRules(retry_delays_s={"busy": 120, "default": 999})
    new = apply_outcome(RecordState(attempts=1), Outcome.BUSY, NOW, rules)
    assert new.system_status is SystemStatus.TO_CALL
    assert new.next_call_at == NOW + dt.timedelta(seconds=120)
    assert new.last_outcome is Outcome.BUSY
    assert new.attempts == 1


def test_retry_delay_falls_back_to_campaign_default_then_builtin() -> None:
    """An outcome missing from retry_delays_s uses the campaign's "default", else the built-in."""
    assert CampaignRules(retry_delays_s={"default": 60}).retry_delay(Outcome.MACHINE).seconds == 60
    assert CampaignRules().retry_delay(Outcome.BUSY) == dt.timedelta(seconds=300)


def test_retry_moves_to_the_next_window_opening_in_the_person_zone() -> None:
    """A retry that would land after hours moves to 09:00 local time the next open day."""
    window = CallingWindow.parse("09:00", "20:00", [1, 2, 3, 4, 5])
    rules = CampaignRules(retry_delays_s={"no_answer": 3600}, window=window)
    evening = dt.datetime(2026, 3, 6, 18, 30, tzinfo=dt.UTC)  # Friday 19:30 in Warsaw
    new = apply_outcome(RecordState(tz="Europe/Warsaw"), Outcome.NO_ANSWER, evening, rules)
    assert new.next_call_at == dt.datetime(2026, 3, 9, 8, 0, tzinfo=dt.UTC)  # Monday 09:00 CET


def test_invalid_number_becomes_do_not_call() -> None:
    """An invalid number is never dialed again: DO_NOT_CALL with the outcome kept as the reason."""
    new = apply_outcome(RecordState(), Outcome.INVALID, NOW, RULES)
    assert new.system_status is SystemStatus.DO_NOT_CALL
    assert new.last_outcome is Outcome.INVALID
    assert why_not_callable(new, NOW, RULES, window_open=True, dnc=False) is NotCallable.DO_NOT_CALL


def test_campaign_auto_status_wins_but_drop_stays_progressive() -> None:
    """A campaign status "set when busy" applies; a drop mapped to TO_CALL is still progressive."""
    busy = StatusOption(10, "Zajęty", SystemStatus.NOT_BEFORE, auto_outcome=Outcome.BUSY)
    drop = StatusOption(11, "Spad", SystemStatus.TO_CALL, auto_outcome=Outcome.DROPPED)
    auto = AutoTable.from_statuses([busy, drop])
    after_busy = apply_outcome(RecordState(), Outcome.BUSY, NOW, RULES, auto)
    assert (after_busy.system_status, after_busy.status_id) == (SystemStatus.NOT_BEFORE, 10)
    after_drop = apply_outcome(RecordState(), Outcome.DROPPED, NOW, RULES, auto)
    assert (after_drop.system_status, after_drop.status_id) == (SystemStatus.CALL_PROGRESSIVE, 11)


def test_auto_table_rejects_my_record_and_double_claims() -> None:
    """A MY_RECORD automatic status, or two statuses for one outcome, is a named config error."""
    mine = StatusOption(12, "Auto mine", SystemStatus.MY_RECORD, auto_outcome=Outcome.BUSY)
    with pytest.raises(
        StatusRuleError, match=r"'Auto mine' \(id 12\) auto_outcome.*needs an agent"
    ):
        AutoTable.from_statuses([mine])
    a = StatusOption(13, "A", SystemStatus.TO_CALL, auto_outcome=Outcome.BUSY)
    b = StatusOption(14, "B", SystemStatus.TO_CALL, auto_outcome=Outcome.BUSY)
    with pytest.raises(StatusRuleError, match="already set by status 'A'"):
        AutoTable.from_statuses([a, b])


def test_my_record_gives_owner_and_due_time() -> None:
    """MY_RECORD stores the agent as owner and the date as next_call_at."""
    due = NOW + dt.timedelta(days=1)
    new = apply_agent_status(RecordState(attempts=2), MINE, NOW, RULES, agent_id=7, date=due)
    assert (new.system_status, new.owner_agent_id, new.next_call_at) == (
        SystemStatus.MY_RECORD,
        7,
        due,
    )
    assert new.status_id == MINE.id


@pytest.mark.parametrize(
    ("status", "date", "message"),
    [
        (MINE, None, r"date: status 'Wstępnie zainteresowany' \(MY_RECORD\) needs a date"),
        (LATER, None, r"date: .*\(NOT_BEFORE\) needs a date"),
        (MINE, NOW - dt.timedelta(minutes=1), "date: .* is not in the future"),
        (LATER, NOW, "date: .* is not in the future"),
        (LATER, dt.datetime(2026, 4, 1, 12, 0), "date: .* has no time zone"),  # noqa: DTZ001
        (TO_CALL, NOW + dt.timedelta(days=1), r"date: status 'Dzwonić' \(TO_CALL\) takes no date"),
        (OLD, None, r"status_id: status 'Stary' \(id 5\) is not active"),
        (
            StatusOption(99, "Obcy", SystemStatus.TO_CALL),
            None,
            r"status_id: status 'Obcy' \(id 99\) is not offered by this campaign; choose one of",
        ),
    ],
)
def test_agent_status_errors_name_the_field(
    status: StatusOption, date: dt.datetime | None, message: str
) -> None:
    """A missing, past or naive date, a stray date, an inactive or foreign status is refused."""
    with pytest.raises(StatusRuleError, match=message):
        apply_agent_status(RecordState(), status, NOW, RULES, agent_id=1, date=date)


def test_agent_cannot_reopen_a_do_not_call_record() -> None:
    """An agent status other than DO_NOT_CALL on a DO_NOT_CALL record is refused."""
    dead = RecordState(system_status=SystemStatus.DO_NOT_CALL)
    with pytest.raises(StatusRuleError, match="ask a supervisor"):
        apply_agent_status(dead, TO_CALL, NOW, RULES, agent_id=1)
    assert apply_agent_status(dead, DNC, NOW, RULES, agent_id=1).system_status is DNC.system_status


def test_a_callback_on_the_last_attempt_is_refused_rather_than_never_dialed() -> None:
    """Max attempts holds for callbacks too: MY_RECORD or NOT_BEFORE on the record's last
    attempt is refused, naming why and what to do; the attempt before it is fine."""
    due = NOW + dt.timedelta(days=1)
    last = RecordState(attempts=RULES.max_attempts)
    for status in (MINE, LATER):
        with pytest.raises(StatusRuleError, match=r"status_id: .*last attempt \(3 of 3\)"):
            apply_agent_status(last, status, NOW, RULES, agent_id=1, date=due)
    assert apply_agent_status(last, TO_CALL, NOW, RULES, agent_id=1).status_id == TO_CALL.id
    before = RecordState(attempts=RULES.max_attempts - 1)
    assert apply_agent_status(before, MINE, NOW, RULES, agent_id=1, date=due).owner_agent_id == 1


def test_owner_absent_release_lets_anyone_call_after_n_minutes() -> None:
    """With the release policy, a due MY_RECORD is callable by others N minutes after due."""
    rules = CampaignRules(
        owner_absent_policy=OwnerAbsentPolicy.RELEASE, owner_absent_release_min=30
    )
    state = RecordState(system_status=SystemStatus.MY_RECORD, owner_agent_id=7, next_call_at=NOW)
    at_29 = NOW + dt.timedelta(minutes=29)
    assert (
        why_not_callable(state, at_29, rules, window_open=True, dnc=False, reserved_agent_id=8)
        is NotCallable.OWNER_ONLY
    )
    at_30 = NOW + dt.timedelta(minutes=30)
    assert why_not_callable(state, at_30, rules, window_open=True, dnc=False) is None


def test_rules_from_a_campaign_row() -> None:
    """CampaignRules.from_campaign reads max attempts, delays, window and owner policy."""
    campaign = Campaign(
        name="c",
        max_attempts=4,
        retry_delays_s={"busy": 10},
        window_start="08:00",
        window_end="21:00",
        window_days=[1, 2],
        owner_absent_policy=OwnerAbsentPolicy.RELEASE,
        owner_absent_release_min=15,
    )
    rules = CampaignRules.from_campaign(campaign, [TO_CALL])
    assert rules.max_attempts == 4
    assert rules.retry_delay(Outcome.BUSY) == dt.timedelta(seconds=10)
    assert rules.window == CallingWindow.parse("08:00", "21:00", [1, 2])
    assert rules.owner_absent_policy is OwnerAbsentPolicy.RELEASE
    assert rules.statuses == (TO_CALL,)


def test_leased_record_is_in_flight_until_the_lease_ends() -> None:
    """A record whose lease has not expired is not callable; after expiry it is."""
    state = RecordState(lease_expires_at=NOW + dt.timedelta(seconds=30))
    assert why_not_callable(state, NOW, RULES, window_open=True, dnc=False) is (
        NotCallable.IN_FLIGHT
    )
    later = NOW + dt.timedelta(seconds=30)
    assert why_not_callable(state, later, RULES, window_open=True, dnc=False) is None


def test_unanswered_callback_stays_with_its_owner() -> None:
    """A MY_RECORD callback that was not answered keeps its owner and retries later."""
    state = RecordState(system_status=SystemStatus.MY_RECORD, owner_agent_id=7, next_call_at=NOW)
    new = apply_outcome(state, Outcome.NO_ANSWER, NOW, RULES)
    assert (new.system_status, new.owner_agent_id) == (SystemStatus.MY_RECORD, 7)
    assert new.next_call_at == NOW + RULES.retry_delay(Outcome.NO_ANSWER)


def test_progressive_record_needs_a_reserved_agent() -> None:
    """CALL_PROGRESSIVE is callable with an agent reserved and not without one."""
    state = RecordState(system_status=SystemStatus.CALL_PROGRESSIVE)
    assert why_not_callable(state, NOW, RULES, window_open=True, dnc=False) is (
        NotCallable.NEEDS_RESERVED_AGENT
    )
    assert (
        why_not_callable(state, NOW, RULES, window_open=True, dnc=False, reserved_agent_id=3)
        is None
    )


def test_answered_without_agent_status_is_held_back() -> None:
    """An answered call with no agent status yet is not redialed before the answered delay."""
    rules = CampaignRules(retry_delays_s={"answered": 900})
    mine = RecordState(system_status=SystemStatus.MY_RECORD, owner_agent_id=7, next_call_at=NOW)
    for state in (RecordState(), mine):
        new = apply_outcome(state, Outcome.ANSWERED, NOW, rules)
        assert new.system_status is state.system_status
        assert new.owner_agent_id == state.owner_agent_id
        assert new.next_call_at == NOW + dt.timedelta(seconds=900)
