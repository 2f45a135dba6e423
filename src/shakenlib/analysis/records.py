"""Call records: JSON Lines, CSV, SIP messages, packet captures and Parquet, read as a stream.

A call record is what a terminating provider logs about one call: when it arrived, the
calling and called numbers, and the ``Identity`` header value(s) it carried. shakenlib
reads these shapes (see docs/inputs.md for all of them):

* **JSON Lines** (``.jsonl``/``.json``/``.ndjson``): one object per line with ``time``
  (ISO 8601 or Unix seconds), ``orig``, ``dest``, ``identity`` (one header value, a list
  of them, or empty/absent/null when the call was unsigned) and optional ``call_id``.
  Every other member is kept in :attr:`CallRecord.extra`.
* **CSV** (``.csv``; ``.tsv`` tab-separated): a header row naming the same columns (a
  byte-order mark is ignored); ``identity`` may hold a JSON list (``["h1", "h2"]``) for
  several headers.
* **SIP** (a ``.sip``/``.txt``/``.msg`` file or a directory of them): SIP requests; the
  numbers come from P-Asserted-Identity/From and To, the time from ``Date``. A file may
  hold several messages separated by a line of ``---`` or form feed.
* **pcap/pcapng** packet captures (:mod:`shakenlib.analysis.capture`, extra ``pcap``) and
  **Parquet** files (:mod:`shakenlib.analysis.parquet`, extra ``parquet``), recognised by their
  magic bytes whatever the file name.

A directory is read file by file (sorted), each file in its own format; symbolic links
that lead out of the directory are not followed, and a file that cannot be read is one
unreadable record naming it.

A column mapping adapts real CDR exports: ``orig=calling_number,dest=called_number``
reads field ``calling_number`` as ``orig`` (see :func:`parse_mapping`). Times without an
offset are read in ``tz`` (default UTC) and numbers without a country code as national
numbers of ``country_code`` (default ``1``, NANP); such a record carries a ``tn_national``
warning finding.

Nothing is silently dropped: a record that cannot be read becomes a
:class:`UnreadableRecord` (code ``record_malformed``) with its line number and the reason, in
the stream where the record would have been.

Reading is streaming: :func:`read_records` is an iterator and holds one record (one CSV
row, one SIP message, one Parquet row group) at a time.

>>> import io
>>> src = RecordSource.from_text('{"time": 1748779200, "orig": "+1 215 555 0123", '
...     '"dest": "12155550199", "identity": ""}\\nnot json\\n')
>>> good, bad = list(src)
>>> good.time.isoformat(), good.orig, good.identity
('2025-06-01T12:00:00+00:00', '12155550123', ())
>>> bad.line, bad.code, bad.reason
(2, 'record_malformed', 'not a JSON object: Expecting value')
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import io
import json
import json.scanner
import os
import re
import stat
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from shakenlib._frozen import build
from shakenlib.errors import ShakenError, TelephoneNumberError, UsageError
from shakenlib.findings import Finding
from shakenlib.sip.message import SipMessage, parse_sip_message
from shakenlib.timeutil import parse_time
from shakenlib.tn import _strip_display_name, canonical_tn, tn_from_uri

if TYPE_CHECKING:
    from shakenlib.analysis.parquet import Layout, ParquetRow

__all__ = [
    "FIELDS",
    "CallRecord",
    "ExtraMissing",
    "Format",
    "InFile",
    "RawItem",
    "RecordSource",
    "UnreadableRecord",
    "missing_extra",
    "national_to_global",
    "parse_mapping",
    "parse_time",
    "read_records",
    "sniff_format",
]

#: The record fields a column mapping can name. ``pai``/``from``: calling-number columns
#: (P-Asserted-Identity preferred, then From, then ``orig``); ``verstat``/``attest``: an
#: upstream verdict (the carrier's own verification service or SBC) to compare with ours;
#: ``sip``: a column holding whole SIP messages (read as SIP).
FIELDS: tuple[str, ...] = (
    "time",
    "orig",
    "dest",
    "identity",
    "call_id",
    "pai",
    "from",
    "verstat",
    "attest",
    "sip",
)

Format = Literal["jsonl", "csv", "sip", "pcap", "parquet"]
FORMATS: tuple[str, ...] = ("jsonl", "csv", "sip", "pcap", "parquet")

_SIP_SUFFIXES = (".sip", ".txt", ".msg", ".eml")
_CSV_SUFFIXES = (".csv", ".tsv")
_PCAP_SUFFIXES = (".pcap", ".pcapng", ".cap", ".dmp")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
# libpcap (micro- and nanosecond, both byte orders) and pcapng (section header block)
_PCAP_MAGIC = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_PARQUET_MAGIC = b"PAR1"
_COMPRESSED = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
)


@attrs.frozen(slots=False)  # dict-backed: the reader builds it in one step (shakenlib._frozen)
class CallRecord:
    """One call to verify: its time (UTC), numbers and Identity header values.

    ``line`` is the 1-based line (JSON Lines), the line a row starts on (CSV, the header
    row is line 1; a quoted cell may span lines), the row (Parquet), the line a message
    starts on (SIP files) or the packet number (captures, as Wireshark counts) in
    ``source`` (the file). ``orig``/``dest`` are canonical TNs (RFC 8224 §8.3) or ``None``
    when absent or not a number. ``sip`` holds the parsed message for SIP input (the
    verifier then checks the request itself). ``extra`` keeps every other column, in
    input order, as ``(name, value)`` pairs. ``src``/``dst`` are the packet's addresses
    (``ip:port``) for captures: ``src`` is the ingress peer. ``upstream_verstat`` and
    ``upstream_attest`` are a verdict from the input (``verstat=``/``attest=`` columns).
    ``findings`` says how the record was read (``tn_national``: a number was read as a
    national number); a batch adds them to the call's result.
    """

    line: int
    time: dt.datetime
    orig: str | None = None
    dest: str | None = None
    identity: tuple[str, ...] = ()
    call_id: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()
    sip: SipMessage | None = None
    source: str | None = None
    src: str | None = None
    dst: str | None = None
    upstream_verstat: str | None = None
    upstream_attest: str | None = None
    findings: tuple[Finding, ...] = ()

    @property
    def signed(self) -> bool:
        """Whether the record carries at least one Identity header value."""
        return bool(self.identity)


@attrs.frozen
class UnreadableRecord:
    """A record that could not be read (``code`` is ``record_malformed``): a value a
    batch passes on in the record's place, not an exception (it was ``UnreadableRecord``)."""

    line: int
    reason: str
    source: str | None = None
    code: str = "record_malformed"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"line": self.line, "code": self.code, "reason": self.reason, "source": self.source}


