"""Campaign-core commands: database, statuses, campaigns, the demo and ``bench select``.

Every command reads the settings once (``--config FILE``, else ``$DIALER_CONFIG``, else
``config/dialer.toml``; ``DIALER_*`` variables override) and works on
``settings.database.url``. A wrong value gives ``error: …`` naming what is wrong and
exit status 2.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from campaigns.db import create_schema, make_engine
from campaigns.enums import CampaignState, OwnerAbsentPolicy, SystemStatus
from campaigns.migrate import current_revision, head_revision, initialize
from campaigns.models import Campaign, StatusDef, utcnow
from campaigns.service import (
    CampaignSummary,
    create_campaign,
    get_campaign,
    list_campaigns,
    validate_rules,
)
from campaigns.service import summarize as summarize_campaign
from campaigns.statuses import (
    attach_status,
    audit,
    create_status,
    deactivate_status,
    detach_status,
    edit_status,
    get_status,
    list_statuses,
)
from dialer.config import Settings, load_settings
from dialer.errors import ROOT_ERRORS
from dialer.logging import configure_logging


class _CallConsole:
    """A rich console made when it prints, so it sees the terminal (and ``COLUMNS``) of the
    command being run, not the one of the process that imported this module."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr

    def __getattr__(self, name: str) -> object:
        return getattr(Console(stderr=self._stderr), name)


console: Console = _CallConsole()  # type: ignore[assignment]
err_console: Console = _CallConsole(stderr=True)  # type: ignore[assignment]

SYSTEM_HELP = "System status: " + ", ".join(status.value for status in SystemStatus) + "."
AUTO_HELP = (
    "Set this status automatically when the call ends with: busy, no_answer, congestion, "
    "machine, dropped or invalid ('none' to clear)."
)


