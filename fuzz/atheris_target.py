"""Coverage-guided fuzzing of one target with atheris (libFuzzer); run by fuzz/run.py
``--engine atheris``: ``python fuzz/atheris_target.py TARGET [--out DIR] -- LIBFUZZER_ARGS``.

shakenlib is instrumented for coverage; libFuzzer's own mutations alternate with the
structure-aware mutator of the target (fuzz.engine). Contract violations are saved like
the mutation engine saves them and do not stop the run.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    import atheris

    argv = sys.argv[1:]
    ours, libfuzzer = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if ("--" in argv) else (argv, [])
    )
    p = argparse.ArgumentParser()
    p.add_argument("target")
    p.add_argument("--out", default=str(ROOT / "tests" / "data" / "fuzz"))
    p.add_argument("--hang", type=float, default=1.0)
    p.add_argument("--rss-limit-mb", type=int, default=2048)
    args = p.parse_args(ours)

    import shakenlib

    for mod in pkgutil.walk_packages(shakenlib.__path__, "shakenlib."):
        if mod.name.startswith(("shakenlib.cli", "shakenlib.pytest_plugin", "shakenlib.__")):
            continue
        importlib.import_module(mod.name)
    from fuzz.engine import Stats as _Stats, _record, mutator_for
    from fuzz.seeds import seeds_for
    from fuzz.targets import TARGETS, Violation, check, context

    atheris.instrument_all()
    target = TARGETS[args.target]
    context()
    seeds = seeds_for(args.target)
    mutator = mutator_for(target)
    out = Path(args.out) if args.out else None
    stats = _Stats(args.target)

    def test_one_input(data: bytes) -> None:
        start = time.perf_counter()
        violation = check(target, data)
        took = time.perf_counter() - start
        if violation is None and took > args.hang:
            violation = Violation("Hang", args.target, f"{took:.2f} s", "")
        if violation is not None:
            _record(stats, args.target, violation, data, out, print)

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.5 or not data:
            data = data or rng.choice(seeds)
            return atheris.Mutate(data, max_size)
        return mutator(data, rng, seeds)[:max_size]

    for seed in seeds:  # libFuzzer starts from the seeds only with a corpus directory
        test_one_input(seed)
    atheris.Setup(
        [sys.argv[0], f"-rss_limit_mb={args.rss_limit_mb}", *libfuzzer],
        test_one_input,
        custom_mutator=custom_mutator,
    )
    atheris.Fuzz()


if __name__ == "__main__":
    main()
