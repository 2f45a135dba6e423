"""Doctests in the docs pages run from the repository root (paths like ``examples/``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _run_from_repo_root() -> Iterator[None]:
    old = Path.cwd()
    os.chdir(Path(__file__).resolve().parent.parent)
    try:
        yield
    finally:
        os.chdir(old)
