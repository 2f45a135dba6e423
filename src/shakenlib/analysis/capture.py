"""SIP calls from packet captures (pcap and pcapng), with our own TCP reassembly.

``dpkt`` (the ``pcap`` extra: ``pip install "shakenlib[pcap]"``) reads the file formats
and the link, IP, UDP and TCP headers; this module puts the SIP messages back together.
The usual file (libpcap with microsecond times) has its packet records read with
:mod:`struct` in large blocks (:func:`_classic_frames`), and the usual frame (Ethernet,
maybe VLAN-tagged, or raw IP, carrying an unfragmented IPv4 UDP or TCP segment) decoded
with :mod:`struct` (:func:`_fast_segment`), both to the same values as dpkt's reading; a
UDP datagram that does not start with ``INVITE`` is dropped before any parsing. A pcapng
file is walked block by block (:func:`_pcapng_frames`; dpkt reads each block), so that
each packet is read with its own interface's link type and time unit, in every section
(dpkt's own reader applies the first interface's to every packet). What is read:

* link layers: Ethernet (with 802.1Q/802.1ad VLAN tags), Linux cooked capture (SLL and
  SLL2), raw IP, BSD loopback;
* IPv4 and IPv6, fragments reassembled (IPv6 fragments after any Hop-by-Hop, Routing
  and Destination Options headers);
* SIP over UDP (one message per datagram) and over TCP: each direction of a connection is
  a byte stream (segments put in sequence order, retransmitted and overlapping bytes
  dropped) cut into messages by their ``Content-Length`` (a segment may hold part of a
  message or several messages).

A call is each initial INVITE (a request without a To tag); a retransmission (the same
Call-ID and CSeq) is counted once. Its time is the time of the packet the message starts
in, its ``line`` that packet's number (1-based, as Wireshark counts), and its ``src`` /
``dst`` the addresses (``ip:port``, IPv6 in brackets): ``src`` is the ingress peer.

A capture cut short (the last packet or block incomplete, as when ``tcpdump`` is
killed) keeps the calls read before the cut and yields one unreadable item saying where
it was cut; so does a SIP message left incomplete at the end of a TCP stream, an
INVITE over UDP whose IP fragments never all arrived, and each TLS connection on the SIPS
port (5061), whose SIP is encrypted. A file that
is not a capture at all is a :class:`~shakenlib.errors.UsageError` naming it.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import os
import re
import socket
import struct
from collections.abc import Iterator
from typing import IO, Any

import attrs

from shakenlib._frozen import build
from shakenlib.analysis.records import RawItem, _Unreadable, missing_extra
from shakenlib.errors import UsageError

__all__ = ["Captured", "SipStream", "read_capture"]

#: A SIP message larger than this (headers and body) is not waited for.
MAX_MESSAGE = 1 << 16
#: Segments held out of order per TCP stream before the gap is given up.
MAX_OUT_OF_ORDER = 64
#: (Call-ID, CSeq) pairs remembered to count a retransmitted INVITE once.
MAX_SEEN = 1 << 17
#: IP datagrams being reassembled at a time.
MAX_FRAGMENTED = 1024
#: TCP streams followed at a time (the least recently active one is given up first; 1 or
#: more).
MAX_STREAMS = 1 << 14

# Request-Line = Method SP Request-URI SP SIP-Version CRLF
# Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF     (RFC 3261 §7.1, §7.2)
_START = re.compile(rb"(?:[A-Z]+ [^ \r\n]+ SIP/2\.0|SIP/2\.0 [0-9]{3} )")
_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*([0-9]+)", re.I | re.M)
_TAG = re.compile(rb";[ \t]*tag[ \t]*=", re.I)
# An empty line after a line end: LF LF, or LF CR LF (the end of CR LF CR LF when a CR is
# before it); see _header_end.
_BLANK = re.compile(rb"\n\r?\n")
# A header line named To, Call-ID or CSeq (long or compact form; the name may have white
# space around it, as bytes.strip() removes), after the line break before it: the name
# and the rest of the line.
_KEYS = re.compile(rb"\n[ \t\r\x0b\x0c]*(to|t|call-id|i|cseq)[ \t\r\x0b\x0c]*:([^\n]*)", re.I)


@attrs.frozen(slots=False)  # dict-backed: the reader builds it in one step (_captured)
class Captured:
    """One SIP message from a capture: its time (Unix seconds of the packet it starts in),
    the message bytes and the addresses it went between."""

    time: float
    data: bytes
    src: str
    dst: str

    @property
    def at(self) -> dt.datetime:
        """The packet time as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.time, dt.UTC)


def _captured(time: float, data: bytes, src: str, dst: str) -> Captured:
    """``Captured(time, data, src, dst)``, built without its ``__init__``
    (:func:`shakenlib._frozen.build`)."""
    return build(Captured, {"time": time, "data": data, "src": src, "dst": dst})


def _dpkt() -> Any:
    try:
        import dpkt
    except ImportError:
        raise missing_extra("pcap", "dpkt", "reading packet captures") from None
    return dpkt


