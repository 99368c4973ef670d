"""Scenario files and server settings: validated once, errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from asterisk.errors import ScenarioError
from asterisk.scenario import load_scenario
from asterisk.settings import AmiServerSettings
from tests.asterisk.transcripts import SCENARIOS

VALID = """
lines = 10
duration_s = 60
[agents]
count = 2
wrapup = { dist = "constant", value = 5 }
[calls]
answer_prob = 0.5
ring = { dist = "uniform", lo = 1, hi = 2 }
talk = { dist = "lognormal", mean = 60, sd = 20, min = 5 }
"""


def test_every_shared_scenario_loads() -> None:
    """All scenario files of shared/scenarios validate."""
    files = sorted(SCENARIOS.glob("*.toml"))
    assert files
    for f in files:
        assert load_scenario(f).lines >= 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("answer_prob = 0.5", "anwser_prob = 0.5"), "unknown key 'calls.anwser_prob'"),
        (("lines = 10", "lines = 0"), "'lines' must be an integer >= 1"),
        (('dist = "uniform"', 'dist = "weird"'), "'calls.ring.dist' must be one of"),
        (("answer_prob = 0.5", "answer_prob = 1.5"), "'calls.answer_prob' = 1.5 is out of range"),
        (("count = 2", "count = 2\nschedule = [[0, 1]]"), "exactly one of"),
    ],
)
def test_bad_scenario_names_file_and_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    """Each invalid document is rejected with the file name and the offending key."""
    path = tmp_path / "bad.toml"
    path.write_text(VALID.replace(*change))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_valid_scenario_draws_within_clips(tmp_path: Path) -> None:
    """Distribution clips (min) hold for every draw."""
    import random

    path = tmp_path / "ok.toml"
    path.write_text(VALID)
    sc = load_scenario(path)
    rng = random.Random(1)
    assert min(sc.talk.sample(rng) for _ in range(2000)) >= 5


def test_secret_from_environment_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """DIALER_AMI_SECRET_<NAME> overrides the file's secret; repr never shows it."""
    monkeypatch.setenv("DIALER_AMI_SECRET_PBX_2", "from-env")
    s = AmiServerSettings.model_validate({"name": "pbx-2", "secret": "from-file"})
    assert s.secret.get_secret_value() == "from-env"
    assert "from-env" not in repr(s)
    other = AmiServerSettings.model_validate({"name": "other", "secret": "from-file"})
    assert other.secret.get_secret_value() == "from-file"


def test_settings_reject_unknown_keys_and_bad_templates() -> None:
    """Typos and a channel template without {number} are refused at start."""
    with pytest.raises(ValueError, match="ring_timout_s"):
        AmiServerSettings.model_validate({"ring_timout_s": 3})
    with pytest.raises(ValueError, match="must contain"):
        AmiServerSettings.model_validate({"channel_template": "PJSIP/trunk"})
