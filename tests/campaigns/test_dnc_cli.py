"""`dialer dnc add` from the command line parks records that are now on the list."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session
from typer.testing import CliRunner

from campaigns.db import make_engine
from campaigns.migrate import initialize
from campaigns.models import Campaign, Record
from dialer.cli import app


def test_dnc_add_moves_the_campaign_record_out_of_the_claim_path(tmp_path: Path) -> None:
    """A number added to the global DNC list gets a future next_call_at in every campaign,
    and the database comes from --config when --db-url is not given."""
    url = f"sqlite:///{tmp_path / 'd.db'}"
    engine = make_engine(url)
    initialize(engine, actor="test")
    with Session(engine) as session:
        campaign = Campaign(name="c")
        session.add(campaign)
        session.commit()
        session.add(Record(campaign_id=campaign.id or 0, phone="+48601234567", tz="UTC"))
        session.commit()
    config = tmp_path / "dialer.toml"
    config.write_text(f'[database]\nurl = "{url}"\n')
    result = CliRunner().invoke(app, ["--config", str(config), "dnc", "add", "+48601234567"])
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        due = conn.execute(sa.text("SELECT next_call_at FROM record")).scalar_one()
    assert due is not None
