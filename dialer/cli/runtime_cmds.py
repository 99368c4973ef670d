"""Runtime commands: ``dialer simulate`` (and, with the engine, ``dialer run``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``PORT``) → (host, port); a bad value ends the command."""
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", value
    if not port.isdigit() or not 0 < int(port) < 65_536:
        typer.echo(f"error: --http {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8080", err=True)
        raise typer.Exit(2)
    return host or "127.0.0.1", int(port)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add the runtime commands."""

    @bench.command("engine")
    def bench_engine(
        agents: int = typer.Option(500, "--agents", min=1, help="Simulated agents."),
        seconds: float = typer.Option(
            90.0, "--seconds", min=35, help="Real seconds to run (the first 30 are warm-up)."
        ),
        records: int = typer.Option(100_000, "--records", min=1000, help="List size."),
        profiles: Path = typer.Option(
            Path("config/pacing"), "--profiles", help="Folder with predictive.toml."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """The engine with N simulated agents against pbx-sim in real time: answer-to-connect
        and tick-to-originate latency (p50/p99)."""
        import structlog

        from dialer.sim.bench_engine import run as run_bench

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
        result = run_bench(agents, seconds, records, profiles)
        if as_json:
            typer.echo(json.dumps(result))
        else:
            for key, value in result.items():
                typer.echo(f"{key:24} {value}")

    @bench.command("cluster")
    def bench_cluster(  # noqa: PLR0917  (typer: each option is a parameter)
        engines: int = typer.Option(2, "--engines", min=1, help="Engine processes."),
        servers: int = typer.Option(2, "--servers", min=1, help="PBX simulators."),
        agents: int = typer.Option(250, "--agents", min=2, help="Simulated agents in all."),
        campaigns: int | None = typer.Option(
            None, "--campaigns", min=1, help="Campaigns (default: 2 per engine)."
        ),
        seconds: float = typer.Option(
            90.0,
            "--seconds",
            min=10,
            help="Real seconds to run once every campaign is owned, warm-up included.",
        ),
        warmup: float = typer.Option(
            30.0, "--warmup", min=0, help="Real seconds at the start not measured."
        ),
        database_url: str | None = typer.Option(
            None,
            "--database-url",
            help="PostgreSQL to run on (a fresh schema is made and dropped); default: "
            "DIALER_BENCH_PG_URL, else the settings' database URL.",
        ),
        profiles: Path = typer.Option(
            Path("config/pacing"), "--profiles", help="Folder with predictive.toml."
        ),
        profile_to: Path | None = typer.Option(
            None, "--profile-to", help="Folder for each engine's cProfile (bench<k>.prof)."
        ),
        logs_to: Path | None = typer.Option(
            None,
            "--logs-to",
            help="Folder to keep each engine's and simulator's log in (default: deleted).",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """E engine processes and S simulators on loopback over one PostgreSQL: dials/s,
        answer-to-connect p50/p99, tick p99, abandonment per campaign, double dials,
        database CPU and connections, engine CPU-seconds per agent-hour."""
        import os

        from dialer.config import load_settings
        from dialer.sim.bench_cluster import run_cluster_bench

        url = database_url or os.environ.get("DIALER_BENCH_PG_URL")
        if url is None:
            url = load_settings().database.url
        if seconds < warmup + 10:
            typer.echo(
                f"error: --seconds {seconds:g} must be at least --warmup {warmup:g} + 10 "
                "(something must be measured)",
                err=True,
            )
            raise typer.Exit(2)
        if not url.startswith("postgresql"):
            typer.echo(
                f"error: --database-url {url.split('@')[-1]!r}: the cluster bench needs "
                "PostgreSQL (postgresql+psycopg://user@host/db)",
                err=True,
            )
            raise typer.Exit(2)
        result = run_cluster_bench(
            engines=engines,
            servers=servers,
            agents=agents,
            pg_url=url,
            seconds=seconds,
            warmup_s=warmup,
            campaigns=campaigns,
            profiles_dir=profiles,
            profile_to=profile_to,
            logs_to=logs_to,
        )
        if as_json:
            typer.echo(json.dumps(result))
        else:
            for key, value in result.items():
                typer.echo(f"{key:30} {value}")

    @app.command()
    def run(  # noqa: PLR0917  (typer: each option is a parameter)
        ctx: typer.Context,
        sim_agents: Path | None = typer.Option(
            None,
            "--sim-agents",
            help="Scenario TOML whose simulated agents work --campaign (testing with pbx-sim).",
        ),
        campaign: str | None = typer.Option(
            None,
            "--campaign",
            help="With --sim-agents: the campaign they work (name or id), or `all`: every "
            "campaign, each with its own agents, acting while this engine runs it (a cluster).",
        ),
        time_scale: float = typer.Option(
            1.0, "--time-scale", min=1.0, help="Engine clock speed; match pbx-sim --time-scale."
        ),
        http: str | None = typer.Option(
            None,
            "--http",
            help="Serve the HTTP API and pages on HOST:PORT (default: [http] of the settings).",
        ),
        metrics: Path | None = typer.Option(
            None,
            "--metrics",
            help="Write latency samples (answer-to-connect, tick-to-originate) as JSON to "
            "this file when the engine stops (used by `dialer bench cluster`).",
        ),
    ) -> None:
        """Run the engine: the campaigns that are running in the database, on the Asterisk
        servers of the settings, until interrupted (Ctrl-C)."""
        import asyncio

        from dialer.cli.campaign_cmds import get_settings
        from dialer.errors import ROOT_ERRORS
        from dialer.runtime import run_forever
        from dialer.sim.simagents import all_campaigns_agents, scenario_agents

        settings = get_settings(ctx)
        try:
            agents = None
            if sim_agents is not None:
                if campaign is None:
                    typer.echo("error: --sim-agents needs --campaign", err=True)
                    raise typer.Exit(2)
                agents = (
                    all_campaigns_agents(settings, sim_agents)
                    if campaign == "all"
                    else scenario_agents(settings, sim_agents, campaign)
                )
            listen = parse_listen(http) if http else None
            if listen is None and settings.http.enabled:
                listen = (settings.http.host, settings.http.port)
            asyncio.run(
                run_forever(
                    settings,
                    time_scale=time_scale,
                    sim_agents=agents,
                    http=listen,
                    metrics=metrics,
                )
            )
        except ROOT_ERRORS as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        except KeyboardInterrupt:
            typer.echo("stopped", err=True)

    @app.command()
    def demo(
        *,
        minutes: float = typer.Option(
            60.0, "--minutes", min=0.5, help="Call-center minutes to run (simulated)."
        ),
        time_scale: float | None = typer.Option(
            None,
            "--time-scale",
            min=1.0,
            help="Simulated seconds per real second (default 30; 1 with --http).",
        ),
        db: Path = typer.Option(
            Path("var/demo.db"), "--db", help="SQLite file to (re)create for the demo."
        ),
        fresh: bool = typer.Option(
            False,
            "--fresh",
            "--yes",
            help="Replace an existing --db file without asking (otherwise asked on a "
            "terminal, refused without one).",
        ),
        live: bool = typer.Option(True, "--live/--no-live", help="Show the live view."),
        http: str | None = typer.Option(
            None,
            "--http",
            help="Also serve the web pages and API on HOST:PORT, with demo users and a seat "
            "for you on the agent page (real time unless --time-scale).",
        ),
        trace_dir: Path | None = typer.Option(
            None,
            "--trace-dir",
            help="Trace the campaign's pacer into this folder (demo-campaign-1.jsonl), to "
            "replay it with `dialer pacing replay` through other profiles.",
        ),
    ) -> None:
        """The demo: a predictive campaign on the PBX simulator with ten simulated agents,
        an hour of call-center time in about two minutes, then a summary."""
        import asyncio

        import structlog
        from rich.console import Console

        from dialer.cli.replace import may_replace
        from dialer.sim.demo import print_summary, run_demo

        may_replace(db, fresh=fresh)
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
        console = Console()
        listen = parse_listen(http) if http else None
        scale = time_scale if time_scale is not None else (1.0 if listen else 30.0)
        result = asyncio.run(
            run_demo(
                db_path=db,
                minutes=minutes,
                time_scale=scale,
                live=live,
                console=console,
                http=listen,
                trace_dir=trace_dir,
            )
        )
        print_summary(result, console)

    @app.command()
    def simulate(
        *,
        scenario: Path = typer.Option(
            ..., "--scenario", help="scenario TOML (the format of shared/scenarios)"
        ),
        pacing: list[Path] = typer.Option(
            ...,
            "--pacing",
            help="pacing profile TOML, e.g. config/pacing/predictive.toml; repeat it to "
            "compare profiles side by side on the same customers and agents",
        ),
        seeds: int = typer.Option(1, "--seeds", min=1, help="how many seeded runs (1, 2, …)"),
        hours: float | None = typer.Option(
            None, "--hours", min=0.01, help="simulate this many hours instead of the scenario's"
        ),
        amd: bool = typer.Option(
            True, "--amd/--no-amd", help="answering-machine detection on answered calls"
        ),
        chart: Path | None = typer.Option(
            None,
            "--chart",
            help="also write an SVG chart: abandonment and occupancy so far, per profile",
        ),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    ) -> None:
        """What-if for ops: run the real engine on a scenario in virtual time, a day in seconds.

        Prints occupancy, talk minutes per agent hour, abandonment per day and worst hour,
        and dials per connect, for each seed; with several --pacing profiles, one column per
        profile (every profile meets the same seeded customers and agents).
        """
        import structlog
        from rich.console import Console
        from rich.table import Table

        from asterisk.scenario import load_scenario
        from dialer.errors import ROOT_ERRORS
        from dialer.sim.live import summary_table
        from dialer.sim.simulate import chart_svg, comparison_rows
        from dialer.sim.simulate import simulate as run_simulation
        from pacing.profile import build_pacer, load_profile

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
        try:
            sc = load_scenario(scenario)
            profiles = {_profile_label(p, pacing): load_profile(p) for p in pacing}
        except ROOT_ERRORS as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        duration = None if hours is None else hours * 3600.0
        runs = {
            label: [
                run_simulation(sc, build_pacer(profile), seed=seed, duration_s=duration, amd=amd)
                for seed in range(1, seeds + 1)
            ]
            for label, profile in profiles.items()
        }
        if chart is not None:
            target = next(iter(profiles.values())).target_abandon
            title = f"{sc.name}: {', '.join(runs)} ({seeds} seed{'s' if seeds > 1 else ''})"
            chart.write_text(chart_svg(runs, title=title, target_abandon=target), "utf-8")
        if as_json:
            if len(runs) == 1:
                results = next(iter(runs.values()))
                typer.echo(json.dumps([r.as_dict() for r in results], indent=2))
            else:
                payload = {k: [r.as_dict() for r in v] for k, v in runs.items()}
                typer.echo(json.dumps(payload, indent=2))
            return
        console = Console()
        if len(runs) > 1:
            table = Table(title=f"{sc.name}: profiles side by side")
            table.add_column("figure", style="bold")
            for label in runs:
                table.add_column(label, justify="right")
            for figure, cells in comparison_rows(runs):
                table.add_row(figure, *cells)
            console.print(table)
            return
        for r in next(iter(runs.values())):
            worst = r.worst_hour_abandon_rate
            rows = [
                ("simulated", f"{r.simulated_s / 3600:.1f} h in {r.wall_s:.1f} s"),
                ("occupancy", f"{100 * r.occupancy:.1f} %"),
                ("talk min / agent hour", f"{r.talk_min_per_agent_hour:.1f}"),
                ("abandonment", f"{100 * r.abandon_rate:.2f} %  ({r.dropped}/{r.answered})"),
                ("abandonment per day", ", ".join(f"{100 * d:.2f} %" for d in r.abandon_per_day)),
                ("worst hour", "-" if worst is None else f"{100 * worst:.2f} %"),
                ("dials per connect", f"{r.dials_per_connect or 0:.2f}"),
                ("dials / connects", f"{r.dials} / {r.connected}"),
            ]
            title = f"{r.scenario}, seed {r.seed}, profile {pacing[0].stem}"
            console.print(summary_table(rows, title=title))


def _profile_label(path: Path, all_paths: list[Path]) -> str:
    """A profile's column name: its file stem, or its path when two stems are alike."""
    stems = [p.stem for p in all_paths]
    return path.stem if stems.count(path.stem) == 1 else str(path)
