"""``dialer source add|list|revoke``: the websites and CRMs that may ask for callbacks.

``add`` prints the new API key once (only its SHA-256 is stored); ``revoke`` makes the
key refused at once. Every change is audited as ``cli:<system user>``.
"""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
import typer
from rich.table import Table
from sqlmodel import Session

from campaigns import requests as rq


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add ``dialer source``."""
    del bench
    from dialer.cli.campaign_cmds import _actor, _database, console

    source_app = typer.Typer(
        help="Callback-request sources (website widgets, CRMs) and their API keys.",
        no_args_is_help=True,
    )
    app.add_typer(source_app, name="source")

    def engine_of(session: Session) -> sa.Engine:
        bind = session.get_bind()
        return bind if isinstance(bind, sa.Engine) else bind.engine

    @source_app.command("add")
    def source_add(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="The source's name (shown with its requests)."),
        rate: int = typer.Option(30, "--rate", help="Requests accepted per minute."),
        answer_within: int = typer.Option(
            900,
            "--answer-within",
            help="Seconds a request may wait for a free agent before it is missed by agent.",
        ),
    ) -> None:
        """Add a source and print its API key (shown this once: store it now)."""
        with _database(ctx, write=True) as session:
            view, key = rq.create_source(
                engine_of(session),
                name,
                actor=_actor(),
                now=dt.datetime.now(dt.UTC),
                rate_per_min=rate,
                answer_within_s=answer_within,
            )
        console.print(f"added source {view.name!r} (id {view.id})")
        console.print("API key (send it as the X-API-Key header; it is not shown again):")
        typer.echo(key)

    @source_app.command("list")
    def source_list(
        ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="JSON output.")
    ) -> None:
        """List the sources with their key's first characters (never the key)."""
        with _database(ctx) as session:
            sources = rq.list_sources(engine_of(session))
        rows = [
            {
                "id": s.id,
                "name": s.name,
                "key_prefix": s.key_prefix,
                "rate_per_min": s.rate_per_min,
                "answer_within_s": s.answer_within_s,
                "created_by": s.created_by,
                "active": s.active,
                "revoked_at": s.revoked_at.isoformat() if s.revoked_at else None,
            }
            for s in sources
        ]
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        table = Table(title="request sources")
        for column in ("id", "name", "key begins", "per min", "answer within s", "active"):
            table.add_column(column)
        for r in rows:
            table.add_row(
                str(r["id"]),
                str(r["name"]),
                f"{r['key_prefix']}…",
                str(r["rate_per_min"]),
                str(r["answer_within_s"]),
                "yes" if r["active"] else f"revoked {r['revoked_at']}",
            )
        console.print(table)

    @source_app.command("revoke")
    def source_revoke(
        ctx: typer.Context, source: str = typer.Argument(..., help="Source name or id.")
    ) -> None:
        """Revoke a source's key: its requests are refused from now on."""
        with _database(ctx, write=True) as session:
            view = rq.revoke_source(
                engine_of(session), source, actor=_actor(), now=dt.datetime.now(dt.UTC)
            )
        console.print(f"revoked the key of source {view.name!r} (id {view.id})")
