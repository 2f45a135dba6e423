"""Certificate repositories: where ``x5u`` certificates (and CRLs) come from.

This is the only module of shakenlib that does network I/O and the only one that
imports ``requests``. Three repositories share one protocol,
:class:`CertificateRepository` (``fetch(url, *, at, kind="certificate") -> Fetched``):

- :class:`HttpRepository` fetches over HTTPS under the ATIS-1000074 §5.3.1 fetch policy
  (:class:`FetchPolicy`) with RFC 9111 caching (:class:`shakenlib.cache.Cache`);
- :class:`MirrorRepository` reads an offline directory in the ``wget --force-directories``
  layout (``https://HOST/PATH`` -> ``ROOT/HOST/PATH``);
- :class:`MemoryRepository` answers from a dict (tests, notebooks).

Every failure is a :class:`~shakenlib.errors.RepositoryError` with a stable code
(``x5u_invalid``, ``x5u_address_forbidden``, ``x5u_fetch_failed``, ``x5u_timeout``,
``x5u_http_status``, ``x5u_redirect``, ``x5u_too_large``, ``x5u_content``); deviations
that real repositories commonly show (wrong ``Content-Type``, no caching directive, DER
instead of PEM) are :class:`~shakenlib.findings.Finding` warnings on the result.

>>> from datetime import datetime, timezone
>>> policy = FetchPolicy()
>>> policy.check_url("https://cr.example.com/spc/cert.pem")
>>> policy.check_url("http://cr.example.com/cert.pem")
Traceback (most recent call last):
...
shakenlib.errors.RepositoryError: x5u_invalid: scheme 'http' is not allowed (allowed: https)
>>> repo = MemoryRepository()
>>> repo.fetch("https://cr.example.com/x.pem", at=datetime(2025, 1, 1, tzinfo=timezone.utc))
Traceback (most recent call last):
...
shakenlib.errors.RepositoryError: x5u_http_status: HTTP 404: ... not in the memory repository
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import SplitResult, urlsplit

import attrs
import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
import urllib3.util.connection
from cryptography import x509

from shakenlib.cache import ATIS_DEFAULT_TTL, Cache, Kind, cache_expiry, has_caching_directive
from shakenlib.errors import RepositoryError, UsageError
from shakenlib.findings import Finding

__all__ = [
    "CONTENT_TYPES",
    "CertificateRepository",
    "FetchPolicy",
    "Fetched",
    "HttpRepository",
    "MemoryRepository",
    "MirrorRepository",
    "is_special_purpose_address",
]

#: The media type each kind of response should carry: ATIS-1000080 (STI-CR serves
#: ``application/pem-certificate-chain``, RFC 8555 §9.1) and RFC 2585 §4.2 for CRLs.
CONTENT_TYPES: dict[str, str] = {
    "certificate": "application/pem-certificate-chain",
    "crl": "application/pkix-crl",
}
_ACCEPT = {
    "certificate": "application/pem-certificate-chain, application/pkix-cert;q=0.5, */*;q=0.1",
    "crl": "application/pkix-crl, */*;q=0.1",
}
_PEM_MARKERS = {
    "certificate": (b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"),
    "crl": (b"-----BEGIN X509 CRL-----", b"-----END X509 CRL-----"),
}
_DEFAULT_PORTS = {"https": 443, "http": 80}
#: How long every repository remembers a failed fetch (the negative cache).
_NEGATIVE_TTL = timedelta(seconds=60)


@attrs.frozen
class Fetched:
    """One repository response that passed the fetch policy and the content check.

    ``fetched_at`` is the ``at`` the caller passed when the response was fetched (a
    cache hit keeps the original fetch time and has ``from_cache=True``); ``expires_at``
    is the caching decision (RFC 9111, ATIS 24 h default, capped at the certificate's
    ``notAfter``). ``warnings`` hold deviations that are reported, not failures.
    """

    url: str
    body: bytes
    content_type: str | None
    status: int
    fetched_at: datetime
    expires_at: datetime
    from_cache: bool = False
    warnings: tuple[Finding, ...] = ()


@runtime_checkable
class CertificateRepository(Protocol):
    """Anything that turns an ``x5u`` (or CRL distribution point) URL into bytes."""

    def fetch(self, url: str, *, at: datetime, kind: Kind = "certificate") -> Fetched:
        """Fetch ``url`` as of ``at``; raise :class:`RepositoryError` on failure."""
        ...


# --------------------------------------------------------------------------- addresses
# IANA IPv4/IPv6 Special-Purpose Address Registries (RFC 6890 and its updates
# RFC 8190, RFC 9637, RFC 9602). ATIS-1000074 §5.3.1 / SSRF: never fetch from these.
_SPECIAL_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network" (RFC 791)
        "10.0.0.0/8",  # private-use (RFC 1918)
        "100.64.0.0/10",  # shared address space / CGNAT (RFC 6598)
        "127.0.0.0/8",  # loopback (RFC 1122)
        "169.254.0.0/16",  # link-local (RFC 3927)
        "172.16.0.0/12",  # private-use (RFC 1918)
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890)
        "192.0.2.0/24",  # documentation TEST-NET-1 (RFC 5737)
        "192.31.196.0/24",  # AS112-v4 (RFC 7535)
        "192.52.193.0/24",  # AMT (RFC 7450)
        "192.88.99.0/24",  # deprecated 6to4 relay anycast (RFC 7526)
        "192.168.0.0/16",  # private-use (RFC 1918)
        "192.175.48.0/24",  # direct delegation AS112 (RFC 7534)
        "198.18.0.0/15",  # benchmarking (RFC 2544)
        "198.51.100.0/24",  # documentation TEST-NET-2 (RFC 5737)
        "203.0.113.0/24",  # documentation TEST-NET-3 (RFC 5737)
        "224.0.0.0/4",  # multicast (RFC 5771)
        "240.0.0.0/4",  # reserved (RFC 1112), includes 255.255.255.255 limited broadcast
    )
)
_SPECIAL_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/8",  # reserved: unspecified ::, loopback ::1, IPv4-compatible (RFC 4291)
        "::ffff:0:0/96",  # IPv4-mapped (RFC 4291)
        "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation (RFC 8215)
        "100::/64",  # discard-only (RFC 6666)
        "2001::/23",  # IETF protocol assignments incl. Teredo 2001::/32 (RFC 2928, 4380)
        "2001:db8::/32",  # documentation (RFC 3849)
        "2002::/16",  # 6to4 (RFC 3056)
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 SIDs (RFC 9602)
        "fc00::/7",  # unique-local (RFC 4193)
        "fe80::/10",  # link-local unicast (RFC 4291)
        "fec0::/10",  # deprecated site-local (RFC 3879)
        "ff00::/8",  # multicast (RFC 4291)
    )
)
_NAT64_WKP = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: embeds an IPv4 address


def is_special_purpose_address(address: str) -> bool:
    """Whether ``address`` (an IP literal) is special-purpose and so must not be fetched from.

    Covers the IANA special-purpose registries (RFC 6890 and updates: loopback, RFC 1918,
    link-local, CGNAT, documentation, multicast, reserved, IPv6 ULA/link-local/mapped...)
    and anything Python's :mod:`ipaddress` does not consider globally reachable. An IPv4
    address embedded in the NAT64 prefix ``64:ff9b::/96`` is judged as IPv4. A string
    that is not an IP literal counts as special (refuse what cannot be judged).

    >>> [is_special_purpose_address(a) for a in ("8.8.8.8", "127.0.0.1", "10.1.2.3")]
    [False, True, True]
    >>> [is_special_purpose_address(a) for a in ("::ffff:127.0.0.1", "fe80::1%eth0", "fd00::1")]
    [True, True, True]
    >>> is_special_purpose_address("224.0.0.251"), is_special_purpose_address("100.64.0.1")
    (True, True)
    """
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        if ip in _NAT64_WKP:
            return is_special_purpose_address(str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
        if any(ip in net for net in _SPECIAL_V6):
            return True
    elif any(ip in net for net in _SPECIAL_V4):
        return True
    return not ip.is_global or ip.is_multicast or ip.is_reserved


# ------------------------------------------------------------------------------ policy
@attrs.frozen
class FetchPolicy:
    """The ATIS-1000074 §5.3.1 certificate retrieval rules, as data.

    Defaults: ``https`` only, port 443 or 8443, no userinfo, query, fragment or path
    parameters, no redirects, no special-purpose addresses, 2 s timeouts, 64 KiB cap,
    24 h default cache lifetime, failures remembered for 60 s. ``ports=None`` allows any
    port. ``verify_tls`` is ``True`` (system trust store) or a CA bundle path.

    >>> FetchPolicy().check_url("https://cert.sticr.att.net:8443/certs/att/abc")
    >>> FetchPolicy().check_url("https://cr.example.com:8080/x.pem")
    Traceback (most recent call last):
    ...
    shakenlib.errors.RepositoryError: x5u_invalid: port 8080 is not allowed (allowed: 443, 8443)
    """

    schemes: frozenset[str] = frozenset({"https"})
    ports: frozenset[int] | None = frozenset({443, 8443})
    allow_userinfo: bool = False
    allow_query: bool = False
    allow_fragment: bool = False
    allow_path_params: bool = False
    follow_redirects: bool = False
    connect_timeout: float = 2.0
    read_timeout: float = 2.0
    #: Deadline (seconds) for the whole exchange: connect, TLS, status line, headers and
    #: body. A server dribbling bytes cannot hold a fetch (or the calls waiting on it).
    total_timeout: float = 5.0
    max_bytes: int = 65536
    verify_tls: bool | str = True
    default_ttl: timedelta = ATIS_DEFAULT_TTL
    negative_ttl: timedelta = _NEGATIVE_TTL
    max_ttl: timedelta | None = None
    # Set only by shakenlib.testing.loopback_policy (through _loopback_policy): there is no
    # constructor argument, and attrs.evolve drops it, so production code cannot reach it.
    _loopback: bool = attrs.field(default=False, init=False, repr=False)

    @property
    def allows_special_addresses(self) -> bool:
        """Whether special-purpose addresses (loopback...) may be reached: only a policy
        made by :func:`shakenlib.testing.loopback_policy` for a local test repository."""
        return self._loopback

    def check_url(self, url: str) -> None:
        """Refuse a URL the policy does not allow (``x5u_invalid``; a special-purpose IP
        literal gives ``x5u_address_forbidden``). Names are checked again after
        resolution, at connect time, by :class:`HttpRepository`."""
        parts = _split(url)
        scheme = parts.scheme.lower()
        if scheme not in self.schemes:
            allowed = ", ".join(sorted(self.schemes))
            raise RepositoryError(
                "x5u_invalid", f"scheme {scheme!r} is not allowed (allowed: {allowed})"
            )
        if "@" in parts.netloc and not self.allow_userinfo:
            raise RepositoryError("x5u_invalid", "userinfo ('user@') in the URL is not allowed")
        port = _port(parts)
        if self.ports is not None and port not in self.ports:
            allowed = ", ".join(str(p) for p in sorted(self.ports))
            raise RepositoryError("x5u_invalid", f"port {port} is not allowed (allowed: {allowed})")
        if "?" in url and not self.allow_query:
            raise RepositoryError("x5u_invalid", "a query ('?...') in the URL is not allowed")
        if "#" in url and not self.allow_fragment:
            raise RepositoryError("x5u_invalid", "a fragment ('#...') in the URL is not allowed")
        if ";" in parts.path and not self.allow_path_params:
            raise RepositoryError(
                "x5u_invalid", "path parameters (';...') in the URL are not allowed"
            )
        host = parts.hostname or ""
        special = _is_ip_literal(host) and is_special_purpose_address(host)
        if special and not self._loopback:
            raise RepositoryError(
                "x5u_address_forbidden", f"host {host} is a special-purpose address (RFC 6890)"
            )


def _loopback_policy(policy: FetchPolicy) -> FetchPolicy:
    """``policy`` allowing special-purpose addresses (for :mod:`shakenlib.testing` only)."""
    relaxed = attrs.evolve(policy)
    object.__setattr__(relaxed, "_loopback", True)
    return relaxed


def _split(url: str) -> SplitResult:
    # RFC 3986 §3: URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ];
    # hier-part = "//" authority path-abempty; authority = [ userinfo "@" ] host [ ":" port ]
    if not isinstance(url, str) or not url:
        raise RepositoryError("x5u_invalid", "the URL is empty")
    if any(ord(c) <= 0x20 or c in '\x7f<>"\\{}|^`' for c in url):
        raise RepositoryError(
            "x5u_invalid", "the URL contains spaces or characters RFC 3986 forbids"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise RepositoryError("x5u_invalid", f"the URL does not parse: {exc}") from None
    if not parts.scheme or not parts.netloc or not parts.hostname:
        raise RepositoryError("x5u_invalid", "the URL is not absolute (scheme://host/path)")
    _check_host(parts.hostname)
    return parts


def _check_host(host: str) -> None:
    # RFC 1035 §2.3.4 and RFC 1123 §2.1: a name is labels of 1 to 63 octets, at most 253
    # octets in all (a trailing dot names the root); RFC 5891: a non-ASCII name must have
    # an IDNA A-label form. The HTTP stack would raise UnicodeError on either.
    if _is_ip_literal(host):
        return
    try:
        name = host.encode("idna")
    except UnicodeError:
        raise RepositoryError(
            "x5u_invalid", f"host {host[:80]!r} is not a valid DNS name"
        ) from None
    labels = name[:-1].split(b".") if name.endswith(b".") else name.split(b".")
    if len(name) > 253 or any(not 1 <= len(label) <= 63 for label in labels):
        raise RepositoryError(
            "x5u_invalid", f"host {host[:80]!r} is not a valid DNS name (empty or long label)"
        )


def _port(parts: SplitResult) -> int:
    if parts.port is not None:
        return parts.port
    return _DEFAULT_PORTS.get(parts.scheme.lower(), 0)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_at(at: datetime) -> None:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise UsageError("usage", "'at' must be a timezone-aware datetime")


def _check_kind(kind: str) -> None:
    if kind not in CONTENT_TYPES:
        raise UsageError("usage", f"kind must be 'certificate' or 'crl', not {kind!r}")


# ----------------------------------------------------------------------------- content
def _der_is_one_sequence(body: bytes) -> bool:
    # X.690 §8.1: identifier octet 0x30 = SEQUENCE (constructed); definite length,
    # short form (< 0x80) or long form (0x80 | n, then n length octets).
    if len(body) < 2 or body[0] != 0x30:
        return False
    first = body[1]
    if first < 0x80:
        header, length = 2, first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or len(body) < 2 + n:
            return False
        header, length = 2 + n, int.from_bytes(body[2 : 2 + n], "big")
    # Trailing whitespace after the value is tolerated; the value's own last octet may be
    # a whitespace byte, so compare lengths rather than strip first.
    end = header + length
    return end <= len(body) and not body[end:].strip(b"\r\n\t ")


def _check_content(url: str, body: bytes, kind: Kind) -> bool:
    """Cheap content check; returns True for PEM, False for DER, raises otherwise."""
    begin, _ = _PEM_MARKERS[kind]
    if begin in body:
        return True
    if _der_is_one_sequence(body):
        return False
    what = "PEM certificate or DER certificate" if kind == "certificate" else "X.509 CRL"
    raise RepositoryError("x5u_content", f"the response from {url} holds no {what}")


def _validity_end(body: bytes, kind: Kind, is_pem: bool) -> datetime | None:
    """notAfter of the first certificate (nextUpdate of a CRL); None if it does not parse."""
    begin, end = _PEM_MARKERS[kind]
    data = body
    if is_pem:
        start = body.find(begin)
        stop = body.find(end, start)
        if stop < 0:
            return None
        data = body[start : stop + len(end)] + b"\n"
    try:
        if kind == "certificate":
            cert = (
                x509.load_pem_x509_certificate(data)
                if is_pem
                else x509.load_der_x509_certificate(data)
            )
            return cert.not_valid_after_utc
        crl = x509.load_pem_x509_crl(data) if is_pem else x509.load_der_x509_crl(data)
        return crl.next_update_utc
    except (ValueError, TypeError, x509.InvalidVersion):  # hostile bytes: no expiry cap
        return None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _make_fetched(
    url: str,
    body: bytes,
    *,
    at: datetime,
    kind: Kind,
    content_type: str | None,
    headers: Mapping[str, str] | None,
    default_ttl: timedelta,
    max_ttl: timedelta | None,
) -> Fetched:
    """Content check, warnings and the caching decision for a 200 response.

    ``headers`` is ``None`` for sources without HTTP headers (mirror directory): then no
    header warnings are given.
    """
    is_pem = _check_content(url, body, kind)
    warnings: list[Finding] = []
    if headers is not None:
        expected = CONTENT_TYPES[kind]
        if _media_type(content_type) != expected:
            got = repr(content_type) if content_type else "none"
            source = "ATIS-1000080 (STI-CR)" if kind == "certificate" else "RFC 2585 §4.2"
            warnings.append(
                Finding("x5u_content_type", "warn", f"Content-Type {got}, not {expected}", source)
            )
        if kind == "certificate" and not has_caching_directive(headers):
            warnings.append(
                Finding(
                    "x5u_cache_headers",
                    "warn",
                    "no Cache-Control or Expires directive; cached for the default lifetime",
                    "ATIS-1000074 §5.3.1 (STI-CR shall send a caching directive)",
                )
            )
    if kind == "certificate" and not is_pem:
        warnings.append(
            Finding(
                "x5u_not_pem",
                "warn",
                "the certificate is served as DER, not as a PEM certificate chain",
                "ATIS-1000080 (STI-CR)",
            )
        )
    expires_at = cache_expiry(
        headers or {},
        at=at,
        default_ttl=default_ttl,
        max_ttl=max_ttl,
        not_after=_validity_end(body, kind, is_pem),
    )
    return Fetched(url, body, content_type, 200, at, expires_at, False, tuple(warnings))


def _through_cache(
    cache: Cache,
    url: str,
    *,
    at: datetime,
    kind: Kind,
    negative_ttl: timedelta,
    load: Callable[[], Fetched],
) -> Fetched:
    """The caching every repository with a :class:`~shakenlib.cache.Cache` shares.

    Under the per-URL lock (concurrent fetches of one URL collapse into one ``load``):
    a response fresh at ``at`` comes from the cache (``from_cache=True``) and a failure
    remembered there is raised again; otherwise ``load()`` runs and its response is
    stored until its ``expires_at``, or its ``RepositoryError`` until ``at +
    negative_ttl``. URL refusals happen before this and are never cached.
    """
    with cache.lock(url, kind):
        hit = cache.get(url, at=at, kind=kind)
        if hit is not None:
            return hit
        try:
            fetched = load()
        except RepositoryError as exc:
            cache.put_failure(url, exc, until=at + negative_ttl, kind=kind)
            raise
        cache.put(fetched, kind=kind)
        return fetched


# ---------------------------------------------------------------------------- HTTP
# No DNS-rebinding gap: the special-purpose check runs inside urllib3's connection
# setup. ``_guarded_new_conn`` resolves the host ONCE, refuses the connection if any
# resolved address is special-purpose, then connects a socket to exactly those checked
# IP addresses (never resolving the name again) and re-checks the socket's peer address.
# TLS is layered on that socket by urllib3 afterwards with the original host name, so
# SNI, certificate host-name verification and the Host header are unchanged. Proxies are
# disabled (``trust_env=False``) because through a proxy we could not see the address.
def _guarded_new_conn(conn: urllib3.connection.HTTPConnection) -> socket.socket:
    host = str(getattr(conn, "_dns_host", conn.host)).strip("[]")
    port = conn.port
    try:
        infos = socket.getaddrinfo(
            host, port, urllib3.util.connection.allowed_gai_family(), socket.SOCK_STREAM
        )
    except socket.gaierror as exc:
        raise urllib3.exceptions.NameResolutionError(conn.host, conn, exc) from exc
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if is_special_purpose_address(address):
            raise RepositoryError(
                "x5u_address_forbidden",
                f"{conn.host} resolves to special-purpose address {address} (RFC 6890); "
                "not connecting",
            )
    last: Exception = OSError(f"{conn.host} resolves to no address")
    for address in dict.fromkeys(addresses):
        try:
            sock = urllib3.util.connection.create_connection(
                (address, port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except TimeoutError as exc:
            raise urllib3.exceptions.ConnectTimeoutError(
                conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
            ) from exc
        except OSError as exc:
            last = exc
            continue
        peer = str(sock.getpeername()[0])
        if is_special_purpose_address(peer):  # defensive: the socket is where we asked
            sock.close()
            raise RepositoryError(
                "x5u_address_forbidden", f"connected peer {peer} is a special-purpose address"
            )
        return sock
    raise urllib3.exceptions.NewConnectionError(
        conn, f"Failed to establish a new connection: {last}"
    )


class _Deadline:
    """The whole-exchange deadline of one fetch: when it passes, the connection the fetch
    uses is shut down, which wakes a blocked connect, TLS handshake or read at once
    (per-read timeouts alone let a server dribbling one byte a second hold a fetch).

    It holds its own duplicate of each socket's descriptor: TLS wrapping detaches the
    socket object urllib3 created, and a descriptor number alone could be reused by an
    unrelated socket. Shutting a duplicate down shuts the connection down for both."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        try:
            dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except (OSError, ValueError):  # already closed
            return
        with self._lock:
            self._sockets.append(dup)
            if not self.expired:
                return
        _shut(dup)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def __enter__(self) -> _Deadline:
        _CURRENT.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _CURRENT.deadline = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


