"""Hypothesis property of list import: a bad row never loses the valid ones."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from campaigns.db import create_schema, make_engine
from campaigns.importer import import_file
from campaigns.models import Campaign, DncEntry
from campaigns.phones import Normalized, PhoneNormalizer

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
DNC = "+48601000009"

valid = st.builds(
    lambda head, body, style: (
        f"+48 {head}{body[:2]} {body[2:5]} {body[5:]}" if style else f"{head}{body}"
    ),
    st.sampled_from(["50", "51", "60", "66", "69", "72", "78", "88"]),
    st.text(alphabet="0123456789", min_size=7, max_size=7),
    st.booleans(),
)
junk = st.one_of(
    st.just(""),
    st.text(alphabet="0123456789", max_size=6),
    st.text(alphabet="abc-+() ", max_size=8),
    st.just("601000009"),  # on the DNC list
    st.just("+999 123456"),
)
cells = st.tuples(st.one_of(valid, junk), st.text(alphabet='ab ąę;",\n', max_size=6))


@settings(max_examples=30, deadline=None)
@given(st.lists(cells, max_size=40))
def test_every_unique_valid_number_is_imported_once(rows: list[tuple[str, str]]) -> None:
    """Whatever bad rows surround them, each distinct valid non-DNC number is imported once and
    every other row is reported, so read = imported + rejected."""
    normalizer = PhoneNormalizer("PL")
    expected = set()
    for phone, _name in rows:
        result = normalizer.normalize(phone)
        if isinstance(result, Normalized) and result.e164 != DNC:
            expected.add(result.e164)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine = make_engine(f"sqlite:///{folder / 'p.db'}")
        create_schema(engine)
        with Session(engine) as session:
            session.add(Campaign(name="c"))
            session.add(DncEntry(phone=DNC))
            session.commit()
        source = folder / "l.csv"
        with source.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["telefon", "nazwa"])
            writer.writerows(rows)
        report = import_file(engine, source, campaign="c", now=NOW)
        with engine.connect() as conn:
            stored = {p for (p,) in conn.exec_driver_sql("select phone from record")}
        engine.dispose()
    non_blank = sum(1 for phone, name in rows if phone or name)
    assert stored == expected
    assert report.imported == len(expected)
    assert report.rows_read == non_blank
    assert report.imported + report.rejected == report.rows_read