#: One unit of raw input: (line number, raw value). The raw value is a JSON Lines line
#: (str), a CSV row (list of str), a SIP message (bytes), a Parquet row
#: (:data:`~shakenlib.analysis.parquet.ParquetRow`, or a dict of its columns), a
#: captured SIP message (:class:`shakenlib.analysis.capture.Captured`) or, in a directory, an
#: :class:`InFile` naming the file it came from. Picklable, so batches of raw items can
#: be parsed in worker processes.
RawItem = tuple[int, Any]
#: A byte range of a JSON Lines file: (offset, length, number of the line it starts on).
#: It starts at a line start and ends after a newline (or at the end of the file).
Span = tuple[int, int, int]


def parse_mapping(text: str | None) -> dict[str, str]:
    """Parse a column mapping ``field=column,...`` into ``{field: column}``.

    Fields are those of :data:`FIELDS`. A column name may hold spaces
    (``time=Start Time``); ``identity=A+B`` reads several Identity columns (one header
    each); a dotted name (``identity=sip.headers.identity``) is a path into nested JSON
    when no column has that very name.

    >>> parse_mapping("orig=calling_number, dest=called_number,time=Start Time")
    {'orig': 'calling_number', 'dest': 'called_number', 'time': 'Start Time'}
    >>> parse_mapping("caller=x")
    Traceback (most recent call last):
    ...
    shakenlib.errors.UsageError: usage: unknown record field 'caller' in mapping (fields: ...)
    """
    mapping: dict[str, str] = {}
    if not text:
        return mapping
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        field, sep, column = part.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not column:
            raise UsageError("usage", f"mapping entry {part!r} is not field=column")
        if field not in FIELDS:
            raise UsageError(
                "usage", f"unknown record field {field!r} in mapping (fields: {', '.join(FIELDS)})"
            )
        mapping[field] = column
    return mapping


# --- numbers ------------------------------------------------------------------------------
def national_to_global(digits: str, country_code: str) -> str | None:
    """The E.164 digits of a number written without its country code, or ``None`` when
    ``digits`` already reads as a global number.

    With country code ``1`` (NANP) a 10-digit number whose first digit is 2-9 is national
    (``2155551212`` → ``12155551212``) and ``011`` is the international prefix. Elsewhere a
    number starting with a trunk prefix ``0`` is national (``0201234567`` with 44 →
    ``44201234567``) and ``00`` is the international prefix. RFC 8224 §8.3 leaves this to
    local policy.

    >>> national_to_global("2155551212", "1"), national_to_global("12155551212", "1")
    ('12155551212', None)
    >>> national_to_global("01144201234567", "1"), national_to_global("0201234567", "44")
    ('44201234567', '44201234567')
    """
    if not digits.isdigit():
        return None
    if country_code == "1":
        if len(digits) == 10 and digits[0] >= "2":
            return "1" + digits
        if digits.startswith("011") and len(digits) > 5:
            return digits[3:]
        return None
    if digits.startswith("00") and len(digits) > 4:
        return digits[2:]
    if digits.startswith("0") and len(digits) > 3:
        return country_code + digits[1:]
    return None


def _is_global(text: str) -> bool:
    """Whether a number or URI writes the number in global form (a leading ``+``)."""
    text = text.strip()
    if text[:1] == "+":
        return True
    if ":" in text or "<" in text or "@" in text:
        uri = _strip_display_name(text)
        rest = uri.partition(":")[2] if ":" in uri[:6] else uri
        return rest.strip()[:1] == "+"
    return False


