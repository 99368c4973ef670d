"""The campaign-core commands as a supervisor types them, including their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaigns.migrate import head_revision
from dialer.cli import app


@pytest.fixture
def cli(tmp_path: Path) -> tuple[CliRunner, dict[str, str], list[str]]:
    """A runner, an environment pointing at a fresh SQLite file, and --config of an empty file."""
    config = tmp_path / "dialer.toml"
    config.write_text("", encoding="utf-8")
    env = {"DIALER_DATABASE__URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"}
    return CliRunner(), env, ["--config", str(config)]


def _run(cli: tuple[CliRunner, dict[str, str], list[str]], *args: str) -> tuple[int, str]:
    runner, env, base = cli
    result = runner.invoke(app, [*base, *args], env=env)
    return result.exit_code, result.output


def test_upgrade_creates_default_statuses(cli: tuple[CliRunner, dict[str, str], list[str]]) -> None:
    """`db upgrade` builds the schema and the two default statuses appear in the list."""
    code, out = _run(cli, "db", "upgrade")
    assert code == 0, out
    assert f"is at revision {head_revision()}" in out
    code, out = _run(cli, "statuses", "list")
    assert code == 0, out
    assert "Dzwonić" in out
    assert "Nie dzwonić" in out


def test_commands_before_upgrade_say_what_to_run(
    cli: tuple[CliRunner, dict[str, str], list[str]],
) -> None:
    """Using an empty database tells the user to run `dialer db upgrade`, exit status 2."""
    code, out = _run(cli, "campaign", "list")
    assert code == 2
    assert "not initialized" in out
    assert "dialer db upgrade" in out


def test_campaign_create_show_and_status_flow(
    cli: tuple[CliRunner, dict[str, str], list[str]],
) -> None:
    """A supervisor adds a status, creates a campaign and sees it with the flagged statuses."""
    _run(cli, "db", "upgrade")
    code, out = _run(
        cli,
        "statuses",
        "add",
        "Wstępnie zainteresowany",
        "--system",
        "my_record",
        "--new-campaigns",
    )
    assert code == 0, out
    code, out = _run(
        cli,
        "campaign",
        "create",
        "Jesień",
        "--window",
        "08:00-21:00",
        "--days",
        "1-5",
        "--retry",
        "busy=300",
        "--max-attempts",
        "3",
    )
    assert code == 0, out
    code, out = _run(cli, "campaign", "show", "jesień", "--json")
    assert code == 0, out
    shown = json.loads(out)
    assert shown["rules"]["window"] == "08:00-21:00"
    assert shown["rules"]["window_days"] == [1, 2, 3, 4, 5]
    assert shown["rules"]["retry_delays_s"] == {"busy": 300}
    assert [item["name"] for item in shown["statuses"]] == [
        "Dzwonić",
        "Nie dzwonić",
        "Wstępnie zainteresowany",
    ]
    assert shown["records"]["total"] == 0
    code, out = _run(cli, "campaign", "list", "--json")
    assert json.loads(out) == [{"id": 1, "name": "Jesień", "state": "draft", "records": 0}]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["campaign", "show", "Zima"], "'Zima' does not exist; existing campaigns: 'Jesień'"),
        (["campaign", "create", "B", "--window", "0900"], "--window: '0900' is not valid"),
        (["campaign", "create", "B", "--window", "20:00-25:00"], "window_end: '25:00'"),
        (["campaign", "create", "B", "--days", "mon"], "--days: 'mon' is not valid"),
        (["campaign", "create", "B", "--retry", "bussy=5"], "retry_delays_s"),
        (["campaign", "create", "Jesień"], "no other campaign has"),
        (["statuses", "add", "X", "--system", "LATER"], "system_status: 'LATER'"),
        (["statuses", "edit", "Nieznany", "--hidden"], "status 'Nieznany' does not exist"),
        (["statuses", "edit", "Dzwonić"], "nothing to change"),
        (["statuses", "attach", "Dzwonić", "--campaign", "Zima"], "campaign 'Zima'"),
    ],
)
def test_bad_arguments_give_clear_errors(
    cli: tuple[CliRunner, dict[str, str], list[str]], args: list[str], expected: str
) -> None:
    """Each wrong argument or unknown name is refused with exit status 2 and names the problem."""
    _run(cli, "db", "upgrade")
    _run(cli, "campaign", "create", "Jesień")
    code, out = _run(cli, *args)
    assert code == 2, out
    assert "error:" in out
    assert expected in " ".join(out.split())


def test_typer_rejects_a_non_number(cli: tuple[CliRunner, dict[str, str], list[str]]) -> None:
    """A non-numeric --max-attempts is refused by the parser with the option's name."""
    code, out = _run(cli, "campaign", "create", "B", "--max-attempts", "many")
    assert code == 2
    assert "--max-attempts" in out


def test_bad_config_key_stops_the_command(tmp_path: Path) -> None:
    """An unknown key in the config file is reported with the file, the key and allowed keys."""
    config = tmp_path / "bad.toml"
    config.write_text("[database]\nuri = 'sqlite://'\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "campaign", "list"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert f"{config}: database.uri: unknown key; expected one of: url" in text


def test_bench_select_prints_median(tmp_path: Path) -> None:
    """`bench select --json` on a small campaign prints median_ms and claims full batches."""
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "select",
            "--records",
            "3000",
            "--rounds",
            "5",
            "--json",
            "--db-url",
            f"sqlite:///{tmp_path / 'b.db'}",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["records"] == 3000
    assert figures["median_ms"] > 0
    assert figures["claimed_per_round"] == 100


def test_demo_builds_and_shows_a_campaign(tmp_path: Path) -> None:
    """`dialer demo` builds a database with statuses, a campaign and a list, and shows it."""
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(
        app, ["demo-db", "--db", str(db), "--records", "500"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "Demo: jesienna sprzedaż" in result.output
    assert "Wstępnie zainteresowany" in result.output
    assert "demo engine claimed" in result.output
    assert db.exists()


def test_start_pause_stop_change_the_state_and_are_audited(
    cli: tuple[CliRunner, dict[str, str], list[str]],
) -> None:
    """`dialer campaign start|pause|stop` set the state the engine follows, and audit it."""
    assert _run(cli, "db", "upgrade")[0] == 0
    assert _run(cli, "campaign", "create", "Wiosna")[0] == 0
    code, out = _run(cli, "campaign", "start", "wiosna")
    assert code == 0
    assert "draft → running" in out
    assert "running → paused" in _run(cli, "campaign", "pause", "Wiosna")[1]
    code, out = _run(cli, "campaign", "stop", "Wiosna")
    assert "paused → stopped" in out
    code, out = _run(cli, "campaign", "start", "Nope")
    assert code == 2
    assert "Wiosna" in out


def test_create_with_operating_hours_and_a_bad_zone(
    cli: tuple[CliRunner, dict[str, str], list[str]],
) -> None:
    """--hours sets the campaign's own hours; a wrong --hours-tz is named in the error."""
    assert _run(cli, "db", "upgrade")[0] == 0
    code, out = _run(cli, "campaign", "create", "Rano", "--hours", "08:00-12:00",
                     "--hours-tz", "Europe/Warsaw")  # fmt: skip
    assert code == 0, out
    code, out = _run(cli, "campaign", "create", "Noc", "--hours", "08:00-12:00",
                     "--hours-tz", "Mars/Base")  # fmt: skip
    assert code == 2
    assert "hours_tz" in out
