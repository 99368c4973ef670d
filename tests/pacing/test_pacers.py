"""Pacers return legal dial counts; predictive is safe cold, guarded and still dials ahead."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacing.errors import PacerParameterError
from pacing.pacers import (
    MODE_PREDICTIVE,
    MODE_PROGRESSIVE,
    PredictivePacer,
    PredictiveSettings,
    ProgressivePacer,
    RatioPacer,
    RiskController,
)
from pacing.types import CONNECT, DROP, Event, View
from tests.pacing.helpers import warmed_predictive

_WARM = warmed_predictive()

elapsed = st.lists(st.floats(0.0, 3000.0, allow_nan=False), max_size=30).map(
    lambda xs: tuple(sorted(xs, reverse=True))
)


@st.composite
def views(draw: st.DrawFn) -> View:
    ready = draw(st.lists(st.floats(0.0, 600.0), max_size=25))
    talking = draw(elapsed)
    wrapup = draw(st.lists(st.floats(0.0, 120.0), max_size=10))
    ringing = draw(st.lists(st.floats(0.0, 40.0), max_size=120))
    paused = draw(st.integers(0, 5))
    waiting = draw(st.integers(0, 3)) if not ready else 0
    lines = draw(st.integers(0, 300))
    used = len(ringing) + waiting + len(talking)
    return View(
        t=draw(st.floats(0.0, 1e6)),
        agents_logged_in=len(ready) + len(talking) + len(wrapup) + paused,
        agents_ready=len(ready),
        ready_idle_s=tuple(ready),
        talking_elapsed_s=talking,
        wrapup_elapsed_s=tuple(wrapup),
        ringing_elapsed_s=tuple(ringing),
        calls_waiting=waiting,
        lines_free=lines - used,
    )


def _pacers() -> list[object]:
    return [ProgressivePacer(), RatioPacer(2.5), copy.deepcopy(_WARM), PredictivePacer()]


@settings(max_examples=150, deadline=None)
@given(view=views())
def test_dial_count_is_never_negative_nor_above_free_lines(view: View) -> None:
    """Every pacer returns 0 <= n <= lines_free (0 when no line is free)."""
    for pacer in _pacers():
        n = pacer.decide(view)  # type: ignore[attr-defined]
        assert isinstance(n, int)
        assert 0 <= n <= max(0, view.lines_free)


@settings(max_examples=100, deadline=None)
@given(view=views())
def test_no_dials_when_no_agent_is_or_will_be_free(view: View) -> None:
    """With nobody ready, talking or in wrap-up (all paused or logged out) nobody dials."""
    idle = View(
        t=view.t,
        agents_logged_in=view.agents_logged_in
        - view.agents_ready
        - len(view.talking_elapsed_s)
        - len(view.wrapup_elapsed_s),
        agents_ready=0,
        ringing_elapsed_s=view.ringing_elapsed_s,
        lines_free=max(0, view.lines_free),
    )
    for pacer in _pacers():
        assert pacer.decide(idle) == 0  # type: ignore[attr-defined]


def test_progressive_keeps_one_ringing_call_per_ready_agent() -> None:
    """Four ready agents and one ringing call: progressive starts three."""
    view = View(0.0, 6, 4, (1, 1, 1, 1), (5.0, 9.0), (), (3.0,), 0, 50)
    assert ProgressivePacer().decide(view) == 3


def test_ratio_keeps_ratio_lines_per_ready_agent() -> None:
    """Ratio 2.5 with 4 ready agents and 3 ringing calls starts 7 more."""
    view = View(0.0, 4, 4, (1, 1, 1, 1), (), (), (3.0, 2.0, 1.0), 0, 50)
    assert RatioPacer(2.5).decide(view) == 7


def test_ratio_below_one_is_refused() -> None:
    """A ratio under one line per agent is a parameter error naming the parameter."""
    with pytest.raises(PacerParameterError, match="ratio"):
        RatioPacer(0.5)


def test_cold_predictive_behaves_progressive() -> None:
    """Before any data the predictive pacer dials exactly like progressive."""
    pacer = PredictivePacer()
    view = View(0.0, 10, 10, (0.0,) * 10, (), (), (), 0, 100)
    assert pacer.decide(view) == 10
    assert pacer.status.reason == "cold_start"


def test_warm_predictive_dials_ahead_of_busy_agents() -> None:
    """Once warm, with agents ending wrap-up soon, predictive dials before they are free."""
    pacer = copy.deepcopy(_WARM)
    view = View(5000.0, 20, 0, (), tuple([60.0] * 10), tuple([9.0] * 10), (), 0, 200)
    n = pacer.decide(view)
    assert pacer.status.mode == MODE_PREDICTIVE
    assert n > 0
    assert ProgressivePacer().decide(view) == 0


def test_more_ringing_calls_mean_fewer_new_dials() -> None:
    """The same agents with many calls already ringing get fewer new calls."""
    base = View(5000.0, 20, 2, (1.0, 1.0), tuple([60.0] * 18), (), (), 0, 200)
    busy = View(5000.0, 20, 2, (1.0, 1.0), tuple([60.0] * 18), (), tuple([1.0] * 15), 0, 200)
    assert copy.deepcopy(_WARM).decide(busy) < copy.deepcopy(_WARM).decide(base)


def test_small_team_is_progressive() -> None:
    """Below the small-team head-count the warm pacer still dials progressively."""
    pacer = warmed_predictive(small_team_threshold=8)
    view = View(5000.0, 5, 1, (1.0,), tuple([60.0] * 4), (), (), 0, 50)
    assert pacer.decide(view) == 1
    assert pacer.status.reason == "small_team"


def _day_with(pacer: PredictivePacer, connects: int, drops: int) -> float:
    """Feed a fresh day of ``connects`` served and ``drops`` dropped persons; its time."""
    t = 86400.0 + 1000.0  # the next day: today's window holds only these events
    for i in range(connects):
        pacer.observe(Event(t + i, CONNECT, 10000 + i, 0, 0.0, None))
    for i in range(drops):
        pacer.observe(Event(t + connects + i, DROP, 20000 + i, None, 2.0, None))
    return t + connects + drops + 100.0


def test_guard_dials_at_the_guard_risk_when_two_more_drops_could_pass_the_cap() -> None:
    """With 2 drops in today's 120 answered persons two more would pass 3 % (4 of 122): the
    guard allows only ``guard_risk`` per call, so it dials fewer calls than the budget would."""
    view_at = lambda t: View(t, 20, 2, (1.0, 1.0), tuple([60.0] * 18), (), (), 0, 200)  # noqa: E731
    free = warmed_predictive()
    t = _day_with(free, 120, 0)
    unguarded = free.decide(view_at(t))
    pacer = warmed_predictive()
    t = _day_with(pacer, 118, 2)
    n = pacer.decide(view_at(t))
    assert pacer.status.reason == "compliance_guard"
    assert pacer.status.mode == MODE_PREDICTIVE
    assert pacer.status.risk == pacer.settings.guard_risk
    assert n < unguarded


@pytest.mark.parametrize(("connects", "drops"), [(117, 3), (116, 4), (60, 3)])
def test_guard_goes_progressive_when_one_more_drop_could_pass_the_cap(
    connects: int, drops: int
) -> None:
    """With 3 drops in 120 answered persons one more would pass 3 % (4 of 121): the pacer
    dials progressively, never at any risk; so over the cap, and early in the day (a window
    of fewer than 100 answered is judged as if it had 100)."""
    pacer = warmed_predictive()
    t = _day_with(pacer, connects, drops)
    view = View(t, 20, 2, (1.0, 1.0), tuple([60.0] * 18), (), (), 0, 200)
    assert pacer.decide(view) == 2
    assert pacer.status.mode == MODE_PROGRESSIVE
    assert pacer.status.reason == "compliance_guard"


def test_invalid_settings_are_refused() -> None:
    """A target abandonment outside (0, 1) is refused with the parameter's name."""
    with pytest.raises(PacerParameterError, match="target_abandon"):
        PredictivePacer(PredictiveSettings(target_abandon=0.0))


