"""One call from a notebook: :func:`analyze` and :func:`verify_frame`.

Both take the calls as a path (any format ``shakenlib analyze`` reads), several paths,
a pandas DataFrame or an iterable of dicts (one per call, the fields of a JSON Lines
record: ``time``, ``orig``, ``dest``, ``identity``, ``call_id`` …; ``mapping`` renames
columns as ``--map`` does). Rows in memory go through the JSON Lines record parser, so
they are read exactly as the same rows in a file would be.

>>> import shakenlib
>>> analysis = shakenlib.analyze("examples/calls.jsonl", trust="examples/trust.pem",
...                              mirror="examples/mirror", progress=False)
>>> analysis.calls, analysis.leads()[0].spc
(2000, '999R')
>>> rows = [{"time": "2025-06-01T12:00:00Z", "orig": "12155550123", "dest": "12125550100",
...          "identity": ""}]
>>> shakenlib.analyze(rows, trust="examples/trust.pem", progress=False).unsigned
1
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import json
import math
import os
import pickle
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from shakenlib.analysis.batch import (
    Progress,
    VerifierConfig,
    VerifierFactory,
    VerifierLike,
    analyze_source,
    verify_source,
)
from shakenlib.analysis.frames import Origin, pandas, typed
from shakenlib.analysis.leads import Analysis
from shakenlib.analysis.providers import ProviderDirectory
from shakenlib.analysis.records import RawItem, RecordSource, UnreadableRecord, parse_mapping
from shakenlib.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from shakenlib.fetch.base import CertificateRepository
    from shakenlib.verify.verifier import Policy

__all__ = [
    "RESULT_COLUMNS",
    "ProgressBar",
    "RowSource",
    "StoreConfig",
    "analyze",
    "estimate_records",
    "progress_bar",
    "verify_frame",
]

#: What :func:`analyze` and :func:`verify_frame` take as calls.
Calls = Any
#: ``trust=``: a PEM path, several, or a TrustStore.
Trust = Any


# --- rows in memory ---------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """A value of a DataFrame cell or dict as JSON data (missing values -> ``None``)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()  # a pandas Timestamp too; naive times are read in tz
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else value
        return [_plain(v) for v in items] if isinstance(items, list) else _plain(items)
    if hasattr(value, "item"):  # a numpy scalar
        return _plain(value.item())
    return str(value)


def _is_frame(value: Any) -> bool:
    return hasattr(value, "itertuples") and hasattr(value, "columns")


def _rows(data: Any) -> Iterator[dict[str, Any]]:
    if _is_frame(data):
        columns = [str(c) for c in data.columns]
        for values in data.itertuples(index=False, name=None):
            yield dict(zip(columns, values, strict=True))
        return
    for row in data:
        if not isinstance(row, Mapping):
            raise UsageError(
                "usage", f"a call must be a dict (a mapping), not {type(row).__name__}"
            )
        yield dict(row)


def _parser(mapping: dict[str, str], tz: str | None, country_code: str | None) -> RowSource:
    return RowSource(mapping=mapping, tz=tz, country_code=country_code)


@attrs.frozen
class RowSource(RecordSource):
    """A :class:`~shakenlib.analysis.records.RecordSource` over rows in memory: a
    DataFrame or an iterable of dicts. Each row becomes one JSON Lines record (line =
    row number from 1) and is parsed by the JSON Lines parser. Worker processes get the
    parser only (the rows stay here; their raw items are sent in chunks).

    >>> src = RowSource(rows=[{"time": 0, "orig": "2155550123", "dest": "x"}])
    >>> [(r.line, r.orig, r.dest) for r in src]
    [(1, '12155550123', None)]
    """

    fmt: Any = "jsonl"
    rows: Any = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    @property
    def name(self) -> str | None:
        """``<rows>`` in error messages."""
        return "<rows>"

    @property
    def format(self) -> Any:
        return "jsonl"

    @property
    def is_dir(self) -> bool:
        return False

    @property
    def splittable(self) -> bool:
        return False

    def raw(self) -> Iterator[RawItem]:
        """``(row number, JSON text)`` of each row."""
        if self.rows is None:
            raise UsageError("usage", "this row source holds no rows (a worker's parser)")
        for number, row in enumerate(_rows(self.rows), 1):
            yield (
                number,
                json.dumps({str(k): _plain(v) for k, v in row.items()}, ensure_ascii=False),
            )

    def __reduce__(self) -> tuple[Any, ...]:  # to a worker: the parser, not the rows
        return _parser, (self.mapping, self.tz, self.country_code)


