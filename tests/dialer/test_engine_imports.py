"""The engine core imports none of its adapters (MQTT, database, runtime, API)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DIALER = Path(__file__).parents[2] / "dialer"
CORE = ["engine.py", "calls.py", "agents.py", "sink.py", "adoption.py"]
ADAPTERS = ("dialer.mqtt", "dialer.runtime", "dialer.store", "dialer.api", "aiomqtt", "sqlalchemy")


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("name", CORE)
def test_engine_core_imports_no_adapter(name: str) -> None:
    """The core module imports no adapter: its ports (lead source, journal, event sink,
    clock) are protocols beside it."""
    bad = sorted(m for m in imports(DIALER / name) if m.startswith(ADAPTERS))
    assert bad == [], f"dialer/{name} imports {bad}"
