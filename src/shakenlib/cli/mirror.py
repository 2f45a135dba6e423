"""``shakenlib mirror``: fetch the certificates a dataset names into a mirror directory.

::

    shakenlib mirror CALLS... --out DIR [--map FIELD=COLUMN,...] [--format FORMAT]
                     [--tz ZONE] [--country-code CC] [--json]

Reads the call records of CALLS (files or directories, any input format), collects the
distinct certificate URLs their Identity headers name (``x5u`` and ``info``), fetches
each over HTTPS under the ATIS-1000074 fetch policy, and the CRLs its certificates name,
and writes every response into DIR in the ``wget --force-directories`` layout that
``--mirror DIR`` reads. Put DIR where every worker of a cluster reaches it and a
``--scheduler`` run needs no network (docs/scaling.md). Exit status 0 when every URL was
fetched, 1 when some were not (they are listed), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from shakenlib.analysis.report import printable
from shakenlib.cli.analyze import add_input_options, record_source
from shakenlib.errors import UsageError

__all__ = ["add_parser", "make_repository", "run"]


def add_parser(subparsers: Any) -> None:
    """Register the ``mirror`` sub-command."""
    p = subparsers.add_parser(
        "mirror",
        help="fetch the certificates (and CRLs) a dataset names into a --mirror directory",
        description=__doc__.split("::")[0].strip(),
    )
    p.add_argument(
        "calls",
        metavar="CALLS",
        nargs="+",
        help="call records: JSON Lines, CSV, SIP, pcap/pcapng, Parquet; file or dir",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        required=True,
        help="the mirror directory to fill (created if missing)",
    )
    add_input_options(p)
    p.add_argument("--json", action="store_true", help="print what was mirrored as JSON")
    p.set_defaults(run=run)


def make_repository() -> Any:
    """The repository the mirror is filled from: HTTPS under the default fetch policy."""
    from shakenlib.fetch import HttpRepository

    return HttpRepository()


def run(args: argparse.Namespace) -> int:
    """Run ``mirror``."""
    from shakenlib.analysis.cluster import fill_mirror, x5u_urls

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError("usage", f"--out {args.out}: not a directory")
    sources = []
    for calls in args.calls:
        if not Path(calls).exists():
            raise FileNotFoundError(2, "No such file or directory", calls)
        sources.append(record_source(calls, args))
    urls = x5u_urls(sources)
    out.mkdir(parents=True, exist_ok=True)
    # the command line's one reading of the clock: fetched as of now
    report = fill_mirror(urls, out, make_repository(), at=dt.datetime.now(dt.UTC))
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(
            f"{len(report.certificates)} of {len(urls)} certificate URLs and "
            f"{len(report.crls)} CRLs mirrored into {args.out}"
        )
        for url, reason in report.failed:
            print(printable(f"failed: {url}: {reason}"))  # URLs come from the calls
    return 1 if report.failed else 0
