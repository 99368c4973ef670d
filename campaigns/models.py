"""Storage model (SQLModel): the tables every part of the engine shares.

Times are stored as naive UTC and come back as timezone-aware UTC (``UTCDateTime``), so the
same code runs on SQLite and PostgreSQL. Phone numbers are E.164 strings. A record's
``tz`` is a *zone key*: one IANA zone, or several separated by spaces when the number does
not pin one down (a calling window is open for such a key only when it is open in every
zone of it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import JSON, Column, Field, SQLModel

from campaigns.enums import CampaignState, OwnerAbsentPolicy, Role, SystemStatus


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC (the only clock read helper in storage code)."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A datetime stored as naive UTC and returned as aware UTC, on any database."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        del dialect
        if value is None:
            return None
        if value.tzinfo is None:
            msg = f"naive datetime {value!r}: pass timezone-aware times to storage"
            raise ValueError(msg)
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        del dialect
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            msg = f"expected a datetime from the database, got {value!r}"
            raise TypeError(msg)
        return value.replace(tzinfo=dt.UTC)


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _created() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_column=Column(JSON, nullable=False))


class StatusDef(SQLModel, table=True):
    """A status agents (or the system) give a record: the status dictionary.

    ``campaign_id`` is NULL for dictionary statuses and set for campaign-only ones.
    """

    __tablename__: ClassVar[str] = "status_def"
    __table_args__ = (sa.UniqueConstraint("name", "campaign_id", name="uq_status_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    system_status: SystemStatus = Field(sa_type=sa.String(20))
    auto_outcome: str | None = Field(default=None, max_length=20)
    add_to_new_campaigns: bool = False
    hidden: bool = False
    active: bool = True
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    created_at: dt.datetime = _created()


class Campaign(SQLModel, table=True):
    """An outbound campaign: its rules for dialing and redialing its records."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    description: str = ""
    state: CampaignState = Field(default=CampaignState.DRAFT, sa_type=sa.String(12))
    #: Why the engine paused the campaign by itself (e.g. the PBX refused every call);
    #: cleared when a person changes its state.
    paused_reason: str | None = Field(default=None, max_length=500)
    pacing_profile: str = Field(default="predictive", max_length=120)
    max_attempts: int = 5
    #: Seconds before a redial, per telephony outcome (keys: Outcome values, "default").
    retry_delays_s: dict[str, int] = _json(dict)
    #: Calling window in the called person's local time, "HH:MM".
    window_start: str = "09:00"
    window_end: str = "20:00"
    #: ISO weekdays (1 = Monday … 7 = Sunday) on which calls may be placed.
    window_days: list[int] = _json(lambda: [1, 2, 3, 4, 5, 6])
    default_region: str = Field(default="PL", max_length=2)
    default_tz: str | None = None
    owner_absent_policy: OwnerAbsentPolicy = Field(
        default=OwnerAbsentPolicy.KEEP_WAITING, sa_type=sa.String(16)
    )
    owner_absent_release_min: int = 30
    max_wait_s: float = 2.0
    wrapup_timeout_s: int = 120
    # status_def also refers to campaign: this key is added after both tables exist.
    wrapup_default_status_id: int | None = Field(
        default=None,
        sa_column=Column(
            sa.Integer,
            sa.ForeignKey(
                "status_def.id", use_alter=True, name="fk_campaign_wrapup_default_status_id"
            ),
            nullable=True,
        ),
    )
    caller_id: str | None = None
    #: Operating hours of the campaign itself ("HH:MM" in ``hours_tz``), on top of each
    #: called person's window; NULL = no limit.
    hours_start: str | None = Field(default=None, max_length=5)
    hours_end: str | None = Field(default=None, max_length=5)
    hours_days: list[int] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5, 6, 7],
        sa_column=Column(JSON, nullable=False, server_default="[1, 2, 3, 4, 5, 6, 7]"),
    )
    hours_tz: str = Field(default="UTC", max_length=64, sa_column_kwargs={"server_default": "UTC"})
    #: "predictive" (the pacer dials) or "preview" (each agent dials its next record).
    dial_mode: str = Field(
        default="predictive", max_length=12, sa_column_kwargs={"server_default": "predictive"}
    )
    #: Seconds a preview waits for its agent (0 = no limit), then "skip" or "dial".
    preview_timeout_s: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    preview_timeout_action: str = Field(
        default="skip", max_length=8, sa_column_kwargs={"server_default": "skip"}
    )
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()