class _Guard:
    """A file wrapper that notices a short read inside a record (a truncated capture)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.boundary = True  # the next read starts a record: EOF there is the normal end
        self.truncated = False

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        if len(data) < size and (data or not self.boundary):
            self.truncated = True
        self.boundary = False
        return data

    def seek(self, *args: int) -> int:
        return self.handle.seek(*args)

    def tell(self) -> int:
        return self.handle.tell()


@functools.lru_cache(maxsize=4096)
def _addr(ip: bytes) -> str:
    if len(ip) == 4:
        return socket.inet_ntop(socket.AF_INET, ip)
    return "[" + socket.inet_ntop(socket.AF_INET6, ip) + "]"


@functools.lru_cache(maxsize=4096)
def _endpoint(ip: bytes, port: int) -> str:
    """``ip:port`` (IPv6 in brackets)."""
    return f"{_addr(ip)}:{port}"


class SipStream:
    """One direction of a TCP connection, cut into SIP messages.

    :meth:`add` takes a segment (sequence number, payload, time, packet number) and
    returns the messages it completes, each with the time and packet number of the packet
    it starts in. Retransmitted and overlapping bytes are dropped; segments that arrive
    early wait (up to :data:`MAX_OUT_OF_ORDER`) for the gap to fill.

    >>> s = SipStream()
    >>> msg = b"OPTIONS sip:a@b SIP/2.0\\r\\nContent-Length: 2\\r\\n\\r\\nhi"
    >>> s.add(1000, msg[:10], 1.0, 1), s.add(1010, msg[10:] + msg[:5], 2.0, 2)
    ([], [(1.0, 1, b'OPTIONS sip:a@b SIP/2.0\\r\\nContent-Length: 2\\r\\n\\r\\nhi')])
    >>> s.add(1000, msg[:10], 3.0, 3), s.pending
    ([], True)
    """

    def __init__(self) -> None:
        self.buf = bytearray()
        self.next_seq: int | None = None
        self.early: dict[int, tuple[bytes, float, int]] = {}
        self.marks: collections.deque[tuple[int, float, int]] = collections.deque()
        self.offset = 0  # stream offset of buf[0]
        self.synced = False
        self.lost = 0  # bytes given up on (gaps, oversized or non-SIP data)
        self.found = 0  # messages found
        self.scanned = 0  # buf[:scanned] holds no header end
        #: the size of the message at buf[0] and of its head, once read (0: not yet)
        self.need = self.head = 0
        #: a stream that carried no SIP in its first MAX_MESSAGE bytes is not followed
        self.ignored = False

    @property
    def pending(self) -> bool:
        """Whether part of a SIP message waits for more data."""
        return bool(self.buf.strip(b"\r\n")) and self.synced

    def syn(self, seq: int) -> None:
        """A SYN: the data starts at ``seq + 1``."""
        if self.next_seq is None:
            self.next_seq = (seq + 1) & 0xFFFFFFFF

    def add(
        self,
        seq: int,
        data: bytes,
        time: float,
        packet: int,
    ) -> list[tuple[float, int, bytes]]:
        """Add a segment; return the ``(time, packet, message)`` it completes."""
        if seq == self.next_seq and not self.early and data and not self.ignored:
            # the usual segment: it continues the stream and nothing waits out of order.
            # What _add does then (delta 0, no held segment to take), without its checks;
            # a message whose size is known and not yet reached is not looked at again.
            self._append(data, time, packet)
            if len(self.buf) < self.need:
                return []
            return self._messages()
        return self._add(seq, data, time, packet)

    def _add(
        self,
        seq: int,
        data: bytes,
        time: float,
        packet: int,
    ) -> list[tuple[float, int, bytes]]:
        """:meth:`add` for any segment (the general path)."""
        if not data or self.ignored:
            return []
        if self.next_seq is None:
            self.next_seq = seq  # the capture started inside the connection
        delta = ((seq - self.next_seq + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        if delta > 0:
            if len(self.early) < MAX_OUT_OF_ORDER:
                self.early.setdefault(seq, (data, time, packet))
                return []
            # the gap will not fill: skip to the earliest segment held
            self._skip_gap()
            return self._add(seq, data, time, packet)
        if delta < 0:
            data = data[-delta:]  # a retransmission, or overlapping bytes
            if not data:
                return []
        self._append(data, time, packet)
        while self.early:
            held = self.early.pop(self.next_seq, None)
            if held is None:
                # a held segment that overlaps what we now have
                for key in list(self.early):
                    d = ((key - self.next_seq + 0x80000000) & 0xFFFFFFFF) - 0x80000000
                    if d < 0:
                        data_, t, p = self.early.pop(key)
                        if len(data_) > -d:
                            held = (data_[-d:], t, p)
                            break
                if held is None:
                    break
            self._append(*held)
        return self._messages()

    def _skip_gap(self) -> None:
        assert self.next_seq is not None
        first = min(self.early, key=lambda k: (k - self.next_seq) & 0xFFFFFFFF)  # type: ignore[operator]
        self.lost += len(self.buf) + ((first - self.next_seq) & 0xFFFFFFFF)
        self.offset += len(self.buf)
        self.buf.clear()
        self.marks.clear()
        self.scanned = self.need = 0
        self.synced = False
        self.next_seq = first
        data, time, packet = self.early.pop(first)
        self._append(data, time, packet)

    def _append(self, data: bytes, time: float, packet: int) -> None:
        assert self.next_seq is not None
        if not self.buf:
            self.marks.clear()  # every message from here on starts in this segment or later
        self.marks.append((self.offset + len(self.buf), time, packet))
        self.buf += data
        self.next_seq = (self.next_seq + len(data)) & 0xFFFFFFFF

    def _drop(self, count: int) -> None:
        self.scanned = self.need = 0
        del self.buf[:count]
        self.offset += count
        while len(self.marks) > 1 and self.marks[1][0] <= self.offset:
            self.marks.popleft()

    def _messages(self) -> list[tuple[float, int, bytes]]:
        out: list[tuple[float, int, bytes]] = []
        buf = self.buf  # (changed in place only)
        while buf:
            if not self.synced:
                found = _START.search(buf)
                if found is None:
                    keep = min(len(buf), 32)  # a start line may be cut in two
                    self.lost += len(buf) - keep
                    self._drop(len(buf) - keep)
                    if not self.found and self.lost > MAX_MESSAGE:
                        self.ignored = True  # not a SIP connection (TLS, HTTP, ...)
                        self.early.clear()
                    return out
                # a start line begins the stream or follows a line break
                start = found.start()
                if start and buf[start - 1 : start] != b"\n":
                    self.lost += start + 1
                    self._drop(start + 1)
                    continue
                self.lost += start
                self._drop(start)
                self.synced = True
            if buf[0] in (10, 13):  # CRLF keep-alives between messages (RFC 5626 §3.5.1)
                stripped = 0
                while stripped < len(buf) and buf[stripped] in (10, 13):
                    stripped += 1
                self._drop(stripped)
                continue
            if self.need:  # the head was read: it does not change while the body arrives
                head_end, size = self.head, self.need
            else:
                head_end = _header_end(buf, self.scanned)
                if head_end < 0:
                    if len(buf) > MAX_MESSAGE:
                        self.lost += len(buf)
                        self._drop(len(buf))
                        self.synced = False
                    else:
                        self.scanned = max(0, len(buf) - 3)  # not again next time
                    return out
                size = head_end + _content_length(buf, head_end)
                if size > MAX_MESSAGE:
                    self.lost += head_end
                    self._drop(head_end)
                    self.synced = False
                    continue
            if len(buf) < size:
                self.head, self.need = head_end, size
                return out
            if not _START.match(buf, 0, head_end):
                self.synced = False  # not at a message start after all: resynchronise
                continue
            _, time, packet = self._mark()
            out.append((time, packet, bytes(buf[:size])))
            self.found += 1
            self._drop(size)
        return out

    def _mark(self) -> tuple[int, float, int]:
        """The mark of the segment buf[0] came in: ``marks[0]``. Marks are appended at
        increasing offsets, the first one into an empty buffer drops those before it
        (:meth:`_append`), and :meth:`_drop` drops each one whose successor is at or
        before buf[0]: so marks[0] is at or before buf[0] and marks[1] after it."""
        return self.marks[0]


def _header_end(buf: bytearray, start: int = 0) -> int:
    """The offset after the empty line that ends the headers (CRLF CRLF, or bare LF LF)
    that starts first at or after ``start``, or -1 when there is none in the first
    :data:`MAX_MESSAGE` bytes. RFC 3261 §7: ``generic-message = start-line
    *message-header CRLF [ message-body ]``, read leniently (LF line ends too).

    One scan (:data:`_BLANK`) finds both kinds of empty line: ``LF LF`` at ``p``, or
    ``LF CR LF`` at ``p`` that is the end of ``CR LF CR LF`` when a CR (at or after
    ``start``) stands before it; any other ``LF CR LF`` is passed over.
    """
    at = start
    while True:
        found = _BLANK.search(buf, at, MAX_MESSAGE)
        if found is None:
            return -1
        p = found.start()
        if found.end() - p == 2:
            return p + 2  # LF LF
        if p > start and buf[p - 1] == 13:
            return p + 3  # CR LF CR LF from p - 1
        at = p + 1


#: Digits a Content-Length may have (more is hostile; int() refuses over 4300).
_LENGTH_DIGITS = 12


def _content_length(head: bytes | bytearray, end: int | None = None) -> int:
    """The Content-Length of a message head, ``head[:end]`` (0 when absent)."""
    if end is None:
        end = len(head)
    at = head.find(b"\nContent-Length:", 0, end)
    if at >= 0:
        value = head[at + 16 : head.find(b"\n", at + 16, end)].strip()
        if value.isdigit() and len(value) <= _LENGTH_DIGITS:
            return int(value)
    length = _LENGTH.search(head, 0, end)  # any spelling: content-length, compact l
    if length is None or len(length.group(1)) > _LENGTH_DIGITS:
        return 0  # a hostile length is no length: the message ends at its head
    return int(length.group(1))


def _initial_invite(message: bytes) -> tuple[bytes, bytes] | None:
    r"""(Call-ID, CSeq number) of an initial INVITE (no To tag), else ``None``.

    Only the header lines named To (``t``), Call-ID (``i``) and CSeq are looked at (one
    regular expression finds them): the first non-empty Call-ID and CSeq count, and any To
    with a tag makes the request a re-INVITE.

    >>> _initial_invite(b"INVITE sip:a@b SIP/2.0\r\ni: x@y\r\nCSeq: 7 INVITE\r\nt: <sip:b>\r\n\r\n")
    (b'x@y', b'7')
    >>> _initial_invite(b"INVITE sip:a@b SIP/2.0\r\nTo: <sip:b>;tag=9\r\n\r\n") is None
    True
    """
    if not message.startswith(b"INVITE "):
        return None
    end = message.find(b"\r\n\r\n")
    if end < 0:
        end = message.find(b"\n\n")
        if end < 0:
            end = len(message)
    call_id = cseq = b""
    # (each line _KEYS matches starts with the line break before it: none in the start line)
    for name, value in _KEYS.findall(message, 0, end):
        if name[0] | 0x20 == 0x74:  # To or t
            if _TAG.search(value):
                return None  # a re-INVITE within a dialog
        elif len(name) == 4:  # CSeq
            if not cseq:
                cseq = (value.split() or [b""])[0]
        elif not call_id:  # Call-ID or i
            call_id = value.strip()
    return call_id, cseq


class _Fragments:
    """IP reassembly: IPv4 fragments by (src, dst, id, protocol) (RFC 791), IPv6 fragments
    by (src, dst, identification) (RFC 8200 §4.5); at most :data:`MAX_FRAGMENTED`
    datagrams at a time (the oldest is given up)."""

    def __init__(self) -> None:
        self.pending: collections.OrderedDict[
            tuple[bytes, bytes, int, int], dict[int, tuple[bytes, bool, int]]
        ] = collections.OrderedDict()
        #: the packet being read (set by the reader), and the packet each pending datagram
        #: was first seen at
        self.number = 0
        self.since: dict[tuple[bytes, bytes, int, int], int] = {}
        #: INVITEs given up (more than MAX_FRAGMENTED datagrams pending), for the reader
        #: to report: (packet first seen at, why)
        self.lost: list[tuple[int, str]] = []

    def add(
        self, key: tuple[bytes, bytes, int, int], offset: int, more: bool, piece: bytes, kind: int
    ) -> tuple[bytes, int] | None:
        """Add the fragment at byte ``offset`` (``more``: not the last); ``kind`` is the
        protocol or next header it carries (the first fragment's is the datagram's).
        Returns the whole payload and its kind once every piece is there."""
        parts = self.pending.get(key)
        if parts is None:
            parts = self.pending[key] = {}
            self.since[key] = self.number
            if len(self.pending) > MAX_FRAGMENTED:
                self.lost.extend(self.unfinished(1))
        parts[offset] = (piece, more, kind)
        # complete when the pieces run from 0 to one without "more fragments"
        data = bytearray()
        at = 0
        for start in sorted(parts):
            if start > at:
                return None
            piece, more, _ = parts[start]
            data[start : start + len(piece)] = piece
            at = max(at, start + len(piece))
            if not more:
                del self.pending[key], self.since[key]
                return bytes(data[:at]), parts[0][2]
        return None

    def unfinished(self, count: int | None = None) -> list[tuple[int, str]]:
        """Give up the ``count`` oldest datagrams still pending (all of them without a
        count); returns (packet first seen at, why) for each that was an INVITE over UDP
        (its first fragment says so: an unreadable record, not a call lost unsaid)."""
        lost = []
        for _ in range(len(self.pending) if count is None else count):
            key, parts = self.pending.popitem(last=False)
            since = self.since.pop(key)
            first = parts.get(0)
            if first is None:
                continue  # (what it carried is not known)
            piece, _, kind = first
            if key[3] == -1:  # IPv6: the fragmentable part may start with options headers
                try:
                    kind, piece = _ipv6_upper(kind, piece)
                except IndexError:
                    continue
            if kind == 17 and piece[8:15] == b"INVITE ":
                lost.append(
                    (
                        since,
                        f"INVITE over UDP {_addr(key[0])} -> {_addr(key[1])} lost: its IP "
                        f"fragments never all arrived (first seen at packet {since})",
                    )
                )
        return lost


# IPv6 extension headers (RFC 8200 §4) between the fixed header and the upper layer:
#
#   Hop-by-Hop Options (0), Routing (43), Destination Options (60):
#     Next Header (8) | Hdr Ext Len (8: 8-octet units after the first 8) | ...
#   Fragment (44), 8 octets:
#     Next Header (8) | Reserved (8) | Fragment Offset (13) | Res (2) | M (1)
#     Identification (32)
_IPV6_OPTIONS = frozenset({0, 43, 60})
_IPV6_FRAGMENT = 44


def _ipv6_fragment(raw: bytes) -> tuple[bytes, int, bool, int, bytes] | None:
    """(identification, byte offset, more fragments, next header, fragment data) of the
    IPv6 packet ``raw`` (from its fixed header on) if it is a fragment, else ``None``.
    Raises ``ValueError`` for a packet shorter than its payload length (cut by the
    capture's snapshot length: it cannot be put back together)."""
    end = 40 + int.from_bytes(raw[4:6], "big")
    if end > len(raw):
        raise ValueError("IPv6 packet cut short")
    nxt, at = raw[6], 40
    while nxt in _IPV6_OPTIONS:  # the unfragmentable part
        nxt, at = raw[at], at + (raw[at + 1] + 1) * 8
    if nxt != _IPV6_FRAGMENT or at + 8 > end:
        return None
    field = int.from_bytes(raw[at + 2 : at + 4], "big")
    return raw[at + 4 : at + 8], field & 0xFFF8, bool(field & 1), raw[at], raw[at + 8 : end]


def _ipv6_upper(nxt: int, data: bytes) -> tuple[int, bytes]:
    """The upper-layer protocol and its bytes of a reassembled fragmentable part that
    starts with header ``nxt`` (options headers skipped)."""
    while nxt in _IPV6_OPTIONS:
        nxt, data = data[0], data[(data[1] + 1) * 8 :]
    return nxt, data


#: A transport segment: (IP protocol 17 or 6, src address, dst address, src port, dst port,
#: payload, TCP sequence number, TCP flags); UDP has sequence number and flags 0.
Segment = tuple[int, bytes, bytes, int, int, bytes, int, int]

_ETHERTYPE_IPV4 = 0x0800
_VLAN = frozenset({0x8100, 0x88A8, 0x9100, 0x9200})  # 802.1Q, 802.1ad, legacy QinQ
_RAW_LINKS = frozenset({101, 12, 14, 228, 229})
_IPV4 = struct.Struct("!BxHxxHxB2x4s4s")  # version/IHL, total length, flags/offset, proto
_PORTS = struct.Struct("!HH")
_TCP = struct.Struct("!HHI4xH")  # ports, sequence number, data offset/flags
# An untagged Ethernet header (RFC 894), an IPv4 header without options (RFC 791 §3.1:
# version/IHL 0x45) and the first 14 bytes of a UDP (RFC 768) or TCP (RFC 9293 §3.1)
# header: EtherType; version/IHL, total length, flags/fragment offset, protocol, source,
# destination; ports, then for TCP the sequence number and data offset/flags.
_ETH_IPV4 = struct.Struct("!12xHBxHxxHxB2x4s4sHHI4xH")


def _fast_segment(linktype: int, frame: bytes) -> Segment | None:
    """The UDP or TCP segment of an unfragmented IPv4 packet in an Ethernet (optionally
    VLAN-tagged) or raw IP frame, decoded with :mod:`struct`; ``None`` for anything else
    (or anything short or odd), which :func:`_segment` then reads with dpkt.

    What it returns is exactly what :func:`_segment` returns for the frame (dpkt's
    reading: up to two VLAN tags, the IPv4 total length cuts the payload when it is not
    0, options skipped, a UDP payload not cut by the UDP length).

    The usual frame (untagged Ethernet, IPv4 without options) has its headers read with
    one :data:`_ETH_IPV4` unpack; any other goes to :func:`_struct_segment`.
    """
    if linktype == 1 and len(frame) >= 48:
        kind, version_ihl, total, fragment, proto, src, dst, sport, dport, seq, offset_flags = (
            _ETH_IPV4.unpack_from(frame)
        )
        if kind == _ETHERTYPE_IPV4 and version_ihl == 0x45 and not fragment & 0x3FFF:
            # the IP payload is frame[34:end]
            end = 14 + total if total and 14 + total < len(frame) else len(frame)
            if proto == 17:
                if end >= 42:
                    return 17, src, dst, sport, dport, frame[42:end], 0, 0
            elif proto == 6 and end >= 54 and offset_flags >= 0x5000:  # data offset >= 20
                payload = frame[34 + ((offset_flags >> 12) << 2) : end]
                return 6, src, dst, sport, dport, payload, seq, offset_flags & 0x1FF
    return _struct_segment(linktype, frame)


def _struct_segment(linktype: int, frame: bytes) -> Segment | None:
    """:func:`_fast_segment` for any frame it reads (VLAN tags, raw IP, IP options)."""
    if linktype == 1:
        if len(frame) < 14:
            return None
        at = 14
        kind = (frame[12] << 8) | frame[13]
        if kind in _VLAN:
            for _ in range(2):  # as dpkt: a second tag only after an 802.1Q one
                if len(frame) < at + 4:
                    return None
                kind = (frame[at + 2] << 8) | frame[at + 3]
                at += 4
                if kind != 0x8100:
                    break
        if kind != _ETHERTYPE_IPV4:
            return None
    elif linktype in _RAW_LINKS:
        if not frame or frame[0] >> 4 != 4:
            return None
        at = 0
    else:
        return None
    if len(frame) < at + 20:
        return None
    version_ihl, total, fragment, proto, src, dst = _IPV4.unpack_from(frame, at)
    head = (version_ihl & 15) << 2
    if fragment & 0x3FFF or head < 20:
        return None  # a fragment (reassembled on the general path) or a bad header
    # the IP payload is frame[start:end] (read in place: only the segment's payload is
    # copied out)
    start = at + head
    end = min(at + total, len(frame)) if total else len(frame)
    if proto == 17:
        if end - start < 8:
            return None
        sport, dport = _PORTS.unpack_from(frame, start)
        return 17, src, dst, sport, dport, frame[start + 8 : end], 0, 0
    if proto == 6:
        if end - start < 20:
            return None
        sport, dport, seq, offset_flags = _TCP.unpack_from(frame, start)
        offset = (offset_flags >> 12) << 2
        if offset < 20:
            return None
        return 6, src, dst, sport, dport, frame[start + offset : end], seq, offset_flags & 0x1FF
    return None


def _link(dpkt: Any, linktype: int, frame: bytes) -> Any:
    """The IP (or IPv6) packet of a frame, the bytes of a raw IPv6 packet dpkt cannot
    decode (a fragment after the first behind options headers), or ``None``."""
    try:
        if linktype == 1:  # DLT_EN10MB; dpkt removes 802.1Q/802.1ad tags
            packet = dpkt.ethernet.Ethernet(frame).data
        elif linktype == 113:  # DLT_LINUX_SLL
            packet = dpkt.sll.SLL(frame).data
        elif linktype == 276:  # DLT_LINUX_SLL2
            packet = dpkt.sll2.SLL2(frame).data
        elif linktype in (0, 108):  # DLT_NULL, DLT_LOOP
            packet = dpkt.loopback.Loopback(frame).data
        elif linktype in _RAW_LINKS:  # raw IP (DLT_RAW; 12/14 on some BSDs)
            version = frame[0] >> 4 if frame else 0
            packet = (
                dpkt.ip.IP(frame)
                if version == 4
                else _raw_ipv6(dpkt, frame)
                if version == 6
                else None
            )
        else:  # pragma: no cover - read_capture refuses other link types
            return None
    except Exception:  # dpkt on a hostile frame may raise anything (AttributeError too)
        return None
    if isinstance(packet, dpkt.ip.IP | dpkt.ip6.IP6):
        return packet
    if isinstance(packet, bytes) and len(packet) >= 40 and packet[0] >> 4 == 6:
        return packet
    return None


def _raw_ipv6(dpkt: Any, frame: bytes) -> Any:
    """A raw IPv6 frame as dpkt decodes it, or as it is when dpkt cannot."""
    try:
        return dpkt.ip6.IP6(frame)
    except Exception:  # e.g. a later fragment behind options headers
        return frame


def _transport(
    dpkt: Any, packet: Any, frame: bytes, fragments: _Fragments
) -> tuple[Any, bytes, bytes]:
    """(UDP or TCP object or None, src address, dst address) of an IP packet in ``frame``;
    a fragment is kept until its datagram is whole."""
    if isinstance(packet, dpkt.ip.IP):
        if not (packet.mf or packet.offset):
            return packet.data, packet.src, packet.dst
        data = packet.data
        payload = data if isinstance(data, bytes) else bytes(data)
        src, dst = packet.src, packet.dst
        whole = fragments.add(
            (src, dst, packet.id, packet.p), packet.offset, bool(packet.mf), payload, packet.p
        )
    else:  # IPv6: dpkt decodes a fragment's data wrongly or not at all: read it here
        if isinstance(packet, bytes):
            raw = packet
        elif _IPV6_FRAGMENT in packet.extension_hdrs:
            start = frame.find(packet.src + packet.dst) - 8  # the fixed header's first byte
            raw = frame[start:] if start >= 0 else b""
        else:
            return packet.data, packet.src, packet.dst
        fragment = _ipv6_fragment(raw) if len(raw) >= 40 else None
        if fragment is None:
            return None, b"", b""
        src, dst = raw[8:24], raw[24:40]
        ident, offset, more, nxt, piece = fragment
        whole = fragments.add(
            (src, dst, int.from_bytes(ident, "big"), -1), offset, more, piece, nxt
        )
        if whole is not None:  # the fragmentable part may start with options headers
            proto, body = _ipv6_upper(whole[1], whole[0])
            whole = body, proto
    if whole is None:
        return None, b"", b""
    body, proto = whole
    try:
        data = dpkt.udp.UDP(body) if proto == 17 else dpkt.tcp.TCP(body) if proto == 6 else None
    except (dpkt.UnpackError, struct.error):
        return None, b"", b""
    return data, src, dst


def _segment(
    dpkt: Any,
    linktype: int,
    frame: bytes,
    fragments: _Fragments,
) -> Segment | None:
    """The UDP or TCP segment of any frame read here, with dpkt (the general path);
    ``None`` when the frame carries neither or is not yet a whole IPv4 datagram. Raises
    dpkt's errors (and ``struct.error``, ``IndexError``, ``ValueError``) for a frame dpkt
    cannot read."""
    packet = _link(dpkt, linktype, frame)
    if packet is None:
        return None
    segment, src, dst = _transport(dpkt, packet, frame, fragments)
    if isinstance(segment, dpkt.udp.UDP):
        return 17, src, dst, segment.sport, segment.dport, bytes(segment.data), 0, 0
    if isinstance(segment, dpkt.tcp.TCP):
        return (
            6,
            src,
            dst,
            segment.sport,
            segment.dport,
            bytes(segment.data),
            segment.seq,
            segment.flags,
        )
    return None


def read_capture(path: str | os.PathLike[str]) -> Iterator[RawItem]:
    """The initial INVITEs of a pcap/pcapng file as ``(packet number, Captured)`` items,
    in the order they complete; an unreadable cut or stream end as ``(packet, reason)``
    (:class:`~shakenlib.analysis.records._Unreadable`).

    Raises :class:`~shakenlib.errors.UsageError` naming the file when it is not a capture
    or uses a link type not read here.
    """
    dpkt = _dpkt()
    name = os.fspath(path)
    with open(name, "rb") as raw:
        magic = raw.read(4)
        raw.seek(0)
        handle = _Guard(raw)
        try:
            reader = dpkt.pcap.UniversalReader(handle)
        except (ValueError, dpkt.UnpackError, struct.error) as exc:
            raise UsageError("usage", f"{name}: not a pcap or pcapng capture ({exc})") from None
        linktype = reader.datalink()
        if linktype not in _LINKS:
            raise UsageError(
                "usage",
                f"{name}: link type {linktype} is not read (Ethernet, "
                "Linux cooked capture, raw IP and loopback are)",
            )
        order = _CLASSIC.get(magic)
        if magic == _PCAPNG:  # every interface with its own link type and time unit
            raw.seek(0)
            yield from _calls(dpkt, _pcapng_frames(dpkt, raw), None)
            return
        frames = (
            _classic_frames(raw, order)  # dpkt read the file header: the packets follow
            if order is not None
            else _dpkt_frames(dpkt, reader, handle)
        )
        yield from _calls(dpkt, frames, linktype)


@attrs.frozen
class _Cut:
    """Where a capture ends short: the item's line (a packet number) and the reason."""

    line: int
    reason: str


Frames = Iterator[tuple[float, bytes] | _Cut]

# libpcap files with microsecond times, by magic number as written: the byte order of
# their record headers (pcap-savefile(5); nanosecond and modified files are read by dpkt).
_CLASSIC = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">"}
#: Bytes of a libpcap file read at a time. Each block is a fresh allocation, copied once
#: more with the part of a record left from the last one; measured per packet on the
#: example day, 64 KiB blocks read faster than 256 KiB ones (0.45 against 0.75 µs for
#: UDP INVITEs; allocations from 128 KiB are mapped afresh by the C allocator) and than
#: smaller ones.
CHUNK = 1 << 16


