"""Online estimators learned from call and agent events (pure numpy, no clock).

* :class:`DecayedHistogram` — a histogram whose old observations fade exponentially.
* :class:`DialOutcomeModel` — how a dial resolves: the share that reaches a person and
  when, learned from the time each call took to resolve (answer or fail).  For a call
  still ringing after ``e`` seconds it gives the chance a person answers within the next
  ``tau`` seconds, with no parametric model of machines, busy or no-answer timeouts.
* :class:`DurationModel` — a duration distribution (talk, after-call time) estimated by
  Kaplan–Meier, so calls still in progress count as right-censored observations instead
  of biasing the estimate towards short calls early in the day.

All of them start with a conservative prior (see ``prior_*`` arguments) and report
``ready`` once they have seen enough data; the predictive pacer stays progressive until
then (the cold start).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

_RENORMALISE_AT = 40.0
_FAST_WINDOW_CALLS = 150.0  # the fast estimate remembers about this many recent dials ...
_KEEP_AFTER_CHANGE_CALLS = 50.0  # ... and a change point leaves the long memory this many


class DecayedHistogram:
    """Weighted histogram on ``[0, bin_s * n_bins)`` plus an overflow bin, fading in time.

    An observation made at time ``t`` carries weight ``exp(-(now - t) / time_constant_s)``
    when read at ``now``.  Weights are stored scaled by ``exp(t / time_constant_s)`` and
    renormalised from time to time, so adding is O(1).
    """

    def __init__(self, *, bin_s: float, n_bins: int, time_constant_s: float) -> None:
        if bin_s <= 0 or n_bins <= 0 or time_constant_s <= 0:
            msg = "bin_s, n_bins and time_constant_s must be positive"
            raise ValueError(msg)
        self.bin_s = bin_s
        self.n_bins = n_bins
        self.time_constant_s = time_constant_s
        self._counts = np.zeros(n_bins + 1)
        self._log_scale = 0.0  # log of the weight of an observation made "now"
        self._t_ref: float | None = None
        self.n_seen = 0

    def _advance(self, t: float) -> None:
        if self._t_ref is None:
            self._t_ref = t
            return
        dt = t - self._t_ref
        if dt > 0:
            self._log_scale += dt / self.time_constant_s
            self._t_ref = t
            if self._log_scale > _RENORMALISE_AT:
                self._counts *= math.exp(-self._log_scale)
                self._log_scale = 0.0

    def bin_of(self, value: float) -> int:
        """Index of the bin holding ``value`` (the overflow bin for large values)."""
        if not value > 0:
            return 0
        if value >= self.bin_s * self.n_bins:
            return self.n_bins
        return int(value / self.bin_s)

    def add(self, t: float, value: float, weight: float = 1.0) -> None:
        """Record one observation ``value`` made at time ``t``."""
        self._advance(t)
        self._counts[self.bin_of(value)] += weight * math.exp(self._log_scale)
        self.n_seen += 1

    def weights(self) -> FloatArray:
        """Current weights per bin (overflow last), in units of fresh observations."""
        return self._counts * math.exp(-self._log_scale)

    def total(self) -> float:
        """Sum of current weights (the effective number of observations)."""
        return float(self._counts.sum()) * math.exp(-self._log_scale)

    def forget(self, keep: float) -> None:
        """Scale every past observation by ``keep`` (in [0, 1]): a step of forgetting."""
        self._counts *= keep


class DialOutcomeModel:
    """Person-answer probability and timing of dials, learned from resolved calls.

    ``observe_resolution(t, seconds, person)`` is fed once per call when it answers or
    fails.  The fade time constant is the largest of ``time_constant_s``, the time the
    last ``min_window_calls`` dials took and the time the last ``min_window_persons``
    persons took, so the estimate follows a list that drifts during the day yet stays
    steady on a small team that dials slowly or a thin list where persons are rare.

    A long memory must not hide a list that changes: a fast estimate (the last
    ``fast_window_s`` or about 150 dials, whichever is shorter) runs beside it, and when
    the two differ by more than ``change_z`` binomial standard deviations the long memory
    is cut back to about 50 dials' weight (a change point), so it follows the new list.

    The cautious prior (``prior_calls`` dials with ``prior_person_prob``) fades as data
    arrives: after ``prior_fade`` times its own weight in resolved calls it counts half.
    """

    def __init__(
        self,
        *,
        bin_s: float = 0.5,
        max_ring_s: float = 90.0,
        time_constant_s: float = 900.0,
        min_window_calls: int = 400,
        prior_calls: float = 4.0,
        prior_person_prob: float = 0.5,
        prior_ring_s: float = 5.0,
        min_window_persons: float = 150.0,
        fast_window_s: float = 300.0,
        change_z: float = 4.0,
        prior_fade: float = 10.0,
    ) -> None:
        n_bins = math.ceil(max_ring_s / bin_s)
        self.bin_s = bin_s
        self.n_bins = n_bins
        self.time_constant_s = time_constant_s
        self.min_window_calls = min_window_calls
        self.min_window_persons = min_window_persons
        self.fast_window_s = fast_window_s
        self.change_z = change_z
        self.prior_fade = prior_fade
        self._fast_calls = 0.0
        self._fast_persons = 0.0
        self._person_rate = 0.0  # persons per second (EWMA)
        self.changes = 0  # change points detected
        self._all = DecayedHistogram(bin_s=bin_s, n_bins=n_bins, time_constant_s=time_constant_s)
        self._person = DecayedHistogram(bin_s=bin_s, n_bins=n_bins, time_constant_s=time_constant_s)
        # A small prior: persons answer fast and often -> few dials per free agent.
        self._prior_all = np.zeros(n_bins + 1)
        self._prior_person = np.zeros(n_bins + 1)
        b = min(int(prior_ring_s / bin_s), n_bins - 1)
        self._prior_all[b] = 1.0
        self._prior_person[b] = prior_person_prob
        self.min_prior_calls = prior_calls
        self.prior_calls = prior_calls
        self._rate = 0.0  # dials per second (EWMA)
        self._last_t: float | None = None
        self.resolved = 0
        self.persons = 0

    def _retune(self, t: float, *, person: bool) -> None:
        a = 1.0
        if self._last_t is not None:
            dt = t - self._last_t
            if dt > 0:
                a = math.exp(-dt / 300.0)
                self._rate = a * self._rate + (1.0 - a) * (1.0 / dt)
                self._person_rate *= a
            elif self._rate == 0.0:
                self._rate = 1.0
            if dt > 0:
                fast_tc = self.fast_window_s
                if self._rate > 0:
                    fast_tc = min(fast_tc, _FAST_WINDOW_CALLS / self._rate)
                f = math.exp(-dt / fast_tc)
                self._fast_calls *= f
                self._fast_persons *= f
        self._last_t = t
        if person:
            self._person_rate += 1.0 / 300.0
        self._fast_calls += 1.0
        self._fast_persons += 1.0 if person else 0.0
        if self._rate > 0:
            tc = max(self.time_constant_s, self.min_window_calls / self._rate)
            if self._person_rate > 0:
                tc = max(tc, min(self.min_window_persons / self._person_rate, 4.0 * 3600.0))
            self._all.time_constant_s = tc
            self._person.time_constant_s = tc

    def _check_change(self) -> None:
        """Cut the long memory back when the recent person share left it (a change point)."""
        n = self._fast_calls
        if n < 30:
            return
        p_long = self._person.total() / max(self._all.total(), 1e-9)
        p_fast = self._fast_persons / n
        sd = math.sqrt(max(p_long * (1.0 - p_long), 1e-6) / n)
        if abs(p_fast - p_long) > self.change_z * sd:
            keep = min(1.0, _KEEP_AFTER_CHANGE_CALLS / max(self._all.total(), 1e-9))
            self._all.forget(keep)
            self._person.forget(keep)
            self.changes += 1

    def scale_prior(self, calls: float) -> None:
        """Weigh the cautious prior as ``calls`` dials (never below the minimum).

        A big floor dials hundreds of calls at once, so a noisy estimate from the first
        hundred results would over-dial massively; the pacer scales the prior with the
        head-count, which washes out in a few minutes of data.
        """
        self.prior_calls = max(self.min_prior_calls, calls)

    def prior_weight(self) -> float:
        """The prior's weight now, in dials: ``prior_calls``, fading as calls resolve."""
        fade = self.prior_fade * self.prior_calls
        return self.prior_calls * fade / (fade + self.resolved)

    def observe_resolution(self, t: float, seconds: float, *, person: bool) -> None:
        """Record a call that resolved ``seconds`` after its dial (a person or a failure)."""
        self._retune(t, person=person)
        self._all.add(t, seconds)
        self._person.add(t, seconds, 1.0 if person else 0.0)
        self.resolved += 1
        if person:
            self.persons += 1
        if self.resolved % 16 == 0:
            self._check_change()

    def person_prob(self) -> float:
        """Current estimate of P(a new dial reaches a person)."""
        w = self.prior_weight()
        a = self._all.weights() + w * self._prior_all
        p = self._person.weights() + w * self._prior_person
        return float(p.sum() / a.sum())

    def answer_cv2(self) -> FloatArray:
        """Relative variance of P(a person answers | still ringing after ``i`` bins), per bin.

        That chance is estimated from the persons seen answering later than ``i`` bins
        (``N_i``, the faded histogram's, the prior left out): its relative variance is
        about ``(1 - share_i) / N_i``. A dozen persons from a floor's first wave leave the
        late answers, and so every call already ringing a while, very uncertain (a fifth
        to a whole); a few hundred leave them steady.
        """
        w = self.prior_weight()
        p = self._person.weights()
        a = self._all.weights() + w * self._prior_all
        tail_p = np.cumsum(p[::-1])[::-1]
        tail_pp = tail_p + w * np.cumsum(self._prior_person[::-1])[::-1]
        tail_a = np.cumsum(a[::-1])[::-1]
        share = np.where(tail_a > 1e-9, tail_pp / np.maximum(tail_a, 1e-9), 0.0)
        cv2: FloatArray = np.clip((1.0 - share) / np.maximum(tail_p, 1.0), 0.0, 1.0)
        return cv2

    def tables(self, step_s: float, n_steps: int) -> tuple[FloatArray, FloatArray]:
        """Answer-within tables on the horizons ``step_s * (1..n_steps)``.

        Returns ``(g, q)``: ``g[i, k]`` = P(a person answers within ``(k + 1) * step_s``
        | the call is still ringing after ``i * bin_s`` s), one row per elapsed bin; and
        ``q[k]`` the same for a call dialed now.
        """
        w = self.prior_weight()
        a = self._all.weights() + w * self._prior_all
        p = self._person.weights() + w * self._prior_person
        cum_p = np.concatenate(([0.0], np.cumsum(p)))  # cum_p[i] = persons in bins < i
        tail_a = np.cumsum(a[::-1])[::-1]  # tail_a[i] = all in bins >= i
        n = self.n_bins + 1
        rows = np.arange(n)[:, None]
        shift = np.round(step_s * np.arange(1, n_steps + 1) / self.bin_s).astype(np.int64)
        hi = np.minimum(rows + shift[None, :], n)
        num = cum_p[hi] - cum_p[rows]
        den = tail_a[:, None]
        g = np.where(den > 1e-9, num / np.maximum(den, 1e-9), 0.0)
        g = np.clip(g, 0.0, 1.0)
        g[-1, :] = 0.0  # beyond the longest ring we model nothing answers
        return g, g[0].copy()


