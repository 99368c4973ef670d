"""Asking before a command replaces a database file (the demo commands rebuild theirs)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer


def may_replace(db: Path, *, fresh: bool) -> None:
    """Return when ``db`` may be (re)created: it does not exist, ``--fresh`` was given, or
    the person at the terminal says yes. Without a terminal nothing is asked and an
    existing file is kept (exit 2 naming ``--fresh``); a "no" exits 1."""
    if fresh or not db.exists():
        return
    if not sys.stdin.isatty():
        typer.echo(
            f"error: {db} exists and would be deleted; pass --fresh to replace it "
            "(no terminal to ask on), or --db to use another file",
            err=True,
        )
        raise typer.Exit(2)
    if not typer.confirm(f"{db} exists: delete it and build a new demo database?"):
        typer.echo(f"kept {db}; nothing was done", err=True)
        raise typer.Exit(1)
