"""Parquet rows are read column by column (a row's values and its file's Layout, UTC times from
their integers): the records and errors are those of the row-by-row reading it replaced,
each row a dict of pyarrow's own values (kept here as a reference)."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from shakenlib.analysis.records import RawItem, RecordSource, _Unreadable

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def reference_rows(path: Path) -> list[RawItem]:
    """read_rows as it was: pyarrow's to_pylist, row group by row group, one dict a row."""
    handle = pq.ParquetFile(path)
    items: list[RawItem] = []
    row = 0
    try:
        for group in range(handle.num_row_groups):
            for batch in handle.iter_batches(batch_size=4096, row_groups=[group]):
                for values in batch.to_pylist():
                    row += 1
                    items.append((row, values))
    except Exception as exc:
        items.append(
            (row + 1, _Unreadable(f"Parquet data unreadable after row {row}: {exc}"[:200]))
        )
    return items


def outcomes(source: RecordSource, items: list[RawItem]) -> list[Any]:
    return [(line, source.parse((line, raw))) for line, raw in items]


def read_alike(path: Path, **options: Any) -> list[Any]:
    source = RecordSource(path=str(path), fmt="parquet", **options)
    got = outcomes(source, list(source.raw()))
    want = outcomes(source, reference_rows(path))
    assert got == want
    # the same instants and the same representation (tzinfo datetime.UTC)
    assert [repr(r) for _, r in got] == [repr(r) for _, r in want]
    return got


_UNITS = st.sampled_from(["s", "ms", "us"])
_ZONES = st.sampled_from([None, "UTC", "+00:00", "America/New_York", "Etc/UTC", "+05:30"])
_NUMBERS = st.one_of(
    st.none(),
    st.sampled_from(["12155551212", "2155551212", "+1 215 555 1212", "tel:+12155551212", ""]),
    st.text(max_size=12),
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[Any, int]:
    rows = draw(st.integers(1, 40))
    columns: dict[str, Any] = {}
    unit, zone = draw(_UNITS), draw(_ZONES)
    kind = draw(st.sampled_from(["timestamp", "timestamp", "text", "int", "null"]))
    if kind == "timestamp":
        # a day's seconds, or anywhere a datetime can (or cannot) hold
        low, high = draw(st.sampled_from([(1748736000, 1748822400), (-62135596800, 253402300799)]))
        scale = {"s": 1, "ms": 1000, "us": 1_000_000}[unit]
        times = draw(
            st.sampled_from(
                [
                    st.integers(low * scale, high * scale),  # fractions of seconds
                    st.integers(low, high).map(lambda v: v * scale),  # whole seconds
                ]
            )
        )
        values = draw(
            st.lists(
                st.one_of(times, st.none()) if draw(st.booleans()) else times,
                min_size=rows,
                max_size=rows,
            )
        )
        columns["time"] = pa.array(values, pa.timestamp(unit, tz=zone))
    elif kind == "text":
        columns["time"] = pa.array(
            draw(
                st.lists(
                    st.sampled_from(["2025-06-01T12:00:00Z", "2025-06-01 08:00:00", "x", ""]),
                    min_size=rows,
                    max_size=rows,
                )
            )
        )
    elif kind == "int":
        columns["time"] = pa.array(
            draw(st.lists(st.integers(0, 2_000_000_000), min_size=rows, max_size=rows))
        )
    else:
        columns["time"] = pa.array([None] * rows, pa.null())
    for name in draw(st.sets(st.sampled_from(["orig", "dest", "call_id"]))):
        columns[name] = pa.array(draw(st.lists(_NUMBERS, min_size=rows, max_size=rows)))
    if draw(st.booleans()):
        columns["identity"] = pa.array(
            draw(
                st.lists(
                    st.sampled_from(["a.b.c", "", " Identity: x.y.z ", '["h1", "h2"]', None]),
                    min_size=rows,
                    max_size=rows,
                )
            )
        )
    if draw(st.booleans()):  # columns no field reads: kept with the record
        columns["trunk"] = pa.array([f"T{i}" for i in range(rows)])
        columns["seen"] = pa.array(
            [1748736000 + i for i in range(rows)], pa.timestamp("s", tz="UTC")
        )
        columns["nested"] = pa.array([{"a": i} for i in range(rows)])
    order = draw(st.permutations(list(columns)))
    return pa.table({name: columns[name] for name in order}), draw(st.sampled_from([7, 500]))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tables(), st.sampled_from([None, "America/New_York"]), st.sampled_from(["1", "44", None]))
def test_columns_read_as_the_rows_did(
    tmp_path: Path, table: tuple[Any, int], tz: str | None, country_code: str | None
) -> None:
    data, group = table
    path = tmp_path / "t.parquet"
    pq.write_table(data, path, row_group_size=group)
    read_alike(path, tz=tz, country_code=country_code)


def test_a_plain_file_is_read_by_its_layout(tmp_path: Path) -> None:
    path = tmp_path / "calls.parquet"
    when = dt.datetime(2025, 6, 1, 12, 0, 0, 250000, tzinfo=dt.UTC)
    pq.write_table(
        pa.table(
            {
                "time": pa.array([when], pa.timestamp("us", tz="UTC")),
                "orig": ["12155551212"],
                "identity": ["a.b.c"],
                "trunk": ["T7"],
            }
        ),
        path,
    )
    source = RecordSource(path=str(path))
    ((_, raw),) = list(source.raw())
    assert type(raw) is tuple
    assert type(raw[-1]).__name__ == "Layout"
    assert pickle.loads(pickle.dumps(raw)) == raw  # workers get raw items
    (record,) = read_alike(path)
    assert record[1].time == when
    assert record[1].time.tzinfo is dt.UTC
    assert (record[1].dest, record[1].extra) == (None, (("trunk", "T7"),))


def test_out_of_range_times_say_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "far.parquet"
    far = 253402300800 * 1000  # year 10000
    pq.write_table(pa.table({"time": pa.array([0, far], pa.timestamp("ms", tz="UTC"))}), path)
    (item,) = read_alike(path)
    assert "Parquet data unreadable after row 0" in item[1].reason
