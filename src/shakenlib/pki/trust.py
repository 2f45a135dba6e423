"""Trust anchors and STI certificate chain validation (RFC 5280, ATIS-1000080, RFC 9060).

A verification service trusts the STI-CA roots on the STI-PA trust list, never the OS web
roots (ATIS-1000080 §6.4). :class:`TrustStore` holds those anchors; :class:`ChainValidator`
validates a signing certificate and the intermediates its repository served, as of an
explicit time ``at``, and returns a :class:`ValidatedChain` (the chain, the intersection of
its validity periods, the leaf's TNAuthList and SPC).

Path building and RFC 5280 path validation are done by ``cryptography.x509.verification``
with an STI extension policy (no subjectAltName or extendedKeyUsage requirement; the
TNAuthList and JWT claim constraints extensions are accounted for, so they may be
critical). The library then adds the STI checks: end-entity key is EC P-256, TNAuthList
present and decodable, one SPC in a service-provider certificate, and for RFC 9060
delegate chains each TNAuthList encompassed by its issuer's.

This module reads no clock and opens no socket; only :meth:`TrustStore.from_pem_files`
reads files.

>>> from shakenlib.testing.pki import StiTestPki, DEFAULT_NOW
>>> pki = StiTestPki()
>>> trust = TrustStore.from_pem(pki.trust_anchors_pem())
>>> pki.ca_root.certificate in trust
True
>>> leaf = pki.issue_sp_certificate("873J")
>>> chain = ChainValidator(trust).validate(
...     leaf.certificate, [pki.ca_intermediate.certificate], at=DEFAULT_NOW)
>>> chain.spc, len(chain.chain)
('873J', 3)
>>> ChainValidator(trust).validate(leaf.certificate, [], at=DEFAULT_NOW)
Traceback (most recent call last):
...
shakenlib.errors.TrustError: cert_untrusted: ...
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import itertools
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import attrs
import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from shakenlib.errors import CertificateError, PassportError, TrustError, UsageError
from shakenlib.findings import Finding
from shakenlib.pki.certs import X509_DECODE_ERRORS, x509_chain
from shakenlib.pki.tnauthlist import (
    EJWT_CLAIM_CONSTRAINTS_OID,
    JWT_CLAIM_CONSTRAINTS_OID,
    TNAUTHLIST_OID,
    TNAuthList,
    decode_tnauthlist,
)
from shakenlib.sip.passport import b64url_decode
from shakenlib.timeutil import require_aware

__all__ = [
    "ChainValidator",
    "TrustStore",
    "ValidatedChain",
    "ca_extension_policy",
    "common_name",
    "ee_extension_policy",
]

_CERT_SUFFIXES = (".pem", ".crt", ".cer")


def common_name(cert: x509.Certificate) -> str:
    """The subject CN of ``cert`` (the whole RFC 4514 subject when it has no CN).

    >>> from shakenlib.testing.pki import StiTestPki
    >>> common_name(StiTestPki().ca_root.certificate)
    'Test STI-CA SHAKEN ROOT'
    """
    try:  # the subject decodes lazily: a hostile one raises on first use
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if names:
            value = names[0].value
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
        return cert.subject.rfc4514_string() or "<empty subject>"
    except (ValueError, TypeError):
        return "<subject that does not decode>"


def _sha256(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


# --- trust store ---------------------------------------------------------------------------


def _load_pem_or_der(data: bytes, what: str) -> list[x509.Certificate]:
    try:
        return x509_chain(data)
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is not a ValueError
        raise TrustError("trust_list_invalid", f"{what}: not a certificate: {exc}") from exc


class TrustStore:
    """The trust anchors a verifier accepts: STI-CA roots (and the STI-PA root, whose
    "STI-PA CRL" certificate signs the CRL). Never the operating system's web roots.

    Iterating yields the anchors; ``cert in store`` compares DER bytes. Duplicates are
    dropped (first occurrence kept).

    >>> from shakenlib.testing.pki import StiTestPki
    >>> pki = StiTestPki()
    >>> store = TrustStore.from_pem(pki.ca_root.pem + pki.ca_root.pem)
    >>> len(store), pki.ca_root.certificate in store, pki.sti_pa_root.certificate in store
    (1, True, False)
    """

    __slots__ = ("_fingerprints", "_store", "anchors")

    def __init__(self, anchors: Iterable[x509.Certificate]) -> None:
        unique: dict[bytes, x509.Certificate] = {}
        for cert in anchors:
            unique.setdefault(_sha256(cert), cert)
        if not unique:
            raise TrustError("trust_list_invalid", "a trust store needs at least one certificate")
        self.anchors: tuple[x509.Certificate, ...] = tuple(unique.values())
        self._fingerprints = frozenset(unique)
        self._store = Store(list(self.anchors))

    @property
    def store(self) -> Store:
        """The anchors as a ``cryptography.x509.verification.Store``."""
        return self._store

    def __len__(self) -> int:
        return len(self.anchors)

    def __iter__(self) -> Iterator[x509.Certificate]:
        return iter(self.anchors)

    def __contains__(self, cert: object) -> bool:
        return isinstance(cert, x509.Certificate) and _sha256(cert) in self._fingerprints

    def __repr__(self) -> str:
        names = ", ".join(common_name(c) for c in self.anchors[:3])
        more = ", ..." if len(self.anchors) > 3 else ""
        return f"TrustStore({len(self.anchors)} anchors: {names}{more})"

    @classmethod
    def from_pem(cls, data: bytes) -> TrustStore:
        """Anchors from a PEM bundle (or one DER certificate).

        Raises :class:`~shakenlib.errors.TrustError` ``trust_list_invalid`` for bytes that
        hold no certificate.
        """
        return cls(_load_pem_or_der(bytes(data), "trust bundle"))

    @classmethod
    def from_pem_files(cls, paths: Iterable[str | os.PathLike[str]]) -> TrustStore:
        """Anchors from files and directories (a directory contributes its ``*.pem``,
        ``*.crt`` and ``*.cer`` files, sorted by name; each file PEM or DER).

        A missing file raises ``OSError`` (the command line reports it in one line).
        """
        certs: list[x509.Certificate] = []
        for entry in paths:
            path = Path(entry)
            files = (
                sorted(p for p in path.iterdir() if p.suffix.lower() in _CERT_SUFFIXES)
                if path.is_dir()
                else [path]
            )
            for file in files:
                certs += _load_pem_or_der(file.read_bytes(), str(file))
        return cls(certs)

    @classmethod
    def from_sti_pa_trust_list(
        cls,
        jws: bytes | str,
        *,
        signer_roots: TrustStore | Iterable[x509.Certificate],
        at: dt.datetime,
    ) -> TrustStore:
        """Anchors from an STI-PA "trusted CA list": a signed JWS, compact serialization.

        Accepted shape (RFC 7515)::

            BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)
            header  = {"alg": "ES256" | "RS256", "x5c": [signer DER (base64), CA DER ...], ...}
            payload = {"trustList": [CERT, ...]}   or   [CERT, ...]
            CERT    = a PEM string (one or more certificates) or a bare base64 DER string

        The signature is verified with the key of ``x5c[0]``; that certificate must chain
        (through ``x5c[1:]``) to ``signer_roots`` at ``at``, or be one of them. Only then
        are the listed certificates trusted. Any failure raises
        :class:`~shakenlib.errors.TrustError` ``trust_list_invalid``.
        """
        require_aware(at)
        text = jws.decode("ascii", "replace") if isinstance(jws, bytes) else jws
        parts = text.strip().split(".")
        if len(parts) != 3:
            raise TrustError(
                "trust_list_invalid",
                f"trust list is not a compact JWS (expected 3 dot-separated parts, "
                f"got {len(parts)})",
            )
        header = _b64url_json(parts[0], "JWS header")
        if not isinstance(header, dict):
            raise TrustError("trust_list_invalid", "trust list JWS header is not a JSON object")
        alg = header.get("alg")
        if alg not in ("ES256", "RS256"):
            raise TrustError(
                "trust_list_invalid", f"trust list JWS alg {alg!r} is not ES256 or RS256"
            )
        if "crit" in header:
            # RFC 7515 §4.1.11: extensions listed in "crit" MUST be understood, else the
            # JWS is invalid; this reader understands none (and "crit" may not be empty).
            raise TrustError(
                "trust_list_invalid",
                f"trust list JWS header has crit {header['crit']!r}; no extension is supported",
            )
        signer, chain = _x5c(header.get("x5c"))
        roots = signer_roots if isinstance(signer_roots, TrustStore) else cls(signer_roots)
        _validate_signer(signer, chain, roots, at)
        signature = _b64url(parts[2], "JWS signature")
        _verify_jws(str(alg), signer, ".".join(parts), signature)
        payload = _b64url_json(parts[1], "JWS payload")
        items = payload.get("trustList") if isinstance(payload, dict) else payload
        if not isinstance(items, list) or not items:
            raise TrustError(
                "trust_list_invalid",
                'trust list payload is neither {"trustList": [...]} nor a non-empty JSON array',
            )
        certs: list[x509.Certificate] = []
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise TrustError("trust_list_invalid", f"trust list entry {i} is not a string")
            if "-----BEGIN" in item:
                certs += _load_pem_or_der(item.encode("ascii", "replace"), f"entry {i}")
            else:
                certs += _load_pem_or_der(_b64(item, f"entry {i}"), f"entry {i}")
        return cls(certs)


def _b64url(segment: str, what: str) -> bytes:
    # RFC 7515 §2: base64url without padding (the PASSporT decoder's strict rules).
    try:
        return b64url_decode(segment, what)
    except PassportError as exc:
        raise TrustError("trust_list_invalid", f"trust list {what} is not base64url") from exc


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TrustError("trust_list_invalid", f"trust list {what} is not base64") from exc


def _b64url_json(segment: str, what: str) -> object:
    try:
        return json.loads(_b64url(segment, what))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrustError("trust_list_invalid", f"trust list {what} is not JSON") from exc


def _x5c(value: object) -> tuple[x509.Certificate, list[x509.Certificate]]:
    # RFC 7515 §4.1.6: "x5c" is a JSON array of base64 (not base64url) DER certificates,
    # the signer's first.
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise TrustError(
            "trust_list_invalid", "trust list JWS header has no x5c array naming its signer"
        )
    certs: list[x509.Certificate] = []
    for i, item in enumerate(value):
        certs += _load_pem_or_der(_b64(item, f"x5c[{i}]"), f"x5c[{i}]")
    return certs[0], certs[1:]


def _validate_signer(
    signer: x509.Certificate,
    chain: list[x509.Certificate],
    roots: TrustStore,
    at: dt.datetime,
) -> None:
    if not signer.not_valid_before_utc <= at <= signer.not_valid_after_utc:
        raise TrustError(
            "trust_list_invalid",
            f"trust list signer '{common_name(signer)}' is not valid at {at.isoformat()}",
        )
    if signer in roots:
        return
    verifier = (
        PolicyBuilder()
        .store(roots.store)
        .time(at)
        .extension_policies(ca_policy=ca_extension_policy(), ee_policy=_SIGNER_EE_POLICY)
        .build_client_verifier()
    )
    try:
        verifier.verify(signer, chain)
    except (VerificationError, x509.UnsupportedGeneralNameType) as exc:
        raise TrustError(
            "trust_list_invalid",
            f"trust list signer '{common_name(signer)}' does not chain to the given signer "
            f"roots: {_short(str(exc))}",
        ) from exc


def _verify_jws(alg: str, signer: x509.Certificate, token: str, sig: bytes) -> None:
    """Check the trust list's signature with PyJWT, after our own key rules."""
    key = signer.public_key()
    if alg == "ES256":
        # RFC 7518 §3.4: the ES256 signature is R || S, 32 octets each.
        # ES256 is "ECDSA using P-256 and SHA-256": another curve is an alg/key mismatch.
        if (
            not isinstance(key, ec.EllipticCurvePublicKey)
            or key.curve.name != "secp256r1"
            or len(sig) != 64
        ):
            raise TrustError(
                "trust_list_invalid",
                "ES256 trust list needs an EC P-256 signer key and a 64-byte R||S signature",
            )
    elif not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        # RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used".
        raise TrustError(
            "trust_list_invalid", "RS256 trust list needs an RSA signer key of >= 2048 bits"
        )
    try:
        jwt.api_jws.PyJWS().decode_complete(token, key=key, algorithms=[alg])
    except jwt.exceptions.InvalidSignatureError as exc:
        raise TrustError(
            "trust_list_invalid",
            f"trust list signature does not verify with the key of '{common_name(signer)}'",
        ) from exc
    except jwt.exceptions.PyJWTError as exc:
        raise TrustError("trust_list_invalid", f"trust list JWS: {exc}"[:200]) from exc


