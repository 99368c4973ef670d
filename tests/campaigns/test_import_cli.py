"""The import, dnc and bench import commands: output a supervisor can follow, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from campaigns.db import create_schema, make_engine
from campaigns.models import Campaign
from dialer.cli import app


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite database with the campaigns "Sprzedaż" and "Ankieta"."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    create_schema(engine)
    with Session(engine) as session:
        session.add(Campaign(name="Sprzedaż"))
        session.add(Campaign(name="Ankieta"))
        session.commit()
    engine.dispose()
    return url


def run(*args: str) -> tuple[int, str, str]:
    """Run ``dialer ARGS``; return (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_import_prints_summary_and_first_rejects(db_url: str, tmp_path: Path) -> None:
    """`dialer import` shows counts per reason and the rejected lines with their reasons."""
    source = tmp_path / "lista.csv"
    source.write_text("Numer;Klient\n601234567;Anna\nxyz;Bad\n601234567;Dup\n", encoding="utf-8")
    code, out, _err = run("import", str(source), "--campaign", "Sprzedaż", "--db-url", db_url)
    assert code == 0
    assert "imported" in out
    assert "invalid_number" in out
    assert "+48601234567 duplicates line 2" in out
    assert "'xyz' is not a phone number" in out


def test_import_json_dry_run_and_rejects_file(db_url: str, tmp_path: Path) -> None:
    """--json --dry-run prints the report as JSON; --rejects writes the rejected rows."""
    source = tmp_path / "lista.csv"
    source.write_text("tel,imię\n601234567,Anna\n,Brak\n", encoding="utf-8")
    rejects = tmp_path / "rej.csv"
    code, out, _err = run(
        "import",
        str(source),
        "-c",
        "Sprzedaż",
        "--dry-run",
        "--json",
        "--rejects",
        str(rejects),
        "--db-url",
        db_url,
    )
    assert code == 0
    report = json.loads(out)
    assert (report["dry_run"], report["imported"], report["rejected"]) == (True, 1, 1)
    assert report["rejects"] == [
        {"line": 3, "reason": "missing_phone", "detail": "no phone number", "phone": ""}
    ]
    assert rejects.read_text(encoding="utf-8").splitlines()[1].startswith("3,missing_phone")


def test_import_unknown_campaign_lists_existing(db_url: str, tmp_path: Path) -> None:
    """An unknown campaign exits 2 with one line naming the campaigns that exist."""
    source = tmp_path / "lista.csv"
    source.write_text("phone\n601234567\n", encoding="utf-8")
    code, _out, err = run("import", str(source), "-c", "Brak", "--db-url", db_url)
    assert code == 2
    assert "campaign 'Brak' does not exist; existing campaigns: 'Ankieta', 'Sprzedaż'" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--map", "phone"], "expected FIELD=COLUMN"),
        (["--map", "phone=Nie ma"], "no column 'Nie ma'"),
        (["--tz", "Mars/Base"], "--tz: tz: 'Mars/Base' is not valid"),
        (["--region", "ZZ"], "region: 'ZZ' is not a known region"),
    ],
)
def test_import_bad_arguments_are_named(
    db_url: str, tmp_path: Path, extra: list[str], message: str
) -> None:
    """A malformed --map, a missing column, a bad --tz or --region is refused by name."""
    source = tmp_path / "lista.csv"
    source.write_text("phone\n601234567\n", encoding="utf-8")
    code, out, err = run("import", str(source), "-c", "Sprzedaż", "--db-url", db_url, *extra)
    assert code == 2
    assert message in " ".join((out + err).split())


def test_import_without_schema_says_to_upgrade(tmp_path: Path) -> None:
    """Against an empty database the command says to run `dialer db upgrade`."""
    source = tmp_path / "lista.csv"
    source.write_text("phone\n601234567\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    code, _out, err = run("import", str(source), "-c", "X", "--db-url", url)
    assert code == 2
    assert "run `dialer db upgrade` first" in err


def test_dnc_add_list_remove_cycle(db_url: str) -> None:
    """`dnc add`, `dnc list`, `dnc remove` manage an entry; removing twice is an error."""
    code, out, _ = run("dnc", "add", "601 234 567", "--reason", "RODO", "--db-url", db_url)
    assert (code, out.strip()) == (0, "+48601234567 added to the global list")
    code, out, _ = run("dnc", "list", "--json", "--db-url", db_url)
    assert code == 0
    assert json.loads(out)["reason"] == "RODO"
    assert run("dnc", "remove", "+48601234567", "--db-url", db_url)[0] == 0
    code, _out, err = run("dnc", "remove", "+48601234567", "--db-url", db_url)
    assert code == 2
    assert "is not on the global DNC list" in err


def test_dnc_add_bad_number_and_bad_expiry(db_url: str) -> None:
    """An invalid number exits 2 naming the reason; a bad --expires is a usage error (also 2)."""
    code, _out, err = run("dnc", "add", "12", "--db-url", db_url)
    assert code == 2
    assert "phone: '12' is too short" in err
    code, out, err = run("dnc", "add", "601234567", "--expires", "jutro", "--db-url", db_url)
    assert code == 2
    assert "expected an ISO date" in " ".join((out + err).split())


def test_dnc_import_reports_bad_lines(db_url: str, tmp_path: Path) -> None:
    """`dnc import` counts added numbers and prints the bad lines with their numbers."""
    source = tmp_path / "dnc.csv"
    source.write_text("telefon\n601234567\nzły\n", encoding="utf-8")
    code, out, _ = run("dnc", "import", str(source), "-c", "Ankieta", "--db-url", db_url)
    assert code == 0
    assert "added 1" in out
    assert "line 3: 'zły' is not a phone number" in out


def test_bench_import_prints_rows_per_second(tmp_path: Path) -> None:
    """`bench import --json` generates rows, imports them and prints rows_per_s."""
    del tmp_path
    code, out, _ = run("bench", "import", "--rows", "2000", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["rows"] == 2000
    assert result["imported"] + result["rejected"] == 2000
    assert 0 < result["rejected_by_reason"]["invalid_number"] < 100
    assert result["rows_per_s"] > 0
