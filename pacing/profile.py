"""Pacing profiles: validated, frozen settings that choose and tune a pacer.

A profile is a TOML file (examples in ``config/pacing/``) loaded with
:func:`load_profile`; an invalid one is refused with :class:`ProfileError` naming the file,
the key path and the reason, e.g.
``config/pacing/x.toml: mode: must be one of progressive, ratio, predictive``.
:func:`build_pacer` turns a profile into the pacer object the engine drives.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pacing.errors import ProfileError
from pacing.pacers import PredictivePacer, PredictiveSettings, ProgressivePacer, RatioPacer
from pacing.types import Pacer

Mode = Literal["progressive", "ratio", "predictive"]
WindowName = Literal["today", "rolling_24h", "rolling_30d"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ComplianceProfile(_Frozen):
    """How abandonment is counted and guarded."""

    windows: tuple[WindowName, ...] = Field(
        default=("today", "rolling_24h", "rolling_30d"), min_length=1
    )
    day_start_s: float = 0.0
    amd_false_positive_rate: float = Field(default=0.0, ge=0.0, lt=1.0)
    aim_fraction: float = Field(default=0.95, gt=0.0, le=1.0)
    guard_headroom_drops: float = Field(default=2.0, ge=1.0)
    guard_burst_s: float = Field(default=4.0, ge=0.0)
    guard_risk: float = Field(default=0.002, ge=0.0, lt=1.0)
    guard_min_answered: float = Field(default=100.0, ge=0.0)
    soft_headroom_drops: float = Field(default=3.0, ge=0.0)
    soft_headroom_fraction: float = Field(default=0.15, ge=0.0, lt=1.0)
    soft_headroom_window_s: float = Field(default=600.0, ge=0.0)
    hour_gain: float = Field(default=0.0, ge=0.0, le=10.0)
    hour_aim_fraction: float = Field(default=0.9, gt=0.0, le=2.0)
    hour_min_drops: float = Field(default=2.0, ge=0.0)


class PredictiveProfile(_Frozen):
    """The predictive pacer's risk controller and forecast grid."""

    initial_risk: float = Field(default=0.03, gt=0.0, lt=1.0)
    min_risk: float = Field(default=0.003, gt=0.0, lt=1.0)
    max_risk: float = Field(default=0.6, gt=0.0, lt=1.0)
    risk_gain: float = Field(default=0.1, ge=0.0, le=5.0)
    margin_z: float = Field(default=1.0, ge=0.0, le=10.0)
    full_gain_answers_per_h: float = Field(default=1000.0, ge=0.0)
    horizon_step_s: float = Field(default=1.0, gt=0.0, le=10.0)
    exact_limit: int = Field(default=40, ge=0, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> PredictiveProfile:
        if not self.min_risk <= self.initial_risk <= self.max_risk:
            msg = "must satisfy min_risk <= initial_risk <= max_risk"
            raise ValueError(msg)
        return self


class EstimatorProfile(_Frozen):
    """How fast the estimators forget, and how much data ends the cold start."""

    time_constant_s: float = Field(default=900.0, gt=0.0)
    min_window_calls: int = Field(default=400, ge=1)
    min_window_persons: float = Field(default=150.0, ge=0.0)
    talk_time_constant_s: float = Field(default=7200.0, gt=0.0)
    cold_start_min_resolved: int = Field(default=30, ge=0)
    cold_start_min_persons: int = Field(default=5, ge=0)
    cold_start_min_hangups: int = Field(default=0, ge=0)
    prior_calls_per_agent: float = Field(default=0.5, ge=0.0)
    rate_error_weight: float = Field(default=1.0, ge=0.0, le=10.0)


class PacingProfile(_Frozen):
    """A complete pacing profile (see ``config/pacing/predictive.toml`` for every key)."""

    mode: Mode = "predictive"
    target_abandon: float = Field(default=0.03, gt=0.0, lt=1.0)
    max_wait_s: float = Field(default=2.0, ge=0.0, le=60.0)
    ratio: float = Field(default=2.0, ge=1.0, le=20.0)
    max_lines_per_agent: float = Field(default=10.0, ge=1.0, le=100.0)
    small_team_threshold: int = Field(default=2, ge=0)
    compliance: ComplianceProfile = ComplianceProfile()
    predictive: PredictiveProfile = PredictiveProfile()
    estimators: EstimatorProfile = EstimatorProfile()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "<profile>") -> PacingProfile:
        """Validate a mapping (dotted keys such as ``predictive.risk_gain`` are nested)."""
        nested: dict[str, Any] = {}
        for key, value in data.items():
            head, dot, tail = key.partition(".")
            if dot:
                section = nested.setdefault(head, {})
                if not isinstance(section, dict):
                    raise ProfileError(source, key, f"'{head}' is not a table")
                section[tail] = value
            elif isinstance(value, Mapping):
                nested.setdefault(key, {}).update(value)
            else:
                nested[key] = value
        try:
            return cls.model_validate(nested)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            raise ProfileError(source, key or "<root>", _reason(err)) from exc

    def predictive_settings(self) -> PredictiveSettings:
        """The plain values the predictive pacer takes."""
        c, p, e = self.compliance, self.predictive, self.estimators
        return PredictiveSettings(
            target_abandon=self.target_abandon,
            aim_fraction=c.aim_fraction,
            max_wait_s=self.max_wait_s,
            max_lines_per_agent=self.max_lines_per_agent,
            small_team_threshold=self.small_team_threshold,
            initial_risk=p.initial_risk,
            min_risk=p.min_risk,
            max_risk=p.max_risk,
            risk_gain=p.risk_gain,
            margin_z=p.margin_z,
            full_gain_answers_per_h=p.full_gain_answers_per_h,
            guard_headroom_drops=c.guard_headroom_drops,
            guard_burst_s=c.guard_burst_s,
            guard_risk=c.guard_risk,
            guard_min_answered=c.guard_min_answered,
            soft_headroom_drops=c.soft_headroom_drops,
            soft_headroom_fraction=c.soft_headroom_fraction,
            soft_headroom_window_s=c.soft_headroom_window_s,
            hour_gain=c.hour_gain,
            hour_aim_fraction=c.hour_aim_fraction,
            hour_min_drops=c.hour_min_drops,
            guard_windows=tuple(c.windows),
            day_start_s=c.day_start_s,
            amd_false_positive_rate=c.amd_false_positive_rate,
            estimator_time_constant_s=e.time_constant_s,
            estimator_min_window_calls=e.min_window_calls,
            estimator_min_window_persons=e.min_window_persons,
            talk_time_constant_s=e.talk_time_constant_s,
            cold_start_min_resolved=e.cold_start_min_resolved,
            cold_start_min_persons=e.cold_start_min_persons,
            cold_start_min_hangups=e.cold_start_min_hangups,
            prior_calls_per_agent=e.prior_calls_per_agent,
            rate_error_weight=e.rate_error_weight,
            horizon_step_s=p.horizon_step_s,
            exact_limit=p.exact_limit,
        )


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] = PacingProfile
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = field.annotation if field else None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return []
    return sorted(model.model_fields)


def _reason(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(tuple(err["loc"]))
        return "unknown key" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        choices = [c.strip(" '") for c in str(expected).replace(" or ", ", ").split(",")]
        return "must be one of " + ", ".join(c for c in choices if c)
    if kind == "missing":
        return "is required"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def load_profile(path: str | Path) -> PacingProfile:
    """Read and validate a TOML pacing profile; :class:`ProfileError` names what is wrong."""
    p = Path(path)
    source = str(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(source, "", f"cannot read the file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(source, "", f"not valid TOML ({exc})") from exc
    return PacingProfile.from_mapping(data, source=source)


def build_pacer(profile: PacingProfile) -> Pacer:
    """The pacer object the engine (and the referee adapter) drives for this profile."""
    if profile.mode == "progressive":
        return ProgressivePacer()
    if profile.mode == "ratio":
        return RatioPacer(profile.ratio)
    return PredictivePacer(profile.predictive_settings())


__all__ = [
    "ComplianceProfile",
    "EstimatorProfile",
    "Mode",
    "PacingProfile",
    "PredictiveProfile",
    "build_pacer",
    "load_profile",
]