class CampaignStatus(SQLModel, table=True):
    """A status offered to agents in one campaign."""

    __tablename__: ClassVar[str] = "campaign_status"

    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    status_id: int = Field(foreign_key="status_def.id", primary_key=True)
    position: int = 0


class ContactList(SQLModel, table=True):
    """One imported file of records."""

    __tablename__: ClassVar[str] = "contact_list"

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    name: str
    source: str = ""
    default_tz: str | None = None
    rows_imported: int = 0
    rows_rejected: int = 0
    created_at: dt.datetime = _created()


_DUE_NOW = "system_status = 'TO_CALL' AND next_call_at IS NULL"


class Record(SQLModel, table=True):
    """A person to call in a campaign, with the state the status engine keeps."""

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "phone", name="uq_record_campaign_phone"),
        # Record selection: one range per priority tier (see campaigns/selection.py).
        sa.Index(
            "ix_record_pick",
            "campaign_id",
            "system_status",
            "next_call_at",
            sa.text("attempts DESC"),
            "id",
        ),
        sa.Index("ix_record_owner_due", "owner_agent_id", "system_status", "next_call_at"),
        # The statuses report counts records per campaign × list × status from this index
        # alone (an index-only scan), never from the table's rows.
        sa.Index(
            "ix_record_status_breakdown",
            "campaign_id",
            "list_id",
            "status_id",
            "system_status",
            "owner_agent_id",
        ),
        # TO_CALL records due now without a date, in selection order: those whose lease
        # ended without an outcome (attempts > 0) first, then fresh ones in import order.
        sa.Index(
            "ix_record_due_now",
            "campaign_id",
            sa.text("attempts DESC"),
            "id",
            sqlite_where=sa.text(_DUE_NOW),
            postgresql_where=sa.text(_DUE_NOW),
        ),
        # Records a supervisor moved to the front of the queue ("call next").
        sa.Index(
            "ix_record_call_next",
            "campaign_id",
            "call_next_at",
            sqlite_where=sa.text("call_next_at IS NOT NULL"),
            postgresql_where=sa.text("call_next_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    list_id: int | None = Field(default=None, foreign_key="contact_list.id")
    phone: str = Field(max_length=20)
    name: str = ""
    tz: str = Field(default="UTC", max_length=1024)
    fields: dict[str, Any] = _json(dict)
    system_status: SystemStatus = Field(default=SystemStatus.TO_CALL, sa_type=sa.String(20))
    status_id: int | None = Field(default=None, foreign_key="status_def.id")
    attempts: int = 0
    #: Not callable before this time (retry delay, NOT_BEFORE, MY_RECORD due); NULL = now.
    next_call_at: dt.datetime | None = _ts()
    owner_agent_id: int | None = Field(default=None, foreign_key="agent.id")
    last_outcome: str | None = None
    last_call_at: dt.datetime | None = _ts()
    #: Lease: who is dialing the record and until when (NULL when free).
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: dt.datetime | None = _ts(index=True)
    #: Parked by a supervisor: never dialed until unparked (NULL when not parked).
    parked_at: dt.datetime | None = _ts()
    parked_by: str | None = Field(default=None, max_length=64)
    #: A supervisor asked to call it next: claimed before every other record not reserved
    #: for an agent, in the order asked; cleared when it is claimed.
    call_next_at: dt.datetime | None = _ts()
    created_at: dt.datetime = _created()


class DncEntry(SQLModel, table=True):
    """A do-not-call number: global (``campaign_id`` NULL) or for one campaign."""

    __tablename__: ClassVar[str] = "dnc_entry"
    __table_args__ = (sa.UniqueConstraint("phone", "campaign_id", name="uq_dnc_phone_campaign"),)

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=20, index=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")
    reason: str = ""
    added_by: str = ""
    expires_at: dt.datetime | None = _ts()
    created_at: dt.datetime = _created()


class AgentGroup(SQLModel, table=True):
    """A team of agents (a group leader sees its group's agents and calls)."""

    __tablename__: ClassVar[str] = "agent_group"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)


class Agent(SQLModel, table=True):
    """A person who takes calls."""

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64, unique=True)
    name: str = ""
    extension: str | None = Field(default=None, max_length=32)
    #: Other seats the agent may log in on (hot-desking), besides its extension.
    seats: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default=sa.text("'[]'")),
    )
    group_id: int | None = Field(default=None, foreign_key="agent_group.id")
    active: bool = True
    created_at: dt.datetime = _created()


