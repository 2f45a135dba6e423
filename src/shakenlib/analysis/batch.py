"""Batch verification: many call records, each verified as of its own time.

Records stream in (:class:`~shakenlib.analysis.records.RecordSource`), are verified in chunks
(across worker processes when ``jobs > 1``) and stream out in input order; memory does not
grow with the number of records. Each worker process builds its own
:class:`~shakenlib.verify.Verifier` once, from a picklable :class:`VerifierConfig` (trust
files, mirror directory, policy), so each certificate URL is fetched (and its chain
validated) once per process and then served from the verifier's cache. From a JSON Lines
file the workers read their own byte ranges
(:meth:`~shakenlib.analysis.records.RecordSource.spans`): only ``(offset, length,
line)`` goes to them, not the records.

Two ways to run a batch:

* :func:`verify_source` yields ``(record, result)`` pairs and
  :class:`~shakenlib.analysis.records.UnreadableRecord`\\ s in input order
  (``shakenlib verify-batch``);
* :func:`analyze_source` has each worker aggregate the chunks it takes into one
  :class:`~shakenlib.analysis.leads.Analysis`, handed over when the input is done, and merges
  those (``shakenlib analyze``): one aggregate per worker crosses process boundaries.

Verification never raises on bad input, and an unreadable record is passed on as a
:class:`~shakenlib.analysis.records.UnreadableRecord`, so one bad record never stops a batch.

>>> from shakenlib.analysis.records import RecordSource
>>> from shakenlib.verify.result import VerificationResult
>>> class Unsigned:  # any object with the Verifier.verify signature
...     def verify(self, identity, *, orig=None, dest=None, at, sip=None):
...         return VerificationResult.failure("identity_missing")
>>> src = RecordSource.from_text('{"time": 0, "orig": "12155550123", "dest": "1"}\\n{}\\n')
>>> [getattr(item, "reason", None) for item in verify_records(src, Unsigned())]
[None, "missing time (column 'time')"]
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import gc
import itertools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from shakenlib.analysis.leads import Analysis, FoldPlan, SignerSurvey
from shakenlib.analysis.records import CallRecord, RawItem, RecordSource, Span, UnreadableRecord
from shakenlib.errors import ShakenError
from shakenlib.sip.message import SipMessage
from shakenlib.verify.result import VerificationResult
from shakenlib.verify.verifier import Policy

__all__ = [
    "BatchItem",
    "Progress",
    "VerifierConfig",
    "VerifierFactory",
    "VerifierLike",
    "analyze_source",
    "verify_record",
    "verify_records",
    "verify_source",
]

#: What a batch yields per record: the record with its result, or why it was unreadable.
BatchItem = tuple[CallRecord, VerificationResult] | UnreadableRecord
#: Progress callback: (records done, verification failures so far).
Progress = Callable[[int, int], None]

T = TypeVar("T")


class VerifierLike(Protocol):
    """What a batch needs of a verifier (:class:`shakenlib.verify.Verifier` has it)."""

    def verify(
        self,
        identity: str | Sequence[str] | None,
        *,
        orig: str | None = ...,
        dest: str | None = ...,
        at: Any,
        sip: SipMessage | None = ...,
    ) -> VerificationResult: ...


class VerifierFactory(Protocol):
    """A picklable recipe that builds a verifier inside each worker process."""

    def build(self) -> VerifierLike: ...


def _paths(files: Iterable[str | os.PathLike[str]]) -> tuple[str, ...]:
    return tuple(os.fspath(f) for f in files)


@attrs.frozen
class VerifierConfig:
    """Picklable verifier settings: trust anchor PEM files, a mirror directory, a policy.

    ``mirror`` set: certificates and CRLs come from that directory
    (:class:`~shakenlib.fetch.MirrorRepository`); otherwise over HTTPS under the
    ATIS-1000074 fetch policy (:class:`~shakenlib.fetch.HttpRepository`).
    ``policy``: the :class:`~shakenlib.verify.Policy` (``None``: the ATIS defaults).

    >>> VerifierConfig(trust_files=["examples/trust.pem"], mirror="examples/mirror").trust_files
    ('examples/trust.pem',)
    """

    trust_files: tuple[str, ...] = attrs.field(default=(), converter=_paths)
    mirror: str | None = None
    policy: Policy | None = None

    def build(self) -> VerifierLike:
        """Build the verifier (once per process)."""
        from shakenlib.fetch import CertificateRepository
        from shakenlib.pki.trust import TrustStore
        from shakenlib.verify import Verifier

        trust = TrustStore.from_pem_files(self.trust_files)
        repository: CertificateRepository
        if self.mirror:
            from shakenlib.fetch.mirror import MirrorRepository

            repository = MirrorRepository(self.mirror)
        else:  # (requests is imported only here: ~40 ms that an offline run does not pay)
            from shakenlib.fetch.http import HttpRepository

            repository = HttpRepository()
        verifier: VerifierLike = Verifier(trust, repository, policy=self.policy)
        return verifier


def verify_record(verifier: VerifierLike, record: CallRecord) -> VerificationResult:
    """Verify one record as of its own time. Never raises: whatever a record holds, it
    becomes a result, so one record cannot stop a batch. A usage problem with the record's
    values (a time out of range, say) gives that error's code; any other exception, which
    would be a defect, gives ``internal_error`` with the exception named in the message."""
    try:
        result = verifier.verify(**_arguments(record))
    except ShakenError as exc:  # e.g. a usage problem with this record's values
        result = VerificationResult.failure(exc.code, exc.message)
    except Exception as exc:
        where = f" (line {record.line} of {record.source})" if record.source else ""
        result = VerificationResult.failure(
            "internal_error", f"{type(exc).__name__}: {exc}"[:300] + where
        )
    return _with_reading(record, result)


def _arguments(record: CallRecord) -> dict[str, Any]:
    """The verifier's keyword arguments for a record."""
    identity = record.identity
    return {
        "identity": identity[0] if len(identity) == 1 else list(identity),
        "orig": record.orig,
        "dest": record.dest,
        "at": record.time,
        "sip": record.sip,
    }


