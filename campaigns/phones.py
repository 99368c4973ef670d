"""Phone numbers: E.164 normalisation, validity with reasons, and the called person's zone.

``PhoneNormalizer.normalize`` is the hot path of list import (a million rows per run): it
returns a value or a reason instead of raising, parses each number once (``phonenumbers``),
derives validity from the number type it needs for the zone anyway, and caches zone keys
per country code and per phonenumbers time-zone prefix. ``zone_key`` gives the same key as
``campaigns.windows.zone_key_for_number``, and ``_TypeOracle`` the same number type as
``phonenumbers.number_type`` (both checked against phonenumbers by property tests), only
faster: the type is the single largest cost after parsing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    REGION_CODE_FOR_NON_GEO_ENTITY,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberFormat,
    PhoneNumberType,
)
from phonenumbers.phonenumberutil import ValidationResult, is_number_type_geographical
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from campaigns.errors import CampaignError

_UNKNOWN_TZ = "Etc/Unknown"


class PhoneReason(StrEnum):
    """Why a phone number was refused."""

    MISSING = "missing"
    UNPARSABLE = "unparsable"
    INVALID_COUNTRY_CODE = "invalid_country_code"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    INVALID_LENGTH = "invalid_length"
    INVALID_FOR_REGION = "invalid_for_region"
    """Parsed, of a possible length, but no number of that country has this form."""

    def explain(self, raw: str, region: str) -> str:
        """A sentence a supervisor can act on."""
        texts = {
            PhoneReason.MISSING: "no phone number",
            PhoneReason.UNPARSABLE: f"{raw!r} is not a phone number",
            PhoneReason.INVALID_COUNTRY_CODE: (
                f"{raw!r} has no valid country code (write +CC… or set the default region,"
                f" now {region})"
            ),
            PhoneReason.TOO_SHORT: f"{raw!r} is too short",
            PhoneReason.TOO_LONG: f"{raw!r} is too long",
            PhoneReason.INVALID_LENGTH: f"{raw!r} has a length no number of its country has",
            PhoneReason.INVALID_FOR_REGION: f"{raw!r} is not a valid number (default region"
            f" {region})",
        }
        return texts[self]


class PhoneError(CampaignError):
    """A phone number given by a person is not valid."""

    error_id = "invalid_phone"

    def __init__(self, raw: str, reason: PhoneReason, region: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(f"phone: {reason.explain(raw, region)}")


class RegionError(CampaignError):
    """The default region is not a known two-letter region code."""

    error_id = "invalid_region"

    def __init__(self, region: str) -> None:
        self.region = region
        super().__init__(
            f"region: {region!r} is not a known region, expected a two-letter code such as PL"
        )


@dataclass(frozen=True, slots=True)
class Normalized:
    """A valid number: its E.164 form and the zone key of the called person."""

    e164: str
    zone_key: str


_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: PhoneReason.INVALID_COUNTRY_CODE,
    NumberParseException.NOT_A_NUMBER: PhoneReason.UNPARSABLE,
    NumberParseException.TOO_SHORT_AFTER_IDD: PhoneReason.TOO_SHORT,
    NumberParseException.TOO_SHORT_NSN: PhoneReason.TOO_SHORT,
    NumberParseException.TOO_LONG: PhoneReason.TOO_LONG,
}
_POSSIBLE_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: PhoneReason.INVALID_COUNTRY_CODE,
    ValidationResult.TOO_SHORT: PhoneReason.TOO_SHORT,
    ValidationResult.TOO_LONG: PhoneReason.TOO_LONG,
    ValidationResult.INVALID_LENGTH: PhoneReason.INVALID_LENGTH,
}


def check_region(region: str) -> str:
    """Return the upper-cased region code, or raise ``RegionError``."""
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise RegionError(region)
    return code


#: The number types phonenumbers tests before fixed line and mobile, in its order.
_SPECIAL_TYPES = (
    (PhoneNumberType.PREMIUM_RATE, "premium_rate"),
    (PhoneNumberType.TOLL_FREE, "toll_free"),
    (PhoneNumberType.SHARED_COST, "shared_cost"),
    (PhoneNumberType.VOIP, "voip"),
    (PhoneNumberType.PERSONAL_NUMBER, "personal_number"),
    (PhoneNumberType.PAGER, "pager"),
    (PhoneNumberType.UAN, "uan"),
    (PhoneNumberType.VOICEMAIL, "voicemail"),
)

#: A number description: (allowed lengths or None for any, full-match function).
_Desc = tuple[frozenset[int] | None, Callable[[str], object]]


def _desc(desc: Any) -> _Desc | None:
    """A description that can match, or None (phonenumbers: never matches)."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = frozenset(desc.possible_length) if len(desc.possible_length) > 0 else None
    return lengths, re.compile(desc.national_number_pattern).fullmatch


