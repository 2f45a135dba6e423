"""The SIP layer: messages, Identity headers (RFC 8224), PASSporTs (RFC 8225, 8588, 8946)
and signing. Pure: text in, typed objects out; no I/O.
"""

from __future__ import annotations

from shakenlib.sip.identity import (
    IdentityHeader,
    parse_identity,
)
from shakenlib.sip.message import (
    SipMessage,
    canonical_header_name,
    parse_sip_message,
    split_header_list,
)
from shakenlib.sip.passport import (
    SUPPORTED_PPT,
    Claims,
    DecodedIdentity,
    JoseHeader,
    PASSporT,
    b64url_decode,
    b64url_encode,
    canonical_json,
    decode_identity,
    decode_passport,
    encode_passport,
    rebuild_compact,
)
from shakenlib.sip.sign import (
    ORIGID_NAMESPACE,
    Signer,
    origid_for,
    sign_es256,
)

__all__ = [
    "ORIGID_NAMESPACE",
    "SUPPORTED_PPT",
    "Claims",
    "DecodedIdentity",
    "IdentityHeader",
    "JoseHeader",
    "PASSporT",
    "Signer",
    "SipMessage",
    "b64url_decode",
    "b64url_encode",
    "canonical_header_name",
    "canonical_json",
    "decode_identity",
    "decode_passport",
    "encode_passport",
    "origid_for",
    "parse_identity",
    "parse_sip_message",
    "rebuild_compact",
    "sign_es256",
    "split_header_list",
]
