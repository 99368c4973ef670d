"""The ``dialer`` command line.

Each area registers its own commands from its own module, so that the campaign, pacing
and Asterisk commands live beside each other without one file owning them all.
"""

from __future__ import annotations

import typer

from dialer.cli import (
    agent_cmds,
    ami_cmds,
    campaign_cmds,
    import_cmds,
    pacing_cmds,
    runtime_cmds,
    source_cmds,
    user_cmds,
)

app = typer.Typer(
    name="dialer",
    help="Predictive dialer campaign engine for Asterisk contact centers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(
    help="Benchmarks: commands that measure and print figures (JSON with --json).",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")

campaign_cmds.register(app, bench_app)
import_cmds.register(app, bench_app)
pacing_cmds.register(app, bench_app)
ami_cmds.register(app, bench_app)
runtime_cmds.register(app, bench_app)
agent_cmds.register(app, bench_app)
user_cmds.register(app, bench_app)
source_cmds.register(app, bench_app)


def main() -> None:
    """Entry point of the ``dialer`` console script."""
    app()
