"""Historical revocation: ``Policy.revocation_time="as_of"`` / ``--revocation-as-of``.

A certificate revoked *after* a call passes when the call is verified as of its own time
with today's CRL, and fails for a call made after the revocation; one revoked before the
call fails. The CRLs are built here (with the test PKI's "STI-PA CRL" signer) so that
revocation and invalidity dates can be placed around the call.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import HealthCheck, given, settings, strategies as st

from shakenlib.cli import main
from shakenlib.errors import CODES, RevocationError, UsageError
from shakenlib.pki.crl import CertificateRevoked, RevocationChecker
from shakenlib.testing.pki import Issued, StiTestPki
from shakenlib.testing.testbed import ShakenTestbed, TestProvider
from shakenlib.verify import Policy

ORIG, DEST = "12155551212", "12155551213"
DAY = dt.timedelta(days=1)


def crl(
    pki: StiTestPki,
    entries: list[tuple[Issued, dt.datetime, dt.datetime | None]],
    *,
    this_update: dt.datetime,
    next_update: dt.datetime | None = None,
) -> bytes:
    """An indirect STI-PA CRL listing (certificate, revocationDate, invalidityDate)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.crl_signer.certificate.subject)
        .last_update(this_update)
        .next_update(next_update or this_update + DAY)
    )
    for issued, revoked_at, invalid_at in entries:
        cert = issued.certificate
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(revoked_at)
            .add_extension(
                x509.CertificateIssuer([x509.DirectoryName(cert.issuer)]), critical=False
            )
        )
        if invalid_at is not None:
            entry = entry.add_extension(x509.InvalidityDate(invalid_at), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    signed = builder.sign(pki.crl_signer.key, hashes.SHA256())
    return signed.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def bed() -> ShakenTestbed:
    return ShakenTestbed()


@pytest.fixture
def acme(bed: ShakenTestbed) -> TestProvider:
    return bed.add_provider("873J", organization="Acme Telecom")


def publish(bed: ShakenTestbed, body: bytes) -> None:
    bed.repository.add(bed.pki.crl_url, body, content_type="application/pkix-crl")


def codes(result: object) -> list[str]:
    return [f.code for i in result.identities for f in i.findings]  # type: ignore[attr-defined]


def test_revoked_after_the_call_passes_as_of_the_call_and_fails_after(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    call = bed.now
    revoked_at = call + dt.timedelta(minutes=30)
    today = call + 30 * DAY  # the CRL at hand, issued long after the call
    publish(bed, crl(bed.pki, [(acme.issued, revoked_at, None)], this_update=today))
    verifier = bed.verifier(Policy(revocation_time="as_of", revocation="require"))

    before = verifier.verify(
        acme.sign(orig=ORIG, dest=DEST, iat=call), orig=ORIG, dest=DEST, at=call
    )
    assert before.passed, before.message
    found = {f.code: f for f in before.identities[0].findings}
    assert found["crl_as_of"].severity == "notice"
    assert today.isoformat() in found["crl_as_of"].message  # which CRL answered
    assert found["cert_revoked_later"].severity == "warn"
    assert revoked_at.isoformat() in found["cert_revoked_later"].message

    # The same verifier (its caches, which hold answers up to an hour) for a call made
    # ten minutes after the revocation: revoked.
    later = call + dt.timedelta(minutes=40)
    after = verifier.verify(
        acme.sign(orig=ORIG, dest=DEST, iat=later), orig=ORIG, dest=DEST, at=later
    )
    assert (after.passed, after.error, after.sip_code) == (False, "cert_revoked", 437)
    assert "CRL thisUpdate" in (after.message or "")
    # ... and the earlier call still passes (the later answer does not leak backwards).
    again = verifier.verify(
        acme.sign(orig=ORIG, dest=DEST, iat=call), orig=ORIG, dest=DEST, at=call
    )
    assert again.passed, again.message


def test_revoked_before_the_call_fails_as_of_the_call(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    publish(bed, crl(bed.pki, [(acme.issued, bed.now - DAY, None)], this_update=bed.now + 9 * DAY))
    r = bed.verifier(revocation_time="as_of").verify(
        acme.sign(orig=ORIG, dest=DEST), orig=ORIG, dest=DEST, at=bed.now
    )
    assert (r.passed, r.error) == (False, "cert_revoked")
    assert (bed.now - DAY).isoformat() in (r.message or "")


def test_current_mode_refuses_a_crl_issued_after_the_call(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    publish(bed, crl(bed.pki, [(acme.issued, bed.now + DAY, None)], this_update=bed.now + 2 * DAY))
    header = acme.sign(orig=ORIG, dest=DEST)
    strict = bed.verifier(revocation="require").verify(header, orig=ORIG, dest=DEST, at=bed.now)
    assert (strict.passed, strict.error) == (False, "crl_expired")
    soft = bed.verifier().verify(header, orig=ORIG, dest=DEST, at=bed.now)
    assert soft.passed
    assert "crl_expired" in codes(soft)
    assert "crl_as_of" not in codes(soft)


def test_a_crl_out_of_date_at_the_call_stays_out_of_date_in_as_of_mode(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    publish(bed, crl(bed.pki, [], this_update=bed.now - 5 * DAY, next_update=bed.now - 4 * DAY))
    r = bed.verifier(revocation="require", revocation_time="as_of").verify(
        acme.sign(orig=ORIG, dest=DEST), orig=ORIG, dest=DEST, at=bed.now
    )
    assert r.error == "crl_expired"


@pytest.mark.parametrize(
    ("revoked", "invalid", "expect"),
    [
        (-1, None, "cert_revoked"),  # revoked the day before the call
        (+1, None, None),  # revoked the day after
        (+1, -1, None),  # compromised before, but only revoked after the call
        (-1, +1, None),  # revoked before, invalid only from the day after
        (-2, -1, "cert_revoked"),  # both before
        (0, 0, "cert_revoked"),  # at the call itself: "at or before"
    ],
)
def test_revocation_and_invalidity_dates_both_count(
    bed: ShakenTestbed, acme: TestProvider, revoked: int, invalid: int | None, expect: str | None
) -> None:
    inv = bed.now + invalid * DAY if invalid is not None else None
    publish(
        bed,
        crl(bed.pki, [(acme.issued, bed.now + revoked * DAY, inv)], this_update=bed.now + 3 * DAY),
    )
    r = bed.verifier(revocation_time="as_of").verify(
        acme.sign(orig=ORIG, dest=DEST), orig=ORIG, dest=DEST, at=bed.now
    )
    assert r.error == expect, r.message
    if expect is None:
        assert "cert_revoked_later" in codes(r)


def test_as_of_a_current_crl_has_no_as_of_finding(bed: ShakenTestbed, acme: TestProvider) -> None:
    publish(bed, crl(bed.pki, [], this_update=bed.now - DAY))
    r = bed.verifier(revocation_time="as_of").verify(
        acme.sign(orig=ORIG, dest=DEST), orig=ORIG, dest=DEST, at=bed.now
    )
    assert r.passed
    assert "crl_as_of" not in codes(r)


def test_a_later_crl_needs_a_signer_valid_when_it_signed(bed: ShakenTestbed) -> None:
    pki = bed.pki
    leaf = pki.issue_sp_certificate("818H")
    checker = RevocationChecker(
        [pki.crl_signer.certificate], policy="require", revocation_time="as_of"
    )
    # The CRL signer certificate ends ten years after `now`: a CRL "issued" later than
    # that is not trusted, however recent the call.
    beyond = pki.crl_signer.certificate.not_valid_after_utc + DAY
    with pytest.raises(RevocationError) as info:
        checker.check(leaf.certificate, [crl(pki, [], this_update=beyond)], at=pki.now)
    assert info.value.code == "crl_invalid"


def test_revocation_time_is_checked_and_codes_are_listed() -> None:
    with pytest.raises(UsageError):
        RevocationChecker([], revocation_time="yesterday")  # type: ignore[arg-type]
    for code in ("crl_as_of", "cert_revoked_later"):
        assert CODES[code].sip_code is None


_PKI = StiTestPki()
_LEAF = _PKI.issue_sp_certificate("777A")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    revoked=st.integers(min_value=-20 * 24, max_value=20 * 24),
    invalid=st.none() | st.integers(min_value=-20 * 24, max_value=20 * 24),
    call=st.integers(min_value=-20 * 24, max_value=20 * 24),
)
def test_as_of_verdict_is_revoked_iff_both_dates_are_at_or_before_the_call(
    revoked: int, invalid: int | None, call: int
) -> None:
    hour = dt.timedelta(hours=1)
    at = _PKI.now + call * hour
    inv = _PKI.now + invalid * hour if invalid is not None else None
    body = crl(_PKI, [(_LEAF, _PKI.now + revoked * hour, inv)], this_update=_PKI.now + 21 * DAY)
    checker = RevocationChecker([_PKI.crl_signer.certificate], revocation_time="as_of")
    expected = revoked <= call and (invalid is None or invalid <= call)
    try:
        status = checker.check(_LEAF.certificate, [body], at=at)
    except CertificateRevoked:
        assert expected
        return
    assert not expected
    assert status.checked
    assert status.revoked_after == max(_PKI.now + revoked * hour, inv or _PKI.now + revoked * hour)


def test_cli_revocation_as_of(
    bed: ShakenTestbed, acme: TestProvider, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    bed.write_mirror(root)
    body = crl(bed.pki, [(acme.issued, bed.now + DAY, None)], this_update=bed.now + 5 * DAY)
    bed.pki.publish(root, bed.pki.crl_url, body)
    trust = root / "trust.pem"
    trust.write_bytes(bed.pki.trust_anchors_pem())
    header = acme.sign(orig=ORIG, dest=DEST)
    argv = [
        "verify",
        header,
        "--orig",
        ORIG,
        "--dest",
        DEST,
        "--at",
        bed.now.isoformat(),
        "--trust",
        str(trust),
        "--mirror",
        str(root),
        "--revocation",
        "require",
        "--json",
    ]
    assert main(argv) == 1  # the CRL is not current at the call
    assert json.loads(capsys.readouterr().out)["error"] == "crl_expired"
    assert main([*argv, "--revocation-as-of"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"crl_as_of", "cert_revoked_later"} <= {
        f["code"] for i in out["identities"] for f in i["findings"]
    }


@pytest.mark.parametrize("command", ["analyze", "verify-batch"])
def test_batch_commands_carry_the_as_of_policy(command: str, tmp_path: object) -> None:
    from pathlib import Path

    from shakenlib.cli import build_parser
    from shakenlib.cli.analyze import source_and_config

    root = Path(str(tmp_path))
    (root / "calls.jsonl").write_text("")
    (root / "trust.pem").write_bytes(StiTestPki().trust_anchors_pem())
    argv = [command, str(root / "calls.jsonl"), "--trust", str(root / "trust.pem")]
    _, config = source_and_config(build_parser().parse_args(argv))
    assert config.policy.revocation_time == "current"
    _, config = source_and_config(
        build_parser().parse_args([*argv, "--revocation-as-of", "--allow-compact-form"])
    )
    assert (config.policy.revocation_time, config.policy.allow_compact_form) == ("as_of", True)
