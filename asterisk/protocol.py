"""AMI wire framing, pure: bytes in, messages out; messages in, bytes out.

No sockets here. A connection feeds whatever it receives to :meth:`AmiParser.feed` and
gets back complete messages. The protocol, as recorded from Asterisk 22:

* the server first sends one greeting line, ``Asterisk Call Manager/11.0.0``, that is
  *not* followed by a blank line;
* then messages: ``Key: Value`` lines (CRLF) ending with a blank line; keys may repeat
  (``Variable:`` in actions, ``Output:`` in Command responses).

Bad input never raises: a line without ``": "`` inside a message, a message that is
neither an event nor a response, or an oversized message becomes a :class:`Garbage`
item that the caller logs, and parsing goes on with the next message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

GREETING_PREFIX = "Asterisk Call Manager/"
EOL = b"\r\n"
_END = b"\r\n\r\n"
MAX_MESSAGE_BYTES = 256 * 1024

#: Events that are most of the traffic and that the dialer never needs. The parser drops
#: them after looking at the first line only (see ``AmiParser(skip=...)``).
NOISY_EVENTS: frozenset[str] = frozenset({"Newexten", "VarSet", "DeviceStateChange"})


@dataclass(slots=True)
class Message:
    """One AMI message: its ``Key: Value`` pairs in wire order, and a first-wins lookup."""

    pairs: list[tuple[str, str]]
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> Message:
        """Build a message from pairs (used by tests and the simulator)."""
        plist = list(pairs)
        headers: dict[str, str] = {}
        for key, value in plist:
            headers.setdefault(key, value)
        return cls(plist, headers)

    def get(self, key: str, default: str = "") -> str:
        """The first value of ``key`` (exact case, as Asterisk writes it), or ``default``."""
        return self.headers.get(key, default)

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated key, in order."""
        return [v for k, v in self.pairs if k == key]

    @property
    def event(self) -> str:
        """The ``Event:`` name, or ``""`` for responses and actions."""
        return self.headers.get("Event", "")

    @property
    def response(self) -> str:
        """The ``Response:`` value, or ``""`` for events and actions."""
        return self.headers.get("Response", "")

    @property
    def action(self) -> str:
        """The ``Action:`` name (client-to-server messages), or ``""``."""
        return self.headers.get("Action", "")

    @property
    def action_id(self) -> str:
        """The ``ActionID:`` value, or ``""``."""
        return self.headers.get("ActionID", "")


@dataclass(frozen=True, slots=True)
class Greeting:
    """The banner line sent by the server when a connection opens."""

    version: str


@dataclass(frozen=True, slots=True)
class Garbage:
    """Input that is not AMI: kept (truncated) so the caller can log it, then skipped."""

    reason: str
    raw: bytes


Parsed = Message | Greeting | Garbage


class AmiParser:
    """Incremental AMI parser: ``feed(bytes) -> list[Message | Greeting | Garbage]``.

    ``expect_greeting`` is True for the client side (a server starts with a banner).
    ``skip`` lists event names to drop cheaply; dropped messages are counted in
    ``skipped``. ``direction="client"`` parses what a client sends (``Action:``).
    """

    __slots__ = ("_buf", "_expect_greeting", "_skip_prefixes", "_want", "skipped")

    def __init__(
        self,
        *,
        expect_greeting: bool = True,
        skip: Iterable[str] = (),
        direction: str = "server",
    ) -> None:
        self._buf = b""
        self._expect_greeting = expect_greeting
        self._skip_prefixes = tuple(f"Event: {name}\r\n".encode() for name in skip)
        self._want = ("Action",) if direction == "client" else ("Event", "Response")
        self.skipped = 0

    def feed(self, data: bytes) -> list[Parsed]:
        """Add received bytes; return every message they complete."""
        buf = self._buf + data if self._buf else data
        out: list[Parsed] = []
        if self._expect_greeting:
            nl = buf.find(EOL)
            if nl < 0:
                self._buf = buf
                return out
            line = buf[:nl].decode("utf-8", "replace")
            self._expect_greeting = False
            if line.startswith(GREETING_PREFIX):
                out.append(Greeting(line[len(GREETING_PREFIX) :]))
                buf = buf[nl + 2 :]
        start = 0
        skip = self._skip_prefixes
        while True:
            end = buf.find(_END, start)
            if end < 0:
                break
            if skip and buf.startswith(skip, start):
                self.skipped += 1
            else:
                chunk = buf[start:end]
                if chunk.strip(b"\r\n"):
                    out.append(self._parse(chunk))
            start = end + 4
        rest = buf[start:]
        # tolerate stray blank lines between messages
        while rest.startswith(EOL):
            rest = rest[2:]
        if len(rest) > MAX_MESSAGE_BYTES:
            out.append(Garbage("message too long", rest[:200]))
            cut = rest.rfind(EOL)
            rest = b"" if cut < 0 else rest[cut + 2 :]
        self._buf = rest
        return out

    def _parse(self, chunk: bytes) -> Parsed:
        text = chunk.decode("utf-8", "replace").lstrip("\r\n")
        pairs: list[tuple[str, str]] = []
        headers: dict[str, str] = {}
        bad = 0
        for line in text.split("\r\n"):
            key, sep, value = line.partition(": ")
            if not sep:
                if line.endswith(":") and line.find(":") == len(line) - 1:
                    key, value = line[:-1], ""
                else:
                    bad += 1
                    continue
            pairs.append((key, value))
            if key not in headers:
                headers[key] = value
        if not pairs or not any(k in headers for k in self._want):
            return Garbage("not an AMI message", chunk[:200])
        msg = Message(pairs, headers)
        if bad:
            # keep the good lines; the caller still gets the message
            headers.setdefault("X-Bad-Lines", str(bad))
        return msg


def encode(pairs: Sequence[tuple[str, str]] | Mapping[str, str | Sequence[str]]) -> bytes:
    """Serialize a message: ``Key: Value`` CRLF lines and the closing blank line."""
    items: Iterable[tuple[str, str | Sequence[str]]]
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    lines: list[str] = []
    for key, value in items:
        if isinstance(value, str):
            lines.append(f"{key}: {value}")
        else:
            lines.extend(f"{key}: {v}" for v in value)
    lines.append("")
    lines.append("")
    return "\r\n".join(lines).encode()


def encode_message(msg: Message) -> bytes:
    """Serialize a parsed :class:`Message` back to its wire form."""
    return encode(msg.pairs)