def test_normal_approximation_tracks_the_exact_risk() -> None:
    """On a mid-size floor the skew-corrected normal risk is within 0.03 of the exact one."""
    pacer = copy.deepcopy(_WARM)
    view = View(
        5000.0,
        30,
        3,
        (1.0, 1.0, 1.0),
        tuple(float(x) for x in range(20, 420, 20)),
        (5.0, 8.0, 12.0, 3.0, 1.0, 9.0, 2.0),
        tuple(float(x % 20) for x in range(25)),
        0,
        300,
    )
    pacer.decide(view)  # refresh the forecast tables
    ans, free = pacer._forecast(view)
    exact = pacer._exact_risk(view, ans, free, 12, math.inf)
    approx = pacer._normal_overflow(view, ans, free, 12) @ pacer._w
    assert exact.shape == (12,)
    assert np.max(np.abs(exact - approx[:12])) < 0.03
    assert np.all(np.diff(exact) >= 0)


def test_allowed_risk_shrinks_as_drops_use_up_the_headroom() -> None:
    """Inside the soft zone each extra drop lowers the allowed risk; far from it, none."""
    pacer = warmed_predictive(risk_gain=0.0)  # the barrier alone, no budget controller
    t = 86400.0 + 1000.0
    for i in range(300):
        pacer.observe(Event(t + i, CONNECT, 10000 + i, 0, 0.0, None))
    allowed = []
    for d in range(8):
        windows = pacer.ledger.windows(t + 400.0)
        allowed.append(pacer.allowed_risk(windows, t + 400.0))
        pacer.observe(Event(t + 300 + d, DROP, 20000 + d, None, 2.0, None))
    assert allowed[0] == pytest.approx(pacer.settings.initial_risk)
    assert all(b <= a for a, b in itertools.pairwise(allowed))
    assert allowed[-1] < 0.5 * allowed[0]


