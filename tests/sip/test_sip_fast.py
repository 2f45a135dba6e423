"""parse_sip_message reads the usual message with one regular expression: the result and
the errors are those of the line-by-line reading it replaced (kept here as a reference)."""

from __future__ import annotations

import datetime
import email.utils

import pytest
from hypothesis import example, given, settings, strategies as st

from shakenlib.errors import SipMessageError
from shakenlib.sip.message import (
    _LISTS,
    SipMessage,
    _parse_start_line,
    canonical_header_name,
    parse_sip_message,
    split_header_list,
)


def reference_parse(data: str | bytes) -> SipMessage:
    """parse_sip_message as it was before the fast path (one line at a time)."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    head = text.lstrip("\n").split("\n\n", 1)[0]
    lines = head.split("\n")
    start_line = lines[0].strip()
    if not start_line:
        raise SipMessageError("sip_malformed", "empty message")
    method, request_uri, status_code = _parse_start_line(start_line)
    names: list[str] = []
    values: list[str] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[:1] in (" ", "\t"):
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
    headers = tuple(zip(names, values, strict=True))
    identity: list[str] = []
    pai: list[str] = []
    diversion: list[str] = []
    history: list[str] = []
    first: dict[str, str] = {}
    for name, value in headers:
        if name == "Identity":
            identity.append(value)
        elif name in _LISTS:
            target = (
                pai
                if name == "P-Asserted-Identity"
                else (diversion if name == "Diversion" else history)
            )
            target.extend(split_header_list(value))
        else:
            first.setdefault(name, value)
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


def outcome(parse: object, data: str | bytes) -> object:
    try:
        return parse(data)  # type: ignore[operator]
    except SipMessageError as exc:
        return ("error", exc.code, exc.message)


_NAMES = st.sampled_from(
    [
        "From",
        "f",
        "To",
        "t",
        "Call-ID",
        "i",
        "Date",
        "Identity",
        "y",
        "P-Asserted-Identity",
        "Diversion",
        "History-Info",
        "CSeq",
        "X-A",
        "to ",
        " From",
        "\x0cFrom",
        "Fr om",
        "Fr\tom",
        "Fröm",
        "",
        "a:b",
        "Date\t",
        "\u00a0Date",
    ]
)
_VALUES = st.sampled_from(
    [
        "<sip:+12155551212@h>;tag=1",
        " <tel:+1215>, <tel:+1216> ",
        "",
        " x ",
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "a.b.c;info=<https://x>",
        "v\x0c",
        "\u2028y",
        '"D, J" <sip:1@h>',
        "é",
    ]
)
_BREAKS = st.sampled_from(["\r\n", "\n", "\r", "\r\n\r\n", "\n\n", "\n ", "\r\n\t", "\n\n\n"])


@st.composite
def messages(draw: st.DrawFn) -> str:
    out = draw(
        st.sampled_from(
            [
                "INVITE sip:a@b SIP/2.0",
                "SIP/2.0 200 OK",
                "\n\nACK x SIP/2.0",
                "  INVITE sip:a@b SIP/2.0 ",
                "hello",
                "",
                "SIP/2.0 2x OK",
            ]
        )
    )
    for _ in range(draw(st.integers(0, 8))):
        out += draw(_BREAKS)
        if draw(st.integers(0, 4)):
            out += draw(_NAMES) + draw(st.sampled_from([":", " :", "", "::", "\t:"]))
            out += draw(_VALUES)
        else:
            out += draw(st.text(max_size=10))
    return out + draw(st.sampled_from(["", "\r\n\r\nv=0\r\nFrom: body", "\n", "\r\n"]))


@settings(max_examples=1500, deadline=None)
@given(messages())
@example(
    "INVITE sip:a@b SIP/2.0\r\nFrom: <sip:1@h>\r\nf: <sip:2@h>\r\nDate: x\r\nDate: y\r\n"
    "y: a\r\nIdentity: b\r\nP-Asserted-Identity: <tel:+1>, <tel:+2>\r\n"
    "Diversion: <tel:+3>\r\nHistory-Info: <sip:4@h>;index=1\r\n\r\n"
)
@example("INVITE sip:a@b SIP/2.0\nX:\n")
def test_parse_reads_as_the_line_by_line_reading(text: str) -> None:
    assert outcome(parse_sip_message, text) == outcome(reference_parse, text)
    data = text.encode("utf-8", errors="surrogatepass")
    assert outcome(parse_sip_message, data) == outcome(reference_parse, data)


@pytest.mark.parametrize(
    "data",
    [
        b"INVITE sip:a@b SIP/2.0\r\nFrom: \xff<sip:1@h>\r\n\r\n\xfe",
        b"\r\n\r\nINVITE sip:a@b SIP/2.0\r\nTo: <sip:2@h>\r\n",
    ],
)
def test_parse_bytes_reads_as_the_line_by_line_reading(data: bytes) -> None:
    assert parse_sip_message(data) == reference_parse(data)


def reference_date_time(date: str) -> datetime.datetime | None:
    """SipMessage.date_time as it was before its fast path (email.utils alone)."""
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


@st.composite
def dates(draw: st.DrawFn) -> str:
    """IMF-fixdate and near misses: every field right or wrong."""

    def two(low: int, high: int) -> str:
        return draw(
            st.one_of(
                st.integers(low, high).map(lambda n: f"{n:02d}"),
                st.sampled_from(["0", "1", "001", "99", "-1", "٠١", " 1"]),
            )
        )

    day = draw(st.sampled_from(["Sun", "Mon", "Sat", "Xyz", "sun", "", "Sunday"]))
    sep = draw(st.sampled_from([", ", ",", " ", ",  "]))
    month = draw(st.sampled_from(["Jan", "Feb", "Nov", "Dec", "nov", "NOV", "Foo", "11"]))
    year = draw(
        st.one_of(
            st.integers(1, 9999).map(str),
            st.integers(0, 99).map(lambda n: f"{n:04d}"),
            st.sampled_from(["94", "10000", "1994,"]),
        )
    )
    zone = draw(st.sampled_from(["GMT", "UTC", "gmt", "+0000", "-0000", "EST", "", "GMT "]))
    return f"{day}{sep}{two(0, 32)} {month} {year} {two(0, 25)}:{two(0, 61)}:{two(0, 61)} {zone}"


@settings(max_examples=2000, deadline=None)
@given(dates())
@example("Sun, 06 Nov 1994 08:49:37 GMT")
@example("Sat, 29 Feb 2025 12:00:00 GMT")  # no such day
@example("Sun, 01 Jun 2025 24:00:00 GMT")
@example("Sun, 31 Dec 9999 23:59:59 GMT")
@example("Mon, 01 Jan 1000 00:00:00 GMT")
def test_date_time_reads_as_email_utils(date: str) -> None:
    message = parse_sip_message(f"SIP/2.0 200 OK\r\nDate: {date}\r\n\r\n")
    assert message.date is not None
    got = message.date_time()
    want = reference_date_time(message.date)
    assert got == want
    if got is not None and want is not None:
        assert (got.tzinfo, got.utcoffset()) == (want.tzinfo, want.utcoffset())
