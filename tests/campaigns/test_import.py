"""List import: bad rows reported with line numbers, valid rows imported, dry runs write nothing."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from campaigns.db import create_schema, make_engine
from campaigns.errors import CampaignError
from campaigns.importer import (
    CampaignNotFoundError,
    ImportFileError,
    RecordWriter,
    RejectReason,
    import_file,
)
from campaigns.models import Campaign, ContactList, DncEntry, Record

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    """A fresh SQLite database with two campaigns, one existing record and DNC entries."""
    eng = make_engine(f"sqlite:///{tmp_path / 'import.db'}")
    create_schema(eng)
    with Session(eng) as session:
        sales = Campaign(name="Sprzedaż", default_region="PL")
        other = Campaign(name="Windykacja", default_region="PL")
        session.add(sales)
        session.add(other)
        session.commit()
        assert sales.id is not None
        assert other.id is not None
        session.add(Record(campaign_id=sales.id, phone="+48601000001", tz="Europe/Warsaw"))
        session.add(DncEntry(phone="+48601000002"))
        session.add(DncEntry(phone="+48601000003", campaign_id=sales.id))
        session.add(DncEntry(phone="+48601000004", campaign_id=other.id))
        session.add(DncEntry(phone="+48601000005", expires_at=NOW - dt.timedelta(days=1)))
        session.commit()
    return eng


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` and return the path."""
    path.write_bytes(text.encode(encoding))
    return path


BAD_CSV = (
    "Telefon;Imię;Nazwisko;Strefa;Miasto\n"  # line 1
    "601 234 567;Anna;Nowak;;Kraków\n"  # 2: ok
    ";Bez;Numeru;;Łódź\n"  # 3: missing phone
    "12345;Zły;Numer;;Gdańsk\n"  # 4: invalid
    "+48 601 234 567;Anna;Duplikat;;Kraków\n"  # 5: duplicate of line 2
    "601000001;Już;Jest;;Poznań\n"  # 6: already in the campaign
    "601000002;Global;DNC;;Lublin\n"  # 7: global DNC
    "601000003;Kampania;DNC;;Lublin\n"  # 8: campaign DNC
    "601000004;Inna;Kampania;;Lublin\n"  # 9: other campaign's DNC: ok
    "601000005;Wygasły;DNC;;Lublin\n"  # 10: expired DNC: ok
    "+1 212 555 0188;John;Smith;Mars/Olympus;NYC\n"  # 11: bad tz
    '+1 (415) 555-2671;"Mary\nAnn";Jones;;SF\n'  # 12-13: ok, a quoted two-line name
    "+44 20 7946 0958;Brit;Caller;Europe/London;London\n"  # 14: ok, tz given
    "\n"  # 15: blank line, skipped
    "0048 22 123 45 67;Firma;Biuro;;Warszawa\n"  # 16: ok
)


