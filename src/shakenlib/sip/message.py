"""A small, lenient SIP message parser: just what STIR/SHAKEN verification needs.

It reads the start line and the header fields of a request or response (RFC 3261 §7),
unfolds continuation lines, maps compact header names to their long forms, and exposes
the headers a verification service uses: ``Identity``, ``From``, ``To``,
``P-Asserted-Identity``, ``Date``, ``Call-ID``, ``Diversion``, ``History-Info``.
The body is ignored.

>>> msg = parse_sip_message(
...     "INVITE sip:+12155551213@example.net;user=phone SIP/2.0\\r\\n"
...     "f: <sip:+12155551212@example.com>;tag=1\\r\\n"
...     "t: <sip:+12155551213@example.net>\\r\\n"
...     "y: a.b.c;info=<https://cr.example.org/c.pem>\\r\\n\\r\\n")
>>> msg.method, msg.identity, msg.orig_tns(), msg.dest_tns()
('INVITE', ('a.b.c;info=<https://cr.example.org/c.pem>',), ('12155551212',), ('12155551213',))
"""

from __future__ import annotations

import datetime
import email.utils
import re

import attrs

from shakenlib.errors import SipMessageError
from shakenlib.tn import tn_from_uri

__all__ = ["SipMessage", "canonical_header_name", "parse_sip_message", "split_header_list"]

# RFC 3261 §7.3.3 compact forms (i m e l c f s k t v), plus those registered later:
# o Event (RFC 6665), r Refer-To (RFC 3515), b Referred-By (RFC 3892), u Allow-Events,
# a Accept-Contact, j Reject-Contact, d Request-Disposition (RFC 3841), x Session-Expires
# (RFC 4028), y Identity (RFC 8224), n Identity-Info (RFC 4474, obsolete).
_COMPACT: dict[str, str] = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "u": "Allow-Events",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "x": "Session-Expires",
    "y": "Identity",
    "n": "Identity-Info",
}
# Long names whose usual spelling is not simple Capitalised-Words.
_SPELLING: dict[str, str] = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
    "rack": "RAck",
    "rseq": "RSeq",
    "sip-etag": "SIP-ETag",
    "sip-if-match": "SIP-If-Match",
}
_NAME_CACHE: dict[str, str] = {}

# A header line as most messages write it (after the line break before it): a name of
# visible characters (no colon), maybe spaces or tabs, a colon and the value. Such a line
# reads the same as in _header_lines.
_HEADER_LINE = re.compile(r"\n([!-9;-~]+)[ \t]*:[ \t]*([^\n]*)")