class AuditLog(SQLModel, table=True):
    """Every change made by a person (or by the system on a person's behalf)."""

    __tablename__: ClassVar[str] = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_at", "at"),)  # retention deletes by age

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = _created()
    actor: str
    action: str
    entity: str
    entity_id: str | None = None
    details: dict[str, Any] = _json(dict)


class AppSetting(SQLModel, table=True):
    """A setting an administrator changes in the pages (it wins over the config file's
    value of the same setting from then on): its value, and who set it when."""

    __tablename__: ClassVar[str] = "app_setting"

    key: str = Field(primary_key=True, max_length=64)
    value: Any = Field(sa_column=Column(sa.JSON(), nullable=False))
    updated_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str = Field(max_length=200)


class CallLog(SQLModel, table=True):
    """One row per dial attempt: what the call lists show and what compliance needs."""

    __tablename__: ClassVar[str] = "call_log"
    __table_args__ = (
        sa.Index("ix_call_log_campaign_dial", "campaign_id", "dial_at"),
        sa.Index("ix_call_log_agent_dial", "agent_id", "dial_at"),
        # The whole log newest first (an administrator's call list, unfiltered).
        sa.Index("ix_call_log_dial", "dial_at", "id"),
        # The abandonment windows count people when they were connected or dropped.
        sa.Index("ix_call_log_campaign_connect", "campaign_id", "connect_at"),
        sa.Index("ix_call_log_campaign_drop", "campaign_id", "drop_at"),
        # A record's calls in order: its next call after one is a single probe.
        sa.Index("ix_call_log_record_id", "record_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    record_id: int | None = Field(default=None, foreign_key="record.id")
    phone: str = Field(max_length=20, index=True)
    agent_id: int | None = Field(default=None, foreign_key="agent.id")
    attempt: int = 1
    dial_at: dt.datetime = _created()
    answer_at: dt.datetime | None = _ts()
    connect_at: dt.datetime | None = _ts()
    drop_at: dt.datetime | None = _ts()
    """When the person was sent to the drop message (abandoned)."""
    end_at: dt.datetime | None = _ts()
    ring_s: float | None = None
    wait_s: float | None = None
    talk_s: float | None = None
    wrapup_s: float | None = None
    outcome: str | None = Field(default=None, max_length=20)
    hangup_cause: int | None = None
    hangup_cause_txt: str | None = None
    amd_result: str | None = Field(default=None, max_length=20)
    amd_cause: str | None = None
    status_id: int | None = Field(default=None, foreign_key="status_def.id")
    system_status: str | None = Field(default=None, max_length=20)
    note: str = ""
    recording_ref: str | None = None
    server: str | None = Field(default=None, max_length=64)
    channel_id: str | None = Field(default=None, max_length=64, index=True)
    action_id: str | None = Field(default=None, max_length=64)
    callback_kept: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    """A callback kept: the person was connected to the agent who had booked this record as
    their own (``MY_RECORD``) on its previous call; written when the connect is
    (:func:`campaigns.dispositions.mark_callback_kept`)."""


class CampaignDay(SQLModel, table=True):
    """A campaign's figures for one day (UTC), rolled up from the call log every night."""

    __tablename__: ClassVar[str] = "campaign_day"

    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    day: dt.date = Field(primary_key=True)
    dials: int = 0
    answered: int = 0
    connected: int = 0
    dropped: int = 0
    machines: int = 0
    talk_s: float = 0.0
    updated_at: dt.datetime = _created()


class User(SQLModel, table=True):
    """A person who signs in to the HTTP API and pages; an agent user is tied to its agent."""

    __tablename__: ClassVar[str] = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64, unique=True)
    name: str = ""
    #: argon2 hash of the password (never the password itself).
    password_hash: str = Field(max_length=255)
    role: Role = Field(sa_type=sa.String(16))
    #: The group a group leader leads.
    group_id: int | None = Field(default=None, foreign_key="agent_group.id")
    #: The agent an agent user is (its calls are "own calls").
    agent_id: int | None = Field(default=None, foreign_key="agent.id", unique=True)
    language: str = Field(default="en", max_length=8)
    active: bool = True
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()


class UserSession(SQLModel, table=True):
    """A signed-in session: the token's SHA-256 (the token itself is only with the client)."""

    __tablename__: ClassVar[str] = "user_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    #: Sent back in the X-CSRF-Token header by pages using the session cookie.
    csrf: str = Field(max_length=64)
    created_at: dt.datetime = _created()
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


# ---------------------------------------------------------------- report rollups (issue 13)


class CallHour(SQLModel, table=True):
    """The call log added up per campaign × agent × UTC hour of dialing (reports read it).

    ``agent_key`` is the agent's id, or 0 for calls no agent took (unanswered, dropped).
    """

    __tablename__: ClassVar[str] = "call_hour"
    # Rows kept in key order on SQLite (a range of hours is read without a lookup per row).
    __table_args__ = {"sqlite_with_rowid": False}
    hour: dt.datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    campaign_id: int = Field(primary_key=True)
    agent_key: int = Field(primary_key=True)
    dials: int = 0
    persons: int = 0
    connected: int = 0
    dropped: int = 0
    no_answer: int = 0
    busy: int = 0
    machine: int = 0
    failed: int = 0
    other: int = 0
    callbacks_kept: int = 0
    talk_s: float = 0.0
    wait_s: float = 0.0
    wrapup_s: float = 0.0


class CampaignHour(SQLModel, table=True):
    """:class:`CallHour` added up over agents: what an unscoped reader's reports read."""

    __tablename__: ClassVar[str] = "campaign_hour"
    __table_args__ = {"sqlite_with_rowid": False}

    hour: dt.datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    campaign_id: int = Field(primary_key=True)
    dials: int = 0
    persons: int = 0
    connected: int = 0
    dropped: int = 0
    no_answer: int = 0
    busy: int = 0
    machine: int = 0
    failed: int = 0
    other: int = 0
    callbacks_kept: int = 0
    talk_s: float = 0.0
    wait_s: float = 0.0
    wrapup_s: float = 0.0


class TotalHour(SQLModel, table=True):
    """:class:`CampaignHour` added up over campaigns: an unscoped reader's reports over all
    campaigns (a year's time of day reads 8,760 rows whatever the number of campaigns)."""

    __tablename__: ClassVar[str] = "total_hour"
    __table_args__ = {"sqlite_with_rowid": False}

    hour: dt.datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    dials: int = 0
    persons: int = 0
    connected: int = 0
    dropped: int = 0
    no_answer: int = 0
    busy: int = 0
    machine: int = 0
    failed: int = 0
    other: int = 0
    callbacks_kept: int = 0
    talk_s: float = 0.0
    wait_s: float = 0.0
    wrapup_s: float = 0.0


class StatusHour(SQLModel, table=True):
    """Statuses set on calls, per campaign × agent × UTC hour of dialing × status.

    ``status_key`` is the status id or 0; ``system_status`` is "" when the call has none.
    """

    __tablename__: ClassVar[str] = "status_hour"
    __table_args__ = {"sqlite_with_rowid": False}
    hour: dt.datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    campaign_id: int = Field(primary_key=True)
    agent_key: int = Field(primary_key=True)
    status_key: int = Field(primary_key=True)
    system_status: str = Field(primary_key=True, max_length=20)
    calls: int = 0


class RollupHour(SQLModel, table=True):
    """When each UTC hour was last rolled up; ``final`` when that was after it settled."""

    __tablename__: ClassVar[str] = "rollup_hour"

    hour: dt.datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    final: bool = False
    updated_at: dt.datetime = _created()


class ClusterEngine(SQLModel, table=True):
    """An engine process sharing this database (``[cluster]``): its heartbeat and load.

    ``owner`` is the engine id and its start nonce (``<engine id>/<nonce>``). A row whose
    ``expires_at`` passed (the database's clock) is an engine that died or stalled.
    """

    __tablename__: ClassVar[str] = "cluster_engine"

    owner: str = Field(primary_key=True, max_length=100)
    engine_id: str = Field(max_length=64)
    started_at: dt.datetime = _ts(nullable=False)
    expires_at: dt.datetime = _ts(nullable=False)
    agents: int = 0
    """Agents logged in on this engine's campaigns (as last reported)."""


class CampaignLease(SQLModel, table=True):
    """Who runs a campaign now (``[cluster]``): one engine at a time, fenced by ``token``.

    ``token`` grows by one with every new owner; an owner's claims and renewals name the
    token it took, so a lapsed owner's writes find no row and fail. ``agents`` is the last
    count of agents logged in that the owner reported, ``seats`` their seats (comma
    separated): a new owner adopts those seats, so the agents follow their campaign.
    """

    __tablename__: ClassVar[str] = "campaign_lease"

    campaign_id: int = Field(primary_key=True, foreign_key="campaign.id")
    owner: str | None = Field(default=None, max_length=100)
    token: int = Field(default=0, sa_column=Column(sa.BigInteger(), nullable=False))
    expires_at: dt.datetime | None = _ts()
    agents: int = 0
    seats: str = Field(default="", sa_column=Column(sa.Text(), nullable=False))
    stats: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """The owner's live figures of the campaign as last renewed (what its dashboard shows),
    so that the pages of every engine show them."""
    stats_at: dt.datetime | None = _ts()


# ------------------------------------------------------------ callback requests (issue 15)


class RequestSource(SQLModel, table=True):
    """A website widget or CRM allowed to ask for callbacks, with its API key's SHA-256.

    The key itself is shown once, when the source is created; ``key_prefix`` (its first
    characters) tells keys apart in lists. A revoked source's key is refused.
    """

    __tablename__: ClassVar[str] = "request_source"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    key_hash: str = Field(max_length=64, unique=True)
    key_prefix: str = Field(max_length=16)
    #: Requests accepted per minute (a flood beyond it gets 429).
    rate_per_min: int = 30
    #: Seconds a request may wait past its time for an agent before it is missed by agent.
    answer_within_s: int = 900
    created_by: str = ""
    created_at: dt.datetime = _created()
    revoked_at: dt.datetime | None = _ts()
    revoked_by: str | None = None


class CallbackRequest(SQLModel, table=True):
    """A person's request to be called (ASAP or at a time), and its state as it goes.

    ``prior_*`` keep the record's state before the request made it a progressive call,
    so a cancelled or expired request gives the record back as it was.
    """

    __tablename__: ClassVar[str] = "callback_request"
    __table_args__ = (
        sa.Index("ix_callback_request_created", "created_at", "id"),
        sa.Index("ix_callback_request_open", "state", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="request_source.id", index=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    record_id: int = Field(foreign_key="record.id", index=True)
    phone: str = Field(max_length=20)
    name: str = ""
    kind: str = Field(max_length=12)
    """``asap`` or ``scheduled``."""
    due_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    requester_tz: str = Field(default="UTC", max_length=64)
    state: str = Field(default="waiting", max_length=20)
    external_ref: str = Field(default="", max_length=120)
    note: str = Field(default="", max_length=500)
    agent_id: int | None = Field(default=None, foreign_key="agent.id", index=True)
    call_id: str | None = Field(default=None, max_length=64)
    attempts: int = 0
    reason: str = ""
    """Why the request ended as it did (cancelled by whom, carrier cause, expiry)."""
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()
    dialed_at: dt.datetime | None = _ts()
    connected_at: dt.datetime | None = _ts()
    ended_at: dt.datetime | None = _ts()
    record_created: bool = False
    prior_status: str | None = Field(default=None, max_length=20)
    prior_next_call_at: dt.datetime | None = _ts()
    prior_attempts: int | None = None


class CallbackRequestEvent(SQLModel, table=True):
    """One change of a request's state, written when it happened (its history)."""

    __tablename__: ClassVar[str] = "callback_request_event"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="callback_request.id", index=True)
    at: dt.datetime = _created()
    state: str = Field(max_length=20)
    detail: str = ""
    agent_id: int | None = None
    call_id: str | None = Field(default=None, max_length=64)


class RecordContact(SQLModel, table=True):
    """Each record's calls added up over its whole history (the customers report reads it).

    Kept by the rollup job for calls dialed before :class:`RecordRollup`'s ``upto`` (calls
    that have settled); the report adds the calls dialed since from the raw log. First and
    last are by call id (the order calls were dialed in).
    """

    __tablename__: ClassVar[str] = "record_contact"
    __table_args__ = (
        # The customers report pages newest first: (time, call id) in the index's order.
        sa.Index("ix_record_contact_last", "last_at", "last_call_id"),
        sa.Index("ix_record_contact_first", "first_at", "first_call_id"),
    )

    record_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    campaign_id: int
    list_id: int | None = None
    attempts: int = 0
    reached: int = 0
    """Calls a person answered and an agent took."""
    first_call_id: int
    first_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    first_outcome: str | None = None
    first_agent_id: int | None = None
    last_call_id: int
    last_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_outcome: str | None = None
    last_agent_id: int | None = None
    last_answered_id: int | None = None
    """The record's last answered call (None: never reached)."""


class RecordRollup(SQLModel, table=True):
    """How far :class:`RecordContact` goes: every call dialed before ``upto`` is in it."""

    __tablename__: ClassVar[str] = "record_rollup"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    upto: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: dt.datetime = _created()


class AgentPhase(SQLModel, table=True):
    """One stretch of an agent in one phase (ready, reserved, talking, wrap-up, paused with
    a reason), written by the runtime when the agent enters it; ``end_at`` is set when the
    agent leaves it (NULL while it lasts). Logging out closes the last stretch."""

    __tablename__: ClassVar[str] = "agent_phase"
    __table_args__ = (
        sa.Index("ix_agent_phase_start", "start_at"),
        sa.Index("ix_agent_phase_open", "agent_id", "end_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int
    campaign_id: int
    phase: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=64)
    """The pause reason (paused only)."""
    call_id: str | None = Field(default=None, max_length=64)
    """The call reserved for, talked on or wrapped up."""
    start_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    end_at: dt.datetime | None = _ts()


class AgentPhaseHour(SQLModel, table=True):
    """Seconds agents spent in each phase per UTC hour (:class:`AgentPhase` cut at hours),
    and reservations that ended without a conversation because the call was dropped
    (``missed``, counted in the hour the reservation began)."""

    __tablename__: ClassVar[str] = "agent_phase_hour"
    __table_args__ = {"sqlite_with_rowid": False}

    hour: dt.datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    agent_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    campaign_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    phase: str = Field(primary_key=True, max_length=20)
    reason: str = Field(primary_key=True, max_length=64)
    """The pause reason, "" for other phases."""
    seconds: float = 0.0
    missed: int = 0


class CallbackMiss(SQLModel, table=True):
    """A ``MY_RECORD`` callback that found its owner absent: the owner-absent policy
    released it to anyone and a claim took it (written in the claim's transaction). One
    row per booking (record and due time), however often the record is claimed again."""

    __tablename__: ClassVar[str] = "callback_miss"
    __table_args__ = (
        sa.UniqueConstraint("record_id", "due_at", name="uq_callback_miss_booking"),
        sa.Index("ix_callback_miss_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int
    record_id: int
    agent_id: int
    """The owner the callback was booked for."""
    due_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    """When it was released to someone else (claimed by anyone)."""
