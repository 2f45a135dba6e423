"""The verification service (STI-VS) of ATIS-1000074 §5.3 / RFC 8224 §6.2.

:class:`Verifier` checks one call — one or several SIP ``Identity`` headers — the way a
terminating provider's verification service does, and returns a
:class:`~shakenlib.verify.result.VerificationResult` for any input:

1. **Identity header and PASSporT** (RFC 8224 §4, RFC 8225): full form, JOSE ``typ``,
   ``alg`` = ES256, ``x5u``, ``ppt`` supported; baseline claims and, for ``shaken``,
   ``attest`` and ``origid``; ``info`` equal to ``x5u``. Failures: 438 (437 for an
   unsupported algorithm).
2. **The credential** (RFC 8224 §6.2 step 3): the certificate is fetched from ``x5u``
   through the :class:`~shakenlib.fetch.CertificateRepository` (436 when it cannot
   be), its chain validated to the STI-PA trust anchors with
   ``cryptography.x509.verification``, revocation checked against the STI-PA CRL and the
   STI profile checks applied (437).
3. **The signature** (step 5): ES256 over the received ``header.claims`` text — checked
   before freshness, so a tampered ``iat`` is an invalid signature (438).
4. **Freshness** (step 4): ``|at - iat|`` within the policy window, 60 s by default (403).
5. **The identities** (step 5): ``orig`` against P-Asserted-Identity (then From when there is
   no PAI), ``dest`` against To / Request-URI; a TNAuthList that lists numbers must cover
   ``orig`` (438).

Several Identity headers are each verified on their own; ``div`` PASSporTs (RFC 8946)
chain a retargeted call from the SHAKEN PASSporT's ``dest`` to the current target. The
call passes when a SHAKEN PASSporT passes.

The verifier does no network I/O of its own: the repository does. Time is explicit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from shakenlib._frozen import build
from shakenlib.errors import (
    CODES,
    IdentityHeaderError,
    RepositoryError,
    ShakenError,
    UsageError,
    detached,
)
from shakenlib.fetch import CertificateRepository, Fetched, RepositoryContent
from shakenlib.findings import Finding
from shakenlib.pki.certs import X509_DECODE_ERRORS, x509_chain
from shakenlib.pki.crl import CertificateRevoked, RevocationChecker, crl_urls
from shakenlib.pki.tnauthlist import (
    EJWT_CLAIM_CONSTRAINTS_OID,
    JWT_CLAIM_CONSTRAINTS_OID,
    TNAUTHLIST_OID,
    JWTClaimConstraints,
    decode_jwt_claim_constraints,
    decode_tnauthlist,
)
from shakenlib.pki.trust import ChainValidator, TrustStore, ValidatedChain
from shakenlib.sip.message import SipMessage, parse_sip_message
from shakenlib.sip.passport import (
    Claims,
    DecodedIdentity,
    JoseHeader,
    decode_compact,
    decode_identity,
    decode_plain_shaken,
)
from shakenlib.sip.rcd import RcdContent, RcdError, RichCallData, check_integrity, decode_rcd
from shakenlib.timeutil import EARLIEST, LATEST, to_datetime
from shakenlib.tn import tn_from_uri
from shakenlib.verify.result import (
    NO_TN_VALIDATION,
    TN_VALIDATION_FAILED,
    TN_VALIDATION_PASSED,
    CertificateSummary,
    IdentityResult,
    VerificationResult,
)

__all__ = ["Policy", "Verifier", "to_datetime"]

#: ES256 (RFC 7518 §3.4): ECDSA P-256 over the SHA-256 digest of the signing input. The
#: digest is taken with hashlib and handed over as prehashed: the same verification,
#: about 1.5 µs a call cheaper than letting ``cryptography`` set up its own hash.
_ES256 = ec.ECDSA(Prehashed(hashes.SHA256()))
_SHA256 = hashlib.sha256
_T = TypeVar("_T")


@attrs.frozen
class Policy:
    """Verification policy: every knob a verification service sets, ATIS defaults.

    ``freshness``: largest accepted ``|at - iat|`` (RFC 8224 §6.2 step 4 recommends 60 s;
    a future ``iat`` is held to the same window). ``accepted_ppt``: PASSporT types this
    verifier understands; others are reported as ``ppt_unsupported`` and skipped.
    ``revocation``: ``"require"`` (no usable CRL fails with 437), ``"prefer"``
    (soft-fail, reported as a finding) or ``"off"``. ``check_orig``/``check_dest``: compare
    the PASSporT numbers with the request's. ``check_tn_authorization``: a TNAuthList
    that lists numbers must cover ``orig``. ``require_info_match``: the Identity ``info``
    must equal the JOSE ``x5u``.

    Limits that keep one hostile call cheap: ``max_identity_headers`` (more headers fail
    the call with ``identity_too_many``), ``max_x5u_per_call`` (certificates fetched
    for distinct x5u URLs in one call; further ones fail with ``x5u_limit``) and
    ``call_deadline`` (no new fetch starts once a call has run this long; its headers
    fail with ``x5u_timeout``). Each fetch is itself bounded by the repository's
    ``FetchPolicy.total_timeout``.

    ``revocation_time``: ``"current"`` (a live verifier: only a CRL current at ``at``
    counts, every entry on it counts) or ``"as_of"`` (an investigator's historical answer:
    a CRL issued after ``at`` counts, and a listed certificate is revoked for the call only
    if its revocationDate and invalidityDate are at or before ``at``; see
    :mod:`shakenlib.pki.crl`). ``allow_compact_form``: a compact-form ``shaken`` (or baseline)
    PASSporT is verified over the text rebuilt from the SIP request instead of failing
    with ``identity_compact_form`` (ATIS-1000074 §5.3.3 requires the full form, so the
    finding stays, as a warning); ``div`` PASSporTs must be full form regardless
    (RFC 8946).
    """

    freshness: dt.timedelta = dt.timedelta(seconds=60)
    accepted_ppt: frozenset[str] = frozenset({"shaken", "div"})
    revocation: Literal["require", "prefer", "off"] = "prefer"
    check_orig: bool = True
    check_dest: bool = True
    check_tn_authorization: bool = True
    require_info_match: bool = True
    max_identity_headers: int = 10
    max_x5u_per_call: int = 4
    call_deadline: dt.timedelta = dt.timedelta(seconds=10)
    revocation_time: Literal["current", "as_of"] = "current"
    allow_compact_form: bool = False


class _Budget:
    """One call's allowance of certificate fetches (``Policy.max_x5u_per_call`` distinct
    URLs, none started after ``Policy.call_deadline``). Cached credentials cost nothing."""

    def __init__(self, policy: Policy) -> None:
        self._urls: set[str] = set()
        self._limit = policy.max_x5u_per_call
        self._seconds = policy.call_deadline.total_seconds()
        self._deadline = time.monotonic() + self._seconds

    def spend(self, x5u: str) -> None:
        if x5u in self._urls:
            return
        if len(self._urls) >= self._limit:
            raise _Failure(
                "x5u_limit",
                f"the call names more than {self._limit} certificate URLs; {x5u} not fetched",
            )
        if time.monotonic() > self._deadline:
            raise _Failure(
                "x5u_timeout", f"the call's {self._seconds:g} s deadline passed; {x5u} not fetched"
            )
        self._urls.add(x5u)


@attrs.frozen
class _Credential:
    """A fetched and parsed certificate chain, cached by x5u and body."""

    leaf: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]
    public_key: ec.EllipticCurvePublicKey | None
    summary: CertificateSummary
    expires_at: dt.datetime
    body_sha256: str
    warnings: tuple[Finding, ...]
    not_before_ts: float
    not_after_ts: float


@attrs.frozen
class _Ready:
    """A credential ready for signature checks: fetched, chain validated, revocation
    checked; valid for verification times in [from_ts, until_ts). ``failure`` (code,
    message): the credential was refused with a lasting answer (a revoked certificate)."""

    cert: _Credential
    chain: ValidatedChain
    findings: tuple[Finding, ...]
    from_ts: float
    until_ts: float
    constraints: tuple[JWTClaimConstraints, ...] = ()
    failure: tuple[str, str] | None = None


class _Plain:
    """A plain SHAKEN header on the fast path, checked but for its ES256 signature:
    ``other`` is the first failure of its other checks, if any; ``call`` the
    (time, called numbers, findings) of the call it is the only header of, if it is."""

    __slots__ = (
        "call",
        "claims",
        "header",
        "index",
        "other",
        "ready",
        "signature",
        "signing_input",
        "token",
    )

    def __init__(
        self,
        index: int,
        token: str,
        signing_input: bytes,
        header: JoseHeader,
        claims: dict[str, Any],
        signature: bytes,
        ready: _Ready,
    ) -> None:
        self.index, self.token, self.signing_input = index, token, signing_input
        self.header, self.claims, self.signature, self.ready = header, claims, signature, ready
        self.other: _Failure | None = None
        self.call: tuple[dt.datetime, tuple[str, ...] | None, list[Finding]] | None = None

    def result(self, signature: _Failure | None) -> IdentityResult:
        """Its result, ``signature`` the signature check's failure (reported first)."""
        error = signature or self.other
        claims, ready = self.claims, self.ready
        return build(
            IdentityResult,
            {
                "index": self.index,
                "passed": error is None,
                "error": error and error.code,
                "message": error and error.message,
                "ppt": "shaken",
                "x5u": self.header.x5u,
                "attest": claims["attest"],
                "origid": claims["origid"],
                "iat": claims["iat"],
                "orig": claims["orig"]["tn"],
                "dest": tuple(claims["dest"]["tn"]),
                "div": (),
                "certificate": ready.cert.summary,
                "findings": ready.findings,
                "token": self.token,
                "rcd": None,
            },
        )


