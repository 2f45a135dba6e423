"""Telephone numbers: RFC 8224 §8.3 canonicalisation and extraction from SIP/tel URIs.

A canonical telephone number ("tn") is what a PASSporT ``orig``/``dest`` carries and
what a verifier compares against the calling and called numbers of the SIP request:
the digits (and ``#``/``*``) of the number, without the leading ``+``, visual separators
or tel-URI parameters.

>>> canonical_tn("+1 (215) 555-1212")
'12155551212'
>>> tn_from_uri('"Alice" <sip:+12155551212;verstat=TN-Validation-Passed@example.com;user=phone>')
'12155551212'
>>> tn_from_uri("sip:anonymous@anonymous.invalid") is None
True
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from shakenlib.errors import TelephoneNumberError

__all__ = ["canonical_tn", "tn_from_uri"]

# RFC 3966 §3:
#   visual-separator = "-" / "." / "(" / ")"
# RFC 8224 §8.3 (paraphrased): drop the leading "+", visual separators and any tel-URI
# parameters; the result holds only the characters RFC 8226 allows in a TelephoneNumber:
#   TelephoneNumber ::= IA5String (SIZE (1..15)) (FROM ("0123456789#*"))
# (the 15-character limit is a certificate limit and is not enforced here).
_DROP = str.maketrans("", "", "-.() \t")
_TN_CHARS = re.compile(r"[0-9#*]+")

# The usual shapes of a number in a From, To, P-Asserted-Identity or Request-URI value,
# read by _usual_tn (RFC 3261 §25.1, RFC 3966 §3):
#
#     name-addr       = [ display-name ] LAQUOT addr-spec RAQUOT
#     SIP-URI         = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
#     userinfo        = ( user / telephone-subscriber ) [ ":" password ] "@"
#     telephone-uri   = "tel:" telephone-subscriber
#     global-number   = global-number-digits *par
#     global-number-digits = "+" *phonedigit DIGIT *phonedigit
#
# Here: the scheme sip/sips (user part digits, with or without "+", then "@") or tel (digits,
# with or without "+", then ";" or the end), the whole value or in "<...>" without a
# display name (then a ">" may end a tel number too).
_USUAL = re.compile(r"(?:sips?:\+?([0-9]+)@|tel:\+?([0-9]+)(?:;|\Z))")
_USUAL_BRACKETED = re.compile(r"<(?:sips?:\+?([0-9]+)@|tel:\+?([0-9]+)(?:[;>]|\Z))")


def canonical_tn(value: str) -> str:
    """Canonicalise a telephone number per RFC 8224 §8.3.

    Keeps digits, ``#`` and ``*``; drops a leading ``+`` (and a ``tel:`` scheme), the
    visual separators ``- . ( )``, spaces and tel-URI parameters (``;...``).
    Raises :class:`~shakenlib.errors.TelephoneNumberError` (code ``tn_invalid``) if the
    rest is empty or holds any other character. Idempotent.

    >>> canonical_tn("tel:+1-215-555-1212;verstat=TN-Validation-Passed")
    '12155551212'
    >>> canonical_tn("12155551212") == canonical_tn(canonical_tn("+1.215.555.1212"))
    True
    >>> canonical_tn("alice")
    Traceback (most recent call last):
    ...
    shakenlib.errors.TelephoneNumberError: tn_invalid: not a telephone number: 'alice'
    """
    if value.isdigit() and value.isascii():  # already canonical: the common case
        return value
    text = value
    if text[:4].lower() == "tel:":
        text = text[4:]
    semi = text.find(";")
    if semi >= 0:
        text = text[:semi]
    text = text.strip()
    if text[:1] == "+":
        text = text[1:]
    text = text.translate(_DROP)
    if not _TN_CHARS.fullmatch(text):
        raise TelephoneNumberError("tn_invalid", f"not a telephone number: {value!r}"[:200])
    return text


def _strip_display_name(value: str) -> str:
    """Return the URI of a name-addr (``"Alice" <sip:...>;tag=x``) or the value itself."""
    text = value.strip()
    if text.startswith('"'):
        # quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE   (RFC 3261 §25.1)
        i = 1
        while i < len(text):
            ch = text[i]
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                break
            i += 1
        text = text[i + 1 :]
    lt = text.find("<")
    if lt >= 0:
        gt = text.find(">", lt + 1)
        return text[lt + 1 : gt if gt >= 0 else len(text)].strip()
    return text.strip()


def tn_from_uri(value: str) -> str | None:
    """The canonical TN carried by a URI or header value, or ``None`` if it carries none.

    Accepts a ``tel:`` URI, a ``sip:``/``sips:`` URI whose user part is a number (with or
    without ``user=phone``; user-part parameters such as ``;verstat=``, ``;npdi``,
    ``;rn=`` are dropped), a name-addr with a display name and header parameters, or a
    bare number. Never raises for any ``str``.

    RFC 3261 §25.1::

        name-addr   = [ display-name ] LAQUOT addr-spec RAQUOT
        SIP-URI     = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
        userinfo    = ( user / telephone-subscriber ) [ ":" password ] "@"

    >>> tn_from_uri("<tel:+1-215-555-1212;npdi;rn=+12155550000>;tag=1")
    '12155551212'
    >>> tn_from_uri("sips:+12155551213@example.net;user=phone")
    '12155551213'
    >>> tn_from_uri("Anonymous <sip:anonymous@anonymous.invalid>") is None
    True
    """
    usual = _usual_tn(value)
    if usual is not None:
        return usual
    return _tn_from_uri(value)


def _usual_tn(value: str) -> str | None:
    """:func:`tn_from_uri` for the usual shapes alone (see :data:`_USUAL`), without
    splitting the value: ``None`` for any other shape (which may still carry a number).
    Where it answers, it answers as :func:`_tn_from_uri` does.

    >>> _usual_tn("<sip:+12155551212@192.0.2.10;user=phone>;tag=a1")
    '12155551212'
    >>> _usual_tn("sip:+12155551213@198.51.100.7;user=phone"), _usual_tn("<tel:+12155551214>")
    ('12155551213', '12155551214')
    >>> _usual_tn('"Alice" <sip:+12155551212@h>') is None  # a display name: not this shape
    True
    """
    if value[:1] == "<":
        match = _USUAL_BRACKETED.match(value)
    elif "<" in value:  # the URI is in the "<...>" further on (_strip_display_name)
        return None
    else:
        match = _USUAL.match(value)
    return None if match is None else match.group(1) or match.group(2)


def _tn_from_uri(value: str) -> str | None:
    """:func:`tn_from_uri` for any value (the general path)."""
    try:
        uri = _strip_display_name(value)
        lower = uri[:5].lower()
        if lower.startswith("tel:"):
            number = uri[4:]
        elif lower.startswith(("sip:", "sips:")):
            rest = uri[uri.index(":") + 1 :]
            at = rest.find("@")
            if at < 0:
                return None  # no user part: a host, not a number
            number = rest[:at].split(";", 1)[0].split(":", 1)[0]
            if "%" in number:
                # RFC 3261 §19.1.2: escaped characters are data; a decoded ";" is no
                # parameter delimiter, so the user part is then not a number.
                number = unquote(number)
                if ";" in number:
                    return None
        elif ":" in uri:
            return None  # another scheme (urn:service:sos, mailto:, ...)
        else:
            number = uri.split(";", 1)[0]
        return canonical_tn(number)
    except TelephoneNumberError:
        return None