def _with_reading(record: CallRecord, result: VerificationResult) -> VerificationResult:
    """How the record was read (e.g. ``tn_national``) goes with its result."""
    if record.findings:
        return attrs.evolve(result, findings=record.findings + result.findings)
    return result


#: Records verified together when the verifier has ``verify_many``
#: (:meth:`shakenlib.verify.Verifier.verify_many`: their ES256 signatures are checked in
#: one loop, which keeps the curve arithmetic's tables in the processor's cache).
VERIFY_TOGETHER = 32


def _verify_group(verifier: VerifierLike, records: list[CallRecord]) -> list[VerificationResult]:
    """:func:`verify_record` for each record: together, with a verifier that can. When
    that raises (a record with a bad time, say), each record is verified alone, so the
    bad one fails by itself as :func:`verify_record` says."""
    many = getattr(verifier, "verify_many", None)
    if many is not None and len(records) > 1:
        try:
            results: list[VerificationResult] = many([_arguments(r) for r in records])
        except Exception:  # each record again, alone: verify_record says why
            pass
        else:
            return [_with_reading(r, result) for r, result in zip(records, results, strict=True)]
    return [verify_record(verifier, r) for r in records]


def verify_records(
    records: Iterable[CallRecord | UnreadableRecord],
    verifier: VerifierLike,
) -> Iterator[BatchItem]:
    """Verify records in this process, in order (errors are passed through); up to
    :data:`VERIFY_TOGETHER` at a time together (:func:`_verify_group`)."""
    iterator = iter(records)
    while group := list(itertools.islice(iterator, VERIFY_TOGETHER)):
        readable = [r for r in group if not isinstance(r, UnreadableRecord)]
        results = iter(_verify_group(verifier, readable))
        for record in group:
            if isinstance(record, UnreadableRecord):
                yield record
            else:
                yield record, next(results)


# --- worker side ------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(
    config: VerifierFactory, source: RecordSource, barrier: threading.Barrier | None = None
) -> None:
    _exit_with_parent()
    # Objects inherited from the parent (a forked worker has its whole heap) go to the
    # permanent generation: the worker's collections then scan only its own objects.
    gc.freeze()
    _WORKER["verifier"] = config.build()
    _WORKER["source"] = source
    _WORKER["barrier"] = barrier
    _WORKER["analysis"] = Analysis()


#: Seconds between a worker's checks that its parent is still there.
_PARENT_CHECK_INTERVAL = 0.5


def _exit_with_parent() -> None:
    """End this worker soon after the process that started it is gone (SIGKILL, the OOM
    killer): an orphan is re-parented, so its parent process id changes. Otherwise it
    would sit blocked on its task pipe, holding its memory, indefinitely."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_INTERVAL)
        os._exit(1)

    threading.Thread(target=watch, name="shakenlib-parent-watch", daemon=True).start()


def _verify_chunk(
    verifier: VerifierLike,
    source: RecordSource,
    chunk: list[RawItem],
) -> list[BatchItem]:
    return list(verify_records((source.parse(item) for item in chunk), verifier))


def _analyze_into(
    analysis: Analysis, verifier: VerifierLike, source: RecordSource, chunk: list[RawItem]
) -> tuple[int, int]:
    """Add a chunk's records to ``analysis``; returns (records, failed or unreadable)."""
    before = analysis.calls + analysis.unreadable, analysis.failed + analysis.unreadable
    analysis.add_all(verify_records((source.parse(raw) for raw in chunk), verifier))
    return (
        analysis.calls + analysis.unreadable - before[0],
        analysis.failed + analysis.unreadable - before[1],
    )


