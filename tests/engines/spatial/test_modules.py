"""The spatial engine's modules: each under 500 lines, and no import loop among them
(a static check over every import, those under ``TYPE_CHECKING`` and inside functions
included)."""

from __future__ import annotations

import ast
from pathlib import Path

import evniche.engines.spatial as spatial

PACKAGE = Path(spatial.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def imports(module: str) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its source."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:  # from .x import y
                out.add(node.module.split(".")[0])
            else:  # from . import x, y
                out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            name = node.module if isinstance(node, ast.ImportFrom) else None
            names = [name] if name else [a.name for a in node.names]
            for full in names:
                if full and full.startswith(spatial.__name__ + "."):
                    out.add(full.removeprefix(spatial.__name__ + ".").split(".")[0])
    return out & set(MODULES)


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop of ``graph`` (module → modules it imports), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_engine_is_split_into_its_steps():
    for step in ("behaviours", "fields", "cells", "motion", "snapshots", "engine"):
        assert step in MODULES


def test_every_module_is_under_500_lines():
    long = {m: n for m in MODULES
            if (n := len((PACKAGE / f"{m}.py").read_text(encoding="utf-8").splitlines())) >= 500}
    assert not long


def test_no_import_loop():
    graph = {m: imports(m) - {m} for m in MODULES}
    assert "state" in graph["engine"] and "engine" not in graph["snapshots"]
    assert cycle(graph) is None, cycle(graph)


def test_the_loop_check_finds_a_loop():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None
