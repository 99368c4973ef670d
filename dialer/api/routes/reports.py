"""Reports: calls by period, time of day, agents, customers and statuses, with exports.

Each report answers JSON with its figures and the *table* the page shows (column keys,
rows, and per cell a link to the matching calls in the call log where the call log can
filter for them); the export of a report is that same table as CSV or XLSX, so a file holds
exactly what is on the screen. Scopes are the call log's (:func:`scope_of`): administrators
and heads see every call, a group leader its group's agents' calls, an agent only the agent
report of itself. Exports are gated like the call log's and every export is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from campaigns.enums import Outcome, Role
from campaigns.models import Agent, AgentGroup, Campaign, StatusDef
from campaigns.reports import (
    CustomerView,
    Dim,
    Period,
    ReportError,
    Scope,
    agents_report,
    check_zone,
    customers_report,
    local_range,
    period_report,
    recent_calls,
    statuses_report,
    time_of_day,
    zone,
)
from campaigns.statuses import audit
from dialer.api.context import ApiContext
from dialer.api.export import ExportFormat, export_response
from dialer.api.routes.admin_common import MAX_ID, check_export
from dialer.api.routes.calls import invalid, scope_of
from dialer.api.security import Ctx, CurrentUser, Principal, forbidden

router = APIRouter(prefix="/api/reports", tags=["reports"])

_CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]
_AGENT = Agent.__table__  # type: ignore[attr-defined]
_GROUP = AgentGroup.__table__  # type: ignore[attr-defined]
_STATUS = StatusDef.__table__  # type: ignore[attr-defined]

#: The figures a period/time-of-day/agent row shows, in order.
FIGURES: tuple[str, ...] = (
    "dials",
    "persons",
    "connected",
    "dropped",
    "abandon_pct",
    "no_answer",
    "busy",
    "machine",
    "failed",
    "talk_s",
    "wait_s",
    "wrapup_s",
)
#: Figures the call log can list by an outcome filter (the drill-down of a cell).
_OUTCOME_OF = {
    "dials": None,
    "talk_s": None,
    "wait_s": None,
    "wrapup_s": None,
    "connected": "answered",
    "dropped": "dropped",
    "no_answer": "no_answer",
    "busy": "busy",
    "machine": "machine",
}
#: Longest range of one report (a year and a day, with a leap day).
MAX_DAYS = 367
REPORTS = ("period", "time_of_day", "agents", "customers", "statuses")


class Table(BaseModel):
    """What the page shows and the export writes: column keys, rows, drill-down links."""

    columns: list[str]
    rows: list[list[Any]]
    links: list[list[str | None]]


class Report(BaseModel):
    """A report: its parameters as understood, its chart series and its table."""

    report: str
    tz: str
    start: dt.datetime
    end: dt.datetime
    chart: list[dict[str, Any]]
    table: Table
    summary: dict[str, Any] = {}


@dataclass
class Params:
    """A report request's common parameters, checked against the caller's scope."""

    user: Principal
    scope: Scope
    tz_name: str
    first_day: dt.date
    last_day: dt.date
    period: Period
    dim: Dim
    extra: dict[str, Any] = field(default_factory=dict)


IdParam = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _campaign_tz(ctx: ApiContext, campaign_id: int | None) -> str | None:
    if campaign_id is None:
        return None
    with ctx.db.connect() as conn:
        row = conn.execute(
            sa.select(_CAMPAIGN.c.hours_tz, _CAMPAIGN.c.default_tz).where(
                _CAMPAIGN.c.id == campaign_id
            )
        ).first()
    if row is None:
        return None
    return str(row.hours_tz or row.default_tz or "UTC")


def report_params(
    *,
    user: CurrentUser,
    ctx: Ctx,
    from_: Annotated[
        dt.date | None, Query(alias="from", description="First local day (default: today)")
    ] = None,
    to: Annotated[dt.date | None, Query(description="Last local day (default: 'from')")] = None,
    tz: Annotated[
        str | None,
        Query(
            max_length=64,
            description="IANA zone of days and hours; 'campaign' (or none with a campaign "
            "filter) = the campaign's zone; default UTC",
        ),
    ] = None,
    period: Period = Period.DAY,
    by: Dim = Dim.NONE,
    campaign: IdParam = None,
    agent: IdParam = None,
    group: IdParam = None,
) -> Params:
    """The common parameters of every report."""
    tz_name = tz or ""
    if tz_name in {"", "campaign"}:
        tz_name = _campaign_tz(ctx, campaign) or ("UTC" if tz_name == "" else "")
        if not tz_name:
            raise invalid("tz", "'campaign' needs a campaign filter")
    try:
        zone_info = zone(tz_name)
    except ReportError as exc:
        raise invalid(exc.field, exc.problem) from None
    today = dt.datetime.now(zone_info).date()
    first_day = from_ or today
    last_day = to or first_day
    if last_day < first_day:
        raise invalid("to", "must not be before 'from'")
    if (last_day - first_day).days >= MAX_DAYS:
        raise invalid("to", f"a report covers at most {MAX_DAYS} days")
    start, end = local_range(first_day, last_day, zone_info)
    try:
        check_zone(zone_info, start, end)
    except ReportError as exc:
        raise invalid(exc.field, exc.problem) from None
    agents = scope_of(ctx, user, agent_id=agent, group_id=group)
    return Params(
        user=user,
        scope=Scope(
            start=start,
            end=end,
            campaign_id=campaign,
            agent_id=agent,
            group_id=group,
            agents=agents,
        ),
        tz_name=tz_name,
        first_day=first_day,
        last_day=last_day,
        period=period,
        dim=by,
    )


P = Annotated[Params, Depends(report_params)]


def _no_agents(user: Principal) -> None:
    if user.role is Role.AGENT:
        raise forbidden((Role.ADMIN, Role.HEAD, Role.GROUP_LEADER))


# ----------------------------------------------------------------------------- names


def _names(conn: sa.Connection, dim: Dim, keys: set[int]) -> dict[int, str]:
    if not keys or dim is Dim.NONE:
        return {}
    if dim is Dim.CAMPAIGN:
        q = sa.select(_CAMPAIGN.c.id, _CAMPAIGN.c.name).where(_CAMPAIGN.c.id.in_(sorted(keys)))
    elif dim is Dim.GROUP:
        q = sa.select(_GROUP.c.id, _GROUP.c.name).where(_GROUP.c.id.in_(sorted(keys)))
    else:
        q = sa.select(
            _AGENT.c.id, sa.func.coalesce(sa.func.nullif(_AGENT.c.name, ""), _AGENT.c.login)
        ).where(_AGENT.c.id.in_(sorted(keys)))
    return {int(r[0]): str(r[1]) for r in conn.execute(q)}


def _key_name(dim: Dim, key: int, names: dict[int, str]) -> str:
    if dim is Dim.NONE:
        return ""
    if key == 0:
        return "–"
    return names.get(key, f"#{key}")


def _blank(n: int) -> list[str | None]:
    return [None] * n


def calls_link(
    s: Scope,
    start: dt.datetime,
    end: dt.datetime,
    *,
    dim: Dim = Dim.NONE,
    key: int = 0,
    figure: str = "dials",
) -> str | None:
    """The call log's address listing the calls behind one cell (None when the call log
    cannot filter for them)."""
    if figure not in _OUTCOME_OF or (dim is not Dim.NONE and key == 0 and dim is not Dim.CAMPAIGN):
        return None
    if dim is Dim.CAMPAIGN and key == 0:
        return None
    query: dict[str, Any] = {
        "from": start.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "to": end.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
    }
    campaign, agent, group = s.campaign_id, s.agent_id, s.group_id
    if dim is Dim.CAMPAIGN:
        campaign = key
    elif dim is Dim.AGENT:
        agent = key
    elif dim is Dim.GROUP:
        group = key
    query.update(
        (name, value)
        for name, value in (("campaign", campaign), ("agent", agent), ("group", group))
        if value is not None
    )
    outcome = _OUTCOME_OF[figure]
    if outcome is not None:
        query["outcome"] = outcome
    return "/calls?" + urlencode(query)


# ----------------------------------------------------------------------------- reports


def build_period(ctx: ApiContext, p: Params) -> Report:
    """Calls by period: a row per date (and key), totals per key and overall."""
    with ctx.db.connect() as conn:
        rep = period_report(
            conn,
            p.scope,
            first_day=p.first_day,
            last_day=p.last_day,
            tz=zone(p.tz_name),
            period=p.period,
            dim=p.dim,
        )
        names = _names(conn, p.dim, set(rep.by_key))
    columns = ["date", *(["key"] if p.dim is not Dim.NONE else []), *FIGURES]
    rows: list[list[Any]] = []
    links: list[list[str | None]] = []
    lead = 2 if p.dim is not Dim.NONE else 1
    for r in rep.rows:
        head: list[Any] = [r.bucket.isoformat()]
        if p.dim is not Dim.NONE:
            head.append(_key_name(p.dim, r.key, names))
        rows.append(head + [r.metrics[f] for f in FIGURES])
        links.append(
            _blank(lead)
            + [calls_link(p.scope, r.start, r.end, dim=p.dim, key=r.key, figure=f) for f in FIGURES]
        )
    if p.dim is not Dim.NONE:
        for key, m in rep.by_key.items():
            rows.append(["total", _key_name(p.dim, key, names), *(m[f] for f in FIGURES)])
            links.append(
                _blank(lead)
                + [
                    calls_link(p.scope, p.scope.start, p.scope.end, dim=p.dim, key=key, figure=f)
                    for f in FIGURES
                ]
            )
    total_head: list[Any] = ["total"] + ([""] if p.dim is not Dim.NONE else [])
    rows.append(total_head + [rep.total[f] for f in FIGURES])
    links.append(
        _blank(lead) + [calls_link(p.scope, p.scope.start, p.scope.end, figure=f) for f in FIGURES]
    )
    chart = [{"label": b.isoformat(), **m} for b, m in rep.by_bucket.items()]
    return Report(
        report="period",
        tz=p.tz_name,
        start=p.scope.start,
        end=p.scope.end,
        chart=chart,
        table=Table(columns=columns, rows=rows, links=links),
        summary={"total": rep.total, "period": p.period.value, "by": p.dim.value},
    )


def build_time_of_day(ctx: ApiContext, p: Params) -> Report:
    """Calls by local hour of day over the range."""
    with ctx.db.connect() as conn:
        hours = time_of_day(conn, p.scope, tz=zone(p.tz_name))
    figures = ("dials", "dials_pct", "persons", "answer_pct", "connected", "dropped", "talk_s")
    tz = zone(p.tz_name)
    # One day: each local hour is a stretch of UTC time the call log can list (none for the
    # hour skipped when clocks go forward, two UTC hours for the one repeated when they go
    # back); over several days an hour of day is not one stretch: no links.
    stretch: dict[int, tuple[dt.datetime, dt.datetime]] = {}
    if p.first_day == p.last_day:
        at = p.scope.start
        while at < p.scope.end:
            local = at.astimezone(tz).hour
            first = stretch.get(local, (at, at))[0]
            stretch[local] = (first, at + dt.timedelta(hours=1))
            at += dt.timedelta(hours=1)
    rows, links = [], []
    for h in hours:
        rows.append([f"{h['hour']:02d}:00", *(h[f] for f in figures)])
        cell_links: list[str | None] = [None]
        span = stretch.get(int(h["hour"]))
        cell_links.extend(calls_link(p.scope, *span, figure=f) if span else None for f in figures)
        links.append(cell_links)
    return Report(
        report="time_of_day",
        tz=p.tz_name,
        start=p.scope.start,
        end=p.scope.end,
        chart=[{"label": f"{h['hour']:02d}", **h} for h in hours],
        table=Table(columns=["hour", *figures], rows=rows, links=links),
    )


def build_agents(ctx: ApiContext, p: Params) -> Report:
    """Per agent (or per group with by=group): calls, times, statuses set, callbacks booked
    and kept, logged-in time, pause time (in all and per reason), occupancy, calls per hour
    and missed reservations."""
    dim = Dim.GROUP if p.dim is Dim.GROUP else Dim.AGENT
    with ctx.db.connect() as conn:
        lines = agents_report(conn, p.scope, dim=dim, now=ctx.clock())
        names = _names(conn, dim, {line.key for line in lines})
    call_figures = (
        "dials",
        "connected",
        "talk_s",
        "talk_avg_s",
        "wait_s",
        "wrapup_s",
    )
    reasons = sorted({reason for line in lines for reason in line.pauses})
    figures = (
        *call_figures,
        "logged_in_s",
        "paused_s",
        *(f"pause:{reason}" for reason in reasons),
        "occupancy_pct",
        "calls_per_hour",
        "missed",
        "callbacks_booked",
        "callbacks_kept",
        "statuses_set",
    )
    rows, links = [], []
    for line in lines:
        m: dict[str, Any] = dict(line.metrics)
        m["callbacks_booked"] = line.callbacks_booked
        m["statuses_set"] = sum(line.statuses.values())
        m["logged_in_s"] = line.logged_in_s
        m["paused_s"] = line.phases.get("paused", 0.0)
        for reason in reasons:
            m[f"pause:{reason}"] = line.pauses.get(reason, 0.0)
        m["occupancy_pct"] = line.occupancy_pct
        m["calls_per_hour"] = line.calls_per_hour
        m["missed"] = line.missed
        rows.append([_key_name(dim, line.key, names), *(m[f] for f in figures)])
        links.append(
            _blank(1)
            + [
                calls_link(p.scope, p.scope.start, p.scope.end, dim=dim, key=line.key, figure=f)
                if f in call_figures
                else None
                for f in figures
            ]
        )
    return Report(
        report="agents",
        tz=p.tz_name,
        start=p.scope.start,
        end=p.scope.end,
        chart=[{"label": _key_name(dim, line.key, names), **line.metrics} for line in lines],
        table=Table(columns=[dim.value, *figures], rows=rows, links=links),
        summary={
            "statuses": {_key_name(dim, line.key, names): line.statuses for line in lines},
            "phases": {_key_name(dim, line.key, names): line.phases for line in lines},
        },
    )


def build_customers(ctx: ApiContext, p: Params) -> Report:
    """Records called in the range: attempts distribution and one page of the chosen view."""
    view = p.extra.get("view", CustomerView.ALL)
    with ctx.db.connect() as conn:
        rep = customers_report(
            conn,
            p.scope,
            list_id=p.extra.get("list"),
            view=view,
            limit=p.extra.get("limit", 100),
            offset=p.extra.get("offset", 0),
        )
        agent_names = _names(
            conn,
            Dim.AGENT,
            {c.agent_id for line in rep.lines for c in (line.first, line.last) if c.agent_id},
        )
    columns = [
        "record",
        "phone",
        "calls",
        "reached",
        "first_at",
        "first_outcome",
        "first_agent",
        "last_at",
        "last_outcome",
        "last_agent",
    ]
    rows, links = [], []
    for line in rep.lines:
        rows.append(
            [
                line.name or f"#{line.record_id}",
                line.phone,
                line.calls,
                line.reached,
                line.first.at,
                line.first.outcome,
                agent_names.get(line.first.agent_id or 0, ""),
                line.last.at,
                line.last.outcome,
                agent_names.get(line.last.agent_id or 0, ""),
            ]
        )
        # The record's calls over its whole history, as the report counts them (the reader's
        # scope applies to both); reached: those answered.
        history = {"phone": line.phone, "campaign": line.campaign_id}
        calls_link = "/calls?" + urlencode(history) if line.phone else None
        reached_link = (
            "/calls?" + urlencode(history | {"outcome": Outcome.ANSWERED.value})
            if line.phone
            else None
        )
        links.append([None, calls_link, calls_link, reached_link, *_blank(6)])
    return Report(
        report="customers",
        tz=p.tz_name,
        start=p.scope.start,
        end=p.scope.end,
        chart=[{"label": str(k), "records": n} for k, n in rep.distribution.items()],
        table=Table(columns=columns, rows=rows, links=links),
        summary={
            "records": rep.records,
            "never_reached": rep.never_reached,
            "last_not_answered": rep.last_not_answered,
            "distribution": {str(k): n for k, n in rep.distribution.items()},
            "view": view.value,
        },
    )


def build_statuses(ctx: ApiContext, p: Params) -> Report:
    """Records by status now, and the statuses set on calls in the range, per date."""
    with ctx.db.connect() as conn:
        rep = statuses_report(
            conn, p.scope, tz=zone(p.tz_name), period=p.period, list_id=p.extra.get("list")
        )
        campaigns = _names(conn, Dim.CAMPAIGN, {r["campaign_id"] for r in rep.now})
        status_ids = {int(r["status_id"]) for r in rep.now if r["status_id"]}
        status_ids |= {k for k in rep.changes_by_status if k}
        statuses = {
            int(r[0]): str(r[1])
            for r in conn.execute(
                sa.select(_STATUS.c.id, _STATUS.c.name).where(_STATUS.c.id.in_(sorted(status_ids)))
            )
        }
    columns = ["campaign", "list", "status", "system_status", "records"]
    rows = [
        [
            campaigns.get(r["campaign_id"], f"#{r['campaign_id']}"),
            r["list_id"] or "",
            statuses.get(r["status_id"] or 0, ""),
            r["system_status"],
            r["records"],
        ]
        for r in rep.now
    ]
    return Report(
        report="statuses",
        tz=p.tz_name,
        start=p.scope.start,
        end=p.scope.end,
        chart=[{"label": b.isoformat(), **v} for b, v in rep.changes.items()],
        table=Table(columns=columns, rows=rows, links=[[None] * len(columns) for _ in rows]),
        summary={
            "changes_total": rep.changes_total,
            "changes_by_status": {
                statuses.get(k, "–") if k else "–": n for k, n in rep.changes_by_status.items()
            },
        },
    )


_BUILDERS = {
    "period": build_period,
    "time_of_day": build_time_of_day,
    "agents": build_agents,
    "customers": build_customers,
    "statuses": build_statuses,
}


def _run(ctx: ApiContext, name: str, p: Params) -> Report:
    if name != "agents":
        _no_agents(p.user)
    try:
        return _BUILDERS[name](ctx, p)
    except ReportError as exc:
        raise invalid(exc.field, exc.problem) from None


def _customer_extra(
    p: Params,
    list_: int | None,
    view: CustomerView,
    page: int,
    page_size: int,
) -> Params:
    p.extra.update(list=list_, view=view, limit=page_size, offset=(page - 1) * page_size)
    return p


ListParam = Annotated[int | None, Query(alias="list", ge=1, le=MAX_ID)]


@router.get("/period")
def report_period(ctx: Ctx, p: P) -> Report:
    """Calls by period (day/week/month/quarter/year over a custom range of local days),
    optionally per campaign, group or agent: dials, persons, connected, dropped (and
    abandonment %), no answer, busy, machine, failed; talk, wait and wrap-up seconds."""
    return _run(ctx, "period", p)


@router.get("/time_of_day")
def report_time_of_day(ctx: Ctx, p: P) -> Report:
    """Calls by local hour of day (counts and % of the range's dials)."""
    return _run(ctx, "time_of_day", p)


@router.get("/agents")
def report_agents(ctx: Ctx, p: P) -> Report:
    """Per agent (by=group: per group): calls, talk/wait/wrap-up, statuses set, callbacks
    booked. An agent sees itself only."""
    return _run(ctx, "agents", p)


@router.get("/customers")
def report_customers(  # noqa: PLR0917
    ctx: Ctx,
    p: P,
    list_: ListParam = None,
    view: CustomerView = CustomerView.ALL,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Report:
    """Records called in the range: attempts distribution, first and last contact, last
    not answered, never reached (per campaign and list)."""
    return _run(ctx, "customers", _customer_extra(p, list_, view, page, page_size))


@router.get("/statuses")
def report_statuses(ctx: Ctx, p: P, list_: ListParam = None) -> Report:
    """Records by status and system status now, and the statuses set in the range."""
    p.extra["list"] = list_
    return _run(ctx, "statuses", p)


class RecentCall(BaseModel):
    """A call of the dashboard's last-20 lists."""

    id: int
    dial_at: dt.datetime
    campaign_id: int
    phone: str
    agent_id: int | None
    agent_name: str | None
    outcome: str | None
    talk_s: float | None
    recording_ref: str | None


class Recent(BaseModel):
    """The dashboard's recent days: calls per day, per agent, the last 20 answered and the
    last 20 missed calls (in the reader's scope)."""

    tz: str
    start: dt.datetime
    end: dt.datetime
    per_day: list[dict[str, Any]]
    per_agent: list[dict[str, Any]]
    last_answered: list[RecentCall]
    last_missed: list[RecentCall]


@router.get("/recent")
def report_recent(
    user: CurrentUser,
    ctx: Ctx,
    days: Annotated[int, Query(ge=1, le=31, description="Today and the days before")] = 1,
    tz: Annotated[str, Query(max_length=64)] = "UTC",
    campaign: IdParam = None,
) -> Recent:
    """Today, the last 3 or the last 7 days (``days``): calls per local day, per agent, and
    the last 20 answered and the last 20 missed calls (the dashboard's period view)."""
    _no_agents(user)
    try:
        zone_info = zone(tz)
        today = dt.datetime.now(zone_info).date()
        first = today - dt.timedelta(days=days - 1)
        start, end = local_range(first, today, zone_info)
        check_zone(zone_info, start, end)
    except ReportError as exc:
        raise invalid(exc.field, exc.problem) from None
    scope = Scope(start=start, end=end, campaign_id=campaign, agents=scope_of(ctx, user))
    with ctx.db.connect() as conn:
        per_day = period_report(
            conn, scope, first_day=first, last_day=today, tz=zone_info, period=Period.DAY,
            dim=Dim.NONE,
        )  # fmt: skip
        lines = agents_report(conn, scope, dim=Dim.AGENT, now=ctx.clock())
        answered = recent_calls(conn, scope, answered=True)
        missed = recent_calls(conn, scope, answered=False)
        keys = {line.key for line in lines} | {
            int(c["agent_id"]) for c in answered + missed if c["agent_id"]
        }
        names = _names(conn, Dim.AGENT, keys)
    day = first
    days_out = []
    while day <= today:
        m = per_day.by_bucket.get(day, {})
        days_out.append({"date": day.isoformat(), **{k: m.get(k, 0) for k in FIGURES}})
        day += dt.timedelta(days=1)
    return Recent(
        tz=tz,
        start=start,
        end=end,
        per_day=days_out,
        per_agent=[
            {"agent_id": line.key, "agent_name": names.get(line.key), **line.metrics}
            for line in lines
        ],
        last_answered=[RecentCall(**c, agent_name=names.get(c["agent_id"] or 0)) for c in answered],
        last_missed=[RecentCall(**c, agent_name=names.get(c["agent_id"] or 0)) for c in missed],
    )


_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report's table",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    },
    403: {"description": "Export is limited to administrators, or a filter is out of scope"},
}


@router.get("/{name}/export", response_class=Response, responses=_EXPORT_RESPONSES)
def export_report(  # noqa: PLR0917
    name: str,
    user: CurrentUser,
    ctx: Ctx,
    p: P,
    fmt: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.CSV,
    list_: ListParam = None,
    view: CustomerView = CustomerView.ALL,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """A report's table as CSV or XLSX: the same rows as on the page (audited)."""
    if name not in _BUILDERS:
        raise invalid("name", f"one of {', '.join(REPORTS)}", where="path")
    check_export(ctx, user)
    _customer_extra(p, list_, view, page, page_size)
    report = _run(ctx, name, p)
    with ctx.session() as session:
        audit(
            session,
            actor=user.actor,
            action="report_exported",
            entity="report",
            entity_id=name,
            details={
                "format": fmt.value,
                "rows": len(report.table.rows),
                "from": p.first_day.isoformat(),
                "to": p.last_day.isoformat(),
                "tz": p.tz_name,
                "campaign": p.scope.campaign_id,
                "agent": p.scope.agent_id,
                "group": p.scope.group_id,
                "period": p.period.value,
                "by": p.dim.value,
            },
        )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
    return export_response(
        fmt,
        f"report-{name}-{stamp}",
        report.table.columns,
        report.table.rows,
        sheet=name,
    )
