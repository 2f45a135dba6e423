"""The verification service: every row of the error table, div chaining, several headers."""

from __future__ import annotations

import base64
import datetime as dt
import gc
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings, strategies as st

from shakenlib.errors import CODES, UsageError, VerificationFailed
from shakenlib.sip.passport import b64url_decode, b64url_encode, canonical_json
from shakenlib.sip.sign import Signer, sign_es256
from shakenlib.testing.assertions import assert_failed, assert_passed
from shakenlib.testing.pki import StiTestPki
from shakenlib.testing.testbed import ShakenTestbed, TestProvider
from shakenlib.verify import Policy, Verifier, to_datetime

ORIG, DEST = "12155551212", "12155551213"


@pytest.fixture(scope="module")
def bed() -> ShakenTestbed:
    return ShakenTestbed()


@pytest.fixture(scope="module")
def acme(bed: ShakenTestbed) -> TestProvider:
    return bed.add_provider("873J", organization="Acme Telecom")


def now_iat(bed: ShakenTestbed) -> int:
    return int(bed.now.timestamp())


def verify(bed: ShakenTestbed, header: str | list[str], **kw: object):  # type: ignore[no-untyped-def]
    policy = kw.pop("policy", None)
    verifier = bed.verifier(policy) if policy is not None else bed.verifier()
    kw.setdefault("orig", ORIG)
    kw.setdefault("dest", DEST)
    kw.setdefault("at", bed.now)
    return verifier.verify(header, **kw)  # type: ignore[arg-type]


