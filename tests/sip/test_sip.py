"""The lenient SIP message parser (RFC 3261 §7) and its field-data shapes."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from shakenlib.errors import ShakenError, SipMessageError
from shakenlib.sip.message import canonical_header_name, parse_sip_message, split_header_list

DATA = Path(__file__).parents[1] / "data"
SHAKEN = (DATA / "identity" / "shaken-full.txt").read_text().strip()


def load(name: str) -> bytes:
    return (DATA / "sip" / name).read_bytes()


def test_full_invite() -> None:
    msg = parse_sip_message(load("invite-shaken.sip"))
    assert msg.method == "INVITE"
    assert msg.request_uri == "sip:+12155551213@sbc.example.net;user=phone"
    assert msg.status_code is None
    assert msg.identity == (SHAKEN,)
    assert msg.pai == (
        "<sip:+12155551212@example.com;user=phone>",
        "<tel:+12155551212>",
    )
    assert msg.orig_tns() == ("12155551212",)  # PAI twice and From: deduplicated
    assert msg.dest_tns() == ("12155551213",)
    assert msg.call_id == "a84b4c76e66710@pc33.example.com"
    assert msg.header("cseq") == ("314159 INVITE",)
    assert msg.header("l") == ("4",)  # compact name for Content-Length
    assert msg.date_time() == datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.UTC)
    assert all(name != "v=0" for name, _ in msg.headers)  # body ignored
    assert msg.headers[0] == ("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds")


def test_str_and_bytes_give_the_same_message() -> None:
    raw = load("invite-shaken.sip")
    assert parse_sip_message(raw) == parse_sip_message(raw.decode())


def test_anonymous_from_uses_pai() -> None:
    msg = parse_sip_message(load("anonymous-from.sip"))
    assert msg.from_ == '"Anonymous" <sip:anonymous@anonymous.invalid>;tag=x1'
    assert msg.orig_tns() == ("12155551212",)
    assert msg.header("privacy") == ("id",)


def test_compact_lowercase_bare_lf() -> None:
    msg = parse_sip_message(load("compact-lowercase.sip"))
    assert msg.identity == (SHAKEN,)
    assert msg.from_ is not None
    assert msg.from_.startswith("<sip:+1-215-555-1212;verstat=")
    assert msg.orig_tns() == ("12155551212",)
    assert msg.dest_tns() == ("12155551213",)
    assert msg.call_id == "compact-123@host"
    assert msg.date == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert [n for n, _ in msg.headers] == ["From", "To", "Call-ID", "Date", "Identity"]


def test_folded_identity_is_unfolded() -> None:
    msg = parse_sip_message(load("folded-identity.sip"))
    (value,) = msg.identity
    assert "\n" not in value
    assert "\r" not in value
    assert value.replace(" ", "") == SHAKEN


def test_several_identity_headers_and_lists() -> None:
    msg = parse_sip_message(load("multi-identity.sip"))
    assert len(msg.identity) == 2
    assert msg.identity[1].endswith(";ppt=div")
    assert msg.diversion == (
        "<sip:+12155551213@example.net>;reason=unconditional",
        '"Desk, B" <sip:+12155551215@example.net>;reason=no-answer',
    )
    assert msg.history_info == ("<sip:+12155551213@example.net>;index=1",)
    assert msg.dest_tns() == ("12155551213", "12155551214")  # To, then Request-URI


def test_response_status_line() -> None:
    msg = parse_sip_message("SIP/2.0 438 Invalid Identity Header\r\nCall-ID: x\r\n\r\n")
    assert (msg.method, msg.request_uri, msg.status_code) == (None, None, 438)
    assert msg.dest_tns() == ()
    assert msg.orig_tns() == ()
    assert msg.date_time() is None


def test_leading_blank_lines_and_header_whitespace() -> None:
    msg = parse_sip_message("\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nTo : <sip:+1215@b>\r\n")
    assert msg.method == "OPTIONS"
    assert msg.to == "<sip:+1215@b>"


def test_bad_date_gives_none() -> None:
    msg = parse_sip_message("SIP/2.0 200 OK\nDate: yesterday\n")
    assert msg.date_time() is None
    msg = parse_sip_message("SIP/2.0 200 OK\nDate: Tue, 14 Nov 2023 17:13:20 -0500\n")
    assert msg.date_time() == datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("", "empty message"),
        ("\r\n\r\n", "empty message"),
        ("hello world", "bad start line"),
        ("INVITE sip:a@b HTTP/1.1\r\n", "bad start line"),
        ("SIP/2.0 2000 OK\r\n", "bad status line"),
        ("SIP/2.0\r\n", "bad status line"),
        ("INVITE sip:a@b SIP/2.0\r\n folded first\r\n", "continuation line"),
        ("INVITE sip:a@b SIP/2.0\r\nno colon here\r\n", "not a header line"),
        ("INVITE sip:a@b SIP/2.0\r\n: empty name\r\n", "not a header line"),
        ("INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n", "not a header line"),
    ],
)
def test_malformed(data: str, fragment: str) -> None:
    with pytest.raises(SipMessageError) as info:
        parse_sip_message(data)
    assert info.value.code == "sip_malformed"
    assert fragment in info.value.message


def test_non_text_input_is_rejected() -> None:
    with pytest.raises(SipMessageError):
        parse_sip_message(42)  # type: ignore[arg-type]


def test_header_names() -> None:
    assert canonical_header_name("Y") == "Identity"
    assert canonical_header_name("f") == "From"
    assert canonical_header_name("i") == "Call-ID"
    assert canonical_header_name("cseq") == "CSeq"
    assert canonical_header_name("x-custom-thing") == "X-Custom-Thing"


def test_split_header_list_respects_quotes_and_angles() -> None:
    assert split_header_list('<sip:a,b@h>, "x,\\"y" <tel:+1>,, ') == [
        "<sip:a,b@h>",
        '"x,\\"y" <tel:+1>',
    ]
    assert split_header_list("  ") == []


@settings(max_examples=200)
@given(st.one_of(st.text(), st.binary()))
def test_arbitrary_input_raises_only_shaken_errors(data: str | bytes) -> None:
    try:
        msg = parse_sip_message(data)
    except ShakenError as exc:
        assert isinstance(exc, SipMessageError)
        return
    msg.orig_tns()
    msg.dest_tns()
    msg.date_time()


@settings(max_examples=100)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["From", "f", "TO", "y", "Identity", "P-Asserted-Identity", "X-A"]),
            st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1),
        ),
        max_size=6,
    )
)
def test_headers_round_trip(headers: list[tuple[str, str]]) -> None:
    text = "INVITE sip:x@y SIP/2.0\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
    msg = parse_sip_message(text)
    assert [v for _, v in msg.headers] == [v for _, v in headers]
    assert msg.identity == tuple(v for n, v in headers if n.lower() in ("y", "identity"))
