"""PASSporTs (RFC 8225) and their extensions: decode, encode, rebuild compact form.

Decoding is on the verification hot path, so it is lean: one split, a cheap alphabet check
and ``binascii`` per segment, the C JSON scanner, and findings built only when something is
wrong. The signature input is the exact received ``header.claims`` text: never
re-serialised (RFC 8225 §9 canonical JSON is for signing and for compact form only).

>>> from shakenlib.sip.passport import decode_passport, encode_passport
>>> token = encode_passport(
...     {"alg": "ES256", "typ": "passport", "ppt": "shaken", "x5u": "https://cr.example/c.pem"},
...     {"attest": "A", "dest": {"tn": ["12155551213"]}, "iat": 1700000000,
...      "orig": {"tn": "12155551212"}, "origid": "123e4567-e89b-12d3-a456-426614174000"},
...     sign=lambda data: bytes(64))
>>> p = decode_passport(token)
>>> p.ppt, p.claims.attest, p.claims.orig_tn, p.claims.dest_tn, p.findings
('shaken', 'A', '12155551212', ('12155551213',), ())
"""

from __future__ import annotations

import base64
import binascii
import json
import json.scanner
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from shakenlib._frozen import build as _make
from shakenlib.errors import IdentityHeaderError, PassportError, ShakenError, UsageError, detached
from shakenlib.findings import Finding, Severity
from shakenlib.sip.identity import IdentityHeader, _parse_identity, parse_identity
from shakenlib.sip.message import SipMessage
from shakenlib.tn import tn_from_uri

__all__ = [
    "SUPPORTED_PPT",
    "Claims",
    "DecodedIdentity",
    "JoseHeader",
    "PASSporT",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "decode_compact",
    "decode_identity",
    "decode_passport",
    "encode_passport",
    "rebuild_compact",
]

#: PASSporT extensions this decoder understands (IANA PASSporT Extensions registry).
#: RFC 8225 §8.3: a relying party MUST fail a PASSporT whose ppt it does not support.
SUPPORTED_PPT: frozenset[str] = frozenset({"shaken", "div", "div-o", "rcd", "rph"})

_HEADER_KEYS = frozenset({"alg", "typ", "ppt", "x5u"})
_CLAIM_KEYS = frozenset(
    {"iat", "orig", "dest", "mky", "attest", "origid", "div", "opt", "rcd", "rcdi", "crn", "rph"}
)
_SHAKEN_KEYS = frozenset({"iat", "orig", "dest", "attest", "origid"})
_ATTEST = frozenset({"A", "B", "C"})
_SRC_8225 = "RFC 8225"
_SRC_8588 = "RFC 8588 / ATIS-1000074"
_SRC_8946 = "RFC 8946"

# RFC 4122 string form, e.g. 123e4567-e89b-12d3-a456-426614174000 (ATIS-1000074 origid).
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_TN = re.compile(r"[0-9#*]+")

_TO_STD = bytes.maketrans(b"-_", b"+/")
# The C scanner: json.loads without its per-call setup (about twice as fast here).


def _no_constant(name: str) -> object:
    # RFC 8259 §6: "Numeric values that cannot be represented ... (such as Infinity and
    # NaN) are not permitted"; Python's json accepts them unless told otherwise.
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)
_SCAN: Callable[[str, int], tuple[object, int]] = json.scanner.make_scanner(
    _DECODER  # type: ignore[arg-type]
)
# RFC 8259 §2: ws = *( %x20 / %x09 / %x0A / %x0D ). Raw HTAB/LF/CR cannot occur inside a
# JSON string, so any of them (or a space outside a string, or an escape) means the
# text may not be RFC 8225 §9 deterministic JSON.
_WS_OR_ESCAPE = re.compile(rb"[ \t\n\r\\]")
# A NumericDate beyond this many seconds from 1970 is not a time (and 10**400 would
# overflow a float in the freshness check); the same bound applies to float iat values.
_IAT_LIMIT = 10**15


# ----------------------------------------------------------------------------- models


@attrs.frozen(slots=False)  # dict-backed: faster to build on the hot path
class JoseHeader:
    """The JOSE (protected) header of a PASSporT (RFC 8225 §4)."""

    alg: str | None
    typ: str | None
    ppt: str | None
    x5u: str | None
    #: Members other than alg/typ/ppt/x5u.
    extra: Mapping[str, object]


@attrs.frozen(slots=False)  # dict-backed: faster to build on the hot path
class Claims:
    """PASSporT claims (RFC 8225 §5; ``shaken`` RFC 8588; ``div`` RFC 8946; ``rcd``
    RFC 9795; ``rph`` RFC 8443). Values are as received (TNs are not re-canonicalised)."""

    iat: int | None
    orig_tn: str | None
    orig_uri: str | None
    dest_tn: tuple[str, ...]
    dest_uri: tuple[str, ...]
    mky: tuple[Mapping[str, object], ...]
    attest: str | None
    origid: str | None
    div_tn: tuple[str, ...]
    div_uri: tuple[str, ...]
    opt: str | None
    rcd: Mapping[str, object] | None
    rcdi: Mapping[str, object] | None
    crn: str | None
    rph: Mapping[str, object] | None
    #: Claims this library does not model.
    extra: Mapping[str, object]


@attrs.frozen(slots=False)  # dict-backed: faster to build on the hot path
class PASSporT:
    """A decoded full-form PASSporT."""

    token: str
    header: JoseHeader
    claims: Claims
    #: The JSON objects as received.
    header_json: Mapping[str, object]
    claims_json: Mapping[str, object]
    #: The exact received ASCII ``header_b64.claims_b64``: the signature input.
    signing_input: bytes
    #: The decoded signature bytes, as received (64 bytes R||S when well formed).
    signature: bytes
    findings: tuple[Finding, ...]

    @property
    def ppt(self) -> str | None:
        """The JOSE header ``ppt`` (``None`` for a baseline PASSporT)."""
        return self.header.ppt

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``header``, ``claims`` (as received) and ``findings``."""
        return {
            "header": dict(self.header_json),
            "claims": dict(self.claims_json),
            "findings": [f.to_dict() for f in self.findings],
        }


# ----------------------------------------------------------------------------- JSON / base64


def canonical_json(obj: object) -> bytes:
    """RFC 8225 §9 deterministic JSON: keys sorted, no whitespace, UTF-8.

    RFC 8225 §9 applies RFC 7638 §3 step 1: "members ... in lexicographic order ... with
    no whitespace or line breaks", recursively for nested objects.

    >>> canonical_json({"orig": {"tn": "12155551212"}, "dest": {"tn": ["1"]}, "iat": 1})
    b'{"dest":{"tn":["1"]},"iat":1,"orig":{"tn":"12155551212"}}'
    """
    try:
        text = json.dumps(
            obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError, RecursionError) as exc:
        raise UsageError("usage", f"cannot serialise as JSON: {exc}") from exc
    return text.encode("utf-8")


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 §2).

    >>> b64url_encode(b"\\xfb\\xff")
    '-_8'
    """
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# RFC 4648 §3.5: the pad bits of the last character must be zero. With len % 4 == 2 the
# last character carries 2 data bits (its value is a multiple of 16); with 3, 4 bits (a
# multiple of 4). Without this check two texts decode to the same signature.
_TAIL_OK = {
    0: None,
    2: frozenset("AQgw"),
    3: frozenset("AEIMQUYcgkosw048"),
}


