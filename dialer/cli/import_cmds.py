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
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dialer.errors import DialerError

DEFAULT_DB_URL = "sqlite:///dialer.db"

DbUrl = Annotated[
    str,
    typer.Option(
        "--db-url",
        envvar="DIALER_DB_URL",
        help="Database URL (SQLite file or postgresql+psycopg://…).",
        show_default=True,
    ),
]


def _fail(exc: DialerError) -> typer.Exit:
    """Print a deliberate error on stderr in one line and return the exit to raise."""
    Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
    return typer.Exit(code=2)


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


# --- commands --------------------------------------------------------------------------


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add this area's commands to the main app and to ``dialer bench``."""

    @bench.command("import")
    def bench_import(
        rows: Annotated[int, typer.Option("--rows", min=1, help="Rows to generate.")] = 100_000,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
        db_url: Annotated[
            str | None,
            typer.Option("--db-url", help="Import into this database (default: a fresh SQLite)."),
        ] = None,
        seed: Annotated[int, typer.Option("--seed", help="Random seed of the data.")] = 42,
    ) -> None:
        """Generate a CSV of ROWS realistic rows and import it end to end; print rows/s.

        The rows mix Polish, German, British, US and French numbers in the formats people
        type, with about 2 % invalid numbers, 1 % duplicates and custom fields. The import
        (reading, validation, E.164 normalisation, duplicate and DNC checks, inserts) is
        timed into a fresh SQLite database unless --db-url is given.
        """
        from campaigns.db import create_schema, make_engine
        from dialer.logging import configure_logging

        configure_logging(level="WARNING")
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

    del app
