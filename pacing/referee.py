"""Referee factories: thin adapters over the engine's pacer classes.

``python ../shared/referee/referee.py --pacer pacing.referee:predictive ...`` builds one
pacer per scenario and seed through these factories.  Referee events and views are
converted field for field into :mod:`pacing.types` values, so the referee scores exactly
the code the engine runs.  ``params`` may override any key of the pacing profile
(``--param predictive.risk_gain=0.3``: a table's key after its name); unknown keys are
refused.
"""

from __future__ import annotations

from typing import Any

from pacing.profile import PacingProfile, build_pacer
from pacing.types import Event, Pacer, View


def to_event(event: Any) -> Event:
    """A referee ``Event`` as ours (field for field)."""
    return Event(event.t, event.kind, event.call_id, event.agent_id, event.value, event.outcome)


def to_view(view: Any) -> View:
    """A referee ``View`` as ours (field for field)."""
    return View(
        view.t,
        view.agents_logged_in,
        view.agents_ready,
        view.ready_idle_s,
        view.talking_elapsed_s,
        view.wrapup_elapsed_s,
        view.ringing_elapsed_s,
        view.calls_waiting,
        view.lines_free,
    )


class RefereeAdapter:
    """Duck-types the referee contract over one of our pacers."""

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer

    def observe(self, event: Any) -> None:
        """Convert a referee ``Event`` and pass it on."""
        self.pacer.observe(to_event(event))

    def decide(self, view: Any) -> int:
        """Convert a referee ``View`` and return the pacer's dial count."""
        return self.pacer.decide(to_view(view))


def _make(mode: str, params: dict[str, Any]) -> RefereeAdapter:
    values = {k: v for k, v in params.items() if not k.startswith("_")}
    values["mode"] = mode
    profile = PacingProfile.from_mapping(values, source="referee --param")
    return RefereeAdapter(build_pacer(profile))


def progressive(params: dict[str, Any]) -> RefereeAdapter:
    """Factory for ``--pacer pacing.referee:progressive``."""
    return _make("progressive", params)


def ratio(params: dict[str, Any]) -> RefereeAdapter:
    """Factory for ``--pacer pacing.referee:ratio`` (``--param ratio=2.5``)."""
    return _make("ratio", params)


def predictive(params: dict[str, Any]) -> RefereeAdapter:
    """Factory for ``--pacer pacing.referee:predictive``."""
    return _make("predictive", params)
