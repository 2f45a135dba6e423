"""Revocation against the STI-PA CRL (RFC 5280 §5, ATIS-1000080 §6.4).

The STI-PA publishes one CRL for the whole SHAKEN ecosystem. It is an *indirect* CRL:
its issuer is "STI-PA CRL", not the CA that issued the certificates it lists, so each
entry names that CA in the certificateIssuer entry extension::

    -- RFC 5280 §5.3.3
    id-ce-certificateIssuer   OBJECT IDENTIFIER ::= { id-ce 29 }
    CertificateIssuer ::=     GeneralNames

"if this extension is present ... it applies to that entry and all subsequent entries
until the next certificateIssuer extension"; entries before the first one belong to the
CRL issuer. A certificate is revoked when an entry has its serial number *and* its issuer.
Entries of an indirect CRL with no certificateIssuer in force are matched by serial alone
(and reported in the findings), because a certificate's CA never issues the STI-PA CRL.

:class:`RevocationChecker` verifies each CRL's signature with a trusted CRL signer,
checks ``thisUpdate <= at <= nextUpdate``, then looks the certificate up. **A revoked
certificate raises** :class:`CertificateRevoked` (a
:class:`~shakenlib.errors.RevocationError`, code ``cert_revoked``): a caller that forgets to
look at a status cannot accept a revoked certificate. Otherwise :meth:`~RevocationChecker.check`
returns a :class:`RevocationStatus`. Whether an unusable CRL (none, bad signature, out of
date) is an error depends on ``policy``: ``"require"`` raises, ``"prefer"`` returns
``checked=False`` with a warning finding (soft fail), ``"off"`` checks nothing.

**Historical revocation** (``revocation_time="as_of"``). Analysing last March's capture
today needs last March's answer, but last March's CRL is rarely at hand. In this mode a
CRL issued *after* ``at`` (``thisUpdate > at``) is accepted, and an entry counts for
``at`` only when the certificate was already revoked then. RFC 5280 §5.1.2.6 and
§5.3.2::

    revokedCertificates     SEQUENCE OF SEQUENCE  {
         userCertificate         CertificateSerialNumber,
         revocationDate          Time,
         crlEntryExtensions      Extensions OPTIONAL }
    -- "The invalidity date is the date on which it is known or suspected that the
    --  private key was compromised or that the certificate otherwise became invalid."
    id-ce-invalidityDate OBJECT IDENTIFIER ::= { id-ce 24 }
    InvalidityDate ::=  GeneralizedTime

So a listed certificate is revoked for ``at`` only if its ``revocationDate`` *and*, when
present, its ``invalidityDate`` are at or before ``at``; a later entry is reported as a
``cert_revoked_later`` warning (an investigator wants to know), and the status says from
when the answer changes (:attr:`RevocationStatus.revoked_after`). A CRL that was not yet
current at ``at`` is accepted only in this mode, with a ``crl_as_of`` finding naming its
``thisUpdate``; its signer must have been valid when it signed (at ``thisUpdate``). A CRL
whose ``nextUpdate`` is before ``at`` is out of date in both modes.

This module is pure: fetching the CRL (from :func:`crl_urls`) is the repository's job.

>>> from shakenlib.testing.pki import StiTestPki, DEFAULT_NOW
>>> pki = StiTestPki()
>>> good, bad = pki.issue_sp_certificate("873J"), pki.issue_sp_certificate("818H")
>>> checker = RevocationChecker([pki.crl_signer.certificate], policy="require")
>>> crl = pki.make_crl([bad])
>>> checker.check(good.certificate, [crl], at=DEFAULT_NOW).checked
True
>>> checker.check(bad.certificate, [crl], at=DEFAULT_NOW)
Traceback (most recent call last):
...
shakenlib.pki.crl.CertificateRevoked: cert_revoked: certificate 'SHAKEN 818H' (serial ...) ...
>>> crl_urls(good.certificate)
('https://crl.sti-pa.test/download/v1/crl',)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Literal

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    VerificationError,
)

from shakenlib.errors import RevocationError, UsageError
from shakenlib.findings import Finding
from shakenlib.pki.certs import X509_DECODE_ERRORS
from shakenlib.pki.trust import TrustStore, ca_extension_policy, common_name
from shakenlib.timeutil import require_aware

__all__ = [
    "CertificateRevoked",
    "RevocationChecker",
    "RevocationPolicy",
    "RevocationStatus",
    "RevocationTime",
    "crl_urls",
    "validate_crl_signer",
]

RevocationPolicy = Literal["require", "prefer", "off"]
_POLICIES = ("require", "prefer", "off")
#: ``"current"``: CRLs current at ``at``, every entry counts (a live verifier);
#: ``"as_of"``: historical answers (see the module docstring).
RevocationTime = Literal["current", "as_of"]
_TIMES = ("current", "as_of")


@attrs.frozen
class RevocationStatus:
    """The outcome of a revocation check that did not find the certificate revoked.

    ``checked``: a usable CRL was consulted. ``revoked`` is ``False`` in every status
    :meth:`RevocationChecker.check` returns (a revoked certificate raises
    :class:`CertificateRevoked`, whose ``status`` has ``revoked=True``).
    ``crl_this_update``/``crl_next_update``: of the CRL used (``None`` when unchecked).
    ``revoked_after`` (``revocation_time="as_of"`` only): the certificate is listed with a
    revocation (or invalidity) date after ``at``; from this time on it is revoked.
    """

    revoked: bool
    checked: bool
    reason: str | None = None
    crl_this_update: dt.datetime | None = None
    crl_next_update: dt.datetime | None = None
    findings: tuple[Finding, ...] = ()
    revocation_date: dt.datetime | None = None
    revoked_after: dt.datetime | None = None


class CertificateRevoked(RevocationError):
    """The certificate is on a valid CRL (code ``cert_revoked``); ``status`` says when/why."""

    default_code = "cert_revoked"

    def __init__(
        self,
        code: str | None = None,
        message: str = "",
        status: RevocationStatus | None = None,
    ) -> None:
        super().__init__(code, message)
        self.status = status


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def crl_urls(certs: x509.Certificate | Iterable[x509.Certificate]) -> tuple[str, ...]:
    """The CRL distribution point URLs (http/https ``fullName`` URIs) of one certificate
    or of several (say a leaf and its intermediates), in order, without duplicates.

    RFC 5280 §4.2.1.13::

        CRLDistributionPoints ::= SEQUENCE SIZE (1..MAX) OF DistributionPoint
        DistributionPoint ::= SEQUENCE {
            distributionPoint       [0]     DistributionPointName OPTIONAL,
            reasons                 [1]     ReasonFlags OPTIONAL,
            cRLIssuer               [2]     GeneralNames OPTIONAL }
        DistributionPointName ::= CHOICE {
            fullName                [0]     GeneralNames,
            nameRelativeToCRLIssuer [1]     RelativeDistinguishedName }

    >>> from shakenlib.testing.pki import StiTestPki
    >>> pki = StiTestPki()
    >>> crl_urls([pki.issue_sp_certificate().certificate, pki.ca_intermediate.certificate])
    ('https://crl.sti-pa.test/download/v1/crl',)
    >>> crl_urls(pki.ca_root.certificate)
    ()
    """
    items = [certs] if isinstance(certs, x509.Certificate) else list(certs)
    urls: dict[str, None] = {}
    for cert in items:
        try:
            ext = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
        except (x509.ExtensionNotFound, *X509_DECODE_ERRORS):
            continue
        for point in ext.value:
            for name in point.full_name or ():
                if isinstance(name, x509.UniformResourceIdentifier) and (
                    name.value.lower().startswith(("http://", "https://"))
                ):
                    urls.setdefault(name.value, None)
    return tuple(urls)


_CRL_SIGNER_EE_POLICY = (
    ExtensionPolicy.permit_all()
    .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, None)
    .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
    .may_be_present(x509.CertificatePolicies, Criticality.AGNOSTIC, None)
)


def _can_sign_crls(cert: x509.Certificate) -> bool:
    # RFC 5280 §4.2.1.3: a CRL signer's keyUsage, when present, asserts cRLSign.
    try:
        return bool(cert.extensions.get_extension_for_class(x509.KeyUsage).value.crl_sign)
    except x509.ExtensionNotFound:
        return True
    except X509_DECODE_ERRORS:  # extensions that do not decode
        return False


def validate_crl_signer(
    signer: x509.Certificate,
    trust: TrustStore,
    *,
    at: dt.datetime,
    intermediates: Sequence[x509.Certificate] = (),
) -> x509.Certificate:
    """Check that ``signer`` (such as the "STI-PA CRL" certificate) chains to ``trust`` at
    ``at`` and may sign CRLs; return it. Raises ``RevocationError("crl_invalid")``.

    >>> from shakenlib.testing.pki import StiTestPki, DEFAULT_NOW
    >>> pki = StiTestPki()
    >>> trust = TrustStore.from_pem(pki.trust_anchors_pem())
    >>> common_name(validate_crl_signer(pki.crl_signer.certificate, trust, at=DEFAULT_NOW))
    'STI-PA CRL'
    """
    _validated_chain(signer, trust, at=at, intermediates=intermediates)
    return signer


def _validated_chain(
    signer: x509.Certificate,
    trust: TrustStore,
    *,
    at: dt.datetime,
    intermediates: Sequence[x509.Certificate] = (),
) -> tuple[x509.Certificate, ...]:
    """:func:`validate_crl_signer`, returning the certificates of the validated chain
    (``signer`` first; just ``signer`` when it is itself in ``trust``)."""
    if not _can_sign_crls(signer):
        raise RevocationError(
            "crl_invalid", f"certificate '{common_name(signer)}' may not sign CRLs (no cRLSign)"
        )
    if signer in trust:
        if not signer.not_valid_before_utc <= at <= signer.not_valid_after_utc:
            raise RevocationError(
                "crl_invalid", f"CRL signer '{common_name(signer)}' is not valid at {at}"
            )
        return (signer,)
    verifier = (
        PolicyBuilder()
        .store(trust.store)
        .time(at)
        .extension_policies(ca_policy=ca_extension_policy(), ee_policy=_CRL_SIGNER_EE_POLICY)
        .build_client_verifier()
    )
    try:
        verified = verifier.verify(signer, list(intermediates))
    except (VerificationError, *X509_DECODE_ERRORS) as exc:
        detail = str(exc).split(" (encountered processing")[0]
        raise RevocationError(
            "crl_invalid",
            f"CRL signer '{common_name(signer)}' does not chain to a trust anchor: {detail}",
        ) from exc
    return (signer, *verified.chain)


def _common_validity(certs: Iterable[x509.Certificate]) -> tuple[dt.datetime, dt.datetime]:
    """The intersection of the validity periods of ``certs`` (RFC 5280 §4.1.2.5: both
    ends inclusive); empty when the first element is after the second."""
    certs = list(certs)
    return (
        max(c.not_valid_before_utc for c in certs),
        min(c.not_valid_after_utc for c in certs),
    )


@attrs.frozen(eq=False)
class _Signer:
    """A CRL signer certificate with what every check needs, computed once."""

    cert: x509.Certificate
    subject: x509.Name
    fingerprint: bytes  # SHA-256 of the DER certificate
    not_before: dt.datetime
    not_after: dt.datetime

    @classmethod
    def of(cls, cert: x509.Certificate) -> _Signer:
        return cls(
            cert,
            cert.subject,
            cert.fingerprint(hashes.SHA256()),
            cert.not_valid_before_utc,
            cert.not_valid_after_utc,
        )


@attrs.frozen(eq=False)
class _ParsedCrl:
    crl: x509.CertificateRevocationList
    sha256: bytes
    issuer: x509.Name
    indirect: bool
    # serial -> [(issuer in force or None when the CRL issuer applies by default, entry)]
    index: dict[int, list[tuple[x509.Name | None, x509.RevokedCertificate]]]
    #: why the CRL cannot be used at all (delta CRL, unknown critical extension), or None
    defect: str | None = None
    idp: x509.IssuingDistributionPoint | None = None


# Extensions this module processes or may ignore (RFC 5280 §5.2, §5.3); a *critical* one
# outside these sets makes the CRL unusable. deltaCRLIndicator is handled on its own.
_CRL_EXTENSIONS = frozenset(
    {
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.CRL_NUMBER,
        ExtensionOID.ISSUING_DISTRIBUTION_POINT,
        ExtensionOID.FRESHEST_CRL,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
    }
)
_ENTRY_EXTENSIONS = frozenset(
    {
        CRLEntryExtensionOID.CRL_REASON,
        CRLEntryExtensionOID.INVALIDITY_DATE,
        CRLEntryExtensionOID.CERTIFICATE_ISSUER,
    }
)


def _defect(crl: x509.CertificateRevocationList) -> str | None:
    # RFC 5280 §5.2.4: a delta CRL lists only changes since a base CRL, so it cannot say
    # that a certificate is not revoked. §5.2 and §5.3: "If a CRL contains a critical
    # extension [a critical CRL entry extension] that the application cannot process,
    # then the application MUST NOT use that CRL to determine the status of certificates."
    for ext in crl.extensions:
        if ext.oid == ExtensionOID.DELTA_CRL_INDICATOR:
            return "it is a delta CRL (deltaCRLIndicator), not a complete CRL"
        if ext.critical and ext.oid not in _CRL_EXTENSIONS:
            return f"it has an unsupported critical extension {ext.oid.dotted_string}"
    for entry in crl:
        for ext in entry.extensions:
            if ext.critical and ext.oid not in _ENTRY_EXTENSIONS:
                return (
                    f"entry {entry.serial_number:x} has an unsupported critical extension "
                    f"{ext.oid.dotted_string}"
                )
    return None


def _out_of_scope(idp: x509.IssuingDistributionPoint | None, cert: x509.Certificate) -> str | None:
    # RFC 5280 §5.2.5 issuingDistributionPoint and §6.3.3 (b)(2)(iii)-(v):
    #   onlyContainsUserCerts [1] BOOLEAN, onlyContainsCACerts [2] BOOLEAN,
    #   onlyContainsAttributeCerts [5] BOOLEAN
    if idp is None:
        return None
    if idp.only_contains_attribute_certs:
        return "it covers only attribute certificates"
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = bc.ca
    except (x509.ExtensionNotFound, *X509_DECODE_ERRORS):
        is_ca = False
    if idp.only_contains_ca_certs and not is_ca:
        return "it covers only CA certificates"
    if idp.only_contains_user_certs and is_ca:
        return "it covers only end-entity certificates"
    return None


def _index(
    crl: x509.CertificateRevocationList,
) -> dict[int, list[tuple[x509.Name | None, x509.RevokedCertificate]]]:
    index: dict[int, list[tuple[x509.Name | None, x509.RevokedCertificate]]] = {}
    current: x509.Name | None = None
    for entry in crl:
        try:
            names = entry.extensions.get_extension_for_class(x509.CertificateIssuer).value
            dirs = [n.value for n in names if isinstance(n, x509.DirectoryName)]
            if dirs:
                current = dirs[0]
        except x509.ExtensionNotFound:
            pass
        _ = (entry.revocation_date_utc, _reason(entry), _invalidity(entry))  # decode now
        index.setdefault(entry.serial_number, []).append((current, entry))
    return index


def _idp(crl: x509.CertificateRevocationList) -> x509.IssuingDistributionPoint | None:
    try:
        return crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return None


def _is_indirect(crl: x509.CertificateRevocationList) -> bool:
    idp = _idp(crl)
    return idp is not None and bool(idp.indirect_crl)


def _invalidity(entry: x509.RevokedCertificate) -> dt.datetime | None:
    """The entry's invalidityDate (RFC 5280 §5.3.2), UTC; ``None`` when absent."""
    try:
        ext = entry.extensions.get_extension_for_class(x509.InvalidityDate).value
    except x509.ExtensionNotFound:
        return None
    return ext.invalidity_date_utc


