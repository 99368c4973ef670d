"""Translations of the pages: gettext catalogs (English and Polish) read with Babel.

The catalogs are ``locale/<lang>/LC_MESSAGES/messages.po``, the source of truth; their
msgids are keys (``agent.call``), so templates call ``t("key", **params)`` and the page
scripts ``Dialer.t(key, params)`` with the whole catalog of the page's language. A text
shown with a count has plural forms (Polish has three: 1 rekord, 2 rekordy, 5 rekordów):
templates call ``tn("key", n, **params)``, scripts ``Dialer.tn(key, n, params)``.
The .po files are compiled to gettext's binary form in memory at first use (``make
compile`` writes the .mo files for other tools; ``make extract`` / ``make update`` keep
the catalogs in step with the code).

Enumerations are translated by prefix: ``phase.ready``, ``system_status.MY_RECORD``,
``outcome.busy``, ``campaign_state.running``, ``role.head``, ``reject.invalid_number`` …
Placeholders are ``{name}``. The language of a page is ``?lang=`` (remembered in the
``dialer_lang`` cookie), else that cookie, else the user's language, else the browser's
Accept-Language, else English. Numbers and dates the server writes into a page are
formatted for the page's language by Babel (:func:`formatters`).
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from babel.numbers import format_decimal, format_percent

LANG_COOKIE: Final = "dialer_lang"
LANGUAGES: Final = ("en", "pl")
DEFAULT_LANGUAGE: Final = "en"
LOCALE_DIR: Final = Path(__file__).parent / "locale"
DOMAIN: Final = "messages"
#: The locale numbers and dates are written in, per language: the same as the page
#: scripts' ``Intl`` locale (common.js), so server- and browser-written figures agree.
FORMAT_LOCALES: Final = {"en": "en_GB", "pl": "pl_PL"}


class CatalogError(Exception):
    """A catalog file that cannot be read: names the file (and Babel's complaint)."""

    error_id = "catalog_invalid"

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class Catalog:
    """One language's catalog: the compiled gettext translations (plural rule from the
    .po header) and, for the page scripts, every text by key (a list of forms for a text
    with plural forms)."""

    lang: str
    translations: gettext.GNUTranslations
    texts: Mapping[str, str | list[str]]
    plural_tags: tuple[str, ...]

    def text(self, key: str) -> str | None:
        """The text of ``key`` (its most general form if it has plural forms), or None."""
        found = self.texts.get(key)
        if isinstance(found, list):
            return found[-1]
        return found

    def plural(self, key: str, n: int) -> str | None:
        """The form of ``key`` for the count ``n``, or None when the catalog lacks it."""
        forms = self.texts.get(key)
        if isinstance(forms, str):
            return forms or None  # a text without plural forms reads the same for any n
        if not forms or not all(forms):
            return None  # missing or untranslated: the caller falls back to English
        return self.translations.ngettext(key, key, n)


def msgkey(key: str) -> str:
    """Mark ``key`` as a catalog key named in Python code (a page title, a menu label): it
    returns the key unchanged; ``make extract`` finds it."""
    return key


def po_path(lang: str) -> Path:
    """Where the .po catalog of ``lang`` lives."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def load(lang: str) -> Catalog:
    """``lang``'s catalog, read from its .po file and compiled once per process."""
    return read_catalog(po_path(lang), lang)


def read_catalog(path: Path, lang: str) -> Catalog:
    """Read a .po catalog and compile it in memory; a file that cannot be read or parsed
    is a :class:`CatalogError` naming it (and the line)."""
    try:
        with path.open("rb") as fh:
            po = read_po(fh, locale=lang, domain=DOMAIN, abort_invalid=True)
    except OSError as exc:
        raise CatalogError(path, exc.strerror or str(exc)) from exc
    except PoFileError as exc:  # its text names the line
        raise CatalogError(path, str(exc)) from exc
    texts: dict[str, str | list[str]] = {}
    for message in po:
        if not message.id or message.fuzzy:
            continue  # the header; a guess of `pybabel update` is not a translation
        if isinstance(message.id, tuple | list):
            texts[str(message.id[0])] = [str(form) for form in message.string or ()]
        else:
            texts[str(message.id)] = str(message.string)
    buffer = io.BytesIO()
    write_mo(buffer, po, use_fuzzy=False)
    buffer.seek(0)
    return Catalog(
        lang=lang,
        translations=gettext.GNUTranslations(buffer),
        texts=MappingProxyType(texts),
        plural_tags=plural_tags(lang, po.num_plurals),
    )


def plural_tags(lang: str, forms: int) -> tuple[str, ...]:
    """The CLDR plural categories of ``lang`` in gettext's index order (one, few, many…),
    as many as the catalog has forms: the page scripts map ``Intl.PluralRules`` to a form
    with it. (Polish "other" is only for fractions; it falls to the last form.)"""
    order = ("zero", "one", "two", "few", "many", "other")
    tags = Locale.parse(lang).plural_form.tags | {"other"}
    return tuple(tag for tag in order if tag in tags)[:forms]


def catalog(lang: str) -> dict[str, str | list[str]]:
    """Every text of ``lang`` by key, for the page scripts (English for a language we do
    not have)."""
    return dict(load(lang if lang in LANGUAGES else DEFAULT_LANGUAGE).texts)


def _fill(text: str, params: Mapping[str, object]) -> str:
    for name, value in params.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **params)`` for ``lang``: the text with ``{name}`` filled; the key itself
    when no catalog has it (a test keeps that from happening)."""
    own = load(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    fallback = load(DEFAULT_LANGUAGE)

    def t(key: str, **params: object) -> str:
        return _fill(own.text(key) or fallback.text(key) or key, params)

    return t


def plural_translator(lang: str) -> Callable[..., str]:
    """``tn(key, n, **params)`` for ``lang``: the form of ``key`` for the count ``n``
    (``{n}`` is the count formatted for the language unless given), placeholders filled."""
    own = load(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    fallback = load(DEFAULT_LANGUAGE)
    number = formatters(lang)["num"]

    def tn(key: str, n: int, **params: object) -> str:
        params.setdefault("n", number(n))
        text = own.plural(key, n) or fallback.plural(key, n) or key
        return _fill(text, params)

    return tn


def formatters(lang: str) -> dict[str, Callable[..., str]]:
    """``num``, ``pct`` and ``when`` for ``lang``: a number, a ratio as a percentage and a
    date-time (in ``tz``) written the way the language writes them (``1 234,5`` in
    Polish); ``–`` for a missing value. Exports keep raw values and do not use these."""
    locale = Locale.parse(FORMAT_LOCALES.get(lang, FORMAT_LOCALES[DEFAULT_LANGUAGE]))

    def num(value: float | None, digits: int = 2) -> str:
        if value is None:
            return "–"
        return str(format_decimal(value, format=f"#,##0.{'#' * digits}", locale=locale))

    def pct(value: float | None) -> str:
        if value is None:
            return "–"
        return str(format_percent(value, format="#,##0.0#%", locale=locale))

    def when(value: datetime | None, tz: str | None = None) -> str:
        if value is None:
            return "–"
        return str(
            format_datetime(
                value, format="short", tzinfo=ZoneInfo(tz) if tz else None, locale=locale
            )
        )

    return {"num": num, "pct": pct, "when": when}


def __getattr__(name: str) -> Mapping[str, str | list[str]]:
    """``EN`` and ``PL``: the catalogs' texts by key (for tests and tools)."""
    if name.lower() in LANGUAGES and name.isupper():
        return load(name.lower()).texts
    raise AttributeError(name)


def accepted_languages(header: str | None) -> list[str]:
    """Language codes of an Accept-Language header, best first (``pl-PL`` → ``pl``)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        code, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        base = code.strip().lower().split("-")[0]
        if base and base != "*" and quality > 0:
            ranked.append((-quality, index, base))
    return [code for _, _, code in sorted(ranked)]


def choose_language(
    *, query: str | None, cookie: str | None, user: str | None, accept: str | None
) -> str:
    """The page's language: ``?lang=``, the cookie, the user's, the browser's, English."""
    for candidate in (query, cookie, user):
        if candidate in LANGUAGES:
            return str(candidate)
    for code in accepted_languages(accept):
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE
