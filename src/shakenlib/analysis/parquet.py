"""Parquet in and out (the ``parquet`` extra: ``pip install "shakenlib[parquet]"``).

Reading: a Parquet file is read one row group at a time (bounded memory), each row
mapped to a call record with the same column mapping as CSV
(:func:`shakenlib.analysis.records.parse_mapping`); nested (struct) columns are reached with
dotted names. A table with a ``payload`` column and no ``identity`` column, as the
Homer/HEPop capture server writes (``timestamp``, ``rcinfo``, ``payload``), is read as
SIP: each payload is a whole SIP message and its time the ``timestamp`` column.

Writing: :func:`write_results` writes ``verify-batch`` results with the schema
:data:`RESULT_SCHEMA` documents (one row per record, unreadable records included).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from shakenlib.analysis.records import RawItem, missing_extra
from shakenlib.errors import UsageError

__all__ = ["RESULT_COLUMNS", "ResultWriter", "read_rows", "sip_columns", "write_results"]

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


def read_rows(path: str | os.PathLike[str], mapping: Mapping[str, str]) -> Iterator[RawItem]:
    """``(row number, row dict)`` items of a Parquet file, one row group at a time.

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
    row = 0
    try:
        for group in range(handle.num_row_groups):
            for batch in handle.iter_batches(batch_size=BATCH_ROWS, row_groups=[group]):
                for values in batch.to_pylist():
                    row += 1
                    yield row, values
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
