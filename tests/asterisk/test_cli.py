"""The area's commands: ``dialer bench ami --json`` and ``dialer pbx-sim``."""

from __future__ import annotations

import json
import subprocess
import sys

CLI = [sys.executable, "-c", "from dialer.cli import main; main()"]


def test_bench_ami_json_prints_the_headline_figures() -> None:
    """A small bench run prints JSON with events_per_s and connect_p99_ms (real numbers)."""
    out = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [
            *CLI,
            "bench",
            "ami",
            "--json",
            "--calls",
            "40",
            "--agents",
            "5",
            "--parse-events",
            "3000",
            "--time-scale",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["events_per_s"] > 0
    assert result["connect"]["connected"] == 40
    assert 0 < result["connect_p99_ms"] < 1000
    assert result["connect"]["sim_roundtrip_samples"] == 40  # every Redirect seen by the sim


def test_pbx_sim_rejects_a_bad_scenario_with_its_name(tmp_path: object) -> None:
    """A scenario error is printed with the file and key, exit status 2."""
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.toml"
    bad.write_text(
        "lines = 3\nduration_s = 9\n[agents]\ncount = 1\nwrapup = 3\n[calls]\nanswer_prob = 0.3\n"
        'ring = { dist = "constant", value = 3 }\ntalk = { dist = "constant", value = 9 }\n'
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [*CLI, "pbx-sim", "--scenario", str(bad), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    assert str(bad) in out.stderr
    assert "agents.wrapup" in out.stderr