def _analyze_chunk(
    verifier: VerifierLike,
    source: RecordSource,
    chunk: list[RawItem],
) -> tuple[int, int]:
    # in a worker: into the worker's own analysis (handed over by _hand_over)
    return _analyze_into(_WORKER["analysis"], verifier, source, chunk)


def _meet() -> None:
    """Wait until every worker has started (see :func:`_start_pool`)."""
    _WORKER["barrier"].wait(timeout=_HAND_OVER_TIMEOUT)


def _survey() -> dict[str, SignerSurvey]:
    """A worker's survey of its analysis (:meth:`Analysis.survey`), once all chunks are
    done. Every worker then waits for the others at the barrier, so each of the ``jobs``
    survey tasks lands on a different worker (and so do the hand-over tasks); a worker
    done first surveys while it would wait."""
    analysis: Analysis = _WORKER["analysis"]
    survey = _WORKER["survey"] = analysis.survey()  # (fold uses its sketches)
    _WORKER["barrier"].wait(timeout=_HAND_OVER_TIMEOUT)
    return survey


def _hand_over(plan: FoldPlan) -> Analysis:
    """A worker's analysis, folded by the plan made from every worker's survey: its
    origid-per-call signers' small groups go to their signer-level leads here, in
    parallel, instead of crossing to the parent one call at a time."""
    _WORKER["barrier"].wait(timeout=_HAND_OVER_TIMEOUT)
    analysis: Analysis = _WORKER["analysis"]
    _WORKER["analysis"] = Analysis()
    analysis.fold(plan, _WORKER.pop("survey"))
    return analysis


_ChunkFn = Callable[[VerifierLike, RecordSource, list[RawItem]], T]


def _in_worker(fn: _ChunkFn[T], work: list[RawItem] | Span) -> T:
    source: RecordSource = _WORKER["source"]
    # a byte range of the file is read here
    chunk = source.raw_span(work) if isinstance(work, tuple) else work
    return fn(_WORKER["verifier"], source, chunk)


# --- driver -----------------------------------------------------------------------------
#: The start method of worker processes (the platform's default).
_CONTEXT = multiprocessing.get_context()
#: Seconds a worker waits for the others before handing its analysis over.
_HAND_OVER_TIMEOUT = 300
#: Bytes per record assumed when a chunk size in records becomes a byte range (a signed
#: JSON Lines record is 600-800 bytes).
_BYTES_PER_RECORD = 1024


