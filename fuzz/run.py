"""Fuzz driver: ``python fuzz/run.py [--target NAME]... [--time S | --runs N] [--seed N]``.

Runs each selected target in turn (all by default) with the structure-aware mutation
engine (``--engine mutate``, the default) or, per target in a subprocess, coverage-guided
with atheris/libFuzzer (``--engine atheris``, when atheris is installed). Prints per
target the inputs run, the time, inputs/s and the distinct contract violations, which
are saved as regression files under ``--out`` (default ``tests/data/fuzz``). Exit status
1 when any violation was found, 0 otherwise. See docs/fuzzing.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _limit_memory(megabytes: int) -> None:
    """Cap the address space (a hostile input allocating without bound gets a
    MemoryError, reported as a violation, instead of exhausting the machine)."""
    if megabytes <= 0:
        return
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return
    limit = megabytes * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from fuzz.targets import TARGETS

    p = argparse.ArgumentParser(prog="fuzz/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--target",
        "-t",
        action="append",
        default=[],
        help=f"target(s) to fuzz, repeatable or comma-separated; one of "
        f"{', '.join(TARGETS)} (default: all)",
    )
    p.add_argument(
        "--time",
        type=float,
        default=None,
        help="seconds per target (default 10 unless --runs or --total-time)",
    )
    p.add_argument(
        "--total-time",
        type=float,
        default=None,
        help="seconds for the whole run, split evenly over the targets",
    )
    p.add_argument("--runs", type=int, default=None, help="inputs per target (seeds count)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--out",
        default=str(ROOT / "tests" / "data" / "fuzz"),
        help="where regression files go (default tests/data/fuzz)",
    )
    p.add_argument("--no-save", action="store_true", help="report violations, save nothing")
    p.add_argument(
        "--hang",
        type=float,
        default=1.0,
        help="an input slower than this many seconds is a Hang (default 1)",
    )
    p.add_argument(
        "--hard-timeout",
        type=float,
        default=10.0,
        help="interrupt an input after this many seconds (default 10)",
    )
    p.add_argument(
        "--rss-limit-mb",
        type=int,
        default=2048,
        help="address-space limit of the fuzzing process in MiB (0: none)",
    )
    p.add_argument("--engine", choices=("mutate", "atheris"), default="mutate")
    p.add_argument("--summary", metavar="FILE", help="also write the summary as JSON")
    p.add_argument("--list", action="store_true", help="list the targets and exit")
    p.add_argument(
        "--replay",
        nargs="+",
        metavar="FILE",
        help="run saved inputs (<target>/<hash>.bin) through their target",
    )
    args = p.parse_args(argv)
    names: list[str] = []
    for item in args.target:
        names += [n.strip() for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        p.error(f"unknown target(s): {', '.join(unknown)}")
    args.targets = names or list(TARGETS)
    if args.time is None and args.runs is None:
        args.time = args.total_time / len(args.targets) if args.total_time else 10.0
    return args


def run_mutate(args: argparse.Namespace) -> int:
    from fuzz.engine import fuzz_target
    from fuzz.targets import cleanup

    out = None if args.no_save else Path(args.out)
    _limit_memory(args.rss_limit_mb)
    total_inputs, total_seconds, distinct = 0, 0.0, 0
    rows = []
    print(f"fuzz: seed {args.seed}, targets {', '.join(args.targets)}", flush=True)
    try:
        for name in args.targets:
            stats = fuzz_target(
                name,
                seed=args.seed,
                max_inputs=args.runs,
                seconds=args.time,
                out=out,
                hang_seconds=args.hang,
                hard_timeout=args.hard_timeout,
                report=lambda line: print(line, flush=True),
            )
            total_inputs += stats.inputs
            total_seconds += stats.seconds
            distinct += len(stats.findings)
            print(
                f"{name:<13} {stats.inputs:>9} inputs {stats.seconds:>8.1f} s "
                f"{stats.rate:>9.0f} inputs/s  slowest {stats.slowest:.3f} s  "
                f"{len(stats.findings)} distinct violation(s)",
                flush=True,
            )
            rows.append(
                {
                    "target": name,
                    "inputs": stats.inputs,
                    "seconds": round(stats.seconds, 2),
                    "inputs_per_second": round(stats.rate, 1),
                    "slowest": round(stats.slowest, 4),
                    "violations": [
                        {
                            "key": f.violation.key,
                            "count": f.count,
                            "message": f.violation.message,
                            "path": str(f.path) if f.path else None,
                        }
                        for f in stats.findings.values()
                    ],
                }
            )
    finally:
        cleanup()
    rate = total_inputs / total_seconds if total_seconds else 0.0
    print(
        f"{'total':<13} {total_inputs:>9} inputs {total_seconds:>8.1f} s {rate:>9.0f} "
        f"inputs/s  {distinct} distinct violation(s)",
        flush=True,
    )
    if args.summary:
        Path(args.summary).write_text(
            json.dumps(
                {
                    "seed": args.seed,
                    "total_inputs": total_inputs,
                    "total_seconds": round(total_seconds, 1),
                    "targets": rows,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return 1 if distinct else 0


def run_atheris(args: argparse.Namespace) -> int:
    """One libFuzzer process per target (libFuzzer exits the process when done)."""
    status = 0
    for name in args.targets:
        cmd = [
            sys.executable,
            str(Path(__file__).with_name("atheris_target.py")),
            name,
            "--out",
            "" if args.no_save else args.out,
            "--hang",
            str(args.hang),
            "--rss-limit-mb",
            str(args.rss_limit_mb),
            "--",
            f"-seed={args.seed or 1}",
            f"-timeout={max(1, int(args.hard_timeout))}",
            "-print_final_stats=1",
            "-max_len=65536",
        ]
        if args.runs is not None:
            cmd.append(f"-runs={args.runs}")
        if args.time is not None:
            cmd.append(f"-max_total_time={max(1, int(args.time))}")
        start = time.perf_counter()
        rc = subprocess.call(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)})
        print(f"{name}: libFuzzer exit {rc} after {time.perf_counter() - start:.1f} s", flush=True)
        status = status or (1 if rc else 0)
    return status


def replay(paths: list[str]) -> int:
    """Run saved inputs through their targets (the folder name) and print the outcome."""
    from fuzz.targets import check

    status = 0
    for name in paths:
        path = Path(name)
        start = time.perf_counter()
        violation = check(path.parent.name, path.read_bytes())
        took = time.perf_counter() - start
        if violation is None:
            print(f"{path}: contract holds ({took:.3f} s)")
        else:
            status = 1
            print(f"{path}: {violation.key}: {violation.message}\n{violation.trace}")
    return status


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replay:
        return replay(args.replay)
    if args.list:
        from fuzz.targets import TARGETS

        for t in TARGETS.values():
            print(f"{t.name:<13} {(t.fn.__doc__ or '').splitlines()[0]}")
        return 0
    return run_atheris(args) if args.engine == "atheris" else run_mutate(args)


if __name__ == "__main__":
    sys.exit(main())