def _classic_frames(raw: IO[bytes], order: str) -> Frames:
    """The ``(time, frame)`` of each packet of a libpcap file with microsecond times, read
    in :data:`CHUNK` blocks from after its file header; a :class:`_Cut` where it ends
    short: what :func:`_dpkt_frames` gives for the file (dpkt's reading). pcap-savefile(5)::

        record        = record header, incl_len bytes of the frame
        record header = ts_sec(32) ts_usec(32) incl_len(32) orig_len(32)  ; file byte order
    """
    unpack = struct.Struct(order + "III4x").unpack_from  # (orig_len is not needed)
    size = os.fstat(raw.fileno()).st_size
    offset = raw.tell()  # the file offset of data[0]
    data = b""
    at = number = limit = 0  # limit: len(data)
    while True:
        if limit - at < 16:
            offset += at
            data = data[at:] + raw.read(max(CHUNK, 16))
            at, limit = 0, len(data)
            if limit < 16:
                if data:  # part of a record header (dpkt: NeedData)
                    yield _Cut(
                        number,
                        f"capture cut short or corrupt after packet {number}: "
                        f"got {limit}, 16 needed at least",
                    )
                return
        seconds, micro, length = unpack(data, at)
        start = at + 16
        end = start + length
        if end > limit:
            if offset + end > size:  # the frame runs past the end of the file
                yield _Cut(number + 1, f"capture cut short in packet {number + 1}")
                return
            offset += at
            data = data[at:] + raw.read(max(CHUNK, end - limit))
            start, end, at, limit = start - at, end - at, 0, len(data)
            if end > limit:  # pragma: no cover - the file shrank while read
                yield _Cut(number + 1, f"capture cut short in packet {number + 1}")
                return
        number += 1
        yield seconds + micro / 1e6, data[start:end]
        at = end


