"""The example day in every input format gives the same analysis; verify-batch outputs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shakenlib.cli import main
from shakenlib.testing.exports import CDR_MAPPING

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BASE = [
    "--trust",
    str(EXAMPLES / "trust.pem"),
    "--mirror",
    str(EXAMPLES / "mirror"),
    "--json",
    "--jobs",
    "1",
]


def _analyze(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["analyze", *args, *BASE]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def _without_lines(data: dict[str, Any]) -> dict[str, Any]:
    for lead in data["leads"]:
        for sample in [*lead["samples"], *lead["traceback"]["calls"]]:
            sample.pop("line")
    return data


@pytest.fixture(scope="module")
def jsonl_analysis() -> dict[str, Any]:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["analyze", str(EXAMPLES / "calls.jsonl"), *BASE]) == 0
    data: dict[str, Any] = json.loads(buffer.getvalue())
    return data


@pytest.mark.parametrize("name", ["calls.pcap", "calls.parquet"])
def test_example_day_as_capture_and_parquet(
    jsonl_analysis: dict[str, Any], name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("dpkt" if name.endswith("pcap") else "pyarrow")
    # one INVITE per packet and one row per call: packet and row numbers are line numbers
    assert _analyze(capsys, str(EXAMPLES / name)) == jsonl_analysis


def test_example_day_as_vendor_cdr(
    jsonl_analysis: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    cdr = str(EXAMPLES / "calls-cdr.csv")
    data = _analyze(capsys, cdr, "--map", CDR_MAPPING, "--tz", "America/New_York")
    assert data.pop("national_numbers") == data["calls"] == 2000
    # CSV line numbers count the header row
    assert _without_lines(data) == _without_lines(json.loads(json.dumps(jsonl_analysis)))
    # without --tz the local times are read as UTC: four hours late, every iat in the future
    wrong = _analyze(capsys, cdr, "--map", CDR_MAPPING)
    assert wrong["passed"] == 0
    assert wrong["failed_by_error"]["iat_future"] > 1700
    # without the country code the 10-digit numbers do not match the PASSporTs
    raw = _analyze(
        capsys, cdr, "--map", CDR_MAPPING, "--tz", "America/New_York", "--country-code", "none"
    )
    assert raw["passed"] == 0
    assert raw["failed_by_error"]["orig_mismatch"] > 1700


def test_bad_tz_and_country_code_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    calls = str(EXAMPLES / "calls.jsonl")
    assert main(["analyze", calls, *BASE, "--tz", "Nowhere/Land"]) == 2
    assert "unknown time zone 'Nowhere/Land'" in capsys.readouterr().err
    assert main(["analyze", calls, *BASE, "--country-code", "abc"]) == 2
    assert "country code" in capsys.readouterr().err


def _batch(out: Path, *extra: str) -> int:
    return main(
        [
            "verify-batch",
            str(EXAMPLES / "calls.jsonl"),
            "--trust",
            str(EXAMPLES / "trust.pem"),
            "--mirror",
            str(EXAMPLES / "mirror"),
            "--jobs",
            "1",
            "--out",
            str(out),
            *extra,
        ]
    )


def test_verify_batch_failure_leaves_no_complete_looking_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # review item 14: a run that fails half way must not leave a file that looks complete
    import shakenlib.cli.verify_batch as vb

    real = vb.verify_source

    def failing(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for n, item in enumerate(real(*args, **kwargs)):
            if n == 50:
                raise OSError(28, "No space left on device")
            yield item

    monkeypatch.setattr(vb, "verify_source", failing)
    out = tmp_path / "results.jsonl"
    assert _batch(out) == 2
    assert not out.exists()
    previous = tmp_path / "previous.jsonl"
    previous.write_text("the last good run\n")
    assert _batch(previous) == 2
    assert previous.read_text() == "the last good run\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["previous.jsonl"]  # no leftovers


def test_verify_batch_writes_the_whole_file_on_success(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    out.write_text("old\n")
    assert _batch(out) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2000
    assert rows[0]["source"] == str(EXAMPLES / "calls.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.jsonl"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would have made it


def test_verify_batch_parquet_output(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    from shakenlib.analysis.parquet import RESULT_COLUMNS

    out = tmp_path / "results.parquet"
    assert _batch(out) == 0
    table = pq.read_table(out)
    assert table.column_names == [name for name, _, _ in RESULT_COLUMNS]
    assert table.num_rows == 2000
    rows = table.slice(0, 3).to_pylist()
    assert rows[0]["line"] == 1
    assert rows[0]["verstat"] in (
        "TN-Validation-Passed",
        "TN-Validation-Failed",
        "No-TN-Validation",
    )
    assert json.loads(rows[0]["result"])["line"] == 1
    passed = table.filter(table.column("passed")).num_rows
    assert passed == 1764


def test_verify_batch_out_in_a_missing_directory_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nope" / "results.jsonl"
    assert _batch(out) == 2
    assert str(out) in capsys.readouterr().err


def test_make_example_derived_files_are_up_to_date(tmp_path: Path) -> None:
    pytest.importorskip("dpkt")
    pq = pytest.importorskip("pyarrow.parquet")
    import importlib.util
    import shutil

    shutil.copy(EXAMPLES / "calls.jsonl", tmp_path / "calls.jsonl")
    spec = importlib.util.spec_from_file_location("make_example", EXAMPLES / "make_example.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_derived(tmp_path)
    for name in ("calls.pcap", "calls-cdr.csv"):
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name
    assert pq.read_table(tmp_path / "calls.parquet").equals(
        pq.read_table(EXAMPLES / "calls.parquet")
    )