def _claim_constraints(leaf: x509.Certificate) -> tuple[JWTClaimConstraints, ...]:
    """The JWTClaimConstraints (RFC 8226 §8) and EnhancedJWTClaimConstraints (RFC 9118)
    of a certificate; delegate and RCD certificates use them to pin claims."""
    found: list[JWTClaimConstraints] = []
    for oid, enhanced in ((JWT_CLAIM_CONSTRAINTS_OID, False), (EJWT_CLAIM_CONSTRAINTS_OID, True)):
        try:
            ext = leaf.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        except ValueError as exc:  # an extension cryptography cannot parse
            raise _Failure("cert_malformed", f"certificate extensions: {exc}") from exc
        try:
            found.append(decode_jwt_claim_constraints(ext.value, enhanced=enhanced))  # type: ignore[attr-defined]
        except ShakenError as exc:
            raise _Failure("claim_constraints_invalid", exc.message) from exc
    return tuple(found)


def _build_credential(x5u: str, body: bytes, digest: str, fetched: Fetched) -> _Credential:
    """Parse an x5u response into a credential; a certificate that does not parse, or
    whose fields cannot be read, is ``cert_malformed`` (never an exception)."""
    try:
        certs = x509_chain(body)
        if not certs:
            raise _Failure("x5u_content", f"{x5u}: no certificate in the response")
        leaf = certs[0]
        try:
            key = leaf.public_key()
        except (ValueError, UnsupportedAlgorithm):  # e.g. an unnamed or unknown curve
            key = None
        leaf_sha = hashlib.sha256(leaf.public_bytes(Encoding.DER)).hexdigest()
        return _Credential(
            leaf=leaf,
            intermediates=tuple(certs[1:]),
            public_key=key if isinstance(key, ec.EllipticCurvePublicKey) else None,
            summary=_summary(leaf, leaf_sha, None),
            expires_at=fetched.expires_at,
            body_sha256=digest,
            warnings=tuple(fetched.warnings),
            not_before_ts=leaf.not_valid_before_utc.timestamp(),
            not_after_ts=leaf.not_valid_after_utc.timestamp(),
        )
    except X509_DECODE_ERRORS as exc:
        raise _Failure("cert_malformed", f"{x5u}: the certificate does not parse: {exc}") from exc


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, *X509_DECODE_ERRORS):
        return False


def _name_attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[-1].value
    return value if isinstance(value, str) else value.decode("latin-1")


def _summary(leaf: x509.Certificate, der_sha256: str, spc: str | None) -> CertificateSummary:
    return CertificateSummary(
        spc=spc,
        subject_o=_name_attr(leaf.subject, NameOID.ORGANIZATION_NAME),
        subject_cn=_name_attr(leaf.subject, NameOID.COMMON_NAME),
        issuer=leaf.issuer.rfc4514_string(),
        serial=format(leaf.serial_number, "x"),
        sha256=der_sha256,
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
    )


def _canonical(tn: str | None) -> str | None:
    """A PASSporT number in canonical form (signers should send it so; some do not)."""
    if tn is None or tn.isdigit():
        return tn
    return tn_from_uri(tn)


