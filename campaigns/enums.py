"""The vocabulary of campaign logic: system statuses, outcomes, record and campaign states."""

from __future__ import annotations

from enum import StrEnum


class SystemStatus(StrEnum):
    """What the engine does with a record after a call (DESIGN §2)."""

    TO_CALL = "TO_CALL"
    """Redial by the normal rules (retry delay, max attempts)."""
    MY_RECORD = "MY_RECORD"
    """The agent who set it owns the record; call it back for that agent only, at a date."""
    NOT_BEFORE = "NOT_BEFORE"
    """Redial by anyone, not before a date."""
    DO_NOT_CALL = "DO_NOT_CALL"
    """Never dial again."""
    CALL_PROGRESSIVE = "CALL_PROGRESSIVE"
    """Redial only with an agent already reserved (used after a drop)."""


class Outcome(StrEnum):
    """Telephony outcome of one attempt, as the Asterisk edge reports it."""

    ANSWERED = "answered"
    """A person answered and was connected to an agent."""
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    """Network congestion or a carrier failure."""
    FAILED = "failed"
    """Any other failure before a person answered."""
    MACHINE = "machine"
    """Answering machine detected."""
    DROPPED = "dropped"
    """A person answered but no agent took the call within max_wait_s (abandoned)."""
    INVALID = "invalid"
    """The number does not exist or cannot be dialed."""
    CANCELLED = "cancelled"
    """The engine hung up before anyone answered (campaign stopped, reservation cancelled):
    no attempt is used and the record's status does not change."""
    NOT_PLACED = "not_placed"
    """No call was placed: the server refused the Originate (a configuration problem) or
    the edge could not send it. No attempt is used and the record's status does not change."""


#: Outcomes a status in the dictionary may be "set automatically when".
AUTO_OUTCOMES: tuple[Outcome, ...] = (
    Outcome.BUSY,
    Outcome.NO_ANSWER,
    Outcome.CONGESTION,
    Outcome.MACHINE,
    Outcome.DROPPED,
    Outcome.INVALID,
)


class CampaignState(StrEnum):
    """Lifecycle of a campaign."""

    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class OwnerAbsentPolicy(StrEnum):
    """What happens to a due MY_RECORD callback while its owner is not ready."""

    KEEP_WAITING = "keep_waiting"
    """Wait for the owner, however long."""
    RELEASE = "release"
    """After N minutes past due, anyone may take it (it becomes NOT_BEFORE-like)."""


class DialMode(StrEnum):
    """How a campaign's records reach agents."""

    PREDICTIVE = "predictive"
    """The pacer decides how many calls to place; answered persons go to ready agents."""
    PREVIEW = "preview"
    """Each ready agent is shown its next record and dials it (or skips it) itself."""


class PreviewTimeout(StrEnum):
    """What happens to a preview its agent did not act on within the campaign's timeout."""

    SKIP = "skip"
    DIAL = "dial"


class Role(StrEnum):
    """What a user of the HTTP API and pages may see and change (seed 004)."""

    ADMIN = "admin"
    """Everything, settings included."""
    HEAD = "head"
    """All calls, campaigns and reports; runs campaigns; changes no settings."""
    GROUP_LEADER = "group_leader"
    """Its group's agents and their calls."""
    AGENT = "agent"
    """Its own calls only (an agent or a manager working a campaign)."""