# --- extension policies -------------------------------------------------------------------
#
# ATIS-1000080 v005 §6.4.1 (digest): BasicConstraints critical, cA TRUE for roots and
# intermediates, FALSE for end entities; KeyUsage critical, CAs keyCertSign, end entities
# digitalSignature; TNAuthList (RFC 8226) in end entities (and RFC 9060 delegation CAs).
# Criticality is left to the linter ("AGNOSTIC" here): real certificates vary.


class _TNAuthListType(x509.ExtensionType):
    # Lets the policy account for TNAuthList (1.3.6.1.5.5.7.1.26) even when marked critical.
    oid = TNAUTHLIST_OID

    def public_bytes(self) -> bytes:  # pragma: no cover - never serialised
        return b""


class _JWTClaimConstraintsType(x509.ExtensionType):
    oid = JWT_CLAIM_CONSTRAINTS_OID

    def public_bytes(self) -> bytes:  # pragma: no cover - never serialised
        return b""


class _EJWTClaimConstraintsType(x509.ExtensionType):
    oid = EJWT_CLAIM_CONSTRAINTS_OID

    def public_bytes(self) -> bytes:  # pragma: no cover - never serialised
        return b""


def _fail(code: str, message: str) -> ValueError:
    # The code travels through cryptography's VerificationError text: "[code] message".
    return ValueError(f"[{code}] {message}")