def _canonical_all(tns: tuple[str, ...]) -> tuple[str, ...]:
    """Numbers of a PASSporT claim in canonical form (kept as sent when not a TN)."""
    if not tns or (len(tns) == 1 and tns[0].isdigit()):  # the usual shapes, no generator
        return tns
    if all(tn.isdigit() for tn in tns):
        return tns
    return tuple(_canonical(tn) or tn for tn in tns)


def _der_signature(raw: bytes) -> bytes:
    """Raw ES256 ``R‖S`` (RFC 7518 §3.4) to the DER form ``cryptography`` verifies::

        Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }   -- RFC 3279 §2.2.3

    An INTEGER is minimal two's complement: no leading zero byte, except one before a
    high bit (which would make it negative).

    >>> _der_signature(bytes(31) + bytes([1, 0x80]) + bytes(31)).hex()[:16]
    '3026020101022100'
    """
    r0, s0 = raw[0], raw[32]
    if r0 and s0:  # the usual case: R or S starts with a zero byte once in 128
        head, middle = _DER_HEADS[r0 >> 7][s0 >> 7]
        return head + raw[:32] + middle + raw[32:]
    r = raw[:32].lstrip(b"\0")
    if not r or r[0] & 0x80:
        r = b"\0" + r
    s = raw[32:].lstrip(b"\0")
    if not s or s[0] & 0x80:
        s = b"\0" + s
    return b"\x30%c\x02%c%b\x02%c%b" % (len(r) + len(s) + 4, len(r), r, len(s), s)


def _der_heads(r_high: int, s_high: int) -> tuple[bytes, bytes]:
    """The DER bytes before R and between R and S of a signature whose 32-byte R and S
    have no leading zero byte (``*_high``: 1 when the first byte's high bit is set)."""
    r_len, s_len = 32 + r_high, 32 + s_high
    head = bytes([0x30, r_len + s_len + 4, 0x02, r_len]) + bytes(r_high)
    return head, bytes([0x02, s_len]) + bytes(s_high)


#: :func:`_der_heads` by (R's high bit, S's high bit).
_DER_HEADS = ((_der_heads(0, 0), _der_heads(0, 1)), (_der_heads(1, 0), _der_heads(1, 1)))


def _reaches(dests: tuple[str, ...], targets: tuple[str, ...]) -> bool:
    """Whether any of a PASSporT's ``dests`` is one of the call's ``targets``."""
    for d in dests:  # noqa: SIM110 - a loop, not any(<generator>): this runs once per call
        if d in targets:
            return True
    return False


def _reached(dests: tuple[str, ...], by_div: Mapping[str, Sequence[IdentityResult]]) -> set[str]:
    """Every destination reached from ``dests`` through div PASSporTs (``by_div`` maps a
    div claim's number to the divs naming it); each number is expanded once."""
    reached = set(dests)
    todo = list(reached)
    while todo:
        for d in by_div.get(todo.pop(), ()):
            for tn in d.dest:
                if tn not in reached:
                    reached.add(tn)
                    todo.append(tn)
    return reached


def _has_rcd(claims: Claims) -> bool:
    return claims.rcd is not None or claims.rcdi is not None or claims.crn is not None


def _rcd_of(claims: Mapping[str, object]) -> RichCallData | None:
    """The Rich Call Data of a PASSporT for its result (``None`` when malformed: the
    failure says why)."""
    try:
        return decode_rcd(claims)
    except RcdError:
        return None


