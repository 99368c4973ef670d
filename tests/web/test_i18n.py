"""The English and Polish catalogs: same keys, every key the pages use, every state name,
outcome and system status translated; the language choice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from campaigns.desk import DIAL_REFUSAL_REASONS
from campaigns.enums import CampaignState, Outcome, Role, SystemStatus
from campaigns.importer import RejectReason
from campaigns.inbound import CloseReason, EventKind, RowState
from campaigns.records import RecordAction, Skip
from campaigns.requests import RequestKind, RequestState
from campaigns.service import RETRY_KEYS
from campaigns.status_engine import NotCallable, RuleRefusal
from dialer.engine import CallPhase
from dialer.engine.agents import Phase
from dialer.web.i18n import (
    EN,
    LANGUAGES,
    PL,
    accepted_languages,
    choose_language,
    translator,
)
from dialer.web.pages import NAV

WEB = Path(__file__).parents[2] / "dialer" / "web"
TEMPLATES = sorted((WEB / "templates").glob("*.html"))
SCRIPTS = sorted((WEB / "static").glob("*.js"))

#: Keys built from a prefix and a value at run time, and the values each must cover.
ENUMERATIONS: dict[str, list[str]] = {
    "phase": [p.value for p in Phase],
    "call_phase": [p.value for p in CallPhase],
    "system_status": [s.value for s in SystemStatus],
    "system_status_help": [s.value for s in SystemStatus],
    "outcome": [o.value for o in Outcome],
    "campaign_state": [s.value for s in CampaignState],
    "role": [r.value for r in Role],
    "reject": [r.value for r in RejectReason],
    "retry": list(RETRY_KEYS),
    "day": [str(d) for d in range(1, 8)],
    "lang": list(LANGUAGES),
    "pause_reason": [
        *("break", "lunch", "training", "meeting", "technical", "other"),
        *("seat", "seat_lost"),
    ],
    "pacing_mode": ["progressive", "ratio", "predictive"],
    "agent.pending_": ["paused", "logged_out"],
    "dashboard.level_": ["ok", "warn", "over"],
    "dashboard.window_": ["today", "rolling_24h", "rolling_30d", "last_hour"],
    "dashboard.calls_": ["ringing", "waiting", "talking"],
    "dashboard.": ["dials", "answered", "connected", "dropped"],
    "campaigns.": ["start", "pause", "stop"],
    "alert": ["no_seat", "overload"],
    "dial_refused": list(DIAL_REFUSAL_REASONS),
    "request_state": [s.value for s in RequestState],
    "request_kind": [k.value for k in RequestKind],
    "wl_state": [s.value for s in RowState],
    "wl_kind": [k.value for k in EventKind],
    "wl_closed": [r.value for r in CloseReason],
    "wl_reason": ["abandoned", "left_unanswered", "after-hours", "missed"],
    "rule": [r.value for r in RuleRefusal],
    "records": [
        *("total", "due_now", "waiting", "outside_window", "in_flight", "dnc", "exhausted"),
        "parked",
    ],
    "record_action": [a.value for a in RecordAction],
    "idle": [
        *("circuit_breaker", "not_running", "outside_hours", "list_exhausted", "nothing_due"),
        *("outside_every_window", "no_engine", "no_agents", "no_agent_ready"),
        "compliance_guard",
    ],
    "dashboard.force_": ["ready", "pause", "logout"],
    "field": [
        *("status_id", "owner_agent_id", "agent_id", "date", "note", "name", "tz", "fields"),
        *("ids", "phone", "file", "campaign", "reason"),
    ],
    "dashboard.overdue_": ["long_pause", "stuck_wrapup"],
    "not_callable": [n.value for n in NotCallable],
    "skip": [s.value for s in Skip],
    "audit_action": [
        f"record_{a}" for a in (*RecordAction, "edit", "status_by_hand", "status_set")
    ],
}


def _used_keys() -> tuple[set[str], set[str]]:
    """(literal keys, dynamic prefixes) used by the templates and the scripts."""
    literal: set[str] = set()
    prefixes: set[str] = set()
    for path in TEMPLATES:
        text = path.read_text()
        literal |= set(re.findall(r"""\btn?\(["']([a-z0-9_.]+)["'][,)]""", text))
        # Macros whose arguments name catalog keys.
        macro_calls = r"""\{\{ (?:field|days|lists\.import_report)\((.*?)\) \}\}"""
        for call in re.findall(macro_calls, text):
            literal |= set(re.findall(r"""["']([a-z_]+\.[a-z0-9_]+)["']""", call))
        prefixes |= {p.rstrip(".") for p in re.findall(r"""\bt\(["']([a-z_.]+)["'] ~""", text)}
    for path in SCRIPTS:
        text = path.read_text()
        literal |= set(re.findall(r"""D\.tn?\(["']([a-z0-9_.]+)["']\s*[,)]""", text))
        prefixes |= set(re.findall(r"""D\.tv\(["']([a-z_]+)["']""", text))
        prefixes |= {
            p if p.endswith("_") else p.rstrip(".")
            for p in re.findall(r"""D\.t\(["']([a-z_.]+)["'] \+""", text)
        }
    literal |= {item.label for item in NAV}
    return literal, prefixes


def _forms(text: str | list[str]) -> list[str]:
    """A text's forms (one, or its plural forms)."""
    return [text] if isinstance(text, str) else text


def _dynamic_key(prefix: str, value: str) -> str:
    return prefix + value if prefix.endswith(("_", ".")) else f"{prefix}.{value}"


def test_both_catalogs_have_the_same_keys_and_no_empty_text() -> None:
    """English and Polish have exactly the same keys, each with a non-empty text."""
    assert set(EN) == set(PL)
    for lang, texts in (("en", EN), ("pl", PL)):
        empty = [key for key, text in texts.items() if not all(_forms(text))]
        assert empty == [], lang


def test_placeholders_match_between_languages() -> None:
    """A text's {placeholders} are the same in English and Polish."""
    for key, text in EN.items():
        names = {name for form in _forms(text) for name in re.findall(r"\{(\w+)\}", form)}
        for form in (*_forms(text), *_forms(PL[key])):
            assert set(re.findall(r"\{(\w+)\}", form)) == names, key


def test_polish_is_really_translated() -> None:
    """Most Polish texts differ from the English ones (a copied catalog would not)."""
    same = [key for key in EN if EN[key] == PL[key]]
    assert len(same) < len(EN) // 10, same


def test_every_key_the_pages_use_exists() -> None:
    """Every literal key in the templates and scripts is in the catalogs."""
    literal, _ = _used_keys()
    assert len(literal) > 100
    missing = sorted(key for key in literal if key not in EN)
    assert missing == []


def test_every_enumeration_is_translated() -> None:
    """Every dynamic prefix the pages use is known here, and every value of it (agent
    phases, call phases, system statuses, outcomes, campaign states, roles, import reject
    reasons …) has a text in both languages."""
    _, prefixes = _used_keys()
    unknown = sorted(p for p in prefixes if p not in ENUMERATIONS and p + "." not in ENUMERATIONS)
    assert unknown == []
    for prefix, values in ENUMERATIONS.items():
        for value in values:
            key = _dynamic_key(prefix, value)
            assert key in EN, key
            assert key in PL, key


def test_system_status_names_follow_the_product_vocabulary() -> None:
    """Polish system status names are the ones users know (seed 003)."""
    assert PL["system_status.TO_CALL"] == "Do dzwonienia"
    assert PL["system_status.MY_RECORD"] == "Mój rekord"
    assert PL["system_status.NOT_BEFORE"] == "Kontakt nie wcześniej niż"
    assert PL["system_status.DO_NOT_CALL"] == "Nie dzwonić"
    assert PL["system_status.CALL_PROGRESSIVE"] == "Dzwonić progressive"


def test_translator_fills_placeholders_and_falls_back() -> None:
    """t() fills {name} placeholders; an unknown language gets English."""
    assert translator("pl")("dashboard.cap", cap="3 %") == "limit 3 %"
    assert translator("xx")("login.title") == EN["login.title"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("pl-PL,pl;q=0.9,en-US;q=0.8,en;q=0.7", ["pl", "pl", "en", "en"]),
        ("en;q=0.3, pl;q=0.8", ["pl", "en"]),
        ("de, *;q=0.5", ["de"]),
        ("pl;q=0, en", ["en"]),
        ("pl;q=abc, en", ["en"]),
        ("", []),
        (None, []),
    ],
)
def test_accept_language_parsing(header: str | None, expected: list[str]) -> None:
    """Accept-Language is read by quality, then order; q=0 and bad values are skipped."""
    assert accepted_languages(header) == expected


def test_language_choice_order() -> None:
    """?lang wins over the cookie, the cookie over the user's, the user's over the browser's;
    unknown codes are ignored."""
    assert choose_language(query="pl", cookie="en", user="en", accept="en") == "pl"
    assert choose_language(query="xx", cookie="pl", user="en", accept="en") == "pl"
    assert choose_language(query=None, cookie=None, user="pl", accept="en") == "pl"
    assert choose_language(query=None, cookie=None, user=None, accept="de, pl;q=0.5") == "pl"
    assert choose_language(query=None, cookie=None, user=None, accept="de") == "en"


def test_every_catalog_key_is_used() -> None:
    """No text in the catalogs is dead: each key is used literally or as a value of an
    enumeration the pages translate."""
    literal, _ = _used_keys()
    for path in SCRIPTS:  # keys a script picks by condition: "live.on" : "live.off"
        literal |= set(re.findall(r"""["']([a-z_]+\.[a-z0-9_]+)["']""", path.read_text()))
    dynamic = {
        _dynamic_key(prefix, value) for prefix, values in ENUMERATIONS.items() for value in values
    }
    errors = {key for key in EN if key.startswith("error.")}  # chosen by the API's error id
    unused = sorted(set(EN) - literal - dynamic - errors)
    assert unused == []
