"""The package's public names: every export resolves, lazily, to the defining object."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import shakenlib


def test_every_export_resolves_to_its_module_object() -> None:
    for name, module in shakenlib._EXPORTS.items():
        assert getattr(shakenlib, name) is getattr(importlib.import_module(module), name)
    assert set(shakenlib.__all__) == {*shakenlib._EXPORTS, "__version__"}
    assert set(shakenlib._EXPORTS) <= set(dir(shakenlib))


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        shakenlib.Nope  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_package_or_the_plugin_does_not_load_the_library() -> None:
    code = (
        "import sys, shakenlib, shakenlib.pytest_plugin; "
        "print(sorted(m for m in sys.modules if m.startswith('shakenlib')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['shakenlib', 'shakenlib.pytest_plugin']"
