"""Property: any mutation of a valid model loads, or fails with a clean ModelError.

Mutations (one to three per example): delete a key, replace a value by a random scalar,
list, mapping, None or string, change a unit to a random or wrong-dimension unit, negate
a number, rename a reference, insert an unknown key, truncate a list. Whatever comes out,
``load_model`` must either succeed or raise :class:`ModelError` — never a KeyError,
TypeError, pint or NumPy error.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evniche.errors import ModelError
from evniche.spec.loader import load_model, read_merged

HERE = Path(__file__).resolve().parent
UNITS = ["mm", "nm", "um", "h", "day", "1/min", "1/h", "EV/cell/h", "mL", "L", "mL/h",
         "EV/mL", "nM", "cell", "copies", "dimensionless", "percent", "um^2/s", "mPa*s", "K",
         "kg", "1/cell", "", "m/", "h**2", "not_a_unit", "µm", "1/h/2", "EV/EV", "%"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["HSC", "MSC", "exosome", "miR-150", "cargo:miR-150", "self_renewal",
                     "a1", "sec", "marrow", "blood", "increases", "ln(2)/kdeg", "1/h"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6)


def base_models() -> list[tuple[str, dict]]:
    """The valid models mutated: the tiny fixture and, where they ship, the healthy and
    aml presets (merged with what they extend)."""
    out = [("tiny", yaml.safe_load((HERE / "tiny.yaml").read_text(encoding="utf-8")))]
    for preset in ("healthy", "aml"):
        path = resources.files("evniche") / "presets" / f"{preset}.yaml"
        if path.is_file():
            out.append((preset, read_merged(Path(str(path)))))  # CSV paths made absolute
    return out


BASES = base_models()


def nodes(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path, value) in a nested structure of dicts and lists, root included."""
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from nodes(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from nodes(value, (*path, i))


def parent_of(data: Any, path: tuple) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


@st.composite
def mutated(draw) -> dict:
    name, base = draw(st.sampled_from(BASES))
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        everything = list(nodes(data))
        path, value = draw(st.sampled_from(everything))
        kind = draw(st.sampled_from(["delete", "replace", "unit", "negate", "rename",
                                     "insert", "truncate"]))
        if kind == "insert" and isinstance(value, dict):
            value[draw(st.text(min_size=1, max_size=10))] = draw(values)
        elif kind == "truncate" and isinstance(value, list):
            del value[draw(st.integers(0, len(value))):]
        elif not path:
            continue
        elif kind == "delete":
            del parent_of(data, path)[path[-1]]
        elif kind == "unit" and path[-1] == "unit":
            parent_of(data, path)["unit"] = draw(st.sampled_from(UNITS))
        elif kind == "negate" and isinstance(value, int | float) and not isinstance(value, bool):
            parent_of(data, path)[path[-1]] = -value
        elif kind == "rename" and isinstance(value, str):
            parent_of(data, path)[path[-1]] = value + draw(st.sampled_from(["x", "_", "s", "2"]))
        else:
            parent_of(data, path)[path[-1]] = draw(values)
    return data


@pytest.mark.parametrize(("name", "base"), BASES, ids=[n for n, _ in BASES])
def test_base_models_are_valid(name: str, base: dict) -> None:
    assert load_model(copy.deepcopy(base)).name == base["name"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated())
def test_mutated_model_loads_or_fails_cleanly(data: dict) -> None:
    try:
        load_model(data)
    except ModelError as exc:
        assert exc.message  # a message saying what was expected
        assert str(exc).startswith("<mapping>")  # and naming the source
        # a path in the user's terms, never pydantic's names for union branches
        assert not any(word in exc.path for word in ("union[", "function-", "[key]",
                                                     "Parameter"))
