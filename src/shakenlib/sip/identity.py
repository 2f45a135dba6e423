"""The SIP ``Identity`` header field value (RFC 8224 §4), parsed leniently.

Parsing is lenient and reporting strict: a value real carriers send parses, and each way it
departs from the grammar comes back as a :class:`~shakenlib.findings.Finding`.

>>> h = parse_identity("aGRy.Y2xt.c2ln;info=<https://cr.example.org/c.pem>;alg=ES256;ppt=shaken")
>>> h.form, h.info, h.alg, h.ppt, h.findings
('full', 'https://cr.example.org/c.pem', 'ES256', 'shaken', ())
>>> parse_identity("..c2ln;ppt=shaken").form
'compact'
"""

from __future__ import annotations

import re
from typing import Literal

import attrs

from shakenlib.errors import IdentityHeaderError
from shakenlib.findings import Finding
from shakenlib.sip.message import split_outside

__all__ = ["IdentityHeader", "parse_identity"]

# RFC 8224 §4 (as published):
#
#   Identity = "Identity" HCOLON signed-identity-digest SEMI
#              ident-info *( SEMI ident-info-params )
#   signed-identity-digest = 1*(base64-char / ".")
#   ident-info = "info" EQUAL ident-info-uri
#   ident-info-uri = LAQUOT absoluteURI RAQUOT
#   ident-info-params = ident-info-alg / ident-type / ident-info-extension
#   ident-info-alg = "alg" EQUAL token
#   ident-type = "ppt" EQUAL token
#   ident-info-extension = generic-param
#   base64-char = ALPHA / DIGIT / "/" / "+"
#
# RFC 3261 §25.1: SEMI = SWS ";" SWS, EQUAL = SWS "=" SWS (whitespace around ";" and "="
# is allowed); generic-param = token [ EQUAL gen-value ];
# gen-value = token / host / quoted-string.
# Errata 6499: the digest is a JWS compact serialization, so it uses the base64url
# alphabet ("-" "_", no padding). We accept base64url and flag classic "+" "/".
_B64URL_DIGEST = re.compile(r"[A-Za-z0-9_\-.]+")
_CLASSIC_DIGEST = re.compile(r"[A-Za-z0-9_\-.+/=]+")
# absoluteURI = scheme ":" ( hier-part / opaque-part );  scheme = ALPHA *( ALPHA / DIGIT /
# "+" / "-" / "." )   (RFC 3261 §25.1 / RFC 2396)
# ("<", ">", '"' and whitespace are not URI characters, RFC 3986 §2)
_ABSOLUTE_URI = re.compile(r'[A-Za-z][A-Za-z0-9+\-.]*:[^\s<>"]+')
# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")

_SRC = "RFC 8224 §4"
# alg/ppt values that are plainly tokens: skip the token check for them (hot path).
_COMMON_VALUES = frozenset({"ES256", "shaken", "div", "div-o", "rcd", "rph"})


@attrs.frozen(slots=False)  # dict-backed: faster to build on the hot path
class IdentityHeader:
    """One parsed Identity header value."""

    raw: str
    #: The signed-identity-digest: full ``h.c.s`` or compact ``..s``.
    token: str
    form: Literal["full", "compact"]
    #: The URI inside ``<...>`` of the ``info`` parameter.
    info: str | None
    alg: str | None
    ppt: str | None
    #: Every parameter in order, names lower-cased, values as received.
    params: tuple[tuple[str, str | None], ...]
    findings: tuple[Finding, ...]


def _split_params(rest: str) -> list[str]:
    """Split ``;``-separated params, not inside ``<...>`` or quotes."""
    if '"' not in rest:
        lt = rest.find("<")
        if lt < 0:
            return rest.split(";")
        gt = rest.find(">", lt)
        if gt > 0 and ";" not in rest[lt:gt] and "<" not in rest[gt:]:
            return rest.split(";")
    return split_outside(rest, ";")


def _unquote(value: str) -> tuple[str, bool]:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\"), True
    return value, False


def parse_identity(value: str) -> IdentityHeader:
    """Parse an Identity header field value (RFC 8224 §4).

    Raises :class:`~shakenlib.errors.IdentityHeaderError` (``identity_malformed``) only
    when there is no signed-identity-digest at all. Everything else parses and is
    reported as findings: a missing ``info`` (``info_missing``), ``info`` without angle
    brackets or not an absolute URI (``info_invalid``), classic base64 characters,
    whitespace inside the digest, a quoted ``ppt``/``alg``, repeated or empty parameters
    (``identity_malformed``). A leading ``Identity:``/``y:`` header name is tolerated.

    >>> h = parse_identity('a.b.c ; info = https://x.example/c.pem ; ppt = "shaken"')
    >>> h.info, h.ppt, [f.code for f in h.findings]
    ('https://x.example/c.pem', 'shaken', ['info_invalid', 'identity_malformed'])
    >>> parse_identity(";info=<https://x.example/c.pem>")
    Traceback (most recent call last):
    ...
    shakenlib.errors.IdentityHeaderError: identity_malformed: no signed-identity-digest before ';'
    """
    return _parse_identity(value, check_digest=True)


