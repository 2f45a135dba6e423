"""Tests for shakenlib.pki.crl: indirect STI-PA CRLs, signer trust, policies, cache."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings, strategies as st

from shakenlib.errors import CODES, RevocationError, UsageError
from shakenlib.pki.crl import (
    CertificateRevoked,
    RevocationChecker,
    RevocationStatus,
    crl_urls,
    validate_crl_signer,
)
from shakenlib.pki.trust import TrustStore
from shakenlib.testing.pki import DEFAULT_NOW, Issued, StiTestPki

NOW = DEFAULT_NOW
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def good(pki: StiTestPki) -> Issued:
    return pki.issue_sp_certificate("873J")


@pytest.fixture(scope="module")
def bad(pki: StiTestPki) -> Issued:
    return pki.issue_sp_certificate("818H")


def _checker(pki: StiTestPki, policy: str = "require") -> RevocationChecker:
    return RevocationChecker([pki.crl_signer.certificate], policy=policy)  # type: ignore[arg-type]


def _revoked(fn: object, *args: object, **kwargs: object) -> CertificateRevoked:
    with pytest.raises(CertificateRevoked) as info:
        fn(*args, **kwargs)  # type: ignore[operator]
    return info.value


def test_not_revoked(pki: StiTestPki, good: Issued, bad: Issued) -> None:
    crl = pki.make_crl([bad])
    status = _checker(pki).check(good.certificate, [crl], at=NOW)
    assert status == RevocationStatus(
        revoked=False,
        checked=True,
        reason=None,
        crl_this_update=NOW - DAY,
        crl_next_update=NOW + DAY,
        findings=(),
    )


def test_revoked_with_certificate_issuer(pki: StiTestPki, bad: Issued) -> None:
    err = _revoked(_checker(pki).check, bad.certificate, [pki.make_crl([bad])], at=NOW)
    assert err.code == "cert_revoked"
    assert err.sip_code == 437
    assert "'SHAKEN 818H'" in err.message
    assert f"{bad.certificate.serial_number:x}" in err.message
    assert (NOW - dt.timedelta(hours=1)).isoformat() in err.message
    assert "reason: unspecified" in err.message
    assert err.status is not None
    assert err.status.revoked
    assert err.status.revocation_date == NOW - dt.timedelta(hours=1)
    assert err.status.findings == ()  # matched by serial and issuer: nothing to note
    assert isinstance(err, RevocationError)
    # picklable like every ShakenError
    again = pickle.loads(pickle.dumps(err))
    assert (again.code, again.message) == (err.code, err.message)


def test_revoked_without_certificate_issuer(pki: StiTestPki, bad: Issued, good: Issued) -> None:
    crl = pki.make_crl([bad], certificate_issuer=False)
    err = _revoked(_checker(pki).check, bad.certificate, [crl], at=NOW)
    assert err.status is not None
    assert [f.code for f in err.status.findings] == ["cert_revoked"]
    assert "matched by serial number alone" in err.status.findings[0].message
    assert "indirect CRL" in err.status.findings[0].message
    assert _checker(pki).check(good.certificate, [crl], at=NOW).checked


def test_same_serial_other_ca_not_revoked(pki: StiTestPki, bad: Issued) -> None:
    other = StiTestPki(ca_name="Other CA")
    twin = other.issue_sp_certificate("818H", serial=bad.certificate.serial_number)
    assert twin.certificate.serial_number == bad.certificate.serial_number
    crl = pki.make_crl([bad])
    status = _checker(pki).check(twin.certificate, [crl], at=NOW)
    assert status.checked
    assert not status.revoked
    _revoked(_checker(pki).check, bad.certificate, [crl], at=NOW)


def _hand_made_crl(
    pki: StiTestPki, entries: list[tuple[int, x509.Name | None, x509.ReasonFlags | None]]
) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.crl_signer.certificate.subject)
        .last_update(NOW - DAY)
        .next_update(NOW + DAY)
    )
    for serial, issuer, reason in entries:
        entry = (
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW - 2 * DAY)
        )
        if issuer is not None:
            entry = entry.add_extension(
                x509.CertificateIssuer([x509.DirectoryName(issuer)]), critical=True
            )
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(pki.crl_signer.key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM
    )


def test_certificate_issuer_applies_to_following_entries(pki: StiTestPki) -> None:
    # RFC 5280 §5.3.3: the certificateIssuer of entry 1 also covers entry 2.
    other = StiTestPki(ca_name="Other CA")
    ours = pki.issue_sp_certificate("1111")
    theirs = other.issue_sp_certificate("2222", serial=ours.certificate.serial_number + 1)
    mine_same_serial = pki.issue_sp_certificate("3333", serial=theirs.certificate.serial_number)
    crl = _hand_made_crl(
        pki,
        [
            (
                ours.certificate.serial_number,
                other.ca_intermediate.certificate.subject,
                x509.ReasonFlags.key_compromise,
            ),
            (theirs.certificate.serial_number, None, x509.ReasonFlags.cessation_of_operation),
        ],
    )
    checker = _checker(pki)
    err = _revoked(checker.check, theirs.certificate, [crl], at=NOW)  # inherited issuer
    assert "reason: cessationOfOperation" in err.message
    assert err.status is not None
    assert err.status.reason == "cessationOfOperation"
    # entry 1 names the other CA, so our cert with that serial is not revoked ...
    assert checker.check(ours.certificate, [crl], at=NOW).checked
    # ... nor ours with entry 2's serial (its inherited issuer is the other CA)
    assert checker.check(mine_same_serial.certificate, [crl], at=NOW).checked


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"this_update": NOW - 3 * DAY, "next_update": NOW - DAY}, "out of date"),
        ({"this_update": NOW + DAY, "next_update": NOW + 3 * DAY}, "not yet valid"),
    ],
)
def test_crl_outside_its_window(
    pki: StiTestPki, good: Issued, kwargs: dict[str, dt.datetime], needle: str
) -> None:
    crl = pki.make_crl([], **kwargs)  # type: ignore[arg-type]
    with pytest.raises(RevocationError) as info:
        _checker(pki).check(good.certificate, [crl], at=NOW)
    assert info.value.code == "crl_expired"
    assert needle in info.value.message
    status = _checker(pki, "prefer").check(good.certificate, [crl], at=NOW)
    assert not status.checked
    assert [(f.code, f.severity) for f in status.findings] == [("crl_expired", "warn")]


def test_crl_bad_signature(pki: StiTestPki, good: Issued, bad: Issued) -> None:
    # Same issuer name as the trusted signer, another key.
    forger = Issued(pki.crl_signer.certificate, ec.generate_private_key(ec.SECP256R1()))
    crl = pki.make_crl([bad], signer=forger)
    with pytest.raises(RevocationError) as info:
        _checker(pki).check(bad.certificate, [crl], at=NOW)
    assert info.value.code == "crl_invalid"
    assert "signature does not verify" in info.value.message
    assert "STI-PA CRL" in info.value.message


def test_crl_untrusted_signer(pki: StiTestPki, good: Issued) -> None:
    crl = pki.make_crl([], signer=pki.ca_intermediate)
    with pytest.raises(RevocationError) as info:
        _checker(pki).check(good.certificate, [crl], at=NOW)
    assert info.value.code == "crl_invalid"
    assert "not a trusted CRL signer" in info.value.message
    # another ecosystem's "STI-PA CRL" (same name, other key) is not trusted either
    foreign = StiTestPki().make_crl([])
    with pytest.raises(RevocationError) as info:
        _checker(pki).check(good.certificate, [foreign], at=NOW)
    assert info.value.code == "crl_invalid"


def test_signer_without_crl_sign_is_not_trusted(pki: StiTestPki, good: Issued) -> None:
    checker = RevocationChecker([pki.ca_intermediate.certificate], policy="require")
    with pytest.raises(RevocationError) as info:
        checker.check(good.certificate, [pki.make_crl([], signer=pki.ca_intermediate)], at=NOW)
    assert info.value.code == "crl_invalid"


def test_policies(pki: StiTestPki, good: Issued, bad: Issued) -> None:
    with pytest.raises(RevocationError) as info:
        _checker(pki, "require").check(good.certificate, [], at=NOW)
    assert info.value.code == "crl_unavailable"
    assert "SHAKEN 873J" in info.value.message
    status = _checker(pki, "prefer").check(good.certificate, [], at=NOW)
    assert (status.checked, status.revoked) == (False, False)
    assert [f.code for f in status.findings] == ["crl_unavailable"]
    off = _checker(pki, "off").check(bad.certificate, [pki.make_crl([bad])], at=NOW)
    assert off == RevocationStatus(revoked=False, checked=False)
    # prefer still raises for a revoked certificate on a usable CRL
    _revoked(_checker(pki, "prefer").check, bad.certificate, [pki.make_crl([bad])], at=NOW)
    with pytest.raises(UsageError):
        RevocationChecker([], policy="sometimes")  # type: ignore[arg-type]


def test_one_usable_crl_is_enough(pki: StiTestPki, good: Issued, bad: Issued) -> None:
    stale = pki.make_crl([], this_update=NOW - 3 * DAY, next_update=NOW - DAY)
    status = _checker(pki, "require").check(
        good.certificate, [b"junk", stale, pki.make_crl([bad])], at=NOW
    )
    assert status.checked
    assert [f.code for f in status.findings] == ["crl_invalid", "crl_expired"]
    _revoked(_checker(pki).check, bad.certificate, [stale, pki.make_crl([bad])], at=NOW)


def test_parse_pem_der_objects_and_garbage(pki: StiTestPki, bad: Issued) -> None:
    der = pki.make_crl([bad])
    checker = _checker(pki)
    parsed = checker.parse(der)
    pem = parsed.public_bytes(serialization.Encoding.PEM)
    assert checker.parse(pem).public_bytes(serialization.Encoding.DER) == der
    assert checker.parse(der) is parsed  # cached by SHA-256
    _revoked(checker.check, bad.certificate, [parsed], at=NOW)  # a parsed object works too
    for junk in (b"", b"garbage", b"-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n"):
        with pytest.raises(RevocationError) as info:
            checker.parse(junk)
        assert info.value.code == "crl_invalid"


def test_parse_cache_is_bounded(pki: StiTestPki) -> None:
    checker = RevocationChecker([pki.crl_signer.certificate], cache_size=2)
    crls = [pki.make_crl([], this_update=NOW - DAY + dt.timedelta(seconds=i)) for i in range(4)]
    first = checker.parse(crls[0])
    for crl in crls[1:]:
        checker.parse(crl)
    assert checker.parse(crls[0]) is not first  # evicted, parsed again
    assert checker.parse(crls[0]) is checker.parse(crls[0])


def test_extra_signer_validated_against_trust_store(pki: StiTestPki, bad: Issued) -> None:
    trust = TrustStore([pki.ca_root.certificate, pki.sti_pa_root.certificate])
    checker = RevocationChecker(trust, policy="require", extra_signers=[pki.crl_signer.certificate])
    _revoked(checker.check, bad.certificate, [pki.make_crl([bad])], at=NOW)
    # Without the extra signer the STI-PA root alone cannot vouch for the CRL.
    with pytest.raises(RevocationError) as info:
        RevocationChecker(trust, policy="require").check(
            bad.certificate, [pki.make_crl([bad])], at=NOW
        )
    assert info.value.code == "crl_invalid"
    # An extra signer that does not chain to the store is ignored.
    foreign = StiTestPki()
    untrusted = RevocationChecker(
        trust, policy="require", extra_signers=[foreign.crl_signer.certificate]
    )
    with pytest.raises(RevocationError):
        untrusted.check(bad.certificate, [foreign.make_crl([bad])], at=NOW)
    with pytest.raises(UsageError):
        RevocationChecker([pki.crl_signer.certificate], extra_signers=[pki.crl_signer.certificate])


def test_crl_signer_inside_the_trust_store_signs_directly(pki: StiTestPki, bad: Issued) -> None:
    # A trust bundle that carries the "STI-PA CRL" certificate itself (only certificates
    # with cRLSign count as signers; the CA roots do not).
    trust = TrustStore([pki.ca_root.certificate, pki.crl_signer.certificate])
    _revoked(
        RevocationChecker(trust, policy="require").check,
        bad.certificate,
        [pki.make_crl([bad])],
        at=NOW,
    )
    with pytest.raises(RevocationError) as info:
        RevocationChecker(trust, policy="require").check(
            bad.certificate, [pki.make_crl([bad], signer=pki.ca_root)], at=NOW
        )
    assert "not a trusted CRL signer" in info.value.message


def test_validate_crl_signer(pki: StiTestPki) -> None:
    trust = TrustStore([pki.ca_root.certificate, pki.sti_pa_root.certificate])
    assert validate_crl_signer(pki.crl_signer.certificate, trust, at=NOW) is (
        pki.crl_signer.certificate
    )
    with pytest.raises(RevocationError) as info:
        validate_crl_signer(
            pki.crl_signer.certificate, TrustStore([pki.ca_root.certificate]), at=NOW
        )
    assert info.value.code == "crl_invalid"
    assert "does not chain" in info.value.message
    with pytest.raises(RevocationError) as info:
        validate_crl_signer(pki.ca_intermediate.certificate, trust, at=NOW)
    assert "no cRLSign" in info.value.message


def test_check_chain(pki: StiTestPki, good: Issued) -> None:
    chain = [good.certificate, pki.ca_intermediate.certificate, pki.ca_root.certificate]
    assert _checker(pki).check_chain(chain, [pki.make_crl([])], at=NOW).checked
    err = _revoked(_checker(pki).check_chain, chain, [pki.make_crl([pki.ca_intermediate])], at=NOW)
    assert "SHAKEN Intermediate" in err.message


def test_crl_urls(pki: StiTestPki, good: Issued) -> None:
    assert crl_urls(good.certificate) == (pki.crl_url,)
    assert crl_urls([good.certificate, pki.ca_intermediate.certificate]) == (pki.crl_url,)
    assert crl_urls([pki.ca_root.certificate]) == ()
    two = StiTestPki(crl_url="http://crl.example.test/x.crl")
    assert crl_urls([good.certificate, two.issue_sp_certificate().certificate]) == (
        pki.crl_url,
        "http://crl.example.test/x.crl",
    )


def test_naive_time_rejected(pki: StiTestPki, good: Issued) -> None:
    with pytest.raises(UsageError):
        _checker(pki).check(good.certificate, [], at=NOW.replace(tzinfo=None))


# --- properties --------------------------------------------------------------------------


_PROP = StiTestPki()
_PROP_CERTS = [_PROP.issue_sp_certificate(f"{i:03d}P") for i in range(6)]
_PROP_CHECKER = RevocationChecker([_PROP.crl_signer.certificate], policy="require")


@settings(max_examples=40, deadline=None)
@given(revoked=st.sets(st.integers(min_value=0, max_value=5)), with_issuer=st.booleans())
def test_revoked_exactly_when_listed(revoked: set[int], with_issuer: bool) -> None:
    crl = _PROP.make_crl([_PROP_CERTS[i] for i in sorted(revoked)], certificate_issuer=with_issuer)
    for i, cert in enumerate(_PROP_CERTS):
        if i in revoked:
            with pytest.raises(CertificateRevoked):
                _PROP_CHECKER.check(cert.certificate, [crl], at=DEFAULT_NOW)
        else:
            assert _PROP_CHECKER.check(cert.certificate, [crl], at=DEFAULT_NOW).checked


@settings(max_examples=60, deadline=None)
@given(offset=st.integers(min_value=-3 * 86400, max_value=3 * 86400))
def test_crl_window_edges(offset: int) -> None:
    crl = _PROP.make_crl([])
    at = DEFAULT_NOW + dt.timedelta(seconds=offset)
    inside = DEFAULT_NOW - DAY <= at <= DEFAULT_NOW + DAY
    if inside:
        assert _PROP_CHECKER.check(_PROP_CERTS[0].certificate, [crl], at=at).checked
    else:
        with pytest.raises(RevocationError) as info:
            _PROP_CHECKER.check(_PROP_CERTS[0].certificate, [crl], at=at)
        assert info.value.code == "crl_expired"
        assert info.value.code in CODES


# --- hostile CRL bytes ---------------------------------------------------------------------
# cryptography decodes a CRL's issuer, extensions and entries lazily: a malformed one raised
# ValueError / TypeError (and a bad version InvalidVersion) out of check() instead of
# crl_invalid. CRLs come from the network and are parsed before their signature is checked.

_HOSTILE_CRL = _PROP.make_crl(_PROP_CERTS[:2])


def _crl_with_idp_value(value: bytes) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_PROP.crl_signer.certificate.subject)
        .last_update(NOW - DAY)
        .next_update(NOW + DAY)
        .add_extension(
            x509.UnrecognizedExtension(x509.oid.ExtensionOID.ISSUING_DISTRIBUTION_POINT, value),
            critical=True,
        )
    )
    return builder.sign(_PROP.crl_signer.key, hashes.SHA256()).public_bytes(
        serialization.Encoding.DER
    )


@pytest.mark.parametrize("policy", ["require", "prefer"])
def test_malformed_crl_parts_are_crl_invalid(policy: str) -> None:
    version_at = _HOSTILE_CRL.find(bytes.fromhex("020101"))
    bad_version = (
        _HOSTILE_CRL[:version_at] + bytes.fromhex("020105") + _HOSTILE_CRL[version_at + 3 :]
    )
    checker = RevocationChecker([_PROP.crl_signer.certificate], policy=policy)  # type: ignore[arg-type]
    for crl in (_crl_with_idp_value(b"\x30\x03\xdf\x01\x00"), bad_version):
        if policy == "require":
            with pytest.raises(RevocationError) as info:
                checker.check(_PROP_CERTS[4].certificate, [crl], at=NOW)
            assert info.value.code == "crl_invalid"
        else:
            status = checker.check(_PROP_CERTS[4].certificate, [crl], at=NOW)
            assert not status.checked
            assert [f.code for f in status.findings] == ["crl_invalid"]


@settings(max_examples=200, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(_HOSTILE_CRL) - 1), st.integers(0, 255)),
        min_size=1,
        max_size=3,
    )
)
def test_mutated_crl_never_raises_anything_but_revocation_errors(
    edits: list[tuple[int, int]],
) -> None:
    data = bytearray(_HOSTILE_CRL)
    for pos, byte in edits:
        data[pos] = byte
    checker = RevocationChecker([_PROP.crl_signer.certificate], policy="prefer")
    try:
        status = checker.check(_PROP_CERTS[4].certificate, [bytes(data)], at=NOW)
    except RevocationError as exc:  # CertificateRevoked included
        assert exc.code in CODES
    else:
        assert status.checked or status.findings


def test_certificate_issuer_with_x400_address_is_crl_invalid() -> None:
    # certificateIssuer GeneralNames holding an x400Address [3]: cryptography raises
    # UnsupportedGeneralNameType (not a ValueError) when the entry is read.
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(5)
        .revocation_date(NOW - DAY)
        .add_extension(
            x509.UnrecognizedExtension(
                x509.oid.CRLEntryExtensionOID.CERTIFICATE_ISSUER, bytes.fromhex("3002a300")
            ),
            critical=True,
        )
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_PROP.crl_signer.certificate.subject)
        .last_update(NOW - DAY)
        .next_update(NOW + DAY)
        .add_revoked_certificate(entry)
        .sign(_PROP.crl_signer.key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    with pytest.raises(RevocationError) as info:
        _PROP_CHECKER.check(_PROP_CERTS[4].certificate, [crl], at=NOW)
    assert info.value.code == "crl_invalid"


def test_crl_urls_of_a_certificate_with_an_x400_name() -> None:
    # UnsupportedGeneralNameType is not a ValueError: crl_urls raised it.
    ext = x509.UnrecognizedExtension(
        x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME, bytes.fromhex("3002a300")
    )
    cert = _PROP.issue_sp_certificate("873J", extra_extensions=[(ext, False)]).certificate
    assert crl_urls([cert, _PROP.ca_intermediate.certificate]) == (_PROP.crl_url,)


def test_crl_signer_with_x400_san_is_crl_invalid() -> None:
    ext = x509.UnrecognizedExtension(
        x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME, bytes.fromhex("3002a300")
    )
    signer = _PROP._sign(
        subject=_PROP.crl_issuer_name,
        key=ec.generate_private_key(ec.SECP256R1()),
        issuer=_PROP.sti_pa_root,
        ca=False,
        key_usage="crl",
        extensions=[(ext, False)],
        policies=False,
        crldp=False,
    )
    trust = TrustStore([_PROP.sti_pa_root.certificate])
    with pytest.raises(RevocationError) as info:
        validate_crl_signer(signer.certificate, trust, at=NOW)
    assert info.value.code == "crl_invalid"


# --- CRL scope (RFC 5280 §5.2.5, §5.2, §5.3, §6.3.3) ------------------------------------------


def _scoped_crl(
    pki: StiTestPki,
    revoked: list[Issued],
    *,
    idp: dict[str, object] | None = None,
    extensions: list[tuple[x509.ExtensionType, bool]] = (),  # type: ignore[assignment]
    entry_extensions: list[tuple[x509.ExtensionType, bool]] = (),  # type: ignore[assignment]
) -> bytes:
    fields: dict[str, object] = dict(
        full_name=[x509.UniformResourceIdentifier(pki.crl_url)],
        relative_name=None,
        only_contains_user_certs=False,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=True,
        only_contains_attribute_certs=False,
    )
    fields.update(idp or {})
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.crl_signer.certificate.subject)
        .last_update(NOW - DAY)
        .next_update(NOW + DAY)
        .add_extension(x509.IssuingDistributionPoint(**fields), critical=True)
    )  # type: ignore[arg-type]
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    for item in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(item.certificate.serial_number)
            .revocation_date(NOW - DAY)
            .add_extension(
                x509.CertificateIssuer([x509.DirectoryName(item.certificate.issuer)]), critical=True
            )
        )
        for ext, critical in entry_extensions:
            entry = entry.add_extension(ext, critical=critical)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(pki.crl_signer.key, hashes.SHA256()).public_bytes(
        serialization.Encoding.DER
    )


def _unusable(pki: StiTestPki, cert: x509.Certificate, crls: list[bytes], needle: str) -> None:
    with pytest.raises(RevocationError) as info:
        _checker(pki).check(cert, crls, at=NOW)
    assert not isinstance(info.value, CertificateRevoked)
    assert info.value.code == "crl_invalid"
    assert needle in info.value.message
    status = _checker(pki, "prefer").check(cert, crls, at=NOW)
    assert not status.checked
    assert [f.code for f in status.findings] == ["crl_invalid"]


def test_crl_that_does_not_cover_the_certificate_is_not_a_check(
    pki: StiTestPki, good: Issued
) -> None:
    # §6.3.3 (b)(2)(iii)-(v): a CA-only CRL says nothing about an end entity (and so on);
    # it used to answer checked=True, "not revoked".
    ca_only = _scoped_crl(pki, [], idp={"only_contains_ca_certs": True})
    _unusable(pki, good.certificate, [ca_only], "only CA certificates")
    user_only = _scoped_crl(pki, [], idp={"only_contains_user_certs": True})
    _unusable(pki, pki.ca_intermediate.certificate, [user_only], "only end-entity")
    assert _checker(pki).check(good.certificate, [user_only], at=NOW).checked
    assert _checker(pki).check(pki.ca_intermediate.certificate, [ca_only], at=NOW).checked
    attr_only = _scoped_crl(pki, [], idp={"only_contains_attribute_certs": True})
    _unusable(pki, good.certificate, [attr_only], "attribute certificates")
    # one covering CRL beside it is enough
    assert _checker(pki).check(good.certificate, [ca_only, pki.make_crl()], at=NOW).checked


def test_crl_for_some_reasons_revokes_but_is_not_a_complete_check(
    pki: StiTestPki, good: Issued, bad: Issued
) -> None:
    # §5.2.5 onlySomeReasons / §6.3.3 (d): such a CRL lists only some revocations.
    some = _scoped_crl(
        pki, [bad], idp={"only_some_reasons": frozenset([x509.ReasonFlags.key_compromise])}
    )
    _revoked(_checker(pki).check, bad.certificate, [some], at=NOW)
    _revoked(_checker(pki, "prefer").check, bad.certificate, [some], at=NOW)
    _unusable(pki, good.certificate, [some], "only some reasons")
    assert _checker(pki).check(good.certificate, [some, pki.make_crl()], at=NOW).checked


def test_delta_crl_and_unknown_critical_extensions_make_a_crl_unusable(
    pki: StiTestPki, good: Issued, bad: Issued
) -> None:
    # §5.2.4: a delta CRL is not a complete CRL; §5.2 / §5.3: "If a CRL contains a
    # critical extension [or CRL entry extension] that the application cannot process,
    # then the application MUST NOT use that CRL to determine the status of certificates."
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    delta = _scoped_crl(pki, [], extensions=[(x509.DeltaCRLIndicator(1), True)])
    _unusable(pki, good.certificate, [delta], "delta CRL")
    crit = _scoped_crl(pki, [], extensions=[(unknown, True)])
    _unusable(pki, good.certificate, [crit], "1.3.6.1.4.1.99999.1")
    crit_entry = _scoped_crl(pki, [bad], entry_extensions=[(unknown, True)])
    _unusable(pki, good.certificate, [crit_entry], "1.3.6.1.4.1.99999.1")
    # non-critical unknown extensions are ignored
    assert (
        _checker(pki)
        .check(
            good.certificate,
            [
                _scoped_crl(
                    pki, [bad], extensions=[(unknown, False)], entry_extensions=[(unknown, False)]
                )
            ],
            at=NOW,
        )
        .checked
    )


def test_an_expired_directly_trusted_crl_signer_is_not_honoured() -> None:
    """RFC 5280 §6.3.3 (f): the CRL signer's certificate must be valid; a retired key
    must not keep vouching for CRLs."""
    pki = StiTestPki()
    leaf = pki.issue_sp_certificate("873J")
    checker = RevocationChecker([pki.crl_signer.certificate], policy="require")
    crl = pki.make_crl()
    assert checker.check(leaf.certificate, [crl], at=NOW).checked
    later = pki.crl_signer.certificate.not_valid_after_utc + DAY
    late_crl = pki.make_crl(this_update=later - DAY, next_update=later + DAY)
    with pytest.raises(RevocationError) as info:
        checker.check(leaf.certificate, [late_crl], at=later)
    assert info.value.code == "crl_invalid"


# --- signer caching ---------------------------------------------------------------------
def _short_lived_crl_signer(pki: StiTestPki, *, not_after: dt.datetime) -> Issued:
    """A second "STI-PA CRL" certificate under the STI-PA root, valid until ``not_after``."""
    return pki._sign(
        subject=pki.crl_issuer_name,
        key=pki.crl_signer.key,
        issuer=pki.sti_pa_root,
        ca=False,
        key_usage="crl",
        extensions=(),
        policies=False,
        crldp=False,
        not_after=not_after,
    )


def test_extra_signer_validation_is_cached_within_its_validity_window(
    pki: StiTestPki, good: Issued, bad: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shakenlib.pki.crl as crl_module

    expiry = NOW + 10 * DAY
    signer = _short_lived_crl_signer(pki, not_after=expiry)
    trust = TrustStore([pki.ca_root.certificate, pki.sti_pa_root.certificate])
    checker = RevocationChecker(trust, policy="require", extra_signers=[signer.certificate])
    calls: list[dt.datetime] = []
    real = crl_module._validated_chain

    def counting(*args: object, at: dt.datetime, **kwargs: object) -> object:
        calls.append(at)
        return real(*args, at=at, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(crl_module, "_validated_chain", counting)
    crl = pki.make_crl([bad])
    first = checker.check(good.certificate, [crl], at=NOW)
    assert calls == [NOW]
    # Inside the window (and at its inclusive end): the cached validation answers.
    again = [
        checker.check(good.certificate, [crl], at=NOW + dt.timedelta(seconds=i)) for i in range(5)
    ]
    assert all(status == first for status in again)
    assert first.checked
    assert first.crl_next_update == NOW + DAY
    late_crl = pki.make_crl([bad], this_update=expiry - DAY, next_update=expiry + DAY)
    assert checker.check(good.certificate, [late_crl], at=expiry).checked
    assert calls == [NOW]
    _revoked(checker.check, bad.certificate, [crl], at=NOW)
    assert calls == [NOW]
    # Outside the window the signer is validated again: it has expired, so the CRL it
    # signed is no longer trusted (RFC 5280 §6.3.3 (f)) -- with or without the cache.
    later = expiry + dt.timedelta(seconds=1)
    with pytest.raises(RevocationError) as info:
        checker.check(good.certificate, [late_crl], at=later)
    assert info.value.code == "crl_invalid"
    assert calls == [NOW, later]
    fresh = RevocationChecker(trust, policy="require", extra_signers=[signer.certificate])
    with pytest.raises(RevocationError) as fresh_info:
        fresh.check(good.certificate, [late_crl], at=later)
    assert fresh_info.value.message == info.value.message
    # ... and before the window too (the signer is not yet valid).
    early = signer.certificate.not_valid_before_utc - dt.timedelta(seconds=1)
    early_crl = pki.make_crl([], this_update=early - DAY, next_update=early + DAY)
    with pytest.raises(RevocationError):
        checker.check(good.certificate, [early_crl], at=early)
    assert calls[-1] == early


def test_extra_signer_window_is_narrowed_by_the_anchor(pki: StiTestPki, good: Issued) -> None:
    """The cached window is the intersection of the whole validated chain's validity: a
    trust anchor that expires before the signer bounds it."""
    root = pki._sign(
        subject=x509.Name.from_rfc4514_string("CN=Short STI-PA Root,O=STI-PA"),
        key=ec.generate_private_key(ec.SECP256R1()),
        issuer=None,
        ca=True,
        key_usage="ca",
        extensions=(),
        policies=False,
        crldp=False,
        not_after=NOW + 5 * DAY,
    )
    signer = pki._sign(
        subject=pki.crl_issuer_name,
        key=pki.crl_signer.key,
        issuer=root,
        ca=False,
        key_usage="crl",
        extensions=(),
        policies=False,
        crldp=False,
    )
    trust = TrustStore([pki.ca_root.certificate, root.certificate])
    checker = RevocationChecker(trust, policy="require", extra_signers=[signer.certificate])
    assert checker.check(good.certificate, [pki.make_crl()], at=NOW).checked
    later = NOW + 6 * DAY
    late_crl = pki.make_crl(this_update=later - DAY, next_update=later + DAY)
    uncached = RevocationChecker(trust, policy="require", extra_signers=[signer.certificate])

    def outcome(c: RevocationChecker) -> object:
        try:
            return c.check(good.certificate, [late_crl], at=later)
        except RevocationError as exc:
            return (exc.code, exc.message)

    expected = outcome(uncached)
    assert isinstance(expected, tuple)
    assert expected[0] == "crl_invalid"
    assert outcome(checker) == expected


@settings(max_examples=40, deadline=None)
@given(offsets=st.lists(st.integers(min_value=-40, max_value=3700), min_size=1, max_size=6))
def test_signer_cache_never_changes_an_answer(offsets: list[int]) -> None:
    """Whatever sequence of times a checker sees, each answer equals that of a fresh
    checker (no caches warm) at that time."""
    trust = TrustStore([_PROP.ca_root.certificate, _PROP.sti_pa_root.certificate])
    signer = _SHORT_SIGNER.certificate
    warm = RevocationChecker(trust, policy="prefer", extra_signers=[signer])
    leaf = _PROP_LEAF.certificate
    for days in offsets:
        at = NOW + dt.timedelta(days=days)
        crl = _PROP.make_crl(this_update=at - DAY, next_update=at + DAY)
        cold = RevocationChecker(trust, policy="prefer", extra_signers=[signer])
        assert warm.check(leaf, [crl], at=at) == cold.check(leaf, [crl], at=at)


_SHORT_SIGNER = _short_lived_crl_signer(_PROP, not_after=NOW + 100 * DAY)
_PROP_LEAF = _PROP.issue_sp_certificate("873J")
