"""parse_sip_message reads the usual message with one regular expression (its CRLF line
ends as written) and reads each header field when it is first asked for: the result and
the errors are those of the line-by-line reading it replaced (kept here as a reference)."""

from __future__ import annotations

import datetime
import email.utils
import pickle

import attrs
import pytest
from hypothesis import example, given, settings, strategies as st

from shakenlib.errors import SipMessageError
from shakenlib.sip.message import (
    SipMessage,
    _parse_start_line,
    canonical_header_name,
    parse_sip_message,
    split_header_list,
)

# Header fields whose value may be a comma-separated list that is split.
_LISTS = frozenset({"P-Asserted-Identity", "Diversion", "History-Info"})


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


def reads_alike(data: str | bytes) -> None:
    """parse_sip_message and the reference give the same message or the same error, and
    the message answers alike whatever is asked first."""
    got, want = outcome(parse_sip_message, data), outcome(reference_parse, data)
    assert got == want
    if not isinstance(want, SipMessage):
        return
    assert isinstance(got, SipMessage)
    # a fresh message, its lazy parts read in another order than == reads them
    fresh = parse_sip_message(data)
    assert fresh.date_time() == want.date_time()
    assert fresh.dest_tns() == want.dest_tns()
    assert fresh.orig_tns() == want.orig_tns()
    assert fresh.header("from") == want.header("from")
    assert fresh.history_info == want.history_info
    assert fresh.headers == want.headers
    assert repr(got) == repr(want)
    assert hash(got) == hash(want)
    again = pickle.loads(pickle.dumps(parse_sip_message(data)))
    assert again == want
    assert again.orig_tns() == want.orig_tns()


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
        "a\rb",
        "x\r",
        "\r",
        "<tel:+12155551212>;tag=9\r",
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
    reads_alike(text)
    reads_alike(text.encode("utf-8", errors="surrogatepass"))


_INVITE_HEADERS = [
    ("Via", "v", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1"),
    ("Max-Forwards", None, "70"),
    ("From", "f", "<sip:+13037775837@192.0.2.10;user=phone>;tag=a1"),
    ("To", "t", "<sip:+17065514440@198.51.100.7;user=phone>"),
    ("Call-ID", "i", "000001@pbx.example.invalid"),
    ("CSeq", None, "1 INVITE"),
    ("Date", None, "Sun, 01 Jun 2025 00:00:58 GMT"),
    ("P-Asserted-Identity", None, '"A, B" <sip:+13037775837@h>, <tel:+13037775837>'),
    ("Identity", "y", "eyJh.eyJh.sig;info=<https://cr.example/c.pem>;alg=ES256;ppt=shaken"),
    ("Identity", "y", "eyJi.eyJi.sig;info=<https://cr.example/d.pem>;ppt=div"),
    ("Diversion", None, "<sip:+17065514441@h>;reason=unconditional"),
    ("History-Info", None, "<sip:+17065514442@h>;index=1"),
    ("Contact", "m", "<sip:gw@192.0.2.10:5060>"),
    ("Content-Type", "c", "application/sdp"),
    ("Content-Length", "l", "0"),
]


@st.composite
def invites(draw: st.DrawFn) -> bytes:
    """INVITEs as they come over the wire, and as they are varied: long or compact names
    in any case, white space around names and values, folded lines, repeated fields, LF
    or lone CR line ends, no blank line, a body, bytes that are not UTF-8."""
    start = st.sampled_from(["INVITE sip:+17065514440@h;user=phone SIP/2.0", "BYE x SIP/2.0"])
    lines = [draw(start)]
    for name, compact, value in draw(st.lists(st.sampled_from(_INVITE_HEADERS), max_size=14)):
        spelled = draw(st.sampled_from([name, name, name.lower(), name.upper(), compact or name]))
        gap = draw(st.sampled_from([" ", " ", "", "\t", "  "]))
        before = draw(st.sampled_from(["", "", "", " ", "\t"]))
        line = f"{spelled}{before}:{gap}{value}"
        if draw(st.integers(0, 9)) == 0:  # a folded line (obsolete line folding)
            line += draw(st.sampled_from(["\r\n ", "\r\n\t", "\n  "])) + "more"
        lines.append(line)
    ends = draw(st.sampled_from(["\r\n", "\r\n", "\r\n", "\n", "mixed"]))
    out = ""
    for line in lines:
        end = ends if ends != "mixed" else draw(st.sampled_from(["\r\n", "\n", "\r"]))
        out += line + end
    out += draw(st.sampled_from(["\r\n", "\r\n", "", "\n"]))
    out += draw(st.sampled_from(["", "v=0\r\no=- 1 1 IN IP4 h\r\n", "From: body\r\n"]))
    data = draw(st.sampled_from(["", "", "\r\n\r\n", "\n"])) + out
    raw = data.encode()
    if draw(st.integers(0, 5)) == 0:  # a byte that is not UTF-8 somewhere
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xe2\x82", b"\xc3"])) + raw[at:]
    return raw


@settings(max_examples=1500, deadline=None)
@given(invites())
def test_invites_read_as_the_line_by_line_reading(data: bytes) -> None:
    reads_alike(data)
    reads_alike(data.decode("utf-8", "replace"))


def test_a_message_built_with_its_fields_equals_the_parsed_one() -> None:
    data = (
        "INVITE sip:+12155551213@h SIP/2.0\r\nf: <sip:+12155551212@h>\r\n"
        "P-Asserted-Identity: <tel:+1215>, <tel:+1216>\r\ny: a.b.c\r\n\r\n"
    )
    parsed = parse_sip_message(data)
    built = reference_parse(data)
    assert built == parsed
    assert built.orig_tns() == parsed.orig_tns() == ("1215", "1216")
    assert SipMessage(*(getattr(parsed, name) for name in SipMessage.__match_args__)) == built
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        parsed.to = "x"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del parsed.start_line


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


def reference_start_line(line: str) -> tuple[str | None, str | None, int | None]:
    """_parse_start_line as it was before its shortcut for the usual request line."""
    parts = line.split(" ", 2)
    if parts[0].upper().startswith("SIP/"):
        if len(parts) < 2 or not (len(parts[1]) == 3 and parts[1].isascii() and parts[1].isdigit()):
            raise SipMessageError("sip_malformed", f"bad status line: {line[:80]!r}")
        return None, None, int(parts[1])
    if len(parts) != 3 or not parts[2].upper().startswith("SIP/") or not parts[0] or not parts[1]:
        raise SipMessageError("sip_malformed", f"bad start line: {line[:80]!r}")
    return parts[0], parts[1], None


_START_WORDS = st.sampled_from(
    ["INVITE", "invite", "SIP/2.0", "sip/2.0", "ſIP/2.0", "S/IP", "SIP/", "", "a/b", "200", "ß"]
)


@settings(max_examples=800, deadline=None)
@given(st.lists(st.one_of(_START_WORDS, st.text(max_size=6)), max_size=5), st.sampled_from(" \t"))
@example(["INVITE", "", "SIP/2.0"], " ")
@example(["", "sip:a@b", "SIP/2.0"], " ")
@example(["ſIP/2.0", "x", "SIP/2.0"], " ")
@example(["I/NVITE", "x", "SIP/2.0"], " ")
def test_start_line_reads_as_before(words: list[str], sep: str) -> None:
    line = sep.join(words)
    assert outcome(_parse_start_line, line) == outcome(reference_start_line, line)