def _ca_basic_constraints(
    policy: Policy, cert: x509.Certificate, ext: x509.BasicConstraints
) -> None:
    if not ext.ca:
        raise _fail("cert_chain_invalid", "issuer has basicConstraints cA=FALSE")


def _ca_key_usage(policy: Policy, cert: x509.Certificate, ext: x509.KeyUsage | None) -> None:
    if ext is not None and not ext.key_cert_sign:
        raise _fail("cert_chain_invalid", "CA keyUsage lacks keyCertSign")


def _ee_basic_constraints(
    policy: Policy, cert: x509.Certificate, ext: x509.BasicConstraints | None
) -> None:
    if ext is not None and ext.ca:
        raise _fail("cert_profile", "end-entity certificate has basicConstraints cA=TRUE")


def _ee_key_usage(policy: Policy, cert: x509.Certificate, ext: x509.KeyUsage | None) -> None:
    if ext is not None and not ext.digital_signature:
        raise _fail("cert_profile", "end-entity keyUsage lacks digitalSignature")


def _with_sti_extensions(policy: ExtensionPolicy) -> ExtensionPolicy:
    for kind in (_TNAuthListType, _JWTClaimConstraintsType, _EJWTClaimConstraintsType):
        policy = policy.may_be_present(kind, Criticality.AGNOSTIC, None)
    return policy.may_be_present(x509.CertificatePolicies, Criticality.AGNOSTIC, None)


