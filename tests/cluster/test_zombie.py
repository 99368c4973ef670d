"""A stalled engine (a "zombie"): frozen (SIGSTOP) with calls ringing and facts to write,
past ``failover_s``, while another engine takes its campaigns and adopts their calls; then
let go on (SIGCONT). Whatever it still had to do for those campaigns must not reach the
database or the servers: no fact written by an engine that did not own the campaign at that
moment, no double dial, no lost call, windows intact."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.rig import cluster_rig
from tests.faults.rig import wait_for

pytestmark = [pytest.mark.fault, pytest.mark.postgres, pytest.mark.slow]


def test_a_frozen_engine_that_wakes_after_failover_stops_and_writes_nothing(
    tmp_path: Path, pg_url: str
) -> None:
    """SIGSTOP the engine with calls ringing until its campaigns moved, SIGCONT it: it drops
    them without a command or a write; the new owner's calls and facts are the only ones."""
    with cluster_rig(tmp_path, pg_url, campaigns=2) as rig:
        for name in ("e1", "e2"):
            # Rebalancing off: the woken engine gets nothing back by a handover, so the
            # moved campaigns stay where failover put them (tests/cluster/test_rebalance.py).
            rig.start_engine(name, rebalance=False)
        wait_for("two live engines", lambda: len(rig.live_engines()) == 2, within_s=90)
        wait_for(
            "every campaign owned",
            lambda: sorted(rig.owners()) == sorted(rig.campaign_ids),
            within_s=30,
        )

        def ringing_victim() -> str | None:
            """An engine with calls ringing (rows open, not answered) now."""
            rows = rig.rows(
                "SELECT campaign_id FROM call_log WHERE end_at IS NULL AND answer_at IS NULL"
            )
            owners = rig.owners()
            return next((owners[c] for (c,) in rows if c in owners), None)

        wait_for("an engine with calls ringing", lambda: ringing_victim() is not None, 30)
        victim = ringing_victim()
        assert victim is not None
        (other,) = [name for name in rig.engines if name != victim]
        moved = [c for c, owner in rig.owners().items() if owner == victim]
        rig.pause_engine(victim)
        wait_for(
            "the frozen engine's campaigns taken and their calls adopted by the other",
            lambda: (
                all(rig.owners().get(c) == other for c in moved)
                and "adopted_campaigns" in rig.log_text(other)
            ),
            within_s=30,
        )
        mark = rig.rows("SELECT coalesce(max(id), 0) FROM call_log")[0][0]
        wait_for(
            "the other engine dials the moved campaigns",
            lambda: (
                rig.rows(
                    "SELECT count(*) FROM call_log WHERE id > :m AND campaign_id = ANY(:c)",
                    m=mark,
                    c=moved,
                )[0][0]
                > 0
            ),
            within_s=30,
        )
        rig.resume_engine(victim)
        wait_for(
            "the woken engine gives the moved campaigns up",
            lambda: rig.log_text(victim).count('"campaign_removed"') >= len(moved),
            within_s=30,
        )
        mark = rig.rows("SELECT coalesce(max(id), 0) FROM call_log")[0][0]
        wait_for(
            "the moved campaigns connect calls afterwards",
            lambda: all(
                rig.rows(
                    "SELECT count(*) FROM call_log WHERE campaign_id = :c AND id > :m"
                    " AND connect_at IS NOT NULL",
                    c=c,
                    m=mark,
                )[0][0]
                > 0
                for c in moved
            ),
            within_s=40,
        )
        assert all(rig.owners().get(c) == other for c in moved)
        rig.stop_all()
        problems = rig.problems()
        assert not problems, "after the zombie woke:\n  " + "\n  ".join(problems)