def test_bad_rows_are_reported_with_line_numbers_and_reasons(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """Each bad row is rejected with its file line and reason; the valid rows are imported."""
    source = write(tmp_path / "lista.csv", BAD_CSV)
    report = import_file(engine, source, campaign="Sprzedaż", now=NOW)
    got = [(r.line, r.reason) for r in report.rejects]
    assert got == [
        (3, RejectReason.MISSING_PHONE),
        (4, RejectReason.INVALID_NUMBER),
        (5, RejectReason.DUPLICATE_IN_FILE),
        (6, RejectReason.DUPLICATE_IN_CAMPAIGN),
        (7, RejectReason.DNC_GLOBAL),
        (8, RejectReason.DNC_CAMPAIGN),
        (11, RejectReason.BAD_TZ),
    ]
    details = {r.line: r.detail for r in report.rejects}
    assert details[5] == "+48601234567 duplicates line 2"
    assert "'12345'" in details[4]
    assert "'Mars/Olympus'" in details[11]
    assert (report.rows_read, report.imported, report.rejected) == (13, 6, 7)
    assert report.mapping["phone"] == "Telefon"
    assert report.mapping["first_name"] == "Imię"
    assert report.mapping["tz"] == "Strefa"


def test_imported_records_carry_e164_zone_name_and_fields(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """Imported records are E.164, zoned by number or tz column, named, with custom fields."""
    source = write(tmp_path / "lista.csv", BAD_CSV)
    report = import_file(engine, source, campaign="Sprzedaż", now=NOW)
    with Session(engine) as session:
        records = {
            r.phone: r
            for r in session.exec(select(Record).where(Record.list_id == report.list_id)).all()
        }
        lst = session.get(ContactList, report.list_id)
    assert set(records) == {
        "+48601234567",
        "+48601000004",
        "+48601000005",
        "+14155552671",
        "+442079460958",
        "+48221234567",
    }
    anna = records["+48601234567"]
    assert (anna.name, anna.tz, anna.fields) == (
        "Anna Nowak",
        "Europe/Warsaw",
        {"Miasto": "Kraków"},
    )
    assert anna.system_status == "TO_CALL"
    assert anna.attempts == 0
    assert anna.created_at == NOW
    assert records["+14155552671"].name == "Mary\nAnn Jones"
    assert records["+14155552671"].tz == "America/Los_Angeles"
    assert records["+442079460958"].tz == "Europe/London"
    assert lst is not None
    assert (lst.rows_imported, lst.rows_rejected, lst.name) == (6, 7, "lista.csv")


def test_dry_run_writes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    """A dry run reports the same figures as a real import but adds no list and no record."""
    source = write(tmp_path / "lista.csv", BAD_CSV)
    report = import_file(engine, source, campaign="Sprzedaż", dry_run=True, now=NOW)
    assert (report.imported, report.rejected, report.list_id) == (6, 7, None)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from record")).scalar() == 1
        assert conn.execute(sa.text("select count(*) from contact_list")).scalar() == 0


def test_second_import_of_the_same_file_rejects_every_number_as_in_campaign(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """Numbers imported once are duplicates of the campaign the second time."""
    source = write(tmp_path / "a.csv", "phone\n601111111\n601111112\n")
    assert import_file(engine, source, campaign="Sprzedaż", now=NOW).imported == 2
    again = import_file(engine, source, campaign="Sprzedaż", now=NOW)
    assert again.imported == 0
    assert dict(again.rejected_by_reason) == {RejectReason.DUPLICATE_IN_CAMPAIGN: 2}


def test_xlsx_import_with_explicit_mapping(engine: sa.Engine, tmp_path: Path) -> None:
    """An XLSX sheet imports with --map-style mapping; numeric cells and row numbers are right."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Kontakt", "Klient nazwa", "Kwota"])
    sheet.append([601234567, "Jan Kowalski", 12.5])
    sheet.append(["abc", "Zły", 1])
    sheet.append(["+49 30 12345678", "Hans", None])
    path = tmp_path / "lista.xlsx"
    book.save(path)
    report = import_file(
        engine,
        path,
        campaign="Sprzedaż",
        mapping={"phone": "Kontakt", "name": "Klient nazwa", "amount": "Kwota"},
        now=NOW,
    )
    assert [(r.line, r.reason) for r in report.rejects] == [(3, RejectReason.INVALID_NUMBER)]
    with Session(engine) as session:
        rows = session.exec(select(Record).where(Record.list_id == report.list_id)).all()
    by_phone = {r.phone: r for r in rows}
    assert by_phone["+48601234567"].fields == {"amount": "12.5"}
    assert by_phone["+48601234567"].name == "Jan Kowalski"
    assert by_phone["+493012345678"].tz == "Europe/Berlin"


def test_cp1250_file_is_read_with_a_note(engine: sa.Engine, tmp_path: Path) -> None:
    """A Windows-1250 file is decoded as such (Polish letters intact) and the report says so."""
    source = write(tmp_path / "stary.csv", "telefon,nazwisko\n601222333,Łukasiewicz\n", "cp1250")
    report = import_file(engine, source, campaign="Sprzedaż", now=NOW)
    assert report.imported == 1
    assert any("Windows-1250" in note for note in report.notes)
    with Session(engine) as session:
        record = session.exec(select(Record).where(Record.phone == "+48601222333")).one()
    assert record.name == "Łukasiewicz"


def test_list_tz_overrides_number_zone_and_region_applies(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """--tz sets the zone of rows without one; --region reads national numbers of that country."""
    source = write(tmp_path / "de.csv", "number\n030 12345678\n")
    report = import_file(
        engine, source, campaign="Sprzedaż", region="DE", tz="Europe/Warsaw", now=NOW
    )
    assert report.imported == 1
    with Session(engine) as session:
        record = session.exec(select(Record).where(Record.phone == "+493012345678")).one()
    assert record.tz == "Europe/Warsaw"


def test_rejects_file_lists_line_reason_and_original_cells(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """--rejects writes one CSV row per reject with line, reason, detail and the row's cells."""
    source = write(tmp_path / "lista.csv", BAD_CSV)
    out = tmp_path / "odrzucone.csv"
    import_file(engine, source, campaign="Sprzedaż", rejects_path=out, dry_run=True, now=NOW)
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "line",
        "reason",
        "detail",
        "Telefon",
        "Imię",
        "Nazwisko",
        "Strefa",
        "Miasto",
    ]
    assert rows[2][:2] == ["4", "invalid_number"]
    assert rows[2][3:] == ["12345", "Zły", "Numer", "", "Gdańsk"]
    assert len(rows) == 8


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        ("imie,miasto\nAnna,Kraków\n", {}, r"no phone column: name one with --map phone="),
        ("", {}, "the file is empty"),
        (
            "telefon\n601234567\n",
            {"mapping": {"name": "Nazwa"}},
            r"--map name=Nazwa: no column 'Nazwa'; the columns are 'telefon'",
        ),
        ("telefon\n601234567\n", {"tz": "Mars/Base"}, r"--tz: tz: 'Mars/Base' is not valid"),
        ("telefon\n601234567\n", {"region": "XX"}, r"region: 'XX' is not a known region"),
    ],
)
def test_file_level_errors_name_the_problem_and_write_nothing(
    engine: sa.Engine, tmp_path: Path, content: str, kwargs: dict[str, object], message: str
) -> None:
    """A file without a phone column, an empty file, a bad mapping, tz or region is refused."""
    source = write(tmp_path / "zly.csv", content)
    with pytest.raises(CampaignError, match=message):
        import_file(engine, source, campaign="Sprzedaż", now=NOW, **kwargs)  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from contact_list")).scalar() == 0


