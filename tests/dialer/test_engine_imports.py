"""The dialer's rooms keep their arrows: cli → sim / api / runtime → engine (and the rooms
below it). The engine imports none of its adapters (MQTT, database, runtime, API, the
simulation); the runtime never imports the simulation or the CLI; the services never the
API (read from the source with ``ast``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DIALER = Path(__file__).parents[2] / "dialer"
#: For each room of dialer/, the modules it may not import.
FORBIDDEN = {
    "engine": (
        "dialer.runtime",
        "dialer.sim",
        "dialer.api",
        "dialer.cli",
        "dialer.web",
        "dialer.services",
        "aiomqtt",
        "sqlalchemy",
        "sqlmodel",
    ),
    "runtime": ("dialer.sim", "dialer.cli"),
    "sim": ("dialer.cli",),
    "services": ("dialer.api", "dialer.web", "dialer.runtime", "dialer.sim", "dialer.cli"),
    "api": ("dialer.runtime", "dialer.sim", "dialer.cli"),
}


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, including imports inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def violations(room: str) -> list[str]:
    """``file imports module`` for every import the room's arrows forbid."""
    bad = FORBIDDEN[room]
    return [
        f"{path.relative_to(DIALER.parent)} imports {module}"
        for path in sorted((DIALER / room).rglob("*.py"))
        for module in sorted(imports(path))
        if any(module == b or module.startswith(b + ".") for b in bad)
    ]


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_room_imports_only_downwards(room: str) -> None:
    """No module of the room imports a room above it or an adapter it must not know."""
    assert violations(room) == []


def test_every_module_of_dialer_sits_in_a_room() -> None:
    """dialer/ holds rooms and the few modules every room shares (config, errors, logs)."""
    loose = sorted(p.name for p in DIALER.glob("*.py"))
    assert loose == ["__init__.py", "config.py", "errors.py", "logging.py"]


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """An import of the runtime hidden in a function of an engine module is found."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from dialer.runtime.store import SqlLeads\n")
    assert "dialer.runtime.store" in imports(module)
