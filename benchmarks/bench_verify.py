"""Verifier.verify with a warm certificate cache: full checks, one Identity header; and
Verifier.verify_many on the same calls, 32 at a time (as a batch verifies them).

Target (issue 4): >= 0.80 of the raw ECDSA P-256 verification rate. The calls are
distinct (different numbers and origids), so no per-token caching can help.
"""

from __future__ import annotations

import itertools
import uuid

from run import Bench

from shakenlib.testing.testbed import ShakenTestbed


def _setup(together: int = 0):  # type: ignore[no-untyped-def]
    bed = ShakenTestbed()
    acme = bed.add_provider("873J", organization="Acme Telecom")
    calls = []
    for i in range(2000):
        orig, dest = f"1215555{i:04d}", f"1212555{i:04d}"
        header = acme.sign(orig=orig, dest=dest, attest="A", origid=str(uuid.UUID(int=i)))
        calls.append((header, orig, dest))
    verifier = bed.verifier()
    at = bed.now
    chunks = itertools.cycle([calls[i : i + 100] for i in range(0, len(calls), 100)])
    verify, many = verifier.verify, verifier.verify_many

    def hundred() -> object:
        chunk = next(chunks)
        if together:
            calls = [{"identity": h, "orig": o, "dest": d, "at": at} for h, o, d in chunk]
            results = [r for i in range(0, 100, together) for r in many(calls[i : i + together])]
        else:
            results = [verify(header, orig=orig, dest=dest, at=at) for header, orig, dest in chunk]
        if not all(r.passed for r in results):  # pragma: no cover - a broken benchmark
            raise AssertionError("a benchmark call failed verification")
        return results

    hundred()
    return hundred


BENCHMARKS = [
    Bench("Verifier.verify (warm cache, full checks)", _setup, target=0.80, per_call=100),
    Bench(
        "Verifier.verify_many, 32 at a time (same calls)",
        lambda: _setup(32),
        target=0.80,
        per_call=100,
    ),
]