def test_unknown_campaign_lists_existing_ones(engine: sa.Engine, tmp_path: Path) -> None:
    """An unknown campaign name is refused with the names that exist."""
    source = write(tmp_path / "a.csv", "phone\n601234567\n")
    with pytest.raises(CampaignNotFoundError, match="existing campaigns: 'Sprzedaż', 'Windykacja'"):
        import_file(engine, source, campaign="Brak", now=NOW)


def test_unsupported_or_missing_file_is_refused(engine: sa.Engine, tmp_path: Path) -> None:
    """A missing file or a file of another type gets an ImportFileError naming the file."""
    with pytest.raises(ImportFileError, match="no such file"):
        import_file(engine, tmp_path / "nie.csv", campaign="Sprzedaż")
    doc = write(tmp_path / "lista.pdf", "x")
    with pytest.raises(ImportFileError, match=r"lista.pdf: unsupported file type '.pdf'"):
        import_file(engine, doc, campaign="Sprzedaż")


def test_batch_conflict_keeps_the_valid_rows(engine: sa.Engine) -> None:
    """When a batch hits a number added meanwhile, the other rows of the batch still go in."""
    writer = RecordWriter(engine, campaign_id=1, list_id=None, now=NOW)
    rows = [
        ("+48601999001", "A", "Europe/Warsaw", {}),
        ("+48601000001", "Taken", "Europe/Warsaw", {}),
        ("+48601999002", "B", "Europe/Warsaw", {"k": "v"}),
    ]
    inserted, conflicts = writer.insert(rows, [2, 3, 4])
    assert inserted == 2
    assert [(r.line, r.reason) for r in conflicts] == [(3, RejectReason.DUPLICATE_IN_CAMPAIGN)]
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from record")).scalar() == 3


