"""The verifier end to end over real HTTPS: a local STI-CR on 127.0.0.1 serving the test
PKI's certificate chains and the STI-PA CRL, fetched with requests under the fetch policy."""

from __future__ import annotations

import pytest

from repo_fixtures import TlsFiles
from shakenlib.fetch import FetchPolicy, HttpRepository
from shakenlib.fetch.cache import Cache
from shakenlib.pki.trust import TrustStore
from shakenlib.sip.sign import Signer
from shakenlib.testing.assertions import assert_failed, assert_passed
from shakenlib.testing.pki import Issued, StiTestPki
from shakenlib.testing.server import HttpsRepositoryServer, loopback_policy
from shakenlib.verify import Policy, Verifier

pytestmark = pytest.mark.network

ORIG, DEST = "12155551212", "12155551213"


@pytest.fixture(scope="module")
def server(https_server: HttpsRepositoryServer) -> HttpsRepositoryServer:
    return https_server


@pytest.fixture(scope="module")
def pki(server: HttpsRepositoryServer) -> StiTestPki:
    pki = StiTestPki(crl_url=server.url("/sti-pa/crl"))
    server.add(
        "/sti-pa/crl",
        pki.make_crl(),
        content_type="application/pkix-crl",
        headers={"Cache-Control": "max-age=3600"},
    )
    return pki


@pytest.fixture(scope="module")
def leaf(pki: StiTestPki) -> Issued:
    return pki.issue_sp_certificate("873J", organization="Acme Telecom")


def verifier(pki: StiTestPki, tls_files: TlsFiles, **policy: object) -> Verifier:
    fetch = loopback_policy(
        tls_files.ca_file,
        base=FetchPolicy(connect_timeout=0.3, read_timeout=0.3, total_timeout=1.0),
    )
    repository = HttpRepository(fetch, cache=Cache())
    return Verifier(
        TrustStore.from_pem(pki.trust_anchors_pem()), repository, policy=Policy(**policy)
    )  # type: ignore[arg-type]


def call(leaf: Issued, x5u: str, pki: StiTestPki) -> str:
    return Signer(leaf.key, x5u).sign_shaken(
        orig=ORIG, dest=DEST, attest="A", iat=int(pki.now.timestamp())
    )


def test_certificate_and_crl_over_https_then_from_cache(
    server: HttpsRepositoryServer, pki: StiTestPki, leaf: Issued, tls_files: TlsFiles
) -> None:
    url = server.add("/873J/ok.pem", leaf.chain_pem(), headers={"Cache-Control": "max-age=600"})
    v = verifier(pki, tls_files, revocation="require")
    header = call(leaf, url, pki)
    crl_before = server.hits["/sti-pa/crl"]
    for _ in range(3):
        assert_passed(v.verify(header, orig=ORIG, dest=DEST, at=pki.now), spc="873J")
    assert server.hits["/873J/ok.pem"] == 1  # fetched once, then served from the cache
    assert server.hits["/sti-pa/crl"] - crl_before == 1


def test_revoked_over_https(server: HttpsRepositoryServer, tls_files: TlsFiles) -> None:
    pki = StiTestPki(crl_url=server.url("/revoking/crl"))
    bad = pki.issue_sp_certificate("666A")
    server.add("/revoking/crl", pki.make_crl([bad]), content_type="application/pkix-crl")
    url = server.add("/666A/cert.pem", bad.chain_pem())
    r = verifier(pki, tls_files).verify(call(bad, url, pki), orig=ORIG, dest=DEST, at=pki.now)
    assert_failed(r, "cert_revoked", sip_code=437)
    assert r.spc == "666A"


@pytest.mark.parametrize(
    ("path", "route", "code"),
    [
        ("/missing.pem", None, "x5u_http_status"),
        ("/err.pem", {"body": b"oops", "status": 500}, "x5u_http_status"),
        (
            "/garbage.pem",
            {"body": b"<html>hello</html>", "content_type": "text/html"},
            "x5u_content",
        ),
        ("/huge.pem", {"body": b"A" * 70_000}, "x5u_too_large"),
        ("/slow.pem", {"body": b"x", "delay": 0.6}, "x5u_timeout"),
    ],
)
def test_repository_failures_over_https_are_436(
    server: HttpsRepositoryServer,
    pki: StiTestPki,
    leaf: Issued,
    tls_files: TlsFiles,
    path: str,
    route: dict[str, object] | None,
    code: str,
) -> None:
    if route is not None:
        server.add(path, **route)  # type: ignore[arg-type]
    r = verifier(pki, tls_files).verify(
        call(leaf, server.url(path), pki), orig=ORIG, dest=DEST, at=pki.now
    )
    assert_failed(r, code, sip_code=436)
    assert r.attest == "A"  # what the PASSporT said is kept for the traceback


