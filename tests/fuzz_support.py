"""Imports the fuzz harness (``fuzz/`` at the repository root) for the tests."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
REGRESSIONS = ROOT / "tests" / "data" / "fuzz"


def fuzz_module(name: str) -> ModuleType:
    """``fuzz.<name>`` from the repository root."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"fuzz.{name}")
