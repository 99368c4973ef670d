"""Several Asterisk servers behind one interface.

``async with AmiPool(servers) as pbx:`` runs one :class:`AmiAdapter` per server. A new
call goes to the server its request names (``DialRequest.server``: where the agent seats
that will take it are) while that server is connected, has a free channel and a rate
slot; otherwise to a connected server with free capacity (the most free first); a server
whose AMI session is down takes no new calls. A call stays on the server that placed it, and an
answered call can only be connected to an agent whose seat is on that same server (a
Redirect cannot cross servers): :meth:`AmiPool.server_of_agent` tells the engine where.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

from asterisk.adapter import AmiAdapter, DialRequest, EventSink
from asterisk.errors import (
    AmiCapacityError,
    AmiDuplicateOriginateError,
    AmiError,
    AmiNotConnectedError,
    AmiUnknownCallError,
)
from asterisk.events import TERMINAL, LifecycleEvent, SeatDown
from asterisk.protocol import Message
from asterisk.queues import InboundSink
from asterisk.settings import AmiServerSettings


class Telephony(Protocol):
    """What the engine calls: implemented by :class:`AmiAdapter` and :class:`AmiPool`."""

    async def originate(self, req: DialRequest) -> str:
        """Place a call; the result arrives as lifecycle events."""
        ...

    def connect(self, call_id: str, agent_id: str) -> None:
        """Move an answered call into an agent's seat."""
        ...

    def drop(self, call_id: str) -> None:
        """Send an answered call to the drop context."""
        ...

    def hangup(self, call_id: str, cause: int = 16) -> None:
        """Hang a call up."""
        ...

    def start_seat(self, agent_id: str, *, group: str | None = None) -> str:
        """Bring an agent's seat up (``group``: the agent's campaign)."""
        ...

    def stop_seat(self, agent_id: str) -> None:
        """Tear an agent's seat down."""
        ...


