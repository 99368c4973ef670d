"""Phone normalisation: E.164, reasons for refusals, and zone keys equal to the shared rule."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.phones import (
    Normalized,
    PhoneError,
    PhoneNormalizer,
    PhoneReason,
    RegionError,
    normalize_phone,
)
from campaigns.windows import zone_key_for_number


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("601 234 567", "PL", "+48601234567"),
        ("+48 601-234-567", "PL", "+48601234567"),
        ("0048601234567", "PL", "+48601234567"),
        ("(22) 123 45 67", "PL", "+48221234567"),
        ("030 12345678", "DE", "+493012345678"),
        ("+44 (0)20 7946 0958", "PL", "+442079460958"),
        ("  +1 (415) 555-2671 ", "PL", "+14155552671"),
    ],
)
def test_formats_people_type_become_e164(raw: str, region: str, e164: str) -> None:
    """National, international, 00-prefixed and punctuated numbers normalise to E.164."""
    assert normalize_phone(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", PhoneReason.MISSING),
        ("   ", PhoneReason.MISSING),
        ("abc", PhoneReason.UNPARSABLE),
        ("12", PhoneReason.TOO_SHORT),
        ("+999 1234567", PhoneReason.INVALID_COUNTRY_CODE),
        ("+48 123 456 789 012 345 678", PhoneReason.TOO_LONG),
        ("+48 000 000 000", PhoneReason.INVALID_FOR_REGION),
    ],
)
def test_refusals_carry_a_reason(raw: str, reason: PhoneReason) -> None:
    """Each kind of bad number is refused with its own reason."""
    assert PhoneNormalizer("PL").normalize(raw) is reason


def test_phone_error_message_names_field_value_and_region() -> None:
    """PhoneError's message names the field, the value and, for bad country codes, the region."""
    with pytest.raises(PhoneError, match=r"phone: '\+999 1' has no valid country code .* now PL"):
        normalize_phone("+999 1")


def test_unknown_region_is_refused() -> None:
    """A default region that is not a two-letter region code is a clear error."""
    with pytest.raises(RegionError, match="region: 'POL' is not a known region"):
        PhoneNormalizer("POL")


def test_zone_key_from_number_and_fallback() -> None:
    """A Polish number is in Europe/Warsaw; a number with no zone data gets the fallback."""
    normalizer = PhoneNormalizer("PL", fallback_tz="Europe/Paris")
    result = normalizer.normalize("601234567")
    assert isinstance(result, Normalized)
    assert result.zone_key == "Europe/Warsaw"
    toll_free = normalizer.normalize("+1 800 253 0000")
    assert isinstance(toll_free, Normalized)
    expected = zone_key_for_number(phonenumbers.parse("+18002530000"), "Europe/Paris")
    assert toll_free.zone_key == expected


prefixes = st.sampled_from(
    ["", "0", "00", "+48", "+49", "+44", "+1", "+7", "+33", "+39", "+380", "+86", "+61", "+"]
)


@settings(max_examples=400, deadline=None)
@given(
    prefixes,
    st.text(alphabet="0123456789", min_size=0, max_size=13),
    st.sampled_from(["PL", "DE", "US"]),
)
def test_fast_path_agrees_with_phonenumbers(prefix: str, digits: str, region: str) -> None:
    """normalize() accepts exactly the numbers phonenumbers calls valid, with the same E.164 and
    the same zone key as campaigns.windows.zone_key_for_number."""
    raw = prefix + digits
    result = PhoneNormalizer(region).normalize(raw)
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        assert isinstance(result, PhoneReason)
        return
    valid = phonenumbers.is_valid_number(number)
    assert isinstance(result, Normalized) is valid
    if isinstance(result, Normalized):
        assert result.e164 == phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.E164
        )
        assert result.zone_key == zone_key_for_number(number, "UTC")


def _example(region: str, kind: int) -> str:
    number = phonenumbers.example_number_for_type(region, kind)
    if number is None:
        number = phonenumbers.example_number(region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["PL", "DE", "GB", "US", "CA", "FR", "RU", "BR", "AU", "IN", "MX", "ES"]),
    st.sampled_from(
        [
            phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.TOLL_FREE,
            phonenumbers.PhoneNumberType.VOIP,
        ]
    ),
    st.text(alphabet="0123456789", min_size=1, max_size=4),
)
def test_near_valid_numbers_agree_with_phonenumbers(region: str, kind: int, tail: str) -> None:
    """Example numbers of many countries and types with changed last digits (mostly valid)
    get the same validity, E.164 and zone key as phonenumbers and the shared zone rule."""
    base = _example(region, kind)
    raw = base[: -len(tail)] + tail
    result = PhoneNormalizer("PL").normalize(raw)
    number = phonenumbers.parse(raw, "PL")
    assert isinstance(result, Normalized) is phonenumbers.is_valid_number(number)
    if isinstance(result, Normalized):
        assert result.e164 == raw
        assert result.zone_key == zone_key_for_number(number, "UTC")


ALL_TYPES = [
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.SHARED_COST,
    phonenumbers.PhoneNumberType.VOIP,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    phonenumbers.PhoneNumberType.PAGER,
    phonenumbers.PhoneNumberType.UAN,
    phonenumbers.PhoneNumberType.VOICEMAIL,
]


@settings(max_examples=1500, deadline=None)
@given(
    st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)),
    st.sampled_from(ALL_TYPES),
    st.text(alphabet="0123456789", min_size=0, max_size=5),
    st.sampled_from(["", "0", "1", "00", "9"]),
)
def test_number_type_equals_phonenumbers_in_every_region(
    region: str, kind: int, tail: str, extra: str
) -> None:
    """The precompiled number type equals phonenumbers.number_type for numbers of every region
    and type (example numbers with changed, added or removed last digits)."""
    example = phonenumbers.example_number_for_type(region, kind)
    if example is None:
        return
    digits = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    raw = digits[: max(2, len(digits) - len(tail))] + tail + extra
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return
    assert PhoneNormalizer("PL").number_type(number) == phonenumbers.number_type(number)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)),
    st.text("0123456789", max_size=10),
)
def test_number_type_equals_phonenumbers_for_non_geographic_codes(cc: int, digits: str) -> None:
    """Global numbers (+800, +882, …) get the same type as phonenumbers gives them."""
    try:
        number = phonenumbers.parse(f"+{cc}{digits}", "PL")
    except phonenumbers.NumberParseException:
        return
    assert PhoneNormalizer("PL").number_type(number) == phonenumbers.number_type(number)
