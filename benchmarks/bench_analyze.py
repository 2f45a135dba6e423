"""End-to-end ``analyze`` throughput: 40,000 signed calls, 2 worker processes, two shapes.

The example generator's day of traffic (campaign, ordinary callers, stale, bad-signature,
revoked and unreachable-certificate calls) with its unsigned calls left out, so every
call needs an ES256 verification. Reads the JSON Lines records, verifies each call as of
its own time (certificate from a mirror, chain, CRL, signature, numbers) in 2 processes
and aggregates the leads; the rate is calls/s divided by single-core raw ECDSA
verifications/s (target 1.3, i.e. 2 cores at >= 65 % of raw ECDSA each, including
everything around the signature check).

Two origid shapes, measured in the same run:

* few origids: each provider puts one origid per trunk (a handful in all);
* origid per call: every signer puts a fresh origid on every call (every (SPC, origid)
  group is one call; the leads are per signer).

A third line measures the few-origid traffic with its unsigned calls (10 %) kept, for
information. A first line measures raw ECDSA verification in two processes at once: the
ceiling of any 2-job line on this machine at that moment (2.0 on two idle, independent
cores), so a shortfall can be told apart from a busy or shared machine. Each run also
builds the report (``Analysis.to_dict`` with the default 100 leads), as ``analyze --json``
does.
"""

from __future__ import annotations

import atexit
import json
import multiprocessing
import tempfile
from collections.abc import Callable
from pathlib import Path

from run import Bench, ecdsa_verifier

from shakenlib.analysis.batch import VerifierConfig, analyze_source
from shakenlib.analysis.records import RecordSource
from shakenlib.testing.traffic import generate

CALLS = 40_000


def _traffic(signed_only: bool, per_call: bool) -> tuple[Path, Path]:
    out = Path(tempfile.mkdtemp(prefix="shakenlib-bench-"))
    # 10 % of the generated calls are unsigned
    generate(out, calls=CALLS * 12 // 10, origid_per_call=per_call)
    with open(out / "calls.jsonl", encoding="utf-8") as handle:
        lines = [line for line in handle if not signed_only or json.loads(line)["identity"]]
    path = out / "bench.jsonl"
    path.write_text("".join(lines[:CALLS]), encoding="utf-8")
    return out, path


def _setup(signed_only: bool, per_call: bool = False) -> Callable[[], object]:
    out, path = _traffic(signed_only, per_call)
    source = RecordSource(path=str(path))
    config = VerifierConfig(trust_files=(str(out / "trust.pem"),), mirror=str(out / "mirror"))

    def run() -> object:
        analysis = analyze_source(source, config, jobs=2)
        assert analysis.calls == CALLS
        assert not signed_only or analysis.unsigned == 0
        report = analysis.to_dict(top=100)
        if per_call:  # every signer puts a fresh origid on every call: leads per signer
            assert all(lead["origid_per_call"] for lead in report["leads"])
        return report

    return run


def _ecdsa_batch(n: int) -> int:
    verify = ecdsa_verifier()
    for _ in range(n):
        verify()
    return n


def _two_process_ecdsa() -> Callable[[], object]:
    """Raw ECDSA in two busy processes (kept running between rounds): the most any
    2-job line above could reach on this machine at this moment (2.0 on two idle,
    independent cores; less when the cores are shared with other work)."""
    pool = multiprocessing.get_context().Pool(2)
    atexit.register(pool.terminate)
    pool.map(_ecdsa_batch, [10, 10])  # started

    def run() -> object:
        return sum(pool.map(_ecdsa_batch, [CALLS // 2, CALLS // 2]))

    return run


BENCHMARKS = [
    Bench(
        "raw ECDSA in 2 processes (the ceiling)",
        _two_process_ecdsa,
        per_call=CALLS,
        unit="verifs",
    ),
    Bench(
        "analyze 40k signed, few origids, 2 jobs",
        lambda: _setup(True),
        target=1.3,
        per_call=CALLS,
        unit="calls",
    ),
    Bench(
        "analyze 40k signed, origid per call, 2 jobs",
        lambda: _setup(True, True),
        target=1.3,
        per_call=CALLS,
        unit="calls",
    ),
    Bench(
        "analyze 40k calls, 10 % unsigned, 2 jobs",
        lambda: _setup(False),
        per_call=CALLS,
        unit="calls",
    ),
]