class AmiPool:
    """One adapter per server; routing by capacity and health."""

    def __init__(
        self,
        servers: Sequence[AmiServerSettings],
        *,
        client_id: str = "",
        on_event: EventSink | None = None,
        on_inbound: InboundSink | None = None,
        adapter_factory: Callable[..., AmiAdapter] = AmiAdapter,
    ) -> None:
        if not servers:
            msg = "AmiPool needs at least one server"
            raise ValueError(msg)
        self._on_event = on_event
        self._queue: asyncio.Queue[LifecycleEvent] = asyncio.Queue()
        self.adapters = [
            adapter_factory(s, client_id=client_id, on_event=self._sink, on_inbound=on_inbound)
            for s in servers
        ]
        self._by_name = {a.name: a for a in self.adapters}
        self._call_server: dict[str, AmiAdapter] = {}
        self._agent_server: dict[str, AmiAdapter] = {}
        self._agent_group: dict[str, str] = {}  # agent -> campaign, for seats kept together
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> AmiPool:
        for adapter in self.adapters:
            await self._stack.enter_async_context(adapter)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def wait_ready(self, within_s: float | None = None) -> None:
        """Wait until at least one server is connected."""

        waits = [asyncio.create_task(a.wait_ready()) for a in self.adapters]
        try:
            done, _ = await asyncio.wait(
                waits, timeout=within_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        if not done:
            raise TimeoutError

    def _sink(self, ev: LifecycleEvent) -> None:
        if isinstance(ev, TERMINAL):
            self._call_server.pop(ev.call_id, None)
        elif isinstance(ev, SeatDown):
            self._agent_server.pop(ev.agent_id, None)
            self._agent_group.pop(ev.agent_id, None)
        if self._on_event is not None:
            self._on_event(ev)
        else:
            self._queue.put_nowait(ev)

    async def events(self) -> AsyncIterator[LifecycleEvent]:
        """Lifecycle events of every server, when no ``on_event`` callback was given."""
        while True:
            yield await self._queue.get()

    @property
    def free_capacity(self) -> int:
        """Calls the connected servers can still take."""
        return sum(a.free_capacity for a in self.adapters)

    def pick(self) -> AmiAdapter:
        """The server for the next call: connected, with the most free channels."""
        live = [a for a in self.adapters if a.connected]
        if not live:
            raise AmiNotConnectedError(", ".join(self._by_name))
        best = max(live, key=lambda a: a.free_capacity)
        if best.free_capacity <= 0:
            raise AmiCapacityError(best.name, best.settings.max_channels)
        return best

    async def originate(self, req: DialRequest) -> str:
        """Place a call on the best server; returns the ActionID.

        If that server refuses before writing anything (it just went down, or filled up
        while the call waited for its rate slot), the next best one is tried: safe, since
        a refused Originate was never sent.
        """
        if req.call_id in self._call_server:
            raise AmiDuplicateOriginateError(req.call_id)
        tried: set[str] = set()
        last_error: AmiError | None = None
        while True:
            live = [
                a
                for a in self.adapters
                if a.connected and a.free_capacity > 0 and a.name not in tried
            ]
            if not live:
                if last_error is not None:
                    raise last_error
                self.pick()  # raises the right error: nothing connected, or all full
            wanted = self._by_name.get(req.server or "")
            adapter = wanted if wanted in live else max(live, key=lambda a: a.free_capacity)
            tried.add(adapter.name)
            self._call_server[req.call_id] = adapter
            try:
                return await adapter.originate(req)
            except (AmiNotConnectedError, AmiCapacityError) as exc:
                self._call_server.pop(req.call_id, None)
                last_error = exc
            except BaseException:
                self._call_server.pop(req.call_id, None)
                raise

    def originate_nowait(self, req: DialRequest) -> str | None:
        """Send on the requested server (else the best one) at once if its rate allows;
        ``None`` when the call would have to wait for a rate slot (then use
        :meth:`originate`, or call again later)."""
        if req.call_id in self._call_server:
            raise AmiDuplicateOriginateError(req.call_id)
        live = [a for a in self.adapters if a.connected and a.free_capacity > 0]
        if not live:
            self.pick()  # raises the right error: nothing connected, or all full
        wanted = self._by_name.get(req.server or "")
        adapter = wanted if wanted in live else max(live, key=lambda a: a.free_capacity)
        self._call_server[req.call_id] = adapter
        try:
            sent = adapter.originate_nowait(req)
        except BaseException:
            self._call_server.pop(req.call_id, None)
            raise
        if sent is None:
            self._call_server.pop(req.call_id, None)
        return sent

    def server_of_call(self, call_id: str) -> str:
        """The name of the server carrying ``call_id``."""
        return self._adapter_of_call(call_id).name

    def server_of_agent(self, agent_id: str) -> str | None:
        """The name of the server where ``agent_id``'s seat is, if any."""
        adapter = self._agent_server.get(agent_id)
        return adapter.name if adapter else None

    def _adapter_of_call(self, call_id: str) -> AmiAdapter:
        adapter = self._call_server.get(call_id)
        if adapter is None:
            raise AmiUnknownCallError("call", call_id, "not in flight on any server")
        return adapter

    def connect(self, call_id: str, agent_id: str) -> None:
        """Redirect the call into the agent's seat (both must be on the same server)."""
        adapter = self._adapter_of_call(call_id)
        seat = self._agent_server.get(agent_id)
        if seat is not adapter:
            where = seat.name if seat else "no server"
            raise AmiUnknownCallError(
                "agent seat", agent_id, f"seat is on {where}, call is on {adapter.name}"
            )
        adapter.connect(call_id, agent_id)

    def drop(self, call_id: str) -> None:
        """Send the call to its server's drop context."""
        self._adapter_of_call(call_id).drop(call_id)

    def hangup(self, call_id: str, cause: int = 16) -> None:
        """Hang the call up on its server."""
        self._adapter_of_call(call_id).hangup(call_id, cause)

    def start_seat(
        self, agent_id: str, server: str | None = None, *, group: str | None = None
    ) -> str:
        """Bring the agent's seat up on ``server``; by default, with a ``group`` (the
        agent's campaign), where that group's seats are (:meth:`_pick_for`), else on the
        connected server with the most free channels.

        A campaign's seats kept together make one pool of agents for its answered people
        (a person is bridged only to a seat on the server where the call is): spread over
        S servers, a campaign is S small pools, each overflowing on its own, and a pacer
        that forecasts the whole team drops far more people than it planned.
        """
        if server is not None:
            adapter = self._by_name[server]
        else:
            adapter = self._pick_for(group) or self.pick()
        action_id = adapter.start_seat(agent_id)
        self._agent_server[agent_id] = adapter
        if group is not None:
            self._agent_group[agent_id] = group
        return action_id

    def _pick_for(self, group: str | None) -> AmiAdapter | None:
        """The server for a new seat of ``group``: the one with most of its seats, while
        that server has room; else the group's home, the first server with room in a fixed
        rotation that starts at the group's number (the same in every engine of a cluster,
        whose pools do not see each other's seats: groups spread evenly over the servers).

        A server has room while its seats (this pool's) are under a third of its channels:
        each seat's calls need about two more, the one talking to it and those ringing
        ahead. None: no connected server has room (the caller picks by free channels).
        """
        if group is None:
            return None
        seats: dict[str, int] = {}
        mine: dict[str, int] = {}
        for agent_id, adapter in self._agent_server.items():
            seats[adapter.name] = seats.get(adapter.name, 0) + 1
            if self._agent_group.get(agent_id) == group:
                mine[adapter.name] = mine.get(adapter.name, 0) + 1
        roomy = [
            a
            for a in self.adapters
            if a.connected
            and a.free_capacity > 0
            and 3 * seats.get(a.name, 0) < a.settings.max_channels
        ]
        held = [a for a in roomy if mine.get(a.name, 0) > 0]
        if held:
            return max(held, key=lambda a: mine[a.name])
        if not roomy:
            return None
        start = int(group) if group.isdigit() else zlib.crc32(group.encode())
        order = {a.name: (k - start) % len(self.adapters) for k, a in enumerate(self.adapters)}
        return min(roomy, key=lambda a: order[a.name])

    def stop_seat(self, agent_id: str) -> None:
        """Tear the agent's seat down."""
        adapter = self._agent_server.get(agent_id)
        if adapter is None:
            raise AmiUnknownCallError("agent seat", agent_id)
        adapter.stop_seat(agent_id)

    # ------------------------------------------------------------------ restart adoption
    def adapter(self, server: str) -> AmiAdapter:
        """The adapter of the server named ``server``."""
        adapter = self._by_name.get(server)
        if adapter is None:
            raise AmiUnknownCallError("server", server, f"known: {', '.join(self._by_name)}")
        return adapter

    async def confbridge_rooms(self, *, server: str) -> list[Message]:
        """``ConfbridgeListRooms`` items of one server."""
        return await self.adapter(server).confbridge_rooms()

    async def confbridge_list(self, conference: str, *, server: str) -> list[Message]:
        """``ConfbridgeList`` items of one conference on one server."""
        return await self.adapter(server).confbridge_list(conference)

    def adopt_call(
        self,
        call_id: str,
        *,
        server: str,
        channel_id: str,
        channel: str,
        agent: str | None = None,
    ) -> None:
        """Track a live answered call found on ``server`` (see :meth:`AmiAdapter.adopt_call`)."""
        adapter = self.adapter(server)
        adapter.adopt_call(call_id, channel_id=channel_id, channel=channel, agent=agent)
        self._call_server[call_id] = adapter

    def adopt_seat(self, agent_id: str, *, server: str, uniqueid: str, members: set[str]) -> None:
        """Track a live seat found on ``server`` (see :meth:`AmiAdapter.adopt_seat`)."""
        adapter = self.adapter(server)
        adapter.adopt_seat(agent_id, uniqueid=uniqueid, members=members)
        self._agent_server[agent_id] = adapter


def _conforms(adapter: AmiAdapter, pool: AmiPool) -> tuple[Telephony, Telephony]:
    """Static check (mypy): both classes implement the Telephony interface."""
    return adapter, pool
