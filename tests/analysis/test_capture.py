"""Packet captures: the analysis of a capture equals the JSON Lines analysis of its calls."""

from __future__ import annotations

import datetime as dt
import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings, strategies as st

from shakenlib.analysis import capture
from shakenlib.analysis.batch import VerifierConfig, analyze_source
from shakenlib.analysis.capture import SipStream
from shakenlib.analysis.records import CallRecord, RecordSource, UnreadableRecord, sniff_format
from shakenlib.cli import main
from shakenlib.errors import UsageError
from shakenlib.testing.captures import invite, write_capture
from shakenlib.testing.traffic import generate

pytest.importorskip("dpkt")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("capture-day")
    generate(out, calls=150, seed=5)
    with open(out / "calls.jsonl", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    return out, records


def analysis(out: Path, path: Path, **kwargs: Any) -> dict[str, Any]:
    config = VerifierConfig(trust_files=(str(out / "trust.pem"),), mirror=str(out / "mirror"))
    result = analyze_source(RecordSource(path=str(path), **kwargs), config, jobs=1).to_dict()
    for lead in result["leads"]:  # a packet number is not a line number
        for sample in [*lead["samples"], *lead["traceback"]["calls"]]:
            sample.pop("line")
    for item in result["unreadable_records"]:
        item.pop("source")
    return result


@pytest.fixture(scope="module")
def expected(day: tuple[Path, list[dict[str, Any]]]) -> dict[str, Any]:
    out, _ = day
    return analysis(out, out / "calls.jsonl")


VARIANTS = [
    {},
    {"transport": "tcp"},
    {"transport": "tcp", "split": True},
    {
        "transport": "tcp",
        "split": True,
        "coalesce": True,
        "retransmit": 0.2,
        "reorder": True,
        "noise": True,
    },
    {"transport": "tcp", "coalesce": True},
    {"ipv6": True, "link": "sll"},
    {"link": "vlan", "fragment": True, "retransmit": 0.3, "noise": True},
    {"link": "sll2", "pcapng": True, "transport": "tcp", "coalesce": True, "split": True},
    {"link": "raw", "nano": True, "fragment": True},
    {"ipv6": True, "fragment": True},
    {"ipv6": True, "fragment": True, "link": "sll2", "retransmit": 0.3, "noise": True},
    {
        "link": "raw",
        "ipv6": True,
        "transport": "tcp",
        "split": True,
        "pcapng": True,
        "reorder": True,
    },
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(f"{k}" for k in v) or "udp")
def test_capture_analysis_equals_json_lines(
    day: tuple[Path, list[dict[str, Any]]],
    expected: dict[str, Any],
    tmp_path: Path,
    variant: dict[str, Any],
) -> None:
    out, records = day
    path = tmp_path / ("calls.pcapng" if variant.get("pcapng") else "calls.pcap")
    write_capture(path, records, **variant)
    assert analysis(out, path) == expected


def test_capture_records_keep_addresses_times_and_packet_numbers(
    day: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    _, records = day
    path = tmp_path / "c.pcap"
    write_capture(path, records[:20], ipv6=True, noise=True)
    items = list(RecordSource(path=str(path)))
    assert all(isinstance(i, CallRecord) for i in items)
    calls = [i for i in items if isinstance(i, CallRecord)]
    assert [c.call_id for c in calls] == [r["call_id"] for r in records[:20]]
    first = calls[0]
    assert first.src == "[2001:db8::10]:5060"
    assert first.dst == "[2001:db8::7]:5060"
    assert first.time.isoformat().replace("+00:00", "Z") == records[0]["time"]
    # noise: 100 Trying, 200 OK, re-INVITE and a DNS datagram follow each INVITE
    assert [c.line for c in calls[:3]] == [1, 6, 11]
    assert first.source == str(path)


def test_the_shipped_capture_is_the_example_day() -> None:
    items = list(RecordSource(path=str(ROOT / "examples" / "calls.pcap")))
    lines = (ROOT / "examples" / "calls.jsonl").read_text().splitlines()
    assert len(items) == len(lines)
    assert all(isinstance(i, CallRecord) for i in items)
    assert [i.call_id for i in items] == [json.loads(x)["call_id"] for x in lines]  # type: ignore[union-attr]


@pytest.mark.parametrize("pcapng", [False, True])
def test_truncated_capture_keeps_the_calls_before_the_cut(
    day: tuple[Path, list[dict[str, Any]]], tmp_path: Path, pcapng: bool
) -> None:
    _, records = day
    path = tmp_path / "cut.pcap"
    write_capture(path, records[:30], pcapng=pcapng)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    items = list(RecordSource(path=str(path)))
    calls = [i for i in items if isinstance(i, CallRecord)]
    errors = [i for i in items if isinstance(i, UnreadableRecord)]
    assert 15 <= len(calls) < 30
    assert [c.call_id for c in calls] == [r["call_id"] for r in records[: len(calls)]]
    assert len(errors) == 1
    assert "cut short" in errors[0].reason
    assert errors[0].source == str(path)
    assert items[-1] is errors[0]


def test_truncated_capture_in_analyze_counts_unreadable(
    day: tuple[Path, list[dict[str, Any]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, records = day
    path = tmp_path / "cut.pcap"
    write_capture(path, records[:10])
    path.write_bytes(path.read_bytes()[:-7])
    assert (
        main(
            [
                "analyze",
                str(path),
                "--trust",
                str(out / "trust.pem"),
                "--mirror",
                str(out / "mirror"),
                "--json",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert (data["calls"], data["unreadable"]) == (9, 1)


def _tcp_capture(path: Path, payloads: list[bytes], *, fin: bool) -> None:
    import dpkt

    seq = 1000
    with open(path, "wb") as handle:
        writer = dpkt.pcap.Writer(handle, linktype=101)
        for n, data in enumerate(payloads):
            seg = dpkt.tcp.TCP(sport=40000, dport=5060, seq=seq, flags=dpkt.tcp.TH_ACK, data=data)
            seq += len(data)
            ip = dpkt.ip.IP(src=bytes([192, 0, 2, 1]), dst=bytes([192, 0, 2, 2]), p=6, data=seg)
            ip.len = 20 + len(bytes(seg))
            writer.writepkt(bytes(ip), ts=1748779200 + n)
        if fin:
            seg = dpkt.tcp.TCP(
                sport=40000, dport=5060, seq=seq, flags=dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK
            )
            ip = dpkt.ip.IP(src=bytes([192, 0, 2, 1]), dst=bytes([192, 0, 2, 2]), p=6, data=seg)
            ip.len = 20 + len(bytes(seg))
            writer.writepkt(bytes(ip), ts=1748779300)


@pytest.mark.parametrize("fin", [False, True])
def test_incomplete_tcp_message_at_the_end_is_unreadable(
    day: tuple[Path, list[dict[str, Any]]], tmp_path: Path, fin: bool
) -> None:
    _, records = day
    path = tmp_path / "tcp.pcap"
    whole, cut = invite(records[0]), invite(records[1])
    _tcp_capture(path, [whole + cut[:100], cut[100:-10]], fin=fin)
    items = list(RecordSource(path=str(path)))
    assert [type(i).__name__ for i in items] == ["CallRecord", "UnreadableRecord"]
    assert isinstance(items[0], CallRecord)
    assert items[0].src == "192.0.2.1:40000"
    assert "incomplete at the end of TCP stream 192.0.2.1:40000 -> 192.0.2.2:5060" in (
        items[1].reason
    )  # type: ignore[union-attr]


def test_not_a_capture_is_a_usage_error_naming_the_file(
    day: tuple[Path, list[dict[str, Any]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = day
    path = tmp_path / "calls.pcap"
    path.write_text('{"time": 0}\n')
    with pytest.raises(UsageError, match="not a pcap or pcapng capture"):
        list(RecordSource(path=str(path)))
    assert main(["analyze", str(path), "--trust", str(out / "trust.pem"), "--jobs", "1"]) == 2
    assert str(path) in capsys.readouterr().err
    jsonl = tmp_path / "calls.jsonl"
    jsonl.write_text('{"time": 0}\n')
    assert (
        main(
            [
                "analyze",
                str(jsonl),
                "--format",
                "pcap",
                "--trust",
                str(out / "trust.pem"),
                "--jobs",
                "1",
            ]
        )
        == 2
    )
    assert "not a pcap" in capsys.readouterr().err


def test_capture_recognised_by_magic_whatever_its_name(
    day: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    _, records = day
    for name, ng in (("capture.jsonl", False), ("capture", True), ("x.txt", False)):
        path = tmp_path / name
        write_capture(path, records[:3], pcapng=ng)
        assert sniff_format(path) == "pcap"
        assert len([i for i in RecordSource(path=str(path)) if isinstance(i, CallRecord)]) == 3


def test_unsupported_link_type_is_a_usage_error(tmp_path: Path) -> None:
    import dpkt

    path = tmp_path / "wifi.pcap"
    with open(path, "wb") as handle:
        dpkt.pcap.Writer(handle, linktype=105).writepkt(b"\0" * 40, ts=0)
    with pytest.raises(UsageError, match="link type 105"):
        list(RecordSource(path=str(path)))


def test_directory_of_captures(day: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    _, records = day
    write_capture(tmp_path / "a.pcap", records[:5])
    write_capture(tmp_path / "b.pcapng", records[5:9], pcapng=True, transport="tcp")
    items = list(RecordSource(path=str(tmp_path)))
    assert [i.call_id for i in items] == [r["call_id"] for r in records[:9]]  # type: ignore[union-attr]
    assert {i.source for i in items} == {str(tmp_path / "a.pcap"), str(tmp_path / "b.pcapng")}


def test_missing_dpkt_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, day: tuple[Path, list[dict[str, Any]]]
) -> None:
    _, records = day
    path = tmp_path / "a.pcap"
    write_capture(path, records[:1])
    monkeypatch.setitem(sys.modules, "dpkt", None)
    with pytest.raises(UsageError, match=r'pip install "shakenlib\[pcap\]"'):
        list(RecordSource(path=str(path)))


# --- the TCP stream: any cut, any retransmission, the same messages --------------------------
def _message(n: int, body: int) -> bytes:
    payload = b"x" * body
    return (
        f"INVITE sip:+1215555{n:04d}@h SIP/2.0\r\nCall-ID: {n}\r\nCSeq: 1 INVITE\r\n"
        f"Content-Length: {body}\r\n\r\n"
    ).encode() + payload


@given(
    bodies=st.lists(st.integers(0, 300), min_size=1, max_size=8),
    cuts=st.lists(st.integers(1, 4000), max_size=20),
    repeats=st.lists(st.integers(0, 40), max_size=6),
    keepalive=st.booleans(),
    start=st.integers(0, 2**32 - 1),
)
@settings(max_examples=200, deadline=None)
def test_sip_stream_reassembles_any_segmentation(
    bodies: list[int], cuts: list[int], repeats: list[int], keepalive: bool, start: int
) -> None:
    messages = [_message(n, body) for n, body in enumerate(bodies)]
    data = (b"\r\n\r\n" if keepalive else b"").join(messages)
    points = sorted({c for c in cuts if c < len(data)})
    segments = [
        (start + a, data[a:b]) for a, b in zip([0, *points], [*points, len(data)], strict=True)
    ]
    sent = list(segments)
    for r in repeats:  # retransmissions of earlier segments, anywhere later
        if segments:
            i = r % len(segments)
            sent.insert(min(len(sent), i + 1 + r % 3), segments[i])
    stream = SipStream()
    got = []
    for packet, (seq, part) in enumerate(sent, 1):
        got += [m for _, _, m in stream.add(seq & 0xFFFFFFFF, part, float(packet), packet)]
    assert got == messages
    assert not stream.pending


def test_sip_stream_resynchronises_after_garbage() -> None:
    stream = SipStream()
    message = _message(1, 5)
    out = stream.add(0, b"\x16\x03\x01garbage\r\n" + message, 1.0, 7)
    assert [(t, p, m) for t, p, m in out] == [(1.0, 7, message)]
    assert stream.lost > 0


@given(
    frames=st.lists(st.binary(max_size=120), max_size=12),
    linktype=st.sampled_from([1, 113, 276, 101, 0]),
    cut=st.integers(0, 64),
)
@settings(max_examples=300, deadline=None)
def test_garbage_frames_never_crash_the_reader(
    tmp_path_factory: pytest.TempPathFactory, frames: list[bytes], linktype: int, cut: int
) -> None:
    import dpkt

    path = tmp_path_factory.mktemp("fuzz") / "g.pcap"
    with open(path, "wb") as handle:
        writer = dpkt.pcap.Writer(handle, linktype=linktype)
        for n, frame in enumerate(frames):
            writer.writepkt(frame, ts=n)
    data = path.read_bytes()
    path.write_bytes(data[: max(24, len(data) - cut)])
    for item in RecordSource(path=str(path)):  # no exception, whatever the bytes
        assert isinstance(item, CallRecord | UnreadableRecord)


@given(
    packets=st.lists(
        st.tuples(
            st.sampled_from([0, 44, 60, 43, 17]), st.integers(0, 300), st.binary(max_size=200)
        ),
        max_size=8,
    ),
)
@settings(max_examples=300, deadline=None)
def test_hostile_ipv6_fragments_never_crash_the_reader(
    tmp_path_factory: pytest.TempPathFactory, packets: list[tuple[int, int, bytes]]
) -> None:
    """IPv6 packets (raw IP) whose options and Fragment headers hold anything, cut short
    or not: read without an exception, as calls or nothing."""
    import dpkt

    path = tmp_path_factory.mktemp("fuzz6") / "g.pcap"
    with open(path, "wb") as handle:
        writer = dpkt.pcap.Writer(handle, linktype=101)
        for n, (nxt, plen, rest) in enumerate(packets):
            header = struct.pack("!IHBB16s16s", 0x60000000, plen, nxt, 64, b"\1" * 16, b"\2" * 16)
            writer.writepkt(header + rest, ts=n)
    for item in RecordSource(path=str(path)):
        assert isinstance(item, CallRecord | UnreadableRecord)


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
def test_an_invite_whose_fragments_never_all_arrive_is_unreadable(
    day: tuple[Path, list[dict[str, Any]]], tmp_path: Path, ipv6: bool
) -> None:
    """A capture that lost one fragment of a fragmented INVITE: the other calls are read,
    and the lost INVITE is an unreadable record saying so, not a call gone unsaid."""
    import dpkt

    from shakenlib.analysis.capture import _ipv6_fragment

    _, records = day
    signed = [r for r in records if r["identity"]][:20]
    path = tmp_path / "calls.pcap"
    write_capture(path, signed, ipv6=ipv6, fragment=True)
    with open(path, "rb") as handle:
        frames = list(dpkt.pcap.Reader(handle))

    def later_fragment(frame: bytes) -> bool:
        if ipv6:
            fragment = _ipv6_fragment(frame[14:])
            return fragment is not None and fragment[1] > 0
        return bool(dpkt.ethernet.Ethernet(frame).data.offset)

    dropped = next(i for i, (_, frame) in enumerate(frames) if later_fragment(frame))
    with open(path, "wb") as handle:
        writer = dpkt.pcap.Writer(handle)
        for i, (ts, frame) in enumerate(frames):
            if i != dropped:
                writer.writepkt(frame, ts=ts)
    items = list(RecordSource(path=str(path)))
    calls = [item for item in items if isinstance(item, CallRecord)]
    lost = [item for item in items if isinstance(item, UnreadableRecord)]
    assert len(calls) == len(signed) - 1
    assert len(lost) == 1
    assert "INVITE over UDP" in lost[0].reason
    assert "fragments never all arrived" in lost[0].reason
    assert lost[0].line <= dropped + 1  # the packet its datagram was first seen at


def test_sip_over_tls_is_said_to_be_unreadable(
    day: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """A capture of SIP over TLS (the SIPS port, 5061) has nothing to read: each TLS
    connection is one unreadable record saying why, not a silent "0 calls"; the plain
    calls beside it are read as usual."""
    import dpkt

    _, records = day
    signed = [r for r in records if r["identity"]][:5]
    path = tmp_path / "calls.pcap"
    write_capture(path, signed)
    with open(path, "rb") as handle:
        frames = list(dpkt.pcap.Reader(handle))
    client, server = b"\x0a\0\0\x01", b"\x0a\0\0\x02"

    def segment(src: bytes, dst: bytes, sport: int, dport: int, seq: int, data: bytes) -> bytes:
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, flags=0x18, data=data)
        ip = dpkt.ip.IP(src=src, dst=dst, p=6, ttl=64, data=tcp)
        ip.len = 20 + len(bytes(tcp))
        return bytes(dpkt.ethernet.Ethernet(src=b"\2" * 6, dst=b"\4" * 6, type=0x0800, data=ip))

    hello = b"\x16\x03\x01\x00\x40\x01" + bytes(63)  # a ClientHello's record, roughly
    answer = b"\x16\x03\x03\x00\x30\x02" + bytes(47)  # the ServerHello
    secret = b"\x17\x03\x03\x00\x20" + b"INVITE sip:x SIP/2.0\r\n" + bytes(10)
    tls = [
        segment(client, server, 40000, 5061, 1, hello),
        segment(server, client, 5061, 40000, 1, answer),
        segment(client, server, 40000, 5061, 1 + len(hello), secret),
        segment(client, server, 40001, 5061, 1, hello),  # a second connection
    ]
    with open(path, "wb") as handle:
        writer = dpkt.pcap.Writer(handle)
        for i, frame in enumerate(tls):
            writer.writepkt(frame, ts=frames[0][0] + i)
        for ts, frame in frames:
            writer.writepkt(frame, ts=ts)
    items = list(RecordSource(path=str(path)))
    calls = [item for item in items if isinstance(item, CallRecord)]
    unreadable = [item for item in items if isinstance(item, UnreadableRecord)]
    assert len(calls) == len(signed)
    assert [item.line for item in unreadable] == [1, 4]  # once per connection
    assert "10.0.0.1:40000 <-> 10.0.0.2:5061 (SIP over TLS): encrypted" in unreadable[0].reason


def test_fragmented_datagrams_given_up_past_the_bound_are_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past MAX_FRAGMENTED pending datagrams the oldest is given up: an INVITE among them
    is reported (first seen at its packet), other datagrams are not."""
    from shakenlib.analysis import capture

    monkeypatch.setattr(capture, "MAX_FRAGMENTED", 2)
    pending = capture._Fragments()
    invite = struct.pack("!HHHH", 5060, 5060, 0, 0) + b"INVITE sip:+1@x SIP/2.0\r\n"
    other = struct.pack("!HHHH", 53, 53, 0, 0) + b"\0" * 20
    for number, datagram in enumerate([invite, other, invite, invite], start=1):
        pending.number = number
        key = (b"\1" * 4, b"\2" * 4, number, 17)
        assert pending.add(key, 0, True, datagram, 17) is None
    assert [since for since, _ in pending.lost] == [1]  # the first; the second was not SIP
    assert [since for since, _ in pending.unfinished()] == [3, 4]
    assert not pending.pending
    assert not pending.since


def test_an_ipv6_fragment_cut_by_the_snapshot_length_is_not_reassembled() -> None:
    from shakenlib.analysis.capture import _ipv6_fragment, _ipv6_upper
    from shakenlib.testing.captures import _ipv6_fragment as make

    packet = make(b"\1" * 16, b"\2" * 16, 17, 7, 0, b"x" * 100, True)
    ident, offset, more, nxt, data = _ipv6_fragment(packet) or (b"", -1, False, -1, b"")
    assert (ident, offset, more, nxt) == ((7).to_bytes(4, "big"), 0, True, 60)
    assert _ipv6_upper(nxt, data) == (17, b"x" * 100)  # behind the Destination Options
    later = make(b"\1" * 16, b"\2" * 16, 17, 7, 104, b"y" * 16, False)
    assert _ipv6_fragment(later) == ((7).to_bytes(4, "big"), 112, False, 60, b"y" * 16)
    with pytest.raises(ValueError, match="cut short"):
        _ipv6_fragment(packet[:-1])
    unfragmented = struct.pack("!IHBB16s16s", 0x60000000, 8, 17, 64, b"\1" * 16, b"\2" * 16)
    assert _ipv6_fragment(unfragmented + bytes(8)) is None


@given(
    tail=st.binary(min_size=1, max_size=400),
    header=st.sampled_from(
        [
            b"INVITE sip:+12155550100@h SIP/2.0\r\nCall-ID: 1\r\nContent-Length: ",
            b"INVITE sip:x SIP/2.0\r\n",
            b"SIP/2.0 200 OK\r\nl: 5\r\n\r\n",
        ]
    ),
)
@settings(max_examples=300, deadline=None)
def test_sip_stream_never_raises_on_hostile_bytes(tail: bytes, header: bytes) -> None:
    stream = SipStream()
    for part in (header + tail, tail, header):
        for _, _, message in stream.add(stream.next_seq or 7, part, 0.0, 1):
            assert message[:1] in (b"I", b"S")


def test_a_stream_without_sip_is_given_up_and_streams_are_bounded(
    day: tuple[Path, list[dict[str, Any]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = SipStream()
    for n in range(40):  # 80 KiB of TLS-looking bytes: not followed further
        stream.add(n * 2048, b"\x17\x03\x03" + b"z" * 2045, 0.0, n)
    assert stream.ignored
    assert stream.add(40 * 2048, _message(1, 0), 0.0, 41) == []
    assert len(stream.buf) <= 32
    # more concurrent TCP streams than followed: the oldest is given up, and its
    # unfinished message counted as unreadable
    import shakenlib.analysis.capture as capture

    monkeypatch.setattr(capture, "MAX_STREAMS", 1)
    _, records = day
    path = tmp_path / "two.pcap"
    import dpkt

    first, second = invite(records[0]), invite(records[1])
    with open(path, "wb") as handle:
        writer = dpkt.pcap.Writer(handle, linktype=101)
        for n, (port, data) in enumerate([(1, first[:200]), (2, second), (1, first[200:])]):
            seg = dpkt.tcp.TCP(
                sport=port,
                dport=5060,
                seq=1000 + (200 if n == 2 else 0),
                flags=dpkt.tcp.TH_ACK,
                data=data,
            )
            ip = dpkt.ip.IP(src=bytes([192, 0, 2, 1]), dst=bytes([192, 0, 2, 2]), p=6, data=seg)
            ip.len = 20 + len(bytes(seg))
            writer.writepkt(bytes(ip), ts=1748779200 + n)
    kinds = [type(i).__name__ for i in RecordSource(path=str(path))]
    assert kinds == ["UnreadableRecord", "CallRecord"]


def test_directory_of_mixed_formats_through_worker_processes(
    day: tuple[Path, list[dict[str, Any]]], expected: dict[str, Any], tmp_path: Path
) -> None:
    # the day cut in three: a UDP capture, a TCP pcapng and JSON Lines, in one directory;
    # the worker processes parse what the reader split
    out, records = day
    write_capture(tmp_path / "1.pcap", records[:50])
    write_capture(tmp_path / "2.pcapng", records[50:100], pcapng=True, transport="tcp", split=True)
    (tmp_path / "3.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[100:]))
    config = VerifierConfig(trust_files=(str(out / "trust.pem"),), mirror=str(out / "mirror"))
    parallel = analyze_source(RecordSource(path=str(tmp_path)), config, jobs=2, chunk_size=16)
    assert parallel.calls == len(records)
    assert (parallel.passed, parallel.failed, parallel.unsigned) == (
        expected["passed"],
        expected["failed"],
        expected["unsigned"],
    )
    assert {(lead.spc, lead.origid, lead.calls) for lead in parallel.leads()} == {
        (lead["spc"], lead["origid"], lead["calls"]) for lead in expected["leads"]
    }


# --- the fast paths read exactly what the general ones read ---------------------------


def _reference_initial_invite(message: bytes) -> tuple[bytes, bytes] | None:
    """The line-by-line reading of To/Call-ID/CSeq that capture._initial_invite replaces."""
    import re

    if not message.startswith(b"INVITE "):
        return None
    end = message.find(b"\r\n\r\n")
    if end < 0:
        end = message.find(b"\n\n")
    call_id = cseq = b""
    for line in message[: end if end >= 0 else len(message)].split(b"\n")[1:]:
        colon = line.find(b":")
        if colon <= 0:
            continue
        name = line[:colon].strip().lower()
        if name == b"to" or name == b"t":
            if re.compile(rb";[ \t]*tag[ \t]*=", re.I).search(line, colon):
                return None
        elif (name == b"call-id" or name == b"i") and not call_id:
            call_id = line[colon + 1 :].strip()
        elif name == b"cseq" and not cseq:
            cseq = (line[colon + 1 :].split() or [b""])[0]
    return call_id, cseq


_NAMES = st.sampled_from(
    [
        b"To",
        b"to",
        b"TO",
        b"t",
        b"T",
        b" To ",
        b"to\t",
        b"\x0ct",
        b"Call-ID",
        b"call-id",
        b"i",
        b"I",
        b" i",
        b"CSeq",
        b"cseq ",
        b"CSEQ",
        b"From",
        b"f",
        b"Tox",
        b"xto",
        b"Call-IDs",
        b"",
        b"C Seq",
    ]
)
_VALUES = st.sampled_from(
    [
        b"<sip:b@h>",
        b"<sip:b@h>;tag=1",
        b"<sip:b@h> ; TAG = 2",
        b"x@y",
        b"  x@y  ",
        b"",
        b" ",
        b"7 INVITE",
        b"  8  INVITE",
        b"tag=3",
        b";tag=",
        b"a:b",
        b"\xff\xfe",
    ]
)
_BREAKS = st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\n\r\n", b"\n\n"])


@st.composite
def _sip_heads(draw: st.DrawFn) -> bytes:
    out = draw(
        st.sampled_from(
            [
                b"INVITE sip:a@b SIP/2.0",
                b"INVITE sip:a@b SIP/2.0",
                b"INVITE  x",
                b"ACK sip:a@b SIP/2.0",
                b"invite sip:a@b SIP/2.0",
                b"",
            ]
        )
    )
    for _ in range(draw(st.integers(0, 8))):
        out += draw(_BREAKS)
        if draw(st.booleans()):
            out += draw(_NAMES) + draw(st.sampled_from([b":", b" :", b"", b"::"])) + draw(_VALUES)
        else:
            out += draw(st.binary(max_size=12))
    return out + draw(st.sampled_from([b"", b"\r\n\r\nbody: t;tag=1", b"\n"]))


@settings(max_examples=600, deadline=None)
@given(_sip_heads())
@example(
    b"INVITE sip:a@b SIP/2.0\r\nCSeq:\r\nCSeq: 7 INVITE\r\ncseq: 8 INVITE\r\ni:\r\n"
    b"Call-ID: x\r\ni: y\r\nTo: <sip:b>\r\n\r\nTo: <sip:b>;tag=1"
)
@example(b"INVITE sip:a@b SIP/2.0\nCall-ID: x\nt : <sip:b> ;TAG= 2\n\n")
def test_initial_invite_reads_as_the_line_by_line_reading(message: bytes) -> None:
    from shakenlib.analysis.capture import _initial_invite

    assert _initial_invite(message) == _reference_initial_invite(message)


def _vlan_headers(kinds: list[int], tags: list[bytes]) -> bytes:
    out = struct.pack("!H", kinds[0])
    for kind, tci in zip(kinds[1:], tags, strict=False):
        out += tci + struct.pack("!H", kind)
    return out


@st.composite
def _frames(draw: st.DrawFn) -> tuple[int, bytes]:
    """Frames near the ones the fast path reads: right and wrong header fields, short
    frames, trailing bytes."""
    linktype = draw(st.sampled_from([1, 1, 101, 228, 113]))
    if linktype == 1:
        kinds = draw(
            st.lists(
                st.sampled_from(
                    [0x8100, 0x88A8, 0x9100, 0x9200, 0x0800, 0x0800, 0x86DD, 0x0806, 0x05DC]
                ),
                min_size=1,
                max_size=4,
            )
        )
        if draw(st.booleans()):
            kinds.append(0x0800)
        tags = [draw(st.binary(min_size=2, max_size=2)) for _ in kinds]
        link = b"\x04" * 6 + b"\x02" * 6 + _vlan_headers(kinds, tags)
    else:
        link = b"\x02" * 16 if linktype == 113 else b""
    proto = draw(st.sampled_from([6, 17, 17, 1, 41]))
    payload = draw(st.sampled_from([b"", b"INVITE sip:a@b SIP/2.0\r\n\r\n", b"x" * 40]))
    if proto == 6:
        offset = draw(st.sampled_from([5, 5, 6, 0, 4, 15]))
        transport = struct.pack(
            "!HHIIHHHH",
            5060,
            draw(st.integers(0, 65535)),
            draw(st.integers(0, 2**32 - 1)),
            0,
            (offset << 12) | draw(st.integers(0, 0xFFF)),
            65535,
            0,
            0,
        )
        transport += b"\x01" * max(0, offset * 4 - 20) + payload
    else:
        transport = (
            struct.pack("!HHHH", draw(st.integers(0, 65535)), 5060, draw(st.integers(0, 65535)), 0)
            + payload
        )
    ihl = draw(st.sampled_from([5, 5, 6, 4, 0, 15]))
    version = draw(st.sampled_from([4, 4, 6, 0]))
    options = b"\x01" * max(0, ihl * 4 - 20)
    exact = ihl * 4 + len(transport)
    total = draw(
        st.sampled_from([exact, exact, 0, exact - 3, exact + 9, 10, draw(st.integers(0, 65535))])
    )
    fragment = draw(st.sampled_from([0, 0, 0x4000, 0x2000, 0x0001, 0x8000, 0x2010]))
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        (version << 4) | ihl,
        0,
        max(0, total) & 0xFFFF,
        7,
        fragment,
        64,
        proto,
        0,
        b"\xc0\x00\x02\x0a",
        b"\xc6\x33\x64\x07",
    )
    frame = link + ip + options + transport + draw(st.sampled_from([b"", b"\0" * 6]))
    cut = draw(st.sampled_from([None, None, draw(st.integers(0, len(frame)))]))
    return linktype, frame if cut is None else frame[:cut]


def _general(linktype: int, frame: bytes) -> object:
    import dpkt

    from shakenlib.analysis.capture import _Fragments, _segment

    try:
        return _segment(dpkt, linktype, frame, _Fragments())
    except (dpkt.UnpackError, struct.error, IndexError, ValueError):
        return "unreadable"


@settings(max_examples=1500, deadline=None)
@given(_frames())
def test_fast_header_decode_reads_as_dpkt(frame: tuple[int, bytes]) -> None:
    from shakenlib.analysis.capture import _fast_segment

    linktype, data = frame
    fast = _fast_segment(linktype, data)
    if fast is not None:  # None: the frame goes to dpkt
        assert fast == _general(linktype, data)


@pytest.mark.parametrize(
    ("link", "transport"),
    [
        ("ethernet", "udp"),
        ("vlan", "udp"),
        ("raw", "udp"),
        ("ethernet", "tcp"),
        ("vlan", "tcp"),
    ],
)
def test_fast_header_decode_takes_the_usual_frames(
    tmp_path: Path, link: str, transport: str
) -> None:
    import dpkt

    from shakenlib.analysis.capture import _fast_segment

    records = [
        {
            "time": 1748736000 + i,
            "orig": "12155550100",
            "dest": "12155550111",
            "identity": "a.b.c;info=<https://x/y>",
            "call_id": f"{i}@h",
        }
        for i in range(20)
    ]
    write_capture(
        tmp_path / "c.pcap",
        records,
        link=link,
        transport=transport,  # type: ignore[arg-type]
        noise=True,
        split=True,
        coalesce=True,
        retransmit=0.2,
    )
    linktype = 101 if link == "raw" else 1
    with open(tmp_path / "c.pcap", "rb") as handle:
        frames = [frame for _, frame in dpkt.pcap.Reader(handle)]
    assert len(frames) > 20
    for frame in frames:
        fast = _fast_segment(linktype, frame)
        assert fast is not None
        assert fast == _general(linktype, frame)


def test_capture_calls_keep_the_date_freshness_check(
    day: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """A capture call is verified with its SIP request: a Date header far from the packet
    time still gives the date_stale finding (RFC 8224 §6.2)."""
    import dpkt

    from shakenlib.analysis.batch import verify_record
    from shakenlib.timeutil import parse_time

    out, records = day
    unsigned = [r for r in records if not r.get("identity")][:2]
    assert len(unsigned) == 2
    path = tmp_path / "dates.pcap"
    with open(path, "wb") as handle:
        writer = dpkt.pcap.Writer(handle, linktype=1)
        for record, late in zip(unsigned, (0, 7200), strict=True):
            message = invite(record)
            udp = dpkt.udp.UDP(sport=5060, dport=5060, data=message, ulen=8 + len(message))
            ip = dpkt.ip.IP(src=b"\xc0\x00\x02\x0a", dst=b"\xc6\x33\x64\x07", p=17, data=udp)
            frame = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x04" * 6, data=ip)
            writer.writepkt(bytes(frame), ts=parse_time(record["time"]).timestamp() + late)
    calls = [r for r in RecordSource(path=str(path)) if isinstance(r, CallRecord)]
    assert [c.sip is not None for c in calls] == [True, True]
    verifier = VerifierConfig(
        trust_files=(str(out / "trust.pem"),), mirror=str(out / "mirror")
    ).build()
    codes = [[f.code for f in verify_record(verifier, c).findings] for c in calls]
    assert "date_stale" not in codes[0]
    assert "date_stale" in codes[1]


def test_a_hostile_content_length_is_no_length() -> None:
    # int() refuses more than 4300 digits: such a header must not stop the reader
    from shakenlib.analysis.capture import _content_length

    head = b"INVITE sip:1@x SIP/2.0\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n"
    assert _content_length(head) == 0
    assert _content_length(head.replace(b"Content-Length", b"l")) == 0
    assert _content_length(b"INVITE sip:1@x SIP/2.0\r\nContent-Length: 12\r\n\r\n") == 12


# --- pcapng: every interface with its own link type and time unit, every section ---------
def _dpkt_module() -> Any:
    import dpkt

    return dpkt


def _packets(path: Path) -> list[tuple[float, bytes]]:
    with open(path, "rb") as handle:
        return [
            (float(ts), bytes(frame)) for ts, frame in _dpkt_module().pcap.UniversalReader(handle)
        ]


def _mixed(path: Path, ethernet: Path, raw_ip: Path) -> None:
    """A pcapng of two interfaces: 0 Ethernet (microseconds), 1 raw IP (nanoseconds, with
    an offset of 1,000 s), the packets of both in time order."""
    png = _dpkt_module().pcapng
    nano = png.PcapngOptionLE(code=png.PCAPNG_OPT_IF_TSRESOL, data=b"\x09")
    offset = png.PcapngOptionLE(code=14, data=(1000).to_bytes(8, "little", signed=True))
    end = png.PcapngOptionLE(code=png.PCAPNG_OPT_ENDOFOPT)
    interfaces = [
        png.InterfaceDescriptionBlockLE(linktype=1, snaplen=65535),
        png.InterfaceDescriptionBlockLE(linktype=101, snaplen=65535, opts=[nano, offset, end]),
    ]
    packets = [(ts, frame, 0) for ts, frame in _packets(ethernet)]
    packets += [(ts, frame, 1) for ts, frame in _packets(raw_ip)]
    packets.sort(key=lambda p: p[0])
    with open(path, "wb") as handle:
        writer = png.Writer(handle, idb=interfaces)
        for ts, frame, iface in packets:
            units = round(ts * 1e6) if iface == 0 else (round(ts * 1e6) - 1000 * 10**6) * 1000
            epb = png.EnhancedPacketBlockLE(
                iface_id=iface,
                ts_high=units >> 32,
                ts_low=units & 0xFFFFFFFF,
                caplen=len(frame),
                pkt_len=len(frame),
                pkt_data=frame,
            )
            writer.writepkt(epb)


def test_interfaces_of_other_link_types_and_time_units_are_all_read(
    day: tuple[Path, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    out, records = day
    write_capture(tmp_path / "a.pcap", records[:40], link="ethernet")
    write_capture(tmp_path / "b.pcap", records[40:80], link="raw", transport="tcp", split=True)
    mixed = tmp_path / "mixed.pcapng"
    _mixed(mixed, tmp_path / "a.pcap", tmp_path / "b.pcap")
    calls = [i for i in RecordSource(path=str(mixed)) if isinstance(i, CallRecord)]
    assert sorted(c.call_id or "" for c in calls) == sorted(r["call_id"] for r in records[:80])
    by_id = {r["call_id"]: r for r in records}
    for c in calls:  # each packet's time read in its interface's unit (and offset)
        when = dt.datetime.fromisoformat(by_id[c.call_id]["time"].replace("Z", "+00:00"))
        assert c.time == when
    jsonl = tmp_path / "calls.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records[:80]))
    assert analysis(out, mixed) == analysis(out, jsonl)


def test_sections_one_after_another_are_all_read(
    day: tuple[Path, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    # two pcapng files joined with cat: a second section, with an interface of its own
    _, records = day
    write_capture(tmp_path / "a.pcapng", records[:10], pcapng=True)
    write_capture(tmp_path / "b.pcapng", records[10:20], pcapng=True, link="sll2")
    joined = tmp_path / "joined.pcapng"
    joined.write_bytes((tmp_path / "a.pcapng").read_bytes() + (tmp_path / "b.pcapng").read_bytes())
    items = list(RecordSource(path=str(joined)))
    assert not [i for i in items if isinstance(i, UnreadableRecord)]
    assert [i.call_id for i in items] == [r["call_id"] for r in records[:20]]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"link": "sll2", "transport": "tcp", "split": True, "coalesce": True},
        {"link": "vlan", "noise": True, "retransmit": 0.1},
        {"ipv6": True, "link": "sll"},
    ],
)
def test_one_interface_reads_as_dpkt_reads_it(
    day: tuple[Path, list[dict[str, Any]]],
    tmp_path: Path,
    options: dict[str, Any],
) -> None:
    _, records = day
    path = tmp_path / "one.pcapng"
    write_capture(path, records[:25], pcapng=True, **options)
    with open(path, "rb") as handle:
        reader = _dpkt_module().pcapng.Reader(handle)
        expected = [(float(ts), bytes(frame), reader.datalink()) for ts, frame in reader]
    with open(path, "rb") as handle:
        assert list(capture._pcapng_frames(_dpkt_module(), handle)) == expected


def test_a_cut_or_corrupt_pcapng_is_said_where(tmp_path: Path, day: Any) -> None:
    _, records = day
    path = tmp_path / "cut.pcapng"
    write_capture(path, records[:6], pcapng=True)
    data = path.read_bytes()
    with open(path, "rb") as handle:
        whole = list(capture._pcapng_frames(_dpkt_module(), handle))
    assert len(whole) == 6
    assert not any(isinstance(f, capture._Cut) for f in whole)
    for cut, reason in ((len(data) - 10, "cut short in packet 6"), (len(data) - 3, "packet 6")):
        path.write_bytes(data[:cut])
        with open(path, "rb") as handle:
            frames = list(capture._pcapng_frames(_dpkt_module(), handle))
        assert frames[:-1] == whole[:5]
        assert isinstance(frames[-1], capture._Cut)
        assert reason in frames[-1].reason
    path.write_bytes(data[:-4] + b"\x07\x00\x00\x00")  # the last block's length repeated wrong
    with open(path, "rb") as handle:
        assert list(capture._pcapng_frames(_dpkt_module(), handle))[:5] == whole[:5]
    bad = bytearray(data)
    bad[4:8] = (13).to_bytes(4, "little")  # a section header of an impossible length
    path.write_bytes(bytes(bad))
    with open(path, "rb") as handle:
        (only,) = list(capture._pcapng_frames(_dpkt_module(), handle))
    assert isinstance(only, capture._Cut)
    assert "block length 13" in only.reason
