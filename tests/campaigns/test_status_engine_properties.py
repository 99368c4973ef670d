"""Hypothesis properties: the status engine keeps the DESIGN §5 invariants."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.enums import Outcome, OwnerAbsentPolicy, SystemStatus
from campaigns.status_engine import (
    NO_ATTEMPT,
    AutoTable,
    CampaignRules,
    RecordState,
    StatusOption,
    StatusRuleError,
    apply_agent_status,
    apply_outcome,
    callable_now,
)
from campaigns.windows import CallingWindow, is_open

UTC = dt.UTC
START = dt.datetime(2026, 1, 1, tzinfo=UTC)

OPTIONS = (
    StatusOption(1, "Dzwonić", SystemStatus.TO_CALL),
    StatusOption(2, "Nie dzwonić", SystemStatus.DO_NOT_CALL),
    StatusOption(3, "Mój rekord", SystemStatus.MY_RECORD),
    StatusOption(4, "Nie wcześniej niż", SystemStatus.NOT_BEFORE),
    StatusOption(5, "Progressive", SystemStatus.CALL_PROGRESSIVE),
    StatusOption(6, "Zajęty", SystemStatus.TO_CALL, auto_outcome=Outcome.BUSY),
    StatusOption(7, "Spad", SystemStatus.TO_CALL, auto_outcome=Outcome.DROPPED),
    StatusOption(8, "Automat", SystemStatus.NOT_BEFORE, auto_outcome=Outcome.MACHINE),
)
ZONES = ("UTC", "Europe/Warsaw", "America/New_York", "America/Chicago America/New_York")

# Hypothesis wants naive bounds; the drawn values are aware (UTC).
times = st.datetimes(
    min_value=dt.datetime(2026, 1, 1),  # noqa: DTZ001
    max_value=dt.datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
windows = st.one_of(
    st.none(),
    st.builds(
        lambda s, length, days: CallingWindow(
            dt.time(s), dt.time(min(23, s + length)), frozenset(days)
        ),
        st.integers(0, 20),
        st.integers(1, 12),
        st.sets(st.integers(1, 7), min_size=1),
    ),
)
rules_st = st.builds(
    CampaignRules,
    max_attempts=st.integers(1, 8),
    retry_delays_s=st.dictionaries(
        st.sampled_from([o.value for o in Outcome] + ["default"]), st.integers(0, 86_400)
    ),
    window=windows,
    owner_absent_policy=st.sampled_from(OwnerAbsentPolicy),
    owner_absent_release_min=st.integers(0, 600),
    statuses=st.just(OPTIONS),
)
agent_ids = st.integers(1, 5)


@st.composite
def states(draw: st.DrawFn) -> RecordState:
    """A consistent record state (MY_RECORD has an owner and a date, and so on)."""
    status = draw(st.sampled_from(SystemStatus))
    next_at = draw(st.one_of(st.none(), times))
    owner = None
    if status is SystemStatus.MY_RECORD:
        owner = draw(agent_ids)
        next_at = next_at or draw(times)
    if status is SystemStatus.NOT_BEFORE:
        next_at = next_at or draw(times)
    if status is SystemStatus.DO_NOT_CALL:
        next_at = None
    return RecordState(
        system_status=status,
        attempts=draw(st.integers(0, 10)),
        next_call_at=next_at,
        owner_agent_id=owner,
        tz=draw(st.sampled_from(ZONES)),
    )


# One event: ("outcome", outcome) | ("agent", option, agent, minutes ahead or None) |
# ("claim",) — record selection incrementing attempts — and the minutes that pass before it.
events = st.tuples(
    st.integers(0, 60 * 24 * 3),
    st.one_of(
        st.tuples(st.just("outcome"), st.sampled_from(Outcome)),
        st.tuples(
            st.just("agent"),
            st.sampled_from(OPTIONS),
            agent_ids,
            st.one_of(st.none(), st.integers(-600, 60 * 24 * 30)),
        ),
        st.tuples(st.just("claim")),
    ),
)


def step(
    state: RecordState, event: tuple[object, ...], now: dt.datetime, rules: CampaignRules
) -> RecordState:
    """Apply one event the way the runtime would; a rejected agent status changes nothing."""
    auto = AutoTable.from_statuses(rules.statuses)
    kind = event[0]
    if kind == "outcome":
        assert isinstance(event[1], Outcome)
        return apply_outcome(state, event[1], now, rules, auto)
    if kind == "claim":
        return replace(state, attempts=state.attempts + 1)
    option, agent, minutes = event[1], event[2], event[3]
    assert isinstance(option, StatusOption)
    assert isinstance(agent, int)
    date = None if minutes is None else now + dt.timedelta(minutes=int(str(minutes)))
    try:
        return apply_agent_status(state, option, now, rules, agent_id=agent, date=date)
    except StatusRuleError:
        return state


def never_callable_at(state: RecordState, now: dt.datetime, rules: CampaignRules) -> bool:
    """True when no window, agent or DNC answer makes the record callable at ``now``."""
    return not any(
        callable_now(state, now, rules, window_open=True, dnc=False, reserved_agent_id=agent)
        for agent in (None, 1, 2, 3, 4, 5)
    )


@settings(max_examples=150, deadline=None)
@given(states(), rules_st, times, st.lists(events, max_size=12), st.integers(0, 10**7))
def test_do_not_call_is_never_made_callable(
    state: RecordState,
    rules: CampaignRules,
    start: dt.datetime,
    seq: list[tuple[int, tuple[object, ...]]],
    later_s: int,
) -> None:
    """Once a record is DO_NOT_CALL, no sequence of outcomes or agent statuses makes it callable."""
    now = start
    seen_dnc = state.system_status is SystemStatus.DO_NOT_CALL
    for minutes, event in seq:
        now += dt.timedelta(minutes=minutes)
        state = step(state, event, now, rules)
        seen_dnc = seen_dnc or state.system_status is SystemStatus.DO_NOT_CALL
        if seen_dnc:
            assert state.system_status is SystemStatus.DO_NOT_CALL
            assert never_callable_at(state, now + dt.timedelta(seconds=later_s), rules)


@settings(max_examples=150, deadline=None)
@given(states(), rules_st, times, st.lists(events, max_size=12))
def test_my_record_always_has_owner_and_date_and_attempts_never_decrease(
    state: RecordState,
    rules: CampaignRules,
    start: dt.datetime,
    seq: list[tuple[int, tuple[object, ...]]],
) -> None:
    """After any transition a MY_RECORD record has an owner and a due time; attempts never
    drop, except by the one given back for a call that reached nobody (NO_ATTEMPT)."""
    now = start
    for minutes, event in seq:
        now += dt.timedelta(minutes=minutes)
        before = state
        state = step(state, event, now, rules)
        if event[0] == "outcome" and event[1] in NO_ATTEMPT:  # nobody was called
            assert state.attempts == max(0, before.attempts - 1)
        else:
            assert state.attempts >= before.attempts
        if state.system_status is SystemStatus.MY_RECORD:
            assert state.owner_agent_id is not None
            assert state.next_call_at is not None


@settings(max_examples=150, deadline=None)
@given(
    state=states(),
    rules=rules_st,
    now=times,
    agent=agent_ids,
    ahead_min=st.integers(1, 60 * 24 * 60),
    fraction=st.floats(0, 1),
)
def test_not_before_is_never_callable_before_its_date(
    *,
    state: RecordState,
    rules: CampaignRules,
    now: dt.datetime,
    agent: int,
    ahead_min: int,
    fraction: float,
) -> None:
    """A NOT_BEFORE record set by an agent is not callable at any time before its date."""
    date = now + dt.timedelta(minutes=ahead_min)
    try:
        new = apply_agent_status(state, OPTIONS[3], now, rules, agent_id=agent, date=date)
    except StatusRuleError:
        last_attempt = state.attempts >= rules.max_attempts
        assert state.system_status is SystemStatus.DO_NOT_CALL or last_attempt
        return
    assert new.system_status is SystemStatus.NOT_BEFORE
    assert new.next_call_at == date
    probe = now + (date - now) * fraction
    if probe < date:
        assert never_callable_at(new, probe, rules)


@settings(max_examples=150, deadline=None)
@given(states(), rules_st, times)
def test_dropped_person_becomes_call_progressive(
    state: RecordState, rules: CampaignRules, now: dt.datetime
) -> None:
    """A drop makes any record not already DO_NOT_CALL CALL_PROGRESSIVE, never dialed unreserved."""
    auto = AutoTable.from_statuses(rules.statuses)
    new = apply_outcome(state, Outcome.DROPPED, now, rules, auto)
    if state.system_status is SystemStatus.DO_NOT_CALL:
        assert new.system_status is SystemStatus.DO_NOT_CALL
        return
    assert new.system_status is SystemStatus.CALL_PROGRESSIVE
    assert new.owner_agent_id is None
    for later in (now, now + dt.timedelta(days=400)):
        assert not callable_now(new, later, rules, window_open=True, dnc=False)


@settings(max_examples=150, deadline=None)
@given(states(), rules_st, times, st.lists(events, max_size=12), st.integers(0, 10**7))
def test_max_attempts_is_respected(
    state: RecordState,
    rules: CampaignRules,
    start: dt.datetime,
    seq: list[tuple[int, tuple[object, ...]]],
    later_s: int,
) -> None:
    """A record that used up the campaign's attempts is never callable, whatever happens next."""
    now = start
    for minutes, event in seq:
        now += dt.timedelta(minutes=minutes)
        state = step(state, event, now, rules)
        if state.attempts >= rules.max_attempts:
            assert never_callable_at(state, now + dt.timedelta(seconds=later_s), rules)


