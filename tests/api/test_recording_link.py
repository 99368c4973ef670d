"""Recording links: a URL template in the config, the recording reference in the call log's
rows and export, and a link on the call log page only when a template is set."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from campaigns.models import CallLog, Campaign
from dialer.api.app import create_app
from dialer.config import ConfigError, load_settings
from tests.api.conftest import World, sign_in
from tests.web.conftest import page_client


@pytest.mark.parametrize(
    ("template", "problem"),
    [("https://pbx.example/rec", "{ref}"), ("javascript:alert('{ref}')", "https://")],
)
def test_a_bad_template_is_refused_naming_the_key(
    tmp_path: Path, template: str, problem: str
) -> None:
    """A template without {ref}, or not an http(s) or local address, is a config error
    naming http.recording_url."""
    path = tmp_path / "dialer.toml"
    path.write_text(f'[http]\nrecording_url = "{template}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="recording_url") as caught:
        load_settings(path, environ={})
    assert problem in str(caught.value)


def test_calls_carry_their_recording_and_the_page_links_it(
    api_db: sa.Engine, world: World, tmp_path: Path
) -> None:
    """/api/calls and its CSV give each call's recording reference; the call log page has a
    recording column with the template only when one is configured."""
    with Session(api_db) as s:
        camp = Campaign(name="Rec")
        s.add(camp)
        s.flush()
        s.add(
            CallLog(
                campaign_id=camp.id or 0,
                phone="+48500300400",
                agent_id=world.agent_a,
                outcome="answered",
                dial_at=dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC),
                recording_ref="2026/03/01/abc 1.wav",
            )
        )
        s.commit()
    path = tmp_path / "dialer.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "api.db"}"\n'
        '[http]\nrecording_url = "https://pbx.example/rec/{ref}"\n',
        encoding="utf-8",
    )
    app = create_app(load_settings(path, environ={}), db=api_db)
    admin = sign_in(app, "admin")
    rows = admin.get("/api/calls").json()["items"]
    assert [r["recording_ref"] for r in rows] == ["2026/03/01/abc 1.wav"]
    export = admin.get("/api/calls/export").text.splitlines()
    assert export[0].endswith(",recording")
    assert export[1].endswith(",2026/03/01/abc 1.wav")
    html = page_client(app, "admin").get("/calls").text
    assert 'data-recording-url="https://pbx.example/rec/{ref}"' in html
    assert "Recording</th>" in html
    plain_path = tmp_path / "plain.toml"
    plain_path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "api.db"}"\n', encoding="utf-8"
    )
    plain = create_app(load_settings(plain_path, environ={}), db=api_db)
    html = page_client(plain, "admin").get("/calls").text
    assert 'data-recording-url=""' in html
    assert "Recording</th>" not in html
