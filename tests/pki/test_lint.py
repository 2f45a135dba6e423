"""Unit tests for shakenlib.pki.lint: every rule firing and not firing, effective dates."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings, strategies as st
from pyasn1.type import univ
from pyasn1_modules import rfc5280

from shakenlib.errors import CODES, CertificateError, UsageError
from shakenlib.pki.certs import StiCertificate
from shakenlib.pki.lint import RULES, _key_usage_bits, lint_certificate, zlint_spc
from shakenlib.pki.tnauthlist import TNRange, encode_tnauthlist

sys.path.insert(0, str(Path(__file__).parents[1] / "data" / "certs"))
import builder as B

_RSA: list[rsa.RSAPrivateKey] = []


def rsa_key() -> rsa.RSAPrivateKey:
    if not _RSA:
        _RSA.append(rsa.generate_private_key(65537, 2048))
    return _RSA[0]


def codes(cert: Any, at: datetime | None = None) -> set[str]:
    return {f.code for f in lint_certificate(cert, at=at)}


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def self_signed_leaf(**kw: Any) -> x509.Certificate:
    k = B.key("ss-leaf")
    n = B.name()
    return B.build(subject=n, issuer=n, subject_key=k, issuer_key=k, **kw)


# ---------------------------------------------------------------------------------------
# conformant certificates


def test_conformant_leaf_intermediate_root_have_no_findings() -> None:
    assert codes(B.build()) == set()
    assert codes(B.build(ca=True, issuer=B.root().subject, issuer_key=B.key("ca-root"))) == set()
    assert codes(B.root()) == set()


def test_accepts_sticertificate_cryptography_der_and_pem() -> None:
    cert = B.build(ku=None)
    expected = {"e_atis_ext_key_usage"}
    assert codes(cert) == expected
    assert codes(B.der(cert)) == expected
    assert codes(B.pem(cert)) == expected
    assert codes(StiCertificate.from_cryptography(cert)) == expected


def test_bad_input() -> None:
    with pytest.raises(CertificateError) as exc:
        lint_certificate(b"\x30\x03\x02\x01\x01")
    assert exc.value.code == "cert_malformed"
    with pytest.raises(UsageError):
        lint_certificate(B.pem(B.build()) + B.pem(B.root()))
    with pytest.raises(UsageError):
        lint_certificate(42)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        lint_certificate(B.build(), at=datetime(2025, 1, 1))


def test_findings_shape() -> None:
    [f] = lint_certificate(B.build(ski=None, ku=None)) and [
        x for x in lint_certificate(B.build(ski=None)) if x.code.startswith("w_")
    ]
    assert f.severity == "warn"
    assert f.source == "RFC5280"
    assert f.message.startswith("RFC 5280 §4.2.1.2: ")
    [g] = lint_certificate(B.build(subject=B.name(cn="SHAKEN 873J", c="CA")))
    assert g.code == "e_atis_subject_c_us"
    assert g.source == "US_SHAKEN_CP"
    assert g.message == 'US SHAKEN CP 1.4 §3.1: Subject MUST contain a Country (C=) of "US".'


# ---------------------------------------------------------------------------------------
# rules 1-3: version and serial


def _set_version(v: int) -> Any:
    def fn(tbs: Any) -> None:
        tbs["version"] = v

    return fn


def test_version() -> None:
    v1 = B.mutate(B.build(), _set_version(0))
    assert "e_atis_version" in codes(v1)
    v2ca = B.mutate(B.build(ca=True), _set_version(1), signer=B.key("ca-root"))
    assert "e_atis_version_ca" in codes(v2ca)
    assert "e_atis_version" not in codes(B.build())


def test_v1_certificate_without_extensions() -> None:
    def strip(tbs: Any) -> None:
        tbs["version"] = 0
        tbs["extensions"] = univ.noValue

    got = codes(B.mutate(B.build(), strip))
    assert got == {
        "e_atis_version", "e_atis_ext_basic_constraints", "e_atis_ext_key_usage",
        "e_atis_ext_authority_key_identifier", "e_atis_subject_key_identifier",
        "e_atis_subject_key_identifier_size", "e_atis_ext_certificate_policies",
        "e_shaken_certificate_policies_id", "e_atis_ext_crl_distribution",
        "e_atis_tn_auth_list", "e_atis_subject_cn_spc", "e_atis_tn_auth_list_spc_format",
        "e_ext_authority_key_identifier_missing",
        "e_ext_authority_key_identifier_no_key_identifier",
        "w_ext_subject_key_identifier_missing_sub_cert",
    }  # fmt: skip


def _set_serial(n: int) -> Any:
    def fn(tbs: Any) -> None:
        tbs["serialNumber"] = n

    return fn


def test_serial_number_non_positive() -> None:
    got = codes(B.mutate(B.build(), _set_serial(-5)))
    assert {"e_atis_serial_number", "e_atis_serial_number_size"} <= got
    assert "e_atis_serial_number" in codes(B.mutate(B.build(), _set_serial(0)))
    assert "e_atis_serial_number_ca" in codes(
        B.mutate(B.build(ca=True), _set_serial(-1), signer=B.key("ca-root"))
    )


def test_serial_number_size_counts_magnitude_bits() -> None:
    [f] = lint_certificate(B.build(serial=2**63 - 1))
    assert f.code == "e_atis_serial_number_size"
    assert f.message.endswith("got 63")
    assert codes(B.build(serial=2**63)) == set()  # 9 DER bytes 00 80..: 64 bits
    neg = lint_certificate(B.mutate(B.build(), _set_serial(-(2**70))))
    assert [f.code for f in neg] == ["e_atis_serial_number"]  # |serial| has 71 bits
    assert "e_atis_serial_number_size_ca" in codes(B.build(ca=True, serial=4096))


def test_serial_size_effective_dates() -> None:
    # leaf: A5L = 2023-03-12, CA: A5 = 2022-12-12; notBefore == date is effective
    for nb, fires in [(utc(2023, 3, 11, 23, 59, 59), False), (utc(2023, 3, 12), True)]:
        assert ("e_atis_serial_number_size" in codes(B.build(serial=99, not_before=nb))) is fires
    for nb, fires in [(utc(2022, 12, 11, 23, 59, 59), False), (utc(2022, 12, 12), True)]:
        got = codes(B.build(ca=True, serial=99, not_before=nb))
        assert ("e_atis_serial_number_size_ca" in got) is fires


# ---------------------------------------------------------------------------------------
# rules 4-5: algorithms and keys


def test_signature_algorithm() -> None:
    [f] = lint_certificate(B.build(hash_alg=hashes.SHA512()))
    assert f.code == "e_atis_signature_algorithm"
    assert f.message.endswith("got 1.2.840.10045.4.3.4")
    assert codes(B.build(hash_alg=hashes.SHA384())) == set()  # CP 1.4 allows SHA384
    cp13 = B.build(hash_alg=hashes.SHA384(), policies=[B.CP13], subject=B.name(sn="1"))
    assert codes(cp13) == {"e_atis_signature_algorithm"}
    assert codes(B.root(hash_alg=hashes.SHA384())) == set()  # roots may use SHA384
    ca13 = B.build(ca=True, hash_alg=hashes.SHA384(), policies=[B.CP13])
    assert codes(ca13) == {"e_atis_signature_algorithm_ca"}


def test_signature_algorithm_uses_tbs_oid() -> None:
    def tbs_rsa(tbs: Any) -> None:
        tbs["signature"]["algorithm"] = univ.ObjectIdentifier("1.2.840.113549.1.1.11")

    got = codes(B.mutate(B.build(), tbs_rsa))
    assert "e_atis_signature_algorithm" in got


def test_subject_public_key() -> None:
    p384 = ec.SECP384R1()
    leaf384 = B.build(subject_key=B.key("leaf", p384))
    assert codes(leaf384) == {"e_atis_subject_public_key"}
    ca384 = B.build(ca=True, subject_key=B.key("ca", p384))
    assert codes(ca384) == set()  # P-384 CA with CP 1.4
    ca384_13 = B.build(ca=True, subject_key=B.key("ca", p384), policies=[B.CP13])
    assert codes(ca384_13) == {"e_atis_subject_public_key_ca"}
    [f] = lint_certificate(B.build(subject_key=rsa_key()))
    assert f.code == "e_atis_subject_public_key"
    assert "1.2.840.113549.1.1.1" in f.message
    assert codes(B.build(subject_key=B.key("leaf", ec.SECP521R1()))) == {
        "e_atis_subject_public_key"
    }


def test_rsa_root_before_v003_is_silent_and_self_signed() -> None:
    k = rsa_key()
    n = B.name(cn="Old RSA Anchor", o="Example CA")
    old = B.build(subject=n, issuer=n, subject_key=k, issuer_key=k, ca=True, aki=None,
                  policies=None, crl=None, tnauthlist=None, not_before=utc(2019, 9, 23),
                  ku=bytes.fromhex("03020186"))  # fmt: skip
    assert StiCertificate.from_cryptography(old).self_signed
    assert codes(old) == set()
    new = B.build(subject=n, issuer=n, subject_key=k, issuer_key=k, ca=True, aki=None,
                  policies=None, crl=None, tnauthlist=None)  # fmt: skip
    assert {"e_atis_subject_public_key_ca", "e_atis_signature_algorithm_ca",
            "e_atis_subject_cn_ca", "e_atis_subject_cn_root"} <= codes(new)  # fmt: skip


# ---------------------------------------------------------------------------------------
# rules 6-14: subject DN


def test_subject_dn() -> None:
    assert codes(B.build(subject=B.name(c=None))) >= {
        "e_atis_subject_dn", "e_atis_subject_c_iso", "e_atis_subject_c_us"
    }  # fmt: skip
    cn2 = B.name(extra=[x509.NameAttribute(x509.NameOID.COMMON_NAME, "SHAKEN 873J")])
    [f] = lint_certificate(B.build(subject=cn2))
    assert f.code == "e_atis_subject_dn"
    assert "Common Name" in f.message
    no_cn = codes(B.build(subject=B.name(cn=None)))
    assert {"e_atis_subject_dn", "e_atis_subject_cn", "e_atis_subject_cn_spc"} <= no_cn
    assert "e_atis_subject_dn_ca" in codes(B.build(ca=True, subject=B.name(cn="SHAKEN CA", c=None)))


@pytest.mark.parametrize(
    ("cn", "fires_cn", "fires_spc"),
    [
        ("SHAKEN 873J", False, False),
        ("Elmiris LLC SHAKEN 873J", False, False),
        ("SHAKEN8304", True, True),
        ("Example Shaken Cert 873J", True, True),
        ("SHAKEN Example 873J", False, True),
        ("SHAKEN 873JX", False, True),
        ("SHAKEN-6744", False, True),
        ("***SHAKEN*** 873J", False, True),
        ("***SHAKEN 873J***", False, False),
        ("L.L.C.SHAKEN 873J", False, False),
        ("ÉSHAKEN 873J", False, False),  # ASCII word boundaries: É is not a word char
    ],
)
def test_subject_cn_and_cn_spc(cn: str, fires_cn: bool, fires_spc: bool) -> None:
    got = codes(B.build(subject=B.name(cn=cn)))
    assert ("e_atis_subject_cn" in got) is fires_cn
    assert ("e_atis_subject_cn_spc" in got) is fires_spc


def test_subject_cn_ca() -> None:
    got = codes(B.build(ca=True, subject=B.name(cn="Example Issuing CA")))
    assert got == {"e_atis_subject_cn_ca"}


def test_cn_spc_regex_is_unescaped_and_uncompilable_fires() -> None:
    # spc "8.3J" as a regex matches "SHAKEN 8x3J"; spc "87(" does not compile
    dotted = bytes.fromhex("3008a0061604") + b"8.3J"
    got = codes(B.build(subject=B.name(cn="SHAKEN 8x3J"), tnauthlist=dotted))
    assert "e_atis_subject_cn_spc" not in got
    assert "e_atis_tn_auth_list_spc_format" in got
    paren = bytes.fromhex("3007a0051603") + b"87("
    assert "e_atis_subject_cn_spc" in codes(
        B.build(subject=B.name(cn="SHAKEN 87("), tnauthlist=paren)
    )


def test_cn_spc_effective_date_and_self_signed() -> None:
    cn = B.name(cn="SHAKEN Example 873J")
    assert "e_atis_subject_cn_spc" not in codes(B.build(subject=cn, not_before=utc(2022, 1, 15)))
    assert "e_atis_subject_cn_spc" in codes(B.build(subject=cn, not_before=utc(2022, 1, 16)))
    k = B.key("ss-leaf")
    ss = B.build(subject=cn, issuer=cn, subject_key=k, issuer_key=k)
    assert StiCertificate.from_cryptography(ss).self_signed
    got = codes(ss)
    assert "e_atis_subject_cn_spc" not in got  # not SUB
    assert "e_ext_authority_key_identifier_missing" not in got


def test_cn_root() -> None:
    bad = B.root(subject=B.name(cn="Example SHAKEN Anchor", o="X"),
                 issuer=B.name(cn="Example SHAKEN Anchor", o="X"))  # fmt: skip
    assert codes(bad) == {"e_atis_subject_cn_root"}
    ok = B.root(subject=B.name(cn="Example SHAKEN root", o="X"),
                issuer=B.name(cn="Example SHAKEN root", o="X"))  # fmt: skip
    assert codes(ok) == set()
    anchor = B.name(cn="SHAKEN Anchor", o="X")
    early = B.root(subject=anchor, issuer=anchor, not_before=utc(2022, 12, 11))
    assert codes(early) == set()


def test_subject_o_required() -> None:
    assert codes(B.build(subject=B.name(o=None))) == {"e_atis_subject_o_required"}
    two = B.name(extra=[x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "Other")])
    assert codes(B.build(subject=two)) == {"e_atis_subject_o_required"}
    ca = B.build(ca=True, subject=B.name(cn="SHAKEN CA", o=None))
    assert codes(ca) == {"e_atis_subject_o_required_ca"}
    assert codes(B.build(subject=B.name(o=None), not_before=utc(2022, 1, 15))) == set()


def test_subject_c_iso_and_us() -> None:
    assert codes(B.build(subject=B.name(c="us"))) == {
        "e_atis_subject_c_iso", "e_atis_subject_c_us"
    }  # fmt: skip
    assert codes(B.build(subject=B.name(c="XX"))) == {"e_atis_subject_c_us"}
    cp13 = B.build(subject=B.name(c="XX", sn="1"), policies=[B.CP13])
    assert codes(cp13) == set()  # c_us needs CP 1.4
    ca = B.build(ca=True, subject=B.name(cn="SHAKEN CA", c="CA"))
    assert codes(ca) == {"e_atis_subject_c_us_ca"}
    assert codes(B.build(subject=B.name(c="CA"), not_before=utc(2023, 9, 3))) == set()
    assert codes(B.build(subject=B.name(c="CA"), not_before=utc(2023, 9, 4))) == {
        "e_atis_subject_c_us"
    }


def test_sn_shall_cp13() -> None:
    cp13 = B.build(policies=[B.CP13])
    assert codes(cp13) == {"e_us_cp_subject_sn_shall"}
    assert codes(B.build(policies=[B.CP13], subject=B.name(sn="ABC"))) == set()
    assert codes(B.build(policies=[B.CP13], subject=B.name(sn=""))) == {"e_us_cp_subject_sn_shall"}
    assert codes(B.build(policies=[B.CP13], not_before=utc(2022, 1, 9))) == set()
    assert codes(B.build(policies=[B.CP13], not_before=utc(2022, 1, 10))) == {
        "e_us_cp_subject_sn_shall"
    }
    # needs a TNAuthList: a CP 1.3 CA without one is not checked
    assert codes(B.build(ca=True, policies=[B.CP13])) == set()
    assert codes(B.build(ca=True, policies=[B.CP13], tnauthlist=encode_tnauthlist(
        spcs=["1"]))) == {"e_us_cp_subject_sn_shall_ca", "e_atis_tn_auth_list_ca"}  # fmt: skip


# ---------------------------------------------------------------------------------------
# rules 15-16, 34-35: AKI


def test_aki() -> None:
    assert codes(B.build(aki=None)) == {
        "e_atis_ext_authority_key_identifier",
        "e_ext_authority_key_identifier_missing",
        "e_ext_authority_key_identifier_no_key_identifier",
    }
    assert codes(B.build(ca=True, aki=None)) == {
        "e_atis_ext_authority_key_identifier_ca",
        "e_ext_authority_key_identifier_missing",
        "e_ext_authority_key_identifier_no_key_identifier",
    }
    # AKI with only an issuer/serial, no [0]; contents are not examined by row 15
    assert codes(B.build(aki=bytes.fromhex("3000"))) == {
        "e_ext_authority_key_identifier_no_key_identifier"
    }
    assert codes(B.build(aki=bytes.fromhex("30028000"))) == set()  # empty [0] counts


def test_aki_root() -> None:
    k = B.key("ca-root")
    kid = B.ski_of(k.public_key())
    same = x509.AuthorityKeyIdentifier(kid, None, None)
    assert codes(B.root(aki=B._raw("2.5.29.35", same.public_bytes()).value)) == set()
    other = x509.AuthorityKeyIdentifier(b"\x01" * 20, None, None).public_bytes()
    assert codes(B.root(aki=other)) == {"e_atis_ext_authority_key_identifier_root"}


# ---------------------------------------------------------------------------------------
# rule 17: basic constraints


def test_basic_constraints() -> None:
    assert codes(B.build(bc=None)) == {"e_atis_ext_basic_constraints"}
    assert codes(B.build(bc_critical=False)) == {"e_atis_ext_basic_constraints"}
    [f] = lint_certificate(B.build(bc=bytes.fromhex("3003010101")))
    assert f.code == "e_atis_ext_basic_constraints"
    assert "decoded" in f.message
    # an undecodable CA flag makes the certificate a leaf
    got = codes(B.build(ca=True, bc=bytes.fromhex("3003010101")))
    assert "e_atis_tn_auth_list" in got
    assert codes(B.build(bc=None, not_before=utc(2020, 9, 3))) == set()


# ---------------------------------------------------------------------------------------
# rules 18-23: policies and CRL DP


def test_certificate_policies() -> None:
    assert codes(B.build(cp_critical=True)) == {"e_atis_ext_certificate_policies"}
    assert codes(B.build(policies=None)) == {
        "e_atis_ext_certificate_policies", "e_shaken_certificate_policies_id"
    }  # fmt: skip
    two = codes(B.build(policies=[B.CP14, B.CP13]))
    assert {"e_atis_ext_certificate_policies", "e_shaken_certificate_policies_id"} <= two
    [f] = lint_certificate(B.build(policies=["2.16.840.1.114569.1.1.1"]))
    assert f.code == "e_shaken_certificate_policies_id"
    assert "invalid OID value: 2.16.840.1.114569.1.1.1" in f.message
    assert codes(B.build(ca=True, policies=["1.3.6.1.4.1.56223.1"])) == {
        "e_shaken_certificate_policies_id_ca"
    }
    assert codes(B.build(policies=["1.2.3"], not_before=utc(2022, 1, 9))) == set()
    assert codes(B.root(policies=[B.CP14])) == {"e_atis_ext_certificate_policies_root"}


def test_crl_distribution() -> None:
    assert codes(B.build(crl=None)) == {"e_atis_ext_crl_distribution"}
    assert codes(B.build(crl=B.crldp(url="ldap://x/crl"))) == {"e_atis_ext_crl_distribution"}
    assert codes(B.build(crl=B.crldp(url="http://x/crl"))) == set()
    got = lint_certificate(B.build(ca=True, crl=B.crldp(url=None)))
    assert [f.code for f in got] == [
        "e_atis_ext_crl_distribution_ca", "e_atis_ext_crl_distribution_struct_ca"
    ]  # fmt: skip
    assert "got 0" in got[0].message
    assert "distributionPoint field" in got[1].message
    assert codes(B.root(crl=B.crldp())) == {"e_atis_ext_crl_distribution_root"}


def test_crl_distribution_struct() -> None:
    no_issuer = B.crldp(crl_issuer=False)
    assert codes(B.build(crl=no_issuer)) == {"e_atis_ext_crl_distribution_struct"}
    assert codes(B.build(ca=True, crl=no_issuer)) == {"e_atis_ext_crl_distribution_struct_ca"}
    # needs CP 1.4
    assert codes(B.build(crl=no_issuer, policies=[B.CP13], subject=B.name(sn="1"))) == set()
    assert codes(B.build(crl=no_issuer, not_before=utc(2022, 1, 15))) == set()
    # reasons [1] placed before cRLIssuer [2] fires
    with_reasons = x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(B.CRL_URL)], relative_name=None,
        reasons=frozenset({x509.ReasonFlags.key_compromise}),
        crl_issuer=[x509.DirectoryName(B.name(cn="STI-PA CRL"))])])  # fmt: skip
    got = lint_certificate(B.build(crl=with_reasons))
    assert [f.code for f in got] == ["e_atis_ext_crl_distribution_struct"]
    assert "after distributionPoint" in got[0].message


# ---------------------------------------------------------------------------------------
# rules 24-26, 33: key usage


@pytest.mark.parametrize(
    ("ku", "expected"),
    [
        ("03020780", set()),
        ("03020080", {"e_incorrect_ku_encoding"}),
        ("030205a0", {"e_atis_ext_key_usage_ee"}),
        ("030206c0", {"e_atis_ext_key_usage_ee"}),
        ("0303078000", {"e_incorrect_ku_encoding"}),  # superfluous trailing 00
        ("030207", set()),  # 3 bytes: Fatal in zlint, not reported; KU not valid DER -> {}?
    ],
)
def test_key_usage_leaf(ku: str, expected: set[str]) -> None:
    got = codes(B.build(ku=bytes.fromhex(ku)))
    if ku == "030207":
        # a 3-byte value decodes as an empty bit string: key_usage_ee fires (KU != {0})
        assert got == {"e_atis_ext_key_usage_ee"}
    else:
        assert got == expected


def test_key_usage_presence_and_ca() -> None:
    assert codes(B.build(ku=None)) == {"e_atis_ext_key_usage"}
    assert codes(B.build(ku_critical=False)) == {"e_atis_ext_key_usage"}
    both = bytes.fromhex("03020106")  # keyCertSign + cRLSign
    assert codes(B.build(ca=True, ku=both)) == {"e_atis_ext_key_usage_ca"}  # CP 1.4: only 5
    assert codes(B.build(ca=True, ku=both, policies=[B.CP13])) == set()
    assert codes(B.build(ca=True, ku=B.KU_DS, policies=[B.CP13])) == {"e_atis_ext_key_usage_ca"}
    assert codes(B.build(ca=True, ku=bytes.fromhex("03020284"), policies=[B.CP13])) == set()
    assert codes(B.build(ca=True, ku=bytes.fromhex("03020006"))) == {
        "e_incorrect_ku_encoding", "e_atis_ext_key_usage_ca"
    }  # fmt: skip
    assert codes(B.root(ku=bytes.fromhex("03020186"))) == set()  # no CP 1.4 on a root
    assert codes(B.root(ku=B.KU_DS)) == {"e_atis_ext_key_usage_ca"}


def _der_named_bits(bits: set[int]) -> bytes:
    """Reference DER encoding of a named-bit BIT STRING (X.690 §11.2.2)."""
    top = max(bits)
    nbytes = top // 8 + 1
    body = bytearray(nbytes)
    for b in bits:
        body[b // 8] |= 0x80 >> (b % 8)
    unused = 7 - top % 8
    return bytes([0x03, nbytes + 1, unused]) + bytes(body)


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(0, 8), min_size=1))
def test_ku_der_roundtrip_never_fires_encoding(bits: set[int]) -> None:
    value = _der_named_bits(bits)
    assert _key_usage_bits(value) == bits
    cert = StiCertificate.from_cryptography(B.build(ku=value))
    assert "e_incorrect_ku_encoding" not in codes(cert)


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(0, 7), min_size=1), st.integers(0, 7))
def test_ku_encoding_fires_iff_unused_is_not_trailing_zeros(bits: set[int], unused: int) -> None:
    body = 0
    for b in bits:
        body |= 0x80 >> b
    value = bytes([0x03, 0x02, unused, body])
    trailing = (body & -body).bit_length() - 1
    fired = "e_incorrect_ku_encoding" in codes(B.build(ku=value))
    assert fired is (unused != trailing)


# ---------------------------------------------------------------------------------------
# rules 27-29, 36: unspecified extensions and SKI


def test_not_specified() -> None:
    san = (x509.SubjectAlternativeName([x509.DNSName("example.com")]), False)
    eku = (x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    [f] = lint_certificate(B.build(extra=[san, eku]))
    assert f.code == "e_atis_ext_not_specified"
    assert f.message.endswith(": 2.5.29.17, 2.5.29.37")
    assert codes(B.build(ca=True, extra=[san])) == {"e_atis_ext_not_specified_ca"}
    assert codes(B.build(extra=[san], not_before=utc(2023, 3, 11))) == set()


def test_ski() -> None:
    assert codes(B.build(ski=None)) == {
        "e_atis_subject_key_identifier", "e_atis_subject_key_identifier_size",
        "w_ext_subject_key_identifier_missing_sub_cert",
    }  # fmt: skip
    assert codes(B.build(ca=True, ski=None)) == {
        "e_atis_subject_key_identifier_ca", "e_atis_subject_key_identifier_size_ca"
    }  # fmt: skip
    [f] = lint_certificate(B.build(ski=bytes.fromhex("0408") + b"\x01" * 8))
    assert f.code == "e_atis_subject_key_identifier_size"
    assert f.message.endswith("got 64")
    assert codes(B.build(ski=bytes.fromhex("0414") + b"\x01" * 20)) == set()
    assert codes(B.build(ski=bytes.fromhex("0c14") + b"a" * 20)) == set()  # tag not checked
    assert codes(B.build(ski=bytes.fromhex("0414"))) == {"e_atis_subject_key_identifier_size"}
    assert codes(B.build(ski=None, not_before=utc(2020, 12, 2))) == {
        "w_ext_subject_key_identifier_missing_sub_cert"
    }


# ---------------------------------------------------------------------------------------
# rules 30-32: TNAuthList


def test_tn_auth_list() -> None:
    got = lint_certificate(B.build(tnauthlist=None))
    assert [f.code for f in got] == [
        "e_atis_subject_cn_spc", "e_atis_tn_auth_list", "e_atis_tn_auth_list_spc_format"
    ]  # fmt: skip
    assert "not present" in got[1].message
    assert codes(B.build(tal_critical=True)) == {"e_atis_tn_auth_list"}
    truncated = bytes.fromhex("3008a006163836374a")
    got = lint_certificate(B.build(tnauthlist=truncated, not_before=utc(2022, 6, 1)))
    assert [f.code for f in got] == ["e_atis_subject_cn_spc", "e_atis_tn_auth_list"]
    assert "truncated" in got[1].message
    bare = bytes.fromhex("3006130438373341")  # PrintableString without [0]
    got = lint_certificate(B.build(tnauthlist=bare))
    assert all("only one TN Entry" in f.message for f in got)
    assert codes(B.build(ca=True, tnauthlist=encode_tnauthlist(spcs=["1"]))) == {
        "e_atis_tn_auth_list_ca"
    }
    assert codes(B.build(tnauthlist=None, not_before=utc(2020, 12, 2))) == set()


def test_self_signed_leaf_still_needs_tnauthlist() -> None:
    got = codes(self_signed_leaf(tnauthlist=None, aki=None))
    assert "e_atis_tn_auth_list" in got
    assert "e_atis_subject_cn_spc" not in got
    assert "e_ext_authority_key_identifier_missing" not in got


def test_spc_format() -> None:
    low = encode_tnauthlist(spcs=["873j"])
    [f] = lint_certificate(B.build(tnauthlist=low, subject=B.name(cn="SHAKEN 873j")))
    assert f.code == "e_atis_tn_auth_list_spc_format"
    assert "'873j'" in f.message
    early = B.build(tnauthlist=low, subject=B.name(cn="SHAKEN 873j"), not_before=utc(2023, 3, 11))
    assert codes(early) == set()


def test_spc_accepts_string_types_and_ignores_ranges() -> None:
    printable = bytes.fromhex("3008a00613043837334a")
    utf8 = bytes.fromhex("3008a0060c043837334a")
    with_range = encode_tnauthlist(spcs=["873J"], ranges=[TNRange("12125551000", 1000)])
    trailing = bytes.fromhex("3008a00616043837334a") + b"\x00\x00"
    for tal in (printable, utf8, with_range, trailing):
        assert zlint_spc(tal) == ("873J", None)
        assert codes(B.build(tnauthlist=tal)) == set()


@pytest.mark.parametrize(
    ("hexval", "error"),
    [
        ("3100", "not a SEQUENCE"),
        ("3000", "only one TN Entry"),
        ("300ca00416023837a0041602394a", "only one TN Entry"),
        ("3004a0021600", "shall not be empty"),
        ("3006a0040402aaaa", "not an ASN.1 string"),
        ("3006a004160280ff", "not an ASN.1 string"),  # IA5 >= 0x80
        ("3006a0041302415f", "not an ASN.1 string"),  # '_' not Printable
        ("3006a0041202413f", "not an ASN.1 string"),  # NumericString
        ("3006a0040c02c328", "not an ASN.1 string"),  # bad UTF-8
        ("3005a0031e0100", "not an ASN.1 string"),  # odd BMPString
        ("3081", "ASN.1 raw"),
        ("30810200", "ASN.1 raw"),  # non-minimal length
    ],
)
def test_zlint_spc_errors(hexval: str, error: str) -> None:
    spc, err = zlint_spc(bytes.fromhex(hexval))
    assert spc is None
    assert err is not None
    assert error in err


def test_zlint_spc_other_string_types() -> None:
    assert zlint_spc(bytes.fromhex("3008a0061e0400410042")) == ("AB", None)  # BMPString
    assert zlint_spc(bytes.fromhex("3006a0041402e941")) == ("éA", None)  # T61 as Latin-1
    assert zlint_spc(bytes.fromhex("3006a004120231 32".replace(" ", ""))) == ("12", None)
    assert zlint_spc(bytes.fromhex("3006a0041b024142")) == ("AB", None)  # GeneralString


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abc-", min_size=1, max_size=20))
def test_zlint_spc_roundtrip(spc: str) -> None:
    raw = spc.encode()
    inner = bytes([0x16, len(raw)]) + raw
    entry = bytes([0xA0, len(inner)]) + inner
    assert zlint_spc(bytes([0x30, len(entry)]) + entry) == (spc, None)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_zlint_spc_never_raises(data: bytes) -> None:
    spc, err = zlint_spc(data)
    assert (spc is None) != (err is None)


# ---------------------------------------------------------------------------------------
# duplicates, self-signature, structure


def test_duplicate_extensions_last_wins_and_all_listed() -> None:
    def dup_ku(tbs: Any) -> None:
        ext = rfc5280.Extension()
        ext["extnID"] = univ.ObjectIdentifier("2.5.29.15")
        ext["critical"] = False
        ext["extnValue"] = univ.OctetString(bytes.fromhex("03020580"))  # invalid padding
        tbs["extensions"].append(ext)

    got = codes(B.mutate(B.build(), dup_ku))
    # the last KU is not critical -> fires; its bits are invalid -> the first ({0}) survives
    assert "e_atis_ext_key_usage" in got
    assert "e_atis_ext_key_usage_ee" not in got


def test_issuer_equal_subject_but_foreign_signature_is_not_self_signed() -> None:
    n = B.name()
    cert = B.build(subject=n, issuer=n, issuer_key=B.key("ca-int"))
    model = StiCertificate.from_cryptography(cert)
    assert not model.self_signed
    assert "e_ext_authority_key_identifier_missing" in codes(B.build(
        subject=n, issuer=n, aki=None))  # fmt: skip


def test_at_validity() -> None:
    cert = B.build()
    assert codes(cert, at=utc(2025, 1, 1)) == set()
    assert codes(cert, at=utc(2023, 12, 31)) == {"x_cert_not_yet_valid_at"}
    assert codes(cert, at=utc(2026, 1, 1)) == set()  # notAfter is inclusive
    [f] = lint_certificate(cert, at=utc(2026, 1, 1) + timedelta(seconds=1))
    assert (f.code, f.severity, f.source) == ("x_cert_expired_at", "error", "shakenlib")


# ---------------------------------------------------------------------------------------
# the table


def test_rules_table() -> None:
    names = [r.code for r in RULES]
    assert len(names) == len(set(names))
    assert len(RULES) == 57  # 20 leaf/CA pairs + 17 single rules
    by = {r.code: r for r in RULES}
    assert by["e_atis_subject_cn_spc"].effective == utc(2022, 1, 16)
    assert by["e_us_cp_subject_sn_shall"].effective == utc(2022, 1, 10)
    assert by["e_us_cp_subject_sn_shall_ca"].effective == utc(2021, 8, 18)
    assert by["e_atis_ext_key_usage_ee"].effective == utc(2020, 12, 3)
    assert by["e_incorrect_ku_encoding"].effective is None
    assert by["e_atis_subject_c_us"].source == "US_SHAKEN_CP"
    assert by["w_ext_subject_key_identifier_missing_sub_cert"].severity == "warn"
    assert {r.source for r in RULES} == {"ATIS1000080", "US_SHAKEN_CP", "RFC5280"}
    d = by["e_atis_serial_number_size"].to_dict()
    assert d["effective"] == "2023-03-12"
    assert d["document"] == "ATIS-1000080 v005"
    # lint codes are not error codes (findings, not exceptions)
    assert not set(names) & set(CODES)
