"""Unit conversion to the canonical internal units (µm, hour, count, mL) and its errors."""

from __future__ import annotations

import pytest

from evniche import units
from evniche.errors import ModelError


@pytest.mark.parametrize(
    ("value", "unit", "kind", "expected"),
    [
        (2.0, "h", "time", 2.0),
        (1.0, "day", "time", 24.0),
        (3.0, "days", "time", 72.0),
        (90.0, "min", "time", 1.5),
        (3600.0, "s", "time", 1.0),
        (1.0, "week", "time", 168.0),
        (150.0, "nm", "length", 0.15),
        (1.0, "µm", "length", 1.0),
        (1.0, "μm", "length", 1.0),  # Greek mu (U+03BC) as well as the micro sign (U+00B5)
        (2.5, "um", "length", 2.5),
        (1.0, "mm", "length", 1000.0),
        (1.0, "mL", "volume", 1.0),
        (3.0, "L", "volume", 3000.0),
        (1.0, "uL", "volume", 1e-3),
        (100.0, "EV/cell/h", "rate", 100.0),
        (2400.0, "EV/cell/day", "rate", 100.0),
        (7.0, "1/min", "rate", 420.0),
        (1.0, "1/day", "rate", 1.0 / 24.0),
        (0.1, "1/h", "rate", 0.1),
        (1.0, "h**-1", "rate", 1.0),
        (1e-6, "mL/h", "clearance", 1e-6),
        (1.0, "uL/min", "clearance", 0.06),
        (1e9, "EV/mL", "concentration", 1e9),
        (1e9, "EV/L", "concentration", 1e6),
        (5.0, "cell", "dimensionless", 5.0),
        (0.008, "copies", "dimensionless", 0.008),
        (1.4, "dimensionless", "dimensionless", 1.4),
        (50.0, "percent", "dimensionless", 0.5),
        (1.0, "uM", "molar", 1000.0),
        (1.0, "um^2/s", "diffusivity", 1.0),
        (1.0, "cm^2/s", "diffusivity", 1e8),
        (1.0, "Pa*s", "viscosity", 1000.0),
    ],
)
def test_to_canonical_converts(value: float, unit: str, kind: str, expected: float) -> None:
    assert units.to_canonical(value, unit, kind) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("unit", "kind", "words"),
    [
        ("mm", "rate", "a rate"),
        ("h", "rate", "a rate"),
        ("1/h", "time", "a time"),
        ("mL", "length", "a length"),
        ("nm", "volume", "a volume"),
        ("EV/cell/h", "clearance", "a volume per time"),
        ("1/h", "dimensionless", "a dimensionless number"),
        ("mL/h", "concentration", "a number concentration"),
        ("nM", "concentration", "a number concentration"),
    ],
)
def test_wrong_dimension_names_field_and_expected_dimension(unit: str, kind: str,
                                                            words: str) -> None:
    path = "cell_types.MSC.secretion[0].rate"
    with pytest.raises(ModelError) as info:
        units.to_canonical(1.0, unit, kind, path)
    err = info.value
    assert err.path == path
    assert f"unit '{unit}'" in err.message
    assert f"expected {words}" in err.message
    assert path in str(err)


@pytest.mark.parametrize("unit", ["furlongs_per_fortnight", "EVz/h", "1/h/2", "m/", "**", "h)"])
def test_unknown_or_malformed_unit_is_a_model_error(unit: str) -> None:
    with pytest.raises(ModelError) as info:
        units.to_canonical(1.0, unit, "rate", "parameters.x.unit")
    assert info.value.path == "parameters.x.unit"
    assert "is not a unit evniche knows" in info.value.message


def test_counted_things_are_dimensionless_and_interchangeable() -> None:
    # cells, EVs and copies are counts: a rate in EV/cell/h is a plain rate per hour
    assert units.kind_of("EV/cell/h") == "rate"
    assert units.kind_of("cells") == "dimensionless"
    assert units.kind_of("EVs/mL") == "concentration"
    assert units.kind_of("mL/h") == "clearance"
    assert units.kind_of("mL^2") is None


def test_every_canonical_unit_is_its_own_kind() -> None:
    for kind, unit in units.CANONICAL.items():
        assert units.kind_of(unit) == kind
        assert units.to_canonical(3.0, unit, kind) == pytest.approx(3.0)
        assert kind in units.DESCRIPTION