def ca_extension_policy() -> ExtensionPolicy:
    """The CA-side STI extension policy: basicConstraints present with cA=TRUE, keyUsage
    (when present) with keyCertSign; STI extensions and certificate policies accounted for."""
    return _with_sti_extensions(
        ExtensionPolicy.permit_all()
        .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, _ca_basic_constraints)
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _ca_key_usage)
    )


def ee_extension_policy() -> ExtensionPolicy:
    """The end-entity STI extension policy: no subjectAltName or extendedKeyUsage
    requirement; cA must not be TRUE; keyUsage (when present) has digitalSignature."""
    return _with_sti_extensions(
        ExtensionPolicy.permit_all()
        .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, _ee_basic_constraints)
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _ee_key_usage)
    )


_SIGNER_EE_POLICY = _with_sti_extensions(
    ExtensionPolicy.permit_all()
    .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, _ee_basic_constraints)
    .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, None)
)

_TAGGED = re.compile(r"\[([a-z_]+)\] (.*?)(?: \(encountered processing|$)")
_ENCOUNTERED = re.compile(r" \(encountered processing .*$", re.S)


def _short(message: str) -> str:
    return _ENCOUNTERED.sub("", message).replace("validation failed: ", "")


# --- chain validation ----------------------------------------------------------------------


@attrs.frozen
class ValidatedChain:
    """A chain that passed validation: ``chain`` runs leaf first, trust anchor last.

    ``valid_from``/``valid_until`` is the intersection of the chain's validity periods;
    ``tnauthlist`` is the leaf's; ``spc`` the leaf's single SPC (for a delegate chain, the
    SPC of the nearest issuer that names exactly one); ``findings`` non-fatal observations.
    """

    leaf: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    valid_from: dt.datetime
    valid_until: dt.datetime
    tnauthlist: TNAuthList
    spc: str | None
    findings: tuple[Finding, ...] = ()

    @property
    def delegated(self) -> bool:
        """Whether a CA in the chain carries a TNAuthList (an RFC 9060 delegate chain)."""
        return any(_tnauthlist_der(c) is not None for c in self.chain[1:])

    def covers(self, at: dt.datetime) -> bool:
        """Whether every certificate of the chain is valid at ``at``."""
        return self.valid_from <= at <= self.valid_until


