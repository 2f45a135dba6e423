"""tn_from_uri answers the usual URI shapes on a fast path (_usual_tn): wherever that path
answers, it answers exactly as the general path (_tn_from_uri) does."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings, strategies as st

from shakenlib.tn import _tn_from_uri, _usual_tn, tn_from_uri

_PIECES = st.sampled_from(
    [
        "<",
        ">",
        "sip:",
        "sips:",
        "SIP:",
        "tel:",
        "Tel:",
        "urn:service:sos",
        "+",
        "1",
        "2155551212",
        "١٢",
        "-",
        ".",
        "(",
        ")",
        " ",
        "\t",
        "@",
        "@192.0.2.10",
        ";",
        ";user=phone",
        ";tag=a1",
        ":",
        ":secret",
        "%2B",
        "%3B",
        '"',
        '"Alice" ',
        "\\",
        ",",
        "#",
        "*",
        "\n",
        "x",
    ]
)


@st.composite
def uri_like(draw: st.DrawFn) -> str:
    """Values near the usual shapes: a name-addr or URI built of right and wrong parts."""
    # each part is right (the usual shape) about half the time, so whole values often are
    usual = ["", "<", "sip:", "+", "12155551212", "@", "192.0.2.10;user=phone", ">;tag=1"]
    wrong = [
        ['"Alice" ', " ", "Anonymous ", '"a \\" <b>" ', "<"],
        ["", " <", "<<", ">"],
        ["sips:", "tel:", "tel:", "SIP:", "Tel:", "sip", "urn:x:", ""],
        ["", "++", "%2B", " +", "-"],
        ["", "1-215", "1 215", "12#*", "١٢", "1.2", "(1)2", "x1"],
        [";", ">", "", ":pw@", ";npdi@", "%3B@", "\n", " ", "@<", ";x", "@@"],
        ["", "h>", "h<x>", "anonymous.invalid", "h;p=<x>", ","],
        ["", ">", ";tag=<x>", ">,<sip:+1@h>", '"', "\n", " "],
    ]
    parts = [
        st.one_of(st.just(right), st.sampled_from(other))
        for right, other in zip(usual, wrong, strict=True)
    ]
    return "".join(draw(part) for part in parts)


def test_usual_shapes_take_the_fast_path() -> None:
    for value, tn in [
        ("<sip:+13037775837@192.0.2.10;user=phone>;tag=a796256", "13037775837"),
        ("<sip:+17065514440@198.51.100.7;user=phone>", "17065514440"),
        ("sip:+17065514440@198.51.100.7;user=phone", "17065514440"),
        ("sips:12155551212@h", "12155551212"),
        ("<tel:+12155551212>", "12155551212"),
        ("<tel:+12155551212;npdi>;tag=1", "12155551212"),
        ("tel:+12155551212", "12155551212"),
    ]:
        assert _usual_tn(value) == tn == _tn_from_uri(value)


@pytest.mark.parametrize(
    "value",
    [
        "tel:+1215>",  # no "<": the ">" is part of the number, which is then not a number
        "sip:+1215@h;x=<sip:+1216@h>",  # a "<" further on holds the URI
        '"A" <sip:+1215@h>',
        " <sip:+1215@h>",
        "SIP:+1215@h",
        "sip:+1215;npdi@h",
        "tel:+1-215",
        "",
    ],
)
def test_other_shapes_take_the_general_path(value: str) -> None:
    assert _usual_tn(value) is None
    assert tn_from_uri(value) == _tn_from_uri(value)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(uri_like(), st.lists(_PIECES, max_size=12).map("".join), st.text(max_size=40)))
@example("tel:+1215>")
@example("<tel:+1215")
@example("<sip:+1215@h<x>")
@example("tel:+1215\n")
def test_the_fast_path_answers_as_the_general_path(value: str) -> None:
    usual = _usual_tn(value)
    if usual is not None:
        assert usual == _tn_from_uri(value)
    assert tn_from_uri(value) == _tn_from_uri(value)
