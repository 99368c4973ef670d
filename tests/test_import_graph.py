"""The rooms keep their one-way arrows: pacing imports nothing of the project; campaigns
and asterisk import neither dialer nor each other (read from the source with ``ast``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from asterisk.errors import AsteriskError
from campaigns.errors import CampaignError
from dialer.errors import ROOT_ERRORS, DialerError
from pacing.errors import PacingError

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("dialer", "campaigns", "pacing", "asterisk")
#: Which project packages each room may not import.
FORBIDDEN = {
    "pacing": {"dialer", "campaigns", "asterisk"},
    "campaigns": {"dialer", "asterisk"},
    "asterisk": {"dialer", "campaigns"},
}


def imported_packages(path: Path, package: str) -> set[tuple[str, int]]:
    """(top-level project package, line) of every import in one file, including imports
    inside functions and ``TYPE_CHECKING`` blocks; relative imports stay in ``package``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [package] if node.level else [node.module or ""]
        for name in names:
            top = name.split(".")[0]
            if top in PROJECT:
                found.add((top, node.lineno))
    return found


def violations(room: str) -> list[str]:
    out = []
    for path in sorted((ROOT / room).rglob("*.py")):
        for top, line in sorted(imported_packages(path, room)):
            if top in FORBIDDEN[room]:
                out.append(f"{path.relative_to(ROOT)}:{line} imports {top}")
    return out


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_room_imports_only_what_it_may(room: str) -> None:
    """No module of the room imports a package the arrows forbid (the message lists the
    file, line and package of each that does)."""
    assert violations(room) == []


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    """A forbidden import hidden in a function body or a relative import is still seen."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from dialer.errors import DialerError\nfrom . import x\n")
    assert imported_packages(source, "pacing") == {("dialer", 2), ("pacing", 3)}


def test_every_room_has_its_own_root_error_with_a_stable_id() -> None:
    """Each room's root is a plain Exception (not another room's), has an error_id, and
    the boundaries' tuple holds all four."""
    roots = (DialerError, CampaignError, PacingError, AsteriskError)
    assert set(ROOT_ERRORS) == set(roots)
    for root in roots:
        assert root.__bases__ == (Exception,)
    assert [r.error_id for r in roots] == [
        "dialer_error",
        "campaign_error",
        "pacing_error",
        "asterisk_error",
    ]
