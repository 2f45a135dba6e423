"""STI certificate conformance linter, agreeing with the zlint SHAKEN lints.

:func:`lint_certificate` applies the ATIS-1000080 (v003/v004/v005) certificate profile
rules (§6.4.1), the US SHAKEN Certificate Policy (CP 1.3/1.4) rules and four RFC 5280
rules, exactly as the zlint SHAKEN run does (martinisecurity zlint fork at 2557ab8, see
``docs/certificates.md``): each rule applies to leaf (no suffix) or CA (``_ca``)
certificates, and only when the certificate's notBefore is on or after the rule's
effective date. Findings carry the zlint code, its type as ``severity``
(``error``/``warn``/``notice``) and source (``ATIS1000080``, ``US_SHAKEN_CP``,
``RFC5280``).

The facts come from a structural ``pyasn1-modules`` view (:mod:`shakenlib.pki.der`): raw
Key Usage, BasicConstraints, TNAuthList and CRL DP bytes, the TBS signature OID, raw DN
attributes. ``cryptography`` only loads the public key for the self-signature check.

>>> from shakenlib.pki.certs import load_certificates
>>> [leaf] = load_certificates(open("tests/data/certs/leaf.pem", "rb").read())
>>> lint_certificate(leaf)
[]
>>> [f.code for f in lint_certificate(open("tests/data/certs/bad-leaf.pem", "rb").read())]
['e_atis_subject_cn_spc', 'e_atis_ext_crl_distribution_struct', 'e_incorrect_ku_encoding']
>>> from datetime import datetime, UTC
>>> [f.code for f in lint_certificate(leaf, at=datetime(2040, 1, 1, tzinfo=UTC))]
['x_cert_expired_at']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shakenlib.errors import CertificateError, UsageError
from shakenlib.findings import Finding, Severity
from shakenlib.pki.certs import (
    OID_AKI,
    OID_BC,
    OID_CP,
    OID_CRLDP,
    OID_EC_KEY,
    OID_KU,
    OID_SKI,
    OID_TNAUTHLIST,
    StiCertificate,
    aki_key_id,
    basic_constraints_ca,
    crl_distribution_points,
    is_self_signed,
    load_certificates,
    octet_string_content,
    policy_oids,
)
from shakenlib.pki.der import CertView, Tlv, decode_string, parse_certificate, read_tlv, split_tlvs
from shakenlib.timeutil import require_aware

__all__ = ["RULES", "Rule", "lint_certificate", "zlint_spc"]

# ---------------------------------------------------------------------------------------
# Effective dates (cert-rules §1.2): a rule runs when notBefore >= its date.


def _d(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


A3, A3L = _d(2020, 9, 4), _d(2020, 12, 3)  # ATIS-1000080 v003 (+90 d for leaves)
A4, A4L = _d(2021, 10, 18), _d(2022, 1, 16)  # v004
A5, A5L = _d(2022, 12, 12), _d(2023, 3, 12)  # v005
CP13, CP13L = _d(2021, 8, 18), _d(2022, 1, 10)  # US SHAKEN CP 1.3 (+145 d for leaves)
CP14, CP14L = _d(2023, 6, 6), _d(2023, 9, 4)  # US SHAKEN CP 1.4
RFC2459 = _d(1999, 1, 1)

SHAKEN_CP13 = "2.16.840.1.114569.1.1.3"
SHAKEN_CP14 = "2.16.840.1.114569.1.1.4"
_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
_ECDSA_SHA384 = "1.2.840.10045.4.3.3"
_P256 = "1.2.840.10045.3.1.7"
_P384 = "1.3.132.0.34"
_SPECIFIED_EXTENSIONS = frozenset(
    {OID_KU, OID_BC, OID_CP, OID_SKI, OID_AKI, OID_CRLDP, OID_TNAUTHLIST}
)

# ---------------------------------------------------------------------------------------
# Facts (cert-rules §1.1, zcrypto semantics).


class _Facts:
    """Everything the rules look at, derived once per certificate."""

    def __init__(self, view: CertView, ss: bool | None = None) -> None:
        self.view = view
        self.not_before = view.not_before
        self.ext_oids = [e.oid for e in view.extensions]
        self.ext = {e.oid: e for e in view.extensions}  # last wins
        self.ca = False
        ku: set[int] = set()
        for e in view.extensions:
            if e.oid == OID_BC:
                decoded = basic_constraints_ca(e.value)
                if decoded is not None:
                    self.ca = decoded
            elif e.oid == OID_KU:
                bits = _key_usage_bits(e.value)
                if bits is not None:
                    ku = bits
        self.ku = ku
        self.ss = is_self_signed(view) if ss is None else ss
        self.root = self.ca and self.ss
        self.leaf = not self.ca
        self.sub = not self.ca and not self.ss
        cp = self.ext.get(OID_CP)
        self.policies = list(policy_oids(cp.value)) if cp else []
        self.sti13 = SHAKEN_CP13 in self.policies
        self.sti14 = SHAKEN_CP14 in self.policies
        self.c = view.subject_values("2.5.4.6")
        self.cn = view.subject_values("2.5.4.3")
        self.o = view.subject_values("2.5.4.10")
        self.sn = view.subject_values("2.5.4.5")
        self.cn_star = self.cn[-1] if self.cn else ""
        ski = self.ext.get(OID_SKI)
        self.ski = octet_string_content(ski.value) if ski else None
        aki = self.ext.get(OID_AKI)
        self.aki_kid = aki_key_id(aki.value) if aki else None
        dp = self.ext.get(OID_CRLDP)
        self.uris = [u for p in crl_distribution_points(dp.value) for u in p.urls] if dp else []
        tal = self.ext.get(OID_TNAUTHLIST)
        self.spc, self.spc_error = zlint_spc(tal.value if tal else None)


def _key_usage_bits(value: bytes) -> set[int] | None:
    """Bits 0..8 of a KeyUsage BIT STRING (X.690 §8.6), ``None`` if not valid DER.

    KeyUsage ::= BIT STRING { digitalSignature (0), ..., keyCertSign (5), cRLSign (6), ...}
    """
    try:
        t = read_tlv(value)
    except CertificateError:
        return None
    if t.cls != 0 or t.constructed or t.tag != 3 or t.length < 1:
        return None
    unused = value[t.start]
    body = value[t.start + 1 : t.end]
    if unused > 7 or (not body and unused) or (body and body[-1] & ((1 << unused) - 1)):
        return None
    return {i for i in range(min(9, len(body) * 8)) if body[i // 8] & (0x80 >> (i % 8))}


# ---------------------------------------------------------------------------------------
# §2.1 SPC(): zlint's hand-written TNAuthList reader. Deliberately NOT the RFC 8226 schema
# decoder (shakenlib.pki.tnauthlist): it accepts any string type inside [0], ignores trailing
# bytes and counts only [0] entries.
#
#   TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry
#   TNEntry ::= CHOICE { spc [0] ServiceProviderCode, range [1] ..., one [2] ... }
#   ServiceProviderCode ::= IA5String

_PRINTABLE = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?*&"
)
_SPC_PREFIX = "Cannot get SPC value from the TNAuthList extension, "


def _asn1_string(data: bytes, t: Tlv) -> str | None:
    content = data[t.start : t.end]
    if t.cls != 0 or t.constructed or t.tag not in (12, 18, 19, 20, 22, 27, 30):
        return None
    if t.tag == 22 and any(b >= 0x80 for b in content):
        return None
    if t.tag == 19 and not set(content) <= _PRINTABLE:
        return None
    if t.tag == 18 and not all(b == 0x20 or 0x30 <= b <= 0x39 for b in content):
        return None
    if t.tag == 12:
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if t.tag == 30 and len(content) % 2:
        return None
    return decode_string(t.tag, content)


def zlint_spc(value: bytes | None) -> tuple[str | None, str | None]:
    """The SPC of a TNAuthList extnValue as zlint reads it: ``(spc, None)`` or
    ``(None, error)`` (cert-rules §2.1).

    >>> zlint_spc(bytes.fromhex("3008a00616043837334a"))
    ('873J', None)
    >>> zlint_spc(bytes.fromhex("3006130438373331"))
    (None, 'TNAuthorizationList shall have only one TN Entry')
    >>> zlint_spc(None)
    (None, 'STI certificate shall contain TNAuthorizationList extension')
    """
    if value is None:
        return None, "STI certificate shall contain TNAuthorizationList extension"
    spcs: list[str] = []
    try:
        seq = read_tlv(value)
        if seq.cls != 0 or not seq.constructed or seq.tag != 16:
            return None, "bad TNAuthorizationList, not a SEQUENCE"
        for entry in split_tlvs(value, seq.start, seq.end):
            if entry.tag != 0:
                continue  # [1] range, [2] one: skipped and not counted
            inner = read_tlv(value, entry.start, entry.end)
            text = _asn1_string(value, inner)
            if text is None:
                return None, "bad TNAuthorizationList, SPC is not an ASN.1 string"
            spcs.append(text)
    except CertificateError as exc:
        return None, f"bad TNAuthorizationList, bad TNAuthorizationList ASN.1 raw, {exc.message}"
    if len(spcs) != 1:
        return None, "TNAuthorizationList shall have only one TN Entry"
    if not spcs[0]:
        return None, "SPC value shall not be empty"
    return spcs[0], None


# ---------------------------------------------------------------------------------------
# The rule table.


@attrs.frozen
class Rule:
    """One conformance rule (a zlint lint). ``effective`` is ``None`` for rules that
    always apply; ``applies_to`` is a short description of the certificates it checks."""

    code: str
    severity: Severity
    source: str  # ATIS1000080 | US_SHAKEN_CP | RFC5280
    document: str
    section: str
    applies_to: str
    effective: datetime | None
    description: str

    def to_dict(self) -> dict[str, str | None]:
        """Plain JSON-ready dict."""
        return {
            "code": self.code,
            "severity": self.severity,
            "source": self.source,
            "document": self.document,
            "section": self.section,
            "applies_to": self.applies_to,
            "effective": self.effective.date().isoformat() if self.effective else None,
            "description": self.description,
        }


_Check = Callable[[_Facts], "str | None"]
_Applies = Callable[[_Facts], bool]

_IMPL: dict[str, tuple[_Applies, _Check]] = {}
_rules: list[Rule] = []

_DOCS = {
    "v003": ("ATIS1000080", "ATIS-1000080 v003", "§6.4.1"),
    "v004": ("ATIS1000080", "ATIS-1000080 v004", "§6.4.1"),
    "v005": ("ATIS1000080", "ATIS-1000080 v005", "§6.4.1"),
    "cp13": ("US_SHAKEN_CP", "US SHAKEN CP 1.3", "§1.3"),
    "cp13s": ("US_SHAKEN_CP", "US SHAKEN CP 1.3", "§3.1"),
    "cp14": ("US_SHAKEN_CP", "US SHAKEN CP 1.4", "§3.1"),
}


def _add(
    code: str,
    doc: str,
    applies_to: str,
    applies: _Applies,
    effective: datetime | None,
    description: str,
    check: _Check,
    *,
    severity: Severity = "error",
) -> None:
    if doc in _DOCS:
        source, document, section = _DOCS[doc]
    else:  # "rfc:<section>"
        source, document, section = "RFC5280", "RFC 5280", doc.split(":", 1)[1]
    _rules.append(
        Rule(code, severity, source, document, section, applies_to, effective, description)
    )
    _IMPL[code] = (applies, check)


def _pair(
    code: str,
    doc: str,
    leaf_date: datetime,
    ca_date: datetime,
    description: str,
    check: _Check,
    *,
    extra: _Applies | None = None,
    extra_text: str = "",
) -> None:
    """A leaf rule ``code`` and its CA variant ``code_ca``."""
    cond: _Applies = extra if extra is not None else (lambda f: True)
    _add(
        code, doc, "leaf" + extra_text, lambda f: f.leaf and cond(f), leaf_date, description, check
    )
    _add(
        code + "_ca",
        doc,
        "CA" + extra_text,
        lambda f: f.ca and cond(f),
        ca_date,
        description,
        check,
    )


# Row 1
def _version(f: _Facts) -> str | None:
    if f.view.version != 3:
        return "STI certificates shall contain Version field specifying version 3"
    return None


# Row 2
def _serial(f: _Facts) -> str | None:
    if f.view.serial <= 0:
        return "STI certificates shall have a positive serial number"
    return None


# Row 3: Go big.Int BitLen of the magnitude.
def _serial_size(f: _Facts) -> str | None:
    n = abs(f.view.serial).bit_length()
    if n < 64:
        return (
            f"STI certificates shall have a serial number that contains at least 64 bits, got {n}"
        )
    return None


# Row 4: the OID in TBSCertificate.signature.
def _sig_alg(f: _Facts) -> str | None:
    oid = f.view.tbs_signature_oid
    if oid == _ECDSA_SHA256 or (oid == _ECDSA_SHA384 and (f.sti14 or f.root)):
        return None
    return f"SignatureAlgorithm field is not 'ecdsa-with-SHA256', got {oid}"


# Row 5 (zlint 2557ab8)
def _public_key(f: _Facts) -> str | None:
    if f.view.key_oid != OID_EC_KEY:
        return f"Subject Public Key Info field is not id-ecPublicKey, got {f.view.key_oid}"
    curve = f.view.key_params_oid
    if curve == _P256 or (curve == _P384 and f.sti14 and f.ca):
        return None
    return "Subject Public Key Info field contains a public key that is not 256 bits"


# Row 6
def _subject_dn(f: _Facts) -> str | None:
    if not f.c:
        return "Subject DN does not contain a Country (C=) attribute"
    if not f.cn:
        return "Subject DN does not contain a Common Name (CN=) attribute"
    if len(f.c) > 1:
        return "Subject DN contains more than one Country (C=) attribute"
    if len(f.cn) > 1:
        return "Subject DN contains more than one Common Name (CN=) attribute"
    return None


# Row 7
_SHAKEN_RE = re.compile(r"\bSHAKEN\b", re.ASCII)


def _subject_cn(f: _Facts) -> str | None:
    if _SHAKEN_RE.search(f.cn_star) is None:
        return f"Common Name attribute '{f.cn_star}' does not contain 'SHAKEN'"
    return None


# Row 8
_ROOT_RE = re.compile(r"\bROOT\b", re.ASCII | re.IGNORECASE)


def _subject_cn_root(f: _Facts) -> str | None:
    if _ROOT_RE.search(f.cn_star) is None:
        return f"Common Name attribute '{f.cn_star}' does not contain 'ROOT'"
    return None


# Row 9: the SPC is inserted unescaped into the regex, as zlint does.
def _subject_cn_spc(f: _Facts) -> str | None:
    if f.spc is None:
        return _SPC_PREFIX + (f.spc_error or "")
    try:
        found = re.search(r"\bSHAKEN " + f.spc + r"\b", f.cn_star, re.ASCII)
    except re.error:
        found = None
    if found is None:
        return (
            f"Common name shall contain the text string 'SHAKEN {f.spc}', "
            f"but common name is '{f.cn_star}'"
        )
    return None


# Row 10
def _subject_o(f: _Facts) -> str | None:
    if len(f.o) != 1:
        return "The DN does not contain exactly one Organization (O=) attribute."
    return None


# Row 11
def _subject_c_iso(f: _Facts) -> str | None:
    if len(f.c) != 1:
        return "Subject MUST be present and MUST contain exactly one value for Country (C=)."
    if re.fullmatch(r"[A-Z]{2}", f.c[0]) is None:
        return f"Country (C=) value '{f.c[0]}' is not an ISO 3166 alpha-2 code"
    return None


# Row 12
def _subject_c_us(f: _Facts) -> str | None:
    if len(f.c) != 1 or f.c[0] != "US":
        return 'Subject MUST contain a Country (C=) of "US".'
    return None


# Row 13
def _sn_shall(f: _Facts) -> str | None:
    if not f.sn or f.sn[-1] == "":
        return "The DN does not contain a serialNumber attribute."
    return None


# Row 14, Row 37
def _never(f: _Facts) -> str | None:
    return None


# Row 15
def _aki(f: _Facts) -> str | None:
    if OID_AKI not in f.ext:
        return "STI certificates shall contain an Authority Key Identifier extension"
    return None


# Row 16
def _aki_root(f: _Facts) -> str | None:
    if (f.ski or b"") != (f.aki_kid or b""):
        return "The Authority Key Identifier of a root shall equal its Subject Key Identifier"
    return None


# Row 17
def _bc(f: _Facts) -> str | None:
    bc = f.ext.get(OID_BC)
    if bc is None:
        return "BasicConstraints extension not found"
    if not bc.critical:
        return "BasicConstraints extension is not marked critical"
    if basic_constraints_ca(bc.value) is None:
        return "BasicConstraints extension cannot be decoded"
    return None


# Row 18
def _cp(f: _Facts) -> str | None:
    cp = f.ext.get(OID_CP)
    if cp is None:
        return "The Certificate Policies extension is not present"
    if cp.critical:
        return "The Certificate Policies extension is marked as critical"
    if len(f.policies) != 1:
        return "The Certificate Policies extension shall contain exactly one policy"
    return None


# Row 19
def _cp_id(f: _Facts) -> str | None:
    if len(f.policies) != 1:
        return (
            "The Certificate Policies extension does not contain a single OID value that "
            "identifies the SHAKEN Certificate Policy established by the STI-PA"
        )
    if f.policies[0] not in (SHAKEN_CP13, SHAKEN_CP14):
        return (
            f"The Certificate Policies extension contains an invalid OID value: "
            f"{f.policies[0]}. Available OIDs: {SHAKEN_CP13}, {SHAKEN_CP14}"
        )
    return None


# Row 20
def _cp_root(f: _Facts) -> str | None:
    if OID_CP in f.ext:
        return "Root certificates shall not contain a Certificate Policies extension"
    return None


# Row 21
def _crldp(f: _Facts) -> str | None:
    if OID_CRLDP not in f.ext:
        return "STI End-Entity certificates shall contain a CRL Distribution Points extension"
    if len(f.uris) != 1:
        return f"CRL Distribution Points shall contain exactly one URI, got {len(f.uris)}"
    if not f.uris[0].startswith("http"):
        return f"CRL Distribution Point URI '{f.uris[0]}' is not an HTTP URL"
    return None


# Row 22 (§2.2): walk only the first DistributionPoint.
#   CRLDistributionPoints ::= SEQUENCE SIZE (1..MAX) OF DistributionPoint
#   DistributionPoint ::= SEQUENCE { distributionPoint [0] ..., reasons [1] ...,
#                                    cRLIssuer [2] GeneralNames OPTIONAL }
def _crldp_struct(f: _Facts) -> str | None:
    v = f.ext[OID_CRLDP].value
    try:
        outer = read_tlv(v)
        if outer.cls != 0 or not outer.constructed or outer.tag != 16:
            return "CRL Distribution Points is not a SEQUENCE"
        dp = read_tlv(v, outer.start, outer.end)
        if dp.cls != 0 or not dp.constructed or dp.tag != 16:
            return "CRL Distribution Point is not a SEQUENCE"
        first = read_tlv(v, dp.start, dp.end)
        if first.cls != 2 or not first.constructed or first.tag != 0:
            return "CRL Distribution Point shall contain a distributionPoint field"
        if first.end >= dp.end:
            return "CRL Distribution Point shall contain a CRLIssuer field"
        second = read_tlv(v, first.end, dp.end)
        if second.cls != 2 or not second.constructed or second.tag != 2:
            return "CRL Distribution Point shall contain a CRLIssuer field after distributionPoint"
    except CertificateError as exc:
        return f"CRL Distribution Points cannot be parsed: {exc.message}"
    return None


# Row 23
def _crldp_root(f: _Facts) -> str | None:
    if OID_CRLDP in f.ext:
        return "Root certificates shall not contain a CRL Distribution Points extension"
    return None


# Row 24
def _ku(f: _Facts) -> str | None:
    ku = f.ext.get(OID_KU)
    if ku is None:
        return "Key Usage extension not found"
    if not ku.critical:
        return "Key Usage extension is not marked critical"
    return None


# Row 25
def _ku_ca(f: _Facts) -> str | None:
    if f.sti14:
        if f.ku != {5}:
            return "The Key Usage extension for STI CA certificates shall contain only keyCertSign"
    elif 5 not in f.ku or not f.ku <= {0, 5, 6}:
        return (
            "The Key Usage extension for STI CA certificates shall contain keyCertSign and "
            "optionally digitalSignature and cRLSign"
        )
    return None


# Row 26
def _ku_ee(f: _Facts) -> str | None:
    if f.ku != {0}:
        return (
            "The Key Usage extension for STI end-entity certificates shall contain a single "
            "key usage value of digitalSignature (0)."
        )
    return None


# Row 27
def _not_specified(f: _Facts) -> str | None:
    bad = [oid for oid in f.ext_oids if oid not in _SPECIFIED_EXTENSIONS]
    if bad:
        return "Certificate contains extensions that are not specified: " + ", ".join(bad)
    return None


# Row 28
def _ski(f: _Facts) -> str | None:
    if OID_SKI not in f.ext:
        return "Subject Key Identifier extension not found"
    return None


# Row 29: the content length of the first TLV of extnValue; the tag is not checked.
def _ski_size(f: _Facts) -> str | None:
    ski = f.ext.get(OID_SKI)
    if ski is None:
        return "Subject Key Identifier extension not found"
    try:
        t = read_tlv(ski.value)
    except CertificateError:
        return "Subject Key Identifier extension cannot be parsed"
    if t.length != 20:
        return f"Subject Key Identifier shall be 160 bits, got {t.length * 8}"
    return None


# Row 30
def _tn_auth_list(f: _Facts) -> str | None:
    tal = f.ext.get(OID_TNAUTHLIST)
    if tal is None:
        return "the TNAuthList extension is not present"
    if tal.critical:
        return "the TNAuthList extension is marked critical"
    return f.spc_error


# Row 31
def _tn_auth_list_ca(f: _Facts) -> str | None:
    return "STI CA certificates shall not contain a TNAuthList extension"


# Row 32
def _spc_format(f: _Facts) -> str | None:
    if f.spc is None:
        return f.spc_error
    if re.fullmatch(r"[A-Z0-9]+", f.spc) is None:
        return (
            f"the SPC value '{f.spc}' contains characters other than uppercase letters and numbers"
        )
    return None


# Row 33 (§2.3): byte positions of the raw extnValue, 03 LL UU B1..Bn.
def _ku_encoding(f: _Facts) -> str | None:
    v = f.ext[OID_KU].value
    declared = v[2]
    tail = int.from_bytes(v[3:], "big")
    actual = (tail & -tail).bit_length() - 1 if tail else 0
    if declared != actual:
        raw = " ".join(str(b) for b in v)
        binary = " ".join(f"{b:08b}" for b in v)
        return (
            f"KeyUsage contains an inefficient encoding wherein the number of 'unused bits' is "
            f"declared to be {declared}, but it should be {actual}. "
            f"Raw Bytes: [{raw}], Raw Binary: [{binary}]"
        )
    return None


# Row 34
def _aki_missing(f: _Facts) -> str | None:
    if OID_AKI not in f.ext and not f.ss:
        return (
            "the authorityKeyIdentifier extension is missing from a certificate that is not "
            "self-signed"
        )
    return None


# Row 35
def _aki_no_kid(f: _Facts) -> str | None:
    if f.aki_kid is None and not (f.ca and f.ss):
        return "the authorityKeyIdentifier has no keyIdentifier field"
    return None


# Row 36
def _ski_missing_sub(f: _Facts) -> str | None:
    if OID_SKI not in f.ext:
        return "the subjectKeyIdentifier extension is missing from a subscriber certificate"
    return None


def _not_root(f: _Facts) -> bool:
    return not f.root


def _is_sti13(f: _Facts) -> bool:
    return f.sti13


def _is_sti14(f: _Facts) -> bool:
    return f.sti14


def _always(f: _Facts) -> bool:
    return True


_pair("e_atis_version", "v003", A3L, A3, "version is v3", _version)
_pair("e_atis_serial_number", "v003", A3L, A3, "serial number is positive", _serial)
_pair("e_atis_serial_number_size", "v005", A5L, A5, "serial has at least 64 bits", _serial_size)
_pair(
    "e_atis_signature_algorithm",
    "v003",
    A3L,
    A3,
    "TBS signature is ecdsa-with-SHA256 (SHA384 with CP 1.4 or for roots)",
    _sig_alg,
)
_pair(
    "e_atis_subject_public_key",
    "v003",
    A3L,
    A3,
    "key is EC P-256 (P-384 for CP 1.4 CAs)",
    _public_key,
)
_pair("e_atis_subject_dn", "v003", A3L, A3, "subject has exactly one C and one CN", _subject_dn)
_pair("e_atis_subject_cn", "v003", A3L, A3, "CN contains the word SHAKEN", _subject_cn)
_add(
    "e_atis_subject_cn_root",
    "v005",
    "root",
    lambda f: f.root,
    A5,
    "root CN contains the word ROOT",
    _subject_cn_root,
)
_add(
    "e_atis_subject_cn_spc",
    "v004",
    "subscriber (leaf, not self-signed)",
    lambda f: f.sub,
    A4L,
    "CN contains 'SHAKEN <SPC>'",
    _subject_cn_spc,
)
_pair("e_atis_subject_o_required", "v004", A4L, A4, "exactly one O attribute", _subject_o)
_pair(
    "e_atis_subject_c_iso", "v005", A5L, A5, "exactly one C, two upper-case letters", _subject_c_iso
)
_pair(
    "e_atis_subject_c_us",
    "cp14",
    CP14L,
    CP14,
    "C is US",
    _subject_c_us,
    extra=_is_sti14,
    extra_text=" with CP 1.4",
)
_pair(
    "e_us_cp_subject_sn_shall",
    "cp13s",
    CP13L,
    CP13,
    "subject has a serialNumber",
    _sn_shall,
    extra=lambda f: f.sti13 and OID_TNAUTHLIST in f.ext,
    extra_text=" with CP 1.3 and a TNAuthList",
)
_pair(
    "e_us_cp_subject_sn_may",
    "cp14",
    CP14L,
    CP14,
    "subject may have a serialNumber",
    _never,
    extra=_is_sti14,
    extra_text=" with CP 1.4",
)
_pair(
    "e_atis_ext_authority_key_identifier",
    "v003",
    A3L,
    A3,
    "AKI is present",
    _aki,
    extra=_not_root,
    extra_text=" (not root)",
)
_add(
    "e_atis_ext_authority_key_identifier_root",
    "v003",
    "root with AKI",
    lambda f: f.root and OID_AKI in f.ext,
    A3,
    "root AKI equals its SKI",
    _aki_root,
)
_add(
    "e_atis_ext_basic_constraints",
    "v003",
    "all",
    _always,
    A3,
    "BasicConstraints present, critical and decodable",
    _bc,
)
_pair(
    "e_atis_ext_certificate_policies",
    "v003",
    A3L,
    A3,
    "CP present, not critical, one policy",
    _cp,
    extra=_not_root,
    extra_text=" (not root)",
)
_pair(
    "e_shaken_certificate_policies_id",
    "cp13",
    CP13L,
    CP13,
    "the one policy is SHAKEN CP 1.3 or 1.4",
    _cp_id,
    extra=_not_root,
    extra_text=" (not root)",
)
_add(
    "e_atis_ext_certificate_policies_root",
    "v005",
    "root",
    lambda f: f.root,
    A5,
    "root has no Certificate Policies",
    _cp_root,
)
_pair(
    "e_atis_ext_crl_distribution",
    "v003",
    A3L,
    A3,
    "CRL DP with one http(s) URI",
    _crldp,
    extra=_not_root,
    extra_text=" (not root)",
)
_pair(
    "e_atis_ext_crl_distribution_struct",
    "v004",
    A4L,
    A4,
    "first CRL DP has distributionPoint then cRLIssuer",
    _crldp_struct,
    extra=lambda f: OID_CRLDP in f.ext and not f.root and f.sti14,
    extra_text=" with CRL DP and CP 1.4 (not root)",
)
_add(
    "e_atis_ext_crl_distribution_root",
    "v005",
    "root",
    lambda f: f.root,
    A5,
    "root has no CRL DP",
    _crldp_root,
)
_add("e_atis_ext_key_usage", "v003", "all", _always, A3, "Key Usage present and critical", _ku)
_add(
    "e_atis_ext_key_usage_ca",
    "v003",
    "CA with Key Usage",
    lambda f: f.ca and OID_KU in f.ext,
    A3,
    "CA Key Usage is keyCertSign (+digitalSignature, cRLSign before CP 1.4)",
    _ku_ca,
)
_add(
    "e_atis_ext_key_usage_ee",
    "v003",
    "leaf with Key Usage",
    lambda f: f.leaf and OID_KU in f.ext,
    A3L,
    "leaf Key Usage is digitalSignature only",
    _ku_ee,
)
_pair(
    "e_atis_ext_not_specified",
    "v005",
    A5L,
    A5,
    "no extensions beyond the profile's",
    _not_specified,
)
_pair("e_atis_subject_key_identifier", "v003", A3L, A3, "SKI is present", _ski)
_pair("e_atis_subject_key_identifier_size", "v004", A4L, A4, "SKI is 160 bits", _ski_size)
_add(
    "e_atis_tn_auth_list",
    "v003",
    "leaf",
    lambda f: f.leaf,
    A3L,
    "TNAuthList present, not critical, one SPC",
    _tn_auth_list,
)
_add(
    "e_atis_tn_auth_list_ca",
    "v003",
    "CA with TNAuthList",
    lambda f: f.ca and OID_TNAUTHLIST in f.ext,
    A3,
    "CA has no TNAuthList",
    _tn_auth_list_ca,
)
_add(
    "e_atis_tn_auth_list_spc_format",
    "v005",
    "leaf",
    lambda f: f.leaf,
    A5L,
    "SPC is upper-case letters and digits",
    _spc_format,
)
_add(
    "e_incorrect_ku_encoding",
    "rfc:§4.2.1.3",
    "Key Usage with a value of 4+ bytes",
    lambda f: OID_KU in f.ext and len(f.ext[OID_KU].value) >= 4,
    None,
    "KU unused-bits count equals the trailing zero bits (DER)",
    _ku_encoding,
)
_add(
    "e_ext_authority_key_identifier_missing",
    "rfc:§4.2.1.1",
    "not root",
    _not_root,
    RFC2459,
    "AKI present unless self-signed",
    _aki_missing,
)
_add(
    "e_ext_authority_key_identifier_no_key_identifier",
    "rfc:§4.2.1.1",
    "all (not CA+SS)",
    _always,
    RFC2459,
    "AKI has keyIdentifier",
    _aki_no_kid,
)
_add(
    "w_ext_subject_key_identifier_missing_sub_cert",
    "rfc:§4.2.1.2",
    "leaf",
    lambda f: f.leaf,
    RFC2459,
    "subscriber certificate has SKI",
    _ski_missing_sub,
    severity="warn",
)
_add(
    "e_issuer_root",
    "v003",
    "root",
    lambda f: f.root,
    A3,
    "root issuer equals subject (always true for a root)",
    _never,
)

#: Every rule the linter applies, in the order findings are reported.
RULES: tuple[Rule, ...] = tuple(_rules)

# ---------------------------------------------------------------------------------------


def _facts_of(cert: StiCertificate | x509.Certificate | bytes) -> _Facts:
    if isinstance(cert, StiCertificate):
        return _Facts(cert.view, cert.self_signed)
    return _Facts(_view_of(cert))


def _view_of(cert: x509.Certificate | bytes) -> CertView:
    if isinstance(cert, x509.Certificate):
        return parse_certificate(cert.public_bytes(serialization.Encoding.DER))
    if isinstance(cert, bytes | bytearray | memoryview):
        data = bytes(cert)
        if b"-----BEGIN" in data:
            certs = load_certificates(data)
            if len(certs) != 1:
                raise UsageError("usage", f"expected one certificate, got {len(certs)}")
            return parse_certificate(certs[0].der)
        return parse_certificate(data)
    raise UsageError("usage", f"cannot lint a {type(cert).__name__}")


def lint_certificate(
    cert: StiCertificate | x509.Certificate | bytes, *, at: datetime | None = None
) -> list[Finding]:
    """Lint one certificate against every rule in :data:`RULES`.

    ``cert`` may be a :class:`~shakenlib.pki.certs.StiCertificate`, a ``cryptography``
    certificate, DER bytes or the PEM of one certificate. Findings come in :data:`RULES`
    order. With ``at`` (timezone-aware), two extra non-zlint findings report a
    certificate that is not valid at that instant: ``x_cert_not_yet_valid_at`` and
    ``x_cert_expired_at`` (severity ``error``, source ``shakenlib``).

    Raises :class:`~shakenlib.errors.CertificateError` (``cert_malformed``) when the input
    is not a certificate.
    """
    facts = _facts_of(cert)
    out: list[Finding] = []
    for rule in RULES:
        applies, check = _IMPL[rule.code]
        if not applies(facts):
            continue
        if rule.effective is not None and facts.not_before < rule.effective:
            continue
        details = check(facts)
        if details is not None:
            out.append(
                Finding(
                    rule.code,
                    rule.severity,
                    f"{rule.document} {rule.section}: {details}",
                    source=rule.source,
                )
            )
    if at is not None:
        require_aware(at)
        view = facts.view
        if at < view.not_before:
            out.append(
                Finding(
                    "x_cert_not_yet_valid_at",
                    "error",
                    f"not valid before {view.not_before.isoformat()} (at {at.isoformat()})",
                    source="shakenlib",
                )
            )
        elif at > view.not_after:
            out.append(
                Finding(
                    "x_cert_expired_at",
                    "error",
                    f"expired at {view.not_after.isoformat()} (at {at.isoformat()})",
                    source="shakenlib",
                )
            )
    return out
