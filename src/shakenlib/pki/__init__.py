"""The certificate layer: DER view, STI certificates, TNAuthList (RFC 8226), trust
stores and chain validation, CRLs (RFC 5280) and the ATIS-1000080 lint. Pure: bytes and
an explicit time in; no I/O.
"""

from __future__ import annotations

from shakenlib.pki.certs import (
    CrlDistributionPoint,
    StiCertificate,
    load_certificates,
)
from shakenlib.pki.crl import (
    CertificateRevoked,
    RevocationChecker,
    RevocationPolicy,
    RevocationStatus,
    crl_urls,
    validate_crl_signer,
)
from shakenlib.pki.der import (
    STRING_TAGS,
    Attribute,
    CertView,
    Extension,
    Tlv,
    decode_oid,
    decode_string,
    format_name,
    name_attributes,
    parse_certificate,
    read_tlv,
    split_tlvs,
)
from shakenlib.pki.lint import (
    RULES,
    Rule,
    lint_certificate,
    zlint_spc,
)
from shakenlib.pki.tnauthlist import (
    EJWT_CLAIM_CONSTRAINTS_OID,
    JWT_CLAIM_CONSTRAINTS_OID,
    TNAUTHLIST_OID,
    JWTClaimConstraints,
    TNAuthList,
    TNRange,
    decode_jwt_claim_constraints,
    decode_tnauthlist,
    encode_jwt_claim_constraints,
    encode_tnauthlist,
)
from shakenlib.pki.trust import (
    ChainValidator,
    TrustStore,
    ValidatedChain,
    ca_extension_policy,
    common_name,
    ee_extension_policy,
)

__all__ = [
    "EJWT_CLAIM_CONSTRAINTS_OID",
    "JWT_CLAIM_CONSTRAINTS_OID",
    "RULES",
    "STRING_TAGS",
    "TNAUTHLIST_OID",
    "Attribute",
    "CertView",
    "CertificateRevoked",
    "ChainValidator",
    "CrlDistributionPoint",
    "Extension",
    "JWTClaimConstraints",
    "RevocationChecker",
    "RevocationPolicy",
    "RevocationStatus",
    "Rule",
    "StiCertificate",
    "TNAuthList",
    "TNRange",
    "Tlv",
    "TrustStore",
    "ValidatedChain",
    "ca_extension_policy",
    "common_name",
    "crl_urls",
    "decode_jwt_claim_constraints",
    "decode_oid",
    "decode_string",
    "decode_tnauthlist",
    "ee_extension_policy",
    "encode_jwt_claim_constraints",
    "encode_tnauthlist",
    "format_name",
    "lint_certificate",
    "load_certificates",
    "name_attributes",
    "parse_certificate",
    "read_tlv",
    "split_tlvs",
    "validate_crl_signer",
    "zlint_spc",
]
