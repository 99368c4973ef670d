"""A campaign's live figures on every engine's pages (dialer/runtime/cluster.py
Cluster.figures): the owner keeps them beside its lease at each renewal; another engine
reads them with who runs the campaign and how old they are, and nothing once the owner's
lease ran out."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.cluster.test_ownership import _member, db

__all__ = ["db"]  # the fixture, imported for the tests below

pytestmark = pytest.mark.postgres


def test_another_engine_reads_the_owners_figures_until_its_lease_runs_out(db: sa.Engine) -> None:
    """a owns the campaigns and reports figures; b (owning none) reads them, named a's."""
    a, b = _member(db, "a"), _member(db, "b")
    a.renew({})
    a.step({})
    campaign_id = min(a.held)
    assert b.figures(campaign_id) is None, "no figures before the owner reported any"
    figures = {"campaign": campaign_id, "calls": {"ringing": 3}, "abandon_rate": 0.012}
    a.renew({campaign_id: ["agent1"]}, {campaign_id: figures})
    seen = b.figures(campaign_id)
    assert seen is not None
    assert seen.engine == "a"
    assert seen.stats == figures
    assert 0 <= seen.age_s < 5
    assert seen.payload() == {**figures, "engine": "a", "figures_age_s": seen.age_s}
    a.renew({campaign_id: ["agent1"]})  # a round without figures keeps the last ones
    kept = b.figures(campaign_id)
    assert kept is not None
    assert kept.stats == figures
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE campaign_lease SET expires_at = expires_at - interval '1 h'"))
    assert b.figures(campaign_id) is None, "a lapsed owner's figures are not shown as live"
