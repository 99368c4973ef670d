"""List import, do-not-call and import benchmark commands.

``dialer import FILE --campaign NAME`` imports a CSV/XLSX list; ``dialer dnc …`` manages
the do-not-call lists; ``dialer bench import --rows N`` measures the import end to end.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table

from dialer.errors import ROOT_ERRORS, DialerError

if TYPE_CHECKING:
    from campaigns.importer import ImportReport

T = TypeVar("T")

DEFAULT_DB_URL = "sqlite:///dialer.db"

DbUrl = Annotated[
    str | None,
    typer.Option(
        "--db-url",
        envvar="DIALER_DB_URL",
        help="Database URL (SQLite file or postgresql+psycopg://…); default: database.url "
        "of the settings (--config).",
        show_default=False,
    ),
]


def _fail(exc: Exception) -> typer.Exit:
    """Print ``error: …`` on stderr in one line and return the exit (status 2) to raise.

    Status 2 like usage errors and the campaign commands: the input named is wrong.
    """
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {exc}", highlight=False)
    return typer.Exit(code=2)


def _quiet_logs() -> None:
    """Send logs to stderr (warnings and up) unless the application configured logging."""
    import structlog

    if not structlog.is_configured():
        from dialer.logging import configure_logging

        configure_logging(level="WARNING")


def _engine(db_url: str) -> sa.Engine:
    from campaigns.db import make_engine

    return make_engine(db_url)


class _NoSchemaError(DialerError):
    """The database has no campaign tables yet."""

    error_id = "no_schema"

    def __init__(self, url: str) -> None:
        super().__init__(
            f"database {url}: it has no campaign tables; run `dialer db upgrade` first"
        )


def _parse_map(items: list[str]) -> dict[str, str]:
    """``["phone=Telefon", "name=Imię"]`` → ``{"phone": "Telefon", "name": "Imię"}``."""
    mapping: dict[str, str] = {}
    for item in items:
        target, sep, header = item.partition("=")
        if not sep or not target.strip() or not header.strip():
            msg = f"{item!r}: expected FIELD=COLUMN, e.g. --map phone=Telefon"
            raise typer.BadParameter(msg, param_hint="--map")
        mapping[target.strip()] = header.strip()
    return mapping


def _parse_when(text: str | None, option: str) -> dt.datetime | None:
    """An ISO date or date-time (UTC unless it says otherwise), or None."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        msg = f"{text!r}: expected an ISO date such as 2026-12-31 or 2026-12-31T18:00+01:00"
        raise typer.BadParameter(msg, param_hint=option) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


# --- bench data ------------------------------------------------------------------------

_FIRST = ("Anna", "Piotr", "Katarzyna", "Tomasz", "Małgorzata", "Łukasz", "Zofia", "Jan")
_LAST = ("Nowak", "Kowalski", "Wiśniewska", "Wójcik", "Kamińska", "Lewandowski", "Zieliński")
_CITIES = ("Warszawa", "Kraków", "Łódź", "Wrocław", "Berlin", "London", "New York", "Paris")
_PL_MOBILE = ("50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88")
_INVALID = ("12345", "abc-def", "+48 12", "+999 123456789", "0048 000", "n/a", "+1 000 000 0000")


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randrange(10**n)).zfill(n)


def _valid_number(rng: random.Random) -> str:
    """A realistic, valid number in one of the formats people type (several countries)."""
    pick = rng.random()
    if pick < 0.45:
        body = rng.choice(_PL_MOBILE) + _digits(rng, 7)
        style = rng.randrange(4)
        if style == 0:
            return f"+48 {body[:3]} {body[3:6]} {body[6:]}"
        if style == 1:
            return f"{body[:3]}-{body[3:6]}-{body[6:]}"
        if style == 2:
            return f"0048{body}"
        return body
    if pick < 0.6:
        return f"22 {rng.randrange(200, 900)} {_digits(rng, 2)} {_digits(rng, 2)}"
    if pick < 0.7:
        return rng.choice(("+49 30 ", "+49 151 ")) + _digits(rng, 8)
    if pick < 0.8:
        return "+44 20 7" + _digits(rng, 7) if rng.random() < 0.5 else "+44 7400 " + _digits(rng, 6)
    if pick < 0.9:
        area = rng.choice(("212", "415", "312", "305", "617"))
        return f"+1 ({area}) {rng.randrange(200, 1000)}-{_digits(rng, 4)}"
    return f"+33 6 {rng.randrange(10, 39)} " + " ".join(_digits(rng, 2) for _ in range(3))


