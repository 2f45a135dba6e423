"""Certificate linting: lints of a typical SHAKEN leaf per second (informational).

Two rows: lint of an already-loaded :class:`~shakenlib.pki.certs.StiCertificate`, and load +
lint from DER bytes (what ``lint-cert`` does per certificate).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from run import Bench

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "data" / "certs"))


def _leaf_der() -> bytes:
    import builder  # the test PKI (tests/data/certs/builder.py)

    return builder.der(builder.build())


def _lint_loaded() -> Callable[[], object]:
    from shakenlib.pki.certs import StiCertificate
    from shakenlib.pki.lint import lint_certificate

    cert = StiCertificate.from_der(_leaf_der())
    return lambda: lint_certificate(cert)


def _load_and_lint() -> Callable[[], object]:
    from shakenlib.pki.certs import StiCertificate
    from shakenlib.pki.lint import lint_certificate

    der = _leaf_der()
    return lambda: lint_certificate(StiCertificate.from_der(der))


BENCHMARKS = [
    Bench("lint-cert: lint loaded leaf", _lint_loaded, target=None),
    Bench("lint-cert: load + lint leaf (DER)", _load_and_lint, target=None),
]
