"""Call records: JSON Lines, CSV and SIP messages, read as a stream.

A call record is what a terminating provider logs about one call: when it arrived, the
calling and called numbers, and the ``Identity`` header value(s) it carried. shakenlib
reads three shapes:

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

A column mapping adapts real CDR exports: ``orig=calling_number,dest=called_number``
reads field ``calling_number`` as ``orig`` (see :func:`parse_mapping`).

Nothing is silently dropped: a record that cannot be read becomes a
:class:`RecordError` (code ``record_malformed``) with its line number and the reason, in
the stream where the record would have been.

Reading is streaming: :func:`read_records` is an iterator and holds one record (one CSV
row, one SIP message) at a time.

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
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from shakenlib._frozen import build
from shakenlib.errors import ShakenError, TelephoneNumberError, UsageError
from shakenlib.sip.message import SipMessage, parse_sip_message
from shakenlib.timeutil import parse_time
from shakenlib.tn import canonical_tn, tn_from_uri

__all__ = [
    "FIELDS",
    "CallRecord",
    "Format",
    "RawItem",
    "RecordError",
    "RecordSource",
    "parse_mapping",
    "parse_time",
    "read_records",
]

#: The record fields a column mapping can name.
FIELDS: tuple[str, ...] = ("time", "orig", "dest", "identity", "call_id")

Format = Literal["jsonl", "csv", "sip"]

_SIP_SUFFIXES = (".sip", ".txt", ".msg", ".eml")
_CSV_SUFFIXES = (".csv", ".tsv")


@attrs.frozen(slots=False)  # dict-backed: the reader builds it in one step (shakenlib._frozen)
class CallRecord:
    """One call to verify: its time (UTC), numbers and Identity header values.

    ``line`` is the 1-based line (JSON Lines), the line a row starts on (CSV, the header
    row is line 1; a quoted cell may span lines) or message number (SIP) in ``source``.
    ``orig``/``dest`` are canonical TNs (RFC 8224 §8.3) or ``None`` when absent or not a
    number. ``sip`` holds the parsed message for SIP input (the verifier then checks the
    request itself). ``extra`` keeps every other column, in input order, as ``(name,
    value)`` pairs.
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

    @property
    def signed(self) -> bool:
        """Whether the record carries at least one Identity header value."""
        return bool(self.identity)


@attrs.frozen
class RecordError:
    """A record that could not be read (``code`` is ``record_malformed``)."""

    line: int
    reason: str
    source: str | None = None
    code: str = "record_malformed"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"line": self.line, "code": self.code, "reason": self.reason,
                "source": self.source}


#: One unit of raw input: (line number, raw value). The raw value is a JSON Lines line
#: (str), a CSV row (list of str), or a SIP message (bytes). Picklable, so batches of raw
#: items can be parsed in worker processes.
RawItem = tuple[int, Any]
#: A byte range of a JSON Lines file: (offset, length, number of the line it starts on).
#: It starts at a line start and ends after a newline (or at the end of the file).
Span = tuple[int, int, int]


def parse_mapping(text: str | None) -> dict[str, str]:
    """Parse a column mapping ``field=column,...`` into ``{field: column}``.

    Fields are those of :data:`FIELDS`.

    >>> parse_mapping("orig=calling_number, dest=called_number,time=start")
    {'orig': 'calling_number', 'dest': 'called_number', 'time': 'start'}
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
            raise UsageError("usage", f"unknown record field {field!r} in mapping "
                                      f"(fields: {', '.join(FIELDS)})")
        mapping[field] = column
    return mapping


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


def _identities(value: Any) -> tuple[str, ...]:
    if type(value) is str:  # the usual shape: one header value (or none)
        text = value.strip()
        if not text:
            return ()
        if text[0] != "[":
            return (text,)
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
    else:
        raise ValueError(f"identity is a {type(value).__name__}, not a string or list")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError("identity list holds a non-string")
        if item.strip():
            out.append(item.strip())
    return tuple(out)


@functools.lru_cache(maxsize=64)
def _columns(mapping: tuple[tuple[str, str], ...]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The column names of (time, orig, dest, identity, call_id) and the set of them
    (computed once per mapping, not once per record)."""
    given = dict(mapping)
    names = tuple(given.get(field, field) for field in FIELDS)
    return names, frozenset(names)


