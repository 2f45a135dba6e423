"""Rich Call Data (RFC 9795): decoding, rcdi integrity, and what verification exposes.

The example claim sets below follow the shapes of the RFC 9795 examples (the "James
Bond" display name, the inline jCard, the jCard URL, the call reason "Rendezvous for
Little Nellie", the icon and a pointer into the jCard). They were written from the
RFC's examples as remembered, not copied from its text; the digests are computed here.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from shakenlib.errors import CODES
from shakenlib.sip.passport import b64url_encode, canonical_json, decode_passport
from shakenlib.sip.rcd import (
    MAX_CONTENT_FETCHES,
    MemoryContent,
    RcdError,
    check_integrity,
    decode_rcd,
    digest_string,
    jcard_name,
    jcs,
)
from shakenlib.sip.sign import sign_es256
from shakenlib.testing.testbed import ShakenTestbed, TestProvider
from shakenlib.verify import Policy, Verifier

ORIG, DEST = "12155551212", "12125551213"
ORIGID = "6f8d2c3a-1b2c-4d5e-8f90-123456789abc"
JBOND_JCARD: list[Any] = [
    "vcard",
    [
        ["version", {}, "text", "4.0"],
        ["fn", {}, "text", "James Bond"],
        ["n", {}, "text", ["Bond", "James", "", "", "Mr."]],
        [
            "adr",
            {"type": "work"},
            "text",
            ["", "", "3100 Massachusetts Avenue NW", "Washington", "DC", "20008", "USA"],
        ],
        ["email", {}, "text", "007@mi6-hq.com"],
        ["tel", {"type": ["voice", "text", "cell"], "pref": "1"}, "uri", "tel:+1-202-555-1000"],
        ["tel", {"type": ["fax"]}, "uri", "tel:+1-202-555-1001"],
        ["bday", {}, "date", "19241116"],
        ["logo", {}, "uri", "https://example.com/photos/jbond-256x256.png"],
    ],
]
JCL = "https://example.com/qbranch.json"
ICN = "https://example.com/photos/quartermaster-256x256.png"
Q_JCARD = b'["vcard",[["version",{},"text","4.0"],["fn",{},"text","Q Branch"]]]'
ICON = b"\x89PNG\r\n\x1a\n not really an image"
LOGO = b"\x89PNG\r\n\x1a\n the logo"


def base(iat: int) -> dict[str, Any]:
    return {"dest": {"tn": [DEST]}, "iat": iat, "orig": {"tn": ORIG}}


def rfc_examples(iat: int = 1443208345) -> dict[str, dict[str, Any]]:
    return {
        "nam": {**base(iat), "rcd": {"nam": "James Bond"}},
        "jcd": {**base(iat), "rcd": {"jcd": JBOND_JCARD, "nam": "James Bond"}},
        "jcl": {
            **base(iat),
            "rcd": {"jcl": JCL, "nam": "Q Branch Spy Gadgets"},
            "rcdi": {"/jcl": digest_string(Q_JCARD)},
        },
        "crn": {**base(iat), "crn": "Rendezvous for Little Nellie", "rcd": {"nam": "James Bond"}},
        "icn": {
            **base(iat),
            "crn": "Rendezvous for Little Nellie",
            "rcd": {"icn": ICN, "jcd": JBOND_JCARD, "nam": "James Bond"},
            "rcdi": {
                "/icn": digest_string(ICON),
                "/jcd": digest_string(jcs(JBOND_JCARD)),
                "/jcd/1/8/3": digest_string(LOGO),
            },
        },
    }


CONTENT = MemoryContent({JCL: Q_JCARD, ICN: ICON, JBOND_JCARD[1][8][3]: LOGO})


# --- decoding -------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(rfc_examples()))
def test_the_rfc_9795_examples_decode_as_rcd_passports(name: str) -> None:
    claims = rfc_examples()[name]
    header = {
        "alg": "ES256",
        "ppt": "rcd",
        "typ": "passport",
        "x5u": "https://cert.example.org/passport.cer",
    }
    token = f"{b64url_encode(canonical_json(header))}.{b64url_encode(canonical_json(claims))}."
    token += b64url_encode(bytes(64))
    p = decode_passport(token)
    assert [f for f in p.findings if f.severity == "error"] == []
    rcd = decode_rcd(p.claims_json)
    assert rcd is not None
    assert rcd.display_name in ("James Bond", "Q Branch Spy Gadgets")
    assert rcd.call_reason == claims.get("crn")
    assert check_integrity(rcd, lambda url: CONTENT.fetch(url, at=None)) == ()  # type: ignore[arg-type]


def test_decoded_members_and_jcard_name() -> None:
    rcd = decode_rcd(rfc_examples()["icn"])
    assert rcd is not None
    assert (rcd.nam, rcd.icn, rcd.jcl, rcd.apn) == ("James Bond", ICN, None, None)
    assert jcard_name(rcd.jcd) == "James Bond"
    assert set(rcd.rcdi) == {"/icn", "/jcd", "/jcd/1/8/3"}
    # no nam: the inline jCard's fn is the name
    assert decode_rcd({"rcd": {"jcd": JBOND_JCARD}}).display_name == "James Bond"  # type: ignore[union-attr]
    assert decode_rcd({"rcd": {"apn": "12025551000"}}).to_dict() == {  # type: ignore[union-attr]
        "apn": "12025551000",
        "display_name": None,
    }


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"rcd": {"nam": 7}}, "rcd_invalid"),
        ({"rcd": {"jcl": "ftp://x/y"}}, "rcd_invalid"),
        ({"rcd": {"jcd": {"fn": "x"}}}, "rcd_invalid"),
        ({"rcd": "James Bond"}, "rcd_invalid"),
        ({"crn": 5}, "rcd_invalid"),
        ({"rcd": {"nam": "x"}, "rcdi": []}, "rcdi_invalid"),
        ({"rcd": {"nam": "x"}, "rcdi": {"jcl": "sha256-AAAA"}}, "rcdi_invalid"),
        ({"rcd": {"nam": "x"}, "rcdi": {"/jcl": "md5-AAAA"}}, "rcdi_invalid"),
        ({"rcd": {"nam": "x"}, "rcdi": {"/jcl": 12}}, "rcdi_invalid"),
    ],
)
def test_malformed_rcd_is_a_stable_code(claims: dict[str, Any], code: str) -> None:
    with pytest.raises(RcdError) as info:
        decode_rcd(claims)
    assert info.value.code == code
    assert CODES[code].sip_code == 438


def test_a_pointer_to_nothing_is_rcdi_invalid() -> None:
    rcd = decode_rcd({"rcd": {"nam": "x"}, "rcdi": {"/jcd/1": digest_string(b"")}})
    with pytest.raises(RcdError) as info:
        check_integrity(rcd)
    assert info.value.code == "rcdi_invalid"


# --- integrity --------------------------------------------------------------------------
def test_tampered_content_is_rcdi_mismatch() -> None:
    claims = rfc_examples()["icn"]
    fetch = lambda url: CONTENT.fetch(url, at=None)  # type: ignore[arg-type]  # noqa: E731
    tampered = copy.deepcopy(claims)
    tampered["rcd"]["jcd"][1][1][3] = "Ernst Stavro Blofeld"
    with pytest.raises(RcdError) as info:
        check_integrity(decode_rcd(tampered), fetch)
    assert (info.value.code, info.value.sip_code) == ("rcdi_mismatch", 438)
    swapped = MemoryContent({JCL: Q_JCARD, ICN: b"another icon", JBOND_JCARD[1][8][3]: LOGO})
    with pytest.raises(RcdError, match="/icn"):
        check_integrity(decode_rcd(claims), lambda url: swapped.fetch(url, at=None))  # type: ignore[arg-type]


def test_unreachable_content_is_reported_not_failed() -> None:
    findings = check_integrity(decode_rcd(rfc_examples()["jcl"]), lambda url: None)
    assert [(f.code, f.severity) for f in findings] == [("rcdi_unchecked", "warn")]
    assert check_integrity(decode_rcd(rfc_examples()["jcl"]))[0].code == "rcdi_unchecked"


def test_digests_in_base64url_or_unpadded_are_the_same_digest() -> None:
    std = digest_string(Q_JCARD)
    for variant in (std.rstrip("="), std.replace("+", "-").replace("/", "_")):
        rcd = decode_rcd({"rcd": {"jcl": JCL}, "rcdi": {"/jcl": variant}})
        assert check_integrity(rcd, lambda url: Q_JCARD) == ()
    for alg in ("sha384", "sha512"):
        rcd = decode_rcd({"rcd": {"jcl": JCL}, "rcdi": {"/jcl": digest_string(Q_JCARD, alg)}})
        assert check_integrity(rcd, lambda url: Q_JCARD) == ()


# member names in the Basic Multilingual Plane: there UTF-16 and code point order agree
_bmp_names = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=4)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_bmp_names, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(value=_json, other=_json)
def test_jcd_digest_holds_exactly_for_the_same_json(value: object, other: object) -> None:
    rcd = decode_rcd({"rcd": {"x": value}, "rcdi": {"/x": digest_string(jcs(value))}})
    assert check_integrity(rcd) == ()
    changed = decode_rcd({"rcd": {"x": other}, "rcdi": {"/x": digest_string(jcs(value))}})
    if jcs(other) == jcs(value):
        assert check_integrity(changed) == ()
    else:
        with pytest.raises(RcdError):
            check_integrity(changed)


@given(value=_json)
def test_jcs_is_the_rfc_8225_canonical_text_for_bmp_json(value: object) -> None:
    # Without astral-plane member names the two canonical forms agree.
    assert jcs(value) == canonical_json(value)


def test_jcs_sorts_member_names_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: U+1F600 (surrogates D83D DE00) sorts before U+FB33.
    assert jcs({"\ufb33": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ufb33":1}'.encode()


# --- verification -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def bed() -> ShakenTestbed:
    return ShakenTestbed()


@pytest.fixture(scope="module")
def acme(bed: ShakenTestbed) -> TestProvider:
    return bed.add_provider("873J", organization="Acme Telecom")


def signed(acme: TestProvider, ppt: str, claims: dict[str, Any]) -> str:
    header = {"alg": "ES256", "ppt": ppt, "typ": "passport", "x5u": acme.x5u}
    data = f"{b64url_encode(canonical_json(header))}.{b64url_encode(canonical_json(claims))}"
    sig = b64url_encode(sign_es256(acme.issued.key, data.encode()))
    return f"{data}.{sig};info=<{acme.x5u}>;alg=ES256;ppt={ppt}"


def verifier(bed: ShakenTestbed, **kw: Any) -> Verifier:
    policy = Policy(accepted_ppt=frozenset({"shaken", "div", "rcd"}))
    return Verifier(bed.trust, bed.repository, policy=policy, **kw)


def shaken_claims(bed: ShakenTestbed, extra: dict[str, Any]) -> dict[str, Any]:
    return {**base(int(bed.now.timestamp())), "attest": "A", "origid": ORIGID, **extra}


def test_rcd_in_a_shaken_passport_is_exposed(bed: ShakenTestbed, acme: TestProvider) -> None:
    example = rfc_examples(int(bed.now.timestamp()))["icn"]
    rcd_claims = {k: example[k] for k in ("rcd", "rcdi", "crn")}
    header = signed(acme, "shaken", shaken_claims(bed, rcd_claims))
    r = verifier(bed, rcd_content=CONTENT).verify(header, orig=ORIG, dest=DEST, at=bed.now)
    assert r.passed, r.message
    assert (r.display_name, r.call_reason) == ("James Bond", "Rendezvous for Little Nellie")
    ident = r.identities[0]
    assert (ident.display_name, ident.call_reason) == (r.display_name, r.call_reason)
    assert r.to_dict()["display_name"] == "James Bond"
    assert r.to_dict()["identities"][0]["rcd"]["icn"] == ICN
    # without a content source the URL-referenced digests are reported, the call passes
    r = verifier(bed).verify(header, orig=ORIG, dest=DEST, at=bed.now)
    assert r.passed
    assert [f.code for f in r.identities[0].findings].count("rcdi_unchecked") == 2


def test_a_tampered_rcdi_fails_with_a_stable_code(bed: ShakenTestbed, acme: TestProvider) -> None:
    example = rfc_examples(int(bed.now.timestamp()))["jcd"]
    good = {"rcd": example["rcd"], "rcdi": {"/jcd": digest_string(jcs(JBOND_JCARD))}}
    bad = copy.deepcopy(good)
    bad["rcd"]["jcd"][1][4][3] = "blofeld@spectre.example"  # signed, but not what rcdi says
    v = verifier(bed)
    assert v.verify(
        signed(acme, "shaken", shaken_claims(bed, good)), orig=ORIG, dest=DEST, at=bed.now
    ).passed
    r = v.verify(signed(acme, "shaken", shaken_claims(bed, bad)), orig=ORIG, dest=DEST, at=bed.now)
    assert (r.passed, r.error, r.sip_code) == (False, "rcdi_mismatch", 438)
    assert r.display_name is None  # not verified: not shown
    assert r.identities[0].display_name == "James Bond"  # but what was claimed is kept


def test_jcl_content_swapped_at_the_server_fails(bed: ShakenTestbed, acme: TestProvider) -> None:
    claims = rfc_examples(int(bed.now.timestamp()))["jcl"]
    header = signed(acme, "rcd", claims)
    ok = verifier(bed, rcd_content=CONTENT).verify(
        [acme.sign(orig=ORIG, dest=DEST), header], orig=ORIG, dest=DEST, at=bed.now
    )
    assert ok.passed
    assert ok.ppt == "shaken"
    assert ok.display_name == "Q Branch Spy Gadgets"  # from the passing rcd PASSporT
    swapped = MemoryContent({JCL: Q_JCARD.replace(b"Q Branch", b"SPECTRE")})
    r = verifier(bed, rcd_content=swapped).verify(
        [acme.sign(orig=ORIG, dest=DEST), header], orig=ORIG, dest=DEST, at=bed.now
    )
    assert r.passed  # the shaken PASSporT still passes ...
    assert [i.error for i in r.identities] == [None, "rcdi_mismatch"]
    assert r.display_name is None  # ... but no verified name


def test_a_plain_shaken_call_has_no_rcd(bed: ShakenTestbed, acme: TestProvider) -> None:
    r = verifier(bed).verify(acme.sign(orig=ORIG, dest=DEST), orig=ORIG, dest=DEST, at=bed.now)
    assert r.passed
    assert (r.display_name, r.call_reason, r.identities[0].rcd) == (None, None, None)
    assert r.to_dict()["identities"][0]["rcd"] is None


def test_hostile_rcdi_is_bounded() -> None:
    urls = [f"https://example.com/{i}.png" for i in range(20)]
    claims = {
        "rcd": {"jcd": ["vcard", [["logo", {}, "uri", u] for u in urls]]},
        "rcdi": {f"/jcd/1/{i}/3": digest_string(b"x") for i in range(20)},
    }
    asked: list[str] = []

    def content(url: str) -> bytes:
        asked.append(url)
        return b"x"

    findings = check_integrity(decode_rcd(claims), content)
    assert len(asked) == MAX_CONTENT_FETCHES
    assert [f.code for f in findings] == ["rcdi_unchecked"] * (20 - MAX_CONTENT_FETCHES)
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(RcdError) as info:
        check_integrity(decode_rcd({"rcd": {"x": deep}, "rcdi": {"/x": digest_string(b"")}}))
    assert info.value.code == "rcd_invalid"


def test_cli_report_shows_the_verified_name(bed: ShakenTestbed, acme: TestProvider) -> None:
    from shakenlib.cli.verify import format_result

    example = rfc_examples(int(bed.now.timestamp()))["crn"]
    header = signed(acme, "shaken", shaken_claims(bed, {k: example[k] for k in ("rcd", "crn")}))
    text = format_result(verifier(bed).verify(header, orig=ORIG, dest=DEST, at=bed.now))
    assert "name:    James Bond" in text
    assert "reason:  Rendezvous for Little Nellie" in text


def test_results_with_rcd_pickle(bed: ShakenTestbed, acme: TestProvider) -> None:
    import pickle

    example = rfc_examples(int(bed.now.timestamp()))["icn"]
    header = signed(acme, "shaken", shaken_claims(bed, {k: example[k] for k in ("rcd", "rcdi")}))
    r = verifier(bed, rcd_content=CONTENT).verify(header, orig=ORIG, dest=DEST, at=bed.now)
    again = pickle.loads(pickle.dumps(r))
    assert again.display_name == r.display_name == "James Bond"
    assert again.identities[0].rcd == r.identities[0].rcd


def test_a_pointer_with_non_ascii_digits_is_rcdi_invalid() -> None:
    # '¹'.isdigit() is true but int('¹') raises: the pointer must fail with our code
    from shakenlib.sip.rcd import RcdError, check_integrity, decode_rcd

    rcd = decode_rcd(
        {
            "rcd": {"jcd": ["vcard", [["fn", {}, "text", "Q"]]]},
            "rcdi": {"/jcd/\u00b9": "sha256-" + "A" * 43 + "="},
        }
    )
    with pytest.raises(RcdError) as info:
        check_integrity(rcd)
    assert info.value.code in ("rcdi_invalid", "rcd_invalid")
