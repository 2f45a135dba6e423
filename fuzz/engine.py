"""The fuzz loop: structure-aware mutation, per-input time bound, crash saving.

For each target: run every seed, then mutate random corpus entries with the mutator of
the target's kind and run the children. A child that breaks the contract is saved once
per distinct (exception type, innermost shakenlib frame) as
``<out>/<target>/<short-hash>.bin`` (plus a ``.txt`` with the traceback) and the run goes
on. An input taking longer than ``hang_seconds`` is reported as a ``Hang``; one still
running after ``hard_timeout`` seconds is interrupted (``SIGALRM``) and reported as a
``Timeout`` at the frame it was stuck in.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from fuzz import mutate as m
from fuzz.targets import TARGETS, Scenario, Target, Violation, check, context, violation_of

__all__ = ["Finding", "Stats", "fuzz_target", "mutator_for", "save_violation"]

MAX_LEN = 65536


class HardTimeout(BaseException):
    """Raised by SIGALRM in a stuck input."""  # the library cannot swallow it


@attrs.define
class Finding:
    """One distinct contract violation of a run."""

    target: str
    violation: Violation
    count: int
    path: Path | None
    data: bytes


@attrs.define
class Stats:
    """Counts of one target's run."""

    target: str
    inputs: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    findings: dict[str, Finding] = attrs.field(factory=dict)

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0


# --------------------------------------------------------------------------- mutators
def _split_token(identity: str) -> tuple[str, str]:
    token, _sep, params = identity.partition(";")
    return token, params


def _decode_segment(seg: str) -> Any:
    import base64

    raw = base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))
    return json.loads(raw)


def resign_mutation(identity: str, rng: random.Random) -> str | None:
    """Mutate the JOSE header or claims of a token as JSON and sign it again with the
    fuzz leaf key, so the change gets past the signature check. ``None`` if the input is
    not a token with JSON segments."""
    token, params = _split_token(identity)
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, claims = _decode_segment(parts[0]), _decode_segment(parts[1])
    except (ValueError, UnicodeDecodeError):
        return None
    if rng.random() < 0.3:
        header = m.mutate_json_value(header, rng)
    else:
        claims = m.mutate_json_value(claims, rng)
    if rng.random() < 0.2:
        claims = m.mutate_json_value(claims, rng)
    try:
        hb, cb = m.json_bytes(header, rng), m.json_bytes(claims, rng)
    except (ValueError, RecursionError, UnicodeEncodeError):
        return None
    if len(hb) + len(cb) > MAX_LEN:
        return None
    new = context().sign_token(hb, cb)
    if isinstance(header, dict) and isinstance(header.get("x5u"), str) and rng.random() < 0.7:
        x5u = header["x5u"]
        ppt = header.get("ppt") if isinstance(header.get("ppt"), str) else "shaken"
        params = f"info=<{x5u}>;alg=ES256;ppt={ppt}"
    if params and rng.random() < 0.15:
        params = m.mutate_text(params, rng)
    return f"{new};{params}" if params else new


