"""One exception tree and one table of stable error codes.

Every failure shakenlib reports carries a stable machine ``code`` (a lower-case
identifier such as ``passport_base64`` or ``cert_revoked``). The table :data:`CODES`
maps each code to the SIP status a verification service would send for it
(RFC 8224 §6.2.2 / ATIS-1000074 §5.3.2) and a one-line description.

SIP status codes and reason phrases (RFC 8224 §6.2.2, §13.2; ATIS-1000074 §5.3.2):

==== ========================= ==========================================================
403  Stale Date                ``iat``/Date outside the freshness window
428  Use Identity Header       no usable Identity header although policy requires one
436  Bad Identity Info         the credential (``info``/``x5u``) cannot be dereferenced
437  Unsupported Credential    credential obtained but untrusted, invalid or unsupported
438  Invalid Identity Header   signature fails; missing/invalid PASSporT headers or claims
==== ========================= ==========================================================

>>> from shakenlib.errors import PassportError, sip_code_for
>>> err = PassportError("passport_base64", "claims segment is not base64url")
>>> err.code, err.sip_code, err.reason_phrase
('passport_base64', 438, 'Invalid Identity Header')
>>> isinstance(err, ValueError)
True
>>> sip_code_for("x5u_fetch_failed")
436
"""

from __future__ import annotations

from typing import Final, TypeVar

import attrs

__all__ = [
    "CODES",
    "REASON_PHRASES",
    "CertificateError",
    "CodeInfo",
    "IdentityHeaderError",
    "ParseError",
    "PassportError",
    "RepositoryError",
    "RevocationError",
    "ShakenError",
    "SipMessageError",
    "TelephoneNumberError",
    "TrustError",
    "UsageError",
    "VerificationFailed",
    "reason_phrase_for",
    "sip_code_for",
]

#: SIP status code -> reason phrase (RFC 8224 §13.2 and RFC 3261).
REASON_PHRASES: Final[dict[int, str]] = {
    403: "Stale Date",
    428: "Use Identity Header",
    436: "Bad Identity Info",
    437: "Unsupported Credential",
    438: "Invalid Identity Header",
}


@attrs.frozen
class CodeInfo:
    """What one stable error code means and which SIP status it maps to."""

    code: str
    sip_code: int | None
    description: str


def _table(*rows: tuple[str, int | None, str]) -> dict[str, CodeInfo]:
    table: dict[str, CodeInfo] = {}
    for code, sip, text in rows:
        if code in table:  # pragma: no cover - guarded by tests
            raise AssertionError(f"duplicate error code {code}")
        table[code] = CodeInfo(code, sip, text)
    return table


