"""pytest plugin for STIR/SHAKEN conformance tests (registered through ``pytest11``).

The fixtures arrive with the verification service (issue 4); until then this module
registers nothing.
"""