@settings(max_examples=150, deadline=None)
@given(
    states(),
    rules_st,
    times,
    st.sampled_from(
        [o for o in Outcome if o not in (Outcome.INVALID, Outcome.ANSWERED, *NO_ATTEMPT)]
    ),
)
def test_retry_delay_and_window_are_honoured(
    state: RecordState, rules: CampaignRules, now: dt.datetime, outcome: Outcome
) -> None:
    """After a failed attempt the record is not due before the retry delay, and is due in-window."""
    auto = AutoTable.from_statuses(rules.statuses)
    new = apply_outcome(state, outcome, now, rules, auto)
    if new.system_status is SystemStatus.DO_NOT_CALL:
        return
    assert new.next_call_at is not None
    assert new.next_call_at >= now + rules.retry_delay(outcome)
    assert new.last_outcome is outcome
    assert new.attempts == state.attempts
    if rules.window is not None and new.system_status is not SystemStatus.MY_RECORD:
        just_before = new.next_call_at - dt.timedelta(microseconds=1)
        assert never_callable_at(new, just_before, rules)
        if new.next_call_at != now + rules.retry_delay(outcome):
            assert is_open(rules.window, new.tz, new.next_call_at)


@settings(max_examples=100, deadline=None)
@given(states(), rules_st, times, st.sampled_from(sorted(NO_ATTEMPT)))
def test_a_call_that_reached_nobody_changes_nothing_but_gives_the_attempt_back(
    state: RecordState, rules: CampaignRules, now: dt.datetime, outcome: Outcome
) -> None:
    """CANCELLED and NOT_PLACED leave status, owner, due time and last outcome as they were
    (even DO_NOT_CALL), free the lease and give back the attempt counted at claim time."""
    auto = AutoTable.from_statuses(rules.statuses)
    new = apply_outcome(state, outcome, now, rules, auto)
    assert new == replace(state, attempts=max(0, state.attempts - 1), lease_expires_at=None)