#: The one table of stable error codes. Tests assert every code raised or reported
#: by the library is listed here.
CODES: Final[dict[str, CodeInfo]] = _table(
    # --- input that is not what it claims to be (no SIP status: not a verification outcome)
    ("usage", None, "the caller used the API or command line wrongly"),
    ("tn_invalid", None, "the value is not a telephone number"),
    (
        "tn_national",
        None,
        "a record's number had no country code and was read as a national number (a warning)",
    ),
    ("sip_malformed", None, "the SIP message cannot be parsed"),
    ("record_malformed", None, "a call record cannot be read"),
    (
        "internal_error",
        None,
        "verifying the record raised an unexpected exception (a "
        "shakenlib defect: the message names the exception; please report it)",
    ),
    (
        "partition_failed",
        None,
        "a partition of a distributed (Dask) run failed: the message "
        "names the file, the part of it and the reason; the run fails with it",
    ),
    # --- Identity header (RFC 8224 §4)
    ("identity_missing", 428, "no Identity header with a supported ppt"),
    ("identity_malformed", 438, "the Identity header does not follow the RFC 8224 grammar"),
    (
        "identity_too_many",
        438,
        "the call carries more Identity headers than the policy "
        "verifies (Policy.max_identity_headers)",
    ),
    ("identity_compact_form", 438, "compact form PASSporT; SHAKEN requires the full form"),
    (
        "compact_no_request",
        438,
        "a compact-form PASSporT cannot be verified without the SIP "
        "request its header and claims are rebuilt from (RFC 8224 §7.1)",
    ),
    ("info_missing", 436, "the Identity header has no info parameter"),
    ("info_invalid", 436, "the info parameter is not an absolute URI in angle brackets"),
    ("info_x5u_mismatch", 438, "the info parameter differs from the PASSporT x5u"),
    ("alg_mismatch", 438, "the alg parameter differs from the PASSporT alg"),
    ("ppt_mismatch", 438, "the ppt parameter differs from the PASSporT ppt"),
    # --- PASSporT encoding (RFC 8225, RFC 7515)
    ("passport_malformed", 438, "the PASSporT is not three dot-separated segments"),
    ("passport_base64", 438, "a PASSporT segment is not unpadded base64url"),
    ("passport_json", 438, "a PASSporT segment is not a JSON object"),
    ("passport_noncanonical", None, "the PASSporT JSON is not in RFC 8225 §9 deterministic form"),
    ("header_invalid", 438, "the JOSE header is missing or has an invalid member"),
    ("typ_invalid", 438, "the JOSE typ is not 'passport'"),
    ("alg_unsupported", 437, "the signature algorithm is not ES256"),
    ("ppt_unsupported", 438, "the PASSporT extension (ppt) is not supported"),
    ("x5u_missing", 436, "the JOSE header has no x5u"),
    ("signature_der", 438, "the signature is DER-encoded; ES256 requires raw R||S"),
    ("signature_length", 438, "the signature is not 64 bytes of raw R||S"),
    ("signature_invalid", 438, "the ES256 signature does not verify"),
    # --- claims (RFC 8225 §5, RFC 8588, RFC 8946, RFC 9795, RFC 8443)
    ("claim_missing", 438, "a required claim is missing"),
    ("claim_invalid", 438, "a claim has the wrong type or shape"),
    ("iat_invalid", 438, "iat is not a NumericDate number"),
    ("orig_invalid", 438, "orig is not an object with exactly one tn (or uri)"),
    ("dest_invalid", 438, "dest is not an object of tn/uri arrays"),
    ("attest_invalid", 438, "attest is not A, B or C"),
    ("origid_invalid", 438, "origid is not a string"),
    ("claim_constraints", 438, "the claims violate the certificate's JWT claim constraints"),
    ("div_invalid", 438, "the div claim is missing or malformed"),
    ("rcd_invalid", 438, "the rcd or crn claim is malformed (RFC 9795)"),
    (
        "rcdi_invalid",
        438,
        "the rcdi claim is malformed: not JSON pointers to digest strings, "
        "an unknown hash, or a pointer to nothing (RFC 9795)",
    ),
    ("rcdi_mismatch", 438, "Rich Call Data content does not match its rcdi digest (RFC 9795)"),
    (
        "rcdi_unchecked",
        None,
        "an rcdi digest of URL-referenced content was not checked "
        "(no RCD content source, or the content could not be fetched)",
    ),
    # --- checks against the SIP request (RFC 8224 §6.2, ATIS-1000074 §5.3.1)
    ("iat_stale", 403, "iat is older than the freshness window"),
    ("iat_future", 403, "iat is further in the future than the freshness window"),
    (
        "date_stale",
        403,
        "the SIP Date header is outside the freshness window (a warning "
        "when iat is fresh: RFC 8224 §6.2 step 4)",
    ),
    ("orig_mismatch", 438, "orig does not match P-Asserted-Identity or From"),
    ("dest_mismatch", 438, "dest does not match To or the Request-URI"),
    ("div_mismatch", 438, "a div PASSporT does not chain to the original destination"),
    (
        "div_unanchored",
        438,
        "a div PASSporT passed but no shaken PASSporT did: a call "
        "passes only on a valid shaken PASSporT (RFC 8946 §6)",
    ),
    ("orig_unchecked", None, "no calling number was given, so orig was not checked"),
    ("dest_unchecked", None, "no called number was given, so dest was not checked"),
    ("tn_not_authorized", 438, "the certificate's TNAuthList does not cover orig"),
    # --- certificate repository (ATIS-1000074 §5.3.1 fetch policy)
    ("x5u_invalid", 436, "x5u violates the fetch policy (scheme, port, userinfo, query, ...)"),
    ("x5u_address_forbidden", 436, "x5u resolves to a special-purpose address"),
    ("x5u_fetch_failed", 436, "the certificate could not be fetched"),
    ("x5u_timeout", 436, "fetching the certificate timed out (or the per-call deadline passed)"),
    (
        "x5u_limit",
        436,
        "the call names more distinct x5u URLs than the policy fetches (Policy.max_x5u_per_call)",
    ),
    ("x5u_http_status", 436, "the repository answered with a non-200 status"),
    ("x5u_redirect", 436, "the repository answered with a redirect"),
    ("x5u_too_large", 436, "the repository response exceeds the size cap"),
    ("x5u_content", 436, "the repository response holds no certificate"),
    ("x5u_content_type", None, "the repository response has an unexpected Content-Type"),
    ("x5u_cache_headers", None, "the repository response carries no caching directive"),
    ("x5u_not_pem", None, "the repository response is DER, not a PEM certificate chain"),
    # --- certificates and trust (RFC 5280, ATIS-1000080)
    ("cert_malformed", 437, "the certificate cannot be parsed"),
    ("cert_untrusted", 437, "the chain does not lead to a trusted STI-CA root"),
    ("cert_chain_invalid", 437, "the chain fails RFC 5280 path validation"),
    ("cert_expired", 437, "the certificate was expired at the verification time"),
    ("cert_not_yet_valid", 437, "the certificate was not yet valid at the verification time"),
    ("cert_revoked", 437, "the certificate is revoked"),
    ("cert_profile", 437, "the certificate violates the STI certificate profile"),
    ("cert_key_unsupported", 437, "the certificate key is not ECDSA P-256"),
    ("tnauthlist_missing", 437, "the certificate has no TNAuthList"),
    ("tnauthlist_invalid", 437, "the TNAuthList cannot be decoded or is not usable"),
    ("claim_constraints_invalid", 437, "the certificate's JWT claim constraints do not decode"),
    ("delegate_scope", 437, "a delegate certificate's TNAuthList exceeds its issuer's"),
    ("crl_unavailable", 437, "no CRL was available and policy requires one"),
    ("crl_invalid", 437, "the CRL cannot be parsed or its signature does not verify"),
    ("crl_expired", 437, "the CRL is outside thisUpdate/nextUpdate at the verification time"),
    (
        "crl_as_of",
        None,
        "revocation was judged as of the verification time with a CRL issued "
        "after it (Policy.revocation_time='as_of'); the finding names its thisUpdate",
    ),
    (
        "cert_revoked_later",
        None,
        "the certificate is on a CRL but was revoked (or became "
        "invalid) after the verification time: not revoked for this call (as_of mode)",
    ),
    ("trust_list_invalid", None, "the trust list cannot be loaded or its signature fails"),
    # --- lint (findings only; see lint.py for the rule codes)
    ("cert_lint", None, "a certificate conformance rule fired"),
)


