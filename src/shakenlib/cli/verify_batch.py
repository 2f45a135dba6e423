"""``shakenlib verify-batch``: verify every call record, one result JSON per record.

::

    shakenlib verify-batch CALLS [--out FILE] [--trust PEM]... [--mirror DIR] [--jobs N]
                           [--map FIELD=COLUMN,...] [--format jsonl|csv|sip]

Each output line is the ``verify --json`` object of one record plus its ``line``,
``time`` and ``call_id``, in input order; an unreadable record gives
``{"line": N, "error": "record_malformed", "reason": ...}``. Results are written as they
come (streaming). Progress goes to stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from shakenlib.analysis.batch import verify_source
from shakenlib.analysis.records import RecordError
from shakenlib.cli.analyze import add_batch_options, make_progress, source_and_config

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register the ``verify-batch`` sub-command."""
    p = subparsers.add_parser(
        "verify-batch",
        help="verify call records; one result JSON line per record",
        description=__doc__.split("::")[0].strip(),
    )
    p.add_argument("calls", metavar="CALLS", help="JSON Lines/CSV call records or SIP file/dir")
    p.add_argument("--out", metavar="FILE", default="-",
                   help="where to write the JSON Lines results (default: stdout)")
    add_batch_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``verify-batch``."""
    source, config = source_and_config(args)
    progress = make_progress()
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for item in verify_source(source, config, jobs=args.jobs,
                                  chunk_size=args.chunk_size or 256, progress=progress):
            if isinstance(item, RecordError):
                row: dict[str, Any] = item.to_dict()
                row["error"] = row.pop("code")
            else:
                record, result = item
                row = {"line": record.line, "time": record.time.isoformat(),
                       "call_id": record.call_id, **result.to_dict()}
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    if progress is not None:
        sys.stderr.write("\n")
    return 0
