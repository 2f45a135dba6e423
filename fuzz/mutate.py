"""Mutators: generic byte/text mutations plus structure-aware ones.

* :func:`mutate_bytes` - bit flips, insertions, deletions, repeats, splices and
  dictionary tokens (hostile values known to have broken parsers before).
* :func:`mutate_der` - parses DER into a tree of TLVs, changes one node (tag, length
  encoding, content, duplicate, delete, nest) and re-encodes the parents' lengths, so a
  certificate, CRL or TNAuthList stays well-formed around the change.
* :func:`mutate_json_value` - replaces, adds or deletes members of a JSON object tree.

Every function takes a :class:`random.Random`, so a run with a given seed is
reproducible.
"""

from __future__ import annotations

import json
import random
from typing import Any

__all__ = [
    "HOSTILE_JSON",
    "TOKENS",
    "DerNode",
    "decode",
    "encode",
    "mutate_bytes",
    "mutate_der",
    "mutate_json_value",
    "mutate_text",
    "parse_der",
]

#: Byte strings spliced into inputs: separators of the formats under test, encodings of
#: huge numbers and dates, Unicode edge cases, and values from past defects.
TOKENS: tuple[bytes, ...] = (
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"\r\n",
    b"\n",
    b"\r",
    b"\t",
    b" ",
    b";",
    b",",
    b".",
    b"=",
    b"<",
    b">",
    b'"',
    b"\\",
    b":",
    b"@",
    b"/",
    b"..",
    b"\\ud800",
    b"\\udfff",
    b"\\u0000",
    b"%00",
    b"%ff",
    b"-1",
    b"0",
    b"1e400",
    b"-0",
    b"9" * 40,
    b"9" * 4500,
    b"1" * 400,
    b"253402300799",
    b"253402300800",
    b"1e11",
    b"9999-12-31T23:59:59Z",
    b"0001-01-01T00:00:00Z",
    b"Fri, 31 Dec 9999 23:59:59 GMT",
    b"Mon, 01 Jan 0001 00:00:00 GMT",
    b"max-age=",
    b"max-age=" + b"9" * 3000,
    b"Cache-Control",
    b"Expires",
    b"https://",
    b"sip:",
    b"tel:",
    b"+1",
    b";user=phone",
    b"info=",
    b"alg=",
    b"ppt=",
    b"ppt=div",
    b"ppt=shaken",
    b"ES256",
    b"Identity: ",
    b"https://a..b/x.pem",
    b"https://" + b"a" * 64 + b".com/x.pem",
    b"https://./x.pem",
    b"https://[::1]/x.pem",
    b"https://127.0.0.1/x",
    b"https://x.test:99999/x.pem",
    b"-----BEGIN CERTIFICATE-----\n",
    b"-----END CERTIFICATE-----\n",
    b"-----BEGIN X509 CRL-----\n",
    b"\x30\x80",
    b"\x30\x84\xff\xff\xff\xff",
    b"\x02\x89\x01" + b"\x00" * 9,
    b"\x06\x01\x80",
    b"\x30\x08\xa0\x06\x16\x88\xff",
    b"\x17\x0d991231235959Z",
    b"\x18\x0f99991231235959Z",
    b"\xe2\x80\xae",
    b"\xf0\x9f\x98\x80",
    b"\xcc\x81",
)

#: JSON values swapped into PASSporT headers and claims.
HOSTILE_JSON: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1.5,
    1e308,
    -1e308,
    10**40,
    -(10**40),
    10**400,
    253402300799,
    253402300800,
    253402300740,
    2**63,
    "",
    "A",
    "B",
    "C",
    "D",
    "a",
    "\ud800",
    "\udfff",
    "\x00",
    "\u202e",
    "12155551212",
    "+12155551212",
    "1" * 500,
    "x" * 5000,
    [],
    ["A"],
    [None],
    [[]],
    {},
    {"tn": "\ud800"},
    {"tn": ["12155551213"]},
    {"tn": 5},
    {"tn": []},
    {"uri": ["sip:a@b"]},
    {"tn": "12155551212", "uri": "x"},
    {"a": {"b": {"c": []}}},
    "https://cr.test/873J/0.pem",
    "https://a..b/x.pem",
    "https://" + "a" * 64 + ".test/x.pem",
    "https://cr.test:8443/x.pem",
    "http://cr.test/x.pem",
    "ES256",
    "RS256",
    "none",
    "passport",
    "shaken",
    "div",
    "rcd",
)


