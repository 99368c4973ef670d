"""Commands from MQTT: who sent them, whether that role may, and the audit log.

A broker tells the engine nothing trustworthy about who published a message (MQTT v5
user properties are set by the publisher, not the broker), so every command carries the
sender's proof in its payload: ``"token"``, the API session token the sender got from
``POST /api/auth/login`` (or ``dialer agent … --user LOGIN``). The engine looks the token up
like the API does (its SHA-256 in ``user_session``, not expired, the user active), checks
the user's role against the topic, carries the command out and writes it to the audit log
with that user. The token never reaches a log, an answer or the audit log.

Rules (the same as the HTTP API's):

- ``{prefix}/agents/{id}/cmd``: only the agent user tied to agent ``id``.
- ``{prefix}/campaigns/{id}/cmd``: only an administrator or a head.

The broker's ACL (``config/mosquitto/acl``) keeps the command topics readable by the
engine's account alone, so a token in a command is seen by no other client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from sqlmodel import Session, select

from campaigns.enums import Role
from campaigns.models import Agent, User, UserSession
from campaigns.statuses import audit
from dialer.engine.actions import ACTIONS
from dialer.errors import DialerError
from dialer.runtime.mqtt import EventSink

log = structlog.get_logger(__name__)

AGENT_ACTIONS = frozenset(ACTIONS)  # what the engine's dispatcher understands
CAMPAIGN_ACTIONS = frozenset({"start", "pause", "stop"})
CAMPAIGN_ROLES = frozenset({Role.ADMIN, Role.HEAD})
TOKEN_FIELD = "token"  # noqa: S105  (the name of a payload field)


class CommandRefusedError(DialerError):
    """A command that its sender may not give (or that proves no sender)."""

    error_id = "command_refused"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class SeatRefusedError(DialerError):
    """An agent asked for a seat that is not its own nor one allowed to it."""

    error_id = "seat_refused"

    def __init__(self, agent: str, seat: str, allowed: Iterable[str]) -> None:
        self.seat = seat
        listed = ", ".join(sorted(allowed)) or "none"
        super().__init__(
            f"seat {seat!r} is not a seat of agent {agent}: its seats are {listed} "
            "(an administrator adds seats to the agent's list)"
        )


@dataclass(frozen=True, slots=True)
class Sender:
    """The signed-in user a command came from."""

    user_id: int
    login: str
    role: Role
    agent_id: int | None

    @property
    def actor(self) -> str:
        """How the audit log names this user (as for the API's changes)."""
        return f"user:{self.login}"


def token_hash(token: str) -> str:
    """The SHA-256 under which a session token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def sender_of(db: sa.Engine, token: object, now: dt.datetime | None = None) -> Sender | None:
    """The active user of a live session ``token`` (None: no such session)."""
    if not isinstance(token, str) or not 16 <= len(token) <= 256:
        return None
    now = now or dt.datetime.now(dt.UTC)
    with Session(db) as session:
        row = session.get(UserSession, token_hash(token))
        if row is None or row.expires_at <= now:
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        return Sender(
            user_id=user.id or 0, login=user.login, role=Role(user.role), agent_id=user.agent_id
        )


def authorize(sender: Sender | None, kind: str, ident: int) -> Sender:
    """``sender`` when it may command ``kind``/``ident``; else :class:`CommandRefusedError`."""
    if sender is None:
        msg = f"no valid session: send {TOKEN_FIELD!r}, a token from POST /api/auth/login"
        raise CommandRefusedError(msg)
    if kind == "agents":
        if sender.role is not Role.AGENT or sender.agent_id != ident:
            msg = f"user {sender.login} may not act for agent {ident}"
            raise CommandRefusedError(msg)
    elif sender.role not in CAMPAIGN_ROLES:
        msg = f"user {sender.login} ({sender.role.value}) may not start, pause or stop campaigns"
        raise CommandRefusedError(msg)
    return sender


def check_seat(db: sa.Engine, agent_id: int, seat: str | None) -> str:
    """The seat agent ``agent_id`` logs in on: ``seat`` when it is the agent's extension
    (its login when it has none) or in the agent's allowed seats; the default seat when
    ``seat`` is empty. Raises :class:`SeatRefusedError` naming the agent's seats otherwise."""
    with Session(db) as session:
        agent = session.get(Agent, agent_id)
        if agent is None:
            msg = f"agent {agent_id} does not exist"
            raise CommandRefusedError(msg)
        own = agent.extension or agent.login
        allowed = {own, *(agent.seats or [])}
        if not seat:
            return own
        if seat not in allowed:
            raise SeatRefusedError(agent.login, seat, allowed)
        return seat


AgentCommand = Callable[[int, str, dict[str, Any]], None]
CampaignCommand = Callable[[int, str], None]


class CommandGate:
    """The engine's MQTT command handler: authenticate, authorize, carry out, audit.

    A refused or failed agent command is answered on ``agents/{id}/error`` (a campaign
    command on ``campaigns/{id}/error``) with the reason, and logged; nothing raises.
    """

    def __init__(
        self,
        *,
        db: sa.Engine,
        sink: EventSink,
        agent_command: AgentCommand,
        campaign_command: CampaignCommand,
        errors: tuple[type[Exception], ...] = (DialerError, KeyError, ValueError, TypeError),
    ) -> None:
        self._db = db
        self._sink = sink
        self._agent_command = agent_command
        self._campaign_command = campaign_command
        self._errors = errors
        #: Commands carried out and refused since start.
        self.accepted = 0
        self.refused = 0

    async def __call__(self, kind: str, ident: str, payload: dict[str, Any]) -> None:
        """Handle one decoded command (see :func:`dialer.runtime.mqtt.decode_command`)."""
        token = payload.pop(TOKEN_FIELD, None)
        action = payload.get("action")
        target = int(ident)
        try:
            sender = authorize(await asyncio.to_thread(sender_of, self._db, token), kind, target)
            if not isinstance(action, str):
                msg = "action: missing or not text"
                raise CommandRefusedError(msg)
            if kind == "agents":
                if action not in AGENT_ACTIONS:
                    msg = f"unknown action {action[:40]!r} ({', '.join(sorted(AGENT_ACTIONS))})"
                    raise CommandRefusedError(msg)
                self._agent_command(target, action, payload)
            else:
                if action not in CAMPAIGN_ACTIONS:
                    msg = f"unknown action {action[:40]!r} (start, pause, stop)"
                    raise CommandRefusedError(msg)
                self._campaign_command(target, action)
        except Exception as exc:
            self.refused += 1
            if isinstance(exc, KeyError):
                reason = f"missing field {exc}"
            elif isinstance(exc, self._errors):
                reason = str(exc)
            else:  # not a refusal the engine meant: keep the traceback in the log
                log.error("mqtt_command_failed", kind=kind, id=target, exc_info=exc)
                reason = f"the engine failed on this command ({type(exc).__name__})"
            reason = reason[:300]
            log.warning("mqtt_command_refused", kind=kind, id=target, reason=reason)
            self._sink.publish(
                f"{kind}/{target}/error", {"action": str(action)[:40], "error": reason}
            )
            return
        self.accepted += 1
        entity = "agent" if kind == "agents" else "campaign"
        await asyncio.to_thread(self._audit, sender, entity, target, action, payload)

    def _audit(
        self, sender: Sender, entity: str, target: int, action: str, payload: dict[str, Any]
    ) -> None:
        details = {key: value for key, value in payload.items() if key != "action"}
        with Session(self._db) as session:
            audit(
                session,
                actor=sender.actor,
                action=f"{entity}.{action}",
                entity=entity,
                entity_id=target,
                details={**details, "via": "mqtt"},
            )
            session.commit()


def open_cli_session(db: sa.Engine, login: str, password: str, *, hours: float = 1.0) -> str:
    """Sign ``login`` in for a command-line tool; the new session's token
    (:class:`CommandRefusedError` for a wrong login or password)."""
    from dialer.services.accounts import check_password  # noqa: PLC0415  (argon2 only here)

    with Session(db) as session:
        user = session.exec(select(User).where(User.login == login)).first()
        if user is None or not user.active or not check_password(user.password_hash, password):
            msg = "wrong login or password"
            raise CommandRefusedError(msg)
        import secrets  # noqa: PLC0415

        token = secrets.token_urlsafe(32)
        now = dt.datetime.now(dt.UTC)
        session.add(
            UserSession(
                token_hash=token_hash(token),
                user_id=user.id or 0,
                csrf=secrets.token_urlsafe(24),
                created_at=now,
                expires_at=now + dt.timedelta(hours=hours),
            )
        )
        session.commit()
    return token
