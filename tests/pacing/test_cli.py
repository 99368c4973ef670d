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
