"""The live terminal view renders what a supervisor needs to see."""

from __future__ import annotations

from rich.console import Console

from dialer.sim.live import AgentLine, render, summary_table

STATS = {
    "name": "demo",
    "state": "running",
    "dial_level": 2.5,
    "calls": {"ringing": 12, "waiting": 1, "talking": 7},
    "dials": 400,
    "connected": 90,
    "answered": 92,
    "dropped": 2,
    "abandon_rate": 0.0217,
    "occupancy": 0.71,
    "list_exhausted": False,
}


def text_of(renderable: object) -> str:
    console = Console(width=100, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_frame_shows_figures_and_agents() -> None:
    """A frame names the campaign, call counts, abandonment, occupancy and each agent."""
    agents = [
        AgentLine(1, "Ala", "talking", 42, "e-1", None),
        AgentLine(2, "Olek", "paused", 10, None, "lunch"),
    ]
    text = text_of(render(STATS, agents, elapsed_s=3725, target_abandon=0.03))
    for needle in ("demo (running)", "1:02:05", "ringing 12", "abandon 2.2 %", "71.0 %"):
        assert needle in text
    assert "talking" in text
    assert "lunch" in text


def test_summary_table_lists_rows() -> None:
    """The closing summary prints each figure beside its value."""
    text = text_of(summary_table([("occupancy", "71.0 %")], title="summary"))
    assert "occupancy" in text
    assert "71.0 %" in text
