"""The what-if simulation runs the real engine on a scenario in virtual time."""

from __future__ import annotations

import pytest

from asterisk.scenario import scenario_from_dict
from dialer.sim.simulate import simulate
from pacing import types as pt

SCENARIO = {
    "duration_s": 3600,
    "lines": 30,
    "agents": {"count": 5, "wrapup": {"dist": "constant", "value": 5}},
    "calls": {
        "answer_prob": 0.3,
        "machine_prob": 0.1,
        "busy_prob": 0.05,
        "ring": {"dist": "uniform", "lo": 3, "hi": 12},
        "talk": {"dist": "lognormal", "mean": 60, "sd": 30, "min": 5},
    },
}


class Ratio:
    """Fixed lines per ready agent."""

    def __init__(self, ratio: float) -> None:
        self.ratio = ratio

    def observe(self, event: pt.Event) -> None:
        pass

    def decide(self, view: pt.View) -> int:
        return int(self.ratio * view.agents_ready) - len(view.ringing_elapsed_s)


def test_an_hour_runs_fast_and_adds_up() -> None:
    """An hour of five agents simulates in seconds and its figures are consistent."""
    sc = scenario_from_dict(SCENARIO, name="five")
    result = simulate(sc, Ratio(1.0), seed=3)
    assert result.wall_s < 20
    assert result.connected > 100
    assert result.answered == result.connected + result.dropped
    assert 0.3 < result.occupancy < 1.0
    assert result.outcomes["machine"] > 0
    assert sum(result.outcomes.values()) <= result.dials


def test_overdialing_drops_people_and_is_reported() -> None:
    """A ratio far too high drops people, and the report shows it per day and per hour."""
    sc = scenario_from_dict(SCENARIO, name="five")
    calm = simulate(sc, Ratio(1.0), seed=3)
    wild = simulate(sc, Ratio(6.0), seed=3)
    assert wild.abandon_rate > calm.abandon_rate
    assert wild.abandon_rate > 0.05
    assert wild.abandon_per_day == [pytest.approx(wild.abandon_rate, abs=1e-4)]
    assert wild.worst_hour_abandon_rate is not None


def test_shared_scenarios_load() -> None:
    """The simulation takes the same scenario files as the referee."""
    from asterisk.scenario import load_scenario
    from tests.asterisk.transcripts import SCENARIOS

    sc = load_scenario(SCENARIOS / "small-5.toml")
    result = simulate(sc, Ratio(1.5), seed=1, duration_s=900)
    assert result.simulated_s == 900
    assert result.dials > 0
