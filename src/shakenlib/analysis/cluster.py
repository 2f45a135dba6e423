"""Analyze and verify on a Dask cluster (the ``dask`` extra: ``pip install "shakenlib[dask]"``).

When one machine's cores are not enough (``--jobs``), the same analysis runs on an
existing `Dask distributed <https://distributed.dask.org>`_ cluster: give
:func:`analyze_on_cluster` a ``distributed.Client`` (or the command line
``--scheduler tcp://HOST:PORT``).

How the work is cut (:func:`plan`): the input becomes :class:`Partition`\\ s that name
what to read, never the records themselves: byte ranges of JSON Lines and CSV files
(cut at record boundaries), runs of Parquet row groups, whole capture and SIP files, one
partition per file of a directory; a ``dask.dataframe`` (e.g. ``dd.read_parquet(...)``)
brings its own partitions, each a pandas DataFrame of records with the usual column
mapping. Each worker builds its verifier once per process from the picklable
:class:`~shakenlib.analysis.batch.VerifierConfig` (:func:`worker_verifier`) and keeps its
certificate cache across partitions. Each partition yields a partial
:class:`~shakenlib.analysis.leads.Analysis`; each partial is surveyed and folded on its
worker by the plan of all the surveys (:meth:`Analysis.fold_plan
<shakenlib.analysis.leads.Analysis.fold_plan>`: origid-per-call signers' small groups
go to their signer-level leads there, in parallel), then the partials are merged in a
tree on the workers (:meth:`Analysis.update
<shakenlib.analysis.leads.Analysis.update>`, exact), so the client receives the surveys,
one merged analysis and nothing else. A partition that fails fails
the run with the file, the part of it and the reason (:class:`PartitionFailed`); no call
is silently dropped. A worker that dies is replaced by Dask and its tasks run again.

Files are read by the workers: paths (and the trust files and mirror directory) are made
absolute on the client and must be reachable at the same path from every worker (a
shared file system); record names in reports stay as you gave them. See docs/scaling.md.

>>> from shakenlib.analysis.records import RecordSource
>>> parts = plan(RecordSource(path="examples/calls.jsonl"), partition_bytes=400_000)
>>> [p.describe() for p in parts]  # doctest: +NORMALIZE_WHITESPACE, +ELLIPSIS
['examples/calls.jsonl bytes 0-... (from line 1)',
 'examples/calls.jsonl bytes ...-... (from line ...)',
 'examples/calls.jsonl bytes ...-1127523 (from line ...)']
"""

from __future__ import annotations

import collections
import contextlib
import csv
import io
import math
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, TypeVar

import attrs

import shakenlib
from shakenlib._frozen import build
from shakenlib.analysis.batch import (
    BatchItem,
    VerifierConfig,
    VerifierFactory,
    VerifierLike,
    verify_records,
)
from shakenlib.analysis.leads import Analysis, FoldPlan, SignerSurvey
from shakenlib.analysis.records import (
    CallRecord,
    ExtraMissing,
    RawItem,
    RecordSource,
    Span,
    UnreadableRecord,
    _Unreadable,
    _walk,
    missing_extra,
    sniff_format,
)
from shakenlib.errors import ShakenError, UsageError

__all__ = [
    "DEFAULT_PARTITION_BYTES",
    "MirrorReport",
    "Partition",
    "PartitionFailed",
    "analyze_on_cluster",
    "connect",
    "fill_mirror",
    "plan",
    "verify_at",
    "verify_on_cluster",
    "worker_verifier",
    "x5u_urls",
]

#: Bytes of input per partition (JSON Lines/CSV byte ranges; Parquet row groups are
#: grouped up to about this many bytes of records): about 12,000 signed records, a few
#: seconds of one core's work, so the per-task overhead of Dask (about a millisecond)
#: is lost in it.
DEFAULT_PARTITION_BYTES = 8 * 1024 * 1024
#: Bytes per record assumed when grouping Parquet row groups (a signed record is 600-800
#: bytes of JSON).
_BYTES_PER_RECORD = 700
#: Partials merged per reduction task (the tree's fan-in).
DEFAULT_SPLIT_EVERY = 8

T = TypeVar("T")


