"""Every `dialer` command of the README's command-line section works as printed on the
demo's database (the issue 14 newcomer check), and the demo commands never delete a
database without asking."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dialer.cli import app

README = Path(__file__).parents[1] / "README.md"


def readme_commands() -> list[list[str]]:
    """The `dialer …` lines of the README's command-line section, as argument lists."""
    text = README.read_text()
    section = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = []
    for raw in block.splitlines():
        line = re.sub(r"\s+#.*$", "", raw).strip()
        line = re.sub(r"\s*\[[^\]]*\]", "", line)  # optional parts written [like this]
        if line.startswith("dialer "):
            commands.append(shlex.split(line)[1:])
    return commands


def test_readme_names_the_demo_database_and_how_to_reach_dialer() -> None:
    """The section says how to get the `dialer` command and points at the demo's database."""
    section = README.read_text().split("## Command line", 1)[1].split("\n## ", 1)[0]
    assert ".venv/bin/dialer" in section
    assert ". .venv/bin/activate" in section
    assert "export DIALER_DATABASE__URL=sqlite:///var/demo.db" in section


def test_every_readme_command_works_on_the_demo_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the demo's database built (as `make demo` leaves it) and named as the README
    says, each printed command exits 0, in order."""
    monkeypatch.chdir(tmp_path)
    env = {"DIALER_DATABASE__URL": "sqlite:///var/demo.db", "COLUMNS": "200"}
    runner = CliRunner()
    built = runner.invoke(app, ["demo-db", "--records", "300"], env=env)
    assert built.exit_code == 0, built.output
    commands = readme_commands()
    assert len(commands) >= 10
    for printed in commands:
        args = printed
        if args[:2] == ["bench", "select"]:  # the printed million records take minutes
            args = [a if a != "1000000" else "3000" for a in args]
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, (args, result.output)


def test_demo_db_never_deletes_a_database_without_asking(tmp_path: Path) -> None:
    """Without a terminal an existing file is kept and --fresh is named; with --fresh it is
    rebuilt; at a terminal the answer "no" keeps it."""
    db = tmp_path / "demo.db"
    runner = CliRunner()
    assert runner.invoke(app, ["demo-db", "--db", str(db), "--records", "50"]).exit_code == 0
    db.write_bytes(db.read_bytes())
    before = db.stat().st_mtime_ns
    refused = runner.invoke(app, ["demo-db", "--db", str(db), "--records", "50"])
    assert refused.exit_code == 2
    assert "--fresh" in refused.output
    assert db.stat().st_mtime_ns == before
    again = runner.invoke(app, ["demo-db", "--db", str(db), "--records", "50", "--fresh"])
    assert again.exit_code == 0, again.output
    refused_demo = runner.invoke(app, ["demo", "--db", str(db), "--minutes", "1"])
    assert refused_demo.exit_code == 2
    assert "--fresh" in refused_demo.output


def test_demo_summary_off_a_terminal_is_a_table_without_python_text() -> None:
    """The demo's closing summary, printed to a file (no terminal), is a table of figures:
    no dict or other Python repr in it."""
    import io

    from rich.console import Console

    from dialer.sim.demo import DemoResult, print_summary

    out = io.StringIO()
    stats: dict[str, object] = {
        "name": "Demo",
        "dials": 120,
        "answered": 40,
        "connected": 39,
        "dropped": 1,
        "abandon_rate": 0.025,
        "occupancy": 0.8,
        "calls": {"ringing": 2, "waiting": 0, "talking": 3},
    }
    result = DemoResult(stats, call_log_rows=120, records_by_status={"TO_CALL": 5}, wall_s=3.0)
    print_summary(result, Console(file=out, width=100))
    text = out.getvalue()
    assert "calls still up at the end" in text
    assert "ringing 2, waiting 0, talking 3" in text
    assert "{" not in text
    assert "'" not in text


def test_every_python_module_the_readme_runs_can_be_imported() -> None:
    """Each `python -m MODULE` the README prints (screenshot scripts, benches) imports:
    the screenshot script once failed at import after a rename and nothing noticed."""
    import importlib

    modules = sorted(set(re.findall(r"python -m ([A-Za-z_][\w.]*)", README.read_text())))
    ours = [m for m in modules if m.split(".")[0] in {"tests", "dialer", "campaigns", "pacing"}]
    assert "tests.web.screenshots" in ours
    for module in ours:
        importlib.import_module(module)