def forge(
    acme: TestProvider,
    header: dict[str, object],
    claims: dict[str, object],
    *,
    params: str | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> str:
    """A token signed over arbitrary header/claims, with chosen Identity parameters."""
    signing_input = (
        f"{b64url_encode(canonical_json(header))}.{b64url_encode(canonical_json(claims))}"
    )
    sig = sign_es256(key or acme.issued.key, signing_input.encode())
    token = f"{signing_input}.{b64url_encode(sig)}"
    if params is None:
        params = f"info=<{acme.x5u}>;alg=ES256;ppt=shaken"
    return f"{token};{params}"


def base(acme: TestProvider, bed: ShakenTestbed) -> tuple[dict[str, object], dict[str, object]]:
    header = {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": acme.x5u}
    claims = {
        "attest": "A",
        "dest": {"tn": [DEST]},
        "iat": now_iat(bed),
        "orig": {"tn": ORIG},
        "origid": "6f8d2c3a-1b2c-4d5e-8f90-123456789abc",
    }
    return header, claims


# --- the passing path ---------------------------------------------------------------------


def test_valid_call_passes_and_extracts_traceback_facts(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    header = acme.sign(
        orig=ORIG, dest=DEST, attest="B", origid="7b3e1f5e-0000-4000-8000-000000000001"
    )
    r = verify(bed, header, orig="+1 (215) 555-1212", dest=f"sip:+{DEST}@example.com;user=phone")
    assert_passed(r, attest="B", spc="873J", origid="7b3e1f5e-0000-4000-8000-000000000001")
    assert (r.verstat, r.sip_code, r.reason, r.error) == ("TN-Validation-Passed", None, None, None)
    assert r.provider == "Acme Telecom"
    assert r.x5u == acme.x5u
    assert r.orig == ORIG
    assert r.dest == (DEST,)
    assert r.certificate is not None
    assert r.certificate.subject_cn == "SHAKEN 873J"
    assert r.certificate.serial == format(acme.issued.certificate.serial_number, "x")
    assert len(r.identities) == 1
    r.raise_for_failure()
    d = r.to_dict()
    assert d["verstat"] == "TN-Validation-Passed"
    assert d["spc"] == "873J"
    assert json.loads(json.dumps(d)) == d


def test_time_may_be_unix_seconds_or_iso(bed: ShakenTestbed, acme: TestProvider) -> None:
    header = acme.sign(orig=ORIG, dest=DEST)
    assert verify(bed, header, at=now_iat(bed)).passed
    assert verify(bed, header, at=bed.now.isoformat()).passed
    with pytest.raises(UsageError):
        verify(bed, header, at=dt.datetime(2025, 6, 1))  # naive
    with pytest.raises(UsageError):
        to_datetime("yesterday")


def test_freshness_window_is_symmetric_and_configurable(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    header = acme.sign(orig=ORIG, dest=DEST)
    assert verify(bed, header, at=bed.now + dt.timedelta(seconds=60)).passed
    assert_failed(
        verify(bed, header, at=bed.now + dt.timedelta(seconds=61)), "iat_stale", sip_code=403
    )
    assert_failed(
        verify(bed, header, at=bed.now - dt.timedelta(seconds=61)), "iat_future", sip_code=403
    )
    lenient = Policy(freshness=dt.timedelta(minutes=5))
    assert verify(bed, header, at=bed.now + dt.timedelta(seconds=200), policy=lenient).passed


# --- identity / PASSporT rows -------------------------------------------------------------


def test_no_identity_header(bed: ShakenTestbed) -> None:
    for value in (None, "", [], ["  "]):
        r = verify(bed, value)  # type: ignore[arg-type]
        assert (r.verstat, r.error, r.sip_code) == ("No-TN-Validation", "identity_missing", 428)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("garbage without dots;info=<https://cr.test/x.pem>", "passport_malformed"),
        ("YQ.YQ.YQ;info=<https://cr.test/x.pem>;ppt=shaken", "passport_json"),
        ("eyJ=.eyJ=.abc;info=<https://cr.test/x.pem>", "passport_base64"),
        (
            "..c2lnbmF0dXJl;info=<https://cr.test/x.pem>;alg=ES256;ppt=shaken",
            "identity_compact_form",
        ),
    ],
)
def test_undecodable_headers_fail_with_438(bed: ShakenTestbed, value: str, code: str) -> None:
    assert_failed(verify(bed, value), code, sip_code=438)


def test_header_and_claim_rows(bed: ShakenTestbed, acme: TestProvider) -> None:
    header, claims = base(acme, bed)
    cases: list[tuple[str, str, int]] = [
        (forge(acme, {**header, "typ": "JWT"}, claims), "typ_invalid", 438),
        (
            forge(acme, {**header, "alg": "RS256"}, claims, params=f"info=<{acme.x5u}>;ppt=shaken"),
            "alg_unsupported",
            437,
        ),
        (
            forge(acme, header, claims, params=f"info=<{acme.x5u}>;alg=ES384;ppt=shaken"),
            "alg_mismatch",
            438,
        ),
        (
            forge(acme, header, claims, params=f"info=<{acme.x5u}>;alg=ES256;ppt=div"),
            "ppt_mismatch",
            438,
        ),
        (
            forge(acme, header, claims, params="info=<https://cr.test/other.pem>;ppt=shaken"),
            "info_x5u_mismatch",
            438,
        ),
        (
            forge(acme, header, {k: v for k, v in claims.items() if k != "origid"}),
            "claim_missing",
            438,
        ),
        (forge(acme, header, {**claims, "iat": str(claims["iat"])}), "iat_invalid", 438),
        (forge(acme, header, {**claims, "orig": {"tn": [ORIG]}}), "orig_invalid", 438),
        (forge(acme, header, {**claims, "dest": {"tn": DEST}}), "dest_invalid", 438),
        (forge(acme, header, {**claims, "attest": "D"}), "attest_invalid", 438),
    ]
    for value, code, status in cases:
        assert_failed(verify(bed, value), code, sip_code=status)


def test_missing_x5u_and_info(bed: ShakenTestbed, acme: TestProvider) -> None:
    header, claims = base(acme, bed)
    no_x5u = {k: v for k, v in header.items() if k != "x5u"}
    r = verify(bed, forge(acme, no_x5u, claims, params="alg=ES256;ppt=shaken"))
    assert r.error in {"x5u_missing", "info_missing"}
    assert r.sip_code == 436
    r = verify(bed, forge(acme, header, claims, params="alg=ES256;ppt=shaken"))
    assert_failed(r, "info_missing", sip_code=436)
    r = verify(bed, forge(acme, no_x5u, claims))
    print(r.error)
    assert not r.passed


def test_unsupported_ppt_is_reported_not_fatal_to_other_headers(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    header, claims = base(acme, bed)
    rcd = forge(
        acme,
        {**header, "ppt": "rcd"},
        {**claims, "rcd": {"nam": "Acme"}},
        params=f"info=<{acme.x5u}>;alg=ES256;ppt=rcd",
    )
    alone = verify(bed, rcd)
    assert (alone.verstat, alone.error) == ("No-TN-Validation", "ppt_unsupported")
    both = verify(bed, [rcd, acme.sign(orig=ORIG, dest=DEST)])
    assert_passed(both)
    assert [i.error for i in both.identities] == ["ppt_unsupported", None]
    accepting = verify(bed, rcd, policy=Policy(accepted_ppt=frozenset({"shaken", "rcd"})))
    assert_passed(accepting)


def test_signature_rows(bed: ShakenTestbed, acme: TestProvider) -> None:
    header = acme.sign(orig=ORIG, dest=DEST)
    token, params = header.split(";", 1)
    h, c, s = token.split(".")
    raw = base64.urlsafe_b64decode(s + "==")
    other = forge(acme, *base(acme, bed), key=ec.generate_private_key(ec.SECP256R1()))
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    cases = [
        (other, "signature_invalid"),
        (f"{h}.{c}.{b64url_encode(raw[:40])};{params}", "signature_length"),
        (f"{h}.{c}.{b64url_encode(der)};{params}", "signature_der"),
    ]
    for value, code in cases:
        assert_failed(verify(bed, value), code, sip_code=438)


# --- numbers ------------------------------------------------------------------------------


def test_orig_and_dest_checks(bed: ShakenTestbed, acme: TestProvider) -> None:
    header = acme.sign(orig=ORIG, dest=DEST)
    assert_failed(verify(bed, header, orig="12155550000"), "orig_mismatch", sip_code=438)
    assert_failed(verify(bed, header, orig="anonymous"), "orig_mismatch")
    assert_failed(verify(bed, header, dest="12155550000"), "dest_mismatch", sip_code=438)
    # dest may be a list (To and Request-URI): any match passes.
    assert verify(bed, header, dest=["12155550000", DEST]).passed
    unchecked = bed.verifier().verify(header, at=bed.now)
    assert unchecked.passed
    assert {f.code for f in unchecked.findings} == {"orig_unchecked", "dest_unchecked"}
    relaxed = Policy(check_orig=False, check_dest=False)
    assert verify(bed, header, orig="1", dest="2", policy=relaxed).passed


def test_numbers_from_a_sip_request_pai_first(bed: ShakenTestbed, acme: TestProvider) -> None:
    header = acme.sign(orig=ORIG, dest=DEST)
    date = "Sun, 01 Jun 2025 12:00:00 GMT"
    base_msg = (
        f"INVITE sip:+{DEST}@ims.example.net;user=phone SIP/2.0\r\n"
        f"To: <sip:+{DEST}@ims.example.net;user=phone>\r\n"
        f"Date: {date}\r\nCall-ID: abc@host\r\nIdentity: {header}\r\n"
    )
    v = bed.verifier()
    good = v.verify_sip(
        base_msg + f"From: <sip:anonymous@anonymous.invalid>\r\n"
        f"P-Asserted-Identity: <sip:+{ORIG}@ims.example.net;user=phone>\r\n\r\n"
    )
    assert_passed(good)
    # Without PAI the From is checked: anonymous fails (field data: calling number mismatch).
    anon = v.verify_sip(base_msg + 'From: "Anonymous" <sip:anonymous@anonymous.invalid>\r\n\r\n')
    assert_failed(anon, "orig_mismatch")
    # Two PAIs: each is tried (ATIS-1000074 §5.3.1).
    two = v.verify_sip(
        base_msg + f"From: <sip:x@y>\r\nP-Asserted-Identity: <tel:+12125550000>, "
        f"<tel:+{ORIG}>\r\n\r\n"
    )
    assert_passed(two)
    # With a PAI present, From is not a candidate: a matching From cannot rescue it.
    pai_wins = v.verify_sip(
        base_msg + f"From: <tel:+{ORIG}>\r\nP-Asserted-Identity: <tel:+12125550000>\r\n\r\n"
    )
    assert_failed(pai_wins, "orig_mismatch")
    skewed = v.verify_sip(
        base_msg.replace(date, "Sun, 01 Jun 2025 11:50:00 GMT") + f"From: <tel:+{ORIG}>\r\n\r\n",
        at=bed.now,
    )
    assert_passed(skewed)  # a fresh iat suffices for the full form (RFC 8224 §6.2 step 4)
    assert [f.code for f in skewed.findings] == ["date_stale"]
    late = v.verify_sip(
        base_msg + f"From: <tel:+{ORIG}>\r\n\r\n", at=bed.now + dt.timedelta(minutes=2)
    )
    assert_failed(late, "iat_stale")
    bad = v.verify_sip(b"\x00\x01 not sip", at=bed.now)
    assert_failed(bad, "sip_malformed")
    with pytest.raises(UsageError):
        v.verify_sip(f"INVITE sip:x@y SIP/2.0\r\nIdentity: {header}\r\n\r\n")


def test_tn_authorization_for_delegate_certificates(bed: ShakenTestbed) -> None:
    parent = bed.pki.issue_delegate_ca(ranges=[("12155550000", 10000)])
    delegate = bed.pki.issue_delegate_certificate(parent, ranges=[("12155551200", 100)])
    url = "https://cr.test/delegate/enterprise.pem"
    bed.repository.add(url, delegate.chain_pem())
    signer = Signer(delegate.key, url)
    iat = now_iat(bed)
    inside = signer.sign_shaken(orig=ORIG, dest=DEST, attest="A", iat=iat)
    assert_passed(verify(bed, inside))
    outside = signer.sign_shaken(orig="12155559999", dest=DEST, attest="A", iat=iat)
    assert_failed(verify(bed, outside, orig="12155559999"), "tn_not_authorized", sip_code=438)
    assert verify(
        bed, outside, orig="12155559999", policy=Policy(check_tn_authorization=False)
    ).passed


# --- repository rows ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "x5u_fetch_failed",
        "x5u_timeout",
        "x5u_http_status",
        "x5u_redirect",
        "x5u_too_large",
        "x5u_invalid",
        "x5u_address_forbidden",
    ],
)
def test_repository_failures_give_436(code: str) -> None:
    bed = ShakenTestbed()
    provider = bed.add_provider("123A")
    bed.repository.add_error(provider.x5u, code, "simulated")
    r = verify(bed, provider.sign(orig=ORIG, dest=DEST))
    assert_failed(r, code, sip_code=436)
    assert r.x5u == provider.x5u
    assert r.attest == "A"  # what could be learned is kept


def test_repository_content_that_is_not_a_certificate() -> None:
    bed = ShakenTestbed()
    provider = bed.add_provider("123A")
    bed.repository.add(provider.x5u, b"<html>not found</html>", content_type="text/html")
    assert_failed(verify(bed, provider.sign(orig=ORIG, dest=DEST)), "x5u_content", sip_code=436)
    bed.repository.add(
        provider.x5u, b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    assert_failed(verify(bed, provider.sign(orig=ORIG, dest=DEST)), "cert_malformed", sip_code=437)


# --- certificate and trust rows -----------------------------------------------------------


def test_certificate_rows() -> None:
    bed = ShakenTestbed()
    now = bed.now
    stranger = StiTestPki(now=now)
    cases: list[tuple[TestProvider, str]] = [
        (bed.add_provider("111A", issuer=stranger.ca_intermediate), "cert_untrusted"),
        (
            bed.add_provider(
                "222A", not_after=now - dt.timedelta(days=1), not_before=now - dt.timedelta(days=10)
            ),
            "cert_expired",
        ),
        (bed.add_provider("333A", not_before=now + dt.timedelta(days=1)), "cert_not_yet_valid"),
        (bed.add_provider("444A", omit_tnauthlist=True), "tnauthlist_missing"),
        (
            bed.add_provider("555A", tnauthlist=bytes.fromhex("3008A006163836374A")),
            "tnauthlist_invalid",
        ),
        (bed.add_provider("666A", spcs=["666A", "777A"]), "cert_profile"),
    ]
    for provider, code in cases:
        r = verify(bed, provider.sign(orig=ORIG, dest=DEST))
        assert_failed(r, code, sip_code=437)
        assert r.certificate is not None, code  # the certificate was obtained: keep its facts
        assert r.certificate.subject_o == "Example Telecom"


def test_p384_leaf_key_is_unsupported() -> None:
    bed = ShakenTestbed()
    acme = bed.add_provider("888A")
    p384 = bed.pki.issue_sp_certificate("888A", key=ec.generate_private_key(ec.SECP384R1()))
    bed.repository.add(acme.x5u, p384.chain_pem())  # the P-384 certificate sits at the x5u
    value = forge(acme, *base(acme, bed))
    assert_failed(verify(bed, value), "cert_key_unsupported", sip_code=437)


def test_revocation_rows() -> None:
    bed = ShakenTestbed()
    victim = bed.add_provider("999A")
    header = victim.sign(orig=ORIG, dest=DEST)
    assert_passed(verify(bed, header))
    bed.revoke(victim)
    r = verify(bed, header)
    assert_failed(r, "cert_revoked", sip_code=437)
    assert r.spc == "999A"


def test_crl_policy_rows() -> None:
    bed = ShakenTestbed()
    provider = bed.add_provider("121A")
    header = provider.sign(orig=ORIG, dest=DEST)
    require = Policy(revocation="require")
    bed.repository.add_error(bed.pki.crl_url, "x5u_http_status", "HTTP 404")
    assert_failed(verify(bed, header, policy=require), "crl_unavailable", sip_code=437)
    prefer = verify(bed, header)
    assert_passed(prefer)
    assert any(f.code == "x5u_http_status" for i in prefer.identities for f in i.findings)
    assert verify(bed, header, policy=Policy(revocation="off")).passed
    stale = bed.pki.make_crl(
        next_update=bed.now - dt.timedelta(hours=1), this_update=bed.now - dt.timedelta(days=2)
    )
    bed.repository.add(bed.pki.crl_url, stale, content_type="application/pkix-crl")
    assert_failed(verify(bed, header, policy=require), "crl_expired", sip_code=437)
    forged = bed.pki.make_crl(signer=bed.pki.ca_intermediate)
    bed.repository.add(bed.pki.crl_url, forged, content_type="application/pkix-crl")
    assert_failed(verify(bed, header, policy=require), "crl_invalid", sip_code=437)


# --- several headers and div --------------------------------------------------------------


def test_div_chain_for_a_forwarded_call(bed: ShakenTestbed, acme: TestProvider) -> None:
    forwarder = bed.add_provider("654B", organization="Forwarding Co")
    forwarded_to = "12155559876"
    shaken = acme.sign(orig=ORIG, dest=DEST)
    div = forwarder.sign_div(orig=ORIG, dest=forwarded_to, div=DEST)
    r = verify(bed, [shaken, div], dest=forwarded_to)
    assert_passed(r, spc="873J")
    assert [i.ppt for i in r.identities] == ["shaken", "div"]
    assert r.identities[1].spc == "654B"
    # Without the div PASSporT the retargeted call's dest does not match.
    assert_failed(verify(bed, shaken, dest=forwarded_to), "dest_mismatch")
    # A div that diverts from a number the call never had does not chain.
    stray = forwarder.sign_div(orig=ORIG, dest=forwarded_to, div="12125550000")
    r2 = verify(bed, [shaken, stray], dest=forwarded_to)
    assert_failed(r2, "dest_mismatch")
    assert r2.identities[1].error == "div_mismatch"


def test_first_passing_shaken_header_wins(bed: ShakenTestbed, acme: TestProvider) -> None:
    good = acme.sign(orig=ORIG, dest=DEST)
    bad = "YQ.YQ.YQ;info=<https://cr.test/x.pem>;ppt=shaken"
    r = verify(bed, [bad, good])
    assert_passed(r)
    assert [i.passed for i in r.identities] == [False, True]
    failed = verify(bed, [bad, bad])
    assert failed.error == "passport_json"
    with pytest.raises(VerificationFailed) as info:
        failed.raise_for_failure()
    assert info.value.sip_code == 438


def test_every_error_code_in_results_is_in_the_table(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    r = verify(bed, ["nonsense", acme.sign(orig=ORIG, dest="1")], dest="1")
    for ident in r.identities:
        assert ident.error is None or ident.error in CODES


# --- properties ---------------------------------------------------------------------------

tns = st.text("0123456789", min_size=11, max_size=11)


@given(
    orig=tns,
    dest=st.lists(tns, min_size=1, max_size=3),
    attest=st.sampled_from("ABC"),
    skew=st.integers(-60, 60),
    origid=st.uuids().map(str),
)
@settings(
    max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
def test_sign_then_verify_passes(
    bed: ShakenTestbed,
    acme: TestProvider,
    orig: str,
    dest: list[str],
    attest: str,
    skew: int,
    origid: str,
) -> None:
    header = acme.sign(orig=orig, dest=dest, attest=attest, origid=origid)  # type: ignore[arg-type]
    r = verify(bed, header, orig=orig, dest=dest[-1], at=bed.now + dt.timedelta(seconds=skew))
    assert_passed(r, attest=attest, spc="873J", origid=origid)


@given(data=st.data())
@settings(
    max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
def test_any_single_byte_change_to_the_token_fails_with_438(
    bed: ShakenTestbed, acme: TestProvider, data: st.DataObject
) -> None:
    header = acme.sign(orig=ORIG, dest=DEST, origid="6f8d2c3a-1b2c-4d5e-8f90-123456789abc")
    token, params = header.split(";", 1)
    pos = data.draw(st.integers(0, len(token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "
    char = data.draw(st.sampled_from([c for c in alphabet if c != token[pos]]))
    changed = token[:pos] + char + token[pos + 1 :]
    r = verify(bed, f"{changed};{params}")
    assert not r.passed
    assert r.sip_code == 438, (pos, char, r.error, r.message)


def test_verifier_is_reusable_and_cache_returns_same_answers(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    v: Verifier = bed.verifier()
    header = acme.sign(orig=ORIG, dest=DEST)
    before = bed.repository.hits[acme.x5u]
    results = [v.verify(header, orig=ORIG, dest=DEST, at=bed.now) for _ in range(5)]
    assert all(r.passed for r in results)
    assert bed.repository.hits[acme.x5u] - before == 1  # fetched once, then cached
    assert len({r.to_dict()["certificate"]["sha256"] for r in results}) == 1


def test_certificate_summary_uses_the_leaf(bed: ShakenTestbed, acme: TestProvider) -> None:
    r = verify(bed, acme.sign(orig=ORIG, dest=DEST))
    assert r.certificate is not None
    leaf: x509.Certificate = acme.issued.certificate
    assert r.certificate.not_after == leaf.not_valid_after_utc
    assert r.certificate.issuer == leaf.issuer.rfc4514_string()


@given(
    st.one_of(
        st.text(max_size=300),
        st.lists(st.text(max_size=120), max_size=3),
        st.builds(
            lambda a, b: f"{a}.{b}.c2ln;info=<https://cr.test/x.pem>;ppt=shaken",
            st.text(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=40
            ),
            st.text(max_size=40),
        ),
    ),
    st.one_of(st.none(), st.text(max_size=30)),
)
@settings(
    max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
def test_verify_never_raises_on_arbitrary_headers(
    bed: ShakenTestbed, identity: str | list[str], orig: str | None
) -> None:
    r = bed.verifier().verify(identity, orig=orig, dest=DEST, at=bed.now)
    assert not r.passed
    assert r.error in CODES
    assert r.verstat in ("TN-Validation-Failed", "No-TN-Validation")
    json.dumps(r.to_dict())


@given(st.binary(max_size=400))
@settings(
    max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
def test_verify_sip_never_raises_on_arbitrary_bytes(bed: ShakenTestbed, data: bytes) -> None:
    r = bed.verifier().verify_sip(data, at=bed.now)
    assert not r.passed
    assert r.error in CODES


@pytest.mark.parametrize("enhanced", [False, True])
def test_jwt_claim_constraints_of_the_certificate_are_enforced(enhanced: bool) -> None:
    from shakenlib.pki.tnauthlist import (
        EJWT_CLAIM_CONSTRAINTS_OID,
        JWT_CLAIM_CONSTRAINTS_OID,
        JWTClaimConstraints,
        encode_jwt_claim_constraints,
    )

    bed = ShakenTestbed()
    pinned = JWTClaimConstraints(
        permitted={"attest": ("A",)}, must_exclude=("rcd",) if enhanced else (), enhanced=enhanced
    )
    oid = EJWT_CLAIM_CONSTRAINTS_OID if enhanced else JWT_CLAIM_CONSTRAINTS_OID
    ext = x509.UnrecognizedExtension(oid, encode_jwt_claim_constraints(pinned))
    provider = bed.add_provider("321A", extra_extensions=[(ext, False)])
    assert_passed(verify(bed, provider.sign(orig=ORIG, dest=DEST, attest="A")))
    r = verify(bed, provider.sign(orig=ORIG, dest=DEST, attest="B"))
    assert_failed(r, "claim_constraints", sip_code=438)
    assert "attest has value B" in (r.message or "")
    broken = bed.add_provider(
        "322A", extra_extensions=[(x509.UnrecognizedExtension(oid, b"\x30\x00"), False)]
    )
    assert_failed(
        verify(bed, broken.sign(orig=ORIG, dest=DEST)), "claim_constraints_invalid", sip_code=437
    )


def test_rfc9410_reason_names_the_failed_passport(bed: ShakenTestbed, acme: TestProvider) -> None:
    header = acme.sign(orig=ORIG, dest=DEST)
    r = verify(bed, header, at=bed.now + dt.timedelta(minutes=5))
    ident = r.identities[0]
    signature = header.split(";")[0].rsplit(".", 1)[1]
    assert ident.ppi == ".." + signature
    assert ident.reason_header() == f'STIR ;cause=403 ;text="Stale Date" ;ppi="..{signature}"'
    assert r.reason_header() == 'SIP ;cause=403 ;text="Stale Date"'
    assert verify(bed, header).identities[0].reason_header() is None
    assert r.to_dict()["identities"][0]["ppi"] == ".." + signature


def test_non_canonical_numbers_in_the_passport_are_compared_canonically(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    """Some signers send '+1...' in orig/dest (not RFC 8224 §8.3 canonical); the decoder
    reports it, and the verifier compares the canonical forms."""
    header, claims = base(acme, bed)
    value = forge(
        acme,
        header,
        {**claims, "orig": {"tn": "+1-215-555-1212"}, "dest": {"tn": ["+12155551213"]}},
    )
    r = verify(bed, value)
    assert r.orig == ORIG
    assert r.dest == (DEST,)
    assert_passed(r)
    warned = {f.code: f.severity for f in r.identities[0].findings}
    assert warned == {"orig_invalid": "warn", "dest_invalid": "warn"}


def test_certificate_with_an_invalid_version_is_cert_malformed() -> None:
    """cryptography raises InvalidVersion (not a ValueError) for X.509 version 6."""
    bed = ShakenTestbed()
    provider = bed.add_provider("654A")
    der = provider.issued.der
    v3 = bytes.fromhex("a003020102")
    assert v3 in der
    bed.repository.add(provider.x5u, der.replace(v3, bytes.fromhex("a003020105"), 1))
    r = verify(bed, provider.sign(orig=ORIG, dest=DEST))
    assert_failed(r, "cert_malformed", sip_code=437)


@given(st.binary(min_size=64, max_size=64), st.integers(0, 40), st.integers(0, 33))
@settings(max_examples=300)
def test_raw_signature_to_der_matches_cryptography(raw: bytes, zeros: int, s_zeros: int) -> None:
    """The hand-built Ecdsa-Sig-Value equals cryptography's encoder (leading zeros of R,
    of S or of both, high bits)."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from shakenlib.verify.verifier import _der_signature

    raw = bytes(min(zeros, 32)) + raw[min(zeros, 32) :]
    s_zeros = min(s_zeros, 32)
    raw = raw[:32] + bytes(s_zeros) + raw[32 + s_zeros :]
    expected = encode_dss_signature(
        int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    )
    assert _der_signature(raw) == expected


#: Policies the fast path must agree with the general path under (the defaults, each
#: check off, both revocation extremes, a narrower window, historical revocation).
POLICY_VARIANTS = [
    Policy(),
    Policy(check_orig=False),
    Policy(check_dest=False),
    Policy(require_info_match=False),
    Policy(check_tn_authorization=False),
    Policy(accepted_ppt=frozenset({"shaken"})),
    Policy(revocation="require"),
    Policy(revocation="off"),
    Policy(freshness=dt.timedelta(seconds=30)),
    Policy(revocation_time="as_of"),
]


@given(
    orig=tns,
    claimed_orig=st.one_of(st.none(), tns),
    dest=st.lists(tns, min_size=1, max_size=2),
    attest=st.sampled_from("ABC"),
    skew=st.integers(-90, 90),
    flip=st.one_of(st.none(), st.integers(0, 63)),
    policy=st.sampled_from(POLICY_VARIANTS),
)
@settings(
    max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
def test_plain_fast_path_gives_the_general_paths_result(
    bed: ShakenTestbed,
    acme: TestProvider,
    orig: str,
    claimed_orig: str | None,
    dest: list[str],
    attest: str,
    skew: int,
    flip: int | None,
    policy: Policy,
) -> None:
    # Calls the fast path takes (plain SHAKEN headers, credential ready), passing or
    # failing (stale, wrong orig, bad signature): the result equals the general path's.
    header = acme.sign(orig=claimed_orig or orig, dest=dest, attest=attest)  # type: ignore[arg-type]
    if flip is not None:  # another valid signature value: flip one bit of S (or R)
        token, params = header.split(";", 1)
        h, c, s = token.split(".")
        sig = bytearray(b64url_decode(s))
        sig[flip] ^= 1
        header = f"{h}.{c}.{b64url_encode(bytes(sig))};{params}"
    v: Verifier = bed.verifier(policy)
    at = bed.now + dt.timedelta(seconds=skew)
    v.verify(acme.sign(orig=ORIG, dest=DEST), orig=ORIG, dest=DEST, at=at)  # warm the cache
    assert v._plain(0, header, (orig,), at) is not None  # the fast path takes it
    fast = v._verify_one(0, header, (orig,), (dest[0],), at, None)
    assert fast == v._verify_one(0, header, (orig,), (dest[0],), at, None, fast=False)
    window = policy.freshness.total_seconds()
    orig_ok = claimed_orig in (None, orig) or not policy.check_orig
    assert fast.passed == (flip is None and abs(skew) <= window and orig_ok)


def test_plain_fast_path_leaves_refused_credentials_to_the_general_path() -> None:
    bed = ShakenTestbed()
    good, bad = bed.add_provider("111A"), bed.add_provider("999A")
    bed.revoke(bad)
    v: Verifier = bed.verifier()
    header = good.sign(orig=ORIG, dest=DEST)
    assert v._plain(0, header, (ORIG,), bed.now) is None  # not prepared yet
    assert v.verify(header, orig=ORIG, dest=DEST, at=bed.now).passed  # the general path
    fast = v._plain(0, header, (ORIG,), bed.now)
    assert fast is not None  # now ready in the cache
    assert fast.result(v._signature_failure(fast)).passed
    revoked = bad.sign(orig=ORIG, dest=DEST)
    assert v._plain(0, revoked, (ORIG,), bed.now) is None  # the general path says why
    assert_failed(v.verify(revoked, orig=ORIG, dest=DEST, at=bed.now), "cert_revoked")
    unreachable = Signer(good.issued.key, "https://cr.example.net/missing.pem").sign_shaken(
        orig=ORIG, dest=DEST, attest="A", iat=int(bed.now.timestamp())
    )
    assert v._plain(0, unreachable, (ORIG,), bed.now) is None
    assert v.verify(unreachable, orig=ORIG, dest=DEST, at=bed.now).sip_code == 436


def _times_called(owner: Any, method: str) -> list[dt.datetime]:
    """Wrap ``owner.method``; the returned list collects the ``at`` of each call."""
    seen: list[dt.datetime] = []
    real = getattr(owner, method)

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["at"])
        return real(*args, **kwargs)

    setattr(owner, method, recording)
    return seen


def test_a_revoked_certificate_is_remembered_until_the_crls_next_update() -> None:
    bed = ShakenTestbed()
    victim = bed.add_provider("999A")
    bed.revoke(victim)
    v: Verifier = bed.verifier()
    checks = _times_called(v.revocation, "check")
    at = bed.now
    for seconds in (0, 30, 1800):  # each call signed at its own time
        when = at + dt.timedelta(seconds=seconds)
        header = victim.sign(orig=ORIG, dest=DEST, iat=int(when.timestamp()))
        r = v.verify(header, orig=ORIG, dest=DEST, at=when)
        assert_failed(r, "cert_revoked", sip_code=437)
        assert r.spc == "999A"  # the signer is still named
    assert checks == [at]  # checked once: the answer holds for the hour
    later = at + dt.timedelta(hours=2)
    header = victim.sign(orig=ORIG, dest=DEST, iat=int(later.timestamp()))
    assert_failed(v.verify(header, orig=ORIG, dest=DEST, at=later), "cert_revoked")
    assert checks == [at, later]  # checked again after the hour


def test_a_remembered_revocation_ends_at_the_crls_next_update() -> None:
    bed = ShakenTestbed()
    victim = bed.add_provider("999A")
    bed.revoke(victim)
    soon = bed.now + dt.timedelta(minutes=10)  # the CRL is out of date after this
    bed.repository.add(
        bed.pki.crl_url,
        bed.pki.make_crl([victim.issued], next_update=soon),
        content_type="application/pkix-crl",
    )
    v: Verifier = bed.verifier()
    header = victim.sign(orig=ORIG, dest=DEST)
    assert_failed(v.verify(header, orig=ORIG, dest=DEST, at=bed.now), "cert_revoked")
    # 20 minutes later that CRL no longer counts (policy "prefer": a warning, not a
    # failure), so the remembered answer must not be given
    later = soon + dt.timedelta(minutes=10)
    header = victim.sign(orig=ORIG, dest=DEST, iat=int(later.timestamp()))
    r = v.verify(header, orig=ORIG, dest=DEST, at=later)
    assert r.error != "cert_revoked"
    assert "crl_expired" in {f.code for i in r.identities for f in i.findings}


def test_the_hourly_recheck_reuses_the_validated_chain(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    # Once an hour the revocation answer is checked again; the chain (and the claim
    # constraints) of the same credential are not validated again while `at` is inside
    # the chain's validity window.
    v: Verifier = bed.verifier()
    validations = _times_called(v.chains, "validate")
    for hours in (0, 2, 5):
        when = bed.now + dt.timedelta(hours=hours)
        header = acme.sign(orig=ORIG, dest=DEST, iat=int(when.timestamp()))
        assert_passed(v.verify(header, orig=ORIG, dest=DEST, at=when))
    assert validations == [bed.now]
    # past the certificate's end the chain is validated again (and fails)
    late = acme.issued.certificate.not_valid_after_utc + dt.timedelta(days=1)
    header = acme.sign(orig=ORIG, dest=DEST, iat=int(late.timestamp()))
    assert not v.verify(header, orig=ORIG, dest=DEST, at=late).passed
    assert validations[-1] == late


def test_a_failed_call_leaves_no_reference_cycle(bed: ShakenTestbed, acme: TestProvider) -> None:
    """A failure is kept past its handler without its traceback: a failed call leaves
    no cyclic garbage (which cost a batch of failing calls ~6 µs a call in collections)."""
    verifier = bed.verifier()
    stale = acme.sign(orig=ORIG, dest=DEST, iat=now_iat(bed) - 3600)
    tampered = forge(acme, *base(acme, bed), key=ec.generate_private_key(ec.SECP256R1()))
    header_json, claims = base(acme, bed)
    nowhere = header_json["x5u"] = "https://cr.nowhere.test/x.pem"
    unknown = forge(acme, header_json, claims, params=f"info=<{nowhere}>;alg=ES256;ppt=shaken")
    cases = [
        (stale, "iat_stale"),  # the fast path
        (tampered, "signature_invalid"),
        (unknown, None),  # the general path: no certificate
        ("a.b.c", None),  # a malformed header
    ]
    for header, code in cases:
        verifier.verify(header, orig=ORIG, dest=DEST, at=bed.now)  # (caches filled)
        gc.collect()
        result = verifier.verify(header, orig=ORIG, dest=DEST, at=bed.now)
        assert gc.collect() == 0, header
        assert not result.passed
        assert code is None or result.error == code


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.lists(st.integers(0, 10), max_size=12), warm=st.booleans())
def test_verify_many_gives_verify_for_each_call(kinds: list[int], warm: bool) -> None:
    """Calls of every kind in any order: verify_many (signatures checked together)
    gives what verify gives for each call in turn, from the same starting caches."""
    bed = _MANY_BED
    good, revoked = _MANY_PROVIDERS
    at = bed.now
    unreachable = Signer(good.issued.key, "https://cr.example.net/missing.pem").sign_shaken(
        orig=ORIG, dest=DEST, attest="A", iat=int(at.timestamp())
    )

    def tamper(header: str) -> str:  # another valid-looking signature value
        h, c, sig = header.split(";", 1)[0].split(".")
        raw = bytearray(b64url_decode(sig))
        raw[40] ^= 1
        return f"{h}.{c}.{b64url_encode(bytes(raw))};{header.split(';', 1)[1]}"

    stale = int(at.timestamp()) - 3600
    make = [
        lambda: {"identity": good.sign(orig=ORIG, dest=DEST)},
        lambda: {"identity": good.sign(orig=ORIG, dest=DEST, iat=stale)},
        lambda: {"identity": tamper(good.sign(orig=ORIG, dest=DEST))},
        lambda: {"identity": good.sign(orig="12155550000", dest=DEST)},  # orig mismatch
        lambda: {"identity": good.sign(orig=ORIG, dest="12155550000")},  # dest mismatch
        lambda: {"identity": revoked.sign(orig=ORIG, dest=DEST)},
        lambda: {"identity": unreachable},
        lambda: {"identity": "not.a;token"},
        lambda: {"identity": None},
        lambda: {"identity": [good.sign(orig=ORIG, dest=DEST), good.sign(orig=ORIG, dest=DEST)]},
        lambda: {"identity": tamper(good.sign(orig=ORIG, dest=DEST, iat=stale))},  # both
    ]
    calls = [{**make[k](), "orig": ORIG, "dest": DEST, "at": at} for k in kinds]
    one, many = bed.verifier(), bed.verifier()
    if warm:  # credentials ready in both caches: the plain path from the first call
        for v in (one, many):
            v.verify(good.sign(orig=ORIG, dest=DEST), orig=ORIG, dest=DEST, at=at)
    expected = [one.verify(**call) for call in calls]
    assert many.verify_many(calls) == expected
    assert [r.passed for r in expected] == [k in (0, 9) for k in kinds]


_MANY_BED = ShakenTestbed()
_MANY_PROVIDERS = (_MANY_BED.add_provider("111A"), _MANY_BED.add_provider("999A"))
_MANY_BED.revoke(_MANY_PROVIDERS[1])


def test_verify_many_raises_as_verify_does(bed: ShakenTestbed, acme: TestProvider) -> None:
    calls = [{"identity": acme.sign(orig=ORIG, dest=DEST), "at": bed.now}, {"identity": "x"}]
    with pytest.raises(UsageError):
        bed.verifier().verify_many(calls)
    with pytest.raises(UsageError):
        bed.verifier().verify_many([{"identity": "x", "at": dt.datetime(2025, 6, 1)}])
