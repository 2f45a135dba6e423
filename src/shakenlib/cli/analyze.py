"""``shakenlib analyze``: traceback leads from a file of call records.

::

    shakenlib analyze CALLS [--trust PEM]... [--mirror DIR] [--providers CSV] [--jobs N]
                      [--map FIELD=COLUMN,...] [--format jsonl|csv|sip] [--top N|all]
                      [--json | --csv FILE | --html FILE]

CALLS is a JSON Lines or CSV file of call records (``time``, ``orig``, ``dest``,
``identity``, optional ``call_id``) or a SIP message file/directory. Every record is
verified as of its own time; signed calls are grouped by (signing SPC, origid), or by
SPC for a signer that puts a fresh origid on every call, and ranked most suspicious
first. Without an output flag a readable table of the top leads and the signers is
printed; ``--json`` prints one JSON object; ``--csv`` writes the leads and, next to
them, the signers table (``NAME-signers.csv``). ``--top`` (default 10 in the table, 100
otherwise; ``all`` for every lead) applies to every format; the totals say how many
leads there were.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from shakenlib.analysis.batch import VerifierConfig, analyze_source
from shakenlib.analysis.frames import Origin
from shakenlib.analysis.notebook import ProgressBar, estimate_records
from shakenlib.analysis.providers import ProviderDirectory
from shakenlib.analysis.records import FIELDS, FORMATS, RecordSource, parse_mapping
from shakenlib.analysis.report import (
    CSV_COLUMNS,
    SIGNER_COLUMNS,
    SIGNER_ROWS,
    _cell,
    printable as _printable,
    render_html,
    render_table,
    write_csv,
    write_signers_csv,
)
from shakenlib.cli.verify import add_verifier_options, positive_int
from shakenlib.errors import UsageError

__all__ = [
    "CSV_COLUMNS",
    "SIGNER_COLUMNS",
    "SIGNER_ROWS",
    "add_batch_options",
    "add_parser",
    "make_progress",
    "render_html",
    "render_table",
    "run",
    "signers_csv_path",
    "source_and_config",
    "write_csv",
    "write_signers_csv",
]
#: moved to shakenlib.analysis.report; kept here for callers of the old names
_ = (_cell, _printable)


def add_parser(subparsers: Any) -> None:
    """Register the ``analyze`` sub-command."""
    p = subparsers.add_parser(
        "analyze",
        help="verify call records and rank (SPC, origid) traceback leads",
        description=__doc__.split("::")[0].strip(),
    )
    p.add_argument(
        "calls",
        metavar="CALLS",
        help="call records: JSON Lines, CSV, SIP, pcap/pcapng, Parquet; file or dir",
    )
    add_batch_options(p)
    p.add_argument(
        "--providers",
        metavar="CSV",
        help="provider directory: spc,name[,ocn] or the OCN,Org Name,CN,Cert table",
    )
    p.add_argument(
        "--top",
        metavar="N|all",
        type=_top,
        default=None,
        help="leads to report (default: 10 in the table, 100 in JSON/CSV/HTML; "
        "'all' for every lead)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--csv", metavar="FILE", help="write one CSV row per lead")
    out.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    p.set_defaults(run=run)


def add_batch_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``analyze`` and ``verify-batch``."""
    add_verifier_options(p)
    p.add_argument(
        "--jobs",
        metavar="N",
        type=positive_int,
        default=None,
        help="worker processes (default: the number of cores)",
    )
    add_input_options(p)
    p.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress bar (it is shown only when stderr is a terminal)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="run on the Dask cluster of this scheduler, e.g. tcp://HOST:8786 "
        "(extra dask; files must be reachable from every worker at the same "
        "path; see docs/scaling.md)",
    )
    p.add_argument(
        "--chunk-size", metavar="N", type=positive_int, default=None, help=argparse.SUPPRESS
    )


def add_input_options(p: argparse.ArgumentParser) -> None:
    """How call records are read (``analyze``, ``verify-batch``, ``mirror``); see
    :func:`record_source`."""
    p.add_argument(
        "--map",
        metavar="FIELD=COLUMN,...",
        default=None,
        help='column mapping for CDR exports, e.g. "time=Start Time,'
        "orig=calling_number,pai=PAI,identity=IdentityA+IdentityB,"
        'verstat=Verstat"; dotted names reach into nested JSON '
        "(fields: " + ", ".join(FIELDS) + ")",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="input format (default: from the content and name of each file)",
    )
    p.add_argument(
        "--tz",
        metavar="ZONE",
        default=None,
        help="IANA time zone of record times without an offset (default UTC), "
        "e.g. America/New_York",
    )
    p.add_argument(
        "--country-code",
        metavar="CC",
        default="1",
        help="country code of record numbers written without one (default 1, "
        "NANP); 'none' reads numbers as they are",
    )


