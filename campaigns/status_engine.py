"""The status engine: what happens to a record after a call (DESIGN §2, §5). Pure: no I/O.

Two transitions take a record's state and return its next state:

- ``apply_outcome`` — a telephony result with no agent status (busy, no answer, congestion,
  failure, answering machine, dropped, invalid number). The campaign's *automatic statuses*
  ("set automatically when …") decide the new status; sensible defaults apply otherwise.
- ``apply_agent_status`` — an agent sets a status after an answered call, perhaps with a
  date (``MY_RECORD`` and ``NOT_BEFORE`` need one).

``why_not_callable`` / ``callable_now`` express the §5 invariants on one record, so the
record selection and the property tests check the same rule.

Time is always passed in (``now``); every datetime is timezone-aware. Record selection
increments ``attempts`` when it claims a record for a dial, so a crash mid-call still
counts the attempt; the engine only gives it back for the outcomes in ``NO_ATTEMPT``
(the call was never placed, or hung up by us before anyone answered).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from campaigns.enums import AUTO_OUTCOMES, Outcome, OwnerAbsentPolicy, SystemStatus
from campaigns.errors import CampaignError
from campaigns.windows import CallingWindow, next_opening

#: Built-in redial delays (seconds) per outcome, used when the campaign sets neither the
#: outcome's key nor ``"default"`` in ``retry_delays_s``.
DEFAULT_RETRY_DELAYS_S: Mapping[str, int] = MappingProxyType(
    {
        Outcome.BUSY.value: 300,
        Outcome.NO_ANSWER.value: 1800,
        Outcome.CONGESTION.value: 600,
        Outcome.FAILED.value: 900,
        Outcome.MACHINE.value: 3600,
        Outcome.DROPPED.value: 600,
        Outcome.ANSWERED.value: 3600,
        "default": 1800,
    }
)

#: Statuses whose record carries a next-contact date set by the agent.
DATED_STATUSES = frozenset({SystemStatus.MY_RECORD, SystemStatus.NOT_BEFORE})
#: Outcomes that used no attempt: no call reached anyone, the record stays as it was.
NO_ATTEMPT = frozenset({Outcome.CANCELLED, Outcome.NOT_PLACED})


class RuleRefusal(StrEnum):
    """Why a status given by a person (an agent after a call, a supervisor by hand) was
    refused: the code the pages say in the user's language (catalog key ``rule.<code>``, with
    the error's ``params``), beside the English message."""

    NOT_OFFERED = "not_offered"
    """The campaign does not offer the status."""
    INACTIVE = "inactive"
    """The status is switched off."""
    NEEDS_DATE = "needs_date"
    """MY_RECORD and NOT_BEFORE statuses need a date."""
    DATE_PAST = "date_past"
    """The date given is not in the future."""
    TAKES_NO_DATE = "takes_no_date"
    """A date was given to a status that takes none."""
    LAST_ATTEMPT = "last_attempt"
    """A dated status on the record's last attempt would never be dialed."""
    RECORD_DNC = "record_dnc"
    """An agent cannot make a DO_NOT_CALL record callable again."""
    BEING_CALLED = "being_called"
    """The record is being called right now."""
    NEEDS_OWNER = "needs_owner"
    """A MY_RECORD status set by hand needs the agent who owns the callback."""
    NO_STATUS = "no_status"
    """No status has the id given."""