#: The first bytes of a pcapng file: a Section Header Block's type (either byte order).
_PCAPNG = b"\x0a\x0d\x0d\x0a"
#: pcapng byte-order magic 0x1A2B3C4D as written little- and big-endian.
_PCAPNG_ORDER = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
#: Frames that each carry their interface's link type: ``(time, frame, link type)``.
LinkFrames = Iterator[tuple[float, bytes, int] | _Cut]


def _pcapng_frames(dpkt: Any, raw: IO[bytes]) -> LinkFrames:
    """The ``(time, frame, link type)`` of each packet of a pcapng file, each read with its
    own interface's link type, time unit and offset (dpkt's reader applies the first
    interface's to every packet), in every section (a new section has its own byte order
    and interfaces). dpkt reads each block; this walks them. A :class:`_Cut` where the file
    ends short or a block is corrupt. pcapng (draft-ietf-opsawg-pcapng)::

        block = type(32) total-length(32) body total-length(32)      ; section byte order
        SHB   type 0x0A0D0D0A: byte-order magic 0x1A2B3C4D, version, section length, options
        IDB   type 1: link type(16) reserved(16) snaplen(32) options  ; interface 0, 1, ...
              if_tsresol (9): 10^-n s, or 2^-n s with the high bit set; if_tsoffset (14): s
        EPB   type 6: interface(32) time high(32) time low(32) captured(32) length(32) data
        PB    type 2 (obsolete): interface(16) drops(16) time high, time low, captured ...
        SPB   type 3: a packet without interface or time (counted, not read: no time)

    Packets are numbered as Wireshark numbers them (EPB, PB and SPB).
    """
    pcapng = dpkt.pcapng
    number = 0
    order = "<"
    interfaces: list[tuple[int, float, int]] = []  # (link type, units a second, offset)
    while True:
        head = raw.read(8)
        if len(head) < 8:
            if head:
                yield _Cut(number, f"capture cut short after packet {number}")
            return
        if head[:4] == _PCAPNG:  # a Section Header Block: its byte order first
            magic = raw.read(4)
            if magic not in _PCAPNG_ORDER:
                yield _Cut(number, f"capture corrupt after packet {number}: section header")
                return
            order, interfaces = _PCAPNG_ORDER[magic], []
            (length,) = struct.unpack(order + "I", head[4:])
            skip = length - 12
        else:
            kind, length = struct.unpack(order + "II", head)
            skip = length - 8
        if length < 12 or length % 4:
            yield _Cut(number, f"capture corrupt after packet {number}: block length {length}")
            return
        body = raw.read(skip)
        if len(body) < skip:
            packet = kind in (2, 3, 6) and head[:4] != _PCAPNG
            yield _Cut(
                number + packet,
                f"capture cut short in packet {number + 1}"
                if packet
                else f"capture cut short after packet {number}",
            )
            return
        if head[:4] == _PCAPNG:
            continue
        little = order == "<"
        try:
            if kind == 1:
                idb = (
                    pcapng.InterfaceDescriptionBlockLE
                    if little
                    else pcapng.InterfaceDescriptionBlock
                )(head + body)
                interfaces.append((idb.linktype, *_time_unit(idb.opts, order)))
            elif kind in (2, 6):
                number += 1
                if kind == 6:
                    block = pcapng.EnhancedPacketBlockLE if little else pcapng.EnhancedPacketBlock
                else:
                    block = pcapng.PacketBlockLE if little else pcapng.PacketBlock
                packet_block = block(head + body)
                if packet_block.iface_id < len(interfaces):
                    link, per_second, offset = interfaces[packet_block.iface_id]
                    units = (packet_block.ts_high << 32) | packet_block.ts_low
                    yield offset + units / per_second, packet_block.pkt_data, link
            elif kind == 3:
                number += 1  # no interface, no time: not a call's packet
        except (dpkt.UnpackError, struct.error, ValueError) as exc:
            yield _Cut(number, f"capture corrupt after packet {number}: {exc}"[:200])
            return