def record_source(path: str, args: argparse.Namespace) -> RecordSource:
    """The call records of ``path`` as :func:`add_input_options` says to read them."""
    country = None if args.country_code.lower() in ("none", "") else args.country_code
    return RecordSource(
        path=path,
        fmt=args.format,
        mapping=parse_mapping(args.map),
        tz=args.tz,
        country_code=country.lstrip("+") if country else None,
    )


#: ``--top all``
ALL = -1
#: Leads reported by default in JSON, CSV and HTML (the table shows 10).
DEFAULT_TOP = 100


def _top(text: str) -> int:
    """``--top``: a positive number or ``all``."""
    if text.strip().lower() == "all":
        return ALL
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'all', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 (or 'all')")
    return value


def _limit(top: int | None, default: int) -> int | None:
    """The number of leads to build (``None``: all)."""
    if top is None:
        return default
    return None if top == ALL else top


def source_and_config(args: argparse.Namespace) -> tuple[RecordSource, VerifierConfig]:
    """The record source and the picklable verifier settings from the options."""
    from shakenlib.verify import Policy

    path = Path(args.calls)
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", args.calls)
    if not args.trust:
        raise UsageError("usage", "give at least one --trust PEM (the STI-PA trust anchors)")
    if args.mirror and not Path(args.mirror).is_dir():
        raise UsageError("usage", f"--mirror {args.mirror}: not a directory")
    for trust in args.trust:  # fail early, in this process, on a missing trust file
        if not Path(trust).exists():
            raise FileNotFoundError(2, "No such file or directory", trust)
    policy = Policy(
        freshness=dt.timedelta(seconds=args.freshness),
        revocation=args.revocation,
        revocation_time="as_of" if args.revocation_as_of else "current",
        allow_compact_form=args.allow_compact_form,
    )
    source = record_source(str(path), args)
    config = VerifierConfig(trust_files=tuple(args.trust), mirror=args.mirror, policy=policy)
    return source, config


def make_progress(
    stream: TextIO | None = None, source: RecordSource | None = None, *, quiet: bool = False
) -> ProgressBar | None:
    """A progress bar on ``stream`` (stderr) for long runs: records read, calls/s,
    failures and, from the input's size, the share done and the time left. Only when
    ``stream`` is a terminal and not ``quiet``; :meth:`ProgressBar.close` ends its line."""
    stream = stream if stream is not None else sys.stderr
    if quiet or not stream.isatty():
        return None
    return ProgressBar(stream, total=estimate_records([source]) if source is not None else None)


def run(args: argparse.Namespace) -> int:
    """Run ``analyze``."""
    source, config = source_and_config(args)
    directory = ProviderDirectory.from_csv(args.providers) if args.providers else None
    progress = (
        make_progress(source=source, quiet=getattr(args, "quiet", False))
        if not args.scheduler
        else None
    )
    try:
        if args.scheduler:  # on a Dask cluster (shakenlib.analysis.cluster)
            from shakenlib.analysis.cluster import analyze_on_cluster, connect

            with connect(args.scheduler) as client:
                analysis = analyze_on_cluster(source, config, client)
        else:
            analysis = analyze_source(
                source,
                config,
                jobs=args.jobs,
                chunk_size=args.chunk_size or 2048,
                progress=progress,
            )
    finally:
        if progress is not None:
            progress.close()
    analysis.origin = Origin(
        sources=(source,), config=config, directory=directory, jobs=args.jobs or 1
    )
    top = _limit(args.top, 10 if not (args.json or args.csv or args.html) else DEFAULT_TOP)
    if args.json:
        json.dump(analysis.to_dict(directory, top=top), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.csv:
        # backslashreplace: a lone surrogate in a signer's origid must not stop the report
        with open(args.csv, "w", encoding="utf-8", errors="backslashreplace", newline="") as handle:
            write_csv(analysis.leads(directory, top=top), handle)
        with open(
            signers_csv_path(args.csv), "w", encoding="utf-8", errors="backslashreplace", newline=""
        ) as handle:
            write_signers_csv(analysis.signers_table(directory), handle)
    elif args.html:
        Path(args.html).write_text(render_html(analysis, directory, top=top), encoding="utf-8")
    else:
        sys.stdout.write(render_table(analysis, directory, top=top))
    return 0


def signers_csv_path(path: str) -> Path:
    """Where ``--csv PATH`` writes the signers table: ``leads.csv`` -> ``leads-signers.csv``.

    >>> signers_csv_path("out/leads.csv").as_posix()
    'out/leads-signers.csv'
    """
    p = Path(path)
    return p.with_name(f"{p.stem}-signers{p.suffix or '.csv'}")
