"""A libpcap file with microsecond times has its packet records read with struct, in
blocks (_classic_frames): the frames, times and cuts are those of dpkt's reading
(_dpkt_frames), wherever the file ends and whatever its record headers say."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from shakenlib.analysis import capture
from shakenlib.testing.captures import write_capture

dpkt = pytest.importorskip("dpkt")

ROOT = Path(__file__).resolve().parents[2]


def big_endian(data: bytes) -> bytes:
    """The same libpcap file written big-endian (as a big-endian machine writes it)."""
    out = bytearray(b"\xa1\xb2\xc3\xd4")
    out += struct.pack(">HHiIII", *struct.unpack_from("<HHiIII", data, 4))
    at = 24
    while at + 16 <= len(data):
        seconds, micro, length, original = struct.unpack_from("<IIII", data, at)
        out += struct.pack(">IIII", seconds, micro, length, original)
        out += data[at + 16 : at + 16 + length]
        at += 16 + length
    return bytes(out + data[at:])


def frames_both_ways(path: Path, chunk: int) -> tuple[list[Any], list[Any]]:
    with open(path, "rb") as raw:
        order = capture._CLASSIC[raw.read(4)]
        raw.seek(24)
        saved = capture.CHUNK
        capture.CHUNK = chunk
        try:
            fast = list(capture._classic_frames(raw, order))
        finally:
            capture.CHUNK = saved
    with open(path, "rb") as raw:
        handle = capture._Guard(raw)
        reader = dpkt.pcap.UniversalReader(handle)
        slow = list(capture._dpkt_frames(dpkt, reader, handle))
    return fast, slow


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    with open(ROOT / "examples" / "calls.jsonl", encoding="utf-8") as handle:
        records = [json.loads(next(handle)) for _ in range(3)]
    path = tmp_path_factory.mktemp("frames") / "small.pcap"
    write_capture(path, records, noise=True)
    return path.read_bytes()


@pytest.mark.parametrize("endian", ["little", "big"])
def test_every_cut_reads_as_dpkt_reads_it(small: bytes, tmp_path: Path, endian: str) -> None:
    data = small if endian == "little" else big_endian(small)
    path = tmp_path / "cut.pcap"
    for end in range(24, len(data) + 1):
        path.write_bytes(data[:end])
        for chunk in (7, 1 << 20):  # records across block ends, and within one block
            fast, slow = frames_both_ways(path, chunk)
            assert fast == slow, end


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**32 - 1),
            st.integers(0, 2**32 - 1),
            st.integers(0, 40),
            st.integers(-3, 3),  # the record says this many bytes more or fewer
        ),
        max_size=6,
    ),
    st.binary(max_size=20),
    st.sampled_from([5, 64, 1 << 20]),
)
def test_odd_record_headers_read_as_dpkt_reads_them(
    records: list[tuple[int, int, int, int]], tail: bytes, chunk: int
) -> None:
    data = io.BytesIO()
    data.write(b"\xd4\xc3\xb2\xa1" + struct.pack("<HHiIII", 2, 4, 0, 0, 65535, 1))
    for seconds, micro, length, off in records:
        data.write(struct.pack("<IIII", seconds, micro, max(0, length + off), length))
        data.write(bytes(range(length)))
    data.write(tail)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "odd.pcap"
        path.write_bytes(data.getvalue())
        fast, slow = frames_both_ways(path, chunk)
    assert fast == slow


def test_the_example_capture_reads_as_dpkt_reads_it() -> None:
    fast, slow = frames_both_ways(ROOT / "examples" / "calls.pcap", 1 << 20)
    assert fast == slow
    assert len(fast) == 2000