def _settle_hour(pacer: PredictivePacer, t0: float, answered: int, drops: int) -> float:
    """Feed an hour of ``answered`` settled persons, ``drops`` of them dropped (the drops
    last); returns the time of the last one."""
    step = 3600.0 / answered
    for i in range(answered):
        kind = DROP if i >= answered - drops else CONNECT
        pacer.observe(Event(t0 + i * step, kind, 50000 + i, None if kind == DROP else 0, 1.0, None))
    return t0 + (answered - 1) * step


def test_hourly_smoothing_lowers_the_risk_while_the_last_hour_runs_hot() -> None:
    """With ``hour_gain`` the allowed risk falls as the last hour's drops pass its aim
    (0.9 x 3 % of 400 answers: 10.8), the more the further; an hour on aim, or the same
    hour with the smoothing off, keeps the planned risk; the hot hour forgotten an hour
    later, the risk is whole again."""
    t0 = 86400.0 + 1000.0

    def factor_after(drops: int, gain: float = 1.0, answered: int = 400) -> float:
        pacer = warmed_predictive(hour_gain=gain)
        end = _settle_hour(pacer, t0, answered, drops)
        return pacer.hour_factor(end + 1.0)

    assert factor_after(10) == 1.0
    assert factor_after(16, gain=0.0) == 1.0
    hot = [factor_after(d) for d in (12, 14, 16, 30)]
    assert all(b < a for a, b in itertools.pairwise(hot))
    # 16 drops: z = (16 - 10.8) / sqrt(10.8), factor exp(-z); never below a tenth
    assert hot[2] == pytest.approx(math.exp(-(16 - 10.8) / math.sqrt(10.8)), rel=0.02)
    assert hot[-1] == 0.1
    pacer, plain = warmed_predictive(hour_gain=1.0), warmed_predictive()
    end = _settle_hour(pacer, t0, 400, 16)
    _settle_hour(plain, t0, 400, 16)
    windows = pacer.ledger.windows(end + 1.0)
    whole = plain.allowed_risk(windows, end + 1.0)
    assert pacer.allowed_risk(windows, end + 1.0) == pytest.approx(whole * hot[2], rel=0.02)
    # an hour later (and without the answer rate: the floor went quiet) it is whole again
    assert pacer.hour_factor(end + 3600.0 + 120.0) == 1.0


def test_hourly_smoothing_leaves_a_team_too_small_to_plan_two_drops_an_hour() -> None:
    """Five agents answer about 60 persons an hour: 1.6 planned drops, an hourly figure of
    noise; three drops in that hour leave the risk alone."""
    pacer = warmed_predictive(hour_gain=2.0)
    end = _settle_hour(pacer, 86400.0 + 1000.0, 60, 3)
    assert pacer.hour_factor(end + 1.0) == 1.0


@pytest.mark.parametrize("plant", [0.2, 1.0, 3.0])
def test_budget_controller_spends_the_budget_whatever_the_risk_buys(plant: float) -> None:
    """Whether an allowed risk r drops 0.2 r, r or 3 r of the answers (a big floor, a mid
    one, a thin list), after a day of 6000 answers the drop share is within 0.3 points of
    the budget's (2.85 % less the margin), never over 3 %."""
    ctl = RiskController(
        aim=0.0285, initial=0.03, low=0.003, high=0.6, gain=0.1, cap=0.03, margin_z=1.0
    )
    rng = np.random.default_rng(11)
    drops = 0
    n = 6000
    for i in range(1, n + 1):
        dropped = bool(rng.random() < min(1.0, plant * ctl.risk))
        drops += dropped
        ctl.settled(dropped=dropped, answered=float(i))
    assert drops / n == pytest.approx(ctl.budget(n) / n, abs=0.003)
    assert drops / n <= 0.03


def test_budget_margin_is_wider_for_a_small_team() -> None:
    """The budget keeps a larger share in reserve after 400 answers than after 8000."""
    ctl = RiskController(
        aim=0.0285, initial=0.03, low=0.003, high=0.6, gain=0.1, cap=0.03, margin_z=1.0
    )
    assert ctl.budget(400) / 400 < ctl.budget(8000) / 8000 < 0.0285


