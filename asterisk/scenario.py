"""Scenario files (the TOML of ``shared/scenarios/``) for the PBX simulator.

Same keys as the referee's format (see ``shared/referee/CONTRACT.md``), validated here
with our own loader: an unknown key, a wrong type or an out-of-range value raises
:class:`~asterisk.errors.ScenarioError` naming the file and the dotted key. Draws use a
seeded ``random.Random`` so the world stays pure and reproducible.
"""

from __future__ import annotations

import math
import random
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asterisk.errors import ScenarioError
from asterisk.world import Behaviour

_DIST_PARAMS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "exponential": ("mean",),
    "lognormal": ("mean", "sd"),
    "gamma": ("mean", "sd"),
    "uniform": ("lo", "hi"),
    "lomax": ("mean", "shape"),
    "pareto": ("mean", "shape"),
}
_TOP = (
    "name",
    "description",
    "duration_s",
    "tick_s",
    "max_wait_s",
    "lines",
    "agents",
    "calls",
    "pacer",
    "inbound",
)
_INBOUND = ("rate_per_hour", "patience", "callers", "first_caller", "context")
_AGENTS = ("count", "schedule", "wrapup", "pause_rate_per_hour", "pause_duration")
_CALLS = (
    "answer_prob",
    "machine_prob",
    "busy_prob",
    "congestion_prob",
    "ring",
    "no_answer_timeout_s",
    "machine_detect",
    "busy",
    "congestion",
    "talk",
)
_DEFAULTS = {
    "machine_detect": {"dist": "uniform", "lo": 2.5, "hi": 4.0},
    "busy": {"dist": "uniform", "lo": 2.0, "hi": 6.0},
    "congestion": {"dist": "uniform", "lo": 0.5, "hi": 1.5},
}


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class Dist:
    """A random duration in seconds, clipped to ``[lo, hi]`` when given."""

    kind: str
    params: tuple[tuple[str, float], ...]
    lo: float | None = None
    hi: float | None = None

    def p(self, name: str) -> float:
        """One parameter by name."""
        return dict(self.params)[name]

    def sample(self, rng: random.Random) -> float:
        """One draw."""
        k = self.kind
        if k == "constant":
            x = self.p("value")
        elif k == "exponential":
            x = rng.expovariate(1.0 / self.p("mean"))
        elif k == "lognormal":
            m, sd = self.p("mean"), self.p("sd")
            s2 = math.log(1 + (sd * sd) / (m * m))
            x = rng.lognormvariate(math.log(m) - s2 / 2, math.sqrt(s2))
        elif k == "gamma":
            m, sd = self.p("mean"), self.p("sd")
            x = rng.gammavariate(m * m / (sd * sd), sd * sd / m)
        elif k == "uniform":
            x = rng.uniform(self.p("lo"), self.p("hi"))
        elif k == "lomax":
            a = self.p("shape")
            x = self.p("mean") * (a - 1) * ((1 - rng.random()) ** (-1 / a) - 1)
        else:  # pareto
            a = self.p("shape")
            x = self.p("mean") * (a - 1) / a * (1 - rng.random()) ** (-1 / a)
        if self.lo is not None:
            x = max(self.lo, x)
        if self.hi is not None:
            x = min(self.hi, x)
        return x


@dataclass(frozen=True)
class Schedule:
    """A piecewise-constant value over time: ``[(t, value), ...]`` with t[0] = 0."""

    steps: tuple[tuple[float, float], ...]

    def at(self, t: float) -> float:
        """The value in force at time ``t``."""
        value = self.steps[0][1]
        for start, v in self.steps:
            if start <= t:
                value = v
            else:
                break
        return value


@dataclass(frozen=True)
class Scenario:
    """A validated scenario."""

    name: str
    path: str
    description: str
    duration_s: float
    tick_s: float
    max_wait_s: float
    lines: int
    agents: Schedule
    wrapup: Dist
    pause_rate_per_hour: float
    pause_duration: Dist | None
    answer_prob: Schedule
    machine_prob: Schedule
    busy_prob: Schedule
    congestion_prob: Schedule
    ring: Dist
    no_answer_timeout_s: float
    machine_detect: Dist
    busy: Dist
    congestion: Dist
    talk: Dist
    pacer: Mapping[str, Any]
    inbound: InboundRates | None = None


