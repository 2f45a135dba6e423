"""The layers of docs/architecture.md, checked: imports only go downward, no module-level
import circle, and only the HTTP repository imports requests."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "shakenlib"

#: Layer of each top-level part of the package: a module may import its own part and the
#: parts of lower layers only.
LAYERS: dict[str, float] = {
    "errors": 0,
    "findings": 0,
    "_frozen": 0,
    "tn": 0.5,
    "timeutil": 0.5,
    "sip": 1,
    "pki": 2,
    "fetch": 3,
    "verify": 4,
    "analysis": 5,
    "testing": 6,
    "cli": 7,
    "pytest_plugin": 7,
    "__init__": 8,
    "__main__": 8,
}


def _part(module: str) -> str:
    """'shakenlib.pki.crl' -> 'pki'; 'shakenlib' -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, *, module_level_only: bool) -> set[str]:
    """shakenlib modules imported by ``path`` (``if TYPE_CHECKING:`` blocks excluded)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(nodes: list[ast.stmt], top: bool) -> None:
        for node in nodes:
            test = ast.unparse(node.test) if isinstance(node, ast.If) else ""
            if "TYPE_CHECKING" in test and "not" not in test:
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("shakenlib"))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("shakenlib"):
                found.add(node.module or "")
            if not module_level_only or top:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    inner = getattr(node, field, None)
                    if isinstance(inner, list):
                        nested = isinstance(
                            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
                        )
                        if module_level_only and nested:
                            continue
                        visit([n for n in inner if isinstance(n, ast.stmt)], top)
                if isinstance(node, ast.Try):
                    for handler in node.handlers:
                        visit(handler.body, top)

    visit(tree.body, True)
    return found


MODULES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_only_go_downward(path: Path) -> None:
    here = _part(_module_name(path))
    assert here in LAYERS, f"{here} has no layer: add it to LAYERS and docs/architecture.md"
    for target in _imports(path, module_level_only=False):
        if target == "shakenlib":  # only __version__: the package root loads nothing
            continue
        there = _part(target)
        assert there in LAYERS, target
        assert there == here or LAYERS[there] < LAYERS[here], (
            f"{_module_name(path)} (layer {LAYERS[here]}) imports {target} (layer {LAYERS[there]})"
        )


def test_no_module_level_import_circle() -> None:
    graph = {
        _module_name(p): {t for t in _imports(p, module_level_only=True) if t != _module_name(p)}
        for p in MODULES
    }
    # a package's __init__ importing its own submodules is how re-exports work; the
    # circle that matters is between modules: drop edges into a package's own __init__
    for name, targets in graph.items():
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)


def test_only_the_http_repository_imports_requests() -> None:
    importers = [
        str(p.relative_to(SRC))
        for p in MODULES
        if any(
            isinstance(n, ast.Import | ast.ImportFrom)
            and any(
                (a.name if isinstance(n, ast.Import) else (n.module or "")).split(".")[0]
                in ("requests", "urllib3")
                for a in n.names
            )
            for n in ast.walk(ast.parse(p.read_text()))
        )
    ]
    assert importers == ["fetch/http.py"]


@pytest.mark.parametrize(
    "module",
    ["shakenlib.verify", "shakenlib.sip", "shakenlib.pki", "shakenlib.fetch", "shakenlib.analysis"],
)
def test_importing_a_layer_does_not_load_requests(module: str) -> None:
    code = f"import sys, {module}; print('requests' in sys.modules, 'urllib3' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]