@attrs.frozen
class CacheInfo:
    """Counters of a :class:`ChainValidator` cache."""

    hits: int
    misses: int
    size: int
    maxsize: int


def _tnauthlist_der(cert: x509.Certificate) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_oid(TNAUTHLIST_OID)
    except (x509.ExtensionNotFound, ValueError, x509.DuplicateExtension):
        return None
    value = ext.value
    return value.value if isinstance(value, x509.UnrecognizedExtension) else None


def _decode_tal(cert: x509.Certificate, der: bytes) -> TNAuthList:
    try:
        return decode_tnauthlist(der)
    except CertificateError as exc:
        raise TrustError(
            "tnauthlist_invalid", f"certificate '{common_name(cert)}': {exc.message}"
        ) from exc


def _validity_error(cert: x509.Certificate, at: dt.datetime, role: str) -> TrustError | None:
    if at < cert.not_valid_before_utc:
        return TrustError(
            "cert_not_yet_valid",
            f"{role} '{common_name(cert)}' is not valid before "
            f"{cert.not_valid_before_utc.isoformat()} (checked at {at.isoformat()})",
        )
    if at > cert.not_valid_after_utc:
        return TrustError(
            "cert_expired",
            f"{role} '{common_name(cert)}' expired at "
            f"{cert.not_valid_after_utc.isoformat()} (checked at {at.isoformat()})",
        )
    return None


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    # Names and keys decode lazily: a hostile one raises here (ValueError, or
    # UnsupportedAlgorithm for a key of an unknown type), and then it issued nothing.
    try:
        if child.issuer != parent.subject:
            return False
        child.verify_directly_issued_by(parent)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


