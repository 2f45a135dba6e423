"""Unit tests for shakenlib.pki.certs (certificate model, loading) and shakenlib.pki.der."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings, strategies as st
from pyasn1.type import univ

from shakenlib.errors import CertificateError
from shakenlib.pki.certs import (
    CrlDistributionPoint,
    StiCertificate,
    basic_constraints_ca,
    load_certificates,
)
from shakenlib.pki.der import format_name, parse_certificate, read_tlv
from shakenlib.pki.tnauthlist import TNRange, encode_tnauthlist

sys.path.insert(0, str(Path(__file__).parents[1] / "data" / "certs"))
import builder as B

DATA = Path(__file__).parents[1] / "data" / "certs"


def test_leaf_model_fields() -> None:
    cert = B.build(subject=B.name(sn="ABC-1"), serial=12345678901234567890)
    m = StiCertificate.from_cryptography(cert)
    assert m.cert is cert
    assert m.subject == cert.subject.rfc4514_string()
    assert m.issuer == "CN=Example SHAKEN Intermediate CA,O=Example CA,C=US"
    assert (m.subject_cn, m.subject_o, m.subject_c, m.subject_serial_number) == (
        "SHAKEN 873J", "Example Telecom", "US", "ABC-1"
    )  # fmt: skip
    assert m.serial == 12345678901234567890
    assert m.not_before == datetime(2024, 1, 1, tzinfo=UTC)
    assert m.not_after == datetime(2026, 1, 1, tzinfo=UTC)
    assert (m.key_type, m.curve) == ("EC", "secp256r1")
    assert m.ski == B.ski_of(B.key("leaf").public_key())
    assert m.aki == B.ski_of(B.key("ca-int").public_key())
    assert m.policies == (B.CP14,)
    assert m.crl_distribution_points == (
        CrlDistributionPoint((B.CRL_URL,), ("CN=STI-PA CRL,O=STI-PA,C=US",)),
    )
    assert (m.is_ca, m.self_signed) == (False, False)
    assert m.spc == "873J"
    assert m.tnauthlist_error is None
    assert len(m.sha256) == 64


def test_from_der_equals_from_cryptography() -> None:
    cert = B.build()
    assert StiCertificate.from_der(B.der(cert)) == StiCertificate.from_cryptography(cert)


def test_ca_root_and_other_keys() -> None:
    root = StiCertificate.from_cryptography(B.root())
    assert (root.is_ca, root.self_signed, root.aki, root.spc, root.tnauthlist) == (
        True, True, None, None, None
    )  # fmt: skip
    assert root.policies == ()
    assert root.crl_distribution_points == ()
    p384 = StiCertificate.from_cryptography(B.build(subject_key=B.key("x", ec.SECP384R1())))
    assert p384.curve == "secp384r1"


def test_tnauthlist_variants() -> None:
    absent = StiCertificate.from_cryptography(B.build(tnauthlist=None))
    assert (absent.tnauthlist, absent.tnauthlist_error, absent.spc) == (None, None, None)
    bad = StiCertificate.from_cryptography(B.build(tnauthlist=bytes.fromhex("3008a006163836374a")))
    assert bad.tnauthlist is None
    assert bad.tnauthlist_error
    assert bad.spc is None
    numbers = encode_tnauthlist(ranges=[TNRange("12125551000", 100)])
    delegate = StiCertificate.from_cryptography(B.build(tnauthlist=numbers))
    assert delegate.spc is None
    assert delegate.tnauthlist is not None
    assert delegate.tnauthlist.authorizes("12125551050") is True


def test_to_dict_is_json() -> None:
    d = StiCertificate.from_cryptography(B.build()).to_dict()
    again = json.loads(json.dumps(d))
    assert again["spc"] == "873J"
    assert again["not_before"] == "2024-01-01T00:00:00+00:00"
    assert again["policies"] == [B.CP14]
    assert again["crl_distribution_points"][0]["urls"] == [B.CRL_URL]
    assert again["tnauthlist"] is not None


def test_certificate_cryptography_cannot_load() -> None:
    # ECDSA AlgorithmIdentifier with extra parameters in the TBS (as a 2019 T-Mobile CA)
    def params(tbs: Any) -> None:
        tbs["signature"]["parameters"] = univ.Null("")

    raw = B.mutate(B.build(), params)
    with pytest.raises(ValueError, match="asn1"):
        x509.load_der_x509_certificate(raw)
    m = StiCertificate.from_der(raw)
    assert m.cert is None
    assert m.spc == "873J"
    assert m.subject == "CN=SHAKEN 873J,O=Example Telecom,C=US"


def test_not_a_certificate() -> None:
    for data in (b"", b"\x30\x00", b"\x04\x02ab", B.der(B.build())[:-5]):
        with pytest.raises(CertificateError) as exc:
            StiCertificate.from_der(data)
        assert exc.value.code == "cert_malformed"


def test_load_pem_chain_der_and_mixed() -> None:
    chain = load_certificates((DATA / "chain.pem").read_bytes())
    assert [c.is_ca for c in chain] == [False, True, True]
    assert chain[0].spc == "873J"
    [one] = load_certificates((DATA / "leaf.der").read_bytes())
    assert one == chain[0]
    leaf, root = B.build(), B.root()
    mixed = b"junk\n" + B.pem(leaf) + b"\r\n" + B.der(root) + B.der(leaf) + B.pem(root)
    got = load_certificates(mixed)
    assert [c.sha256 for c in got] == [
        StiCertificate.from_cryptography(c).sha256 for c in (leaf, root, leaf, root)
    ]


def test_load_errors() -> None:
    with pytest.raises(CertificateError, match="no certificate"):
        load_certificates(b"")
    with pytest.raises(CertificateError, match="no certificate"):
        load_certificates(b"0\x03\x02\x01\x01 and text")
    bad = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"
    with pytest.raises(CertificateError, match="base64"):
        load_certificates(bad)
    garbage = b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"
    with pytest.raises(CertificateError) as exc:
        load_certificates(garbage)
    assert exc.value.code == "cert_malformed"


def test_basic_constraints_decoding() -> None:
    assert basic_constraints_ca(bytes.fromhex("30060101ff020100")) is True
    assert basic_constraints_ca(bytes.fromhex("3003020100")) is False
    assert basic_constraints_ca(bytes.fromhex("30030101ff00")) is None  # trailing byte
    assert basic_constraints_ca(bytes.fromhex("3003040100")) is None
    assert basic_constraints_ca(bytes.fromhex("0400")) is None


def test_read_tlv_errors() -> None:
    for data in ("", "30", "3080", "300500", "1f", "1f81", "3085ffffffffff"):
        with pytest.raises(CertificateError):
            read_tlv(bytes.fromhex(data))
    t = read_tlv(bytes.fromhex("bf8a3b0100"))  # high tag number form
    assert (t.cls, t.constructed, t.tag, t.length) == (2, True, 1339, 1)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_parse_never_raises_other_errors(data: bytes) -> None:
    try:
        parse_certificate(data)
    except CertificateError as exc:
        assert exc.code == "cert_malformed"


_DN_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
)


@settings(max_examples=60, deadline=None)
@given(_DN_TEXT, _DN_TEXT, st.sampled_from(["US", "CA"]))
def test_format_name_matches_cryptography(cn: str, o: str, c: str) -> None:
    cert = B.build(subject=B.name(cn=cn, o=o, c=c, sn="1"))
    assert format_name(parse_certificate(B.der(cert)).subject) == cert.subject.rfc4514_string()


def test_string_types_in_subject() -> None:
    attrs = [
        x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "US", x509.name._ASN1Type.PrintableString),
        x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "Ünï", x509.name._ASN1Type.BMPString),
        x509.NameAttribute(x509.NameOID.COMMON_NAME, "SHAKEN 873J", x509.name._ASN1Type.IA5String),
    ]
    m = StiCertificate.from_cryptography(B.build(subject=x509.Name(attrs)))
    assert (m.subject_c, m.subject_o, m.subject_cn) == ("US", "Ünï", "SHAKEN 873J")


def _with_version(der: bytes, version: int) -> bytes:
    # TBSCertificate.version [0] EXPLICIT INTEGER: a0 03 02 01 02 (v3) -> another value.
    i = der.find(bytes.fromhex("a003020102"))
    assert i > 0
    return der[:i] + bytes.fromhex("a0030201") + bytes([version]) + der[i + 5 :]


def test_invalid_version_gives_a_model_not_a_crash() -> None:
    # cryptography raises x509.InvalidVersion (not a ValueError) for version 6: the model
    # must still be built (cert None), and load_certificates must not leak that exception.
    raw = _with_version(B.der(B.build()), 6)
    with pytest.raises(x509.InvalidVersion):
        x509.load_der_x509_certificate(raw)
    m = StiCertificate.from_der(raw)
    assert m.cert is None
    assert m.spc == "873J"
    [again] = load_certificates(raw)
    assert again.cert is None


@pytest.mark.parametrize("value", [" ", "  ", "a ", "# ", "#", " a", " # "])
def test_format_name_escapes_a_lone_space_once(value: str) -> None:
    # Hypothesis once found O=" ": the leading and the trailing escape hit the same space
    from cryptography.x509.oid import NameOID

    from shakenlib.pki.der import _escape

    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, value)])
    assert "O=" + _escape(value) == name.rfc4514_string()