class PartitionFailed(ShakenError):
    """A partition of a distributed run failed (code ``partition_failed``): the message
    names the file, the part of it and the reason. The whole run fails with it."""

    default_code = "partition_failed"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise missing_extra("dask", "dask[distributed]", "running on a Dask cluster") from None
    return distributed


# --- partitions ---------------------------------------------------------------------------
PartitionKind = Literal["span", "csv", "rows", "file", "error"]


@attrs.frozen
class Partition:
    """One unit of distributed work: what to read, never the records themselves.

    ``source`` reads the file (its path absolute, its format fixed, a CSV file's header
    known); ``name`` is the file as the user gave it (what records and reports say).
    ``kind``: ``span`` a byte range of a JSON Lines file and ``csv`` one of a CSV file
    (``span`` = offset, length, first line); ``rows`` Parquet row groups ``row_groups``
    (``first_row`` rows come before them); ``file`` the whole file (captures, SIP); ``error``
    a file that cannot be read, one unreadable record saying ``reason``. ``in_dir``: the file
    is one of a directory (a failure to read it is then an unreadable record, as in a
    single-process run, not an error of the run).
    """

    source: RecordSource
    name: str
    kind: PartitionKind
    span: Span | None = None
    row_groups: tuple[int, ...] = ()
    first_row: int = 0
    reason: str | None = None
    in_dir: bool = False

    def describe(self) -> str:
        """Where this partition is, for messages.

        >>> Partition(RecordSource(path="/d/a.csv", fmt="csv"), "a.csv", "csv",
        ...           span=(10, 90, 2)).describe()
        'a.csv bytes 10-99 (from line 2)'
        """
        if self.span is not None:
            offset, length, line = self.span
            return f"{self.name} bytes {offset}-{offset + length - 1} (from line {line})"
        if self.kind == "rows":
            groups = self.row_groups
            which = (
                f"row group {groups[0]}"
                if len(groups) == 1
                else f"row groups {groups[0]}-{groups[-1]}"
            )
            return f"{self.name} {which} (from row {self.first_row + 1})"
        return f"{self.name} (whole file)"


def _absolute(source: RecordSource, path: str) -> RecordSource:
    return attrs.evolve(source, path=os.path.abspath(path), text=None)


def plan(
    source: RecordSource, *, partition_bytes: int = DEFAULT_PARTITION_BYTES, parts: int = 1
) -> list[Partition]:
    """Cut ``source`` (a file or a directory) into partitions of about
    ``partition_bytes`` bytes. ``parts``: the number of workers; the last byte ranges of
    a file shrink so that they finish together (as :meth:`RecordSource.spans` does).

    Reads what it must to find record boundaries (a JSON Lines file once, a CSV file's
    rows, a Parquet file's footer), never the records' contents.
    """
    if source.text is not None or source.path is None:
        raise UsageError("usage", "a distributed run reads files: give a path, not text")
    if partition_bytes < 1:
        raise UsageError("usage", "partition_bytes must be positive")
    if not source.is_dir:
        return _plan_file(source, source.path, source.format, partition_bytes, parts, in_dir=False)
    out: list[Partition] = []
    from pathlib import Path

    for entry in _walk(Path(source.path)):
        if isinstance(entry, UnreadableRecord):
            name = entry.source or ""
            out.append(_error(source, name, entry.reason))
            continue
        name = str(entry)
        try:
            fmt = source.fmt or sniff_format(name)
            out.extend(_plan_file(source, name, fmt, partition_bytes, parts, in_dir=True))
        except OSError as exc:
            out.append(_error(source, name, f"unreadable file: {exc.strerror or exc}"))
        except ExtraMissing:
            raise  # the whole run needs it
        except UsageError as exc:  # not the format it claims (compressed, bad magic, ...)
            out.append(_error(source, name, exc.message))
    return out


def _error(source: RecordSource, name: str, reason: str) -> Partition:
    """A file of a directory that cannot be read: one unreadable record saying why."""
    return Partition(
        attrs.evolve(_absolute(source, name), fmt="jsonl"),
        name,
        "error",
        reason=reason,
        in_dir=True,
    )


