"""Parquet in and out (the ``parquet`` extra: ``pip install "shakenlib[parquet]"``).

Reading: a Parquet file is read one row group at a time (bounded memory: a batch of
:data:`BATCH_ROWS` rows at a time), each row mapped to a call record with the same column
mapping as CSV (:func:`shakenlib.analysis.records.parse_mapping`); nested (struct) columns
are reached with dotted names. A table with a ``payload`` column and no ``identity``
column, as the Homer/HEPop capture server writes (``timestamp``, ``rcinfo``, ``payload``),
is read as SIP: each payload is a whole SIP message and its time the ``timestamp`` column.

A batch is read column by column (each column one list of Python values), not row by
row. With a plain mapping (one column per field, no dotted names, no ``pai``/``from``/
verdict/``sip`` columns) a row is a :data:`ParquetRow`: its values followed by the
file's :class:`Layout`, which says once for all rows which value is which field; other
rows are dicts of column name and value. A UTC timestamp time column is read as its integers'
UTC times, not through time-zone objects.

Writing: :func:`write_results` writes ``verify-batch`` results with the schema
:data:`RESULT_SCHEMA` documents (one row per record, unreadable records included).
"""

from __future__ import annotations

import datetime as dt
import json
import operator
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import repeat
from typing import Any

import attrs

from shakenlib.analysis.records import RawItem, _plan, missing_extra
from shakenlib.errors import UsageError

__all__ = [
    "RESULT_COLUMNS",
    "Layout",
    "ParquetRow",
    "ResultWriter",
    "read_rows",
    "sip_columns",
    "write_results",
]

#: Rows per batch read from a row group (a row group is read piece by piece).
BATCH_ROWS = 4096

#: The columns of :func:`write_results`, with their Arrow types and meaning.
RESULT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("line", "int64", "line, row or packet number of the record in its source"),
    ("source", "string", "the file the record came from"),
    ("time", "timestamp[us, UTC]", "the call time (verification time), null if unreadable"),
    ("call_id", "string", "the record's Call-ID"),
    ("orig", "string", "calling number of the record (canonical TN)"),
    ("dest", "string", "called number of the record (canonical TN)"),
    ("verstat", "string", "TN-Validation-Passed / -Failed / No-TN-Validation; null if unreadable"),
    ("passed", "bool", "whether verstat is TN-Validation-Passed"),
    ("error", "string", "stable error code (record_malformed for an unreadable record)"),
    ("sip_code", "int32", "SIP status a verification service would send"),
    ("reason", "string", "the record_malformed reason, or the SIP reason phrase"),
    ("attest", "string", "attestation level of the SHAKEN PASSporT"),
    ("origid", "string", "origid of the SHAKEN PASSporT"),
    ("spc", "string", "SPC (OCN) of the signing certificate"),
    ("provider", "string", "signing provider (certificate subject O)"),
    ("x5u", "string", "certificate URL"),
    ("iat", "int64", "PASSporT iat (Unix seconds)"),
    ("findings", "list<string>", "codes of the result's findings (e.g. tn_national)"),
    ("result", "string", "the whole verify --json object of the record, as JSON text"),
)


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise missing_extra("parquet", "pyarrow", "reading or writing Parquet") from None
    return pyarrow, pyarrow.parquet


def sip_columns(names: Iterable[str], mapping: Mapping[str, str]) -> bool:
    """Whether a table of these columns is read as SIP messages (a capture server's
    ``payload`` column and no Identity column), when the mapping names no ``sip`` column.

    >>> sip_columns(["timestamp", "rcinfo", "payload"], {})
    True
    >>> sip_columns(["time", "identity", "payload"], {})
    False
    """
    names = set(names)
    return (
        "sip" not in mapping
        and "payload" in names
        and (mapping.get("identity", "identity").split("+")[0].split(".")[0] not in names)
    )


@attrs.frozen
class Layout:
    """Where a plain mapping's fields are in the rows of one Parquet file, and the other
    columns (kept as :attr:`CallRecord.extra
    <shakenlib.analysis.records.CallRecord.extra>`)."""

    #: The time column's name (for the error of a row without a time).
    time_column: str
    #: Index of the time column.
    time: int
    #: Indices of the values of time, orig, dest, identity and call_id. A field whose
    #: column the file lacks reads a null added after the columns (see :attr:`padded`).
    indices: tuple[int, int, int, int, int]
    #: Whether each row's values end with that null.
    padded: bool
    #: (index, name) of every column no field reads, in file order.
    extra: tuple[tuple[int, str], ...]
    #: The values of (time, orig, dest, identity, call_id) of a row's values.
    fields: Callable[[tuple[Any, ...]], tuple[Any, Any, Any, Any, Any]] = attrs.field(
        init=False, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "fields", operator.itemgetter(*self.indices))


