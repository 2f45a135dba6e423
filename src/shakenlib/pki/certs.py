"""The STI certificate model: load PEM/DER certificates and read what SHAKEN needs.

An STI certificate (ATIS-1000080 §6.4.1, RFC 8226) names the signing service provider by
its SPC in the TNAuthList extension (OID 1.3.6.1.5.5.7.1.26). :class:`StiCertificate`
holds the facts a verifier, a linter and a traceback analyst use, read from a structural
``pyasn1-modules`` view (:mod:`shakenlib.pki.der`), so even certificates that ``cryptography``
refuses to load (``cert`` is then ``None``) give a model. The module is pure.

>>> import base64
>>> from shakenlib.pki.tnauthlist import encode_tnauthlist
>>> from shakenlib.pki.certs import load_certificates
>>> pem = open("tests/data/certs/leaf.pem", "rb").read()
>>> [leaf] = load_certificates(pem)
>>> leaf.subject, leaf.spc, leaf.key_type, leaf.curve, leaf.is_ca
('CN=SHAKEN 873J,O=Example Telecom,C=US', '873J', 'EC', 'secp256r1', False)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import datetime
from typing import Any

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyasn1.codec.der import decoder as der_decoder
from pyasn1_modules import rfc5280

from shakenlib.errors import CertificateError
from shakenlib.pki.der import (
    DER_DECODE_ERRORS,
    CertView,
    format_name,
    name_attributes,
    parse_certificate,
    read_tlv,
    split_tlvs,
)
from shakenlib.pki.tnauthlist import TNAuthList, decode_tnauthlist

__all__ = [
    "X509_DECODE_ERRORS",
    "CrlDistributionPoint",
    "StiCertificate",
    "load_certificates",
    "x509_chain",
]

OID_BC = "2.5.29.19"
OID_KU = "2.5.29.15"
OID_SKI = "2.5.29.14"
OID_AKI = "2.5.29.35"
OID_CP = "2.5.29.32"
OID_CRLDP = "2.5.29.31"
OID_TNAUTHLIST = "1.3.6.1.5.5.7.1.26"
OID_EC_KEY = "1.2.840.10045.2.1"

_KEY_TYPES = {
    OID_EC_KEY: "EC",
    "1.2.840.113549.1.1.1": "RSA",
    "1.2.840.10040.4.1": "DSA",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
}
_CURVES = {
    "1.2.840.10045.3.1.7": "secp256r1",
    "1.3.132.0.34": "secp384r1",
    "1.3.132.0.35": "secp521r1",
    "1.3.132.0.33": "secp224r1",
    "1.2.840.10045.3.1.1": "secp192r1",
}
# Signature algorithm OID -> (key kind, hash): RFC 5758 §3.2 (ECDSA), RFC 4055 (RSA).
_SIG_HASHES: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "1.2.840.10045.4.1": ("EC", hashes.SHA1),
    "1.2.840.10045.4.3.1": ("EC", hashes.SHA224),
    "1.2.840.10045.4.3.2": ("EC", hashes.SHA256),
    "1.2.840.10045.4.3.3": ("EC", hashes.SHA384),
    "1.2.840.10045.4.3.4": ("EC", hashes.SHA512),
    "1.2.840.113549.1.1.5": ("RSA", hashes.SHA1),
    "1.2.840.113549.1.1.11": ("RSA", hashes.SHA256),
    "1.2.840.113549.1.1.12": ("RSA", hashes.SHA384),
    "1.2.840.113549.1.1.13": ("RSA", hashes.SHA512),
}


@attrs.frozen
class CrlDistributionPoint:
    """One DistributionPoint of the CRLDistributionPoints extension (RFC 5280 §4.2.1.13):
    its ``fullName`` URIs and its ``cRLIssuer`` directory names (RFC 4514 strings)."""

    urls: tuple[str, ...]
    crl_issuer: tuple[str, ...]


# ---------------------------------------------------------------------------------------
# Derived facts shared with the linter (zcrypto semantics, docs cert-rules §1.1).


def basic_constraints_ca(value: bytes) -> bool | None:
    """``cA`` of a BasicConstraints extnValue, or ``None`` when it does not decode.

    RFC 5280 §4.2.1.9::

        BasicConstraints ::= SEQUENCE {
             cA                      BOOLEAN DEFAULT FALSE,
             pathLenConstraint       INTEGER (0..MAX) OPTIONAL }

    >>> basic_constraints_ca(bytes.fromhex("30030101ff")), basic_constraints_ca(b"0\\x00")
    (True, False)
    >>> basic_constraints_ca(bytes.fromhex("3003010101")) is None
    True
    """
    try:
        seq = read_tlv(value)
        if seq.cls != 0 or not seq.constructed or seq.tag != 16 or seq.end != len(value):
            return None
        items = split_tlvs(value, seq.start, seq.end)
    except CertificateError:
        return None
    ca = False
    idx = 0
    if idx < len(items) and items[idx].cls == 0 and items[idx].tag == 1:
        b = items[idx]
        if b.length != 1 or value[b.start] not in (0x00, 0xFF):
            return None
        ca = value[b.start] == 0xFF
        idx += 1
    if idx < len(items) and items[idx].cls == 0 and items[idx].tag == 2:
        idx += 1
    if idx != len(items):
        return None
    return ca


def is_ca(view: CertView) -> bool:
    """CA: the BasicConstraints value (last one that decodes) has cA=TRUE."""
    ca = False
    for ext in view.extensions:
        if ext.oid == OID_BC:
            decoded = basic_constraints_ca(ext.value)
            if decoded is not None:
                ca = decoded
    return ca


def is_self_signed(view: CertView) -> bool:
    """Raw issuer bytes == raw subject bytes and the signature verifies under the
    certificate's own key with the hash named in ``TBSCertificate.signature``."""
    if view.issuer_raw != view.subject_raw:
        return False
    kind_hash = _SIG_HASHES.get(view.tbs_signature_oid)
    if kind_hash is None:
        return False
    kind, hash_cls = kind_hash
    try:
        key = serialization.load_der_public_key(view.spki)
        if kind == "EC" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(view.signature, view.tbs, ec.ECDSA(hash_cls()))
        elif kind == "RSA" and isinstance(key, rsa.RSAPublicKey):
            key.verify(view.signature, view.tbs, padding.PKCS1v15(), hash_cls())
        else:
            return False
    except (InvalidSignature, ValueError, UnsupportedAlgorithm, TypeError):
        return False
    return True


