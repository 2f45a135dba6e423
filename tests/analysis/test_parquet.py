"""Parquet in (row groups, mapping, capture-server SIP tables) and out (verify-batch)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from shakenlib.analysis.batch import VerifierConfig, analyze_source
from shakenlib.analysis.parquet import RESULT_COLUMNS
from shakenlib.analysis.records import CallRecord, RecordSource, UnreadableRecord, parse_mapping
from shakenlib.errors import UsageError
from shakenlib.testing.exports import write_homer_parquet, write_parquet
from shakenlib.testing.traffic import generate

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("parquet-day")
    generate(out, calls=120, seed=9)
    with open(out / "calls.jsonl", encoding="utf-8") as handle:
        return out, [json.loads(line) for line in handle]


def _analysis(out: Path, source: RecordSource) -> dict[str, Any]:
    config = VerifierConfig(trust_files=(str(out / "trust.pem"),), mirror=str(out / "mirror"))
    return analyze_source(source, config, jobs=1).to_dict()


def test_parquet_analysis_equals_json_lines(
    day: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    out, records = day
    path = tmp_path / "calls.parquet"
    write_parquet(path, records, row_group_size=25)  # several row groups
    assert pq.ParquetFile(path).num_row_groups == 5
    expected = _analysis(out, RecordSource(path=str(out / "calls.jsonl")))
    assert _analysis(out, RecordSource(path=str(path))) == expected
    assert _analysis(out, RecordSource(path=str(tmp_path))) == expected  # a directory of it


def test_homer_sip_table_is_read_as_sip(
    day: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    out, records = day
    path = tmp_path / "hep_1-0.parquet"
    write_homer_parquet(path, records)
    items = list(RecordSource(path=str(path)))
    assert all(isinstance(i, CallRecord) and i.sip is not None for i in items)
    first = items[0]
    assert isinstance(first, CallRecord)
    assert (first.call_id, first.orig, first.dest) == (
        records[0]["call_id"],
        records[0]["orig"],
        records[0]["dest"],
    )
    assert (first.src, first.dst) == ("192.0.2.10:5060", "198.51.100.7:5060")  # rcinfo
    jsonl = _analysis(out, RecordSource(path=str(out / "calls.jsonl")))
    assert _analysis(out, RecordSource(path=str(path))) == jsonl


def test_nested_columns_and_mapping(tmp_path: Path) -> None:
    path = tmp_path / "nested.parquet"
    table = pa.Table.from_pylist(
        [
            {
                "Start Time": "2025-06-01 08:00:00",
                "sip": {"headers": {"identity": "h1", "pai": "tel:+12155550100"}},
                "IdentityB": "h2",
                "Verstat": "TN-Validation-Passed",
            },
        ]
    )
    pq.write_table(table, path)
    mapping = parse_mapping(
        "time=Start Time,identity=sip.headers.identity+IdentityB,"
        "pai=sip.headers.pai,verstat=Verstat"
    )
    (record,) = list(RecordSource(path=str(path), mapping=mapping, tz="America/New_York"))
    assert isinstance(record, CallRecord)
    assert (record.identity, record.orig, record.upstream_verstat) == (
        ("h1", "h2"),
        "12155550100",
        "TN-Validation-Passed",
    )
    assert record.time.isoformat() == "2025-06-01T12:00:00+00:00"


def test_parquet_without_the_mapped_columns_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pq.write_table(pa.Table.from_pylist([{"when": 0, "a": "b"}]), path)
    with pytest.raises(UsageError, match=r"x.parquet: no column 'time'"):
        list(RecordSource(path=str(path)))
    with pytest.raises(UsageError, match=r"no column 'Calling Number'"):
        list(RecordSource(path=str(path), mapping={"time": "when", "orig": "Calling Number"}))
    notparquet = tmp_path / "y.parquet"
    notparquet.write_text("hello")
    with pytest.raises(UsageError, match=r"y\.parquet: not a Parquet file"):
        list(RecordSource(path=str(notparquet)))


def test_parquet_in_a_directory_with_a_bad_file_names_it(tmp_path: Path) -> None:
    pq.write_table(
        pa.Table.from_pylist([{"time": 0, "orig": "12155550100"}]), tmp_path / "a.parquet"
    )
    pq.write_table(pa.Table.from_pylist([{"when": 0}]), tmp_path / "b.parquet")
    items = list(RecordSource(path=str(tmp_path)))
    assert isinstance(items[0], CallRecord)
    assert isinstance(items[1], UnreadableRecord)
    assert items[1].source == str(tmp_path / "b.parquet")
    assert "no column 'time'" in items[1].reason


def test_missing_pyarrow_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_pylist([{"time": 0}]), path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(UsageError, match=r'pip install "shakenlib\[parquet\]"'):
        list(RecordSource(path=str(path)))
    # in a directory too: the whole run needs the extra, not one file
    with pytest.raises(UsageError, match=r'pip install "shakenlib\[parquet\]"'):
        list(RecordSource(path=str(tmp_path)))


def test_result_columns_are_documented() -> None:
    names = [name for name, _, _ in RESULT_COLUMNS]
    assert len(names) == len(set(names))
    doc = (Path(__file__).resolve().parents[2] / "docs" / "inputs.md").read_text()
    assert all(f"`{name}`" in doc for name in names)
