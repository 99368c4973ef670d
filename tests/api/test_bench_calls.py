"""``dialer bench calls``: it fills a call log and prints a timing for each page query."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dialer.cli import app


def test_bench_calls_prints_each_query_and_the_export(tmp_path: Path) -> None:
    """On a small log every query shape has a median and p95, and the export counts the
    campaign's rows (about a third of the log: three campaigns)."""
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "calls",
            "--rows",
            "3000",
            "--rounds",
            "3",
            "--json",
            "--db-url",
            f"sqlite:///{tmp_path / 'c.db'}",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["rows"] == 3000
    for shape in ("page_all", "page_campaign", "page_agent_own", "page_leader_scope"):
        assert 0 < figures[shape]["median_ms"] <= figures[shape]["p95_ms"]
    assert 700 < figures["export_rows"] < 1300
    assert figures["export_rows_per_s"] > 0