def _parse_identity(value: str, check_digest: bool) -> IdentityHeader:
    """``parse_identity``; ``check_digest=False`` skips the alphabet check of the digest
    (for callers that base64url-decode it strictly anyway, and re-check on failure)."""
    if not isinstance(value, str):
        raise IdentityHeaderError("identity_malformed", "the Identity value must be a str")
    findings: list[Finding] = []
    text = value.strip()
    lower = text[:9].lower()
    if lower.startswith(("identity:", "y:")):
        text = text[text.index(":") + 1 :].strip()
        findings.append(
            Finding("identity_malformed", "notice", "header name included in the value", _SRC)
        )
    semi = text.find(";")
    token = (text if semi < 0 else text[:semi]).strip()
    rest = "" if semi < 0 else text[semi + 1 :]
    if not token:
        raise IdentityHeaderError("identity_malformed", "no signed-identity-digest before ';'")

    if (check_digest or " " in token or "\t" in token) and not _B64URL_DIGEST.fullmatch(token):
        if any(ch.isspace() for ch in token):
            token = "".join(token.split())
            findings.append(
                Finding("identity_malformed", "warn", "whitespace inside the digest", _SRC)
            )
        if _B64URL_DIGEST.fullmatch(token):
            pass
        elif _CLASSIC_DIGEST.fullmatch(token):
            findings.append(
                Finding(
                    "identity_malformed",
                    "warn",
                    "classic base64 characters ('+' '/' '=') in the digest; PASSporTs use "
                    "unpadded base64url (RFC 8224 errata 6499)",
                    _SRC,
                )
            )
        else:
            findings.append(
                Finding(
                    "identity_malformed",
                    "error",
                    "the digest holds characters outside base64url and '.'",
                    _SRC,
                )
            )
    form: Literal["full", "compact"] = (
        "compact" if token.startswith("..") and "." not in token[2:] else "full"
    )

    params: list[tuple[str, str | None]] = []
    info: str | None = None
    alg: str | None = None
    ppt: str | None = None
    seen: set[str] = set()
    if semi >= 0:
        for part in _split_params(rest):
            eq = part.find("=")
            if eq < 0:
                name = part.strip().lower()
                pvalue: str | None = None
            else:
                name = part[:eq].strip().lower()
                pvalue = part[eq + 1 :].strip()
            if not name:
                findings.append(Finding("identity_malformed", "warn", "empty parameter", _SRC))
                continue
            if name in seen:
                # Two different values of info/alg/ppt are ambiguous (another verifier may
                # read the other one): an error. A repeated identical value is tolerated.
                first = next(v for n, v in params if n == name)
                differs = name in ("info", "alg", "ppt") and first != pvalue
                findings.append(
                    Finding(
                        "identity_malformed",
                        "error" if differs else "warn",
                        f"parameter {name!r} repeated"
                        + (f" with a different value ({first!r}, {pvalue!r})" if differs else ""),
                        _SRC,
                    )
                )
                params.append((name, pvalue))
                continue
            params.append((name, pvalue))
            seen.add(name)
            if name == "info":
                info = _parse_info(pvalue, findings)
            elif name == "alg" or name == "ppt":
                if pvalue in _COMMON_VALUES:
                    unq = pvalue
                elif not pvalue:
                    findings.append(
                        Finding(
                            "identity_malformed", "warn", f"parameter {name!r} has no value", _SRC
                        )
                    )
                    continue
                else:
                    unq, quoted = _unquote(pvalue)
                    if quoted or not _TOKEN.fullmatch(unq):
                        findings.append(
                            Finding(
                                "identity_malformed",
                                "warn",
                                f"{name} value {pvalue!r} is not a token",
                                _SRC,
                            )
                        )
                if name == "alg":
                    alg = unq
                else:
                    ppt = unq
    if info is None and "info" not in seen:
        findings.append(
            Finding("info_missing", "error", "no info parameter (mandatory in RFC 8224 §4)", _SRC)
        )
    return IdentityHeader(
        raw=value,
        token=token,
        form=form,
        info=info,
        alg=alg,
        ppt=ppt,
        params=tuple(params),
        findings=tuple(findings),
    )


def _parse_info(pvalue: str | None, findings: list[Finding]) -> str | None:
    # ident-info-uri = LAQUOT absoluteURI RAQUOT
    if not pvalue:
        findings.append(Finding("info_invalid", "error", "the info parameter is empty", _SRC))
        return None
    if pvalue[0] == "<" and pvalue[-1] == ">":
        uri = pvalue[1:-1].strip()
    else:
        uri = _unquote(pvalue)[0].strip("<> ")
        findings.append(Finding("info_invalid", "warn", "the info URI is not inside <...>", _SRC))
    plain = " " not in uri and "<" not in uri and ">" not in uri and '"' not in uri
    if not (uri.startswith(("https://", "http://")) and plain) and not (
        _ABSOLUTE_URI.fullmatch(uri)
    ):
        findings.append(
            Finding("info_invalid", "error", f"info {uri!r} is not an absolute URI"[:200], _SRC)
        )
    return uri or None