def _canonical_tail(segment: str) -> bool:
    allowed = _TAIL_OK.get(len(segment) & 3)
    return allowed is None or segment[-1] in allowed


def b64url_decode(segment: str, what: str = "segment") -> bytes:
    """Decode unpadded base64url (RFC 7515 §2); raises ``PassportError`` (``passport_base64``).

    >>> b64url_decode("-_8")
    b'\\xfb\\xff'
    >>> b64url_decode("ab+/")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shakenlib.errors.PassportError: passport_base64: segment uses '+' or '/' (classic base64); ...
    """
    # RFC 7515 §2: Base64url Encoding ... with all trailing '=' characters omitted.
    if "=" in segment:
        raise PassportError(
            "passport_base64", f"{what} has '=' padding; base64url in JWS is unpadded"
        )
    if "+" in segment or "/" in segment:
        raise PassportError(
            "passport_base64",
            f"{what} uses '+' or '/' (classic base64); PASSporTs use base64url ('-' and '_')",
        )
    rem = len(segment) % 4
    if rem == 1:
        raise PassportError("passport_base64", f"{what} has an impossible base64url length")
    if not _canonical_tail(segment):
        raise PassportError(
            "passport_base64",
            f"{what} has non-zero trailing bits (not canonical base64url, RFC 4648 §3.5)",
        )
    try:
        raw = segment.encode("ascii").translate(_TO_STD)
        return binascii.a2b_base64(raw + b"=" * (-rem % 4), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
        raise PassportError(
            "passport_base64", f"{what} holds characters outside the base64url alphabet"
        ) from exc


def _json_object(data: bytes, what: str) -> tuple[dict[str, Any], bool]:
    """Parse a JSON object; returns (object, fast) where fast means no surrounding space."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PassportError("passport_json", f"{what} is not UTF-8") from exc
    obj: object
    try:
        obj, end = _SCAN(text, 0)
        fast = end == len(text)
        if not fast:
            raise ValueError("trailing data")
    except (StopIteration, ValueError, RecursionError):
        fast = False
        try:
            obj = _DECODER.decode(text)
        except (ValueError, RecursionError) as exc:
            msg = f"{what} is not JSON: {exc}"[:200]
            raise PassportError("passport_json", msg) from exc
    if type(obj) is not dict:
        raise PassportError("passport_json", f"{what} is not a JSON object")
    # RFC 8259 §8.2 / RFC 7493 §2.1 (I-JSON): strings are sequences of Unicode scalar
    # values; an escaped lone surrogate ("\\ud800") is not one, and Python's decoder
    # would let it through to fail later when the text is encoded again.
    if b"\\u" in data and _LONE_SURROGATE.search(text):
        _check_scalar_values(obj, what)
    return obj, fast


_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_scalar_values(obj: object, what: str) -> None:
    """Raise ``passport_json`` if a string (or member name) in ``obj`` holds a surrogate."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PassportError(
            "passport_json", f"{what} holds an escaped lone surrogate (not Unicode text)"
        ) from exc


def _count_names(obj: object) -> int:
    """How many member names the JSON objects inside ``obj`` hold (no recursion: the
    decoder accepts nesting deeper than Python's stack)."""
    count = 0
    todo = [obj]
    while todo:
        item = todo.pop()
        if type(item) is dict:
            count += len(item)
            todo.extend(item.values())
        elif type(item) is list:
            todo.extend(item)
    return count


def _duplicate_names(data: bytes, obj: object) -> list[str]:
    """Member names that occur twice in one object of the JSON text ``data`` (parsed as
    ``obj``, which kept the last of each, RFC 7515 §4 / RFC 7519 §4).

    Every member name in the text ends with ``":`` when there is no whitespace, so if the
    text holds no more ``":`` than ``obj`` has names, no name is repeated (cheap check).
    """
    if data.count(b'":') == _count_names(obj) and not _WS_OR_ESCAPE.search(data):
        return []
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) != len(items):
            seen: set[str] = set()
            for name, _ in items:
                if name in seen and name not in repeated:
                    repeated.append(name)
                seen.add(name)
        return out

    try:
        json.JSONDecoder(object_pairs_hook=pairs, parse_constant=_no_constant).decode(
            data.decode("utf-8")
        )
    except (ValueError, RecursionError):  # pragma: no cover - data parsed before
        return []
    return repeated


def _keys_sorted(obj: object) -> bool:
    """Whether every JSON object inside ``obj`` lists its keys in sorted order."""
    if type(obj) is dict:
        if len(obj) > 1:
            keys = list(obj)
            if keys != sorted(keys):
                return False
        for v in obj.values():
            if (type(v) is dict or type(v) is list) and not _keys_sorted(v):
                return False
    elif type(obj) is list:
        for v in obj:
            if (type(v) is dict or type(v) is list) and not _keys_sorted(v):
                return False
    return True


def _is_canonical(data: bytes, obj: object, fast: bool) -> bool:
    """Whether ``data`` is the RFC 8225 §9 serialisation of ``obj`` (cheap check first)."""
    if fast and not _WS_OR_ESCAPE.search(data):
        return _keys_sorted(obj)
    try:
        return canonical_json(obj) == data
    except UsageError:
        return False


# ----------------------------------------------------------------------------- decoding


def _f(findings: list[Finding], code: str, severity: Severity, msg: str, src: str) -> None:
    findings.append(Finding(code, severity, msg, src))


def _str_list(value: object) -> tuple[tuple[str, ...], bool]:
    """A JSON array of strings as a tuple; (values, ok). A bare string -> ((s,), False)."""
    if type(value) is list:
        if all(type(v) is str for v in value):
            return tuple(value), True
        return tuple(v for v in value if type(v) is str), False
    if type(value) is str:
        return (value,), False
    return (), False


def _canonical(tn: str) -> bool:
    return (tn.isascii() and tn.isdigit()) or _TN.fullmatch(tn) is not None