class StatusRuleError(CampaignError):
    """A status cannot be applied to a record (the campaign's rules refuse it): the message
    names the field and the fix. Not to be confused with ``campaigns.statuses.StatusError``,
    a status definition that is invalid in the dictionary.

    Refusals a person meets carry a ``code`` (``RuleRefusal``) and its ``params`` (status
    name, attempts…), so a page can say them in its language; configuration errors carry
    none (their English message is for ops)."""

    error_id = "status_refused"

    def __init__(
        self,
        field: str,
        problem: str,
        expected: str,
        *,
        code: RuleRefusal | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        self.field = field
        self.problem = problem
        self.expected = expected
        self.code = code
        self.params: dict[str, object] = dict(params or {})
        super().__init__(f"{field}: {problem}; {expected}")


class NotCallable(StrEnum):
    """Why a record may not be dialed now (the §5 invariants, in the order checked)."""

    DNC_LIST = "dnc_list"
    """The number is on the global or the campaign's do-not-call list."""
    DO_NOT_CALL = "do_not_call"
    """The record's system status is DO_NOT_CALL."""
    PARKED = "parked"
    """A supervisor parked the record: it waits until unparked."""
    MAX_ATTEMPTS = "max_attempts"
    """The record used up the campaign's attempts."""
    IN_FLIGHT = "in_flight"
    """Another dialer holds an unexpired lease on the record."""
    OUTSIDE_WINDOW = "outside_window"
    """The calling window is closed in the called person's local time."""
    NOT_DUE = "not_due"
    """``next_call_at`` is in the future (retry delay, NOT_BEFORE date, MY_RECORD due)."""
    OWNER_ONLY = "owner_only"
    """A MY_RECORD callback may only be connected to its owner (not released yet)."""
    NEEDS_RESERVED_AGENT = "needs_reserved_agent"
    """CALL_PROGRESSIVE (and MY_RECORD) dial only with an agent reserved for the call."""


@dataclass(frozen=True, slots=True)
class RecordState:
    """The part of a record the status engine reads and writes."""

    system_status: SystemStatus = SystemStatus.TO_CALL
    status_id: int | None = None
    attempts: int = 0
    next_call_at: dt.datetime | None = None
    owner_agent_id: int | None = None
    last_outcome: Outcome | None = None
    last_call_at: dt.datetime | None = None
    #: Zone key of the called person (one IANA zone or several separated by spaces).
    tz: str = "UTC"
    #: End of the dialer's lease while a call is in flight (``None`` when free).
    lease_expires_at: dt.datetime | None = None
    #: Parked by a supervisor: never dialed until unparked.
    parked: bool = False
    #: When a supervisor asked to call it next (``None``: in its normal place).
    call_next_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class StatusOption:
    """A status as the engine sees it: a row of the dictionary or a campaign-only status."""

    id: int
    name: str
    system_status: SystemStatus
    auto_outcome: Outcome | None = None
    active: bool = True
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class CampaignRules:
    """The campaign's redial rules, as plain values (build with ``from_campaign``)."""

    max_attempts: int = 5
    #: Seconds before a redial per outcome value, and optionally a ``"default"`` key.
    retry_delays_s: Mapping[str, int] = field(default_factory=dict)
    window: CallingWindow | None = None
    owner_absent_policy: OwnerAbsentPolicy = OwnerAbsentPolicy.KEEP_WAITING
    owner_absent_release_min: int = 30
    #: Statuses offered to agents in this campaign (dictionary + campaign-only ones).
    statuses: tuple[StatusOption, ...] = ()

    def retry_delay(self, outcome: Outcome) -> dt.timedelta:
        """The redial delay after ``outcome``: campaign key, campaign default, built-ins."""
        for table in (self.retry_delays_s, DEFAULT_RETRY_DELAYS_S):
            if outcome.value in table:
                return dt.timedelta(seconds=max(0, int(table[outcome.value])))
            if "default" in table:
                return dt.timedelta(seconds=max(0, int(table["default"])))
        return dt.timedelta(seconds=DEFAULT_RETRY_DELAYS_S["default"])  # pragma: no cover

    def offered(self, status_id: int) -> StatusOption | None:
        """The campaign's status with this id, or ``None`` when the campaign lacks it."""
        for option in self.statuses:
            if option.id == status_id:
                return option
        return None

    @classmethod
    def from_campaign(
        cls, campaign: CampaignLike, statuses: Iterable[StatusOption] = ()
    ) -> CampaignRules:
        """Rules from a ``Campaign`` row (or anything with the same attributes)."""
        window = CallingWindow.parse(
            campaign.window_start, campaign.window_end, campaign.window_days
        )
        return cls(
            max_attempts=campaign.max_attempts,
            retry_delays_s=MappingProxyType(dict(campaign.retry_delays_s)),
            window=window,
            owner_absent_policy=OwnerAbsentPolicy(campaign.owner_absent_policy),
            owner_absent_release_min=campaign.owner_absent_release_min,
            statuses=tuple(statuses),
        )


class CampaignLike(Protocol):
    """The attributes ``CampaignRules.from_campaign`` reads (a ``Campaign`` row has them)."""

    @property
    def max_attempts(self) -> int: ...
    @property
    def retry_delays_s(self) -> Mapping[str, int]: ...
    @property
    def window_start(self) -> str: ...
    @property
    def window_end(self) -> str: ...
    @property
    def window_days(self) -> Iterable[int]: ...
    @property
    def owner_absent_policy(self) -> str: ...
    @property
    def owner_absent_release_min(self) -> int: ...


@dataclass(frozen=True, slots=True)
class AutoRule:
    """What an outcome does to a record: the system status and the status row applied."""

    system_status: SystemStatus
    status_id: int | None = None


#: Defaults when a campaign has no automatic status for an outcome. INVALID maps to
#: DO_NOT_CALL: the number does not exist, so redialing only burns trunk capacity and
#: attempts; DO_NOT_CALL is the status that means "never again" and ``last_outcome``
#: keeps the reason. (Exhausting attempts instead would fake attempts that never happened.)
DEFAULT_AUTO: Mapping[Outcome, AutoRule] = MappingProxyType(
    {
        Outcome.BUSY: AutoRule(SystemStatus.TO_CALL),
        Outcome.NO_ANSWER: AutoRule(SystemStatus.TO_CALL),
        Outcome.CONGESTION: AutoRule(SystemStatus.TO_CALL),
        Outcome.FAILED: AutoRule(SystemStatus.TO_CALL),
        Outcome.MACHINE: AutoRule(SystemStatus.TO_CALL),
        Outcome.DROPPED: AutoRule(SystemStatus.CALL_PROGRESSIVE),
        Outcome.INVALID: AutoRule(SystemStatus.DO_NOT_CALL),
    }
)


@dataclass(frozen=True, slots=True)
class AutoTable:
    """Outcome → automatic status, from a campaign's statuses over the defaults."""

    rules: Mapping[Outcome, AutoRule] = field(default_factory=lambda: DEFAULT_AUTO)

    def rule_for(self, outcome: Outcome) -> AutoRule | None:
        """The rule for ``outcome`` (``None`` for ANSWERED: the agent sets the status)."""
        return self.rules.get(outcome)

    @classmethod
    def from_statuses(cls, statuses: Iterable[StatusOption]) -> AutoTable:
        """Build the table: an active status "set automatically when X" wins over the default.

        Raises ``StatusRuleError`` when a status cannot be automatic (MY_RECORD needs an agent)
        or when two active statuses claim the same outcome.
        """
        table: dict[Outcome, AutoRule] = dict(DEFAULT_AUTO)
        seen: dict[Outcome, StatusOption] = {}
        for option in statuses:
            outcome = option.auto_outcome
            if outcome is None or not option.active:
                continue
            where = f"status {option.name!r} (id {option.id}) auto_outcome"
            if outcome not in AUTO_OUTCOMES:
                expected = "one of " + ", ".join(o.value for o in AUTO_OUTCOMES)
                raise StatusRuleError(where, f"{outcome.value!r} cannot set a status", expected)
            if option.system_status is SystemStatus.MY_RECORD:
                raise StatusRuleError(
                    where,
                    "a MY_RECORD status needs an agent and cannot be set automatically",
                    "use TO_CALL, NOT_BEFORE, CALL_PROGRESSIVE or DO_NOT_CALL",
                )
            if outcome in seen:
                raise StatusRuleError(
                    where,
                    f"{outcome.value!r} is already set by status {seen[outcome].name!r}",
                    "keep one automatic status per outcome in a campaign",
                )
            seen[outcome] = option
            table[outcome] = AutoRule(option.system_status, option.id)
        return cls(MappingProxyType(table))


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise StatusRuleError(
            name, f"{value.isoformat()} has no time zone", "pass an aware datetime"
        )
    return value


def _in_window(when: dt.datetime, state: RecordState, rules: CampaignRules) -> dt.datetime:
    """Move a computed redial time to the record's next window opening, if any."""
    if rules.window is None:
        return when
    opening = next_opening(rules.window, state.tz, when)
    return when if opening is None else opening


def apply_outcome(
    state: RecordState,
    outcome: Outcome,
    now: dt.datetime,
    rules: CampaignRules,
    auto: AutoTable | None = None,
) -> RecordState:
    """The record's next state after a telephony ``outcome`` with no agent status.

    - DO_NOT_CALL is final: the outcome is recorded, the status stays.
    - DROPPED always leads to CALL_PROGRESSIVE (the person was abandoned once and must only
      be called again with an agent reserved), unless the automatic status is DO_NOT_CALL.
    - INVALID leads to DO_NOT_CALL by default.
    - Otherwise the automatic status applies, redialing after the outcome's retry delay,
      moved to the record's next calling-window opening.
    - ANSWERED (the agent has not set a status yet) keeps the status and owner and holds
      the record back by the "answered" retry delay, so a missing agent status never makes
      the engine call the person straight back.
    - A MY_RECORD record that is not answered keeps its owner and retries after the delay.
    - CANCELLED and NOT_PLACED (no call reached anyone) give the attempt back and change
      nothing else: not the status, the owner, the due time or the last outcome.
    """
    _aware(now, "now")
    if outcome in NO_ATTEMPT:
        # Nobody was called (refused Originate) or we hung up before anyone answered: the
        # attempt counted at claim time is given back and nothing else changes.
        return replace(state, attempts=max(0, state.attempts - 1), lease_expires_at=None)
    table = auto or AutoTable()
    base = replace(state, last_outcome=outcome, last_call_at=now, lease_expires_at=None)
    if state.system_status is SystemStatus.DO_NOT_CALL:
        return replace(base, next_call_at=None, owner_agent_id=None)
    retry_at = _in_window(now + rules.retry_delay(outcome), state, rules)
    rule = table.rule_for(outcome)
    if rule is None:  # ANSWERED: wait for the agent's status
        return replace(base, next_call_at=max(retry_at, state.next_call_at or retry_at))
    if rule.system_status is SystemStatus.DO_NOT_CALL:
        return replace(
            base,
            system_status=SystemStatus.DO_NOT_CALL,
            status_id=rule.status_id,
            next_call_at=None,
            owner_agent_id=None,
        )
    if outcome is Outcome.DROPPED:
        return replace(
            base,
            system_status=SystemStatus.CALL_PROGRESSIVE,
            status_id=rule.status_id,
            next_call_at=retry_at,
            owner_agent_id=None,
        )
    if state.system_status is SystemStatus.MY_RECORD:
        # The owner's callback did not reach the person: keep it theirs, retry later.
        return replace(base, next_call_at=max(retry_at, state.next_call_at or retry_at))
    if state.system_status is SystemStatus.CALL_PROGRESSIVE:
        # Once abandoned, always progressive: a later busy/no-answer does not undo that.
        return replace(base, status_id=rule.status_id or state.status_id, next_call_at=retry_at)
    return replace(
        base,
        system_status=rule.system_status,
        status_id=rule.status_id,
        next_call_at=retry_at,
        owner_agent_id=None,
    )


def check_status_choice(
    status: StatusOption,
    rules: CampaignRules,
    state: RecordState,
    now: dt.datetime,
    date: dt.datetime | None,
    *,
    by_supervisor: bool = False,
) -> StatusOption:
    """The campaign's offer of ``status`` when the rules every person's status follows
    allow it (an agent's after a call, a supervisor's by hand): offered and active, a date
    in the future for MY_RECORD / NOT_BEFORE and none for the others, and attempts left for a
    dated status. Raises ``StatusRuleError`` naming the field otherwise."""
    offered = rules.offered(status.id)
    if offered is None:
        names = ", ".join(f"{o.name!r} (id {o.id})" for o in rules.statuses) or "none"
        raise StatusRuleError(
            "status_id",
            f"status {status.name!r} (id {status.id}) is not offered by this campaign",
            f"choose one of: {names}",
            code=RuleRefusal.NOT_OFFERED,
            params={"status": status.name},
        )
    if not (offered.active and status.active):
        raise StatusRuleError(
            "status_id",
            f"status {status.name!r} (id {status.id}) is not active",
            "choose an active status"
            + ("" if by_supervisor else " or ask a supervisor to reactivate it"),
            code=RuleRefusal.INACTIVE,
            params={"status": status.name},
        )
    target = offered.system_status
    named = {"status": offered.name}
    if target not in DATED_STATUSES:
        if date is not None:
            raise StatusRuleError(
                "date",
                f"status {offered.name!r} ({target.value}) takes no date",
                "give a date only with MY_RECORD or NOT_BEFORE statuses",
                code=RuleRefusal.TAKES_NO_DATE,
                params=named,
            )
        return offered
    if date is None:
        raise StatusRuleError(
            "date",
            f"status {offered.name!r} ({target.value}) needs a date",
            "give one",
            code=RuleRefusal.NEEDS_DATE,
            params=named,
        )
    _aware(date, "date")
    if date <= now:
        raise StatusRuleError(
            "date",
            f"{date.isoformat()} is not in the future (now is {now.isoformat()})",
            f"give a time after now for {offered.name!r}",
            code=RuleRefusal.DATE_PAST,
            params=named,
        )
    if state.attempts >= rules.max_attempts:
        # Max attempts holds for every status (DESIGN §5): a callback set now would never be
        # dialed, so the person setting it hears it now rather than the record never called.
        raise StatusRuleError(
            "status_id",
            f"this was the record's last attempt ({state.attempts} of {rules.max_attempts}): "
            f"{offered.name!r} would never be dialed",
            ("raise" if by_supervisor else "choose another status, or ask a supervisor to raise")
            + " the campaign's max attempts",
            code=RuleRefusal.LAST_ATTEMPT,
            params={"status": offered.name, "max": rules.max_attempts},
        )
    return offered


def apply_agent_status(
    state: RecordState,
    status: StatusOption,
    now: dt.datetime,
    rules: CampaignRules,
    *,
    agent_id: int,
    date: dt.datetime | None = None,
) -> RecordState:
    """The record's next state when agent ``agent_id`` sets ``status`` after a call.

    - TO_CALL: redial by the retry rules (the "answered" delay); CALL_PROGRESSIVE: the same,
      dialed only with an agent reserved.
    - MY_RECORD: the agent owns the record; ``date`` (required, in the future) is when the
      engine calls it back for that agent.
    - NOT_BEFORE: anyone redials, not before ``date`` (required, in the future).
    - DO_NOT_CALL: never again.

    Raises ``StatusRuleError`` when the status is not offered by the campaign or inactive, when a
    date is missing, naive or not in the future, when a date is given to a status that takes
    none, when a dated status is set on the record's last attempt (it would never be dialed),
    or when the record is already DO_NOT_CALL (only a supervisor may reopen it).
    """
    _aware(now, "now")
    offered = check_status_choice(status, rules, state, now, date)
    target = offered.system_status
    if state.system_status is SystemStatus.DO_NOT_CALL and target is not SystemStatus.DO_NOT_CALL:
        raise StatusRuleError(
            "status_id",
            "the record is DO_NOT_CALL and an agent status cannot make it callable again",
            "ask a supervisor to reopen the record",
            code=RuleRefusal.RECORD_DNC,
        )
    base = replace(
        state,
        system_status=target,
        status_id=offered.id,
        last_outcome=Outcome.ANSWERED,
        last_call_at=state.last_call_at or now,
        lease_expires_at=None,
    )
    if target is SystemStatus.MY_RECORD:
        return replace(base, owner_agent_id=agent_id, next_call_at=date)
    if target is SystemStatus.NOT_BEFORE:
        return replace(base, owner_agent_id=None, next_call_at=date)
    if target is SystemStatus.DO_NOT_CALL:
        return replace(base, owner_agent_id=None, next_call_at=None)
    retry_at = _in_window(now + rules.retry_delay(Outcome.ANSWERED), state, rules)
    return replace(base, owner_agent_id=None, next_call_at=retry_at)


def owner_release_at(state: RecordState, rules: CampaignRules) -> dt.datetime | None:
    """When a MY_RECORD callback is released to anyone (``None``: never, or not MY_RECORD)."""
    if state.system_status is not SystemStatus.MY_RECORD or state.next_call_at is None:
        return None
    if rules.owner_absent_policy is not OwnerAbsentPolicy.RELEASE:
        return None
    return state.next_call_at + dt.timedelta(minutes=rules.owner_absent_release_min)


def why_not_callable(
    state: RecordState,
    now: dt.datetime,
    rules: CampaignRules,
    *,
    window_open: bool,
    dnc: bool,
    reserved_agent_id: int | None = None,
) -> NotCallable | None:
    """Why the record may not be dialed at ``now`` — or ``None`` when it may (§5).

    ``window_open``: the calling window is open in the person's zone; ``dnc``: the number is
    on a DNC list; ``reserved_agent_id``: the agent reserved for this dial, if any.
    A MY_RECORD callback is dialed only for its owner (reserved) until released by the
    campaign's owner-absent policy, then by anyone like NOT_BEFORE; CALL_PROGRESSIVE only
    with an agent reserved.
    """
    if dnc:
        return NotCallable.DNC_LIST
    if state.system_status is SystemStatus.DO_NOT_CALL:
        return NotCallable.DO_NOT_CALL
    if state.parked:
        return NotCallable.PARKED
    if state.attempts >= rules.max_attempts:
        return NotCallable.MAX_ATTEMPTS
    if state.lease_expires_at is not None and state.lease_expires_at > now:
        return NotCallable.IN_FLIGHT
    if not window_open:
        return NotCallable.OUTSIDE_WINDOW
    if state.next_call_at is not None and state.next_call_at > now:
        return NotCallable.NOT_DUE
    if state.system_status is SystemStatus.MY_RECORD:
        release = owner_release_at(state, rules)
        if release is not None and now >= release:
            return None
        if reserved_agent_id is None:
            return NotCallable.NEEDS_RESERVED_AGENT
        if reserved_agent_id != state.owner_agent_id:
            return NotCallable.OWNER_ONLY
    if state.system_status is SystemStatus.CALL_PROGRESSIVE and reserved_agent_id is None:
        return NotCallable.NEEDS_RESERVED_AGENT
    return None


def callable_now(
    state: RecordState,
    now: dt.datetime,
    rules: CampaignRules,
    *,
    window_open: bool,
    dnc: bool,
    reserved_agent_id: int | None = None,
) -> bool:
    """True when the record may be dialed at ``now`` (see ``why_not_callable``)."""
    return (
        why_not_callable(
            state, now, rules, window_open=window_open, dnc=dnc, reserved_agent_id=reserved_agent_id
        )
        is None
    )
