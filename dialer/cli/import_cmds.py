"""List import and do-not-call commands (filled in by the campaign core issue)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add this area's commands to the main app and to ``dialer bench``."""
    del app, bench
