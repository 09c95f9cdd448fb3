"""Overrides (``--set PATH=VALUE``): a value given with a new unit is checked against the
parameter's declared range in the same physical units, and a malformed path is a clear
ModelError naming it, never a traceback. The model name is bounded too."""

from __future__ import annotations

import pytest

from evniche.errors import ModelError
from evniche.spec.loader import apply_overrides, load_model
from evniche.units import ureg

NAME = "t_half"  # a time parameter added to the tiny model, with a range in hours


@pytest.fixture
def ranged(tiny_data: dict) -> dict:
    """The tiny model with a parameter ``t_half`` = 2 h, plausible in [1, 3] h."""
    tiny_data["parameters"][NAME] = {"value": 2, "unit": "h", "range": [1, 3],
                                     "source": "assumption: a test value"}
    return tiny_data


def _in(value: float, unit: str, to: str) -> float:
    return float(ureg.Quantity(value, unit).to(to).magnitude)


def test_a_value_in_another_unit_is_checked_against_the_range_in_that_unit(ranged):
    low, high = ranged["parameters"][NAME]["range"]
    unit = ranged["parameters"][NAME]["unit"]
    # a number inside the declared numbers, but in days: far above the range in hours
    number = (low + high) / 2
    assert _in(number, "day", unit) > high
    with pytest.raises(ModelError, match="outside its range") as exc:
        load_model(ranged, overrides={f"parameters.{NAME}.value": number,
                                      f"parameters.{NAME}.unit": "day"})
    assert exc.value.path == f"parameters.{NAME}"


def test_a_value_inside_the_range_in_another_unit_is_accepted(ranged):
    low, high = ranged["parameters"][NAME]["range"]
    unit = ranged["parameters"][NAME]["unit"]
    # the middle of the range, written in minutes: a number far outside [low, high]
    number = _in((low + high) / 2, unit, "min")
    assert not low <= number <= high
    resolved = load_model(ranged, overrides={f"parameters.{NAME}.value": number,
                                             f"parameters.{NAME}.unit": "min"})
    spec = resolved.spec.parameters[NAME]
    assert spec.unit == "min"
    assert spec.range == pytest.approx((_in(low, unit, "min"), _in(high, unit, "min")))


def test_the_range_is_kept_when_only_the_value_changes(ranged):
    low, high = ranged["parameters"][NAME]["range"]
    out = apply_overrides(ranged, {f"parameters.{NAME}.value": high}, "--set")
    assert out["parameters"][NAME]["range"] == [low, high]
    with pytest.raises(ModelError, match="outside its range"):
        load_model(ranged, overrides={f"parameters.{NAME}.value": high * 1.01})


def test_a_range_given_with_the_new_unit_is_not_converted(ranged):
    out = apply_overrides(ranged, {f"parameters.{NAME}.unit": "min",
                                   f"parameters.{NAME}.range": [60, 180]}, "--set")
    assert out["parameters"][NAME]["range"] == [60, 180]


def test_a_unit_of_another_dimension_is_refused_naming_the_path(ranged):
    with pytest.raises(ModelError, match="same dimension") as exc:
        apply_overrides(ranged, {f"parameters.{NAME}.unit": "kg"}, "--set")
    assert exc.value.path == f"parameters.{NAME}.unit"


@pytest.mark.parametrize(("path", "message"), [
    ("rules[abc].direction", "list index [abc] is not a whole number"),
    ("rules[-1].direction", "list index [-1] is not a whole number"),
    ("rules[].direction", "list index [] is not a whole number"),
    ("rules[1e3].direction", "list index [1e3] is not a whole number"),
    ("rules[0]].direction", "is not NAME or NAME[INDEX]"),
    ("rules[0.direction", "is not NAME or NAME[INDEX]"),
    ("parameters..h", "an empty name"),
    ("", "empty path"),
    ("rules[5].direction", "index 5 is out of range: 'rules' has 1 entry (0 to 0)"),
    ("rules.direction", "'rules' is a list; pick an entry by its index"),
    ("parameters[0]", "'parameters' is a mapping, not a list"),
    ("parameters.h[0]", "'parameters.h' is a mapping, not a list"),
    ("name.x", "'name' is a single value"),
    ("parameters.nope.value", "no 'parameters.nope' in the model"),
])
def test_a_malformed_path_is_refused_naming_it(tiny_data, path, message):
    assert len(tiny_data["rules"]) == 1  # the expected messages count on one rule
    with pytest.raises(ModelError) as exc:
        apply_overrides(tiny_data, {path: 1}, "--set")
    assert message in exc.value.message
    assert exc.value.path == path and exc.value.source == "--set"


def test_a_well_formed_indexed_path_sets_the_entry(tiny_data):
    out = apply_overrides(tiny_data, {"rules[0].direction": "increases"}, "--set")
    assert out["rules"][0]["direction"] == "increases"
    assert tiny_data["rules"][0]["direction"] == "decreases"  # the input is not changed


def test_a_model_name_may_have_up_to_the_maximum_length(tiny_data):
    from evniche.spec.model import MAX_NAME_LENGTH

    tiny_data["name"] = "m" * MAX_NAME_LENGTH
    assert load_model(tiny_data).spec.name == tiny_data["name"]
    with pytest.raises(ModelError, match=f"at most {MAX_NAME_LENGTH}") as exc:
        load_model(tiny_data, overrides={"name": "m" * (MAX_NAME_LENGTH + 1)})
    assert exc.value.path == "name"
    assert len(str(exc.value)) < 250  # the long name is not repeated whole