def _matches(desc: _Desc | None, nsn: str) -> bool:
    if desc is None:
        return False
    lengths, fullmatch = desc
    if lengths is not None and len(nsn) not in lengths:
        return False
    return fullmatch(nsn) is not None


class _Types:
    """One region's metadata, precompiled: ``of(nsn)`` mirrors phonenumbers' type helper."""

    __slots__ = ("fixed", "general", "leading", "mobile", "same", "specials")

    def __init__(self, metadata: Any) -> None:
        self.general = _desc(metadata.general_desc)
        self.specials = tuple(
            (kind, d) for kind, name in _SPECIAL_TYPES if (d := _desc(getattr(metadata, name)))
        )
        self.fixed = _desc(metadata.fixed_line)
        self.mobile = _desc(metadata.mobile)
        self.same = bool(metadata.same_mobile_and_fixed_line_pattern)
        leading = metadata.leading_digits
        self.leading = None if leading is None else re.compile(leading).match

    def of(self, nsn: str) -> int:
        """The number type of the national significant number ``nsn`` in this region."""
        if not _matches(self.general, nsn):
            return PhoneNumberType.UNKNOWN
        for kind, desc in self.specials:
            if _matches(desc, nsn):
                return kind
        if _matches(self.fixed, nsn):
            if self.same or _matches(self.mobile, nsn):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if not self.same and _matches(self.mobile, nsn):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN


class _TypeOracle:
    """``phonenumbers.number_type`` with the region metadata precompiled and cached."""

    def __init__(self) -> None:
        self._regions: dict[int, tuple[tuple[str, _Types | None], ...]] = {}
        self._nongeo: dict[int, _Types | None] = {}

    def _for_country(self, cc: int) -> tuple[tuple[str, _Types | None], ...]:
        found = self._regions.get(cc)
        if found is None:
            regions = COUNTRY_CODE_TO_REGION_CODE.get(cc, ())
            found = tuple((code, self._region(code)) for code in regions)
            self._regions[cc] = found
        return found

    @staticmethod
    def _region(code: str) -> _Types | None:
        if code == REGION_CODE_FOR_NON_GEO_ENTITY:
            return None  # looked up per calling code, see number_type
        metadata = PhoneMetadata.metadata_for_region(code.upper(), None)
        return None if metadata is None else _Types(metadata)

    def _nongeo_types(self, cc: int) -> _Types | None:
        if cc not in self._nongeo:
            metadata = PhoneMetadata.metadata_for_nongeo_region(cc, None)
            self._nongeo[cc] = None if metadata is None else _Types(metadata)
        return self._nongeo[cc]

    def number_type(self, number: Any) -> int:
        """The type of a parsed number (``UNKNOWN`` when it is not a valid number)."""
        cc = number.country_code
        regions = self._for_country(cc)
        if not regions:
            return PhoneNumberType.UNKNOWN
        nsn = phonenumbers.national_significant_number(number)
        if len(regions) == 1:
            code, types = regions[0]
        else:
            code, types = "", None
            # phonenumbers' region choice: leading digits when the region has them, else
            # the first region where the number is valid.
            for candidate, candidate_types in regions:
                if candidate_types is None:
                    continue
                leading = candidate_types.leading
                if leading is not None:
                    found = leading(nsn) is not None
                else:
                    found = candidate_types.of(nsn) != PhoneNumberType.UNKNOWN
                if found:
                    code, types = candidate, candidate_types
                    break
        if code == REGION_CODE_FOR_NON_GEO_ENTITY:
            types = self._nongeo_types(cc)
        if types is None:
            return PhoneNumberType.UNKNOWN
        return types.of(nsn)


