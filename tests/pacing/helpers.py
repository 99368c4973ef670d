"""Synthetic event streams for pacing tests (no referee, no clock)."""

from __future__ import annotations

import numpy as np

from pacing.pacers import PredictivePacer, PredictiveSettings
from pacing.types import ANSWER, CONNECT, FAIL, HANGUP, READY, Event


def warmed_predictive(
    *, seed: int = 7, calls: int = 400, person_prob: float = 0.3, **overrides: float
) -> PredictivePacer:
    """A predictive pacer that has learned from ``calls`` synthetic dials and talks."""
    rng = np.random.default_rng(seed)
    pacer = PredictivePacer(PredictiveSettings(**overrides))  # type: ignore[arg-type]
    t = 0.0
    for k in range(calls):
        t += 0.5
        if rng.random() < person_prob:
            ring = float(rng.lognormal(np.log(8.0), 0.4))
            pacer.observe(Event(t, ANSWER, k, None, ring, None))
            pacer.observe(Event(t, CONNECT, k, k % 10, 0.0, None))
        else:
            pacer.observe(Event(t, FAIL, k, None, float(rng.uniform(2.0, 25.0)), "no_answer"))
    for a in range(40):
        t += 1.0
        pacer.observe(Event(t, HANGUP, a, a % 10, float(rng.lognormal(np.log(90.0), 0.5)), None))
        pacer.observe(Event(t + 10.0, READY, None, a % 10, None, None))
    return pacer
