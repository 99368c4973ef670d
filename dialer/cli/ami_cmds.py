"""Commands of the telephony edge: ``dialer pbx-sim`` and ``dialer bench ami``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add this area's commands to the main app and to ``dialer bench``."""

    @app.command("pbx-sim")
    def pbx_sim(
        *,
        scenario: Path | None = typer.Option(
            None,
            "--scenario",
            help="scenario TOML (shared/scenarios format); "
            "without it customers behave as the lab's number encoding says",
        ),
        port: int = typer.Option(5038, "--port", help="TCP port to listen on (0: any free port)"),
        host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
        time_scale: float = typer.Option(
            1.0, "--time-scale", help="simulated seconds per wall second"
        ),
        seed: int = typer.Option(1, "--seed", help="random seed of the scenario draws"),
        username: str | None = typer.Option(None, "--username", help="accept only this AMI user"),
        secret: str | None = typer.Option(
            None, "--secret", envvar="DIALER_AMI_SECRET", help="accept only this AMI secret"
        ),
        latency_probe: bool = typer.Option(
            False, "--latency-probe", help="time CustomerAnswered -> Redirect (SimControl stats)"
        ),
        dialplan: list[Path] = typer.Option(
            [],
            "--dialplan",
            help="extensions.conf file(s) deciding which contexts/extensions exist "
            "(repeatable; default: config/asterisk/extensions_dialer.conf)",
        ),
    ) -> None:
        """Run the PBX simulator: an AMI server over TCP with simulated customers and agents."""
        from asterisk.dialplan import Dialplan, DialplanError
        from asterisk.errors import ScenarioError
        from asterisk.scenario import ScenarioBehaviour, load_scenario
        from asterisk.simulator import PbxSimulator
        from asterisk.world import World
        from dialer.logging import configure_logging

        configure_logging()
        behaviour = None
        if scenario is not None:
            try:
                behaviour = ScenarioBehaviour(load_scenario(scenario), seed=seed)
            except ScenarioError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from exc
        try:
            plan = Dialplan.load(*dialplan) if dialplan else Dialplan.shipped()
        except DialplanError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc

        async def run() -> None:
            wrapup = behaviour.wrapup_s if behaviour is not None else None
            world = World(behaviour=behaviour, seed=seed, wrapup=wrapup, dialplan=plan)
            sim = PbxSimulator(
                world,
                host=host,
                port=port,
                time_scale=time_scale,
                username=username,
                secret=secret,
                latency_probe=latency_probe,
            )
            async with sim:
                typer.echo(f"pbx-sim listening on {host}:{sim.port} (time_scale={time_scale})")
                await sim.serve_forever()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())

    @bench.command("ami")
    def bench_ami(
        *,
        as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
        calls: int = typer.Option(2000, "--calls", help="concurrent calls for the latency run"),
        parse_events: int = typer.Option(
            200_000, "--parse-events", help="events for the parse run"
        ),
        agents: int = typer.Option(100, "--agents", help="agent seats calls are connected to"),
        time_scale: float = typer.Option(
            1.0, "--time-scale", help="simulator speed (1.0: real time, as measured)"
        ),
        gc_tuning: bool = typer.Option(
            True, "--gc-tuning/--no-gc-tuning", help="gc.freeze() + higher gen-0 threshold"
        ),
    ) -> None:
        """Measure AMI events/s parsed and dispatched, and answer-to-connect latency."""
        from asterisk.bench import run_bench
        from dialer.logging import configure_logging

        configure_logging(level="WARNING")
        result = asyncio.run(
            run_bench(
                calls=calls,
                parse_events=parse_events,
                agents=agents,
                time_scale=time_scale,
                gc_tuning=gc_tuning,
            )
        )
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        else:
            for key, value in result.items():
                typer.echo(f"{key:>24}: {value}")