def test_redirect_is_not_followed(
    server: HttpsRepositoryServer, pki: StiTestPki, leaf: Issued, tls_files: TlsFiles
) -> None:
    server.add("/873J/target.pem", leaf.chain_pem())
    url = server.redirect("/873J/moved.pem", server.url("/873J/target.pem"))
    r = verifier(pki, tls_files).verify(call(leaf, url, pki), orig=ORIG, dest=DEST, at=pki.now)
    assert_failed(r, "x5u_redirect", sip_code=436)
    assert server.hits["/873J/target.pem"] == 0


def test_default_fetch_policy_refuses_a_loopback_repository(
    server: HttpsRepositoryServer, pki: StiTestPki, leaf: Issued
) -> None:
    """The ATIS fetch policy, unrelaxed: port 443/8443 only, and never a special-purpose
    address (checked after resolution, at connect time)."""
    url = server.add("/873J/policy.pem", leaf.chain_pem())
    v = Verifier(TrustStore.from_pem(pki.trust_anchors_pem()), HttpRepository(cache=Cache()))
    r = v.verify(call(leaf, url, pki), orig=ORIG, dest=DEST, at=pki.now)
    assert_failed(r, "x5u_invalid", sip_code=436)  # ephemeral port, not 443/8443
    relaxed_ports = HttpRepository(FetchPolicy(ports=None), cache=Cache())
    v2 = Verifier(TrustStore.from_pem(pki.trust_anchors_pem()), relaxed_ports)
    localhost = url.replace("127.0.0.1", "localhost")
    r2 = v2.verify(call(leaf, localhost, pki), orig=ORIG, dest=DEST, at=pki.now)
    assert_failed(r2, "x5u_address_forbidden", sip_code=436)
    assert server.hits["/873J/policy.pem"] == 0


def test_rich_call_data_content_is_fetched_through_the_repository(
    server: HttpsRepositoryServer, pki: StiTestPki, leaf: Issued, tls_files: TlsFiles
) -> None:
    # RFC 9795: a jCard by URL (jcl) with its rcdi digest; the verifier fetches it over
    # HTTPS through its certificate repository (same fetch policy, size cap and cache).
    from shakenlib.sip.rcd import digest_string

    jcard = b'["vcard",[["version",{},"text","4.0"],["fn",{},"text","Acme Pharmacy"]]]'
    card_url = server.add(
        "/rcd/acme.json",
        jcard,
        content_type="application/jcard+json",
        headers={"Cache-Control": "max-age=600"},
    )
    x5u = server.add("/873J/rcd.pem", leaf.chain_pem(), headers={"Cache-Control": "max-age=600"})
    claims = {
        "rcd": {"nam": "Acme Pharmacy", "jcl": card_url},
        "rcdi": {"/jcl": digest_string(jcard)},
    }
    header = Signer(leaf.key, x5u).sign_shaken(
        orig=ORIG, dest=DEST, attest="A", iat=int(pki.now.timestamp()), extra_claims=claims
    )
    v = verifier(pki, tls_files)
    for _ in range(2):
        r = v.verify(header, orig=ORIG, dest=DEST, at=pki.now)
        assert_passed(r, spc="873J")
        assert r.display_name == "Acme Pharmacy"
        assert not any(f.code == "rcdi_unchecked" for f in r.identities[0].findings)
    assert server.hits["/rcd/acme.json"] == 1  # cached like a certificate
    # the content changes behind the digest: the call fails with a stable code
    tampered = server.add("/rcd/tampered.json", jcard.replace(b"Acme", b"Acne"))
    claims["rcd"]["jcl"] = tampered
    claims["rcdi"]["/jcl"] = digest_string(jcard)
    bad = Signer(leaf.key, x5u).sign_shaken(
        orig=ORIG, dest=DEST, attest="A", iat=int(pki.now.timestamp()), extra_claims=claims
    )
    assert_failed(v.verify(bad, orig=ORIG, dest=DEST, at=pki.now), "rcdi_mismatch", sip_code=438)