class ChainValidator:
    """Validate STI certificate chains against a :class:`TrustStore`.

    ``require_p256``: the end-entity key must be EC P-256 (ATIS-1000080; off only for
    analysis of non-conforming certificates). ``max_chain_depth``: most intermediates
    allowed between leaf and anchor. ``cache_size``: validated chains kept (0 disables).

    Thread-safe: one validator may serve many threads.
    """

    def __init__(
        self,
        trust: TrustStore,
        *,
        require_p256: bool = True,
        max_chain_depth: int = 5,
        cache_size: int = 1024,
    ) -> None:
        if not isinstance(trust, TrustStore):
            raise UsageError("usage", "ChainValidator needs a TrustStore")
        if max_chain_depth < 1 or cache_size < 0:
            raise UsageError("usage", "max_chain_depth must be >= 1 and cache_size >= 0")
        self.trust = trust
        self.require_p256 = require_p256
        self.max_chain_depth = max_chain_depth
        self._ca_policy = ca_extension_policy()
        self._ee_policy = ee_extension_policy()
        self._cache: OrderedDict[tuple[bytes, tuple[bytes, ...]], ValidatedChain] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    # --- cache -------------------------------------------------------------------------
    def cache_info(self) -> CacheInfo:
        """Hits, misses and size of the validated-chain cache."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._cache), self._cache_size)

    def cache_clear(self) -> None:
        """Forget every cached chain (counters too)."""
        with self._lock:
            self._cache.clear()
            self._hits = self._misses = 0

    def validate(
        self,
        leaf: x509.Certificate,
        intermediates: Sequence[x509.Certificate],
        *,
        at: dt.datetime,
    ) -> ValidatedChain:
        """Validate ``leaf`` through ``intermediates`` (any order, extras ignored) to an
        anchor, as of ``at``; return the chain or raise :class:`~shakenlib.errors.TrustError`.

        Codes: ``cert_expired`` / ``cert_not_yet_valid`` (the leaf, or a CA on the path),
        ``cert_untrusted`` (no path to an anchor: unknown root, missing intermediate,
        self-signed leaf), ``cert_chain_invalid`` (other path-validation failures),
        ``cert_profile`` (end entity is a CA, lacks digitalSignature, or names several
        SPCs), ``cert_key_unsupported``, ``tnauthlist_missing``, ``tnauthlist_invalid``,
        ``delegate_scope``. Messages name the certificate (subject CN) and the rule.

        A chain validated before is reused while ``at`` lies inside its validity window.
        """
        require_aware(at)
        key = (_sha256(leaf), tuple(sorted(_sha256(c) for c in intermediates)))
        if self._cache_size:
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None and hit.covers(at):
                    self._cache.move_to_end(key)
                    self._hits += 1
                    return hit
                self._misses += 1
        result = self._validate(leaf, list(intermediates), at)
        if self._cache_size:
            with self._lock:
                self._cache[key] = result
                self._cache.move_to_end(key)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return result

    # --- the work ------------------------------------------------------------------------
    def _path_validate(
        self, leaf: x509.Certificate, intermediates: list[x509.Certificate], at: dt.datetime
    ) -> list[x509.Certificate]:
        verifier = (
            PolicyBuilder()
            .store(self.trust.store)
            .time(at)
            .max_chain_depth(self.max_chain_depth)
            .extension_policies(ca_policy=self._ca_policy, ee_policy=self._ee_policy)
            .build_client_verifier()
        )
        return verifier.verify(leaf, intermediates).chain

    def _validate(
        self, leaf: x509.Certificate, intermediates: list[x509.Certificate], at: dt.datetime
    ) -> ValidatedChain:
        error = _validity_error(leaf, at, "certificate")
        if error is not None:
            raise error
        try:
            chain = self._path_validate(leaf, intermediates, at)
        except VerificationError as exc:
            raise self._explain(leaf, intermediates, at, str(exc)) from exc
        except x509.UnsupportedGeneralNameType as exc:  # the client verifier reads the SAN
            raise TrustError(
                "cert_chain_invalid",
                f"certificate '{common_name(leaf)}' has a subjectAltName that does not "
                f"decode: {exc}",
            ) from exc
        for cert in chain:
            # The verifier leaves some extensions (AIA, say) undecoded; cryptography decodes
            # them all on first access and raises ValueError or UnsupportedGeneralNameType.
            try:
                _ = cert.extensions
            except X509_DECODE_ERRORS as exc:
                raise TrustError(
                    "cert_chain_invalid",
                    f"certificate '{common_name(cert)}' has an extension that does not "
                    f"decode: {_short(str(exc))[:160]}",
                ) from exc
        return self._sti_checks(tuple(chain))

    def _walk(
        self, leaf: x509.Certificate, intermediates: list[x509.Certificate]
    ) -> tuple[list[x509.Certificate], bool]:
        """Follow issuer links by name and signature; (path, reached an anchor)."""
        path = [leaf]
        current = leaf
        for _ in range(self.max_chain_depth + 2):
            if current in self.trust:
                return path, True
            anchor = next((a for a in self.trust if _issued_by(current, a)), None)
            if anchor is not None:
                return [*path, anchor], True
            parent = next(
                (c for c in intermediates if c not in path and _issued_by(current, c)), None
            )
            if parent is None:
                return path, False
            path.append(parent)
            current = parent
        return path, False

    def _explain(
        self,
        leaf: x509.Certificate,
        intermediates: list[x509.Certificate],
        at: dt.datetime,
        message: str,
    ) -> TrustError:
        tagged = _TAGGED.search(message)
        if tagged:
            return TrustError(
                tagged.group(1),
                f"certificate '{common_name(leaf)}': {tagged.group(2)}"
                if tagged.group(1) == "cert_profile"
                else f"chain of '{common_name(leaf)}': {tagged.group(2)}",
            )
        path, anchored = self._walk(leaf, intermediates)
        for cert in path[1:]:
            error = _validity_error(cert, at, "issuing CA certificate")
            if error is not None:
                return error
        if not anchored:
            top = path[-1]
            if len(path) == 1 and leaf.issuer == leaf.subject:
                return TrustError(
                    "cert_untrusted",
                    f"certificate '{common_name(leaf)}' is self-signed and not a trust anchor",
                )
            if top.issuer == top.subject:
                return TrustError(
                    "cert_untrusted",
                    f"certificate '{common_name(leaf)}' chains to root "
                    f"'{common_name(top)}', which is not a trust anchor",
                )
            issuer_cn = top.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
            issuer = str(issuer_cn[0].value) if issuer_cn else top.issuer.rfc4514_string()
            return TrustError(
                "cert_untrusted",
                f"no path from '{common_name(leaf)}' to a trust anchor: the issuer "
                f"'{issuer}' of '{common_name(top)}' is neither a trust anchor nor among "
                f"the {len(intermediates)} intermediate(s) supplied",
            )
        if len(path) - 2 > self.max_chain_depth:
            return TrustError(
                "cert_chain_invalid",
                f"chain of '{common_name(leaf)}' has {len(path) - 2} intermediates, more "
                f"than max_chain_depth={self.max_chain_depth}",
            )
        return TrustError(
            "cert_chain_invalid",
            f"chain of '{common_name(leaf)}' fails path validation: {_short(message)}",
        )

    def _sti_checks(self, chain: tuple[x509.Certificate, ...]) -> ValidatedChain:
        leaf = chain[0]
        findings: list[Finding] = []
        name = common_name(leaf)
        # End-entity key: id-ecPublicKey, namedCurve P-256 (ATIS-1000080 §6.4.1).
        try:
            key = leaf.public_key()
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise TrustError(
                "cert_key_unsupported", f"certificate '{name}' has a key that does not load: {exc}"
            ) from exc
        if not (isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"):
            kind = (
                f"EC {key.curve.name}"
                if isinstance(key, ec.EllipticCurvePublicKey)
                else type(key).__name__.removesuffix("PublicKey").lstrip("_")
            )
            if self.require_p256:
                raise TrustError(
                    "cert_key_unsupported",
                    f"certificate '{name}' has a {kind} key; STI certificates use EC P-256",
                )
            findings.append(
                Finding(
                    "cert_key_unsupported",
                    "warn",
                    f"certificate '{name}' has a {kind} key",
                    source="ATIS-1000080 §6.4.1",
                )
            )
        try:
            leaf.extensions.get_extension_for_class(x509.KeyUsage)
        except x509.ExtensionNotFound:
            findings.append(
                Finding(
                    "cert_profile",
                    "warn",
                    f"certificate '{name}' has no keyUsage extension",
                    source="ATIS-1000080 §6.4.1",
                )
            )
        der = _tnauthlist_der(leaf)
        if der is None:
            raise TrustError(
                "tnauthlist_missing", f"certificate '{name}' has no TNAuthList extension"
            )
        tal = _decode_tal(leaf, der)
        # RFC 9060 §4: each TNAuthList is "equal to or a subset of" its issuer's.
        lists: list[tuple[x509.Certificate, TNAuthList]] = [(leaf, tal)]
        for ca in chain[1:]:
            ca_der = _tnauthlist_der(ca)
            if ca_der is not None:
                lists.append((ca, _decode_tal(ca, ca_der)))
        delegated = len(lists) > 1
        for (child, child_tal), (parent, parent_tal) in itertools.pairwise(lists):
            if not parent_tal.encompasses(child_tal):
                raise TrustError(
                    "delegate_scope",
                    f"TNAuthList of '{common_name(child)}' is not encompassed by that of its "
                    f"issuer '{common_name(parent)}' (RFC 9060 §4)",
                )
        spc = tal.spc
        if delegated:
            findings.append(
                Finding(
                    "delegate_scope",
                    "info",
                    f"delegate chain: '{name}' is scoped by '{common_name(lists[1][0])}'",
                    source="RFC 9060",
                )
            )
            if spc is None:
                spc = next((t.spc for _, t in lists[1:] if t.spc is not None), None)
        elif len(tal.spcs) > 1:
            raise TrustError(
                "cert_profile",
                f"certificate '{name}' names {len(tal.spcs)} SPCs "
                f"({', '.join(tal.spcs)}); an SP certificate carries exactly one",
            )
        elif not tal.spcs:
            findings.append(
                Finding(
                    "cert_profile",
                    "warn",
                    f"certificate '{name}' has no SPC in its TNAuthList and no delegating CA",
                    source="ATIS-1000080 §6.4.1",
                )
            )
        elif tal.has_numbers:
            findings.append(
                Finding(
                    "cert_profile",
                    "warn",
                    f"SP certificate '{name}' lists telephone numbers besides its SPC",
                    source="ATIS-1000080 v005 §6.4.1",
                )
            )
        return ValidatedChain(
            leaf=leaf,
            chain=chain,
            valid_from=max(c.not_valid_before_utc for c in chain),
            valid_until=min(c.not_valid_after_utc for c in chain),
            tnauthlist=tal,
            spc=spc,
            findings=tuple(findings),
        )
