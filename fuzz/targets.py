"""Fuzz targets: every parser of shakenlib, ``Verifier.verify`` and ``verify_sip``.

A target is a function ``(data: bytes) -> None`` that feeds ``data`` to the library and
asserts its contract:

* parsers may raise :class:`~shakenlib.errors.ShakenError` (their documented way to say
  "not valid") and nothing else;
* ``Verifier.verify``/``verify_sip`` never raise: they return a
  :class:`~shakenlib.verify.result.VerificationResult` whose ``to_dict()`` is JSON-serialisable
  (the one documented exception, ``UsageError`` for an unusable verification time, is
  filtered out before the call);
* record sources never raise while iterated: an unreadable record is a ``UnreadableRecord``.

:func:`check` runs a target and returns ``None`` when the contract held, or a
:class:`Violation` (exception type, innermost shakenlib frame, traceback). The same
function serves the fuzz driver, the regression replay test and the short fuzz pass.

Nothing here touches the network: the verifier reads a :class:`MemoryRepository` or an
:class:`HttpRepository` whose session answers from memory, and :func:`offline` makes
every socket connection and name lookup fail (a lookup still applies the IDNA encoding
the C library would, so hostile host names behave as on a real system).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import io
import json
import os
import socket
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import requests
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import shakenlib
from shakenlib.errors import ShakenError, UsageError

__all__ = [
    "ROOT",
    "TARGETS",
    "Context",
    "Scenario",
    "Target",
    "Violation",
    "check",
    "context",
    "offline",
]

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(shakenlib.__file__).resolve().parent
NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)  # testing.pki.DEFAULT_NOW
ORIG, DEST = "12155551212", "12155551213"


# --------------------------------------------------------------------------- results
@attrs.frozen
class Violation:
    """A broken contract: what escaped, from where, and the formatted traceback."""

    exc_type: str
    location: str  # "shakenlib/passport.py:181 in canonical_json" (innermost library frame)
    message: str
    trace: str

    @property
    def key(self) -> str:
        """The de-duplication key: exception type + innermost shakenlib frame."""
        return f"{self.exc_type} @ {self.location}"


def _innermost_library_frame(tb: Any) -> str:
    frames = traceback.extract_tb(tb)
    for frame in reversed(frames):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(PACKAGE_DIR):
            rel = path.relative_to(PACKAGE_DIR.parent).as_posix()
            return f"{rel}:{frame.lineno} in {frame.name}"
    if frames:
        last = frames[-1]
        return f"{Path(last.filename).name}:{last.lineno} in {last.name}"
    return "?"


def violation_of(exc: BaseException) -> Violation:
    """Describe an exception that broke a target's contract."""
    message = str(exc)[:300] if not isinstance(exc, RecursionError) else "recursion"
    return Violation(
        type(exc).__name__,
        _innermost_library_frame(exc.__traceback__),
        message,
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-6000:],
    )


class ContractError(AssertionError):
    """A target's own assertion about a returned value failed."""


# --------------------------------------------------------------------------- offline
def _fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
    if isinstance(host, str):
        host.encode("idna")  # what socket.getaddrinfo does to a str host first
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port or 443))]


def _no_network(*args: Any, **kwargs: Any) -> Any:
    raise OSError("fuzz: network access is disabled")


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """No DNS and no connections while inside (name lookups answer 127.0.0.1, which the
    library's address guard refuses; any connect raises ``OSError``)."""
    saved = (
        socket.getaddrinfo,
        socket.create_connection,
        socket.socket.connect,
        socket.socket.connect_ex,
    )
    socket.getaddrinfo = _fake_getaddrinfo
    socket.create_connection = _no_network
    socket.socket.connect = _no_network  # type: ignore[method-assign]
    socket.socket.connect_ex = _no_network  # type: ignore[method-assign]
    try:
        yield
    finally:
        (
            socket.getaddrinfo,
            socket.create_connection,
            socket.socket.connect,
            socket.socket.connect_ex,
        ) = saved  # type: ignore[method-assign]


# --------------------------------------------------------------------------- context
def _key(n: int) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(0x5EED0000 + n, ec.SECP256R1())


