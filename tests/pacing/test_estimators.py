"""Estimators learn probabilities and durations from events, with fading and censoring."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacing.estimators import (
    DecayedHistogram,
    DialOutcomeModel,
    DurationModel,
    conditional_done_within,
    conditional_free_within,
)


def test_decayed_histogram_fades_with_its_time_constant() -> None:
    """An observation one time constant old weighs 1/e of a fresh one."""
    h = DecayedHistogram(bin_s=1.0, n_bins=10, time_constant_s=100.0)
    h.add(0.0, 2.5)
    h.add(100.0, 7.5)
    w = h.weights()
    assert w[2] == pytest.approx(math.exp(-1.0), rel=1e-9)
    assert w[7] == pytest.approx(1.0)


def test_decayed_histogram_survives_renormalisation() -> None:
    """Weights stay finite and correct over a long day (internal rescaling)."""
    h = DecayedHistogram(bin_s=1.0, n_bins=4, time_constant_s=10.0)
    for i in range(2000):
        h.add(float(i), 1.5)
    assert h.total() == pytest.approx(1.0 / (1.0 - math.exp(-0.1)), rel=1e-6)


def _feed(model: DialOutcomeModel, rng: np.random.Generator, n: int, p: float, t0: float) -> float:
    t = t0
    for _ in range(n):
        t += 0.5
        if rng.random() < p:
            model.observe_resolution(t, float(rng.lognormal(np.log(9.0), 0.5)), person=True)
        else:
            model.observe_resolution(t, float(rng.uniform(1.0, 25.0)), person=False)
    return t


def test_dial_outcome_model_converges_to_the_person_probability() -> None:
    """On synthetic dials with P(person)=0.3 the estimate ends within 0.03 of 0.3."""
    model = DialOutcomeModel()
    _feed(model, np.random.default_rng(1), 3000, 0.3, 0.0)
    assert model.person_prob() == pytest.approx(0.3, abs=0.03)
    _, q = model.tables(1.0, 40)
    assert q[-1] == pytest.approx(0.3, abs=0.03)


def test_dial_outcome_model_follows_a_drifting_list() -> None:
    """When the answer rate falls from 0.35 to 0.15 the estimate follows within the hour."""
    model = DialOutcomeModel(time_constant_s=600.0, min_window_calls=200)
    rng = np.random.default_rng(2)
    t = _feed(model, rng, 3000, 0.35, 0.0)
    assert model.person_prob() == pytest.approx(0.35, abs=0.04)
    _feed(model, rng, 3000, 0.15, t)
    assert model.person_prob() == pytest.approx(0.15, abs=0.04)


def test_ringing_call_answer_chance_falls_with_elapsed_ring_time() -> None:
    """A call that has rung long has a smaller chance of reaching a person than a new one."""
    model = DialOutcomeModel()
    _feed(model, np.random.default_rng(3), 3000, 0.3, 0.0)
    g, q = model.tables(1.0, 60)
    assert g[0, -1] == pytest.approx(q[-1])
    assert g[int(20 / model.bin_s), -1] < 0.5 * q[-1]
    assert np.all(np.diff(q) >= -1e-12)


def test_kaplan_meier_with_censoring_removes_the_early_bias() -> None:
    """With calls still in progress as censored data, the talk survival is unbiased."""
    rng = np.random.default_rng(4)
    durations = rng.exponential(100.0, 4000)
    start = rng.uniform(0.0, 300.0, 4000)
    now = 300.0
    done = start + durations <= now
    km = DurationModel(bin_s=1.0, max_s=2000.0, time_constant_s=1e9)
    for d in durations[done]:
        km.observe(now, float(d))
    censored = now - start[~done]
    naive = km.survival(None)
    fair = km.survival(censored)
    truth = math.exp(-100.0 / 100.0)
    assert fair[100] == pytest.approx(truth, abs=0.05)
    assert naive[100] < truth - 0.15


def test_memoryless_durations_have_the_same_chance_to_end_at_any_age() -> None:
    """For exponential durations P(done within h | age) does not depend on the age."""
    rng = np.random.default_rng(5)
    km = DurationModel(bin_s=1.0, max_s=3000.0, time_constant_s=1e9)
    for d in rng.exponential(60.0, 20000):
        km.observe(0.0, float(d))
    table = conditional_done_within(km.survival(), np.array([10]))
    expected = 1.0 - math.exp(-10.0 / 60.0)
    for age in (0, 30, 90, 150):
        assert table[age, 0] == pytest.approx(expected, abs=0.03)


def test_talk_plus_wrapup_free_chance_matches_a_monte_carlo() -> None:
    """P(talk + wrap-up ends within h | talk age) agrees with a direct simulation."""
    rng = np.random.default_rng(6)
    talk = rng.lognormal(np.log(80.0), 0.6, 40000)
    wrap = rng.gamma(4.0, 3.0, 40000)
    tk = DurationModel(bin_s=1.0, max_s=3000.0, time_constant_s=1e9)
    wk = DurationModel(bin_s=1.0, max_s=300.0, time_constant_s=1e9)
    for a, b in zip(talk[:20000], wrap[:20000], strict=True):
        tk.observe(0.0, float(a))
        wk.observe(0.0, float(b))
    table = conditional_free_within(tk.survival(), wk.survival(), np.array([20]))
    for age in (20, 60, 120):
        alive = talk > age
        mc = float(np.mean(talk[alive] + wrap[alive] <= age + 20))
        assert table[age, 0] == pytest.approx(mc, abs=0.04)


def test_episodes_that_never_complete_keep_survival_mass() -> None:
    """Agents who log out instead of becoming ready leave survival above zero at the end."""
    km = DurationModel(bin_s=1.0, max_s=100.0, time_constant_s=1e9)
    for _ in range(3):
        km.observe(0.0, 10.0)
    km.observe_never(0.0)
    s = km.survival()
    assert s[-1] == pytest.approx(0.25)


@settings(max_examples=15, deadline=None)
@given(p=st.floats(0.05, 0.6), seed=st.integers(0, 2**16))
def test_person_probability_converges_for_any_list(p: float, seed: int) -> None:
    """For any true person rate, 4000 synthetic dials bring the estimate within 0.04."""
    model = DialOutcomeModel()
    _feed(model, np.random.default_rng(seed), 4000, p, 0.0)
    assert model.person_prob() == pytest.approx(p, abs=0.04)


@settings(max_examples=15, deadline=None)
@given(mean=st.floats(20.0, 400.0), seed=st.integers(0, 2**16))
def test_talk_median_converges_for_any_mean(mean: float, seed: int) -> None:
    """Kaplan–Meier on 3000 exponential talks finds the sample's median to within two 1-s
    bins, and so the true median (mean * ln 2) to within sampling noise."""
    rng = np.random.default_rng(seed)
    km = DurationModel(bin_s=1.0, max_s=4000.0, time_constant_s=1e9)
    talks = rng.exponential(mean, 3000)
    for d in talks:
        km.observe(0.0, float(d))
    s = km.survival()
    median = float(np.argmax(s <= 0.5))
    assert abs(median - float(np.median(talks))) <= 2.01
    assert median == pytest.approx(mean * math.log(2.0), rel=0.15, abs=2.5)


def test_scaled_prior_tempers_early_estimates_then_washes_out() -> None:
    """A heavy cautious prior keeps 100 early calls near 0.5; 5000 calls override it."""
    model = DialOutcomeModel()
    model.scale_prior(50.0)
    rng = np.random.default_rng(9)
    t = _feed(model, rng, 100, 0.15, 0.0)
    assert model.person_prob() > 0.2
    _feed(model, rng, 5000, 0.15, t)
    assert model.person_prob() == pytest.approx(0.15, abs=0.03)


def test_prior_fades_so_a_thin_list_is_not_overestimated() -> None:
    """After 3000 dials on a list where 7 % reach a person, a prior of 50 dials at 50 % no
    longer biases the estimate upwards by more than 3 % of its value (it once did by 4 %,
    which made the pacer under-dial a thin list all day)."""
    model = DialOutcomeModel()
    model.scale_prior(50.0)
    rng = np.random.default_rng(4)
    _feed(model, rng, 3000, 0.07, 0.0)
    data_only = model._person.total() / model._all.total()
    assert model.person_prob() == pytest.approx(data_only, rel=0.03)


def test_thin_list_estimate_pools_enough_persons_to_be_steady() -> None:
    """On a 5 % list dialed slowly (one call every 4 s) the estimate's spread over the day
    is under a fifth of the rate: the memory holds at least ``min_window_persons`` persons."""
    model = DialOutcomeModel(min_window_persons=150.0)
    rng = np.random.default_rng(5)
    t, seen = 0.0, []
    for _ in range(6000):
        t += 4.0
        person = bool(rng.random() < 0.05)
        model.observe_resolution(t, 9.0 if person else 20.0, person=person)
        seen.append(model.person_prob())
    late = np.asarray(seen[2000:])
    assert float(late.std()) < 0.2 * 0.05
    assert float(late.mean()) == pytest.approx(0.05, rel=0.15)


def test_a_rising_list_is_caught_by_the_change_detector() -> None:
    """When the answer rate jumps from 0.12 to 0.40 (the dangerous direction), the long
    memory is cut back and the estimate passes 0.33 within 300 dials."""
    model = DialOutcomeModel(min_window_persons=150.0)
    rng = np.random.default_rng(6)
    t = _feed(model, rng, 4000, 0.12, 0.0)
    assert model.person_prob() == pytest.approx(0.12, abs=0.02)
    _feed(model, rng, 300, 0.40, t)
    assert model.changes >= 1
    assert model.person_prob() > 0.33


def test_answer_chance_uncertainty_shrinks_as_persons_are_seen() -> None:
    """The relative variance of a ringing call's estimated answer chance is about
    (1 - share) / persons seen answering later than it has rung: large at the end of a cold
    start on a thin list, larger still for a call that has rung long (fewer persons answered
    that late), small once hundreds are in, and large again right after a change point cuts
    the long memory back."""
    model = DialOutcomeModel(prior_calls=1.0)
    rng = np.random.default_rng(3)
    t = _feed(model, rng, 60, 0.12, 0.0)
    early = model.answer_cv2()
    assert early[0] > 0.05
    late = int(12.0 / model.bin_s)  # most persons answer before 12 s (median 9 s)
    assert early[late] > early[0]
    t = _feed(model, rng, 4000, 0.12, t)
    steady = model.answer_cv2()
    assert steady[0] < 0.01
    assert steady[0] < early[0] / 5.0
    assert steady[late] < early[late] / 5.0
    _feed(model, rng, 300, 0.40, t)
    assert model.changes >= 1
    assert model.answer_cv2()[0] > steady[0]
