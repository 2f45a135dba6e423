"""PASSporT decoding/encoding (RFC 8225, 8588, 8946, 9795, 8443), compact form, decode_identity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import given, settings, strategies as st

import shakenlib.sip.passport as passport_mod
from shakenlib.errors import CODES, PassportError, ShakenError
from shakenlib.sip.identity import parse_identity
from shakenlib.sip.message import parse_sip_message
from shakenlib.sip.passport import (
    b64url_encode,
    canonical_json,
    decode_identity,
    decode_passport,
    encode_passport,
    rebuild_compact,
)

DATA = Path(__file__).parents[1] / "data"
X5U = "https://cr.example.org/873J/3f8a1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c.pem"
ORIGID = "4437c7eb-8f92-4b52-9b8f-3f3b3e7d3c1a"
HEADER = {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": X5U}
CLAIMS: dict[str, Any] = {
    "attest": "A",
    "dest": {"tn": ["12155551213"]},
    "iat": 1700000000,
    "orig": {"tn": "12155551212"},
    "origid": ORIGID,
}
_key = serialization.load_pem_private_key((DATA / "identity" / "test-key.pem").read_bytes(), None)
assert isinstance(_key, ec.EllipticCurvePrivateKey)
KEY: ec.EllipticCurvePrivateKey = _key


def sign(data: bytes) -> bytes:
    r, s = decode_dss_signature(KEY.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify(p: passport_mod.PASSporT) -> None:
    r = int.from_bytes(p.signature[:32], "big")
    s = int.from_bytes(p.signature[32:], "big")
    KEY.public_key().verify(encode_dss_signature(r, s), p.signing_input, ec.ECDSA(hashes.SHA256()))


def token(header: Any = None, claims: Any = None, sig: bytes = bytes(64)) -> str:
    h = HEADER if header is None else header
    c = CLAIMS if claims is None else claims
    return encode_passport(h, c, sign=lambda _: sig)


def raw_token(header: bytes, claims: bytes, sig: bytes = bytes(64)) -> str:
    return f"{b64url_encode(header)}.{b64url_encode(claims)}.{b64url_encode(sig)}"


def fcodes(p: passport_mod.PASSporT | passport_mod.DecodedIdentity) -> list[tuple[str, str]]:
    return [(f.code, f.severity) for f in p.findings]


def with_claims(**changes: Any) -> dict[str, Any]:
    c = dict(CLAIMS)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


# ------------------------------------------------------------------ clean decode


def test_decode_clean_shaken() -> None:
    t = token(sig=b"\x01" * 64)
    p = decode_passport(t)
    assert p.token == t
    assert p.ppt == "shaken"
    assert (p.header.alg, p.header.typ, p.header.x5u, p.header.extra) == (
        "ES256",
        "passport",
        X5U,
        {},
    )
    c = p.claims
    assert (c.iat, c.orig_tn, c.orig_uri, c.dest_tn, c.dest_uri) == (
        1700000000,
        "12155551212",
        None,
        ("12155551213",),
        (),
    )
    assert (c.attest, c.origid, c.extra) == ("A", ORIGID, {})
    assert p.header_json == HEADER
    assert p.claims_json == CLAIMS
    assert p.signing_input == t.rsplit(".", 1)[0].encode()
    assert p.signature == b"\x01" * 64
    assert p.findings == ()
    assert p.to_dict() == {"header": HEADER, "claims": CLAIMS, "findings": []}


def test_signing_input_is_the_received_text_not_a_reserialisation() -> None:
    spaced = b'{ "typ" : "passport", "alg":"ES256", "x5u":"https://x/c", "ppt":"shaken" }'
    t = raw_token(spaced, canonical_json(CLAIMS))
    p = decode_passport(t)
    assert p.signing_input == t.rsplit(".", 1)[0].encode()
    assert fcodes(p) == [("passport_noncanonical", "notice")]
    unsorted = b'{"origid":"%s","attest":"A","dest":{"tn":["1"]},"iat":1,"orig":{"tn":"2"}}' % (
        ORIGID.encode()
    )
    assert fcodes(decode_passport(raw_token(canonical_json(HEADER), unsorted))) == [
        ("passport_noncanonical", "notice")
    ]


def test_fixture_shaken_header_verifies_with_test_key() -> None:
    d = decode_identity((DATA / "identity" / "shaken-full.txt").read_text().strip())
    assert d.error is None
    assert d.findings == ()
    assert d.passport is not None
    verify(d.passport)


def test_rfc8225_example_is_signature_valid_but_claim_invalid() -> None:
    d = decode_identity((DATA / "identity" / "rfc8225-example.txt").read_text().strip())
    assert d.passport is not None
    verify(d.passport)  # the signature is fine ...
    assert d.passport.claims_json["iat"] == "1443208345"  # as received
    assert d.passport.claims.iat == 1443208345  # int value kept
    assert d.passport.claims.dest_uri == ("sip:alice@example.com",)
    assert d.passport.ppt is None
    # ... but iat as a string is invalid (errata 5985): a verifier must fail it.
    assert ("iat_invalid", "error") in fcodes(d)
    assert [c for c, s in fcodes(d) if s == "error"] == ["iat_invalid"]


def test_div_fixture() -> None:
    d = decode_identity((DATA / "identity" / "div.txt").read_text().strip())
    assert d.passport is not None
    assert d.findings == ()
    assert d.passport.claims.div_tn == ("12155551213",)
    assert d.passport.ppt == "div"
    verify(d.passport)


def test_http_info_differs_from_x5u() -> None:
    d = decode_identity((DATA / "identity" / "http-info.txt").read_text().strip())
    assert fcodes(d) == [("info_x5u_mismatch", "error")]


# ------------------------------------------------------------------ raised errors


@pytest.mark.parametrize(
    ("tok", "code", "fragment"),
    [
        ("abc", "passport_malformed", "got 1"),
        ("a.b.c.d", "passport_malformed", "got 4"),
        ("..c2ln", "passport_malformed", "compact"),
        ("eyJ9.e30=.c2ln", "passport_base64", "padding"),
        ("eyJ9.e3+.c2ln", "passport_base64", "'+' or '/'"),
        ("eyJ9.e3/.c2ln", "passport_base64", "'+' or '/'"),
        ("eyJ9.e3$a.c2ln", "passport_base64", "alphabet"),
        ("eyJ9.e3é0.c2ln", "passport_base64", "alphabet"),
        ("eyJ9.e30AA.c2ln", "passport_base64", "length"),
        (f"{b64url_encode(b'{}')}.{b64url_encode(b'[1]')}.c2ln", "passport_json", "object"),
        (f"{b64url_encode(b'{}')}.{b64url_encode(b'{x')}.c2ln", "passport_json", "not JSON"),
        (f"{b64url_encode(bytes([255]))}.{b64url_encode(b'{}')}.c2ln", "passport_json", "UTF-8"),
        (f"{b64url_encode(b'{} x')}.{b64url_encode(b'{}')}.c2ln", "passport_json", "not JSON"),
    ],
)
def test_decode_errors(tok: str, code: str, fragment: str) -> None:
    with pytest.raises(PassportError) as info:
        decode_passport(tok)
    assert info.value.code == code
    assert fragment in info.value.message


def test_non_str_token() -> None:
    with pytest.raises(PassportError):
        decode_passport(b"a.b.c")  # type: ignore[arg-type]


# ------------------------------------------------------------------ header findings


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"typ": None}, [("typ_invalid", "error")]),
        ({"typ": "JWT"}, [("typ_invalid", "error")]),
        ({"typ": 5}, [("typ_invalid", "error")]),
        ({"typ": "PASSporT"}, [("typ_invalid", "warn")]),
        ({"alg": None}, [("alg_unsupported", "error")]),
        ({"alg": "none"}, [("alg_unsupported", "error")]),
        ({"alg": ["ES256"]}, [("alg_unsupported", "error")]),
        ({"x5u": None}, [("x5u_missing", "error")]),
        ({"x5u": 7}, [("x5u_missing", "error")]),
        ({"ppt": "msg"}, [("ppt_unsupported", "error")]),
        ({"ppt": 1}, [("header_invalid", "error")]),
    ],
)
def test_header_findings(change: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    h = {k: v for k, v in {**HEADER, **change}.items() if v is not None}
    assert fcodes(decode_passport(token(header=h))) == expected


def test_header_ppt_non_string_is_dropped() -> None:
    p = decode_passport(
        token(header={**HEADER, "ppt": 1}, claims={k: CLAIMS[k] for k in ("iat", "orig", "dest")})
    )
    assert p.header.ppt is None
    assert fcodes(p) == [("header_invalid", "error")]


def test_header_extra_members() -> None:
    p = decode_passport(token(header={**HEADER, "kid": "k1"}))
    assert p.header.extra == {"kid": "k1"}
    assert p.findings == ()


# ------------------------------------------------------------------ claim findings


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"iat": None}, [("claim_missing", "error")]),
        ({"orig": None}, [("claim_missing", "error")]),
        ({"dest": None}, [("claim_missing", "error")]),
        ({"attest": None}, [("claim_missing", "error")]),
        ({"origid": None}, [("claim_missing", "error")]),
        ({"iat": "1700000000"}, [("iat_invalid", "error")]),
        ({"iat": 1700000000.5}, [("iat_invalid", "warn")]),
        ({"iat": "soon"}, [("iat_invalid", "error")]),
        ({"iat": True}, [("iat_invalid", "error")]),
        ({"orig": {"tn": ["12155551212", "1"]}}, [("orig_invalid", "error")]),
        ({"orig": '{"tn":"12155551212"}'}, [("orig_invalid", "error")]),
        ({"orig": "12155551212"}, [("orig_invalid", "error")]),
        ({"orig": {"tn": 12155551212}}, [("orig_invalid", "error")]),
        ({"orig": {"tn": "12155551212", "uri": "sip:a@b"}}, [("orig_invalid", "error")]),
        ({"orig": {}}, [("orig_invalid", "error")]),
        ({"orig": {"tn": "+1 215 555 1212"}}, [("orig_invalid", "warn")]),
        ({"orig": {"uri": "sip:alice@example.com"}}, [("orig_invalid", "error")]),
        ({"orig": {"uri": 5}}, [("orig_invalid", "error")]),
        ({"dest": {"tn": "12155551213"}}, [("dest_invalid", "error")]),
        ({"dest": {"tn": [1]}}, [("dest_invalid", "error"), ("dest_invalid", "error")]),
        ({"dest": {}}, [("dest_invalid", "error")]),
        ({"dest": ["12155551213"]}, [("dest_invalid", "error")]),
        ({"dest": {"tn": ["+1215"]}}, [("dest_invalid", "warn")]),
        ({"dest": {"tn": ["1"], "x": 1}}, [("dest_invalid", "warn")]),
        ({"dest": {"uri": ["sip:b@c"]}}, [("dest_invalid", "error")]),
        ({"dest": {"tn": ["1"], "uri": ["sip:b@c"]}}, [("dest_invalid", "warn")]),
        ({"dest": {"uri": "sip:b@c"}}, [("dest_invalid", "error"), ("dest_invalid", "error")]),
        ({"attest": "a"}, [("attest_invalid", "error")]),
        ({"attest": 1}, [("attest_invalid", "error")]),
        ({"origid": "cust-42"}, [("origid_invalid", "warn")]),
        ({"origid": 42}, [("origid_invalid", "error")]),
        ({"origid": ""}, [("origid_invalid", "error")]),
        ({"mky": "x"}, [("claim_invalid", "error")]),
        ({"rcd": "Alice"}, [("claim_invalid", "error")]),
        ({"crn": 5}, [("claim_invalid", "error")]),
        ({"div": "12155551213"}, [("div_invalid", "error")]),
        ({"div": {"tn": 5}}, [("div_invalid", "error")]),
    ],
)
def test_claim_findings(changes: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    p = decode_passport(token(claims=with_claims(**changes)))
    assert fcodes(p) == expected
    for code, _ in expected:
        assert code in CODES


def test_orig_shapes_are_recovered() -> None:
    p = decode_passport(token(claims=with_claims(orig={"tn": ["12155551212"]})))
    assert p.claims.orig_tn == "12155551212"
    p = decode_passport(token(claims=with_claims(orig='{"tn":"12155551212"}')))
    assert p.claims.orig_tn == "12155551212"
    p = decode_passport(token(claims=with_claims(dest={"tn": "12155551213"})))
    assert p.claims.dest_tn == ("12155551213",)


def test_optional_and_extension_claims() -> None:
    claims = with_claims(
        mky=[{"alg": "sha-256", "dig": "ab"}],
        rcd={"nam": "Alice"},
        rcdi={"/nam": "x"},
        crn="Rental",
        rph={"auth": ["ets.0"]},
        opt="h.c.s",
        div={"uri": "sip:x@y"},
        zzz=[1],
    )
    c = decode_passport(token(claims=claims)).claims
    assert c.mky == ({"alg": "sha-256", "dig": "ab"},)
    assert (c.rcd, c.rcdi, c.crn, c.rph, c.opt) == (
        {"nam": "Alice"},
        {"/nam": "x"},
        "Rental",
        {"auth": ["ets.0"]},
        "h.c.s",
    )
    assert c.div_uri == ("sip:x@y",)
    assert c.extra == {"zzz": [1]}


@pytest.mark.parametrize(
    ("ppt", "claims", "expected"),
    [
        ("div", ["iat", "orig", "dest"], [("claim_missing", "error")]),
        ("div-o", ["iat", "orig", "dest"], [("claim_missing", "error")] * 2),
        ("rcd", ["iat", "orig", "dest"], [("claim_missing", "error")]),
        ("rph", ["iat", "orig", "dest"], [("claim_missing", "error")]),
        (None, ["iat", "orig", "dest"], []),
        (None, ["orig", "dest"], [("claim_missing", "error")]),
    ],
)
def test_required_claims_depend_on_ppt(
    ppt: str | None, claims: list[str], expected: list[tuple[str, str]]
) -> None:
    header = {k: v for k, v in {**HEADER, "ppt": ppt}.items() if v is not None}
    p = decode_passport(token(header=header, claims={k: CLAIMS[k] for k in claims}))
    assert fcodes(p) == expected


def test_baseline_passport_may_use_uris() -> None:
    header = {k: v for k, v in HEADER.items() if k != "ppt"}
    claims = {"iat": 1, "orig": {"uri": "sip:a@b"}, "dest": {"uri": ["sip:c@d"]}}
    p = decode_passport(token(header=header, claims=claims))
    assert p.findings == ()
    assert p.claims.orig_uri == "sip:a@b"


# ------------------------------------------------------------------ signature shape


def test_der_signature_is_reported() -> None:
    der = KEY.sign(b"x", ec.ECDSA(hashes.SHA256()))
    assert fcodes(decode_passport(token(sig=der))) == [("signature_der", "error")]


@pytest.mark.parametrize("length", [0, 10, 63, 65, 96])
def test_signature_length(length: int) -> None:
    p = decode_passport(token(sig=b"\x05" * length))
    assert fcodes(p) == [("signature_length", "error")]
    assert ("truncated" in p.findings[0].message) == (length < 64)


# ------------------------------------------------------------------ encode / canonical JSON


def test_canonical_json() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1, {"f": 2, "e": 3}], "c": "é"}}) == (
        '{"a":{"c":"é","d":[1,{"e":3,"f":2}]},"b":1}'.encode()
    )
    with pytest.raises(ShakenError):
        canonical_json({"x": float("nan")})
    with pytest.raises(ShakenError):
        canonical_json({"x": object()})


tn_strategy = st.from_regex(r"[1-9][0-9]{9,14}", fullmatch=True)
claims_strategy = st.fixed_dictionaries(
    {
        "attest": st.sampled_from(["A", "B", "C"]),
        "dest": st.fixed_dictionaries({"tn": st.lists(tn_strategy, min_size=1, max_size=3)}),
        "iat": st.integers(min_value=0, max_value=2**40),
        "orig": st.fixed_dictionaries({"tn": tn_strategy}),
        "origid": st.uuids().map(str),
    },
    optional={
        "rcd": st.fixed_dictionaries({"nam": st.text(max_size=20)}),
        "crn": st.text(max_size=20),
        "mky": st.lists(
            st.fixed_dictionaries({"alg": st.just("sha-256"), "dig": st.text("0123456789abcdef")}),
            max_size=2,
        ),
    },
)


@settings(max_examples=60, deadline=None)
@given(claims_strategy, st.sampled_from([X5U, "https://cr.example/c.pem"]))
def test_decode_encode_round_trip(claims: dict[str, Any], x5u: str) -> None:
    header = {**HEADER, "x5u": x5u}
    t = encode_passport(header, claims, sign)
    value = f"{t};info=<{x5u}>;alg=ES256;ppt=shaken"
    d = decode_identity(value)
    assert d.passport is not None
    assert d.passport.header_json == header
    assert d.passport.claims_json == claims
    assert d.findings == ()
    assert d.passport.claims.orig_tn == claims["orig"]["tn"]
    assert d.passport.claims.dest_tn == tuple(claims["dest"]["tn"])
    verify(d.passport)
    # the fast path and the general path agree
    general = _general(value)
    assert general == d


def _general(value: str) -> passport_mod.DecodedIdentity:
    saved = passport_mod._fast_decode_identity
    passport_mod._fast_decode_identity = lambda _v: None  # type: ignore[assignment]
    try:
        return decode_identity(value)
    finally:
        passport_mod._fast_decode_identity = saved


# ------------------------------------------------------------------ compact form


def test_rebuild_compact_matches_a_full_form_signature() -> None:
    sip = parse_sip_message((DATA / "sip" / "invite-shaken.sip").read_bytes())
    header = {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": X5U}
    claims = {"dest": {"tn": ["12155551213"]}, "iat": 1700000000, "orig": {"tn": "12155551212"}}
    full = encode_passport(header, claims, sign)
    compact = "..{};info=<{}>;alg=ES256;ppt=shaken".format(full.rsplit(".", 1)[1], X5U)
    ident = parse_identity(compact)
    data, findings = rebuild_compact(ident, sip)
    assert data == full.rsplit(".", 1)[0].encode()
    assert [(f.code, f.severity) for f in findings] == [("identity_compact_form", "error")]


def test_rebuild_compact_without_sip_identities() -> None:
    sip = parse_sip_message("INVITE sip:a@b SIP/2.0\r\nFrom: <sip:alice@a>\r\nTo: <sip:bob@b>\r\n")
    data, findings = rebuild_compact(parse_identity("..c2ln"), sip)
    claims = json.loads(passport_mod.b64url_decode(data.decode().split(".")[1]))
    assert claims == {"orig": {"uri": "sip:alice@a"}, "dest": {"uri": ["sip:bob@b"]}}
    assert [f.code for f in findings] == ["x5u_missing", "claim_missing"]
    empty = parse_sip_message("INVITE sip:a@b SIP/2.0\r\n")
    _, findings = rebuild_compact(parse_identity("..c2ln;info=<https://x/c>"), empty)
    assert [f.code for f in findings] == ["claim_missing"] * 3


# ------------------------------------------------------------------ decode_identity


def test_decode_identity_cross_checks() -> None:
    t = token()
    d = decode_identity(f"{t};info=<https://other/c.pem>;alg=ES384;ppt=div")
    assert fcodes(d) == [
        ("info_x5u_mismatch", "error"),
        ("alg_mismatch", "error"),
        ("ppt_mismatch", "error"),
    ]
    d = decode_identity(f"{t};info=<{X5U}>")
    assert fcodes(d) == [("ppt_mismatch", "warn")]


def test_decode_identity_compact_and_errors() -> None:
    d = decode_identity("..c2ln;info=<https://x/c>;ppt=shaken")
    assert d.passport is None
    assert d.error is None
    assert fcodes(d) == [("identity_compact_form", "error")]
    assert fcodes(decode_identity("..c2ln;info=<https://x/c>")) == [
        ("identity_compact_form", "info")
    ]
    d = decode_identity(";info=<https://x/c>")
    assert d.error is not None
    assert d.error.code == "identity_malformed"
    d = decode_identity("a+b.c.d;info=<https://x/c>")
    assert d.error is not None
    assert d.error.code == "passport_base64"
    assert ("identity_malformed", "warn") in fcodes(d)  # the digest check ran on failure
    assert d.to_dict()["error"]["code"] == "passport_base64"


def test_decode_identity_to_dict() -> None:
    value = (DATA / "identity" / "shaken-full.txt").read_text().strip()
    out = decode_identity(value).to_dict()
    assert out["params"] == {"info": f"<{X5U}>", "alg": "ES256", "ppt": "shaken"}
    assert out["claims"]["origid"] == ORIGID
    assert out["header"]["x5u"] == X5U
    assert out["findings"] == []
    assert out["error"] is None
    json.dumps(out)


def test_header_cache_is_bounded_and_read_only() -> None:
    for i in range(passport_mod._HEADER_CACHE_SIZE + 5):
        decode_identity(f"{token(header={**HEADER, 'x5u': f'https://c/{i}'})};info=<https://c/{i}>")
    assert len(passport_mod._HEADER_CACHE) <= passport_mod._HEADER_CACHE_SIZE
    d = decode_identity(f"{token()};info=<{X5U}>;alg=ES256;ppt=shaken")
    assert d.passport is not None
    with pytest.raises(TypeError):
        d.passport.header_json["x5u"] = "https://evil/"  # type: ignore[index]


@settings(max_examples=200)
@given(st.text())
def test_arbitrary_text_never_breaks_decoders(value: str) -> None:
    d = decode_identity(value)
    assert (d.passport is None) or (d.error is None)
    try:
        decode_passport(value)
    except ShakenError as exc:
        assert isinstance(exc, PassportError)


@settings(max_examples=200)
@given(st.binary(max_size=300), st.binary(max_size=300), st.binary(max_size=80))
def test_arbitrary_segments_raise_only_passport_errors(h: bytes, c: bytes, s: bytes) -> None:
    value = f"{b64url_encode(h)}.{b64url_encode(c)}.{b64url_encode(s)}"
    try:
        decode_passport(value)
    except ShakenError as exc:
        assert isinstance(exc, PassportError)
    d = decode_identity(value + ";info=<https://x/c>")
    assert d.error is None or isinstance(d.error, ShakenError)


@settings(max_examples=200)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        ),
        max_leaves=12,
    ),
    st.dictionaries(
        st.sampled_from(["alg", "typ", "ppt", "x5u", "kid"]),
        st.none() | st.text(max_size=8) | st.integers(),
        max_size=5,
    ),
)
def test_arbitrary_json_claims_only_findings(claims_value: Any, header: dict[str, Any]) -> None:
    claims = (
        claims_value
        if isinstance(claims_value, dict)
        else {"orig": claims_value, "dest": claims_value, "div": claims_value, "iat": claims_value}
    )
    p = decode_passport(raw_token(json.dumps(header).encode(), json.dumps(claims).encode()))
    for f in p.findings:
        assert f.code in CODES


# ------------------------------------------------------------------ review R1 regressions


def _both(value: str) -> passport_mod.DecodedIdentity:
    """decode_identity, asserting the fast and the general path give the same result."""
    d = decode_identity(value)
    assert _general(value) == d
    return d


def _ident(hb: bytes, cb: bytes, x5u: str = X5U) -> str:
    return f"{raw_token(hb, cb)};info=<{x5u}>;alg=ES256;ppt=shaken"


@pytest.mark.parametrize("orig", [{"tn": None}, {"uri": None}])
def test_orig_member_null_is_invalid(orig: dict[str, Any]) -> None:
    # RFC 8225 §5.2.1: orig holds exactly one of tn/uri, a string; null is neither.
    p = decode_passport(token(claims=with_claims(orig=orig)))
    assert ("orig_invalid", "error") in fcodes(p)
    assert p.claims.orig_tn is None


@pytest.mark.parametrize(
    "div",
    [
        {"tn": ["12155551213", "12155551214"]},
        {"tn": ["12155551213"]},
        {"tn": "12155551213", "uri": "sip:a@b"},
    ],
)
def test_div_holds_exactly_one_identifier(div: dict[str, Any]) -> None:
    # RFC 8946 §3: the retargeting entity "MUST select only one identifier" for div;
    # div is an object like orig, {"tn": "..."} or {"uri": "..."}.
    header = {**HEADER, "ppt": "div"}
    claims = {k: CLAIMS[k] for k in ("iat", "orig", "dest")}
    p = decode_passport(token(header=header, claims={**claims, "div": div}))
    assert fcodes(p) == [("div_invalid", "error")]


def test_crit_header_is_rejected() -> None:
    # RFC 7515 §4.1.11: a JWS whose crit lists extensions the recipient does not
    # understand is invalid; PASSporT defines none this library understands.
    p = decode_passport(token(header={**HEADER, "crit": ["b64"], "b64": False}))
    assert fcodes(p) == [("header_invalid", "error")]


@pytest.mark.parametrize("iat", [10**400, -(10**20), 10**15])
def test_out_of_range_iat_is_invalid(iat: int) -> None:
    # A NumericDate so large it is not a time (10**400 overflows a float in the
    # freshness check) is iat_invalid, on both decode paths.
    t = token(claims=with_claims(iat=iat))
    assert fcodes(decode_passport(t)) == [("iat_invalid", "error")]
    d = _both(f"{t};info=<{X5U}>;alg=ES256;ppt=shaken")
    assert d.passport is not None
    assert d.passport.claims.iat is None
    assert fcodes(d) == [("iat_invalid", "error")]


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(constant: bytes) -> None:
    # RFC 8259 §6: NaN and Infinity are not JSON numbers (Python's json accepts them).
    cb = canonical_json(CLAIMS)[:-1] + b',"zz":' + constant + b"}"
    with pytest.raises(PassportError) as info:
        decode_passport(raw_token(canonical_json(HEADER), cb))
    assert info.value.code == "passport_json"
    value = _ident(canonical_json(HEADER), cb)
    for d in (decode_identity(value), _general(value)):
        assert d.passport is None
        assert d.error is not None
        assert d.error.code == "passport_json"


@pytest.mark.parametrize("ws", [b"\t", b"\r", b"\n", b"\r\n"])
def test_tab_cr_lf_json_whitespace_is_noncanonical(ws: bytes) -> None:
    # RFC 8225 §9: "no whitespace or line breaks"; JSON whitespace is SP, HTAB, LF, CR.
    cb = canonical_json(CLAIMS).replace(b',"iat"', b"," + ws + b'"iat"')
    hb = canonical_json(HEADER).replace(b',"typ"', b"," + ws + b'"typ"')
    for h, c in ((canonical_json(HEADER), cb), (hb, canonical_json(CLAIMS))):
        assert fcodes(decode_passport(raw_token(h, c))) == [("passport_noncanonical", "notice")]
        assert fcodes(_both(_ident(h, c))) == [("passport_noncanonical", "notice")]


def test_duplicate_claim_names_are_reported() -> None:
    # RFC 7519 §4: "The Claim Names within a JWT Claims Set MUST be unique"; a parser that
    # keeps the last one (as Python's does) sees attest A where another sees C.
    cb = canonical_json(CLAIMS).replace(b'{"attest":"A"', b'{"attest":"C","attest":"A"')
    p = decode_passport(raw_token(canonical_json(HEADER), cb))
    assert p.claims.attest == "A"
    assert ("claim_invalid", "error") in fcodes(p)
    d = _both(_ident(canonical_json(HEADER), cb))
    assert ("claim_invalid", "error") in fcodes(d)
    nested = canonical_json(CLAIMS).replace(b'"orig":{"tn":', b'"orig":{"tn":"1","tn":')
    assert ("claim_invalid", "error") in fcodes(_both(_ident(canonical_json(HEADER), nested)))


def test_duplicate_header_names_are_reported() -> None:
    # RFC 7515 §4: "The Header Parameter names within the JOSE Header MUST be unique".
    hb = canonical_json(HEADER).replace(b'{"alg":"ES256"', b'{"alg":"none","alg":"ES256"')
    p = decode_passport(raw_token(hb, canonical_json(CLAIMS)))
    assert ("header_invalid", "error") in fcodes(p)
    assert ("header_invalid", "error") in fcodes(_both(_ident(hb, canonical_json(CLAIMS))))


def test_value_with_quote_colon_is_not_a_duplicate() -> None:
    claims = with_claims(crn='a":b')
    assert decode_passport(token(claims=claims)).findings == ()


def test_fast_path_agrees_on_non_ascii_whitespace_in_info() -> None:
    # The general path strips Unicode whitespace inside <...>; the fast path must not
    # accept what the general path reports (an x5u ending in U+00A0).
    x5u = X5U + "\u00a0"
    value = f"{token(header={**HEADER, 'x5u': x5u})};info=<{x5u}>;alg=ES256;ppt=shaken"
    d = _both(value)
    assert ("info_x5u_mismatch", "error") in fcodes(d)


near_tn = st.one_of(
    st.from_regex(r"[0-9]{1,15}", fullmatch=True),
    st.just("１２３"),
    st.just("+12155551212"),
    st.just(""),
    st.integers(0, 10**11),
)
near_claims = st.fixed_dictionaries(
    {
        "attest": st.sampled_from(["A", "B", "C", "D", "a", 1]),
        "dest": st.one_of(
            st.fixed_dictionaries({"tn": st.lists(near_tn, max_size=3)}),
            st.fixed_dictionaries({"tn": near_tn}),
        ),
        "iat": st.one_of(st.integers(-5, 10**16), st.floats(0, 2e9), st.just("1")),
        "orig": st.fixed_dictionaries({"tn": near_tn}),
        "origid": st.one_of(
            st.uuids().map(str),
            st.uuids().map(lambda u: str(u).upper()),
            st.just("trunk-7"),
            st.uuids().map(lambda u: f"{{{u}}}"),
        ),
    },
    optional={"opt": st.just("x")},
)


@settings(max_examples=300, deadline=None)
@given(
    claims=st.one_of(claims_strategy, near_claims),
    layout=st.sampled_from(["canonical", "spaced", "escaped", "unsorted", "zero-iat"]),
)
def test_plain_claims_pattern_agrees_with_the_json_checks(
    claims: dict[str, Any], layout: str
) -> None:
    # decode_plain_shaken reads the claims with one pattern; it must take exactly the
    # canonical texts whose JSON the plain checks accept, and then agree with the
    # general path.
    if layout == "canonical":
        cb = canonical_json(claims)
    elif layout == "spaced":
        cb = json.dumps(claims, sort_keys=True).encode()
    elif layout == "escaped":
        cb = canonical_json(claims).replace(b'"attest"', b'"\\u0061ttest"')
    elif layout == "unsorted":
        cb = json.dumps(dict(reversed(list(claims.items()))), separators=(",", ":")).encode()
    else:
        cb = canonical_json(claims).replace(b'"iat":', b'"iat":0', 1)
    value = _ident(canonical_json(HEADER), cb)
    d = decode_identity(value)
    assert d.to_dict() == _general(value).to_dict()  # (errors do not compare equal)
    plain = passport_mod.decode_plain_shaken(value)
    try:
        parsed = json.loads(cb)
    except ValueError:
        parsed = None
    expected = (
        isinstance(parsed, dict)
        and passport_mod._plain_claims_ok(parsed)
        and canonical_json(parsed) == cb
    )
    assert (plain is not None) == expected
    if plain is not None:
        assert plain[4] == parsed
        assert d.passport is not None
        assert d.passport.claims_json == parsed


@settings(max_examples=300, deadline=None)
@given(
    params=st.lists(
        st.sampled_from(
            [
                f"info=<{X5U}>",
                "info=<https://other.example/c.pem>",
                "alg=ES256",
                "alg=ES384",
                "ppt=shaken",
                "ppt=div",
                'ppt="shaken"',
                "x=1",
                f"info=<{X5U} >",
                f"info= <{X5U}>",
                "",
                "alg",
            ]
        ),
        max_size=5,
    ),
    x5u=st.sampled_from(
        [
            X5U,
            "https://cr.example.org/a;b.pem",
            "http://cr.example.org/c.pem",
            "https://cr.example.org/é.pem",
            "https://cr.example.org/a b.pem",
        ]
    ),
)
def test_fast_path_reads_any_parameter_list_as_the_general_path(
    params: list[str], x5u: str
) -> None:
    # decode_plain_shaken checks the usual "info=<x5u>;alg=ES256;ppt=shaken" with one
    # comparison and other parameter lists in a loop: both must agree with the general
    # path, including x5u values that cannot stand in info=<...> unchanged.
    value = f"{token(header={**HEADER, 'x5u': x5u})};{';'.join(params)}"
    assert decode_identity(value).to_dict() == _general(value).to_dict()
    if passport_mod.decode_plain_shaken(value) is not None:
        assert decode_identity(value).findings == ()


@pytest.mark.parametrize(
    ("params", "fast"),
    [
        (f"info=<{X5U}>;alg=ES256;ppt=shaken", True),
        (f"ppt=shaken;info=<{X5U}>", True),
        (f"alg=ES256;ppt=shaken;info=<{X5U}>", True),
        (f"info=<{X5U}>;alg=ES256", False),  # no ppt parameter: a finding (ppt_mismatch)
        (f"info=<{X5U}>;alg=ES256;ppt=shaken;ppt=shaken", False),
        (f"info=<{X5U}>;alg=ES256;ppt=shaken ", False),
    ],
)
def test_which_parameter_lists_take_the_fast_path(params: str, fast: bool) -> None:
    value = f"{token()};{params}"
    assert (passport_mod.decode_plain_shaken(value) is not None) == fast
    assert decode_identity(value).to_dict() == _general(value).to_dict()
