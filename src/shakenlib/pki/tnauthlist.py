"""TNAuthList (RFC 8226 §9) and JWT claim constraints (RFC 8226 §8, RFC 9118).

The TNAuthList extension (OID 1.3.6.1.5.5.7.1.26) says which numbers a STIR certificate
may sign for: a Service Provider Code (SPC, the provider's OCN in the US), ranges of
telephone numbers, or single numbers. A SHAKEN service-provider certificate carries
exactly one SPC (ATIS-1000080 §6.4.1); a delegate certificate (RFC 9060,
ATIS-1000092) carries numbers and ranges.

Decoding uses the maintained ASN.1 definitions of ``pyasn1-modules`` (``rfc8226``)::

    TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry
    TNEntry ::= CHOICE {
        spc    [0] ServiceProviderCode,
        range  [1] TelephoneNumberRange,
        one    [2] TelephoneNumber }
    ServiceProviderCode ::= IA5String
    TelephoneNumberRange ::= SEQUENCE {
        start  TelephoneNumber,
        count  INTEGER (2..MAX) }
    TelephoneNumber ::= IA5String (SIZE (1..15)) (FROM ("0123456789#*"))

(the module uses EXPLICIT tags).

>>> der = encode_tnauthlist(spcs=["873J"])
>>> der.hex()
'3008a00616043837334a'
>>> tal = decode_tnauthlist(der)
>>> tal.spc, tal.authorizes("12155551212")
('873J', None)
>>> delegate = decode_tnauthlist(encode_tnauthlist(ranges=[TNRange("12125551000", 1000)]))
>>> delegate.authorizes("12125551999"), delegate.authorizes("12125552000")
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs
from cryptography import x509
from pyasn1.codec.der import decoder as der_decoder, encoder as der_encoder
from pyasn1.type import char, namedtype, tag, univ
from pyasn1_modules import rfc8226

from shakenlib.errors import CertificateError
from shakenlib.pki.der import DER_DECODE_ERRORS

__all__ = [
    "EJWT_CLAIM_CONSTRAINTS_OID",
    "JWT_CLAIM_CONSTRAINTS_OID",
    "TNAUTHLIST_OID",
    "JWTClaimConstraints",
    "TNAuthList",
    "TNRange",
    "decode_jwt_claim_constraints",
    "decode_tnauthlist",
    "encode_jwt_claim_constraints",
    "encode_tnauthlist",
]

TNAUTHLIST_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.26")
JWT_CLAIM_CONSTRAINTS_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.27")
EJWT_CLAIM_CONSTRAINTS_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.33")

_TN_CHARS = frozenset("0123456789#*")
_MAX_COUNT = 10**15  # every 15-digit TelephoneNumber


def _check_tn(value: str, what: str) -> str:
    # TelephoneNumber ::= IA5String (SIZE (1..15)) (FROM ("0123456789#*"))
    if not 1 <= len(value) <= 15 or not set(value) <= _TN_CHARS:
        raise CertificateError(
            "tnauthlist_invalid", f"{what} {value!r} is not a TelephoneNumber (1-15 of 0-9 # *)"
        )
    return value


@attrs.frozen
class TNRange:
    """``count`` consecutive numbers starting at ``start`` (RFC 8226 §9).

    Numbers in a range have the same length as ``start``; ``#`` and ``*`` cannot be
    counted, so a range whose start holds them covers only numbers equal to it.

    >>> r = TNRange("12155550100", 100)
    >>> "12155550199" in r, "12155550200" in r, "1215555010" in r
    (True, False, False)
    """

    start: str
    count: int

    @property
    def last(self) -> str:
        """The last number in the range (same length as ``start``, when it fits)."""
        if not self.start.isdigit():
            return self.start
        return str(int(self.start) + self.count - 1).zfill(len(self.start))

    def __contains__(self, tn: object) -> bool:
        if not isinstance(tn, str) or len(tn) != len(self.start):
            return False
        # ASCII digits only: str.isdigit() is also true of '²' (int() rejects it) and of
        # other scripts' digits (int() reads them).
        if not (tn.isascii() and tn.isdigit() and self.start.isdigit()):
            return tn == self.start
        offset = int(tn) - int(self.start)
        return 0 <= offset < self.count

    def within(self, other: TNRange) -> bool:
        """Whether every number of this range lies in ``other``."""
        return self.start in other and self.last in other and len(self.last) == len(self.start)


@attrs.frozen
class TNAuthList:
    """A decoded TNAuthList: SPCs, number ranges and single numbers, in order."""

    spcs: tuple[str, ...] = ()
    ranges: tuple[TNRange, ...] = ()
    tns: tuple[str, ...] = ()

    @property
    def spc(self) -> str | None:
        """The SPC when the list holds exactly one SPC entry, else ``None``."""
        return self.spcs[0] if len(self.spcs) == 1 else None

    @property
    def has_numbers(self) -> bool:
        """Whether the list names telephone numbers (ranges or single numbers)."""
        return bool(self.ranges or self.tns)

    def authorizes(self, tn: str) -> bool | None:
        """Whether the list covers the canonical telephone number ``tn``.

        Ranges and single numbers decide. An SPC alone cannot be checked against numbers
        (no public SPC-to-number registry is consulted), so an SPC-only list answers
        ``None``: "cannot say".

        >>> TNAuthList(tns=("12155551212",)).authorizes("12155551212")
        True
        >>> TNAuthList(spcs=("873J",)).authorizes("12155551212") is None
        True
        """
        if tn in self.tns or any(tn in r for r in self.ranges):
            return True
        if self.has_numbers:
            return False
        return None

    def encompasses(self, other: TNAuthList) -> bool:
        """RFC 9060 §4: whether ``other`` is equal to or a subset of this list.

        SPCs must appear here; each number and range of ``other`` must be covered by a
        number or a range here. A parent that lists only SPCs is taken to cover any
        numbers: which numbers an SPC holds cannot be checked offline.

        >>> parent = TNAuthList(ranges=(TNRange("12125551000", 1000),))
        >>> parent.encompasses(TNAuthList(tns=("12125551234",)))
        True
        >>> parent.encompasses(TNAuthList(ranges=(TNRange("12125551900", 200),)))
        False
        """
        if not set(other.spcs) <= set(self.spcs):
            return False
        if other.has_numbers and not self.has_numbers:
            # An SPC-scoped parent (ATIS-1000092: the SP's own delegation CA) delegating
            # numbers: which numbers an SPC holds is not known offline, so they cannot be
            # checked against it and are accepted (the child's SPCs were checked above).
            return True
        for tn in other.tns:
            if not self.authorizes(tn):
                return False
        for rng in other.ranges:
            if rng.start in self.tns and rng.count == 1:  # pragma: no cover - count >= 2
                continue
            if not any(rng.within(mine) for mine in self.ranges):
                return False
        return True

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {
            "spcs": list(self.spcs),
            "ranges": [{"start": r.start, "count": r.count} for r in self.ranges],
            "tns": list(self.tns),
        }


def _text(value: object) -> str:
    raw: bytes = value.asOctets()  # type: ignore[attr-defined]
    return raw.decode("ascii")


def decode_tnauthlist(der: bytes) -> TNAuthList:
    """Decode the DER value of a TNAuthList extension.

    Raises :class:`~shakenlib.errors.CertificateError` with code ``tnauthlist_invalid``
    for anything that is not a complete, well-formed TNAuthorizationList (truncated
    bytes, trailing bytes, a bare string in place of the list, an empty list).

    >>> decode_tnauthlist(bytes.fromhex("3006130438363734"))
    Traceback (most recent call last):
    ...
    shakenlib.errors.CertificateError: tnauthlist_invalid: TNAuthList does not decode ...
    """
    try:
        value, rest = der_decoder.decode(bytes(der), asn1Spec=rfc8226.TNAuthorizationList())
    except DER_DECODE_ERRORS as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise CertificateError(
            "tnauthlist_invalid",
            f"TNAuthList does not decode as RFC 8226 TNAuthorizationList: {detail}",
        ) from exc
    if rest:
        raise CertificateError("tnauthlist_invalid", f"{len(rest)} bytes after the TNAuthList")
    if len(value) == 0:
        raise CertificateError("tnauthlist_invalid", "TNAuthList is empty (SIZE (1..MAX))")
    spcs: list[str] = []
    ranges: list[TNRange] = []
    tns: list[str] = []
    try:
        for entry in value:
            kind = entry.getName()
            if kind == "spc":
                spc = _text(entry["spc"])
                if not spc:
                    raise CertificateError("tnauthlist_invalid", "empty SPC")
                spcs.append(spc)
            elif kind == "range":
                start = _check_tn(_text(entry["range"]["start"]), "range start")
                count = int(entry["range"]["count"])
                if count < 2:
                    raise CertificateError(
                        "tnauthlist_invalid", f"range count {count} < 2 (INTEGER (2..MAX))"
                    )
                if count > _MAX_COUNT:
                    # Numbers of a range have the length of its start (at most 15 digits),
                    # so no range holds more than 10**15; a larger INTEGER is hostile (and
                    # one of more than 4300 digits cannot even be printed).
                    raise CertificateError(
                        "tnauthlist_invalid", "range count exceeds 10**15 (15-digit numbers)"
                    )
                ranges.append(TNRange(start, count))
            else:
                tns.append(_check_tn(_text(entry["one"]), "telephone number"))
    except DER_DECODE_ERRORS as exc:
        raise CertificateError("tnauthlist_invalid", f"TNAuthList entry: {exc}"[:200]) from exc
    return TNAuthList(tuple(spcs), tuple(ranges), tuple(tns))


def encode_tnauthlist(
    *,
    spcs: Iterable[str] = (),
    ranges: Iterable[TNRange | tuple[str, int]] = (),
    tns: Iterable[str] = (),
) -> bytes:
    """DER-encode a TNAuthList (used by signers' test PKIs and :mod:`shakenlib.testing`).

    Entries are written SPCs first, then ranges, then single numbers.

    >>> encode_tnauthlist(spcs=["818H"]).hex()
    '3008a006160438313848'
    >>> encode_tnauthlist(ranges=[("12125551000", 1000)]).hex()
    '3015a1133011160b3132313235353531303030020203e8'
    """
    value = rfc8226.TNAuthorizationList()
    i = 0
    for spc in spcs:
        entry = rfc8226.TNEntry()
        entry["spc"] = entry["spc"].clone(spc)
        value[i] = entry
        i += 1
    for rng in ranges:
        start, count = (rng.start, rng.count) if isinstance(rng, TNRange) else rng
        entry = rfc8226.TNEntry()
        entry["range"]["start"] = _check_tn(start, "range start")
        entry["range"]["count"] = count
        value[i] = entry
        i += 1
    for tn in tns:
        entry = rfc8226.TNEntry()
        entry["one"] = entry["one"].clone(_check_tn(tn, "telephone number"))
        value[i] = entry
        i += 1
    if i == 0:
        raise CertificateError("tnauthlist_invalid", "a TNAuthList needs at least one entry")
    return bytes(der_encoder.encode(value))


# --- JWT claim constraints -------------------------------------------------------------
#
# RFC 8226 §8:
#   JWTClaimConstraints ::= SEQUENCE {
#       mustInclude      [0] JWTClaimNames OPTIONAL,
#       permittedValues  [1] JWTClaimPermittedValuesList OPTIONAL }
#   JWTClaimPermittedValuesList ::= SEQUENCE SIZE (1..MAX) OF JWTClaimPermittedValues
#   JWTClaimPermittedValues ::= SEQUENCE {
#       claim      JWTClaimName,
#       permitted  SEQUENCE SIZE (1..MAX) OF UTF8String }
#   JWTClaimNames ::= SEQUENCE SIZE (1..MAX) OF JWTClaimName
#   JWTClaimName ::= IA5String
#
# RFC 9118 §8 (pyasn1-modules does not ship it; defined here from its ASN.1):
#   EnhancedJWTClaimConstraints ::= SEQUENCE {
#       mustInclude      [0] JWTClaimNames OPTIONAL,
#       permittedValues  [1] JWTClaimValuesList OPTIONAL,
#       mustExclude      [2] JWTClaimNames OPTIONAL }
#   JWTClaimValuesList ::= SEQUENCE SIZE (1..MAX) OF JWTClaimValues
#   JWTClaimValues ::= SEQUENCE { claim JWTClaimName, values SEQUENCE SIZE (1..MAX) OF UTF8String }


class _EnhancedJWTClaimConstraints(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.OptionalNamedType(
            "mustInclude",
            rfc8226.JWTClaimNames().subtype(
                explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 0)
            ),
        ),
        namedtype.OptionalNamedType(
            "permittedValues",
            rfc8226.JWTClaimPermittedValuesList().subtype(
                explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 1)
            ),
        ),
        namedtype.OptionalNamedType(
            "mustExclude",
            rfc8226.JWTClaimNames().subtype(
                explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 2)
            ),
        ),
    )


@attrs.frozen
class JWTClaimConstraints:
    """JWT claim constraints of a STIR certificate (RFC 8226 §8; RFC 9118 adds mustExclude).

    >>> c = JWTClaimConstraints(must_include=("rcdi",), permitted={"attest": ("A",)})
    >>> c.check({"attest": "B", "iat": 1})
    ['claim rcdi must be included', 'claim attest has value B, not one of A']
    """

    must_include: tuple[str, ...] = ()
    permitted: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    must_exclude: tuple[str, ...] = ()
    enhanced: bool = False

    def check(self, claims: Mapping[str, object]) -> list[str]:
        """Return the violations of these constraints by a PASSporT's claims (empty: none)."""
        problems = [
            f"claim {name} must be included" for name in self.must_include if name not in claims
        ]
        for name, allowed in self.permitted.items():
            if name in claims:
                value = claims[name]
                text = value if isinstance(value, str) else None
                if text is None or text not in allowed:
                    problems.append(
                        f"claim {name} has value {value}, not one of {', '.join(allowed)}"
                    )
        problems += [
            f"claim {name} must be excluded" for name in self.must_exclude if name in claims
        ]
        return problems


def decode_jwt_claim_constraints(der: bytes, *, enhanced: bool = False) -> JWTClaimConstraints:
    """Decode JWTClaimConstraints (``enhanced=False``) or EnhancedJWTClaimConstraints."""
    spec = _EnhancedJWTClaimConstraints() if enhanced else rfc8226.JWTClaimConstraints()
    try:
        value, rest = der_decoder.decode(bytes(der), asn1Spec=spec)
        if rest:
            raise CertificateError("claim_constraints_invalid", "bytes after JWTClaimConstraints")

        def names(field: str) -> tuple[str, ...]:
            if field not in value or not value[field].isValue:
                return ()
            return tuple(_text(n) for n in value[field])

        permitted: dict[str, tuple[str, ...]] = {}
        if value["permittedValues"].isValue:
            for item in value["permittedValues"]:
                permitted[_text(item["claim"])] = tuple(str(v) for v in item["permitted"])
        result = JWTClaimConstraints(
            names("mustInclude"), permitted, names("mustExclude") if enhanced else (), enhanced
        )
    except DER_DECODE_ERRORS as exc:
        raise CertificateError(
            "claim_constraints_invalid", f"JWTClaimConstraints does not decode: {exc}"[:200]
        ) from exc
    if not (result.must_include or result.permitted or result.must_exclude):
        raise CertificateError("claim_constraints_invalid", "JWTClaimConstraints is empty")
    return result


def encode_jwt_claim_constraints(constraints: JWTClaimConstraints) -> bytes:
    """DER-encode claim constraints (enhanced form when ``constraints.enhanced``)."""
    spec = (
        _EnhancedJWTClaimConstraints() if constraints.enhanced else (rfc8226.JWTClaimConstraints())
    )
    if constraints.must_include:
        field = spec["mustInclude"]
        for i, name in enumerate(constraints.must_include):
            field[i] = name
    if constraints.permitted:
        values = spec["permittedValues"]
        for i, (name, allowed) in enumerate(constraints.permitted.items()):
            item = rfc8226.JWTClaimPermittedValues()
            item["claim"] = name
            for j, text in enumerate(allowed):
                item["permitted"][j] = char.UTF8String(text)
            values[i] = item
    if constraints.enhanced and constraints.must_exclude:
        field = spec["mustExclude"]
        for i, name in enumerate(constraints.must_exclude):
            field[i] = name
    return bytes(der_encoder.encode(spec))
