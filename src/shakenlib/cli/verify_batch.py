"""``shakenlib verify-batch``: verify every call record, one result per record.

::

    shakenlib verify-batch CALLS [--out FILE] [--trust PEM]... [--mirror DIR] [--jobs N]
                           [--map FIELD=COLUMN,...] [--format FORMAT] [--tz ZONE]
                           [--country-code CC]

Each output line is the ``verify --json`` object of one record plus its ``line``,
``source``, ``time``, ``call_id``, the record's own numbers ``record_orig`` and
``record_dest`` (and ``src``/``dst`` addresses from a capture), in input order; an
unreadable record gives
``{"line": N, "error": "record_malformed", "reason": ..., "source": FILE}``. To stdout
results are written as they come (streaming). ``--out FILE`` writes to a temporary file
next to FILE, renamed to FILE only when every record was written: a run that fails leaves
no FILE that looks complete. ``--out results.parquet`` writes Parquet (the columns of
``shakenlib.analysis.parquet.RESULT_COLUMNS``). Progress goes to stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shakenlib.analysis.batch import BatchItem, verify_source
from shakenlib.analysis.records import UnreadableRecord
from shakenlib.cli.analyze import add_batch_options, make_progress, source_and_config

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register the ``verify-batch`` sub-command."""
    p = subparsers.add_parser(
        "verify-batch",
        help="verify call records; one result JSON line per record",
        description=__doc__.split("::")[0].strip(),
    )
    p.add_argument(
        "calls",
        metavar="CALLS",
        help="call records: JSON Lines, CSV, SIP, pcap/pcapng, Parquet; file or dir",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        default="-",
        help="where to write the results (default: stdout; *.parquet: Parquet)",
    )
    add_batch_options(p)
    p.set_defaults(run=run)


def _rows(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    source, config = source_and_config(args)
    progress = make_progress(source=source, quiet=args.quiet) if not args.scheduler else None
    if args.scheduler:  # on a Dask cluster (shakenlib.analysis.cluster)
        from shakenlib.analysis.cluster import verify_at

        items: Iterator[BatchItem] = verify_at(args.scheduler, source, config)
    else:
        items = verify_source(
            source, config, jobs=args.jobs, chunk_size=args.chunk_size or 256, progress=progress
        )
    for item in items:
        if isinstance(item, UnreadableRecord):
            row: dict[str, Any] = item.to_dict()
            row["error"] = row.pop("code")
        else:
            record, result = item
            row = {
                "line": record.line,
                "source": record.source,
                "time": record.time.isoformat(),
                "call_id": record.call_id,
                **result.to_dict(),
            }
            if record.src is not None:
                row["src"], row["dst"] = record.src, record.dst
            row["record_orig"], row["record_dest"] = record.orig, record.dest
        yield row
    if progress is not None:
        progress.close()


@contextlib.contextmanager
def _replacing(target: str) -> Iterator[str]:
    """A temporary path next to ``target``, renamed to ``target`` when the block ends
    without an exception, removed otherwise."""
    folder = os.path.dirname(os.path.abspath(target))
    fd, temporary = tempfile.mkstemp(prefix=f".{Path(target).name}.", suffix=".partial", dir=folder)
    os.close(fd)
    try:
        yield temporary
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as open() would have made it
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def run(args: argparse.Namespace) -> int:
    """Run ``verify-batch``."""
    rows = _rows(args)
    if args.out == "-":
        for row in rows:
            sys.stdout.write(json.dumps(row, separators=(",", ":")) + "\n")
        return 0
    if os.path.isdir(args.out):
        raise IsADirectoryError(21, "Is a directory", args.out)
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        raise FileNotFoundError(2, "No such directory for the output file", args.out)
    first = next(rows, None)  # options and input checked before a file is made
    with _replacing(args.out) as temporary:
        if args.out.lower().endswith((".parquet", ".pq")):
            from shakenlib.analysis.parquet import write_results

            write_results(temporary, _chain(first, rows))
        else:
            with open(temporary, "w", encoding="utf-8") as out:
                for row in _chain(first, rows):
                    out.write(json.dumps(row, separators=(",", ":")) + "\n")
    return 0


def _chain(
    first: dict[str, Any] | None,
    rows: Iterator[dict[str, Any]],
) -> Iterator[dict[str, Any]]:
    if first is not None:
        yield first
    yield from rows