def write_bench_csv(path: Path, rows: int, *, seed: int = 42) -> None:
    """A semicolon CSV with Polish headers: ~2 % invalid numbers, ~1 % duplicates."""
    rng = random.Random(seed)
    recent: list[str] = []
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(["Telefon", "Imię", "Nazwisko", "Miasto", "Kwota", "Segment", "Strefa"])
        for i in range(rows):
            pick = rng.random()
            if pick < 0.02:
                phone = rng.choice(_INVALID)
            elif pick < 0.03 and recent:
                phone = rng.choice(recent)
            else:
                phone = _valid_number(rng)
                if len(recent) < 1000:
                    recent.append(phone)
                else:
                    recent[i % 1000] = phone
            zone = "Europe/Warsaw" if rng.random() < 0.05 else ""
            writer.writerow(
                [
                    phone,
                    rng.choice(_FIRST),
                    rng.choice(_LAST),
                    rng.choice(_CITIES),
                    f"{rng.randrange(10, 100000) / 100:.2f}",
                    rng.choice(("A", "B", "C")),
                    zone,
                ]
            )


# --- commands ---------------------------------------------------------------------------

IMPORT_HELP = (
    "Import a contact list (CSV or XLSX) into a campaign.\n\n"
    "Every row is checked: the phone number is normalised to E.164 and must be valid; "
    "numbers on a do-not-call list, already in the campaign or repeated in the file are "
    "rejected. Rejected rows are listed with their line number and the reason; the valid "
    "rows are imported as a new list. Try --dry-run first.\n\n"
    'Example: dialer import klienci.csv --campaign "Sprzedaż" --map phone=Telefon --dry-run'
)
BENCH_IMPORT_HELP = (
    "Generate a CSV of --rows realistic rows and import it end to end; print rows/s.\n\n"
    "The rows mix Polish, German, British, US and French numbers in the formats people "
    "type, with about 2 % invalid numbers, 1 % duplicates and custom fields. The import "
    "(reading, validation, E.164 normalisation, duplicate and DNC checks, inserts) is timed "
    "into a fresh SQLite database unless --db-url is given."
)


def _settings_url(ctx: typer.Context) -> str:
    """The database URL of the settings chosen by the global ``--config`` option."""
    from dialer.cli.campaign_cmds import get_settings

    return get_settings(ctx).database.url


def _park_after(engine: sa.Engine, result: T) -> T:
    """Move records now on a DNC list out of the claim path of every campaign."""
    from campaigns.models import Campaign, utcnow
    from campaigns.selection import park_dnc_hits

    now = utcnow()
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(sa.select(Campaign.__table__.c.id))]  # type: ignore[attr-defined]
    for campaign_id in ids:
        park_dnc_hits(engine, campaign_id, now)
    return result


def _run(ctx: typer.Context, db_url: str | None, action: Callable[[sa.Engine], T]) -> T:
    """Run ``action`` on an engine; deliberate errors become a one-line message and exit 2."""
    from sqlalchemy.exc import OperationalError

    db_url = db_url or _settings_url(ctx)
    _quiet_logs()
    engine = _engine(db_url)
    try:
        return action(engine)
    except ROOT_ERRORS as exc:
        raise _fail(exc) from None
    except OperationalError as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            raise _fail(_NoSchemaError(db_url)) from None
        raise
    finally:
        engine.dispose()


