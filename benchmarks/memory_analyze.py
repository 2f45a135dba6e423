"""Peak memory of ``analyze`` over 1,000,000 records (mostly repeat callers).

Writes N JSON Lines records (default 1,000,000) to a temporary file: 2,000 subscribers of
three providers calling again and again, plus a campaign of 50,000 calls from 50,000
distinct numbers (so one lead's distinct counts overflow into the HyperLogLog sketch).
Runs :func:`shakenlib.analysis.batch.analyze_source` over it, builds the report (the top 100
leads and the signers table, as ``analyze --json`` does) and prints the peak resident
memory of the whole process tree (this process and its workers, sampled every 20 ms
from ``/proc``), and of each process.

``--per-call``: every call is signed and every signer puts a fresh origid on every call
(N distinct (SPC, origid) keys), the shape that once needed ~10 GB for a million calls.
``--calls-per-origid K``: the same with a fresh origid every K calls of each signer.

By default the verifier is a stand-in that returns a result from the record without
ECDSA (memory is about streaming and aggregation, the same code either way). ``--real``
signs every call with the test PKI (test bed providers, certificates and CRL in a mirror
directory) and verifies it for real: about two minutes for a million calls here.

Usage: ``python benchmarks/memory_analyze.py [N] [--jobs 2] [--real] [--per-call]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from shakenlib.analysis.batch import analyze_source
from shakenlib.analysis.records import RecordSource
from shakenlib.verify.result import CertificateSummary, VerificationResult

_CERTS = {
    spc: CertificateSummary(spc=spc, subject_o=f"Provider {spc}", issuer="CN=CA")
    for spc in ("100A", "200B", "300C", "999R")
}


class StandIn:
    """Identity value 'SPC/origid/attest' -> a passed result (no crypto)."""

    def verify(
        self, identity: Any, *, orig: Any = None, dest: Any = None, at: Any, sip: Any = None
    ) -> VerificationResult:
        if not identity:
            return VerificationResult.failure("identity_missing")
        value = identity if isinstance(identity, str) else identity[0]
        spc, origid, attest = value.split("/")
        return VerificationResult(
            verstat="TN-Validation-Passed",
            attest=attest,
            origid=origid,
            certificate=_CERTS[spc],
            x5u=f"https://cr.{spc}.test/c.pem",
        )


class StandInConfig:
    def build(self) -> StandIn:
        return StandIn()


class Origids:
    """Origids of the per-call shapes: a fresh one every ``per`` calls of each signer
    (``per`` 0: the fixed origid given)."""

    def __init__(self, per: int) -> None:
        self.per = per
        self.calls: dict[str, int] = {}

    def __call__(self, spc: str, fixed: str) -> str:
        if not self.per:
            return fixed
        k = self.calls[spc] = self.calls.get(spc, -1) + 1
        k //= self.per
        return f"{k:08x}-{spc}-4f0e-9d55-{(k * 2654435761) % 2**48:012x}"


def write(path: Path, n: int, per_call: int = 0) -> None:
    rng = random.Random(1)
    origid = Origids(per_call)
    subscribers = [
        (rng.choice(["100A", "200B", "300C"]), f"1215{rng.randrange(2000000, 9999999)}")
        for _ in range(2000)
    ]
    with open(path, "w") as handle:
        for i in range(n):
            t = 1748736000 + i * 86400 // n
            if i % 20 == 0:  # 5 %: the campaign, a new number every call
                ident = f"999R/{origid('999R', 'camp')}/A"
                orig = f"1{200 + (i // 20) % 700}{555 + (i // 14000) % 400}{i % 10000:04d}"
            elif i % 10 == 1 and not per_call:
                orig, ident = f"1610555{rng.randrange(10000):04d}", ""
            else:
                spc, orig = subscribers[rng.randrange(len(subscribers))]
                ident = f"{spc}/{origid(spc, f'trunk{int(orig) % 3}')}/A"
            handle.write(
                json.dumps(
                    {
                        "time": t,
                        "orig": orig,
                        "dest": f"1312{rng.randrange(2000000, 9999999)}",
                        "identity": ident,
                    }
                )
                + "\n"
            )


def write_real(path: Path, n: int, root: Path, per_call: int = 0) -> Any:
    """The same traffic as :func:`write`, signed for real; returns the VerifierConfig."""
    from shakenlib.analysis.batch import VerifierConfig
    from shakenlib.testing.testbed import ShakenTestbed

    bed = ShakenTestbed()
    providers = {
        spc: bed.add_provider(
            spc, organization=f"Provider {spc}", x5u=f"https://cr.{spc.lower()}.test/c.pem"
        )
        for spc in ("100A", "200B", "300C", "999R")
    }
    bed.write_mirror(root / "mirror")
    (root / "trust.pem").write_bytes(bed.pki.trust_anchors_pem())
    base = int(bed.now.timestamp()) - 43200  # the day around the test PKI's reference time
    rng = random.Random(1)
    fresh = Origids(per_call)
    subscribers = [
        (rng.choice(["100A", "200B", "300C"]), f"1215{rng.randrange(2000000, 9999999)}")
        for _ in range(2000)
    ]
    with open(path, "w") as handle:
        for i in range(n):
            t = base + i * 86400 // n
            dest = f"1312{rng.randrange(2000000, 9999999)}"
            if i % 20 == 0:
                spc = "999R"
                origid = fresh(spc, "7c1d3a52-0b8e-4f0e-9d55-6a0f1e2c9b10")
                orig = f"1{200 + (i // 20) % 700}{555 + (i // 14000) % 400}{i % 10000:04d}"
            elif i % 10 == 1 and not per_call:
                orig, spc, origid = f"1610555{rng.randrange(10000):04d}", "", ""
            else:
                spc, orig = subscribers[rng.randrange(len(subscribers))]
                origid = fresh(spc, f"00000000-0000-4000-8000-00000000000{int(orig) % 3}")
            ident = providers[spc].sign(orig=orig, dest=dest, origid=origid, iat=t) if spc else ""
            handle.write(
                json.dumps({"time": t, "orig": orig, "dest": dest, "identity": ident}) + "\n"
            )
    return VerifierConfig(trust_files=(str(root / "trust.pem"),), mirror=str(root / "mirror"))


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                out.extend(int(p) for p in handle.read().split())
    except OSError:
        pass
    return out


class TreeSampler(threading.Thread):
    """Samples the resident memory of this process and its descendants every 20 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kib = 0
        self.stop = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.wait(0.02):
            pids, todo = [me], [me]
            while todo:
                kids = _children(todo.pop())
                pids.extend(kids)
                todo.extend(kids)
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(p) for p in pids))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--real", action="store_true", help="sign and verify for real")
    parser.add_argument(
        "--per-call", action="store_true", help="all calls signed, a fresh origid on every call"
    )
    parser.add_argument(
        "--calls-per-origid",
        type=int,
        default=0,
        metavar="K",
        help="all calls signed, a fresh origid every K calls of a signer",
    )
    args = parser.parse_args()
    per_call = args.calls_per_origid or (1 if args.per_call else 0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "calls.jsonl"
        config: Any = StandInConfig()
        if args.real:
            config = write_real(path, args.n, Path(tmp), per_call)
        else:
            write(path, args.n, per_call)
        size = path.stat().st_size
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sampler = TreeSampler()
        sampler.start()
        start = time.perf_counter()
        analysis = analyze_source(RecordSource(path=str(path)), config, jobs=args.jobs)
        elapsed = time.perf_counter() - start
        report = analysis.to_dict(top=100)
        leads = analysis.leads(top=1)
        sampler.stop.set()
        sampler.join()
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    top = leads[0]
    print(
        f"verifier: {'real (ECDSA, chain, CRL)' if args.real else 'stand-in'}; passed "
        f"{analysis.passed:,}, failed {analysis.failed:,}, unsigned {analysis.unsigned:,}"
    )
    print(
        f"records {args.n:,} ({size / 2**20:,.0f} MiB of JSON Lines) in {elapsed:,.1f} s, "
        f"{args.n / elapsed:,.0f}/s with {args.jobs} jobs"
    )
    print(
        f"leads {report['leads_total']:,}; top {top.spc}/{top.origid}: {top.calls:,} calls, "
        f"~{top.distinct_orig:,} distinct orig (exact={top.distinct_exact}, "
        f"origid_per_call={top.origid_per_call}); signers {len(report['signers'])}"
    )
    tree = sampler.peak_kib / 1024
    print(
        f"peak RSS: whole process tree {tree:,.0f} MiB (sampled); main {main_peak:,.0f} MiB "
        f"(before analyze {before / 1024:,.0f} MiB), largest worker {child_peak:,.0f} MiB; "
        "limit 500 MiB"
    )
    bound = main_peak + args.jobs * child_peak  # every process at its peak at once
    print(f"upper bound (main peak + {args.jobs} x largest worker peak): {bound:,.0f} MiB")
    ok = max(tree, bound) < 500
    print("OK" if ok else "OVER LIMIT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