@pytest.mark.parametrize("ready", [0, 5, 40])
@pytest.mark.parametrize("allowed", [0.003, 0.03, 0.2])
def test_coarse_search_on_a_large_floor_finds_the_full_scan_count(
    ready: int, allowed: float
) -> None:
    """On a 300-agent floor the two-pass search dials exactly as many calls as scanning
    every count's risk would."""
    pacer = copy.deepcopy(_WARM)
    talking = tuple(float((7 * i) % 400) for i in range(300 - ready))
    view = View(5000.0, 300, ready, (1.0,) * ready, talking, (), (3.0,) * 50, 0, 3000)
    pacer.decide(view)  # refresh the forecast tables
    ans, free = pacer._forecast(view)
    full = pacer._normal_overflow(view, ans, free, 2000) @ pacer._w
    over = np.flatnonzero(full > allowed)
    expected = int(over[0]) if over.size else int(full.size)
    assert pacer.dial_count(view, 2000, allowed) == expected


def test_a_thin_list_with_few_persons_seen_dials_fewer_calls_than_a_known_rate() -> None:
    """With ``rate_error_weight`` on, nine persons in seventy dials leave the answer rate
    uncertain by about a quarter: every call dialed at once shares that error, so the pacer
    dials fewer calls at once than one that takes the estimate as exact (three drops in one
    burst on a cold 12 % list); once thousands of dials are in it dials about the same."""
    view = View(140.0, 15, 11, tuple([30.0] * 11), (20.0, 40.0, 60.0, 80.0), (), (), 0, 200)
    aware = warmed_predictive(calls=70, person_prob=0.12, seed=5, rate_error_weight=1.0)
    blind = warmed_predictive(calls=70, person_prob=0.12, seed=5, rate_error_weight=0.0)
    assert aware.dial_model.persons >= aware.settings.cold_start_min_persons
    n_aware, n_blind = aware.decide(view), blind.decide(view)
    assert aware.status.mode == blind.status.mode == MODE_PREDICTIVE
    assert n_aware < n_blind
    settled = warmed_predictive(calls=4000, person_prob=0.12, seed=5, rate_error_weight=1.0)
    settled_blind = warmed_predictive(calls=4000, person_prob=0.12, seed=5, rate_error_weight=0.0)
    assert settled.decide(view) >= settled_blind.decide(view) - 1


def _busy_morning(pacer: PredictivePacer, connects: int, per_s: float) -> float:
    """A new day (the pacer idle overnight) whose first ``connects`` persons are served
    at ``per_s`` a second, none dropped; its time."""
    t = 86400.0 + 1000.0
    for i in range(connects):
        pacer.observe(Event(t + i / per_s, CONNECT, 10000 + i, 0, 0.0, None))
    return t + connects / per_s + 0.5


def _floor_view(t: float) -> View:
    return View(t, 250, 5, (1.0,) * 5, tuple([30.0] * 245), (), (), 0, 1500)


def test_a_big_floor_keeps_a_bursts_worth_of_headroom() -> None:
    """A floor answering 5 persons a second keeps the drops of a burst (5/s x 4 s) in hand,
    not two: 400 answers into its day (12 drops allowed, none spent) the guard dials at its
    tiny risk. A 250-agent floor once dropped 16 persons within seconds at that point of a
    young day and passed 3 %. A floor of a few answers a minute keeps two."""
    pacer = warmed_predictive()
    t = _busy_morning(pacer, 400, 5.0)
    assert pacer.guard_headroom(t) > 15.0
    pacer.decide(_floor_view(t))
    assert pacer.status.reason == "compliance_guard"
    assert pacer.status.risk == pacer.settings.guard_risk
    calm = warmed_predictive()
    t = _busy_morning(calm, 400, 0.2)
    assert calm.guard_headroom(t) == calm.settings.guard_headroom_drops


def test_the_risk_does_not_wind_up_while_a_burst_holds_the_guard() -> None:
    """While the guard holds for a burst's headroom the budget controller's risk may fall,
    not rise: wound up threefold in two held minutes, it dropped a burst the moment the
    guard let go."""
    pacer = warmed_predictive()
    t = _busy_morning(pacer, 300, 5.0)
    pacer.decide(_floor_view(t))
    assert pacer.status.reason == "compliance_guard"
    before = pacer.controller.risk
    for i in range(200):
        pacer.observe(Event(t + i / 5.0, CONNECT, 30000 + i, 0, 0.0, None))
    assert pacer.controller.risk <= before
