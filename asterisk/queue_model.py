"""Queues of the simulated PBX (app_queue), as plain data: members, callers, counters.

The world (:mod:`asterisk.world`) runs the ``Queue()`` application with these; what a queue
is comes from ``queues.conf`` (:func:`parse_queues_conf`, the lab's by default:
``sales`` with the static member ``Local/2001@queue-agents``, ``Agent 2001``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from asterisk.errors import AsteriskError


class QueuesConfError(AsteriskError):
    """A ``queues.conf`` line the simulator cannot read; names the file and the line."""

    error_id = "queues_conf"

    def __init__(self, source: str, line: int, problem: str) -> None:
        self.source = source
        self.line = line
        super().__init__(f"{source}:{line}: {problem}")


@dataclass(slots=True)
class QueueMember:
    """A static member of a queue (``member => interface,penalty,name``)."""

    interface: str
    name: str
    penalty: int = 0
    paused: bool = False
    paused_reason: str = ""
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: bool = False
    ringing: bool = False

    @property
    def status(self) -> int:
        """AST_DEVICE_* as app_queue reports it: 1 not in use, 2 in use (or ringing)."""
        return 2 if self.in_call or self.ringing else 1

    @property
    def available(self) -> bool:
        """Whether the queue may ring this member now."""
        return not (self.paused or self.in_call or self.ringing)


@dataclass(slots=True, eq=False)
class QueueCaller:
    """A caller waiting in a queue."""

    uniqueid: str
    joined: float
    original_position: int
    ringing: bool = False
    retry_at: float = 0.0


@dataclass(slots=True)
class SimQueue:
    """One queue: its settings and who is in it now."""

    name: str
    timeout_s: float = 15.0
    retry_s: float = 5.0
    members: list[QueueMember] = field(default_factory=list)
    callers: list[QueueCaller] = field(default_factory=list)

    def position(self, uniqueid: str) -> int:
        """1-based position of a waiting caller (0 when not waiting)."""
        for i, c in enumerate(self.callers, 1):
            if c.uniqueid == uniqueid:
                return i
        return 0

    def member(self, interface: str) -> QueueMember | None:
        """The member with this interface."""
        return next((m for m in self.members if m.interface == interface), None)


def lab_queues() -> dict[str, SimQueue]:
    """The lab's ``queues.conf``: ``sales`` with one static member (transcripts i1–i4)."""
    return {
        "sales": SimQueue("sales", members=[QueueMember("Local/2001@queue-agents", "Agent 2001")])
    }


def parse_queues_conf(text: str, *, source: str = "<queues.conf>") -> dict[str, SimQueue]:
    """Queues and static members of a ``queues.conf`` (other options are ignored)."""
    queues: dict[str, SimQueue] = {}
    current: SimQueue | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise QueuesConfError(source, n, f"section header {line!r} has no closing ]")
            name = line[1:-1].strip()
            current = None if name == "general" else queues.setdefault(name, SimQueue(name))
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise QueuesConfError(source, n, f"expected 'key = value', got {line!r}")
        key, value = key.strip(), value.lstrip(">").strip()
        if current is None:
            continue
        if key == "member":
            parts = [p.strip() for p in value.split(",")]
            if not parts[0]:
                raise QueuesConfError(source, n, "member => needs an interface")
            penalty = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            name = parts[2] if len(parts) > 2 and parts[2] else parts[0]
            current.members.append(QueueMember(parts[0], name, penalty))
        elif key in {"timeout", "retry"}:
            try:
                seconds = float(value)
            except ValueError:
                raise QueuesConfError(source, n, f"{key} must be seconds, got {value!r}") from None
            if key == "timeout":
                current.timeout_s = seconds
            else:
                current.retry_s = seconds
    return queues


def load_queues_conf(path: Path | str) -> dict[str, SimQueue]:
    """:func:`parse_queues_conf` of a file."""
    p = Path(path)
    return parse_queues_conf(p.read_text(encoding="utf-8"), source=str(p))
