"""Outcome tests: the predictive pacer, run through the referee on our own scenarios, keeps
every seed at or under the 3 % cap and reaches an occupancy floor per scenario.

Each scenario also has a floor on mean abandonment (the budget is spent, not banked).
A pacer whose allowed risk is five times bolder breaks the cap or loses occupancy to the
guard; one five times timider falls under a floor (``test_bounds_catch...`` checks both on
two scenarios; every scenario was checked by hand, see the README's pacing section).
Days are shortened to keep the suite quick; the full days are in the referee table of
the README.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pacing.pacers import PredictivePacer
from pacing.profile import PacingProfile
from pacing.referee import RefereeAdapter, predictive
from tests.pacing.outcomes import SCENARIOS, require_referee, run

CAP = 0.03


@dataclass(frozen=True)
class Bound:
    """How a scenario is run in the suite and what it must reach."""

    hours: float
    seeds: int
    occupancy_floor: float  # mean over the seeds
    budget_floor: float  # mean abandonment: the legal budget is spent, not banked
    worst_hour_cap: float = 0.06
    abandon_cap: float = CAP  # every seed's abandonment at or under this


# Measured on these short days and seeds (occupancy, abandonment), less about a point of
# occupancy and a third to half of the abandonment: the budget controller absorbs much of
# a 5x change of risk, so the floors are close enough to catch what it cannot absorb.
# Marked "strict guard": re-measured once the guard went progressive whenever one more drop
# could pass the cap (it had dialed at a small risk there, which could breach a window).
BOUNDS: dict[str, Bound] = {
    "drift50": Bound(1.0, 2, 0.793, 0.018),  # 80.3 %, 2.5 %
    "duo": Bound(2.0, 2, 0.653, 0.008),  # 66.3 %, 1.2 % (strict guard)
    "few-lines": Bound(1.0, 2, 0.790, 0.015),  # 80.1 %, 2.5 %
    "floor-500": Bound(0.25, 1, 0.830, 0.015),  # 84.0 %, 2.1 %
    "headcount-waves": Bound(2.0, 2, 0.691, 0.015),  # 70.1 %, 2.3 %
    # With the estimate's own error in the forecast: 75.3 % on these two seeds (76.8 % without
    # it), but 74.4 % against 71.8 % over seeds 1-6 (these two are its unlucky ones)
    "low-answer": Bound(1.0, 2, 0.745, 0.018),  # 2.8 %
    "low-answer-small": Bound(2.0, 2, 0.468, 0.006),  # 47.8 %, 0.85 % (strict guard)
    # 69.3 % with the estimate's error (71.0 % without it); seeds 1-6: 68.0 % against 66.1 %
    "machines": Bound(1.0, 2, 0.685, 0.018),  # 2.5 %
    "rising-list": Bound(2.0, 2, 0.650, 0.018),  # 66.1 % (strict guard), 2.6 %
    "team10-longtalk": Bound(2.0, 2, 0.779, 0.010),  # 78.8 %, 1.5 %
    "tiny3": Bound(2.0, 2, 0.685, 0.010),  # 69.4 % (strict guard), 1.9 %
    # The first three minutes of a 250-agent day spend at most half the cap: 75.1 %, 0 and
    # 1.2 % (before the burst's headroom: 76.6 %, 0.9 and 1.9 %, in bursts)
    "young-floor-250": Bound(0.05, 2, 0.74, 0.0, abandon_cap=0.015),
    # 67.3 %, 0 and 0 (see test_a_young_floor_sizes_its_first_waves_on_what_it_knows)
    "young-floor-62": Bound(0.05, 2, 0.66, 0.0, abandon_cap=0.015),
}


def violations(
    name: str, factory: Callable[[dict[str, Any]], Any], bound: Bound | None = None
) -> list[str]:
    """Every way the pacer from ``factory`` misses ``name``'s bounds (empty: none)."""
    b = bound or BOUNDS[name]
    runs = run(
        SCENARIOS / f"{name}.toml",
        factory,
        seeds=range(1, b.seeds + 1),
        duration_s=b.hours * 3600.0,
    )
    out = []
    for seed, m in enumerate(runs, start=1):
        rate = m["abandon_rate"] or 0.0
        if rate > b.abandon_cap:
            out.append(
                f"{name} seed {seed}: abandonment {100 * rate:.2f} % > {100 * b.abandon_cap:g} %"
            )
        worst = m["worst_hour_abandon_rate"]
        if worst is not None and worst > b.worst_hour_cap:
            out.append(f"{name} seed {seed}: worst hour {100 * worst:.2f} % > {b.worst_hour_cap}")
    occupancy = sum(m["occupancy"] for m in runs) / len(runs)
    if occupancy < b.occupancy_floor:
        out.append(f"{name}: occupancy {100 * occupancy:.2f} % < {100 * b.occupancy_floor:.1f} %")
    spent = sum(m["abandon_rate"] or 0.0 for m in runs) / len(runs)
    if spent < b.budget_floor:
        out.append(f"{name}: abandonment {100 * spent:.2f} % < {100 * b.budget_floor:.1f} %")
    return out


