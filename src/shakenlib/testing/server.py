"""A real threaded HTTPS server on 127.0.0.1 that stands in for an STI-CR in tests.

It serves whatever you register per path, counts requests per path (``hits``) so tests
can assert caching, and can misbehave on purpose: redirects, slow answers, oversized,
endless or chunked bodies without ``Content-Length``, garbage, any status. The TLS
certificate is yours (``certfile``/``keyfile``; e.g. a test CA's server certificate
with ``subjectAltName`` IP 127.0.0.1); give the CA file to :func:`loopback_policy`.

Usage (not run here: it needs a certificate)::

    with HttpsRepositoryServer(certfile="srv.pem", keyfile="srv.key") as server:
        server.add("/spc/cert.pem", pem_chain, headers={"Cache-Control": "max-age=3600"})
        repo = HttpRepository(loopback_policy("ca.pem"))
        repo.fetch(server.url("/spc/cert.pem"), at=now)
        assert server.hits["/spc/cert.pem"] == 1

>>> Route(b"x", status=404).status
404
"""

from __future__ import annotations

import os
import socket
import socketserver
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import attrs

from shakenlib.fetch.policy import FetchPolicy, _loopback_policy

__all__ = ["HttpsRepositoryServer", "RequestRecord", "Route", "loopback_policy"]


def loopback_policy(
    ca_bundle: str | os.PathLike[str] | None = None, *, base: FetchPolicy | None = None
) -> FetchPolicy:
    """A fetch policy for a local test repository: loopback (and other special-purpose)
    addresses and any port allowed, TLS verified against ``ca_bundle`` (the test CA) when
    given. Everything else stays as in ``base`` (default: :class:`FetchPolicy`).

    This is the only way to relax the address guard: production code cannot set it by
    a policy field, and ``attrs.evolve`` of the result drops it again.

    >>> policy = loopback_policy("ca.pem")
    >>> policy.allows_special_addresses, policy.ports, policy.verify_tls
    (True, None, 'ca.pem')
    >>> import attrs
    >>> attrs.evolve(policy).allows_special_addresses
    False
    """
    policy = attrs.evolve(base or FetchPolicy(), ports=None)
    if ca_bundle is not None:
        policy = attrs.evolve(policy, verify_tls=os.fspath(ca_bundle))
    return _loopback_policy(policy)


#: A body: bytes, or a function returning the chunks to send (for endless/huge bodies).
Body = bytes | Callable[[], Iterable[bytes]]


@attrs.frozen
class Route:
    """What the server answers for one path.

    ``body`` is bytes or a zero-argument callable returning an iterable of chunks (sent
    as they come, so a huge body never sits in memory). ``chunked`` sends
    ``Transfer-Encoding: chunked`` without ``Content-Length``; a callable body that is not
    chunked is sent without ``Content-Length`` and the connection closed after it.
    ``delay`` sleeps before the status line; ``chunk_delay`` between chunks.
    ``content_type=None`` omits the header.
    """

    body: Body = b""
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    chunked: bool = False
    chunk_size: int = 16384
    chunk_delay: float = 0.0
    content_type: str | None = "application/pem-certificate-chain"


