"""Synthetic signed traffic with a hidden campaign (the example data set's generator).

Used by ``examples/make_example.py``, the tests and the benchmarks; run from the
repository root::

    python examples/make_example.py            # writes examples/calls.jsonl etc.
    python examples/make_example.py --calls 300 --out /tmp/ex
    python -m shakenlib.testing.traffic --out /tmp/ex

Writes ``calls.jsonl`` (the call records), ``trust.pem`` (the test STI-CA root and the
STI-PA CRL signer),
``mirror/`` (each certificate chain at its x5u URL and the STI-PA CRL at the URL the
certificates name, in the ``--mirror`` layout) and ``providers.csv`` (spc,name,ocn).

Everything uses :class:`shakenlib.testing.pki.StiTestPki` and
:class:`shakenlib.sip.sign.Signer`. The certificates are valid around
``shakenlib.testing.pki.DEFAULT_NOW`` (2025-06-01 12:00Z) and the CRL from a day before
to a day after it; all calls fall in that window, and verification uses each record's
own time, so the example verifies forever.

The traffic (numbers, times, origids, attestation, which calls fail) is deterministic for
a given ``--seed``; keys, serials and ECDSA signatures are random on every run.

What is planted (``PLAN`` below; shares of ``--calls``):

* four ordinary providers: subscribers calling repeatedly from a pool of numbers, A or B
  attested, one origid per trunk; a gateway provider C-attesting transit traffic;
* the campaign: provider "Bluefin VoIP LLC" (SPC 999R), origid ``CAMPAIGN_ORIGID``,
  A-attesting 30 % of the calls, each from a different spoofed calling number in the
  called number's own NPA-NXX (neighbour spoofing), 3 % of them from numbers that cannot
  exist (555-01XX), in a three-hour burst;
* unsigned calls (10 %); failures: stale ``iat``, a corrupted signature, an x5u the
  mirror does not have, and a revoked certificate.

Two options change the shape (the default traffic is unchanged without them):
``origid_per_call`` names the SPCs that put a fresh origid on every call (``True``: all
of them), as some signing services do; ``signer_customers`` adds that share of calls
from ordinary customers of the campaign's signer (999R), from its own numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shakenlib.analysis.leads import nanp_problem
from shakenlib.sip.sign import Signer
from shakenlib.testing.pki import DEFAULT_NOW, Issued, StiTestPki

CAMPAIGN_SPC = "999R"
CAMPAIGN_ORIGID = "7c1d3a52-0b8e-4f0e-9d55-6a0f1e2c9b10"
START = DEFAULT_NOW - dt.timedelta(hours=12)

# spc, name, npa-nxx prefixes of its subscribers, attest, number of trunks (origids)
PROVIDERS: list[tuple[str, str, list[str], str, int]] = [
    ("873J", "Example Telecom", ["1215555", "1215556", "1267444"], "A", 3),
    ("412B", "Lakeside Cable Inc", ["1614222", "1614223"], "A", 2),
    ("561C", "Northwind Voice LLC", ["1303777"], "B", 1),
    ("730G", "Gateway Transit Corp", [], "C", 1),
    (CAMPAIGN_SPC, "Bluefin VoIP LLC", ["1702888"], "B", 1),
]
#: Shares of all calls.
PLAN = {
    "campaign": 0.30,
    "unsigned": 0.10,
    "stale": 0.006,
    "bad_signature": 0.004,
    "unknown_x5u": 0.004,
    "revoked": 0.004,
}


def _blocks(count: int, seed: int = 7) -> list[str]:
    """``count`` valid NANP NPA-NXX blocks (as ``1NPANXX``)."""
    r = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        block = f"1{r.randrange(200, 1000)}{r.randrange(200, 1000)}"
        if nanp_problem(block + "2000") is None and block not in out:
            out.append(block)
    return out


#: Called numbers: the providers' own blocks and 40 other NPA-NXX blocks.
DEST_PREFIXES = ["1215555", "1215556", "1267444", "1614222", "1303777", "1702888", *_blocks(40)]


def _origid(spc: str, trunk: int) -> str:
    r = random.Random(f"{spc}/{trunk}")
    return "%08x-%04x-4%03x-%04x-%012x" % (  # noqa: UP031 - a UUID-shaped string
        r.getrandbits(32),
        r.getrandbits(16),
        r.getrandbits(12),
        0x8000 | r.getrandbits(14),
        r.getrandbits(48),
    )


def _fresh_origid(rng: random.Random) -> str:
    """A random UUID-shaped origid (a signer that puts a fresh one on every call)."""
    return "%08x-%04x-4%03x-%04x-%012x" % (  # noqa: UP031 - a UUID-shaped string
        rng.getrandbits(32),
        rng.getrandbits(16),
        rng.getrandbits(12),
        0x8000 | rng.getrandbits(14),
        rng.getrandbits(48),
    )


def _tn(rng: random.Random, prefix: str) -> str:
    return prefix + f"{rng.randrange(2000, 9999):04d}"


def generate(
    out: Path,
    *,
    calls: int = 2000,
    seed: int = 20250601,
    origid_per_call: Iterable[str] | bool = (),
    signer_customers: float = 0.0,
) -> dict[str, Any]:
    """Write the example set under ``out``; return what was planted (for tests).

    ``origid_per_call``: SPCs that put a fresh origid on every call (``True``: all).
    ``signer_customers``: share of calls from ordinary customers of the campaign's signer.
    """
    per_call = (
        {spc for spc, *_ in PROVIDERS} if origid_per_call is True else set(origid_per_call or ())
    )
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    mirror = out / "mirror"
    pki = StiTestPki()
    certs: dict[str, Issued] = {}
    signers: dict[str, Signer] = {}
    for spc, name, _, _, _ in PROVIDERS:
        certs[spc] = pki.issue_sp_certificate(spc, organization=name)
        url = f"https://cr.example-sti.test/{spc}/shaken.pem"
        pki.publish(mirror, url, certs[spc].chain_pem())
        signers[spc] = Signer(certs[spc].key, url)
    revoked = pki.issue_sp_certificate("561C", organization="Northwind Voice LLC")
    revoked_url = "https://cr.example-sti.test/561C/old.pem"
    pki.publish(mirror, revoked_url, revoked.chain_pem())
    pki.publish(mirror, pki.crl_url, pki.make_crl([revoked]))
    unknown = Signer(
        pki.issue_sp_certificate("873J").key, "https://cr.example-sti.test/873J/missing.pem"
    )
    # The STI-CA root, the STI-PA root and the STI-PA CRL signer certificate.
    (out / "trust.pem").write_bytes(pki.trust_anchors_pem())
    with open(out / "providers.csv", "w", encoding="utf-8") as handle:
        handle.write("spc,name,ocn\n")
        for spc, name, _, _, _ in PROVIDERS:
            handle.write(f'{spc},"{name}",{spc}\n')

    pools = {
        spc: [_tn(rng, rng.choice(prefixes)) for _ in range(120)]
        for spc, _, prefixes, _, _ in PROVIDERS
        if prefixes
    }
    counts = {k: round(v * calls) for k, v in PLAN.items()}
    if signer_customers:
        counts["signer_customer"] = round(signer_customers * calls)
    kinds = [k for k, n in counts.items() for _ in range(n)]
    kinds += ["ordinary"] * (calls - len(kinds))
    rng.shuffle(kinds)
    burst = START + dt.timedelta(hours=rng.randrange(2, 18))
    records = []
    planted: dict[str, Any] = {
        "campaign_orig": set(),
        "campaign_calls": 0,
        "campaign_invalid": 0,
        "campaign_neighbour": 0,
    }
    for kind in kinds:
        when = START + dt.timedelta(seconds=rng.randrange(0, 23 * 3600))
        dest = _tn(rng, rng.choice(DEST_PREFIXES))
        iat = int(when.timestamp())
        record: dict[str, Any] = {}
        if kind == "campaign":
            when = burst + dt.timedelta(seconds=rng.randrange(0, 3 * 3600))
            iat = int(when.timestamp())
            if rng.random() < 0.03:
                orig = dest[:4] + "5550" + f"{rng.randrange(100, 200):03d}"  # 555-01XX
                planted["campaign_invalid"] += 1
            else:
                orig = dest[:7] + f"{rng.randrange(0, 10000):04d}"  # same NPA-NXX
                while orig == dest or orig in planted["campaign_orig"]:
                    orig = dest[:7] + f"{rng.randrange(0, 10000):04d}"
                planted["campaign_neighbour"] += 1
            planted["campaign_orig"].add(orig)
            planted["campaign_calls"] += 1
            identity = signers[CAMPAIGN_SPC].sign_shaken(
                orig=orig,
                dest=dest,
                attest="A",
                iat=iat,
                origid=_fresh_origid(rng) if CAMPAIGN_SPC in per_call else CAMPAIGN_ORIGID,
            )
        elif kind == "unsigned":
            orig, identity = _tn(rng, rng.choice(DEST_PREFIXES)), ""
        else:
            spc, _, prefixes, attest, trunks = (
                PROVIDERS[2]
                if kind == "revoked"
                else PROVIDERS[4]
                if kind == "signer_customer"
                else rng.choice(PROVIDERS[:4])
            )
            orig = rng.choice(pools[spc]) if prefixes else "44" + str(rng.randrange(10**9, 10**10))
            signer = signers[spc]
            if kind == "unknown_x5u":
                signer = unknown
            elif kind == "revoked":
                signer = Signer(revoked.key, revoked_url)
            if kind == "stale":
                iat -= 600
            origid = _origid(spc, rng.randrange(trunks))
            if spc in per_call:
                origid = _fresh_origid(rng)
            identity = signer.sign_shaken(
                orig=orig,
                dest=dest,
                attest=attest,  # type: ignore[arg-type]
                origid=origid,
                iat=iat,
            )
            if kind == "bad_signature":
                token, params = identity.split(";", 1)
                head, sig = token.rsplit(".", 1)
                flipped = "A" if sig[10] != "A" else "B"
                identity = f"{head}.{sig[:10]}{flipped}{sig[11:]};{params}"
        record = {
            "time": when.isoformat().replace("+00:00", "Z"),
            "orig": orig,
            "dest": dest,
            "identity": identity,
        }
        records.append(record)
    records.sort(key=lambda r: r["time"])
    with open(out / "calls.jsonl", "w", encoding="utf-8") as handle:
        for number, record in enumerate(records, 1):
            record["call_id"] = f"{number:06d}@pbx.example.invalid"
            handle.write(json.dumps(record) + "\n")
    planted["campaign_distinct_orig"] = len(planted.pop("campaign_orig"))
    planted.update(
        calls=calls,
        unsigned=counts["unsigned"],
        stale=counts["stale"],
        bad_signature=counts["bad_signature"],
        unknown_x5u=counts["unknown_x5u"],
        revoked=counts["revoked"],
        origid_per_call=sorted(per_call),
        signer_customers=counts.get("signer_customer", 0),
    )
    return planted


def main(argv: list[str] | None = None, *, default_out: Path | None = None) -> int:
    """Command line: write the data set to ``--out`` and print what was planted."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=default_out, required=default_out is None)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20250601)
    parser.add_argument(
        "--origid-per-call",
        metavar="SPC",
        action="append",
        default=[],
        help="an SPC that puts a fresh origid on every call (repeatable; 'all' for every provider)",
    )
    args = parser.parse_args(argv)
    per_call: list[str] | bool = args.origid_per_call
    if "all" in args.origid_per_call:
        per_call = True
    planted = generate(args.out, calls=args.calls, seed=args.seed, origid_per_call=per_call)
    json.dump(planted, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
