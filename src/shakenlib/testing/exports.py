"""Call records written as other systems export them, for tests and the example day.

* :func:`write_parquet`: the records as a Parquet table (``time`` a UTC timestamp
  column, the other fields as in JSON Lines), several row groups;
* :func:`write_homer_parquet`: as a Homer/HEPop capture server stores SIP: ``timestamp``
  (milliseconds), ``rcinfo`` (JSON text with the addresses) and ``payload`` (the whole
  INVITE);
* :func:`write_cdr_csv`: a vendor-style CDR export: column names with spaces, local
  times without an offset, national 10-digit numbers (``011`` before a number outside
  NANP), the Identity header in its own column.

The ``pyarrow`` writers need the ``parquet`` extra.
"""

from __future__ import annotations

import csv
import json
import os
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

from shakenlib.testing.captures import invite
from shakenlib.timeutil import parse_time

__all__ = [
    "CDR_COLUMNS",
    "CDR_MAPPING",
    "national",
    "write_cdr_csv",
    "write_homer_parquet",
    "write_parquet",
]

#: The columns of :func:`write_cdr_csv`.
CDR_COLUMNS = (
    "Start Time",
    "Calling Number",
    "Called Number",
    "Identity Header",
    "Call ID",
    "Trunk Group",
)
#: The ``--map`` that reads :func:`write_cdr_csv`.
CDR_MAPPING = (
    "time=Start Time,orig=Calling Number,dest=Called Number,"
    "identity=Identity Header,call_id=Call ID"
)


def national(tn: str | None) -> str:
    """How a NANP switch writes a number: 10 digits at home, ``011`` + E.164 abroad.

    >>> national("12155551212"), national("442079460000"), national(None)
    ('2155551212', '011442079460000', '')
    """
    if not tn:
        return ""
    if tn.startswith("1") and len(tn) == 11:
        return tn[1:]
    return "011" + tn


def write_cdr_csv(
    path: str | os.PathLike[str],
    records: Iterable[Mapping[str, Any]],
    *,
    tz: str = "America/New_York",
) -> int:
    """Write ``records`` as a vendor-style CDR CSV in local time ``tz``; returns rows."""
    zone = zoneinfo.ZoneInfo(tz)
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CDR_COLUMNS)
        for record in records:
            local = parse_time(record["time"]).astimezone(zone)
            identity = record.get("identity") or ""
            if not isinstance(identity, str):
                identity = json.dumps(list(identity))
            writer.writerow(
                [
                    local.strftime("%Y-%m-%d %H:%M:%S"),
                    national(record.get("orig")),
                    national(record.get("dest")),
                    identity,
                    record.get("call_id") or "",
                    "TG-7",
                ]
            )
            count += 1
    return count


def write_parquet(
    path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]], *, row_group_size: int = 500
) -> int:
    """Write ``records`` as a Parquet table (several row groups); returns rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        {
            "time": parse_time(r["time"]),
            "orig": r.get("orig"),
            "dest": r.get("dest"),
            "identity": r.get("identity") or "",
            "call_id": r.get("call_id"),
        }
        for r in records
    ]
    schema = pa.schema(
        [
            ("time", pa.timestamp("s", tz="UTC")),
            ("orig", pa.string()),
            ("dest", pa.string()),
            ("identity", pa.string()),
            ("call_id", pa.string()),
        ]
    )
    pq.write_table(
        pa.Table.from_pylist(rows, schema=schema), os.fspath(path), row_group_size=row_group_size
    )
    return len(rows)


def write_homer_parquet(
    path: str | os.PathLike[str],
    records: Iterable[Mapping[str, Any]],
) -> int:
    """Write ``records`` as a capture server's SIP table; returns rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        {
            "timestamp": parse_time(r["time"]),
            "rcinfo": json.dumps(
                {
                    "srcIp": "192.0.2.10",
                    "srcPort": 5060,
                    "dstIp": "198.51.100.7",
                    "dstPort": 5060,
                    "captureId": 2001,
                }
            ),
            "payload": invite(r).decode(),
        }
        for r in records
    ]
    schema = pa.schema(
        [
            ("timestamp", pa.timestamp("ms", tz="UTC")),
            ("rcinfo", pa.string()),
            ("payload", pa.string()),
        ]
    )
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), os.fspath(path), row_group_size=500)
    return len(rows)
