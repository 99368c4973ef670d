"""``dialer agent …``: an agent's actions sent to the running engine over MQTT.

Each command publishes to ``{prefix}/agents/{agent}/cmd`` and then listens briefly for the
engine's answer: the agent's new state, or the reason the engine refused the action. The
engine carries out only commands that prove their sender: ``--token`` (or ``$DIALER_TOKEN``),
an API session token of the agent's user, or ``--user LOGIN``, which signs that user in with
the password read from the terminal (or one line of standard input).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import sys
from typing import Any

import aiomqtt
import typer


async def send_agent_command(
    *,
    host: str,
    port: int,
    prefix: str,
    agent: int,
    payload: dict[str, Any],
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    tls: aiomqtt.TLSParameters | None = None,
    wait_s: float = 3.0,
) -> tuple[str, dict[str, Any]] | None:
    """Publish an agent command; return ("state" | "error", payload) from the engine, or
    ``None`` when nothing came back within ``wait_s``."""
    state_topic = f"{prefix}/agents/{agent}/state"
    error_topic = f"{prefix}/agents/{agent}/error"
    async with aiomqtt.Client(
        host, port, username=username, password=password, tls_params=tls
    ) as client:
        await client.subscribe(error_topic, qos=1)
        await client.subscribe(state_topic, qos=1)
        # The retained state arrives first: skip it, the answer is what comes after.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.3):
                async for _ in client.messages:
                    pass
        body = {**payload, "token": token} if token else payload
        await client.publish(f"{prefix}/agents/{agent}/cmd", json.dumps(body), qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                async for message in client.messages:
                    raw = message.payload
                    body = json.loads(raw) if isinstance(raw, bytes | str) else {}
                    kind = "error" if str(message.topic) == error_topic else "state"
                    return kind, body
    return None


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add ``dialer agent …``."""
    del bench
    agent_app = typer.Typer(
        help="Agent actions sent to the running engine over MQTT (mqtt section of the settings).",
        no_args_is_help=True,
    )
    app.add_typer(agent_app, name="agent")

    @agent_app.callback()
    def sender(
        ctx: typer.Context,
        token: str | None = typer.Option(
            None, "--token", envvar="DIALER_TOKEN", help="API session token of the sender."
        ),
        user: str | None = typer.Option(
            None, "--user", help="Sign this user in (password from the terminal or stdin)."
        ),
    ) -> None:
        """Who sends the command: ``--token`` or ``--user LOGIN``."""
        ctx.meta["agent_sender"] = (token, user)

    def _token(ctx: typer.Context) -> str:
        from dialer.cli.campaign_cmds import fail, get_settings
        from dialer.runtime.commands import CommandRefusedError, open_cli_session

        token, user = ctx.meta.get("agent_sender", (None, None))
        if token:
            return str(token)
        if not user:
            fail("say who sends the command: --user LOGIN or --token TOKEN ($DIALER_TOKEN)")
        password = (
            getpass.getpass(f"password of {user}: ")
            if sys.stdin.isatty()
            else sys.stdin.readline().rstrip("\n")
        )
        from campaigns.db import make_engine

        db = make_engine(get_settings(ctx).database.url)
        try:
            return open_cli_session(db, str(user), password, hours=0.1)
        except CommandRefusedError as exc:
            fail(f"--user {user}: {exc}")
        finally:
            db.dispose()

    def _send(ctx: typer.Context, agent: int, payload: dict[str, Any]) -> None:
        from dialer.cli.campaign_cmds import fail, get_settings
        from dialer.runtime.mqtt import mqtt_tls

        settings = get_settings(ctx)
        mqtt = settings.mqtt
        token = _token(ctx)
        try:
            answer = asyncio.run(
                send_agent_command(
                    host=mqtt.host,
                    port=mqtt.port,
                    prefix=mqtt.topic_prefix,
                    agent=agent,
                    payload=payload,
                    username=mqtt.username,
                    password=mqtt.password.get_secret_value() if mqtt.password else None,
                    token=token,
                    tls=mqtt_tls(mqtt),
                )
            )
        except OSError as exc:
            fail(f"MQTT broker {mqtt.host}:{mqtt.port} is not reachable ({exc})")
        except Exception as exc:  # aiomqtt.MqttError and friends
            fail(f"MQTT broker {mqtt.host}:{mqtt.port}: {exc}")
        if answer is None:
            fail("no answer from the engine within 3 s (is `dialer run` running with MQTT on?)")
        kind, body = answer
        if kind == "error":
            fail(f"agent {agent}: {body.get('error', body)}")
        phase = body.get("phase", "?")
        extra = body.get("pause_reason") or body.get("call_id") or ""
        typer.echo(f"agent {agent}: {phase}{f' ({extra})' if extra else ''}")

    @agent_app.command("login")
    def login(
        ctx: typer.Context,
        agent: int = typer.Argument(..., help="Agent id."),
        campaign: int = typer.Option(..., "--campaign", help="Campaign id to work."),
        seat: str | None = typer.Option(None, "--seat", help="Seat (default: extension/login)."),
    ) -> None:
        """Log in: the engine starts the agent's seat; ready once it answers."""
        payload: dict[str, Any] = {"action": "login", "campaign": campaign}
        if seat:
            payload["seat"] = seat
        _send(ctx, agent, payload)

    @agent_app.command("ready")
    def ready(ctx: typer.Context, agent: int = typer.Argument(..., help="Agent id.")) -> None:
        """Take calls again."""
        _send(ctx, agent, {"action": "ready"})

    @agent_app.command("pause")
    def pause(
        ctx: typer.Context,
        agent: int = typer.Argument(..., help="Agent id."),
        reason: str = typer.Option(..., "--reason", help="Why (break, training, …)."),
    ) -> None:
        """Pause now, or after the current call."""
        _send(ctx, agent, {"action": "pause", "reason": reason})

    @agent_app.command("logout")
    def logout(ctx: typer.Context, agent: int = typer.Argument(..., help="Agent id.")) -> None:
        """Log out now, or after the current call."""
        _send(ctx, agent, {"action": "logout"})

    @agent_app.command("status")
    def status(
        ctx: typer.Context,
        agent: int = typer.Argument(..., help="Agent id."),
        *,
        call_id: str = typer.Option(..., "--call", help="The call's id (from the screen pop)."),
        status_id: int = typer.Option(..., "--status", help="Status id offered by the campaign."),
        date: str | None = typer.Option(
            None, "--date", help="For MY_RECORD / NOT_BEFORE: ISO time, e.g. 2026-11-24T10:00+01:00"
        ),
        note: str = typer.Option("", "--note", help="A note for the call log."),
    ) -> None:
        """Set the status of the agent's call (ends wrap-up)."""
        payload: dict[str, Any] = {
            "action": "status",
            "call_id": call_id,
            "status": status_id,
            "note": note,
        }
        if date:
            payload["date"] = date
        _send(ctx, agent, payload)
