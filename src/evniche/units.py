"""One pint registry for the whole package, and the canonical internal units.

Inside engines every quantity is a plain float in canonical units: micrometre, hour,
count (cells, EVs, copies are dimensionless counts), millilitre for compartment
volumes and nanomolar for drug concentrations.
"""

from __future__ import annotations

from functools import cache, lru_cache

import pint

from . import user_cache
from .errors import ModelError


def _registry() -> pint.UnitRegistry:
    """pint's registry; its parsed definitions are cached in the user cache folder
    (:mod:`evniche.user_cache`), which makes it ~10x faster to build (~0.2 s of every
    start). An unusable cache (unwritable, or a file half-written by another process)
    falls back on parsing the definitions."""
    cache = user_cache.folder("pint")
    if cache is not None:
        try:
            return pint.UnitRegistry(cache_folder=cache)
        except Exception:  # noqa: BLE001 - whatever the cache holds, parse instead
            pass
    return pint.UnitRegistry()


ureg = _registry()
# Counted things are dimensionless in the model; the names make model files readable.
ureg.define("cell = [] = cells")
ureg.define("EV = [] = EVs = vesicle = vesicles")
ureg.define("copy = [] = copies")
ureg.define("molecule_count = [] = molecules")
ureg.define("fraction = []")

Quantity = ureg.Quantity

#: canonical unit for each dimensionality the model uses
CANONICAL: dict[str, str] = {
    "dimensionless": "dimensionless",
    "time": "hour",
    "rate": "1/hour",
    "length": "micrometre",
    "volume": "millilitre",
    "concentration": "1/millilitre",
    "clearance": "millilitre/hour",
    "molar": "nanomolar",
    "diffusivity": "micrometre**2/second",
    "area": "micrometre**2",
    "viscosity": "millipascal*second",
    "temperature": "kelvin",
    "mass_concentration": "microgram/millilitre",
    "mass": "kilogram",
    "speed": "micrometre/hour",
}

#: what each kind means, in words, for error messages
DESCRIPTION: dict[str, str] = {
    "dimensionless": "a dimensionless number (a count, copies, a fraction)",
    "time": "a time (e.g. h, day, min)",
    "rate": "a rate (per time, e.g. 1/h or EV/cell/h)",
    "length": "a length (e.g. nm, um)",
    "speed": "a speed (e.g. um/h)",
    "volume": "a volume (e.g. mL, L)",
    "concentration": "a number concentration (per volume, e.g. EV/mL)",
    "clearance": "a volume per time (e.g. mL/h)",
    "molar": "a molar concentration (e.g. nM, uM)",
    "diffusivity": "a diffusion coefficient (e.g. um^2/s)",
    "area": "an area",
    "viscosity": "a dynamic viscosity (e.g. mPa*s)",
    "temperature": "a temperature (K)",
    "mass_concentration": "a mass concentration (e.g. ug/mL)",
    "mass": "a mass (e.g. kg, fg)",
}


@cache
def dimensionality(kind: str):
    return ureg.Quantity(1.0, CANONICAL[kind]).dimensionality


@lru_cache(maxsize=4096)
def _unit(text: str) -> pint.Unit:
    return ureg.Unit(text.replace("µ", "u").replace("μ", "u"))


def parse_unit(text: str, path: str = "") -> pint.Unit:
    """Parse a unit string, or raise a ModelError naming ``path``."""
    try:
        return _unit(text)
    except Exception as exc:  # pint raises several types for unknown units and bad syntax
        raise ModelError(f"'{text}' is not a unit evniche knows ({exc.__class__.__name__})",
                         path) from None


def to_canonical(value: float, unit: str, kind: str, path: str = "") -> float:
    """Convert ``value`` in ``unit`` to the canonical unit of ``kind`` (a key of CANONICAL).

    Raises a ModelError naming ``path`` and the expected dimension when the unit is of the
    wrong dimension.
    """
    parsed = parse_unit(unit, path)
    dims = _dimensionality_of(parsed)
    if dims != dimensionality(kind):
        raise ModelError(
            f"unit '{unit}' has dimension {dims or 'dimensionless'}; "
            f"expected {DESCRIPTION[kind]}",
            path,
        )
    factor = _factor(parsed, kind)
    if factor is not None:
        return float(value) * factor
    return float(ureg.Quantity(value, parsed).to(CANONICAL[kind]).magnitude)


@lru_cache(maxsize=4096)
def _dimensionality_of(unit: pint.Unit):
    return ureg.Quantity(1.0, unit).dimensionality


@lru_cache(maxsize=4096)
def _factor(unit: pint.Unit, kind: str) -> float | None:
    """The multiplicative factor from ``unit`` to the canonical unit of ``kind``, or None
    for a unit with an offset (degree Celsius), which pint must convert value by value."""
    try:
        zero = ureg.Quantity(0.0, unit).to(CANONICAL[kind]).magnitude
    except pint.errors.OffsetUnitCalculusError:
        return None
    if zero != 0.0:
        return None
    return float(ureg.Quantity(1.0, unit).to(CANONICAL[kind]).magnitude)


def kind_of(unit: str) -> str | None:
    """The kind (key of CANONICAL) whose dimension ``unit`` has, or None."""
    dims = ureg.Quantity(1.0, parse_unit(unit)).dimensionality
    for kind in CANONICAL:
        if dimensionality(kind) == dims:
            return kind
    return None
