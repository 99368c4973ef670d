"""``dialer bench reports`` writes the calls, fills the rollups and prints every figure."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from dialer.cli import app


def test_bench_reports_prints_fill_time_and_each_report() -> None:
    """The JSON has ``fill_s``, the rollup rows written, and p50/p95 for each report
    (the year-long time of day under ``time_of_day_year``)."""
    result = CliRunner().invoke(
        app, ["bench", "reports", "--rows", "3000", "--rounds", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["rows"] == 3000
    assert figures["fill_s"] >= 0
    assert figures["rollup_rows"] > 0
    for report in (
        "period_month",
        "time_of_day_month",
        "time_of_day_year",
        "agents_month",
        "customers_month",
        "statuses_month",
    ):
        assert 0 < figures[report]["p50_ms"] <= figures[report]["p95_ms"], report
