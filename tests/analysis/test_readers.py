"""CDR hygiene (mapping, --tz, country code, upstream verdicts) and hostile SIP directories."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, strategies as st

from shakenlib.analysis.batch import verify_record
from shakenlib.analysis.leads import Analysis, verdict
from shakenlib.analysis.records import (
    CallRecord,
    RecordSource,
    national_to_global,
    parse_mapping,
    read_records,
)
from shakenlib.errors import CODES, UsageError
from shakenlib.verify.result import VerificationResult

T = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)


def _one(text: str, fmt: Any = "jsonl", **kwargs: Any) -> CallRecord:
    (item,) = list(RecordSource.from_text(text, fmt=fmt, **kwargs))
    assert isinstance(item, CallRecord), item
    return item


# --- mapping ------------------------------------------------------------------------------
def test_mapping_names_with_spaces_pai_from_several_identities() -> None:
    csv_text = (
        "Start Time,Calling Number,PAI,From,IdentityA,IdentityB,Called Number\n"
        "2025-06-01 12:00:00,,tel:+12155550100,sip:+12155550199@x,h1,h2,2155550111\n"
        "2025-06-01 12:00:00,2155550122,,sip:+12155550199@x,h1,,2155550111\n"
        "2025-06-01 12:00:00,2155550122,,,,,2155550111\n"
    )
    mapping = parse_mapping(
        "time=Start Time,orig=Calling Number,pai=PAI,from=From,"
        "identity=IdentityA+IdentityB,dest=Called Number"
    )
    a, b, c = list(RecordSource.from_text(csv_text, fmt="csv", mapping=mapping))
    assert isinstance(a, CallRecord)
    assert isinstance(b, CallRecord)
    assert isinstance(c, CallRecord)
    assert (a.time, a.orig, a.dest, a.identity) == (T, "12155550100", "12155550111", ("h1", "h2"))
    assert (b.orig, b.identity) == ("12155550199", ("h1",))  # no PAI: From
    assert (c.orig, c.identity, c.signed) == ("12155550122", (), False)  # neither: orig
    assert a.extra == ()


def test_dotted_paths_into_nested_json() -> None:
    line = json.dumps(
        {
            "ts": 1748779200,
            "sip": {"headers": {"identity": ["h1", "h2"], "from": "<sip:+12155550100@a>"}},
            "meta": json.dumps({"callid": "c-1"}),
            "a.b": "x",
        }
    )
    record = _one(
        line + "\n",
        mapping=parse_mapping(
            "time=ts,identity=sip.headers.identity,orig=sip.headers.from,call_id=meta.callid,"
            "dest=sip.headers.to"
        ),
    )
    assert (record.time, record.identity, record.orig, record.call_id, record.dest) == (
        T,
        ("h1", "h2"),
        "12155550100",
        "c-1",
        None,
    )
    assert record.extra == (("a.b", "x"),)
    # a column whose very name has a dot wins over the path
    assert _one(line + "\n", mapping={"time": "ts", "orig": "a.b"}).orig is None


def test_identity_column_with_its_header_name() -> None:
    # the NCSU pipeline strips a leading "Identity: " that some exports keep
    assert _one('{"time": 0, "identity": "Identity: a.b.c;info=<https://x/y>"}\n').identity == (
        "a.b.c;info=<https://x/y>",
    )


# --- time zones ---------------------------------------------------------------------------
def test_tz_reads_times_without_offset_in_that_zone() -> None:
    text = (
        '{"time": "2025-06-01 08:00:00"}\n{"time": "2025-06-01T12:00:00Z"}\n'
        '{"time": "2025-06-01T14:00:00+02:00"}\n{"time": 1748779200}\n'
    )
    local = [
        r.time
        for r in RecordSource.from_text(text, tz="America/New_York")
        if isinstance(r, CallRecord)
    ]
    assert local == [T, T, T, T]
    utc = [r.time for r in RecordSource.from_text(text) if isinstance(r, CallRecord)]
    assert utc[0] == T - dt.timedelta(hours=4)  # without --tz the local time is read as UTC


def test_tz_applies_to_naive_datetimes_and_rejects_unknown_zones() -> None:
    from shakenlib.analysis.records import _record_time

    zone = RecordSource(tz="America/Chicago").zone
    assert _record_time(dt.datetime(2025, 6, 1, 7), zone) == T
    with pytest.raises(UsageError, match="unknown time zone"):
        RecordSource(tz="Mars/Olympus")
    with pytest.raises(UsageError, match="country code"):
        RecordSource(country_code="+1x")


# --- national numbers ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "cc", "expected", "national"),
    [
        ("2155551212", "1", "12155551212", True),
        ("(215) 555-1212", "1", "12155551212", True),
        ("12155551212", "1", "12155551212", False),
        ("+2155551212", "1", "2155551212", False),  # written global: left alone
        ("tel:+2155551212", "1", "2155551212", False),
        ("sip:2155551212@host", "1", "12155551212", True),
        ("01144201234567", "1", "44201234567", True),
        ("1234", "1", "1234", False),
        ("0201234567", "44", "44201234567", True),
        ("0044201234567", "44", "44201234567", True),
        ("2155551212", None, "2155551212", False),
        (2155551212, "1", "12155551212", True),
    ],
)
def test_country_code(value: object, cc: str | None, expected: str, national: bool) -> None:
    text = json.dumps({"time": 0, "orig": value}) + "\n"
    record = _one(text, country_code=cc)
    assert record.orig == expected
    assert bool(record.findings) is national
    if national:
        (finding,) = record.findings
        assert finding.code == "tn_national"
        assert finding.code in CODES
        assert finding.severity == "warn"


@given(st.from_regex(r"[2-9][0-9]{9}", fullmatch=True))
def test_national_nanp_numbers_become_e164(digits: str) -> None:
    assert national_to_global(digits, "1") == "1" + digits
    assert national_to_global("1" + digits, "1") is None


class _Echo:
    """A verifier whose result passes when orig is the PASSporT's 12155551212."""

    def verify(
        self, identity: Any, *, orig: Any = None, dest: Any = None, at: Any, sip: Any = None
    ) -> VerificationResult:
        if orig != "12155551212":
            return VerificationResult.failure("orig_mismatch")
        return VerificationResult(verstat="TN-Validation-Passed", attest="A", verified_at=at)


