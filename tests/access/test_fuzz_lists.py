"""Hypothesis fuzzing of list files: the importer never fails on a list and never loses a
valid row, whatever surrounds it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlmodel import Session, select

from campaigns.db import create_schema, make_engine
from campaigns.importer import ImportFileError, import_file
from campaigns.models import Campaign, Record
from campaigns.phones import Normalized, PhoneNormalizer

# ----------------------------------------------------------------------------- lists

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
names = st.text(alphabet='abcąę ,;"\n\r\t\x00=+', max_size=12)
phones = st.one_of(
    st.builds(lambda body: f"+48601{body}", st.text(alphabet="0123456789", min_size=6, max_size=6)),
    st.text(alphabet="abc-+() 0123456789", max_size=9),
)


@st.composite
def list_files(draw: st.DrawFn) -> tuple[str, bytes, list[str]]:
    """(suffix, file bytes, phones of the rows written properly) with one optional stray
    quote, junk line or formula cell among them."""
    rows = draw(st.lists(st.tuples(phones, names), max_size=25))
    fmt = draw(st.sampled_from(["csv", "xlsx"]))
    broken_at = draw(st.none() | st.integers(min_value=0, max_value=len(rows)))
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["phone", "name"])
        stray = draw(st.sampled_from(['+48600000001,"stray\n', "abc;;\n", ",\n"]))
        if broken_at is not None and '"' in stray:
            # A stray quote followed by quoted values holding quotes or line breaks is
            # ambiguous CSV (the quote may close inside them): after one, values are plain.
            rows = rows[:broken_at] + [
                (p, n.replace('"', "").replace("\r", "").replace("\n", ""))
                for p, n in rows[broken_at:]
            ]
        for i, row in enumerate(rows):
            if i == broken_at:
                out.write(stray)
            writer.writerow(row)
        return ".csv", out.getvalue().encode(), [p for p, _ in rows]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone", "name"])
    good: list[str] = []
    for i, (phone, name) in enumerate(rows):
        if i == broken_at:
            sheet.append(["=A2", "formula"])
        sheet.append([phone, name.replace("\x00", "")])
        for cell in sheet[sheet.max_row]:  # text, even when it starts with "=" (not a formula)
            cell.data_type = "s"
        good.append(phone)
    buffer = io.BytesIO()
    book.save(buffer)
    return ".xlsx", buffer.getvalue(), good


@pytest.fixture(scope="module")
def list_db(tmp_path_factory: pytest.TempPathFactory) -> sa.Engine:
    """One database for the list fuzzing; each example imports into a campaign of its own."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'l.db'}")
    create_schema(engine)
    return engine


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(list_files())
def test_list_files_never_break_the_import_and_keep_every_valid_row(
    list_db: sa.Engine, case: tuple[str, bytes, list[str]]
) -> None:
    """Whatever the rows hold (quotes, delimiters, line breaks, NUL, a stray quote, a junk
    line, a formula), the importer answers a report, and every row written with a valid
    number not seen before in the file is a record."""
    suffix, content, written = case
    normalizer = PhoneNormalizer("PL")
    expected: set[str] = set()
    for phone in written:
        result = normalizer.normalize(phone)
        if isinstance(result, Normalized):
            expected.add(result.e164)
    with Session(list_db) as session:
        campaign = Campaign(name=f"fuzz-{id(content)}-{len(content)}-{hash(content)}")
        session.add(campaign)
        session.commit()
        cid, name = campaign.id, campaign.name
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"list{suffix}"
        path.write_bytes(content)
        try:
            report = import_file(list_db, path, campaign=name, now=NOW, atomic=True)
        except ImportFileError as exc:  # only a file that is not a list at all
            pytest.fail(f"the file was refused as a whole: {exc}")
    with Session(list_db) as session:
        stored = set(session.exec(select(Record.phone).where(Record.campaign_id == cid)))
    assert stored == expected, content
    assert report.imported == len(expected)
    assert report.rows_read == report.imported + report.rejected
