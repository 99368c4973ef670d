"""The catalog keys the code uses, found by Babel's extractors (``babel.cfg``), and the
template (.pot) that ``make update`` merges into the .po catalogs.

``python -m dialer.web.catalogs pot OUT.pot`` writes the template: every key extracted
from the Python code (``msgkey``), the Jinja templates (``t``, ``tn``) and the page
scripts (``Dialer.t``, ``Dialer.tn``), plus every key of the English catalog that no call
names literally (enumerations translated by prefix, keys passed to template macros), so
that an update never retires them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import write_po

from dialer.web.i18n import DEFAULT_LANGUAGE, DOMAIN, load

ROOT: Final = Path(__file__).parents[2]
#: The functions whose first argument is a key; ``tn`` has plural forms (its msgid and
#: msgid_plural are both the key).
KEYWORDS: Final = {"t": None, "tn": (1, 1), "msgkey": None}
UNNAMED: Final = "not named literally in the code: completed at run time or a macro argument"


@dataclass(frozen=True)
class UsedKey:
    """A key named literally in the code, where, and whether it is read with a count."""

    key: str
    path: str
    line: int
    plural: bool


def used_keys(root: Path = ROOT) -> Iterator[UsedKey]:
    """Every literal key in the code under ``root`` (by ``babel.cfg``). A string ending in
    ``.`` or ``_`` is a prefix completed at run time (``D.t("phase." + p)``), not a key."""
    with (root / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(root / "babel.cfg"))  # type: ignore[no-untyped-call]
    for path, line, message, _comments, _context in extract_from_dir(
        str(root), method_map, options_map, keywords=KEYWORDS, comment_tags=()
    ):
        plural = isinstance(message, tuple)
        key = str(message[0] if plural else message)
        if key.endswith((".", "_")):
            continue
        yield UsedKey(key=key, path=path, line=line, plural=plural)


def template(root: Path = ROOT) -> Catalog:
    """The .pot: the extracted keys (with where they are used) and the English catalog's
    other keys."""
    pot = Catalog(project="dialer", domain=DOMAIN, fuzzy=False)
    for used in used_keys(root):
        msgid: str | tuple[str, str] = (used.key, used.key) if used.plural else used.key
        pot.add(msgid, locations=[(used.path, used.line)])
    english = load(DEFAULT_LANGUAGE).texts
    for key, text in english.items():
        if key not in pot:
            pot.add((key, key) if isinstance(text, list) else key, auto_comments=[UNNAMED])
    return pot


def main(argv: list[str]) -> int:
    """``pot OUT``: write the template."""
    if len(argv) != 2 or argv[0] != "pot":
        sys.stderr.write("usage: python -m dialer.web.catalogs pot OUT.pot\n")
        return 2
    with Path(argv[1]).open("wb") as fh:
        write_po(fh, template(), width=100, sort_output=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
