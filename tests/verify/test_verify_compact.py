"""Compact-form PASSporTs (RFC 8224 §7.1, RFC 8225 §7): rebuilt from the SIP request and
verified over the rebuilt text; ``Policy.allow_compact_form`` for ``ppt=shaken``."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from shakenlib.cli import main
from shakenlib.sip import parse_sip_message
from shakenlib.sip.identity import parse_identity
from shakenlib.sip.passport import b64url_encode, canonical_json, decode_compact, rebuild_compact
from shakenlib.sip.sign import sign_es256
from shakenlib.testing.testbed import ShakenTestbed, TestProvider
from shakenlib.verify import Policy

ORIG, DEST = "12155551212", "12155551213"
ORIGID = "6f8d2c3a-1b2c-4d5e-8f90-123456789abc"


@pytest.fixture(scope="module")
def bed() -> ShakenTestbed:
    return ShakenTestbed()


@pytest.fixture(scope="module")
def acme(bed: ShakenTestbed) -> TestProvider:
    return bed.add_provider("873J", organization="Acme Telecom")


def compact_invite(
    acme: TestProvider,
    when: dt.datetime,
    *,
    orig: str = ORIG,
    dest: str = DEST,
    attest: str = "A",
    ppt: str = "shaken",
    extra: str = "",
    signed: dict[str, object] | None = None,
) -> str:
    """An INVITE whose Identity header is the compact form of a PASSporT signed over
    exactly what the request says (or over ``signed`` claims when given)."""
    header = {"alg": "ES256", "ppt": ppt, "typ": "passport", "x5u": acme.x5u}
    claims: dict[str, object] = signed or {
        "attest": attest,
        "dest": {"tn": [dest]},
        "iat": int(when.timestamp()),
        "orig": {"tn": orig},
        "origid": ORIGID,
    }
    signing_input = (
        f"{b64url_encode(canonical_json(header))}.{b64url_encode(canonical_json(claims))}"
    )
    sig = b64url_encode(sign_es256(acme.issued.key, signing_input.encode()))
    return "\r\n".join(
        [
            f"INVITE sip:+{dest}@sbc.example.net;user=phone SIP/2.0",
            "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds",
            f'From: "Alice" <sip:+{orig}@example.com;user=phone>;tag=1928301774',
            f"To: <sip:+{dest}@example.net;user=phone>",
            f"P-Asserted-Identity: <tel:+{orig}>",
            "Call-ID: a84b4c76e66710@pc33.example.com",
            "CSeq: 314159 INVITE",
            f"Date: {email.utils.format_datetime(when, usegmt=True)}",
            f"Attestation-Info: {attest}",
            f"Origination-Id: {ORIGID}",
            f"Identity: ..{sig};info=<{acme.x5u}>;alg=ES256;ppt={ppt}",
            *([extra] if extra else []),
            "Content-Length: 0",
            "",
            "",
        ]
    )


def allowing(bed: ShakenTestbed):  # type: ignore[no-untyped-def]
    return bed.verifier(Policy(allow_compact_form=True))


def test_a_compact_form_invite_verifies_when_policy_allows_it(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    r = allowing(bed).verify_sip(compact_invite(acme, bed.now))
    assert r.passed, r.message
    assert (r.attest, r.origid, r.orig, r.dest, r.spc) == ("A", ORIGID, ORIG, (DEST,), "873J")
    ident = r.identities[0]
    assert [(f.code, f.severity) for f in ident.findings] == [("identity_compact_form", "warn")]
    assert ident.token is not None
    assert ident.token.startswith("..")
    assert ident.ppi == ident.token  # RFC 9410: the compact form names the header


def test_compact_shaken_fails_by_default_atis_requires_the_full_form(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    r = bed.verifier().verify_sip(compact_invite(acme, bed.now))
    assert (r.passed, r.error, r.sip_code) == (False, "identity_compact_form", 438)


def test_without_the_request_a_compact_form_is_compact_no_request(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    identity = parse_sip_message(compact_invite(acme, bed.now)).identity[0]
    r = allowing(bed).verify(identity, orig=ORIG, dest=DEST, at=bed.now)
    assert (r.passed, r.error, r.sip_code) == (False, "compact_no_request", 438)
    # a baseline (no ppt) compact PASSporT is not refused by policy: same answer
    baseline = identity.rsplit(";ppt=", 1)[0]
    r = bed.verifier(accepted_ppt=frozenset({"shaken", "div"})).verify(baseline, at=bed.now)
    assert r.error == "compact_no_request"


def test_verify_with_sip_argument_rebuilds_too(bed: ShakenTestbed, acme: TestProvider) -> None:
    sip = parse_sip_message(compact_invite(acme, bed.now))
    r = allowing(bed).verify(list(sip.identity), at=bed.now, sip=sip)
    assert r.passed, r.message


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (f"To: <sip:+{DEST}@", "To: <sip:+12155550000@"),  # another dest
        (f"P-Asserted-Identity: <tel:+{ORIG}>", "P-Asserted-Identity: <tel:+12155550001>"),
        ("Attestation-Info: A", "Attestation-Info: B"),
        (f"Origination-Id: {ORIGID}", "Origination-Id: 00000000-0000-4000-8000-000000000000"),
    ],
)
def test_a_request_that_differs_from_what_was_signed_fails_the_signature(
    bed: ShakenTestbed, acme: TestProvider, old: str, new: str
) -> None:
    text = compact_invite(acme, bed.now)
    assert old in text
    r = allowing(bed).verify_sip(text.replace(old, new), at=bed.now)
    assert (r.passed, r.error) == (False, "signature_invalid"), r.message


def test_the_date_is_the_iat(bed: ShakenTestbed, acme: TestProvider) -> None:
    text = compact_invite(acme, bed.now)
    later = email.utils.format_datetime(bed.now + dt.timedelta(seconds=1), usegmt=True)
    moved = text.replace(email.utils.format_datetime(bed.now, usegmt=True), later)
    assert allowing(bed).verify_sip(moved).error == "signature_invalid"
    # a stale Date is a stale iat: 403
    stale = allowing(bed).verify_sip(text, at=bed.now + dt.timedelta(minutes=5))
    assert (stale.error, stale.sip_code) == ("iat_stale", 403)


def test_missing_shaken_claims_in_the_request(bed: ShakenTestbed, acme: TestProvider) -> None:
    text = compact_invite(acme, bed.now).replace("Attestation-Info: A\r\n", "")
    r = allowing(bed).verify_sip(text)
    assert (r.passed, r.error) == (False, "claim_missing")


def test_div_must_stay_full_form(bed: ShakenTestbed, acme: TestProvider) -> None:
    signed = {
        "dest": {"tn": [DEST]},
        "div": {"tn": "12155559999"},
        "iat": int(bed.now.timestamp()),
        "orig": {"tn": ORIG},
    }
    text = compact_invite(acme, bed.now, ppt="div", signed=signed)
    r = allowing(bed).verify_sip(text)
    assert r.error == "identity_compact_form"


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    orig=st.from_regex(r"1[2-9][0-9]{9}", fullmatch=True),
    dest=st.from_regex(r"1[2-9][0-9]{9}", fullmatch=True),
    seconds=st.integers(min_value=0, max_value=10**9),
    attest=st.sampled_from("ABC"),
)
def test_the_rebuilt_text_is_the_signed_text(
    acme: TestProvider, orig: str, dest: str, seconds: int, attest: str
) -> None:
    when = dt.datetime(1990, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    sip = parse_sip_message(compact_invite(acme, when, orig=orig, dest=dest, attest=attest))
    ident = parse_identity(sip.identity[0])
    data, _ = rebuild_compact(ident, sip)
    claims = {
        "attest": attest,
        "dest": {"tn": [dest]},
        "iat": int(when.timestamp()),
        "orig": {"tn": orig},
        "origid": ORIGID,
    }
    assert data.split(b".")[1] == b64url_encode(canonical_json(claims)).encode()
    decoded = decode_compact(ident, sip)
    assert decoded.passport is not None
    assert decoded.passport.signing_input == data
    assert decoded.passport.claims.attest == attest


def test_cli_allow_compact_form(
    bed: ShakenTestbed, acme: TestProvider, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bed.write_mirror(tmp_path)
    trust = tmp_path / "trust.pem"
    trust.write_bytes(bed.pki.trust_anchors_pem())
    invite = tmp_path / "invite.sip"
    invite.write_text(compact_invite(acme, bed.now))
    argv = [
        "verify",
        "--sip",
        str(invite),
        "--trust",
        str(trust),
        "--mirror",
        str(tmp_path),
        "--json",
    ]
    assert main(argv) == 1
    assert json.loads(capsys.readouterr().out)["error"] == "identity_compact_form"
    assert main([*argv, "--allow-compact-form"]) == 0
    assert json.loads(capsys.readouterr().out)["passed"] is True