def octet_string_content(value: bytes) -> bytes | None:
    """Content of a DER OCTET STRING (the SKI extnValue), ``None`` if it is not one."""
    try:
        t = read_tlv(value)
    except CertificateError:
        return None
    if t.cls != 0 or t.tag != 4 or t.constructed:
        return None
    return value[t.start : t.end]


def aki_key_id(value: bytes) -> bytes | None:
    """The ``[0] keyIdentifier`` of an AuthorityKeyIdentifier extnValue (RFC 5280
    §4.2.1.1), ``None`` when absent or undecodable.

    AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] KeyIdentifier OPTIONAL, ... }
    """
    try:
        seq = read_tlv(value)
        if seq.tag != 16 or not seq.constructed:
            return None
        for t in split_tlvs(value, seq.start, seq.end):
            if t.cls == 2 and t.tag == 0:
                return value[t.start : t.end]
    except CertificateError:
        return None
    return None


def policy_oids(value: bytes) -> tuple[str, ...]:
    """The policy OIDs of a CertificatePolicies extnValue, in order (RFC 5280 §4.2.1.4).

    certificatePolicies ::= SEQUENCE SIZE (1..MAX) OF PolicyInformation
    PolicyInformation ::= SEQUENCE { policyIdentifier CertPolicyId, policyQualifiers ... }
    """
    try:
        cp, _ = der_decoder.decode(value, asn1Spec=rfc5280.CertificatePolicies())
        return tuple(str(pi["policyIdentifier"]) for pi in cp)
    except DER_DECODE_ERRORS:
        return ()


def crl_distribution_points(value: bytes) -> tuple[CrlDistributionPoint, ...]:
    """Decode a CRLDistributionPoints extnValue (RFC 5280 §4.2.1.13)::

    DistributionPoint ::= SEQUENCE {
         distributionPoint       [0]     DistributionPointName OPTIONAL,
         reasons                 [1]     ReasonFlags OPTIONAL,
         cRLIssuer               [2]     GeneralNames OPTIONAL }
    DistributionPointName ::= CHOICE {
         fullName                [0]     GeneralNames,
         nameRelativeToCRLIssuer [1]     RelativeDistinguishedName }
    """
    try:
        dps, _ = der_decoder.decode(value, asn1Spec=rfc5280.CRLDistributionPoints())
    except DER_DECODE_ERRORS:
        return ()
    out: list[CrlDistributionPoint] = []
    for dp in dps:
        urls: list[str] = []
        issuers: list[str] = []
        name = dp["distributionPoint"]
        if name.isValue and name.getName() == "fullName":
            for gn in name["fullName"]:
                if gn.getName() == "uniformResourceIdentifier":
                    urls.append(str(gn["uniformResourceIdentifier"]))
        if dp["cRLIssuer"].isValue:
            for gn in dp["cRLIssuer"]:
                if gn.getName() == "directoryName":
                    issuers.append(format_name(name_attributes(gn["directoryName"])))
        out.append(CrlDistributionPoint(tuple(urls), tuple(issuers)))
    return tuple(out)


