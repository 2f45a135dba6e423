"""Packet captures of call records, for tests, benchmarks and the example day.

:func:`write_capture` turns call records (the dicts of ``calls.jsonl``) into SIP INVITEs
on the wire and writes them with ``dpkt``'s own pcap/pcapng writer (the ``pcap`` extra):
over UDP or TCP, IPv4 or IPv6, Ethernet (optionally VLAN-tagged), Linux cooked capture
(SLL, SLL2) or raw IP, with IPv4 fragments, TCP messages split over segments or several
in one segment, retransmissions, segments out of order, and the other traffic of a SIP
trunk (100 Trying, 200 OK, ACK, re-INVITEs, non-SIP datagrams) that must not count as
calls. Each INVITE's packet time is the record's time.

>>> import io, json
>>> record = {"time": "2025-06-01T12:00:00Z", "orig": "12155551212",
...           "dest": "12155551213", "identity": "a.b.c;info=<https://x/y>", "call_id": "1@h"}
>>> invite(record).split(b"\\r\\n")[0]
b'INVITE sip:+12155551213@198.51.100.7;user=phone SIP/2.0'
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import struct
import zlib
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from shakenlib.timeutil import parse_time

__all__ = ["invite", "write_capture"]

Link = Literal["ethernet", "vlan", "sll", "sll2", "raw"]

_CLIENT4, _SERVER4 = bytes([192, 0, 2, 10]), bytes([198, 51, 100, 7])
_CLIENT6 = bytes.fromhex("20010db8000000000000000000000010")
_SERVER6 = bytes.fromhex("20010db8000000000000000000000007")
_SDP = (
    b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())


def _identities(value: Any) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [v for v in value if v]


def invite(
    record: Mapping[str, Any],
    *,
    body: bytes = _SDP,
    cseq: int = 1,
    to_tag: str | None = None,
    pai: bool = False,
    compact: bool = False,
) -> bytes:
    """The SIP INVITE of one call record (numbers in global form, Identity headers as
    given, a Date header at the record's time, an SDP body with its Content-Length)."""
    orig, dest = record.get("orig"), record.get("dest")
    when = parse_time(record["time"])
    call_id = record.get("call_id") or f"{_crc(f'{orig}{dest}{when}')}@test"
    from_uri = f"sip:+{orig}@192.0.2.10;user=phone" if orig else "sip:anonymous@anonymous.invalid"
    to = f"<sip:+{dest}@198.51.100.7;user=phone>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"INVITE sip:+{dest}@198.51.100.7;user=phone SIP/2.0",
        f"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{_crc(call_id)}",
        "Max-Forwards: 70",
        f"{'f' if compact else 'From'}: <{from_uri}>;tag=a{_crc(call_id) % 10**6}",
        f"{'t' if compact else 'To'}: {to}",
        f"{'i' if compact else 'Call-ID'}: {call_id}",
        f"CSeq: {cseq} INVITE",
        "Date: " + when.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
    ]
    if pai and orig:
        lines.append(f"P-Asserted-Identity: <sip:+{orig}@192.0.2.10;user=phone>")
    for value in _identities(record.get("identity")):
        lines.append(f"{'y' if compact else 'Identity'}: {value}")
    lines += [
        "Contact: <sip:gw@192.0.2.10:5060>",
        "Content-Type: application/sdp",
        f"{'l' if compact else 'Content-Length'}: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _response(message: bytes, code: int, reason: str) -> bytes:
    head = message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    keep = [
        h
        for h in head[1:]
        if h.split(b":")[0].lower()
        in (b"via", b"from", b"to", b"call-id", b"cseq", b"i", b"f", b"t")
    ]
    return (
        b"SIP/2.0 %d %s\r\n" % (code, reason.encode())
        + b"\r\n".join(keep)
        + b"\r\nContent-Length: 0\r\n\r\n"
    )


class _Packed:
    """Bytes of a packet built here, to put in a dpkt frame as they are."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __bytes__(self) -> bytes:
        return self.data

    def __len__(self) -> int:
        return len(self.data)


def _ipv4_fragment(
    src: bytes, dst: bytes, proto: int, ident: int, start: int, piece: bytes, more: bool
) -> Any:
    """An IPv4 packet (RFC 791) carrying bytes ``start`` on of a datagram of ``proto``
    (``more``: not the last piece)."""
    import dpkt

    part = dpkt.ip.IP(src=src, dst=dst, p=proto, id=ident, ttl=64, data=piece)
    part.offset, part.mf = start, int(more)
    return part


def _ipv6_fragment(
    src: bytes, dst: bytes, proto: int, ident: int, start: int, piece: bytes, more: bool
) -> bytes:
    """An IPv6 packet carrying bytes ``start`` on of a datagram of ``proto`` (``more``: not
    the last piece), as a host sends a datagram larger than the path MTU: a Hop-by-Hop
    Options header (RFC 8200 §4.3, one PadN option), then a Fragment header (§4.5); the
    fragmentable part starts with a Destination Options header (§4.6), then the datagram."""
    pad = bytes([1, 4, 0, 0, 0, 0])  # a PadN option filling an 8-octet header
    if start == 0:
        piece = bytes([proto, 0]) + pad + piece  # Destination Options header, then data
    offset = 0 if start == 0 else start + 8  # (the Destination Options header comes first)
    fragment = struct.pack("!BBHI", 60, 0, offset | int(more), ident)
    payload = bytes([44, 0]) + pad + fragment + piece
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), 0, 64, src, dst) + payload


def write_capture(
    path: str | os.PathLike[str],
    records: Iterable[Mapping[str, Any]],
    *,
    transport: Literal["udp", "tcp"] = "udp",
    link: Link = "ethernet",
    ipv6: bool = False,
    pcapng: bool = False,
    nano: bool = False,
    split: bool = False,
    coalesce: bool = False,
    retransmit: float = 0.0,
    reorder: bool = False,
    fragment: bool = False,
    noise: bool = False,
    seed: int = 1,
) -> int:
    """Write ``records`` as a capture of INVITEs; returns the number of packets.

    ``split``: each TCP message goes out in several segments; ``coalesce``: TCP segments
    carry the end of one message and the start of the next; ``retransmit``: the share of
    packets sent twice; ``reorder``: neighbouring TCP segments swapped; ``fragment``:
    UDP datagrams cut into fragments (IPv6 ones behind Hop-by-Hop Options and with a
    Destination Options header); ``noise``: responses, ACKs, re-INVITEs
    and non-SIP datagrams between the calls.
    """
    import dpkt

    rng = random.Random(seed)
    client, server = (_CLIENT6, _SERVER6) if ipv6 else (_CLIENT4, _SERVER4)
    linktype = {"ethernet": 1, "vlan": 1, "sll": 113, "sll2": 276, "raw": 101}[link]
    packets: list[tuple[float, bytes]] = []
    ident = [rng.randrange(1, 60000)]

    def frame(ip_payload: Any, proto: int, src: bytes, dst: bytes) -> list[bytes]:
        """Link-layer frames carrying one transport segment (several when fragmented)."""
        raw = bytes(ip_payload)
        if fragment and proto == 17 and len(raw) > 200:
            ident[0] += 1
            cuts = [*range(0, len(raw), 8 * rng.randrange(10, 40)), len(raw)]
            cut = _ipv6_fragment if ipv6 else _ipv4_fragment
            ips: list[Any] = [
                cut(src, dst, proto, ident[0], start, raw[start:end], end < len(raw))
                for start, end in itertools.pairwise(cuts)
            ]
            if rng.random() < 0.5:
                ips.reverse()  # fragments may arrive in any order
        elif ipv6:
            ips = [
                dpkt.ip6.IP6(src=src, dst=dst, nxt=proto, hlim=64, data=ip_payload, plen=len(raw))
            ]
        else:
            ips = [
                dpkt.ip.IP(
                    src=src, dst=dst, p=proto, ttl=64, id=rng.randrange(65536), data=ip_payload
                )
            ]
        out = []
        for ip in ips:
            if isinstance(ip, bytes):  # (dpkt would decode bytes given as a frame's data)
                ip = _Packed(ip)
            elif not ipv6:
                ip.len = 20 + len(bytes(ip.data))
            ethtype = 0x86DD if ipv6 else 0x0800
            if link == "ethernet":
                out.append(
                    bytes(
                        dpkt.ethernet.Ethernet(
                            src=b"\x02" * 6, dst=b"\x04" * 6, type=ethtype, data=ip
                        )
                    )
                )
            elif link == "vlan":
                # 802.1Q tag (TPID 0x8100, VLAN 42) before the EtherType
                out.append(
                    b"\x04" * 6 + b"\x02" * 6 + struct.pack("!HHH", 0x8100, 42, ethtype) + bytes(ip)
                )
            elif link == "sll":
                out.append(
                    bytes(
                        dpkt.sll.SLL(
                            type=0,
                            hrd=1,
                            hlen=6,
                            hdr=b"\x02" * 6 + b"\0\0",
                            ethtype=ethtype,
                            data=ip,
                        )
                    )
                )
            elif link == "sll2":
                out.append(
                    bytes(
                        dpkt.sll2.SLL2(
                            ethtype=ethtype,
                            intindex=2,
                            hrd=1,
                            type=0,
                            hlen=6,
                            hdr=b"\x02" * 6 + b"\0\0",
                            data=ip,
                        )
                    )
                )
            else:
                out.append(bytes(ip))
        return out

    def send(time: float, ip_payload: Any, proto: int, reverse: bool = False) -> None:
        src, dst = (server, client) if reverse else (client, server)
        for buf in frame(ip_payload, proto, src, dst):
            packets.append((time, buf))

    items = list(records)
    if transport == "udp":
        for record in items:
            time = parse_time(record["time"]).timestamp()
            message = invite(record, compact=rng.random() < 0.1)
            datagram = dpkt.udp.UDP(sport=5060, dport=5060, data=message)
            datagram.ulen = 8 + len(message)
            send(time, datagram, 17)
            if retransmit and rng.random() < retransmit:
                send(time + 0.5, datagram, 17)  # Timer A: the INVITE again
            if noise:
                for code, reason in ((100, "Trying"), (200, "OK")):
                    resp = _response(message, code, reason)
                    d = dpkt.udp.UDP(sport=5060, dport=5060, data=resp)
                    d.ulen = 8 + len(resp)
                    send(time + 0.01, d, 17, reverse=True)
                reinvite = invite(record, cseq=2, to_tag="b1")
                d = dpkt.udp.UDP(sport=5060, dport=5060, data=reinvite)
                d.ulen = 8 + len(reinvite)
                send(time + 0.02, d, 17)
                dns = dpkt.udp.UDP(sport=40000, dport=53, data=b"\x12\x34\x01\x00" + b"\0" * 8)
                dns.ulen = 20
                send(time + 0.03, dns, 17)
    else:
        seq = rng.randrange(1 << 32)
        ack = rng.randrange(1 << 32)
        first_time = parse_time(items[0]["time"]).timestamp() - 1 if items else 0.0

        def tcp(time: float, data: bytes, flags: int, at_seq: int) -> None:
            seg = dpkt.tcp.TCP(
                sport=45000,
                dport=5060,
                seq=at_seq & 0xFFFFFFFF,
                ack=ack,
                flags=flags,
                win=65535,
                data=data,
            )
            seg.off = 5
            send(time, seg, 6)

        tcp(first_time, b"", dpkt.tcp.TH_SYN, seq)
        seq += 1
        # (time, bytes) pieces of the stream, each to go out in one segment
        pieces: list[tuple[float, bytes]] = []
        carry = b""
        for record in items:
            time = parse_time(record["time"]).timestamp()
            message = invite(record, compact=rng.random() < 0.1)
            if noise and rng.random() < 0.2:
                message = b"\r\n\r\n" + message  # a CRLF keep-alive first
            if split:
                cuts = sorted(rng.sample(range(1, len(message)), 3))
                parts = [
                    message[a:b] for a, b in zip([0, *cuts], [*cuts, len(message)], strict=True)
                ]
            else:
                parts = [message]
            tail = b""
            if coalesce and rng.random() < 0.5 and record is not items[-1]:
                if len(parts) == 1:
                    cut = rng.randrange(1, len(message))
                    parts = [message[:cut], message[cut:]]
                tail = parts.pop()  # goes out with the start of the next message
            if carry:  # the end of the previous message goes out with this one's start
                parts[0] = carry + parts[0]
            carry = tail
            pieces.extend((time, part) for part in parts)
        if carry:
            pieces.append((pieces[-1][0] if pieces else first_time, carry))
        segments = []
        for time, part in pieces:
            segments.append((time, part, seq))
            seq += len(part)
        if reorder:
            for i in range(1, len(segments) - 1, 3):  # the later bytes go out first
                (t1, p1, s1), (t2, p2, s2) = segments[i], segments[i + 1]
                if t1 == t2:  # (within one message: each message keeps its own time)
                    segments[i], segments[i + 1] = (t1, p2, s2), (t2, p1, s1)
        for time, part, at in segments:
            tcp(time, part, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, at)
            if retransmit and rng.random() < retransmit:
                tcp(time + 0.2, part, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, at)
        tcp(
            segments[-1][0] + 1 if segments else first_time,
            b"",
            dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK,
            seq,
        )
    packets.sort(key=lambda p: p[0])  # stable: equal times keep their order
    with open(path, "wb") as handle:
        if pcapng:
            writer: Any = dpkt.pcapng.Writer(handle, linktype=linktype, snaplen=65535)
        else:
            writer = dpkt.pcap.Writer(handle, linktype=linktype, snaplen=65535, nano=nano)
        for time, buf in packets:
            writer.writepkt(buf, ts=time)
    return len(packets)
