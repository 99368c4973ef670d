"""The live terminal view (rich): agents, calls, dial level, abandonment, occupancy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

_PHASE_STYLE = {
    "ready": "green",
    "reserved": "cyan",
    "talking": "bold blue",
    "wrap_up": "yellow",
    "paused": "magenta",
    "logged_out": "dim",
}


@dataclass(frozen=True, slots=True)
class AgentLine:
    """One agent row of the live view."""

    agent_id: int
    name: str
    phase: str
    seconds_in_phase: float
    call_id: str | None
    pause_reason: str | None


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


def render(
    stats: dict[str, Any],
    agents: Iterable[AgentLine],
    *,
    elapsed_s: float,
    target_abandon: float,
    title: str = "dialer",
) -> RenderableType:
    """A frame of the live view from a campaign's stats and its agents."""
    head = Table.grid(padding=(0, 3))
    for _ in range(4):
        head.add_column()
    calls = stats["calls"]
    abandon = float(stats["abandon_rate"])
    abandon_style = "bold red" if abandon > target_abandon else "green"
    head.add_row(
        Text(f"{stats['name']} ({stats['state']})", style="bold"),
        f"time {_clock(elapsed_s)}",
        f"dial level {stats['dial_level']:.2f}",
        "list exhausted" if stats.get("list_exhausted") else "",
    )
    head.add_row(
        f"ringing {calls['ringing']}",
        f"waiting {calls['waiting']}",
        f"talking {calls['talking']}",
        f"dials {stats['dials']}  connects {stats['connected']}",
    )
    head.add_row(
        Text(f"abandon {_pct(abandon)} (cap {_pct(target_abandon)})", style=abandon_style),
        f"dropped {stats['dropped']}",
        f"occupancy {_pct(float(stats['occupancy']))}",
        f"answered {stats['answered']}",
    )
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column("agent", justify="right")
    table.add_column("name")
    table.add_column("state")
    table.add_column("for", justify="right")
    table.add_column("call / reason")
    for line in agents:
        style = _PHASE_STYLE.get(line.phase, "")
        table.add_row(
            str(line.agent_id),
            line.name,
            Text(line.phase.replace("_", "-"), style=style),
            f"{line.seconds_in_phase:5.0f} s",
            line.call_id or line.pause_reason or "",
        )
    return Panel(Group(head, table), title=title, border_style="blue")


def summary_table(rows: Iterable[tuple[str, str]], *, title: str) -> Table:
    """A two-column table of figures for closing summaries."""
    table = Table(title=title, show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    for key, value in rows:
        table.add_row(key, value)
    return table