def sign_es256_deterministic(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """Raw R||S ES256 signature with RFC 6979 nonces (same bytes every run)."""
    der = key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def resign_der(der: bytes, tbs: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """A certificate or CRL with ``tbs`` signed by ``key`` (ECDSA with SHA-256)."""
    from fuzz.mutate import DerNode

    sig = key.sign(tbs, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    alg = bytes.fromhex("300a06082a8648ce3d040302")
    del der
    return DerNode(0x30, content=tbs + alg + DerNode(0x03, content=b"\x00" + sig).encode()).encode()


@attrs.define
class Context:
    """The test PKI, repository contents and verifier shared by the targets.

    The PKI keys are derived from fixed numbers, so a token or certificate signed in one
    run (and saved as a regression file) verifies in every later run.
    """

    pki: Any
    trust: Any
    published: dict[str, tuple[bytes, str]]  # url -> (body, content type)
    leaf_key: ec.EllipticCurvePrivateKey
    leaf_cert: x509.Certificate
    leaf_der: bytes
    chain_tail_pem: bytes  # the issuers of the leaf (PEM), to serve after a mutated leaf
    ca_key: ec.EllipticCurvePrivateKey
    crl_key: ec.EllipticCurvePrivateKey
    crl_der: bytes
    x5u: str
    verifier: Any
    tmpdir: Path

    def repository(self, served: dict[str, tuple[bytes, str | None, dict[str, str]]]) -> Any:
        from shakenlib.fetch import MemoryRepository

        repo = MemoryRepository()
        for url, (body, ctype) in self.published.items():
            repo.add(url, body, content_type=ctype)
        for url, (body, ctype, headers) in served.items():
            repo.add(url, body, content_type=ctype, headers=headers)
        return repo

    def sign_token(self, header: bytes, claims: bytes) -> str:
        signing_input = f"{b64url(header)}.{b64url(claims)}"
        sig = sign_es256_deterministic(self.leaf_key, signing_input.encode("ascii"))
        return f"{signing_input}.{b64url(sig)}"


@contextlib.contextmanager
def _deterministic_pki(pki_module: Any) -> Iterator[None]:
    """While inside, the test PKI makes the same bytes every run: keys derived from fixed
    numbers, serial numbers from a counter, RFC 6979 ECDSA signatures. A regression file
    holding a certificate of this PKI (a trust anchor itself, say) then replays exactly."""
    keys = iter(range(1, 100))
    serials = iter(range(1 << 71, (1 << 71) + 100))
    saved = (
        pki_module.ec.generate_private_key,
        pki_module._serial,
        x509.CertificateBuilder.sign,
        x509.CertificateRevocationListBuilder.sign,
    )
    cert_sign, crl_sign = saved[2], saved[3]

    def fixed_key(curve: Any, backend: Any = None) -> ec.EllipticCurvePrivateKey:
        return _key(next(keys))

    def cert_sign_det(self: Any, key: Any, algorithm: Any, *a: Any, **kw: Any) -> Any:
        return cert_sign(self, key, algorithm, *a, ecdsa_deterministic=True, **kw)

    def crl_sign_det(self: Any, key: Any, algorithm: Any, *a: Any, **kw: Any) -> Any:
        return crl_sign(self, key, algorithm, *a, ecdsa_deterministic=True, **kw)

    pki_module.ec.generate_private_key = fixed_key
    pki_module._serial = lambda: next(serials)
    x509.CertificateBuilder.sign = cert_sign_det  # type: ignore[method-assign]
    x509.CertificateRevocationListBuilder.sign = crl_sign_det  # type: ignore[method-assign]
    try:
        yield
    finally:
        (
            pki_module.ec.generate_private_key,
            pki_module._serial,
            x509.CertificateBuilder.sign,
            x509.CertificateRevocationListBuilder.sign,
        ) = saved


@functools.cache
def context() -> Context:
    """The shared fuzz context (built once per process)."""
    from shakenlib.pki.trust import TrustStore
    from shakenlib.testing import pki as pki_module
    from shakenlib.verify import Verifier

    with _deterministic_pki(pki_module):
        pki = pki_module.StiTestPki(now=NOW)
        leaf_key = _key(50)
        leaf = pki.issue_sp_certificate("873J", organization="Acme Telecom", key=leaf_key)
        crl = pki.make_crl()
    x5u = "https://cr.test/873J/0.pem"
    published = {
        x5u: (leaf.chain_pem(), "application/pem-certificate-chain"),
        pki.crl_url: (crl, "application/pkix-crl"),
    }
    trust = TrustStore.from_pem(pki.trust_anchors_pem())
    tail = b"".join(i.pem for i in leaf.issuers if i is not pki.ca_root)
    tmp = Path(tempfile.mkdtemp(prefix="shakenlib-fuzz-"))
    ctx = Context(
        pki,
        trust,
        published,
        leaf_key,
        leaf.certificate,
        leaf.der,
        tail,
        pki.ca_intermediate.key,
        pki.crl_signer.key,
        crl,
        x5u,
        None,
        tmp,
    )
    ctx.verifier = Verifier(trust, ctx.repository({}))
    return ctx


# --------------------------------------------------------------------------- scenario
_KEYS = ("orig", "dest", "at", "repo", "identity", "serve", "status", "header", "ctype")


@attrs.define
class Scenario:
    """The input of the ``verify`` target: one call plus what the repository serves.

    Text lines ``key: value`` (``orig``, ``dest`` (repeatable), ``at``, ``repo``
    (``memory``, ``http`` = the real fetch policy with name lookups refused, ``http-open``
    = any address allowed, answered from memory), ``identity`` (repeatable), ``serve``
    (a URL), ``status``, ``ctype``, ``header`` (``Name: value``, repeatable)), then an
    optional line ``body:`` after which every byte is the body served at ``serve``.
    A line that is none of these is an Identity header value.
    """

    identities: list[str] = attrs.field(factory=list)
    orig: str | None = ORIG
    dest: list[str] = attrs.field(factory=lambda: [DEST])
    at: str | None = None
    repo: str = "memory"
    serve: str | None = None
    status: int = 200
    ctype: str | None = "application/pem-certificate-chain"
    headers: dict[str, str] = attrs.field(factory=lambda: {"Cache-Control": "max-age=86400"})
    body: bytes | None = None

    @classmethod
    def parse(cls, data: bytes) -> Scenario:
        head, sep, body = data.partition(b"\nbody:\n")
        sc = cls(body=body if sep else None)
        dests: list[str] = []
        headers: dict[str, str] = {}
        for raw in head.split(b"\n"):
            line = raw.decode("utf-8", "surrogateescape")
            key, colon, value = line.partition(": ")
            if not colon or key not in _KEYS:
                if line.strip():
                    sc.identities.append(line)
                continue
            if key == "identity":
                sc.identities.append(value)
            elif key == "orig":
                sc.orig = value if value != "-" else None
            elif key == "dest":
                dests.append(value)
            elif key == "at":
                sc.at = value
            elif key == "repo":
                sc.repo = value
            elif key == "serve":
                sc.serve = value
            elif key == "status":
                sc.status = int(value) if value.isdigit() and len(value) < 4 else 200
            elif key == "ctype":
                sc.ctype = value or None
            elif key == "header":
                name, _, hval = value.partition(": ")
                headers[name] = hval
        if dests:
            sc.dest = [d for d in dests if d != "-"]
        if headers:
            sc.headers = headers
        return sc

    def render(self) -> bytes:
        lines = [f"orig: {self.orig if self.orig is not None else '-'}"]
        lines += [f"dest: {d}" for d in self.dest] or ["dest: -"]
        if self.at is not None:
            lines.append(f"at: {self.at}")
        if self.repo != "memory":
            lines.append(f"repo: {self.repo}")
        lines += [f"identity: {i}" for i in self.identities]
        if self.serve is not None:
            lines.append(f"serve: {self.serve}")
            if self.status != 200:
                lines.append(f"status: {self.status}")
            if self.ctype != "application/pem-certificate-chain":
                lines.append(f"ctype: {self.ctype or ''}")
            lines += [f"header: {k}: {v}" for k, v in self.headers.items()]
        from fuzz.mutate import encode

        out = encode("\n".join(lines))
        if self.serve is not None and self.body is not None:
            out += b"\nbody:\n" + self.body
        return out


class _MemoryAdapter(requests.adapters.HTTPAdapter):
    """A transport answering from a dict instead of the network."""

    def __init__(self, answers: dict[str, tuple[int, bytes, dict[str, str]]]) -> None:
        super().__init__(max_retries=0)
        self.answers = answers

    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
        from fuzz.mutate import encode

        status, body, hdrs = self.answers.get(request.url, (404, b"not found", {}))
        # as http.client delivers them: latin-1 text, no line breaks inside a field
        headers = {
            encode(k).decode("latin-1").replace("\r", "").replace("\n", ""): encode(v)
            .decode("latin-1")
            .replace("\r", "")
            .replace("\n", "")
            for k, v in hdrs.items()
        }
        raw = urllib3.response.HTTPResponse(
            body=io.BytesIO(body),
            headers=headers,
            status=status,
            preload_content=False,
            decode_content=False,
            reason="OK" if status == 200 else "Nope",
        )
        return self.build_response(request, raw)


def _scenario_verifier(sc: Scenario) -> Any:
    from shakenlib.fetch import FetchPolicy, HttpRepository
    from shakenlib.verify import Verifier

    ctx = context()
    served: dict[str, tuple[bytes, str | None, dict[str, str]]] = {}
    if sc.serve is not None and sc.body is not None:
        served[sc.serve] = (sc.body, sc.ctype, sc.headers)
    if sc.repo == "memory":
        if not served:
            return ctx.verifier
        return Verifier(ctx.trust, ctx.repository(served))
    if sc.repo == "http":
        return Verifier(ctx.trust, HttpRepository(FetchPolicy(), session=requests.Session()))
    answers: dict[str, tuple[int, bytes, dict[str, str]]] = {
        url: (200, body, {"Content-Type": ctype, "Cache-Control": "max-age=86400"})
        for url, (body, ctype) in ctx.published.items()
    }
    for url, (body, ctype, headers) in served.items():
        hdrs = dict(headers)
        if ctype is not None:
            hdrs["Content-Type"] = ctype
        answers[url] = (sc.status, body, hdrs)
    from shakenlib.testing.server import loopback_policy

    # The repository's own adapter is swapped for one that answers from memory: the
    # harness exercises everything above the socket (status, headers, bodies, caching).
    repository = HttpRepository(loopback_policy())
    adapter = _MemoryAdapter(answers)
    repository._adapter = adapter  # type: ignore[assignment]
    repository.session.mount("https://", adapter)
    repository.session.mount("http://", adapter)
    return Verifier(ctx.trust, repository)


def _check_result(result: Any) -> None:
    from shakenlib.verify.result import VerificationResult

    if not isinstance(result, VerificationResult):
        raise ContractError(f"verify returned {type(result).__name__}, not a result")
    json.dumps(result.to_dict())


# --------------------------------------------------------------------------- targets
def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def t_identity(data: bytes) -> None:
    """decode_identity (never raises: the error is in the result) and parse_identity."""
    from shakenlib.sip.identity import parse_identity
    from shakenlib.sip.passport import decode_identity

    text = _text(data)
    decoded = decode_identity(text)
    json.dumps(decoded.to_dict())
    parse_identity(text)


def t_passport(data: bytes) -> None:
    """decode_passport on a compact JWS."""
    from shakenlib.sip.passport import decode_passport

    json.dumps(decode_passport(_text(data)).to_dict())


def t_sip(data: bytes) -> None:
    """parse_sip_message, its number/Date accessors, and what ``decode --sip`` does with
    each Identity header (decode_identity, rebuild_compact for the compact form)."""
    from shakenlib.sip import parse_sip_message
    from shakenlib.sip.passport import decode_identity, rebuild_compact

    msg = parse_sip_message(data)
    msg.orig_tns()
    msg.dest_tns()
    msg.date_time()
    for value in msg.identity:
        decoded = decode_identity(value)
        json.dumps(decoded.to_dict())
        if decoded.error is None and decoded.identity.form == "compact":
            rebuild_compact(decoded.identity, msg)
    parse_sip_message(_text(data))


def t_tn_time(data: bytes) -> None:
    """canonical_tn, tn_from_uri, parse_time and to_datetime on text."""
    from shakenlib.timeutil import parse_time, to_datetime
    from shakenlib.tn import canonical_tn, tn_from_uri

    text = _text(data)
    for fn in (canonical_tn, tn_from_uri, parse_time, to_datetime):
        with contextlib.suppress(ShakenError):
            fn(text)  # type: ignore[operator]
    numbers: list[int | float] = []
    if len(text) < 4000:
        with contextlib.suppress(ValueError):
            numbers.append(int(text))
        with contextlib.suppress(ValueError):
            numbers.append(float(text))
    for number in numbers:  # an int or float time straight from a JSON record
        with contextlib.suppress(ShakenError):
            parse_time(number)


_FORMATS = ("jsonl", "csv", "sip")


def t_records(data: bytes) -> None:
    """RecordSource.from_text for JSON Lines, CSV and SIP (first byte picks the format;
    iterating must never raise) and parse_mapping on the first line."""
    from shakenlib.analysis.records import RecordSource, parse_mapping

    fmt = _FORMATS[data[0] % 3] if data else "jsonl"
    text = _text(data[1:])
    at = NOW if data[:1] == b"\x05" else None
    for item in RecordSource.from_text(text, fmt, at=at):
        if hasattr(item, "to_dict"):
            json.dumps(item.to_dict())
    first = text.split("\n", 1)[0]
    with contextlib.suppress(ShakenError):
        parse_mapping(first)


_SUFFIXES = (".jsonl", ".csv", ".tsv", ".sip", ".txt")


def t_records_file(data: bytes) -> None:
    """read_records on a file of these bytes (first byte picks the suffix), and the
    byte-range reader (spans/raw_span) the batch uses for JSON Lines."""
    from shakenlib.analysis.records import RecordSource, read_records

    ctx = context()
    suffix = _SUFFIXES[data[0] % len(_SUFFIXES)] if data else ".jsonl"
    path = ctx.tmpdir / f"records{suffix}"
    path.write_bytes(data[1:])
    for _ in read_records(path):
        pass
    source = RecordSource(path=str(path))
    if source.splittable:
        for span in source.spans(64, parts=2, min_bytes=16):
            for item in source.raw_span(span):
                source.parse(item)


def t_providers(data: bytes) -> None:
    """ProviderDirectory.from_csv (both table shapes) on a file of these bytes."""
    from shakenlib.analysis.providers import ProviderDirectory

    path = context().tmpdir / "providers.csv"
    path.write_bytes(data)
    directory = ProviderDirectory.from_csv(path)
    directory.provider_for("873J", "Acme")


def t_der(data: bytes) -> None:
    """der.parse_certificate and the certificate model (StiCertificate.from_der)."""
    from shakenlib.pki.certs import StiCertificate
    from shakenlib.pki.der import format_name, parse_certificate

    view = parse_certificate(data)
    format_name(view.subject)
    format_name(view.issuer)
    json.dumps(StiCertificate.from_der(data).to_dict())


def t_certs(data: bytes) -> None:
    """load_certificates (PEM/DER/bundles) and lint_certificate on each certificate."""
    from shakenlib.pki.certs import load_certificates
    from shakenlib.pki.lint import lint_certificate

    for cert in load_certificates(data):
        json.dumps(cert.to_dict())
        lint_certificate(cert, at=NOW)


def t_lint(data: bytes) -> None:
    """lint_certificate on raw bytes (DER or the PEM of one certificate)."""
    from shakenlib.pki.lint import lint_certificate

    with contextlib.suppress(ShakenError):
        lint_certificate(data, at=NOW)
    try:
        cert = x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion):
        return  # not for cryptography: nothing more to lint
    lint_certificate(cert)


def t_tnauthlist(data: bytes) -> None:
    """decode_tnauthlist and (Enhanced)JWTClaimConstraints decoding and checking."""
    from shakenlib.pki.tnauthlist import decode_jwt_claim_constraints, decode_tnauthlist

    with contextlib.suppress(ShakenError):
        tal = decode_tnauthlist(data)
        tal.to_dict()
        tal.authorizes(ORIG)
        tal.encompasses(tal)
    for enhanced in (False, True):
        with contextlib.suppress(ShakenError):
            jcc = decode_jwt_claim_constraints(data, enhanced=enhanced)
            jcc.check({"attest": "A", "orig": {"tn": ORIG}, "dest": {"tn": [DEST]}})


def t_crl(data: bytes) -> None:
    """RevocationChecker.parse and check (both policies) against the test leaf."""
    from shakenlib.pki.crl import RevocationChecker, crl_urls

    ctx = context()
    checker = RevocationChecker(ctx.trust)
    with contextlib.suppress(ShakenError):
        checker.parse(data)
    for policy in ("prefer", "require"):
        with contextlib.suppress(ShakenError):
            RevocationChecker(ctx.trust, policy=policy).check(ctx.leaf_cert, [data], at=NOW)
    try:
        cert = x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion):
        return
    crl_urls(cert)


def t_trust(data: bytes) -> None:
    """TrustStore.from_pem and the STI-PA trust list reader (a JWS)."""
    from shakenlib.pki.trust import TrustStore

    ctx = context()
    with contextlib.suppress(ShakenError):
        TrustStore.from_pem(data)
    with contextlib.suppress(ShakenError):
        TrustStore.from_sti_pa_trust_list(data, signer_roots=ctx.trust, at=NOW)


def t_fetch(data: bytes) -> None:
    """The repositories on hostile URLs and responses: a scenario whose ``serve`` URL is
    fetched from MemoryRepository (status, headers, body) and HttpRepository (offline)."""
    from shakenlib.fetch import FetchPolicy, MemoryRepository

    sc = Scenario.parse(data)
    url = sc.serve or (sc.identities[0] if sc.identities else "")
    body = sc.body or b""
    for kind in ("certificate", "crl"):
        repo = MemoryRepository()
        repo.add(url, body, content_type=sc.ctype, headers=sc.headers)
        with contextlib.suppress(ShakenError):
            repo.fetch(url, at=NOW, kind=kind)  # type: ignore[arg-type]
    with contextlib.suppress(ShakenError):
        FetchPolicy().check_url(url)
    verifier = _scenario_verifier(attrs.evolve(sc, repo="http-open", serve=url, body=body))
    with offline(), contextlib.suppress(ShakenError):
        verifier.repository.fetch(url, at=NOW)
    http = _scenario_verifier(attrs.evolve(sc, repo="http"))
    with offline(), contextlib.suppress(ShakenError):
        http.repository.fetch(url, at=NOW)


def t_verify(data: bytes) -> None:
    """Verifier.verify on a :class:`Scenario`; must return a result."""
    from shakenlib.timeutil import to_datetime

    sc = Scenario.parse(data)
    at: str | dt.datetime = NOW
    if sc.at is not None:
        try:
            to_datetime(sc.at)
        except UsageError:
            return  # an unusable verification time is the caller's documented error
        at = sc.at
    verifier = _scenario_verifier(sc)
    with offline():
        result = verifier.verify(sc.identities, orig=sc.orig, dest=sc.dest or None, at=at)
    _check_result(result)


def t_verify_sip(data: bytes) -> None:
    """Verifier.verify_sip on a SIP request at the test time (and at its own Date)."""
    ctx = context()
    with offline():
        _check_result(ctx.verifier.verify_sip(data, at=NOW))
        if len(data) % 4 == 0:  # the Date header decides the time; none: UsageError
            try:
                result = ctx.verifier.verify_sip(data)
            except UsageError:
                return
            _check_result(result)


@attrs.frozen
class Target:
    """A named target; ``kind`` picks the structure-aware mutator (see fuzz.engine)."""

    name: str
    fn: Callable[[bytes], None]
    kind: str  # "text", "identity", "der", "scenario", "sip", "records"
    raises_ok: bool = True  # whether ShakenError may escape (parsers) or not (verify)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("identity", t_identity, "identity"),
        Target("passport", t_passport, "identity"),
        Target("sip", t_sip, "sip"),
        Target("tn_time", t_tn_time, "text"),
        Target("records", t_records, "records"),
        Target("records_file", t_records_file, "records"),
        Target("providers", t_providers, "text"),
        Target("der", t_der, "der"),
        Target("certs", t_certs, "der"),
        Target("lint", t_lint, "der"),
        Target("tnauthlist", t_tnauthlist, "der"),
        Target("crl", t_crl, "der"),
        Target("trust", t_trust, "text"),
        Target("fetch", t_fetch, "scenario"),
        Target("verify", t_verify, "scenario", raises_ok=False),
        Target("verify_sip", t_verify_sip, "sip", raises_ok=False),
    )
}


def check(target: str | Target, data: bytes) -> Violation | None:
    """Run one input; ``None`` if the contract held, else the violation."""
    t = TARGETS[target] if isinstance(target, str) else target
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cryptography warns about odd encodings
            t.fn(data)
    except ShakenError as exc:
        if t.raises_ok:
            return None
        return violation_of(exc)
    except Exception as exc:
        return violation_of(exc)
    except RecursionError as exc:  # pragma: no cover - RecursionError is an Exception
        return violation_of(exc)
    return None


def cleanup() -> None:
    """Remove the context's temporary directory."""
    if context.cache_info().currsize:
        tmp = context().tmpdir
        for p in tmp.iterdir():
            with contextlib.suppress(OSError):
                os.unlink(p)
        with contextlib.suppress(OSError):
            tmp.rmdir()
