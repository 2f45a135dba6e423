"""Call records: JSON Lines, CSV, SIP, column mapping, and unreadable records."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from shakenlib.analysis.leads import Analysis
from shakenlib.analysis.records import (
    CallRecord,
    RecordSource,
    UnreadableRecord,
    _json_line,
    parse_time,
    read_records,
)
from shakenlib.errors import UsageError

T = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)


def test_jsonl_good_and_bad_lines_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    lines = [
        json.dumps(
            {
                "time": "2025-06-01T12:00:00Z",
                "orig": "+1 215-555-1212",
                "dest": "tel:+12155551213",
                "identity": "hdr1",
                "call_id": "a",
                "trunk": "t7",
            }
        ),
        "",  # blank lines are skipped, not errors
        "{not json",
        json.dumps({"orig": "12155551212"}),
        json.dumps([1, 2]),
        json.dumps({"time": "yesterday", "orig": "1"}),
        json.dumps({"time": 1748779200, "identity": ["h1", "", "h2"]}),
        json.dumps({"time": 1748779200, "identity": 5}),
    ]
    path.write_text("\n".join(lines) + "\n")
    items = list(read_records(path))
    assert len(items) == 7  # nothing silently dropped
    first = items[0]
    assert isinstance(first, CallRecord)
    assert (first.line, first.time, first.orig, first.dest, first.identity, first.call_id) == (
        1,
        T,
        "12155551212",
        "12155551213",
        ("hdr1",),
        "a",
    )
    assert first.extra == (("trunk", "t7"),)
    errors = [i for i in items if isinstance(i, UnreadableRecord)]
    assert [(e.line, e.reason) for e in errors] == [
        (3, "not a JSON object: Expecting property name enclosed in double quotes"),
        (4, "missing time (column 'time')"),
        (5, "not a JSON object"),
        (6, "not ISO 8601 or Unix seconds: 'yesterday'"),
        (8, "identity is a int, not a string or list"),
    ]
    assert all(e.code == "record_malformed" and e.source == str(path) for e in errors)
    seventh = items[5]
    assert isinstance(seventh, CallRecord)
    assert seventh.identity == ("h1", "h2")
    assert seventh.orig is None


def test_csv_with_identity_list_and_mapping(tmp_path: Path) -> None:
    path = tmp_path / "cdr.csv"
    path.write_text(
        "start_time,calling_number,called_number,identity,region\n"
        '2025-06-01 08:00:00-04:00,2155551212,2155551213,"[""h1"", ""h2""]",east\n'
        "1748779200,2155551212,2155551213,,west\n"
        "oops,1,2,,x\n"
        "1748779200,1,2\n"
    )
    items = list(
        read_records(path, mapping="time=start_time,orig=calling_number,dest=called_number")
    )
    assert len(items) == 4
    a, b, c, d = items
    assert isinstance(a, CallRecord)
    assert isinstance(b, CallRecord)
    assert (a.line, a.time, a.orig, a.identity, a.extra) == (
        2,
        T,
        "12155551212",
        ("h1", "h2"),
        (("region", "east"),),
    )
    assert [f.code for f in a.findings] == ["tn_national", "tn_national"]
    assert (b.line, b.identity, b.signed) == (3, (), False)
    assert isinstance(c, UnreadableRecord)
    assert c.line == 4
    assert isinstance(d, UnreadableRecord)
    assert (d.line, d.reason) == (5, "3 columns, the header has 5")


def test_mapping_errors() -> None:
    with pytest.raises(UsageError, match="unknown record field"):
        list(read_records("x.jsonl", mapping="caller=a"))
    with pytest.raises(UsageError, match="not field=column"):
        list(read_records("x.jsonl", mapping="orig"))


SIP = (
    "INVITE sip:+12155551213@example.com SIP/2.0\r\n"
    "From: <sip:+12155551212@example.com>;tag=1\r\n"
    "To: <sip:+12155551213@example.com>\r\n"
    "P-Asserted-Identity: <sip:+12155551299@example.com>\r\n"
    "Call-ID: {cid}\r\n"
    "Date: Sun, 01 Jun 2025 12:00:00 GMT\r\n"
    "Identity: hdr;info=<https://cr.example/x.pem>;alg=ES256;ppt=shaken\r\n"
    "\r\n"
)


def test_sip_directory(tmp_path: Path) -> None:
    (tmp_path / "a.sip").write_text(SIP.format(cid="one") + "---\n" + SIP.format(cid="two"))
    (tmp_path / "b.sip").write_text("not sip at all\n")
    (tmp_path / "c.sip").write_text(
        SIP.format(cid="three").replace("Date: Sun, 01 Jun 2025 12:00:00 GMT\r\n", "")
    )
    items = list(read_records(tmp_path))
    assert [type(i).__name__ for i in items] == [
        "CallRecord",
        "CallRecord",
        "UnreadableRecord",
        "UnreadableRecord",
    ]
    one = items[0]
    assert isinstance(one, CallRecord)
    assert (one.time, one.orig, one.dest, one.call_id) == (T, "12155551299", "12155551213", "one")
    assert one.identity == ("hdr;info=<https://cr.example/x.pem>;alg=ES256;ppt=shaken",)
    assert one.sip is not None
    bad = items[2]
    assert isinstance(bad, UnreadableRecord)
    assert (bad.source, bad.line) == (str(tmp_path / "b.sip"), 1)  # the file and its line
    assert "start line" in bad.reason
    two = items[1]
    assert isinstance(two, CallRecord)
    assert (two.source, two.line) == (str(tmp_path / "a.sip"), 10)
    nodate = items[3]
    assert isinstance(nodate, UnreadableRecord)
    assert "Date" in nodate.reason
    # with an explicit time the dateless message reads
    fixed = list(RecordSource(path=str(tmp_path / "c.sip"), at=T))
    assert isinstance(fixed[0], CallRecord)
    assert fixed[0].time == T


def test_format_detection(tmp_path: Path) -> None:
    assert RecordSource(path=str(tmp_path)).is_dir
    assert RecordSource(path="x.CSV").format == "csv"
    assert RecordSource(path="x.log").format == "jsonl"
    assert RecordSource(path="x.log", fmt="csv").format == "csv"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1748779200, T),
        ("1748779200", T),
        (1748779200.0, T),
        ("2025-06-01T12:00:00Z", T),
        ("2025-06-01T12:00:00", T),
        ("2025-06-01T14:00:00+02:00", T),
    ],
)
def test_parse_time(value: object, expected: dt.datetime) -> None:
    assert parse_time(value) == expected


@pytest.mark.parametrize("value", [None, True, "", "nan", "soon", float("inf"), 1e20])
def test_parse_time_rejects(value: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        parse_time(value)


def test_streaming_reads_lazily(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text('{"time": 0}\n' * 10 + "{bad\n")
    iterator = read_records(path)
    first = next(iterator)
    assert isinstance(first, CallRecord)
    assert first.line == 1
    rest = list(iterator)
    assert isinstance(rest[-1], UnreadableRecord)
    assert rest[-1].line == 11


# --- review R3: real CDR exports and hostile input ------------------------------------------
def _kinds(items: list[CallRecord | UnreadableRecord]) -> list[tuple[str, int]]:
    return [(type(i).__name__, i.line) for i in items]


def test_csv_with_utf8_bom_reads_the_time_column(tmp_path: Path) -> None:
    # Excel's "CSV UTF-8" and many CDR exporters write a byte-order mark first.
    path = tmp_path / "cdr.csv"
    path.write_text(
        "time,orig,dest,identity\n1748779200,+1-215-555-1212,2155551213,\n", encoding="utf-8-sig"
    )
    (item,) = list(read_records(path))
    assert isinstance(item, CallRecord)
    assert (item.time, item.orig) == (T, "12155551212")
    (text_item,) = list(
        RecordSource.from_text("\ufefftime,orig\n1748779200,12155551212\n", fmt="csv")
    )
    assert isinstance(text_item, CallRecord)


def test_jsonl_with_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_text('{"time": 1748779200}\n', encoding="utf-8-sig")
    (item,) = list(read_records(path))
    assert isinstance(item, CallRecord)


def test_csv_line_numbers_with_embedded_newlines(tmp_path: Path) -> None:
    # a quoted cell spanning lines: the record is reported at the line it starts on
    path = tmp_path / "cdr.csv"
    path.write_text(
        'time,orig,note\n1748779200,12155551212,"a\nb\nc"\noops,1,x\n'
        '1748779200,12155551212,"d\ne"\n'
    )
    items = list(read_records(path))
    assert _kinds(items) == [("CallRecord", 2), ("UnreadableRecord", 5), ("CallRecord", 6)]
    first = items[0]
    assert isinstance(first, CallRecord)
    assert first.extra == (("note", "a\nb\nc"),)


def test_tsv_is_tab_separated(tmp_path: Path) -> None:
    path = tmp_path / "cdr.tsv"
    path.write_text("time\torig\tdest\n1748779200\t12155551212\t12155551213\n")
    (item,) = list(read_records(path))
    assert isinstance(item, CallRecord)
    assert (item.orig, item.dest) == ("12155551212", "12155551213")


def test_csv_oversized_cell_is_an_unreadable_record_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "cdr.csv"
    path.write_text("time,identity\n0," + "a" * 200_000 + "\n1748779200,\n")
    items = list(read_records(path))
    assert _kinds(items) == [("UnreadableRecord", 2), ("CallRecord", 3)]
    assert "field" in items[0].reason  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "line",
    [
        '{"time": 0, "identity": ' + "[" * 100_000 + "}",  # nested too deeply for json
        "[" * 100_000,
        '{"time": ' + "9" * 400 + "}",  # an int too large for a float
    ],
)
def test_hostile_jsonl_lines_are_unreadable_records(line: str) -> None:
    items = list(RecordSource.from_text(line + '\n{"time": 0}\n'))
    assert _kinds(items) == [("UnreadableRecord", 1), ("CallRecord", 2)]


def test_hostile_csv_identity_cell_is_an_unreadable_record() -> None:
    items = list(RecordSource.from_text('time,identity\n0,"' + "[" * 100_000 + '"\n', fmt="csv"))
    assert _kinds(items) == [("UnreadableRecord", 2)]


def test_json_float_numbers_are_not_given_an_extra_digit() -> None:
    # pandas and spreadsheets export numeric columns with gaps as floats (12155551212.0)
    (item,) = list(
        RecordSource.from_text('{"time": 0, "orig": 12155551212.0, "dest": 2155551213}\n')
    )
    assert isinstance(item, CallRecord)
    assert (item.orig, item.dest) == ("12155551212", "12155551213")  # NANP by default


def test_sip_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.sip"
    path.write_bytes(b"\xef\xbb\xbf" + SIP.format(cid="bom").encode())
    (item,) = list(read_records(path))
    assert isinstance(item, CallRecord)
    assert item.call_id == "bom"


def _loads_outcome(fn: Any, text: str) -> tuple[str, str]:
    try:
        return "value", repr(fn(text))
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    value=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    cut=st.integers(0, 200),
    junk=st.sampled_from(["", "\n", " \r\n", "x", "}", " {}"]),
)
@settings(max_examples=300, deadline=None)
def test_json_line_reads_exactly_as_json_loads(value: dict[str, Any], cut: int, junk: str) -> None:
    # the fast JSON Lines reader: same values, same errors as json.loads, also on broken
    # lines (cut short, trailing junk)
    text = json.dumps(value)
    for line in (text + junk, text[:cut] + junk, " " + text):
        assert _loads_outcome(_json_line, line) == _loads_outcome(json.loads, line)


line_text = st.one_of(
    st.just(""),
    st.just("   "),
    st.just("\r"),
    st.text(max_size=30),
    st.builds(lambda n: json.dumps({"time": n, "orig": "12155550123"}), st.integers(0, 10**9)),
)


@given(
    lines=st.lists(line_text, max_size=40),
    bom=st.booleans(),
    crlf=st.booleans(),
    last_newline=st.booleans(),
    junk=st.booleans(),
    max_bytes=st.integers(1, 200),
    parts=st.integers(1, 4),
)
@settings(max_examples=150, deadline=None)
def test_spans_cover_the_file_and_read_as_raw_does(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[str],
    bom: bool,
    crlf: bool,
    last_newline: bool,
    junk: bool,
    max_bytes: int,
    parts: int,
) -> None:
    # Workers read byte ranges of a JSON Lines file; together the ranges must give
    # exactly the items (line numbers included) that reading it in one pass gives.
    sep = b"\r\n" if crlf else b"\n"
    data = sep.join(line.encode("utf-8", "surrogatepass") for line in lines)
    if junk:
        data += b"\xff\xfe{bad utf-8}"
    if last_newline:
        data += sep
    path = tmp_path_factory.mktemp("spans") / "calls.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    source = RecordSource(path=str(path))
    assert source.splittable
    spans = list(source.spans(max_bytes, parts=parts, min_bytes=1))
    offset = 0
    for start, length, _line in spans:
        assert start == offset
        assert length > 0
        offset += length
    assert offset == path.stat().st_size
    from_spans = [item for span in spans for item in source.raw_span(span)]
    assert from_spans == list(source.raw())
    assert [source.parse(item) for item in from_spans] == list(source)


# --- hostile SIP directories (review item 13) --------------------------------------------------
SHORT_SIP = (
    "INVITE sip:+12155551213@example.com SIP/2.0\r\n"
    "From: <sip:+12155551212@example.com>;tag=1\r\nTo: <sip:+12155551213@example.com>\r\n"
    "Call-ID: {cid}\r\nDate: Sun, 01 Jun 2025 12:00:00 GMT\r\n\r\n"
)


def test_symlink_out_of_the_directory_is_not_followed(tmp_path: Path) -> None:
    inside = tmp_path / "calls"
    inside.mkdir()
    (inside / "a.sip").write_text(SHORT_SIP.format(cid="a"))
    secret = tmp_path / "secret.txt"
    secret.write_text("root:SECRET-FIRST-LINE\n")
    (inside / "b.sip").symlink_to(secret)
    outside_dir = tmp_path / "elsewhere"
    outside_dir.mkdir()
    (outside_dir / "c.sip").write_text("SECRET-IN-DIR\n")
    (inside / "d").symlink_to(outside_dir, target_is_directory=True)
    (inside / "sub").mkdir()
    (inside / "sub" / "e.sip").write_text(SHORT_SIP.format(cid="e"))
    (inside / "f.sip").symlink_to(inside / "sub" / "e.sip")  # inside: followed
    items = list(read_records(inside))
    reasons = " ".join(i.reason for i in items if isinstance(i, UnreadableRecord))
    assert "SECRET" not in reasons
    assert sorted((type(i).__name__, Path(i.source or "").name) for i in items) == [
        ("CallRecord", "a.sip"),
        ("CallRecord", "e.sip"),
        ("CallRecord", "f.sip"),
        ("UnreadableRecord", "b.sip"),
        ("UnreadableRecord", "d"),
    ]
    assert all(
        "symbolic link out of the directory" in i.reason
        for i in items
        if isinstance(i, UnreadableRecord)
    )


def test_unreadable_file_is_counted_and_named_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.sip").write_text(SHORT_SIP.format(cid="a"))
    (tmp_path / "b.sip").write_text(SHORT_SIP.format(cid="b"))
    (tmp_path / "c.sip").write_text(SHORT_SIP.format(cid="c"))
    bad = str(tmp_path / "b.sip")
    real_open = open

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(file) == bad:
            raise PermissionError(13, "Permission denied", bad)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded_open)
    monkeypatch.setattr(Path, "read_bytes", lambda self: guarded_open(self, "rb").read())
    items = list(read_records(tmp_path))
    assert [(type(i).__name__, Path(i.source or "").name) for i in items] == [
        ("CallRecord", "a.sip"),
        ("UnreadableRecord", "b.sip"),
        ("CallRecord", "c.sip"),
    ]
    error = items[1]
    assert isinstance(error, UnreadableRecord)
    assert error.reason == "unreadable file: Permission denied"
    analysis = Analysis()
    analysis.add_error(error)
    assert analysis.to_dict()["unreadable_records"][0]["source"] == bad


def test_errors_in_a_directory_cite_the_file_and_its_line(tmp_path: Path) -> None:
    (tmp_path / "a.sip").write_text(SHORT_SIP.format(cid="a") + "---\n" + SHORT_SIP.format(cid="b"))
    (tmp_path / "b.sip").write_text(SHORT_SIP.format(cid="c") + "\f" + "junk line\n")
    items = list(read_records(tmp_path))
    assert [(type(i).__name__, Path(i.source or "").name, i.line) for i in items] == [
        ("CallRecord", "a.sip", 1),
        ("CallRecord", "a.sip", 8),
        ("CallRecord", "b.sip", 1),
        ("UnreadableRecord", "b.sip", 7),
    ]  # the form feed starts line 7