def _reason(entry: x509.RevokedCertificate) -> str | None:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
    except x509.ExtensionNotFound:
        return None


class RevocationChecker:
    """Check certificates against CRLs signed by trusted CRL signers.

    ``crl_signers``: certificates trusted to sign CRLs (such as the "STI-PA CRL"
    certificate), or a :class:`~shakenlib.pki.trust.TrustStore` whose anchors are trusted as
    signers. ``extra_signers``: signer certificates that are trusted only once they chain
    to the ``crl_signers`` trust store at the check time (see :func:`validate_crl_signer`);
    use it with the STI-PA root in the trust store and the "STI-PA CRL" certificate here.
    ``cache_size``: parsed CRLs kept, keyed by SHA-256 of their bytes. Thread-safe.
    ``revocation_time``: ``"current"`` (default) or ``"as_of"`` (historical answers, see
    the module docstring).

    Repeated checks are cheap: a CRL's signature is verified once per signer, signer
    subjects and fingerprints are computed once, and an extra signer's successful chain
    validation is reused while ``at`` stays inside the intersection of the validity
    periods of its validated chain (outside it the signer is validated again), so the
    answer for any ``at`` is the one an uncached checker would give.
    """

    def __init__(
        self,
        crl_signers: Iterable[x509.Certificate] | TrustStore,
        *,
        policy: RevocationPolicy = "prefer",
        extra_signers: Iterable[x509.Certificate] = (),
        cache_size: int = 32,
        revocation_time: RevocationTime = "current",
    ) -> None:
        if policy not in _POLICIES:
            raise UsageError("usage", f"revocation policy must be one of {_POLICIES}")
        if revocation_time not in _TIMES:
            raise UsageError("usage", f"revocation_time must be one of {_TIMES}")
        self.policy: RevocationPolicy = policy
        self.as_of = revocation_time == "as_of"
        self._trust = crl_signers if isinstance(crl_signers, TrustStore) else None
        self._signers = tuple(_Signer.of(s) for s in crl_signers if _can_sign_crls(s))
        self._extra = tuple(_Signer.of(s) for s in extra_signers)
        if self._extra and self._trust is None:
            raise UsageError("usage", "extra_signers need crl_signers to be a TrustStore")
        # Per extra signer (by index): the window (both ends inclusive) in which its last
        # successful chain validation holds -- the intersection of the validity periods of
        # the certificates of the validated chain. Validation depends on the time only
        # through those validity periods, so inside the window it would succeed again;
        # outside it, the signer is validated afresh. Failures are not remembered.
        self._extra_valid: dict[int, tuple[dt.datetime, dt.datetime]] = {}
        self._cache: OrderedDict[bytes, _ParsedCrl] = OrderedDict()
        self._verified: set[tuple[bytes, bytes]] = set()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # --- parsing -------------------------------------------------------------------------
    def parse(self, data: bytes) -> x509.CertificateRevocationList:
        """Parse a CRL, PEM or DER (cached by SHA-256). ``RevocationError("crl_invalid")``.

        >>> RevocationChecker([]).parse(b"not a CRL")
        Traceback (most recent call last):
        ...
        shakenlib.errors.RevocationError: crl_invalid: CRL does not parse (DER): ...
        """
        return self._parsed(data).crl

    def _parsed(self, data: bytes | x509.CertificateRevocationList) -> _ParsedCrl:
        if isinstance(data, x509.CertificateRevocationList):
            crl: x509.CertificateRevocationList | None = data
            raw = data.public_bytes(serialization.Encoding.DER)
        else:
            crl, raw = None, bytes(data)
        digest = _sha256(raw)
        with self._lock:
            hit = self._cache.get(digest)
            if hit is not None:
                self._cache.move_to_end(digest)
                return hit
        pem = crl is None and raw.lstrip().startswith(b"-----BEGIN")
        try:
            if crl is None:
                crl = x509.load_pem_x509_crl(raw) if pem else x509.load_der_x509_crl(raw)
            # cryptography decodes the issuer, extensions and entries lazily: touch them all
            # here so that a malformed part is crl_invalid now, not a ValueError/TypeError
            # later (InvalidVersion and UnsupportedGeneralNameType are not ValueErrors).
            _ = (crl.issuer, crl.last_update_utc, crl.next_update_utc)
            index = _index(crl)
            indirect = _is_indirect(crl)
            defect = _defect(crl)
            idp = _idp(crl)
        except X509_DECODE_ERRORS as exc:
            raise RevocationError(
                "crl_invalid", f"CRL does not parse ({'PEM' if pem else 'DER'}): {exc}"
            ) from exc
        parsed = _ParsedCrl(crl, digest, crl.issuer, indirect, index, defect, idp)
        with self._lock:
            self._cache[digest] = parsed
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return parsed

    # --- signature ---------------------------------------------------------------------
    def _candidate_signers(self, at: dt.datetime) -> list[_Signer]:
        # A directly trusted signer counts only while its certificate is valid: a retired
        # CRL key must not keep vouching for CRLs (RFC 5280 §6.3.3 (f)).
        signers = [s for s in self._signers if s.not_before <= at <= s.not_after]
        if self._trust is not None:
            for i, extra in enumerate(self._extra):
                window = self._extra_valid.get(i)
                if window is not None and window[0] <= at <= window[1]:
                    signers.append(extra)
                    continue
                try:
                    chain = _validated_chain(extra.cert, self._trust, at=at)
                except RevocationError:
                    continue
                signers.append(extra)
                with self._lock:
                    self._extra_valid[i] = _common_validity(chain)
        return signers

    def _verify_signature(self, parsed: _ParsedCrl, at: dt.datetime) -> None:
        crl = parsed.crl
        matching = [s for s in self._candidate_signers(at) if s.subject == parsed.issuer]
        if not matching:
            raise RevocationError(
                "crl_invalid",
                f"CRL issuer '{crl.issuer.rfc4514_string()}' is not a trusted CRL signer",
            )
        for signer in matching:
            fingerprint = signer.fingerprint
            with self._lock:
                if (parsed.sha256, fingerprint) in self._verified:
                    return
            key = signer.cert.public_key()
            if not isinstance(
                key,
                ec.EllipticCurvePublicKey
                | rsa.RSAPublicKey
                | ed25519.Ed25519PublicKey
                | ed448.Ed448PublicKey,
            ):
                continue
            if crl.is_signature_valid(key):
                with self._lock:
                    self._verified.add((parsed.sha256, fingerprint))
                    if len(self._verified) > 4 * self._cache_size:
                        self._verified.clear()
                return
        raise RevocationError(
            "crl_invalid",
            f"CRL signature does not verify with the key of trusted signer "
            f"'{common_name(matching[0].cert)}'",
        )

    # --- checking ------------------------------------------------------------------------
    def _usable(self, parsed: _ParsedCrl, at: dt.datetime) -> None:
        crl = parsed.crl
        this_update = crl.last_update_utc
        next_update = crl.next_update_utc
        later = self.as_of and at < this_update
        # A CRL issued after `at` (as_of mode): its signer must have been valid when it
        # signed it, at thisUpdate (RFC 5280 §6.3.3 (f)).
        self._verify_signature(parsed, this_update if later else at)
        if parsed.defect is not None:
            raise RevocationError(
                "crl_invalid",
                f"CRL from '{crl.issuer.rfc4514_string()}' cannot be used: {parsed.defect}",
            )
        if at < this_update and not later:
            raise RevocationError(
                "crl_expired",
                f"CRL from '{crl.issuer.rfc4514_string()}' is not yet valid: thisUpdate "
                f"{this_update.isoformat()} is after {at.isoformat()}",
            )
        if next_update is not None and at > next_update:
            raise RevocationError(
                "crl_expired",
                f"CRL from '{crl.issuer.rfc4514_string()}' is out of date: nextUpdate "
                f"{next_update.isoformat()} is before {at.isoformat()}",
            )

    def check(
        self,
        cert: x509.Certificate,
        crls: Sequence[bytes | x509.CertificateRevocationList],
        *,
        at: dt.datetime,
    ) -> RevocationStatus:
        """Check ``cert`` against ``crls`` as of ``at``.

        Raises :class:`CertificateRevoked` when a usable CRL lists it (the message names
        the certificate, revocation date and reason). Under policy ``"require"`` raises
        :class:`~shakenlib.errors.RevocationError` ``crl_unavailable`` (no CRL given),
        ``crl_invalid`` (unparseable, untrusted signer, bad signature) or ``crl_expired``
        when no CRL is usable; under ``"prefer"`` returns ``checked=False`` with warning
        findings instead; under ``"off"`` returns ``checked=False`` at once.
        """
        require_aware(at)
        if self.policy == "off":
            return RevocationStatus(revoked=False, checked=False)
        problems: list[RevocationError] = []
        usable: list[_ParsedCrl] = []
        partial: list[_ParsedCrl] = []
        for data in crls:
            try:
                parsed = self._parsed(data)
                self._usable(parsed, at)
                scope = _out_of_scope(parsed.idp, cert)
                if scope is not None:
                    raise RevocationError(
                        "crl_invalid",
                        f"CRL from '{parsed.crl.issuer.rfc4514_string()}' does not cover "
                        f"certificate '{common_name(cert)}': {scope}",
                    )
            except RevocationError as exc:
                problems.append(exc)
                continue
            if parsed.idp is not None and parsed.idp.only_some_reasons is not None:
                partial.append(parsed)  # §5.2.5 onlySomeReasons: listed means revoked ...
            else:
                usable.append(parsed)
        notes = [Finding(p.code, "warn", p.message, source="RFC 5280 §6.3") for p in problems]
        later: list[dt.datetime] = []
        if self.as_of:  # which CRL answered (one issued after `at`)
            notes.extend(_as_of_note(p, at) for p in partial + usable if p.crl.last_update_utc > at)
        for parsed in partial:
            self._lookup(cert, parsed, notes, at, later)
        if not usable and partial:  # ... but absent does not mean "not revoked"
            problems.append(
                RevocationError(
                    "crl_invalid",
                    f"CRL from '{partial[0].crl.issuer.rfc4514_string()}' covers only some "
                    "reasons (onlySomeReasons) and no complete CRL covers certificate "
                    f"'{common_name(cert)}'",
                )
            )
            notes.append(
                Finding("crl_invalid", "warn", problems[-1].message, source="RFC 5280 §6.3.3")
            )
        if not usable:
            if not problems:
                problems.append(
                    RevocationError(
                        "crl_unavailable",
                        f"no CRL was supplied to check certificate '{common_name(cert)}'",
                    )
                )
                notes.append(Finding("crl_unavailable", "warn", problems[0].message))
            if self.policy == "require":
                first = problems[0]
                raise RevocationError(first.code, first.message)
            return RevocationStatus(revoked=False, checked=False, findings=tuple(notes))
        for parsed in usable:
            self._lookup(cert, parsed, notes, at, later)
        newest = max(usable, key=lambda p: p.crl.last_update_utc)
        return RevocationStatus(
            revoked=False,
            checked=True,
            crl_this_update=newest.crl.last_update_utc,
            crl_next_update=min(
                (p.crl.next_update_utc for p in usable if p.crl.next_update_utc is not None),
                default=None,
            ),
            findings=tuple(notes),
            revoked_after=min(later, default=None),
        )

    def check_chain(
        self,
        chain: Sequence[x509.Certificate],
        crls: Sequence[bytes | x509.CertificateRevocationList],
        *,
        at: dt.datetime,
    ) -> RevocationStatus:
        """Check every certificate of ``chain`` but the last (the trust anchor); return the
        leaf's status with the findings of all."""
        statuses = [self.check(c, crls, at=at) for c in chain[: max(1, len(chain) - 1)]]
        findings = tuple(f for s in statuses for f in s.findings)
        return attrs.evolve(statuses[0], findings=tuple(dict.fromkeys(findings)))

    def _lookup(
        self,
        cert: x509.Certificate,
        parsed: _ParsedCrl,
        notes: list[Finding],
        at: dt.datetime,
        later: list[dt.datetime],
    ) -> None:
        """Raise :class:`CertificateRevoked` when ``parsed`` lists ``cert`` (as of ``at`` in
        as_of mode; entries dated after ``at`` are noted and their dates put in ``later``)."""
        crl = parsed.crl
        for issuer, entry in parsed.index.get(cert.serial_number, ()):
            if issuer is None:
                issuer = crl.issuer
                if issuer != cert.issuer:
                    # No certificateIssuer in force and the CRL issuer is not the
                    # certificate's CA: the STI-PA CRL (indirect, whether or not its
                    # issuingDistributionPoint says so) -- match by serial alone, say so.
                    kind = "indirect CRL" if parsed.indirect else "CRL of another issuer"
                    notes.append(
                        Finding(
                            "cert_revoked",
                            "warn",
                            f"{kind} entry for serial {cert.serial_number:x} has no "
                            f"certificateIssuer; matched by serial number alone",
                            source="RFC 5280 §5.3.3",
                        )
                    )
                    issuer = cert.issuer
            if issuer != cert.issuer:
                continue
            reason = _reason(entry)
            when = entry.revocation_date_utc
            invalid = _invalidity(entry)
            if self.as_of:
                effective = max(when, invalid) if invalid is not None else when
                if effective > at:
                    later.append(effective)
                    dates = f"revocationDate {when.isoformat()}" + (
                        f", invalidityDate {invalid.isoformat()}" if invalid is not None else ""
                    )
                    notes.append(
                        Finding(
                            "cert_revoked_later",
                            "warn",
                            f"certificate '{common_name(cert)}' (serial {cert.serial_number:x}) is "
                            f"listed on the CRL of {crl.last_update_utc.isoformat()} ({dates}), "
                            f"after {at.isoformat()}: not revoked for this call",
                            source="RFC 5280 §5.1.2.6, §5.3.2",
                        )
                    )
                    continue
            status = RevocationStatus(
                revoked=True,
                checked=True,
                reason=reason,
                crl_this_update=crl.last_update_utc,
                crl_next_update=crl.next_update_utc,
                findings=tuple(notes),
                revocation_date=when,
            )
            raise CertificateRevoked(
                "cert_revoked",
                f"certificate '{common_name(cert)}' (serial {cert.serial_number:x}, issuer "
                f"'{cert.issuer.rfc4514_string()}') is revoked since {when.isoformat()}, "
                f"reason: {reason or 'unspecified'}"
                + (f", invalid since {invalid.isoformat()}" if invalid is not None else "")
                + (
                    f" (as of {at.isoformat()}, CRL thisUpdate {crl.last_update_utc.isoformat()})"
                    if self.as_of
                    else ""
                ),
                status=status,
            )


def _as_of_note(parsed: _ParsedCrl, at: dt.datetime) -> Finding:
    return Finding(
        "crl_as_of",
        "notice",
        f"revocation judged as of {at.isoformat()} with the CRL of thisUpdate "
        f"{parsed.crl.last_update_utc.isoformat()} (issued later; revocation_time=as_of)",
        source="RFC 5280 §5.1.2.6",
    )