#: One oracle for the process: the compiled metadata is the same for every normaliser.
_TYPES = _TypeOracle()


def _key(names: tuple[str, ...] | list[str], fallback: str) -> str:
    known = sorted(n for n in names if n and n != _UNKNOWN_TZ)
    return " ".join(known) if known else fallback


class PhoneNormalizer:
    """Normalise raw numbers for one default region; reuse it for a whole file."""

    def __init__(self, default_region: str = "PL", *, fallback_tz: str = "UTC") -> None:
        # Keep phonenumbers' compiled patterns instead of re's bounded cache (≈10 % faster).
        phonenumbers.enable_pattern_cache()
        self.region = check_region(default_region)
        self.fallback_tz = fallback_tz
        self._types = _TYPES
        self._country_keys: dict[int, str] = {}
        self._prefix_keys: dict[str, str] = {}

    def number_type(self, number: Any) -> int:
        """``phonenumbers.number_type(number)``, computed faster (same result, tested)."""
        return self._types.number_type(number)

    def zone_key(self, number: Any, ntype: int, e164: str) -> str:
        """The zone key of a valid parsed number of type ``ntype`` (E.164 ``e164``)."""
        cc = number.country_code
        if not is_number_type_geographical(ntype, cc):
            key = self._country_keys.get(cc)
            if key is None:
                key = self._country_key(cc)
                self._country_keys[cc] = key
            return key
        digits = e164[1:]
        for length in range(min(TIMEZONE_LONGEST_PREFIX, len(digits)), 0, -1):
            prefix = digits[:length]
            key = self._prefix_keys.get(prefix)
            if key is not None:
                return key
            names = TIMEZONE_DATA.get(prefix)
            if names is not None:
                key = _key(names, self.fallback_tz)
                self._prefix_keys[prefix] = key
                return key
        return self.fallback_tz

    def _country_key(self, cc: int) -> str:
        text = str(cc)
        for length in range(min(TIMEZONE_LONGEST_PREFIX, len(text)), 0, -1):
            names = TIMEZONE_DATA.get(text[:length])
            if names is not None:
                return _key(names, self.fallback_tz)
        return self.fallback_tz

    def normalize(self, raw: str) -> Normalized | PhoneReason:
        """The E.164 number and zone key of ``raw``, or the reason it is refused."""
        text = raw.strip()
        if not text:
            return PhoneReason.MISSING
        try:
            number = phonenumbers.parse(text, self.region)
        except NumberParseException as exc:
            return _PARSE_REASONS.get(exc.error_type, PhoneReason.UNPARSABLE)
        ntype = self._types.number_type(number)
        if ntype == PhoneNumberType.UNKNOWN:
            possible = phonenumbers.is_possible_number_with_reason(number)
            return _POSSIBLE_REASONS.get(possible, PhoneReason.INVALID_FOR_REGION)
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        return Normalized(e164, self.zone_key(number, ntype, e164))

    def e164(self, raw: str) -> str:
        """The E.164 form of ``raw``; raises ``PhoneError`` naming the reason."""
        result = self.normalize(raw)
        if isinstance(result, PhoneReason):
            raise PhoneError(raw, result, self.region)
        return result.e164


def normalize_phone(raw: str, region: str = "PL") -> str:
    """The E.164 form of one number typed by a person (raises ``PhoneError``)."""
    return PhoneNormalizer(region).e164(raw)