def _time_unit(options: Any, order: str) -> tuple[float, int]:
    """(time units a second, offset in seconds) of an interface: its ``if_tsresol`` and
    ``if_tsoffset`` options (microseconds and 0 without them), read as dpkt reads them."""
    per_second, offset = 1e6, 0
    for option in options:
        if option.code == 9 and option.data:  # if_tsresol
            value = option.data[0]
            per_second = float((2 if value & 0x80 else 10) ** (value & 0x7F))
        elif option.code == 14 and len(option.data) == 8:  # if_tsoffset
            (offset,) = struct.unpack(order + "q", option.data)
    return per_second, offset


def _dpkt_frames(dpkt: Any, reader: Any, handle: _Guard) -> Frames:
    """The ``(time, frame)`` of each packet dpkt's reader reads (pcapng, nanosecond and
    modified libpcap files); a :class:`_Cut` where the file ends short or is corrupt."""
    number = 0
    iterator = iter(reader)
    while True:
        handle.boundary = True
        try:
            ts, frame = next(iterator)
        except StopIteration:
            if handle.truncated:
                yield _Cut(number, f"capture cut short after packet {number}")
            return
        except (dpkt.UnpackError, ValueError, struct.error) as exc:
            yield _Cut(number, f"capture cut short or corrupt after packet {number}: {exc}"[:200])
            return
        number += 1
        if handle.truncated:
            yield _Cut(number, f"capture cut short in packet {number}")
            return
        yield float(ts), frame


