"""Pacers: how many calls to start now.

* :class:`ProgressivePacer` — one ringing call per ready agent.
* :class:`RatioPacer` — a fixed number of ringing lines per ready agent.
* :class:`PredictivePacer` — forecasts, for the next seconds, the *distribution* of
  persons answering (every ringing call with its chance of a person given how long it has
  rung, plus the new dials) against agents becoming free (every talking or wrapping agent
  with its chance of being free given the elapsed time, from talk and after-call
  distributions learned with censoring).  It dials the largest number of calls whose
  *marginal* call has a drop probability within an allowed risk.  Small counts use the
  exact Poisson-binomial laws; large ones a skewness-corrected normal approximation.
  The estimate's own error is in the forecast too (``rate_error_weight``, 1; 0 leaves it
  out): a ringing call's answer chance is learned from the persons seen answering later
  than it has rung, so its relative variance is about ``(1 - share) / those persons``, and
  every call in flight shares it. It widens the answer count's spread (the exact laws are
  averaged over three draws of the error, the normal one gets the extra variance): a
  floor's first wave after a dozen persons, or a list just after a change point, dials
  fewer calls at once; hundreds of persons seen change little.

  The allowed risk starts at ``initial_risk`` and is steered by a budget controller
  (:class:`RiskController`): each settled answer moves it towards spending a drop budget
  of ``aim_fraction * target`` per answer less a margin of ``margin_z`` Poisson standard
  deviations, so large floors and thin lists, where the same risk drops fewer people,
  spend the legal budget instead of banking half of it, and small teams keep a margin for
  their noisy counts.  A *barrier* scales the risk down as the headroom to the cap shrinks
  in any guarded window (today, rolling 24 h, 30 d).  When ``guard_headroom_drops`` (2)
  more drops (or, on a big floor, the persons it answers in ``guard_burst_s``: an overflow
  drops them all) could take a window past the cap, the compliance guard dials at a tiny risk
  (``guard_risk``) — on a thin list progressive dialing would idle the agents for
  minutes — and as soon as a single drop could, it dials progressively (a window with
  fewer than ``guard_min_answered`` answers is judged as if it had that many).  With
  ``hour_gain`` > 0 (off by default) the risk is also scaled down while the last rolling
  hour drops more than ``hour_aim_fraction`` of the cap (:meth:`PredictivePacer.hour_factor`):
  supervisors watch hourly figures, and it trims the worst hour for a little occupancy.  Below
  ``small_team_threshold`` agents and at the cold start (too little data) it dials
  progressively.

Everything is a pure function of the events and views passed in: no clock, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from pacing.accounting import AbandonmentLedger, WindowRate
from pacing.errors import PacerParameterError
from pacing.estimators import (
    DialOutcomeModel,
    DurationModel,
    FloatArray,
    conditional_done_within,
    conditional_free_within,
)
from pacing.types import (
    ANSWER,
    CONNECT,
    DROP,
    FAIL,
    HANGUP,
    LOGOUT,
    MACHINE,
    READY,
    Event,
    View,
)

MODE_PROGRESSIVE: Final = "progressive"
MODE_PREDICTIVE: Final = "predictive"

_SQRT2: Final = math.sqrt(2.0)
_ANSWER_RATE_TC_S: Final = 600.0
_ANSWER_RATE_MIN_S: Final = 60.0  # a young count's rate is taken over at least this long
_SQRT2PI: Final = math.sqrt(2.0 * math.pi)
_COARSE_POINTS: Final = 24  # the normal path's first pass: this many counts, then the gap
#: answers' mean, free agents' mean, their gap's variance and third cumulant, shared error
_Cumulants = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
_MIXTURE_CV2: Final = 0.01  # the exact path mixes over the answer rate's error above this


def _normal_cdf(x: FloatArray) -> FloatArray:
    """Standard normal CDF, vectorised (Abramowitz–Stegun 7.1.26, |error| < 2e-7)."""
    z = np.abs(x) / _SQRT2
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def _clamp(n: int, view: View) -> int:
    return max(0, min(n, view.lines_free))


class ProgressivePacer:
    """Keep exactly one ringing call per ready agent (never dials ahead of an agent)."""

    def observe(self, event: Event) -> None:
        """Progressive needs no history."""
        del event

    def decide(self, view: View) -> int:
        """Ready agents minus calls already ringing for them."""
        return _clamp(view.agents_ready - len(view.ringing_elapsed_s) - view.calls_waiting, view)


class RatioPacer:
    """Keep ``floor(ratio * ready agents)`` calls ringing (VICIdial-style "power" dialing)."""

    def __init__(self, ratio: float = 2.0) -> None:
        if not (math.isfinite(ratio) and ratio >= 1.0):
            raise PacerParameterError("ratio", ratio, "must be a finite number >= 1")
        self.ratio = ratio

    def observe(self, event: Event) -> None:
        """A fixed ratio needs no history."""
        del event

    def decide(self, view: View) -> int:
        """``floor(ratio * ready) - ringing - waiting``."""
        goal = math.floor(self.ratio * view.agents_ready + 1e-9)
        return _clamp(goal - len(view.ringing_elapsed_s) - view.calls_waiting, view)


@dataclass(frozen=True, slots=True)
class PredictiveSettings:
    """Plain values that tune :class:`PredictivePacer` (built from a pacing profile)."""

    target_abandon: float = 0.03
    aim_fraction: float = 0.95
    max_wait_s: float = 2.0
    max_lines_per_agent: float = 10.0
    small_team_threshold: int = 2
    initial_risk: float = 0.03
    min_risk: float = 0.003
    max_risk: float = 0.6
    risk_gain: float = 0.1
    margin_z: float = 1.0
    full_gain_answers_per_h: float = 1000.0
    guard_headroom_drops: float = 2.0
    guard_burst_s: float = 4.0
    guard_risk: float = 0.002
    guard_min_answered: float = 100.0
    soft_headroom_drops: float = 3.0
    soft_headroom_fraction: float = 0.15
    soft_headroom_window_s: float = 600.0
    hour_gain: float = 0.0
    hour_aim_fraction: float = 0.9
    hour_min_drops: float = 2.0
    guard_windows: tuple[str, ...] = ("today", "rolling_24h", "rolling_30d")
    day_start_s: float = 0.0
    amd_false_positive_rate: float = 0.0
    estimator_time_constant_s: float = 900.0
    estimator_min_window_calls: int = 400
    estimator_min_window_persons: float = 150.0
    talk_time_constant_s: float = 7200.0
    cold_start_min_resolved: int = 30
    cold_start_min_persons: int = 5
    cold_start_min_hangups: int = 0
    refresh_calls_s: float = 5.0
    refresh_agents_s: float = 20.0
    horizon_step_s: float = 1.0
    max_talk_s: float = 2400.0
    max_after_call_s: float = 900.0
    exact_limit: int = 40
    prior_calls_per_agent: float = 0.5
    rate_error_weight: float = 1.0

    def check(self) -> None:
        """Raise :class:`PacerParameterError` for a value outside its range."""
        checks: list[tuple[str, float, bool, str]] = [
            ("target_abandon", self.target_abandon, 0 < self.target_abandon < 1, "in (0, 1)"),
            ("aim_fraction", self.aim_fraction, 0 < self.aim_fraction <= 1, "in (0, 1]"),
            ("max_wait_s", self.max_wait_s, self.max_wait_s >= 0, ">= 0"),
            (
                "max_lines_per_agent",
                self.max_lines_per_agent,
                self.max_lines_per_agent >= 1,
                ">= 1",
            ),
            ("min_risk", self.min_risk, 0 < self.min_risk <= self.initial_risk, "in (0, initial]"),
            ("max_risk", self.max_risk, self.initial_risk <= self.max_risk < 1, "in [initial, 1)"),
            ("risk_gain", self.risk_gain, self.risk_gain >= 0, ">= 0"),
            ("hour_gain", self.hour_gain, self.hour_gain >= 0, ">= 0"),
            (
                "hour_aim_fraction",
                self.hour_aim_fraction,
                0 < self.hour_aim_fraction <= 2,
                "in (0, 2]",
            ),
            ("horizon_step_s", self.horizon_step_s, self.horizon_step_s > 0, "> 0"),
        ]
        for name, value, ok, reason in checks:
            if not ok:
                raise PacerParameterError(name, value, f"must be {reason}")


@dataclass(frozen=True, slots=True)
class PacerStatus:
    """What the predictive pacer did at its last decision (for logs and dashboards)."""

    t: float
    mode: str
    reason: str
    dials: int
    risk: float  # marginal drop probability allowed (planned risk times the barrier)
    person_prob: float
    windows: tuple[WindowRate, ...]


class RiskController:
    """Allowed marginal drop risk, steered by realised abandonment (integral control).

    Every settled answer moves ``log(risk)`` by ``gain * (aim step - dropped)``: connects
    raise it a little, drops lower it a lot.  The aim is a drop *budget* for the answers so
    far, ``B(N) = aim * N - margin_z * sqrt(cap * N)``: the cap's share less a margin of
    ``margin_z`` Poisson standard deviations of the drop count, so a small team (few
    answers, noisy drop counts) aims lower than a big floor, and every team aims closer to
    the cap as its day fills up.  Summed over a day, ``drops = B(N) + (log r0 - log
    r_end) / gain``: the controller spends the budget whatever the list and team, within
    ``1 / gain`` drops per e-fold of risk.  The risk is clamped (no wind-up beyond the
    bounds).
    """

    def __init__(
        self,
        *,
        aim: float,
        initial: float,
        low: float,
        high: float,
        gain: float,
        cap: float = 0.03,
        margin_z: float = 0.0,
    ) -> None:
        self.aim = aim
        self.cap = cap
        self.margin_z = margin_z
        self.low = math.log(low)
        self.high = math.log(high)
        self.gain = gain
        self._log = math.log(initial)

    @property
    def risk(self) -> float:
        """The marginal drop probability currently allowed."""
        return math.exp(self._log)

    def budget(self, answered: float) -> float:
        """Drops the controller plans to have spent after ``answered`` settled answers."""
        n = max(0.0, answered)
        return self.aim * n - self.margin_z * math.sqrt(self.cap * n)

    def settled(self, *, dropped: bool, answered: float | None = None, held: bool = False) -> None:
        """Feed one answered person: served (``dropped=False``) or abandoned.

        ``answered`` is the count of settled answers in the window so far, this one
        included (without it the budget has no margin: ``aim`` per answer). ``held``:
        the guard, not this risk, decides the dials now; the risk may fall, not rise (a
        big floor held for two minutes wound it up threefold and dropped in a burst the
        moment the guard let go).
        """
        if answered is None or self.margin_z == 0.0:
            step_aim = self.aim
        else:
            step_aim = self.budget(answered) - self.budget(answered - 1.0)
        step = self.gain * (step_aim - (1.0 if dropped else 0.0))
        if held:
            step = min(step, 0.0)
        self._log = min(self.high, max(self.low, self._log + step))


class PredictivePacer:
    """Dial ahead of agents, keeping every legal abandonment window under its cap."""

    def __init__(self, settings: PredictiveSettings | None = None) -> None:
        s = settings or PredictiveSettings()
        s.check()
        self.settings = s
        self.ledger = AbandonmentLedger(
            day_start_s=s.day_start_s, amd_false_positive_rate=s.amd_false_positive_rate
        )
        self.controller = RiskController(
            aim=s.target_abandon * s.aim_fraction,
            initial=s.initial_risk,
            low=s.min_risk,
            high=s.max_risk,
            gain=s.risk_gain,
            cap=s.target_abandon,
            margin_z=s.margin_z,
        )
        self.dial_model = DialOutcomeModel(
            time_constant_s=s.estimator_time_constant_s,
            min_window_calls=s.estimator_min_window_calls,
            min_window_persons=s.estimator_min_window_persons,
        )
        self.talk_model = DurationModel(
            bin_s=1.0, max_s=s.max_talk_s, time_constant_s=s.talk_time_constant_s
        )
        self.after_model = DurationModel(
            bin_s=1.0, max_s=s.max_after_call_s, time_constant_s=s.talk_time_constant_s
        )
        self._hangup_at: dict[int, float] = {}
        self._answers_recent = 0.0
        self._answers_t: float | None = None
        self._answers_first: float | None = None
        self._burst_held = False  # the guard holds for a burst's headroom (see decide)
        self._progressive = ProgressivePacer()
        # forecast tables, refreshed every few seconds of event time
        self._calls_at = -math.inf
        self._agents_at = -math.inf
        self._g: FloatArray = np.zeros((1, 1))
        self._q: FloatArray = np.zeros(1)
        self._w: FloatArray = np.zeros(1)
        self._talk_free: FloatArray = np.zeros((1, 1))
        self._after_free: FloatArray = np.zeros((1, 1))
        self._n_steps = 1
        # relative standard error of a ringing call's answer chance, per elapsed bin
        self._rel: FloatArray = np.zeros(1)
        self.status = PacerStatus(0.0, MODE_PROGRESSIVE, "start", 0, self.controller.risk, 0.0, ())

    # ------------------------------------------------------------------ events
    def observe(self, event: Event) -> None:
        """Update estimators, the abandonment ledger and the risk controller."""
        kind, t = event.kind, event.t
        if kind == ANSWER:
            self.dial_model.observe_resolution(t, event.value or 0.0, person=True)
        elif kind == FAIL:
            self.dial_model.observe_resolution(t, event.value or 0.0, person=False)
            if event.outcome == MACHINE:
                self.ledger.record_machine(t)
        elif kind == CONNECT:
            self.ledger.record_connect(t)
            self._count_answer(t)
            self._settle(t, dropped=False)
        elif kind == DROP:
            self.ledger.record_drop(t)
            self._count_answer(t)
            self._settle(t, dropped=True)
        elif kind == HANGUP:
            self.talk_model.observe(t, event.value or 0.0)
            if event.agent_id is not None:
                self._hangup_at[event.agent_id] = t
        elif kind == READY:
            start = (
                self._hangup_at.pop(event.agent_id, None) if event.agent_id is not None else None
            )
            if start is not None:
                self.after_model.observe(t, t - start)
        elif (
            kind == LOGOUT
            and event.agent_id is not None
            and self._hangup_at.pop(event.agent_id, None) is not None
        ):
            self.after_model.observe_never(t)

    def _settle(self, t: float, *, dropped: bool) -> None:
        """Feed the budget controller, its gain scaled by the floor's answer rate.

        A team that settles fewer than ``full_gain_answers_per_h`` answers an hour has a
        drop count too noisy to steer by: its gain shrinks in proportion (a five-agent
        team keeps about its planned risk, a hundred-agent floor steers at full gain).
        """
        s = self.settings
        per_hour = self.answer_rate(t) * 3600.0
        scale = min(1.0, per_hour / s.full_gain_answers_per_h) if s.full_gain_answers_per_h else 1.0
        self.controller.gain = s.risk_gain * scale
        self.controller.settled(
            dropped=dropped,
            answered=self.ledger.windows(t)[0].answered,
            held=self._burst_held,
        )

    # ------------------------------------------------------------------ decision
    def _finish(
        self,
        view: View,
        n: int,
        mode: str,
        reason: str,
        windows: tuple[WindowRate, ...],
        *,
        allowed: float | None = None,
    ) -> int:
        n = _clamp(n, view)
        self.status = PacerStatus(
            view.t,
            mode,
            reason,
            n,
            self.allowed_risk(windows, view.t) if allowed is None else allowed,
            self.dial_model.person_prob(),
            windows,
        )
        return n

    def allowed_risk(self, windows: tuple[WindowRate, ...], t: float) -> float:
        """The marginal drop probability allowed now: planned risk times the barrier and
        the hourly factor."""
        return self.controller.risk * self._barrier(windows, t) * self.hour_factor(t)

    def hour_factor(self, t: float) -> float:
        """Hourly smoothing: scale the allowed risk down while the last hour ran hot.

        ``z`` is the last rolling hour's drops above ``hour_aim_fraction * target`` of its
        answers, in Poisson standard deviations of that share (at least ``hour_min_drops``
        of them); the risk is multiplied by ``exp(-hour_gain * z)``, at least 0.1. Off
        when ``hour_gain`` is 0 (the default), and for a team that answers too few persons
        an hour to plan ``hour_min_drops`` drops in it: its hourly figure is noise. The
        budget controller spends what the hour saved later in the day.
        """
        s = self.settings
        if s.hour_gain <= 0.0:
            return 1.0
        aim = s.target_abandon * s.hour_aim_fraction
        if aim * self.answer_rate(t) * 3600.0 < s.hour_min_drops:
            return 1.0
        hour = self.ledger.last_hour(t)
        planned = aim * hour.answered
        z = (hour.drops - planned) / math.sqrt(max(planned, s.hour_min_drops, 1e-9))
        if z <= 0.0:
            return 1.0
        return max(0.1, math.exp(-s.hour_gain * z))

    def guard_headroom(self, t: float) -> float:
        """Drops the guard keeps in hand: ``guard_headroom_drops``, or the persons a
        floor answers in ``guard_burst_s`` when that is more.

        When a big floor overflows, everybody who answers until an agent is free drops:
        250 agents on 40-second talks dropped 7-16 persons within seconds, far past a
        headroom of two, and a young day's allowance (3 % of a few hundred answers) went
        in one burst. The rate is the young one (:meth:`answer_rate`): the first minutes
        are when the allowance is smallest.
        """
        s = self.settings
        return max(s.guard_headroom_drops, self.answer_rate(t, young=True) * s.guard_burst_s)

    def _guard_trips(self, windows: tuple[WindowRate, ...], k: float) -> bool:
        """True when ``k`` more drops could take a guarded window past the cap."""
        cap = self.settings.target_abandon
        names = self.settings.guard_windows
        floor = self.settings.guard_min_answered
        return any(
            w.drops + k > cap * max(w.answered + k, floor) for w in windows if w.name in names
        )

    def _over_cap(self, windows: tuple[WindowRate, ...]) -> bool:
        """A guarded window with at least ``guard_min_answered`` answers is at the cap."""
        cap = self.settings.target_abandon
        floor = self.settings.guard_min_answered
        names = self.settings.guard_windows
        return any(
            w.answered >= floor and w.drops >= cap * w.answered for w in windows if w.name in names
        )

    def headroom(self, windows: tuple[WindowRate, ...]) -> float:
        """Drops that may still happen before the tightest guarded window reaches the cap."""
        cap = self.settings.target_abandon
        floor = self.settings.guard_min_answered
        names = self.settings.guard_windows
        return min(
            (cap * max(w.answered, floor) - w.drops for w in windows if w.name in names),
            default=math.inf,
        )

    def _count_answer(self, t: float) -> None:
        """Keep an exponentially weighted count of settled answers (time constant 600 s)."""
        if self._answers_t is None or t - self._answers_t > _ANSWER_RATE_TC_S:
            self._answers_first = t  # a new start: the old count has all but faded
        if self._answers_t is not None and t > self._answers_t:
            self._answers_recent *= math.exp(-(t - self._answers_t) / _ANSWER_RATE_TC_S)
        self._answers_t = t
        self._answers_recent += 1.0

    def answer_rate(self, t: float, *, young: bool = False) -> float:
        """Recent settled answers per second.

        The weighted count over its time constant is a rate once it has run that long:
        before, a floor's first minutes count a fraction of its rate (which keeps the
        budget controller's gain and the soft barrier cautious there). With ``young`` it
        is divided by the weight of the time it has run (at least ``_ANSWER_RATE_MIN_S``):
        the floor's rate from its first minute on.
        """
        if self._answers_t is None or self._answers_first is None:
            return 0.0
        decay = math.exp(-max(0.0, t - self._answers_t) / _ANSWER_RATE_TC_S)
        if not young:
            return self._answers_recent * decay / _ANSWER_RATE_TC_S
        ran = max(_ANSWER_RATE_MIN_S, t - self._answers_first)
        weight = _ANSWER_RATE_TC_S * -math.expm1(-ran / _ANSWER_RATE_TC_S)
        return self._answers_recent * decay / weight

    def _barrier(self, windows: tuple[WindowRate, ...], t: float) -> float:
        """Scale the allowed risk down as the headroom to the cap shrinks.

        The soft zone starts before the cap by the largest of ``soft_headroom_drops``,
        ``soft_headroom_fraction`` of the window's allowance, and the cap's share of the
        answers expected in the next ``soft_headroom_window_s`` (a large floor drops in
        bursts); it ends at the hard guard, where the allowed risk is a tenth of plan.
        """
        s = self.settings
        names = s.guard_windows
        burst = s.target_abandon * self.answer_rate(t) * s.soft_headroom_window_s
        factor = 1.0
        for w in windows:
            if w.name not in names:
                continue
            allowance = s.target_abandon * max(w.answered, s.guard_min_answered)
            room = allowance - w.drops
            soft = max(s.soft_headroom_drops, s.soft_headroom_fraction * allowance, burst)
            if room < soft:
                span = soft - s.guard_headroom_drops
                f = (room - s.guard_headroom_drops) / span if span > 0 else 1.0
                factor = min(factor, max(0.1, f))
        return factor

    def _cold(self) -> bool:
        s = self.settings
        return (
            self.dial_model.resolved < s.cold_start_min_resolved
            or self.dial_model.persons < s.cold_start_min_persons
            or self.talk_model.n_seen < s.cold_start_min_hangups
        )

    def _refresh(self, view: View) -> None:
        s = self.settings
        t = view.t
        if t - self._calls_at >= s.refresh_calls_s:
            self._calls_at = t
            self._rel = np.sqrt(self.dial_model.answer_cv2() * s.rate_error_weight)
            step = s.horizon_step_s
            g, q = self.dial_model.tables(step, math.ceil(self.dial_model.n_bins * 0.5 / step))
            # keep horizons until 99.5 % of person answers are in
            total = q[-1]
            k = int(np.searchsorted(q, 0.995 * total)) + 1 if total > 0 else 1
            k = max(1, min(k, q.size))
            if k != self._n_steps:
                self._agents_at = -math.inf  # the horizons changed
            self._n_steps = k
            self._g = g[:, :k]
            self._q = q[:k]
            dq = np.diff(np.concatenate(([0.0], self._q)))
            self._w = dq / dq.sum() if dq.sum() > 0 else np.full(k, 1.0 / k)
        if t - self._agents_at >= s.refresh_agents_s:
            self._agents_at = t
            k = self._n_steps
            horizons = np.floor(s.horizon_step_s * np.arange(1, k + 1) + s.max_wait_s).astype(
                np.int64
            )
            pending = np.array([t - h for h in self._hangup_at.values()], dtype=np.float64)
            after_s = self.after_model.survival(pending)
            talking = np.asarray(view.talking_elapsed_s, dtype=np.float64)
            talk_s = self.talk_model.survival(talking)
            self._after_free = conditional_done_within(after_s, horizons)
            # rows for the talks in progress, as old as they can get before the next refresh
            oldest = float(talking.max()) if talking.size else 0.0
            rows = int(oldest + 2.0 * s.refresh_agents_s) + 2
            self._talk_free = conditional_free_within(talk_s, after_s, horizons, rows)

    @staticmethod
    def _lookup(table: FloatArray, elapsed: tuple[float, ...], bin_s: float) -> FloatArray:
        idx = (np.asarray(elapsed, dtype=np.float64) / bin_s).astype(np.int64)
        rows: FloatArray = table[np.minimum(idx, table.shape[0] - 1)]
        return rows

    def _forecast(self, view: View) -> tuple[FloatArray, FloatArray]:
        """Per-person answer and per-agent free probabilities on the horizon grid."""
        k = self._n_steps
        ans = (
            self._lookup(self._g, view.ringing_elapsed_s, self.dial_model.bin_s)
            if view.ringing_elapsed_s
            else np.zeros((0, k))
        )
        parts = []
        if view.talking_elapsed_s:
            parts.append(self._lookup(self._talk_free, view.talking_elapsed_s, 1.0))
        if view.wrapup_elapsed_s:
            parts.append(self._lookup(self._after_free, view.wrapup_elapsed_s, 1.0))
        free = np.concatenate(parts) if parts else np.zeros((0, k))
        return ans, free

    def marginal_drop_risk(
        self, view: View, n_max: int, stop_above: float = math.inf
    ) -> FloatArray:
        """Drop probability of the n-th new call, for n = 1 .. ``n_max`` (needs fresh tables).

        For each answer time ``tau`` on the grid, the call drops when the persons who
        answered before it (waiting now, ringing calls, the other new calls) are at least
        as many as the agents free by ``tau + max_wait_s``; averaged over its answer time.
        Small counts use the exact Poisson-binomial laws, large ones a normal approximation.
        The exact path stops after the first ``n`` whose risk exceeds ``stop_above``.
        """
        ans, free = self._forecast(view)
        if ans.shape[0] + free.shape[0] <= self.settings.exact_limit:
            return self._exact_risk(view, ans, free, n_max, stop_above)
        risk: FloatArray = self._normal_overflow(view, ans, free, n_max) @ self._w
        return risk

    def _normal_overflow(
        self,
        view: View,
        ans: FloatArray,
        free: FloatArray,
        n_max: int,
        *,
        others: FloatArray | None = None,
        cumulants: _Cumulants | None = None,
    ) -> FloatArray:
        """P(overflow) by the refined normal approximation (skewness-corrected).

        With ``D = answers before tau - agents free by tau + wait``, the call drops when
        ``D >= 0``.  Both counts are sums of Bernoullis; ``D``'s cumulants add up, and
        ``P(D <= -1)`` is ``G((-0.5 - mean) / sd)`` with
        ``G(x) = Phi(x) + skew * (1 - x^2) * phi(x) / 6``.  Rows are n = 1 .. ``n_max``
        (cut where even the last horizon overflows by 4 sd), or the calls with ``others``
        other new calls when given.
        """
        mu_a, mu_f, var, k3, err = cumulants or self._cumulants(view, ans, free)
        if others is None:
            others = np.arange(self._normal_cap(n_max, mu_a, mu_f, var), dtype=np.float64)
        o = others[:, None]  # n - 1 other new calls
        q = self._q[None, :]
        vq = q * (1.0 - q)
        mean = mu_a[None, :] + o * q - mu_f[None, :]
        # the estimate's own error is shared by every call in flight (see _rel)
        shared = err[None, :] + o * q * float(self._rel[0])
        v = np.maximum(var[None, :] + o * vq + shared * shared, 1e-6)
        sd = np.sqrt(v)
        skew = (k3[None, :] + o * vq * (1.0 - 2.0 * q)) / (v * sd)
        x = (-0.5 - mean) / sd
        below = _normal_cdf(x) + skew * (1.0 - x * x) * np.exp(-0.5 * x * x) / (6.0 * _SQRT2PI)
        out: FloatArray = np.clip(1.0 - below, 0.0, 1.0)
        return out

    def _cumulants(self, view: View, ans: FloatArray, free: FloatArray) -> _Cumulants:
        """Mean of answers, mean of free agents, variance and third cumulant of their gap,
        and the standard error the estimated answer chances share (see ``_rel``)."""
        va, vf = ans * (1.0 - ans), free * (1.0 - free)
        mu_a = float(view.calls_waiting) + ans.sum(axis=0)
        mu_f = float(view.agents_ready) + free.sum(axis=0)
        var = va.sum(axis=0) + vf.sum(axis=0)
        k3 = (va * (1.0 - 2.0 * ans)).sum(axis=0) - (vf * (1.0 - 2.0 * free)).sum(axis=0)
        err = self._ringing_rel(view) @ ans if ans.shape[0] else np.zeros_like(mu_a)
        return mu_a, mu_f, var, k3, err

    def _ringing_rel(self, view: View) -> FloatArray:
        """Relative standard error of each ringing call's answer chance (by its elapsed bin)."""
        rel: FloatArray = self._lookup(self._rel, view.ringing_elapsed_s, self.dial_model.bin_s)
        return rel

    def _normal_cap(self, n_max: int, mu_a: FloatArray, mu_f: FloatArray, var: FloatArray) -> int:
        """Beyond this many new calls even the last horizon overflows by 4 sd."""
        slack = float(np.max(mu_f - mu_a + 4.0 * np.sqrt(var + 1.0)))
        q_last = float(self._q[-1])
        if q_last > 1e-6:
            return max(1, min(n_max, math.ceil(slack / q_last) + 2))
        return max(1, n_max)

    def dial_count(self, view: View, n_max: int, allowed: float) -> int:
        """The largest n <= ``n_max`` whose n-th new call risks at most ``allowed``.

        The exact path walks n up; the normal path (large floors) evaluates a coarse grid
        of n and then the one gap where the risk crosses ``allowed`` (the risk grows with
        n), so a floor of hundreds of agents costs two small array passes, not hundreds.
        """
        ans, free = self._forecast(view)
        if ans.shape[0] + free.shape[0] <= self.settings.exact_limit:
            risk = self._exact_risk(view, ans, free, n_max, allowed)
            over = np.flatnonzero(risk > allowed)
            return int(over[0]) if over.size else int(risk.size)
        cum = self._cumulants(view, ans, free)
        n_cap = self._normal_cap(n_max, cum[0], cum[1], cum[2] + cum[4] ** 2)
        step = max(1, math.ceil(n_cap / _COARSE_POINTS))
        grid = np.arange(0, n_cap, step, dtype=np.float64)
        coarse = self._normal_overflow(view, ans, free, n_cap, others=grid, cumulants=cum)
        over = np.flatnonzero(coarse @ self._w > allowed)
        if over.size and over[0] == 0:
            return 0
        lo = int(grid[over[0] - 1]) if over.size else int(grid[-1])
        hi = int(grid[over[0]]) if over.size else n_cap
        fine = np.arange(lo + 1, hi, dtype=np.float64)
        if fine.size:
            fine_risk = self._normal_overflow(view, ans, free, n_cap, others=fine, cumulants=cum)
            risk = fine_risk @ self._w
            hit = np.flatnonzero(risk > allowed)
            if hit.size:
                return int(fine[hit[0]])
        return hi

    def _exact_risk(
        self, view: View, ans: FloatArray, free: FloatArray, n_max: int, stop_above: float
    ) -> FloatArray:
        """Marginal risks by the exact laws, averaged over the estimate's own error.

        When a call's answer chance has a relative standard error above
        ``sqrt(_MIXTURE_CV2)`` (see ``_rel``), every answer probability is scaled by
        ``1 - d``, ``1``, ``1 + d`` (weights 1/6, 2/3, 1/6, ``d = sqrt(3) * error``: the same
        variance, one draw shared by every call), and the risks are the mixture's; below it
        the error is too small to matter on a small floor.
        """
        rel_ringing = self._ringing_rel(view) if ans.shape[0] else np.zeros(0)
        rel_new = float(self._rel[0])
        if max(rel_new, float(rel_ringing.max(initial=0.0))) ** 2 > _MIXTURE_CV2:
            z = np.array([-math.sqrt(3.0), 0.0, math.sqrt(3.0)])
            weights = np.array([1.0 / 6.0, 2.0 / 3.0, 1.0 / 6.0])
        else:
            z = np.zeros(1)
            weights = np.ones(1)
        # the scale of each draw for a call with relative error r: 1 + z r (at least 0.1)
        scales_new = np.maximum(1.0 + z * rel_new, 0.1)
        k = self._n_steps
        # law of agents free by tau + wait: ready agents plus Poisson-binomial
        size_f = free.shape[0] + 1
        pf = np.zeros((k, size_f))
        pf[:, 0] = 1.0
        for j in range(free.shape[0]):
            pr = free[j][:, None]
            pf[:, 1:] = pf[:, 1:] * (1.0 - pr) + pf[:, :-1] * pr
            pf[:, 0] *= 1.0 - free[j]
        cdf_f = np.cumsum(pf, axis=1)  # P(F_extra <= m)
        size_a = ans.shape[0] + n_max + 1
        n_s = z.size
        pa = np.zeros((n_s, k, size_a))
        pa[:, :, 0] = 1.0
        for i in range(ans.shape[0]):
            scales = np.maximum(1.0 + z * float(rel_ringing[i]), 0.1)
            pr = np.minimum(scales[:, None] * ans[i][None, :], 1.0)  # (n_s, k)
            pa[:, :, 1:] = pa[:, :, 1:] * (1.0 - pr[:, :, None]) + pa[:, :, :-1] * pr[:, :, None]
            pa[:, :, 0] *= 1.0 - pr
        # overflow: waiting + A >= ready + F_extra  <=>  F_extra <= A + waiting - ready
        shift = view.calls_waiting - view.agents_ready
        idx = np.arange(size_a) + shift
        cdf_at = np.where(idx < 0, 0.0, cdf_f[:, np.clip(idx, 0, size_f - 1)])  # (k, size_a)
        out: list[float] = []
        qs = np.minimum(scales_new[:, None] * self._q[None, :], 1.0)  # (n_s, k)
        q = qs[:, :, None]
        w = self._w
        for _ in range(n_max):
            r = float(weights @ ((pa * cdf_at[None, :, :]).sum(axis=2) @ w))
            out.append(r)
            if r > stop_above:
                break
            pa[:, :, 1:] = pa[:, :, 1:] * (1.0 - q) + pa[:, :, :-1] * q
            pa[:, :, 0] *= 1.0 - qs
        return np.asarray(out, dtype=np.float64)

    def decide(self, view: View) -> int:
        """How many calls to start now (see the module docstring)."""
        s = self.settings
        windows = self.ledger.windows(view.t)
        progressive = self._progressive.decide(view)
        active = view.agents_ready + len(view.talking_elapsed_s) + len(view.wrapup_elapsed_s)
        if view.agents_logged_in < s.small_team_threshold:
            return self._finish(view, progressive, MODE_PROGRESSIVE, "small_team", windows)
        guarded = self._guard_trips(windows, self.guard_headroom(view.t))
        # held only for a big floor's burst (the plain headroom is not reached yet): the
        # risk must not wind up meanwhile (see RiskController.settled)
        self._burst_held = guarded and not self._guard_trips(windows, s.guard_headroom_drops)
        # Never dial at any risk when a single drop could pass the cap: progressive (an agent
        # is there for every call). The tiny guard risk only spends the margin before that.
        if guarded and (s.guard_risk <= 0.0 or self._guard_trips(windows, 1.0)):
            return self._finish(view, progressive, MODE_PROGRESSIVE, "compliance_guard", windows)
        if self._cold():
            return self._finish(view, progressive, MODE_PROGRESSIVE, "cold_start", windows)
        in_flight = len(view.ringing_elapsed_s) + view.calls_waiting
        cap = min(view.lines_free, math.floor(s.max_lines_per_agent * active) - in_flight)
        if cap <= 0 or active == 0:
            return self._finish(view, 0, MODE_PREDICTIVE, "no_capacity", windows)
        self.dial_model.scale_prior(s.prior_calls_per_agent * view.agents_logged_in)
        self._refresh(view)
        n_max = self._upper_bound(view, cap)
        if n_max <= 0:
            return self._finish(view, 0, MODE_PREDICTIVE, "no_agent_soon", windows)
        allowed = s.guard_risk if guarded else self.allowed_risk(windows, view.t)
        n = self.dial_count(view, n_max, allowed)
        reason = "compliance_guard" if guarded else "risk"
        return self._finish(view, n, MODE_PREDICTIVE, reason, windows, allowed=allowed)

    def _upper_bound(self, view: View, cap: int) -> int:
        """A count beyond which the marginal call is surely too risky (bounds the search)."""
        free_max = view.agents_ready + len(view.talking_elapsed_s) + len(view.wrapup_elapsed_s)
        q_last = float(self._q[-1]) if self._q.size else 0.0
        if q_last <= 1e-6:
            return min(cap, view.agents_ready)
        bound = math.ceil((free_max + 3.0 * math.sqrt(free_max + 1.0) + 2.0) / q_last)
        return max(0, min(cap, bound))
