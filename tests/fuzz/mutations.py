"""Mutations of valid model mappings, shared by the Hypothesis tests and ``make fuzz``.

A mutation is driven by one primitive, ``below(n)`` (an integer in ``[0, n)``): Hypothesis
draws it (and shrinks toward 0, so the first entry of every list below is the mildest),
the fuzz script takes it from a seeded :class:`random.Random`. The same code therefore
makes the cases of both, and a case of the script is reproduced from its seed and index.

Mutations: delete a key or list item, replace a value by a number (negative, zero, huge,
tiny, NaN, inf, a too-large integer), a string (empty, long, unicode, names of the model,
near-names), a structure or ``None``; change a type (mapping ↔ list, number ↔ text);
scale or negate a number; change a unit (random, wrong dimension, malformed); rename a
reference; replace a value by a formula (overflowing, dividing by zero, deeply nested);
insert an unknown key; rename a key (long, empty, a number); truncate a list; duplicate a
list entry or a mapping entry; wrap a value in deep nesting.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from evniche.spec.loader import read_merged

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "spec" / "tiny.yaml"
TINY_LEUKEMIA = ROOT / "readouts" / "tiny_leukemia.yaml"

#: ``below(n)`` → an integer in [0, n)
Below = Callable[[int], int]

NUMBERS: list[Any] = [
    1, 0, -1, 0.5, 2, 1e6, -1e-9, 1e-300, 5e-324, 1e300, 1.7e308, -1e300, 10**30,
    10**400, float("nan"), float("inf"), float("-inf"), True, 2**63, -0.0, 1e15,
]
STRINGS: list[str] = [
    "x", "", " ", "HSC", "MSC", "exosome", "miR-150", "cargo:miR-150", "self_renewal",
    "marrow", "blood", "increases", "decreases", "1/h", "nan", "inf", "-1", "1e309", "a:b:c",
    "::", "state:", "kill:HSC", "uptake:exosome", "secretion:exosome.sub", "ev:MSC.exosome",
    "fraction:HSC", "é∂ü漢字", "\x00", "{}", "[", "null", "x" * 10_000, "HSC" * 3000,
    "assumption: a test value",
]
UNITS: list[str] = [
    "1/h", "mm", "nm", "um", "h", "day", "1/min", "EV/cell/h", "mL", "L", "mL/h", "EV/mL",
    "nM", "cell", "copies", "dimensionless", "percent", "um^2/s", "mPa*s", "K", "kg",
    "1/cell", "", "m/", "h**2", "not_a_unit", "µm", "1/h/2", "EV/EV", "%", "degC", "1/s",
    "1/ns", "1/year", "Gcell", "1e300/h", "1e-300/h", "h**1000", "(", "1/h" * 200,
    "ppm", "dB", "count", "1/fs",
]
FORMULAS: list[str] = [
    "1", "1/0", "0/0", "2**1e6", "10**400", "exp(1000)", "ln(0)", "sqrt(-1)", "min()",
    "max(1)", "1e308*10", "-1", "pi", "e**e**e**e", "(" * 120 + "1" + ")" * 120,
    "-" * 400 + "1", "1" + "+1" * 240, "x", "undefined_name", "__import__('os')",
    "2**-1e6", "0**-1", "abs(-3)", "log10(1e-400)", "[1]", "1 if 1 else 2",
]


def pick(below: Below, items: list) -> Any:
    return items[below(len(items))]


def value(below: Below, depth: int = 0) -> Any:
    """A random YAML-like value: a scalar, or (shallowly) a list or mapping of them."""
    kind = below(6 if depth < 2 else 4)
    if kind == 0:
        return pick(below, NUMBERS)
    if kind == 1:
        return pick(below, STRINGS)
    if kind == 2:
        return None
    if kind == 3:
        return pick(below, [True, False, {}, [], 0.0])
    if kind == 4:
        return [value(below, depth + 1) for _ in range(below(4))]
    return {pick(below, STRINGS[:12] + ["value", "unit", "source", "expr", "range"]):
            value(below, depth + 1) for _ in range(below(4))}


def nodes(data: Any, max_depth: int = 40) -> Iterator[tuple[tuple, Any]]:
    """Every (path, value) in a nested structure of dicts and lists, root included, down
    to ``max_depth`` levels (a value wrapped in deep nesting is not walked into)."""
    stack: list[tuple[tuple, Any]] = [((), data)]
    while stack:
        path, item = stack.pop()
        yield path, item
        if len(path) >= max_depth:
            continue
        if isinstance(item, dict):
            stack.extend(((*path, k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend(((*path, i), v) for i, v in reversed(list(enumerate(item))))


def parent_of(data: Any, path: tuple) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def names_in(data: Any) -> list[str]:
    """Every mapping key and string value of the model: the names a mutation may swap in."""
    out: set[str] = set()
    for _, item in nodes(data):
        if isinstance(item, dict):
            out.update(k for k in item if isinstance(k, str))
        elif isinstance(item, str) and len(item) < 40:
            out.add(item)
    return sorted(out)


def nest(item: Any, depth: int, as_list: bool) -> Any:
    for _ in range(depth):
        item = [item] if as_list else {"value": item}
    return item


KINDS = ["number", "delete", "string", "scale", "unit", "rename", "formula", "insert",
         "rename_key", "truncate", "duplicate", "retype", "nest", "swap_name", "structure"]


#: numbers a parameter value may become and still pass validation (mostly): the cases
#: that reach the solver
EXTREME_FACTORS = [0, 1e3, 1e-3, 1e6, 1e-6, 1e12, 1e-12, 1e30, 1e-30, 1e300, 1e-300]


def mutate_once(data: dict, below: Below) -> None:
    """Apply one mutation to ``data`` in place: half of them change a number of the model
    (most of those still load, and reach the solver), half anything anywhere."""
    everything = list(nodes(data))
    numbers = [(path, node) for path, node in everything
               if isinstance(node, int | float) and not isinstance(node, bool)]
    if numbers and below(2) == 0:
        path, node = pick(below, numbers)
        parent = parent_of(data, path)
        if below(4) == 0:
            parent[path[-1]] = pick(below, NUMBERS)
        else:
            parent[path[-1]] = node * pick(below, EXTREME_FACTORS)
        if path[-1] == "value" and isinstance(parent, dict):
            parent.pop("range", None)  # else most new values fall outside it
        return
    path, node = pick(below, everything)
    kind = pick(below, KINDS)
    parent = parent_of(data, path) if path else None
    key = path[-1] if path else None
    if kind == "insert" and isinstance(node, dict):
        node[pick(below, STRINGS[:12] + ["extends", "rules_csv", "range", "expr"])] = \
            value(below)
    elif kind == "rename_key" and isinstance(node, dict) and node:
        old = pick(below, list(node))
        new = pick(below, ["x", "", "x" * 5000, 1, 2.5, True, None, "a.b", "a b", "é",
                           "HSC", "exosome"])
        node[new] = node.pop(old)
    elif kind == "truncate" and isinstance(node, list):
        del node[below(len(node) + 1):]
    elif kind == "duplicate" and isinstance(node, list) and node:
        node.append(copy.copy(pick(below, node)))  # shallow: it may be 2000 deep
    elif kind == "duplicate" and isinstance(node, dict) and node:
        old = pick(below, list(node))
        node[f"{old}_copy" if isinstance(old, str) else "copy"] = copy.copy(node[old])
    elif parent is None:
        return
    elif kind == "delete":
        del parent[key]
    elif kind == "number":
        parent[key] = pick(below, NUMBERS)
    elif kind == "string":
        parent[key] = pick(below, STRINGS)
    elif kind == "scale" and isinstance(node, int | float) and not isinstance(node, bool):
        factor = pick(below, [-1, 0, 1e6, 1e-6, 1e30, 1e-30, 1e300, float("nan")])
        parent[key] = node * factor if math.isfinite(node) else factor
    elif kind == "unit" and key == "unit":
        parent[key] = pick(below, UNITS)
    elif kind == "rename" and isinstance(node, str):
        parent[key] = node + pick(below, ["x", "_", "s", "2", " ", ":", "."])
    elif kind == "formula" and isinstance(parent, dict) and key == "value":
        del parent["value"]
        parent["expr"] = pick(below, FORMULAS + names_in(data)[:50])
    elif kind == "formula":
        parent[key] = {"expr": pick(below, FORMULAS), "unit": pick(below, UNITS),
                       "source": "assumption: a fuzzed formula"}
    elif kind == "retype":
        if isinstance(node, dict):
            parent[key] = list(node.values())
        elif isinstance(node, list):
            parent[key] = {str(i): v for i, v in enumerate(node)}
        elif isinstance(node, int | float):
            parent[key] = str(node)
        elif isinstance(node, str):
            parent[key] = [node]
    elif kind == "nest":
        parent[key] = nest(node, pick(below, [1, 3, 50, 2000]), below(2) == 0)
    elif kind == "swap_name":
        parent[key] = pick(below, names_in(data))
    else:
        parent[key] = value(below)


def mutate(base: dict, below: Below, count: int | None = None) -> dict:
    """A mutated deep copy of ``base``: ``count`` (default: 1–3, drawn) mutations."""
    data = copy.deepcopy(base)
    for _ in range(count if count is not None else 1 + below(3)):
        mutate_once(data, below)
    return data


def base_models(presets: tuple[str, ...] | None = None) -> list[tuple[str, dict]]:
    """The valid models mutated: the two tiny test models and the presets (merged with
    what they extend; CSV paths made absolute), as raw mappings."""
    out = [(path.stem, yaml.safe_load(path.read_text(encoding="utf-8")))
           for path in (TINY, TINY_LEUKEMIA)]
    folder = resources.files("evniche") / "presets"
    names = presets if presets is not None else sorted(
        p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))
    for name in names:
        path = folder / f"{name}.yaml"
        if path.is_file():
            out.append((name, read_merged(Path(str(path)))))
    return out
