"""Sanity row: the ECDSA baseline against itself (ratio ~1.0 shows the harness is fair)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from run import Bench


def _setup():  # type: ignore[no-untyped-def]
    key = ec.generate_private_key(ec.SECP256R1())
    sig = key.sign(b"y" * 300, ec.ECDSA(hashes.SHA256()))
    pub = key.public_key()
    return lambda: pub.verify(sig, b"y" * 300, ec.ECDSA(hashes.SHA256()))


BENCHMARKS = [Bench("ecdsa-p256-verify (self check)", _setup)]
