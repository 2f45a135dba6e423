"""The repository protocol and what a fetch returns: no network code here.

:class:`CertificateRepository` (``fetch(url, *, at, kind="certificate") -> Fetched``) is
what a :class:`~shakenlib.verify.Verifier` needs; this module imports neither
``requests`` nor the HTTP repository, so verification code can name the protocol
without loading the network stack.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, Protocol, runtime_checkable

import attrs

from shakenlib.errors import UsageError
from shakenlib.findings import Finding
from shakenlib.timeutil import require_aware

__all__ = [
    "CONTENT_TYPES",
    "KINDS",
    "CertificateRepository",
    "Fetched",
    "Kind",
    "RepositoryContent",
]

#: What a repository URL is expected to hold: a certificate chain, a CRL, or Rich Call
#: Data content (RFC 9795 ``jcl`` jCards and ``icn`` icons, any bytes).
Kind = Literal["certificate", "crl", "rcd"]
KINDS: tuple[str, ...] = ("certificate", "crl", "rcd")

#: The media type each kind of response should carry: ATIS-1000080 (STI-CR serves
#: ``application/pem-certificate-chain``, RFC 8555 §9.1) and RFC 2585 §4.2 for CRLs.
CONTENT_TYPES: dict[str, str] = {
    "certificate": "application/pem-certificate-chain",
    "crl": "application/pkix-crl",
}
#: How long every repository remembers a failed fetch (the negative cache).
NEGATIVE_TTL = timedelta(seconds=60)


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


def check_at(at: datetime) -> None:
    require_aware(at)


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise UsageError("usage", f"kind must be 'certificate', 'crl' or 'rcd', not {kind!r}")


class RepositoryContent:
    """Rich Call Data content (RFC 9795 ``jcl``/``icn`` URLs) fetched through a
    certificate repository, under its fetch policy, size cap and cache
    (``kind="rcd"``): the :class:`~shakenlib.sip.rcd.RcdContent` a
    :class:`~shakenlib.verify.Verifier` uses unless it is given another.

    >>> from datetime import UTC
    >>> from shakenlib.fetch import MemoryRepository
    >>> repo = MemoryRepository({"https://brand.example/card.json": b'["vcard", []]'})
    >>> RepositoryContent(repo).fetch("https://brand.example/card.json",
    ...     at=datetime(2025, 1, 1, tzinfo=UTC))
    b'["vcard", []]'
    """

    def __init__(self, repository: CertificateRepository) -> None:
        self.repository = repository

    def fetch(self, url: str, *, at: datetime) -> bytes:
        """The bytes at ``url``; raises :class:`~shakenlib.errors.RepositoryError`."""
        return self.repository.fetch(url, at=at, kind="rcd").body
