"""The live stream: Server-Sent Events from the engine's event hub, filtered by role.

A reader first gets the retained present (campaign figures, agent states), then every
event as it happens. Event names are the kinds ``stats``, ``agent``, ``call``,
``screenpop``, ``preview`` and ``error``; each event's data is
``{"topic": ..., "payload": ...}`` (the payloads are described in
:mod:`dialer.runtime.mqtt`). What a reader sees:

* administrators and heads: everything;
* a group leader: campaign figures, its group's agents' states, and the calls its agents
  take (a call shows once it is connected to one of them);
* an agent: its own ``agents/{id}/*`` topics (state, screen pop, preview, errors).

``?campaign=ID`` keeps the events of one campaign (events that name no campaign pass).
``?follow=worklist`` adds the missed-call worklist's events (``inbound/*``, event name
``worklist``; every role reads the worklist) and ``?follow=requests`` the callback requests'
state changes (``requests/{id}``, event name ``request``; administrators and heads see all,
others those of their agents). Pages that show them ask for them; the retained states of
requests are not replayed at connect (there may be thousands).

A stream ends when its session does (sign-out, expiry, a deactivated user: checked every
:data:`RECHECK_S` seconds) and when the engine stops; browsers reconnect by themselves.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse, ServerSentEvent

from campaigns.enums import Role
from dialer.api.hub import EventHub, LiveEvent
from dialer.api.routes.admin_common import MAX_ID
from dialer.api.security import (
    Ctx,
    CurrentUser,
    Principal,
    agent_ids_in_scope,
    principal_for,
    request_token,
)

router = APIRouter(prefix="/api", tags=["live"])

#: Seconds between keep-alive comments on a quiet stream.
PING_S = 15.0
#: Longest wait for the next event before the stream checks whether the hub closed.
POLL_S = 1.0
#: Seconds between checks that the reader's session is still valid.
RECHECK_S = 30.0


@dataclass(frozen=True)
class LiveScope:
    """What one reader may see."""

    everything: bool = False
    agents: frozenset[int] = frozenset()
    """The agents whose events the reader sees (a leader's group, or the agent itself)."""
    own_agent: bool = False
    """An agent: only its own ``agents/{id}/*`` topics."""
    campaign: int | None = None
    follow: frozenset[str] = frozenset()
    """Opt-in kinds: ``worklist``, ``request``."""


#: ``?follow=`` values and the event names they add.
FOLLOW = {"worklist": "worklist", "requests": "request"}


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def kind_of(topic: str) -> str | None:
    """The event name of a topic (None for topics the stream does not carry)."""
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == "campaigns" and parts[2] == "stats":
        return "stats"
    if len(parts) == 3 and parts[0] == "agents":
        kinds = {"state": "agent", "screenpop": "screenpop", "preview": "preview", "error": "error"}
        return kinds.get(parts[2])
    if len(parts) == 3 and parts[0] == "calls":
        return "call"
    if len(parts) == 2 and parts[0] == "inbound":
        return "worklist"
    if len(parts) == 2 and parts[0] == "requests":
        return "request"
    return None


def _campaign_of(kind: str, parts: list[str], event: LiveEvent) -> int | None:
    if kind in {"stats", "call"}:
        return _int(parts[1])
    value = event.payload.get("campaign")
    return value if isinstance(value, int) else None


def admit(scope: LiveScope, event: LiveEvent) -> str | None:
    """The event's name when ``scope`` may see it, else None."""
    kind = kind_of(event.topic)
    if kind is None:
        return None
    if kind in {"worklist", "request"}:
        return _admit_followed(scope, kind, event)
    parts = event.topic.split("/")
    if scope.campaign is not None:
        campaign = _campaign_of(kind, parts, event)
        if campaign is not None and campaign != scope.campaign:
            return None
    if scope.everything:
        return kind
    if kind in {"agent", "screenpop", "preview", "error"}:
        agent = _int(parts[1])
        if agent not in scope.agents:
            return None
        return kind if scope.own_agent or kind == "agent" else None
    if scope.own_agent:
        return None
    if kind == "stats":
        return kind
    agent = event.payload.get("agent")
    return kind if isinstance(agent, int) and agent in scope.agents else None


def _admit_followed(scope: LiveScope, kind: str, event: LiveEvent) -> str | None:
    if kind not in scope.follow:
        return None
    if kind == "worklist" or scope.everything:
        return kind
    agent = event.payload.get("agent")
    return kind if isinstance(agent, int) and agent in scope.agents else None


def scope_for(
    ctx_agents: set[int] | None,
    user: Principal,
    campaign: int | None,
    follow: frozenset[str] = frozenset(),
) -> LiveScope:
    """The live scope of ``user`` (``ctx_agents``: :func:`agent_ids_in_scope`)."""
    if ctx_agents is None:
        return LiveScope(everything=True, campaign=campaign, follow=follow)
    return LiveScope(
        agents=frozenset(ctx_agents),
        own_agent=user.role is Role.AGENT,
        campaign=campaign,
        follow=follow,
    )


def _sse(kind: str, event: LiveEvent) -> ServerSentEvent:
    data = json.dumps({"topic": event.topic, "payload": event.payload}, default=str)
    return ServerSentEvent(data=data, event=kind)


async def live_events(
    hub: EventHub, scope: LiveScope, still_valid: Callable[[], bool] = lambda: True
) -> AsyncIterator[ServerSentEvent]:
    """The retained present, then each event, for one reader; ends when the hub closes or
    ``still_valid`` (run in the thread pool every :data:`RECHECK_S`) says False."""
    sub = hub.subscribe()
    try:
        for event in hub.snapshot():
            kind = admit(scope, event)
            if kind is not None and kind != "request":
                yield _sse(kind, event)
        checked = time.monotonic()
        while not hub.closed:
            if time.monotonic() - checked >= RECHECK_S:
                if not await run_in_threadpool(still_valid):
                    return
                checked = time.monotonic()
            try:
                async with asyncio.timeout(POLL_S):
                    event = await sub.queue.get()
            except TimeoutError:
                continue
            kind = admit(scope, event)
            if kind is not None:
                yield _sse(kind, event)
    finally:
        hub.unsubscribe(sub)


@router.get(
    "/live",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "An endless text/event-stream of live events",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def live(
    request: Request,
    user: CurrentUser,
    ctx: Ctx,
    campaign: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    follow: Annotated[list[Literal["worklist", "requests"]] | None, Query(max_length=2)] = None,
) -> EventSourceResponse:
    """Live events (Server-Sent Events): campaign figures, agent states, calls, screen pops
    and errors, as the caller's role may see them; the present state first; with
    ``follow``, the worklist's and the callback requests' events too."""
    agents = await run_in_threadpool(agent_ids_in_scope, ctx, user)
    scope = scope_for(agents, user, campaign, frozenset(FOLLOW[f] for f in follow or ()))
    token, _ = request_token(request)

    def still_valid() -> bool:
        return token is not None and principal_for(ctx, token) is not None

    return EventSourceResponse(live_events(ctx.hub, scope, still_valid), ping=PING_S)