# --- verifier settings ------------------------------------------------------------------
@attrs.frozen
class StoreConfig:
    """A verifier from objects (a TrustStore, a repository) rather than files. Picklable
    when they are; :func:`analyze` checks before starting worker processes."""

    trust: Any
    repository: Any = None
    mirror: str | None = None
    policy: Any = None

    def build(self) -> VerifierLike:
        """Build the verifier."""
        from shakenlib.fetch import HttpRepository, MirrorRepository
        from shakenlib.verify import Verifier

        repository = self.repository
        if repository is None:
            repository = MirrorRepository(self.mirror) if self.mirror else HttpRepository()
        verifier: VerifierLike = Verifier(self.trust, repository, policy=self.policy)
        return verifier


def _config(
    trust: Trust,
    mirror: str | os.PathLike[str] | None,
    repository: CertificateRepository | None,
    policy: Policy | None,
) -> VerifierFactory:
    from shakenlib.pki.trust import TrustStore

    if mirror is not None and not Path(mirror).is_dir():
        raise UsageError("usage", f"mirror {os.fspath(mirror)}: not a directory")
    mirror_dir = os.fspath(mirror) if mirror is not None else None
    if isinstance(trust, TrustStore) or repository is not None:
        store = (
            trust
            if isinstance(trust, TrustStore)
            else TrustStore.from_pem_files(_trust_files(trust))
        )
        return StoreConfig(trust=store, repository=repository, mirror=mirror_dir, policy=policy)
    return VerifierConfig(trust_files=_trust_files(trust), mirror=mirror_dir, policy=policy)


def _trust_files(trust: Trust) -> tuple[str, ...]:
    files = [trust] if isinstance(trust, str | os.PathLike) else list(trust or ())
    if not files:
        raise UsageError(
            "usage",
            "give trust= (the STI-PA trust anchors: a PEM file, a list of them or a TrustStore)",
        )
    for name in files:
        if not isinstance(name, str | os.PathLike):
            raise UsageError(
                "usage", f"trust: expected a PEM path or a TrustStore, not {type(name).__name__}"
            )
        if not Path(name).exists():
            raise FileNotFoundError(2, "No such file or directory", os.fspath(name))
    return tuple(os.fspath(f) for f in files)


def _sources(
    calls: Calls,
    mapping: Mapping[str, str] | str | None,
    tz: str | None,
    country_code: str | None,
    fmt: Any = None,
) -> tuple[list[RecordSource], bool]:
    """The record sources of ``calls`` and whether they can be read again."""
    columns = (
        parse_mapping(mapping) if isinstance(mapping, str) or mapping is None else dict(mapping)
    )
    if isinstance(calls, str | os.PathLike):
        calls = [calls]
    elif _is_frame(calls):
        return [RowSource(mapping=columns, tz=tz, country_code=country_code, rows=calls)], True
    elif isinstance(calls, Mapping):
        calls = [calls]
    if (
        isinstance(calls, Sequence)
        and calls
        and all(isinstance(c, str | os.PathLike) for c in calls)
    ):
        sources: list[RecordSource] = []
        for path in calls:
            if not Path(path).exists():
                raise FileNotFoundError(2, "No such file or directory", os.fspath(path))
            sources.append(
                RecordSource(
                    path=os.fspath(path), fmt=fmt, mapping=columns, tz=tz, country_code=country_code
                )
            )
        return sources, True
    if not isinstance(calls, Iterable):
        raise UsageError(
            "usage",
            "calls: expected a path, several paths, a DataFrame or an "
            f"iterable of dicts, not {type(calls).__name__}",
        )
    again = not isinstance(calls, Iterator)
    return [RowSource(mapping=columns, tz=tz, country_code=country_code, rows=calls)], again


def _check_picklable(config: VerifierFactory, jobs: int) -> None:
    if jobs > 1 and isinstance(config, StoreConfig):
        try:
            pickle.dumps(config)
        except Exception as exc:
            raise UsageError(
                "usage",
                f"jobs={jobs}: the trust store or repository cannot go "
                f"to worker processes ({type(exc).__name__}); give "
                "PEM paths and mirror=, or jobs=1",
            ) from None


# --- progress ---------------------------------------------------------------------------
def estimate_records(sources: Sequence[RecordSource]) -> int | None:
    """About how many records ``sources`` hold, from the file sizes and the length of
    their first lines (JSON Lines and CSV files; ``None`` when it cannot tell).

    >>> estimate_records([RecordSource(path="examples/calls.jsonl")]) in range(1800, 2200)
    True
    """
    total = 0.0
    for source in sources:
        if isinstance(source, RowSource):
            rows = source.rows
            if hasattr(rows, "__len__"):
                total += len(rows)
                continue
            return None
        path = source.path
        if path is None or not os.path.isfile(path) or source.format not in ("jsonl", "csv"):
            return None
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            head = handle.read(65536)
        lines = head.count(b"\n")
        # the average length of the whole lines read (the last one may be cut)
        total += size / ((head.rfind(b"\n") + 1) / lines) if lines else 1
    return round(total)


