"""``dialer user|group|agent add`` as an operator types them: the users they create sign
in to the API; passwords never travel as arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from campaigns.db import make_engine
from campaigns.models import AuditLog, User
from dialer.api.app import create_app
from dialer.cli import app
from dialer.config import DatabaseSettings, Settings

Cli = tuple[CliRunner, dict[str, str], list[str], str]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A runner, an environment on a fresh upgraded SQLite file, --config, and the URL."""
    config = tmp_path / "dialer.toml"
    config.write_text("", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"DIALER_DATABASE__URL": url, "COLUMNS": "200"}
    runner = CliRunner()
    result = runner.invoke(app, ["--config", str(config), "db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    return runner, env, ["--config", str(config)], url


def _run(cli: Cli, *args: str, stdin: str | None = None) -> tuple[int, str]:
    runner, env, base, _url = cli
    result = runner.invoke(app, [*base, *args], env=env, input=stdin)
    return result.exit_code, result.output


def _sign_in(cli: Cli, login: str, password: str) -> int:
    settings = Settings(database=DatabaseSettings(url=cli[3]))
    db = make_engine(cli[3])
    try:
        client = TestClient(create_app(settings, db=db))
        response = client.post("/api/auth/login", json={"login": login, "password": password})
        return response.status_code
    finally:
        db.dispose()


def test_group_agent_and_agent_user_added_and_signing_in(cli: Cli) -> None:
    """An operator adds a group, an agent in it and the agent's user (password on stdin);
    that user signs in to the API."""
    assert _run(cli, "group", "add", "Team A")[0] == 0
    code, out = _run(
        cli,
        "agent",
        "add",
        "anna",
        "--name",
        "Anna Nowak",
        "--extension",
        "201",
        "--group",
        "team a",
    )
    assert code == 0, out
    code, out = _run(
        cli,
        "user",
        "add",
        "anna",
        "--role",
        "agent",
        "--agent",
        "anna",
        "--language",
        "pl",
        "--password-stdin",
        stdin="correct-horse-9\n",
    )
    assert code == 0, out
    assert "added user 'anna'" in out
    assert _sign_in(cli, "anna", "correct-horse-9") == 200
    code, out = _run(cli, "user", "list", "--json")
    [user] = json.loads(out)
    assert (user["role"], user["agent"], user["language"]) == ("agent", "anna", "pl")
    agents = json.loads(_run(cli, "agent", "list", "--json")[1])
    assert agents == [
        {
            "id": 1,
            "login": "anna",
            "name": "Anna Nowak",
            "extension": "201",
            "group": "Team A",
            "active": True,
        }
    ]
    assert json.loads(_run(cli, "group", "list", "--json")[1]) == [{"id": 1, "name": "Team A"}]


def test_password_is_asked_twice_when_not_piped(cli: Cli) -> None:
    """Without --password-stdin the password is asked for and confirmed; a mismatch is asked
    again."""
    code, out = _run(
        cli,
        "user",
        "add",
        "boss",
        "--role",
        "admin",
        stdin="first-pass-1\nother-pass-2\nfirst-pass-1\nfirst-pass-1\n",
    )
    assert code == 0, out
    assert "first-pass-1" not in out
    assert _sign_in(cli, "boss", "first-pass-1") == 200


def test_there_is_no_password_argument(cli: Cli) -> None:
    """A password cannot be given on the command line."""
    code, _out = _run(cli, "user", "add", "boss", "--role", "admin", "--password", "x")
    assert code == 2
    assert _sign_in(cli, "boss", "x") == 401


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        (
            ("user", "add", "x", "--role", "agent", "--password-stdin"),
            "long-enough-1\n",
            "agent_id",
        ),
        (("user", "add", "x", "--role", "head", "--password-stdin"), "short\n", "at least 8"),
        (
            ("user", "add", "x", "--role", "head", "--group", "Nope", "--password-stdin"),
            "long-enough-1\n",
            "Nope",
        ),
        (
            ("user", "add", "x", "--role", "head", "--language", "de", "--password-stdin"),
            "long-enough-1\n",
            "language",
        ),
        (("user", "add", "x", "--role", "head", "--password-stdin"), "\n", "no password"),
        (("agent", "add", "has space"), None, "login"),
        (("group", "add", "   "), None, "name"),
        (("user", "passwd", "ghost", "--password-stdin"), "long-enough-1\n", "ghost"),
    ],
)
def test_errors_name_what_is_wrong(
    cli: Cli, args: tuple[str, ...], stdin: str | None, words: str
) -> None:
    """A refused command prints what is wrong and exits with status 2."""
    code, out = _run(cli, *args, stdin=stdin)
    assert code == 2, out
    assert words in out


def test_passwd_replaces_the_password_and_is_audited(cli: Cli) -> None:
    """`user passwd` sets a new password (the old one stops working), audited as the CLI."""
    _run(cli, "user", "add", "head", "--role", "head", "--password-stdin", stdin="old-pass-123\n")
    code, out = _run(cli, "user", "passwd", "head", "--password-stdin", stdin="new-pass-456\n")
    assert code == 0, out
    assert _sign_in(cli, "head", "old-pass-123") == 401
    assert _sign_in(cli, "head", "new-pass-456") == 200
    db = make_engine(cli[3])
    try:
        with Session(db) as session:
            edit = session.exec(select(AuditLog).where(AuditLog.action == "user.edit")).one()
            stored = session.exec(select(User.password_hash)).one()
    finally:
        db.dispose()
    assert edit.actor.startswith("cli")
    assert edit.details["changed"] == {"password": "changed"}
    assert "new-pass-456" not in stored