# The deadline of the fetch running on this thread (requests gives no way to hand it to
# the connection pool, and a fetch runs on one thread from start to end).
_CURRENT = threading.local()


def _watch(sock: socket.socket | None) -> None:
    deadline: _Deadline | None = getattr(_CURRENT, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


class _GuardedHTTPConnection(urllib3.connection.HTTPConnection):
    guard = True

    def _new_conn(self) -> socket.socket:
        sock = _guarded_new_conn(self) if self.guard else super()._new_conn()
        _watch(sock)
        return sock


class _GuardedHTTPSConnection(urllib3.connection.HTTPSConnection):
    guard = True

    def _new_conn(self) -> socket.socket:
        sock = _guarded_new_conn(self) if self.guard else super()._new_conn()
        _watch(sock)
        return sock


class _LoopbackHTTPConnection(_GuardedHTTPConnection):
    guard = False


class _LoopbackHTTPSConnection(_GuardedHTTPSConnection):
    guard = False


class _WatchedPool:
    """A pooled connection taken for a fetch is watched by that fetch's deadline."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        _watch(getattr(conn, "sock", None))
        return conn


class _GuardedHTTPPool(_WatchedPool, urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(_WatchedPool, urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _LoopbackHTTPPool(_WatchedPool, urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _LoopbackHTTPConnection


class _LoopbackHTTPSPool(_WatchedPool, urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _LoopbackHTTPSConnection


class _GuardedAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter whose connections refuse special-purpose peer addresses (unless
    ``loopback``) and are watched by the fetch's whole-exchange deadline."""

    def __init__(self, *, loopback: bool) -> None:
        self._loopback = loopback
        super().__init__(max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = (
            {"http": _LoopbackHTTPPool, "https": _LoopbackHTTPSPool}
            if self._loopback
            else {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
        )


class HttpRepository:
    """Fetch certificates and CRLs over HTTPS under a :class:`FetchPolicy`, with caching.

    Thread-safe: concurrent fetches of one URL collapse into one request (a per-URL
    lock in the :class:`~shakenlib.cache.Cache`). Several repositories may share one
    ``cache``; without one each repository has its own.

    A ``session`` you pass is used for its headers, cookies and TLS client settings, but
    the fetch policy holds for it as for our own: it is told not to read the environment
    (``trust_env = False``: no ``HTTPS_PROXY``, no ``.netrc``), its proxies are cleared,
    and its adapters are replaced by the address-checking one. A fetch refuses to run if
    the session has been given another adapter or proxy since.

    >>> repo = HttpRepository()
    >>> repo.policy.max_bytes
    65536
    """

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        session: requests.Session | None = None,
        cache: Cache | None = None,
    ) -> None:
        self.policy = policy if policy is not None else FetchPolicy()
        self.cache = cache if cache is not None else Cache()
        session = session if session is not None else requests.Session()
        # Through a proxy the resolved address could not be checked: none from the
        # environment, none configured; and no other adapter may take a URL prefix.
        session.trust_env = False
        session.proxies.clear()
        self._adapter = _GuardedAdapter(loopback=self.policy.allows_special_addresses)
        session.adapters.clear()
        session.mount("https://", self._adapter)
        session.mount("http://", self._adapter)
        self.session = session

    def fetch(self, url: str, *, at: datetime, kind: Kind = "certificate") -> Fetched:
        """Fetch ``url`` as of ``at`` (from the cache when fresh there)."""
        _check_at(at)
        _check_kind(kind)
        self.policy.check_url(url)
        return _through_cache(
            self.cache,
            url,
            at=at,
            kind=kind,
            negative_ttl=self.policy.negative_ttl,
            load=lambda: self._fetch_network(url, at=at, kind=kind),
        )

    def _check_session(self, url: str) -> None:
        session = self.session
        if session.trust_env or session.proxies or session.get_adapter(url) is not self._adapter:
            raise UsageError(
                "usage",
                "the HttpRepository session was changed (trust_env, proxies or an adapter "
                "mounted): the fetch policy could not hold, so nothing is fetched",
            )

    def _fetch_network(self, url: str, *, at: datetime, kind: Kind) -> Fetched:
        self._check_session(url)
        with _Deadline(self.policy.total_timeout) as watch:
            try:
                fetched = self._exchange(url, at=at, kind=kind)
            except RepositoryError:
                if watch.expired:
                    raise self._overran() from None
                raise
        if watch.expired:  # a socket shut mid-body reads as a short body: not an answer
            raise self._overran()
        return fetched

    def _overran(self) -> RepositoryError:
        return RepositoryError(
            "x5u_timeout", f"the exchange took longer than {self.policy.total_timeout} s"
        )

    def _exchange(self, url: str, *, at: datetime, kind: Kind) -> Fetched:
        policy = self.policy
        deadline = time.monotonic() + policy.total_timeout
        try:
            response = self.session.get(
                url,
                headers={
                    "Accept": _ACCEPT[kind],
                    "Accept-Encoding": "identity",
                    "User-Agent": "shakenlib",
                },
                stream=True,
                allow_redirects=False,
                timeout=(policy.connect_timeout, policy.read_timeout),
                verify=policy.verify_tls,
                proxies={},
            )
        except requests.exceptions.Timeout as exc:
            raise RepositoryError("x5u_timeout", f"{url}: {_why(exc)}") from None
        except requests.exceptions.SSLError as exc:
            raise RepositoryError("x5u_fetch_failed", f"{url}: TLS error: {_why(exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise RepositoryError("x5u_fetch_failed", f"{url}: {_why(exc)}") from None
        try:
            status = response.status_code
            if 300 <= status < 400:
                location = response.headers.get("Location", "")
                raise RepositoryError(
                    "x5u_redirect",
                    f"HTTP {status} redirect to {location!r} not followed (ATIS-1000074)",
                )
            if status != 200:
                raise RepositoryError("x5u_http_status", f"HTTP {status} {response.reason}")
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > policy.max_bytes:
                raise RepositoryError(
                    "x5u_too_large",
                    f"Content-Length {length} exceeds the {policy.max_bytes}-byte cap",
                )
            body = self._read_capped(response, deadline)
            content_type = response.headers.get("Content-Type")
            headers = dict(response.headers)
        finally:
            response.close()
        return _make_fetched(
            url,
            body,
            at=at,
            kind=kind,
            content_type=content_type,
            headers=headers,
            default_ttl=policy.default_ttl,
            max_ttl=policy.max_ttl,
        )

    def _read_capped(self, response: requests.Response, deadline: float) -> bytes:
        """Read the streamed body, stopping at ``max_bytes + 1``."""
        cap = self.policy.max_bytes
        raw = response.raw
        chunks: list[bytes] = []
        total = 0
        while True:
            if time.monotonic() > deadline:
                raise self._overran()
            try:
                chunk = raw.read1(min(16384, cap + 1 - total), decode_content=True)
            except urllib3.exceptions.ReadTimeoutError:
                raise RepositoryError(
                    "x5u_timeout", f"no data for {self.policy.read_timeout} s"
                ) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise RepositoryError("x5u_fetch_failed", f"reading the body: {exc}") from None
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:
                raise RepositoryError("x5u_too_large", f"the response exceeds the {cap}-byte cap")


def _why(exc: BaseException) -> str:
    """The innermost useful reason of a requests/urllib3 exception chain."""
    reason: BaseException = exc
    for _ in range(4):
        inner = reason.args[0] if reason.args else None
        inner = getattr(inner, "reason", inner)
        if isinstance(inner, BaseException):
            reason = inner
        else:
            break
    return str(reason) or type(reason).__name__


# ---------------------------------------------------------------------------- offline
class MirrorRepository:
    """An offline repository: the response for ``https://HOST/PATH`` is ``ROOT/HOST/PATH``.

    This is the layout ``wget --force-directories`` writes: a non-default port becomes
    part of the directory name (``ROOT/HOST:PORT/PATH``), a path ending in ``/`` maps to
    ``index.html``, and percent-escapes are used as they are. URLs that would escape
    ``ROOT`` (``..`` segments) are refused. Without a ``policy`` only the scheme
    (``https``) and userinfo are checked; with one, its full :meth:`FetchPolicy.check_url`.

    Responses are cached like :class:`HttpRepository`'s, in ``cache`` (shared with other
    repositories if you pass one; else the repository's own): a file's body is reused
    until its ``expires_at`` (``default_ttl``, capped at the certificate's ``notAfter``
    or the CRL's ``nextUpdate``), so a file changed in the meantime is seen only after
    that; a failure (missing file, bad content) is remembered for ``negative_ttl``. URL
    refusals (``x5u_invalid``...) are checked on every fetch, before the cache, and never
    cached. ``root`` and ``policy`` are fixed at construction (the URL-to-file mapping
    is remembered per URL).

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> MirrorRepository(root).path_for("https://cr.example.com:8443/a/b.pem").relative_to(root)
    PosixPath('cr.example.com:8443/a/b.pem')
    """

    #: How many URL-to-file mappings a mirror remembers (then it starts over).
    PATH_MEMO_SIZE = 4096

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        policy: FetchPolicy | None = None,
        default_ttl: timedelta = ATIS_DEFAULT_TTL,
        cache: Cache | None = None,
        negative_ttl: timedelta = _NEGATIVE_TTL,
    ) -> None:
        self.root = Path(os.path.abspath(root))
        self.policy = policy
        self.default_ttl = default_ttl
        self.cache = cache if cache is not None else Cache()
        self.negative_ttl = negative_ttl
        # path_for is a pure function of the URL (root and policy being fixed); only
        # accepted URLs are remembered, so a refusal is re-checked every time.
        self._paths: dict[str, Path] = {}

    def path_for(self, url: str) -> Path:
        """The file that holds the response for ``url`` (refusing escapes from ROOT)."""
        if self.policy is not None:
            self.policy.check_url(url)
        parts = _split(url)
        if self.policy is None:
            if parts.scheme.lower() != "https":
                raise RepositoryError("x5u_invalid", f"scheme {parts.scheme!r} is not https")
            if "@" in parts.netloc:
                raise RepositoryError("x5u_invalid", "userinfo ('user@') is not allowed")
        host = (parts.hostname or "").lower()
        if ":" in host:
            host = f"[{host}]"
        if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme.lower()):
            host = f"{host}:{parts.port}"
        path = parts.path or "/"
        if path.endswith("/"):
            path += "index.html"
        if parts.query:
            path += "?" + parts.query
        segments = [s for s in path.split("/") if s]
        if host in (".", "..") or any(s in (".", "..") for s in segments) or "\x00" in path:
            raise RepositoryError("x5u_invalid", f"{url} would escape the mirror directory")
        target = Path(os.path.normpath(self.root.joinpath(host, *segments)))
        if os.path.commonpath([self.root, target]) != str(self.root) or target == self.root:
            raise RepositoryError("x5u_invalid", f"{url} would escape the mirror directory")
        return target

    def fetch(self, url: str, *, at: datetime, kind: Kind = "certificate") -> Fetched:
        """Read the mirrored response for ``url`` (from the cache when fresh at ``at``);
        a missing file is a 404."""
        _check_at(at)
        _check_kind(kind)
        target = self._paths.get(url)
        if target is None:
            target = self.path_for(url)  # raises for a refused URL: never cached
            if len(self._paths) >= self.PATH_MEMO_SIZE:
                self._paths.clear()
            self._paths[url] = target
        path = target
        return _through_cache(
            self.cache,
            url,
            at=at,
            kind=kind,
            negative_ttl=self.negative_ttl,
            load=lambda: self._read(url, path, at=at, kind=kind),
        )

    def _read(self, url: str, target: Path, *, at: datetime, kind: Kind) -> Fetched:
        limit = self.policy.max_bytes if self.policy is not None else None
        try:
            with target.open("rb") as fh:
                body = fh.read() if limit is None else fh.read(limit + 1)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise RepositoryError(
                "x5u_http_status", f"HTTP 404: no file {target} in the mirror for {url}"
            ) from None
        except OSError as exc:
            raise RepositoryError("x5u_fetch_failed", f"reading {target}: {exc}") from None
        if limit is not None and len(body) > limit:
            raise RepositoryError("x5u_too_large", f"{target} exceeds the {limit}-byte cap")
        return _make_fetched(
            url,
            body,
            at=at,
            kind=kind,
            content_type=None,
            headers=None,
            default_ttl=self.default_ttl,
            max_ttl=None,
        )


class MemoryRepository:
    """A repository answering from a dict: ``{url: body bytes or Fetched}``.

    Bodies get the same content check, warnings and expiry as an HTTP response served
    with ``content_type`` and no caching headers. ``hits`` counts fetches per URL.

    >>> from datetime import datetime, timezone
    >>> repo = MemoryRepository()
    >>> repo.add("https://cr.example.com/x.pem", b"not a certificate")
    >>> repo.fetch("https://cr.example.com/x.pem", at=datetime(2025, 1, 1, tzinfo=timezone.utc))
    Traceback (most recent call last):
    ...
    shakenlib.errors.RepositoryError: x5u_content: the response from ... holds no PEM ...
    """

    def __init__(self, responses: Mapping[str, bytes | Fetched] | None = None) -> None:
        self._lock = threading.Lock()
        self._responses: dict[str, tuple[bytes | Fetched, str | None, dict[str, str]]] = {}
        self._errors: dict[str, RepositoryError] = {}
        self.hits: Counter[str] = Counter()
        for url, value in (responses or {}).items():
            if isinstance(value, Fetched):
                self._responses[url] = (value, value.content_type, {})
            else:
                self.add(url, value)

    def add(
        self,
        url: str,
        body: bytes,
        *,
        content_type: str | None = "application/pem-certificate-chain",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Serve ``body`` for ``url`` (``headers`` default to ``Cache-Control:
        max-age=86400``, i.e. a compliant STI-CR)."""
        hdrs = dict(headers) if headers is not None else {"Cache-Control": "max-age=86400"}
        with self._lock:
            self._errors.pop(url, None)
            self._responses[url] = (bytes(body), content_type, hdrs)

    def add_error(self, url: str, code: str, message: str = "") -> None:
        """Make ``url`` fail with ``RepositoryError(code, message)``."""
        error = RepositoryError(code, message)
        with self._lock:
            self._responses.pop(url, None)
            self._errors[url] = error

    def fetch(self, url: str, *, at: datetime, kind: Kind = "certificate") -> Fetched:
        """The stored response for ``url``; an unknown URL is a 404."""
        _check_at(at)
        _check_kind(kind)
        with self._lock:
            self.hits[url] += 1
            stored = self._responses.get(url)
            error = self._errors.get(url)
        if error is not None:
            raise RepositoryError(error.code, error.message)
        if stored is None:
            raise RepositoryError(
                "x5u_http_status", f"HTTP 404: {url} is not in the memory repository"
            )
        value, content_type, headers = stored
        if isinstance(value, Fetched):
            return value
        headers = {**headers, "Content-Type": content_type} if content_type else headers
        return _make_fetched(
            url,
            value,
            at=at,
            kind=kind,
            content_type=content_type,
            headers=headers,
            default_ttl=ATIS_DEFAULT_TTL,
            max_ttl=None,
        )