def _plan_file(
    source: RecordSource, name: str, fmt: Any, partition_bytes: int, parts: int, *, in_dir: bool
) -> list[Partition]:
    one = attrs.evolve(_absolute(source, name), fmt=fmt, csv_header=None)
    if fmt == "jsonl":
        return [
            Partition(one, name, "span", span=span, in_dir=in_dir)
            for span in one.spans(
                partition_bytes, parts=parts, min_bytes=min(32768, partition_bytes)
            )
        ]
    if fmt == "csv":
        one = one.with_csv_header()
        spans = _csv_spans(one, partition_bytes)
        if spans is not None:
            return [Partition(one, name, "csv", span=span, in_dir=in_dir) for span in spans]
        return [Partition(one, name, "file", in_dir=in_dir)]
    if fmt == "parquet":
        return _plan_parquet(one, name, partition_bytes, in_dir=in_dir)
    return [Partition(one, name, "file", in_dir=in_dir)]


class _Unsplittable(Exception):
    pass


def _csv_spans(source: RecordSource, max_bytes: int) -> list[Span] | None:
    """Byte ranges of whole CSV rows after the header row (a quoted cell may hold line
    breaks: the rows are found with the csv module), or ``None`` when the file cannot be
    cut safely (lone carriage returns as line ends, a row the csv module refuses)."""
    assert source.path is not None
    spans: list[Span] = []
    pos = lines = 0
    with open(source.path, "rb") as handle:

        def feed() -> Iterator[str]:
            nonlocal pos, lines
            for data in handle:
                # a CR that does not end the line with its LF is a line end of its own to
                # the text reader (universal newlines): the csv module would count lines
                # differently, so such a file is not cut
                body = data[:-2] if data.endswith(b"\r\n") else data.removesuffix(b"\n")
                if b"\r" in body:
                    raise _Unsplittable
                pos += len(data)
                lines += 1
                yield data.decode("utf-8", "replace")

        reader = csv.reader(feed(), delimiter=source._delimiter())
        try:
            next(reader, None)  # the header row
            start, start_line = pos, lines + 1
            for _ in reader:
                if pos - start >= max_bytes:
                    spans.append((start, pos - start, start_line))
                    start, start_line = pos, lines + 1
        except (_Unsplittable, csv.Error):
            return None
        if pos > start:
            spans.append((start, pos - start, start_line))
    return spans


