"""RFC 8224 §4 Identity header parsing: lenient parsing, strict findings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from shakenlib.errors import IdentityHeaderError, ShakenError
from shakenlib.sip.identity import parse_identity

DATA = Path(__file__).parents[1] / "data" / "identity"
SHAKEN = (DATA / "shaken-full.txt").read_text().strip()
URL = "https://cr.example.org/873J/3f8a1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c.pem"


def codes(value: str) -> list[tuple[str, str]]:
    return [(f.code, f.severity) for f in parse_identity(value).findings]


def test_clean_shaken_header() -> None:
    h = parse_identity(SHAKEN)
    assert h.form == "full"
    assert h.token.count(".") == 2
    assert SHAKEN.startswith(h.token + ";")
    assert (h.info, h.alg, h.ppt) == (URL, "ES256", "shaken")
    assert h.params == (("info", f"<{URL}>"), ("alg", "ES256"), ("ppt", "shaken"))
    assert h.findings == ()
    assert h.raw == SHAKEN


def test_compact_form() -> None:
    h = parse_identity("..c2ln;info=<https://x.example/c>;ppt=shaken")
    assert h.form == "compact"
    assert h.token == "..c2ln"


def test_whitespace_around_separators_is_grammatical() -> None:
    h = parse_identity(f"a.b.c ;  INFO = <{URL}> ; Alg=ES256 ;ppt= shaken ")
    assert (h.info, h.alg, h.ppt) == (URL, "ES256", "shaken")
    assert h.params[0][0] == "info"
    assert h.findings == ()


def test_quoted_ppt_and_info_without_brackets() -> None:
    h = parse_identity(f'a.b.c;info={URL};ppt="shaken";alg="ES256"')
    assert (h.info, h.ppt, h.alg) == (URL, "shaken", "ES256")
    assert [(f.code, f.severity) for f in h.findings] == [
        ("info_invalid", "warn"),
        ("identity_malformed", "warn"),
        ("identity_malformed", "warn"),
    ]


def test_missing_info() -> None:
    h = parse_identity("a.b.c;alg=ES256;ppt=shaken")
    assert h.info is None
    assert codes("a.b.c;alg=ES256;ppt=shaken") == [("info_missing", "error")]
    assert codes("a.b.c") == [("info_missing", "error")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a.b.c;info=", [("info_invalid", "error")]),
        ("a.b.c;info", [("info_invalid", "error")]),
        ("a.b.c;info=<not a uri>", [("info_invalid", "error")]),
        ("a.b.c;info=<>", [("info_invalid", "error")]),
        ("a+b/c=.d.e;info=<https://x/c>", [("identity_malformed", "warn")]),
        ("a.b$.c;info=<https://x/c>", [("identity_malformed", "error")]),
        ("a.b\tc .d;info=<https://x/c>", [("identity_malformed", "warn")]),
        ("a.b.c;info=<https://x/c>;info=<https://y/c>", [("identity_malformed", "error")]),
        ("a.b.c;;info=<https://x/c>", [("identity_malformed", "warn")]),
        ("a.b.c;info=<https://x/c>;ppt=", [("identity_malformed", "warn")]),
        ("a.b.c;info=<https://x/c>;alg=ES 256", [("identity_malformed", "warn")]),
        ("Identity: a.b.c;info=<https://x/c>", [("identity_malformed", "notice")]),
        ("y: a.b.c;info=<https://x/c>", [("identity_malformed", "notice")]),
    ],
)
def test_findings(value: str, expected: list[tuple[str, str]]) -> None:
    assert codes(value) == expected


def test_whitespace_inside_digest_is_removed() -> None:
    h = parse_identity("aa.b b.\r\n cc;info=<https://x/c>")
    assert h.token == "aa.bb.cc"


def test_info_with_semicolons_and_unknown_params() -> None:
    h = parse_identity('a.b.c;info=<https://x/c;v=1>;foo;bar="q;x";ppt=div')
    assert h.info == "https://x/c;v=1"
    assert h.ppt == "div"
    assert h.params == (
        ("info", "<https://x/c;v=1>"),
        ("foo", None),
        ("bar", '"q;x"'),
        ("ppt", "div"),
    )
    assert h.findings == ()


@pytest.mark.parametrize("value", ["", "   ", ";info=<https://x/c>", " ; ppt=shaken", "y:"])
def test_no_token_raises(value: str) -> None:
    with pytest.raises(IdentityHeaderError) as info:
        parse_identity(value)
    assert info.value.code == "identity_malformed"


def test_non_str_raises_identity_error() -> None:
    with pytest.raises(IdentityHeaderError):
        parse_identity(b"a.b.c")  # type: ignore[arg-type]


@settings(max_examples=200)
@given(st.text())
def test_arbitrary_text_raises_only_identity_errors(value: str) -> None:
    try:
        h = parse_identity(value)
    except ShakenError as exc:
        assert isinstance(exc, IdentityHeaderError)
        return
    assert h.token
    assert h.form in ("full", "compact")


@pytest.mark.parametrize(
    "value",
    [
        "a.b.c;info=<https://x.example/c.pem>junk",
        'a.b.c;info=https://x.example/c.pem">',
        "a.b.c;info=<urn:x<y>",
    ],
)
def test_info_with_angle_or_quote_characters_is_not_an_absolute_uri(value: str) -> None:
    # RFC 8224 §4: ident-info-uri = LAQUOT absoluteURI RAQUOT; "<", ">" and '"' are not URI
    # characters (RFC 3986 §2), so "https://x.example/c.pem>junk" is no absolute URI.
    h = parse_identity(value)
    assert ("info_invalid", "error") in [(f.code, f.severity) for f in h.findings]


def test_repeated_parameter_with_a_different_value_is_an_error() -> None:
    """Parser differential: one verifier reads the first ppt, another the last."""
    h = parse_identity("a.b.c;info=<https://x.example/c.pem>;ppt=shaken;ppt=div")
    [f] = [f for f in h.findings if "repeated" in f.message]
    assert (f.code, f.severity) == ("identity_malformed", "error")
    assert h.ppt == "shaken"
    same = parse_identity("a.b.c;info=<https://x.example/c.pem>;ppt=shaken;ppt=shaken")
    assert [f.severity for f in same.findings if "repeated" in f.message] == ["warn"]
    other = parse_identity("a.b.c;info=<https://x.example/c.pem>;foo=1;foo=2")
    assert [f.severity for f in other.findings if "repeated" in f.message] == ["warn"]
