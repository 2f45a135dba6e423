"""Time parsing: the one place user and record times become aware UTC datetimes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from shakenlib.errors import ShakenError, UsageError
from shakenlib.timeutil import parse_time, to_datetime

NOON = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "value",
    [
        1748779200,
        1748779200.0,
        "1748779200",
        " 1748779200 ",
        "1748779200000",
        1748779200000,
        "2025-06-01T12:00:00Z",
        "2025-06-01T12:00:00z",
        "2025-06-01T08:00:00-04:00",
        "2025-06-01 12:00:00",
        "2025-06-01 12:00:00 UTC",
        "2025-06-01T12:00:00 GMT",
        "2025-06-01T12:00",
    ],
)
def test_the_same_instant_in_every_accepted_form(value: object) -> None:
    assert parse_time(value) == NOON


@pytest.mark.parametrize(
    "value", [None, True, "", "yesterday", "1e400", float("nan"), 10**400, "2025-13-01"]
)
def test_refused_with_usage_error(value: object) -> None:
    with pytest.raises(UsageError):
        parse_time(value)


def test_to_datetime_keeps_aware_and_refuses_naive() -> None:
    assert to_datetime(NOON) is NOON
    assert to_datetime("1748779200") == NOON
    with pytest.raises(UsageError, match="timezone-aware"):
        to_datetime(dt.datetime(2025, 6, 1))


@given(st.one_of(st.text(max_size=40), st.integers(), st.floats()))
@settings(max_examples=300)
def test_anything_else_raises_only_shaken_errors(value: object) -> None:
    try:
        result = parse_time(value)
    except ShakenError:
        return
    assert result.tzinfo is not None


@given(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.integers(0, 19),
    st.sampled_from("0123456789:-T Z+x"),
)
@settings(max_examples=300, deadline=None)
def test_the_usual_iso_form_reads_as_its_offset_form(
    when: dt.datetime, pos: int, char: str
) -> None:
    # "YYYY-MM-DDTHH:MM:SSZ" has a shortcut; it must read exactly as the same time with an
    # explicit +00:00 (also after a one-character change), or fail as that does.
    text = when.replace(microsecond=0).isoformat() + "Z"
    text = text[:pos] + char + text[pos + 1 :]

    def outcome(value: str) -> object:
        try:
            return parse_time(value)
        except UsageError:
            return "error"

    assert outcome(text) == outcome(text[:-1] + "+00:00" if text.endswith("Z") else text)
