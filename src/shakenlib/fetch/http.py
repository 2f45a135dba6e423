"""The HTTPS repository: certificates and CRLs fetched under the ATIS-1000074 fetch
policy with RFC 9111 caching. The only module of shakenlib that imports ``requests``."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from datetime import datetime
from typing import Any

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
import urllib3.util.connection

from shakenlib.errors import RepositoryError, UsageError
from shakenlib.fetch.base import Fetched, Kind, check_at, check_kind
from shakenlib.fetch.cache import Cache, through_cache
from shakenlib.fetch.content import make_fetched
from shakenlib.fetch.policy import FetchPolicy, is_special_purpose_address

__all__ = ["HttpRepository"]

_ACCEPT = {
    "certificate": "application/pem-certificate-chain, application/pkix-cert;q=0.5, */*;q=0.1",
    "crl": "application/pkix-crl, */*;q=0.1",
    "rcd": "application/jcard+json, application/json;q=0.9, image/*;q=0.8, */*;q=0.1",
}


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
    """Connects through the address guard (``guard`` off: the loopback test policy); the
    socket is watched by the fetch's whole-exchange deadline."""

    guard = True

    def _new_conn(self) -> socket.socket:
        sock = _guarded_new_conn(self) if self.guard else super()._new_conn()
        _watch(sock)
        return sock


class _GuardedHTTPSConnection(_GuardedHTTPConnection, urllib3.connection.HTTPSConnection):
    pass  # the guarded socket, then TLS as urllib3 layers it (SNI and checks unchanged)


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
    lock in the :class:`~shakenlib.fetch.cache.Cache`). Several repositories may share one
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
        check_at(at)
        check_kind(kind)
        self.policy.check_url(url)
        return through_cache(
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
            except RepositoryError as exc:
                if watch.expired:
                    raise self._overran() from exc
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
            raise RepositoryError("x5u_timeout", f"{url}: {_why(exc)}") from exc
        except requests.exceptions.SSLError as exc:
            raise RepositoryError("x5u_fetch_failed", f"{url}: TLS error: {_why(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise RepositoryError("x5u_fetch_failed", f"{url}: {_why(exc)}") from exc
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
            # RFC 9110 §8.6: Content-Length = 1*DIGIT (ASCII digits: str.isdigit also
            # takes '¹'); a value too long to matter is over any cap.
            length = response.headers.get("Content-Length", "").strip()
            if (
                length.isascii()
                and length.isdigit()
                and (len(length) > 18 or int(length) > policy.max_bytes)
            ):
                raise RepositoryError(
                    "x5u_too_large",
                    f"Content-Length {length[:40]} exceeds the {policy.max_bytes}-byte cap",
                )
            body = self._read_capped(response, deadline)
            content_type = response.headers.get("Content-Type")
            headers = dict(response.headers)
        finally:
            response.close()
        return make_fetched(
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
            except urllib3.exceptions.ReadTimeoutError as exc:
                raise RepositoryError(
                    "x5u_timeout", f"no data for {self.policy.read_timeout} s"
                ) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise RepositoryError("x5u_fetch_failed", f"reading the body: {exc}") from exc
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