class ProgressBar:
    """A one-line progress bar on a terminal: records read, calls/s, failures and, when
    the total is known (:func:`estimate_records`), the share done and the time left.
    ``clock`` is :func:`time.monotonic` (tests give their own).

    >>> import io
    >>> ticks = iter([0.0, 2.0, 4.0])
    >>> out = io.StringIO()
    >>> bar = ProgressBar(out, total=1000, clock=lambda: next(ticks), every=0)
    >>> bar(500, 3)
    >>> out.getvalue().strip()
    '500 records  50%  250 calls/s  3 failed  ETA 0:00:02'
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        total: int | None = None,
        clock: Callable[[], float] | None = None,
        every: float = 0.5,
    ) -> None:
        import time

        self.stream, self.total, self.every = stream, total, every
        self.clock = clock or time.monotonic
        self.start = self.clock()
        self.last = -math.inf
        self.shown = False

    def __call__(self, done: int, failures: int) -> None:
        now = self.clock()
        if now - self.last < self.every:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        parts = [f"{done} records"]
        if self.total:
            parts.append(f"{min(done / self.total, 1):4.0%}")
        parts += [f"{rate:,.0f} calls/s", f"{failures} failed"]
        if self.total and rate > 0:
            left = max(self.total - done, 0) / rate
            parts.append(f"ETA {dt.timedelta(seconds=round(left))}")
        self.stream.write("\r" + "  ".join(parts) + " ")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """End the line (when anything was shown)."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


class _Tqdm:
    """tqdm (notebook widget or terminal bar) behind the :data:`Progress` callback."""

    def __init__(self, total: int | None) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, unit=" calls", desc="verifying", leave=True)

    def __call__(self, done: int, failures: int) -> None:
        self.bar.update(done - self.bar.n)
        self.bar.set_postfix(failed=failures, refresh=False)

    def close(self) -> None:
        self.bar.close()


def progress_bar(
    sources: Sequence[RecordSource], progress: bool | Progress, *, stream: TextIO | None = None
) -> Any:
    """The progress callback for ``progress=``: ``False`` none; a callable itself;
    ``True`` tqdm when it is installed (a widget in notebooks), else a
    :class:`ProgressBar` on ``stream`` (stderr) when that is a terminal. The returned
    object (if any) has ``close()`` unless it was given."""
    if progress is False or progress is None:
        return None
    if progress is not True:
        return progress
    total = estimate_records(sources)
    if importlib.util.find_spec("tqdm") is not None:
        return _Tqdm(total)
    stream = stream if stream is not None else sys.stderr
    return ProgressBar(stream, total=total) if stream.isatty() else None


def _close(bar: Any) -> None:
    close = getattr(bar, "close", None)
    if callable(close):
        close()


# --- entry points -----------------------------------------------------------------------
def analyze(
    calls: Calls,
    *,
    trust: Trust,
    mirror: str | os.PathLike[str] | None = None,
    repository: CertificateRepository | None = None,
    providers: str | os.PathLike[str] | ProviderDirectory | None = None,
    mapping: Mapping[str, str] | str | None = None,
    tz: str | None = None,
    jobs: int = 1,
    progress: bool | Progress = True,
    policy: Policy | None = None,
    country_code: str | None = "1",
    client: Any = None,
) -> Analysis:
    """Verify every call and rank the traceback leads: the notebook's one call.

    ``calls``: a path (JSON Lines, CSV, SIP, pcap, Parquet; a file or a directory),
    several paths, a pandas DataFrame or an iterable of dicts. ``trust``: the STI-PA
    trust anchors as a PEM path, a list of them or a
    :class:`~shakenlib.pki.trust.TrustStore`. ``mirror``: a directory mirror of the
    certificate repository (else ``repository``, else HTTPS). ``providers``: a provider
    directory CSV (or a :class:`ProviderDirectory`) for names. ``mapping``/``tz``/
    ``country_code`` as ``--map``/``--tz``/``--country-code``. ``jobs``: worker processes.
    ``progress``: a bar (tqdm when installed), ``False`` for none, or a callback
    ``(records done, failures)``. ``client``: a Dask client: the analysis runs on that
    cluster (needs the cluster engine, :mod:`shakenlib.analysis.cluster`).

    The returned :class:`Analysis` remembers its input (:attr:`Analysis.origin`) so
    that :meth:`Analysis.calls_frame` can read a lead's calls again, unless the input was
    an iterator (readable once). Its frames and report use ``providers``.
    """
    if jobs < 1:
        raise UsageError("usage", "jobs must be at least 1")
    directory = (
        providers
        if isinstance(providers, ProviderDirectory) or providers is None
        else ProviderDirectory.from_csv(providers)
    )
    config = _config(trust, mirror, repository, policy)
    sources, again = _sources(calls, mapping, tz, country_code)
    if client is not None:
        if importlib.util.find_spec("shakenlib.analysis.cluster") is None:
            raise UsageError(
                "usage",
                "cluster engine not installed: client= needs "
                "shakenlib.analysis.cluster (run without client=)",
            )
        cluster = importlib.import_module("shakenlib.analysis.cluster")
        analysis: Analysis = Analysis()
        for source in sources:
            analysis.update(cluster.analyze_on_cluster(source, config, client), take=True)
    else:
        _check_picklable(config, jobs)
        bar = progress_bar(sources, progress)
        analysis = Analysis()
        done = failed = 0

        def step(records: int, failures: int) -> None:
            bar(done + records, failed + failures)

        try:
            for source in sources:
                part = analyze_source(
                    source, config, jobs=jobs, progress=step if bar is not None else None
                )
                done += part.calls + part.unreadable
                failed += part.failed + part.unreadable
                analysis.update(part, take=True)
        finally:
            if bar is not progress:
                _close(bar)
    analysis.origin = Origin(
        sources=tuple(sources) if again else None, config=config, directory=directory, jobs=jobs
    )
    return analysis