def _decode_header(hj: dict[str, Any], findings: list[Finding]) -> JoseHeader:
    alg = hj.get("alg")
    typ = hj.get("typ")
    ppt = hj.get("ppt")
    x5u = hj.get("x5u")
    # RFC 8225 §4.1: "typ" MUST be "passport"; §4.2: ES256 MUST be supported, SHAKEN uses only
    # ES256; §4.3: x5u names the certificate; §8.1: ppt names the extension.
    if typ != "passport":
        if typ is None:
            _f(findings, "typ_invalid", "error", "JOSE header has no typ", _SRC_8225)
        elif type(typ) is str and typ.lower() == "passport":
            _f(findings, "typ_invalid", "warn", f"typ {typ!r} is not lower case", _SRC_8225)
        else:
            _f(findings, "typ_invalid", "error", f"typ {typ!r} is not 'passport'", _SRC_8225)
        if type(typ) is not str:
            typ = None
    if alg != "ES256":
        if alg is None:
            _f(findings, "alg_unsupported", "error", "JOSE header has no alg", _SRC_8225)
        else:
            _f(findings, "alg_unsupported", "error", f"alg {alg!r} is not ES256", _SRC_8225)
        if type(alg) is not str:
            alg = None
    if type(x5u) is not str or not x5u:
        if x5u is None:
            _f(findings, "x5u_missing", "error", "JOSE header has no x5u", _SRC_8225)
        else:
            _f(findings, "x5u_missing", "error", f"x5u {x5u!r} is not a URI string", _SRC_8225)
        x5u = None
    if ppt is not None:
        if type(ppt) is not str:
            _f(findings, "header_invalid", "error", f"ppt {ppt!r} is not a string", _SRC_8225)
            ppt = None
        elif ppt not in SUPPORTED_PPT:
            _f(findings, "ppt_unsupported", "error", f"ppt {ppt!r} is not supported", _SRC_8225)
    extra: dict[str, object] = {}
    if len(hj) > 4 or not _HEADER_KEYS.issuperset(hj):
        extra = {k: v for k, v in hj.items() if k not in _HEADER_KEYS}
        if "crit" in hj:
            # RFC 7515 §4.1.11: if any extension listed in "crit" is not understood and
            # supported by the recipient, the JWS is invalid. PASSporT defines none.
            _f(
                findings,
                "header_invalid",
                "error",
                f"crit {hj['crit']!r} names extensions this verifier does not support"[:200],
                "RFC 7515 §4.1.11",
            )
    return JoseHeader(alg=alg, typ=typ, ppt=ppt, x5u=x5u, extra=extra)


def _decode_orig(cj: dict[str, Any], findings: list[Finding]) -> tuple[str | None, str | None]:
    # RFC 8225 §5.2.1: "orig" is an object with exactly one of "tn" (a string) or "uri".
    if "orig" not in cj:
        _f(findings, "claim_missing", "error", "no orig claim", _SRC_8225)
        return None, None
    orig = cj["orig"]
    if type(orig) is str:
        try:
            parsed = json.loads(orig)
        except (ValueError, RecursionError):
            parsed = None
        if type(parsed) is dict:
            _f(
                findings,
                "orig_invalid",
                "error",
                "orig is a JSON-encoded string, not an object",
                _SRC_8225,
            )
            orig = parsed
    if type(orig) is not dict:
        _f(findings, "orig_invalid", "error", "orig is not an object", _SRC_8225)
        return None, None
    tn = orig.get("tn")
    uri = orig.get("uri")
    if "tn" in orig and type(tn) is not str:
        if type(tn) is list and tn and type(tn[0]) is str:
            _f(
                findings,
                "orig_invalid",
                "error",
                "orig.tn is an array; took its first value",
                _SRC_8225,
            )
            tn = tn[0]
        else:
            _f(findings, "orig_invalid", "error", "orig.tn is not a string", _SRC_8225)
            tn = None
    if "uri" in orig and type(uri) is not str:
        _f(findings, "orig_invalid", "error", "orig.uri is not a string", _SRC_8225)
        uri = None
    if len(orig) != 1 or ("tn" not in orig and "uri" not in orig):
        _f(
            findings,
            "orig_invalid",
            "error",
            f"orig must hold exactly one of tn/uri, has {sorted(orig)}",
            _SRC_8225,
        )
    if tn is not None and not _canonical(tn):
        _f(
            findings,
            "orig_invalid",
            "warn",
            f"orig.tn {tn!r} is not a canonical TN (RFC 8224 §8.3)",
            _SRC_8225,
        )
    return tn, uri


