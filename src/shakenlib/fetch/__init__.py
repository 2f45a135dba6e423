"""Certificate repositories: where ``x5u`` certificates (and CRLs) come from.

The fetch layer: the only subpackage that does network I/O, and only its HTTP module
(:mod:`shakenlib.fetch.http`) imports ``requests``, on first use of
:class:`HttpRepository`. Three repositories share one protocol,
:class:`CertificateRepository` (``fetch(url, *, at, kind="certificate") -> Fetched``):

- :class:`HttpRepository` fetches over HTTPS under the ATIS-1000074 §5.3.1 fetch policy
  (:class:`FetchPolicy`) with RFC 9111 caching (:class:`shakenlib.fetch.cache.Cache`);
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

from typing import TYPE_CHECKING

from shakenlib.fetch.base import (
    CONTENT_TYPES,
    CertificateRepository,
    Fetched,
    Kind,
    RepositoryContent,
)
from shakenlib.fetch.cache import Cache
from shakenlib.fetch.memory import MemoryRepository
from shakenlib.fetch.mirror import MirrorRepository
from shakenlib.fetch.policy import FetchPolicy, is_special_purpose_address

if TYPE_CHECKING:
    from shakenlib.fetch.http import HttpRepository

__all__ = [
    "CONTENT_TYPES",
    "Cache",
    "CertificateRepository",
    "FetchPolicy",
    "Fetched",
    "HttpRepository",
    "Kind",
    "MemoryRepository",
    "MirrorRepository",
    "RepositoryContent",
    "is_special_purpose_address",
]

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        # HttpRepository loads requests: only when asked for (PEP 562).
        if name == "HttpRepository":
            from shakenlib.fetch.http import HttpRepository

            return HttpRepository
        raise AttributeError(f"module 'shakenlib.fetch' has no attribute {name!r}")
