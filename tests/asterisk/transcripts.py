"""Read the recorded AMI transcripts of ``shared/ami-transcripts`` back into wire bytes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

# Beside the checkout (``../shared/ami-transcripts``) unless DIALER_AMI_TRANSCRIPTS names it.
TRANSCRIPTS = Path(
    os.environ.get(
        "DIALER_AMI_TRANSCRIPTS", Path(__file__).resolve().parents[3] / "shared/ami-transcripts"
    )
)


@dataclass(frozen=True)
class Chunk:
    """Consecutive wire lines of one direction: '<<' server, '>>' client, '##' note."""

    direction: str
    data: bytes


SCENARIOS = TRANSCRIPTS.parent / "scenarios"


def require() -> None:
    """Skip (fail under CI=true) when the shared transcripts are not next to the repository."""
    if (TRANSCRIPTS / "README.md").exists():
        return
    message = f"AMI transcripts not found at {TRANSCRIPTS} (set DIALER_AMI_TRANSCRIPTS)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


def load(name: str) -> list[Chunk]:
    """The transcript as direction chunks in file order (``x>`` lines never hit the wire)."""
    require()
    chunks: list[Chunk] = []
    cur_dir = ""
    cur: list[bytes] = []
    for line in (TRANSCRIPTS / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("# ") or line == "#" or len(line) < 2:
            continue
        direction = line[:2]
        _, _, text = line.partition(" | ")
        if direction == "x>":
            continue
        if direction != cur_dir and cur:
            chunks.append(Chunk(cur_dir, b"".join(cur)))
            cur = []
        cur_dir = direction
        cur.append(text.encode() + (b"\r\n" if direction != "##" else b"\n"))
    if cur:
        chunks.append(Chunk(cur_dir, b"".join(cur)))
    return chunks


def server_bytes(name: str) -> bytes:
    """Everything the server sent, byte for byte."""
    return b"".join(c.data for c in load(name) if c.direction == "<<")


ALL = [
    "a_login_agent_seat",
    "b_answered_to_agent",
    "c_no_answer_timeout",
    "d1_busy",
    "d2_congestion",
    "d3_invalid_extension",
    "e_no_agent_drop",
    "f1_amd_machine",
    "f2_amd_human",
    "g1_agent_hangs_up_first",
    "g2_ami_reconnect",
    "g3_restart_via_ami_command",
]
