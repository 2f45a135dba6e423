"""pytest plugin for STIR/SHAKEN conformance tests (registered through ``pytest11``).

Installed with shakenlib, it gives every test suite these fixtures:

``shaken_testbed``
    a fresh :class:`~shakenlib.testing.testbed.ShakenTestbed`: test PKI, in-memory
    certificate repository with the STI-PA CRL, providers and verifiers.
``sti_pki``
    the test bed's :class:`~shakenlib.testing.pki.StiTestPki` (roots, intermediates,
    ``issue_sp_certificate``, ``make_crl``).
``sti_repository``
    the test bed's :class:`~shakenlib.fetch.MemoryRepository`.
``shaken_verifier``
    a :class:`~shakenlib.verify.Verifier` trusting the test anchors, with ATIS defaults.

and the assertion helpers :func:`~shakenlib.testing.assertions.assert_passed` and
:func:`~shakenlib.testing.assertions.assert_failed`. Example::

    from shakenlib.testing.assertions import assert_passed

    def test_my_signer_output_verifies(shaken_testbed):
        acme = shaken_testbed.add_provider("873J")
        header = my_signing_service(acme.issued.key_pem, acme.x5u, "12155551212")
        result = shaken_testbed.verifier().verify(
            header, orig="12155551212", dest="12155551213", at=shaken_testbed.now)
        assert_passed(result, attest="A", spc="873J")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

# The library is imported inside the fixtures: installing shakenlib must not slow down
# the start of every pytest run in the environment.
if TYPE_CHECKING:
    from shakenlib.fetch import MemoryRepository
    from shakenlib.testing.pki import StiTestPki
    from shakenlib.testing.testbed import ShakenTestbed
    from shakenlib.verify import Verifier


@pytest.fixture
def shaken_testbed() -> ShakenTestbed:
    """A fresh STIR/SHAKEN test bed (PKI, repository, CRL) valid around ``.now``."""
    from shakenlib.testing.testbed import ShakenTestbed

    return ShakenTestbed()


@pytest.fixture
def sti_pki(shaken_testbed: ShakenTestbed) -> StiTestPki:
    """The test bed's STI-PA / STI-CA test PKI."""
    return shaken_testbed.pki


@pytest.fixture
def sti_repository(shaken_testbed: ShakenTestbed) -> MemoryRepository:
    """The test bed's in-memory certificate repository (chains and the STI-PA CRL)."""
    return shaken_testbed.repository


@pytest.fixture
def shaken_verifier(shaken_testbed: ShakenTestbed) -> Verifier:
    """A verifier trusting the test bed's anchors, with the ATIS-1000074 default policy."""
    return shaken_testbed.verifier()