def _mutate_identity(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    text = data.decode("utf-8", "surrogateescape")
    if rng.random() < 0.6:
        new = resign_mutation(text, rng)
        if new is not None:
            return m.encode(new)
    return m.mutate_bytes(data, rng, corpus=corpus)


def _mutate_token(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    out = _mutate_identity(data, rng, corpus)
    return out.split(b";", 1)[0] if rng.random() < 0.8 else out


def _resign_tbs(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes | None:
    """Mutate inside the to-be-signed part of a certificate/CRL and sign it again
    (certificate: the fuzz intermediate CA key; CRL: the CRL signer key)."""
    from fuzz.targets import resign_der

    tree = m.parse_der(data)
    if tree is None or not tree.children or len(tree.children) != 3:
        return None
    tbs = tree.children[0]
    if not tbs.children:
        return None
    ctx = context()
    is_cert = bool(tbs.children and tbs.children[0].tag == 0xA0)
    new_tbs = m.mutate_der(tbs.encode(), rng, corpus=corpus)
    return resign_der(data, new_tbs, ctx.ca_key if is_cert else ctx.crl_key)


def _mutate_der(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    if rng.random() < 0.4:
        out = _resign_tbs(data, rng, corpus)
        if out is not None:
            return out
    if rng.random() < 0.85:
        return m.mutate_der(data, rng, corpus=corpus)
    return m.mutate_bytes(data, rng, corpus=corpus)


def _mutate_der_pem(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    from fuzz.seeds import _pem

    if data.startswith(b"0") and rng.random() < 0.2:
        return _pem(_mutate_der(data, rng, corpus))
    return _mutate_der(data, rng, corpus)


def _mutate_sip(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    if rng.random() < 0.4:
        lines = data.split(b"\n")
        idx = [i for i, line in enumerate(lines) if line.lower().startswith(b"identity:")]
        if idx:
            i = rng.choice(idx)
            value = lines[i].split(b":", 1)[1].strip()
            new = _mutate_identity(value, rng, corpus)
            lines[i] = b"Identity: " + new
            return b"\n".join(lines)
    return m.mutate_bytes(
        data,
        rng,
        corpus=corpus,
        tokens=(
            b"Identity: ",
            b"Date: ",
            b"From: ",
            b"To: ",
            b"P-Asserted-Identity: ",
            b"\r\n ",
            b"\r\n\r\n",
            b"INVITE ",
            b" SIP/2.0",
            b"Content-Length: 999999999\r\n",
        ),
    )


_URLS = (
    "https://cr.test/873J/0.pem",
    "https://a..b/x.pem",
    "https://x." + "a" * 64 + "/x",
    "https://xn--/x.pem",
    "https://\u00e9\u0301.test/x",
    "https://cr.test:8443/a.pem",
    "https://[fe80::1%25eth0]/x",
    "https://0x7f.1/x",
    "https://cr.test/" + "a" * 3000,
)
_AT = (
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:00+00:00",
    "253402300799",
    "1e11",
    "0001-01-01T00:00:00Z",
    "1748779200",
    "2025-06-01T12:00:30Z",
    "-1",
    "1" * 30,
)
_HEADERS = (
    ("Cache-Control", "max-age=" + "9" * 5000),
    ("Cache-Control", "max-age=-1"),
    ("Cache-Control", "s-maxage=99999999999999999999, no-cache"),
    ("Cache-Control", ""),
    ("Expires", "Fri, 31 Dec 9999 23:59:59 GMT"),
    ("Expires", "Mon, 01 Jan 0001 00:00:00 GMT"),
    ("Expires", "0"),
    ("Expires", "9" * 4000),
    ("Age", "9" * 4000),
    ("Date", "garbage"),
    ("Content-Length", "9" * 50),
)


def _mutate_scenario(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    if rng.random() < 0.1:
        return m.mutate_bytes(data, rng, corpus=corpus)
    sc = Scenario.parse(data)
    ctx = context()
    op = rng.randrange(10)
    if op <= 2 and sc.identities:
        i = rng.randrange(len(sc.identities))
        new = resign_mutation(sc.identities[i], rng) if op < 2 else None
        sc.identities[i] = new if new is not None else m.mutate_text(sc.identities[i], rng)
    elif op == 3:
        choice = rng.randrange(4)
        if choice == 0:
            sc.orig = rng.choice(
                (
                    None,
                    "",
                    "anonymous",
                    "+1 (215) 555-1212",
                    "1" * 5000,
                    "sip:\udcff@x",
                    m.mutate_text(sc.orig or "1", rng),
                )
            )
        elif choice == 1:
            sc.dest = [
                rng.choice(("", "12155551213", "tel:+1215", "1" * 400))
                for _ in range(rng.randint(0, 3))
            ]
        else:
            sc.at = rng.choice((*_AT, m.mutate_text(sc.at or "1748779200", rng)))
    elif op == 4:
        sc.repo = rng.choice(("memory", "http", "http-open"))
    elif op == 5:
        name, value = rng.choice(_HEADERS)
        sc.headers = dict(sc.headers)
        sc.headers[name] = value
        sc.serve = sc.serve or ctx.x5u
        sc.body = sc.body if sc.body is not None else ctx.published[ctx.x5u][0]
    elif op == 6:  # serve a re-signed mutated leaf with the real issuers
        from fuzz.seeds import _pem

        leaf = _resign_tbs(ctx.leaf_der, rng, corpus) or ctx.leaf_der
        sc.serve, sc.body = ctx.x5u, _pem(leaf) + ctx.chain_tail_pem
    elif op == 7:  # serve a real certificate (untrusted) or garbage
        from fuzz.seeds import _pem, real_cert_ders

        ders = real_cert_ders()
        body = (
            _pem(rng.choice(ders))
            if ders and rng.random() < 0.7
            else m.mutate_bytes(sc.body or b"", rng)
        )
        sc.serve, sc.body = rng.choice((ctx.x5u, sc.serve or ctx.x5u)), body
    elif op == 8:
        sc.serve = rng.choice((*_URLS, ctx.pki.crl_url))
        sc.body = sc.body if sc.body is not None else ctx.published[ctx.x5u][0]
        sc.status = rng.choice((200, 200, 301, 404, 500, 99))
        sc.ctype = rng.choice((None, "text/html", "application/pkix-cert", sc.ctype))
    else:
        other = Scenario.parse(rng.choice(corpus)) if corpus else sc
        sc.identities = (sc.identities + other.identities)[: rng.randint(1, 4)]
    return sc.render()


def _mutate_records(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    if data and rng.random() < 0.3:
        lines = data[1:].split(b"\n")
        i = rng.randrange(len(lines))
        lines[i] = (
            _mutate_identity(lines[i], rng, corpus)
            if b"eyJ" in lines[i]
            else (m.mutate_bytes(lines[i], rng))
        )
        return data[:1] + b"\n".join(lines)
    out = m.mutate_bytes(
        data[1:],
        rng,
        corpus=corpus,
        tokens=(b'"time":', b'"identity":', b'"orig":', b"\n", b"---", b'""', b"\f", b",", b"\t"),
    )
    return (data[:1] if rng.random() < 0.95 else bytes([rng.randrange(6)])) + out


def _mutate_text(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    return m.mutate_bytes(data, rng, corpus=corpus)


_MUTATORS: dict[str, Callable[[bytes, random.Random, list[bytes]], bytes]] = {
    "identity": _mutate_identity,
    "token": _mutate_token,
    "der": _mutate_der,
    "der_pem": _mutate_der_pem,
    "sip": _mutate_sip,
    "scenario": _mutate_scenario,
    "records": _mutate_records,
    "text": _mutate_text,
}


def mutator_for(target: Target) -> Callable[[bytes, random.Random, list[bytes]], bytes]:
    """The structure-aware mutator of a target."""
    kind = target.kind
    if target.name == "passport":
        kind = "token"
    elif target.name in ("certs", "crl"):
        kind = "der_pem"
    return _MUTATORS[kind]


# --------------------------------------------------------------------------- saving
def short_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "backslashreplace")).hexdigest()[:12]


def save_violation(out: Path, target: str, violation: Violation, data: bytes) -> Path | None:
    """Write the regression file (once per de-duplication key); returns its path, or
    ``None`` when that key was saved before."""
    folder = out / target
    path = folder / f"{short_hash(violation.key)}.bin"
    if path.exists():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.with_suffix(".txt").write_text(
        f"{violation.key}\n{violation.message}\n\n{violation.trace}",
        encoding="utf-8",
        errors="backslashreplace",
    )
    return path


# --------------------------------------------------------------------------- loop
def _on_alarm(signum: int, frame: Any) -> None:
    raise HardTimeout("input still running after the hard timeout")


def run_input(target: Target, data: bytes, hard_timeout: float) -> tuple[Violation | None, float]:
    """Run one input under the hard time limit; returns (violation, seconds)."""
    use_alarm = hard_timeout > 0 and hasattr(signal, "setitimer")
    start = time.perf_counter()
    try:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, hard_timeout)
        try:
            violation = check(target, data)
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except HardTimeout as exc:
        v = violation_of(exc)
        violation = attrs.evolve(v, exc_type="Timeout")
    return violation, time.perf_counter() - start


def fuzz_target(
    name: str,
    *,
    seed: int = 0,
    max_inputs: int | None = None,
    seconds: float | None = None,
    out: Path | None = None,
    hang_seconds: float = 1.0,
    hard_timeout: float = 10.0,
    corpus_cap: int = 4000,
    report: Callable[[str], None] | None = None,
) -> Stats:
    """Fuzz one target until ``max_inputs`` inputs or ``seconds`` have passed (the seeds
    always run). Saves violations under ``out`` when given."""
    from fuzz.seeds import seeds_for

    target = TARGETS[name]
    rng = random.Random(seed ^ zlib.crc32(name.encode()))
    corpus = [s[:MAX_LEN] for s in seeds_for(name)]
    mutator = mutator_for(target)
    stats = Stats(name)
    old = signal.signal(signal.SIGALRM, _on_alarm) if hasattr(signal, "SIGALRM") else None
    start = time.perf_counter()
    deadline = start + seconds if seconds is not None else None
    pending = list(corpus)
    try:
        while True:
            if pending:
                data = pending.pop(0)
            else:
                if max_inputs is not None and stats.inputs >= max_inputs:
                    break
                if deadline is not None and time.perf_counter() >= deadline:
                    break
                parent = rng.choice(corpus)
                try:
                    data = mutator(parent, rng, corpus)[:MAX_LEN]
                except Exception:  # a mutator's own limit (MemoryError ...): plain bytes
                    data = m.mutate_bytes(parent, rng)[:MAX_LEN]
            violation, took = run_input(target, data, hard_timeout)
            stats.inputs += 1
            stats.slowest = max(stats.slowest, took)
            if violation is None and took > hang_seconds:
                violation = Violation("Hang", name, f"{took:.2f} s > {hang_seconds} s", "")
            if violation is not None:
                _record(stats, name, violation, data, out, report)
            elif rng.random() < 0.02 and data not in corpus:
                if len(corpus) < corpus_cap:
                    corpus.append(data)
                else:
                    corpus[rng.randrange(len(corpus))] = data
    finally:
        if old is not None:
            signal.signal(signal.SIGALRM, old)
    stats.seconds = time.perf_counter() - start
    return stats


def _record(
    stats: Stats,
    name: str,
    violation: Violation,
    data: bytes,
    out: Path | None,
    report: Callable[[str], None] | None,
) -> None:
    key = violation.key
    seen = stats.findings.get(key)
    if seen is not None:
        seen.count += 1
        if len(data) < len(seen.data) and seen.path is not None:  # keep the smallest
            seen.path.write_bytes(data)
            seen.data = data
        return
    path = save_violation(out, name, violation, data) if out is not None else None
    if path is None and out is not None:  # saved by an earlier run
        path = out / name / f"{short_hash(key)}.bin"
    stats.findings[key] = Finding(name, violation, 1, path, data)
    if report is not None:
        report(f"  [{name}] {key}: {violation.message[:100]!r} -> {path}")
