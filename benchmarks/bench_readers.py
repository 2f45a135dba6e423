"""Reading speed per call: JSON Lines, CSV (a vendor CDR), packet captures and Parquet.

The example day (examples/calls.jsonl, 2,000 calls, 90 % signed) written in each format
(:mod:`shakenlib.testing.captures`, :mod:`shakenlib.testing.exports`) and read back into
call records (raw items and parsing, as a batch does; no verification). The rate is
records/s divided by raw ECDSA verifications/s in the same run; compare the lines with
each other: a capture or Parquet file should cost no more per call than JSON Lines.
Captures: INVITEs over UDP (one packet per call; and with the rest of a trunk's traffic:
100 Trying, 200 OK, a re-INVITE and a DNS datagram per call, 5 % of the INVITEs sent twice)
and over TCP with messages split over segments and coalesced. Needs the ``pcap`` and
``parquet`` extras (skipped otherwise).
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from run import Bench

from shakenlib.analysis.records import CallRecord, RecordSource, parse_mapping

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "calls.jsonl"
CALLS = 2000
_DIR: list[Path] = []


def _records() -> list[dict[str, Any]]:
    with open(EXAMPLE, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _folder() -> Path:
    if not _DIR:
        _DIR.append(Path(tempfile.mkdtemp(prefix="shakenlib-bench-readers-")))
    return _DIR[0]


def _reader(source: RecordSource) -> Callable[[], object]:
    def run() -> object:
        n = 0
        for item in source:
            n += isinstance(item, CallRecord)
        assert n == CALLS, n
        return n

    return run


def _jsonl() -> Callable[[], object]:
    return _reader(RecordSource(path=str(EXAMPLE)))


def _cdr() -> Callable[[], object]:
    from shakenlib.testing.exports import CDR_MAPPING, write_cdr_csv

    path = _folder() / "calls-cdr.csv"
    write_cdr_csv(path, _records())
    return _reader(
        RecordSource(path=str(path), mapping=parse_mapping(CDR_MAPPING), tz="America/New_York")
    )


def _capture(**options: Any) -> Callable[[], Callable[[], object]]:
    def setup() -> Callable[[], object]:
        from shakenlib.testing.captures import write_capture

        path = _folder() / f"calls-{'-'.join(options) or 'udp'}.pcap"
        write_capture(path, _records(), **options)
        return _reader(RecordSource(path=str(path)))

    return setup


def _parquet() -> Callable[[], object]:
    from shakenlib.testing.exports import write_parquet

    path = _folder() / "calls.parquet"
    write_parquet(path, _records())
    return _reader(RecordSource(path=str(path)))


def _analyze(name: str) -> Callable[[], Callable[[], object]]:
    """End to end, for scale: read, verify and aggregate the day in this process."""

    def setup() -> Callable[[], object]:
        from shakenlib.analysis.batch import VerifierConfig, analyze_source

        examples = EXAMPLE.parent
        config = VerifierConfig(
            trust_files=(str(examples / "trust.pem"),), mirror=str(examples / "mirror")
        )
        source = RecordSource(path=str(examples / name))

        def run() -> object:
            analysis = analyze_source(source, config, jobs=1)
            assert analysis.calls == CALLS
            return analysis

        return run

    return setup


BENCHMARKS = [
    Bench(
        "analyze example day, JSON Lines, 1 job",
        _analyze("calls.jsonl"),
        per_call=CALLS,
        unit="calls",
    ),
    Bench("reading JSON Lines (records/s)", _jsonl, per_call=CALLS, unit="records"),
    Bench("reading CSV vendor CDR, --tz, national", _cdr, per_call=CALLS, unit="records"),
]
if importlib.util.find_spec("dpkt") is not None:
    BENCHMARKS += [
        Bench(
            "analyze example day, pcap, 1 job", _analyze("calls.pcap"), per_call=CALLS, unit="calls"
        ),
        Bench("reading pcap, SIP over UDP", _capture(), per_call=CALLS, unit="records"),
        Bench(
            "reading pcap, SIP over TCP split+coalesced",
            _capture(transport="tcp", split=True, coalesce=True),
            per_call=CALLS,
            unit="records",
        ),
        Bench(
            "reading pcap, SIP over UDP + trunk traffic",
            _capture(noise=True, retransmit=0.05),
            per_call=CALLS,
            unit="records",
        ),
    ]
if importlib.util.find_spec("pyarrow") is not None:
    BENCHMARKS += [
        Bench(
            "analyze example day, Parquet, 1 job",
            _analyze("calls.parquet"),
            per_call=CALLS,
            unit="calls",
        ),
        Bench("reading Parquet", _parquet, per_call=CALLS, unit="records"),
    ]