def _decode_dest(
    cj: dict[str, Any], findings: list[Finding]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # RFC 8225 §5.2.1: "dest" is an object with "tn" and/or "uri" arrays.
    if "dest" not in cj:
        _f(findings, "claim_missing", "error", "no dest claim", _SRC_8225)
        return (), ()
    dest = cj["dest"]
    if type(dest) is not dict:
        _f(findings, "dest_invalid", "error", "dest is not an object", _SRC_8225)
        return (), ()
    tns: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    if "tn" in dest:
        tns, ok = _str_list(dest["tn"])
        if not ok:
            _f(findings, "dest_invalid", "error", "dest.tn is not an array of strings", _SRC_8225)
        for tn in tns:
            if not _canonical(tn):
                _f(
                    findings,
                    "dest_invalid",
                    "warn",
                    f"dest.tn {tn!r} is not a canonical TN",
                    _SRC_8225,
                )
    if "uri" in dest:
        uris, ok = _str_list(dest["uri"])
        if not ok:
            _f(findings, "dest_invalid", "error", "dest.uri is not an array of strings", _SRC_8225)
    if not tns and not uris:
        _f(findings, "dest_invalid", "error", "dest holds no tn or uri", _SRC_8225)
    if len(dest) > 2 or not {"tn", "uri"}.issuperset(dest):
        _f(findings, "dest_invalid", "warn", f"dest has unknown members {sorted(dest)}", _SRC_8225)
    return tns, uris


def _decode_claims(cj: dict[str, Any], ppt: str | None, findings: list[Finding]) -> Claims:
    # --- iat: NumericDate number (RFC 8225 §5.1.1; errata 5985 for the string example)
    iat = cj.get("iat")
    if type(iat) is not int:
        if iat is None:
            _f(
                findings,
                "claim_missing" if "iat" not in cj else "iat_invalid",
                "error",
                "no iat claim" if "iat" not in cj else "iat is null",
                _SRC_8225,
            )
            iat = None
        elif type(iat) is str and iat.isascii() and iat.isdigit() and len(iat) <= 16:
            _f(
                findings,
                "iat_invalid",
                "error",
                f"iat {iat!r} is a string; NumericDate is a number (RFC 8225 errata 5985)",
                _SRC_8225,
            )
            iat = int(iat)
        elif type(iat) is float and iat == iat and abs(iat) < _IAT_LIMIT:
            _f(findings, "iat_invalid", "warn", f"iat {iat!r} is not an integer", _SRC_8225)
            iat = int(iat)
        else:
            _f(
                findings,
                "iat_invalid",
                "error",
                f"iat {iat!r} is not a NumericDate"[:200],
                _SRC_8225,
            )
            iat = None
    elif not -_IAT_LIMIT < iat < _IAT_LIMIT:
        _f(
            findings,
            "iat_invalid",
            "error",
            f"iat {str(iat)[:40]}... is not a NumericDate in range (|iat| < 10**15)",
            _SRC_8225,
        )
        iat = None

    orig_tn, orig_uri = _decode_orig(cj, findings)
    dest_tn, dest_uri = _decode_dest(cj, findings)

    # --- shaken (RFC 8588): attest in {A,B,C}, origid a UUID string
    attest = cj.get("attest")
    if "attest" in cj and (type(attest) is not str or attest not in _ATTEST):  # null too
        _f(
            findings,
            "attest_invalid",
            "error",
            f"attest {attest!r} is not A, B or C"[:200],
            _SRC_8588,
        )
        if type(attest) is not str:
            attest = None
    origid = cj.get("origid")
    if "origid" in cj:  # null too
        if type(origid) is not str or not origid:
            _f(findings, "origid_invalid", "error", "origid is not a non-empty string", _SRC_8588)
            origid = None
        elif not _UUID.fullmatch(origid):
            _f(
                findings,
                "origid_invalid",
                "warn",
                f"origid {origid[:60]!r} is not a UUID (ATIS-1000074)",
                _SRC_8588,
            )

    # --- optional baseline / extension claims (skipped for the usual SHAKEN claim set)
    mky: tuple[Mapping[str, object], ...] = ()
    div_tn: tuple[str, ...] = ()
    div_uri: tuple[str, ...] = ()
    opt = rcd = rcdi = crn = rph = None
    extra: dict[str, object] = {}
    if not _SHAKEN_KEYS.issuperset(cj):
        if "mky" in cj:
            m = cj["mky"]
            if type(m) is list and all(type(x) is dict for x in m):
                mky = tuple(m)
            else:
                _f(findings, "claim_invalid", "error", "mky is not an array of objects", _SRC_8225)
        if "div" in cj:
            div = cj["div"]
            # RFC 8946 §3: "div" holds the previous destination, {"tn": ...} or {"uri": ...}
            # and "MUST select only one identifier" for it: one string, not an array.
            if type(div) is dict and ("tn" in div or "uri" in div):
                problems: list[str] = []
                if "tn" in div:
                    div_tn, ok = _str_list(div["tn"])
                    if ok or type(div["tn"]) is not str:
                        problems.append("div.tn is not a string")
                if "uri" in div:
                    div_uri, ok = _str_list(div["uri"])
                    if ok or type(div["uri"]) is not str:
                        problems.append("div.uri is not a string")
                if len(div) != 1:
                    problems.append(f"div must hold exactly one of tn/uri, has {sorted(div)}")
                if problems:
                    _f(findings, "div_invalid", "error", "; ".join(problems)[:200], _SRC_8946)
            else:
                _f(
                    findings,
                    "div_invalid",
                    "error",
                    "div is not an object with tn or uri",
                    _SRC_8946,
                )
        opt = _typed(cj, "opt", str, findings)
        rcd = _typed(cj, "rcd", dict, findings)
        rcdi = _typed(cj, "rcdi", dict, findings)
        crn = _typed(cj, "crn", str, findings)
        rph = _typed(cj, "rph", dict, findings)
        if not _CLAIM_KEYS.issuperset(cj):
            extra = {k: v for k, v in cj.items() if k not in _CLAIM_KEYS}

    # --- claims required by the extension (ATIS-1000074 §5.3.1: missing SHAKEN claims => 438)
    if ppt is not None and ppt != "rcd":
        if ppt == "shaken":
            for name in ("attest", "origid"):
                if name not in cj:
                    _f(
                        findings,
                        "claim_missing",
                        "error",
                        f"no {name} claim (ppt shaken)",
                        _SRC_8588,
                    )
            # ATIS-1000074 §5.3.1: orig and dest must be of type tn
            if orig_tn is None and orig_uri is not None:
                _f(
                    findings,
                    "orig_invalid",
                    "error",
                    "SHAKEN requires orig.tn, got orig.uri",
                    _SRC_8588,
                )
            if dest_uri:
                _f(
                    findings,
                    "dest_invalid",
                    "warn" if dest_tn else "error",
                    "SHAKEN requires dest.tn; dest.uri present",
                    _SRC_8588,
                )
        elif ppt in ("div", "div-o"):
            if "div" not in cj:
                _f(findings, "claim_missing", "error", f"no div claim (ppt {ppt})", _SRC_8946)
            if ppt == "div-o" and "opt" not in cj:
                _f(findings, "claim_missing", "error", "no opt claim (ppt div-o)", _SRC_8946)
        elif ppt == "rph" and "rph" not in cj:
            _f(findings, "claim_missing", "error", "no rph claim (ppt rph)", "RFC 8443")
    elif ppt == "rcd" and "rcd" not in cj:
        _f(findings, "claim_missing", "error", "no rcd claim (ppt rcd)", "RFC 9795")

    return Claims(
        iat=iat,
        orig_tn=orig_tn,
        orig_uri=orig_uri,
        dest_tn=dest_tn,
        dest_uri=dest_uri,
        mky=mky,
        attest=attest,
        origid=origid,
        div_tn=div_tn,
        div_uri=div_uri,
        opt=opt,
        rcd=rcd,
        rcdi=rcdi,
        crn=crn,
        rph=rph,
        extra=extra,
    )


def _typed(cj: dict[str, Any], name: str, kind: type, findings: list[Finding]) -> Any:
    value = cj.get(name)
    if value is None or type(value) is kind:
        return value
    _f(findings, "claim_invalid", "error", f"{name} is not a JSON {kind.__name__}", _SRC_8225)
    return None


_HEADER_ORDER = ["alg", "ppt", "typ", "x5u"]
_SHAKEN_ORDER = ["attest", "dest", "iat", "orig", "origid"]
# The plain SHAKEN claims (RFC 8588 §6) as RFC 8225 §9 canonical JSON: the five claims in
# sorted order, no whitespace, no escapes; digit-only TNs (dest a non-empty list), an
# integer iat below _IAT_LIMIT, a UUID origid. The text matches exactly when the JSON
# parses to what _plain_claims_ok accepts and is canonical (tests compare the two).
_PLAIN_CLAIMS = re.compile(
    r'\{"attest":"([ABC])","dest":\{"tn":\["([0-9]+(?:","[0-9]+)*)"\]\},'
    r'"iat":(0|[1-9][0-9]{0,14}),"orig":\{"tn":"([0-9]+)"\},'
    r'"origid":"([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})"\}'
)


def _fast_header(hj: dict[str, Any]) -> JoseHeader | None:
    """The JOSE header if it is the plain valid SHAKEN shape, else ``None``."""
    if len(hj) != 4 or hj.get("alg") != "ES256" or hj.get("typ") != "passport":
        return None
    x5u = hj.get("x5u")
    if hj.get("ppt") != "shaken" or type(x5u) is not str or not x5u:
        return None
    return _make(
        JoseHeader, {"alg": "ES256", "typ": "passport", "ppt": "shaken", "x5u": x5u, "extra": {}}
    )


def _plain_claims_ok(cj: dict[str, Any]) -> bool:
    """Whether the claims are the plain valid SHAKEN set (RFC 8588 §6): exactly attest,
    dest {tn: [digits...]}, iat (an int), orig {tn: digits}, origid (a UUID)."""
    if len(cj) != 5:
        return False
    iat = cj.get("iat")
    orig = cj.get("orig")
    dest = cj.get("dest")
    origid = cj.get("origid")
    if (
        type(iat) is not int
        or not 0 <= iat < _IAT_LIMIT
        or type(orig) is not dict
        or type(dest) is not dict
        or type(cj.get("attest")) is not str
        or cj["attest"] not in _ATTEST
        or type(origid) is not str
        or len(orig) != 1
        or len(dest) != 1
    ):
        return False
    tn = orig.get("tn")
    dtn = dest.get("tn")
    if type(tn) is not str or not (tn.isascii() and tn.isdigit()) or type(dtn) is not list:
        return False
    if not dtn or not _UUID.fullmatch(origid):
        return False
    for d in dtn:  # noqa: SIM110 - a loop, not all(<generator>): this runs once per call
        if type(d) is not str or not (d.isascii() and d.isdigit()):
            return False
    return True


def _plain_claims(cj: dict[str, Any]) -> Claims:
    """The :class:`Claims` of a plain SHAKEN set (``_plain_claims_ok(cj)`` holds)."""
    return _make(
        Claims,
        {
            "iat": cj["iat"],
            "orig_tn": cj["orig"]["tn"],
            "orig_uri": None,
            "dest_tn": tuple(cj["dest"]["tn"]),
            "dest_uri": (),
            "mky": (),
            "attest": cj["attest"],
            "origid": cj["origid"],
            "div_tn": (),
            "div_uri": (),
            "opt": None,
            "rcd": None,
            "rcdi": None,
            "crn": None,
            "rph": None,
            "extra": {},
        },
    )


def _fast_claims(cj: dict[str, Any]) -> Claims | None:
    """The claims if they are the plain valid SHAKEN set, else ``None``."""
    return _plain_claims(cj) if _plain_claims_ok(cj) else None


def _looks_der(sig: bytes) -> bool:
    # ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }   (RFC 3279 §2.2.3)
    if len(sig) < 8 or sig[0] != 0x30 or sig[2] != 0x02:
        return False
    if sig[1] != len(sig) - 2:
        return False
    rlen = sig[3]
    spos = 4 + rlen
    return spos + 2 <= len(sig) and sig[spos] == 0x02 and spos + 2 + sig[spos + 1] == len(sig)


def decode_passport(token: str) -> PASSporT:
    """Decode a full-form PASSporT (JWS compact serialisation, RFC 7515 §7.1).

    Raises :class:`~shakenlib.errors.PassportError` when it is not three segments
    (``passport_malformed``), a segment is not unpadded base64url (``passport_base64``),
    or header/claims are not JSON objects (``passport_json``). Every other deviation is a
    finding: ``typ_invalid``, ``alg_unsupported``, ``x5u_missing``, ``ppt_unsupported``,
    ``header_invalid``, ``claim_missing``, ``claim_invalid``, ``iat_invalid``,
    ``orig_invalid``, ``dest_invalid``, ``attest_invalid``, ``origid_invalid``,
    ``div_invalid``, ``signature_der``, ``signature_length`` and (``notice``)
    ``passport_noncanonical``.

    >>> decode_passport("abc")
    Traceback (most recent call last):
    ...
    shakenlib.errors.PassportError: passport_malformed: expected 3 dot-separated segments, got 1
    """
    if type(token) is not str:
        raise PassportError("passport_malformed", "the PASSporT must be a str")
    parts = token.split(".")
    if len(parts) != 3:
        raise PassportError(
            "passport_malformed", f"expected 3 dot-separated segments, got {len(parts)}"
        )
    h64, c64, s64 = parts
    if not h64 or not c64:
        raise PassportError(
            "passport_malformed",
            "empty header or claims segment (a compact-form PASSporT needs rebuild_compact)",
        )
    hb = b64url_decode(h64, "header")
    cb = b64url_decode(c64, "claims")
    sig = b64url_decode(s64, "signature")
    hj, hfast = _json_object(hb, "header")
    cj, cfast = _json_object(cb, "claims")

    findings: list[Finding] = []
    # Fast path: the usual SHAKEN shape, all valid. Anything else takes the general path,
    # which reports every deviation.
    # (4 and 7 ``":``: one per member name, so no name is repeated; RFC 7515 §4.)
    header = _fast_header(hj) if hb.count(b'":') == 4 else None
    claims = _fast_claims(cj) if header is not None and cb.count(b'":') == 7 else None
    canonical: bool | None = None
    if claims is not None:
        assert header is not None
        canonical = (
            hfast
            and cfast
            and list(hj) == _HEADER_ORDER
            and list(cj) == _SHAKEN_ORDER
            and not _WS_OR_ESCAPE.search(hb)
            and not _WS_OR_ESCAPE.search(cb)
        ) or None
    else:
        header = _decode_header(hj, findings)
        claims = _decode_claims(cj, header.ppt, findings)
        for data, obj, code, src in (
            (hb, hj, "header_invalid", "RFC 7515 §4"),
            (cb, cj, "claim_invalid", "RFC 7519 §4"),
        ):
            repeated = _duplicate_names(data, obj)
            if repeated:
                canonical = False
                _f(findings, code, "error", f"member names repeated: {repeated}"[:200], src)

    if len(sig) != 64:
        # RFC 7518 §3.4: the ES256 signature is the 64-byte R || S, not DER.
        if _looks_der(sig):
            _f(
                findings,
                "signature_der",
                "error",
                "signature is a DER ECDSA-Sig-Value; ES256 requires 64-byte raw R||S",
                "RFC 7518 §3.4",
            )
        else:
            _f(
                findings,
                "signature_length",
                "error",
                f"signature is {len(sig)} bytes, not 64"
                + (" (truncated?)" if len(sig) < 64 else ""),
                "RFC 7518 §3.4",
            )
    if canonical is False or (
        canonical is None and (not _is_canonical(hb, hj, hfast) or not _is_canonical(cb, cj, cfast))
    ):
        _f(
            findings,
            "passport_noncanonical",
            "notice",
            "header or claims JSON is not in deterministic form (sorted keys, no whitespace)",
            "RFC 8225 §9",
        )
    return PASSporT(
        token=token,
        header=header,
        claims=claims,
        header_json=hj,
        claims_json=cj,
        signing_input=token[: len(h64) + 1 + len(c64)].encode("ascii"),
        signature=sig,
        findings=tuple(findings),
    )


# ----------------------------------------------------------------------------- encoding


def encode_passport(
    header: Mapping[str, object],
    claims: Mapping[str, object],
    sign: Callable[[bytes], bytes],
) -> str:
    """Build a full-form PASSporT: canonical JSON, unpadded base64url, ``sign(input)``.

    ``sign`` receives the ASCII signing input ``header_b64.claims_b64`` and returns the
    raw signature (for ES256 the 64-byte R||S, RFC 7518 §3.4).

    >>> encode_passport({"typ": "passport"}, {"iat": 1}, sign=lambda b: b"sig")
    'eyJ0eXAiOiJwYXNzcG9ydCJ9.eyJpYXQiOjF9.c2ln'
    """
    signing_input = (
        f"{b64url_encode(canonical_json(header))}.{b64url_encode(canonical_json(claims))}"
    )
    signature = sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def rebuild_compact(identity: IdentityHeader, sip: SipMessage) -> tuple[bytes, list[Finding]]:
    """Rebuild the signing input of a compact-form PASSporT from the SIP request.

    RFC 8225 §7 (compact form) sends only the signature, ``".." BASE64URL(signature)``
    (the JWS with detached content of RFC 7515 Appendix F); RFC 8224 §7.1 has the
    verifier rebuild the header and claims from the SIP request and serialise them per
    RFC 8225 §9 (deterministic JSON: keys sorted, no whitespace) before checking the
    signature. The rules, field by field:

    ========= ===============================================================
    ``alg``   the ``alg`` parameter, else ``ES256``
    ``typ``   ``passport``
    ``ppt``   the ``ppt`` parameter (absent: a baseline PASSporT)
    ``x5u``   the ``info`` parameter
    ``orig``  ``{"tn": ...}``: the first TN of P-Asserted-Identity, else From
              (canonical, RFC 8224 §8.3); ``{"uri": ...}`` when neither is a TN
    ``dest``  ``{"tn": [...]}``: the To TN; ``{"uri": [...]}`` when not a TN
    ``iat``   the Date header as a NumericDate
    ``attest`` (``ppt=shaken`` only) the ``Attestation-Info`` header, when present
    ``origid`` (``ppt=shaken`` only) the ``Origination-Id`` header, when present
    ========= ===============================================================

    RFC 8588 defines no SIP source for ``attest``/``origid``; the two headers are the
    ones 3GPP TS 24.229 defines for carrying them, so without them a compact ``shaken``
    PASSporT lacks its SHAKEN claims (``claim_missing`` when decoded). For ``ppt=shaken``
    (or ``div``) a finding ``identity_compact_form`` (error) is added: ATIS-1000074
    §5.3.3 and RFC 8946 require the full form (see ``Policy.allow_compact_form``).

    >>> from shakenlib.sip.message import parse_sip_message
    >>> sip = parse_sip_message("INVITE sip:+12155551213@b SIP/2.0\\nFrom: <tel:+12155551212>"
    ...     "\\nTo: <tel:+12155551213>\\nDate: Tue, 14 Nov 2023 22:13:20 GMT\\n")
    >>> data, findings = rebuild_compact(parse_identity("..c2ln;info=<https://c/x>"), sip)
    >>> data.split(b".")[1] == b64url_encode(canonical_json({"dest": {"tn": ["12155551213"]},
    ...     "iat": 1700000000, "orig": {"tn": "12155551212"}})).encode()
    True
    """
    findings: list[Finding] = []
    header: dict[str, object] = {"alg": identity.alg or "ES256", "typ": "passport"}
    if identity.ppt is not None:
        header["ppt"] = identity.ppt
        if identity.ppt in ("shaken", "div", "div-o"):
            _f(
                findings,
                "identity_compact_form",
                "error",
                f"compact form with ppt {identity.ppt!r}; the full form is required",
                "ATIS-1000074 §5.3.3" if identity.ppt == "shaken" else _SRC_8946,
            )
    if identity.info is not None:
        header["x5u"] = identity.info
    else:
        _f(findings, "x5u_missing", "error", "no info parameter to rebuild x5u from", _SRC_8225)
    claims: dict[str, object] = {}
    orig = sip.orig_tns()
    if orig:
        claims["orig"] = {"tn": orig[0]}
    elif sip.pai or sip.from_:
        uri = (sip.pai[0] if sip.pai else sip.from_) or ""
        claims["orig"] = {"uri": _addr(uri)}
    else:
        _f(findings, "claim_missing", "error", "no From/P-Asserted-Identity for orig", _SRC_8225)
    to_tn = tn_from_uri(sip.to) if sip.to is not None else None
    if to_tn is not None:
        claims["dest"] = {"tn": [to_tn]}
    elif sip.to is not None:
        claims["dest"] = {"uri": [_addr(sip.to)]}
    else:
        _f(findings, "claim_missing", "error", "no To header for dest", _SRC_8225)
    when = sip.date_time()
    if when is not None:
        claims["iat"] = int(when.timestamp())
    else:
        _f(findings, "claim_missing", "error", "no usable Date header for iat", _SRC_8225)
    if identity.ppt == "shaken":
        for claim, name in (("attest", "Attestation-Info"), ("origid", "Origination-Id")):
            values = sip.header(name)
            if values:
                claims[claim] = values[0].strip()
    data = f"{b64url_encode(canonical_json(header))}.{b64url_encode(canonical_json(claims))}"
    return data.encode("ascii"), findings


def decode_compact(identity: IdentityHeader, sip: SipMessage) -> DecodedIdentity:
    """Decode a compact-form Identity header against the SIP request it came in: the
    header and claims are rebuilt (:func:`rebuild_compact`) and decoded, and the
    PASSporT's ``signing_input`` is the rebuilt text, so verifying ``signature`` over it
    verifies the compact form. ``token`` stays the received ``..signature``.

    >>> from shakenlib.sip import parse_sip_message
    >>> sip = parse_sip_message("INVITE sip:+12155551213@b SIP/2.0\\nFrom: <tel:+12155551212>"
    ...     "\\nTo: <tel:+12155551213>\\nDate: Tue, 14 Nov 2023 22:13:20 GMT\\n")
    >>> d = decode_compact(parse_identity("..c2ln;info=<https://c/x>"), sip)
    >>> d.passport.claims.orig_tn, d.passport.claims.iat, d.passport.token
    ('12155551212', 1700000000, '..c2ln')
    """
    data, findings = rebuild_compact(identity, sip)
    try:
        passport = decode_passport(f"{data.decode('ascii')}.{identity.token[2:]}")
    except PassportError as exc:  # the signature segment is not base64url
        return DecodedIdentity(
            identity,
            None,
            exc,
            (*identity.findings, *findings, Finding(exc.code, "error", exc.message)),
        )
    passport = attrs.evolve(passport, token=identity.token)
    return DecodedIdentity(
        identity, passport, None, (*identity.findings, *findings, *passport.findings)
    )


def _addr(value: str) -> str:
    lt = value.find("<")
    if lt >= 0:
        gt = value.find(">", lt)
        return value[lt + 1 : gt if gt > 0 else len(value)]
    return value.split(";", 1)[0].strip()


# ----------------------------------------------------------------------------- Identity


@attrs.frozen(slots=False)  # dict-backed: faster to build on the hot path
class DecodedIdentity:
    """An Identity header and its PASSporT, decoded as far as possible (never raises)."""

    identity: IdentityHeader
    #: ``None`` for the compact form or when the token does not decode.
    passport: PASSporT | None
    #: Why the token is not a PASSporT, if it is not.
    error: ShakenError | None
    #: Identity findings + PASSporT findings + cross-checks between them.
    findings: tuple[Finding, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``form``, ``params``, ``header``, ``claims``, ``findings``, ``error``."""
        params: dict[str, str | None] = {}
        for name, value in self.identity.params:
            params.setdefault(name, value)
        return {
            "form": self.identity.form,
            "params": params,
            "header": dict(self.passport.header_json) if self.passport else None,
            "claims": dict(self.passport.claims_json) if self.passport else None,
            "findings": [f.to_dict() for f in self.findings],
            "error": (
                {"code": self.error.code, "message": self.error.message} if self.error else None
            ),
        }

    def _repr_html_(self) -> str:
        """A notebook view: form, parameters, the PASSporT's header and claims, findings.
        Every value (all of them come from the sender) is HTML-escaped."""
        import html

        def e(value: object) -> str:
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            return html.escape(text, quote=True)

        data = self.to_dict()
        rows = [("form", e(data["form"]))]
        rows += [
            (f"param {e(k)}", e(v if v is not None else "")) for k, v in data["params"].items()
        ]
        for part in ("header", "claims"):
            for key, value in (data[part] or {}).items():
                rows.append((f"{part} <code>{e(key)}</code>", f"<code>{e(value)}</code>"))
        if self.error is not None:
            rows.append(("error", f"<b>{e(self.error.code)}</b>: {e(self.error.message)}"))
        body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        findings = "".join(
            f"<li>{e(f.severity)} <code>{e(f.code)}</code>: {e(f.message)}</li>"
            for f in self.findings
        )
        status = "decoded" if self.passport is not None else "not decoded"
        return (
            f'<div class="shakenlib-identity"><b>Identity header ({status}; not '
            f"verified)</b><table>{body}</table>"
            f"{'<b>Findings</b><ul>' + findings + '</ul>' if findings else ''}</div>"
        )


_SRC_8224 = "RFC 8224 §4"
_a2b = binascii.a2b_base64
_PAD = (b"", b"", b"==", b"=")  # indexed by len % 4 (1 is impossible and rejected)
_USUAL_TAIL = ";alg=ES256;ppt=shaken"  # what usually follows info=<...>


# Decoded JOSE headers of the fast path, by header segment. Real traffic repeats headers
# (one x5u per signer for days), so most calls skip decoding the header. Bounded; the
# cached JSON is read-only (a MappingProxyType) because results share it. Each entry also
# holds the usual Identity parameters for its x5u (``info=<x5u>;alg=ES256;ppt=shaken``)
# when the x5u may stand in them unchanged, so most calls check them with one comparison.
_HeaderEntry = tuple[JoseHeader, Mapping[str, object], str | None]
_HEADER_CACHE: dict[str, _HeaderEntry] = {}
_HEADER_CACHE_SIZE = 512
# base64url -> base64 for binascii, with the classic-only '+' '/' and the padding '='
# mapped to '!', which strict decoding rejects (RFC 7515 §2: unpadded base64url).
_TO_STRICT = bytes.maketrans(b"-_+/=", b"+/!!!")


def _plain_info(info: str) -> bool:
    """Whether ``info`` can be a plain ``info=<...>`` value: an https URI without the
    characters that would end or confuse the parameter (RFC 8224 §4.1)."""
    return (
        info.startswith("https://")
        and info.isascii()
        and not (
            "<" in info or ">" in info or ";" in info or " " in info or '"' in info or "\t" in info
        )
    )


def _header_segment(h64: str) -> _HeaderEntry | None:
    """Decode a plain valid canonical SHAKEN JOSE header segment (and cache it), or None.

    May raise ValueError/StopIteration/RecursionError for a bad segment."""
    if not _canonical_tail(h64):
        return None
    hb = _a2b(h64.encode("ascii").translate(_TO_STRICT) + _PAD[len(h64) & 3], strict_mode=True)
    if _WS_OR_ESCAPE.search(hb) or hb.count(b'":') != 4:
        return None
    htext = hb.decode("utf-8")
    hj, hend = _SCAN(htext, 0)
    if hend != len(htext) or type(hj) is not dict or list(hj) != _HEADER_ORDER:
        return None
    alg, ppt, typ, x5u = hj.values()
    if alg != "ES256" or ppt != "shaken" or typ != "passport" or type(x5u) is not str or not x5u:
        return None
    header = _make(
        JoseHeader, {"alg": "ES256", "typ": "passport", "ppt": "shaken", "x5u": x5u, "extra": {}}
    )
    usual = f"info=<{x5u}>{_USUAL_TAIL}" if _plain_info(x5u) else None
    entry = (header, MappingProxyType(hj), usual)
    if len(_HEADER_CACHE) >= _HEADER_CACHE_SIZE:
        _HEADER_CACHE.clear()
    _HEADER_CACHE[h64] = entry
    return entry


def _plain_params(rest: str) -> tuple[str, str | None, list[tuple[str, str | None]]] | None:
    """``info``, ``alg`` and the parameter list of ``info=<https://...>`` with optional
    ``alg=ES256`` and ``ppt=shaken`` in any order, each once; ``None`` for anything else."""
    info = alg = ppt = None
    params: list[tuple[str, str | None]] = []
    for part in rest.split(";"):
        name, _, pvalue = part.partition("=")
        if not pvalue:
            return None
        if name == "info":
            if info is not None or pvalue[0] != "<" or pvalue[-1] != ">":
                return None
            info = pvalue[1:-1]
            if not _plain_info(info):
                return None
        elif name == "ppt":
            if ppt is not None:
                return None
            ppt = pvalue
        elif name == "alg":
            if alg is not None:
                return None
            alg = pvalue
        else:
            return None
        params.append((name, pvalue))
    if info is None or ppt != "shaken" or (alg is not None and alg != "ES256"):
        return None
    return info, alg, params


#: What :func:`decode_plain_shaken` returns: ``(token, signing_input, header,
#: header_json, claims_json, signature, info, alg, params)``; ``params`` is ``None`` for
#: the usual ``info=<...>;alg=ES256;ppt=shaken`` tail.
PlainShaken = tuple[
    str,
    bytes,
    JoseHeader,
    Mapping[str, object],
    dict[str, Any],
    bytes,
    str,
    str | None,
    list[tuple[str, str | None]] | None,
]


def decode_plain_shaken(value: str) -> PlainShaken | None:
    """Split and check the common case in one pass: a clean, valid, canonical SHAKEN
    Identity header (full form, RFC 8224 §4.1; JOSE header alg/ppt/typ/x5u; the five
    SHAKEN claims of RFC 8588 with digit-only TNs and a UUID origid; info equal to x5u;
    a 64-byte signature), with no objects built.

    Returns ``None`` as soon as anything is unusual; :func:`decode_identity` then takes
    the general path, which reports every deviation. The verifier's fast path reads the
    claims straight from ``claims_json``, which this function has checked.

    >>> decode_plain_shaken("not a header") is None
    True
    """
    semi = value.find(";")
    if semi <= 0:
        return None
    token = value[:semi]
    first = token.find(".")
    second = token.find(".", first + 1)
    if first <= 0 or second <= first + 1 or token.find(".", second + 1) >= 0:
        return None
    # the last character of each segment leaves no stray bits (as _canonical_tail checks)
    claims_tail = _TAIL_OK.get((second - first - 1) & 3)
    signature_tail = _TAIL_OK.get((len(token) - second - 1) & 3)
    if (claims_tail is not None and token[second - 1] not in claims_tail) or (
        signature_tail is not None and token[-1] not in signature_tail
    ):
        return None  # the general path reports passport_base64 (header: _header_segment)
    cached = _HEADER_CACHE.get(token[:first])
    try:
        if cached is None:
            cached = _header_segment(token[:first])
            if cached is None:
                return None
        ascii_token = token.encode("ascii")
        # claims "." signature; a character outside base64url makes strict decoding fail
        strict = ascii_token.translate(_TO_STRICT)
        cb = _a2b(strict[first + 1 : second] + _PAD[(second - first - 1) & 3], strict_mode=True)
        sig = _a2b(strict[second + 1 :] + _PAD[(len(token) - second - 1) & 3], strict_mode=True)
    except (ValueError, StopIteration, RecursionError):  # _header_segment's, a2b's
        return None
    header, hj, usual = cached
    x5u = header.x5u or ""
    alg: str | None = "ES256"
    params: list[tuple[str, str | None]] | None = None
    if usual is not None and len(value) - semi - 1 == len(usual) and value.endswith(usual):
        info = x5u  # the usual info=<x5u>;alg=ES256;ppt=shaken
    else:
        parsed = _plain_params(value[semi + 1 :])
        if parsed is None:
            return None
        info, alg, params = parsed
        if info != x5u:
            return None
    if len(sig) != 64:
        return None
    # latin-1 never fails; the pattern matches ASCII only
    claims = _PLAIN_CLAIMS.fullmatch(cb.decode("latin-1"))
    if claims is None:
        return None
    attest, dest, iat, orig, origid = claims.groups()
    cj = {
        "attest": attest,
        "dest": {"tn": dest.split('","')},
        "iat": int(iat),
        "orig": {"tn": orig},
        "origid": origid,
    }
    return token, ascii_token[:second], header, hj, cj, sig, info, alg, params


def _fast_decode_identity(value: str) -> DecodedIdentity | None:
    """:func:`decode_identity` for what :func:`decode_plain_shaken` accepts. Results are
    identical to the general path's (tests compare the two)."""
    plain = decode_plain_shaken(value)
    if plain is None:
        return None
    token, signing_input, header, hj, cj, sig, info, alg, params = plain
    passport = _make(
        PASSporT,
        {
            "token": token,
            "header": header,
            "claims": _plain_claims(cj),
            "header_json": hj,
            "claims_json": cj,
            "signing_input": signing_input,
            "signature": sig,
            "findings": (),
        },
    )
    ident = _make(
        IdentityHeader,
        {
            "raw": value,
            "token": token,
            "form": "full",
            "info": info,
            "alg": alg,
            "ppt": "shaken",
            "params": (
                (("info", f"<{info}>"), ("alg", "ES256"), ("ppt", "shaken"))
                if params is None
                else tuple(params)
            ),
            "findings": (),
        },
    )
    return _make(
        DecodedIdentity, {"identity": ident, "passport": passport, "error": None, "findings": ()}
    )


def decode_identity(value: str) -> DecodedIdentity:
    """Parse an Identity header value and decode its PASSporT; never raises for a ``str``.

    Adds cross-checks: ``info`` vs ``x5u`` (``info_x5u_mismatch``), ``alg`` param vs
    JOSE ``alg`` (``alg_mismatch``), ``ppt`` param vs JOSE ``ppt`` (``ppt_mismatch``).

    >>> d = decode_identity("not a passport;info=<https://c/x>")
    >>> d.passport is None, d.error.code
    (True, 'passport_malformed')
    """
    fast = _fast_decode_identity(value) if type(value) is str else None
    if fast is not None:
        return fast
    try:
        # The digest's alphabet is checked strictly by decode_passport; on failure the
        # header is parsed again with the check, for its findings.
        ident = _parse_identity(value, check_digest=False)
    except IdentityHeaderError as exc:
        empty = IdentityHeader(
            raw=value if isinstance(value, str) else "",
            token="",
            form="full",
            info=None,
            alg=None,
            ppt=None,
            params=(),
            findings=(),
        )
        return DecodedIdentity(empty, None, exc, (Finding(exc.code, "error", exc.message),))
    if ident.form == "compact":
        sev: Severity = "error" if ident.ppt in ("shaken", "div", "div-o") else "info"
        note = Finding(
            "identity_compact_form",
            sev,
            "compact form PASSporT: header and claims must be rebuilt from the SIP request",
            "ATIS-1000074 §5.3.3",
        )
        return DecodedIdentity(ident, None, None, (*ident.findings, note))
    try:
        passport = decode_passport(ident.token)
    except PassportError as exc:
        ident = parse_identity(value)
        return DecodedIdentity(
            ident, None, detached(exc), (*ident.findings, Finding(exc.code, "error", exc.message))
        )
    header = passport.header
    cross: list[Finding] = []
    if ident.info is not None and ident.info != header.x5u:
        _f(
            cross,
            "info_x5u_mismatch",
            "error",
            f"info {ident.info!r} differs from x5u {header.x5u!r}"[:300],
            _SRC_8224,
        )
    if ident.alg is not None and ident.alg != header.alg:
        _f(
            cross,
            "alg_mismatch",
            "error",
            f"alg parameter {ident.alg!r} differs from JOSE alg {header.alg!r}",
            _SRC_8224,
        )
    if ident.ppt != header.ppt:
        if ident.ppt is None:
            _f(
                cross,
                "ppt_mismatch",
                "warn",
                f"no ppt parameter although the PASSporT has ppt {header.ppt!r}",
                _SRC_8224,
            )
        else:
            _f(
                cross,
                "ppt_mismatch",
                "error",
                f"ppt parameter {ident.ppt!r} differs from JOSE ppt {header.ppt!r}",
                _SRC_8224,
            )
    if not ident.findings and not passport.findings and not cross:
        return DecodedIdentity(ident, passport, None, ())
    return DecodedIdentity(ident, passport, None, (*ident.findings, *passport.findings, *cross))