def _plan_parquet(
    source: RecordSource, name: str, partition_bytes: int, *, in_dir: bool
) -> list[Partition]:
    from shakenlib.analysis.parquet import _pyarrow, read_rows

    _, pq = _pyarrow()
    assert source.path is not None
    rows = read_rows(source.path, source.mapping)
    with contextlib.closing(rows):  # type: ignore[type-var]  # a generator: has close()
        next(rows, None)  # the file's checks (a Parquet file, the mapped columns there)
    meta = pq.ParquetFile(source.path).metadata
    want = max(1, partition_bytes // _BYTES_PER_RECORD)
    out: list[Partition] = []
    groups: list[int] = []
    first = count = 0
    for group in range(meta.num_row_groups):
        groups.append(group)
        count += meta.row_group(group).num_rows
        if count >= want:
            out.append(
                Partition(
                    source, name, "rows", row_groups=tuple(groups), first_row=first, in_dir=in_dir
                )
            )
            first, groups, count = first + count, [], 0
    if groups:
        out.append(
            Partition(
                source, name, "rows", row_groups=tuple(groups), first_row=first, in_dir=in_dir
            )
        )
    return out


# --- worker side --------------------------------------------------------------------------
#: Verifiers built in this (worker) process, by configuration and thread.
_VERIFIERS: dict[tuple[Any, int], VerifierLike] = {}
_VERIFIERS_LOCK = threading.Lock()
#: Configurations a worker keeps verifiers for (then it starts over).
_VERIFIERS_MAX = 16


def worker_verifier(config: VerifierFactory) -> VerifierLike:
    """This process's verifier for ``config``: built on first use, then reused by every
    partition this worker runs, so each certificate is fetched (and its chain validated)
    once per worker process. One per thread: run workers with one thread each
    (``--nthreads 1``); verification holds the GIL."""
    try:
        key: tuple[Any, int] = (config, threading.get_ident())
        verifier = _VERIFIERS.get(key)
    except TypeError:  # an unhashable recipe: built for each partition
        return config.build()
    if verifier is None:
        built = config.build()
        with _VERIFIERS_LOCK:
            if len(_VERIFIERS) >= _VERIFIERS_MAX:
                _VERIFIERS.clear()
            verifier = _VERIFIERS.setdefault(key, built)
    return verifier


def _csv_items(source: RecordSource, span: Span) -> Iterator[RawItem]:
    """The ``(line, row)`` items of a byte range of a CSV file: the items
    :meth:`RecordSource.raw` yields for those rows."""
    offset, length, line = span
    assert source.path is not None
    with open(source.path, "rb") as handle:
        handle.seek(offset)
        text = handle.read(length).decode("utf-8", "replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=source._delimiter())
    base = line - 1
    while True:
        start = base + reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield start, _Unreadable(f"CSV: {exc}")
            continue
        if any(cell.strip() for cell in row):
            yield start, row


def _parquet_items(partition: Partition) -> Iterator[RawItem]:
    # the rows of the partition's row groups, as reading the whole file gives them
    from shakenlib.analysis.parquet import _pyarrow, file_layout, group_rows

    _, pq = _pyarrow()
    handle = pq.ParquetFile(partition.source.path)
    layout = file_layout(handle, partition.source.mapping)
    yield from group_rows(handle, partition.row_groups, layout, partition.first_row)


def _items(partition: Partition) -> Iterator[RawItem]:
    source = partition.source
    if partition.kind == "error":
        yield 0, _Unreadable(partition.reason or "unreadable")
    elif partition.kind == "span":
        assert partition.span is not None
        yield from source.raw_span(partition.span)
    elif partition.kind == "csv":
        assert partition.span is not None
        yield from _csv_items(source, partition.span)
    elif partition.kind == "rows":
        yield from _parquet_items(partition)
    elif not partition.in_dir:
        yield from source.raw()
    else:  # a file of a directory: a failure to read it is an unreadable record
        try:
            yield from source.raw()
        except OSError as exc:
            yield 0, _Unreadable(f"unreadable file: {exc.strerror or exc}")
        except ExtraMissing:
            raise
        except UsageError as exc:
            yield 0, _Unreadable(exc.message)


def _records(partition: Partition) -> Iterator[CallRecord | UnreadableRecord]:
    """The partition's records, named as the user named the file."""
    source, name = partition.source, partition.name
    opened = source.name
    for item in _items(partition):
        record = source.parse(item)
        if record.source == opened and opened != name:
            if isinstance(record, UnreadableRecord):
                record = attrs.evolve(record, source=name)
            else:
                record = build(CallRecord, {**record.__dict__, "source": name})
        yield record


def _failure(where: str, exc: BaseException) -> ShakenError:
    if isinstance(exc, ExtraMissing):
        return exc
    if isinstance(exc, UsageError):
        return UsageError("usage", f"{where}: {exc.message}")
    reason = exc.message if isinstance(exc, ShakenError) else f"{type(exc).__name__}: {exc}"
    return PartitionFailed("partition_failed", f"{where}: {reason}"[:1000])


def _guarded(where: str, work: Callable[[], T]) -> T:
    try:
        return work()
    except Exception as exc:
        raise _failure(where, exc) from None


def _analyze_records(
    records: Iterable[CallRecord | UnreadableRecord], config: VerifierFactory
) -> Analysis:
    return Analysis().add_all(verify_records(records, worker_verifier(config)))


def _verify_records(
    records: Iterable[CallRecord | UnreadableRecord], config: VerifierFactory
) -> list[BatchItem]:
    return list(verify_records(records, worker_verifier(config)))


def _analyze_partition(partition: Partition, config: VerifierFactory) -> Analysis:
    """A task: the partial analysis of one partition."""
    return _guarded(partition.describe(), lambda: _analyze_records(_records(partition), config))


def _verify_partition(partition: Partition, config: VerifierFactory) -> list[BatchItem]:
    """A task: the ``(record, result)`` pairs and errors of one partition, in order."""
    return _guarded(partition.describe(), lambda: _verify_records(_records(partition), config))


@attrs.frozen
class _FrameOptions:
    """How the rows of a DataFrame partition are read (as Parquet rows are)."""

    mapping: dict[str, str] = attrs.field(factory=dict)
    tz: str | None = None
    country_code: str | None = "1"


def _frame_name(index: int) -> str:
    return f"<dataframe partition {index}>"


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return value != value  # NaN
    return type(value).__name__ in ("NaTType", "NAType")


def _frame_records(
    frame: Any,
    index: int,
    options: _FrameOptions,
) -> Iterator[CallRecord | UnreadableRecord]:
    """The records of one pandas DataFrame partition (line = row within the partition)."""
    name = _frame_name(index)
    source = RecordSource(
        path=name,
        fmt="parquet",
        mapping=options.mapping,
        tz=options.tz,
        country_code=options.country_code,
    )
    for line, row in enumerate(frame.to_dict("records"), 1):
        values = {str(k): (None if _missing(v) else v) for k, v in row.items()}
        yield source.parse((line, values))


def _analyze_frame(
    frame: Any, index: int, options: _FrameOptions, config: VerifierFactory
) -> Analysis:
    return _guarded(
        _frame_name(index), lambda: _analyze_records(_frame_records(frame, index, options), config)
    )


def _verify_frame(
    frame: Any, index: int, options: _FrameOptions, config: VerifierFactory
) -> list[BatchItem]:
    return _guarded(
        _frame_name(index), lambda: _verify_records(_frame_records(frame, index, options), config)
    )


def _merge(*parts: Analysis) -> Analysis:
    """A task: one analysis of several partials (copied: Dask may keep the inputs)."""
    total = Analysis()
    for part in parts:
        total.update(part)
    return total


def _survey(part: Analysis) -> dict[str, SignerSurvey]:
    """A task: what the fold plan needs of one partial (:meth:`Analysis.survey`)."""
    return part.survey()


def _fold(part: Analysis, fold_plan: FoldPlan, survey: dict[str, SignerSurvey]) -> Analysis:
    """A task: one partial folded by the plan of every partial's survey
    (:meth:`Analysis.fold`), in place: nothing reads the partial after its survey but
    this task, and a fold run again (a worker lost, the task redone) changes nothing more.
    """
    part.fold(fold_plan, survey)
    return part


def _probe(paths: Sequence[str]) -> tuple[str, list[str]]:
    """On each worker: shakenlib's version and which of ``paths`` it cannot see."""
    return shakenlib.__version__, [p for p in paths if not os.path.exists(p)]


# --- driver -------------------------------------------------------------------------------
def _is_frame(obj: Any) -> bool:
    return hasattr(obj, "to_delayed") and hasattr(obj, "npartitions")


def _portable(config: VerifierFactory) -> VerifierFactory:
    """A :class:`VerifierConfig` with absolute paths (workers may start elsewhere)."""
    if not isinstance(config, VerifierConfig):
        return config
    return attrs.evolve(
        config,
        trust_files=tuple(os.path.abspath(p) for p in config.trust_files),
        mirror=os.path.abspath(config.mirror) if config.mirror else None,
    )


def _as_sources(inputs: Any, options: _FrameOptions) -> list[Any]:
    if isinstance(inputs, RecordSource | str | os.PathLike) or _is_frame(inputs):
        inputs = [inputs]
    out = []
    for item in inputs:
        if isinstance(item, str | os.PathLike):
            item = RecordSource(
                path=os.fspath(item),
                mapping=options.mapping,
                tz=options.tz,
                country_code=options.country_code,
            )
        elif not (isinstance(item, RecordSource) or _is_frame(item)):
            raise UsageError(
                "usage",
                f"cannot read {type(item).__name__} on a cluster: give "
                "paths, RecordSources or a dask DataFrame",
            )
        out.append(item)
    return out


def _threads(client: Any) -> int:
    workers = client.scheduler_info().get("workers", {})
    return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))


