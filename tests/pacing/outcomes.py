"""Run a pacer through the shared referee on a scenario file (outcome tests and the chart).

The referee (``shared/referee``, beside the checkout unless ``DIALER_REFEREE`` names its
folder) is the measuring instrument the pacer is judged by; the tests import it where it
lies instead of copying it.  Without it the outcome tests are skipped (failed under
``CI=true``).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REFEREE = Path(
    os.environ.get("DIALER_REFEREE", Path(__file__).resolve().parents[3] / "shared/referee")
)
SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def require_referee() -> None:
    """Skip (fail under CI=true) when the shared referee is not next to the repository."""
    if (REFEREE / "referee_core.py").exists():
        return
    message = f"referee not found at {REFEREE} (set DIALER_REFEREE)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


def _modules() -> tuple[ModuleType, ModuleType]:
    if str(REFEREE) not in sys.path:
        sys.path.append(str(REFEREE))
    return importlib.import_module("referee_core"), importlib.import_module("referee_scenario")


def run(
    scenario: Path,
    factory: Callable[[dict[str, Any]], Any],
    *,
    seeds: range,
    duration_s: float | None = None,
    params: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The referee's metrics of ``factory``'s pacer on ``scenario``, one dict per seed.

    ``duration_s`` shortens the scenario's day (the tests' budget is seconds, not hours);
    the pacer gets the referee's parameters (``target_abandon``, ``max_wait_s``).
    """
    core, scn_mod = _modules()
    scn = scn_mod.load_scenario(str(scenario))
    if duration_s is not None:
        scn = dataclasses.replace(scn, duration_s=float(duration_s))
    base = {"target_abandon": 0.03, **(params or {}), "max_wait_s": scn.max_wait_s}
    out = []
    for seed in seeds:
        result = core.simulate(scn, factory(dict(base)), seed)
        out.append(dict(result["metrics"]))
    return out