# RFC 7231 §7.1.1.1 IMF-fixdate with a four-digit year from 1000 (RFC 3261 §20.17 SIP-date):
# what SipMessage.date_time reads without email.utils, with the same result.
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) ("
    + "|".join(_MONTH_NAMES)
    + r") ([1-9][0-9]{3}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)

# Header fields whose value may be a comma-separated list that we split.
_LISTS = frozenset({"P-Asserted-Identity", "Diversion", "History-Info"})


def canonical_header_name(name: str) -> str:
    """The long, conventionally spelt form of a header name (case-insensitive).

    >>> canonical_header_name("y"), canonical_header_name("p-asserted-identity")
    ('Identity', 'P-Asserted-Identity')
    >>> canonical_header_name("CALL-ID")
    'Call-ID'
    """
    cached = _NAME_CACHE.get(name)
    if cached is not None:
        return cached
    lower = name.strip().lower()
    result = _COMPACT.get(lower) or _SPELLING.get(lower)
    if result is None:
        result = "-".join(part.capitalize() for part in lower.split("-"))
    if len(_NAME_CACHE) < 4096:
        _NAME_CACHE[name] = result
    return result


def split_outside(value: str, sep: str) -> list[str]:
    """Split ``value`` at ``sep`` where it stands outside ``<...>`` and quoted strings
    (RFC 3261 §25.1: a quoted-string may hold ``\\"``; a URI in angle brackets may hold
    ``;`` and ``,``). Parts are returned as they are, not stripped.

    >>> split_outside('a;b="x;y";c=<sip:u@h;p=1>', ";")
    ['a', 'b="x;y"', 'c=<sip:u@h;p=1>']
    """
    parts: list[str] = []
    start = 0
    in_quote = in_angle = False
    i = 0
    n = len(value)
    while i < n:
        ch = value[i]
        if in_quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quote = False
        elif ch == '"':
            in_quote = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == sep and not in_angle:
            parts.append(value[start:i])
            start = i + 1
        i += 1
    parts.append(value[start:])
    return parts


def split_header_list(value: str) -> list[str]:
    """Split a comma-separated header value, respecting ``<...>`` and quoted strings.

    >>> split_header_list('"Doe, J" <sip:+1215@a>, <tel:+1216>')
    ['"Doe, J" <sip:+1215@a>', '<tel:+1216>']
    """
    if "," not in value:
        stripped = value.strip()
        return [stripped] if stripped else []
    return [p for p in (part.strip() for part in split_outside(value, ",")) if p]


@attrs.frozen
class SipMessage:
    """A parsed SIP request or response (start line and header fields)."""

    start_line: str
    method: str | None
    request_uri: str | None
    status_code: int | None
    #: (canonical long name, unfolded value), in message order.
    headers: tuple[tuple[str, str], ...]
    #: Every ``Identity`` / ``y`` header value, in order.
    identity: tuple[str, ...]
    from_: str | None
    to: str | None
    #: Every P-Asserted-Identity value (comma lists split), in order.
    pai: tuple[str, ...]
    date: str | None
    call_id: str | None
    diversion: tuple[str, ...]
    history_info: tuple[str, ...]

    def header(self, name: str) -> tuple[str, ...]:
        """Every value of a header field (name case-insensitive, compact forms accepted).

        >>> parse_sip_message("SIP/2.0 200 OK\\ni: abc@host\\n").header("call-id")
        ('abc@host',)
        """
        wanted = canonical_header_name(name)
        return tuple(v for n, v in self.headers if n == wanted)

    def orig_tns(self) -> tuple[str, ...]:
        """Canonical TNs of the caller that ``orig`` is checked against (deduplicated).

        ATIS-1000074 §5.3.1: the P-Asserted-Identity values when the request has any (each
        is tried), otherwise From. A From that differs from a present PAI is not a
        candidate: the PAI is what the network asserted.

        >>> m = parse_sip_message("INVITE sip:b@h SIP/2.0\\nFrom: <tel:+12125550000>\\n"
        ...                       "P-Asserted-Identity: <tel:+12155551212>\\n")
        >>> m.orig_tns()
        ('12155551212',)
        """
        out: list[str] = []
        candidates = self.pai or ((self.from_,) if self.from_ is not None else ())
        for value in candidates:
            tn = tn_from_uri(value)
            if tn is not None and tn not in out:
                out.append(tn)
        return tuple(out)

    def dest_tns(self) -> tuple[str, ...]:
        """Canonical TNs of the called party: To, then the Request-URI (deduplicated)."""
        out: list[str] = []
        for value in (self.to, self.request_uri):
            if value is None:
                continue
            tn = tn_from_uri(value)
            if tn is not None and tn not in out:
                out.append(tn)
        return tuple(out)

    def date_time(self) -> datetime.datetime | None:
        """The Date header as an aware UTC datetime, or ``None`` if absent or unparsable.

        RFC 3261 §20.17 / RFC 7231 §7.1.1.1: ``Date: Sun, 06 Nov 1994 08:49:37 GMT``.

        >>> parse_sip_message("SIP/2.0 200 OK\\nDate: Sun, 06 Nov 1994 08:49:37 GMT\\n").date_time()
        datetime.datetime(1994, 11, 6, 8, 49, 37, tzinfo=datetime.timezone.utc)
        """
        if self.date is None:
            return None
        fixed = _IMF_FIXDATE.fullmatch(self.date)
        if fixed is not None:  # the usual form, read as email.utils reads it
            day, month, year, hour, minute, second = fixed.groups()
            try:
                return datetime.datetime(
                    int(year),
                    _MONTHS[month],
                    int(day),
                    int(hour),
                    int(minute),
                    int(second),
                    tzinfo=datetime.UTC,
                )
            except ValueError:  # e.g. 31 Feb, 24:00:00: not a time
                return None
        try:
            parsed = email.utils.parsedate_to_datetime(self.date)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.UTC)
        try:
            return parsed.astimezone(datetime.UTC)
        except (OverflowError, ValueError):
            return None


