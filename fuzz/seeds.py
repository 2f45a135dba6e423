"""Seed corpora: real inputs from tests/data, examples/ and ../shared/data, plus
structured seeds made with the fuzz test PKI (signed PASSporTs, SIP requests, scenarios,
certificates and CRLs). Deterministic: the same seeds every run."""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path

from cryptography import x509

from fuzz.targets import DEST, NOW, ORIG, ROOT, Scenario, context

__all__ = ["REAL_CERTS", "real_cert_ders", "seeds_for"]

REAL_CERTS = ROOT.parent / "shared" / "data" / "real-sti-certs" / "certs.jsonl"
TNAUTHLIST_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.26")
JCC_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.27")


def _files(*patterns: str) -> list[Path]:
    out: list[Path] = []
    for pattern in patterns:
        out += sorted(ROOT.glob(pattern))
    return out


@functools.cache
def real_cert_ders(limit: int = 400) -> tuple[bytes, ...]:
    """Every n-th certificate of the real corpus (at most ``limit``); empty if absent."""
    if not REAL_CERTS.is_file():
        return ()
    lines = REAL_CERTS.read_text(encoding="utf-8").splitlines()
    step = max(1, len(lines) // limit)
    out = []
    for line in lines[::step][:limit]:
        try:
            out.append(base64.b64decode(json.loads(line)["der_b64"]))
        except (ValueError, KeyError):
            continue
    return tuple(out)


def _pem(der: bytes, label: str = "CERTIFICATE") -> bytes:
    b64 = base64.encodebytes(der).replace(b"\n", b"")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return (
        b"-----BEGIN "
        + label.encode()
        + b"-----\n"
        + b"\n".join(lines)
        + (b"\n-----END " + label.encode() + b"-----\n")
    )


def _pem_ders(data: bytes) -> list[bytes]:
    out = []
    for block in data.split(b"-----BEGIN CERTIFICATE-----")[1:]:
        body = block.split(b"-----END", 1)[0]
        try:
            out.append(base64.b64decode(b"".join(body.split())))
        except ValueError:
            continue
    return out


def signed_identity(
    claims: dict[str, object] | None = None,
    header: dict[str, object] | None = None,
    params: str | None = None,
) -> str:
    """A full-form SHAKEN Identity header signed with the fuzz leaf key."""
    ctx = context()
    h = header or {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": ctx.x5u}
    c = claims or {
        "attest": "A",
        "dest": {"tn": [DEST]},
        "iat": int(NOW.timestamp()),
        "orig": {"tn": ORIG},
        "origid": "6f8d2c3a-1b2c-4d5e-8f90-123456789abc",
    }
    enc = json.dumps
    token = ctx.sign_token(
        enc(h, separators=(",", ":"), sort_keys=True).encode(),
        enc(c, separators=(",", ":"), sort_keys=True).encode(),
    )
    if params is None:
        params = f"info=<{h.get('x5u', ctx.x5u)}>;alg=ES256;ppt={h.get('ppt', 'shaken')}"
    return f"{token};{params}"


def _identity_seeds() -> list[str]:
    ctx = context()
    iat = int(NOW.timestamp())
    out = [signed_identity()]
    out.append(
        signed_identity(
            {
                "dest": {"tn": ["12155551214"]},
                "div": {"tn": DEST},
                "iat": iat,
                "orig": {"tn": ORIG},
            },
            {"alg": "ES256", "ppt": "div", "typ": "passport", "x5u": ctx.x5u},
        )
    )
    out.append(
        signed_identity(
            {
                "attest": "B",
                "dest": {"uri": ["sip:bob@example.com"]},
                "iat": iat,
                "orig": {"tn": ORIG},
                "origid": "x",
            }
        )
    )
    out.append(signed_identity(params=f"info=<{ctx.x5u}>"))
    # hostile shapes from past defects, signed so they get past the signature
    out.append(
        signed_identity(
            {
                "attest": ["A"],
                "dest": {"tn": [DEST]},
                "iat": iat,
                "orig": {"tn": ORIG},
                "origid": "x",
            }
        )
    )
    out.append(
        signed_identity(
            {
                "attest": "A",
                "dest": {"tn": [DEST]},
                "iat": 253402300799,
                "orig": {"tn": ORIG},
                "origid": "x",
            }
        )
    )
    for f in _files("tests/data/identity/*.txt", "examples/identity-shaken.txt"):
        out.append(f.read_text(encoding="utf-8").strip())
    calls = ROOT / "examples" / "calls.jsonl"
    if calls.is_file():
        for line in calls.read_text(encoding="utf-8").splitlines()[:10]:
            out.append(json.loads(line).get("identity") or "")
    return [s for s in out if s]


def _sip_seeds() -> list[bytes]:
    out = [f.read_bytes() for f in _files("tests/data/sip/*.sip", "examples/invite.sip")]
    ident = signed_identity()
    out.append(
        "INVITE sip:+12155551213@sbc.example.net;user=phone SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"
        'From: "Alice" <sip:+12155551212@example.com;user=phone>;tag=1\r\n'
        "To: <sip:+12155551213@example.net;user=phone>\r\n"
        "P-Asserted-Identity: <tel:+12155551212>\r\n"
        "Call-ID: fuzz@example.com\r\nCSeq: 1 INVITE\r\n"
        "Date: Sun, 01 Jun 2025 12:00:00 GMT\r\n"
        f"Identity: {ident}\r\nContent-Length: 0\r\n\r\n".encode()
    )
    return out


def _cert_seeds() -> list[bytes]:
    ctx = context()
    out = [ctx.leaf_der, ctx.pki.ca_intermediate.der, ctx.pki.ca_root.der, ctx.pki.crl_signer.der]
    for f in _files("tests/data/certs/*.der"):
        out.append(f.read_bytes())
    for f in _files("tests/data/certs/*.pem", "examples/mirror/**/*.pem", "examples/trust.pem"):
        out += _pem_ders(f.read_bytes())
    out += real_cert_ders()
    return list(dict.fromkeys(out))


def _ext_values(oid: x509.ObjectIdentifier) -> list[bytes]:
    out = []
    for der in _cert_seeds():
        try:
            cert = x509.load_der_x509_certificate(der)
            ext = cert.extensions.get_extension_for_oid(oid)
        except (ValueError, x509.ExtensionNotFound, x509.DuplicateExtension):
            continue
        value = ext.value
        if isinstance(value, x509.UnrecognizedExtension):
            out.append(value.value)
    return list(dict.fromkeys(out))


def _tnauthlist_seeds() -> list[bytes]:
    from shakenlib.pki.tnauthlist import (
        JWTClaimConstraints,
        encode_jwt_claim_constraints,
        encode_tnauthlist,
    )

    out = _ext_values(TNAUTHLIST_OID) + _ext_values(JCC_OID)
    out.append(encode_tnauthlist(spcs=["873J"], ranges=[("12155550000", 100)], tns=["12155551212"]))
    out.append(
        encode_jwt_claim_constraints(
            JWTClaimConstraints(must_include=("attest",), permitted={"attest": ("A", "B")})
        )
    )
    out.append(bytes.fromhex("3008a0061688ff00000000000000"))
    return out


def _crl_seeds() -> list[bytes]:
    ctx = context()
    out = [ctx.crl_der, ctx.pki.make_crl([ctx.leaf_cert])]
    out += [f.read_bytes() for f in _files("examples/mirror/crl.sti-pa.test/**/crl")]
    return out


def _scenario_seeds() -> list[bytes]:
    ctx = context()
    ident = signed_identity()
    chain = ctx.published[ctx.x5u][0]
    out = [
        Scenario(identities=[ident]).render(),
        Scenario(identities=[ident], repo="http-open").render(),
        Scenario(identities=[ident], repo="http").render(),
        Scenario(identities=[ident], serve=ctx.x5u, body=chain).render(),
        Scenario(
            identities=[ident],
            serve=ctx.x5u,
            body=chain,
            headers={"Cache-Control": "max-age=" + "9" * 5000},
        ).render(),
        Scenario(
            identities=[ident],
            serve=ctx.x5u,
            body=chain,
            repo="http-open",
            headers={"Expires": "Fri, 31 Dec 9999 23:59:59 GMT"},
        ).render(),
        Scenario(identities=[ident], at="9999-12-31T23:59:00Z").render(),
        Scenario(identities=[ident, _identity_seeds()[1]], dest=["12155551214"]).render(),
    ]
    # an untrusted self-signed certificate at the x5u, token failing an early check
    for der in real_cert_ders()[:40:4]:
        bad = signed_identity(
            {"attest": "A", "dest": {"tn": [DEST]}, "iat": 1, "orig": {"tn": ORIG}, "origid": "x"}
        )
        out.append(Scenario(identities=[bad], serve=ctx.x5u, body=_pem(der)).render())
    url = "https://a..b/x.pem"
    hdr = {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": url}
    out.append(Scenario(identities=[signed_identity(header=hdr)], repo="http").render())
    return out


def _records_seeds() -> list[bytes]:
    calls = ROOT / "examples" / "calls.jsonl"
    lines = calls.read_bytes().splitlines(keepends=True)[:8] if calls.is_file() else []
    jsonl = b"".join(lines)
    csv = b"time,orig,dest,identity,call_id\n" + b"".join(
        b"2025-06-01T00:00:00Z,12155551212,12155551213," + s.encode() + b",c1\n"
        for s in _identity_seeds()[:2]
    )
    out = []
    for prefix in (b"\x00", b"\x05"):
        out.append(prefix + jsonl)
    out.append(b"\x01" + csv)
    for sip in _sip_seeds()[:3]:
        out.append(b"\x02" + sip + b"\n---\n" + sip)
    out.append(b"\x04" + jsonl)  # read_records: .txt is JSON Lines
    return out


def _text_seeds() -> list[bytes]:
    values = [
        "+1 (215) 555-1212",
        "sip:+12155551212@example.com;user=phone",
        "tel:+1-215-555-1212",
        "<sip:12155551212@a.b>",
        '"Alice" <tel:+12155551212;ext=1>',
        "1700000000",
        "1700000000000",
        "2024-02-29T12:00:00Z",
        "2024-02-29",
        "2025-06-01 12:00:00 UTC",
        "9999-12-31T23:59:59Z",
        "253402300799",
        "1e400",
        "-1",
        "nan",
        "inf",
    ]
    return [v.encode() for v in values]


def _provider_seeds() -> list[bytes]:
    out = [f.read_bytes() for f in _files("examples/providers.csv")]
    ocn = ROOT.parent / "shared" / "data" / "real-sti-certs" / "ocn.csv"
    if ocn.is_file():
        out.append(b"".join(ocn.read_bytes().splitlines(keepends=True)[:40]))
    return out


def _trust_seeds() -> list[bytes]:
    ctx = context()
    out = [ctx.pki.trust_anchors_pem(), ctx.leaf_der]
    out += [f.read_bytes() for f in _files("examples/trust.pem", "tests/data/certs/chain.pem")]
    header = base64.urlsafe_b64encode(
        json.dumps(
            {"alg": "ES256", "x5c": [base64.b64encode(ctx.pki.crl_signer.der).decode()]}
        ).encode()
    ).rstrip(b"=")
    payload = base64.urlsafe_b64encode(
        json.dumps({"trustList": [ctx.pki.ca_root.pem.decode()]}).encode()
    ).rstrip(b"=")
    out.append(header + b"." + payload + b"." + b"A" * 86)
    return out


def seeds_for(target: str) -> list[bytes]:
    """The seed corpus of one target."""
    ids = _identity_seeds()
    if target == "identity":
        return [s.encode("utf-8", "surrogatepass") for s in ids]
    if target == "passport":
        return [s.split(";", 1)[0].encode() for s in ids]
    if target in ("sip", "verify_sip"):
        return _sip_seeds()
    if target == "tn_time":
        return _text_seeds()
    if target in ("records", "records_file"):
        return _records_seeds()
    if target == "providers":
        return _provider_seeds()
    if target in ("der", "lint"):
        return _cert_seeds()
    if target == "certs":
        certs = _cert_seeds()
        return (
            certs
            + [_pem(d) for d in certs[:50]]
            + [b"".join(_pem(d) for d in certs[:3]), certs[0] + certs[1]]
        )
    if target == "tnauthlist":
        return _tnauthlist_seeds()
    if target == "crl":
        return _crl_seeds() + [_pem(d, "X509 CRL") for d in _crl_seeds()[:2]]
    if target == "trust":
        return _trust_seeds()
    if target in ("verify", "fetch"):
        return _scenario_seeds()
    raise KeyError(target)