def _preflight(client: Any, config: VerifierFactory, sources: list[Any]) -> None:
    """Workers there, running this shakenlib, seeing the files: or a clear error now."""
    try:
        client.wait_for_workers(1, timeout=60)
    except Exception:
        raise UsageError("usage", "the Dask cluster has no workers (waited 60 s)") from None
    paths = [
        os.path.abspath(s.path)
        for s in sources
        if isinstance(s, RecordSource) and s.path is not None
    ]
    if isinstance(config, VerifierConfig):
        paths += [*config.trust_files, *([config.mirror] if config.mirror else [])]
    distributed = _distributed()
    answers = client.run(_probe, paths, on_error="return")
    for worker, answer in sorted(answers.items()):
        if isinstance(answer, distributed.comm.CommClosedError | OSError):
            continue  # a worker going away (being replaced): Dask reschedules its tasks
        if isinstance(answer, BaseException):
            raise UsageError(
                "usage",
                f"worker {worker} cannot run shakenlib "
                f"({type(answer).__name__}: {answer}): install shakenlib "
                f"{shakenlib.__version__} on every worker"[:500],
            )
        version, missing = answer
        if version != shakenlib.__version__:
            raise UsageError(
                "usage",
                f"worker {worker} runs shakenlib {version}, this client "
                f"{shakenlib.__version__}: install the same version",
            )
        if missing:
            raise UsageError(
                "usage",
                f"worker {worker} cannot see {missing[0]}: put inputs, trust "
                "files and the mirror where every worker reaches them at "
                "the same path (docs/scaling.md)",
            )