def _print_import(report: ImportReport, shown: int, rejects_file: Path | None) -> None:
    console = Console()
    verb = "would import" if report.dry_run else "imported"
    title = f"{report.source} → campaign {report.campaign!r}" + (
        " (dry run: nothing written)" if report.dry_run else ""
    )
    summary = Table(title=title, show_header=False)
    summary.add_column("what")
    summary.add_column("rows", justify="right")
    summary.add_row("rows read", str(report.rows_read))
    summary.add_row(verb, f"[green]{report.imported}[/]")
    summary.add_row("rejected", f"[red]{report.rejected}[/]" if report.rejected else "0")
    for reason, count in sorted(report.rejected_by_reason.items()):
        summary.add_row(f"  {reason}", str(count))
    if report.list_id is not None:
        summary.add_row("list id", str(report.list_id))
    console.print(summary)
    mapping = ", ".join(f"{target} ← {header!r}" for target, header in report.mapping.items())
    console.print(f"columns: {mapping}", highlight=False)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    if report.rejects and shown:
        table = Table(title=f"first {min(shown, len(report.rejects))} rejected rows")
        table.add_column("line", justify="right")
        table.add_column("reason")
        table.add_column("detail")
        for reject in report.rejects[:shown]:
            table.add_row(str(reject.line), reject.reason.value, reject.detail)
        console.print(table)
    hidden = report.rejected - min(shown, len(report.rejects))
    if rejects_file is not None:
        console.print(f"all {report.rejected} rejected rows written to {rejects_file}")
    elif hidden > 0:
        console.print(
            f"{hidden} more rejected rows not shown: use --rejects FILE to get them all",
            highlight=False,
        )


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add this area's commands to the main app and to ``dialer bench``."""
    dnc = typer.Typer(
        help="Do-not-call lists: numbers never dialed (globally or in one campaign).",
        no_args_is_help=True,
    )
    app.add_typer(dnc, name="dnc")

    @app.command("import", help=IMPORT_HELP)
    def import_list(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="The list: a .csv or .xlsx file.")],
        *,
        campaign: Annotated[
            str, typer.Option("--campaign", "-c", help="Name of the campaign to import into.")
        ],
        mapping: Annotated[
            list[str] | None,
            typer.Option(
                "--map",
                "-m",
                metavar="FIELD=COLUMN",
                help="Which column feeds which field: phone, name, first_name, last_name, tz, "
                "or any custom field (repeat). Unmapped columns are recognised by their header "
                "(telefon/phone/numer, imię, nazwisko, strefa…) or kept as custom fields.",
            ),
        ] = None,
        region: Annotated[
            str | None,
            typer.Option(
                "--region", help="Country of numbers written without +CC (default: campaign's)."
            ),
        ] = None,
        tz: Annotated[
            str | None,
            typer.Option(
                "--tz",
                help="Time zone for rows without one, e.g. Europe/Warsaw (default: from the "
                "number).",
            ),
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Check the file and report; write nothing.")
        ] = False,
        rejects: Annotated[
            Path | None,
            typer.Option("--rejects", help="Also write the rejected rows to this CSV file."),
        ] = None,
        show: Annotated[
            int, typer.Option("--show", min=0, help="How many rejected rows to print.")
        ] = 20,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
        db_url: DbUrl = None,
    ) -> None:
        """Import a contact list (CSV or XLSX) into a campaign (help: IMPORT_HELP)."""
        from campaigns.importer import import_file

        fields = _parse_map(mapping or [])

        def action(engine: sa.Engine) -> ImportReport:
            return import_file(
                engine,
                file,
                campaign=campaign,
                mapping=fields or None,
                region=region,
                tz=tz,
                dry_run=dry_run,
                rejects_path=rejects,
            )

        report = _run(ctx, db_url, action)
        if as_json:
            print(json.dumps(report.as_dict(max_rejects=show), ensure_ascii=False))
        else:
            _print_import(report, show, rejects)

    @dnc.command("add")
    def dnc_add(
        ctx: typer.Context,
        phone: Annotated[str, typer.Argument(help="The number, e.g. +48601234567 or 601234567.")],
        *,
        campaign: Annotated[
            str | None,
            typer.Option("--campaign", "-c", help="Only for this campaign (default: global)."),
        ] = None,
        reason: Annotated[str, typer.Option("--reason", help="Why (kept with the entry).")] = "",
        expires: Annotated[
            str | None,
            typer.Option("--expires", help="Stop blocking after this date, e.g. 2027-01-31."),
        ] = None,
        region: Annotated[
            str | None, typer.Option("--region", help="Country of a number without +CC.")
        ] = None,
        actor: Annotated[str, typer.Option("--by", help="Who asks (for the audit log).")] = "cli",
        db_url: DbUrl = None,
    ) -> None:
        """Put a number on the global do-not-call list, or on one campaign's."""
        from campaigns.dnc import add_dnc

        until = _parse_when(expires, "--expires")
        e164, added = _run(
            ctx,
            db_url,
            lambda engine: _park_after(
                engine,
                add_dnc(
                    engine,
                    phone,
                    campaign=campaign,
                    reason=reason,
                    expires_at=until,
                    region=region,
                    actor=actor,
                ),
            ),
        )
        where = f"campaign {campaign!r}" if campaign else "the global list"
        state = "added to" if added else "already on (entry updated)"
        Console().print(f"{e164} {state} {where}", highlight=False)

    @dnc.command("remove")
    def dnc_remove(
        ctx: typer.Context,
        phone: Annotated[str, typer.Argument(help="The number to take off the list.")],
        *,
        campaign: Annotated[
            str | None,
            typer.Option("--campaign", "-c", help="From this campaign's list (default: global)."),
        ] = None,
        region: Annotated[
            str | None, typer.Option("--region", help="Country of a number without +CC.")
        ] = None,
        actor: Annotated[str, typer.Option("--by", help="Who asks (for the audit log).")] = "cli",
        db_url: DbUrl = None,
    ) -> None:
        """Take a number off the global do-not-call list, or off one campaign's."""
        from campaigns.dnc import remove_dnc

        e164 = _run(
            ctx,
            db_url,
            lambda engine: remove_dnc(engine, phone, campaign=campaign, region=region, actor=actor),
        )
        where = f"campaign {campaign!r}" if campaign else "the global list"
        Console().print(f"{e164} removed from {where}", highlight=False)

    @dnc.command("list")
    def dnc_list(
        ctx: typer.Context,
        *,
        campaign: Annotated[
            str | None,
            typer.Option("--campaign", "-c", help="Only this campaign's list."),
        ] = None,
        global_only: Annotated[
            bool, typer.Option("--global", help="Only the global list.")
        ] = False,
        expired: Annotated[
            bool, typer.Option("--expired", help="Include entries past their expiry.")
        ] = False,
        phone: Annotated[
            str | None, typer.Option("--phone", help="Only this number (is it listed?).")
        ] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
        db_url: DbUrl = None,
    ) -> None:
        """Show do-not-call entries of every list (global and campaigns), newest first."""
        from campaigns.dnc import list_dnc

        entries = _run(
            ctx,
            db_url,
            lambda engine: list_dnc(
                engine,
                campaign=campaign,
                global_only=global_only,
                include_expired=expired,
                phone=phone,
                limit=limit,
            ),
        )
        if as_json:
            for e in entries:
                print(
                    json.dumps(
                        {
                            "phone": e.phone,
                            "campaign": e.campaign,
                            "reason": e.reason,
                            "added_by": e.added_by,
                            "expires_at": e.expires_at.isoformat() if e.expires_at else None,
                            "created_at": e.created_at.isoformat(),
                        }
                    )
                )
            return
        table = Table(title=f"do-not-call entries ({len(entries)} shown)")
        for column in ("phone", "list", "reason", "added by", "expires", "added"):
            table.add_column(column)
        for e in entries:
            table.add_row(
                e.phone,
                e.campaign or "global",
                e.reason,
                e.added_by,
                f"{e.expires_at:%Y-%m-%d %H:%M}" if e.expires_at else "never",
                f"{e.created_at:%Y-%m-%d %H:%M}",
            )
        Console().print(table)

    @dnc.command("import")
    def dnc_import(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="A .csv or .xlsx file with a phone column.")],
        *,
        campaign: Annotated[
            str | None,
            typer.Option("--campaign", "-c", help="Into this campaign's list (default: global)."),
        ] = None,
        reason: Annotated[str, typer.Option("--reason", help="Why (kept with each entry).")] = "",
        expires: Annotated[
            str | None, typer.Option("--expires", help="Entries stop blocking after this date.")
        ] = None,
        column: Annotated[
            str | None,
            typer.Option("--column", help="Header of the phone column (default: recognised)."),
        ] = None,
        region: Annotated[
            str | None, typer.Option("--region", help="Country of numbers without +CC.")
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Check the file and report; write nothing.")
        ] = False,
        actor: Annotated[str, typer.Option("--by", help="Who asks (for the audit log).")] = "cli",
        db_url: DbUrl = None,
    ) -> None:
        """Add every number of a file to a do-not-call list; bad lines are reported."""
        from campaigns.dnc import import_dnc

        until = _parse_when(expires, "--expires")
        report = _run(
            ctx,
            db_url,
            lambda engine: _park_after(
                engine,
                import_dnc(
                    engine,
                    file,
                    campaign=campaign,
                    reason=reason,
                    expires_at=until,
                    region=region,
                    phone_column=column,
                    dry_run=dry_run,
                    actor=actor,
                ),
            ),
        )
        console = Console()
        verb = "would add" if dry_run else "added"
        console.print(
            f"{report.rows_read} rows: {verb} {report.added}, already listed "
            f"{report.already_listed}, rejected {report.rejected}",
            highlight=False,
        )
        for note in report.notes:
            console.print(f"[yellow]note:[/] {note}", highlight=False)
        for reject in report.rejects[:20]:
            console.print(f"  line {reject.line}: {reject.detail}", highlight=False)

    @bench.command("import", help=BENCH_IMPORT_HELP)
    def bench_import(
        rows: Annotated[int, typer.Option("--rows", min=1, help="Rows to generate.")] = 100_000,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
        db_url: Annotated[
            str | None,
            typer.Option("--db-url", help="Import into this database (default: a fresh SQLite)."),
        ] = None,
        seed: Annotated[int, typer.Option("--seed", help="Random seed of the data.")] = 42,
    ) -> None:
        """Measure list import end to end (help: BENCH_IMPORT_HELP)."""
        from campaigns.db import create_schema, make_engine

        _quiet_logs()
        from campaigns.importer import import_file
        from campaigns.models import Campaign

        with tempfile.TemporaryDirectory(prefix="dialer-bench-") as tmp:
            folder = Path(tmp)
            source = folder / "bench.csv"
            t0 = time.perf_counter()
            write_bench_csv(source, rows, seed=seed)
            generate_s = time.perf_counter() - t0
            engine = make_engine(db_url or f"sqlite:///{folder / 'bench.db'}")
            create_schema(engine)
            name = f"bench-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S%f}"
            from sqlmodel import Session

            with Session(engine) as session:
                session.add(Campaign(name=name, default_region="PL"))
                session.commit()
            t1 = time.perf_counter()
            report = import_file(engine, source, campaign=name)
            seconds = time.perf_counter() - t1
            engine.dispose()
        result = {
            "rows": rows,
            "imported": report.imported,
            "rejected": report.rejected,
            "rejected_by_reason": dict(sorted(report.rejected_by_reason.items())),
            "seconds": round(seconds, 3),
            "rows_per_s": round(rows / seconds, 1),
            "generate_seconds": round(generate_s, 3),
            "database": "sqlite (fresh file)" if db_url is None else "given --db-url",
        }
        if as_json:
            print(json.dumps(result))
            return
        table = Table(title="dialer bench import")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for key, value in result.items():
            table.add_row(key, str(value))
        Console().print(table)