@dataclass(frozen=True)
class InboundRates:
    """``[inbound]``: callers from outside joining the PBX's queues.

    ``rate_per_hour`` (a number or a schedule) callers arrive (Poisson), each gives up
    after a ``patience`` draw unless answered; numbers are drawn from a pool of
    ``callers`` numbers from ``first_caller`` on (so some callers call again); the PBX
    side runs ``context`` of the dialplan.
    """

    rate_per_hour: Schedule
    patience: Dist
    callers: int = 200
    first_caller: str = "48601000000"
    context: str = "dialer-inbound"


class _Checker:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, problem: str) -> ScenarioError:
        return ScenarioError(self.path, problem)

    def keys(self, obj: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
        for key in obj:
            if key not in allowed:
                msg = f"unknown key '{prefix}{key}' (allowed: {', '.join(allowed)})"
                raise self.fail(msg)

    def number(
        self,
        obj: Mapping[str, Any],
        key: str,
        where: str,
        *,
        default: float | None = None,
        lo: float = -math.inf,
        hi: float = math.inf,
        lo_open: bool = False,
    ) -> float:
        if key not in obj:
            if default is None:
                raise self.fail(f"missing required key '{where}{key}'")
            return default
        v = obj[key]
        if not _num(v):
            raise self.fail(f"'{where}{key}' must be a finite number, got {v!r}")
        if v < lo or v > hi or (lo_open and v == lo):
            raise self.fail(f"'{where}{key}' = {v!r} is out of range")
        return float(v)

    def dist(self, obj: Any, where: str) -> Dist:
        if not isinstance(obj, dict):
            raise self.fail(
                f"'{where}' must be an inline table like {{ dist = \"lognormal\", ... }}"
            )
        kind = obj.get("dist")
        if kind not in _DIST_PARAMS:
            raise self.fail(
                f"'{where}.dist' must be one of {', '.join(sorted(_DIST_PARAMS))}, got {kind!r}"
            )
        allowed = _DIST_PARAMS[kind]
        self.keys(obj, ("dist", "min", "max", *allowed), f"{where}.")
        params = []
        for key in allowed:
            v = self.number(obj, key, f"{where}.")
            if key != "lo" and v <= 0 and not (kind == "constant" and v == 0):
                raise self.fail(f"'{where}.{key}' must be > 0, got {v!r}")
            params.append((key, v))
        if kind in ("lomax", "pareto") and dict(params)["shape"] <= 1:
            raise self.fail(f"'{where}.shape' must be > 1")
        if kind == "uniform" and dict(params)["hi"] < dict(params)["lo"]:
            raise self.fail(f"'{where}.hi' must be >= '{where}.lo'")
        lo = self.number(obj, "min", f"{where}.", lo=0) if "min" in obj else None
        hi = self.number(obj, "max", f"{where}.", lo=0) if "max" in obj else None
        return Dist(kind, tuple(params), lo, hi)

    def schedule(self, obj: Any, where: str, *, lo: float, hi: float, integer: bool) -> Schedule:
        def value(v: Any, w: str) -> float:
            if not _num(v) or (integer and not isinstance(v, int)):
                kind = "an integer" if integer else "a number"
                raise self.fail(f"'{w}' must be {kind}, got {v!r}")
            if v < lo or v > hi:
                raise self.fail(f"'{w}' = {v!r} is out of range [{lo:g}, {hi:g}]")
            return float(v)

        if not isinstance(obj, list):
            return Schedule(((0.0, value(obj, where)),))
        steps: list[tuple[float, float]] = []
        for i, item in enumerate(obj):
            if not (isinstance(item, list) and len(item) == 2):
                raise self.fail(f"'{where}[{i}]' must be a [t_seconds, value] pair")
            t = item[0]
            if not _num(t) or t < 0:
                raise self.fail(f"'{where}[{i}][0]' must be a time >= 0, got {t!r}")
            if steps and t <= steps[-1][0]:
                raise self.fail(f"'{where}' times must be strictly increasing (at index {i})")
            steps.append((float(t), value(item[1], f"{where}[{i}][1]")))
        if not steps or steps[0][0] != 0:
            raise self.fail(f"'{where}' must start at t = 0")
        return Schedule(tuple(steps))


def scenario_from_dict(data: Mapping[str, Any], *, name: str, path: str = "<dict>") -> Scenario:
    """Validate a parsed document (raises ScenarioError naming ``path`` and the key)."""
    c = _Checker(path)
    c.keys(data, _TOP, "")
    for sect in ("agents", "calls"):
        if not isinstance(data.get(sect), dict):
            raise c.fail(f"missing required table [{sect}]")
    ag, ca = data["agents"], data["calls"]
    c.keys(ag, _AGENTS, "agents.")
    c.keys(ca, _CALLS, "calls.")
    lines = data.get("lines")
    if not isinstance(lines, int) or isinstance(lines, bool) or lines < 1:
        raise c.fail(f"'lines' must be an integer >= 1, got {lines!r}")
    if ("count" in ag) == ("schedule" in ag):
        raise c.fail("[agents] needs exactly one of 'agents.count' or 'agents.schedule'")
    agents = c.schedule(
        ag.get("count", ag.get("schedule")),
        "agents.count" if "count" in ag else "agents.schedule",
        lo=0,
        hi=100000,
        integer=True,
    )
    if "wrapup" not in ag:
        raise c.fail("missing required key 'agents.wrapup'")
    pause_rate = c.number(ag, "pause_rate_per_hour", "agents.", default=0.0, lo=0, hi=3600)
    pause = (
        c.dist(ag["pause_duration"], "agents.pause_duration") if "pause_duration" in ag else None
    )
    if pause_rate > 0 and pause is None:
        raise c.fail(
            "missing key 'agents.pause_duration' (required when agents.pause_rate_per_hour > 0)"
        )
    if "answer_prob" not in ca:
        raise c.fail("missing required key 'calls.answer_prob'")
    probs = {
        k: c.schedule(ca.get(k, 0.0), f"calls.{k}", lo=0.0, hi=1.0, integer=False)
        for k in ("answer_prob", "machine_prob", "busy_prob", "congestion_prob")
    }
    times = sorted({t for s in probs.values() for t, _ in s.steps})
    for t in times:
        total = sum(s.at(t) for s in probs.values())
        if total > 1 + 1e-12:
            msg = f"calls: the four *_prob values sum to {total:.4g} > 1 at t = {t:g}"
            raise c.fail(msg)
    for key in ("ring", "talk"):
        if key not in ca:
            raise c.fail(f"missing required key 'calls.{key}'")
    pacer = data.get("pacer", {})
    if not isinstance(pacer, dict):
        raise c.fail("'pacer' must be a table")
    nm = data.get("name", name)
    if not isinstance(nm, str) or not nm:
        raise c.fail("'name' must be a non-empty string")
    desc = data.get("description", "")
    if not isinstance(desc, str):
        raise c.fail("'description' must be a string")
    inbound = _inbound(c, data["inbound"]) if "inbound" in data else None
    return Scenario(
        inbound=inbound,
        name=nm,
        path=path,
        description=desc,
        duration_s=c.number(data, "duration_s", "", lo=0, lo_open=True, hi=30 * 86400),
        tick_s=c.number(data, "tick_s", "", default=0.5, lo=0, lo_open=True, hi=60),
        max_wait_s=c.number(data, "max_wait_s", "", default=2.0, lo=0, lo_open=True, hi=3600),
        lines=lines,
        agents=agents,
        wrapup=c.dist(ag["wrapup"], "agents.wrapup"),
        pause_rate_per_hour=pause_rate,
        pause_duration=pause,
        answer_prob=probs["answer_prob"],
        machine_prob=probs["machine_prob"],
        busy_prob=probs["busy_prob"],
        congestion_prob=probs["congestion_prob"],
        ring=c.dist(ca["ring"], "calls.ring"),
        no_answer_timeout_s=c.number(
            ca, "no_answer_timeout_s", "calls.", default=25.0, lo=0, lo_open=True, hi=600
        ),
        machine_detect=c.dist(
            ca.get("machine_detect", _DEFAULTS["machine_detect"]), "calls.machine_detect"
        ),
        busy=c.dist(ca.get("busy", _DEFAULTS["busy"]), "calls.busy"),
        congestion=c.dist(ca.get("congestion", _DEFAULTS["congestion"]), "calls.congestion"),
        talk=c.dist(ca["talk"], "calls.talk"),
        pacer=dict(pacer),
    )


def _inbound(c: _Checker, obj: Any) -> InboundRates:
    if not isinstance(obj, dict):
        raise c.fail("'inbound' must be a table")
    c.keys(obj, _INBOUND, "inbound.")
    if "rate_per_hour" not in obj:
        raise c.fail("missing required key 'inbound.rate_per_hour'")
    if "patience" not in obj:
        raise c.fail("missing required key 'inbound.patience'")
    callers = obj.get("callers", 200)
    if not isinstance(callers, int) or isinstance(callers, bool) or callers < 1:
        raise c.fail(f"'inbound.callers' must be an integer >= 1, got {callers!r}")
    first = obj.get("first_caller", "48601000000")
    if not isinstance(first, str) or not first.isdigit():
        raise c.fail(f"'inbound.first_caller' must be a string of digits, got {first!r}")
    context = obj.get("context", "dialer-inbound")
    if not isinstance(context, str) or not context:
        raise c.fail("'inbound.context' must be a non-empty string")
    return InboundRates(
        rate_per_hour=c.schedule(
            obj["rate_per_hour"], "inbound.rate_per_hour", lo=0, hi=1e6, integer=False
        ),
        patience=c.dist(obj["patience"], "inbound.patience"),
        callers=callers,
        first_caller=first,
        context=context,
    )


class ScenarioInbound:
    """Draws inbound arrivals from a scenario's ``[inbound]`` (seeded)."""

    def __init__(self, rates: InboundRates, *, seed: int = 1) -> None:
        self.rates = rates
        self.rng = random.Random(seed)

    def next_arrival(self, now: float) -> tuple[float, str, float]:
        """The gap to the next caller, their number and patience (empty: rate is 0 now)."""
        per_s = self.rates.rate_per_hour.at(now) / 3600.0
        if per_s <= 0:
            return 1.0, "", 0.0
        gap = self.rng.expovariate(per_s)
        base = int(self.rates.first_caller)
        caller = str(base + self.rng.randrange(self.rates.callers))
        return gap, caller, max(0.5, self.rates.patience.sample(self.rng))


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ScenarioError(str(p), f"cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(p), f"invalid TOML: {exc}") from exc
    return scenario_from_dict(data, name=p.stem, path=str(p))


class ScenarioBehaviour:
    """Draws each dialed customer's behaviour from a scenario (seeded)."""

    def __init__(self, scenario: Scenario, *, seed: int = 1) -> None:
        self.scenario = scenario
        self.rng = random.Random(seed)

    def __call__(self, exten: str, now: float) -> Behaviour:
        """The behaviour of a customer dialed at world time ``now`` (the number is ignored)."""
        sc, rng = self.scenario, self.rng
        u = rng.random()
        pa, pm = sc.answer_prob.at(now), sc.machine_prob.at(now)
        pb, pc = sc.busy_prob.at(now), sc.congestion_prob.at(now)
        if u < pa:
            return Behaviour("human", sc.ring.sample(rng), sc.talk.sample(rng))
        if u < pa + pm:
            ring = sc.ring.sample(rng)
            return Behaviour("machine", ring, sc.talk.sample(rng), sc.machine_detect.sample(rng))
        if u < pa + pm + pb:
            return Behaviour("busy", sc.busy.sample(rng))
        if u < pa + pm + pb + pc:
            return Behaviour("congestion", sc.congestion.sample(rng))
        return Behaviour("no_answer")

    def wrapup_s(self) -> float:
        """One agent wrap-up draw (for the engine-side agent model)."""
        return self.scenario.wrapup.sample(self.rng)