class _Failure(Exception):
    """Internal: a check failed with a stable code (turned into a result, never escapes)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.cert: _Credential | None = None  # the credential, when it was obtained
        self.until: dt.datetime | None = None  # a lasting answer holds until then
        self.fetched = True  # False: the certificate could not be fetched at all


class Verifier:
    """An ATIS-1000074 verification service.

    >>> from shakenlib.testing.pki import StiTestPki, DEFAULT_NOW
    >>> from shakenlib.fetch import MemoryRepository
    >>> from shakenlib.sip.sign import Signer
    >>> pki = StiTestPki()
    >>> leaf = pki.issue_sp_certificate("873J", organization="Example Telecom")
    >>> url = "https://cr.example.net/873J.pem"
    >>> repo = MemoryRepository({url: leaf.chain_pem(), pki.crl_url: pki.make_crl()})
    >>> verifier = Verifier(TrustStore.from_pem(pki.trust_anchors_pem()), repo)
    >>> header = Signer(leaf.key, url).sign_shaken(
    ...     orig="12155551212", dest="12155551213", attest="A", origid="trunk-7",
    ...     iat=int(DEFAULT_NOW.timestamp()))
    >>> r = verifier.verify(header, orig="+1-215-555-1212", dest="12155551213", at=DEFAULT_NOW)
    >>> r.verstat, r.attest, r.origid, r.spc, r.provider
    ('TN-Validation-Passed', 'A', 'trunk-7', '873J', 'Example Telecom')
    >>> verifier.verify(header, orig="12155550000", dest="12155551213", at=DEFAULT_NOW).error
    'orig_mismatch'
    """

    def __init__(
        self,
        trust: TrustStore,
        repository: CertificateRepository,
        *,
        policy: Policy | None = None,
        crl_signers: Iterable[x509.Certificate] | None = None,
        cache_size: int = 4096,
        rcd_content: RcdContent | None = None,
    ) -> None:
        self.trust = trust
        #: Where URL-referenced Rich Call Data (``jcl``, ``icn``) is fetched from to check
        #: its ``rcdi`` digest (:mod:`shakenlib.sip.rcd`): by default the certificate
        #: repository itself, under its fetch policy, size cap and cache (``kind="rcd"``).
        self.rcd_content: RcdContent = (
            rcd_content if rcd_content is not None else RepositoryContent(repository)
        )
        self.repository = repository
        self.policy = policy or Policy()
        # Only CA certificates anchor certificate chains; other certificates in the trust
        # bundle (the "STI-PA CRL" signer) are trusted to sign CRLs, not to be a chain.
        self.chains = ChainValidator(TrustStore([c for c in trust if _is_ca(c)]))
        self.revocation = RevocationChecker(
            list(crl_signers) if crl_signers is not None else trust,
            policy=self.policy.revocation,
            revocation_time=self.policy.revocation_time,
        )
        self._credentials: OrderedDict[str, _Credential] = OrderedDict()
        self._ready: OrderedDict[str, _Ready] = OrderedDict()
        self._lock = threading.Lock()
        self._cache_size = cache_size
        self._window = self.policy.freshness.total_seconds()

    # --- public API ------------------------------------------------------------------
    def verify(
        self,
        identity: str | Sequence[str] | None,
        *,
        orig: str | None = None,
        dest: str | Sequence[str] | None = None,
        at: dt.datetime | float | int | str,
        sip: SipMessage | None = None,
    ) -> VerificationResult:
        """Verify one call's Identity header(s) as of ``at``.

        ``identity`` is one header value or a list of them; ``orig``/``dest`` are the
        calling and called numbers of the request (any TN notation or a SIP/tel URI;
        ``dest`` may be a list: To and Request-URI). With ``sip`` given, numbers missing
        from the arguments come from its P-Asserted-Identity/From and To/Request-URI.
        Never raises for bad header input; raises :class:`~shakenlib.errors.UsageError`
        only for a missing or naive ``at``.
        """
        started = self._start(identity, orig, dest, at, sip)
        if isinstance(started, _Plain):
            return self._finish(started, self._signature_failure(started))
        return started

    def verify_many(self, calls: Iterable[Mapping[str, Any]]) -> list[VerificationResult]:
        """:meth:`verify` for each call (a mapping of its keyword arguments), in order:
        the same results, a little faster for many calls.

        The usual header (one plain SHAKEN PASSporT whose credential is ready) is checked
        up to its signature first; then the ES256 signatures of all of them are checked
        in one loop, which keeps the curve arithmetic's tables in the processor's cache;
        then each result is built. Raises as :meth:`verify` does (``UsageError`` for a
        missing or naive ``at``), for the first call that does.

        >>> from shakenlib.testing.testbed import ShakenTestbed
        >>> bed = ShakenTestbed()
        >>> acme = bed.add_provider("873J")
        >>> header = acme.sign(orig="12155551212", dest="12155551213")
        >>> calls = [{"identity": header, "orig": "12155551212", "dest": d, "at": bed.now}
        ...          for d in ("12155551213", "12155550000")]
        >>> [r.error for r in bed.verifier().verify_many(calls)]
        [None, 'dest_mismatch']
        """
        started = [self._start(**call) for call in calls]
        # the signatures in one loop (for the plain headers: the rest is done already)
        failures = [self._signature_failure(s) if isinstance(s, _Plain) else None for s in started]
        return [
            self._finish(s, failure) if isinstance(s, _Plain) else s
            for s, failure in zip(started, failures, strict=True)
        ]

    def _start(
        self,
        identity: str | Sequence[str] | None,
        orig: str | None = None,
        dest: str | Sequence[str] | None = None,
        at: dt.datetime | float | int | str | None = None,
        sip: SipMessage | None = None,
    ) -> VerificationResult | _Plain:
        """Verify one call, except the signature of a call whose only header takes the
        plain path: that call comes back as its :class:`_Plain` (:meth:`_finish`)."""
        if at is None:  # (a mapping for verify_many without "at")
            raise UsageError("usage", "not a time: None")
        when = (
            at
            if type(at) is dt.datetime and at.tzinfo is not None and EARLIEST <= at < LATEST
            else to_datetime(at)
        )
        if isinstance(identity, str):
            values = [identity] if identity and not identity.isspace() else []
        else:
            values = [v for v in identity or () if v and not v.isspace()]
        orig_tns, dest_tns, number_findings = self._numbers(orig, dest, sip)
        if sip is not None:
            number_findings.extend(self._date_findings(sip, when))
        if not values:
            return VerificationResult.failure(
                "identity_missing",
                "the call carries no Identity header",
                verified_at=when,
                findings=tuple(number_findings),
            )
        if len(values) > self.policy.max_identity_headers:
            return VerificationResult.failure(
                "identity_too_many",
                f"the call carries {len(values)} Identity headers; the policy verifies at "
                f"most {self.policy.max_identity_headers}",
                verified_at=when,
                findings=tuple(number_findings),
            )
        if len(values) == 1:  # the common case: one header, no forwarding to resolve
            plain = self._plain(0, values[0], orig_tns, when)
            if plain is not None:
                plain.call = (when, dest_tns, number_findings)
                return plain
            only = self._verify_one(0, values[0], orig_tns, dest_tns, when, None, sip, fast=False)
            return self._single(only, when, dest_tns, number_findings)
        budget = _Budget(self.policy)
        results = [
            self._verify_one(i, v, orig_tns, dest_tns, when, budget, sip)
            for i, v in enumerate(values)
        ]
        return self._aggregate(self._chain_div(results, dest_tns), when, number_findings)

    def _finish(self, plain: _Plain, signature: _Failure | None) -> VerificationResult:
        """The result of a call started as ``plain``, its signature checked (``signature``:
        the failure, if it does not verify)."""
        assert plain.call is not None  # (set by _start)
        when, dest_tns, number_findings = plain.call
        return self._single(plain.result(signature), when, dest_tns, number_findings)

    def _single(
        self,
        only: IdentityResult,
        when: dt.datetime,
        dest_tns: tuple[str, ...] | None,
        number_findings: list[Finding],
    ) -> VerificationResult:
        """The result of a call with one Identity header."""
        if (
            only.passed
            and only.ppt == "shaken"
            and (dest_tns is None or not self.policy.check_dest or _reaches(only.dest, dest_tns))
        ):
            return build(
                VerificationResult,
                {
                    "verstat": TN_VALIDATION_PASSED,
                    "error": None,
                    "message": None,
                    "ppt": only.ppt,
                    "x5u": only.x5u,
                    "attest": only.attest,
                    "origid": only.origid,
                    "iat": only.iat,
                    "orig": only.orig,
                    "dest": only.dest,
                    "certificate": only.certificate,
                    "identities": (only,),
                    "verified_at": when,
                    "findings": tuple(number_findings),
                },
            )
        return self._aggregate(self._chain_div([only], dest_tns), when, number_findings)

    def verify_sip(
        self,
        message: str | bytes | SipMessage,
        *,
        at: dt.datetime | float | int | str | None = None,
    ) -> VerificationResult:
        """Verify a SIP request: Identity headers, numbers from PAI/From and To/R-URI.

        ``at`` defaults to the request's ``Date`` header; without either the call cannot be
        verified (``UsageError``). A message that does not parse gives a failed result
        with ``sip_malformed``.
        """
        try:
            sip = message if isinstance(message, SipMessage) else parse_sip_message(message)
        except ShakenError as exc:
            when = to_datetime(at) if at is not None else None
            return VerificationResult.failure(exc.code, exc.message, verified_at=when)
        if at is None:
            date = sip.date_time()
            if date is None:
                raise UsageError("usage", "the SIP message has no usable Date: pass at=")
            at = date
        return self.verify(list(sip.identity), at=at, sip=sip)

    # --- numbers ----------------------------------------------------------------------
    def _numbers(
        self, orig: str | None, dest: str | Sequence[str] | None, sip: SipMessage | None
    ) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None, list[Finding]]:
        if (
            sip is None
            and type(orig) is str
            and type(dest) is str
            and (orig.isdigit() and dest.isdigit())
        ):  # canonical numbers and no SIP request: the usual call from a batch
            return (orig,), (dest,), []
        findings: list[Finding] = []
        orig_tns: tuple[str, ...] | None = None
        dest_tns: tuple[str, ...] | None = None
        if orig is not None:
            tn = orig if orig.isdigit() else tn_from_uri(orig)
            orig_tns = (tn,) if tn else ()
        elif sip is not None:
            orig_tns = sip.orig_tns()
        if isinstance(dest, str):
            tn = dest if dest.isdigit() else tn_from_uri(dest)
            dest_tns = (tn,) if tn else ()
        elif dest is not None:
            dest_tns = tuple(t for t in (d if d.isdigit() else tn_from_uri(d) for d in dest) if t)
        elif sip is not None:
            dest_tns = sip.dest_tns()
        if orig_tns is None and self.policy.check_orig:
            findings.append(
                Finding("orig_unchecked", "warn", "no calling number given: orig was not checked")
            )
        if dest_tns is None and self.policy.check_dest:
            findings.append(
                Finding("dest_unchecked", "warn", "no called number given: dest was not checked")
            )
        return orig_tns, dest_tns, findings

    def _date_findings(self, sip: SipMessage, at: dt.datetime) -> list[Finding]:
        """RFC 8224 §6.2 step 4: the Date header should be fresh too. With a full-form
        PASSporT a fresh ``iat`` suffices, so a stale Date is reported, not fatal."""
        date = sip.date_time()
        if date is None:
            return []
        skew = abs((at - date).total_seconds())
        if skew <= self._window:
            return []
        return [
            Finding(
                "date_stale",
                "warn",
                f"the Date header is {skew:.0f} s from the "
                f"verification time (window {self._window:.0f} s)",
                "RFC 8224 §6.2",
            )
        ]

    # --- one Identity header ------------------------------------------------------------
    def _plain(
        self,
        index: int,
        value: str,
        orig_tns: tuple[str, ...] | None,
        at: dt.datetime,
    ) -> _Plain | None:
        """The early exit of :meth:`_verify_one` for the common case, without the
        intermediate objects: a plain SHAKEN header
        (:func:`~shakenlib.sip.passport.decode_plain_shaken`) whose credential is ready in
        the cache, checked by the same checks as the general path: here all but the
        signature (:meth:`_signature_failure`; which failure is reported does not depend
        on the order: the signature's first). ``None``: the general path takes it (same
        checks, same result; it fetches and prepares a credential, once, and says why one
        is refused)."""
        plain = decode_plain_shaken(value)
        if plain is None or "shaken" not in self.policy.accepted_ppt:
            return None
        token, signing_input, header, _, claims, signature, _, _, _ = plain
        ts = at.timestamp()
        ready = self._ready.get(header.x5u or "")
        if ready is None or not ready.from_ts <= ts < ready.until_ts or ready.failure:
            return None
        started = _Plain(index, token, signing_input, header, claims, signature, ready)
        try:
            self._claim_checks(
                ready, claims, claims["iat"], claims["orig"]["tn"], None, orig_tns, None, ts
            )
        except _Failure as failure:
            started.other = detached(failure)
        return started

    def _signature_failure(self, plain: _Plain) -> _Failure | None:
        """Why the ES256 signature of a header on the plain path does not verify, if not."""
        try:
            self._check_signature(plain.signature, plain.signing_input, plain.ready.cert)
        except _Failure as failure:
            return detached(failure)
        return None

    def _verify_one(
        self,
        index: int,
        value: str,
        orig_tns: tuple[str, ...] | None,
        dest_tns: tuple[str, ...] | None,
        at: dt.datetime,
        budget: _Budget | None,
        sip: SipMessage | None = None,
        *,
        fast: bool = True,
    ) -> IdentityResult:
        if fast:  # the common case first: a plain SHAKEN header, its credential ready
            plain = self._plain(index, value, orig_tns, at)
            if plain is not None:
                return plain.result(self._signature_failure(plain))
        decoded = decode_identity(value)
        if (
            decoded.passport is None
            and decoded.error is None
            and (decoded.identity.form == "compact")
        ):
            decoded = self._compact(decoded, sip)
        passport = decoded.passport
        findings = list(decoded.findings)
        cert: _Credential | None = None
        error: _Failure | None = None
        try:
            cert = self._check(decoded, findings, orig_tns, dest_tns, at, budget)
        except _Failure as failure:
            error = detached(failure)
            if passport is not None and passport.header.x5u:
                if failure.cert is not None:
                    cert = failure.cert
                elif failure.fetched:  # (no point fetching what could not be fetched)
                    cert = self._learn(passport.header.x5u, at, budget)
        summary = cert.summary if cert is not None else None
        if passport is None:
            return build(
                IdentityResult,
                {
                    "index": index,
                    "passed": False,
                    "error": error.code if error else "identity_malformed",
                    "message": error.message if error else None,
                    "ppt": decoded.identity.ppt,
                    "x5u": None,
                    "attest": None,
                    "origid": None,
                    "iat": None,
                    "orig": None,
                    "dest": (),
                    "div": (),
                    "certificate": None,
                    "findings": tuple(findings),
                    "token": None,
                    "rcd": None,
                },
            )
        c = passport.claims
        return build(
            IdentityResult,
            {
                "index": index,
                "passed": error is None,
                "error": error.code if error else None,
                "message": error.message if error else None,
                "ppt": passport.header.ppt or decoded.identity.ppt,
                "x5u": passport.header.x5u,
                "attest": c.attest,
                "origid": c.origid,
                "iat": c.iat,
                "orig": _canonical(c.orig_tn) or c.orig_tn,
                "dest": _canonical_all(c.dest_tn),
                "div": _canonical_all(c.div_tn),
                "certificate": summary,
                "findings": tuple(findings),
                "token": passport.token,
                "rcd": _rcd_of(passport.claims_json) if _has_rcd(c) else None,
            },
        )

    def _compact(self, decoded: DecodedIdentity, sip: SipMessage | None) -> DecodedIdentity:
        """A compact-form header (RFC 8224 §7.1, RFC 8225 §7): its header and claims
        rebuilt from ``sip`` (:func:`~shakenlib.sip.passport.rebuild_compact`), so the checks
        that follow verify the signature over the rebuilt text.

        ATIS-1000074 §5.3.3 requires the full form for ``shaken`` (RFC 8946 for
        ``div``): unless ``Policy.allow_compact_form`` is set (``shaken`` only), such a
        header fails with ``identity_compact_form``; with it, that finding is a warning.
        Without the request nothing can be rebuilt: ``compact_no_request``."""
        ppt = decoded.identity.ppt
        allowed = self.policy.allow_compact_form and ppt not in ("div", "div-o")
        if not allowed and ppt in ("shaken", "div", "div-o"):
            return decoded  # refused by policy whatever the request says
        if sip is None:
            return attrs.evolve(
                decoded,
                error=IdentityHeaderError(
                    "compact_no_request",
                    "a compact-form PASSporT is verified over header and claims rebuilt from the "
                    "SIP request: pass it (verify_sip, or verify(..., sip=...))",
                ),
            )
        rebuilt = decode_compact(decoded.identity, sip)
        if allowed:
            rebuilt = attrs.evolve(
                rebuilt,
                findings=tuple(
                    attrs.evolve(f, severity="warn") if f.code == "identity_compact_form" else f
                    for f in rebuilt.findings
                ),
            )
        return rebuilt

    def _check(
        self,
        decoded: DecodedIdentity,
        findings: list[Finding],
        orig_tns: tuple[str, ...] | None,
        dest_tns: tuple[str, ...] | None,
        at: dt.datetime,
        budget: _Budget | None,
    ) -> _Credential:
        """Run every check on one decoded header; raises ``_Failure`` at the first failure
        and appends non-fatal findings to ``findings``."""
        if decoded.error is not None:
            raise _Failure(decoded.error.code, decoded.error.message)
        passport = decoded.passport
        if passport is None:  # e.g. the compact form: a finding says why
            first = next((f for f in findings if f.severity == "error"), None)
            raise _Failure(
                first.code if first else "identity_malformed",
                first.message if first else "the Identity header does not decode",
            )
        if findings:
            fatal = [
                f
                for f in findings
                if f.severity == "error"
                and (self.policy.require_info_match or f.code != "info_x5u_mismatch")
            ]
            if fatal:
                # An internally inconsistent header (438) outranks what it claims (e.g. an
                # unsupported alg, 437): report the first 438-class finding if there is one.
                first = next((f for f in fatal if CODES[f.code].sip_code == 438), fatal[0])
                raise _Failure(first.code, first.message)
        ppt = passport.header.ppt
        if ppt not in self.policy.accepted_ppt:
            raise _Failure("ppt_unsupported", f"PASSporT type {ppt!r} is not supported")
        x5u = passport.header.x5u
        if not x5u:  # pragma: no cover - decode reports x5u_missing as an error finding
            raise _Failure("x5u_missing", "the PASSporT header has no x5u")
        # RFC 8224 §6.2 step 3: identify the credential (fetched, chain validated and
        # revocation checked once per x5u, then reused while all three answers hold).
        ts = at.timestamp()
        ready = self._ready.get(x5u)
        if ready is None or not ready.from_ts <= ts < ready.until_ts:
            ready = self._prepare(x5u, at, budget)
        if ready.failure is not None:
            refused = _Failure(*ready.failure)
            refused.cert = ready.cert
            raise refused
        if ready.findings:
            findings.extend(ready.findings)
        cert = ready.cert
        try:
            claims = passport.claims
            if claims.iat is None:  # pragma: no cover - decode reports claim_missing first
                raise _Failure("claim_missing", "the PASSporT has no iat")
            self._checks(
                ready,
                passport.signature,
                passport.signing_input,
                passport.claims_json,
                claims.iat,
                claims.orig_tn,
                # shaken and div destinations are checked together in _chain_div
                None if ppt in ("shaken", "div") else claims.dest_tn,
                orig_tns,
                dest_tns,
                ts,
            )
            if _has_rcd(claims):  # RFC 9795 (nothing to do for a plain SHAKEN PASSporT)
                findings.extend(self._check_rcd(passport.claims_json, at))
        except _Failure as failure:
            failure.cert = cert
            raise
        return cert

    def _checks(
        self,
        ready: _Ready,
        signature: bytes,
        signing_input: bytes,
        claims_json: Mapping[str, object],
        iat: int | float,
        orig: str | None,
        dest: tuple[str, ...] | None,
        orig_tns: tuple[str, ...] | None,
        dest_tns: tuple[str, ...] | None,
        ts: float,
    ) -> None:
        """The checks of one PASSporT against its ready credential, for both paths; raises
        ``_Failure`` at the first. The signature before freshness (RFC 8224 §6.2 steps
        4-5): an iat is only worth checking once it is known to be the signer's."""
        self._check_signature(signature, signing_input, ready.cert)
        self._claim_checks(ready, claims_json, iat, orig, dest, orig_tns, dest_tns, ts)

    def _claim_checks(
        self,
        ready: _Ready,
        claims_json: Mapping[str, object],
        iat: int | float,
        orig: str | None,
        dest: tuple[str, ...] | None,
        orig_tns: tuple[str, ...] | None,
        dest_tns: tuple[str, ...] | None,
        ts: float,
    ) -> None:
        """The checks of :meth:`_checks` after the signature's; raises ``_Failure`` at the
        first (they have no other effect)."""
        if ready.constraints:
            self._check_constraints(ready, claims_json)
        self._check_fresh(iat, ts, ready.cert)
        if (
            dest is not None
            or (orig_tns is not None and orig not in orig_tns)
            or ready.chain.tnauthlist.has_numbers
        ):  # (otherwise no check in there can fail: skip the call)
            self._check_numbers(orig, dest, orig_tns, dest_tns, ready.chain)

    def _check_rcd(self, claims: Mapping[str, object], at: dt.datetime) -> tuple[Finding, ...]:
        """RFC 9795: the Rich Call Data claims decode and every ``rcdi`` digest matches
        (URL-referenced content through :attr:`rcd_content`)."""
        source = self.rcd_content

        def content(url: str) -> bytes | None:
            try:
                return source.fetch(url, at=at)
            except ShakenError:  # unreachable, refused, or a repository without kind "rcd"
                return None

        try:
            return check_integrity(decode_rcd(claims), content)
        except RcdError as exc:
            raise _Failure(exc.code, exc.message) from None

    def _prepare(self, x5u: str, at: dt.datetime, budget: _Budget | None) -> _Ready:
        """Fetch, validate and revocation-check the credential at ``x5u`` as of ``at``
        (a fetch is charged to ``budget`` when there is one)."""
        cert = self._credential(x5u, at, budget)
        previous = self._ready.get(x5u)
        if (  # the same credential again (e.g. the hourly revocation re-check): its chain
            # and claim constraints still hold while `at` is inside the chain's window
            previous is not None
            and previous.cert.body_sha256 == cert.body_sha256
            and previous.cert.expires_at == cert.expires_at
            and previous.chain.valid_from <= at < previous.chain.valid_until
        ):
            cert, chain, constraints = previous.cert, previous.chain, previous.constraints
        else:
            try:
                chain = self._validate(cert, at)
            except _Failure as failure:
                failure.cert = cert
                raise
            cert = attrs.evolve(cert, summary=attrs.evolve(cert.summary, spc=chain.spc))
            constraints = None
        try:
            revocation, revocation_until = self._check_revocation(cert, at)
            if constraints is None:
                constraints = _claim_constraints(cert.leaf)
        except _Failure as failure:
            failure.cert = cert
            if failure.until is not None:  # revoked: remember the answer as a good one
                until = min(cert.expires_at, chain.valid_until, failure.until)
                self._remember(
                    x5u,
                    _Ready(
                        cert,
                        chain,
                        (),
                        at.timestamp(),
                        until.timestamp(),
                        failure=(failure.code, failure.message),
                    ),
                )
            raise
        return self._remember(
            x5u,
            _Ready(
                cert=cert,
                chain=chain,
                findings=cert.warnings + chain.findings + revocation,
                from_ts=chain.valid_from.timestamp(),
                until_ts=min(cert.expires_at, chain.valid_until, revocation_until).timestamp(),
                constraints=constraints,
            ),
        )

    def _remember(self, x5u: str, ready: _Ready) -> _Ready:
        return self._keep(self._ready, x5u, ready)

    def _keep(self, cache: OrderedDict[str, _T], key: str, value: _T) -> _T:
        """Store ``value`` in a bounded least-recently-stored cache; returns it."""
        with self._lock:
            cache[key] = value
            cache.move_to_end(key)
            while len(cache) > self._cache_size:
                cache.popitem(last=False)
        return value

    def _credential(self, x5u: str, at: dt.datetime, budget: _Budget | None) -> _Credential:
        cached = self._credentials.get(x5u)
        if cached is not None and at < cached.expires_at:
            return cached
        if budget is not None:
            try:
                budget.spend(x5u)
            except _Failure as refused:
                refused.fetched = False
                raise
        try:
            fetched = self.repository.fetch(x5u, at=at)
        except RepositoryError as exc:
            unfetched = _Failure(exc.code, exc.message)
            unfetched.fetched = False
            raise unfetched from exc
        digest = hashlib.sha256(fetched.body).hexdigest()
        if cached is not None and cached.body_sha256 == digest:
            credential = attrs.evolve(cached, expires_at=fetched.expires_at)
        else:
            credential = _build_credential(x5u, fetched.body, digest, fetched)
        return self._keep(self._credentials, x5u, credential)

    def _learn(self, x5u: str, at: dt.datetime, budget: _Budget | None) -> _Credential | None:
        """For a PASSporT that failed before its certificate was examined: fetch the
        certificate anyway (through the same caches) so the result still names the
        signer. Nothing here decides the outcome."""
        try:
            cert = self._credential(x5u, at, budget)
        except _Failure:
            return None
        try:
            ext = cert.leaf.extensions.get_extension_for_oid(TNAUTHLIST_OID).value
            spc = decode_tnauthlist(ext.value).spc  # type: ignore[attr-defined]
        except (x509.ExtensionNotFound, ShakenError, *X509_DECODE_ERRORS):
            spc = None
        return attrs.evolve(cert, summary=attrs.evolve(cert.summary, spc=spc))

    def _validate(self, cert: _Credential, at: dt.datetime) -> ValidatedChain:
        try:
            return self.chains.validate(cert.leaf, cert.intermediates, at=at)
        except ShakenError as exc:
            raise _Failure(exc.code, exc.message) from exc

    def _check_revocation(
        self, cert: _Credential, at: dt.datetime
    ) -> tuple[tuple[Finding, ...], dt.datetime]:
        """Findings of the revocation check and until when its answer may be reused (the
        CRL's nextUpdate and cache expiry; an hour at most)."""
        until = at + dt.timedelta(hours=1)
        if self.policy.revocation == "off":
            return (), until
        crls: list[bytes] = []
        problems: list[Finding] = []
        for url in crl_urls(cert.leaf):
            try:
                fetched = self.repository.fetch(url, at=at, kind="crl")
            except RepositoryError as exc:
                problems.append(Finding(exc.code, "warn", f"CRL {url}: {exc.message}"))
                continue
            crls.append(fetched.body)
            until = min(until, fetched.expires_at)
        if not crls and self.policy.revocation == "require":
            detail = "; ".join(p.message for p in problems) or "the certificate names no CRL"
            raise _Failure("crl_unavailable", detail)
        try:
            status = self.revocation.check(cert.leaf, crls, at=at)
        except CertificateRevoked as exc:
            # Listed on a CRL in force: the same answer until that CRL's nextUpdate.
            revoked = _Failure(exc.code, exc.message)
            next_update = exc.status.crl_next_update if exc.status is not None else None
            revoked.until = min(until, next_update) if next_update is not None else until
            raise revoked from exc
        except ShakenError as exc:
            raise _Failure(exc.code, exc.message) from exc
        if status.crl_next_update is not None:
            until = min(until, status.crl_next_update)
        if status.revoked_after is not None:  # as_of: revoked from then on
            until = min(until, status.revoked_after)
        return tuple(problems) + tuple(status.findings), until

    @staticmethod
    def _check_constraints(ready: _Ready, claims: Mapping[str, object]) -> None:
        for constraint in ready.constraints:  # RFC 8226 §8 / RFC 9118
            problems = constraint.check(claims)
            if problems:
                raise _Failure("claim_constraints", "; ".join(problems))

    def _check_fresh(self, iat: int | float, ts: float, cert: _Credential) -> None:
        age = ts - iat
        window = self._window
        if age > window:
            raise _Failure("iat_stale", f"iat is {age:.0f} s old (window {window:.0f} s)")
        if -age > window:
            raise _Failure(
                "iat_future", f"iat is {-age:.0f} s in the future (window {window:.0f} s)"
            )
        if cert.not_before_ts <= iat <= cert.not_after_ts:
            return
        signed = dt.datetime.fromtimestamp(iat, dt.UTC)
        s = cert.summary
        if s.not_after is not None and signed > s.not_after:
            raise _Failure(
                "cert_expired",
                f"signed at {signed.isoformat()}, after the "
                f"certificate's notAfter {s.not_after.isoformat()}",
            )
        if s.not_before is not None and signed < s.not_before:
            raise _Failure(
                "cert_not_yet_valid",
                f"signed at {signed.isoformat()}, before the certificate's notBefore",
            )

    @staticmethod
    def _check_signature(signature: bytes, signing_input: bytes, cert: _Credential) -> None:
        key = cert.public_key
        if key is None:  # pragma: no cover - the chain validator requires an EC key
            raise _Failure("cert_key_unsupported", "the certificate key is not ECDSA")
        try:
            key.verify(_der_signature(signature), _SHA256(signing_input).digest(), _ES256)
        except InvalidSignature as exc:
            raise _Failure(
                "signature_invalid", "the ES256 signature does not verify with the x5u certificate"
            ) from exc

    def _check_numbers(
        self,
        orig_tn: str | None,
        dest_tn: tuple[str, ...] | None,
        orig_tns: tuple[str, ...] | None,
        dest_tns: tuple[str, ...] | None,
        chain: ValidatedChain,
    ) -> None:
        """The PASSporT's ``orig`` (and ``dest``, unless ``None``: checked elsewhere)
        against the request's numbers, and ``orig`` against the TNAuthList."""
        orig = _canonical(orig_tn)
        if self.policy.check_orig and orig_tns is not None and orig not in orig_tns:
            seen = ", ".join(orig_tns) or "no telephone number (anonymous?)"
            raise _Failure(
                "orig_mismatch", f"orig {orig_tn} does not match the calling number: {seen}"
            )
        if (
            self.policy.check_dest
            and dest_tns is not None
            and dest_tn is not None
            and not set(_canonical_all(dest_tn)) & set(dest_tns)
        ):
            raise _Failure(
                "dest_mismatch",
                f"dest {', '.join(dest_tn)} does not match "
                f"the called number: {', '.join(dest_tns) or '-'}",
            )
        if (
            self.policy.check_tn_authorization
            and orig is not None
            and chain.tnauthlist.has_numbers
            and chain.tnauthlist.authorizes(orig) is False
        ):
            raise _Failure(
                "tn_not_authorized",
                f"the certificate's TNAuthList does not cover orig {orig_tn}",
            )

    # --- several headers ------------------------------------------------------------------
    def _chain_div(
        self, results: list[IdentityResult], dest_tns: tuple[str, ...] | None
    ) -> list[IdentityResult]:
        """RFC 8946: a shaken PASSporT's dest must reach the call's target, directly or
        through valid div PASSporTs (each div claim naming a destination reached so far).
        Linear in the number of headers: each div is followed at most once per shaken."""
        if not self.policy.check_dest or dest_tns is None:
            return results
        divs = [r for r in results if r.passed and r.ppt == "div"]
        wanted = set(dest_tns)
        if not divs and all(
            not (r.passed and r.ppt == "shaken") or not wanted.isdisjoint(r.dest) for r in results
        ):
            return results  # the common case: no forwarding, dest matches
        by_div: dict[str, list[IdentityResult]] = {}
        for d in divs:
            for tn in d.div:
                by_div.setdefault(tn, []).append(d)
        out: list[IdentityResult] = []
        for r in results:
            if r.passed and r.ppt == "shaken" and not _reached(r.dest, by_div) & wanted:
                r = attrs.evolve(
                    r,
                    passed=False,
                    error="dest_mismatch",
                    message=f"dest {', '.join(r.dest)} does not match the called number "
                    f"{', '.join(dest_tns) or '-'} (directly or through div)",
                )
            out.append(r)
        shaken_dests = {t for r in out if r.ppt == "shaken" for t in r.dest}
        known = shaken_dests | {t for d in divs for t in d.dest}
        final: list[IdentityResult] = []
        for r in out:
            if r.passed and r.ppt == "div" and shaken_dests and known.isdisjoint(r.div):
                r = attrs.evolve(
                    r,
                    passed=False,
                    error="div_mismatch",
                    message="the div claim names no destination of the call",
                )
            final.append(r)
        return final

    def _aggregate(
        self, results: list[IdentityResult], at: dt.datetime, findings: list[Finding]
    ) -> VerificationResult:
        if len(results) == 1:
            primary = results[0]
            supported = [] if primary.error == "ppt_unsupported" else results
        else:
            shaken = [r for r in results if r.ppt == "shaken"]
            supported = [r for r in results if r.error != "ppt_unsupported"]
            candidates = shaken or supported
            first_passed = next((r for r in candidates if r.passed), None)
            # RFC 8224 §6.2.2: else report the first failure of the most relevant PASSporT.
            primary = (
                first_passed
                if first_passed is not None
                else (candidates[0] if candidates else results[0])
            )
        if primary.passed and primary.ppt in ("div", "div-o"):
            # RFC 8946 §6: a div PASSporT extends a shaken one; alone (or chained only to
            # other divs) it vouches for nothing.
            return VerificationResult.failure(
                "div_unanchored",
                "a div PASSporT passed but no shaken PASSporT did",
                ppt=primary.ppt,
                x5u=primary.x5u,
                iat=primary.iat,
                orig=primary.orig,
                dest=primary.dest,
                certificate=primary.certificate,
                identities=tuple(results),
                verified_at=at,
                findings=tuple(findings),
            )
        if primary.passed:
            verstat = TN_VALIDATION_PASSED
        elif not supported:
            verstat = NO_TN_VALIDATION
        else:
            verstat = TN_VALIDATION_FAILED
        return build(
            VerificationResult,
            {
                "verstat": verstat,
                "error": primary.error,
                "message": primary.message,
                "ppt": primary.ppt,
                "x5u": primary.x5u,
                "attest": primary.attest,
                "origid": primary.origid,
                "iat": primary.iat,
                "orig": primary.orig,
                "dest": primary.dest,
                "certificate": primary.certificate,
                "identities": tuple(results),
                "verified_at": at,
                "findings": tuple(findings),
            },
        )
