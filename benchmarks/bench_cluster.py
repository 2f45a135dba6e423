"""``analyze`` on a Dask cluster against ``--jobs 2``: the same 40,000 signed calls.

The traffic of bench_analyze (the example generator's day, unsigned calls left out, so
every call needs an ES256 verification), 40,000 calls in one JSON Lines file (~28 MB).
Two benchmarks in one run: ``analyze_source(jobs=2)`` (a process pool of our own, started
per run as the command line does) and :func:`shakenlib.analysis.cluster.analyze_on_cluster`
on a ``LocalCluster`` of 2 worker processes with one thread each (started once: a cluster
outlives a run). Both rates are divided by raw ECDSA as usual; their quotient is the
cluster's efficiency against ``--jobs 2`` (aim >= 0.8). A third line runs the cluster on
the same day with a fresh origid on every call (the partials are folded on the workers
by a plan of all their surveys before they merge).

``python benchmarks/bench_cluster.py`` measures the two alternately and prints that
quotient directly, with how the work was cut: partitions, bytes sent to a worker per
partition (the pickled task) and back (the pickled partial analysis).
"""

from __future__ import annotations

import atexit
import json
import pickle
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import Bench

from shakenlib.analysis.batch import VerifierConfig, analyze_source
from shakenlib.analysis.records import RecordSource
from shakenlib.testing.traffic import generate

CALLS = 40_000
_MADE: dict[str, Any] = {}


def _traffic(per_call: bool = False) -> tuple[RecordSource, VerifierConfig]:
    key = "per-call" if per_call else "few"
    if key not in _MADE:
        out = Path(tempfile.mkdtemp(prefix="shakenlib-bench-cluster-"))
        # 10 % of the generated calls are unsigned
        generate(out, calls=CALLS * 12 // 10, origid_per_call=per_call)
        with open(out / "calls.jsonl", encoding="utf-8") as handle:
            lines = [line for line in handle if json.loads(line)["identity"]]
        while len(lines) < CALLS:  # the generator's failures can leave a few short
            lines += lines[: CALLS - len(lines)]
        path = out / "bench.jsonl"
        path.write_text("".join(lines[:CALLS]), encoding="utf-8")
        _MADE[key] = (
            RecordSource(path=str(path)),
            VerifierConfig(trust_files=(str(out / "trust.pem"),), mirror=str(out / "mirror")),
        )
    source, config = _MADE[key]
    return source, config


def _client() -> Any:
    if "client" not in _MADE:
        import distributed

        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=50,
        )
        client = distributed.Client(cluster, set_as_default=False)
        _MADE["client"] = client

        def close() -> None:
            client.close()
            cluster.close()

        atexit.register(close)
    return _MADE["client"]


def _jobs() -> Callable[[], object]:
    source, config = _traffic()

    def run() -> object:
        analysis = analyze_source(source, config, jobs=2)
        assert analysis.calls == CALLS
        return analysis

    return run


def _cluster(per_call: bool = False) -> Callable[[], object]:
    from shakenlib.analysis.cluster import analyze_on_cluster

    source, config = _traffic(per_call)
    client = _client()

    def run() -> object:
        analysis = analyze_on_cluster(source, config, client)
        assert analysis.calls == CALLS
        return analysis

    return run


def _have_dask() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


BENCHMARKS = [
    Bench("analyze 40k signed calls, --jobs 2", _jobs, per_call=CALLS, unit="calls"),
] + (
    [
        Bench("analyze 40k signed calls, 2-worker Dask", _cluster, per_call=CALLS, unit="calls"),
        Bench(
            "analyze 40k, origid per call, 2-worker Dask",
            lambda: _cluster(per_call=True),
            per_call=CALLS,
            unit="calls",
        ),
    ]
    if _have_dask()
    else []
)


def main() -> None:
    from shakenlib.analysis import cluster

    source, config = _traffic()
    jobs, on_cluster = _jobs(), _cluster()
    on_cluster()  # warm: each worker builds its verifier and fills its certificate cache
    best = {"jobs": float("inf"), "cluster": float("inf")}
    for _ in range(3):
        for name, fn in (("jobs", jobs), ("cluster", on_cluster)):
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    parts = cluster.plan(source, partition_bytes=cluster.DEFAULT_PARTITION_BYTES, parts=2)
    task = [len(pickle.dumps((p, cluster._portable(config)))) for p in parts]
    back = [len(pickle.dumps(cluster._analyze_partition(p, config))) for p in parts]
    size = Path(source.path or "").stat().st_size
    print(
        f"{CALLS} calls ({size / 1e6:.1f} MB): --jobs 2 {CALLS / best['jobs']:,.0f} calls/s, "
        f"2-worker LocalCluster {CALLS / best['cluster']:,.0f} calls/s, "
        f"ratio {best['jobs'] / best['cluster']:.2f}"
    )
    print(
        f"{len(parts)} partitions of {min(p.span[1] for p in parts if p.span)}-"
        f"{max(p.span[1] for p in parts if p.span)} bytes of input; per partition "
        f"{min(task)}-{max(task)} bytes to the worker, {min(back)}-{max(back)} bytes back "
        f"(the partial analysis)"
    )


if __name__ == "__main__":
    main()