def test_every_scenario_file_has_bounds() -> None:
    """Each scenario in tests/pacing/scenarios is run by the outcome tests (none is ignored)."""
    assert sorted(p.stem for p in SCENARIOS.glob("*.toml")) == sorted(BOUNDS)


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_predictive_stays_legal_and_busy(name: str) -> None:
    """On this scenario every seed ends at or under 3 % abandonment, no hour passes the
    worst-hour bound, and mean occupancy and abandonment reach the scenario's floors."""
    require_referee()
    assert violations(name, predictive) == []


def test_a_young_floor_sizes_its_first_waves_on_what_it_knows() -> None:
    """62 agents from the first second: the wave after the cold start is sized on a dozen
    persons. Their answer chances, late ones above all, are uncertain by a quarter or more,
    and every call of the wave shares that error: counted in the forecast, a wave answered
    by more persons than agents (5 drops or more in the first 75 s) is rare.

    Measured over these 60 seeds: 1 burst, 0.33 % abandonment on average; without the
    estimate's error (``rate_error_weight = 0``): 6 bursts of 5 to 11 drops, 1.13 % (over
    100 seeds of two minutes: 4 and 0.37 % against 12 and 1.05 %, occupancy 60.8 and
    60.7 %).
    """
    require_referee()
    runs = run(SCENARIOS / "young-floor-62.toml", predictive, seeds=range(1, 61), duration_s=75)
    bursts = {seed: m["dropped"] for seed, m in enumerate(runs, start=1) if m["dropped"] >= 5}
    assert len(bursts) <= 3, f"bursts of 5+ drops on {len(bursts)} seeds: {bursts}"
    mean = sum(m["abandon_rate"] or 0.0 for m in runs) / len(runs)
    assert mean <= 0.006, f"mean abandonment of the first 75 s {100 * mean:.2f} %"


def _scaled(factor: float) -> Callable[[dict[str, Any]], Any]:
    """A factory for the predictive pacer whose allowed risk is multiplied by ``factor``."""

    class Scaled(PredictivePacer):
        def allowed_risk(self, windows: Any, t: float) -> float:
            return factor * super().allowed_risk(windows, t)

    def factory(params: dict[str, Any]) -> RefereeAdapter:
        profile = PacingProfile.from_mapping(params, source="test")
        return RefereeAdapter(Scaled(profile.predictive_settings()))

    return factory


@pytest.mark.parametrize("factor", [5.0, 0.2])
def test_bounds_catch_a_pacer_five_times_bolder_or_timider(factor: float) -> None:
    """The same bounds fail a pacer whose allowed drop risk is 5x or 1/5 of the real one."""
    require_referee()
    names = ("low-answer", "tiny3")
    # the first scenario whose bounds fail it is enough (the next is not run)
    assert any(violations(name, _scaled(factor)) for name in names), (
        f"risk x{factor} passed every bound checked"
    )
