"""Many calls at once: call records and their readers, batch verification across worker
processes, provider directories, and the traceback leads of an :class:`Analysis`.
"""

from __future__ import annotations

from shakenlib.analysis.batch import (
    BatchItem,
    Progress,
    VerifierConfig,
    VerifierFactory,
    VerifierLike,
    analyze_source,
    verify_record,
    verify_records,
    verify_source,
)
from shakenlib.analysis.leads import (
    Analysis,
    DistinctCounter,
    HyperLogLog,
    Lead,
    LeadStats,
    SampleCall,
    TracebackShortcut,
    nanp_problem,
    neighbour,
)
from shakenlib.analysis.providers import (
    ItgMembers,
    Provider,
    ProviderDirectory,
    itg_member_for,
    itg_members,
    normalise_name,
)
from shakenlib.analysis.records import (
    FIELDS,
    CallRecord,
    Format,
    RawItem,
    RecordSource,
    UnreadableRecord,
    parse_mapping,
    parse_time,
    read_records,
)

__all__ = [
    "FIELDS",
    "Analysis",
    "BatchItem",
    "CallRecord",
    "DistinctCounter",
    "Format",
    "HyperLogLog",
    "ItgMembers",
    "Lead",
    "LeadStats",
    "Progress",
    "Provider",
    "ProviderDirectory",
    "RawItem",
    "RecordSource",
    "SampleCall",
    "TracebackShortcut",
    "UnreadableRecord",
    "VerifierConfig",
    "VerifierFactory",
    "VerifierLike",
    "analyze_source",
    "itg_member_for",
    "itg_members",
    "nanp_problem",
    "neighbour",
    "normalise_name",
    "parse_mapping",
    "parse_time",
    "read_records",
    "verify_record",
    "verify_records",
    "verify_source",
]
