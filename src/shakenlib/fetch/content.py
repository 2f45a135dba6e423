"""What every repository does with a response body: check that it holds what was asked
for (a certificate or a CRL), note the common deviations as warnings, and decide how long
it may be reused (RFC 9111 with the ATIS default, never past the certificate's notAfter
or the CRL's nextUpdate)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from cryptography import x509

from shakenlib.errors import RepositoryError
from shakenlib.fetch.base import CONTENT_TYPES, Fetched, Kind
from shakenlib.fetch.cache import cache_expiry, has_caching_directive
from shakenlib.findings import Finding

__all__ = ["make_fetched"]

_PEM_MARKERS = {
    "certificate": (b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"),
    "crl": (b"-----BEGIN X509 CRL-----", b"-----END X509 CRL-----"),
}


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


def make_fetched(
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
    header warnings are given. Rich Call Data content (``kind="rcd"``) is any bytes: its
    integrity is the ``rcdi`` digest's business, not the repository's.
    """
    if kind == "rcd":
        expires_at = cache_expiry(headers or {}, at=at, default_ttl=default_ttl, max_ttl=max_ttl)
        return Fetched(url, body, content_type, 200, at, expires_at, False, ())
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
