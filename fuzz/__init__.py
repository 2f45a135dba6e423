"""Fuzzing infrastructure for shakenlib (``nox -s fuzz``; see docs/fuzzing.md).

``fuzz.targets`` holds the targets and the contract each one asserts, ``fuzz.mutate`` the
structure-aware mutators, ``fuzz.engine`` the fuzz loop (time and memory bounds, crash
saving) and ``fuzz.run`` the command line.
"""