#: The columns of :func:`verify_frame`.
RESULT_COLUMNS: tuple[str, ...] = (
    "line",
    "time",
    "orig",
    "dest",
    "call_id",
    "verstat",
    "passed",
    "sip_code",
    "reason",
    "error",
    "message",
    "spc",
    "provider",
    "attest",
    "origid",
    "x5u",
    "iat",
    "iat_offset",
    "identities",
    "findings",
)


def _result_row(item: Any) -> dict[str, Any]:
    if isinstance(item, UnreadableRecord):
        return {
            "line": item.line,
            "verstat": None,
            "passed": False,
            "error": item.code,
            "message": item.reason,
            "identities": 0,
            "findings": "",
        }
    record, result = item
    offset = (result.iat - record.time.timestamp()) if result.iat is not None else None
    return {
        "line": record.line,
        "time": record.time,
        "orig": record.orig,
        "dest": record.dest,
        "call_id": record.call_id,
        "verstat": result.verstat,
        "passed": result.passed,
        "sip_code": result.sip_code,
        "reason": result.reason,
        "error": result.error,
        "message": result.message,
        "spc": result.spc,
        "provider": result.provider,
        "attest": result.attest,
        "origid": result.origid,
        "x5u": result.x5u,
        "iat": result.iat,
        "iat_offset": offset,
        "identities": len(result.identities),
        "findings": ";".join(f.code for f in result.findings),
    }


def verify_frame(
    calls: Calls,
    *,
    trust: Trust,
    mirror: str | os.PathLike[str] | None = None,
    repository: CertificateRepository | None = None,
    mapping: Mapping[str, str] | str | None = None,
    tz: str | None = None,
    jobs: int = 1,
    progress: bool | Progress = False,
    policy: Policy | None = None,
    country_code: str | None = "1",
) -> pd.DataFrame:
    """Verify every row (a DataFrame, dicts or paths, as :func:`analyze` takes) and return
    one row of results per call, in input order (for a DataFrame, with its index):
    :data:`RESULT_COLUMNS` (``iat_offset``: the PASSporT's ``iat`` minus the call's time,
    in seconds; ``identities``: Identity headers; ``findings``: their codes, ``;``-joined).
    An unreadable row has ``error`` ``record_malformed`` and the reason in ``message``.

    >>> import pandas as pd
    >>> calls = pd.read_json("examples/calls.jsonl", lines=True, nrows=3, dtype=False)
    >>> out = verify_frame(calls, trust="examples/trust.pem", mirror="examples/mirror")
    >>> out[["verstat", "spc", "attest"]].iloc[0].tolist()
    ['TN-Validation-Passed', '561C', 'B']
    """
    pandas()
    if jobs < 1:
        raise UsageError("usage", "jobs must be at least 1")
    config = _config(trust, mirror, repository, policy)
    sources, _ = _sources(calls, mapping, tz, country_code)
    _check_picklable(config, jobs)
    bar = progress_bar(sources, progress)
    rows: list[dict[str, Any]] = []
    try:
        for source in sources:
            base = len(rows)

            def step(records: int, failures: int, base: int = base) -> None:
                bar(base + records, failures)

            for item in verify_source(
                source, config, jobs=jobs, progress=step if bar is not None else None
            ):
                rows.append(_result_row(item))
    finally:
        if bar is not progress:
            _close(bar)
    frame = typed(rows, RESULT_COLUMNS)
    for name in ("line", "identities"):
        frame[name] = frame[name].astype("int64")
    for name in ("sip_code", "iat"):
        frame[name] = frame[name].astype("Int64")
    frame["passed"] = frame["passed"].astype(bool)
    if _is_frame(calls) and len(calls.index) == len(frame):
        frame.index = calls.index
    return frame
