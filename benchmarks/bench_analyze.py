"""End-to-end ``analyze`` throughput: 20,000 signed calls, 2 worker processes.

Reads the JSON Lines records, verifies each call as of its own time (certificate from a
mirror, chain, CRL, ES256 signature, numbers) in 2 processes and aggregates the leads;
the rate is calls/s divided by single-core raw ECDSA verifications/s (target 1.3, i.e.
2 cores at >= 65 % of raw ECDSA each, including everything around the signature check).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from run import Bench

from shakenlib.batch import VerifierConfig, analyze_source
from shakenlib.records import RecordSource
from shakenlib.testing.traffic import generate

CALLS = 20_000
ROOT = Path(__file__).resolve().parents[1]


def _setup() -> Callable[[], object]:
    out = Path(tempfile.mkdtemp(prefix="shakenlib-bench-"))
    generate(out, calls=CALLS)
    source = RecordSource(path=str(out / "calls.jsonl"))
    config = VerifierConfig(trust_files=(str(out / "trust.pem"),), mirror=str(out / "mirror"))

    def run() -> object:
        analysis = analyze_source(source, config, jobs=2)
        assert analysis.calls == CALLS
        return analysis

    return run


BENCHMARKS = [Bench("analyze 20k calls, 2 jobs (calls/s)", _setup, target=1.3,
                    per_call=CALLS, unit="calls")]