@dataclass
class CliState:
    """What the root command passes to sub-commands."""

    config: Path | None = None
    settings: Settings | None = None


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` to stderr and stop with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def get_settings(ctx: typer.Context) -> Settings:
    """The validated settings, read once per command line (config errors end the command)."""
    root = ctx.find_root()
    state = root.obj if isinstance(root.obj, CliState) else CliState()
    root.obj = state
    if state.settings is None:
        try:
            state.settings = load_settings(state.config)
        except ROOT_ERRORS as exc:
            fail(str(exc))
        configure_logging(
            level=state.settings.logging.level, json=state.settings.logging.json_lines
        )
    return state.settings


def print_figures(
    result: dict[str, Any], title: str, *, as_json: bool, hide: set[str] | None = None
) -> None:
    """A benchmark's figures: JSON, or a table titled ``title on DATABASE``."""
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table(title=f"{title} on {result['database']}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key not in (hide or set()):
            table.add_row(key, str(value))
    console.print(table)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextmanager
def _database(ctx: typer.Context, *, write: bool = False) -> Iterator[Session]:
    """A session on the configured database, which must have been upgraded."""
    settings = get_settings(ctx)
    engine = make_engine(settings.database.url)
    try:
        try:
            revision = current_revision(engine)
        except sa.exc.OperationalError as exc:
            fail(f"database {settings.database.safe_url()}: cannot connect ({exc.orig})", 1)
        if revision != head_revision():
            fail(
                f"database {settings.database.safe_url()} is not initialized "
                f"(revision {revision or 'none'}, need {head_revision()}): run `dialer db upgrade`"
            )
        with Session(engine) as session:
            try:
                yield session
                if write:
                    session.commit()
            except ROOT_ERRORS as exc:
                session.rollback()
                fail(str(exc))
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- output


def _status_table(rows: list[StatusDef], title: str) -> Table:
    table = Table(title=title)
    for column in ("id", "name", "system status", "auto when", "new campaigns", "hidden", "active"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.id),
            row.name,
            str(row.system_status),
            row.auto_outcome or "",
            "yes" if row.add_to_new_campaigns else "",
            "yes" if row.hidden else "",
            "yes" if row.active else "no",
        )
    return table


def _summary_json(summary: CampaignSummary) -> dict[str, Any]:
    campaign = summary.campaign
    return {
        "id": campaign.id,
        "name": campaign.name,
        "state": str(campaign.state),
        "rules": {
            "pacing_profile": campaign.pacing_profile,
            "max_attempts": campaign.max_attempts,
            "retry_delays_s": campaign.retry_delays_s,
            "window": f"{campaign.window_start}-{campaign.window_end}",
            "window_days": campaign.window_days,
            "default_region": campaign.default_region,
            "default_tz": campaign.default_tz,
            "owner_absent_policy": str(campaign.owner_absent_policy),
            "owner_absent_release_min": campaign.owner_absent_release_min,
            "max_wait_s": campaign.max_wait_s,
            "caller_id": campaign.caller_id,
        },
        "statuses": [
            {"name": row.name, "system_status": str(row.system_status), "auto": row.auto_outcome}
            for row in summary.statuses
        ],
        "records": {
            "total": summary.total,
            "by_system_status": summary.by_system_status,
            "due_now": summary.due_now,
            "waiting": summary.waiting,
            "outside_window": summary.outside_window,
            "in_flight": summary.in_flight,
            "dnc": summary.dnc,
            "exhausted": summary.exhausted,
        },
        "open_zones": summary.open_zones,
        "closed_zones": summary.closed_zones,
    }


def print_summary(summary: CampaignSummary, now: dt.datetime) -> None:
    """Rich tables: rules, statuses, record counts."""
    campaign = summary.campaign
    rules = Table(title=f"Campaign {campaign.name} (id {campaign.id}, {campaign.state})")
    rules.add_column("rule")
    rules.add_column("value")
    days = ",".join(str(day) for day in campaign.window_days)
    for key, value in (
        ("calling window", f"{campaign.window_start}-{campaign.window_end}, days {days}"),
        ("max attempts", str(campaign.max_attempts)),
        ("retry delays (s)", json.dumps(campaign.retry_delays_s)),
        ("pacing profile", campaign.pacing_profile),
        (
            "owner absent",
            f"{campaign.owner_absent_policy} ({campaign.owner_absent_release_min} min)",
        ),
        ("max wait (s)", str(campaign.max_wait_s)),
        ("default region / zone", f"{campaign.default_region} / {campaign.default_tz or '-'}"),
    ):
        rules.add_row(key, value)
    console.print(rules)
    console.print(_status_table(summary.statuses, "Statuses offered to agents"))
    counts = Table(title=f"Records at {now:%Y-%m-%d %H:%M} UTC")
    counts.add_column("records")
    counts.add_column("count", justify="right")
    for status, count in sorted(summary.by_system_status.items()):
        counts.add_row(f"system status {status}", str(count))
    for label, number in (
        ("total", summary.total),
        ("due now (window open)", summary.due_now),
        ("due, window closed", summary.outside_window),
        ("waiting for a later time", summary.waiting),
        ("in flight (leased)", summary.in_flight),
        ("on a DNC list", summary.dnc),
        ("max attempts reached", summary.exhausted),
    ):
        counts.add_row(label, str(number))
    console.print(counts)
    if summary.closed_zones:
        console.print(f"window closed now in: {', '.join(summary.closed_zones)}", highlight=False)


def _parse_window(text: str) -> tuple[str, str]:
    start, sep, end = text.partition("-")
    if not sep:
        fail(f"--window: {text!r} is not valid, expected START-END such as 09:00-20:00")
    return start.strip(), end.strip()


def _parse_days(text: str) -> list[int]:
    days: set[int] = set()
    try:
        for part in text.split(","):
            low, sep, high = part.strip().partition("-")
            if sep:
                days.update(range(int(low), int(high) + 1))
            else:
                days.add(int(low))
    except ValueError:
        fail(f"--days: {text!r} is not valid, expected weekdays such as 1-5 or 1,2,3,4,5,6")
    return sorted(days)


def _parse_retry(items: list[str]) -> dict[str, int]:
    delays: dict[str, int] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            fail(f"--retry: {item!r} is not valid, expected OUTCOME=SECONDS such as busy=600")
        delays[key.strip()] = int(value)
    return delays


def _optional_flag(value: bool | None, name: str, changes: dict[str, Any]) -> None:
    if value is not None:
        changes[name] = value


# --------------------------------------------------------------------------- commands


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add the campaign-core commands to the main app and to ``dialer bench``."""

    @app.callback()
    def root(
        ctx: typer.Context,
        config: Path | None = typer.Option(
            None,
            "--config",
            "-c",
            help="Settings file (TOML). Default: $DIALER_CONFIG, else config/dialer.toml.",
            show_default=False,
        ),
    ) -> None:
        """Predictive dialer campaign engine for Asterisk contact centers."""
        ctx.obj = CliState(config=config)

    db_app = typer.Typer(help="The database: create or upgrade its tables.", no_args_is_help=True)
    statuses_app = typer.Typer(
        help="The status dictionary: statuses agents give records after a call.",
        no_args_is_help=True,
    )
    campaign_app = typer.Typer(
        help="Campaigns: create, list, show, start, pause, stop.", no_args_is_help=True
    )
    app.add_typer(db_app, name="db")
    app.add_typer(statuses_app, name="statuses")
    app.add_typer(campaign_app, name="campaign")

    @db_app.command("upgrade")
    def db_upgrade(ctx: typer.Context) -> None:
        """Create the tables or bring them to the newest version; add the default statuses."""
        settings = get_settings(ctx)
        try:
            revision = initialize(settings.database.url, actor=_actor())
        except ROOT_ERRORS as exc:
            fail(str(exc), 1)
        except sa.exc.OperationalError as exc:
            fail(f"database {settings.database.safe_url()}: cannot connect ({exc.orig})", 1)
        console.print(f"database {settings.database.safe_url()} is at revision {revision}")

    # ------------------------------------------------------------------ statuses

    @statuses_app.command("list")
    def statuses_list(
        ctx: typer.Context,
        campaign: str | None = typer.Option(
            None, "--campaign", help="Show the statuses offered in this campaign instead."
        ),
    ) -> None:
        """List the dictionary statuses (or a campaign's statuses)."""
        with _database(ctx) as session:
            if campaign is None:
                rows = list_statuses(session)
                title = "Status dictionary"
            else:
                found = get_campaign(session, campaign)
                rows = summarize_campaign(session, found, utcnow()).statuses
                title = f"Statuses of campaign {found.name}"
            console.print(_status_table(rows, title))

    @statuses_app.command("add")
    def statuses_add(  # noqa: PLR0917  (typer: each option is a parameter)
        ctx: typer.Context,
        name: str = typer.Argument(..., help="Name agents see, e.g. 'Wstępnie zainteresowany'."),
        system: str = typer.Option(..., "--system", "-s", help=SYSTEM_HELP),
        auto: str | None = typer.Option(None, "--auto", help=AUTO_HELP),
        new_campaigns: bool = typer.Option(
            False, "--new-campaigns", help="Add it to every campaign created from now on."
        ),
        hidden: bool = typer.Option(False, "--hidden", help="Hide it from agents."),
        inactive: bool = typer.Option(False, "--inactive", help="Create it switched off."),
        campaign: str | None = typer.Option(
            None, "--campaign", help="Make it a campaign-only status of this campaign."
        ),
    ) -> None:
        """Add a status to the dictionary (or to one campaign only, with --campaign)."""
        with _database(ctx, write=True) as session:
            campaign_id = get_campaign(session, campaign).id if campaign else None
            row = create_status(
                session,
                name=name,
                system_status=system,
                auto_outcome=auto,
                add_to_new_campaigns=new_campaigns,
                hidden=hidden,
                active=not inactive,
                campaign_id=campaign_id,
                actor=_actor(),
            )
            session.flush()
            console.print(f"added status {row.name!r} (id {row.id}, {row.system_status})")

    @statuses_app.command("edit")
    def statuses_edit(  # noqa: PLR0917  (typer: each option is a parameter)
        ctx: typer.Context,
        status: str = typer.Argument(..., help="Name or id of the status."),
        name: str | None = typer.Option(None, "--name", help="New name."),
        system: str | None = typer.Option(None, "--system", "-s", help=SYSTEM_HELP),
        auto: str | None = typer.Option(None, "--auto", help=AUTO_HELP),
        new_campaigns: bool | None = typer.Option(
            None, "--new-campaigns/--no-new-campaigns", help="Add to every new campaign or not."
        ),
        hidden: bool | None = typer.Option(None, "--hidden/--visible", help="Hide from agents."),
        active: bool | None = typer.Option(None, "--active/--inactive", help="Switch on or off."),
        campaign: str | None = typer.Option(
            None, "--campaign", help="The campaign of a campaign-only status."
        ),
    ) -> None:
        """Change a status: its name, system status, automatic outcome or flags."""
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if system is not None:
            changes["system_status"] = system
        if auto is not None:
            changes["auto_outcome"] = None if auto.lower() == "none" else auto
        _optional_flag(new_campaigns, "add_to_new_campaigns", changes)
        _optional_flag(hidden, "hidden", changes)
        _optional_flag(active, "active", changes)
        if not changes:
            fail("nothing to change: give at least one of --name, --system, --auto, flags")
        with _database(ctx, write=True) as session:
            campaign_id = get_campaign(session, campaign).id if campaign else None
            row = get_status(session, status, campaign_id=campaign_id)
            row = edit_status(session, row.id or 0, actor=_actor(), **changes)
            console.print(f"changed status {row.name!r} (id {row.id})")

    @statuses_app.command("deactivate")
    def statuses_deactivate(
        ctx: typer.Context, status: str = typer.Argument(..., help="Name or id of the status.")
    ) -> None:
        """Switch a status off: agents no longer see it; records keep it."""
        with _database(ctx, write=True) as session:
            row = get_status(session, status)
            deactivate_status(session, row.id or 0, actor=_actor())
            console.print(f"deactivated status {row.name!r}")

    @statuses_app.command("attach")
    def statuses_attach(
        ctx: typer.Context,
        status: str = typer.Argument(..., help="Name or id of a dictionary status."),
        campaign: str = typer.Option(..., "--campaign", help="Campaign name or id."),
    ) -> None:
        """Offer a dictionary status to agents of a campaign."""
        with _database(ctx, write=True) as session:
            found = get_campaign(session, campaign)
            row = attach_status(session, found.id or 0, status, actor=_actor())
            console.print(f"campaign {found.name!r} now offers {row.name!r}")

    @statuses_app.command("detach")
    def statuses_detach(
        ctx: typer.Context,
        status: str = typer.Argument(..., help="Name or id of the status."),
        campaign: str = typer.Option(..., "--campaign", help="Campaign name or id."),
    ) -> None:
        """Stop offering a status in a campaign."""
        with _database(ctx, write=True) as session:
            found = get_campaign(session, campaign)
            detach_status(session, found.id or 0, status, actor=_actor())
            console.print(f"campaign {found.name!r} no longer offers {status!r}")

    # ----------------------------------------------------------------- campaigns

    @campaign_app.command("create")
    def campaign_create(  # noqa: PLR0917  (typer: each option is a parameter)
        ctx: typer.Context,
        name: str = typer.Argument(..., help="Unique campaign name."),
        description: str = typer.Option("", "--description", help="Free text."),
        max_attempts: int = typer.Option(5, "--max-attempts", help="Dials per record, at most."),
        window: str = typer.Option(
            "09:00-20:00", "--window", help="Calling hours in the called person's local time."
        ),
        days: str = typer.Option("1-6", "--days", help="Weekdays 1=Monday … 7=Sunday: 1-5, 1,3,5."),
        retry: list[str] = typer.Option(
            [],
            "--retry",
            help="Redial delay per outcome, OUTCOME=SECONDS (repeatable): default=3600, busy=600.",
        ),
        region: str = typer.Option("PL", "--region", help="Region for numbers without +prefix."),
        tz: str | None = typer.Option(None, "--tz", help="Zone when a number gives none."),
        owner_absent: OwnerAbsentPolicy = typer.Option(
            OwnerAbsentPolicy.KEEP_WAITING,
            "--owner-absent",
            help="Due callback whose owner is away: keep_waiting, or release to anyone.",
        ),
        release_after: int = typer.Option(
            30, "--release-after-min", help="With release: minutes after due before anyone may."
        ),
        caller_id: str | None = typer.Option(None, "--caller-id", help="E.164 number shown."),
        pacing: str | None = typer.Option(None, "--pacing", help="Pacing profile name."),
        hours: str | None = typer.Option(
            None, "--hours", help="The campaign's own operating hours, e.g. 08:00-18:00."
        ),
        hours_tz: str = typer.Option("UTC", "--hours-tz", help="Zone of --hours."),
    ) -> None:
        """Create a campaign; statuses flagged "add to every new campaign" are attached."""
        start, end = _parse_window(window)
        hours_start, hours_end = _parse_window(hours) if hours else (None, None)
        values: dict[str, Any] = {
            "name": name,
            "description": description,
            "max_attempts": max_attempts,
            "window_start": start,
            "window_end": end,
            "window_days": _parse_days(days),
            "default_region": region,
            "default_tz": tz,
            "owner_absent_policy": owner_absent,
            "owner_absent_release_min": release_after,
            "hours_start": hours_start,
            "hours_end": hours_end,
            "hours_tz": hours_tz,
            "caller_id": caller_id,
            "pacing_profile": pacing or get_settings(ctx).pacing.default_profile,
        }
        if retry:
            values["retry_delays_s"] = _parse_retry(retry)
        try:
            rules = validate_rules(**values)
        except ROOT_ERRORS as exc:
            fail(str(exc))
        with _database(ctx, write=True) as session:
            campaign = create_campaign(session, rules, actor=_actor())
            session.flush()
            console.print(f"created campaign {campaign.name!r} (id {campaign.id})")

    @campaign_app.command("list")
    def campaign_list(
        ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="JSON output.")
    ) -> None:
        """List campaigns with their state and number of records."""
        with _database(ctx) as session:
            rows: list[Campaign] = list_campaigns(session)
            rows_per_campaign = session.execute(
                sa.text("SELECT campaign_id, count(*) FROM record GROUP BY campaign_id")
            )
            counts: dict[int | None, int] = {row[0]: row[1] for row in rows_per_campaign}
            if as_json:
                typer.echo(
                    json.dumps(
                        [
                            {
                                "id": row.id,
                                "name": row.name,
                                "state": str(row.state),
                                "records": counts.get(row.id, 0),
                            }
                            for row in rows
                        ]
                    )
                )
                return
            table = Table(title="Campaigns")
            for column in ("id", "name", "state", "records", "window", "max attempts"):
                table.add_column(column)
            for row in rows:
                table.add_row(
                    str(row.id),
                    row.name,
                    str(row.state),
                    str(counts.get(row.id, 0)),
                    f"{row.window_start}-{row.window_end}",
                    str(row.max_attempts),
                )
            console.print(table)

    @campaign_app.command("show")
    def campaign_show(
        ctx: typer.Context,
        campaign: str = typer.Argument(..., help="Campaign name or id."),
        as_json: bool = typer.Option(False, "--json", help="JSON output."),
    ) -> None:
        """Show a campaign's rules, statuses and where its records stand now."""
        now = utcnow()
        with _database(ctx) as session:
            summary = summarize_campaign(session, get_campaign(session, campaign), now)
            if as_json:
                typer.echo(json.dumps(_summary_json(summary)))
            else:
                print_summary(summary, now)

    def _set_state(ctx: typer.Context, campaign: str, state: CampaignState, verb: str) -> None:
        with _database(ctx, write=True) as session:
            row = get_campaign(session, campaign)
            before = row.state
            row.state = state
            row.paused_reason = None  # a person decided: the engine's reason no longer holds
            row.updated_at = utcnow()
            session.add(row)
            audit(
                session,
                actor=_actor(),
                action=f"campaign.{verb}",
                entity="campaign",
                entity_id=row.id,
                details={"from": str(before), "to": state.value},
            )
            console.print(
                f"campaign {row.name!r}: {before} → {state.value} "
                "(a running engine follows within 2 s)",
                highlight=False,
            )

    @campaign_app.command("start")
    def campaign_start(
        ctx: typer.Context,
        campaign: str = typer.Argument(..., help="Campaign name or id."),
    ) -> None:
        """Start dialing a campaign (the engine picks it up within 2 s)."""
        _set_state(ctx, campaign, CampaignState.RUNNING, "start")

    @campaign_app.command("pause")
    def campaign_pause(
        ctx: typer.Context,
        campaign: str = typer.Argument(..., help="Campaign name or id."),
    ) -> None:
        """Stop placing new calls; calls in progress finish normally."""
        _set_state(ctx, campaign, CampaignState.PAUSED, "pause")

    @campaign_app.command("stop")
    def campaign_stop(
        ctx: typer.Context,
        campaign: str = typer.Argument(..., help="Campaign name or id."),
    ) -> None:
        """Stop the campaign: calls still ringing are hung up, answered ones finish."""
        _set_state(ctx, campaign, CampaignState.STOPPED, "stop")

    # --------------------------------------------------------------------- demo

    @app.command("demo-db")
    def demo_db(
        db: Path = typer.Option(
            Path("var/demo.db"), "--db", help="SQLite file to (re)create for the demo."
        ),
        records: int = typer.Option(3000, "--records", min=1, max=1_000_000, help="List size."),
        fresh: bool = typer.Option(
            False,
            "--fresh",
            "--yes",
            help="Replace an existing --db file without asking (otherwise asked on a "
            "terminal, refused without one).",
        ),
    ) -> None:
        """Build a demo database (statuses, a campaign, a generated list) and show it."""
        from campaigns.demo import build_demo
        from campaigns.selection import claim
        from dialer.cli.replace import may_replace

        may_replace(db, fresh=fresh)
        db.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{db}")
        now = utcnow()
        try:
            cid = build_demo(engine, records=records, now=now)
            got = claim(engine, cid, 20, now, engine_id="demo", lease_s=120)
            with Session(engine) as session:
                summary = summarize_campaign(session, get_campaign(session, cid), now)
                print_summary(summary, now)
        finally:
            engine.dispose()
        tiers: dict[str, int] = {}
        for item in got:
            tiers[item.tier.name] = tiers.get(item.tier.name, 0) + 1
        console.print(
            f"demo engine claimed {len(got)} records to dial now: {tiers or 'none (window closed)'}"
        )
        console.print(
            f"database: {db}; look again with: "
            f"DIALER_DATABASE__URL=sqlite:///{db} dialer campaign show {cid}",
            highlight=False,
        )

    # ---------------------------------------------------------------- benchmark

    @bench.command("calls")
    def bench_calls(
        rows: int = typer.Option(
            1_000_000, "--rows", min=1000, max=20_000_000, help="Call-log rows to write."
        ),
        db_url: str | None = typer.Option(
            None,
            "--db-url",
            help="An EMPTY database to fill (tables created). Default: a temporary SQLite file.",
        ),
        rounds: int = typer.Option(20, "--rounds", min=3, help="Timings per query."),
        as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    ) -> None:
        """Time the call-log queries of the pages (one page of 50 rows per filter, and an
        export of one campaign) on a call log of N rows."""
        from dialer.api.bench import build_call_log, run_calls_bench

        with tempfile.TemporaryDirectory(prefix="dialer-bench-") as tmp:
            url = db_url or f"sqlite:///{Path(tmp) / 'calls.db'}"
            engine = make_engine(url)
            try:
                create_schema(engine)
                t0 = time.perf_counter()
                built = build_call_log(engine, rows)
                fill_s = time.perf_counter() - t0
                result = {
                    "fill_s": round(fill_s, 1),
                    **run_calls_bench(engine, built, rounds=rounds),
                }
            except sa.exc.OperationalError as exc:
                fail(f"database {engine.url.render_as_string(hide_password=True)}: {exc.orig}", 1)
            finally:
                engine.dispose()
        print_figures(result, f"bench calls: {rows} call-log rows", as_json=as_json)

    @bench.command("reports")
    def bench_reports(
        rows: int = typer.Option(
            1_000_000, "--rows", min=1000, max=20_000_000, help="Calls to write (one year)."
        ),
        db_url: str | None = typer.Option(
            None,
            "--db-url",
            help="SQLite: an EMPTY database; PostgreSQL: the bench makes a schema of its own "
            "there and drops it. Default: a temporary SQLite file.",
        ),
        rounds: int = typer.Option(10, "--rounds", min=3, help="Timings per report."),
        as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    ) -> None:
        """Fill the report rollups for N calls (``fill_s``) and time each report over a month
        of all campaigns, and the time of day over the year (p50/p95 ms)."""
        from campaigns.report_bench import bench as reports_bench
        from campaigns.report_bench import bench_engine

        with tempfile.TemporaryDirectory(prefix="dialer-bench-") as tmp:
            try:
                with bench_engine(db_url, tmp) as engine:
                    result = reports_bench(engine, rows, rounds=rounds)
            except sa.exc.OperationalError as exc:
                fail(f"database {db_url or 'sqlite'}: {exc.orig}", 1)
        flat = {
            k: (json.dumps(v) if isinstance(v, dict) and not as_json else v)
            for k, v in result.items()
        }
        print_figures(flat, f"bench reports: {rows} calls", as_json=as_json)

    @bench.command("select")
    def bench_select(
        records: int = typer.Option(
            1_000_000, "--records", min=1000, max=20_000_000, help="Records in the campaign."
        ),
        db_url: str | None = typer.Option(
            None,
            "--db-url",
            help="Database to run on (tables created if missing; the bench campaign is "
            "deleted after). Default: a temporary SQLite file.",
        ),
        rounds: int = typer.Option(200, "--rounds", min=5, help="Claims timed."),
        batch: int = typer.Option(100, "--batch", min=1, help="Records per claim."),
        as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    ) -> None:
        """Time claims of 100 records from a campaign of N records (median target ≤ 20 ms).

        The campaign mixes 70 % fresh records, 20 % retries due later, 5 % callbacks and
        5 % numbers on the DNC list, over several time zones.
        """
        from campaigns.bench import build_select_campaign, drop_campaign, run_select_bench

        with tempfile.TemporaryDirectory(prefix="dialer-bench-") as tmp:
            url = db_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
            engine = make_engine(url)
            try:
                create_schema(engine)
                built = build_select_campaign(engine, records)
                try:
                    result = run_select_bench(engine, built, rounds=rounds, batch=batch)
                finally:
                    if db_url is not None:
                        drop_campaign(engine, built.campaign_id)
            except sa.exc.OperationalError as exc:
                fail(f"database {engine.url.render_as_string(hide_password=True)}: {exc.orig}", 1)
            finally:
                engine.dispose()
        print_figures(
            result, f"bench select: {records} records", as_json=as_json, hide={"mix", "zone_keys"}
        )
