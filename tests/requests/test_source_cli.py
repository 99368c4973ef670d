"""``dialer source add|list|revoke`` as an operator types them: the key printed once works
against the API, the list never shows it, a revoked key is refused."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from campaigns import requests as rq
from campaigns.db import make_engine
from dialer.cli import app


def test_operator_adds_lists_and_revokes_a_source(tmp_path: Path) -> None:
    """The key ``add`` prints is the one the API accepts; ``list`` shows its prefix only;
    after ``revoke`` it is refused; an unknown source is an error naming it."""
    config = tmp_path / "dialer.toml"
    config.write_text("", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"DIALER_DATABASE__URL": url, "COLUMNS": "200"}
    runner = CliRunner()
    base = ["--config", str(config)]
    assert runner.invoke(app, [*base, "db", "upgrade"], env=env).exit_code == 0
    added = runner.invoke(app, [*base, "source", "add", "Shop CRM", "--rate", "10"], env=env)
    assert added.exit_code == 0, added.output
    key = added.output.strip().splitlines()[-1]
    assert key.startswith("cbr_")
    db = make_engine(url)
    try:
        found = rq.source_for_key(db, key)
        assert found is not None
        assert (found.name, found.rate_per_min) == ("Shop CRM", 10)
        listed = runner.invoke(app, [*base, "source", "list", "--json"], env=env)
        assert key not in listed.output
        [row] = json.loads(listed.output)
        assert (row["name"], row["active"]) == ("Shop CRM", True)
        assert key.startswith(row["key_prefix"])
        revoked = runner.invoke(app, [*base, "source", "revoke", "Shop CRM"], env=env)
        assert revoked.exit_code == 0, revoked.output
        assert rq.source_for_key(db, key) is None
        missing = runner.invoke(app, [*base, "source", "revoke", "nope"], env=env)
        assert missing.exit_code == 2
        assert "request source 'nope' does not exist" in missing.output
    finally:
        db.dispose()