class _Run:
    """The tasks of one distributed run (keys name the run and the partition)."""

    def __init__(
        self,
        client: Any,
        config: VerifierFactory,
        sources: list[Any],
        options: _FrameOptions,
        partition_bytes: int,
        what: str,
    ) -> None:
        self.client = client
        self.config = config
        self.what = what
        self.token = uuid.uuid4().hex[:12]
        self.where: dict[str, str] = {}
        parts = _threads(client)
        self.units: list[Partition | tuple[Any, int]] = []
        frames = 0
        for source in sources:
            if isinstance(source, RecordSource):
                self.units.extend(plan(source, partition_bytes=partition_bytes, parts=parts))
            else:
                for delayed in source.to_delayed():
                    self.units.append((delayed, frames))
                    frames += 1
        self.options = options

    def submit(self, index: int) -> Any:
        unit = self.units[index]
        key = f"shakenlib-{self.what}-{self.token}-{index}"
        if isinstance(unit, Partition):
            self.where[key] = unit.describe()
            fn: Any = _analyze_partition if self.what == "analyze" else _verify_partition
            return self.client.submit(fn, unit, self.config, key=key, pure=False)
        from dask.delayed import delayed as make_delayed

        delayed, number = unit
        self.where[key] = _frame_name(number)
        fn = _analyze_frame if self.what == "analyze" else _verify_frame
        task = make_delayed(fn, pure=False)(
            delayed, number, self.options, self.config, dask_key_name=key
        )
        return self.client.compute(task)

    def result(self, future: Any) -> Any:
        """``future``'s result, or the run's error naming the partition that failed."""
        distributed = _distributed()
        try:
            return future.result()
        except ShakenError:
            raise
        except distributed.scheduler.KilledWorker as exc:
            task = str(getattr(exc, "task", "") or "")
            where = self.where.get(task, task)
            raise PartitionFailed(
                "partition_failed",
                (
                    f"{where}: the worker running it died {exc.allowed_failures + 1} times "
                    "(out of memory? killed?); nothing was merged"
                ),
            ) from None
        except Exception as exc:
            raise PartitionFailed(
                "partition_failed",
                (f"the distributed run failed ({type(exc).__name__}: {exc})")[:1000],
            ) from None


def _options(
    mapping: dict[str, str] | None, tz: str | None, country_code: str | None
) -> _FrameOptions:
    return _FrameOptions(mapping=dict(mapping or {}), tz=tz, country_code=country_code)


