"""Regenerate the example data set in this folder.

``python examples/make_example.py [--calls N] [--seed S] [--out DIR]`` writes
calls.jsonl, trust.pem, mirror/ and providers.csv (new keys and signatures on every run;
see :mod:`shakenlib.testing.traffic` for what is planted), then the same calls in the
other input formats. ``--derived`` writes only those, from the calls.jsonl already there:

* ``calls.pcap``: the day as a packet capture (each call an INVITE over UDP at its time,
  one packet per call, so packet numbers are the JSON Lines line numbers);
* ``calls.parquet``: the day as a Parquet table;
* ``calls-cdr.csv``: the day as a vendor CDR export (``Start Time`` in America/New_York
  without an offset, 10-digit national numbers); read it with ``--tz America/New_York``
  and ``--map "time=Start Time,orig=Calling Number,dest=Called Number,``
  ``identity=Identity Header,call_id=Call ID"`` (one argument).

The capture and Parquet writers need the extras: ``pip install -e ".[all]"``.
"""

import argparse
import json
import sys
from pathlib import Path

from shakenlib.testing.captures import write_capture
from shakenlib.testing.exports import write_cdr_csv, write_parquet
from shakenlib.testing.traffic import main

HERE = Path(__file__).resolve().parent


def write_derived(out: Path) -> None:
    """Write calls.pcap, calls.parquet and calls-cdr.csv from ``out/calls.jsonl``."""
    with open(out / "calls.jsonl", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    write_capture(out / "calls.pcap", records)
    write_parquet(out / "calls.parquet", records)
    write_cdr_csv(out / "calls-cdr.csv", records, tz="America/New_York")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--derived", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE)
    known, rest = parser.parse_known_args()
    if not known.derived:
        code = main([*rest, "--out", str(known.out)], default_out=HERE)
        if code:
            sys.exit(code)
    write_derived(known.out)