def _tn(value: Any) -> str | None:
    if type(value) is str and value.isdigit() and value.isascii():
        return value  # canonical already: the usual case
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 12155551212.0 from a float column is 12155551212, not ...120
    text = str(value).strip()
    if not text:
        return None
    if ":" in text or "<" in text or "@" in text:
        return tn_from_uri(text)
    try:
        return canonical_tn(text)
    except TelephoneNumberError:
        return None


def _number(value: Any, country_code: str | None, role: str, findings: list[Finding]) -> str | None:
    """:func:`_tn`, then a national number made global (with a finding saying so)."""
    tn = _tn(value)
    if tn is None:
        return tn
    return _national(tn, value, country_code, role, findings)


def _national(
    tn: str, value: Any, country_code: str | None, role: str, findings: list[Finding]
) -> str:
    """``tn`` (read from ``value``) made global when it is a national number."""
    if not country_code:
        return tn
    if country_code == "1" and len(tn) != 10 and tn[:1] != "0":
        return tn  # the usual NANP case: 11 digits, nothing to do
    if type(value) is str and _is_global(value):
        return tn
    made = national_to_global(tn, country_code)
    if made is None:
        return tn
    findings.append(
        Finding(
            "tn_national",
            "warn",
            f"{role} {tn} has no country code: read as {made} (country code {country_code})",
            "RFC 8224 §8.3",
        )
    )
    return made


def _identities(value: Any) -> tuple[str, ...]:
    if type(value) is str:  # the usual shape: one header value (or none)
        text = value.strip()
        if not text:
            return ()
        if text[0] != "[":
            return (text if text[0] not in "Ii" else _strip_identity_name(text),)
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        items = value
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
                raise ValueError("identity is neither a header value nor a JSON list") from exc
            if not isinstance(items, list):  # pragma: no cover - "[" always starts a list
                raise ValueError("identity JSON is not a list")
        else:
            items = [text]
    elif hasattr(value, "tolist"):  # an Arrow/NumPy list cell
        items = value.tolist()
    else:
        raise ValueError(f"identity is a {type(value).__name__}, not a string or list")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError("identity list holds a non-string")
        if item.strip():
            out.append(_strip_identity_name(item.strip()))
    return tuple(out)


def _strip_identity_name(text: str) -> str:
    """A header value some exports write with its name (``Identity: eyJ...``)."""
    if text[0] in "Ii" and text[:9].lower() == "identity:":
        return text[9:].strip()
    return text


# --- column mapping -----------------------------------------------------------------------
@attrs.frozen
class _Plan:
    """How to read each field from a row (computed once per mapping)."""

    time: str
    orig: str
    dest: str
    identity: tuple[str, ...]
    call_id: str
    pai: str | None
    from_: str | None
    verstat: str | None
    attest: str | None
    sip: str | None
    used: frozenset[str]
    plain: bool  # no dotted paths, one identity column, no pai/from/verdict/sip


@functools.lru_cache(maxsize=64)
def _plan(mapping: tuple[tuple[str, str], ...]) -> _Plan:
    given = dict(mapping)
    identity = given.get("identity", "identity")
    identities = tuple(p.strip() for p in identity.split("+")) if "+" in identity else (identity,)
    names = {field: given.get(field, field) for field in ("time", "orig", "dest", "call_id")}
    optional = {field: given.get(field) for field in ("pai", "from", "verstat", "attest", "sip")}
    every = [*names.values(), *identities, *(v for v in optional.values() if v)]
    used = frozenset(name.split(".")[0] for name in every) | frozenset(every)
    return _Plan(
        time=names["time"],
        orig=names["orig"],
        dest=names["dest"],
        identity=identities,
        call_id=names["call_id"],
        pai=optional["pai"],
        from_=optional["from"],
        verstat=optional["verstat"],
        attest=optional["attest"],
        sip=optional["sip"],
        used=used,
        plain=not any(optional.values())
        and len(identities) == 1
        and not any("." in name for name in every),
    )


_DEFAULT_PLAN = _plan(())


def _get(row: Mapping[str, Any], name: str) -> Any:
    """``row[name]``, or the value at a dotted path into nested objects (a nested value
    may also be JSON text)."""
    value = row.get(name)
    if value is not None or "." not in name or name in row:
        return value
    node: Any = row
    for key in name.split("."):
        if isinstance(node, str) and node[:1] == "{":
            try:
                node = json.loads(node)
            except (ValueError, RecursionError):
                return None
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, str) and value.isspace())


