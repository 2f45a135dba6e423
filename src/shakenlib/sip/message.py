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
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar, overload

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
# Names that are their own canonical form, as most messages write them (From, Call-ID ...).
_AS_WRITTEN: set[str] = set()

# RFC 3261 §7.3.1 / §25.1: a header line is
#
#     message-header   = header-name HCOLON header-value CRLF
#     header-name      = token
#     token            = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
#     HCOLON           = *( SP / HTAB ) ":" SWS
#     SWS              = [LWS]
#     LWS              = [*WSP CRLF] 1*WSP          ; a line break in LWS folds the line
#
# The lenient reading here takes any visible characters but the colon as a name. A line
# written that way, after the line break before it, reads the same as in _header_lines; a
# message whose every header line is such a line is read with one of these expressions:
# line ends LF, or CRLF (the CR before each LF is checked, a lone CR is not taken).
_HEADER_LINE = re.compile(r"\n([!-9;-~]+)[ \t]*:[ \t]*([^\n]*)")
_HEADER_LINE_CRLF = re.compile(r"\n([!-9;-~]+)[ \t]*:[ \t]*([^\n]*)\r(?=\n)")

# RFC 7231 §7.1.1.1 IMF-fixdate with a four-digit year from 1000 (RFC 3261 §20.17 SIP-date):
# what SipMessage.date_time reads without email.utils, with the same result.
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) ("
    + "|".join(_MONTH_NAMES)
    + r") ([1-9][0-9]{3}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)
# Date values read before (they repeat: every call of the same second has the same one).
_DATES: dict[str, datetime.datetime | None] = {}
_MAX_DATES = 4096

_T = TypeVar("_T")
_new = object.__new__
_setattr = object.__setattr__


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
        if result == name:
            _AS_WRITTEN.add(name)
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


class _lazy(Generic[_T]):  # a decorator, like functools.cached_property
    """A value read from the message on first use, ``func(message, *args)``, and kept in
    the instance ``__dict__``, which then answers every later lookup (this is a non-data
    descriptor). As ``functools.cached_property`` (without its lock, Python 3.11)."""

    def __init__(self, func: Callable[..., _T], *args: str, doc: str | None = None) -> None:
        self.func = func
        self.args = args
        self.name = func.__name__
        self.__doc__ = doc or func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _lazy[_T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> _T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> _T | _lazy[_T]:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj, *self.args)
        return value


# What the header fields of a parsed message are read with, from its header lines:
# (canonical name, value as written) pairs, SipMessage._lines.
def _every(lines: Sequence[tuple[str, str]], name: str) -> tuple[str, ...]:
    """Every value of a header field, in order."""
    return tuple([value.strip() for n, value in lines if n == name])


def _list(message: SipMessage, name: str) -> tuple[str, ...]:
    """Every element of a header field whose value is a comma-separated list, in order
    (RFC 3261 §7.3.1: several lines of such a field are one list)."""
    values = _every(message._lines, name)
    return tuple([item for value in values for item in split_header_list(value)])


class SipMessage:
    """A parsed SIP request or response (start line and header fields): frozen, compared
    and hashed by its fields.

    :func:`parse_sip_message` reads the start line and cuts the header block into lines
    once, keeping each line's canonical name and value as written. The single-valued
    fields and ``identity`` are looked up there at once (a lookup by name); the rest is
    made only when first asked for, then kept: ``headers`` (every line, unfolded),
    the comma lists ``pai``, ``diversion`` and ``history_info`` (split), and what
    :meth:`orig_tns`, :meth:`dest_tns` and :meth:`date_time` read. Built directly, every
    field is given.

    >>> m = parse_sip_message("INVITE sip:b@h SIP/2.0\\r\\nf: <sip:+12155551212@h>\\r\\n"
    ...                       "P-Asserted-Identity: <tel:+1215>, <tel:+1216>\\r\\n\\r\\n")
    >>> m.from_, m.pai, m.header("From")
    ('<sip:+12155551212@h>', ('<tel:+1215>', '<tel:+1216>'), ('<sip:+12155551212@h>',))
    """

    __match_args__ = (
        "start_line",
        "method",
        "request_uri",
        "status_code",
        "headers",
        "identity",
        "from_",
        "to",
        "pai",
        "date",
        "call_id",
        "diversion",
        "history_info",
    )

    start_line: str
    method: str | None
    request_uri: str | None
    status_code: int | None
    #: Every ``Identity`` / ``y`` header value, in order.
    identity: tuple[str, ...]
    #: The first ``From`` / ``f`` value.
    from_: str | None
    #: The first ``To`` / ``t`` value.
    to: str | None
    #: The first ``Date`` value.
    date: str | None
    #: The first ``Call-ID`` / ``i`` value.
    call_id: str | None
    # the header lines: (canonical name, value as written: unfolded, not stripped)
    _lines: Sequence[tuple[str, str]]

    def __init__(
        self,
        start_line: str,
        method: str | None,
        request_uri: str | None,
        status_code: int | None,
        headers: tuple[tuple[str, str], ...],
        identity: tuple[str, ...],
        from_: str | None,
        to: str | None,
        pai: tuple[str, ...],
        date: str | None,
        call_id: str | None,
        diversion: tuple[str, ...],
        history_info: tuple[str, ...],
    ) -> None:
        _setattr(
            self,
            "__dict__",
            {
                "start_line": start_line,
                "method": method,
                "request_uri": request_uri,
                "status_code": status_code,
                "headers": headers,
                "identity": identity,
                "from_": from_,
                "to": to,
                "pai": pai,
                "date": date,
                "call_id": call_id,
                "diversion": diversion,
                "history_info": history_info,
                "_lines": headers,
            },
        )

    @classmethod
    def _parsed(
        cls,
        start_line: str,
        start: tuple[str | None, str | None, int | None],
        lines: Sequence[tuple[str, str]],
        first: dict[str, str],
    ) -> SipMessage:
        """A parsed message: its header ``lines`` (canonical name, value as written) and
        ``first``, the first value of each field by name. The single-valued fields and
        the Identity values are looked up at once; the rest is read when asked for."""
        message = _new(cls)
        get = first.get
        identity = get("Identity")
        from_, to, date, call_id = get("From"), get("To"), get("Date"), get("Call-ID")
        fields = {
            "start_line": start_line,
            "method": start[0],
            "request_uri": start[1],
            "status_code": start[2],
            "identity": (
                ()
                if identity is None
                else (identity.strip(),)
                if len(first) == len(lines)  # each field once: the usual message
                else _every(lines, "Identity")
            ),
            "from_": None if from_ is None else from_.strip(),
            "to": None if to is None else to.strip(),
            "date": None if date is None else date.strip(),
            "call_id": None if call_id is None else call_id.strip(),
            "_lines": lines,
        }
        # a comma-list field without a line has nothing to split
        if "P-Asserted-Identity" not in first:
            fields["pai"] = ()
        if "Diversion" not in first:
            fields["diversion"] = ()
        if "History-Info" not in first:
            fields["history_info"] = ()
        _setattr(message, "__dict__", fields)
        return message

    # --- header fields, read when asked for -------------------------------------------
    @_lazy
    def headers(self) -> tuple[tuple[str, str], ...]:
        """(canonical long name, unfolded value) of each header line, in message order."""
        return tuple([(name, value.strip()) for name, value in self._lines])

    pai = _lazy(
        _list,
        "P-Asserted-Identity",
        doc="Every P-Asserted-Identity value (comma lists split), in order.",
    )
    diversion = _lazy(_list, "Diversion", doc="Every Diversion value (comma lists split).")
    history_info = _lazy(
        _list, "History-Info", doc="Every History-Info value (comma lists split), in order."
    )

    # --- a value object ------------------------------------------------------------------
    def _fields(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in _FIELDS])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SipMessage) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS)
        return f"SipMessage({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise attrs.exceptions.FrozenInstanceError

    def __delattr__(self, name: str) -> None:
        raise attrs.exceptions.FrozenInstanceError

    def __reduce__(self) -> tuple[Callable[[dict[str, Any]], SipMessage], tuple[object, ...]]:
        return _restore, (dict(self.__dict__),)

    # --- what a verifier reads ---------------------------------------------------------
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
        return self._orig_tns

    def dest_tns(self) -> tuple[str, ...]:
        """Canonical TNs of the called party: To, then the Request-URI (deduplicated)."""
        return self._dest_tns

    def date_time(self) -> datetime.datetime | None:
        """The Date header as an aware UTC datetime, or ``None`` if absent or unparsable.

        RFC 3261 §20.17 / RFC 7231 §7.1.1.1: ``Date: Sun, 06 Nov 1994 08:49:37 GMT``.

        >>> parse_sip_message("SIP/2.0 200 OK\\nDate: Sun, 06 Nov 1994 08:49:37 GMT\\n").date_time()
        datetime.datetime(1994, 11, 6, 8, 49, 37, tzinfo=datetime.timezone.utc)
        """
        return self._date_time

    @_lazy
    def _orig_tns(self) -> tuple[str, ...]:
        candidates = self.pai or ((self.from_,) if self.from_ is not None else ())
        return _distinct_tns(candidates)

    @_lazy
    def _dest_tns(self) -> tuple[str, ...]:
        return _distinct_tns((self.to, self.request_uri))

    @_lazy
    def _date_time(self) -> datetime.datetime | None:
        date = self.date
        if date is None:
            return None
        if date in _DATES:
            return _DATES[date]
        parsed = _sip_date(date)
        if len(_DATES) >= _MAX_DATES:
            _DATES.clear()
        _DATES[date] = parsed
        return parsed


