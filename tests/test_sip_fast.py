"""parse_sip_message reads the usual message with one regular expression: the result and
the errors are those of the line-by-line reading it replaced (kept here as a reference)."""

from __future__ import annotations

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
        values.append(line[colon + 1:].strip())
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
            target = pai if name == "P-Asserted-Identity" else (
                diversion if name == "Diversion" else history)
            target.extend(split_header_list(value))
        else:
            first.setdefault(name, value)
    return SipMessage(start_line=start_line, method=method, request_uri=request_uri,
                      status_code=status_code, headers=headers, identity=tuple(identity),
                      from_=first.get("From"), to=first.get("To"), pai=tuple(pai),
                      date=first.get("Date"), call_id=first.get("Call-ID"),
                      diversion=tuple(diversion), history_info=tuple(history))


def outcome(parse: object, data: str | bytes) -> object:
    try:
        return parse(data)  # type: ignore[operator]
    except SipMessageError as exc:
        return ("error", exc.code, exc.message)


_NAMES = st.sampled_from(["From", "f", "To", "t", "Call-ID", "i", "Date", "Identity", "y",
                          "P-Asserted-Identity", "Diversion", "History-Info", "CSeq", "X-A",
                          "to ", " From", "\x0cFrom", "Fr om", "Fr\tom", "Fröm", "", "a:b",
                          "Date\t", "\u00a0Date"])
_VALUES = st.sampled_from(["<sip:+12155551212@h>;tag=1", " <tel:+1215>, <tel:+1216> ", "",
                           " x ", "Sun, 06 Nov 1994 08:49:37 GMT", "a.b.c;info=<https://x>",
                           "v\x0c", "\u2028y", '"D, J" <sip:1@h>', "é"])
_BREAKS = st.sampled_from(["\r\n", "\n", "\r", "\r\n\r\n", "\n\n", "\n ", "\r\n\t", "\n\n\n"])


@st.composite
def messages(draw: st.DrawFn) -> str:
    out = draw(st.sampled_from(["INVITE sip:a@b SIP/2.0", "SIP/2.0 200 OK", "\n\nACK x SIP/2.0",
                                "  INVITE sip:a@b SIP/2.0 ", "hello", "", "SIP/2.0 2x OK"]))
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
@example("INVITE sip:a@b SIP/2.0\r\nFrom: <sip:1@h>\r\nf: <sip:2@h>\r\nDate: x\r\nDate: y\r\n"
         "y: a\r\nIdentity: b\r\nP-Asserted-Identity: <tel:+1>, <tel:+2>\r\n"
         "Diversion: <tel:+3>\r\nHistory-Info: <sip:4@h>;index=1\r\n\r\n")
@example("INVITE sip:a@b SIP/2.0\nX:\n")
def test_parse_reads_as_the_line_by_line_reading(text: str) -> None:
    assert outcome(parse_sip_message, text) == outcome(reference_parse, text)
    data = text.encode("utf-8", errors="surrogatepass")
    assert outcome(parse_sip_message, data) == outcome(reference_parse, data)


@pytest.mark.parametrize("data", [b"INVITE sip:a@b SIP/2.0\r\nFrom: \xff<sip:1@h>\r\n\r\n\xfe",
                                  b"\r\n\r\nINVITE sip:a@b SIP/2.0\r\nTo: <sip:2@h>\r\n"])
def test_parse_bytes_reads_as_the_line_by_line_reading(data: bytes) -> None:
    assert parse_sip_message(data) == reference_parse(data)
