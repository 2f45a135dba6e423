"""The linter against the reference zlint SHAKEN run over 7,930 real STI certificates.

Corpus: ``../shared/data/real-sti-certs/certs.jsonl`` relative to the repository root
(override with ``SHAKENLIB_CORPUS_DIR``); see its README for the source.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from shakenlib.pki.certs import StiCertificate
from shakenlib.pki.lint import lint_certificate

pytestmark = pytest.mark.corpus

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = Path(
    os.environ.get("SHAKENLIB_CORPUS_DIR", ROOT.parent / "shared" / "data" / "real-sti-certs")
)
CORPUS = CORPUS_DIR / "certs.jsonl"

#: Measured on the August 2025 corpus: 7,930 certificates, 27 of them CA (18 intermediates,
#: 9 roots); 7,897 leaves whose TNAuthList decodes (RFC 8226), 4 with an undecodable one,
#: 2 (v1) without one.
EXPECTED_TOTAL = 7930
EXPECTED_LEAVES_WITH_TNAUTHLIST = 7897


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    if not CORPUS.is_file():
        pytest.skip(f"STI certificate corpus not found at {CORPUS} (set SHAKENLIB_CORPUS_DIR)")
    with CORPUS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="module")
def loaded(corpus: list[dict[str, Any]]) -> list[tuple[dict[str, Any], StiCertificate]]:
    # every certificate must load, including the one cryptography rejects
    return [(row, StiCertificate.from_der(base64.b64decode(row["der_b64"]))) for row in corpus]


def test_every_certificate_loads(loaded: list[tuple[dict[str, Any], StiCertificate]]) -> None:
    assert len(loaded) == EXPECTED_TOTAL
    for row, cert in loaded:
        assert cert.sha256 == row["sha256"]
    unloadable = [c for _, c in loaded if c.cert is None]
    assert len(unloadable) == 1  # the 2019 T-Mobile CA with extra ECDSA parameters
    assert unloadable[0].subject == "CN=TMOBILE-PROD-SUB-STIRSHAKEN-EC,O=TMOBILE-USA,C=US"
    assert sum(c.is_ca for _, c in loaded) == 27
    assert sum(c.is_ca and c.self_signed for _, c in loaded) == 9


def test_findings_agree_with_zlint(
    loaded: list[tuple[dict[str, Any], StiCertificate]],
) -> None:
    disagreements: list[str] = []
    start = time.perf_counter()
    for row, cert in loaded:
        got = {(f.code, f.severity, f.source) for f in lint_certificate(cert)}
        expected = {(f["code"], f["type"], f["source"]) for f in row["zlint"]}
        if got != expected:
            disagreements.append(
                f"{row['sha256'][:16]} {cert.subject}: extra {sorted(got - expected)} "
                f"missing {sorted(expected - got)}"
            )
    per_cert_ms = (time.perf_counter() - start) / len(loaded) * 1000
    print(f"\nlint: {per_cert_ms:.2f} ms per certificate over {len(loaded)}")
    for line in disagreements:
        print(line)
    agreement = 1 - len(disagreements) / len(loaded)
    assert agreement >= 0.99
    assert disagreements == []  # 100% measured


def test_spc_extraction(loaded: list[tuple[dict[str, Any], StiCertificate]]) -> None:
    leaves = [c for _, c in loaded if not c.is_ca and c.tnauthlist is not None]
    assert len(leaves) == EXPECTED_LEAVES_WITH_TNAUTHLIST
    for cert in leaves:
        assert cert.spc is not None
        assert cert.spc
        assert cert.spc == cert.tnauthlist.spc  # type: ignore[union-attr]
    errors = [c for _, c in loaded if c.tnauthlist_error is not None]
    assert len(errors) == 4
    spcs = {c.spc for c in leaves}
    assert "873J" in spcs or len(spcs) > 100