#: The fields of a :class:`SipMessage`, in order (its constructor's parameters).
_FIELDS = SipMessage.__match_args__


def _restore(fields: dict[str, Any]) -> SipMessage:
    """A pickled :class:`SipMessage` (its fields and what was read already)."""
    message = _new(SipMessage)
    _setattr(message, "__dict__", fields)
    return message


def _distinct_tns(values: Iterable[str | None]) -> tuple[str, ...]:
    """The canonical TNs of header values (deduplicated, in order)."""
    out: list[str] = []
    for value in values:
        if value is None:
            continue
        tn = tn_from_uri(value)
        if tn is not None and tn not in out:
            out.append(tn)
    return tuple(out)


def _sip_date(date: str) -> datetime.datetime | None:
    """A Date value as an aware UTC datetime (``None``: not a date).

    RFC 3261 §25.1::

        Date          =  "Date" HCOLON SIP-date
        SIP-date      =  rfc1123-date
        rfc1123-date  =  wkday "," SP date1 SP time SP "GMT"
        date1         =  2DIGIT SP month SP 4DIGIT   ; day month year (e.g., 02 Jun 1982)

    Other RFC 5322 dates (an offset instead of ``GMT``, two-digit years ...) are read with
    :func:`email.utils.parsedate_to_datetime`, as leniently.

    >>> _sip_date("Sun, 06 Nov 1994 08:49:37 GMT").isoformat()
    '1994-11-06T08:49:37+00:00'
    >>> _sip_date("Tue, 14 Nov 2023 17:13:20 -0500").isoformat()
    '2023-11-14T22:13:20+00:00'
    >>> _sip_date("Sat, 29 Feb 2025 12:00:00 GMT") is None  # no such day
    True
    """
    fixed = _IMF_FIXDATE.fullmatch(date)
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
        parsed = email.utils.parsedate_to_datetime(date)
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
    if len(parts) == 3 and parts[2] == "SIP/2.0" and parts[1] and parts[0] and "/" not in parts[0]:
        return parts[0], parts[1], None  # a request (the usual line: no case to fold)
    if parts[0].upper().startswith("SIP/"):
        if len(parts) < 2 or not (len(parts[1]) == 3 and parts[1].isascii() and parts[1].isdigit()):
            raise SipMessageError("sip_malformed", f"bad status line: {line[:80]!r}")
        return None, None, int(parts[1])
    if len(parts) != 3 or not parts[2].upper().startswith("SIP/") or not parts[0] or not parts[1]:
        raise SipMessageError("sip_malformed", f"bad start line: {line[:80]!r}")
    return parts[0], parts[1], None


