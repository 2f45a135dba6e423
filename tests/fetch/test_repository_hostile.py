"""Hostile repositories and URLs: every one ends in a RepositoryError with a stable code,
in bounded time, and the fetch policy holds for any session (issue: hostile input)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import attrs
import pytest
import requests
import requests.adapters

from repo_fixtures import TlsFiles
from shakenlib.errors import RepositoryError, UsageError
from shakenlib.fetch import FetchPolicy, HttpRepository, MirrorRepository
from shakenlib.fetch.cache import cache_expiry, freshness_lifetime
from shakenlib.testing.server import loopback_policy

AT = datetime(2025, 6, 1, tzinfo=UTC)


# --- x5u host names (RFC 1035 labels) -------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://x..example.com/c.pem",
        "https://.example.com/c.pem",
        "https://" + "a" * 64 + ".example.com/c.pem",
        "https://" + ".".join(["abcdefgh"] * 30) + "/c.pem",  # > 253 octets
    ],
)
def test_bad_dns_names_are_x5u_invalid_before_any_network(url: str) -> None:
    # Before the fix, requests' IDNA step raised a bare UnicodeError from fetch().
    with pytest.raises(RepositoryError) as info:
        HttpRepository().fetch(url, at=AT)
    assert info.value.code == "x5u_invalid"
    assert info.value.sip_code == 436
    with pytest.raises(RepositoryError) as info:
        MirrorRepository("/nonexistent").fetch(url, at=AT)
    assert info.value.code == "x5u_invalid"


def test_a_63_octet_label_and_a_trailing_dot_are_valid_names() -> None:
    FetchPolicy().check_url("https://" + "a" * 63 + ".example.com/c.pem")
    FetchPolicy().check_url("https://cr.example.com./c.pem")


# --- caching headers that overflow --------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Cache-Control": "max-age=" + "9" * 5000},
        {"Cache-Control": "s-maxage=" + "9" * 5000},
        {"Cache-Control": "max-age=60", "Age": "9" * 5000},
        {"Expires": "Fri, 31 Dec 9999 23:59:59 GMT", "Date": "Thu, 01 Jan 1970 00:00:00 GMT"},
        {"Expires": "Fri, 31 Dec 99999999999999999999 23:59:59 GMT"},  # year past C long
    ],
)
def test_huge_cache_lifetimes_are_capped_at_2_to_the_31_seconds(headers: dict[str, str]) -> None:
    # RFC 9111 §1.2.2: an unrepresentable delta-seconds counts as 2^31.
    lifetime = freshness_lifetime(headers, at=AT)
    assert lifetime is not None
    assert timedelta(0) <= lifetime <= timedelta(seconds=2**31)
    expiry = cache_expiry(headers, at=datetime(8999, 12, 31, tzinfo=UTC))
    assert expiry.year < 9999


# --- the whole-exchange deadline ----------------------------------------------------------


class _DripServer:
    """A TLS server on 127.0.0.1 that answers every request with a status line and
    headers sent one byte at a time, ``gap`` seconds apart (each gap shorter than any read
    timeout), for ``limit`` seconds at most."""

    def __init__(self, tls: TlsFiles, *, gap: float = 0.05, limit: float = 8.0) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(tls.certfile, tls.keyfile)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.gap, self.limit = gap, limit
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._drip, args=(raw,), daemon=True).start()

    def _drip(self, raw: socket.socket) -> None:
        end = time.monotonic() + self.limit
        try:
            with self.context.wrap_socket(raw, server_side=True) as conn:
                conn.recv(65536)
                text = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 10000
                for i in range(len(text)):
                    if self.stop.is_set() or time.monotonic() > end:
                        return
                    conn.sendall(text[i : i + 1])
                    time.sleep(self.gap)
        except OSError:
            return

    def __enter__(self) -> _DripServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


@pytest.mark.network
def test_status_line_and_headers_dripped_byte_by_byte_hit_the_total_deadline(
    tls_files: TlsFiles,
) -> None:
    # Before the fix the deadline covered only the body: this fetch took as long as the
    # server kept dripping (56 s and 148 s were measured).
    policy = loopback_policy(
        tls_files.ca_file, base=FetchPolicy(read_timeout=1.0, total_timeout=0.6)
    )
    with _DripServer(tls_files) as server:
        repo = HttpRepository(policy)
        started = time.monotonic()
        with pytest.raises(RepositoryError) as info:
            repo.fetch(f"https://127.0.0.1:{server.port}/cert.pem", at=AT)
        took = time.monotonic() - started
    assert info.value.code == "x5u_timeout"
    assert "exchange" in info.value.message
    assert took < 3.0


# --- sessions: no environment, no proxy, no adapter that bypasses the guard ----------------


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """HTTPS_PROXY pointing at a local listener that records what reaches it."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(3)
    seen: list[bytes] = []

    def accept() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(1)
            with contextlib.suppress(OSError):
                seen.append(conn.recv(4096))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    yield seen
    listener.close()
    thread.join(5)


