"""The project installs and its command line answers."""

from __future__ import annotations

from typer.testing import CliRunner

from dialer.cli import app


def test_cli_help_lists_bench_group() -> None:
    """`dialer --help` runs and shows the bench command group."""
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "bench" in result.output
