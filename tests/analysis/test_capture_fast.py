"""The fast paths of the capture reader read exactly what the general paths read: each
is checked here against the general path (or the reading it replaced, kept here)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings, strategies as st

from shakenlib.analysis import capture
from shakenlib.analysis.capture import SipStream


def _reference_header_end(buf: bytes | bytearray, start: int = 0) -> int:
    """capture._header_end as it was: a find for CR LF CR LF, then one for LF LF."""
    limit = capture.MAX_MESSAGE
    crlf = buf.find(b"\r\n\r\n", start, limit)
    lf = buf.find(b"\n\n", start, crlf + 2 if crlf >= 0 else limit)
    if lf >= 0 and (crlf < 0 or lf < crlf + 2):
        return lf + 2
    return crlf + 4 if crlf >= 0 else -1


_LINE_ENDS = st.lists(st.sampled_from([b"\r", b"\n", b"x", b"\r\n", b" "]), max_size=40).map(
    b"".join
)


@settings(max_examples=1000, deadline=None)
@given(buf=_LINE_ENDS, start=st.integers(0, 45), limit=st.sampled_from([4, 9, 20, 1 << 16]))
@example(buf=b"\r\n\r\n", start=1, limit=1 << 16)
@example(buf=b"x\n\r\n\n", start=0, limit=1 << 16)
@example(buf=b"xx\r\n\r\n", start=0, limit=5)
def test_header_end_reads_as_two_finds(buf: bytes, start: int, limit: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(capture, "MAX_MESSAGE", limit)
        assert capture._header_end(bytearray(buf), start) == _reference_header_end(buf, start)


class _General(SipStream):
    """A stream that takes every segment by the general path."""

    def add(
        self, seq: int, data: bytes, time: float, packet: int
    ) -> list[tuple[float, int, bytes]]:
        return self._add(seq, data, time, packet)


class _AsBefore(_General):
    """A stream that reads as SipStream did before it kept what it had read: the head of
    a waiting message is read again with each segment, every mark is kept, and the mark
    of a message is found by a scan."""

    def _messages(self) -> list[tuple[float, int, bytes]]:
        self.need = 0
        return super()._messages()

    def _append(self, data: bytes, time: float, packet: int) -> None:
        assert self.next_seq is not None
        self.marks.append((self.offset + len(self.buf), time, packet))
        self.buf += data
        self.next_seq = (self.next_seq + len(data)) & 0xFFFFFFFF

    def _mark(self) -> tuple[int, float, int]:
        for mark in reversed(self.marks):
            if mark[0] <= self.offset:
                return mark
        return self.marks[0]


def _seen(stream: SipStream) -> tuple[Any, ...]:
    """What a stream has read (not how)."""
    return (
        bytes(stream.buf),
        stream.next_seq,
        dict(stream.early),
        stream.offset,
        stream.synced,
        stream.lost,
        stream.found,
        stream.ignored,
        stream.pending,
    )


def _state(stream: SipStream) -> tuple[Any, ...]:
    return (
        bytes(stream.buf),
        stream.next_seq,
        dict(stream.early),
        list(stream.marks),
        stream.offset,
        stream.synced,
        stream.lost,
        stream.found,
        stream.scanned,
        stream.need,
        stream.ignored,
        stream.pending,
    )


def _message(n: int, body: int, compact: bool) -> bytes:
    length = b"l" if compact else b"Content-Length"
    return (
        b"INVITE sip:+1215555%04d@h SIP/2.0\r\nCall-ID: %d\r\n%s: %d\r\n\r\n" % (n, n, length, body)
    ) + b"v" * body


@st.composite
def _segments(draw: st.DrawFn) -> list[tuple[int, bytes]]:
    """A stream of SIP messages (with keep-alives, bare LF line ends, garbage and
    oversized lengths between them) cut into segments, some sent again, some held back,
    some left out, some given a wrong sequence number."""
    parts = []
    for n in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["sip", "sip", "sip", "lf", "crlf", "junk", "huge"]))
        if kind == "sip":
            parts.append(_message(n, draw(st.integers(0, 200)), draw(st.booleans())))
        elif kind == "lf":
            parts.append(_message(n, draw(st.integers(0, 9)), False).replace(b"\r\n", b"\n"))
        elif kind == "crlf":
            parts.append(b"\r\n" * draw(st.integers(1, 3)))
        elif kind == "junk":
            parts.append(draw(st.binary(max_size=60)))
        else:
            parts.append(b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 99999\r\n\r\n")
    data = b"".join(parts)
    cuts = sorted({c for c in draw(st.lists(st.integers(1, 2000), max_size=12)) if c < len(data)})
    start = draw(st.integers(0, 2**32 - 1))
    segments = [(start + a, data[a:b]) for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    for _ in range(draw(st.integers(0, 4))):
        if not segments:
            break
        i = draw(st.integers(0, len(segments) - 1))
        action = draw(st.sampled_from(["again", "swap", "drop", "shift", "overlap"]))
        if action == "overlap":  # sent again with the end of the segment before it
            a = (segments[i][0] - start) & 0xFFFFFFFF
            if 0 < a <= len(data):
                back = draw(st.integers(1, a))
                segments[i] = (start + a - back, data[a - back : a + len(segments[i][1])])
        if action == "again":
            segments.insert(min(len(segments), i + draw(st.integers(0, 3))), segments[i])
        elif action == "swap" and i + 1 < len(segments):
            segments[i], segments[i + 1] = segments[i + 1], segments[i]
        elif action == "drop":
            del segments[i]
        elif action == "shift":
            seq, part = segments[i]
            segments[i] = (seq + draw(st.integers(-20, 20)), part)
    return [(seq & 0xFFFFFFFF, part) for seq, part in segments]


@settings(max_examples=500, deadline=None)
@given(segments=_segments(), syn=st.booleans(), early=st.sampled_from([64, 2]))
def test_in_order_segments_read_as_the_general_path(
    segments: list[tuple[int, bytes]], syn: bool, early: int
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(capture, "MAX_OUT_OF_ORDER", early)
        fast, general, before = SipStream(), _General(), _AsBefore()
        if syn and segments:
            for stream in (fast, general, before):
                stream.syn(segments[0][0] - 1)
        for packet, (seq, part) in enumerate(segments, 1):
            got = fast.add(seq, part, float(packet), packet)
            assert got == general.add(seq, part, float(packet), packet)
            assert got == before.add(seq, part, float(packet), packet)
            assert _state(fast) == _state(general)
            assert _seen(fast) == _seen(before)


@st.composite
def _ethernet_ipv4(draw: st.DrawFn) -> bytes:
    """Frames about the usual untagged Ethernet + IPv4 + UDP/TCP frame: right and wrong
    EtherType, version/IHL, fragment fields, lengths, data offsets, cuts."""
    kind = draw(st.sampled_from([b"\x08\x00", b"\x08\x00", b"\x81\x00", b"\x86\xdd"]))
    version_ihl = draw(st.sampled_from([0x45, 0x45, 0x46, 0x55, 0x44]))
    fragment = draw(st.sampled_from([0, 0, 0x4000, 0x2000, 0x0001, 0x8000]))
    proto = draw(st.sampled_from([17, 6, 6, 1]))
    payload = draw(st.binary(max_size=40))
    options = b"\x01" * 4 * max(0, (version_ihl & 15) - 5)
    if proto == 6:
        offset = draw(st.sampled_from([5, 5, 4, 6, 15]))
        transport = (
            b"\x13\xc4\x13\xc4"
            + draw(st.binary(min_size=8, max_size=8))
            + bytes([offset << 4, draw(st.integers(0, 255))])
            + b"\xff\xff\0\0\0\0"
            + b"\0" * 4 * max(0, offset - 5)
        )
    else:
        transport = b"\x13\xc4\x13\xc4\0\0\0\0"
    body = options + transport + payload
    total = draw(
        st.sampled_from([20 + len(body), 20 + len(body), 0, 10, 20 + len(body) // 2, 9000])
    )
    ip = (
        bytes([version_ihl, 0])
        + total.to_bytes(2, "big")
        + b"\0\0"
        + fragment.to_bytes(2, "big")
        + bytes([64, proto])
        + b"\0\0\xc0\x00\x02\x0a\xc6\x33\x64\x07"
    )
    frame = b"\x04" * 6 + b"\x02" * 6 + kind + ip + body + draw(st.sampled_from([b"", b"\0" * 6]))
    cut = draw(st.sampled_from([None, None, draw(st.integers(0, len(frame)))]))
    return frame if cut is None else frame[:cut]


_SHORT_TCP = (  # a TCP frame cut inside its header, its IPv4 total length far beyond
    b"\x04" * 6
    + b"\x02" * 6
    + b"\x08\x00\x45\x00\x23\x28\0\0\0\0\x40\x06\0\0\xc0\x00\x02\x0a\xc6\x33\x64\x07"
    + b"\x13\xc4\x13\xc4"
    + b"\0" * 8
    + b"\x50\x18\xff\xff"
)


@settings(max_examples=1500, deadline=None)
@given(_ethernet_ipv4())
@example(_SHORT_TCP)
def test_one_unpack_reads_the_usual_frame_as_the_struct_path(frame: bytes) -> None:
    assert capture._fast_segment(1, frame) == capture._struct_segment(1, frame)


def _reference_calls(frames: list[tuple[float, bytes]], linktype: int) -> list[Any]:
    """capture._calls as it was before it kept the stream of the last TCP segment at
    hand: every segment looks its stream up (and moves it to the most recent end)."""
    import collections

    streams: collections.OrderedDict[Any, SipStream] = collections.OrderedDict()
    seen: collections.OrderedDict[tuple[bytes, bytes], None] = collections.OrderedDict()
    out: list[Any] = []
    number = 0
    for ts, frame in frames:
        number += 1
        decoded = capture._fast_segment(linktype, frame)
        assert decoded is not None
        proto, src_ip, dst_ip, sport, dport, payload, seq, flags = decoded
        assert proto == 6
        flow = (src_ip, sport, dst_ip, dport)
        stream = streams.get(flow)
        if stream is None:
            stream = streams[flow] = SipStream()
            if len(streams) > capture.MAX_STREAMS:
                old_flow, old = streams.popitem(last=False)
                if old.pending:
                    out.append((number, capture._incomplete(old_flow)))
        else:
            streams.move_to_end(flow)
        if flags & capture._SYN:
            stream.syn(seq)
        if payload:
            for when, first, message in stream.add(seq, payload, ts, number):
                if capture._first_sighting(seen, message):
                    out.append((first, when, message, capture._endpoint(src_ip, sport)))
        if flags & capture._FIN_RST and not stream.early:
            if stream.pending:
                out.append((number, capture._incomplete(flow)))
            del streams[flow]
    for flow, stream in streams.items():
        if stream.pending:
            out.append((number, capture._incomplete(flow)))
    return out


def _tcp_frame(port: int, seq: int, flags: int, data: bytes) -> bytes:
    """A raw-IP (link type 101) IPv4 TCP frame from 192.0.2.10:port to 198.51.100.7:5060."""
    tcp = (
        port.to_bytes(2, "big")
        + b"\x13\xc4"
        + (seq & 0xFFFFFFFF).to_bytes(4, "big")
        + b"\0\0\0\0"
        + bytes([0x50, flags])
        + b"\xff\xff\0\0\0\0"
    )
    total = 20 + len(tcp) + len(data)
    ip = b"\x45\0" + total.to_bytes(2, "big") + b"\0\0\0\0\x40\x06\0\0"
    return ip + b"\xc0\x00\x02\x0a\xc6\x33\x64\x07" + tcp + data


@st.composite
def _flows(draw: st.DrawFn) -> list[tuple[float, bytes]]:
    """Segments of a few TCP connections, interleaved in runs, some ended by FIN or RST
    (maybe with a message unfinished), some started again on the same ports."""
    queues: list[list[bytes]] = []
    for port in range(draw(st.integers(1, 4))):
        seq = draw(st.integers(0, 2**32 - 1))
        frames = [_tcp_frame(4000 + port, seq, 0x02, b"")] if draw(st.booleans()) else []
        seq += 1 if frames else 0
        data = b"".join(
            _message(100 * port + n, draw(st.integers(0, 30)), False)
            for n in range(draw(st.integers(1, 3)))
        )
        if draw(st.booleans()):
            data = data[: draw(st.integers(1, len(data)))]  # the connection ends mid-message
        cuts = sorted({c for c in draw(st.lists(st.integers(1, 400), max_size=5)) if c < len(data)})
        for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
            frames.append(_tcp_frame(4000 + port, seq + a, 0x18, data[a:b]))
        end = draw(st.sampled_from([None, 0x01, 0x04]))
        if end is not None:
            frames.append(_tcp_frame(4000 + port, seq + len(data), end | 0x10, b""))
        if draw(st.booleans()):  # the same ports again: a new connection
            frames.append(_tcp_frame(4000 + port, 7, 0x18, _message(100 * port + 9, 0, True)))
        queues.append(frames)
    out: list[tuple[float, bytes]] = []
    while any(queues):
        queue = draw(st.sampled_from([q for q in queues if q]))
        for _ in range(draw(st.integers(1, 3))):  # a run of segments of one connection
            if queue:
                out.append((float(len(out)), queue.pop(0)))
    return out


@settings(max_examples=400, deadline=None)
@given(frames=_flows(), streams=st.sampled_from([1, 2, 3, 1 << 14]))
def test_tcp_segments_find_their_stream_as_by_lookup(
    frames: list[tuple[float, bytes]], streams: int
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(capture, "MAX_STREAMS", streams)
        got = [
            (line, raw.time, raw.data, raw.src)
            if isinstance(raw, capture.Captured)
            else (line, raw.reason)
            for line, raw in capture._calls(None, iter(frames), 101)
        ]
        assert got == _reference_calls(frames, 101)


@given(time=st.floats(allow_nan=False), data=st.binary(max_size=20), src=st.text(), dst=st.text())
def test_a_captured_message_built_in_one_step_is_the_constructed_one(
    time: float, data: bytes, src: str, dst: str
) -> None:
    import pickle

    built = capture._captured(time, data, src, dst)
    made = capture.Captured(time, data, src, dst)
    assert built == made
    assert hash(built) == hash(made)
    assert repr(built) == repr(made)
    assert pickle.loads(pickle.dumps(built)) == made
