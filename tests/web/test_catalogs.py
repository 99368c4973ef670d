"""The gettext catalogs: every key the code names (found by Babel's extractors) is in both,
no Polish entry is left untranslated, plural forms follow each language's rule (Polish:
1 rekord, 2–4 rekordy, 5+ rekordów, 22 rekordy, 25 rekordów), and server-written numbers
and dates follow the page's language."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.pofile import read_po
from fastapi import FastAPI

from campaigns.status_engine import RuleRefusal
from dialer.web.catalogs import ROOT, UNNAMED, UsedKey, template, used_keys
from dialer.web.i18n import (
    LANGUAGES,
    CatalogError,
    catalog,
    formatters,
    load,
    plural_translator,
    po_path,
    read_catalog,
    translator,
)
from tests.web.browser import chromium, new_context, page_errors, serve
from tests.web.conftest import page_client
from tests.web.test_i18n import ENUMERATIONS, _dynamic_key

#: How many forms a text read with a count has in each language.
FORMS = {"en": 2, "pl": 3}


@cache
def _extracted(root: Path) -> tuple[UsedKey, ...]:
    """The keys Babel extracts under ``root`` (once per run: it takes a few seconds)."""
    return tuple(used_keys(root))


def _problems(root: Path) -> list[str]:
    """Keys used under ``root`` that a catalog lacks, or has without the plural forms a
    ``tn`` call needs."""
    problems = []
    for used in _extracted(root):
        for lang in LANGUAGES:
            text = load(lang).texts.get(used.key)
            where = f"{used.path}:{used.line} {used.key!r} ({lang})"
            if text is None:
                problems.append(f"{where}: missing")
            elif used.plural and not (isinstance(text, list) and len(text) == FORMS[lang]):
                problems.append(f"{where}: needs {FORMS[lang]} plural forms")
    return problems


def test_every_key_the_code_uses_is_in_both_catalogs() -> None:
    """Babel's extraction of the templates, page scripts and Python code finds several
    hundred keys, every one of them (and every enumeration's key) in English and Polish,
    with plural forms where it is read with a count."""
    keys = {used.key for used in _extracted(ROOT)}
    assert len(keys) > 500
    assert {"records.page_of", "nav.dashboard", "agent.title", "login.submit"} <= keys
    assert _problems(ROOT) == []
    for prefix, values in ENUMERATIONS.items():
        for value in values:
            for lang in LANGUAGES:
                assert _dynamic_key(prefix, value) in load(lang).texts, (prefix, value, lang)


def test_the_check_fails_on_a_key_missing_from_the_catalogs(tmp_path: Path) -> None:
    """A template, a script and Python code naming keys the catalogs lack, or reading a
    singular text with a count, are each reported with file and line."""
    shutil.copy(ROOT / "babel.cfg", tmp_path / "babel.cfg")
    templates = tmp_path / "dialer" / "web" / "templates"
    static = tmp_path / "dialer" / "web" / "static"
    templates.mkdir(parents=True)
    static.mkdir(parents=True)
    (templates / "x.html").write_text('<h1>{{ t("nope.title") }}</h1>\n{{ tn("app.save", 3) }}\n')
    (static / "x.js").write_text('D.setText(el, D.tn("nope.count", 3, {}));\n')
    (tmp_path / "dialer" / "x.py").write_text('TITLE = msgkey("nope.python")\n')
    problems = _problems(tmp_path)
    assert any(p.startswith("dialer/web/templates/x.html:1 'nope.title'") for p in problems)
    assert any("x.html:2 'app.save' (pl): needs 3 plural forms" in p for p in problems)
    assert any(p.startswith("dialer/web/static/x.js:1 'nope.count'") for p in problems)
    assert any(p.startswith("dialer/x.py:1 'nope.python'") for p in problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_entry_is_untranslated_or_fuzzy(lang: str) -> None:
    """Every entry of each .po file has its text (all plural forms), none is a fuzzy
    guess, none is obsolete; the header's plural rule has the language's form count."""
    with po_path(lang).open("rb") as fh:
        po = read_po(fh, locale=lang)
    assert po.num_plurals == FORMS[lang]
    assert len(po) > 700
    untranslated = [
        message.id
        for message in po
        if message.id
        and (
            message.fuzzy
            or not message.string
            or (message.pluralizable and not all(message.string))
        )
    ]
    assert untranslated == []
    assert po.obsolete == {}


def test_template_keeps_the_keys_no_call_names() -> None:
    """The .pot holds the extracted keys and the English catalog's others (enumerations),
    so `make update` never retires a text translated by prefix."""
    pot = template()
    assert pot.get("phase.ready") is not None
    assert UNNAMED in pot.get("phase.ready").auto_comments
    assert pot.get("records.page_of").pluralizable
    assert set(load("en").texts) <= {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in pot
        if message.id
    }


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1 rekord"),
        (2, "2 rekordy"),
        (4, "4 rekordy"),
        (5, "5 rekordów"),
        (12, "12 rekordów"),
        (14, "14 rekordów"),
        (21, "21 rekordów"),
        (22, "22 rekordy"),
        (25, "25 rekordów"),
        (104, "104 rekordy"),
        (0, "0 rekordów"),
    ],
)
def test_polish_plural_forms(n: int, expected: str) -> None:
    """Polish picks one / few / many: 1, 2–4 (22–24, not 12–14), 5+ (and 0, 21, 25)."""
    tn = plural_translator("pl")
    assert tn("records.page_of", n, page=1, pages=1, total=n) == f"Strona 1 z 1 ({expected})"


def test_english_plural_forms_and_counts_formatted() -> None:
    """English has one and other; the count in {n} is written for the language."""
    tn = plural_translator("en")
    assert tn("import.more", 1, count=1) == "… and 1 more rejected row not shown."
    assert tn("import.more", 2, count=2) == "… and 2 more rejected rows not shown."
    assert translator("en")("import.more", count=7) == "… and 7 more rejected rows not shown."
    assert tn("app.save", 3) == "Save"  # a text without plural forms, whatever the count
    assert tn("no.such_key", 3) == "no.such_key"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_rule_of_the_catalog_agrees_with_cldr(lang: str) -> None:
    """The .po header's rule (used on the server) and the CLDR categories the page scripts
    map with Intl.PluralRules give the same form for every count up to 1,000."""
    catalog = load(lang)
    rule = Locale.parse(lang).plural_form
    for n in range(1001):
        server = catalog.translations.ngettext("records.page_of", "records.page_of", n)
        index = next(i for i, text in enumerate(catalog.texts["records.page_of"]) if text == server)
        assert catalog.plural_tags[index] == rule(n), (lang, n)


def test_a_broken_catalog_names_its_file_and_line(tmp_path: Path) -> None:
    """A .po file with a syntax error is refused with its path and Babel's complaint; a
    missing one with its path."""
    broken = tmp_path / "messages.po"
    broken.write_text('msgid "a.b"\nmsgstr "x"\n\nmsgid "c.d"\nmsgid "e.f"\nmsgstr "y"\n')
    with pytest.raises(CatalogError) as caught:
        read_catalog(broken, "pl")
    assert str(broken) in str(caught.value)
    assert "c.d" in caught.value.reason  # Babel's words: the msgid without a msgstr, its line
    with pytest.raises(CatalogError, match=r"missing\.po"):
        read_catalog(tmp_path / "missing.po", "pl")


def test_numbers_and_dates_follow_the_language() -> None:
    """Babel writes numbers, percentages and dates the way each language does (the same
    locales as the page scripts: en-GB, pl-PL); a missing value is a dash."""
    pl, en = formatters("pl"), formatters("en")
    assert pl["num"](1234567.891) == "1\xa0234\xa0567,89"
    assert en["num"](1234567.891) == "1,234,567.89"
    assert pl["pct"](0.0312) == "3,12%"
    assert en["pct"](0.5) == "50.0%"
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 in Warsaw: DST began at 01:00
    assert pl["when"](moment, "Europe/Warsaw") == "29.03.2026, 03:30"
    assert en["when"](moment, "Europe/Warsaw") == "29/03/2026, 03:30"
    assert pl["num"](None) == "–"


@pytest.mark.browser
async def test_page_scripts_choose_the_same_plural_forms(app: FastAPI) -> None:
    """In a real browser, Dialer.tn picks the form the server's rule picks for each count
    (Polish 1, 2, 4, 5, 12, 22, 25, 104; English 1, 2), and Dialer.t of a plural text
    without a count gives its general form."""
    counts = {"pl": [0, 1, 2, 4, 5, 12, 14, 21, 22, 25, 104], "en": [0, 1, 2, 22]}
    async with serve(app) as url, chromium() as browser:
        page = await (await new_context(browser, url)).new_page()
        errors = page_errors(page)
        for lang, numbers in counts.items():
            await page.goto(f"/login?lang={lang}")
            await page.wait_for_function("() => window.Dialer && window.Dialer.tn")
            tn = plural_translator(lang)
            for n in numbers:
                shown = await page.evaluate(
                    "(n) => Dialer.tn('records.page_of', n, {page: 1, pages: 1, total: n})", n
                )
                assert shown == tn("records.page_of", n, page=1, pages=1, total=n), (lang, n)
            general = await page.evaluate("() => Dialer.t('import.more', {count: 7})")
            assert general == translator(lang)("import.more", count=7)
        assert errors == []


def test_pages_carry_the_plural_rule_and_the_forms(app: FastAPI) -> None:
    """A page names its language's plural categories for the scripts and embeds the
    catalog with every form of a text read with a count."""
    client = page_client(app, "admin")
    for lang, tags in (("pl", "one few many"), ("en", "one other")):
        html = client.get("/dashboard", params={"lang": lang}).text
        assert f'data-plural="{tags}"' in html
        embedded = re.search(r'<script type="application/json" id="i18n">(.*?)</script>', html)
        assert embedded is not None
        texts = json.loads(embedded.group(1))
        assert texts["records.page_of"] == load(lang).texts["records.page_of"]
        assert len(texts["records.page_of"]) == FORMS[lang]


def test_an_untranslated_form_is_no_text(tmp_path: Path) -> None:
    """A plural entry with an empty form, or a fuzzy guess, gives no text (the page falls
    back to English) rather than an empty string or the key."""
    path = tmp_path / "messages.po"
    path.write_text(
        'msgid ""\nmsgstr ""\n"Language: pl\\n"\n'
        '"Plural-Forms: nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && '
        '(n%100<10 || n%100>=20) ? 1 : 2);\\n"\n\n'
        'msgid "a.count"\nmsgid_plural "a.count"\nmsgstr[0] "{n} rekord"\n'
        'msgstr[1] ""\nmsgstr[2] "{n} rekordów"\n\n'
        '#, fuzzy\nmsgid "b.title"\nmsgstr "Zgadnięte"\n\n'
        'msgid "c.title"\nmsgstr "Tytuł"\n'
    )
    catalog = read_catalog(path, "pl")
    assert catalog.plural("a.count", 1) is None
    assert catalog.text("b.title") is None
    assert catalog.text("c.title") == "Tytuł"


def test_every_status_refusal_is_said_in_each_language() -> None:
    """Each code a status refusal carries (``RuleRefusal``) has its sentence in both
    catalogs, whose placeholders are among the values the refusals send."""
    sent = {"status", "max", "id", "code"}
    for lang in ("en", "pl"):
        texts = catalog(lang)
        for code in RuleRefusal:
            key = f"rule.{code.value}"
            assert texts.get(key), f"{lang}: {key} missing"
            placeholders = set(re.findall(r"\{(\w+)\}", str(texts[key])))
            assert placeholders <= sent, f"{lang}: {key} uses {placeholders - sent}"