def test_national_number_passes_with_a_warning_finding() -> None:
    record = _one('{"time": 0, "orig": "2155551212", "dest": "2155551213", "identity": "x"}\n')
    result = verify_record(_Echo(), record)
    assert result.passed
    assert [f.code for f in result.findings] == ["tn_national", "tn_national"]
    unconverted = _one('{"time": 0, "orig": "2155551212", "identity": "x"}\n', country_code=None)
    assert verify_record(_Echo(), unconverted).error == "orig_mismatch"
    analysis = Analysis()
    analysis.add(record, result)
    assert analysis.to_dict()["national_numbers"] == 1


# --- upstream verdicts ---------------------------------------------------------------------
def test_upstream_verdicts_are_compared_and_merged() -> None:
    mapping = parse_mapping("verstat=StirVerstat,attest=ShakenStirAttestation")
    text = "".join(
        json.dumps(row) + "\n"
        for row in [
            {
                "time": 0,
                "orig": "12155551212",
                "identity": "x",
                "StirVerstat": "TN-Validation-Passed-A",
                "ShakenStirAttestation": "A",
            },
            {
                "time": 0,
                "orig": "12155550000",
                "identity": "x",
                "StirVerstat": "TN-Verification-Passed",
                "ShakenStirAttestation": "B",
            },
            {"time": 0, "orig": "12155551212", "identity": "x"},
        ]
    )
    records = [
        r for r in RecordSource.from_text(text, mapping=mapping) if isinstance(r, CallRecord)
    ]
    assert (records[0].upstream_verstat, records[0].upstream_attest) == (
        "TN-Validation-Passed-A",
        "A",
    )
    assert records[2].upstream_verstat is None
    parts = [Analysis(), Analysis()]
    for i, record in enumerate(records):
        parts[i % 2].add(record, verify_record(_Echo(), record))
    merged = parts[0].merge(parts[1])
    upstream = merged.to_dict()["upstream_verdicts"]
    assert upstream["compared"] == 2
    assert upstream["by_kind"] == {"verstat passed / ours failed": 1, "attest B / ours -": 1}
    assert upstream["examples"][0]["line"] == 2
    assert "upstream_verdicts" not in Analysis().to_dict()


def test_verdict_spellings() -> None:
    assert [
        verdict(v)
        for v in (
            "TN-Validation-Passed",
            "TN-Validation-Failed-B",
            "No-TN-Validation",
            None,
            "weird",
        )
    ] == ["passed", "failed", "none", "none", "unknown"]


SIP = (
    "INVITE sip:+12155551213@example.com SIP/2.0\r\n"
    "From: <sip:+12155551212@example.com>;tag=1\r\nTo: <sip:+12155551213@example.com>\r\n"
    "Call-ID: {cid}\r\nDate: Sun, 01 Jun 2025 12:00:00 GMT\r\n\r\n"
)


def test_directory_mixes_formats_each_file_by_its_own(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"time": 0, "orig": "12155551212"}\n{bad\n')
    (tmp_path / "b.csv").write_text("time,orig\n0,12155551213\n")
    (tmp_path / "c.sip").write_text(SIP.format(cid="c"))
    items = list(read_records(tmp_path))
    assert [(type(i).__name__, Path(i.source or "").name, i.line) for i in items] == [
        ("CallRecord", "a.jsonl", 1),
        ("UnreadableRecord", "a.jsonl", 2),
        ("CallRecord", "b.csv", 2),
        ("CallRecord", "c.sip", 1),
    ]


def test_compressed_input_is_a_usage_error_naming_the_file(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "calls.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"time": 0}\n'))
    with pytest.raises(UsageError, match=r"calls\.jsonl\.gz: gzip-compressed"):
        list(read_records(path))
    (tmp_path / "ok.jsonl").write_text('{"time": 0}\n')
    items = list(read_records(tmp_path))  # in a directory: that file is unreadable
    assert [(type(i).__name__, Path(i.source or "").name) for i in items] == [
        ("UnreadableRecord", "calls.jsonl.gz"),
        ("CallRecord", "ok.jsonl"),
    ]
