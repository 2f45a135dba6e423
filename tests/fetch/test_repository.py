"""Certificate repositories: the fetch policy, HTTP against a real local HTTPS server,
caching, the mirror directory and the memory repository."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings, strategies as st

from repo_fixtures import (
    AT,
    CERT_NOT_AFTER,
    TlsFiles,
    cert_der,
    cert_pem,
    crl_bytes,
)
from shakenlib.errors import CODES, RepositoryError, UsageError
from shakenlib.fetch import (
    CertificateRepository,
    Fetched,
    FetchPolicy,
    HttpRepository,
    MemoryRepository,
    MirrorRepository,
    is_special_purpose_address,
)
from shakenlib.fetch.cache import Cache
from shakenlib.testing.server import HttpsRepositoryServer, loopback_policy

pytestmark = pytest.mark.network

PEM = cert_pem()
MAX_AGE = {"Cache-Control": "max-age=3600"}


@pytest.fixture
def policy(tls_files: TlsFiles) -> FetchPolicy:
    return loopback_policy(
        tls_files.ca_file,
        base=FetchPolicy(connect_timeout=0.3, read_timeout=0.3, total_timeout=2.0),
    )


@pytest.fixture
def repo(policy: FetchPolicy) -> Iterator[HttpRepository]:
    repository = HttpRepository(policy, cache=Cache())
    yield repository
    repository.session.close()


def _fail(
    repo: CertificateRepository, url: str, at: datetime = AT, **kw: object
) -> RepositoryError:
    with pytest.raises(RepositoryError) as info:
        repo.fetch(url, at=at, **kw)  # type: ignore[arg-type]
    assert info.value.code in CODES
    return info.value


# ------------------------------------------------------------------------ fetch policy
@pytest.mark.parametrize(
    ("url", "code", "fragment"),
    [
        ("http://cr.example.com/a.pem", "x5u_invalid", "scheme 'http'"),
        ("ftp://cr.example.com/a.pem", "x5u_invalid", "scheme 'ftp'"),
        ("https://cr.example.com:8080/a.pem", "x5u_invalid", "port 8080"),
        ("https://cr.example.com:80/a.pem", "x5u_invalid", "port 80"),
        ("https://user@cr.example.com/a.pem", "x5u_invalid", "userinfo"),
        ("https://user:pw@cr.example.com/a.pem", "x5u_invalid", "userinfo"),
        ("https://cr.example.com/a.pem?x=1", "x5u_invalid", "query"),
        ("https://cr.example.com/a.pem?", "x5u_invalid", "query"),
        ("https://cr.example.com/a.pem#frag", "x5u_invalid", "fragment"),
        ("https://cr.example.com/a.pem;x=1", "x5u_invalid", "path parameters"),
        ("https://cr.example.com/a;v=2/b.pem", "x5u_invalid", "path parameters"),
        ("https://cr.example.com:99999/a.pem", "x5u_invalid", "does not parse"),
        ("https://cr.example.com/a b.pem", "x5u_invalid", "spaces"),
        ("/relative/a.pem", "x5u_invalid", "not absolute"),
        ("", "x5u_invalid", "empty"),
        ("https://127.0.0.1/a.pem", "x5u_address_forbidden", "127.0.0.1"),
        ("https://10.1.2.3:8443/a.pem", "x5u_address_forbidden", "10.1.2.3"),
        ("https://169.254.169.254/latest/meta-data", "x5u_address_forbidden", "169.254"),
        ("https://[::1]/a.pem", "x5u_address_forbidden", "::1"),
        ("https://[fd12::1]/a.pem", "x5u_address_forbidden", "fd12::1"),
        ("https://[::ffff:192.168.1.1]/a.pem", "x5u_address_forbidden", "192.168.1.1"),
    ],
)
def test_default_policy_refuses_each_rule(url: str, code: str, fragment: str) -> None:
    with pytest.raises(RepositoryError) as info:
        FetchPolicy().check_url(url)
    assert info.value.code == code
    assert fragment in info.value.message


@pytest.mark.parametrize(
    "url",
    [  # real x5u shapes (standards digest §8.1)
        "https://certificates.clearip.com/0b3c1f34-9a2e-4c5e-9f7d-1a2b3c4d5e6f/0123abcd.pem",
        "https://cr.sansay.com/123J/0123456789abcdef0123456789abcdef01234567.pem",
        "https://cert.sticr.att.net:8443/certs/att/5a1b2c3d-0000-1111-2222-333344445555",
        "https://cr.ccid.neustar.biz/ccid/authn/v2/certs/12.34",
        "https://CR.Example.COM:443/x.pem",
        "https://8.8.8.8/x.pem",
    ],
)
def test_default_policy_accepts_real_url_shapes(url: str) -> None:
    FetchPolicy().check_url(url)


def test_permissive_policy_allows_loopback_and_any_port_but_keeps_other_rules(
    tls_files: TlsFiles,
) -> None:
    permissive = loopback_policy(tls_files.ca_file)
    permissive.check_url("https://127.0.0.1:54321/x.pem")
    assert permissive.verify_tls == str(tls_files.ca_file)
    for url in ("http://127.0.0.1:54321/x.pem", "https://127.0.0.1:1/x.pem?q"):
        with pytest.raises(RepositoryError, match="x5u_invalid"):
            permissive.check_url(url)


@pytest.mark.parametrize(
    ("address", "special"),
    [
        ("8.8.8.8", False),
        ("1.1.1.1", False),
        ("2606:4700:4700::1111", False),
        ("0.0.0.0", True),
        ("127.1.2.3", True),
        ("10.0.0.1", True),
        ("172.31.255.255", True),
        ("192.168.0.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("192.0.2.1", True),
        ("198.18.0.1", True),
        ("224.0.0.1", True),
        ("239.255.255.250", True),
        ("240.0.0.1", True),
        ("255.255.255.255", True),
        ("::", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("ff02::1", True),
        ("2001:db8::1", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", False),  # NAT64 of 8.8.8.8
        ("64:ff9b::7f00:1", True),  # NAT64 of 127.0.0.1
        ("not-an-ip", True),
    ],
)
def test_special_purpose_addresses(address: str, special: bool) -> None:
    assert is_special_purpose_address(address) is special


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_mapped_and_nat64_forms_are_never_more_permissive_than_ipv4(n: int) -> None:
    v4 = ipaddress.IPv4Address(n)
    assert is_special_purpose_address(f"::ffff:{v4}")
    nat64 = ipaddress.IPv6Address((0x64FF9B << 96) | n)
    assert is_special_purpose_address(str(nat64)) is is_special_purpose_address(str(v4))
    if v4 in ipaddress.IPv4Network("10.0.0.0/8") or v4.is_loopback:
        assert is_special_purpose_address(str(v4))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_check_url_only_ever_raises_repository_error(text: str) -> None:
    try:
        FetchPolicy().check_url("https://" + text)
    except RepositoryError as exc:
        assert exc.code in {"x5u_invalid", "x5u_address_forbidden"}


# --------------------------------------------------------------------------- HTTP: OK
def test_200_pem_chain_with_max_age_is_cached_until_ttl(
    https_server: HttpsRepositoryServer, repo: HttpRepository
) -> None:
    url = https_server.add("/ok/max-age.pem", PEM, headers=MAX_AGE)
    first = repo.fetch(url, at=AT)
    assert (first.status, first.body, first.from_cache) == (200, PEM, False)
    assert first.content_type == "application/pem-certificate-chain"
    assert first.fetched_at == AT
    assert first.expires_at == AT + timedelta(hours=1)
    assert first.warnings == ()
    again = repo.fetch(url, at=AT + timedelta(minutes=59))
    assert again.from_cache
    assert again.body == PEM
    assert again.fetched_at == AT
    assert https_server.hits["/ok/max-age.pem"] == 1
    later = repo.fetch(url, at=AT + timedelta(hours=1))  # expired exactly at the TTL
    assert not later.from_cache
    assert https_server.hits["/ok/max-age.pem"] == 2


def test_s_maxage_wins_over_max_age(
    https_server: HttpsRepositoryServer, repo: HttpRepository
) -> None:
    url = https_server.add(
        "/ok/s-maxage.pem", PEM, headers={"Cache-Control": "max-age=86400, s-maxage=600"}
    )
    assert repo.fetch(url, at=AT).expires_at == AT + timedelta(seconds=600)


def test_no_store_and_no_cache_are_fetched_every_time(
    https_server: HttpsRepositoryServer, repo: HttpRepository
) -> None:
    for path, value in (("/ok/no-store.pem", "no-store"), ("/ok/no-cache.pem", "no-cache")):
        url = https_server.add(path, PEM, headers={"Cache-Control": value})
        first = repo.fetch(url, at=AT)
        assert first.expires_at == AT
        assert not first.warnings  # a directive is present: ATIS is satisfied
        assert not repo.fetch(url, at=AT).from_cache
        assert https_server.hits[path] == 2


def test_expires_is_taken_relative_to_date(
    https_server: HttpsRepositoryServer, repo: HttpRepository
) -> None:
    url = https_server.add(
        "/ok/expires.pem",
        PEM,
        headers={"Expires": "Mon, 01 Jan 2024 02:00:00 GMT"},  # Date is added by the server
    )
    # The server's Date header is the wall clock: use a fixed pair instead.
    https_server.add(
        "/ok/expires-date.pem",
        PEM,
        headers={
            "Date": "Mon, 01 Jan 2024 00:00:00 GMT",
            "Expires": "Mon, 01 Jan 2024 02:00:00 GMT",
        },
    )
    fetched = repo.fetch(https_server.url("/ok/expires-date.pem"), at=AT)
    assert fetched.expires_at == AT + timedelta(hours=2)
    assert fetched.warnings == ()
    assert repo.fetch(url, at=AT).expires_at == AT  # Expires before the server's Date


def test_no_caching_directive_warns_and_caches_24h(
    https_server: HttpsRepositoryServer, repo: HttpRepository
) -> None:
    url = https_server.add("/ok/no-headers.pem", PEM)
    fetched = repo.fetch(url, at=AT)
    assert fetched.expires_at == AT + timedelta(hours=24)
    assert [(w.code, w.severity) for w in fetched.warnings] == [("x5u_cache_headers", "warn")]
    assert repo.fetch(url, at=AT + timedelta(hours=23)).from_cache
    assert https_server.hits["/ok/no-headers.pem"] == 1


def test_cache_never_outlives_the_certificate(
    https_server: HttpsRepositoryServer, repo: HttpRepository
) -> None:
    not_after = AT + timedelta(minutes=30)
    url = https_server.add(
        "/ok/short-lived.pem", cert_pem(not_after), headers={"Cache-Control": "max-age=86400"}
    )
    assert repo.fetch(url, at=AT).expires_at == not_after
    expired = https_server.add("/ok/expired.pem", cert_pem(AT - timedelta(days=1)), headers=MAX_AGE)
    assert repo.fetch(expired, at=AT).expires_at == AT  # not cached at all


def test_max_ttl_caps_the_lifetime(
    https_server: HttpsRepositoryServer, policy: FetchPolicy
) -> None:
    url = https_server.add("/ok/max-ttl.pem", PEM, headers={"Cache-Control": "max-age=86400"})
    capped = HttpRepository(
        loopback_policy(policy.verify_tls, base=attrs.evolve(policy, max_ttl=timedelta(minutes=5)))
    )
    assert capped.fetch(url, at=AT).expires_at == AT + timedelta(minutes=5)


def test_wrong_content_type_and_der_are_warnings_only(
    https_server: HttpsRepositoryServer, repo: HttpRepository
) -> None:
    url = https_server.add("/ok/text.pem", PEM, headers=MAX_AGE, content_type="text/plain")
    fetched = repo.fetch(url, at=AT)
    assert fetched.body == PEM
    assert [w.code for w in fetched.warnings] == ["x5u_content_type"]
    assert "text/plain" in fetched.warnings[0].message
    der = cert_der()
    url = https_server.add("/ok/cert.der", der, headers=MAX_AGE, content_type=None)
    fetched = repo.fetch(url, at=AT)
    assert fetched.body == der
    assert fetched.content_type is None
    assert [w.code for w in fetched.warnings] == ["x5u_content_type", "x5u_not_pem"]
    assert fetched.expires_at == AT + timedelta(hours=1)


def test_chunked_body_without_content_length(
    https_server: HttpsRepositoryServer, repo: HttpRepository
) -> None:
    url = https_server.add("/ok/chunked.pem", PEM, headers=MAX_AGE, chunked=True, chunk_size=100)
    assert repo.fetch(url, at=AT).body == PEM
    record = https_server.wait_for_request("/ok/chunked.pem")
    assert record.completed
    assert record.bytes_sent == len(PEM)
    assert ("Accept-Encoding", "identity") in record.request_headers


def test_crl_kind(https_server: HttpsRepositoryServer, repo: HttpRepository) -> None:
    next_update = AT + timedelta(hours=6)
    url = https_server.add(
        "/crl/sti-pa.crl",
        crl_bytes(next_update),
        headers=MAX_AGE,
        content_type="application/pkix-crl",
    )
    crl = repo.fetch(url, at=AT, kind="crl")
    assert crl.warnings == ()
    assert crl.expires_at == AT + timedelta(hours=1)
    long_url = https_server.add(
        "/crl/long.crl",
        crl_bytes(next_update, pem=True),
        headers={"Cache-Control": "max-age=86400"},
        content_type="application/pkix-crl",
    )
    assert repo.fetch(long_url, at=AT, kind="crl").expires_at == next_update
    # A certificate is not a CRL, and a CRL is not a certificate.
    assert _fail(repo, https_server.add("/crl/cert.pem", PEM), kind="crl").code == "x5u_content"
    # Cached by (kind, url): the same URL as a certificate is a separate entry.
    assert _fail(repo, long_url).code == "x5u_content"


# ------------------------------------------------------------------------ HTTP: errors
def test_404_is_negatively_cached_then_retried(
    https_server: HttpsRepositoryServer, repo: HttpRepository
) -> None:
    url = https_server.url("/err/missing.pem")
    err = _fail(repo, url)
    assert err.code == "x5u_http_status"
    assert "404" in err.message
    again = _fail(repo, url, at=AT + timedelta(seconds=59))
    assert (again.code, again.message) == (err.code, err.message)
    assert https_server.hits["/err/missing.pem"] == 1
    _fail(repo, url, at=AT + timedelta(seconds=60))
    assert https_server.hits["/err/missing.pem"] == 2


def test_500(https_server: HttpsRepositoryServer, repo: HttpRepository) -> None:
    url = https_server.add("/err/500.pem", b"oops", status=500, content_type="text/plain")
    err = _fail(repo, url)
    assert err.code == "x5u_http_status"
    assert "500" in err.message
    assert err.sip_code == 436


def test_redirect_is_not_followed(
    https_server: HttpsRepositoryServer, repo: HttpRepository
) -> None:
    target = https_server.add("/err/target.pem", PEM, headers=MAX_AGE)
    for status in (301, 302, 307, 308):
        path = f"/err/redirect-{status}.pem"
        url = https_server.redirect(path, target, status=status)
        err = _fail(repo, url)
        assert err.code == "x5u_redirect"
        assert str(status) in err.message
        assert target in err.message
    assert https_server.hits["/err/target.pem"] == 0


def test_slow_response_times_out_and_is_negatively_cached(
    https_server: HttpsRepositoryServer, repo: HttpRepository
) -> None:
    url = https_server.add("/err/slow.pem", PEM, headers=MAX_AGE, delay=0.8)
    err = _fail(repo, url)
    assert err.code == "x5u_timeout"
    assert _fail(repo, url, at=AT + timedelta(seconds=1)).code == "x5u_timeout"
    assert https_server.hits["/err/slow.pem"] == 1


def test_dribbling_body_hits_the_total_deadline(
    https_server: HttpsRepositoryServer, policy: FetchPolicy
) -> None:
    url = https_server.add(
        "/err/dribble.pem", PEM * 20, headers=MAX_AGE, chunk_size=64, chunk_delay=0.1
    )
    repo = HttpRepository(
        loopback_policy(policy.verify_tls, base=attrs.evolve(policy, total_timeout=0.5))
    )
    assert _fail(repo, url).code == "x5u_timeout"


def test_declared_oversized_body_is_refused_before_reading(
    https_server: HttpsRepositoryServer, repo: HttpRepository
) -> None:
    url = https_server.add("/err/declared-big.pem", PEM + b"\0" * 70000, headers=MAX_AGE)
    err = _fail(repo, url)
    assert err.code == "x5u_too_large"
    assert "Content-Length" in err.message


@pytest.mark.parametrize("chunked", [False, True])
def test_streamed_oversized_body_is_cut(
    https_server: HttpsRepositoryServer, repo: HttpRepository, chunked: bool
) -> None:
    total = 64 * 1024 * 1024  # far more than the socket buffers hold

    def endless() -> Iterator[bytes]:
        yield PEM
        block = b"\0" * 65536
        for _ in range(total // len(block)):
            yield block

    path = f"/err/endless-{chunked}.pem"
    url = https_server.add(path, endless, headers=MAX_AGE, chunked=chunked)
    err = _fail(repo, url)
    assert err.code == "x5u_too_large"
    assert "65536" in err.message
    record = https_server.wait_for_request(path, timeout=10)
    assert not record.completed  # the server's write failed: the client stopped reading
    assert record.bytes_sent < total // 4


def test_garbage_body(https_server: HttpsRepositoryServer, repo: HttpRepository) -> None:
    for path, body in (
        ("/err/garbage.pem", b"<html>hello</html>"),
        ("/err/empty.pem", b""),
        ("/err/truncated.der", cert_der()[:-10]),
    ):
        err = _fail(repo, https_server.add(path, body, headers=MAX_AGE))
        assert err.code == "x5u_content", path


def test_tls_failure_against_an_untrusted_server(https_server: HttpsRepositoryServer) -> None:
    strict_tls = HttpRepository(loopback_policy(base=FetchPolicy(read_timeout=0.3)))
    url = https_server.add("/err/tls.pem", PEM)
    err = _fail(strict_tls, url)
    assert err.code == "x5u_fetch_failed"
    assert "TLS" in err.message
    assert https_server.hits["/err/tls.pem"] == 0


def test_connection_refused(repo: HttpRepository) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = _fail(repo, f"https://127.0.0.1:{port}/x.pem")
    assert err.code == "x5u_fetch_failed"


def test_default_policy_refuses_loopback_at_connect_time(
    https_server: HttpsRepositoryServer, tls_files: TlsFiles
) -> None:
    # Everything default except the port and the trust store: the *name* "localhost"
    # passes check_url; the resolved 127.0.0.1 must be refused before connecting.
    strict = HttpRepository(
        attrs.evolve(FetchPolicy(), ports=None, verify_tls=str(tls_files.ca_file))
    )
    https_server.add("/err/localhost.pem", PEM, headers=MAX_AGE)
    url = f"https://localhost:{https_server.port}/err/localhost.pem"
    strict.policy.check_url(url)
    err = _fail(strict, url)
    assert err.code == "x5u_address_forbidden"
    assert "127.0.0.1" in err.message or "::1" in err.message
    assert https_server.hits["/err/localhost.pem"] == 0
    # The IP literal is refused even earlier, by the URL check.
    with pytest.raises(RepositoryError, match="x5u_address_forbidden"):
        strict.fetch(https_server.url("/err/localhost.pem"), at=AT)
    assert https_server.hits["/err/localhost.pem"] == 0


def test_connect_time_check_uses_the_resolution_it_connects_to(
    https_server: HttpsRepositoryServer, tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A public-looking name that resolves to loopback (DNS rebinding) is refused.
    real = socket.getaddrinfo
    calls: list[str] = []

    def fake(host: str, *args: object, **kw: object) -> object:
        calls.append(host)
        if host == "cr.rebind.example":
            return real("127.0.0.1", *args, **kw)  # type: ignore[arg-type]
        return real(host, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    strict = HttpRepository(
        attrs.evolve(FetchPolicy(), ports=None, verify_tls=str(tls_files.ca_file))
    )
    https_server.add("/err/rebind.pem", PEM)
    err = _fail(strict, f"https://cr.rebind.example:{https_server.port}/err/rebind.pem")
    assert err.code == "x5u_address_forbidden"
    assert calls.count("cr.rebind.example") == 1  # resolved once, and that answer judged
    assert https_server.hits["/err/rebind.pem"] == 0


def test_naive_time_and_bad_kind_are_usage_errors(repo: HttpRepository) -> None:
    with pytest.raises(UsageError):
        repo.fetch("https://cr.example.com/x.pem", at=datetime(2025, 1, 1))
    with pytest.raises(UsageError):
        repo.fetch("https://cr.example.com/x.pem", at=AT, kind="ocsp")  # type: ignore[arg-type]


# ------------------------------------------------------------------- HTTP: concurrency
def test_concurrent_fetches_of_one_url_collapse_into_one_request(
    https_server: HttpsRepositoryServer, repo: HttpRepository
) -> None:
    url = https_server.add("/conc/one.pem", PEM, headers=MAX_AGE, delay=0.2)
    barrier = threading.Barrier(8)
    results: list[Fetched] = []
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(repo.fetch(url, at=AT))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not errors
    assert len(results) == 8
    assert all(r.body == PEM for r in results)
    assert sum(not r.from_cache for r in results) == 1
    assert https_server.hits["/conc/one.pem"] == 1
    assert repo.cache._key_locks == {}  # the per-URL lock table drains


def test_a_shared_cache_serves_every_repository(
    https_server: HttpsRepositoryServer, policy: FetchPolicy
) -> None:
    cache = Cache()
    url = https_server.add("/conc/shared.pem", PEM, headers=MAX_AGE)
    HttpRepository(policy, cache=cache).fetch(url, at=AT)
    assert HttpRepository(policy, cache=cache).fetch(url, at=AT).from_cache
    assert https_server.hits["/conc/shared.pem"] == 1


# ----------------------------------------------------------------------------- mirror
def test_mirror_layout(tmp_path: Path) -> None:
    (tmp_path / "cr.example.com" / "spc").mkdir(parents=True)
    (tmp_path / "cr.example.com" / "spc" / "a.pem").write_bytes(PEM)
    (tmp_path / "cert.sticr.att.net:8443" / "certs").mkdir(parents=True)
    (tmp_path / "cert.sticr.att.net:8443" / "certs" / "u1").write_bytes(cert_der())
    (tmp_path / "cr.example.com" / "index.html").write_bytes(PEM)
    mirror = MirrorRepository(tmp_path)
    fetched = mirror.fetch("https://cr.example.com/spc/a.pem", at=AT)
    assert fetched.body == PEM
    assert fetched.status == 200
    assert fetched.warnings == ()
    assert fetched.expires_at == AT + timedelta(hours=24)
    assert mirror.fetch("https://CR.example.com:443/spc/a.pem", at=AT).body == PEM
    der = mirror.fetch("https://cert.sticr.att.net:8443/certs/u1", at=AT)
    assert [w.code for w in der.warnings] == ["x5u_not_pem"]
    assert mirror.fetch("https://cr.example.com/", at=AT).body == PEM
    assert mirror.path_for("https://h.example/a/b.pem") == tmp_path / "h.example" / "a" / "b.pem"
    assert isinstance(mirror, CertificateRepository)


def test_mirror_refusals(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    (root / "cr.example.com").mkdir(parents=True)
    (tmp_path / "secret.pem").write_bytes(PEM)
    (root / "cr.example.com" / "bad.pem").write_bytes(b"garbage")
    mirror = MirrorRepository(root)
    for url in (
        "https://cr.example.com/../secret.pem",
        "https://cr.example.com/a/../../../secret.pem",
        "https://../secret.pem",
    ):
        with pytest.raises(RepositoryError, match="x5u_invalid") as info:
            mirror.fetch(url, at=AT)
        assert any(w in info.value.message for w in ("escape", "not absolute", "DNS name"))
    err = _fail(mirror, "https://cr.example.com/missing.pem")
    assert err.code == "x5u_http_status"
    assert "404" in err.message
    assert _fail(mirror, "https://cr.example.com/bad.pem").code == "x5u_content"
    assert _fail(mirror, "http://cr.example.com/bad.pem").code == "x5u_invalid"
    assert _fail(mirror, "https://u@cr.example.com/bad.pem").code == "x5u_invalid"
    # With a policy, its full URL check applies (ports, queries...).
    strict = MirrorRepository(root, policy=FetchPolicy())
    assert _fail(strict, "https://cr.example.com:8080/bad.pem").code == "x5u_invalid"


def test_mirror_caps_at_not_after(tmp_path: Path) -> None:
    (tmp_path / "h.example").mkdir()
    (tmp_path / "h.example" / "s.pem").write_bytes(cert_pem(AT + timedelta(hours=2)))
    fetched = MirrorRepository(tmp_path).fetch("https://h.example/s.pem", at=AT)
    assert fetched.expires_at == AT + timedelta(hours=2)


def _mirror_file(root: Path, url: str, body: bytes) -> Path:
    path = root.joinpath(*[p for p in url.split("://", 1)[1].split("/") if p])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def test_mirror_cache_hit_does_not_touch_the_file_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://cr.example.com/spc/a.pem"
    path = _mirror_file(tmp_path, url, PEM)
    mirror = MirrorRepository(tmp_path)
    first = mirror.fetch(url, at=AT)
    assert not first.from_cache
    assert first.expires_at == AT + timedelta(hours=24)
    path.unlink()  # gone ...
    hit = mirror.fetch(url, at=AT + timedelta(hours=23))
    assert hit.from_cache
    assert hit.body == PEM
    assert hit.fetched_at == AT
    assert hit.expires_at == first.expires_at
    new_body = cert_pem(chain=1)
    path.write_bytes(new_body)  # ... or changed: still the cached body until expires_at
    calls: list[str] = []
    monkeypatch.setattr(mirror, "path_for", lambda u: calls.append(u))  # mapping remembered
    assert mirror.fetch(url, at=AT + timedelta(hours=23, minutes=59)).body == PEM
    assert calls == []
    after = mirror.fetch(url, at=AT + timedelta(hours=24))
    assert after.body == new_body
    assert not after.from_cache
    assert after.fetched_at == AT + timedelta(hours=24)
    # A CRL is cached under its own kind, until its nextUpdate.
    crl_url = "https://crl.example.com/crl"
    crl_path = _mirror_file(tmp_path, crl_url, crl_bytes(AT + timedelta(hours=2)))
    monkeypatch.undo()
    assert mirror.fetch(crl_url, at=AT, kind="crl").expires_at == AT + timedelta(hours=2)
    crl_path.unlink()
    assert mirror.fetch(crl_url, at=AT + timedelta(hours=1), kind="crl").from_cache
    assert _fail(mirror, crl_url, AT + timedelta(hours=2), kind="crl").code == "x5u_http_status"
    assert _fail(mirror, crl_url, AT).code == "x5u_http_status"  # not as a certificate


def test_mirror_missing_file_is_negatively_cached(tmp_path: Path) -> None:
    url = "https://cr.example.com/late.pem"
    mirror = MirrorRepository(tmp_path)
    err = _fail(mirror, url)
    assert err.code == "x5u_http_status"
    assert "404" in err.message
    _mirror_file(tmp_path, url, PEM)  # appears after the failure
    again = _fail(mirror, url, AT + timedelta(seconds=59))
    assert (again.code, again.message) == (err.code, err.message)
    assert mirror.fetch(url, at=AT + timedelta(seconds=60)).body == PEM
    # negative_ttl is configurable; bad content is remembered like a missing file.
    bad = "https://cr.example.com/bad.pem"
    bad_path = _mirror_file(tmp_path, bad, b"<html>not here</html>")
    short = MirrorRepository(tmp_path, negative_ttl=timedelta(seconds=5))
    assert _fail(short, bad).code == "x5u_content"
    bad_path.write_bytes(PEM)
    assert _fail(short, bad, AT + timedelta(seconds=4)).code == "x5u_content"
    assert short.fetch(bad, at=AT + timedelta(seconds=5)).body == PEM
    assert MirrorRepository(tmp_path).negative_ttl == FetchPolicy().negative_ttl


def test_mirror_refusals_are_checked_every_time_and_never_cached(tmp_path: Path) -> None:
    cache = Cache()
    _mirror_file(tmp_path, "https://cr.example.com:8080/a.pem", PEM)
    lax = MirrorRepository(tmp_path, cache=cache)  # no policy: any port
    strict = MirrorRepository(tmp_path, policy=FetchPolicy(), cache=cache)
    assert lax.fetch("https://cr.example.com:8080/a.pem", at=AT).body == PEM
    assert len(cache) == 1
    # The shared cache holds the response, but the strict mirror's policy still refuses.
    for _ in range(2):
        assert _fail(strict, "https://cr.example.com:8080/a.pem").code == "x5u_invalid"
        assert _fail(lax, "https://cr.example.com/../x.pem").code == "x5u_invalid"
    assert len(cache) == 1


def test_repositories_share_one_cache(tmp_path: Path) -> None:
    url = "https://cr.example.com/spc/shared.pem"
    _mirror_file(tmp_path / "a", url, PEM)
    cache = Cache()
    one = MirrorRepository(tmp_path / "a", cache=cache)
    two = MirrorRepository(tmp_path / "b", cache=cache)  # holds no file at all
    assert not one.fetch(url, at=AT).from_cache
    shared = two.fetch(url, at=AT + timedelta(hours=1))
    assert shared.from_cache
    assert shared.body == PEM
    # An HttpRepository on the same cache answers without any network access.
    http = HttpRepository(cache=cache)
    try:
        assert http.fetch(url, at=AT + timedelta(hours=2)).body == PEM
    finally:
        http.session.close()
    # Failures are shared too.
    missing = "https://cr.example.com/spc/missing.pem"
    _fail(one, missing)
    _mirror_file(tmp_path / "b", missing, PEM)
    assert _fail(two, missing, AT + timedelta(seconds=1)).code == "x5u_http_status"
    # Without a shared cache each mirror has its own.
    assert MirrorRepository(tmp_path / "a").cache is not MirrorRepository(tmp_path / "a").cache


def test_concurrent_mirror_fetches_read_the_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://cr.example.com/conc.pem"
    _mirror_file(tmp_path, url, PEM)
    mirror = MirrorRepository(tmp_path)
    reads: list[str] = []
    real = mirror._read
    gate = threading.Event()

    def slow_read(u: str, target: Path, *, at: datetime, kind: str) -> Fetched:
        reads.append(u)
        gate.wait(1.0)
        return real(u, target, at=at, kind=kind)  # type: ignore[arg-type]

    monkeypatch.setattr(mirror, "_read", slow_read)
    results: list[Fetched] = []
    threads = [
        threading.Thread(target=lambda: results.append(mirror.fetch(url, at=AT))) for _ in range(6)
    ]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(5)
    assert reads == [url]
    assert len(results) == 6
    assert sum(not r.from_cache for r in results) == 1
    assert {r.body for r in results} == {PEM}


# ----------------------------------------------------------------------------- memory
def test_memory_repository() -> None:
    prebuilt = Fetched("https://m.example/f.pem", PEM, None, 200, AT, AT, False, ())
    repo = MemoryRepository({"https://m.example/a.pem": PEM, prebuilt.url: prebuilt})
    repo.add("https://m.example/b.pem", PEM, headers={}, content_type="text/plain")
    repo.add_error("https://m.example/dead.pem", "x5u_timeout", "no answer")
    a = repo.fetch("https://m.example/a.pem", at=AT)
    assert a.body == PEM
    assert a.warnings == ()
    assert a.expires_at == AT + timedelta(hours=24)
    b = repo.fetch("https://m.example/b.pem", at=AT)
    assert {w.code for w in b.warnings} == {"x5u_content_type", "x5u_cache_headers"}
    assert repo.fetch(prebuilt.url, at=AT) is prebuilt
    assert _fail(repo, "https://m.example/dead.pem").code == "x5u_timeout"
    assert _fail(repo, "https://m.example/none.pem").code == "x5u_http_status"
    assert repo.hits["https://m.example/a.pem"] == 1
    assert repo.hits["https://m.example/dead.pem"] == 1
    assert isinstance(repo, CertificateRepository)
    short = MemoryRepository({"https://m.example/s.pem": cert_pem(AT + timedelta(seconds=5))})
    assert short.fetch("https://m.example/s.pem", at=AT).expires_at == AT + timedelta(seconds=5)
    assert CERT_NOT_AFTER > AT


def test_der_body_whose_last_octet_is_whitespace_is_der() -> None:
    """Regression: an ECDSA signature can end in 0x09/0x0a/0x0d/0x20; stripping the body
    before comparing lengths made such a CRL 'hold no X.509 CRL' (flaky, 1 in ~64)."""
    from shakenlib.fetch.content import _der_is_one_sequence

    for last in b"\t\n\r ":
        value = b"\x30\x03\x02\x01" + bytes([last])
        assert _der_is_one_sequence(value)
        assert _der_is_one_sequence(value + b"\r\n")
    assert not _der_is_one_sequence(b"\x30\x05\x02\x01\x09")
