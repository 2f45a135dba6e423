"""The authentication service (STI-AS): build and sign PASSporTs and Identity headers.

A :class:`Signer` holds a provider's STI private key (ECDSA P-256) and the URL of its
certificate in the STI-CR (``x5u``). It produces full-form PASSporTs (ATIS-1000074
§5.3.3) with the RFC 8225 §9 deterministic JSON (sorted keys, no whitespace) and ES256
signatures as raw ``R‖S`` (RFC 7518 §3.4), and the SIP header value::

    Identity: <header>.<claims>.<signature>;info=<x5u>;alg=ES256;ppt=shaken

Nothing here reads the clock: ``iat`` is always given.

>>> from cryptography.hazmat.primitives.asymmetric import ec
>>> signer = Signer(ec.generate_private_key(ec.SECP256R1()), "https://cr.example/sp.pem")
>>> value = signer.sign_shaken(orig="+1 215 555 1212", dest="12155551213", attest="A",
...                            origid="123e4567-e89b-12d3-a456-426614174000", iat=1700000000)
>>> value.split(";", 1)[1]
'info=<https://cr.example/sp.pem>;alg=ES256;ppt=shaken'
>>> from shakenlib.sip.passport import decode_passport
>>> claims = decode_passport(value.split(";")[0]).claims_json
>>> claims["orig"], claims["dest"], claims["attest"]
({'tn': '12155551212'}, {'tn': ['12155551213']}, 'A')
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Literal

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from shakenlib.errors import UsageError
from shakenlib.sip.passport import canonical_json
from shakenlib.tn import canonical_tn

__all__ = ["ORIGID_NAMESPACE", "Signer", "origid_for", "sign_es256"]

#: Namespace for :func:`origid_for` (a fixed random UUID of shakenlib's own).
ORIGID_NAMESPACE = uuid.UUID("5f0d2c55-6a35-4c4e-9b0b-1c7d0f3a8e21")

Attest = Literal["A", "B", "C"]


def sign_es256(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ES256: ECDSA P-256 / SHA-256 over ``data``, returned as 64-byte raw ``R‖S``."""
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def origid_for(customer: str, *, namespace: uuid.UUID = ORIGID_NAMESPACE) -> str:
    """A stable origid (UUID, RFC 8588) for a customer, trunk or gateway name.

    The same name always gives the same origid within a namespace, so a provider can map
    an origid quoted in a traceback request back to the customer: keep your own namespace
    secret and per provider.

    >>> origid_for("trunk-17") == origid_for("trunk-17")
    True
    >>> origid_for("trunk-17") != origid_for("trunk-18")
    True
    """
    return str(uuid.uuid5(namespace, customer))


def _tn_list(value: str | Sequence[str]) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise UsageError("usage", "dest needs at least one telephone number")
    return sorted({canonical_tn(v) for v in items})


class Signer:
    """An STI authentication service for one certificate.

    ``key`` must be an ECDSA P-256 private key; ``x5u`` is the HTTPS URL the certificate
    chain is published at (it goes in the JOSE header and the ``info`` parameter).
    """

    def __init__(self, key: ec.EllipticCurvePrivateKey, x5u: str) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise UsageError("usage", "ES256 needs an ECDSA P-256 private key")
        self.key = key
        self.x5u = x5u

    def sign_passport(self, header: Mapping[str, object], claims: Mapping[str, object]) -> str:
        """Sign a JOSE header and claims; returns the compact JWS (RFC 7515 §7.1).

        The JWS is made by PyJWT with its header members sorted and the claims in RFC 8225
        §9 deterministic JSON, so the token is the canonical full form a verifier rebuilds.
        ``header["alg"]``, when given, must be ``ES256`` (the only algorithm of SHAKEN).

        >>> from cryptography.hazmat.primitives.asymmetric import ec
        >>> from shakenlib.sip.passport import b64url_encode
        >>> signer = Signer(ec.generate_private_key(ec.SECP256R1()), "https://cr.example/x")
        >>> token = signer.sign_passport({"typ": "passport", "x5u": signer.x5u}, {"iat": 1})
        >>> token.split(".")[0] == b64url_encode(canonical_json(
        ...     {"alg": "ES256", "typ": "passport", "x5u": "https://cr.example/x"}))
        True
        """
        members = dict(header)
        if members.pop("alg", "ES256") != "ES256":
            raise UsageError("usage", "a Signer signs ES256 only (RFC 8588)")
        members.setdefault("typ", None)  # PyJWT's default typ is "JWT": none unless given
        return jwt.api_jws.PyJWS().encode(
            canonical_json(claims),
            self.key,
            algorithm="ES256",
            headers=members,
            sort_headers=True,
        )

    def identity_header(self, token: str, ppt: str) -> str:
        """The Identity header field value for a full-form ``token`` (RFC 8224 §4)."""
        return f"{token};info=<{self.x5u}>;alg=ES256;ppt={ppt}"

    def _header(self, ppt: str) -> dict[str, object]:
        return {"alg": "ES256", "ppt": ppt, "typ": "passport", "x5u": self.x5u}

    def sign_shaken(
        self,
        *,
        orig: str,
        dest: str | Sequence[str],
        attest: Attest,
        iat: int,
        origid: str | None = None,
        extra_claims: Mapping[str, object] | None = None,
    ) -> str:
        """A SHAKEN PASSporT (RFC 8588) as an Identity header value.

        ``orig``/``dest`` are canonicalised (RFC 8224 §8.3); ``origid`` defaults to a
        random UUID (RFC 8588 leaves its choice to the signer).
        """
        if attest not in ("A", "B", "C"):
            raise UsageError("usage", f"attest must be A, B or C, not {attest!r}")
        claims: dict[str, object] = {
            "attest": attest,
            "dest": {"tn": _tn_list(dest)},
            "iat": int(iat),
            "orig": {"tn": canonical_tn(orig)},
            "origid": origid if origid is not None else str(uuid.uuid4()),
        }
        claims.update(extra_claims or {})
        return self.identity_header(self.sign_passport(self._header("shaken"), claims), "shaken")

    def sign_div(
        self, *, orig: str, dest: str | Sequence[str], div: str | Sequence[str], iat: int
    ) -> str:
        """A ``div`` PASSporT (RFC 8946) for a retargeted call, as an Identity header value.

        ``orig`` is copied from the original PASSporT, ``dest`` is the new target and
        ``div`` the destination the call was diverted from.
        """
        claims: dict[str, object] = {
            "dest": {"tn": _tn_list(dest)},
            "div": {"tn": _tn_list(div)[0]},
            "iat": int(iat),
            "orig": {"tn": canonical_tn(orig)},
        }
        return self.identity_header(self.sign_passport(self._header("div"), claims), "div")