def test_report_keeps_first_rejects_but_counts_and_writes_all(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """Past keep_rejects the report stops keeping rejects but counts them and the file has all."""
    source = write(tmp_path / "zle.csv", "phone\n" + "abc\n" * 30 + "601234567\n")
    out = tmp_path / "rej.csv"
    report = import_file(
        engine, source, campaign="Sprzedaż", keep_rejects=5, rejects_path=out, now=NOW
    )
    assert (report.rejected, len(report.rejects), report.rejects_truncated) == (30, 5, True)
    assert report.imported == 1
    assert len(out.read_text(encoding="utf-8").splitlines()) == 31


def test_unreadable_and_overfull_rows_are_rejected_not_fatal(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """A row the csv module cannot read or with more cells than the header is rejected; the
    rest imports."""
    source = tmp_path / "zepsuty.csv"
    huge = b"x" * (csv.field_size_limit() + 10)
    source.write_bytes(
        b"telefon;nazwisko\n601111111;Nowak\n601111112;" + huge + b"\n601111113;Kowal;ski\n"
        b"601111114;Ostatni;\n"
    )
    report = import_file(engine, source, campaign="Sprzedaż", now=NOW)
    assert [(r.line, r.reason) for r in report.rejects] == [
        (3, RejectReason.MALFORMED_ROW),
        (4, RejectReason.MALFORMED_ROW),
    ]
    assert "field larger than field limit" in report.rejects[0].detail
    assert "3 cells but the header has 2" in report.rejects[1].detail
    assert (report.rows_read, report.imported) == (4, 2)
    with Session(engine) as session:
        lst = session.get(ContactList, report.list_id)
    assert lst is not None
    assert (lst.rows_imported, lst.rows_rejected) == (2, 2)


def test_corrupt_xlsx_is_a_file_error(engine: sa.Engine, tmp_path: Path) -> None:
    """A .xlsx that is not a workbook is refused naming the file; nothing is written."""
    bad = write(tmp_path / "lista.xlsx", "to nie jest arkusz")
    with pytest.raises(ImportFileError, match=r"lista.xlsx: not a readable XLSX workbook"):
        import_file(engine, bad, campaign="Sprzedaż", now=NOW)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from contact_list")).scalar() == 0


def test_unwritable_rejects_file_is_refused_before_writing(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """A --rejects path that cannot be written is a file error raised before any list is made."""
    source = write(tmp_path / "a.csv", "phone\n601234567\n")
    with pytest.raises(ImportFileError, match="--rejects: cannot write"):
        import_file(
            engine, source, campaign="Sprzedaż", rejects_path=tmp_path / "nie" / "ma.csv", now=NOW
        )
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from contact_list")).scalar() == 0


def test_name_column_wins_and_other_columns_are_kept(engine: sa.Engine, tmp_path: Path) -> None:
    """With --map name=…, first/last-name columns and unnamed columns stay as custom fields."""
    source = write(tmp_path / "a.csv", "Telefon;Imię;Nazwisko;;Firma\n601234567;Jan;Nowak;x;ACME\n")
    report = import_file(engine, source, campaign="Sprzedaż", mapping={"name": "Firma"}, now=NOW)
    assert report.imported == 1
    with Session(engine) as session:
        record = session.exec(select(Record).where(Record.phone == "+48601234567")).one()
    assert record.name == "ACME"
    assert record.fields == {"Imię": "Jan", "Nazwisko": "Nowak", "column_4": "x"}


def test_utf16_tab_separated_excel_export_is_read(engine: sa.Engine, tmp_path: Path) -> None:
    """Excel's "Unicode text" export (UTF-16 with a BOM, tab-separated) imports like any CSV."""
    source = tmp_path / "eksport.txt"
    source.write_bytes("Telefon\tNazwisko\r\n601234567\tŻółć\r\n".encode("utf-16"))
    report = import_file(engine, source, campaign="Sprzedaż", now=NOW)
    assert report.imported == 1
    with Session(engine) as session:
        record = session.exec(select(Record).where(Record.phone == "+48601234567")).one()
    assert record.name == "Żółć"