_DEFAULT_COLUMNS = _columns(())


def _from_mapping(line: int, row: Mapping[str, Any], mapping: Mapping[str, str],
                  source: str | None) -> CallRecord:
    (time_col, orig_col, dest_col, identity_col, call_id_col), used = (
        _columns(tuple(mapping.items())) if mapping else _DEFAULT_COLUMNS)
    time = row.get(time_col)
    if time is None or time == "":
        raise ValueError(f"missing time (column {time_col!r})")
    call_id = row.get(call_id_col)
    return build(CallRecord, {
        "line": line,
        "time": parse_time(time),
        "orig": _tn(row.get(orig_col)),
        "dest": _tn(row.get(dest_col)),
        "identity": _identities(row.get(identity_col)),
        "call_id": str(call_id) if call_id is not None and call_id != "" else None,
        "extra": () if row.keys() <= used else tuple(
            [(k, v) for k, v in row.items() if k not in used]),
        "sip": None,
        "source": source,
    })


def _parse_sip(line: int, data: bytes, source: str | None,
               at: dt.datetime | None) -> CallRecord:
    message = parse_sip_message(data)
    when = at or message.date_time()
    if when is None:
        raise ValueError("SIP message has no usable Date header and no time was given")
    orig = message.orig_tns()
    dest = message.dest_tns()
    return CallRecord(
        line=line,
        time=when,
        orig=orig[0] if orig else None,
        dest=dest[0] if dest else None,
        identity=message.identity,
        call_id=message.call_id,
        sip=message,
        source=source,
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


@attrs.frozen
class _Unreadable:
    """A raw item the reader itself could not split (e.g. a CSV cell over the csv limit)."""

    reason: str


@attrs.frozen
class RecordSource:
    """Where records come from and how to read them (picklable).

    ``path`` is a file or (for SIP) a directory; ``text`` an in-memory alternative
    (tests, doctests). ``fmt`` defaults from the file name (``.csv`` CSV, SIP suffixes or
    a directory SIP, otherwise JSON Lines). ``mapping`` is a column mapping
    (:func:`parse_mapping`); ``at`` overrides the time of SIP messages.

    :meth:`raw` yields cheap raw items and :meth:`parse` turns one into a record, so a
    batch can read in one process and parse in others; iterating the source does both.
    """

    path: str | None = None
    fmt: Format | None = None
    mapping: dict[str, str] = attrs.field(factory=dict)
    text: str | None = None
    at: dt.datetime | None = None
    csv_header: tuple[str, ...] | None = None

    @classmethod
    def from_text(cls, text: str, fmt: Format = "jsonl", **kwargs: Any) -> RecordSource:
        """A source over in-memory text."""
        return cls(text=text, fmt=fmt, **kwargs)

    @property
    def format(self) -> Format:
        """The input format (explicit, or guessed from the path)."""
        if self.fmt is not None:
            return self.fmt
        if self.path is None:
            return "jsonl"
        if os.path.isdir(self.path) or self.path.lower().endswith(_SIP_SUFFIXES):
            return "sip"
        if self.path.lower().endswith(_CSV_SUFFIXES):
            return "csv"
        return "jsonl"

    @property
    def name(self) -> str | None:
        """The source's name in error messages."""
        return self.path if self.path is not None else "<text>"

    def _open_text(self) -> io.TextIOBase:
        if self.text is not None:
            return io.StringIO(self.text)
        assert self.path is not None
        # utf-8-sig: CDR exports (Excel "CSV UTF-8" ...) often start with a byte-order mark
        return open(self.path, encoding="utf-8-sig", errors="replace", newline="")

    @property
    def _delimiter(self) -> str:
        return "\t" if self.path is not None and self.path.lower().endswith(".tsv") else ","

    def with_csv_header(self) -> RecordSource:
        """For CSV: a copy that knows the header row (so workers can parse rows)."""
        if self.format != "csv" or self.csv_header is not None:
            return self
        with self._open_text() as handle:
            try:
                first = next(csv.reader(handle, delimiter=self._delimiter), None)
            except csv.Error:
                first = None
        header = [cell.strip() for cell in first or ()]
        if header:
            header[0] = header[0].lstrip("\ufeff").strip()  # a BOM in in-memory text
        return attrs.evolve(self, csv_header=tuple(header))

    @property
    def splittable(self) -> bool:
        """Whether this is a JSON Lines file that workers can read in byte ranges
        (:meth:`spans`, :meth:`raw_span`)."""
        return self.format == "jsonl" and self.text is None and self.path is not None and (
            os.path.isfile(self.path))

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
        return [(number, part) for number, part in enumerate(text.split("\n"), line)
                if part.strip()]

    def raw(self) -> Iterator[RawItem]:
        """Yield ``(line, raw)`` items in input order (streaming)."""
        fmt = self.format
        if fmt == "jsonl":
            if self.text is not None:
                lines: Iterable[str] = io.StringIO(self.text)  # splits at "\n" only
                for number, text in enumerate(lines, 1):
                    if text.strip():
                        yield number, text
                return
            assert self.path is not None
            with open(self.path, "rb") as handle:  # lines end at b"\n", as in raw_span
                for number, data in enumerate(handle, 1):
                    text = data.removesuffix(b"\n").decode("utf-8", "replace")
                    if number == 1:
                        text = text.removeprefix("\ufeff")
                    if text.strip():
                        yield number, text
        elif fmt == "csv":
            with self._open_text() as handle:
                reader = csv.reader(handle, delimiter=self._delimiter)
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
        else:
            yield from self._raw_sip()

    def _raw_sip(self) -> Iterator[RawItem]:
        if self.text is not None:
            files: Iterable[Path | None] = [None]
        else:
            assert self.path is not None
            root = Path(self.path)
            files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        number = 0
        for file in files:
            data = self.text.encode() if file is None else file.read_bytes()  # type: ignore[union-attr]
            text = data.replace(b"\r\n", b"\n").replace(b"\f", b"\n---\n")
            for chunk in text.split(b"\n---\n"):
                if chunk.strip():
                    number += 1
                    yield number, chunk

    def parse(self, item: RawItem) -> CallRecord | RecordError:
        """Turn one raw item into a record, or a :class:`RecordError` saying why not."""
        line, raw = item
        try:
            fmt = self.format
            if fmt == "jsonl":
                try:
                    obj = _json_line(raw)
                except ValueError as exc:
                    msg = str(exc).split(":")[0]
                    return RecordError(line, f"not a JSON object: {msg}", self.name)
                except RecursionError:
                    return RecordError(line, "not a JSON object: nested too deeply", self.name)
                if not isinstance(obj, dict):
                    return RecordError(line, "not a JSON object", self.name)
                return _from_mapping(line, obj, self.mapping, self.name)
            if fmt == "csv":
                if isinstance(raw, _Unreadable):
                    return RecordError(line, raw.reason, self.name)
                header = self.csv_header
                if header is None:
                    header = self.with_csv_header().csv_header or ()
                if len(raw) != len(header):
                    return RecordError(
                        line, f"{len(raw)} columns, the header has {len(header)}", self.name)
                return _from_mapping(line, dict(zip(header, raw, strict=True)),
                                     self.mapping, self.name)
            return _parse_sip(line, raw, self.name, self.at)
        except ShakenError as exc:  # SipMessageError, UsageError from parse_time, ...
            return RecordError(line, exc.message, self.name)
        except (ValueError, TypeError, OverflowError) as exc:
            # OverflowError: an integer time too large for a float (parse_time)
            return RecordError(line, str(exc) or type(exc).__name__, self.name)

    def __iter__(self) -> Iterator[CallRecord | RecordError]:
        source = attrs.evolve(self.with_csv_header(), fmt=self.format)
        for item in source.raw():
            yield source.parse(item)


def read_records(
    path: str | os.PathLike[str],
    *,
    mapping: Mapping[str, str] | str | None = None,
    fmt: Format | None = None,
    at: dt.datetime | None = None,
) -> Iterator[CallRecord | RecordError]:
    """Stream the records of a JSON Lines/CSV file or a SIP file/directory.

    Yields a :class:`CallRecord` per readable record and a :class:`RecordError` per
    unreadable one, in input order. ``mapping`` is a dict or ``field=column,...`` text.
    """
    columns = parse_mapping(mapping) if isinstance(mapping, str) or mapping is None else dict(
        mapping)
    return iter(RecordSource(path=os.fspath(path), fmt=fmt, mapping=columns, at=at))
