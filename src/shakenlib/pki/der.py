"""A structural view of an X.509 certificate that tolerates what ``cryptography`` rejects.

The certificate linter needs facts that a high-level parser hides or normalises: the raw
``extnValue`` bytes of every extension (duplicates kept, in order), the OID in
``TBSCertificate.signature``, the raw issuer and subject DN bytes, and the ASN.1 string
type of every subject attribute. This module decodes the certificate with the maintained
``pyasn1-modules`` ``rfc5280`` definitions (RFC 5280 §4.1)::

    Certificate  ::=  SEQUENCE  {
         tbsCertificate       TBSCertificate,
         signatureAlgorithm   AlgorithmIdentifier,
         signatureValue       BIT STRING  }
    TBSCertificate  ::=  SEQUENCE  {
         version         [0]  EXPLICIT Version DEFAULT v1,
         serialNumber         CertificateSerialNumber,
         signature            AlgorithmIdentifier,
         issuer               Name,
         validity             Validity,
         subject              Name,
         subjectPublicKeyInfo SubjectPublicKeyInfo,
         issuerUniqueID  [1]  IMPLICIT UniqueIdentifier OPTIONAL,
         subjectUniqueID [2]  IMPLICIT UniqueIdentifier OPTIONAL,
         extensions      [3]  EXPLICIT Extensions OPTIONAL }

and slices the raw bytes of ``tbsCertificate``, ``issuer``, ``subject`` and
``subjectPublicKeyInfo`` with a small DER TLV reader (X.690 §8.1), so that the
self-signature check and the "issuer == subject" test see exactly the signed bytes.

It is pure: no I/O, no clock.

>>> from shakenlib.pki.der import read_tlv, decode_oid
>>> t = read_tlv(bytes.fromhex("3008a00616043837334a"))
>>> (t.cls, t.constructed, t.tag, t.length, t.end)
(0, True, 16, 8, 10)
>>> decode_oid(bytes.fromhex("2a8648ce3d030107"))
'1.2.840.10045.3.1.7'
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
from pyasn1.codec.ber import decoder as ber_decoder
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.error import PyAsn1Error
from pyasn1_modules import rfc5280

from shakenlib.errors import CertificateError

__all__ = [
    "STRING_TAGS",
    "Attribute",
    "CertView",
    "Extension",
    "Tlv",
    "decode_oid",
    "decode_string",
    "format_name",
    "name_attributes",
    "parse_certificate",
    "read_tlv",
    "split_tlvs",
]

#: Universal tag numbers of the ASN.1 string types a DN attribute may use (X.680 §8.6),
#: mapped to their names: UTF8String 12, NumericString 18, PrintableString 19,
#: T61String 20, IA5String 22, GeneralString 27, BMPString 30.
STRING_TAGS: dict[int, str] = {
    12: "UTF8String",
    18: "NumericString",
    19: "PrintableString",
    20: "T61String",
    22: "IA5String",
    27: "GeneralString",
    30: "BMPString",
}


@attrs.frozen
class Tlv:
    """One DER TLV: class (0 universal, 1 application, 2 context, 3 private), tag number,
    and the offsets of its content ``[start, end)`` inside the buffer it was read from.
    ``begin`` is the offset of the identifier octet."""

    cls: int
    constructed: bool
    tag: int
    begin: int
    start: int
    end: int

    @property
    def length(self) -> int:
        """Length of the content octets."""
        return self.end - self.start


#: What pyasn1 raises on hostile DER besides its own PyAsn1Error: an oversized length or
#: INTEGER overflows (OverflowError), a cut value indexes past the end (IndexError), deep
#: nesting recurses (RecursionError), a string type holds bytes of another charset.
DER_DECODE_ERRORS: tuple[type[Exception], ...] = (
    PyAsn1Error,
    TypeError,
    ValueError,
    OverflowError,
    IndexError,
    RecursionError,
    UnicodeDecodeError,
)


def _bad(message: str) -> CertificateError:
    return CertificateError("cert_malformed", message)


def read_tlv(data: bytes, pos: int = 0, limit: int | None = None) -> Tlv:
    """Read one DER TLV at ``pos`` (X.690 §8.1.2-8.1.3, definite lengths only).

    Raises :class:`~shakenlib.errors.CertificateError` (``cert_malformed``) when the TLV
    is truncated, uses the indefinite form, or a non-minimal length.

    >>> read_tlv(b"\\x04\\x02ab").length
    2
    >>> read_tlv(b"\\x04\\x81\\x02ab")
    Traceback (most recent call last):
    ...
    shakenlib.errors.CertificateError: cert_malformed: non-minimal DER length
    """
    end_limit = len(data) if limit is None else limit
    begin = pos
    if pos >= end_limit:
        raise _bad("truncated TLV: no identifier octet")
    ident = data[pos]
    pos += 1
    cls = ident >> 6
    constructed = bool(ident & 0x20)
    tag = ident & 0x1F
    if tag == 0x1F:  # high tag number form, X.690 §8.1.2.4
        tag = 0
        while True:
            if pos >= end_limit:
                raise _bad("truncated TLV: tag number")
            b = data[pos]
            pos += 1
            tag = (tag << 7) | (b & 0x7F)
            if not b & 0x80:
                break
    if pos >= end_limit:
        raise _bad("truncated TLV: no length octet")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise _bad("indefinite length is not DER")
    else:
        n = first & 0x7F
        if n > 8 or pos + n > end_limit:
            raise _bad("truncated TLV: length octets")
        raw = data[pos : pos + n]
        pos += n
        if raw[0] == 0 or (n == 1 and raw[0] < 0x80):
            raise _bad("non-minimal DER length")
        length = int.from_bytes(raw, "big")
    if pos + length > end_limit:
        raise _bad("truncated TLV: content")
    return Tlv(cls, constructed, tag, begin, pos, pos + length)


def split_tlvs(data: bytes, start: int, end: int) -> list[Tlv]:
    """Every TLV in ``data[start:end]``, in order (raises on a malformed one)."""
    out: list[Tlv] = []
    pos = start
    while pos < end:
        t = read_tlv(data, pos, end)
        out.append(t)
        pos = t.end
    return out


def decode_oid(content: bytes) -> str:
    """Dotted form of the content octets of an OBJECT IDENTIFIER (X.690 §8.19)."""
    if not content or content[-1] & 0x80:
        raise _bad("malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for b in content:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def decode_string(tag: int, content: bytes) -> str | None:
    """Decode a universal string type's content (``None`` if ``tag`` is not a string type).

    BMPString is UTF-16BE; T61String and GeneralString are read as Latin-1; undecodable
    UTF-8 is replaced rather than raised.

    >>> decode_string(30, "SHAKEN".encode("utf-16-be")), decode_string(2, b"\\x01")
    ('SHAKEN', None)
    """
    if tag not in STRING_TAGS:
        return None
    if tag == 30:
        return content.decode("utf-16-be", errors="replace")
    if tag == 12:
        return content.decode("utf-8", errors="replace")
    return content.decode("latin-1")


@attrs.frozen
class Attribute:
    """One subject/issuer attribute: type OID, universal tag of the value, the decoded
    string (``None`` for non-string values) and the raw value TLV."""

    oid: str
    tag: int
    value: str | None
    raw: bytes


@attrs.frozen
class Extension:
    """One extension exactly as encoded: ``extnValue`` is the OCTET STRING's content."""

    oid: str
    critical: bool
    value: bytes


