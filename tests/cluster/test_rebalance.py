"""Rebalancing between live engines: one engine runs both campaigns; when a second joins,
the first hands one over by the rule (balanced by agents logged in) gracefully: it stops
placing calls for it, lets its calls end, then releases it with its agents' seats; the new
engine takes it, adopts the agents (no call to adopt, none hung up or dropped by the move)
and dials it. Afterwards: 0 double dials, 0 lost calls, windows intact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cluster.rig import cluster_rig
from tests.faults.rig import wait_for

pytestmark = [pytest.mark.fault, pytest.mark.postgres, pytest.mark.slow]


def _events(text: str, name: str) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for line in text.splitlines()
        if line.startswith("{") and f'"event": "{name}"' in line
    ]


def test_a_joining_engine_gets_a_campaign_handed_over_without_a_dropped_call(
    tmp_path: Path, pg_url: str
) -> None:
    """e1 owns both campaigns; e2 joins; e1 hands one over once it is quiet; e2 adopts its
    agents and connects calls for it; nothing was cancelled, hung up or dropped by it."""
    with cluster_rig(tmp_path, pg_url, campaigns=2) as rig:
        rig.start_engine("e1")
        wait_for(
            "e1 owns both campaigns",
            lambda: rig.owners() == dict.fromkeys(rig.campaign_ids, "e1"),
            within_s=90,
        )
        wait_for(
            "e1 connects calls",
            lambda: rig.rows("SELECT count(connect_at) FROM call_log")[0][0] > 3,
            within_s=60,
        )
        rig.start_engine("e2")
        wait_for(
            "one campaign handed over to e2",
            lambda: sorted(rig.owners().values()) == ["e1", "e2"],
            within_s=90,
        )
        (moved,) = [c for c, owner in rig.owners().items() if owner == "e2"]
        mark = rig.rows("SELECT coalesce(max(id), 0) FROM call_log")[0][0]
        wait_for(
            "e2 connects calls of the campaign it took",
            lambda: (
                rig.rows(
                    "SELECT count(*) FROM call_log WHERE campaign_id = :c AND id > :m"
                    " AND connect_at IS NOT NULL AND channel_id LIKE 'e2-%'",
                    c=moved,
                    m=mark,
                )[0][0]
                > 0
            ),
            within_s=60,
        )
        assert rig.owners().get(moved) == "e2", "it stays (the loads are balanced now)"
        handed = _events(rig.log_text("e1"), "campaign_handed_over")
        assert [e["campaign"] for e in handed] == [moved]
        adopted = _events(rig.log_text("e2"), "adopted_campaigns")
        assert adopted
        assert adopted[0]["open_calls"] == 0, "the campaign moved with no call up"
        # Every one of them: the campaign is loaded only once adopted, so none logs in anew
        # on e2 first (once 0 of 4 followed, when the periodic sync loaded it early).
        assert int(str(adopted[0]["agents"])) == rig.agents, "its agents followed it"
        restarted = rig.rows(
            "SELECT id FROM call_log WHERE hangup_cause_txt LIKE 'engine restarted%'"
        )
        assert restarted == [], "no call was cancelled or closed by the move"
        rig.stop_all()
        problems = rig.problems()
        assert not problems, "after the handover:\n  " + "\n  ".join(problems)