def _record_time(value: Any, zone: dt.tzinfo | None) -> dt.datetime:
    """The record time in UTC; a time without an offset is read in ``zone`` (UTC if
    ``None``)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone or dt.UTC)
        aware: dt.datetime = value.astimezone(dt.UTC)
        return aware
    if zone is not None and isinstance(value, str):
        text = value.strip()
        if (
            text[4:5] == "-"
            and text[-1:] not in ("Z", "z")
            and text[-4:].upper() not in (" UTC", " GMT")
        ):
            try:
                parsed = dt.datetime.fromisoformat(text)
            except ValueError:
                return parse_time(value)  # says what is wrong
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=zone)
            return parsed.astimezone(dt.UTC)
    return parse_time(value)


def _from_mapping(
    line: int,
    row: Mapping[str, Any],
    mapping: Mapping[str, str],
    source: str | None,
    zone: dt.tzinfo | None = None,
    country_code: str | None = "1",
) -> CallRecord:
    plan = _plan(tuple(mapping.items())) if mapping else _DEFAULT_PLAN
    if plan.plain:
        time = row.get(plan.time)
        orig_value = row.get(plan.orig)
        identity = _identities(row.get(plan.identity[0]))
        call_id = row.get(plan.call_id)
        dest_value = row.get(plan.dest)
    else:
        if plan.sip is not None and not _blank(_get(row, plan.sip)):
            return _sip_from_row(line, row, plan, source, zone, country_code)
        time = _get(row, plan.time)
        orig_value = None
        for column in (plan.pai, plan.from_):
            if column is not None:
                orig_value = _get(row, column)
                if not _blank(orig_value):
                    break
        if _blank(orig_value):
            orig_value = _get(row, plan.orig)
        identity = (
            _identities(_get(row, plan.identity[0]))
            if len(plan.identity) == 1
            else (tuple(h for column in plan.identity for h in _identities(_get(row, column))))
        )
        call_id = _get(row, plan.call_id)
        dest_value = _get(row, plan.dest)
    fields = _record_fields(
        line,
        time,
        plan.time,
        orig_value,
        dest_value,
        identity,
        call_id,
        ()
        if row.keys() <= plan.used
        else tuple([(k, v) for k, v in row.items() if k not in plan.used]),
        source,
        zone,
        country_code,
    )
    if not plan.plain:
        for field, column in (("upstream_verstat", plan.verstat), ("upstream_attest", plan.attest)):
            if column is not None:
                value = _get(row, column)
                fields[field] = None if _blank(value) else str(value).strip()
    return build(CallRecord, fields)


def _from_parquet_row(
    line: int,
    row: ParquetRow,
    source: str | None,
    zone: dt.tzinfo | None,
    country_code: str | None,
) -> CallRecord:
    """The record of a Parquet row read with a plain mapping: the values of a plain
    mapping's columns, by their indices in the file's layout (as :func:`_from_mapping`
    reads them from a dict of the row)."""
    layout: Layout = row[-1]
    time, orig, dest, identity, call_id = layout.fields(row)
    return build(
        CallRecord,
        _record_fields(
            line,
            time,
            layout.time_column,
            orig,
            dest,
            _identities(identity),
            call_id,
            tuple([(name, row[i]) for i, name in layout.extra]) if layout.extra else (),
            source,
            zone,
            country_code,
        ),
    )


def _record_fields(
    line: int,
    time: Any,
    time_column: str,
    orig_value: Any,
    dest_value: Any,
    identity: tuple[str, ...],
    call_id: Any,
    extra: tuple[tuple[str, Any], ...],
    source: str | None,
    zone: dt.tzinfo | None,
    country_code: str | None,
) -> dict[str, Any]:
    """The fields of a call record from the values a row holds for them."""
    if time is None or time == "":
        raise ValueError(f"missing time (column {time_column!r})")
    findings: list[Finding] = []
    return {
        "line": line,
        "time": parse_time(time)
        if zone is None and type(time) is str
        else time
        if type(time) is dt.datetime and time.tzinfo is dt.UTC  # read as UTC already
        else _record_time(time, zone),
        # canonical 11-digit NANP numbers, the usual case, need no more work
        "orig": orig_value
        if (
            type(orig_value) is str
            and len(orig_value) == 11
            and country_code == "1"
            and orig_value.isdigit()
            and orig_value.isascii()
        )
        else _number(orig_value, country_code, "orig", findings),
        "dest": dest_value
        if (
            type(dest_value) is str
            and len(dest_value) == 11
            and country_code == "1"
            and dest_value.isdigit()
            and dest_value.isascii()
        )
        else _number(dest_value, country_code, "dest", findings),
        "identity": identity,
        "call_id": str(call_id) if call_id is not None and call_id != "" else None,
        "extra": extra,
        "sip": None,
        "source": source,
        "src": None,
        "dst": None,
        "upstream_verstat": None,
        "upstream_attest": None,
        "findings": tuple(findings),
    }


def _sip_from_row(
    line: int,
    row: Mapping[str, Any],
    plan: _Plan,
    source: str | None,
    zone: dt.tzinfo | None,
    country_code: str | None,
) -> CallRecord:
    """A row whose ``sip`` column holds a whole SIP message (a capture server's table)."""
    assert plan.sip is not None
    data = _get(row, plan.sip)
    time = _get(row, plan.time)
    at = None if _blank(time) else _record_time(time, zone)
    record = _parse_sip(
        line, data if isinstance(data, bytes | str) else str(data), source, at, country_code
    )
    fields = dict(record.__dict__)
    info = row.get("rcinfo")  # a capture server's addresses (HEP: srcIp, srcPort, ...)
    if isinstance(info, str) and info[:1] == "{":
        with contextlib.suppress(ValueError, RecursionError):
            info = json.loads(info)
    if isinstance(info, Mapping) and info.get("srcIp"):
        fields["src"] = _hep_address(info.get("srcIp"), info.get("srcPort"))
        fields["dst"] = _hep_address(info.get("dstIp"), info.get("dstPort"))
    for field, column in (("upstream_verstat", plan.verstat), ("upstream_attest", plan.attest)):
        if column is not None:
            value = _get(row, column)
            fields[field] = None if _blank(value) else str(value).strip()
    return build(CallRecord, fields)


def _hep_address(ip: Any, port: Any) -> str | None:
    if not ip:
        return None
    text = str(ip)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def _parse_sip(
    line: int,
    data: bytes | str,
    source: str | None,
    at: dt.datetime | None,
    country_code: str | None = "1",
    src: str | None = None,
    dst: str | None = None,
) -> CallRecord:
    message = parse_sip_message(data)
    when = at or message.date_time()
    if when is None:
        raise ValueError("SIP message has no usable Date header and no time was given")
    findings: list[Finding] = []
    # the numbers SipMessage.orig_tns()/dest_tns() give first: PAI (else From), To (else
    # the Request-URI)
    orig = dest = None
    for value in message.pai or ((message.from_,) if message.from_ is not None else ()):
        tn = tn_from_uri(value)
        if tn is not None:
            orig = _national(tn, value, country_code, "orig", findings)
            break
    for uri in (message.to, message.request_uri):
        tn = tn_from_uri(uri) if uri is not None else None
        if tn is not None:
            dest = _national(tn, uri, country_code, "dest", findings)
            break
    return build(
        CallRecord,
        {
            "line": line,
            "time": when,
            "orig": orig,
            "dest": dest,
            "identity": message.identity,
            "call_id": message.call_id,
            "extra": (),
            "sip": message,
            "source": source,
            "src": src,
            "dst": dst,
            "upstream_verstat": None,
            "upstream_attest": None,
            "findings": tuple(findings),
        },
    )


# The C scanner json.loads uses, without json.loads' per-call setup.
_SCAN_JSON: Callable[[str, int], tuple[object, int]] = json.scanner.make_scanner(
    json.JSONDecoder()  # type: ignore[arg-type]
)


def _json_line(text: str) -> object:
    """``json.loads`` for one JSON Lines line, without its per-call setup when the line
    is one object (the usual case). Same values and errors as ``json.loads``."""
    if text[:1] == "{":
        try:
            obj, end = _SCAN_JSON(text, 0)
        except (ValueError, StopIteration):
            return json.loads(text)  # the same error message as json.loads would give
        if end == len(text) or text[end:].isspace():
            return obj
    return json.loads(text)


class ExtraMissing(UsageError):
    """An optional extra a reader needs is not installed (a usage error naming it)."""


def missing_extra(extra: str, package: str, what: str) -> ExtraMissing:
    """The error for a missing optional package: ``pip install "shakenlib[EXTRA]"``.

    >>> missing_extra("pcap", "dpkt", "reading packet captures").message
    'reading packet captures needs dpkt: pip install "shakenlib[pcap]"'
    """
    return ExtraMissing("usage", f'{what} needs {package}: pip install "shakenlib[{extra}]"')


@attrs.frozen
class _Unreadable:
    """A raw item the reader itself could not split (e.g. a CSV cell over the csv limit)."""

    reason: str


@attrs.frozen
class InFile:
    """A raw item of one file of a directory: the file, its format, the raw value (and
    for CSV the file's header row)."""

    path: str
    fmt: str
    raw: Any
    header: tuple[str, ...] | None = None


# --- format detection -----------------------------------------------------------------------
def sniff_format(path: str | os.PathLike[str]) -> Format:
    """The format of a file: by its magic bytes (pcap, pcapng, Parquet), else by its name
    (``.csv``/``.tsv`` CSV, ``.pcap``/``.parquet`` as named, SIP suffixes SIP), else JSON
    Lines. A directory is ``sip`` (its files are each sniffed when read). A compressed
    file (gzip, bzip2, xz, zstd, zip) is a :class:`~shakenlib.errors.UsageError` naming it.
    """
    name = os.fspath(path)
    if os.path.isdir(name):
        return "sip"
    head = b""
    with contextlib.suppress(OSError), open(name, "rb") as handle:
        head = handle.read(6)
    for magic, kind in _COMPRESSED:
        if head.startswith(magic):
            raise UsageError("usage", f"{name}: {kind}-compressed; decompress it first")
    head = head[:4]
    if head in _PCAP_MAGIC or head == _PCAPNG_MAGIC:
        return "pcap"
    if head == _PARQUET_MAGIC:
        return "parquet"
    lower = name.lower()
    if lower.endswith(_CSV_SUFFIXES):
        return "csv"
    if lower.endswith(_PCAP_SUFFIXES):
        return "pcap"  # not a capture after all: the capture reader says so
    if lower.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(_SIP_SUFFIXES):
        return "sip"
    return "jsonl"


def _walk(root: Path) -> Iterator[Path | UnreadableRecord]:
    """The regular files under ``root``, sorted; symbolic links are followed only when
    they stay inside ``root`` (a link out of it is a :class:`UnreadableRecord`)."""
    real_root = os.path.realpath(root)
    problems: list[OSError] = []
    for folder, dirs, files in os.walk(root, onerror=problems.append, followlinks=False):
        while problems:
            problem = problems.pop(0)
            yield UnreadableRecord(
                0, f"unreadable directory: {problem.strerror or problem}", str(problem.filename)
            )
        dirs.sort()
        # a symlinked directory is listed in dirs and not entered; say so if it leads out
        for name in sorted([*files, *[d for d in dirs if os.path.islink(os.path.join(folder, d))]]):
            path = Path(folder, name)
            if path.is_symlink():
                target = os.path.realpath(path)
                if os.path.commonpath([real_root, target]) != real_root:
                    yield UnreadableRecord(
                        0, "symbolic link out of the directory: not followed", str(path)
                    )
                    continue
                if os.path.isdir(target):
                    continue  # inside the directory: its files are read there
            try:
                mode = path.stat().st_mode
            except OSError as exc:
                yield UnreadableRecord(0, f"unreadable file: {exc.strerror or exc}", str(path))
                continue
            if stat.S_ISREG(mode):
                yield path
    for problem in problems:
        yield UnreadableRecord(
            0, f"unreadable directory: {problem.strerror or problem}", str(problem.filename)
        )


@attrs.frozen
class RecordSource:
    """Where records come from and how to read them (picklable).

    ``path`` is a file or a directory; ``text`` an in-memory alternative (tests,
    doctests). ``fmt`` defaults from the file's content and name
    (:func:`sniff_format`). ``mapping`` is a column mapping (:func:`parse_mapping`);
    ``at`` overrides the time of SIP messages; ``tz`` is the IANA zone of times without an
    offset (default UTC); ``country_code`` the country of numbers without one (default
    ``"1"``; ``None`` or ``""`` reads numbers as they are).

    :meth:`raw` yields cheap raw items and :meth:`parse` turns one into a record, so a
    batch can read in one process and parse in others; iterating the source does both.
    """

    path: str | None = None
    fmt: Format | None = None
    mapping: dict[str, str] = attrs.field(factory=dict)
    text: str | None = None
    at: dt.datetime | None = None
    csv_header: tuple[str, ...] | None = None
    tz: str | None = None
    country_code: str | None = "1"

    def __attrs_post_init__(self) -> None:
        if self.fmt is not None and self.fmt not in FORMATS:
            raise UsageError(
                "usage", f"unknown format {self.fmt!r} (formats: {', '.join(FORMATS)})"
            )
        if self.tz is not None:
            _zone(self.tz)
        if self.country_code and not (
            self.country_code.isdigit()
            and self.country_code.isascii()
            and len(self.country_code) <= 3
        ):
            raise UsageError("usage", f"country code {self.country_code!r} is not 1-3 digits")

    @classmethod
    def from_text(cls, text: str, fmt: Format = "jsonl", **kwargs: Any) -> RecordSource:
        """A source over in-memory text."""
        return cls(text=text, fmt=fmt, **kwargs)

    @property
    def format(self) -> Format:
        """The input format (explicit, or sniffed from the file)."""
        if self.fmt is not None:
            return self.fmt
        if self.path is None:
            return "jsonl"
        return sniff_format(self.path)

    @property
    def is_dir(self) -> bool:
        """Whether the source is a directory (read file by file)."""
        return self.text is None and self.path is not None and os.path.isdir(self.path)

    @property
    def name(self) -> str | None:
        """The source's name in error messages."""
        return self.path if self.path is not None else "<text>"

    @property
    def zone(self) -> dt.tzinfo | None:
        """The zone of times without an offset (``None``: UTC)."""
        return _zone(self.tz) if self.tz else None

    def _open_text(self, path: str | None = None) -> io.TextIOBase:
        if self.text is not None and path is None:
            return io.StringIO(self.text)
        path = path or self.path
        assert path is not None
        # utf-8-sig: CDR exports (Excel "CSV UTF-8" ...) often start with a byte-order mark
        return open(path, encoding="utf-8-sig", errors="replace", newline="")

    def _delimiter(self, path: str | None = None) -> str:
        path = path or self.path
        return "\t" if path is not None and path.lower().endswith(".tsv") else ","

    def _read_header(self, path: str | None = None) -> tuple[str, ...]:
        with self._open_text(path) as handle:
            try:
                first = next(csv.reader(handle, delimiter=self._delimiter(path)), None)
            except csv.Error:
                first = None
        header = [cell.strip() for cell in first or ()]
        if header:
            header[0] = header[0].lstrip("\ufeff").strip()  # a BOM in in-memory text
        return tuple(header)

    def with_csv_header(self) -> RecordSource:
        """For CSV: a copy that knows the header row (so workers can parse rows)."""
        if self.format != "csv" or self.csv_header is not None or self.is_dir:
            return self
        return attrs.evolve(self, csv_header=self._read_header())

    @property
    def splittable(self) -> bool:
        """Whether this is a JSON Lines file that workers can read in byte ranges
        (:meth:`spans`, :meth:`raw_span`)."""
        return (
            self.format == "jsonl"
            and self.text is None
            and self.path is not None
            and (os.path.isfile(self.path))
        )

    def spans(self, max_bytes: int, parts: int = 1, min_bytes: int = 32768) -> Iterator[Span]:
        """Cut a JSON Lines file (:attr:`splittable`) into consecutive byte ranges.

        Each range holds about ``min(max_bytes, remaining / parts)`` bytes (at least
        ``min_bytes``), extended to the next line end: ranges shrink toward the end of the
        file, so ``parts`` workers taking them in turn finish together. Reads the file once
        to count lines; holds one range at a time.
        """
        assert self.path is not None
        total = os.path.getsize(self.path)
        with open(self.path, "rb") as handle:
            offset, line = 0, 1
            while True:
                want = max(min_bytes, min(max_bytes, (total - offset) // max(parts, 1)))
                block = handle.read(want)
                if not block:
                    return
                if not block.endswith(b"\n"):
                    block += handle.readline()
                yield offset, len(block), line
                offset += len(block)
                line += block.count(b"\n")

    def raw_span(self, span: Span) -> list[RawItem]:
        """The ``(line, raw)`` items of one byte range of a JSON Lines file (see
        :meth:`spans`); the same items :meth:`raw` yields for those lines."""
        offset, length, line = span
        assert self.path is not None
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(length)
        # Lines end at "\n" (JSON Lines); a span ends at a line end, so no UTF-8 sequence
        # is cut and decoding the span is decoding its lines.
        text = data.decode("utf-8", "replace")
        if offset == 0:
            text = text.removeprefix("\ufeff")  # utf-8-sig: a byte-order mark (CDR exports)
        return [
            (number, part)
            for number, part in enumerate(text.split("\n"), line)
            if part and not part.isspace()  # (what strip() would leave, without a copy)
        ]

    def raw(self) -> Iterator[RawItem]:
        """Yield ``(line, raw)`` items in input order (streaming)."""
        if self.is_dir:
            yield from self._raw_dir()
            return
        yield from self._raw_file(self.format, self.path)

    def _raw_file(self, fmt: str, path: str | None) -> Iterator[RawItem]:
        if fmt == "jsonl":
            if self.text is not None and path is None:
                lines: Iterable[str] = io.StringIO(self.text)  # splits at "\n" only
                for number, text in enumerate(lines, 1):
                    if text.strip():
                        yield number, text
                return
            assert path is not None
            with open(path, "rb") as handle:  # lines end at b"\n", as in raw_span
                for number, data in enumerate(handle, 1):
                    text = data.removesuffix(b"\n").decode("utf-8", "replace")
                    if number == 1:
                        text = text.removeprefix("\ufeff")
                    if text.strip():
                        yield number, text
        elif fmt == "csv":
            with self._open_text(path) as handle:
                reader = csv.reader(handle, delimiter=self._delimiter(path))
                with contextlib.suppress(csv.Error):
                    next(reader, None)  # the header row (see with_csv_header)
                while True:
                    # a quoted cell may span lines: report the line the row starts on
                    # (reader.line_num is the line it ends on)
                    start = reader.line_num + 1
                    try:
                        row = next(reader)
                    except StopIteration:
                        break
                    except csv.Error as exc:  # e.g. a cell over csv.field_size_limit()
                        yield start, _Unreadable(f"CSV: {exc}")
                        continue
                    if any(cell.strip() for cell in row):
                        yield start, row
        elif fmt == "pcap":
            from shakenlib.analysis.capture import read_capture

            assert path is not None
            yield from read_capture(path)
        elif fmt == "parquet":
            from shakenlib.analysis.parquet import read_rows

            assert path is not None
            yield from read_rows(path, self.mapping)
        else:
            if self.text is not None and path is None:
                # a lone surrogate cannot be UTF-8: it reads as U+FFFD, like bad bytes do
                data = self.text.encode("utf-8", "replace")
            else:
                assert path is not None
                with open(path, "rb") as handle:
                    data = handle.read()
            yield from _split_sip(data)

    def _raw_dir(self) -> Iterator[RawItem]:
        assert self.path is not None
        for entry in _walk(Path(self.path)):
            if isinstance(entry, UnreadableRecord):
                yield 0, InFile(entry.source or "", "error", _Unreadable(entry.reason))
                continue
            name = str(entry)
            header = None
            try:
                fmt = self.fmt or sniff_format(name)
                if fmt == "csv":
                    header = self._read_header(name)
                for line, raw in self._raw_file(fmt, name):
                    yield line, InFile(name, fmt, raw, header)
            except OSError as exc:  # unreadable (permissions, vanished, I/O error)
                yield (
                    0,
                    InFile(name, "error", _Unreadable(f"unreadable file: {exc.strerror or exc}")),
                )
            except ExtraMissing:
                raise  # the whole run needs it
            except UsageError as exc:  # not the format it claims (bad magic, no columns)
                yield 0, InFile(name, "error", _Unreadable(exc.message))

    def parse(self, item: RawItem) -> CallRecord | UnreadableRecord:
        """Turn one raw item into a record, or a :class:`UnreadableRecord` saying why not."""
        line, raw = item
        if isinstance(raw, InFile):
            return self._parse_as(raw.fmt, line, raw.raw, raw.path, raw.header)
        return self._parse_as(self.fmt or self.format, line, raw, self.name, self.csv_header)

    def _parse_as(
        self, fmt: str, line: int, raw: Any, name: str | None, header: tuple[str, ...] | None
    ) -> CallRecord | UnreadableRecord:
        if isinstance(raw, _Unreadable):
            return UnreadableRecord(line, raw.reason, name)
        zone = _zone(self.tz) if self.tz else None
        cc = self.country_code
        try:
            if fmt == "jsonl":
                try:
                    obj = _json_line(raw)
                except ValueError as exc:
                    msg = str(exc).split(":")[0]
                    return UnreadableRecord(line, f"not a JSON object: {msg}", name)
                except RecursionError:
                    return UnreadableRecord(line, "not a JSON object: nested too deeply", name)
                if not isinstance(obj, dict):
                    return UnreadableRecord(line, "not a JSON object", name)
                return _from_mapping(line, obj, self.mapping, name, zone, cc)
            if fmt == "csv":
                if header is None:
                    header = self.with_csv_header().csv_header or ()
                if len(raw) != len(header):
                    return UnreadableRecord(
                        line, f"{len(raw)} columns, the header has {len(header)}", name
                    )
                return _from_mapping(
                    line, dict(zip(header, raw, strict=True)), self.mapping, name, zone, cc
                )
            if fmt == "parquet":
                if isinstance(raw, tuple):  # a ParquetRow: read by the file's layout
                    return _from_parquet_row(line, raw, name, zone, cc)
                mapping = _row_mapping(tuple(raw), tuple(self.mapping.items()))
                return _from_mapping(line, raw, mapping, name, zone, cc)
            if fmt == "pcap":
                return _parse_sip(line, raw.data, name, raw.at, cc, raw.src, raw.dst)
            return _parse_sip(line, raw, name, self.at, cc)
        except ShakenError as exc:  # SipMessageError, UsageError from parse_time, ...
            return UnreadableRecord(line, exc.message, name)
        except (ValueError, TypeError, OverflowError) as exc:
            # OverflowError: an integer time too large for a float (parse_time)
            return UnreadableRecord(line, str(exc) or type(exc).__name__, name)

    def __iter__(self) -> Iterator[CallRecord | UnreadableRecord]:
        source = attrs.evolve(self.with_csv_header(), fmt=self.fmt if self.is_dir else self.format)
        for item in source.raw():
            yield source.parse(item)


@functools.lru_cache(maxsize=64)
def _row_mapping(
    columns: tuple[str, ...],
    mapping: tuple[tuple[str, str], ...],
) -> dict[str, str]:
    """The mapping of a Parquet row: a capture server's table (``payload``, no Identity
    column) reads its ``payload`` as SIP and ``timestamp`` as the time."""
    from shakenlib.analysis.parquet import sip_columns

    given = dict(mapping)
    if sip_columns(columns, given):
        given.setdefault("sip", "payload")
        given.setdefault("time", "timestamp")
    return given


@functools.lru_cache(maxsize=16)
def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            "usage", f"unknown time zone {name!r} (give an IANA name such as America/New_York)"
        ) from None


_SIP_SEPARATOR = re.compile(rb"\n---\n|\f")


def _split_sip(data: bytes) -> Iterator[RawItem]:
    """The messages of a SIP text file (separated by a ``---`` line or a form feed), each
    with the line of the file it starts on."""
    text = data.replace(b"\r\n", b"\n").removeprefix(b"\xef\xbb\xbf")
    line, at = 1, 0
    for chunk in [*_SIP_SEPARATOR.split(text)]:
        lead = len(chunk) - len(chunk.lstrip(b"\n"))
        if chunk.strip():
            yield line + lead, chunk
        at += len(chunk)
        separator = text[at : at + 1]
        line += chunk.count(b"\n") + (2 if separator == b"\n" else 0)
        at += 5 if separator == b"\n" else 1


def read_records(
    path: str | os.PathLike[str],
    *,
    mapping: Mapping[str, str] | str | None = None,
    fmt: Format | None = None,
    at: dt.datetime | None = None,
    tz: str | None = None,
    country_code: str | None = "1",
) -> Iterator[CallRecord | UnreadableRecord]:
    """Stream the records of a file or directory (any format of :data:`Format`).

    Yields a :class:`CallRecord` per readable record and a :class:`UnreadableRecord` per
    unreadable one, in input order. ``mapping`` is a dict or ``field=column,...`` text;
    ``tz`` and ``country_code`` as for :class:`RecordSource`.
    """
    columns = (
        parse_mapping(mapping) if isinstance(mapping, str) or mapping is None else dict(mapping)
    )
    return iter(
        RecordSource(
            path=os.fspath(path), fmt=fmt, mapping=columns, at=at, tz=tz, country_code=country_code
        )
    )
