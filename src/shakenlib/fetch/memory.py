"""A repository that answers from a dict (tests, notebooks)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from shakenlib.errors import RepositoryError
from shakenlib.fetch.base import Fetched, Kind, check_at, check_kind
from shakenlib.fetch.cache import ATIS_DEFAULT_TTL
from shakenlib.fetch.content import make_fetched

__all__ = ["MemoryRepository"]


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
        check_at(at)
        check_kind(kind)
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
        return make_fetched(
            url,
            value,
            at=at,
            kind=kind,
            content_type=content_type,
            headers=headers,
            default_ttl=ATIS_DEFAULT_TTL,
            max_ttl=None,
        )
