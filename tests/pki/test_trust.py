"""Tests for shakenlib.pki.trust: trust stores, STI-PA trust lists, chain validation, cache."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings, strategies as st

from shakenlib.errors import CODES, TrustError, UsageError
from shakenlib.pki.tnauthlist import TNRange
from shakenlib.pki.trust import ChainValidator, TrustStore, ValidatedChain
from shakenlib.testing.pki import DEFAULT_NOW, Issued, StiTestPki

NOW = DEFAULT_NOW
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def trust(pki: StiTestPki) -> TrustStore:
    return TrustStore.from_pem(pki.trust_anchors_pem())


@pytest.fixture(scope="module")
def leaf(pki: StiTestPki) -> Issued:
    return pki.issue_sp_certificate("873J")


def _validate(
    trust: TrustStore,
    pki: StiTestPki,
    cert: Issued,
    *,
    at: dt.datetime = NOW,
    intermediates: list[x509.Certificate] | None = None,
) -> ValidatedChain:
    inter = [pki.ca_intermediate.certificate] if intermediates is None else intermediates
    return ChainValidator(trust).validate(cert.certificate, inter, at=at)


def _error(fn: object, *args: object, **kwargs: object) -> TrustError:
    with pytest.raises(TrustError) as info:
        fn(*args, **kwargs)  # type: ignore[operator]
    assert info.value.code in CODES
    return info.value


# --- trust store ---------------------------------------------------------------------------


def test_from_pem_dedupes_and_contains(pki: StiTestPki) -> None:
    store = TrustStore.from_pem(pki.ca_root.pem + pki.sti_pa_root.pem + pki.ca_root.pem)
    assert len(store) == 2
    assert pki.ca_root.certificate in store
    assert pki.sti_pa_root.certificate in store
    assert pki.ca_intermediate.certificate not in store
    assert "not a cert" not in store
    assert [c.subject for c in store] == [
        pki.ca_root.certificate.subject,
        pki.sti_pa_root.certificate.subject,
    ]


def test_from_pem_rejects_garbage() -> None:
    bad_pem = b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"
    err = _error(TrustStore.from_pem, bad_pem)
    assert err.code == "trust_list_invalid"
    assert _error(TrustStore.from_pem, b"\x01\x02").code == "trust_list_invalid"
    assert _error(TrustStore, []).code == "trust_list_invalid"


def test_from_pem_files_reads_files_and_directories(pki: StiTestPki, tmp_path: Path) -> None:
    d = tmp_path / "anchors"
    d.mkdir()
    (d / "a.pem").write_bytes(pki.ca_root.pem)
    (d / "b.cer").write_bytes(pki.sti_pa_root.der)  # DER in a .cer file
    (d / "notes.txt").write_text("ignored")
    other = StiTestPki(ca_name="Other CA")
    single = tmp_path / "other.crt"
    single.write_bytes(other.ca_root.pem)
    store = TrustStore.from_pem_files([d, single])
    assert len(store) == 3
    assert other.ca_root.certificate in store
    with pytest.raises(FileNotFoundError):
        TrustStore.from_pem_files([tmp_path / "missing.pem"])


# --- STI-PA trust list (signed JWS) ----------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _trust_list(
    payload: object,
    signer: Issued,
    *,
    alg: str = "ES256",
    x5c: list[Issued] | None = None,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
) -> str:
    chain = x5c if x5c is not None else [signer]
    header = {"alg": alg, "typ": "JWT", "x5c": [base64.b64encode(i.der).decode() for i in chain]}
    head, body = _b64url(json.dumps(header).encode()), _b64url(json.dumps(payload).encode())
    signing_input = f"{head}.{body}"
    key = key or signer.key
    if isinstance(key, rsa.RSAPrivateKey):
        from cryptography.hazmat.primitives.asymmetric import padding

        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{signing_input}.{_b64url(sig)}"


@pytest.fixture(scope="module")
def list_signer(pki: StiTestPki) -> Issued:
    # An STI-PA end-entity that signs the trust list, issued by the STI-PA root.
    return pki.issue_sp_certificate("STIPA", issuer=pki.sti_pa_root, organization="STI-PA")


def test_trust_list_valid_object_and_array(pki: StiTestPki, list_signer: Issued) -> None:
    other = StiTestPki(ca_name="Second CA")
    roots = [pki.sti_pa_root.certificate]
    body = {"trustList": [pki.ca_root.pem.decode(), other.ca_root.pem.decode()]}
    store = TrustStore.from_sti_pa_trust_list(
        _trust_list(body, list_signer), signer_roots=roots, at=NOW
    )
    assert set(store) == {pki.ca_root.certificate, other.ca_root.certificate}
    # plain array, bare base64 DER entry, bytes input, signer roots as a TrustStore
    arr = [base64.b64encode(pki.ca_root.der).decode()]
    store2 = TrustStore.from_sti_pa_trust_list(
        _trust_list(arr, list_signer).encode(), signer_roots=TrustStore(roots), at=NOW
    )
    assert list(store2) == [pki.ca_root.certificate]


def _rsa_list_signer(key_size: int) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A self-signed RSA CA certificate, valid a day either side of NOW, and its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "STI-PA List Signer")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def test_trust_list_rs256_signed_by_root_itself(pki: StiTestPki) -> None:
    # An RSA signer that is itself one of the signer roots.
    key, cert = _rsa_list_signer(2048)
    signer = Issued(cert, ec.generate_private_key(ec.SECP256R1()))
    jws = _trust_list([pki.ca_root.pem.decode()], signer, alg="RS256", key=key)
    store = TrustStore.from_sti_pa_trust_list(jws, signer_roots=[cert], at=NOW)
    assert list(store) == [pki.ca_root.certificate]
    # ... but not after the signer expired
    err = _error(TrustStore.from_sti_pa_trust_list, jws, signer_roots=[cert], at=NOW + 2 * DAY)
    assert err.code == "trust_list_invalid"
    assert "not valid" in err.message


def test_trust_list_bad_signature(pki: StiTestPki, list_signer: Issued) -> None:
    jws = _trust_list(
        {"trustList": [pki.ca_root.pem.decode()]},
        list_signer,
        key=ec.generate_private_key(ec.SECP256R1()),
    )
    err = _error(
        TrustStore.from_sti_pa_trust_list, jws, signer_roots=[pki.sti_pa_root.certificate], at=NOW
    )
    assert err.code == "trust_list_invalid"
    assert "signature does not verify" in err.message
    # tampered payload with the original signature
    good = _trust_list({"trustList": [pki.ca_root.pem.decode()]}, list_signer)
    h, _, s = good.split(".")
    forged = f"{h}.{_b64url(json.dumps([StiTestPki().ca_root.pem.decode()]).encode())}.{s}"
    err = _error(
        TrustStore.from_sti_pa_trust_list,
        forged,
        signer_roots=[pki.sti_pa_root.certificate],
        at=NOW,
    )
    assert "signature does not verify" in err.message


def test_trust_list_signer_not_chained(pki: StiTestPki, list_signer: Issued) -> None:
    jws = _trust_list({"trustList": [pki.ca_root.pem.decode()]}, list_signer)
    err = _error(
        TrustStore.from_sti_pa_trust_list, jws, signer_roots=[pki.ca_root.certificate], at=NOW
    )
    assert err.code == "trust_list_invalid"
    assert "does not chain" in err.message
    assert "SHAKEN STIPA" in err.message


@pytest.mark.parametrize(
    ("jws", "needle"),
    [
        ("garbage", "compact JWS"),
        ("a.b", "compact JWS"),
        ("!!!.e30.AA", "not base64url"),
        (f"{_b64url(b'[1]')}.e30.AA", "not a JSON object"),
        (f"{_b64url(b'{}')}.e30.AA", "alg None"),
        (f"{_b64url(json.dumps({'alg': 'none'}).encode())}.e30.AA", "alg 'none'"),
        (f"{_b64url(json.dumps({'alg': 'ES256'}).encode())}.e30.AA", "x5c"),
        (
            f"{_b64url(json.dumps({'alg': 'ES256', 'x5c': ['AAAA']}).encode())}.e30.AA",
            "not a certificate",
        ),
    ],
)
def test_trust_list_garbage(pki: StiTestPki, jws: str, needle: str) -> None:
    err = _error(
        TrustStore.from_sti_pa_trust_list, jws, signer_roots=[pki.sti_pa_root.certificate], at=NOW
    )
    assert err.code == "trust_list_invalid"
    assert needle in err.message


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"other": []}, "neither"),
        ([], "neither"),
        ([1], "not a string"),
        (["-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----"], "not a certificate"),
    ],
)
def test_trust_list_bad_payload(
    pki: StiTestPki, list_signer: Issued, payload: object, needle: str
) -> None:
    err = _error(
        TrustStore.from_sti_pa_trust_list,
        _trust_list(payload, list_signer),
        signer_roots=[pki.sti_pa_root.certificate],
        at=NOW,
    )
    assert err.code == "trust_list_invalid"
    assert needle in err.message


# --- chain validation ------------------------------------------------------------------------


def test_valid_chain(pki: StiTestPki, trust: TrustStore, leaf: Issued) -> None:
    result = _validate(trust, pki, leaf)
    assert result.leaf == leaf.certificate
    assert result.chain == (
        leaf.certificate,
        pki.ca_intermediate.certificate,
        pki.ca_root.certificate,
    )
    assert result.spc == "873J"
    assert result.tnauthlist.spcs == ("873J",)
    assert result.findings == ()
    assert result.valid_from == max(c.not_valid_before_utc for c in result.chain)
    assert result.valid_until == leaf.certificate.not_valid_after_utc  # leaf expires first
    assert not result.delegated


def test_intermediates_in_any_order_with_extras(
    pki: StiTestPki, trust: TrustStore, leaf: Issued
) -> None:
    other = StiTestPki(ca_name="Unrelated")
    junk = [other.ca_intermediate.certificate, other.ca_root.certificate]
    for inter in (
        [*junk, pki.ca_intermediate.certificate],
        [pki.ca_intermediate.certificate, *junk],
        [pki.ca_root.certificate, pki.ca_intermediate.certificate],
    ):
        assert _validate(trust, pki, leaf, intermediates=inter).spc == "873J"


def test_delegate_chain_any_order(pki: StiTestPki, trust: TrustStore) -> None:
    dca = pki.issue_delegate_ca(spc="873J", ranges=[TNRange("12125551000", 1000)])
    d = pki.issue_delegate_certificate(dca, tns=["12125551234"])
    for inter in (
        [dca.certificate, pki.ca_intermediate.certificate],
        [pki.ca_intermediate.certificate, dca.certificate],
    ):
        result = _validate(trust, pki, d, intermediates=inter)
        assert len(result.chain) == 4
        assert result.delegated
        assert result.spc == "873J"  # from the delegating SP's CA
        assert result.tnauthlist.tns == ("12125551234",)
        assert [f.code for f in result.findings] == ["delegate_scope"]
        assert result.findings[0].severity == "info"


def test_delegate_out_of_scope(pki: StiTestPki, trust: TrustStore) -> None:
    dca = pki.issue_delegate_ca(ranges=[TNRange("12125551000", 1000)])
    d = pki.issue_delegate_certificate(dca, tns=["12125559999"])
    err = _error(
        _validate, trust, pki, d, intermediates=[dca.certificate, pki.ca_intermediate.certificate]
    )
    assert err.code == "delegate_scope"
    assert "SHAKEN Delegate Example Enterprise" in err.message
    assert "SHAKEN Delegation CA" in err.message
    wide = pki.issue_delegate_certificate(dca, ranges=[("12125551900", 200)])
    assert (
        _error(
            _validate,
            trust,
            pki,
            wide,
            intermediates=[dca.certificate, pki.ca_intermediate.certificate],
        ).code
        == "delegate_scope"
    )


def test_untrusted_root(pki: StiTestPki, leaf: Issued) -> None:
    other = StiTestPki(ca_name="Rogue CA")
    err = _error(
        _validate,
        TrustStore([other.ca_root.certificate]),
        pki,
        leaf,
        intermediates=[pki.ca_intermediate.certificate, pki.ca_root.certificate],
    )
    assert err.code == "cert_untrusted"
    assert "Test STI-CA SHAKEN ROOT" in err.message
    assert "not a trust anchor" in err.message
    # root not supplied at all: the intermediate's issuer is missing
    err = _error(_validate, TrustStore([other.ca_root.certificate]), pki, leaf)
    assert err.code == "cert_untrusted"
    assert "'Test STI-CA SHAKEN ROOT' of 'Test STI-CA SHAKEN Intermediate'" in err.message


def test_missing_intermediate(pki: StiTestPki, trust: TrustStore, leaf: Issued) -> None:
    err = _error(_validate, trust, pki, leaf, intermediates=[])
    assert err.code == "cert_untrusted"
    assert "issuer 'Test STI-CA SHAKEN Intermediate' of 'SHAKEN 873J'" in err.message
    assert "0 intermediate(s)" in err.message


def test_self_signed_leaf(pki: StiTestPki, trust: TrustStore) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "SHAKEN 999X")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(99)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .sign(key, hashes.SHA256())
    )
    err = _error(ChainValidator(trust).validate, cert, [], at=NOW)
    assert err.code == "cert_untrusted"
    assert "'SHAKEN 999X' is self-signed" in err.message


def test_leaf_issued_by_leaf_is_chain_invalid(
    pki: StiTestPki, trust: TrustStore, leaf: Issued
) -> None:
    child = pki.issue_sp_certificate("1234", issuer=leaf)
    err = _error(
        _validate,
        trust,
        pki,
        child,
        intermediates=[leaf.certificate, pki.ca_intermediate.certificate],
    )
    assert err.code == "cert_chain_invalid"
    assert "SHAKEN 1234" in err.message
    assert "cA" in err.message


@pytest.mark.parametrize(
    ("when", "code"),
    [(NOW + 400 * DAY, "cert_expired"), (NOW - 31 * DAY, "cert_not_yet_valid")],
)
def test_leaf_validity(
    pki: StiTestPki, trust: TrustStore, leaf: Issued, when: dt.datetime, code: str
) -> None:
    err = _error(_validate, trust, pki, leaf, at=when)
    assert err.code == code
    assert "certificate 'SHAKEN 873J'" in err.message


def test_intermediate_expired_and_not_yet_valid(pki: StiTestPki, trust: TrustStore) -> None:
    inter = pki.ca_intermediate.certificate
    late = pki.issue_sp_certificate("873J", not_after=inter.not_valid_after_utc + 30 * DAY)
    err = _error(_validate, trust, pki, late, at=inter.not_valid_after_utc + DAY)
    assert err.code == "cert_expired"
    assert "issuing CA certificate 'Test STI-CA SHAKEN Intermediate'" in err.message
    early = pki.issue_sp_certificate("873J", not_before=inter.not_valid_before_utc - 10 * DAY)
    err = _error(_validate, trust, pki, early, at=inter.not_valid_before_utc - DAY)
    assert err.code == "cert_not_yet_valid"
    assert "Test STI-CA SHAKEN Intermediate" in err.message


def test_naive_time_is_usage_error(pki: StiTestPki, trust: TrustStore, leaf: Issued) -> None:
    with pytest.raises(UsageError):
        _validate(trust, pki, leaf, at=NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("kwargs", "code", "needle"),
    [
        ({"omit_tnauthlist": True}, "tnauthlist_missing", "no TNAuthList"),
        ({"tnauthlist": b"\x30\x03\x01\x02"}, "tnauthlist_invalid", "does not decode"),
        ({"tnauthlist": b"garbage"}, "tnauthlist_invalid", "TNAuthList"),
        ({"spcs": ["873J", "818H"]}, "cert_profile", "2 SPCs (873J, 818H)"),
        ({"key": ec.generate_private_key(ec.SECP384R1())}, "cert_key_unsupported", "EC secp384r1"),
        (
            {
                "key_usage": x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=True,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                )
            },
            "cert_profile",
            "lacks digitalSignature",
        ),
    ],
)
def test_sti_checks(
    pki: StiTestPki, trust: TrustStore, kwargs: dict[str, object], code: str, needle: str
) -> None:
    cert = pki.issue_sp_certificate("873J", **kwargs)  # type: ignore[arg-type]
    err = _error(_validate, trust, pki, cert)
    assert err.code == code
    assert needle in err.message
    assert "SHAKEN 873J" in err.message


def test_p384_allowed_when_not_required(pki: StiTestPki, trust: TrustStore) -> None:
    cert = pki.issue_sp_certificate("873J", key=ec.generate_private_key(ec.SECP384R1()))
    result = ChainValidator(trust, require_p256=False).validate(
        cert.certificate, [pki.ca_intermediate.certificate], at=NOW
    )
    assert [f.code for f in result.findings] == ["cert_key_unsupported"]


def test_critical_tnauthlist_and_policies_are_accounted_for(
    pki: StiTestPki, trust: TrustStore
) -> None:
    from shakenlib.pki.tnauthlist import TNAUTHLIST_OID, encode_tnauthlist

    ext = x509.UnrecognizedExtension(TNAUTHLIST_OID, encode_tnauthlist(spcs=["873J"]))
    cert = pki.issue_sp_certificate("873J", omit_tnauthlist=True, extra_extensions=[(ext, True)])
    assert _validate(trust, pki, cert).spc == "873J"


def test_unknown_critical_extension_is_chain_invalid(pki: StiTestPki, trust: TrustStore) -> None:
    ext = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), b"\x05\x00")
    cert = pki.issue_sp_certificate("873J", extra_extensions=[(ext, True)])
    err = _error(_validate, trust, pki, cert)
    assert err.code == "cert_chain_invalid"
    assert "1.2.3.4.5" in err.message


def test_max_chain_depth(pki: StiTestPki, trust: TrustStore) -> None:
    dca = pki.issue_delegate_ca(spc="873J")
    d = pki.issue_delegate_certificate(dca, tns=["12125551234"])
    with pytest.raises(TrustError) as info:
        ChainValidator(trust, max_chain_depth=1).validate(
            d.certificate, [dca.certificate, pki.ca_intermediate.certificate], at=NOW
        )
    assert info.value.code in ("cert_chain_invalid", "cert_untrusted")


def test_sp_numbers_and_spc_warns(pki: StiTestPki, trust: TrustStore) -> None:
    from shakenlib.pki.tnauthlist import encode_tnauthlist

    cert = pki.issue_sp_certificate(
        "873J", tnauthlist=encode_tnauthlist(spcs=["873J"], tns=["12125551234"])
    )
    result = _validate(trust, pki, cert)
    assert result.spc == "873J"
    assert [(f.code, f.severity) for f in result.findings] == [("cert_profile", "warn")]
    numbers_only = pki.issue_sp_certificate(
        "873J", tnauthlist=encode_tnauthlist(tns=["12125551234"])
    )
    result = _validate(trust, pki, numbers_only)
    assert result.spc is None
    assert "no SPC" in result.findings[0].message


# --- hypothesis: validity edges ---------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    offset=st.integers(min_value=-3 * 86400, max_value=3 * 86400),
    edge=st.sampled_from(["before", "after"]),
)
def test_validity_edges(offset: int, edge: str) -> None:
    pki, trust, leaf = _EDGE
    base = (
        leaf.certificate.not_valid_before_utc
        if edge == "before"
        else leaf.certificate.not_valid_after_utc
    )
    at = base + dt.timedelta(seconds=offset)
    inside = leaf.certificate.not_valid_before_utc <= at <= leaf.certificate.not_valid_after_utc
    validator = ChainValidator(trust, cache_size=0)
    if inside:
        assert (
            validator.validate(leaf.certificate, [pki.ca_intermediate.certificate], at=at).spc
            == "873J"
        )
    else:
        with pytest.raises(TrustError) as info:
            validator.validate(leaf.certificate, [pki.ca_intermediate.certificate], at=at)
        assert info.value.code == ("cert_not_yet_valid" if edge == "before" else "cert_expired")


def _edge_setup() -> tuple[StiTestPki, TrustStore, Issued]:
    pki = StiTestPki()
    leaf = pki.issue_sp_certificate("873J", not_before=NOW - 10 * DAY, not_after=NOW + 10 * DAY)
    return pki, TrustStore.from_pem(pki.trust_anchors_pem()), leaf


_EDGE = _edge_setup()


# --- cache -----------------------------------------------------------------------------------


class _CountingValidator(ChainValidator):
    calls = 0

    def _path_validate(self, leaf, intermediates, at):  # type: ignore[no-untyped-def]
        type(self).calls += 1
        return super()._path_validate(leaf, intermediates, at)


def test_cache_hit_and_window(pki: StiTestPki, trust: TrustStore, leaf: Issued) -> None:
    _CountingValidator.calls = 0
    v = _CountingValidator(trust)
    inter = [pki.ca_intermediate.certificate]
    first = v.validate(leaf.certificate, inter, at=NOW)
    second = v.validate(leaf.certificate, inter, at=NOW + DAY)
    assert second is first
    assert _CountingValidator.calls == 1
    info = v.cache_info()
    assert (info.hits, info.misses, info.size) == (1, 1, 1)
    # intermediates in another order: same key
    v.validate(leaf.certificate, [*inter], at=NOW)
    assert _CountingValidator.calls == 1
    # `at` outside the window: not reused, and validated again (and fails)
    with pytest.raises(TrustError) as err:
        v.validate(leaf.certificate, inter, at=first.valid_until + dt.timedelta(seconds=1))
    assert err.value.code == "cert_expired"
    assert _CountingValidator.calls == 1  # the leaf pre-check failed before path validation
    with pytest.raises(TrustError):
        v.validate(leaf.certificate, inter, at=first.valid_from - dt.timedelta(seconds=1))
    assert v.cache_info().misses == 3
    # different intermediates list: a miss
    v.validate(leaf.certificate, [*inter, pki.ca_root.certificate], at=NOW)
    assert _CountingValidator.calls == 2
    v.cache_clear()
    assert v.cache_info().size == 0


def test_cache_bounded_and_threadsafe(pki: StiTestPki, trust: TrustStore) -> None:
    v = ChainValidator(trust, cache_size=3)
    leaves = [pki.issue_sp_certificate(f"{i:03d}A") for i in range(6)]
    inter = [pki.ca_intermediate.certificate]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for cert in leaves:
                assert v.validate(cert.certificate, inter, at=NOW).spc == common_spc(cert)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert v.cache_info().size == 3


def common_spc(cert: Issued) -> str:
    return cert.certificate.subject.rfc4514_string().split(",")[0].removeprefix("CN=SHAKEN ")


def test_validator_arguments(trust: TrustStore) -> None:
    with pytest.raises(UsageError):
        ChainValidator(trust, max_chain_depth=0)
    with pytest.raises(UsageError):
        ChainValidator([])  # type: ignore[arg-type]


def test_pem_roundtrip_of_chain(pki: StiTestPki, trust: TrustStore, leaf: Issued) -> None:
    certs = x509.load_pem_x509_certificates(leaf.chain_pem())
    result = ChainValidator(trust).validate(certs[0], certs[1:], at=NOW)
    assert result.chain[-1].public_bytes(serialization.Encoding.DER) == pki.ca_root.der


# --- real corpus -------------------------------------------------------------------------------


def _corpus_dir() -> Path:
    import os

    default = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real-sti-certs"
    return Path(os.environ.get("SHAKENLIB_CORPUS_DIR", default))


def test_real_chains_pass_the_sti_policy() -> None:
    """Every real leaf whose CA certificates are in the corpus validates (at notBefore +
    1 h) with the STI policy, except for STI checks the library makes on purpose."""
    path = _corpus_dir() / "certs.jsonl"
    if not path.exists():
        pytest.skip(f"real certificate corpus not found at {path} (set SHAKENLIB_CORPUS_DIR)")
    certs = []
    for line in path.read_text().splitlines():
        try:
            certs.append(
                x509.load_der_x509_certificate(base64.b64decode(json.loads(line)["der_b64"]))
            )
        except ValueError:
            continue  # one certificate in the corpus does not parse at all

    def is_ca(c: x509.Certificate) -> bool:
        try:
            return bool(c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        except x509.ExtensionNotFound:
            return False

    cas = [c for c in certs if is_ca(c)]
    roots = [c for c in cas if c.issuer == c.subject]
    inters = [c for c in cas if c.issuer != c.subject]
    subjects = {c.subject for c in cas}
    leaves = [c for c in certs if not is_ca(c) and c.issuer in subjects]
    validator = ChainValidator(TrustStore(roots), require_p256=False, cache_size=0)
    outcomes: dict[str, int] = {}
    for leaf in leaves:
        try:
            validator.validate(leaf, inters, at=leaf.not_valid_before_utc + dt.timedelta(hours=1))
            code = "ok"
        except TrustError as exc:
            code = exc.code
        outcomes[code] = outcomes.get(code, 0) + 1
    # Most corpus leaves' roots are not in the corpus (cert_untrusted). Of the rest, all
    # pass the STI policy -- critical certificatePolicies, missing keyUsage criticality and
    # other lints are not failures -- except one real leaf issued before its
    # intermediate's notBefore (Sansay, 2022), which must be reported as such.
    assert outcomes.get("ok", 0) >= 150, outcomes
    assert set(outcomes) <= {"ok", "cert_untrusted", "cert_not_yet_valid"}, outcomes
    assert outcomes.get("cert_not_yet_valid", 0) <= 1, outcomes


def test_invalid_certificate_version_is_trust_list_invalid(
    pki: StiTestPki, list_signer: Issued
) -> None:
    # cryptography raises x509.InvalidVersion (not a ValueError) for an X.509 version 6;
    # a hostile bundle, trust-list entry or x5c (parsed before the signature check) must
    # give trust_list_invalid, not an uncaught exception.
    der = pki.ca_root.der
    i = der.find(bytes.fromhex("a003020102"))
    bad = der[:i] + bytes.fromhex("a003020106") + der[i + 5 :]
    pem = (
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(bad) + b"-----END CERTIFICATE-----\n"
    )
    for data in (bad, pem):
        assert _error(TrustStore.from_pem, data).code == "trust_list_invalid"
    header = {"alg": "ES256", "x5c": [base64.b64encode(bad).decode()]}
    jws = f"{_b64url(json.dumps(header).encode())}.e30.AA"
    err = _error(
        TrustStore.from_sti_pa_trust_list, jws, signer_roots=[pki.sti_pa_root.certificate], at=NOW
    )
    assert err.code == "trust_list_invalid"
    assert "x5c[0]" in err.message


def test_delegate_with_absurd_range_count_is_tnauthlist_invalid(
    pki: StiTestPki, trust: TrustStore
) -> None:
    # Before: the encompassing check printed a 5000-digit count and raised ValueError.
    dca = pki.issue_delegate_ca(ranges=[TNRange("12125551000", 1000)])
    d = pki.issue_delegate_certificate(dca, ranges=[("12125551000", 10**5000)])
    err = _error(
        _validate, trust, pki, d, intermediates=[dca.certificate, pki.ca_intermediate.certificate]
    )
    assert err.code == "tnauthlist_invalid"


def _signed_jws(
    header: dict[str, object], payload: object, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
) -> str:
    head, body = _b64url(json.dumps(header).encode()), _b64url(json.dumps(payload).encode())
    signing_input = f"{head}.{body}".encode()
    if isinstance(key, rsa.RSAPrivateKey):
        from cryptography.hazmat.primitives.asymmetric import padding

        sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{head}.{body}.{_b64url(sig)}"


def test_trust_list_with_critical_header_parameters_is_rejected(
    pki: StiTestPki, list_signer: Issued
) -> None:
    # RFC 7515 §4.1.11: a JWS whose "crit" names extensions the recipient does not
    # understand (or any "crit" at all, since this reader understands none) is invalid.
    x5c = [base64.b64encode(list_signer.der).decode()]
    payload = {"trustList": [pki.ca_root.pem.decode()]}
    for crit in (["exp"], [], "exp"):
        header = {"alg": "ES256", "x5c": x5c, "crit": crit, "exp": 1}
        err = _error(
            TrustStore.from_sti_pa_trust_list,
            _signed_jws(header, payload, list_signer.key),
            signer_roots=[pki.sti_pa_root.certificate],
            at=NOW,
        )
        assert err.code == "trust_list_invalid"
        assert "crit" in err.message
    plain = _signed_jws({"alg": "ES256", "x5c": x5c}, payload, list_signer.key)
    assert (
        len(
            TrustStore.from_sti_pa_trust_list(
                plain, signer_roots=[pki.sti_pa_root.certificate], at=NOW
            )
        )
        == 1
    )


def test_trust_list_rs256_needs_a_2048_bit_key(pki: StiTestPki) -> None:
    # RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used with these algorithms."
    key, cert = _rsa_list_signer(1024)
    header = {
        "alg": "RS256",
        "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()],
    }
    jws = _signed_jws(header, [pki.ca_root.pem.decode()], key)
    err = _error(TrustStore.from_sti_pa_trust_list, jws, signer_roots=[cert], at=NOW)
    assert err.code == "trust_list_invalid"
    assert "2048" in err.message


@pytest.mark.parametrize(
    ("oid", "value"),
    [
        # AIA whose content is a BOOLEAN: cryptography's verifier never reads AIA, so
        # the path validates and the STI checks' first look at .extensions raised ValueError
        (x509.oid.ExtensionOID.AUTHORITY_INFORMATION_ACCESS, bytes.fromhex("30030101ff")),
        # subjectAltName with an x400Address: UnsupportedGeneralNameType (not a ValueError)
        (x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME, bytes.fromhex("3002a300")),
    ],
)
def test_undecodable_extension_in_a_validly_signed_chain_is_chain_invalid(
    pki: StiTestPki, trust: TrustStore, oid: x509.ObjectIdentifier, value: bytes
) -> None:
    ext = x509.UnrecognizedExtension(oid, value)
    leaf = pki.issue_sp_certificate("873J", extra_extensions=[(ext, False)])
    err = _error(_validate, trust, pki, leaf)
    assert err.code == "cert_chain_invalid"
    assert "SHAKEN 873J" in err.message
    # the same in an intermediate
    inter = pki._sign(
        subject=x509.Name.from_rfc4514_string("CN=Odd CA,O=Test STI-CA,C=US"),
        key=ec.generate_private_key(ec.SECP256R1()),
        issuer=pki.ca_root,
        ca=True,
        key_usage="ca",
        extensions=[(ext, False)],
        policies=True,
        crldp=True,
    )
    below = pki.issue_sp_certificate("873J", issuer=inter)
    err = _error(_validate, trust, pki, below, intermediates=[inter.certificate])
    assert err.code == "cert_chain_invalid"
    assert "Odd CA" in err.message


def test_trust_list_signer_with_x400_san_is_trust_list_invalid(pki: StiTestPki) -> None:
    ext = x509.UnrecognizedExtension(
        x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME, bytes.fromhex("3002a300")
    )
    signer = pki.issue_sp_certificate(
        "STIPA", issuer=pki.sti_pa_root, organization="STI-PA", extra_extensions=[(ext, False)]
    )
    jws = _trust_list({"trustList": [pki.ca_root.pem.decode()]}, signer)
    err = _error(
        TrustStore.from_sti_pa_trust_list, jws, signer_roots=[pki.sti_pa_root.certificate], at=NOW
    )
    assert err.code == "trust_list_invalid"