# ---------------------------------------------------------------------------------------


def _last_or_none(values: list[str]) -> str | None:
    return values[-1] if values else None


@attrs.frozen
class StiCertificate:
    """One certificate and the facts SHAKEN needs from it (see the module docstring).

    Subject attribute fields hold the **last** value of that type (as zcrypto reads
    them); ``serial`` may be negative; times are timezone-aware UTC.
    """

    der: bytes = attrs.field(repr=False)
    cert: x509.Certificate | None = attrs.field(repr=False, eq=False)
    sha256: str
    subject: str
    issuer: str
    subject_cn: str | None
    subject_o: str | None
    subject_c: str | None
    subject_serial_number: str | None
    serial: int
    not_before: datetime
    not_after: datetime
    key_type: str
    curve: str | None
    ski: bytes | None
    aki: bytes | None
    policies: tuple[str, ...]
    crl_distribution_points: tuple[CrlDistributionPoint, ...]
    is_ca: bool
    self_signed: bool
    tnauthlist: TNAuthList | None
    tnauthlist_error: str | None
    #: The structural pyasn1 view the fields were read from (used by the linter).
    view: CertView = attrs.field(repr=False, eq=False)

    @property
    def spc(self) -> str | None:
        """The SPC of the TNAuthList when it holds exactly one (``None`` otherwise)."""
        return self.tnauthlist.spc if self.tnauthlist is not None else None

    @classmethod
    def from_der(cls, der: bytes) -> StiCertificate:
        """Build the model from DER bytes.

        Raises :class:`~shakenlib.errors.CertificateError` (``cert_malformed``) when the
        bytes are not a certificate at all.
        """
        der = bytes(der)
        view = parse_certificate(der)
        try:
            cert: x509.Certificate | None = x509.load_der_x509_certificate(der)
        except (ValueError, x509.InvalidVersion):  # InvalidVersion is not a ValueError
            cert = None
        return cls._from_view(view, cert)

    @classmethod
    def from_cryptography(cls, cert: x509.Certificate) -> StiCertificate:
        """Build the model from a ``cryptography`` certificate."""
        der = cert.public_bytes(serialization.Encoding.DER)
        return cls._from_view(parse_certificate(der), cert)

    @classmethod
    def _from_view(cls, view: CertView, cert: x509.Certificate | None) -> StiCertificate:
        ski_ext = view.last_extension(OID_SKI)
        aki_ext = view.last_extension(OID_AKI)
        cp_ext = view.last_extension(OID_CP)
        dp_ext = view.last_extension(OID_CRLDP)
        tal_ext = view.last_extension(OID_TNAUTHLIST)
        tal: TNAuthList | None = None
        tal_error: str | None = None
        if tal_ext is not None:
            try:
                tal = decode_tnauthlist(tal_ext.value)
            except CertificateError as exc:
                tal_error = exc.message
        return cls(
            der=view.der,
            cert=cert,
            sha256=hashlib.sha256(view.der).hexdigest(),
            subject=format_name(view.subject),
            issuer=format_name(view.issuer),
            subject_cn=_last_or_none(view.subject_values("2.5.4.3")),
            subject_o=_last_or_none(view.subject_values("2.5.4.10")),
            subject_c=_last_or_none(view.subject_values("2.5.4.6")),
            subject_serial_number=_last_or_none(view.subject_values("2.5.4.5")),
            serial=view.serial,
            not_before=view.not_before,
            not_after=view.not_after,
            key_type=_KEY_TYPES.get(view.key_oid, view.key_oid),
            curve=(
                _CURVES.get(view.key_params_oid, view.key_params_oid)
                if view.key_oid == OID_EC_KEY and view.key_params_oid
                else None
            ),
            ski=octet_string_content(ski_ext.value) if ski_ext else None,
            aki=aki_key_id(aki_ext.value) if aki_ext else None,
            policies=policy_oids(cp_ext.value) if cp_ext else (),
            crl_distribution_points=crl_distribution_points(dp_ext.value) if dp_ext else (),
            is_ca=is_ca(view),
            self_signed=is_self_signed(view),
            tnauthlist=tal,
            tnauthlist_error=tal_error,
            view=view,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (bytes and the serial number as hex, times as ISO 8601; a
        hostile certificate's serial can have thousands of digits)."""
        return {
            "sha256": self.sha256,
            "subject": self.subject,
            "issuer": self.issuer,
            "subject_cn": self.subject_cn,
            "subject_o": self.subject_o,
            "subject_c": self.subject_c,
            "subject_serial_number": self.subject_serial_number,
            "serial": ("-" if self.serial < 0 else "") + format(abs(self.serial), "x"),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "key_type": self.key_type,
            "curve": self.curve,
            "ski": self.ski.hex() if self.ski is not None else None,
            "aki": self.aki.hex() if self.aki is not None else None,
            "policies": list(self.policies),
            "crl_distribution_points": [
                {"urls": list(dp.urls), "crl_issuer": list(dp.crl_issuer)}
                for dp in self.crl_distribution_points
            ],
            "is_ca": self.is_ca,
            "self_signed": self.self_signed,
            "spc": self.spc,
            "tnauthlist": self.tnauthlist.to_dict() if self.tnauthlist is not None else None,
            "tnauthlist_error": self.tnauthlist_error,
        }


# RFC 7468 §5.1: -----BEGIN CERTIFICATE----- base64 -----END CERTIFICATE-----
_PEM_RE = re.compile(
    rb"-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----(.*?)"
    rb"-----END (?:X509 |TRUSTED )?CERTIFICATE-----",
    re.DOTALL,
)
_WS = b" \t\r\n"


#: What ``cryptography`` raises for a hostile certificate or CRL, at load or when a part
#: of it (a name, an extension list, the key) is first decoded: ``InvalidVersion``,
#: ``UnsupportedGeneralNameType``, ``DuplicateExtension`` and ``UnsupportedAlgorithm`` are
#: not ``ValueError``\ s, and a name attribute of the wrong string type is a ``TypeError``.
X509_DECODE_ERRORS = (
    ValueError,
    TypeError,
    x509.InvalidVersion,
    x509.UnsupportedGeneralNameType,
    x509.DuplicateExtension,
    UnsupportedAlgorithm,
)


def x509_chain(data: bytes) -> list[x509.Certificate]:
    """The certificates of a PEM bundle (in order), or the one certificate of a DER body:
    what a certificate repository serves (ATIS-1000080) and what trust files hold.

    Raises what ``cryptography`` raises for bytes that are neither (``ValueError``, or
    ``x509.InvalidVersion``, which is not one); callers map it to their own error code.

    >>> x509_chain(b"not a certificate")
    Traceback (most recent call last):
    ...
    ValueError: error parsing asn1 value: ...
    """
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def load_certificates(data: bytes) -> list[StiCertificate]:
    """Every certificate in ``data``: PEM (one or a chain, text between blocks is
    ignored), DER (one or several concatenated), or a mix of both, in order.

    Raises :class:`~shakenlib.errors.CertificateError` (``cert_malformed``) when no
    certificate is found or a PEM block does not decode.

    >>> load_certificates(b"hello")
    Traceback (most recent call last):
    ...
    shakenlib.errors.CertificateError: cert_malformed: no certificate found (PEM or DER)
    """
    out: list[StiCertificate] = []
    pos = 0
    n = len(data)
    while pos < n:
        while pos < n and data[pos] in _WS:
            pos += 1
        if pos >= n:
            break
        if data[pos] == 0x30:  # a DER SEQUENCE: try a certificate
            try:
                t = read_tlv(data, pos)
                out.append(StiCertificate.from_der(data[pos : t.end]))
                pos = t.end
                continue
            except CertificateError:
                pass
        m = _PEM_RE.search(data, pos)
        if m is None:
            break
        try:
            der = base64.b64decode(b"".join(m.group(1).split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CertificateError("cert_malformed", f"bad base64 in PEM block: {exc}") from exc
        out.append(StiCertificate.from_der(der))
        pos = m.end()
    if not out:
        raise CertificateError("cert_malformed", "no certificate found (PEM or DER)")
    return out
