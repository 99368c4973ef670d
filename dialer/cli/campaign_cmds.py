"""Campaign, status, import and DNC commands (filled in by the campaign core issue)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add the campaign commands to the main app and to ``dialer bench``."""
    del bench

    @app.command()
    def demo() -> None:
        """Run the demo (placeholder until the campaign core lands)."""
        typer.echo("dialer demo: the campaign core is not built yet")
