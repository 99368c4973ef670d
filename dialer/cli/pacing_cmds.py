"""Pacing commands: ``dialer pacing check PROFILE`` validates a pacing profile;
``dialer pacing replay TRACE --pacing PROFILE...`` replays a campaign's pacer trace."""

from __future__ import annotations

import json
from dataclasses import asdict
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

    @pacing_app.command("replay")
    def replay_cmd(
        trace: Path = typer.Argument(
            ..., help="a campaign's pacer trace ([pacing] trace_dir: ENGINE-campaign-ID.jsonl)"
        ),
        pacing: list[Path] = typer.Option(
            [Path("config/pacing/predictive.toml")],
            "--pacing",
            help="a pacing profile to replay it through (repeat to compare several)",
        ),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """What each profile's pacer would have dialed at every decision of the trace, on
        the same facts, against what was dialed (what would have followed is not
        simulated: see ``dialer simulate``)."""
        from pacing.errors import ProfileError
        from pacing.profile import build_pacer, load_profile
        from pacing.trace import read_trace, replay

        try:
            profiles = [(path, load_profile(path)) for path in pacing]
        except ProfileError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from exc
        try:
            records, errors = read_trace(trace)
        except OSError as exc:
            typer.echo(f"error: {trace}: {exc.strerror or exc}", err=True)
            raise typer.Exit(code=2) from exc
        for message in errors:
            typer.echo(f"skipped {message}", err=True)
        results = [(path, replay(records, build_pacer(profile))) for path, profile in profiles]
        if as_json:
            out = {
                "trace": str(trace),
                "records": len(records),
                "skipped_lines": len(errors),
                "profiles": [
                    {
                        "profile": str(path),
                        "decisions": r.decisions,
                        "recorded_dials": r.recorded_dials,
                        "replayed_dials": r.replayed_dials,
                        "differing_decisions": r.differing,
                        "first_differences": [asdict(d) for d in r.first_differences],
                        "reasons": r.reasons,
                    }
                    for path, r in results
                ],
            }
            typer.echo(json.dumps(out))
            return
        typer.echo(f"{trace}: {len(records)} records, {len(errors)} lines skipped")
        for path, r in results:
            typer.echo(
                f"{path}: {r.decisions} decisions, dialed {r.recorded_dials}, would dial "
                f"{r.replayed_dials}; {r.differing} decisions differ"
            )
            for d in r.first_differences[:5]:
                typer.echo(
                    f"  t={d.t:.1f}: dialed {d.recorded}{_why(d.recorded_reason)}, "
                    f"would dial {d.replayed}{_why(d.replayed_reason)}"
                )
            if r.reasons:
                reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.reasons.items()))
                typer.echo(f"  its reasons: {reasons}")
        if any(r.differing for _, r in results):
            typer.echo(
                '("would dial" adds up each decision\'s count on the recorded facts; after the '
                "first difference those facts are not what that profile's dials would have "
                "brought: compare profiles with `dialer simulate`)"
            )


def _why(reason: str | None) -> str:
    return f" ({reason})" if reason else ""