def _calls(dpkt: Any, frames: Frames | LinkFrames, linktype: int | None) -> Iterator[RawItem]:
    """The calls of ``frames``, all of link type ``linktype``, or (``None``) each of the
    link type it comes with (:func:`_pcapng_frames`)."""
    streams: collections.OrderedDict[tuple[bytes, int, bytes, int], SipStream] = (
        collections.OrderedDict()
    )
    seen: collections.OrderedDict[tuple[bytes, bytes], None] = collections.OrderedDict()
    fragments = _Fragments()
    # TLS connections on the SIPS port reported (once each)
    tls: set[tuple[tuple[bytes, int], tuple[bytes, int]]] = set()
    number = 0
    # the stream of the last TCP segment (most segments continue the stream before them)
    last_flow: tuple[bytes, int, bytes, int] | None = None
    last_stream = SipStream()
    for item in frames:
        if type(item) is _Cut:
            yield item.line, _Unreadable(item.reason)
            break
        if linktype is None:
            ts, frame, link = item  # type: ignore[misc]  # not a _Cut
        else:
            ts, frame = item  # type: ignore[misc]
            link = linktype
        number += 1
        decoded = _fast_segment(link, frame)
        if decoded is None:
            fragments.number = number
            try:
                decoded = _segment(dpkt, link, frame, fragments)
            except (dpkt.UnpackError, struct.error, IndexError, ValueError):
                decoded = None  # not an IP packet we can read: not a call
            while fragments.lost:  # INVITEs whose fragments were given up
                since, why = fragments.lost.pop(0)
                yield since, _Unreadable(why)
            if decoded is None:
                continue
        proto, src_ip, dst_ip, sport, dport, payload, seq, flags = decoded
        if proto == 17:
            # a call starts with an INVITE: everything else is dropped before any parsing
            if payload[:7] != b"INVITE " or not _START.match(payload):
                continue
            if not _first_sighting(seen, payload):
                continue
            yield (
                number,
                _captured(ts, payload, _endpoint(src_ip, sport), _endpoint(dst_ip, dport)),
            )
            continue
        flow = (src_ip, sport, dst_ip, dport)
        if flow == last_flow:
            stream = last_stream  # the most recently active stream: nothing to move
        else:
            known = streams.get(flow)
            if known is None:
                stream = streams[flow] = SipStream()
                if len(streams) > MAX_STREAMS:
                    old_flow, old = streams.popitem(last=False)
                    if old.pending:
                        yield number, _Unreadable(_incomplete(old_flow))
            else:
                stream = known
                streams.move_to_end(flow)
            last_flow, last_stream = flow, stream  # (kept: MAX_STREAMS is at least 1)
        if flags & _SYN:
            stream.syn(seq)
        if payload:
            if (
                not stream.synced
                and payload[0] in _TLS_RECORDS
                and payload[1:2] == b"\x03"  # (the major version of every TLS)
                and _SIPS_PORT in (sport, dport)
            ):
                stream.ignored = True  # encrypted: nothing to read in either direction
                connection = (min(flow[:2], flow[2:]), max(flow[:2], flow[2:]))
                if connection not in tls:
                    if len(tls) >= MAX_STREAMS:
                        tls.clear()
                    tls.add(connection)
                    yield number, _Unreadable(_encrypted(flow))
            for when, first, message in stream.add(seq, payload, ts, number):
                if not _first_sighting(seen, message):
                    continue
                yield (
                    first,
                    _captured(when, message, _endpoint(src_ip, sport), _endpoint(dst_ip, dport)),
                )
        if flags & _FIN_RST and not stream.early:
            if stream.pending:
                yield number, _Unreadable(_incomplete(flow))
            del streams[flow]
            last_flow = None
    for flow, stream in streams.items():
        if stream.pending:
            yield number, _Unreadable(_incomplete(flow))
    for since, why in fragments.unfinished():
        yield since, _Unreadable(why)


