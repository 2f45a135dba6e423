"""TNAuthList and JWT claim constraints (RFC 8226, RFC 9118)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from shakenlib.errors import CertificateError
from shakenlib.pki.tnauthlist import (
    JWTClaimConstraints,
    TNAuthList,
    TNRange,
    decode_jwt_claim_constraints,
    decode_tnauthlist,
    encode_jwt_claim_constraints,
    encode_tnauthlist,
)

# The production leaf of standards.md §4.2 (SPC 873J) and the pyasn1-modules range example.
REAL_SPC_DER = bytes.fromhex("3008A00616043837334A")
RANGE_DER = bytes.fromhex("3015a1133011160b3132313235353531303030020203e8")


def test_decodes_real_production_spc_and_reencodes_byte_exactly() -> None:
    tal = decode_tnauthlist(REAL_SPC_DER)
    assert tal == TNAuthList(spcs=("873J",))
    assert tal.spc == "873J"
    assert encode_tnauthlist(spcs=["873J"]) == REAL_SPC_DER


def test_range_example() -> None:
    tal = decode_tnauthlist(RANGE_DER)
    assert tal.ranges == (TNRange("12125551000", 1000),)
    assert tal.spc is None
    assert tal.authorizes("12125551000") is True
    assert tal.authorizes("12125551999") is True
    assert tal.authorizes("12125552000") is False
    assert tal.authorizes("12125550999") is False


@pytest.mark.parametrize(
    ("hexder", "why"),
    [
        ("3008A006163836374A", "truncated IA5 (field data: length byte missing)"),
        ("3006130438363734", "bare PrintableString with no [0] wrapper"),
        ("", "empty"),
        ("3000", "empty SEQUENCE violates SIZE (1..MAX)"),
        ("3008A00616043837334A00", "trailing byte"),
        ("300aa1083006160131020101", "range count 1 < 2"),
        ("3007a2051603313241", "TN with a letter"),
        ("68747470733a2f2f", "a URL in place of the list"),
    ],
)
def test_undecodable_lists_give_tnauthlist_invalid(hexder: str, why: str) -> None:
    with pytest.raises(CertificateError) as info:
        decode_tnauthlist(bytes.fromhex(hexder))
    assert info.value.code == "tnauthlist_invalid", why
    assert info.value.sip_code == 437


@given(st.binary(max_size=64))
@settings(max_examples=200)
def test_arbitrary_bytes_raise_only_certificate_error(data: bytes) -> None:
    try:
        tal = decode_tnauthlist(data)
    except CertificateError as exc:
        assert exc.code == "tnauthlist_invalid"
    else:
        assert tal.spcs or tal.ranges or tal.tns


tn = st.text("0123456789", min_size=10, max_size=15)
spc = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=4, max_size=5)


@given(
    st.lists(spc, max_size=2),
    st.lists(
        st.builds(TNRange, st.text("0123456789", min_size=11, max_size=11), st.integers(2, 10_000)),
        max_size=3,
    ),
    st.lists(tn, max_size=3),
)
@settings(max_examples=150)
def test_encode_decode_round_trip(spcs: list[str], ranges: list[TNRange], tns: list[str]) -> None:
    if not (spcs or ranges or tns):
        with pytest.raises(CertificateError):
            encode_tnauthlist()
        return
    tal = decode_tnauthlist(encode_tnauthlist(spcs=spcs, ranges=ranges, tns=tns))
    assert tal == TNAuthList(tuple(spcs), tuple(ranges), tuple(tns))
    for number in tns:
        assert tal.authorizes(number) is True


def test_encode_rejects_non_tn_characters() -> None:
    with pytest.raises(CertificateError):
        encode_tnauthlist(tns=["+12155551212"])


def test_spc_only_cannot_authorize_numbers_and_multiple_spcs_have_no_single_spc() -> None:
    assert TNAuthList(spcs=("873J",)).authorizes("12155551212") is None
    assert TNAuthList(spcs=("873J", "123A")).spc is None


def test_rfc9060_encompassing() -> None:
    parent = TNAuthList(ranges=(TNRange("12125551000", 1000),), tns=("12155551212",))
    assert parent.encompasses(TNAuthList(tns=("12125551234", "12155551212")))
    assert parent.encompasses(TNAuthList(ranges=(TNRange("12125551000", 1000),)))
    assert parent.encompasses(TNAuthList(ranges=(TNRange("12125551500", 500),)))
    assert not parent.encompasses(TNAuthList(ranges=(TNRange("12125551500", 501),)))
    assert not parent.encompasses(TNAuthList(tns=("12125552000",)))
    assert not parent.encompasses(TNAuthList(spcs=("873J",)))
    spc_parent = TNAuthList(spcs=("873J",))
    assert spc_parent.encompasses(TNAuthList(spcs=("873J",), tns=("12155551212",)))
    # numbers under an SPC-only parent cannot be checked offline: accepted
    assert spc_parent.encompasses(TNAuthList(tns=("12155551212",)))
    assert not spc_parent.encompasses(TNAuthList(spcs=("999X",)))


def test_range_edges() -> None:
    r = TNRange("12125559998", 5)
    assert r.last == "12125560002"
    assert "12125560002" in r
    assert "12125560003" not in r
    assert 12125559998 not in r  # type: ignore[operator]
    star = TNRange("1212555*", 2)
    assert "1212555*" in star
    assert "12125551" not in star


@pytest.mark.parametrize("enhanced", [False, True])
def test_claim_constraints_round_trip_and_check(enhanced: bool) -> None:
    c = JWTClaimConstraints(
        must_include=("rcdi", "rcd"),
        permitted={"attest": ("A", "B")},
        must_exclude=("crn",) if enhanced else (),
        enhanced=enhanced,
    )
    assert decode_jwt_claim_constraints(encode_jwt_claim_constraints(c), enhanced=enhanced) == c
    assert c.check({"rcdi": {}, "rcd": {}, "attest": "A"}) == []
    problems = c.check({"attest": "C", "crn": "x"})
    assert "claim rcdi must be included" in problems
    assert "claim attest has value C, not one of A, B" in problems
    assert ("claim crn must be excluded" in problems) is enhanced


def test_claim_constraints_errors() -> None:
    with pytest.raises(CertificateError) as empty:
        decode_jwt_claim_constraints(b"\x30\x00")  # at least one member must be present
    with pytest.raises(CertificateError) as garbage:
        decode_jwt_claim_constraints(b"\x04\x01\x00")
    assert empty.value.code == garbage.value.code == "claim_constraints_invalid"


def test_range_count_beyond_any_number_length_is_invalid() -> None:
    # A 2,100-byte INTEGER count: int -> str fails beyond 4300 digits (ValueError from
    # TNRange.last, encompasses and to_dict); no range of <= 15-digit numbers is that big.
    huge = encode_tnauthlist(ranges=[("12125551000", 10**5000)])
    with pytest.raises(CertificateError) as info:
        decode_tnauthlist(huge)
    assert info.value.code == "tnauthlist_invalid"
    assert "10**15" in info.value.message
    with pytest.raises(CertificateError):
        decode_tnauthlist(encode_tnauthlist(ranges=[("1", 10**15 + 1)]))
    ok = decode_tnauthlist(encode_tnauthlist(ranges=[("0", 10**15)]))
    assert ok.ranges == (TNRange("0", 10**15),)


def test_range_membership_takes_ascii_digits_only() -> None:
    r = TNRange("12", 5)
    assert "14" in r
    assert "\u00b2\u00b2" not in r  # superscript two: isdigit() but int() raises
    assert "\u0661\u0664" not in r  # Arabic-Indic 14: int() reads it as 14
    assert TNAuthList(ranges=(r,)).authorizes("\u0661\u0664") is False
