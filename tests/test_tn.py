"""RFC 8224 §8.3 telephone-number canonicalisation and TN extraction from URIs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from shakenlib.errors import ShakenError, TelephoneNumberError
from shakenlib.tn import canonical_tn, tn_from_uri


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+12155551212", "12155551212"),
        ("+1 (215) 555-1212", "12155551212"),
        ("1.215.555.1212", "12155551212"),
        ("tel:+1-215-555-1212;verstat=TN-Validation-Passed", "12155551212"),
        ("TEL:+12155551212", "12155551212"),
        ("*67#", "*67#"),
        ("  +442071838750 ", "442071838750"),
    ],
)
def test_canonical_tn(value: str, expected: str) -> None:
    assert canonical_tn(value) == expected


@pytest.mark.parametrize("value", ["", "+", "alice", "12a34", "1+2", "(-.)", ";x=1", "١٢٣"])
def test_canonical_tn_rejects_non_numbers(value: str) -> None:
    with pytest.raises(TelephoneNumberError) as info:
        canonical_tn(value)
    assert info.value.code == "tn_invalid"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("tel:+12155551212", "12155551212"),
        ("<tel:+1-215-555-1212;npdi;rn=+12155550000>;tag=1", "12155551212"),
        ("sip:+12155551212@example.com;user=phone", "12155551212"),
        ("sips:12155551212@example.com", "12155551212"),
        ("sip:+12155551212;verstat=TN-Validation-Passed@example.com;user=phone", "12155551212"),
        ('"Alice" <sip:+12155551212@example.com>;tag=x', "12155551212"),
        ('"Doe, <J>" <sip:+12155551212@example.com>', "12155551212"),
        ('"a \\" b" <sip:+12155551212@h>', "12155551212"),
        ("<sip:%2B12155551212@example.com>", "12155551212"),
        ("sip:+12155551212:secret@example.com", "12155551212"),
        ("+1 215 555 1212", "12155551212"),
        ("12155551212;foo=bar", "12155551212"),
    ],
)
def test_tn_from_uri(value: str, expected: str) -> None:
    assert tn_from_uri(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "anonymous",
        "alice",
        "sip:anonymous@anonymous.invalid",
        '"Anonymous" <sip:anonymous@anonymous.invalid>;tag=1',
        "sip:alice@example.com",
        "sip:example.com",
        "urn:service:sos",
        "<>",
        '"unterminated',
    ],
)
def test_tn_from_uri_none_for_non_numbers(value: str) -> None:
    assert tn_from_uri(value) is None


@settings(max_examples=200)
@given(st.text())
def test_canonical_tn_is_idempotent_and_raises_only_shaken_errors(value: str) -> None:
    try:
        once = canonical_tn(value)
    except ShakenError as exc:
        assert isinstance(exc, TelephoneNumberError)
        return
    assert canonical_tn(once) == once
    assert once
    assert set(once) <= set("0123456789#*")


@settings(max_examples=200)
@given(st.from_regex(r"\+?[0-9][0-9 ().\-]{0,20}", fullmatch=True))
def test_canonical_tn_keeps_exactly_the_digits(value: str) -> None:
    assert canonical_tn(value) == "".join(ch for ch in value if ch.isdigit())


@settings(max_examples=200)
@given(st.text())
def test_tn_from_uri_never_raises(value: str) -> None:
    result = tn_from_uri(value)
    assert result is None or canonical_tn(result) == result


@pytest.mark.parametrize(
    "value",
    ["sip:+12155551212%3Bx@example.com", "<sip:+1%3b2155551212@example.com;user=phone>"],
)
def test_escaped_semicolon_in_user_part_is_not_a_parameter(value: str) -> None:
    # RFC 3261 §19.1.2: an escaped character in the user part is data, not a delimiter;
    # "+12155551212;x" is not a telephone number, so no TN (it was cut to "12155551212").
    assert tn_from_uri(value) is None
