"""Run every ``benchmarks/bench_*.py`` and report rates as ratios to raw ECDSA.

Our machines are noisy, so absolute rates mean little. Each benchmark measures an
operation per second and divides it by the rate of raw ``cryptography`` ECDSA P-256
signature verifications measured in the same process, just before.

Each ``bench_*.py`` module defines ``BENCHMARKS``: a list of :class:`Bench`-like objects
(``name``, ``target`` ratio or ``None``, ``setup()`` returning a zero-argument callable
that performs ``per_call`` operations, ``per_call``).

Usage: ``python benchmarks/run.py [NAME-SUBSTRING ...] [--json FILE]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

HERE = Path(__file__).resolve().parent


@dataclass
class Bench:
    """One benchmark: ``setup()`` returns a callable doing ``per_call`` operations."""

    name: str
    setup: Callable[[], Callable[[], object]]
    target: float | None = None
    per_call: int = 1
    unit: str = "ops"


def rate(
    fn: Callable[[], object], per_call: int = 1, seconds: float = 1.5, repeats: int = 3
) -> float:
    """Operations per second of ``fn`` (best of ``repeats`` timed rounds)."""
    fn()  # warm up
    best = 0.0
    for _ in range(repeats):
        n = 0
        start = time.perf_counter()
        deadline = start + seconds / repeats
        while True:
            fn()
            n += 1
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, n * per_call / (now - start))
    return best


def ecdsa_verifier() -> Callable[[], object]:
    """One raw ``cryptography`` ECDSA P-256 / SHA-256 verification (the baseline)."""
    key = ec.generate_private_key(ec.SECP256R1())
    data = b"x" * 300
    sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
    pub = key.public_key()
    alg = ec.ECDSA(hashes.SHA256())
    return lambda: pub.verify(sig, data, alg)


def discover() -> list[Bench]:
    benches: list[Bench] = []
    sys.path.insert(0, str(HERE))
    for path in sorted(HERE.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module  # (its functions can then be pickled to workers)
        spec.loader.exec_module(module)
        benches.extend(module.BENCHMARKS)
    return benches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("only", nargs="*", help="run benchmarks whose name contains one of these")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    args = parser.parse_args(argv)
    rounds = max(1, args.rounds)
    results = []
    for bench in discover():
        if args.only and not any(o in bench.name for o in args.only):
            continue
        fn = bench.setup()
        baseline_fn = ecdsa_verifier()
        # Interleave short rounds of the baseline and the benchmark and keep the best of
        # each: load from other processes then hits both alike.
        baseline = measured = 0.0
        for _ in range(rounds):
            baseline = max(baseline, rate(baseline_fn, seconds=0.4, repeats=1))
            measured = max(measured, rate(fn, bench.per_call, seconds=0.4, repeats=1))
        ratio = measured / baseline
        ok = "" if bench.target is None else ("  OK" if ratio >= bench.target else "  BELOW TARGET")
        target = "" if bench.target is None else f" (target >= {bench.target})"
        print(
            f"{bench.name:<44} {measured:>12,.0f} {bench.unit}/s   ecdsa {baseline:>9,.0f}/s"
            f"   ratio {ratio:6.2f}{target}{ok}"
        )
        results.append(
            {
                "name": bench.name,
                "rate": measured,
                "ecdsa_rate": baseline,
                "ratio": ratio,
                "target": bench.target,
            }
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