#: One row of a Parquet file read with a plain mapping: its values in column order (and a
#: null if the layout is :attr:`~Layout.padded`), then the file's :class:`Layout`. A plain
#: tuple, built for a whole batch at once.
ParquetRow = tuple[Any, ...]


def _layout(names: list[str], mapping: Mapping[str, str]) -> Layout | None:
    """The layout of a plain mapping over these columns, or ``None`` when rows are read
    as dicts (dotted names, several Identity columns, pai/from/verdict/sip columns).

    >>> layout = _layout(["note", "time", "orig", "identity"], {})
    >>> layout.indices, layout.padded, layout.extra  # no dest, no call_id column: index 4
    ((1, 2, 4, 3, 4), True, ((0, 'note'),))
    >>> layout.fields(("n", 0, "12155550100", "a.b.c", None, layout))[:3]
    (0, '12155550100', None)
    >>> _layout(["time", "payload"], {"time": "time", "pai": "PAI"}) is None
    True
    """
    plan = _plan(tuple(mapping.items()))
    if not plan.plain or len(set(names)) != len(names):
        return None
    index = {name: i for i, name in enumerate(names)}
    columns = (plan.time, plan.orig, plan.dest, plan.identity[0], plan.call_id)
    null = len(names)  # the index of the null after the columns
    time, orig, dest, identity, call_id = (index.get(column, null) for column in columns)
    return Layout(
        time_column=plan.time,
        time=time,
        indices=(time, orig, dest, identity, call_id),
        padded=not all(column in index for column in columns),
        extra=tuple((i, name) for i, name in enumerate(names) if name not in plan.used),
    )


# Time zones of a timestamp column whose values are read as UTC times from their integers
# (Parquet and Arrow store a zoned timestamp as UTC), and microseconds per unit (the units
# datetime holds exactly).
_UTC_ZONES = frozenset({"UTC", "+00:00", "Z", "Etc/UTC"})
_MICROSECONDS = {"s": 1_000_000, "ms": 1000, "us": 1}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _utc_times(pa: Any, column: Any) -> list[dt.datetime] | None:
    """The values of a UTC timestamp column without nulls as UTC datetimes (tzinfo
    ``datetime.UTC``): the times the records get from them, computed from the integers
    Arrow holds, without making a zoned datetime for each. ``None`` for any other column
    and for one whose times a datetime cannot hold (read as any column, which says so)."""
    kind = column.type
    if not (
        pa.types.is_timestamp(kind)
        and kind.tz in _UTC_ZONES
        and kind.unit in _MICROSECONDS
        and not column.null_count
    ):
        return None
    import pyarrow.compute as pc

    try:
        try:  # whole seconds (the usual call time): a safe cast to seconds keeps them all
            seconds = column.cast(pa.timestamp("s", tz=kind.tz)).cast(pa.int64())
            return list(map(dt.datetime.fromtimestamp, seconds.to_pylist(), repeat(dt.UTC)))
        except pa.ArrowInvalid:  # a fraction of a second somewhere: from microseconds
            micro = pc.multiply_checked(column.cast(pa.int64()), _MICROSECONDS[kind.unit])
            offsets = map(dt.timedelta, repeat(0), repeat(0), micro.to_pylist())
            return list(map(_EPOCH.__add__, offsets))  # exact: integers of microseconds
    except (OverflowError, OSError, ValueError, pa.ArrowException):
        return None


def _batch_rows(pa: Any, batch: Any, layout: Layout | None) -> list[Any]:
    """The rows of a record batch: :data:`ParquetRow` with a layout, else dicts. Each
    column is turned into Python values in one step."""
    columns = batch.columns
    if layout is None:
        names = batch.schema.names
        values = [column.to_pylist() for column in columns]
        return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    times = _utc_times(pa, columns[layout.time])
    values = [
        times if i == layout.time and times is not None else column.to_pylist()
        for i, column in enumerate(columns)
    ]
    if layout.padded:
        values.append([None] * batch.num_rows)
    return list(zip(*values, repeat(layout)))  # the rows' values, then the layout