def _chunks(items: Iterable[RawItem], size: int) -> Iterator[list[RawItem]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _parse_source(source: RecordSource) -> RecordSource:
    # What workers need to parse raw items: no in-memory text, the CSV header known.
    return attrs.evolve(source.with_csv_header(), text=None, fmt=source.format)


def _run(
    source: RecordSource,
    config: VerifierFactory,
    fn: _ChunkFn[T],
    jobs: int,
    chunk_size: int,
    pool: concurrent.futures.ProcessPoolExecutor | None,
) -> Iterator[T]:
    """Apply ``fn`` to chunks of raw items, in order: in this process without a ``pool``,
    else in the pool's ``jobs`` workers (started by :func:`_start_pool`)."""
    prepared = source.with_csv_header()
    if pool is None:
        verifier, parser = config.build(), _parse_source(prepared)
        for chunk in _chunks(prepared.raw(), chunk_size):
            yield fn(verifier, parser, chunk)
        return
    pending: collections.deque[concurrent.futures.Future[T]] = collections.deque()
    # A JSON Lines file: workers read their own byte ranges, so only (offset, length, line)
    # crosses to them (a list of lines would go through a 64 KiB pipe in many wake-ups).
    work: Iterable[list[RawItem] | Span] = (
        prepared.spans(chunk_size * _BYTES_PER_RECORD, parts=2 * jobs)
        if prepared.splittable
        else _chunks(prepared.raw(), chunk_size)
    )
    for part in work:
        pending.append(pool.submit(_in_worker, fn, part))
        while len(pending) >= 3 * jobs:  # bounded: memory does not grow with input
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


@contextlib.contextmanager
def _start_pool(
    source: RecordSource,
    config: VerifierFactory,
    jobs: int,
    barrier: threading.Barrier | None = None,
) -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    """``jobs`` worker processes, each with its verifier (stopped on leaving)."""
    # Built once here too: a bad configuration fails before any worker starts, and the
    # verification modules are imported before the workers fork (on Linux each worker would
    # otherwise spend ~0.1 s importing them).
    config.build()
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=_CONTEXT,
        initializer=_init_worker,
        initargs=(config, _parse_source(source.with_csv_header()), barrier),
    )
    try:
        # Start every worker now (they set up while the input is opened). With a barrier,
        # each of the `jobs` workers meets the others first: start methods that spawn
        # workers on demand (spawn, forkserver) then start all of them, so that later
        # each worker takes exactly one hand-over.
        for _ in range(jobs if barrier is not None else 1):
            pool.submit(_meet if barrier is not None else int)
        yield pool
    except BaseException:
        if barrier is not None:
            barrier.abort()  # no worker waits for a hand-over that will not come
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def verify_source(
    source: RecordSource,
    config: VerifierFactory,
    *,
    jobs: int | None = None,
    chunk_size: int = 256,
    progress: Progress | None = None,
) -> Iterator[BatchItem]:
    """Verify every record of ``source``; yields items in input order.

    ``jobs``: worker processes (default: the number of cores; 1 runs in this process).
    ``chunk_size``: records a worker takes at a time; a JSON Lines file is instead cut
    into byte ranges of up to ``chunk_size`` KiB that the workers read themselves and that
    shrink toward the end of the file (so the workers finish together).
    ``progress`` is called after each chunk with (records done, failures so far).
    """
    jobs = jobs or os.cpu_count() or 1
    done = failures = 0
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(_start_pool(source, config, jobs)) if jobs > 1 else None
        for chunk in _run(source, config, _verify_chunk, jobs, chunk_size, pool):
            for item in chunk:
                done += 1
                if isinstance(item, UnreadableRecord) or not item[1].passed:
                    failures += 1
            yield from chunk
            if progress is not None:
                progress(done, failures)


def analyze_source(
    source: RecordSource,
    config: VerifierFactory,
    *,
    jobs: int | None = None,
    chunk_size: int = 2048,
    progress: Progress | None = None,
) -> Analysis:
    """Verify and aggregate every record of ``source`` into one :class:`Analysis`.

    ``jobs``, ``chunk_size`` and ``progress`` as for :func:`verify_source`. The result
    does not depend on ``jobs`` or ``chunk_size`` (aggregates merge exactly).
    """
    jobs = jobs or os.cpu_count() or 1
    total = Analysis()
    done = failures = 0

    def report(counts: tuple[int, int]) -> None:
        nonlocal done, failures
        done, failures = done + counts[0], failures + counts[1]
        if progress is not None:
            progress(done, failures)

    if jobs <= 1:

        def into_total(
            verifier: VerifierLike, parser: RecordSource, chunk: list[RawItem]
        ) -> tuple[int, int]:
            return _analyze_into(total, verifier, parser, chunk)

        for counts in _run(source, config, into_total, 1, chunk_size, None):
            report(counts)
        return total
    # Each worker aggregates all the chunks it takes; at the end each hands its analysis
    # over once (parts merge exactly), so only one aggregate per worker crosses back:
    # surveyed, then folded by the plan made from all the surveys (Analysis.fold).
    barrier = _CONTEXT.Barrier(jobs)
    with _start_pool(source, config, jobs, barrier) as pool:
        for counts in _run(source, config, _analyze_chunk, jobs, chunk_size, pool):
            report(counts)
        with _no_cyclic_gc():  # the parts arrive as many new objects, none of them garbage
            plan = Analysis.fold_plan([f.result() for f in _each_worker(pool, jobs, _survey)])
            parts = _each_worker(pool, jobs, _hand_over, plan)
            pool.shutdown(wait=False)  # the workers exit while the parts merge
            # each part as soon as it is there: one merges while another worker still
            # folds (parts merge exactly in any order)
            for handed in concurrent.futures.as_completed(parts):
                total.update(handed.result(), take=True)  # fresh from a worker: moved in
    total.settle()
    return total


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection inside (unpickling a worker's part allocates many
    objects at once; each collection it sets off would scan them all for nothing)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _each_worker(
    pool: concurrent.futures.ProcessPoolExecutor, jobs: int, fn: Callable[..., T], *args: Any
) -> list[concurrent.futures.Future[T]]:
    """The futures of ``fn(*args)`` run once in each of the ``jobs`` workers (``fn`` meets
    the others at the barrier, so no worker takes two)."""
    return [pool.submit(fn, *args) for _ in range(jobs)]