def _parse_start_line(line: str) -> tuple[str | None, str | None, int | None]:
    # Request-Line = Method SP Request-URI SP SIP-Version CRLF
    # Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF   (RFC 3261 §7.1, §7.2)
    parts = line.split(" ", 2)
    if parts[0].upper().startswith("SIP/"):
        if len(parts) < 2 or not (len(parts[1]) == 3 and parts[1].isascii() and parts[1].isdigit()):
            raise SipMessageError("sip_malformed", f"bad status line: {line[:80]!r}")
        return None, None, int(parts[1])
    if len(parts) != 3 or not parts[2].upper().startswith("SIP/") or not parts[0] or not parts[1]:
        raise SipMessageError("sip_malformed", f"bad start line: {line[:80]!r}")
    return parts[0], parts[1], None


def _header_lines(lines: list[str]) -> tuple[tuple[str, str], ...]:
    """(canonical name, unfolded value) of each header line, line by line: continuation
    lines, names with white space around them and lines that are not header lines."""
    names: list[str] = []
    values: list[str] = []
    for line in lines:
        if not line:
            continue  # only the last line can be empty: a message without a blank line
        if line[:1] in (" ", "\t"):
            # LWS = [*WSP CRLF] 1*WSP: a continuation line (RFC 3261 §7.3.1)
            if not names:
                raise SipMessageError("sip_malformed", "continuation line before any header")
            values[-1] = f"{values[-1]} {line.strip()}".strip()
            continue
        colon = line.find(":")
        name = line[:colon].strip() if colon > 0 else ""
        if not name or " " in name or "\t" in name:
            raise SipMessageError("sip_malformed", f"not a header line: {line[:80]!r}")
        names.append(canonical_header_name(name))
        values.append(line[colon + 1 :].strip())
    return tuple(zip(names, values, strict=True))


def parse_sip_message(data: str | bytes) -> SipMessage:
    """Parse a SIP request or response (headers only; the body is ignored).

    Header names are case-insensitive and compact forms (``y f t i`` ...) are mapped to
    long names; folded lines (line break followed by space or tab) are unfolded; bare LF
    line ends work. Values of P-Asserted-Identity, Diversion and History-Info are split at
    commas outside ``<...>`` and quotes. Raises
    :class:`~shakenlib.errors.SipMessageError` (``sip_malformed``) if the start line or a
    header line is not SIP.

    >>> parse_sip_message("hello")
    Traceback (most recent call last):
    ...
    shakenlib.errors.SipMessageError: sip_malformed: bad start line: 'hello'
    """
    if type(data) is bytes:
        text = data.decode("utf-8", errors="replace")
    elif isinstance(data, bytes | bytearray):
        text = bytes(data).decode("utf-8", errors="replace")
    elif isinstance(data, str):
        text = data
    else:
        raise SipMessageError("sip_malformed", f"expected str or bytes, not {type(data).__name__}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # message-header lines end at the first empty line; the body follows (RFC 3261 §7).
    text = text.lstrip("\n")
    blank = text.find("\n\n")
    head = text[:blank] if blank >= 0 else text
    eol = head.find("\n")
    start_line = (head[:eol] if eol >= 0 else head).strip()
    if not start_line:
        raise SipMessageError("sip_malformed", "empty message")
    method, request_uri, status_code = _parse_start_line(start_line)
    headers: tuple[tuple[str, str], ...] = ()
    if eol >= 0:
        # the usual message: every line a plain "Name: value" line (no continuation
        # lines), read with one regular expression; else line by line
        pairs = _HEADER_LINE.findall(head, eol)
        if len(pairs) == head.count("\n") - head.endswith("\n"):
            cache = _NAME_CACHE
            headers = tuple(
                [
                    (cache.get(name) or canonical_header_name(name), value.strip())
                    for name, value in pairs
                ]
            )
        else:
            headers = _header_lines(head.split("\n")[1:])
    # the first value of each header (the dict keeps the last of the reversed pairs);
    # only single-valued fields are read from it
    first = dict(reversed(headers))
    identity = (
        [value for name, value in headers if name == "Identity"] if ("Identity" in first) else []
    )
    pai: list[str] = []
    diversion: list[str] = []
    history: list[str] = []
    if not _LISTS.isdisjoint(first):
        for name, value in headers:
            if name in _LISTS:
                target = (
                    pai
                    if name == "P-Asserted-Identity"
                    else (diversion if name == "Diversion" else history)
                )
                target.extend(split_header_list(value))
    return SipMessage(
        start_line=start_line,
        method=method,
        request_uri=request_uri,
        status_code=status_code,
        headers=headers,
        identity=tuple(identity),
        from_=first.get("From"),
        to=first.get("To"),
        pai=tuple(pai),
        date=first.get("Date"),
        call_id=first.get("Call-ID"),
        diversion=tuple(diversion),
        history_info=tuple(history),
    )