def sip_code_for(code: str) -> int | None:
    """Return the SIP status for an error code (``None`` if it has none).

    >>> sip_code_for("iat_stale")
    403
    >>> sip_code_for("no_such_code")
    Traceback (most recent call last):
    ...
    KeyError: 'unknown shakenlib error code: no_such_code'
    """
    try:
        return CODES[code].sip_code
    except KeyError as exc:
        raise KeyError(f"unknown shakenlib error code: {code}") from exc


def reason_phrase_for(sip_code: int | None) -> str | None:
    """Return the RFC 8224 reason phrase for a SIP status code.

    >>> reason_phrase_for(437)
    'Unsupported Credential'
    """
    if sip_code is None:
        return None
    return REASON_PHRASES.get(sip_code)


_E = TypeVar("_E", bound=BaseException)


def detached(error: _E) -> _E:
    """``error`` to keep as a value (a result's error, a failure kept past its handler):
    its traceback and those of the exceptions it was raised from are dropped (their
    messages stay). A traceback holds the frames it passed through, and a frame holds its
    caller's: kept, they would tie the error to the frame that keeps it in a reference
    cycle, left to the cyclic garbage collector (some 40 objects per failed call).

    >>> try:
    ...     raise ValueError("x")
    ... except ValueError as exc:
    ...     kept = detached(exc)
    >>> kept.__traceback__ is None
    True
    """
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return error


class ShakenError(Exception):
    """Root of every exception shakenlib raises.

    ``code`` is a stable machine code from :data:`CODES`; ``message`` a human sentence.
    """

    default_code: str = "usage"

    def __init__(self, code: str | None = None, message: str = "") -> None:
        code = code or self.default_code
        if code not in CODES:
            raise KeyError(f"unknown shakenlib error code: {code}")
        self.code: str = code
        self.message: str = message or CODES[code].description
        super().__init__(f"{self.code}: {self.message}")

    @property
    def sip_code(self) -> int | None:
        """The SIP status a verification service would answer with, if any."""
        return CODES[self.code].sip_code

    @property
    def reason_phrase(self) -> str | None:
        """The RFC 8224 reason phrase for :attr:`sip_code`."""
        return reason_phrase_for(self.sip_code)

    def __reduce__(self) -> tuple[object, ...]:
        # Keep exceptions picklable (they cross process boundaries in batch runs).
        return (self.__class__, (self.code, self.message))


class UsageError(ShakenError, ValueError):
    """The API or command line was used wrongly (bad argument, bad option value)."""

    default_code = "usage"


class ParseError(ShakenError, ValueError):
    """Input text or bytes could not be parsed."""

    default_code = "identity_malformed"


class TelephoneNumberError(ParseError):
    """A value is not a telephone number (RFC 8224 §8.3)."""

    default_code = "tn_invalid"


class SipMessageError(ParseError):
    """A SIP message could not be parsed."""

    default_code = "sip_malformed"


class IdentityHeaderError(ParseError):
    """An Identity header value does not parse (RFC 8224 §4)."""

    default_code = "identity_malformed"


class PassportError(ParseError):
    """A PASSporT does not decode or has invalid header/claims (RFC 8225)."""

    default_code = "passport_malformed"


class CertificateError(ShakenError, ValueError):
    """A certificate, TNAuthList or certificate bundle is unusable."""

    default_code = "cert_malformed"


class TrustError(ShakenError):
    """Chain validation failed, or a trust list cannot be loaded."""

    default_code = "cert_untrusted"


class RevocationError(TrustError):
    """The certificate is revoked, or revocation could not be checked as policy requires."""

    default_code = "cert_revoked"


class RepositoryError(ShakenError):
    """A certificate (or CRL) could not be fetched from its repository."""

    default_code = "x5u_fetch_failed"


class VerificationFailed(ShakenError):
    """Raised by ``VerificationResult.raise_for_failure()`` for a failed verification."""

    default_code = "signature_invalid"