def _header_lines(lines: list[str]) -> list[tuple[str, str]]:
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
    return list(zip(names, values, strict=True))


def parse_sip_message(data: str | bytes) -> SipMessage:
    """Parse a SIP request or response (headers only; the body is ignored).

    RFC 3261 §7 / §25.1::

        generic-message  =  start-line *message-header CRLF [ message-body ]
        start-line       =  Request-Line / Status-Line

    Header names are case-insensitive and compact forms (``y f t i`` ...) are mapped to
    long names; folded lines (line break followed by space or tab) are unfolded; bare LF
    line ends work. Values of P-Asserted-Identity, Diversion and History-Info are split at
    commas outside ``<...>`` and quotes. Undecodable bytes read as U+FFFD. Raises
    :class:`~shakenlib.errors.SipMessageError` (``sip_malformed``) if the start line or a
    header line is not SIP.

    Every line is checked here; a header field's value is unfolded and split when it is
    first read (:class:`SipMessage`).

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
    text = text.lstrip("\r\n")  # the line breaks before the start line
    if "\r" in text:
        fast = _crlf_lines(text)
        if fast is not None:
            return fast
        text = text.replace("\r\n", "\n").replace("\r", "\n")  # any line end is LF
    # the header block ends at the first empty line; the body follows (RFC 3261 §7)
    end = text.find("\n\n")
    head = text[:end] if end >= 0 else text
    eol = head.find("\n")
    start_line = (head[:eol] if eol >= 0 else head).strip()
    if not start_line:
        raise SipMessageError("sip_malformed", "empty message")
    start = _parse_start_line(start_line)
    if eol < 0:
        return SipMessage._parsed(start_line, start, (), {})
    # the usual message: every line a plain "Name: value" line (no continuation lines),
    # read with one regular expression; else line by line
    pairs = _HEADER_LINE.findall(head, eol)
    if len(pairs) != head.count("\n") - head.endswith("\n"):
        lines = _header_lines(head.split("\n")[1:])
        return SipMessage._parsed(start_line, start, lines, dict(reversed(lines)))
    return _from_pairs(start_line, start, pairs)


def _crlf_lines(text: str) -> SipMessage | None:
    """The message of ``text`` when every line end of its head is CRLF and every header
    line a plain one (the usual message; read without copying the text), else ``None``.

    >>> _crlf_lines("INVITE sip:a@b SIP/2.0\\r\\nTo: <sip:b>\\r\\n\\r\\nv=0\\r\\n").to
    '<sip:b>'
    >>> _crlf_lines("INVITE sip:a@b SIP/2.0\\r\\nTo: <sip:b>\\r\\n folded\\r\\n\\r\\n") is None
    True
    """
    end = text.find("\r\n\r\n")
    stop = end + 2 if end >= 0 else len(text)  # the head: text[:stop], with its last CRLF
    eol = text.find("\n", 0, stop)
    if eol < 1 or text[eol - 1] != "\r" or text[stop - 1] != "\n":
        return None
    # each header line is matched up to its CRLF: with as many CRs as LFs, no lone CR
    # breaks a line, and the message reads as it does with its CRLFs written LF
    pairs = _HEADER_LINE_CRLF.findall(text, eol, stop)
    lines = text.count("\n", 0, stop)
    if len(pairs) != lines - 1 or text.count("\r", 0, stop) != lines:
        return None
    start_line = text[:eol].strip()
    if not start_line:  # pragma: no cover - the text starts with neither CR nor LF
        return None
    return _from_pairs(start_line, _parse_start_line(start_line), pairs)


def _from_pairs(
    start_line: str, start: tuple[str | None, str | None, int | None], pairs: list[tuple[str, str]]
) -> SipMessage:
    """The message of a start line and its header lines as ``(name, value)`` pairs (names
    as written, values not yet stripped)."""
    first = dict(pairs)  # the first value of each field, when each comes once
    if len(first) != len(pairs):
        first = dict(reversed(pairs))
    if not first.keys() <= _AS_WRITTEN:  # a name not in its canonical form (f, from ...)
        pairs = [(canonical_header_name(name), value) for name, value in pairs]
        first = dict(reversed(pairs))
    return SipMessage._parsed(start_line, start, pairs, first)
