"""Chain validation of a typical SP leaf (leaf -> STI-CA intermediate -> root).

cold: a new ChainValidator (empty cache) per validation, i.e. full path validation by
``cryptography.x509.verification`` plus the STI checks; warm: one validator, cached chain.
Revocation: one check of a leaf against a parsed, signature-checked STI-PA CRL with 1,000
entries (the hot path after the first call). Informational (no targets).
"""

from __future__ import annotations

from run import Bench

from shakenlib.pki.crl import RevocationChecker
from shakenlib.pki.trust import ChainValidator, TrustStore
from shakenlib.testing.pki import DEFAULT_NOW, StiTestPki


def _fixture():  # type: ignore[no-untyped-def]
    pki = StiTestPki()
    trust = TrustStore.from_pem(pki.trust_anchors_pem())
    leaf = pki.issue_sp_certificate("873J")
    return pki, trust, leaf.certificate, [pki.ca_intermediate.certificate]


def _cold():  # type: ignore[no-untyped-def]
    _, trust, leaf, inter = _fixture()
    return lambda: ChainValidator(trust).validate(leaf, inter, at=DEFAULT_NOW)


def _warm():  # type: ignore[no-untyped-def]
    _, trust, leaf, inter = _fixture()
    validator = ChainValidator(trust)
    validator.validate(leaf, inter, at=DEFAULT_NOW)
    return lambda: validator.validate(leaf, inter, at=DEFAULT_NOW)


def _crl():  # type: ignore[no-untyped-def]
    pki, _, leaf, _ = _fixture()
    others = [pki.issue_sp_certificate(f"{i:04d}") for i in range(1000)]
    crl = pki.make_crl(others)
    checker = RevocationChecker([pki.crl_signer.certificate], policy="require")
    checker.check(leaf, [crl], at=DEFAULT_NOW)
    return lambda: checker.check(leaf, [crl], at=DEFAULT_NOW)


BENCHMARKS = [
    Bench("chain validate (cold, new validator)", _cold),
    Bench("chain validate (warm, cached)", _warm),
    Bench("CRL check (1,000 entries, cached)", _crl),
]