@settings(max_examples=150, deadline=None)
@given(
    state=states(),
    rules=rules_st,
    now=times,
    owner=agent_ids,
    other=agent_ids,
    ahead_min=st.integers(1, 60 * 24 * 10),
    later_s=st.integers(0, 10**6),
)
def test_my_record_is_only_for_its_owner_until_released(
    *,
    state: RecordState,
    rules: CampaignRules,
    now: dt.datetime,
    owner: int,
    other: int,
    ahead_min: int,
    later_s: int,
) -> None:
    """A MY_RECORD callback is callable only for its owner, unless the campaign released it."""
    date = now + dt.timedelta(minutes=ahead_min)
    try:
        new = apply_agent_status(state, OPTIONS[2], now, rules, agent_id=owner, date=date)
    except StatusRuleError:
        return
    assert new.owner_agent_id == owner
    assert new.next_call_at == date
    probe = date + dt.timedelta(seconds=later_s)
    fresh = replace(new, attempts=0)
    release = date + dt.timedelta(minutes=rules.owner_absent_release_min)
    released = rules.owner_absent_policy is OwnerAbsentPolicy.RELEASE and probe >= release
    for agent in {other, None}:
        if agent == owner:
            continue
        ok = callable_now(fresh, probe, rules, window_open=True, dnc=False, reserved_agent_id=agent)
        assert ok is released
    assert callable_now(fresh, probe, rules, window_open=True, dnc=False, reserved_agent_id=owner)


@settings(max_examples=100, deadline=None)
@given(states(), rules_st, times, st.booleans(), st.one_of(st.none(), agent_ids))
def test_dnc_list_and_closed_window_block_every_record(
    state: RecordState,
    rules: CampaignRules,
    now: dt.datetime,
    window_open: bool,
    agent: int | None,
) -> None:
    """A number on a DNC list, or a closed window, is never callable."""
    assert not callable_now(
        state, now, rules, window_open=window_open, dnc=True, reserved_agent_id=agent
    )
    assert not callable_now(
        state, now, rules, window_open=False, dnc=False, reserved_agent_id=agent
    )