@attrs.frozen
class RequestRecord:
    """One request the server finished handling (or gave up on)."""

    path: str
    status: int
    bytes_sent: int
    completed: bool  # False: the client went away before the whole body was written
    request_headers: tuple[tuple[str, str], ...]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: HttpsRepositoryServer, context: ssl.SSLContext) -> None:
        self.owner = owner
        self.ssl_context = context
        super().__init__((owner.host, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn (reverse DNS: slow, may leave
        # the machine); the plain TCP bind is all we need.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        # Accept a plain socket and wrap it without handshaking: the TLS handshake runs in
        # the handler thread, so a stuck client cannot block the accept loop.
        sock, addr = self.socket.accept()
        tls = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return tls, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        if exc is not None:
            self.owner.errors.append(exc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stall
    timeout = 10.0
    server: _Server
    _sent: int = 0

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read .hits and .requests instead

    def do_GET(self) -> None:
        owner = self.server.owner
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        headers = tuple((k, v) for k, v in self.headers.items())
        with owner._cond:
            owner.hits[path] += 1
            route = owner.routes.get(path)
        if route is None:
            route = Route(b"not found\n", status=404, content_type="text/plain")
        if route.delay:
            time.sleep(route.delay)
        self._sent, completed = 0, True
        try:
            self._send(route)
        except OSError:  # the client went away (ssl.SSLError is an OSError too)
            completed = False
            self.close_connection = True
        owner._record(RequestRecord(path, route.status, self._sent, completed, headers))

    def _send(self, route: Route) -> None:
        streamed = not isinstance(route.body, bytes)
        self.log_request(route.status)
        self.send_response_only(route.status)
        given = {name.lower() for name, _ in route.headers}
        if "date" not in given:  # a route may fix Date (caching tests need a known one)
            self.send_header("Date", self.date_time_string())
        if "server" not in given:
            self.send_header("Server", "shakenlib-test-sti-cr")
        if route.content_type is not None:
            self.send_header("Content-Type", route.content_type)
        for name, value in route.headers:
            self.send_header(name, value)
        if route.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif isinstance(route.body, bytes):
            self.send_header("Content-Length", str(len(route.body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        chunks: Iterable[bytes]
        if isinstance(route.body, bytes):
            size = max(1, route.chunk_size)
            chunks = (route.body[i : i + size] for i in range(0, len(route.body), size))
        else:
            chunks = route.body()
        for chunk in chunks:
            if not chunk:
                continue
            if route.chunk_delay:
                time.sleep(route.chunk_delay)
            if route.chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                self.wfile.write(chunk)
            self.wfile.flush()
            self._sent += len(chunk)
        if route.chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        if streamed and not route.chunked:
            self.close_connection = True


class HttpsRepositoryServer:
    """A threaded HTTPS server on 127.0.0.1 (ephemeral port), started in the background.

    ``routes`` maps a path (``"/spc/cert.pem"``) to a :class:`Route`. Use as a context
    manager, or call :meth:`start`/:meth:`stop`. ``hits[path]`` counts requests per path
    (unknown paths answer 404 and are counted too); ``requests`` lists finished
    requests; ``errors`` collects handshake/connection errors the server swallowed.
    """

    def __init__(
        self,
        routes: Mapping[str, Route] | None = None,
        *,
        certfile: str | os.PathLike[str],
        keyfile: str | os.PathLike[str],
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.routes: dict[str, Route] = dict(routes or {})
        self.hits: Counter[str] = Counter()
        self.requests: list[RequestRecord] = []
        self.errors: list[BaseException] = []
        self._cond = threading.Condition()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.fspath(certfile), os.fspath(keyfile))
        self._context = context
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> HttpsRepositoryServer:
        """Bind and serve in a daemon thread (idempotent)."""
        if self._server is None:
            self._server = _Server(self, self._context)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"HttpsRepositoryServer:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> HttpsRepositoryServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The ephemeral port (the server must be started)."""
        if self._server is None:
            raise RuntimeError("the server is not running")
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        """``https://127.0.0.1:PORT/path``."""
        return f"https://{self.host}:{self.port}/{path.lstrip('/')}"

    # -- routes
    def add(
        self,
        path: str,
        body: Body,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        chunked: bool = False,
        chunk_size: int = 16384,
        chunk_delay: float = 0.0,
        content_type: str | None = "application/pem-certificate-chain",
    ) -> str:
        """Serve ``body`` at ``path``; returns the full URL."""
        path = "/" + path.lstrip("/")
        route = Route(
            body,
            status,
            tuple((headers or {}).items()),
            delay,
            chunked,
            chunk_size,
            chunk_delay,
            content_type,
        )
        with self._cond:
            self.routes[path] = route
        return self.url(path) if self._server is not None else path

    def redirect(self, path: str, location: str, *, status: int = 302) -> str:
        """Answer ``path`` with a redirect to ``location``."""
        return self.add(path, b"", status=status, headers={"Location": location})

    # -- observation
    def _record(self, record: RequestRecord) -> None:
        with self._cond:
            self.requests.append(record)
            self._cond.notify_all()

    def wait_for_request(self, path: str, *, timeout: float = 5.0) -> RequestRecord:
        """Block until a request for ``path`` has finished; return its record."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for record in self.requests:
                    if record.path == path:
                        return record
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no finished request for {path} within {timeout} s")
                self._cond.wait(left)

    def reset_counts(self) -> None:
        """Clear ``hits``, ``requests`` and ``errors``."""
        with self._cond:
            self.hits.clear()
            self.requests.clear()
            self.errors.clear()
