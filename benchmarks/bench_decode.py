"""Decoding on the verification hot path: ``decode_identity`` of a typical SHAKEN header.

Target: at least 5x the raw ECDSA P-256 verify rate measured in the same run (decoding
must cost well under a fifth of the signature check it precedes).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from run import Bench

from shakenlib.sip.passport import decode_identity, encode_passport

X5U = "https://certificates.clearip.com/0b3f1d4e-6f0a-4b8e-9d3c-2a1b5c6d7e8f/0123456789abcdef0123456789abcdef.pem"


def typical_header(x5u: str = X5U, key: ec.EllipticCurvePrivateKey | None = None) -> str:
    """A SHAKEN Identity header shaped like production traffic (ClearIP-style x5u)."""
    key = key or ec.generate_private_key(ec.SECP256R1())

    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    token = encode_passport(
        {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": x5u},
        {
            "attest": "A",
            "dest": {"tn": ["12155551213"]},
            "iat": 1700000000,
            "orig": {"tn": "12155551212"},
            "origid": "123e4567-e89b-12d3-a456-426614174000",
        },
        sign,
    )
    return f"{token};info=<{x5u}>;alg=ES256;ppt=shaken"


def _setup():  # type: ignore[no-untyped-def]
    value = typical_header()
    decoded = decode_identity(value)
    assert decoded.passport is not None
    assert not decoded.findings, decoded.findings
    return lambda: decode_identity(value)


def _setup_distinct():  # type: ignore[no-untyped-def]
    """1,000 headers with distinct x5u, cycled: the JOSE-header cache never hits."""
    key = ec.generate_private_key(ec.SECP256R1())
    values = [typical_header(f"{X5U[:-4]}{i}.pem", key) for i in range(1000)]
    assert all(decode_identity(v).findings == () for v in values)

    def run() -> None:
        for v in values:
            decode_identity(v)

    return run


BENCHMARKS = [
    Bench("decode_identity (typical SHAKEN header)", _setup, target=5.0),
    Bench("decode_identity (distinct x5u, no cache hit)", _setup_distinct, per_call=1000),
]