@pytest.mark.network
def test_a_callers_session_does_not_read_https_proxy(proxy_env: list[bytes]) -> None:
    # Before the fix a session passed in kept trust_env=True: a CONNECT went to the proxy
    # and the resolved-address check never ran. 192.0.2.1 (TEST-NET-1) is special-purpose.
    repo = HttpRepository(
        FetchPolicy(connect_timeout=0.3, total_timeout=1.0), session=requests.Session()
    )
    assert repo.session.trust_env is False
    with pytest.raises(RepositoryError) as info:
        repo.fetch("https://cr.example.com/c.pem", at=AT)  # resolution fails offline
    assert info.value.code in ("x5u_fetch_failed", "x5u_address_forbidden", "x5u_timeout")
    with pytest.raises(RepositoryError) as info:
        repo.fetch("https://192.0.2.1/c.pem", at=AT)
    assert info.value.code == "x5u_address_forbidden"
    assert proxy_env == []  # nothing went to the proxy


class _Bypass(requests.adapters.HTTPAdapter):
    def send(self, *args: object, **kwargs: object) -> requests.Response:  # type: ignore[override]
        raise AssertionError("an unguarded adapter was used")


def test_adapters_mounted_on_a_callers_session_are_replaced() -> None:
    session = requests.Session()
    session.mount("https://cr.example.com/", _Bypass())
    session.proxies["https"] = "http://127.0.0.1:9"
    repo = HttpRepository(session=session)
    assert not session.proxies
    assert not any(isinstance(a, _Bypass) for a in session.adapters.values())
    with pytest.raises(RepositoryError) as info:
        repo.fetch("https://127.0.0.1/c.pem", at=AT)
    assert info.value.code == "x5u_address_forbidden"


def test_an_adapter_mounted_after_construction_stops_every_fetch() -> None:
    repo = HttpRepository()
    repo.session.mount("https://cr.example.com/", _Bypass())
    with pytest.raises(UsageError, match="session was changed"):
        repo.fetch("https://cr.example.com/c.pem", at=AT)
    repo.session.adapters.pop("https://cr.example.com/")
    repo.session.trust_env = True
    with pytest.raises(UsageError, match="session was changed"):
        repo.fetch("https://cr.example.com/c.pem", at=AT)


def test_the_loopback_relaxation_has_no_public_switch() -> None:
    fields = {a.name for a in attrs.fields(FetchPolicy)}
    assert "allow_special_addresses" not in fields
    assert not hasattr(FetchPolicy, "permissive_for_tests")
    with pytest.raises(TypeError):
        FetchPolicy(loopback=True)  # type: ignore[call-arg]
    relaxed = loopback_policy()
    assert relaxed.allows_special_addresses
    assert not attrs.evolve(relaxed, read_timeout=1.0).allows_special_addresses
    with pytest.raises(RepositoryError):
        FetchPolicy().check_url("https://127.0.0.1/c.pem")
    relaxed.check_url("https://127.0.0.1/c.pem")
