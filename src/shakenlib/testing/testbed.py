"""A complete STIR/SHAKEN test bed: test PKI, certificate repository, signers, verifier.

:class:`ShakenTestbed` is what the pytest plugin's fixtures hand out, and what a carrier
uses to test its own signing or verification service: providers with certificates
published in a repository (in memory, a mirror directory, or a real local HTTPS server),
an STI-PA CRL that revocations update, and a :class:`~shakenlib.verify.Verifier` that
trusts the test anchors.

>>> bed = ShakenTestbed()
>>> acme = bed.add_provider("873J", organization="Acme Telecom")
>>> header = acme.sign(orig="12155551212", dest="12155551213", attest="A", origid="t-1")
>>> r = bed.verifier().verify(header, orig="12155551212", dest="12155551213", at=bed.now)
>>> r.verstat, r.spc, r.provider
('TN-Validation-Passed', '873J', 'Acme Telecom')
>>> bed.revoke(acme)
>>> bed.verifier().verify(header, orig="12155551212", dest="12155551213", at=bed.now).error
'cert_revoked'
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from shakenlib.fetch import MemoryRepository
from shakenlib.pki.trust import TrustStore
from shakenlib.sip.sign import Signer
from shakenlib.testing.pki import DEFAULT_NOW, Issued, StiTestPki
from shakenlib.verify import Policy, Verifier

__all__ = ["ShakenTestbed", "TestProvider"]


@attrs.frozen(eq=False)
class TestProvider:
    """A service provider of the test bed: its certificate, x5u and signer."""

    __test__ = False  # not a pytest test class

    spc: str
    organization: str
    issued: Issued
    x5u: str
    signer: Signer
    now: dt.datetime

    def sign(
        self,
        *,
        orig: str,
        dest: str | Sequence[str],
        attest: Literal["A", "B", "C"] = "A",
        origid: str | None = None,
        iat: int | dt.datetime | None = None,
    ) -> str:
        """A SHAKEN Identity header value signed by this provider (``iat`` defaults to
        the test bed's ``now``)."""
        when = iat if iat is not None else self.now
        stamp = int(when.timestamp()) if isinstance(when, dt.datetime) else int(when)
        return self.signer.sign_shaken(
            orig=orig, dest=dest, attest=attest, origid=origid, iat=stamp
        )

    def sign_div(self, *, orig: str, dest: str, div: str, iat: int | None = None) -> str:
        """A ``div`` Identity header value (RFC 8946) signed by this provider."""
        return self.signer.sign_div(
            orig=orig, dest=dest, div=div, iat=iat if iat is not None else int(self.now.timestamp())
        )


class ShakenTestbed:
    """Test PKI + repository + providers + verifier, valid around ``now``."""

    __test__ = False

    def __init__(self, *, pki: StiTestPki | None = None, now: dt.datetime | None = None) -> None:
        self.pki = pki or StiTestPki(now=now or DEFAULT_NOW)
        self.now = self.pki.now
        self.repository = MemoryRepository()
        self.providers: list[TestProvider] = []
        self._revoked: list[Issued] = []
        self._publish_crl()

    @property
    def trust(self) -> TrustStore:
        """The trust store a verifier of this test bed loads."""
        return TrustStore.from_pem(self.pki.trust_anchors_pem())

    def add_provider(
        self,
        spc: str = "873J",
        *,
        organization: str = "Example Telecom",
        x5u: str | None = None,
        **certificate_options: Any,
    ) -> TestProvider:
        """Issue an SP certificate, publish its chain at ``x5u`` and return the provider.

        ``certificate_options`` go to :meth:`StiTestPki.issue_sp_certificate` (deviations
        for negative tests: ``not_after=``, ``tnauthlist=``, ``key=`` …).
        """
        issued = self.pki.issue_sp_certificate(
            spc, organization=organization, **certificate_options
        )
        url = x5u or f"https://cr.test/{spc}/{len(self.providers)}.pem"
        self.repository.add(url, issued.chain_pem())
        provider = TestProvider(spc, organization, issued, url, Signer(issued.key, url), self.now)
        self.providers.append(provider)
        return provider

    def revoke(self, provider: TestProvider | Issued) -> None:
        """Revoke a provider's certificate: the next CRL fetch lists it."""
        self._revoked.append(provider.issued if isinstance(provider, TestProvider) else provider)
        self._publish_crl()

    def _publish_crl(self) -> None:
        self.repository.add(
            self.pki.crl_url, self.pki.make_crl(self._revoked), content_type="application/pkix-crl"
        )

    def verifier(self, policy: Policy | None = None, **policy_fields: Any) -> Verifier:
        """A fresh verifier trusting the test anchors, reading this test bed's repository."""
        if policy is None:
            policy = Policy(**policy_fields)
        return Verifier(self.trust, self.repository, policy=policy)

    def write_mirror(self, root: str | os.PathLike[str]) -> Path:
        """Write every published certificate chain and the CRL to a mirror directory
        (``https://HOST/PATH`` -> ``ROOT/HOST/PATH``, the layout of
        :class:`~shakenlib.fetch.MirrorRepository`); returns the root."""
        root_path = Path(root)
        for provider in self.providers:
            self.pki.publish(root_path, provider.x5u, provider.issued.chain_pem())
        self.pki.publish(root_path, self.pki.crl_url, self.pki.make_crl(self._revoked))
        return root_path
