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

    def start_seat(self, agent_id: str) -> str:
        """Bring an agent's seat up."""
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

    def start_seat(self, agent_id: str, server: str | None = None) -> str:
        """Bring the agent's seat up on ``server`` (default: the least loaded connected one)."""
        adapter = self._by_name[server] if server is not None else self.pick()
        action_id = adapter.start_seat(agent_id)
        self._agent_server[agent_id] = adapter
        return action_id

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