@attrs.frozen
class CertView:
    """The structural facts of a certificate (see the module docstring)."""

    der: bytes
    tbs: bytes
    version: int  # the TBS version field + 1 (1 when absent)
    serial: int
    tbs_signature_oid: str
    signature_oid: str
    signature: bytes
    issuer_raw: bytes
    subject_raw: bytes
    issuer: tuple[tuple[Attribute, ...], ...]  # RDNs in encoded order
    subject: tuple[tuple[Attribute, ...], ...]
    not_before: datetime
    not_after: datetime
    spki: bytes
    key_oid: str
    key_params_oid: str | None
    extensions: tuple[Extension, ...]

    def subject_values(self, oid: str) -> list[str]:
        """String-valued subject attributes of type ``oid``, in order (any RDN)."""
        return [
            a.value for rdn in self.subject for a in rdn if a.oid == oid and a.value is not None
        ]

    def last_extension(self, oid: str) -> Extension | None:
        """The last extension with ``oid`` (zcrypto's map is last-wins)."""
        for ext in reversed(self.extensions):
            if ext.oid == oid:
                return ext
        return None


def _parse_time(t: Tlv, data: bytes) -> datetime:
    # Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime }  (RFC 5280 §4.1.2.5)
    text = data[t.start : t.end].decode("ascii", errors="replace")
    try:
        if t.tag == 23:  # UTCTime YYMMDDHHMM[SS]Z; YY < 50 means 20YY (RFC 5280 §4.1.2.5.1)
            body = text.rstrip("Z")
            if len(body) == 10:
                body += "00"
            yy = int(body[:2])
            year = 2000 + yy if yy < 50 else 1900 + yy
            return datetime.strptime(f"{year}{body[2:12]}", "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        if t.tag == 24:  # GeneralizedTime YYYYMMDDHHMMSS[.f]Z
            body = text.rstrip("Z").split(".")[0]
            return datetime.strptime(body[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise _bad(f"bad time value {text!r}") from exc
    raise _bad("validity time is neither UTCTime nor GeneralizedTime")


def name_attributes(obj: Any) -> tuple[tuple[Attribute, ...], ...]:
    """The RDNs of a pyasn1 ``rfc5280.Name`` as :class:`Attribute` tuples."""
    rdns: list[tuple[Attribute, ...]] = []
    for rdn in obj["rdnSequence"]:
        atvs: list[Attribute] = []
        for atv in rdn:
            raw = bytes(atv["value"])
            try:
                t = read_tlv(raw)
                value = decode_string(t.tag, raw[t.start : t.end]) if t.cls == 0 else None
                tag = t.tag if t.cls == 0 else -1
            except CertificateError:
                value, tag = None, -1
            atvs.append(Attribute(str(atv["type"]), tag, value, raw))
        rdns.append(tuple(atvs))
    return tuple(rdns)


def parse_certificate(der: bytes) -> CertView:
    """Decode ``der`` into a :class:`CertView`.

    Raises :class:`~shakenlib.errors.CertificateError` (``cert_malformed``) when the bytes
    are not an X.509 certificate.

    >>> parse_certificate(b"\\x30\\x00")
    Traceback (most recent call last):
    ...
    shakenlib.errors.CertificateError: cert_malformed: not an X.509 certificate: ...
    """
    try:
        return _parse_certificate(der)
    except DER_DECODE_ERRORS as exc:
        # pyasn1 on hostile DER: an oversized length or INTEGER (OverflowError), a value
        # cut short (IndexError), deep nesting (RecursionError). CertificateError is a
        # ValueError but passes through unchanged.
        if isinstance(exc, CertificateError):
            raise
        raise _bad(f"not an X.509 certificate: {type(exc).__name__}: {exc}"[:200]) from exc


def _parse_certificate(der: bytes) -> CertView:
    try:
        try:
            cert, _rest = der_decoder.decode(der, asn1Spec=rfc5280.Certificate())
        except PyAsn1Error:
            cert, _rest = ber_decoder.decode(der, asn1Spec=rfc5280.Certificate())
        # Raw slices: Certificate SEQUENCE -> tbsCertificate SEQUENCE -> its fields.
        outer = read_tlv(der)
        tbs_t = read_tlv(der, outer.start, outer.end)
        fields = split_tlvs(der, tbs_t.start, tbs_t.end)
    except (PyAsn1Error, CertificateError) as exc:
        raise _bad(f"not an X.509 certificate: {exc}") from exc
    i = 1 if fields and fields[0].cls == 2 and fields[0].tag == 0 else 0
    if len(fields) < i + 6:
        raise _bad("not an X.509 certificate: TBSCertificate is too short")
    issuer_t, validity_t, subject_t, spki_t = fields[i + 2 : i + 6]
    times = split_tlvs(der, validity_t.start, validity_t.end)
    if len(times) != 2:
        raise _bad("not an X.509 certificate: bad Validity")
    tbs = cert["tbsCertificate"]
    spki = tbs["subjectPublicKeyInfo"]
    params = spki["algorithm"]["parameters"]
    params_oid: str | None = None
    if params.isValue:
        praw = bytes(params)
        try:
            pt = read_tlv(praw)
            if pt.cls == 0 and pt.tag == 6:
                params_oid = decode_oid(praw[pt.start : pt.end])
        except CertificateError:
            params_oid = None
    exts: list[Extension] = []
    if tbs["extensions"].isValue:
        for ext in tbs["extensions"]:
            exts.append(
                Extension(str(ext["extnID"]), bool(ext["critical"]), bytes(ext["extnValue"]))
            )
    return CertView(
        der=der,
        tbs=der[tbs_t.begin : tbs_t.end],
        version=int(tbs["version"]) + 1,
        serial=int(tbs["serialNumber"]),
        tbs_signature_oid=str(tbs["signature"]["algorithm"]),
        signature_oid=str(cert["signatureAlgorithm"]["algorithm"]),
        signature=cert["signature"].asOctets(),
        issuer_raw=der[issuer_t.begin : issuer_t.end],
        subject_raw=der[subject_t.begin : subject_t.end],
        issuer=name_attributes(tbs["issuer"]),
        subject=name_attributes(tbs["subject"]),
        not_before=_parse_time(times[0], der),
        not_after=_parse_time(times[1], der),
        spki=der[spki_t.begin : spki_t.end],
        key_oid=str(spki["algorithm"]["algorithm"]),
        key_params_oid=params_oid,
        extensions=tuple(exts),
    )


# RFC 4514 §3 short names, as cryptography's ``Name.rfc4514_string`` uses them.
_SHORT_NAMES: dict[str, str] = {
    "2.5.4.3": "CN",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.6": "C",
    "2.5.4.9": "STREET",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}


def _escape(value: str) -> str:
    # RFC 4514 §2.4 escaping, matching cryptography's _escape_dn_value.
    if not value:
        return ""
    for ch in ("\\", '"', "+", ",", ";", "<", ">"):
        value = value.replace(ch, "\\" + ch)
    value = value.replace("\0", "\\00")
    # the trailing space first: a value of one space is escaped once ("\\ "), not twice
    if value[-1] == " ":
        value = value[:-1] + "\\ "
    if value[0] in ("#", " "):
        value = "\\" + value
    return value


def format_name(rdns: tuple[tuple[Attribute, ...], ...]) -> str:
    """RFC 4514 string of a DN (last RDN first), as ``cryptography`` would print it.

    >>> a = Attribute("2.5.4.3", 12, "SHAKEN 873J", b"")
    >>> c = Attribute("2.5.4.6", 19, "US", b"")
    >>> format_name(((c,), (a,)))
    'CN=SHAKEN 873J,C=US'
    """
    parts: list[str] = []
    for rdn in reversed(rdns):
        items = []
        for a in rdn:
            name = _SHORT_NAMES.get(a.oid, a.oid)
            text = _escape(a.value) if a.value is not None else "#" + a.raw.hex()
            items.append(f"{name}={text}")
        parts.append("+".join(items))
    return ",".join(parts)