def read_rows(path: str | os.PathLike[str], mapping: Mapping[str, str]) -> Iterator[RawItem]:
    """``(row number, row)`` items of a Parquet file, one row group at a time: a row is a
    :data:`ParquetRow` (a plain mapping) or a dict of column name and value.

    Raises :class:`~shakenlib.errors.UsageError` naming the file when it is not Parquet
    or lacks a mapped column (or the time column).
    """
    _, pq = _pyarrow()
    name = os.fspath(path)
    try:
        handle = pq.ParquetFile(name)
    except OSError:
        raise
    except Exception as exc:  # pyarrow.ArrowInvalid and kin: not a Parquet file
        raise UsageError("usage", f"{name}: not a Parquet file ({exc})"[:300]) from None
    names = list(handle.schema_arrow.names)
    as_sip = sip_columns(names, mapping)
    wanted = dict(mapping)
    if as_sip:
        wanted.setdefault("sip", "payload")
        wanted.setdefault("time", "timestamp")
    wanted.setdefault("time", "time")
    missing = sorted(
        {
            column.split(".")[0]
            for field, column in wanted.items()
            for column in (column.split("+") if field == "identity" else [column])
            if column not in names and column.split(".")[0] not in names
        }
    )
    if missing:
        raise UsageError(
            "usage",
            f"{name}: no column {', '.join(map(repr, missing))} in "
            f"this Parquet file (columns: {', '.join(names)[:200]})",
        )
    yield from group_rows(handle, range(handle.num_row_groups), file_layout(handle, mapping))


def file_layout(handle: Any, mapping: Mapping[str, str]) -> Layout | None:
    """The :class:`Layout` of an open Parquet file's rows under ``mapping`` (``None``:
    rows are dicts, e.g. a capture server's table of whole SIP messages)."""
    names = list(handle.schema_arrow.names)
    return None if sip_columns(names, mapping) else _layout(names, mapping)


def group_rows(
    handle: Any, groups: Iterable[int], layout: Layout | None, row: int = 0
) -> Iterator[RawItem]:
    """``(row number, row)`` items of some row groups of an open Parquet file, numbered
    on from ``row`` (the rows before them): what :func:`read_rows` yields for those
    groups. A corrupt page ends them with an unreadable item; what was read is kept."""
    pa, _ = _pyarrow()
    try:
        for group in groups:
            for batch in handle.iter_batches(batch_size=BATCH_ROWS, row_groups=[group]):
                rows = _batch_rows(pa, batch, layout)
                yield from enumerate(rows, row + 1)
                row += len(rows)
    except OSError:
        raise
    except Exception as exc:  # a corrupt page: keep what was read
        from shakenlib.analysis.records import _Unreadable

        yield row + 1, _Unreadable(f"Parquet data unreadable after row {row}: {exc}"[:200])


class ResultWriter:
    """Writes verify-batch rows (dicts of :data:`RESULT_COLUMNS`) to a Parquet file in
    batches; :meth:`close` finishes the file."""

    def __init__(self, path: str | os.PathLike[str], batch_rows: int = BATCH_ROWS) -> None:
        pa, pq = _pyarrow()
        self._pa = pa
        types = {
            "int64": pa.int64(),
            "int32": pa.int32(),
            "string": pa.string(),
            "bool": pa.bool_(),
            "timestamp[us, UTC]": pa.timestamp("us", tz="UTC"),
            "list<string>": pa.list_(pa.string()),
        }
        self.schema = pa.schema([(name, types[kind]) for name, kind, _ in RESULT_COLUMNS])
        self._writer = pq.ParquetWriter(os.fspath(path), self.schema)
        self._rows: list[dict[str, Any]] = []
        self._batch = batch_rows

    def write(self, row: Mapping[str, Any]) -> None:
        """Add one row (missing columns are null)."""
        self._rows.append(dict(row))
        if len(self._rows) >= self._batch:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            table = self._pa.Table.from_pylist(self._rows, schema=self.schema)
            self._writer.write_table(table)
            self._rows = []

    def close(self) -> None:
        """Write what is left and the file footer."""
        self._flush()
        self._writer.close()


def result_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A verify-batch JSON row (as written to JSON Lines) as a :data:`RESULT_COLUMNS` row."""
    time = row.get("time")
    return {
        "line": row.get("line"),
        "source": row.get("source"),
        "time": dt.datetime.fromisoformat(time) if isinstance(time, str) else None,
        "call_id": row.get("call_id"),
        "orig": row.get("record_orig"),
        "dest": row.get("record_dest"),
        "verstat": row.get("verstat"),
        "passed": row.get("passed"),
        "error": row.get("error"),
        "sip_code": row.get("sip_code"),
        "reason": row.get("reason"),
        "attest": row.get("attest"),
        "origid": row.get("origid"),
        "spc": row.get("spc"),
        "provider": row.get("provider"),
        "x5u": row.get("x5u"),
        "iat": row.get("iat"),
        "findings": [f["code"] for f in row.get("findings") or ()],
        "result": json.dumps(row, separators=(",", ":")),
    }


def write_results(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """Write verify-batch JSON rows to a Parquet file; returns the number of rows."""
    writer = ResultWriter(path)
    count = 0
    try:
        for row in rows:
            writer.write(result_row(row))
            count += 1
    finally:
        writer.close()
    return count
