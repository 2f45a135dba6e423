"""Batch verification: many call records, each verified as of its own time.

Records stream in (:class:`~shakenlib.records.RecordSource`), are verified in chunks
(across worker processes when ``jobs > 1``) and stream out in input order; memory does not
grow with the number of records. Each worker process builds its own
:class:`~shakenlib.verify.Verifier` once, from a picklable :class:`VerifierConfig` (trust
files, mirror directory, policy), so each certificate URL is fetched (and its chain
validated) once per process and then served from the verifier's cache. From a JSON Lines
file the workers read their own byte ranges (:meth:`~shakenlib.records.RecordSource.spans`):
only ``(offset, length, line)`` goes to them, not the records.

Two ways to run a batch:

* :func:`verify_source` yields ``(record, result)`` pairs and
  :class:`~shakenlib.records.RecordError`\\ s in input order (``shakenlib verify-batch``);
* :func:`analyze_source` has each worker aggregate its chunk into an
  :class:`~shakenlib.leads.Analysis` and merges them (``shakenlib analyze``): only small
  aggregates cross process boundaries.

Verification never raises on bad input, and an unreadable record is passed on as a
:class:`~shakenlib.records.RecordError`, so one bad record never stops a batch.

>>> from shakenlib.records import RecordSource
>>> from shakenlib.result import VerificationResult
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
import gc
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from shakenlib.errors import ShakenError
from shakenlib.leads import Analysis
from shakenlib.records import CallRecord, RawItem, RecordError, RecordSource, Span
from shakenlib.result import VerificationResult
from shakenlib.sip import SipMessage

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
BatchItem = tuple[CallRecord, VerificationResult] | RecordError
#: Progress callback: (records done, verification failures so far).
Progress = Callable[[int, int], None]

T = TypeVar("T")


class VerifierLike(Protocol):
    """What a batch needs of a verifier (:class:`shakenlib.verify.Verifier` has it)."""

    def verify(self, identity: str | Sequence[str] | None, *, orig: str | None = ...,
               dest: str | None = ..., at: Any, sip: SipMessage | None = ...,
               ) -> VerificationResult: ...


class VerifierFactory(Protocol):
    """A picklable recipe that builds a verifier inside each worker process."""

    def build(self) -> VerifierLike: ...


@attrs.frozen
class VerifierConfig:
    """Picklable verifier settings: trust anchor PEM files, a mirror directory, a policy.

    ``mirror`` set: certificates and CRLs come from that directory
    (:class:`~shakenlib.repository.MirrorRepository`); otherwise over HTTPS under the
    ATIS-1000074 fetch policy (:class:`~shakenlib.repository.HttpRepository`).
    ``policy`` is a :class:`shakenlib.verify.Policy` (``None``: the ATIS defaults).
    """

    trust_files: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    mirror: str | None = None
    policy: Any = None

    def build(self) -> VerifierLike:
        """Build the verifier (once per process)."""
        from shakenlib.repository import HttpRepository, MirrorRepository
        from shakenlib.trust import TrustStore
        from shakenlib.verify import Verifier

        trust = TrustStore.from_pem_files(self.trust_files)
        repository = MirrorRepository(self.mirror) if self.mirror else HttpRepository()
        verifier: VerifierLike = Verifier(trust, repository, policy=self.policy)
        return verifier


def verify_record(verifier: VerifierLike, record: CallRecord) -> VerificationResult:
    """Verify one record as of its own time (never raises for bad input)."""
    identity = record.identity
    try:
        return verifier.verify(identity[0] if len(identity) == 1 else list(identity),
                               orig=record.orig, dest=record.dest, at=record.time,
                               sip=record.sip)
    except ShakenError as exc:  # e.g. a usage problem with this record's values
        return VerificationResult.failure(exc.code, exc.message)


def verify_records(records: Iterable[CallRecord | RecordError], verifier: VerifierLike,
                   ) -> Iterator[BatchItem]:
    """Verify records one by one in this process (errors are passed through)."""
    for record in records:
        if isinstance(record, RecordError):
            yield record
        else:
            yield record, verify_record(verifier, record)


# --- worker side ------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(config: VerifierFactory, source: RecordSource) -> None:
    # Objects inherited from the parent (a forked worker has its whole heap) go to the
    # permanent generation: the worker's collections then scan only its own objects.
    gc.freeze()
    _WORKER["verifier"] = config.build()
    _WORKER["source"] = source


def _verify_chunk(verifier: VerifierLike, source: RecordSource, chunk: list[RawItem],
                  ) -> list[BatchItem]:
    return list(verify_records((source.parse(item) for item in chunk), verifier))


def _analyze_chunk(verifier: VerifierLike, source: RecordSource, chunk: list[RawItem],
                   ) -> Analysis:
    analysis = Analysis()
    for item in chunk:  # one loop: no intermediate list of (record, result) pairs
        record = source.parse(item)
        if isinstance(record, RecordError):
            analysis.add_error(record)
        else:
            analysis.add(record, verify_record(verifier, record))
    return analysis


_ChunkFn = Callable[[VerifierLike, RecordSource, list[RawItem]], T]


def _in_worker(fn: _ChunkFn[T], work: list[RawItem] | Span) -> T:
    source: RecordSource = _WORKER["source"]
    # a byte range of the file is read here
    chunk = source.raw_span(work) if isinstance(work, tuple) else work
    return fn(_WORKER["verifier"], source, chunk)


# --- driver -----------------------------------------------------------------------------
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


def _run(source: RecordSource, config: VerifierFactory, fn: _ChunkFn[T],
         jobs: int | None, chunk_size: int) -> Iterator[T]:
    """Apply ``fn`` to chunks of raw items, in order, in-process or across ``jobs``."""
    jobs = jobs or os.cpu_count() or 1
    prepared = source.with_csv_header()
    if jobs <= 1:
        verifier, parser = config.build(), _parse_source(prepared)
        for chunk in _chunks(prepared.raw(), chunk_size):
            yield fn(verifier, parser, chunk)
        return
    # Built once here too: a bad configuration fails before any worker starts, and the
    # verification modules are imported before the workers fork (on Linux each worker would
    # otherwise spend ~0.1 s importing them).
    config.build()
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, initializer=_init_worker,
        initargs=(config, _parse_source(prepared)))
    pending: collections.deque[concurrent.futures.Future[T]] = collections.deque()
    # A JSON Lines file: workers read their own byte ranges, so only (offset, length, line)
    # crosses to them (a list of lines would go through a 64 KiB pipe in many wake-ups).
    work: Iterable[list[RawItem] | Span] = (
        prepared.spans(chunk_size * _BYTES_PER_RECORD, parts=2 * jobs)
        if prepared.splittable else _chunks(prepared.raw(), chunk_size))
    try:
        for part in work:
            pending.append(pool.submit(_in_worker, fn, part))
            while len(pending) >= 3 * jobs:  # bounded: memory does not grow with input
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def verify_source(source: RecordSource, config: VerifierFactory, *, jobs: int | None = None,
                  chunk_size: int = 256, progress: Progress | None = None,
                  ) -> Iterator[BatchItem]:
    """Verify every record of ``source``; yields items in input order.

    ``jobs``: worker processes (default: the number of cores; 1 runs in this process).
    ``chunk_size``: records a worker takes at a time; a JSON Lines file is instead cut
    into byte ranges of up to ``chunk_size`` KiB that the workers read themselves and that
    shrink toward the end of the file (so the workers finish together).
    ``progress`` is called after each chunk with (records done, failures so far).
    """
    done = failures = 0
    for chunk in _run(source, config, _verify_chunk, jobs, chunk_size):
        for item in chunk:
            done += 1
            if isinstance(item, RecordError) or not item[1].passed:
                failures += 1
        yield from chunk
        if progress is not None:
            progress(done, failures)


def analyze_source(source: RecordSource, config: VerifierFactory, *, jobs: int | None = None,
                   chunk_size: int = 2048, progress: Progress | None = None) -> Analysis:
    """Verify and aggregate every record of ``source`` into one :class:`Analysis`.

    ``jobs``, ``chunk_size`` and ``progress`` as for :func:`verify_source`. The result
    does not depend on ``jobs`` or ``chunk_size`` (aggregates merge exactly).
    """
    total = Analysis()
    for part in _run(source, config, _analyze_chunk, jobs, chunk_size):
        total.update(part, take=True)  # parts are fresh: built for this merge only
        if progress is not None:
            progress(total.calls + total.unreadable, total.failed + total.unreadable)
    return total
