"""The simulator's session behaviour and its test controls, seen from a raw AMI client."""

from __future__ import annotations

import asyncio
import contextlib

from asterisk.protocol import AmiParser, Garbage, Greeting, Message, encode
from asterisk.simulator import PbxSimulator
from asterisk.world import World


class RawClient:
    """A bare AMI client over TCP that collects every parsed item."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = AmiParser()
        self.items: list[object] = []

    @classmethod
    async def open(cls, port: int) -> RawClient:
        """Connect to the simulator."""
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def send(self, *pairs: tuple[str, str]) -> None:
        """Write one action."""
        self.writer.write(encode(list(pairs)))

    async def read_for(self, seconds: float) -> bool:
        """Collect what arrives for ``seconds``; False once the server closed the socket."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                data = await asyncio.wait_for(self.reader.read(65536), left)
            except TimeoutError:
                return True
            if not data:
                return False
            self.items.extend(self.parser.feed(data))
        return True

    async def close(self) -> None:
        """Close the socket and wait for it."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

    def names(self) -> list[str]:
        """Event names and Response values received, in order."""
        return [m.event or m.response for m in self.items if isinstance(m, Message)]


async def test_session_banner_login_and_events_only_after_login() -> None:
    """Banner first; actions before Login are refused; FullyBooted follows a Login."""
    async with PbxSimulator(World(), port=0, time_scale=20) as sim:
        c = await RawClient.open(sim.port)
        c.send(("Action", "Ping"), ("ActionID", "p0"))
        c.send(("Action", "Login"), ("ActionID", "l1"), ("Username", "u"), ("Secret", "s"))
        c.send(("Action", "Ping"), ("ActionID", "p1"))
        await c.read_for(0.2)
        assert isinstance(c.items[0], Greeting)
        assert c.names()[:5] == ["Error", "Success", "FullyBooted", "SuccessfulAuth", "Success"]
        pong = c.items[-1]
        assert isinstance(pong, Message)
        assert pong.get("Ping") == "Pong"
        await c.close()


async def test_simcontrol_garbage_and_drop() -> None:
    """SimControl garbage writes non-AMI bytes; SimControl drop closes the connection."""
    async with PbxSimulator(World(), port=0, time_scale=20) as sim:
        c = await RawClient.open(sim.port)
        c.send(("Action", "Login"), ("Username", "u"), ("Secret", "s"))
        c.send(("Action", "SimControl"), ("Op", "garbage"))
        await c.read_for(0.2)
        assert any(isinstance(i, Garbage) for i in c.items)
        c.send(("Action", "SimControl"), ("Op", "drop"))
        assert await c.read_for(1.0) is False
        assert sim.sessions == 0
        await c.close()


async def test_core_restart_command_is_silent_for_the_asking_session() -> None:
    """As in g3: no Response and no Shutdown for the asker; others get Shutdown; all close."""
    async with PbxSimulator(World(), port=0, time_scale=20) as sim:
        asker, other = await RawClient.open(sim.port), await RawClient.open(sim.port)
        for c in (asker, other):
            c.send(("Action", "Login"), ("Username", "u"), ("Secret", "s"))
        await asyncio.gather(asker.read_for(0.1), other.read_for(0.1))
        asker.send(("Action", "Command"), ("ActionID", "c1"), ("Command", "core restart now"))
        closed = await asyncio.gather(asker.read_for(1.0), other.read_for(1.0))
        assert closed == [False, False]
        assert asker.names()[-1] == "SuccessfulAuth"
        assert other.names()[-1] == "Shutdown"
        await asker.close()
        await other.close()


async def test_slow_responses_control_delays_answers() -> None:
    """response_delay_s holds responses back while events keep flowing."""
    async with PbxSimulator(World(), port=0, time_scale=20) as sim:
        c = await RawClient.open(sim.port)
        c.send(("Action", "Login"), ("Username", "u"), ("Secret", "s"))
        await c.read_for(0.1)
        sim.controls.response_delay_s = 1.0
        c.send(("Action", "Ping"), ("ActionID", "slow"))
        await c.read_for(0.1)
        assert "Success" not in c.names()[3:]
        await c.read_for(1.5)
        assert c.names()[3:] == ["Success"]
        await c.close()


async def test_status_and_core_show_channels_list_live_channels() -> None:
    """Status and CoreShowChannels list the live legs, then a Complete event with the count."""
    async with PbxSimulator(World(), port=0, time_scale=20) as sim:
        c = await RawClient.open(sim.port)
        c.send(("Action", "Login"), ("Username", "u"), ("Secret", "s"))
        c.send(
            ("Action", "Originate"),
            ("ActionID", "o1"),
            ("Async", "true"),
            ("Channel", "Local/30000000001@customers"),
            ("Context", "dialer-answered"),
            ("Exten", "30000000001"),
            ("Priority", "1"),
            ("ChannelId", "u-1"),
        )
        await c.read_for(0.1)
        c.send(("Action", "Status"), ("ActionID", "s1"))
        c.send(("Action", "CoreShowChannels"), ("ActionID", "c1"))
        await c.read_for(0.2)
        listed = [m for m in c.items if isinstance(m, Message) and m.action_id in ("s1", "c1")]
        names = [m.event or m.response for m in listed]
        assert names == [
            "Success",
            "Status",
            "Status",
            "StatusComplete",
            "Success",
            "CoreShowChannel",
            "CoreShowChannel",
            "CoreShowChannelsComplete",
        ]
        uids = {m.get("Uniqueid") for m in listed if m.event == "CoreShowChannel"}
        assert "u-1" in uids
        assert len(uids) == 2
        assert listed[-1].get("ListItems") == "2"
        await c.close()
