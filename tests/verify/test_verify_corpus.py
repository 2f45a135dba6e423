"""Hostile and odd real certificates at the x5u: the verifier answers, it never crashes.

Each of the 7,930 real STI certificates of the corpus (../shared/data/real-sti-certs, or
``SHAKENLIB_CORPUS_DIR``) is served as the x5u response of a signed call. None chains to
the test trust anchors, so every call must fail with a 437-class code (or cert_malformed
for the one certificate cryptography cannot parse), and the result must still name what
could be learned from the certificate.
"""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from shakenlib.testing.testbed import ShakenTestbed

pytestmark = pytest.mark.corpus

ROOT = Path(__file__).resolve().parents[2]
CORPUS = (
    Path(os.environ.get("SHAKENLIB_CORPUS_DIR", ROOT.parent / "shared" / "data" / "real-sti-certs"))
    / "certs.jsonl"
)


def test_every_real_certificate_at_the_x5u_gives_a_coded_failure() -> None:
    if not CORPUS.is_file():
        pytest.skip(f"STI certificate corpus not found at {CORPUS} (set SHAKENLIB_CORPUS_DIR)")
    bed = ShakenTestbed()
    signer = bed.add_provider("873J")
    verifier = bed.verifier()
    header = signer.sign(orig="12155551212", dest="12155551213")
    codes: Counter[str] = Counter()
    named = 0
    with CORPUS.open(encoding="utf-8") as fh:
        for line in fh:
            entry = json.loads(line)
            bed.repository.add(signer.x5u, base64.b64decode(entry["der_b64"]))
            verifier._ready.clear()  # a new body at the same URL: look again
            verifier._credentials.clear()
            r = verifier.verify(header, orig="12155551212", dest="12155551213", at=bed.now)
            assert not r.passed
            assert r.sip_code == 437, (entry["sha256"], r.error, r.message)
            codes[r.error or ""] += 1
            named += r.certificate is not None and r.certificate.subject_cn is not None
    assert sum(codes.values()) == 7930
    assert set(codes) <= {
        "cert_untrusted",
        "cert_malformed",
        "cert_expired",
        "cert_not_yet_valid",
        "cert_chain_invalid",
        "cert_key_unsupported",
        "cert_profile",
    }
    print(dict(codes))
    assert named >= 7900  # the signer's certificate facts survive the failure