class DurationModel:
    """Kaplan–Meier estimate of a duration on a ``bin_s`` grid, with fading memory.

    Completed durations are fed with :meth:`observe`; durations still running are passed
    to :meth:`survival` as right-censored values.  ``observe_never`` records an episode
    that will never complete (e.g. an agent who logged out instead of becoming ready),
    which keeps some survival mass beyond the grid.
    """

    def __init__(self, *, bin_s: float, max_s: float, time_constant_s: float) -> None:
        self.bin_s = bin_s
        self.n_bins = math.ceil(max_s / bin_s)
        self._hist = DecayedHistogram(
            bin_s=bin_s, n_bins=self.n_bins, time_constant_s=time_constant_s
        )

    @property
    def n_seen(self) -> int:
        """How many completed durations have been observed."""
        return self._hist.n_seen

    def observe(self, t: float, duration_s: float) -> None:
        """Record a completed duration (observed at time ``t``)."""
        self._hist.add(t, max(0.0, duration_s))

    def observe_never(self, t: float) -> None:
        """Record an episode that ended without completing (counted beyond the grid)."""
        self._hist.add(t, float("inf"))

    def survival(self, censored: FloatArray | None = None) -> FloatArray:
        """``S[i]`` = P(duration > i * bin_s), for i = 0 .. n_bins (``S[0]`` = 1).

        ``censored`` are elapsed times of episodes still running (right-censored).
        """
        d = self._hist.weights()
        n = self.n_bins
        at_risk = np.cumsum(d[::-1])[::-1]  # completed in bins >= i (incl. overflow)
        if censored is not None and censored.size:
            cb = np.minimum((censored / self.bin_s).astype(np.int64), n)
            c_counts = np.bincount(cb, minlength=n + 1).astype(np.float64)
            # a censored value in bin c is at risk in bins 0..c
            at_risk = at_risk + np.cumsum(c_counts[::-1])[::-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            hazard = np.where(at_risk[:n] > 1e-12, d[:n] / at_risk[:n], 0.0)
        s = np.empty(n + 1)
        s[0] = 1.0
        s[1:] = np.cumprod(1.0 - np.clip(hazard, 0.0, 1.0))
        return s


def conditional_done_within(survival: FloatArray, horizons_bins: NDArray[np.int64]) -> FloatArray:
    """``P(D <= e + h | D > e)`` for every elapsed bin ``e`` and horizon ``h`` (in bins)."""
    n = survival.size
    rows = np.arange(n)[:, None]
    hi = np.minimum(rows + horizons_bins[None, :], n - 1)
    s0 = survival[:, None]
    out = np.where(s0 > 1e-12, 1.0 - survival[hi] / np.maximum(s0, 1e-12), 0.0)
    return np.clip(out, 0.0, 1.0)


def conditional_free_within(
    talk_survival: FloatArray,
    after_survival: FloatArray,
    horizons_bins: NDArray[np.int64],
    rows: int | None = None,
) -> FloatArray:
    """``P(T + W <= e + h | T > e)`` per talk-elapsed bin ``e`` and horizon ``h`` (bins).

    ``T`` (talk) and ``W`` (after-call time) are independent, both on the same bin grid.
    With ``rows`` only the first ``rows`` elapsed bins are computed (the talks in progress
    are younger): the cost is proportional to it.
    """
    n = talk_survival.size
    m_rows = n if rows is None else max(1, min(rows, n))
    h_max = int(horizons_bins.max())
    pmf = np.zeros(n + h_max + 1)
    pmf[: n - 1] = talk_survival[:-1] - talk_survival[1:]  # P(T in bin i)
    # cdf_w[m] = P(W <= m bins); talk ending in bin i + u leaves about h - u bins
    m = np.arange(h_max + 1)
    cdf_w = 1.0 - after_survival[np.minimum(m, after_survival.size - 1)]
    weights = np.zeros((h_max + 1, horizons_bins.size))
    for j, h in enumerate(horizons_bins.tolist()):
        u = np.arange(h + 1)
        weights[u, j] = cdf_w[h - u]
    windows = np.lib.stride_tricks.sliding_window_view(pmf, h_max + 1)[:m_rows]
    num = windows @ weights
    s0 = talk_survival[:m_rows, None]
    out = np.where(s0 > 1e-12, num / np.maximum(s0, 1e-12), 0.0)
    return np.clip(out, 0.0, 1.0)
