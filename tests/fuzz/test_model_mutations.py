"""Property: any mutation of a valid model loads, compiles and runs, or fails with a clean
EvnicheError — never a KeyError, TypeError, ValueError, RecursionError, pint, NumPy or
SciPy error.

The mutations (:mod:`mutations`, shared with ``make fuzz``) start from the tiny test
models and every preset: deleted keys, changed types, negative, zero, huge, tiny, NaN and
infinite numbers, bad units, unknown and near names, formulas that overflow, long
strings, deep nesting, duplicated entries. Hypothesis runs derandomized (the same cases on
every run); ``make fuzz`` runs 10,000 more.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from mutations import base_models, mutate

from evniche import engines
from evniche.compile.network import compile_model
from evniche.errors import EvnicheError, ModelError
from evniche.spec.loader import load_model

BASES = base_models()
TINY_BASES = [(name, base) for name, base in BASES if name.startswith("tiny")]
FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fuzz(examples: int) -> settings:
    return settings(FUZZ, max_examples=examples)


@st.composite
def mutated(draw, bases: list[tuple[str, dict]] = BASES) -> dict:
    name, base = draw(st.sampled_from(bases))
    return mutate(base, lambda n: draw(st.integers(0, n - 1)))


@pytest.mark.parametrize(("name", "base"), BASES, ids=[n for n, _ in BASES])
def test_base_models_are_valid(name: str, base: dict) -> None:
    assert load_model(copy.deepcopy(base)).name == base["name"]


def check_model_error(exc: ModelError) -> None:
    assert exc.message  # a message saying what was expected
    assert str(exc).startswith("<mapping>")  # and naming the source
    # a path in the user's terms, never pydantic's names for union branches
    assert not any(word in exc.path for word in ("union[", "function-", "[key]",
                                                 "Parameter"))


@fuzz(300)
@given(data=mutated())
def test_mutated_model_loads_and_compiles_or_fails_cleanly(data: dict) -> None:
    try:
        compile_model(load_model(data))
    except ModelError as exc:
        check_model_error(exc)


@fuzz(25)
@given(data=mutated(TINY_BASES))
def test_mutated_tiny_model_runs_or_fails_cleanly(data: dict) -> None:
    try:
        model = load_model(data)
    except ModelError as exc:
        check_model_error(exc)
        event("load refused")
        return
    try:
        ds = engines.simulate(model, days=5, wall_limit_s=30)
    except EvnicheError as exc:
        assert str(exc)
        event("simulation refused")
        return
    event("simulated")
    assert float(ds["time"].max()) == pytest.approx(5.0)