def _pick_token(rng: random.Random, extra: tuple[bytes, ...]) -> bytes:
    if extra and rng.random() < 0.5:
        return rng.choice(extra)
    return rng.choice(TOKENS)


def mutate_bytes(
    data: bytes,
    rng: random.Random,
    *,
    corpus: list[bytes] | None = None,
    tokens: tuple[bytes, ...] = (),
    max_len: int = 200_000,
) -> bytes:
    """One to four random byte-level mutations of ``data``."""
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        op = rng.randrange(11)
        n = len(buf)
        pos = rng.randrange(n + 1)
        if op == 0 and n:  # flip one bit
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # set a random or boundary byte
            buf[rng.randrange(n)] = rng.choice((0, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        elif op == 2:  # insert random bytes
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3 and n:  # delete a range
            end = min(n, pos + rng.randint(1, max(1, n // 8)))
            del buf[pos:end]
        elif op == 4 and n:  # repeat a range
            start = rng.randrange(n)
            chunk = bytes(buf[start : start + rng.randint(1, 64)])
            buf[pos:pos] = chunk * rng.randint(1, 50)
        elif op in (5, 6):  # insert a dictionary token
            buf[pos:pos] = _pick_token(rng, tokens)
        elif op == 7 and n:  # replace a range with a token
            end = min(n, pos + rng.randint(1, 16))
            buf[pos:end] = _pick_token(rng, tokens)
        elif op == 8 and corpus:  # splice with another corpus entry
            other = rng.choice(corpus)
            if other:
                cut = rng.randrange(len(other) + 1)
                buf = (
                    bytearray(bytes(buf[:pos]) + other[cut:])
                    if rng.random() < 0.5
                    else (bytearray(bytes(buf[:pos]) + other[:cut] + bytes(buf[pos:])))
                )
        elif op == 9 and n:  # truncate
            del buf[rng.randrange(n) :]
        elif op == 10 and n:  # change an ASCII digit run into a huge number
            i = rng.randrange(n)
            if chr(buf[i]).isdigit():
                buf[i:i] = b"9" * rng.choice((5, 20, 400, 5000))
    return bytes(buf[:max_len])


def mutate_text(text: str, rng: random.Random, *, tokens: tuple[bytes, ...] = ()) -> str:
    """:func:`mutate_bytes` on the UTF-8 of ``text``, decoded back with surrogateescape."""
    return decode(mutate_bytes(encode(text), rng, tokens=tokens))


def encode(text: str) -> bytes:
    """UTF-8 of any str: surrogateescape'd bytes come back as they were, other lone
    surrogates are written as their 3-byte forms."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def decode(data: bytes) -> str:
    """Bytes as str without loss (invalid UTF-8 via surrogateescape)."""
    return data.decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- DER trees
_CONSTRUCTED = 0x20


class DerNode:
    """One TLV: ``tag`` (the identifier octet), and either ``children`` (constructed) or
    ``content`` (primitive). ``length_override`` replaces the computed length octets."""

    __slots__ = ("children", "content", "length_override", "tag")

    def __init__(self, tag: int, content: bytes = b"", children: list[DerNode] | None = None):
        self.tag = tag
        self.content = content
        self.children = children
        self.length_override: bytes | None = None

    def encode(self) -> bytes:
        body = (
            b"".join(c.encode() for c in self.children)
            if self.children is not None
            else self.content
        )
        length = self.length_override if self.length_override is not None else _len(len(body))
        return bytes([self.tag]) + length + body

    def walk(self) -> list[DerNode]:
        out = [self]
        for child in self.children or ():
            out.extend(child.walk())
        return out


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _parse_one(data: bytes, pos: int, depth: int) -> tuple[DerNode, int]:
    if depth > 40 or pos + 2 > len(data):
        raise ValueError("short")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        k = first & 0x7F
        if k == 0 or k > 4 or pos + k > len(data):
            raise ValueError("length")
        length = int.from_bytes(data[pos : pos + k], "big")
        pos += k
    end = pos + length
    if end > len(data):
        raise ValueError("overrun")
    content = data[pos:end]
    if tag & _CONSTRUCTED:
        children = []
        cpos = pos
        while cpos < end:
            child, cpos = _parse_one(data, cpos, depth + 1)
            children.append(child)
        return DerNode(tag, children=children), end
    node = DerNode(tag, content=content)
    # OCTET STRING / BIT STRING that wrap DER (extension values): parse them as children
    # when they parse completely, so mutations reach inside extensions.
    inner = content[1:] if tag == 0x03 and content[:1] == b"\x00" else content
    if tag in (0x04, 0x03) and inner[:1] in (b"\x30", b"\x31", b"\x04", b"\x02") and inner:
        try:
            kids: list[DerNode] = []
            ipos = 0
            while ipos < len(inner):
                child, ipos = _parse_one(inner, ipos, depth + 1)
                kids.append(child)
            node = _Wrapped(tag, kids, bit=tag == 0x03)
        except ValueError:
            pass
    return node, end


class _Wrapped(DerNode):
    """A primitive OCTET/BIT STRING whose content is itself DER (kept as children)."""

    __slots__ = ("bit",)

    def __init__(self, tag: int, children: list[DerNode], *, bit: bool) -> None:
        super().__init__(tag, children=children)
        self.bit = bit

    def encode(self) -> bytes:
        body = (b"\x00" if self.bit else b"") + b"".join(c.encode() for c in self.children or ())
        length = self.length_override if self.length_override is not None else _len(len(body))
        return bytes([self.tag]) + length + body


class _Raw(DerNode):
    """Already-encoded bytes (deep nesting, built without recursion)."""

    __slots__ = ()

    def __init__(self, encoded: bytes) -> None:
        super().__init__(0, content=encoded)

    def encode(self) -> bytes:
        return self.content


def parse_der(data: bytes) -> DerNode | None:
    """The TLV tree of ``data`` (one complete top-level TLV), or ``None``."""
    try:
        node, end = _parse_one(data, 0, 0)
    except (ValueError, IndexError):
        return None
    return node if end == len(data) else None


def mutate_der(data: bytes, rng: random.Random, *, corpus: list[bytes] | None = None) -> bytes:
    """Change one node of the DER tree of ``data`` (byte mutation if it is not DER)."""
    tree = parse_der(data)
    if tree is None:
        return mutate_bytes(data, rng, corpus=corpus)
    nodes = tree.walk()
    node = rng.choice(nodes)
    op = rng.randrange(12)
    if op == 0:  # change the tag
        node.tag = rng.choice(
            (
                0x01,
                0x02,
                0x03,
                0x04,
                0x05,
                0x06,
                0x0C,
                0x13,
                0x16,
                0x17,
                0x18,
                0x1E,
                0x30,
                0x31,
                0x80,
                0xA0,
                0xA1,
                0xA3,
                0xFF,
                rng.randrange(256),
            )
        )
        if node.tag & _CONSTRUCTED and node.children is None:
            node.children = []
    elif op == 1:  # hostile length octets
        node.length_override = rng.choice(
            (
                b"\x80",
                b"\x81\xff",
                b"\x84\xff\xff\xff\xff",
                b"\x88\xff" + b"\x00" * 7,
                b"\x89" + b"\x01" * 9,
                b"\x00",
                b"\x7f",
                b"\x82\x00\x01",
                b"\x8f" + b"\xff" * 15,
            )
        )
    elif op == 2 and node.children:  # duplicate a child (duplicate extensions, RDNs ...)
        i = rng.randrange(len(node.children))
        node.children.insert(i, _copy(node.children[i]))
    elif op == 3 and node.children:  # delete a child
        del node.children[rng.randrange(len(node.children))]
    elif op == 4 and node.children:  # swap two children
        i, j = rng.randrange(len(node.children)), rng.randrange(len(node.children))
        node.children[i], node.children[j] = node.children[j], node.children[i]
    elif op == 5 and node.children is None:  # mutate primitive content
        node.content = mutate_bytes(node.content, rng)
    elif op == 6 and node.children is None:  # hostile INTEGER / string content
        node.content = rng.choice(
            (
                b"",
                b"\x00",
                b"\xff" * 9,
                b"\x00" * 30,
                b"\x7f" + b"\xff" * 40,
                b"\x01" * 200,
                b"\xed\xa0\x80",
                b"99991231235959Z",
                b"991231235959Z",
                b"500101000000Z",
                b"20240229120000Z",
            )
        )
    elif op == 7:  # wrap the node in a SEQUENCE / context tag
        inner = _copy(node)
        node.tag = rng.choice((0x30, 0xA0, 0x31))
        node.children = [inner]
        node.content = b""
        node.length_override = None
    elif op == 8 and node.children is not None:  # splice a subtree from another input
        other = parse_der(rng.choice(corpus)) if corpus else None
        if other is not None:
            node.children.insert(
                rng.randrange(len(node.children) + 1), _copy(rng.choice(other.walk()))
            )
    elif op == 9 and node.children:  # deep nesting
        nested = node.children[0].encode()
        for _ in range(rng.choice((10, 100, 1000))):
            nested = b"\x30" + _len(len(nested)) + nested
        node.children[0] = _Raw(nested)
    else:  # plain byte mutation of the whole encoding
        return mutate_bytes(tree.encode(), rng, corpus=corpus)
    return tree.encode()


def _copy(node: DerNode) -> DerNode:
    if isinstance(node, _Raw):
        return _Raw(node.content)
    if isinstance(node, _Wrapped):
        return _Wrapped(node.tag, [_copy(c) for c in node.children or ()], bit=node.bit)
    if node.children is not None:
        copy = DerNode(node.tag, children=[_copy(c) for c in node.children])
    else:
        copy = DerNode(node.tag, content=node.content)
    copy.length_override = node.length_override
    return copy


# --------------------------------------------------------------------------- JSON
def mutate_json_value(obj: Any, rng: random.Random, depth: int = 0) -> Any:
    """A mutated copy of a JSON value (usually a PASSporT header or claims object)."""
    if isinstance(obj, dict) and obj and rng.random() < 0.8 and depth < 4:
        out = dict(obj)
        key = rng.choice(list(out))
        op = rng.randrange(6)
        if op == 0:
            del out[key]
        elif op == 1:
            out[rng.choice((*out, "extra", "\ud800", "", "x" * 300))] = rng.choice(HOSTILE_JSON)
        elif op == 2:
            out[key] = mutate_json_value(out[key], rng, depth + 1)
        else:
            out[key] = rng.choice(HOSTILE_JSON)
        return out
    if isinstance(obj, list) and obj and rng.random() < 0.7 and depth < 4:
        out_list = list(obj)
        i = rng.randrange(len(out_list))
        op = rng.randrange(3)
        if op == 0:
            out_list[i] = mutate_json_value(out_list[i], rng, depth + 1)
        elif op == 1:
            out_list.append(rng.choice(HOSTILE_JSON))
        else:  # repeat (small lists only: the result must stay a reasonable size)
            out_list = out_list * (rng.choice((2, 50)) if len(out_list) < 8 else 2)
        return out_list
    if isinstance(obj, str) and obj and rng.random() < 0.5:
        return mutate_text(obj, rng)
    if isinstance(obj, int) and not isinstance(obj, bool) and rng.random() < 0.5:
        return obj + rng.choice((-1, 1, -86400, 86400, 10**12, -(10**12), 10**30))
    if rng.random() < 0.1:  # deeply nested
        value: Any = rng.choice(HOSTILE_JSON)
        for _ in range(rng.choice((50, 500, 5000))):
            value = [value]
        return value
    return rng.choice(HOSTILE_JSON)


def json_bytes(obj: Any, rng: random.Random) -> bytes:
    """Encode ``obj``: usually canonical (sorted, compact), sometimes not; lone surrogates
    are written as JSON escapes (``\\ud800``), as a hostile signer would."""
    style = rng.randrange(4)
    if style == 0:
        text = json.dumps(obj, indent=1)
    elif style == 1:
        text = json.dumps(obj, separators=(",", ":"))
    else:
        text = json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=style == 2)
    return text.encode("utf-8", "surrogatepass" if style == 3 else "strict")
