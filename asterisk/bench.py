"""AMI benchmarks (filled in below)."""

from __future__ import annotations


async def run_bench(*, calls: int, parse_events: int) -> dict[str, object]:
    """Placeholder."""
    raise NotImplementedError