def analyze_on_cluster(
    source: Any,
    config: VerifierFactory,
    client: Any,
    *,
    mapping: dict[str, str] | None = None,
    tz: str | None = None,
    country_code: str | None = "1",
    partition_bytes: int = DEFAULT_PARTITION_BYTES,
    split_every: int = DEFAULT_SPLIT_EVERY,
) -> Analysis:
    """Verify and aggregate every record of ``source`` on the cluster of ``client`` (a
    ``distributed.Client``); the same :class:`Analysis` as
    :func:`~shakenlib.analysis.batch.analyze_source` gives in one process.

    ``source``: a :class:`RecordSource`, a path (file or directory), a ``dask``
    DataFrame whose partitions are pandas DataFrames of records, or a list of these.
    ``mapping``/``tz``/``country_code`` read paths and DataFrames (a RecordSource has its
    own). ``partition_bytes``: input per task; ``split_every``: partials per merge task.
    Raises :class:`PartitionFailed` naming the partition when one cannot be done.
    """
    if split_every < 2:
        raise UsageError("usage", "split_every must be at least 2")
    options = _options(mapping, tz, country_code)
    sources = _as_sources(source, options)
    config = _portable(config)
    _preflight(client, config, sources)
    run = _Run(client, config, sources, options, partition_bytes, "analyze")
    leaves = [run.submit(i) for i in range(len(run.units))]
    if not leaves:
        return Analysis()
    # Each partial is surveyed on its worker; the plan made of all the surveys folds the
    # origid-per-call signers' small groups there, in parallel, before the partials merge
    # (as the workers of analyze_source do): otherwise every one of those calls would
    # travel up the merge tree to be folded in its root alone.
    surveys = [
        client.submit(_survey, leaf, pure=False, key=f"shakenlib-survey-{run.token}-{i}")
        for i, leaf in enumerate(leaves)
    ]
    level = leaves
    depth = 0
    merges: list[Any] = []
    try:
        # The first failed leaf fails the run at once.
        distributed = _distributed()
        for future in distributed.as_completed(leaves, loop=client.loop):
            if future.status == "error":
                run.result(future)
        fold_plan = Analysis.fold_plan([run.result(survey) for survey in surveys])
        if fold_plan.fold or fold_plan.sketch:
            level = [
                client.submit(
                    _fold,
                    leaf,
                    fold_plan,
                    survey,
                    pure=False,
                    key=f"shakenlib-fold-{run.token}-{i}",
                )
                for i, (leaf, survey) in enumerate(zip(leaves, surveys, strict=True))
            ]
            merges.extend(level)
        while len(level) > 1:
            depth += 1
            level = [
                client.submit(
                    _merge,
                    *level[i : i + split_every],
                    pure=False,
                    key=f"shakenlib-merge-{run.token}-{depth}-{i}",
                )
                for i in range(0, len(level), split_every)
            ]
            merges.extend(level)
        analysis: Analysis = run.result(level[0])
    except BaseException:
        _cancel(client, [*leaves, *surveys, *merges])
        raise
    analysis.settle()
    return analysis


def _cancel(client: Any, futures: list[Any]) -> None:
    """Cancel what is still to do of a run that failed or was abandoned."""
    waiting = [f for f in futures if not f.done()]
    with contextlib.suppress(Exception):
        if waiting:
            client.cancel(waiting)


def verify_on_cluster(
    source: Any,
    config: VerifierFactory,
    client: Any,
    *,
    mapping: dict[str, str] | None = None,
    tz: str | None = None,
    country_code: str | None = "1",
    partition_bytes: int = DEFAULT_PARTITION_BYTES,
    window: int | None = None,
) -> Iterator[BatchItem]:
    """Verify every record of ``source`` on the cluster; yields items in input order (as
    :func:`~shakenlib.analysis.batch.verify_source`). At most ``window`` partitions
    (default: twice the cluster's threads) are in flight or waiting to be collected, so
    memory does not grow with the input. ``source`` and the options as for
    :func:`analyze_on_cluster`.
    """
    options = _options(mapping, tz, country_code)
    sources = _as_sources(source, options)
    config = _portable(config)
    _preflight(client, config, sources)
    run = _Run(client, config, sources, options, partition_bytes, "verify")
    window = window or 2 * _threads(client)
    pending: collections.deque[Any] = collections.deque()
    try:
        for index in range(len(run.units)):
            pending.append(run.submit(index))
            while len(pending) >= window:
                yield from run.result(pending.popleft())
        while pending:
            yield from run.result(pending.popleft())
    finally:
        _cancel(client, list(pending))