_LINKS = frozenset({0, 1, 12, 14, 101, 108, 113, 228, 229, 276})
_SYN, _FIN_RST = 0x02, 0x01 | 0x04  # TCP flags (RFC 9293 §3.1)


#: TLS record content types (RFC 8446 §5.1: change_cipher_spec, alert, handshake,
#: application_data) a TLS connection's bytes start with, and the SIPS port (RFC 3261
#: §26.2: SIP over TLS).
_TLS_RECORDS = frozenset({20, 21, 22, 23})
_SIPS_PORT = 5061


def _encrypted(flow: tuple[bytes, int, bytes, int]) -> str:
    src, sport, dst, dport = flow
    return (
        f"TLS connection {_addr(src)}:{sport} <-> {_addr(dst)}:{dport} (SIP over TLS): "
        "encrypted, its calls cannot be read; capture behind the TLS endpoint (the SBC's "
        "inside) or read the SBC's SIP message log"
    )


def _incomplete(flow: tuple[bytes, int, bytes, int]) -> str:
    src, sport, dst, dport = flow
    return (
        f"SIP message incomplete at the end of TCP stream {_addr(src)}:{sport} -> "
        f"{_addr(dst)}:{dport}"
    )


def _first_sighting(
    seen: collections.OrderedDict[tuple[bytes, bytes], None], message: bytes
) -> bool:
    """Whether ``message`` is an initial INVITE whose (Call-ID, CSeq) was not seen before
    (a retransmission is the same call); remembers it (bounded)."""
    key = _initial_invite(message)
    if key is None or key in seen:
        return False
    seen[key] = None
    if len(seen) > MAX_SEEN:
        seen.popitem(last=False)
    return True
