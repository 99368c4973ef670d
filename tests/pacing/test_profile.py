"""Pacing profiles are validated; bad ones are refused with the file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from pacing.errors import ProfileError
from pacing.pacers import PredictivePacer, ProgressivePacer, RatioPacer
from pacing.profile import PacingProfile, build_pacer, load_profile
from pacing.referee import predictive, ratio

CONFIG = Path(__file__).resolve().parents[2] / "config" / "pacing"


@pytest.mark.parametrize(
    ("name", "cls"),
    [("progressive", ProgressivePacer), ("ratio", RatioPacer), ("predictive", PredictivePacer)],
)
def test_example_profiles_load_and_build_their_pacer(name: str, cls: type) -> None:
    """Each shipped example is valid and builds the pacer of its mode."""
    profile = load_profile(CONFIG / f"{name}.toml")
    assert profile.mode == name
    assert isinstance(build_pacer(profile), cls)


def test_the_smooth_example_is_the_default_with_hourly_smoothing() -> None:
    """predictive-smooth.toml differs from the defaults by the hourly gain alone."""
    smooth = load_profile(CONFIG / "predictive-smooth.toml")
    assert smooth.compliance.hour_gain == 2.0
    default = PacingProfile()
    assert smooth.model_copy(update={"compliance": default.compliance}) == default


def test_predictive_example_documents_the_defaults() -> None:
    """The predictive example spells out exactly the built-in defaults."""
    assert load_profile(CONFIG / "predictive.toml") == PacingProfile()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_mode_names_file_key_and_choices(tmp_path: Path) -> None:
    """mode = "turbo" is refused as '<file>: mode: must be one of ...'."""
    path = _write(tmp_path, 'mode = "turbo"\n')
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert str(exc.value) == f"{path}: mode: must be one of progressive, ratio, predictive"


def test_unknown_nested_key_lists_the_allowed_keys(tmp_path: Path) -> None:
    """A misspelt key inside a table is named with its path and the allowed keys."""
    path = _write(tmp_path, "[predictive]\nrisk_gian = 0.1\n")
    with pytest.raises(ProfileError, match=r"predictive\.risk_gian: unknown key \(allowed: .*"):
        load_profile(path)


def test_out_of_range_target_is_refused(tmp_path: Path) -> None:
    """target_abandon = 0 is refused naming the key."""
    path = _write(tmp_path, "target_abandon = 0\n")
    with pytest.raises(ProfileError, match=r"target_abandon: input should be greater than 0"):
        load_profile(path)


def test_hourly_smoothing_keys_load_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    """The hourly smoothing is tuned under [compliance]; an aim of 0 is refused by name."""
    path = _write(tmp_path, "[compliance]\nhour_gain = 2.0\nhour_aim_fraction = 0.8\n")
    settings = load_profile(path).predictive_settings()
    assert (settings.hour_gain, settings.hour_aim_fraction, settings.hour_min_drops) == (
        2.0,
        0.8,
        2.0,
    )
    bad = _write(tmp_path, "[compliance]\nhour_aim_fraction = 0\n")
    with pytest.raises(ProfileError, match=r"compliance\.hour_aim_fraction: input should be"):
        load_profile(bad)


def test_inconsistent_risk_bounds_are_refused(tmp_path: Path) -> None:
    """min_risk above initial_risk is refused with the rule that is broken."""
    path = _write(tmp_path, "[predictive]\nmin_risk = 0.5\ninitial_risk = 0.1\n")
    with pytest.raises(ProfileError, match=r"predictive: must satisfy min_risk <= initial_risk"):
        load_profile(path)


def test_broken_toml_and_missing_file_are_profile_errors(tmp_path: Path) -> None:
    """Unreadable or unparsable files raise ProfileError naming the file."""
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "missing.toml")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(_write(tmp_path, "mode = \n"))


def test_profile_is_frozen() -> None:
    """A validated profile cannot be changed afterwards."""
    profile = PacingProfile()
    with pytest.raises(ValueError, match="frozen"):
        profile.mode = "ratio"  # type: ignore[misc]


def test_referee_factories_accept_contract_and_dotted_params() -> None:
    """The referee's params (target, wait, dotted overrides) build the same pacer classes."""
    adapter = predictive({"target_abandon": 0.02, "max_wait_s": 2.0, "predictive.risk_gain": 0.1})
    assert isinstance(adapter.pacer, PredictivePacer)
    assert adapter.pacer.settings.target_abandon == 0.02
    assert adapter.pacer.settings.risk_gain == 0.1
    assert isinstance(ratio({"ratio": 2.5, "max_wait_s": 2.0}).pacer, RatioPacer)


def test_referee_factory_refuses_unknown_params() -> None:
    """A misspelt --param is a ProfileError naming it, not a silent default."""
    with pytest.raises(ProfileError, match="risk_gian"):
        predictive({"predictive.risk_gian": 0.1, "max_wait_s": 2.0})


def test_referee_adapter_converts_duck_typed_events_and_views() -> None:
    """Referee-shaped objects reach the pacer as pacing Event/View values, unchanged."""
    from types import SimpleNamespace

    from pacing.types import Event, View

    seen: list[object] = []

    class Recorder:
        def observe(self, event: Event) -> None:
            seen.append(event)

        def decide(self, view: View) -> int:
            seen.append(view)
            return 3

    from pacing.referee import RefereeAdapter

    adapter = RefereeAdapter(Recorder())
    adapter.observe(
        SimpleNamespace(t=1.0, kind="fail", call_id=4, agent_id=None, value=2.5, outcome="busy")
    )
    raw_view = SimpleNamespace(
        t=2.0,
        agents_logged_in=3,
        agents_ready=1,
        ready_idle_s=(4.0,),
        talking_elapsed_s=(10.0,),
        wrapup_elapsed_s=(1.0,),
        ringing_elapsed_s=(),
        calls_waiting=0,
        lines_free=7,
    )
    assert adapter.decide(raw_view) == 3
    assert seen[0] == Event(1.0, "fail", 4, None, 2.5, "busy")
    assert seen[1] == View(2.0, 3, 1, (4.0,), (10.0,), (1.0,), (), 0, 7)