@contextlib.contextmanager
def connect(address: str, *, timeout: float = 30) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``address`` (``tcp://HOST:PORT``),
    closed on leaving; an unreachable scheduler is a :class:`UsageError`."""
    distributed = _distributed()
    try:
        client = distributed.Client(address, timeout=math.ceil(timeout), set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(
            "usage", f"cannot reach the Dask scheduler at {address}: {exc}"[:500]
        ) from None
    try:
        yield client
    finally:
        client.close()


def verify_at(
    address: str,
    source: Any,
    config: VerifierFactory,
    **options: Any,
) -> Iterator[BatchItem]:
    """:func:`verify_on_cluster` on the cluster of the scheduler at ``address``, connected
    while the items are read (``shakenlib verify-batch --scheduler``)."""
    with connect(address) as client:
        yield from verify_on_cluster(source, config, client, **options)


# --- certificates for a cluster: a mirror every worker reads ----------------------------
def x5u_urls(sources: Iterable[RecordSource]) -> list[str]:
    """The distinct certificate URLs the calls of ``sources`` name (the PASSporT's ``x5u``
    and the Identity header's ``info``), sorted. Reads the records in this process.

    >>> x5u_urls([RecordSource(path="examples/calls.jsonl")])[:2]
    ['https://cr.example-sti.test/412B/shaken.pem', 'https://cr.example-sti.test/561C/old.pem']
    """
    from shakenlib.sip.passport import decode_identity

    urls: set[str] = set()
    seen: set[str] = set()
    for source in sources:
        for record in source:
            if isinstance(record, UnreadableRecord):
                continue
            for value in record.identity:
                if value in seen:
                    continue
                if len(seen) < 100_000:
                    seen.add(value)
                decoded = decode_identity(value)
                if decoded.identity.info:
                    urls.add(decoded.identity.info)
                if decoded.passport is not None and decoded.passport.header.x5u:
                    urls.add(decoded.passport.header.x5u)
    return sorted(urls)


@attrs.frozen
class MirrorReport:
    """What :func:`fill_mirror` wrote: certificate URLs, CRL URLs, and the URLs it could
    not fetch with the reason (``code: message``)."""

    certificates: tuple[str, ...] = ()
    crls: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "certificates": list(self.certificates),
            "crls": list(self.crls),
            "failed": [{"url": url, "reason": reason} for url, reason in self.failed],
        }


def fill_mirror(
    urls: Iterable[str], out: str | os.PathLike[str], repository: Any, *, at: Any
) -> MirrorReport:
    """Fetch each certificate URL, and the CRLs its certificates name, with
    ``repository`` (an :class:`~shakenlib.fetch.HttpRepository`: its fetch policy holds)
    as of ``at``, and write each response where
    :class:`~shakenlib.fetch.MirrorRepository` looks for it under ``out`` (the
    ``wget --force-directories`` layout). A URL that cannot be fetched is reported, not
    written; the others are written whole (a temporary file renamed into place).
    """
    from shakenlib.fetch import MirrorRepository
    from shakenlib.pki.certs import load_certificates

    mirror = MirrorRepository(out)
    certificates: list[str] = []
    crls: list[str] = []
    failed: list[tuple[str, str]] = []
    crl_urls: set[str] = set()

    def save(url: str, kind: Any) -> bytes | None:
        try:
            target = mirror.path_for(url)
            body: bytes = repository.fetch(url, at=at, kind=kind).body
        except ShakenError as exc:
            failed.append((url, f"{exc.code}: {exc.message}"))
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
        temporary.write_bytes(body)
        os.replace(temporary, target)
        return body

    for url in dict.fromkeys(urls):
        body = save(url, "certificate")
        if body is None:
            continue
        certificates.append(url)
        with contextlib.suppress(ShakenError):
            for certificate in load_certificates(body):
                for point in certificate.crl_distribution_points:
                    crl_urls.update(u for u in point.urls if u.lower().startswith("https:"))
    for url in sorted(crl_urls):
        if save(url, "crl") is not None:
            crls.append(url)
    return MirrorReport(tuple(certificates), tuple(crls), tuple(failed))
