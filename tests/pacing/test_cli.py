"""``dialer pacing check`` validates a profile from the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dialer.cli import app

CONFIG = Path(__file__).resolve().parents[2] / "config" / "pacing"


def test_check_prints_a_valid_profile_with_defaults() -> None:
    """A valid profile prints as JSON with its mode and the default target."""
    result = CliRunner().invoke(app, ["pacing", "check", str(CONFIG / "ratio.toml")])
    assert result.exit_code == 0
    assert '"mode": "ratio"' in result.output
    assert '"target_abandon": 0.03' in result.output


def test_check_refuses_an_invalid_profile_with_exit_2(tmp_path: Path) -> None:
    """An invalid profile exits 2 and names the file, key and reason."""
    bad = tmp_path / "bad.toml"
    bad.write_text("max_wait_s = -1\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["pacing", "check", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: max_wait_s: input should be greater than or equal to 0" in result.output


SMALL = """
duration_s = 3600
lines = 20
[agents]
count = 4
wrapup = { dist = "constant", value = 5 }
[calls]
answer_prob = 0.3
ring = { dist = "uniform", lo = 3, hi = 12 }
talk = { dist = "lognormal", mean = 60, sd = 30, min = 5 }
"""


def test_simulate_compares_profiles_side_by_side_and_draws_the_chart(tmp_path: Path) -> None:
    """Two --pacing profiles give one column each on the same scenario, and --chart writes
    an SVG with one line per profile in each of its two panels."""
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL, encoding="utf-8")
    chart = tmp_path / "chart.svg"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--scenario",
            str(scenario),
            "--pacing",
            str(CONFIG / "progressive.toml"),
            "--pacing",
            str(CONFIG / "ratio.toml"),
            "--hours",
            "0.2",
            "--chart",
            str(chart),
        ],
    )
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "figure" in line)
    assert "progressive" in header
    assert "ratio" in header
    assert "occupancy" in result.output
    svg = chart.read_text(encoding="utf-8")
    assert svg.startswith("<svg")
    assert svg.count("<polyline") == 4  # 2 profiles x 2 panels


def test_simulate_refuses_a_bad_profile_naming_it(tmp_path: Path) -> None:
    """A wrong profile among several stops the comparison with exit 2, naming the file."""
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL, encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text('mode = "turbo"\n', encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--scenario",
            str(scenario),
            "--pacing",
            str(CONFIG / "ratio.toml"),
            "--pacing",
            str(bad),
        ],
    )
    assert result.exit_code == 2
    assert f"{bad}: mode: must be one of" in result.output
