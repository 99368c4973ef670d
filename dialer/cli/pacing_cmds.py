"""Pacing commands: ``dialer pacing check PROFILE`` validates a pacing profile."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add this area's commands to the main app and to ``dialer bench``."""
    del bench
    pacing_app = typer.Typer(help="Pacing profiles and pacers.", no_args_is_help=True)
    app.add_typer(pacing_app, name="pacing")

    @pacing_app.command("check")
    def check(profile: Path = typer.Argument(..., help="a pacing profile (TOML)")) -> None:
        """Validate a pacing profile; print it with every default filled in."""
        from pacing.errors import ProfileError
        from pacing.profile import load_profile

        try:
            loaded = load_profile(profile)
        except ProfileError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        typer.echo(json.dumps(loaded.model_dump(mode="json"), indent=2))
