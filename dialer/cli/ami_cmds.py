"""Commands of this area (filled in by its issue)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add this area's commands to the main app and to ``dialer bench``."""
    del app, bench
