"""Traceback leads: verified calls grouped by (signing SPC, origid), scored and explained.

Feed :class:`Analysis` one ``(record, result)`` pair per call (a
:class:`~shakenlib.analysis.records.CallRecord` and its
:class:`~shakenlib.verify.result.VerificationResult`); ask it for :meth:`Analysis.leads`. Each
:class:`Lead` is one (SPC, origid): the signing provider and the origin identifier it
put in the PASSporT (RFC 8588), the lead a traceback request quotes (standards §7.3).
The SPC is the **signer**, not necessarily the originator (ITG 2025 observations,
standards §7.4): a downstream provider that signs its customers' traffic shows up here
under its own SPC.

Which calls go where:

* calls whose certificate was obtained (the SPC is known) go to their (SPC, origid)
  lead, passed or failed (a failed signature still names the certificate it claims);
* signed calls that failed before a certificate was obtained (malformed header, unknown
  x5u …) are summarised by error code and x5u host (:attr:`Analysis.unattributed`);
* unsigned calls (no Identity header) are summarised in :attr:`Analysis.unsigned`.

Some signers put a fresh origid on every call (origid granularity is the signer's
choice). A signer whose origids mostly carry one call or a few
(:attr:`SignerStats.per_call`) gets one signer-level lead for its small origids (at most
:data:`SMALL` calls each; ``origid`` ``None``, ``origid_per_call``); its origids with
more calls stay leads of their own. Each signer also has a row in
:meth:`Analysis.signers_table`.

Memory stays bounded by what is reported, not by the number of origids: an (SPC,
origid) group keeps its first :data:`SMALL` (16) calls as they are and gets full
statistics only when it grows past them; a signer with more than ``small_cap`` (default
8192) calls pending in such small groups folds them into its signer-level lead. (Origids
of more than 16 calls each keep full statistics each: memory grows with those.) Per
lead, distinct calling/called numbers are exact sets up to ``cap`` (default 4096) and
then a HyperLogLog sketch (:class:`HyperLogLog`, 4096 registers, ~1.6 % standard error);
samples and examples keep the few earliest; the per-hour histogram grows with the span
of the data in hours, not with the calls.

Aggregates merge exactly (:meth:`Analysis.merge`): analysing two halves of a dataset
and merging gives the analysis of the whole, because every part of the state is a
function of the *set* of calls (counts add, sets unite, sketch registers take the
maximum, small groups unite their calls, samples keep the earliest by (time, line)).
The exception is a signer that folded its pending small groups: every call is still
counted once and its totals stay exact, but which of a repeating origid's first calls
went to the signer-level lead depends on the order (such leads are flagged
``origid_partial``).

>>> import datetime as dt
>>> from shakenlib.analysis.records import CallRecord
>>> from shakenlib.verify.result import CertificateSummary, VerificationResult
>>> cert = CertificateSummary(spc="123A", subject_o="Robo Telecom LLC")
>>> t0 = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
>>> a = Analysis()
>>> for i in range(50):
...     rec = CallRecord(line=i + 1, time=t0, orig=f"1{215 + i}5552000",
...                      dest=f"1{215 + i}5553000", identity=("x",))
...     a.add(rec, VerificationResult(verstat="TN-Validation-Passed", attest="A",
...           origid="o-1", certificate=cert))
>>> lead = a.leads()[0]
>>> lead.spc, lead.origid, lead.calls, lead.distinct_orig, lead.attest["A"]
('123A', 'o-1', 50, 50, 50)
>>> "likely_improper_attestation" in lead.flags
True
>>> lead.why[0]
'50 calls from 50 distinct calling numbers under one origid (+17.0)'
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import functools
import heapq
import math
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs
import xxhash

from shakenlib.analysis.providers import Provider, ProviderDirectory
from shakenlib.analysis.records import CallRecord, UnreadableRecord
from shakenlib.verify.result import VerificationResult

__all__ = [
    "Analysis",
    "DistinctCounter",
    "HyperLogLog",
    "Lead",
    "LeadStats",
    "SampleCall",
    "SignerStats",
    "SignerSummary",
    "TracebackShortcut",
    "nanp_problem",
    "neighbour",
    "verdict",
]

#: Exact distinct sets hold up to this many values before turning into a sketch.
DEFAULT_CAP = 4096
#: Values a sketching :class:`DistinctCounter` collects before adding them in one loop.
_BATCH = 64
#: Sample calls kept per lead (the earliest by time, then line).
SAMPLES = 5
#: Unreadable records kept with their line numbers (the earliest lines); all are counted.
ERROR_SAMPLES = 100
#: Calls an (SPC, origid) group keeps as they are before it gets full statistics.
SMALL = 16
#: Edges (seconds) of the ``iat`` offset histogram: call time minus the PASSporT's
#: ``iat``. Bucket ``i`` holds offsets in ``[EDGES[i-1], EDGES[i])``; the first bucket
#: everything below ``-60`` and the last everything from ``60`` on. A verifier's window
#: is 60 s either way (RFC 8224 §6.2); a signer whose offsets drift between buckets (its
#: clock, or tokens made ahead and used later) is a signal too.
IAT_OFFSET_EDGES = (-60, -10, 0, 2, 5, 10, 30, 60)
#: The buckets' labels, in order.
IAT_OFFSET_BUCKETS = (
    "<-60s",
    "-60..-10s",
    "-10..0s",
    "0..2s",
    "2..5s",
    "5..10s",
    "10..30s",
    "30..60s",
    ">=60s",
)
#: Two calls carrying the same PASSporT (same signature) are one call seen twice unless
#: their Call-IDs or called numbers differ or they are more than this many seconds apart
#: (the freshness window): then the token was replayed.
REPLAY_WINDOW = 60
#: First sightings of PASSporTs remembered for replay detection, per analysis (each worker
#: part keeps its own): the most recent ones, about 500 bytes each with a fresh origid on
#: every call. A token replayed after this many newer tokens is missed.
TOKEN_MEMORY = 50_000
#: Replayed tokens tracked (each with its calls and first replay); past this, further
#: replayed tokens are counted in ``replayed_tokens_dropped`` only.
REPLAY_TRACKED = 10_000
#: Calls a signer keeps pending in small groups before folding them into its
#: signer-level lead (the memory bound: a few MiB per signer).
SMALL_CAP = 8192
#: Small origids (at most :data:`SMALL` calls) that make a signer "origid per call"
#: (when they are most of its origids).
PER_CALL_MIN = 10


# --------------------------------------------------------------------------------------
# Cardinality: HyperLogLog (Flajolet et al. 2007) with the small-range correction.
# --------------------------------------------------------------------------------------
#: The 64-bit hash of a sketched value: XXH3-64 (seed 0), about 7 times faster than a
#: 64-bit BLAKE2b on a phone number (a sketch needs a well-mixed hash, not a secure one).
_HASH64 = xxhash.xxh3_64_intdigest


#: ``2.0 ** -r`` for every register value ``r`` (exact: powers of two).
_INVERSE_POWERS = [2.0**-r for r in range(256)]


@functools.lru_cache(maxsize=4)
def _lane_high_bits(size: int) -> int:
    """An integer of ``size`` bytes ``0x80`` (the high bit of each register's lane)."""
    return int.from_bytes(b"\x80" * size, "big")


class HyperLogLog:
    """A mergeable distinct-count sketch: 2**p one-byte registers (default p = 12).

    Each value is hashed (XXH3, 64 bits); the first ``p`` bits choose a register, the
    register keeps the maximum position of the first 1-bit in the rest. The estimate is
    ``alpha * m**2 / sum(2**-register)``, with linear counting while many registers are
    still zero. Standard error about ``1.04 / sqrt(m)`` (1.6 % for p = 12). Merging takes
    the register-wise maximum, so a merged sketch equals the sketch of the union exactly.

    >>> h = HyperLogLog()
    >>> for i in range(20000):
    ...     h.add(f"1215{i:07d}")
    >>> abs(h.estimate() - 20000) < 20000 * 0.05
    True
    """

    __slots__ = ("p", "registers")

    def __init__(self, p: int = 12, registers: bytearray | None = None) -> None:
        if not 4 <= p <= 16:
            raise ValueError("HyperLogLog precision must be 4..16")
        self.p = p
        self.registers = registers if registers is not None else bytearray(1 << p)

    def add(self, value: str) -> None:
        """Add one value."""
        self.add_all((value,))

    def add_all(self, values: Iterable[str]) -> None:
        """Add many values (one loop: a sketch built from a set of thousands at once)."""
        registers, bits = self.registers, 64 - self.p
        mask, hash64 = (1 << bits) - 1, _HASH64
        for value in values:
            # surrogatepass: claimed numbers are taken as received; JSON allows "\ud800"
            h = hash64(value.encode("utf-8", "surrogatepass"))
            rank = bits - (h & mask).bit_length() + 1
            index = h >> bits
            if rank > registers[index]:
                registers[index] = rank

    def estimate(self) -> float:
        """The estimated number of distinct values added."""
        m = len(self.registers)
        alpha = 0.7213 / (1 + 1.079 / m)
        total = sum(map(_INVERSE_POWERS.__getitem__, self.registers))  # sum of 2**-register
        raw = alpha * m * m / total
        zeros = self.registers.count(0)
        if raw <= 2.5 * m and zeros:
            return m * math.log(m / zeros)
        return raw

    def update(self, other: HyperLogLog) -> None:
        """Merge ``other`` into this sketch (register-wise maximum).

        The registers are taken as the bytes of two big integers and compared all at once:
        a register is at most 61 (65 - p, p >= 4: below 0x80), so in each byte lane
        ``(a | 0x80) - b`` stays positive (no borrow crosses into the next lane) and keeps
        its high bit exactly when ``a >= b``; that bit, spread to the whole lane, selects
        ``a`` or ``b``.
        """
        if other.p != self.p:
            raise ValueError("cannot merge HyperLogLog sketches of different precision")
        m = len(self.registers)
        high = _lane_high_bits(m)
        a = int.from_bytes(self.registers, "big")
        b = int.from_bytes(other.registers, "big")
        a_wins = ((((a | high) - b) & high) >> 7) * 0xFF  # 0xFF in each lane where a >= b
        self.registers = bytearray((b ^ ((a ^ b) & a_wins)).to_bytes(m, "big"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HyperLogLog):
            return NotImplemented
        return self.p == other.p and self.registers == other.registers

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> tuple[int, bytes]:
        return self.p, bytes(self.registers)

    def __setstate__(self, state: tuple[int, bytes]) -> None:
        self.p, self.registers = state[0], bytearray(state[1])


class DistinctCounter:
    """Distinct values: an exact set up to ``cap`` values, then a :class:`HyperLogLog`.

    The state is a function of the set of values added (not of their order), so counters
    of two parts merge into exactly the counter of the whole.

    >>> c = DistinctCounter(cap=3)
    >>> for v in "aab":
    ...     c.add(v)
    >>> c.count(), c.exact
    (2, True)
    >>> for v in "cdef":
    ...     c.add(v)
    >>> c.count(), c.exact
    (6, False)
    """

    __slots__ = ("_pending", "cap", "hll", "values")

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self.cap = cap
        self.values: set[str] | None = set()
        self.hll: HyperLogLog | None = None
        # values not yet in the sketch: added to it in one loop, :data:`_BATCH` at a time
        self._pending: list[str] = []

    @property
    def exact(self) -> bool:
        """Whether :meth:`count` is exact (no sketch yet)."""
        return self.values is not None

    def add(self, value: str) -> None:
        """Add one value."""
        values = self.values
        if values is not None:
            values.add(value)
            if len(values) > self.cap:
                self._to_sketch()
        else:
            pending = self._pending
            pending.append(value)
            if len(pending) >= _BATCH:
                self._flush()

    def add_all(self, values: Iterable[str]) -> None:
        """Add many values: the counter :meth:`add` would give (its state is a function
        of the set of values added, not of their order)."""
        exact = self.values
        if exact is not None:
            exact.update(values)
            if len(exact) > self.cap:
                self._to_sketch()
        else:
            self._pending.extend(values)
            if len(self._pending) >= _BATCH:
                self._flush()

    def _flush(self) -> None:
        """Add the pending values to the sketch."""
        if self._pending:
            assert self.hll is not None
            self.hll.add_all(self._pending)
            self._pending = []

    def _to_sketch(self, sketch: HyperLogLog | None = None) -> None:
        """Turn the exact set into its sketch (``sketch``: that sketch, made already)."""
        assert self.values is not None
        if sketch is None:
            sketch = HyperLogLog()
            sketch.add_all(self.values)
        self.hll = sketch
        self.values = None

    def _sketch(self) -> HyperLogLog:
        """The sketch of the values added so far (the counter is left as it is)."""
        self._flush()
        if self.hll is not None:
            return HyperLogLog(self.hll.p, bytearray(self.hll.registers))
        hll = HyperLogLog()
        hll.add_all(self.values or ())
        return hll

    def count(self) -> int:
        """The number of distinct values (estimated once a sketch)."""
        if self.values is not None:
            return len(self.values)
        self._flush()
        assert self.hll is not None
        return round(self.hll.estimate())

    def update(self, other: DistinctCounter) -> None:
        """Merge ``other`` into this counter."""
        self._flush()
        other._flush()
        if other.values is not None:
            if self.values is not None:
                # one set union; the sketch (if the cap is passed) does not depend on the
                # order values were added in
                self.values |= other.values
                if len(self.values) > self.cap:
                    self._to_sketch()
                return
            assert self.hll is not None
            self.hll.add_all(other.values)
            return
        assert other.hll is not None
        if self.values is not None:
            values = self.values
            self.values = None
            self.hll = copy.deepcopy(other.hll)
            self.hll.add_all(values)
        else:
            assert self.hll is not None
            self.hll.update(other.hll)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DistinctCounter):
            return NotImplemented
        self._flush()
        other._flush()
        return (self.cap, self.values, self.hll) == (other.cap, other.values, other.hll)

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> tuple[int, set[str] | None, HyperLogLog | None]:
        self._flush()
        return self.cap, self.values, self.hll

    def __setstate__(self, state: tuple[int, set[str] | None, HyperLogLog | None]) -> None:
        self.cap, self.values, self.hll = state
        self._pending = []


# --------------------------------------------------------------------------------------
# NANP number rules
# --------------------------------------------------------------------------------------
def _national(tn: str) -> str | None:
    if len(tn) == 11 and tn[0] == "1":
        return tn[1:]
    if len(tn) == 10:
        return tn
    return None


def nanp_problem(tn: str | None) -> str | None:
    """Why a calling number cannot be a valid NANP number, or ``None``.

    A number is judged when it is 10 digits or starts with country code 1; other numbers
    (international) are not judged. Rules (NANP numbering plan, ATIS-0300115 / NANPA):

    * ``1`` followed by other than 10 digits;
    * NPA (area code) starting with 0 or 1; NPA of the form N11 (service codes 211–911);
      NPA of the form N9X (reserved for numbering-plan expansion);
    * NXX (central office code) starting with 0 or 1, or of the form N11;
    * 555-0100 … 555-0199, reserved for fictional use.

    >>> nanp_problem("12125551234") is None
    True
    >>> nanp_problem("10125551234"), nanp_problem("19115551234")
    ('NPA starts with 0 or 1', 'NPA 911 is an N11 service code')
    >>> nanp_problem("12155550142"), nanp_problem("1215555")
    ('555-01XX is reserved for fictional use', 'country code 1 but not 10 digits after it')
    >>> nanp_problem("442079460000") is None
    True
    """
    if not tn:
        return None
    return _nanp_problem(tn, _national(tn))


@functools.lru_cache(maxsize=65536)  # calling numbers repeat: the same callers, day after day
def _orig_facts(tn: str) -> tuple[str | None, str | None]:
    """(NPA-NXX block of a NANP number or ``None``, :func:`nanp_problem`) of a non-empty
    calling number: what NumberStats.add needs of it."""
    national = _national(tn)
    return national[:6] if national is not None else None, _nanp_problem(tn, national)


def _nanp_problem(tn: str, national: str | None) -> str | None:
    """:func:`nanp_problem` of a non-empty ``tn`` whose :func:`_national` part is given."""
    if national is None:
        return "country code 1 but not 10 digits after it" if tn[0] == "1" else None
    if not national.isdigit():
        return "not all digits"
    npa, nxx, line = national[:3], national[3:6], national[6:]
    if npa[0] in "01":
        return "NPA starts with 0 or 1"
    if npa[1:] == "11":
        return f"NPA {npa} is an N11 service code"
    if npa[1] == "9":
        return f"NPA {npa} (N9X) is reserved for expansion"
    if nxx[0] in "01":
        return "NXX starts with 0 or 1"
    if nxx[1:] == "11":
        return f"NXX {nxx} is an N11 service code"
    if nxx == "555" and line.startswith("01"):
        return "555-01XX is reserved for fictional use"
    return None


def verdict(verstat: str | None) -> str:
    """A verstat as one of ``passed``/``failed``/``none``/``unknown``, whatever the
    spelling (``TN-Validation-Passed-A``, ``TN-Verification-Passed``, ``No-TN-Validation``).

    >>> verdict("TN-Validation-Passed-A"), verdict("tn-validation-failed")
    ('passed', 'failed')
    >>> verdict("No-TN-Validation"), verdict("TN-Verification-Passed")
    ('none', 'passed')
    """
    text = (verstat or "").strip().lower()
    if text.startswith("no") or not text:
        return "none"
    if "passed" in text:
        return "passed"
    if "failed" in text:
        return "failed"
    return "unknown"


def neighbour(orig: str | None, dest: str | None) -> bool:
    """Whether a calling number shares NPA-NXX with the called number (neighbour spoofing).

    >>> neighbour("12155551234", "2155559876"), neighbour("12155551234", "12155561234")
    (True, False)
    """
    if not orig or not dest:
        return False
    a, b = _national(orig), _national(dest)
    return a is not None and b is not None and a[:6] == b[:6]


# --------------------------------------------------------------------------------------
# Accumulators (mutable, mergeable) and results (frozen)
# --------------------------------------------------------------------------------------
@attrs.frozen(order=True)
class SampleCall:
    """A call as a traceback request quotes it (time in UTC)."""

    time: dt.datetime
    line: int
    orig: str | None = None
    dest: str | None = None
    call_id: str | None = attrs.field(default=None, order=False)
    #: the call's own origid (in a signer-level lead, where each call has its own)
    origid: str | None = attrs.field(default=None, order=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = {
            "time": self.time.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "orig": self.orig,
            "dest": self.dest,
            "call_id": self.call_id,
            "line": self.line,
        }
        if self.origid is not None:
            out["origid"] = self.origid
        return out


def _none_first(item: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    """A sort key for tuples that may hold ``None`` where others hold a value."""
    return tuple((value is not None, value) for value in item)


def _keep_smallest(items: list[Any], new: Any, k: int) -> None:
    """Keep the ``k`` smallest distinct items of ``items`` plus ``new`` (sorted).

    Items are tuples; ``None`` sorts before any value (parts of an analysis from different
    files may hold samples equal up to a ``None``).
    """
    appended = False
    try:
        if (len(items) >= k and new >= items[-1]) or new in items:
            return
        items.append(new)
        appended = True
        items.sort()
    except TypeError:  # None against a value: the same order, with None first
        if not appended:
            if new in items or (len(items) >= k and _none_first(new) >= _none_first(items[-1])):
                return
            items.append(new)
        items.sort(key=_none_first)
    del items[k:]


def _ranked(counter: Counter[Any]) -> list[tuple[Any, int]]:
    """``counter.most_common()`` with ties in key order, not in insertion order (so the
    result depends only on the counts: merged parts rank as the whole does)."""
    return sorted(
        counter.items(),
        key=lambda kv: (-kv[1], _none_first(kv[0] if isinstance(kv[0], tuple) else (kv[0],))),
    )


def _calls(count: int) -> str:
    """'1 call', '2 calls'."""
    return f"{count} call" if count == 1 else f"{count} calls"


def _host(url: str | None) -> str | None:
    if not url:
        return None
    return _url_host(url)


@functools.lru_cache(maxsize=4096)  # a few x5u URLs carry most of the traffic
def _url_host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


#: What a call contributes to a group, beyond its numbers: (error code or ``None`` when it
#: passed, attestation or ``"?"``, certificate (subject O, subject CN, issuer) or ``None``,
#: x5u host or ``None``). Few distinct values: an :class:`Analysis` shares them.
#: (error, attest, certificate (O, CN, issuer), x5u host, iat offset bucket): what calls of
#: a group share; equal profiles are shared objects.
Profile = tuple[
    str | None, str, tuple[str | None, str | None, str | None] | None, str | None, int | None
]
#: One call as a group keeps it: (time, line, calling number, called number, Call-ID,
#: :data:`Profile`).
Call = tuple[dt.datetime, int, str | None, str | None, str | None, Profile]


def _by(profiles: Counter[Profile], index: int) -> Counter[Any]:
    """Calls by one element of their profile (``None`` and empty values left out)."""
    counts: Counter[Any] = Counter()
    for profile, n in profiles.items():
        value = profile[index]
        if value is not None and value != "":
            counts[value] += n
    return counts


def _passed(profiles: Counter[Profile]) -> int:
    """Calls whose profile says they passed verification."""
    return sum(n for profile, n in profiles.items() if profile[0] is None)


def iat_bucket(when: dt.datetime | float, iat: int | float | None) -> int | None:
    """The :data:`IAT_OFFSET_BUCKETS` index of ``when - iat`` (``None`` without an iat;
    ``when`` a datetime or a Unix timestamp).

    >>> t = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
    >>> [IAT_OFFSET_BUCKETS[iat_bucket(t, t.timestamp() - d)] for d in (-100, 1, 3, 61)]
    ['<-60s', '0..2s', '2..5s', '>=60s']
    """
    if iat is None:
        return None
    return _offset_bucket((when if isinstance(when, int | float) else when.timestamp()) - iat)


#: The :data:`IAT_OFFSET_BUCKETS` index of an offset in seconds.
_offset_bucket = functools.partial(bisect.bisect_right, IAT_OFFSET_EDGES)


def call_of(
    record: CallRecord,
    result: VerificationResult,
    profiles: dict[Profile, Profile] | None = None,
    ts: float | None = None,
) -> Call:
    """What one verified call contributes to its group (``profiles`` shares equal profiles;
    ``ts``: the record's time as a Unix timestamp, if known).

    The numbers are those the call record saw; the PASSporT's claims when it has none.
    """
    cert = result.certificate
    if ts is None:
        ts = record.time.timestamp()
    iat, x5u = result.iat, result.x5u
    profile: Profile = (
        None if result.passed else (result.error or "unknown"),
        result.attest or "?",
        (cert.subject_o, cert.subject_cn, cert.issuer) if cert is not None else None,
        _url_host(x5u) if x5u else None,
        None if iat is None else _offset_bucket(ts - iat),
    )
    if profiles is not None:
        profile = profiles.setdefault(profile, profile)
    return (
        record.time,
        record.line,
        record.orig or result.orig,
        record.dest or (result.dest[0] if result.dest else None),
        record.call_id,
        profile,
    )


#: The day number of 1970-01-01 (:meth:`datetime.date.toordinal`).
_EPOCH_DAY = dt.date(1970, 1, 1).toordinal()


def _hours(times: Sequence[dt.datetime]) -> list[int]:
    """Each time's hour since the Unix epoch, ``int(timestamp // 3600)``: from the day and
    the hour of a UTC time (every record's time: about 3 times cheaper), from the
    timestamp of any other."""
    return [
        (when.toordinal() - _EPOCH_DAY) * 24 + when.hour
        if when.tzinfo is dt.UTC
        else int(when.timestamp() // 3600)
        for when in times
    ]


def _call_key(call: Call) -> tuple[Any, ...]:
    """A total order of calls (a small group keeps its calls sorted: parts merge exactly)."""
    return (call[0], call[1], _none_first(call[2:5]), repr(call[5]))


@attrs.define
class NumberStats:
    """Calls, distinct numbers and number-pattern counts for a group of calls."""

    calls: int = 0
    orig: DistinctCounter = attrs.field(factory=DistinctCounter)
    dest: DistinctCounter = attrs.field(factory=DistinctCounter)
    orig_blocks: DistinctCounter = attrs.field(factory=DistinctCounter)
    neighbour_calls: int = 0
    invalid_orig_calls: int = 0
    invalid_orig_examples: list[tuple[str, str]] = attrs.field(factory=list)

    def add(self, orig: str | None, dest: str | None) -> None:
        """Count one call's numbers."""
        self.calls += 1
        if dest:
            self.dest.add(dest)
        if not orig:
            return
        self.orig.add(orig)
        block = self._count_orig(orig, dest)
        if block is not None:
            self.orig_blocks.add(block)

    def _count_orig(self, orig: str, dest: str | None) -> str | None:
        """Count a calling number's NANP problem and whether it calls its own NPA-NXX
        (what neighbour() and nanp_problem() would say); returns its block, if NANP."""
        block, problem = _orig_facts(orig)
        if block is not None and dest:
            called = _national(dest)
            if called is not None and called[:6] == block:
                self.neighbour_calls += 1
        if problem is not None:
            self.invalid_orig_calls += 1
            _keep_smallest(self.invalid_orig_examples, (orig, problem), 3)
        return block

    def _add_pairs(self, pairs: Sequence[tuple[str | None, str | None]]) -> None:
        """:meth:`add` for each ``(orig, dest)``, each statistic in one step."""
        self.calls += len(pairs)
        self.dest.add_all([dest for _, dest in pairs if dest])
        origs = [(orig, dest) for orig, dest in pairs if orig]
        self.orig.add_all([orig for orig, _ in origs])
        count = self._count_orig
        self.orig_blocks.add_all(
            [block for orig, dest in origs if (block := count(orig, dest)) is not None]
        )

    def update(self, other: NumberStats) -> None:
        """Merge ``other`` in."""
        self.calls += other.calls
        self.orig.update(other.orig)
        self.dest.update(other.dest)
        self.orig_blocks.update(other.orig_blocks)
        self.neighbour_calls += other.neighbour_calls
        self.invalid_orig_calls += other.invalid_orig_calls
        for item in other.invalid_orig_examples:
            _keep_smallest(self.invalid_orig_examples, item, 3)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "calls": self.calls,
            "distinct_orig": self.orig.count(),
            "distinct_dest": self.dest.count(),
            "distinct_exact": self.orig.exact and self.dest.exact,
            "orig_npa_nxx_blocks": self.orig_blocks.count(),
            "neighbour_calls": self.neighbour_calls,
            "invalid_orig_calls": self.invalid_orig_calls,
            "invalid_orig_examples": [
                {"orig": o, "problem": p} for o, p in self.invalid_orig_examples
            ],
        }


@attrs.define
class LeadStats:
    """The running aggregate of one (SPC, origid)."""

    numbers: NumberStats = attrs.field(factory=NumberStats)
    #: calls per :data:`Profile` (verdict, attestation, certificate, x5u host, iat offset
    #: bucket): one count per call, from which the counts by each are read
    profiles: Counter[Profile] = attrs.field(factory=Counter)
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    per_hour: Counter[int] = attrs.field(factory=Counter)
    #: (time, line, orig, dest, call_id, origid) of the earliest calls (origid only in a
    #: signer-level lead).
    samples: list[tuple[dt.datetime, int, str | None, str | None, str | None, str | None]] = (
        attrs.field(factory=list)
    )

    def add(self, record: CallRecord, result: VerificationResult) -> None:
        """Count one call."""
        self.add_call(call_of(record, result))

    def add_call(self, call: Call, origid: str | None = None, ts: float | None = None) -> None:
        """Count one call given as a :data:`Call` tuple (see :func:`call_of`); ``origid``
        is kept with the samples (a signer-level lead's calls each have their own); ``ts``:
        the call's time as a Unix timestamp, if known."""
        when, line, orig, dest, call_id, profile = call
        self.numbers.add(orig, dest)
        self.profiles[profile] += 1
        if self.first_seen is None or when < self.first_seen:
            self.first_seen = when
        if self.last_seen is None or when > self.last_seen:
            self.last_seen = when
        self.per_hour[int((when.timestamp() if ts is None else ts) // 3600)] += 1
        samples = self.samples
        if len(samples) < SAMPLES or when <= samples[-1][0]:  # else it cannot be kept
            _keep_smallest(samples, (when, line, orig, dest, call_id, origid), SAMPLES)

    @classmethod
    def of_calls(cls, calls: Sequence[Call]) -> LeadStats:
        """The statistics of some calls."""
        stats = cls()
        stats._add_calls(calls, (None,) * len(calls))
        return stats

    def _add_calls(self, calls: Sequence[Call], origids: Sequence[str | None]) -> None:
        """:meth:`add_call` for each call with its origid, each statistic in one step (a
        fold of many small groups, a promotion)."""
        if not calls:
            return
        self.numbers._add_pairs([(call[2], call[3]) for call in calls])
        self.profiles.update([call[5] for call in calls])
        times = [call[0] for call in calls]
        self._seen(min(times), max(times))
        self.per_hour.update(_hours(times))
        samples = self.samples
        for (when, line, orig, dest, call_id, _), origid in zip(calls, origids, strict=True):
            if len(samples) < SAMPLES or when <= samples[-1][0]:  # else it cannot be kept
                _keep_smallest(samples, (when, line, orig, dest, call_id, origid), SAMPLES)

    def _seen(self, first: dt.datetime, last: dt.datetime) -> None:
        """Widen the span of the calls' times to take in ``first`` .. ``last``."""
        if self.first_seen is None or first < self.first_seen:
            self.first_seen = first
        if self.last_seen is None or last > self.last_seen:
            self.last_seen = last

    @property
    def passed(self) -> int:
        """Calls that passed verification."""
        return _passed(self.profiles)

    @property
    def failed(self) -> Counter[str]:
        """Failed calls by error code."""
        return _by(self.profiles, 0)

    @property
    def attest(self) -> Counter[str]:
        """Calls by attestation level (``?`` for none)."""
        return _by(self.profiles, 1)

    @property
    def certificates(self) -> Counter[tuple[str | None, str | None, str | None]]:
        """Calls by certificate (subject O, subject CN, issuer)."""
        return _by(self.profiles, 2)

    @property
    def x5u_hosts(self) -> Counter[str]:
        """Calls by x5u host."""
        return _by(self.profiles, 3)

    @property
    def iat_offsets(self) -> Counter[int]:
        """Calls per :data:`IAT_OFFSET_BUCKETS` index."""
        return _by(self.profiles, 4)

    def update(self, other: LeadStats) -> None:
        """Merge ``other`` in."""
        self.numbers.update(other.numbers)
        self.profiles.update(other.profiles)
        if other.first_seen is not None and other.last_seen is not None:
            self._seen(other.first_seen, other.last_seen)
        self.per_hour.update(other.per_hour)
        for sample in other.samples:
            _keep_smallest(self.samples, sample, SAMPLES)


_NO_ORIGID = "\x00(none)"  # how a missing origid is counted among distinct origids


@attrs.define
class SignerStats:
    """The running aggregate of one signer (SPC): counts, distinct origids, small groups.

    ``small`` holds the (SPC, origid) groups of at most :data:`SMALL` calls as their
    calls (sorted); a group that grows past it gets full :class:`LeadStats` in
    :attr:`Analysis.leads_by_key`. When more than ``small_cap`` calls are pending there
    (a signer that puts a fresh origid on every call), they are folded into ``spilled``,
    the signer-level statistics, so memory stays bounded by the cap, not by the origids.
    """

    calls: int = 0
    #: calls per :data:`Profile`, from which the counts by verdict and attestation are read
    profiles: Counter[Profile] = attrs.field(factory=Counter)
    origids: DistinctCounter = attrs.field(factory=DistinctCounter)
    small: dict[str | None, list[Call]] = attrs.field(factory=dict)
    #: calls in ``small``
    pending: int = 0
    spilled: LeadStats | None = None
    spills: int = 0
    #: folds by a :meth:`Analysis.fold` plan, not yet settled (see :meth:`Analysis.settle`)
    folds: int = 0
    #: origids that grew past :data:`SMALL` calls after a spill (calls of theirs made
    #: before may be counted in ``spilled``)
    after_spill: set[str | None] = attrs.field(factory=set)

    def count(self, call: Call, origid: str | None) -> None:
        """Count one call in the signer's totals."""
        self.calls += 1
        self.profiles[call[5]] += 1
        self.origids.add(_NO_ORIGID if origid is None else origid)

    @property
    def passed(self) -> int:
        """Calls that passed verification."""
        return _passed(self.profiles)

    @property
    def failed(self) -> int:
        """Calls that failed verification."""
        return self.calls - self.passed

    @property
    def attest(self) -> Counter[str]:
        """Calls by attestation level (``?`` for none)."""
        return _by(self.profiles, 1)

    @property
    def subjects(self) -> Counter[str | None]:
        """Calls by certificate subject O."""
        counts: Counter[str | None] = Counter()
        for profile, n in self.profiles.items():
            counts[profile[2][0] if profile[2] is not None else None] += n
        return counts

    def spill(self, *, planned: bool = False) -> None:
        """Fold every pending small group into the signer-level statistics (``planned``:
        by a fold plan, counted in :attr:`folds`, else in :attr:`spills`)."""
        spilled = self.spilled
        if spilled is None:
            spilled = self.spilled = LeadStats()
        small = self.small
        spilled._add_calls(
            [call for calls in small.values() for call in calls],
            [origid for origid, calls in small.items() for _ in calls],
        )
        self.small = {}
        self.pending = 0
        if planned:
            self.folds += 1
        else:
            self.spills += 1

    def update_counts(self, other: SignerStats) -> None:
        """Merge ``other``'s totals, distinct origids and spilled statistics in."""
        self.calls += other.calls
        self.profiles.update(other.profiles)
        self.origids.update(other.origids)
        if other.spilled is not None:
            if self.spilled is None:
                self.spilled = LeadStats()
            self.spilled.update(other.spilled)
        self.spills += other.spills
        self.folds += other.folds
        self.after_spill |= other.after_spill

    @property
    def per_call(self) -> bool:
        """Whether the signer puts a fresh origid on every call, or every few calls: it
        overflowed its small groups, or at least :data:`PER_CALL_MIN` of its origids carry
        at most :data:`SMALL` calls and they are most of its origids."""
        return _per_call(self.spills + self.folds, len(self.small), self.origids)


def _per_call(spills: int, small: int, origids: DistinctCounter) -> bool:
    """:attr:`SignerStats.per_call` of a signer with ``spills`` folds, ``small`` small
    origids and these distinct origids."""
    return bool(spills) or (small >= PER_CALL_MIN and 2 * small > origids.count())


#: What :meth:`Analysis.survey` tells of one signer of a part: its spills, its distinct
#: origids, the sizes of its small groups, its origids with full statistics, and the
#: sketch of its distinct origids while they are still an exact set of more than
#: :data:`SURVEY_SKETCH_MIN` (hashed in the part, so that the plan does not hash them).
SignerSurvey = tuple[
    int, DistinctCounter, dict[str | None, int], set[str | None], HyperLogLog | None
]
#: A part's exact set of distinct origids larger than this goes to the survey with its
#: sketch too (a union of parts can pass :data:`DEFAULT_CAP` only when one of up to 8
#: parts holds more than this; with more parts the plan hashes the rest itself).
SURVEY_SKETCH_MIN = DEFAULT_CAP // 8


@attrs.frozen
class FoldPlan:
    """A fold plan (:meth:`Analysis.fold_plan`) for the parts of one dataset.

    ``fold``: the origid-per-call signers, each with the small origids of its that must
    keep their calls (more than :data:`SMALL` calls, or full statistics, in the parts
    taken together). ``sketch``: the signers whose distinct origids are more than their
    counter's cap in the parts taken together; each part turns its exact set of them
    into a sketch before the merge (the same merged sketch, hashed in the parts).
    """

    fold: Mapping[str, frozenset[str | None]] = attrs.field(factory=dict)
    sketch: frozenset[str] = frozenset()


def _not_small(parts: list[dict[str | None, int]]) -> set[str | None]:
    """The origids of some parts' small groups (each of at most :data:`SMALL` calls) that
    have more than :data:`SMALL` calls in the parts together: only an origid in two parts
    or more can, so only those are added up (the rest is set arithmetic)."""
    seen: set[str | None] = set()
    shared: set[str | None] = set()
    for part in parts:
        shared |= seen.intersection(part)
        seen.update(part)
    return {o for o in shared if sum(part.get(o, 0) for part in parts) > SMALL}


def _union_of(counters: list[tuple[DistinctCounter, HyperLogLog | None]]) -> DistinctCounter:
    """The merged counter of some parts' counters, each with the sketch of its exact set
    when the survey sent one (used instead of hashing the set again)."""
    cap = counters[0][0].cap
    exact = [counter.values for counter, _ in counters if counter.values is not None]
    merged = DistinctCounter(cap)
    if len(exact) == len(counters):
        union: set[str] = set().union(*exact)
        if len(union) <= cap:
            merged.values = union
            return merged
    merged._to_sketch()
    for counter, sketch in counters:
        part = counter
        if sketch is not None and counter.exact:  # its sketch, made by its part already
            part = DistinctCounter(cap)
            part._to_sketch(sketch)
        merged.update(part)
    return merged


@attrs.frozen
class TracebackShortcut:
    """What a traceback request to the signer needs.

    ``role`` is always "signer": the SPC signed the calls; it is the originator only if
    the attestation is honest (A/B claim a customer relationship, C only a gateway).
    """

    spc: str | None
    provider: str | None
    origid: str | None
    attest: str | None
    ask: str
    calls: tuple[SampleCall, ...]
    role: str = "signer (not necessarily the originating provider)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "role": self.role,
            "spc": self.spc,
            "provider": self.provider,
            "origid": self.origid,
            "attest": self.attest,
            "ask": self.ask,
            "calls": [c.to_dict() for c in self.calls],
        }


@attrs.frozen
class Lead:
    """One (signing SPC, origid) with its signals, score and explanation."""

    spc: str | None
    origid: str | None
    provider: Provider
    calls: int
    passed: int
    failed: dict[str, int]
    attest: dict[str, int]
    distinct_orig: int
    distinct_dest: int
    distinct_exact: bool
    orig_blocks: int
    neighbour_calls: int
    invalid_orig_calls: int
    invalid_orig_examples: tuple[tuple[str, str], ...]
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    peak_per_hour: int
    peak_hour: dt.datetime | None
    certificates: tuple[dict[str, Any], ...]
    x5u_hosts: dict[str, int]
    samples: tuple[SampleCall, ...]
    score: float
    why: tuple[str, ...]
    flags: tuple[str, ...]
    traceback: TracebackShortcut
    #: a signer-level lead: the signer's small origids taken together (``origid``
    #: is ``None``; see :attr:`SignerStats.per_call`)
    origid_per_call: bool = False
    #: distinct origids of the signer (for a signer-level lead), else 1
    distinct_origids: int = 1
    #: calls per ``iat`` offset bucket (:data:`IAT_OFFSET_BUCKETS`; call time - iat)
    iat_offsets: dict[str, int] = attrs.field(factory=dict)
    #: PASSporTs of this lead seen on more than one call (replayed), and the calls that
    #: carried them
    replayed_tokens: int = 0
    replay_calls: int = 0
    #: calls per hour: (hours since the epoch, calls), in time order (for charts)
    per_hour: tuple[tuple[int, int], ...] = attrs.field(default=(), repr=False)

    def __repr__(self) -> str:
        return (
            f"<Lead spc={self.spc!r} origid={self.origid!r} calls={self.calls} score={self.score}>"
        )

    def _repr_html_(self) -> str:
        """A card for notebooks: facts, reasons, the traceback ask and calls per hour."""
        from shakenlib.analysis.report import lead_card_html

        return lead_card_html(self)

    @property
    def neighbour_share(self) -> float:
        """Share of calls whose calling number shares NPA-NXX with the called number."""
        return self.neighbour_calls / self.calls if self.calls else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (one entry of ``analyze --json`` ``leads``)."""
        return {
            **_signer_fields(self.spc, self.provider),
            "origid": self.origid,
            "origid_per_call": self.origid_per_call,
            "distinct_origids": self.distinct_origids,
            "calls": self.calls,
            "passed": self.passed,
            "failed": dict(self.failed),
            "attest": dict(self.attest),
            "distinct_orig": self.distinct_orig,
            "distinct_dest": self.distinct_dest,
            "distinct_exact": self.distinct_exact,
            "orig_npa_nxx_blocks": self.orig_blocks,
            "neighbour_calls": self.neighbour_calls,
            "neighbour_share": round(self.neighbour_share, 4),
            "invalid_orig_calls": self.invalid_orig_calls,
            "invalid_orig_examples": [
                {"orig": o, "problem": p} for o, p in self.invalid_orig_examples
            ],
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "peak_per_hour": self.peak_per_hour,
            "peak_hour": _iso(self.peak_hour),
            "certificates": list(self.certificates),
            "x5u_hosts": dict(self.x5u_hosts),
            "samples": [s.to_dict() for s in self.samples],
            "score": self.score,
            "why": list(self.why),
            "flags": list(self.flags),
            "traceback": self.traceback.to_dict(),
            "iat_offsets": dict(self.iat_offsets),
            "replayed_tokens": self.replayed_tokens,
            "replay_calls": self.replay_calls,
        }


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


_ASK = {
    "A": "A (full): the signer claims it knows the customer and the customer's right to "
    "the calling number; ask it to identify the customer behind this origid",
    "B": "B (partial): the signer claims it knows the customer; ask it to identify the "
    "customer behind this origid",
    "C": "C (gateway): the signer only claims to be the entry point; ask it for the "
    "upstream provider it received these calls from",
}


def _score(
    stats: LeadStats, signer: SignerStats | None = None, replays: tuple[int, int] = (0, 0)
) -> tuple[float, list[str], list[str]]:
    """The documented score (see docs/investigating.md): points with their reasons.

    ``signer``: the lead is that signer's small origids taken together (the same
    points as the same calls under one origid; the reasons say so).
    """
    n = stats.numbers
    calls = n.calls
    distinct = n.orig.count()
    approx = "" if n.orig.exact else "~"
    volume = min(1.0, math.log10(calls) / 3) if calls > 1 else 0.0  # 1 call 0, 1000+ 1
    diversity = min(1.0, distinct / calls) if calls else 0.0
    why: list[str] = []
    flags: list[str] = []
    score = 0.0

    under = "one origid"
    if signer is not None:
        origids = signer.origids.count()
        flags.append("origid_per_call")
        under = "one signer's per-call origids"
        why.append(
            f"origid per call: the signer put {'' if signer.origids.exact else '~'}"
            f"{origids} distinct origids on {signer.calls} calls "
            f"({origids / signer.calls:.2f} per call), so its origids of at most "
            f"{SMALL} calls are analysed together as one signer-level lead "
            "(origid null)"
        )
    explained = len(why)
    points = 30 * diversity * volume
    if points >= 0.05:
        score += points
        why.append(
            f"{calls} calls from {approx}{distinct} distinct calling numbers under "
            f"{under} (+{points:.1f})"
        )
    a_calls = stats.attest.get("A", 0)
    a_share = a_calls / calls if calls else 0.0
    blocks = n.orig_blocks.count()
    if a_share >= 0.5 and distinct >= 20 and diversity >= 0.5 and blocks >= 10:
        points = 25 * a_share
        score += points
        flags.append("likely_improper_attestation")
        why.append(
            f"A-attested: {a_calls} of {calls} calls from {approx}{distinct} calling "
            f"numbers in {blocks} NPA-NXX blocks; a customer's own numbers sit in a "
            f"few blocks, so full attestation of these suggests improper attestation "
            f"(+{points:.1f})"
        )
    if n.neighbour_calls:
        share = n.neighbour_calls / calls
        points = 20 * share * volume
        if share >= 0.2:
            flags.append("neighbour_spoofing")
        score += points
        why.append(
            f"{_calls(n.neighbour_calls)} ({share:.0%}) from a number in the called "
            f"number's own NPA-NXX (neighbour spoofing pattern) (+{points:.1f})"
        )
    if n.invalid_orig_calls:
        share = n.invalid_orig_calls / calls
        points = 15 * share * max(volume, 0.3)
        flags.append("invalid_calling_numbers")
        score += points
        example = n.invalid_orig_examples[0]
        why.append(
            f"{_calls(n.invalid_orig_calls)} from calling numbers that cannot be valid "
            f"NANP numbers, e.g. {example[0]} ({example[1]}) (+{points:.1f})"
        )
    tokens, replay_calls = replays
    if tokens:
        share = min(1.0, replay_calls / calls) if calls else 0.0
        points = 20 * share
        flags.append("replayed_passport")
        score += points
        why.append(
            f"{tokens} PASSporT{'s' if tokens != 1 else ''} of this lead replayed: the "
            f"same signature on {replay_calls} calls with other Call-IDs, called "
            f"numbers or more than {REPLAY_WINDOW} s apart (+{points:.1f})"
        )
    failed = sum(stats.failed.values())
    if failed:
        share = failed / calls
        points = 10 * share
        flags.append("failed_verification")
        score += points
        codes = ", ".join(f"{code} {count}" for code, count in _ranked(stats.failed)[:3])
        why.append(f"{_calls(failed)} failed verification ({codes}) (+{points:.1f})")
    if len(why) == explained:
        why.append(f"{calls} calls from {approx}{distinct} calling numbers; no suspicious pattern")
    return round(score, 1), why, flags


@attrs.frozen
class SignerSummary:
    """One row of the signers table: a signing SPC's share of the traffic and how it uses
    origids."""

    spc: str
    provider: Provider
    calls: int
    passed: int
    failed: int
    distinct_origids: int
    distinct_origids_exact: bool
    origid_per_call: bool
    attest: dict[str, int]
    share: float

    @property
    def origids_per_call(self) -> float:
        """Distinct origids / calls (1.0: a fresh origid on every call)."""
        return self.distinct_origids / self.calls if self.calls else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (one entry of ``analyze --json`` ``signers``)."""
        return {
            **_signer_fields(self.spc, self.provider),
            "calls": self.calls,
            "passed": self.passed,
            "failed": self.failed,
            "distinct_origids": self.distinct_origids,
            "distinct_origids_exact": self.distinct_origids_exact,
            "origids_per_call": round(self.origids_per_call, 4),
            "origid_per_call": self.origid_per_call,
            "attest": dict(self.attest),
            "share": round(self.share, 4),
        }


def _signer_fields(spc: str | None, provider: Provider) -> dict[str, Any]:
    """The signer's fields that a lead and a signers-table row begin with in JSON."""
    return {
        "spc": spc,
        "provider": provider.name,
        "provider_source": provider.source,
        "itg_member": provider.itg_member,
    }


def _token_key(result: VerificationResult) -> str | None:
    """A key for the call's shaken PASSporT: the tail of its signature (ECDSA signatures
    are random, so 16 base64url characters, 96 bits, tell tokens apart)."""
    for identity in result.identities:
        token = identity.token
        if token and identity.ppt == "shaken":
            return token[-16:]
    return None


def _packed(record: CallRecord, ts: float) -> int:
    """Time (``ts``, whole seconds), called number and Call-ID of a call in one int: what
    tells two calls carrying the same PASSporT apart (CRC-32 of the texts; 0 for none)."""
    dest = zlib.crc32(record.dest.encode()) if record.dest else 0
    call_id = zlib.crc32(record.call_id.encode("utf-8", "replace")) if record.call_id else 0
    return (int(ts) << 64) | (dest << 32) | call_id


def _other_call(a: int, b: int) -> bool:
    """Whether two packed sightings are different calls: other Call-IDs (when both have
    one), other called numbers, or more than :data:`REPLAY_WINDOW` seconds apart."""
    if abs((a >> 64) - (b >> 64)) > REPLAY_WINDOW:
        return True
    if (a >> 32) & 0xFFFFFFFF != (b >> 32) & 0xFFFFFFFF:
        return True
    ca, cb = a & 0xFFFFFFFF, b & 0xFFFFFFFF
    return bool(ca and cb and ca != cb)


#: A lead before it is built: (spc, origid, statistics, the signer of a signer-level lead)
_Candidate = tuple[str, str | None, LeadStats, SignerStats | None]


@attrs.define
class Analysis:
    """Running totals and leads of a batch of verified calls (mergeable).

    :meth:`add` one call at a time (or :meth:`add_error` for an unreadable record);
    :meth:`merge`/:meth:`update` combine partial analyses; :meth:`leads` ranks;
    :meth:`signers_table` summarises each signer.

    Each call is counted in its signer's :class:`SignerStats`; an (SPC, origid) group
    keeps its first :data:`SMALL` calls as they are (in :attr:`SignerStats.small`) and
    gets full :class:`LeadStats` (in :attr:`leads_by_key`) when it grows past them.
    ``small_cap``: small groups a signer keeps pending before they are folded into its
    signer-level lead (memory bound).
    """

    calls: int = 0
    passed: int = 0
    failed: int = 0
    unsigned: int = 0
    unreadable: int = 0
    failed_by_error: Counter[str] = attrs.field(factory=Counter)
    leads_by_key: dict[tuple[str, str | None], LeadStats] = attrs.field(factory=dict)
    signers: dict[str, SignerStats] = attrs.field(factory=dict)
    unsigned_numbers: NumberStats = attrs.field(factory=NumberStats)
    unattributed: Counter[str] = attrs.field(factory=Counter)
    unattributed_hosts: Counter[str] = attrs.field(factory=Counter)
    errors: list[tuple[int, str, str]] = attrs.field(factory=list)
    #: Calls with an upstream verdict (``verstat=``/``attest=`` columns) compared with ours.
    upstream_compared: int = 0
    #: Disagreements with the upstream verdict, by kind (``verstat passed / ours failed``).
    upstream_disagree: Counter[str] = attrs.field(factory=Counter)
    #: (line, source, kind) of the earliest disagreements.
    upstream_examples: list[tuple[int, str, str]] = attrs.field(factory=list)
    #: Calls whose record numbers were read as national numbers (``tn_national``).
    national: int = 0
    #: (line, source, message) of the earliest records whose verification raised (a
    #: shakenlib defect: ``internal_error``); they are counted as failed calls too.
    internal_errors: list[tuple[int, str, str]] = attrs.field(factory=list)
    #: replayed PASSporTs by token key: [spc, origid, calls, first time, last time] (Unix
    #: seconds over every call that carried it)
    replays: dict[str, list[Any]] = attrs.field(factory=dict)
    #: replayed tokens past :data:`REPLAY_TRACKED` (counted, not tracked)
    replayed_tokens_dropped: int = 0
    #: the latest first sightings of PASSporTs (:data:`TOKEN_MEMORY`): token key ->
    #: (packed time/called number/Call-ID, spc, origid); order-dependent, so not compared
    _tokens: dict[str, tuple[int, str, str | None]] = attrs.field(
        factory=dict, eq=False, repr=False
    )
    small_cap: int = attrs.field(default=SMALL_CAP, eq=False)
    _profiles: dict[Profile, Profile] = attrs.field(factory=dict, eq=False, repr=False)
    #: Where the calls came from (:class:`shakenlib.analysis.frames.Origin`: the sources,
    #: the verifier settings, the provider directory), set by :func:`shakenlib.analyze`;
    #: :meth:`calls_frame` re-reads it. ``None`` for an analysis built call by call.
    origin: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def iat_offsets(self) -> Counter[int]:
        """Signed, attributed calls per :data:`IAT_OFFSET_BUCKETS` index (call time - iat)."""
        counts: Counter[int] = Counter()
        for signer in self.signers.values():
            counts.update(_by(signer.profiles, 4))
        return counts

    def __repr__(self) -> str:
        return (
            f"<Analysis calls={self.calls} passed={self.passed} failed={self.failed} "
            f"unsigned={self.unsigned} unreadable={self.unreadable} "
            f"leads={self.leads_total()}>"
        )

    # --- notebook and report (pandas/matplotlib are imported by those modules only) --
    def leads_frame(self, top: int | None = None) -> Any:
        """The leads as a pandas DataFrame, one flat row each, most suspicious first
        (see :func:`shakenlib.analysis.frames.leads_frame` for the columns)."""
        from shakenlib.analysis.frames import leads_frame

        return leads_frame(self, top=top)

    def signers_frame(self) -> Any:
        """The signers table as a pandas DataFrame
        (:func:`~shakenlib.analysis.frames.signers_frame`)."""
        from shakenlib.analysis.frames import signers_frame

        return signers_frame(self)

    def calls_frame(self, lead: Lead) -> Any:
        """One lead's calls as a pandas DataFrame, read again from the input
        (:func:`~shakenlib.analysis.frames.calls_frame`); needs :attr:`origin`."""
        from shakenlib.analysis.frames import calls_frame

        return calls_frame(self, lead)

    def to_html(self, top: int | None = 100) -> str:
        """The self-contained HTML report (:func:`shakenlib.analysis.report.render_html`)."""
        from shakenlib.analysis.report import render_html

        return render_html(self, None, top=top)

    def _repr_html_(self) -> str:
        from shakenlib.analysis.report import analysis_html

        return analysis_html(self)

    def add(self, record: CallRecord, result: VerificationResult) -> None:
        """Count one verified call."""
        self.calls += 1
        if record.upstream_verstat is not None or record.upstream_attest is not None:
            self._compare_upstream(record, result)
        if record.findings and any(f.code == "tn_national" for f in record.findings):
            self.national += 1
        if not record.identity or (result.error == "identity_missing" and not result.passed):
            self.unsigned += 1
            self.unsigned_numbers.add(record.orig, record.dest)
            return
        if result.passed:
            self.passed += 1
        else:
            self.failed += 1
            self.failed_by_error[result.error or "unknown"] += 1
            if result.error == "internal_error":
                _keep_smallest(
                    self.internal_errors,
                    (record.line, record.source or "", result.message or ""),
                    ERROR_SAMPLES,
                )
        spc = result.spc
        if spc is None:
            self.unattributed[result.error or "unknown"] += 1
            host = _host(result.x5u)
            if host:
                self.unattributed_hosts[host] += 1
            return
        ts = record.time.timestamp()
        call = call_of(record, result, self._profiles, ts)
        origid = result.origid
        token = _token_key(result)
        if token is not None:
            self._sighting(token, (_packed(record, ts), spc, origid))
        signer = self.signers.get(spc)
        if signer is None:
            signer = self.signers[spc] = SignerStats()
        signer.count(call, origid)
        stats = self.leads_by_key.get((spc, origid))
        if stats is not None:
            stats.add_call(call, ts=ts)
            return
        small = signer.small
        calls = small.get(origid)
        signer.pending += 1
        if calls is None:
            small[origid] = [call]
        else:
            calls.append(call)
            calls.sort(key=_call_key)
            if len(calls) > SMALL:
                self._promote(spc, signer, origid)
                return
        if signer.pending > self.small_cap:
            signer.spill()

    def _sighting(self, token: str, seen: tuple[int, str, str | None]) -> None:
        """Remember a PASSporT's first call; a later different call is a replay (a new
        replay entry counts that first call too)."""
        first = self._tokens.get(token)
        if first is None:
            tokens = self._tokens
            tokens[token] = seen
            if len(tokens) > TOKEN_MEMORY:
                del tokens[next(iter(tokens))]  # the oldest first sighting
        elif _other_call(first[0], seen[0]):
            when, first_when = seen[0] >> 64, first[0] >> 64
            calls = 1 if token in self.replays else 2
            self._add_replay(
                token, seen[1], seen[2], calls, min(when, first_when), max(when, first_when)
            )

    def _merge_sightings(
        self, theirs: dict[str, tuple[int, str, str | None]], take: bool = False
    ) -> None:
        """:meth:`_sighting` for each of another part's first sightings, in their order.

        While no sighting has to be forgotten (:data:`TOKEN_MEMORY`), the order of
        insertion does not change what is found: the tokens both parts saw are looked at
        one by one and the rest are added in one step."""
        mine = self._tokens
        if len(mine) + len(theirs) > TOKEN_MEMORY:
            for token, seen in theirs.items():
                self._sighting(token, seen)
            return
        if not mine and take:
            self._tokens = theirs
            return
        both = theirs.keys() & mine.keys()
        if both:
            kept = {token: mine[token] for token in both}
            for token, seen in theirs.items():
                if token in both:
                    self._sighting(token, seen)
            mine.update(theirs)
            mine.update(kept)  # (a key already there keeps its place)
        else:
            mine.update(theirs)

    def _add_replay(
        self, token: str, spc: str, origid: str | None, calls: int, low: int, high: int
    ) -> None:
        """Add ``calls`` calls of a replayed token seen from ``low`` to ``high`` (Unix
        seconds); past :data:`REPLAY_TRACKED` tokens a new one is only counted."""
        entry = self.replays.get(token)
        if entry is None:
            if len(self.replays) >= REPLAY_TRACKED:
                self.replayed_tokens_dropped += 1
                return
            self.replays[token] = [spc, origid, calls, low, high]
            return
        entry[2] += calls
        entry[3], entry[4] = min(entry[3], low), max(entry[4], high)

    def _replays_by_lead(self) -> dict[tuple[str, str | None], tuple[int, int]]:
        """(replayed tokens, their calls) per lead key (signer-level leads: origid None)."""
        out: dict[tuple[str, str | None], tuple[int, int]] = {}
        for spc, origid, calls, _, _ in self.replays.values():
            signer = self.signers.get(spc)
            key = (spc, origid)
            if key not in self.leads_by_key and signer is not None and signer.per_call:
                key = (spc, None)
            tokens, carried = out.get(key, (0, 0))
            out[key] = (tokens + 1, carried + calls)
        return out

    def _promote(self, spc: str, signer: SignerStats, origid: str | None) -> LeadStats:
        """Give a small group full statistics."""
        calls = signer.small.pop(origid)
        signer.pending -= len(calls)
        stats = self.leads_by_key[(spc, origid)] = LeadStats.of_calls(calls)
        if signer.spills:
            signer.after_spill.add(origid)
        return stats

    def _compare_upstream(self, record: CallRecord, result: VerificationResult) -> None:
        """Count where the carrier's own verdict differs from ours."""
        self.upstream_compared += 1
        kinds = []
        if record.upstream_verstat is not None:
            theirs, ours = verdict(record.upstream_verstat), verdict(result.verstat)
            if theirs != ours:
                kinds.append(f"verstat {theirs} / ours {ours}")
        if record.upstream_attest is not None:
            theirs = record.upstream_attest.strip().upper()[:1] or "-"
            ours = (result.attest or "-").upper()
            if theirs != ours:
                kinds.append(f"attest {theirs} / ours {ours}")
        for kind in kinds:
            self.upstream_disagree[kind] += 1
            _keep_smallest(
                self.upstream_examples, (record.line, record.source or "", kind), ERROR_SAMPLES
            )

    def add_error(self, error: UnreadableRecord) -> None:
        """Count one unreadable record (the earliest lines are kept with their reasons)."""
        self.unreadable += 1
        _keep_smallest(self.errors, (error.line, error.reason, error.source or ""), ERROR_SAMPLES)

    def add_all(
        self,
        pairs: Iterable[tuple[CallRecord, VerificationResult] | UnreadableRecord],
    ) -> Analysis:
        """Add many ``(record, result)`` pairs and errors; returns ``self``."""
        for item in pairs:
            if isinstance(item, UnreadableRecord):
                self.add_error(item)
            else:
                self.add(*item)
        return self

    def update(self, other: Analysis, *, take: bool = False) -> None:
        """Merge ``other`` into this analysis (in place).

        ``take=True``: ``other`` is not used afterwards (e.g. a part just received from a
        worker), so its leads are moved in rather than copied.
        """
        # A repeating origid with full statistics on one side only may have calls of its
        # folded into the other side's signer-level lead (a spill): flag its lead.
        partial = [
            key
            for a, b in ((self, other), (other, self))
            for key in b.leads_by_key
            if key not in a.leads_by_key and (s := a.signers.get(key[0])) is not None and s.spills
        ]
        self.calls += other.calls
        self.passed += other.passed
        self.failed += other.failed
        self.unsigned += other.unsigned
        self.unreadable += other.unreadable
        self.failed_by_error.update(other.failed_by_error)
        for spc, theirs in other.signers.items():
            signer = self.signers.get(spc)
            if signer is None:
                signer = self.signers[spc] = SignerStats()
            signer.update_counts(theirs)
        for key, stats in other.leads_by_key.items():
            mine = self.leads_by_key.get(key)
            if mine is None:
                signer = self.signers.setdefault(key[0], SignerStats())
                if key[1] in signer.small:  # a small group here, full there
                    mine = self._promote(key[0], signer, key[1])
                else:
                    self.leads_by_key[key] = stats if take else copy.deepcopy(stats)
                    continue
            mine.update(stats)
        for spc, theirs in other.signers.items():
            signer = self.signers[spc]
            small = signer.small
            for origid, calls in theirs.small.items():
                full = self.leads_by_key.get((spc, origid))
                if full is not None:
                    for call in calls:
                        full.add_call(call)
                    continue
                signer.pending += len(calls)
                mine_calls = small.get(origid)
                if mine_calls is None:
                    small[origid] = calls if take else list(calls)
                    continue
                mine_calls.extend(calls)
                mine_calls.sort(key=_call_key)
                if len(mine_calls) > SMALL:
                    self._promote(spc, signer, origid)
            if signer.pending > self.small_cap:
                signer.spill()
        for spc, origid in partial:
            self.signers[spc].after_spill.add(origid)
        for item in other.internal_errors:
            _keep_smallest(self.internal_errors, item, ERROR_SAMPLES)
        # Replays across parts: the other part's first call of a token we saw too is one
        # more call of it (when it is another call); its own replays add their other calls.
        self._merge_sightings(other._tokens, take)
        for token, (spc, origid, calls, low, high) in other.replays.items():
            # a known token's first call there was counted by the sighting just above
            known = token in self.replays
            self._add_replay(token, spc, origid, calls - 1 if known else calls, low, high)
        self.replayed_tokens_dropped += other.replayed_tokens_dropped
        self.unsigned_numbers.update(other.unsigned_numbers)
        self.unattributed.update(other.unattributed)
        self.unattributed_hosts.update(other.unattributed_hosts)
        for item in other.errors:
            _keep_smallest(self.errors, item, ERROR_SAMPLES)
        self.upstream_compared += other.upstream_compared
        self.upstream_disagree.update(other.upstream_disagree)
        for example in other.upstream_examples:
            _keep_smallest(self.upstream_examples, example, ERROR_SAMPLES)
        self.national += other.national

    def merge(self, other: Analysis) -> Analysis:
        """A new analysis of both parts (``self`` and ``other`` are left unchanged)."""
        merged = copy.deepcopy(self)
        merged.update(other)
        return merged

    # --- folding parts before they merge ------------------------------------------------
    # Merging parts ships every small group's calls to one process, which then folds the
    # per-call signers' groups into their signer-level leads alone. When all the parts of
    # a dataset are known (the worker processes of one batch), each part can fold its own
    # groups first, in parallel, with the same result: survey every part, make one plan
    # from the surveys, fold each part by it, merge, settle.
    def survey(self) -> dict[str, SignerSurvey]:
        """What :meth:`fold_plan` needs of this part, per signer."""
        full: dict[str, set[str | None]] = {}
        for spc, origid in self.leads_by_key:
            full.setdefault(spc, set()).add(origid)
        return {
            spc: (
                signer.spills + signer.folds,
                signer.origids,
                {origid: len(calls) for origid, calls in signer.small.items()},
                full.get(spc, set()),
                signer.origids._sketch()
                if len(signer.origids.values or ()) > SURVEY_SKETCH_MIN
                else None,
            )
            for spc, signer in self.signers.items()
        }

    @staticmethod
    def fold_plan(surveys: Iterable[dict[str, SignerSurvey]]) -> FoldPlan:
        """The plan that folds the parts of these surveys (every part of a dataset): the
        signers that are origid-per-call in the parts taken together
        (:attr:`SignerStats.per_call`), each with its origids that are not small there.

        >>> Analysis.fold_plan([Analysis().survey()])
        FoldPlan(fold={}, sketch=frozenset())
        """
        spills: Counter[str] = Counter()
        origids: dict[str, list[tuple[DistinctCounter, HyperLogLog | None]]] = {}
        sizes: dict[str, list[dict[str | None, int]]] = {}
        full: dict[str, set[str | None]] = {}
        for survey in surveys:
            for spc, (spilled, theirs, small, kept, sketch) in survey.items():
                spills[spc] += spilled
                origids.setdefault(spc, []).append((theirs, sketch))
                sizes.setdefault(spc, []).append(small)
                full.setdefault(spc, set()).update(kept)
        fold: dict[str, frozenset[str | None]] = {}
        sketched: set[str] = set()
        for spc, parts in sizes.items():
            merged = _union_of(origids[spc])
            if not merged.exact:
                sketched.add(spc)
            small_origids: set[str | None] = set().union(*parts)
            keep = frozenset(_not_small(parts) | (small_origids & full[spc]))
            if _per_call(spills[spc], len(small_origids) - len(keep), merged):
                fold[spc] = keep
        return FoldPlan(fold, frozenset(sketched))

    def fold(self, plan: FoldPlan, survey: Mapping[str, SignerSurvey] | None = None) -> None:
        """Fold this part by ``plan`` (from the surveys of every part): each planned
        signer's origids that the plan keeps get full statistics, its other small groups
        go to its signer-level lead. Merging the folded parts then :meth:`settle` gives
        the leads and signers table of the merged unfolded parts. ``survey``: this part's
        own survey, unchanged since (its sketches are used, not made again)."""
        for spc, keep in plan.fold.items():
            signer = self.signers.get(spc)
            if signer is None:
                continue
            for origid in keep.intersection(signer.small):
                self._promote(spc, signer, origid)
            if signer.small:
                signer.spill(planned=True)
        for spc in plan.sketch:
            signer = self.signers.get(spc)
            if signer is None or not signer.origids.exact:
                continue
            # (its part is known to merge past the cap: hashed here, not in the merge)
            signer.origids._to_sketch(survey[spc][4] if survey and spc in survey else None)

    def settle(self) -> None:
        """After the folded parts are merged: their folds count as spills from now on (a
        later merge with other data treats them as the memory bound's folds)."""
        for signer in self.signers.values():
            signer.spills += signer.folds
            signer.folds = 0

    # --- leads --------------------------------------------------------------------------
    def _candidates(self) -> Iterable[_Candidate]:
        """Every lead's statistics, unbuilt: full groups, small groups, and one
        signer-level lead per origid-per-call signer (its small origids)."""
        for (spc, origid), stats in self.leads_by_key.items():
            yield spc, origid, stats, None
        for spc, signer in self.signers.items():
            per_call = signer.per_call
            folded: LeadStats | None = None
            if per_call and signer.spilled is not None:
                folded = LeadStats()
                folded.update(signer.spilled)
            for origid, calls in signer.small.items():
                if per_call:
                    if folded is None:
                        folded = LeadStats()
                    for call in calls:
                        folded.add_call(call, origid)
                else:
                    yield spc, origid, LeadStats.of_calls(calls), None
            if folded is not None:
                yield spc, None, folded, signer

    def leads_total(self) -> int:
        """How many leads there are (what :meth:`leads` returns without ``top``)."""
        total = len(self.leads_by_key)
        for signer in self.signers.values():
            if signer.per_call:
                total += bool(signer.small or signer.spilled is not None)
            else:
                total += len(signer.small)
        return total

    def leads(
        self, directory: ProviderDirectory | None = None, *, top: int | None = None
    ) -> list[Lead]:
        """The leads, most suspicious first (score, then calls, then SPC/origid).

        Every lead is scored; only the ``top`` (default: all) are built.
        """
        directory = directory or ProviderDirectory()
        replays = self._replays_by_lead()
        scored = []
        for spc, origid, stats, signer in self._candidates():
            replayed = replays.get((spc, origid if signer is None else None), (0, 0))
            score, why, flags = _score(stats, signer, replayed)
            scored.append(
                (
                    (-score, -stats.numbers.calls, spc, origid or "", signer is not None),
                    (spc, origid, stats, signer, score, why, flags, replayed),
                )
            )
        if top is not None and top < len(scored):
            best = heapq.nsmallest(top, scored, key=lambda item: item[0])
        else:
            best = sorted(scored, key=lambda item: item[0])
        return [self._lead(*item[1], directory) for item in best]

    def _lead(
        self,
        spc: str,
        origid: str | None,
        stats: LeadStats,
        signer: SignerStats | None,
        score: float,
        why: list[str],
        flags: list[str],
        replayed: tuple[int, int],
        directory: ProviderDirectory,
    ) -> Lead:
        subject_o = None
        if stats.certificates:
            subject_o = _ranked(stats.certificates)[0][0][0]
        provider = directory.provider_for(spc, subject_o)
        peak_hour, peak = (None, 0)
        if stats.per_hour:
            hour, peak = max(stats.per_hour.items(), key=lambda kv: (kv[1], -kv[0]))
            peak_hour = dt.datetime.fromtimestamp(hour * 3600, dt.UTC)
        attest = dict(sorted(stats.attest.items()))
        main_attest = _ranked(stats.attest)[0][0] if stats.attest else None
        ask = _ASK.get(main_attest or "", "ask the signer to identify the source of these calls")
        if signer is not None:
            ask = ask.replace("behind this origid", "behind each sample call's origid").replace(
                "these calls", "each sample call"
            )
        else:
            parent = self.signers.get(spc)
            if parent is not None and origid in parent.after_spill:
                flags = [*flags, "origid_partial"]
                why = [
                    *why,
                    "the signer's small origids overflowed the memory bound: "
                    f"calls of this origid made before it had {SMALL + 1} may be "
                    "counted under the signer-level lead instead",
                ]
        n = stats.numbers
        samples = tuple(SampleCall(*sample) for sample in stats.samples)
        return Lead(
            spc=spc,
            origid=origid if signer is None else None,
            provider=provider,
            calls=n.calls,
            passed=stats.passed,
            failed=dict(_ranked(stats.failed)),
            attest=attest,
            distinct_orig=n.orig.count(),
            distinct_dest=n.dest.count(),
            distinct_exact=n.orig.exact and n.dest.exact,
            orig_blocks=n.orig_blocks.count(),
            neighbour_calls=n.neighbour_calls,
            invalid_orig_calls=n.invalid_orig_calls,
            invalid_orig_examples=tuple(n.invalid_orig_examples),
            first_seen=stats.first_seen,
            last_seen=stats.last_seen,
            peak_per_hour=peak,
            peak_hour=peak_hour,
            certificates=tuple(
                {"subject_o": o, "subject_cn": cn, "issuer": issuer, "calls": count}
                for (o, cn, issuer), count in _ranked(stats.certificates)[:5]
            ),
            x5u_hosts=dict(_ranked(stats.x5u_hosts)[:5]),
            samples=samples,
            score=score,
            why=tuple(why),
            flags=tuple(flags),
            traceback=TracebackShortcut(
                spc=spc,
                provider=provider.name,
                origid=origid if signer is None else None,
                attest=main_attest,
                ask=ask,
                calls=samples,
            ),
            origid_per_call=signer is not None,
            distinct_origids=signer.origids.count() if signer is not None else 1,
            iat_offsets={IAT_OFFSET_BUCKETS[i]: n for i, n in sorted(stats.iat_offsets.items())},
            replayed_tokens=replayed[0],
            replay_calls=replayed[1],
            per_hour=tuple(sorted(stats.per_hour.items())),
        )

    def signers_table(self, directory: ProviderDirectory | None = None) -> list[SignerSummary]:
        """One row per signing SPC, most calls first."""
        directory = directory or ProviderDirectory()
        rows = []
        for spc, signer in self.signers.items():
            subject_o = _ranked(signer.subjects)[0][0] if signer.subjects else None
            rows.append(
                SignerSummary(
                    spc=spc,
                    provider=directory.provider_for(spc, subject_o),
                    calls=signer.calls,
                    passed=signer.passed,
                    failed=signer.failed,
                    distinct_origids=signer.origids.count(),
                    distinct_origids_exact=signer.origids.exact,
                    origid_per_call=signer.per_call,
                    attest=dict(sorted(signer.attest.items())),
                    share=signer.calls / self.calls if self.calls else 0.0,
                )
            )
        rows.sort(key=lambda row: (-row.calls, row.spc))
        return rows

    def to_dict(
        self, directory: ProviderDirectory | None = None, *, top: int | None = None
    ) -> dict[str, Any]:
        """JSON-ready dict: totals, ``signers``, the ``top`` ``leads`` (default all) with
        ``leads_total``, and the failed/unsigned/unreadable summaries (plus
        ``upstream_verdicts`` and ``national_numbers`` when the input had them)."""
        out = {
            "calls": self.calls,
            "passed": self.passed,
            "failed": self.failed,
            "unsigned": self.unsigned,
            "unreadable": self.unreadable,
            "leads_total": self.leads_total(),
            "leads": [lead.to_dict() for lead in self.leads(directory, top=top)],
            "signers": [row.to_dict() for row in self.signers_table(directory)],
            "failed_by_error": dict(_ranked(self.failed_by_error)),
            "failed_without_certificate": {
                "by_error": dict(_ranked(self.unattributed)),
                "x5u_hosts": dict(_ranked(self.unattributed_hosts)[:20]),
            },
            "unsigned_calls": self.unsigned_numbers.to_dict(),
            "unreadable_records": [
                {"line": line, "reason": reason, "source": source or None}
                for line, reason, source in self.errors
            ],
        }
        if self.upstream_compared:
            out["upstream_verdicts"] = {
                "compared": self.upstream_compared,
                "disagree": sum(self.upstream_disagree.values()),
                "by_kind": dict(_ranked(self.upstream_disagree)),
                "examples": [
                    {"line": line, "source": source or None, "kind": kind}
                    for line, source, kind in self.upstream_examples
                ],
            }
        if self.national:
            out["national_numbers"] = self.national
        if self.iat_offsets:
            out["iat_offsets"] = {
                IAT_OFFSET_BUCKETS[i]: n for i, n in sorted(self.iat_offsets.items())
            }
        if self.replays or self.replayed_tokens_dropped:
            ranked = sorted(self.replays.values(), key=lambda e: (-e[2], e[3], e[0], e[1] or ""))
            out["replays"] = {
                "tokens": len(self.replays) + self.replayed_tokens_dropped,
                "calls": sum(e[2] for e in self.replays.values()),
                "examples": [
                    {
                        "spc": spc,
                        "origid": origid,
                        "calls": calls,
                        "first_seen": _iso(dt.datetime.fromtimestamp(low, dt.UTC)),
                        "last_seen": _iso(dt.datetime.fromtimestamp(high, dt.UTC)),
                    }
                    for spc, origid, calls, low, high in ranked[:5]
                ],
            }
        if self.internal_errors:
            out["internal_errors"] = [
                {"line": line, "source": source or None, "message": message}
                for line, source, message in self.internal_errors
            ]
        return out
