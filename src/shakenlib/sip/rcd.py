"""Rich Call Data (RFC 9795): decode the ``rcd``, ``crn`` and ``rcdi`` claims and check
``rcdi`` integrity.

RCD claims travel in a ``ppt=rcd`` PASSporT or, as ATIS-1000094 allows, inside a
``shaken`` PASSporT. The claims (RFC 9795; ``rcd`` keys as in the IANA "PASSporT RCD
Claim Types" registry)::

    "rcd": {
      "nam": <display name, a string>,
      "apn": <alternate presentation number, a string>,
      "icn": <URI of an icon>,
      "jcd": <a jCard (RFC 7095) inline: ["vcard", [properties ...]]>,
      "jcl": <URI of a jCard>
    }
    "crn": <call reason, a string>
    "rcdi": {<JSON pointer into "rcd"> : <digest string>}

A digest string is the hash algorithm name, ``-``, and the base64 of the digest, as in
W3C Subresource Integrity (``sha256-<base64>``; sha384 and sha512 are accepted too).
The pointer (RFC 6901) is evaluated in the ``rcd`` object. What is hashed, per pointer
target, here:

* a URI string (``/jcl``, ``/icn``, or a ``uri`` value inside the jCard such as
  ``/jcd/1/2/3``): the bytes of the **content at that URI** — fetched through a
  :class:`RcdContent` source the verifier is given; without one (or when the fetch
  fails) the digest is not checked and an ``rcdi_unchecked`` warning says so;
* anything else (``/jcd``, the whole inline jCard): its JSON text in the JSON
  Canonicalization Scheme (RFC 8785: members sorted by UTF-16 code units, no
  whitespace, UTF-8, integral numbers without a fraction) — :func:`jcs`. (The RFC text
  was not at hand when this was written: that ``jcd`` is hashed in its JCS form is this
  module's reading, to be checked against RFC 9795 §6.1.)

A digest that does not match is ``rcdi_mismatch``; an ``rcdi`` that is not pointers to
digest strings, names an unknown hash, or points at nothing is ``rcdi_invalid``; an
``rcd``/``crn`` of the wrong shape is ``rcd_invalid`` (all 438).

This module is pure: content is fetched by whoever implements :class:`RcdContent`.

>>> rcd = decode_rcd({"rcd": {"nam": "James Bond"}, "crn": "Rendezvous for Little Nellie"})
>>> rcd.display_name, rcd.call_reason
('James Bond', 'Rendezvous for Little Nellie')
>>> jcard = ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Q Branch"]]]
>>> signed = {"rcd": {"jcd": jcard}, "rcdi": {"/jcd": digest_string(jcs(jcard))}}
>>> check_integrity(decode_rcd(signed))
()
>>> signed["rcd"]["jcd"][1][1][3] = "Spectre"
>>> check_integrity(decode_rcd(signed))
Traceback (most recent call last):
...
shakenlib.sip.rcd.RcdError: rcdi_mismatch: rcdi /jcd: the content does not match its sha256 digest
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from shakenlib.errors import PassportError, RepositoryError
from shakenlib.findings import Finding

__all__ = [
    "MAX_CONTENT_FETCHES",
    "MemoryContent",
    "RcdContent",
    "RcdError",
    "RichCallData",
    "check_integrity",
    "decode_rcd",
    "digest_string",
    "jcard_name",
    "jcs",
]

_SRC = "RFC 9795"
_KEYS = ("nam", "apn", "icn", "jcd", "jcl")
_HASHES: dict[str, Callable[[bytes], Any]] = {
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
_DIGEST = re.compile(r"(sha256|sha384|sha512)-([A-Za-z0-9+/_-]+={0,2})")
_TO_STD = bytes.maketrans(b"-_", b"+/")
#: URL-referenced contents fetched for one PASSporT at most; further ones are reported
#: ``rcdi_unchecked`` (a hostile rcdi must not turn one call into many fetches).
MAX_CONTENT_FETCHES = 8


class RcdError(PassportError):
    """Rich Call Data that is malformed (``rcd_invalid``, ``rcdi_invalid``) or does not
    match its integrity digest (``rcdi_mismatch``)."""

    default_code = "rcd_invalid"


@runtime_checkable
class RcdContent(Protocol):
    """Where URL-referenced RCD content (``jcl``, ``icn``, jCard ``uri`` values) comes
    from: bytes for ``url`` as of ``at``; raise
    :class:`~shakenlib.errors.RepositoryError` when it cannot be had."""

    def fetch(self, url: str, *, at: dt.datetime) -> bytes: ...


class MemoryContent:
    """An :class:`RcdContent` from a dict ``url -> bytes`` (offline analysis, tests).

    >>> MemoryContent({"https://x/logo.png": b"png"}).fetch("https://x/logo.png",
    ...     at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    b'png'
    """

    def __init__(self, content: Mapping[str, bytes]) -> None:
        self._content = dict(content)

    def fetch(self, url: str, *, at: dt.datetime) -> bytes:
        try:
            return self._content[url]
        except KeyError:
            raise RepositoryError("x5u_fetch_failed", f"{url}: no such content") from None


@attrs.frozen
class RichCallData:
    """The Rich Call Data claims of one PASSporT, as received (RFC 9795).

    ``nam`` display name, ``apn`` alternate presentation number, ``icn`` icon URI,
    ``jcd`` inline jCard, ``jcl`` jCard URI, ``crn`` call reason, ``rcdi`` JSON pointer
    -> digest string, ``extra`` other ``rcd`` members. ``claim`` is the ``rcd`` object
    itself (what ``rcdi`` pointers are evaluated in).
    """

    nam: str | None = None
    apn: str | None = None
    icn: str | None = None
    jcd: Any = None
    jcl: str | None = None
    crn: str | None = None
    rcdi: dict[str, str] = attrs.field(factory=dict)
    extra: dict[str, Any] = attrs.field(factory=dict)
    claim: dict[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def display_name(self) -> str | None:
        """``nam``, else the ``fn`` of the inline jCard (both are signed)."""
        if self.nam:
            return self.nam
        return jcard_name(self.jcd) if self.jcd is not None else None

    @property
    def call_reason(self) -> str | None:
        """The ``crn`` claim (call reason)."""
        return self.crn

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: the members present, with ``display_name``."""
        out: dict[str, Any] = {k: getattr(self, k) for k in _KEYS if getattr(self, k) is not None}
        if self.crn is not None:
            out["crn"] = self.crn
        if self.rcdi:
            out["rcdi"] = dict(self.rcdi)
        out.update(self.extra)
        out["display_name"] = self.display_name
        return out


def jcard_name(jcard: object) -> str | None:
    """The formatted name (``fn``) of a jCard (RFC 7095 §3.3:
    ``["vcard", [[name, params, type, value], ...]]``), ``None`` when there is none.

    >>> jcard_name(["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Q"]]])
    'Q'
    """
    if type(jcard) is not list or len(jcard) != 2 or type(jcard[1]) is not list:
        return None
    for prop in jcard[1]:
        if type(prop) is list and len(prop) >= 4 and prop[0] == "fn" and type(prop[3]) is str:
            return prop[3]
    return None


def decode_rcd(claims: Mapping[str, object]) -> RichCallData | None:
    """The Rich Call Data of a PASSporT's claims; ``None`` when it has no ``rcd``,
    ``crn`` or ``rcdi`` claim. Raises :class:`RcdError` (``rcd_invalid``,
    ``rcdi_invalid``) for a wrong shape.

    >>> decode_rcd({"iat": 1}) is None
    True
    >>> decode_rcd({"rcd": {"nam": 7}})
    Traceback (most recent call last):
    ...
    shakenlib.sip.rcd.RcdError: rcd_invalid: rcd nam is not a string
    """
    rcd = claims.get("rcd")
    crn = claims.get("crn")
    rcdi = claims.get("rcdi")
    if rcd is None and crn is None and rcdi is None:
        return None
    if rcd is not None and type(rcd) is not dict:
        raise RcdError("rcd_invalid", "the rcd claim is not a JSON object")
    body: dict[str, Any] = rcd if type(rcd) is dict else {}
    for key in ("nam", "apn", "icn", "jcl"):
        if key in body and type(body[key]) is not str:
            raise RcdError("rcd_invalid", f"rcd {key} is not a string")
    for key in ("icn", "jcl"):
        if key in body and not body[key].lower().startswith(("https://", "http://")):
            raise RcdError("rcd_invalid", f"rcd {key} is not an HTTP(S) URI")
    if "jcd" in body and (type(body["jcd"]) is not list or body["jcd"][:1] != ["vcard"]):
        raise RcdError("rcd_invalid", 'rcd jcd is not a jCard (["vcard", [...]], RFC 7095)')
    if crn is not None and type(crn) is not str:
        raise RcdError("rcd_invalid", "the crn claim is not a string")
    digests: dict[str, str] = {}
    if rcdi is not None:
        if type(rcdi) is not dict:
            raise RcdError("rcdi_invalid", "the rcdi claim is not a JSON object")
        for pointer, value in rcdi.items():
            if not pointer.startswith("/"):
                raise RcdError("rcdi_invalid", f"rcdi key {pointer[:60]!r} is not a JSON pointer")
            if type(value) is not str or not _DIGEST.fullmatch(value):
                raise RcdError(
                    "rcdi_invalid",
                    f"rcdi {pointer[:60]}: not a digest string (sha256-<base64>)",
                )
            digests[pointer] = value
    return RichCallData(
        nam=body.get("nam"),
        apn=body.get("apn"),
        icn=body.get("icn"),
        jcd=body.get("jcd"),
        jcl=body.get("jcl"),
        crn=crn,
        rcdi=digests,
        extra={k: v for k, v in body.items() if k not in _KEYS},
        claim=body,
    )


def jcs(value: object) -> bytes:
    """RFC 8785 JSON Canonicalization Scheme text of a JSON value: object members sorted
    by their UTF-16 code units (§3.2.3), no whitespace, UTF-8, minimal string escapes
    (§3.2.2.2), numbers in ECMAScript form (§3.2.2.3; integral values without a fraction).

    >>> jcs({"b": [1, 2.0, "é"], "a": None})
    b'{"a":null,"b":[1,2,"\\xc3\\xa9"]}'
    """
    return _jcs(value).encode("utf-8")


def _jcs(value: object) -> str:
    if type(value) is dict:
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(f"{_jcs(k)}:{_jcs(v)}" for k, v in items) + "}"
    if type(value) is list:
        return "[" + ",".join(_jcs(v) for v in value) + "]"
    if type(value) is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise RcdError("rcd_invalid", "a JSON number is not finite")
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    return json.dumps(value, ensure_ascii=False)


def digest_string(data: bytes, alg: str = "sha256") -> str:
    """The RFC 9795 / SRI digest string of ``data``.

    >>> digest_string(b"")
    'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='
    """
    return f"{alg}-{base64.b64encode(_HASHES[alg](data).digest()).decode('ascii')}"


def _digest_bytes(text: str) -> tuple[str, bytes]:
    alg, _, b64 = text.partition("-")
    raw = b64.encode("ascii").translate(_TO_STD).rstrip(b"=")
    try:  # base64 or base64url, padded or not: compare the digest bytes
        return alg, base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except binascii.Error:
        raise RcdError("rcdi_invalid", f"rcdi digest {text[:60]!r} is not base64") from None


def _resolve(claim: object, pointer: str) -> object:
    # RFC 6901 §4: each reference token, "~1" -> "/", then "~0" -> "~"; array indexes
    # are decimal without leading zeros.
    node = claim
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if type(node) is dict and token in node:
            node = node[token]
        elif (
            type(node) is list
            and token.isascii()
            and token.isdigit()
            and (token == "0" or token[0] != "0")
            and (int(token) < len(node))
        ):
            node = node[int(token)]
        else:
            raise RcdError("rcdi_invalid", f"rcdi {pointer[:60]}: points at nothing in rcd")
    return node


def check_integrity(
    rcd: RichCallData | None,
    content: Callable[[str], bytes | None] | None = None,
) -> tuple[Finding, ...]:
    """Check every ``rcdi`` digest of ``rcd``. ``content(url)`` returns the bytes at a
    URL, or ``None`` when they cannot be had (then, as without ``content``, that digest
    is reported ``rcdi_unchecked``). At most :data:`MAX_CONTENT_FETCHES` distinct URLs
    are fetched. Returns the warnings; raises :class:`RcdError` (``rcdi_mismatch``,
    ``rcdi_invalid``, or ``rcd_invalid`` for JSON nested too deeply to serialise) on the
    first failure."""
    if rcd is None or not rcd.rcdi:
        return ()
    findings: list[Finding] = []
    fetched: set[str] = set()
    for pointer, expected in rcd.rcdi.items():
        target = _resolve(rcd.claim, pointer)
        alg, want = _digest_bytes(expected)
        if type(target) is str and target.lower().startswith(("https://", "http://")):
            data = None
            if content is not None and (target in fetched or len(fetched) < MAX_CONTENT_FETCHES):
                fetched.add(target)
                data = content(target)
            if data is None:
                findings.append(
                    Finding(
                        "rcdi_unchecked",
                        "warn",
                        f"rcdi {pointer[:60]}: the content at {target[:200]} was not checked "
                        "(no RCD content source, or it could not be fetched)",
                        _SRC,
                    )
                )
                continue
        else:
            try:
                data = jcs(target)
            except RecursionError:
                raise RcdError(
                    "rcd_invalid", f"rcdi {pointer[:60]}: JSON nested too deeply"
                ) from None
        if _HASHES[alg](data).digest() != want:
            raise RcdError(
                "rcdi_mismatch",
                f"rcdi {pointer[:60]}: the content does not match its {alg} digest",
            )
    return tuple(findings)
