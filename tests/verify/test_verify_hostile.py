"""Hostile tokens, certificates, CRLs and times through the verifier: each gives a
failed result with a stable code (or a typed error), never an untyped exception."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from shakenlib.errors import CODES, CertificateError, RepositoryError, RevocationError, UsageError
from shakenlib.fetch import Fetched, MemoryRepository
from shakenlib.pki.crl import RevocationChecker
from shakenlib.pki.der import parse_certificate
from shakenlib.pki.tnauthlist import JWT_CLAIM_CONSTRAINTS_OID, TNAUTHLIST_OID
from shakenlib.sip.passport import b64url_encode, canonical_json, decode_identity
from shakenlib.sip.sign import sign_es256
from shakenlib.testing.pki import StiTestPki
from shakenlib.testing.testbed import ShakenTestbed, TestProvider
from shakenlib.verify import Policy, Verifier

ORIG, DEST = "12155551212", "12155551213"
DATA = Path(__file__).parents[1] / "data" / "hostile"
OVERSIZED_TNAUTHLIST = bytes.fromhex("3008a0061688ff00000000000000")


@pytest.fixture(scope="module")
def bed() -> ShakenTestbed:
    return ShakenTestbed()


@pytest.fixture(scope="module")
def acme(bed: ShakenTestbed) -> TestProvider:
    return bed.add_provider("873J", organization="Acme Telecom")


def _token(key: ec.EllipticCurvePrivateKey, x5u: str, claims_text: str, *, info: str = "") -> str:
    header = {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": x5u}
    signing_input = f"{b64url_encode(canonical_json(header))}.{b64url_encode(claims_text.encode())}"
    sig = b64url_encode(sign_es256(key, signing_input.encode()))
    return f"{signing_input}.{sig};info=<{info or x5u}>;alg=ES256;ppt=shaken"


def _claims(bed: ShakenTestbed, **over: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "attest": "A",
        "dest": {"tn": [DEST]},
        "iat": int(bed.now.timestamp()),
        "orig": {"tn": ORIG},
        "origid": "6f8d2c3a-1b2c-4d5e-8f90-123456789abc",
    }
    claims.update(over)
    return claims


def _verify(verifier: Verifier, bed: ShakenTestbed, header: str | list[str], **kw: object):  # type: ignore[no-untyped-def]
    kw.setdefault("orig", ORIG)
    kw.setdefault("dest", DEST)
    kw.setdefault("at", bed.now)
    result = verifier.verify(header, **kw)  # type: ignore[arg-type]
    assert result.error is None or result.error in CODES
    return result


# --- tokens -------------------------------------------------------------------------------


def test_an_escaped_lone_surrogate_is_passport_json(bed: ShakenTestbed, acme: TestProvider) -> None:
    # Before: UnicodeEncodeError from decode_identity and Verifier.verify.
    text = canonical_json(_claims(bed)).decode().replace(f'"tn":"{ORIG}"', '"tn":"\\ud800"')
    header = _token(acme.issued.key, acme.x5u, text)
    decoded = decode_identity(header)
    assert decoded.error is not None
    assert decoded.error.code == "passport_json"
    result = _verify(bed.verifier(), bed, header)
    assert (result.error, result.sip_code) == ("passport_json", 438)
    # a surrogate *pair* is a real character and stays fine
    paired = canonical_json(_claims(bed, origid="x\\ud83d\\ude00")).decode()
    assert decode_identity(_token(acme.issued.key, acme.x5u, paired)).error is None


@pytest.mark.parametrize("attest", [["A"], {"A": 1}, 1, None])
def test_an_attest_of_another_type_is_attest_invalid(
    bed: ShakenTestbed, acme: TestProvider, attest: object
) -> None:
    # Before: TypeError (unhashable) from the fast path for a list.
    text = canonical_json(_claims(bed, attest=attest)).decode()
    result = _verify(bed.verifier(), bed, _token(acme.issued.key, acme.x5u, text))
    assert result.error == "attest_invalid"


# --- times --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "at",
    [
        dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC),
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
    ],
)
def test_times_out_of_range_are_usage_errors(
    bed: ShakenTestbed, acme: TestProvider, at: object
) -> None:
    # Before: OverflowError in the expiry arithmetic for the year 9999.
    with pytest.raises(UsageError, match="out of range"):
        bed.verifier().verify(acme.sign(orig=ORIG, dest=DEST), orig=ORIG, dest=DEST, at=at)  # type: ignore[arg-type]


# --- certificates behind x5u ----------------------------------------------------------------


def _self_signed(
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "SHAKEN 666X")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical)
    return key, builder.sign(key, hashes.SHA256())


def _duplicate_extension_der() -> bytes:
    """A certificate whose extension list holds one OID twice (DER patched after signing:
    cryptography's builder refuses duplicates)."""
    first = x509.ObjectIdentifier("1.3.6.1.4.1.99999.1")
    second = x509.ObjectIdentifier("1.3.6.1.4.1.99999.2")
    _, cert = _self_signed(
        [
            (x509.UnrecognizedExtension(first, b"\x05\x00"), False),
            (x509.UnrecognizedExtension(second, b"\x05\x00"), False),
        ]
    )
    der = cert.public_bytes(Encoding.DER)
    oid2 = bytes.fromhex("06092b06010401868d1f02")  # OBJECT IDENTIFIER 1.3.6.1.4.1.99999.2
    assert der.count(oid2) == 1
    return der.replace(oid2, oid2[:-1] + b"\x01")


@pytest.mark.parametrize("which", ["oversized-tnauthlist", "duplicate-extension"])
def test_an_untrusted_hostile_certificate_with_an_early_failure_names_no_signer(
    bed: ShakenTestbed, which: str
) -> None:
    # Before: the fetch made only to name the signer let pyasn1's OverflowError and
    # cryptography's DuplicateExtension escape.
    x5u = f"https://cr.hostile.test/{which}.pem"
    if which == "oversized-tnauthlist":
        key, cert = _self_signed(
            [(x509.UnrecognizedExtension(TNAUTHLIST_OID, OVERSIZED_TNAUTHLIST), False)]
        )
        body = cert.public_bytes(Encoding.PEM)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        body = _duplicate_extension_der()
    repo = MemoryRepository({x5u: body})
    verifier = Verifier(bed.trust, repo)
    text = canonical_json(_claims(bed)).decode()
    # info differs from x5u: fails before the certificate is examined
    header = _token(key, x5u, text, info="https://cr.hostile.test/other.pem")
    result = _verify(verifier, bed, header)
    assert result.error == "info_x5u_mismatch"
    assert result.spc is None
    fresh = _verify(Verifier(bed.trust, repo), bed, _token(key, x5u, text))
    assert fresh.error in ("cert_malformed", "cert_untrusted", "cert_chain_invalid")


def test_oversized_claim_constraints_in_a_trusted_certificate_are_claim_constraints_invalid(
    bed: ShakenTestbed,
) -> None:
    # Before: OverflowError from pyasn1 escaped Verifier.verify.
    pki: StiTestPki = bed.pki
    leaf = pki.issue_sp_certificate(
        "555C",
        extra_extensions=[
            (
                x509.UnrecognizedExtension(
                    JWT_CLAIM_CONSTRAINTS_OID, bytes.fromhex("3088ffffffffffffffff00")
                ),
                False,
            )
        ],
    )
    x5u = "https://cr.example-sti.test/555C/cert.pem"
    repo = MemoryRepository({x5u: leaf.chain_pem()})
    verifier = Verifier(bed.trust, repo, policy=Policy(revocation="off"))
    header = _token(leaf.key, x5u, canonical_json(_claims(bed)).decode())
    assert _verify(verifier, bed, header).error == "claim_constraints_invalid"


@pytest.mark.parametrize("name", ["cert-der-overflow.der", "cert-der-index.der"])
def test_der_view_raises_only_certificate_error(name: str) -> None:
    # Mutated certificates found by fuzzing: before, OverflowError and IndexError.
    with pytest.raises(CertificateError) as info:
        parse_certificate((DATA / name).read_bytes())
    assert info.value.code == "cert_malformed"


def test_a_crl_with_a_duplicated_extension_is_crl_invalid(bed: ShakenTestbed) -> None:
    # Before: DuplicateExtension escaped before the CRL signature was checked.
    der = bed.pki.make_crl()
    crl = x509.load_der_x509_crl(der)
    oids = [e.oid.dotted_string for e in crl.extensions]
    assert oids == ["2.5.29.20", "2.5.29.28"]  # cRLNumber, issuingDistributionPoint
    crl_number, idp = bytes.fromhex("0603551d14"), bytes.fromhex("0603551d1c")
    assert der.count(crl_number) == 1
    assert der.count(idp) == 1
    patched = der.replace(idp, crl_number)
    with pytest.raises(RevocationError) as info:
        RevocationChecker(bed.trust).parse(patched)
    assert info.value.code == "crl_invalid"


# --- limits per call ----------------------------------------------------------------------


class _SlowRepository:
    """A repository that takes ``delay`` seconds per fetch and counts them."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.fetches = 0

    def fetch(self, url: str, *, at: dt.datetime, kind: str = "certificate") -> Fetched:
        self.fetches += 1
        time.sleep(self.delay)
        raise RepositoryError("x5u_timeout", f"{url}: silent")


def test_distinct_x5u_per_call_are_capped(bed: ShakenTestbed, acme: TestProvider) -> None:
    # Before: 2,000 distinct x5u made 2,000 fetches in one call.
    repo = _SlowRepository(0.0)
    verifier = Verifier(bed.trust, repo, policy=Policy(max_identity_headers=100))
    text = canonical_json(_claims(bed)).decode()
    headers = [_token(acme.issued.key, f"https://cr{i}.example.com/c.pem", text) for i in range(50)]
    result = _verify(verifier, bed, headers)
    assert repo.fetches == Policy().max_x5u_per_call
    codes = [r.error for r in result.identities]
    assert codes.count("x5u_limit") == 50 - Policy().max_x5u_per_call
    assert CODES["x5u_limit"].sip_code == 436


def test_a_call_stops_fetching_at_its_deadline(bed: ShakenTestbed, acme: TestProvider) -> None:
    # Before: 10 distinct x5u on a silent repository held one verify for 20 s.
    repo = _SlowRepository(0.2)
    policy = Policy(call_deadline=dt.timedelta(seconds=0.3), max_x5u_per_call=10)
    text = canonical_json(_claims(bed)).decode()
    headers = [_token(acme.issued.key, f"https://cr{i}.example.com/c.pem", text) for i in range(10)]
    started = time.monotonic()
    result = _verify(Verifier(bed.trust, repo, policy=policy), bed, headers)
    assert time.monotonic() - started < 1.5
    assert repo.fetches <= 3
    assert all(r.error == "x5u_timeout" for r in result.identities)


def test_too_many_identity_headers_fail_the_call_unverified(
    bed: ShakenTestbed, acme: TestProvider
) -> None:
    header = acme.sign(orig=ORIG, dest=DEST)
    result = _verify(bed.verifier(), bed, [header] * 11)
    assert (result.error, result.sip_code) == ("identity_too_many", 438)
    assert _verify(bed.verifier(), bed, [header] * 10).passed


def test_div_resolution_is_linear(bed: ShakenTestbed, acme: TestProvider) -> None:
    # Before: 2,000 div headers took 2.5 s (quadratic closure).
    policy = Policy(max_identity_headers=5000)
    verifier = bed.verifier(policy)
    chain = [f"1215555{i:04d}" for i in range(2001)]
    shaken = acme.sign(orig=ORIG, dest=chain[0])
    divs = [acme.sign_div(orig=ORIG, dest=chain[i + 1], div=chain[i]) for i in range(2000)]
    verifier.verify([shaken, divs[0]], orig=ORIG, dest=chain[1], at=bed.now)  # warm caches
    started = time.perf_counter()
    result = verifier.verify([shaken, *divs], orig=ORIG, dest=chain[-1], at=bed.now)
    took = time.perf_counter() - started
    assert result.passed
    # the chain check itself: far below the 2.5 s the quadratic closure took
    assert took < 2.0


# --- div without shaken ---------------------------------------------------------------------


def test_a_div_passport_alone_does_not_pass(bed: ShakenTestbed, acme: TestProvider) -> None:
    div = acme.sign_div(orig=ORIG, dest="12155550000", div=DEST)
    for dest in ("12155550000", DEST):
        result = _verify(bed.verifier(), bed, div, dest=dest)
        assert result.verstat == "TN-Validation-Failed"
        assert result.error == "div_unanchored"
        assert result.identities[0].passed  # the div itself verified
    # two divs pointing at each other, and no shaken
    a = acme.sign_div(orig=ORIG, dest="12155550001", div="12155550002")
    b = acme.sign_div(orig=ORIG, dest="12155550002", div="12155550001")
    result = _verify(bed.verifier(), bed, [a, b], dest="12155550001")
    assert result.error == "div_unanchored"
    # with the shaken PASSporT the forwarded call passes
    shaken = acme.sign(orig=ORIG, dest=DEST)
    assert _verify(bed.verifier(), bed, [shaken, div], dest="12155550000").passed


def test_every_result_the_verifier_builds_sets_every_field(
    bed: ShakenTestbed, acme: TestProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The verifier builds results in one step (shakenlib._frozen.build, no __init__): a
    # field left out would be missing from the instance. Check every build it makes.
    import attrs

    import shakenlib.verify.verifier as verifier_module
    from shakenlib._frozen import build

    built: list[str] = []

    def checked(cls: type, fields: dict[str, object]) -> object:
        names = {a.name for a in attrs.fields(cls)}
        assert set(fields) == names, (cls.__name__, names ^ set(fields))
        built.append(cls.__name__)
        return build(cls, fields)

    monkeypatch.setattr(verifier_module, "build", checked)
    verifier = bed.verifier()
    good = acme.sign(orig=ORIG, dest=DEST)
    div = acme.sign_div(orig=ORIG, dest="12155550000", div=DEST)
    calls: list[object] = [
        good,  # the fast path
        [good, div],  # several headers: the general path and the aggregate
        "garbage",  # no PASSporT at all
        [good, "garbage"],
        good.replace(";info=<", ";info=<https://other.example/x>;x=<"),  # general path
    ]
    for header in calls:
        _verify(verifier, bed, header, dest="12155550000" if header == [good, div] else DEST)
    assert {"IdentityResult", "VerificationResult"} <= set(built)
    assert len(built) >= 8
