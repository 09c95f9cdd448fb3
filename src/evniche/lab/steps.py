"""What every isolation step shares: its pydantic base, the record of what it did
(:class:`StepResult`) and the temperature dependence of the medium's viscosity.

A step is a pydantic model (unknown fields refused) with ``apply(sample) -> (sample,
result)``: it turns a :class:`~evniche.lab.samples.Sample` into the fraction it keeps and
says, per population, which fraction of the particles it kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict

from .particles import Population


class Strict(BaseModel):
    """A pydantic model that refuses unknown fields."""

    model_config = ConfigDict(extra="forbid")


class Step(Strict):
    """Base of the isolation steps: unknown fields are refused."""

    def apply(self, sample):  # pragma: no cover - every step overrides it
        raise NotImplementedError

    def parameters(self) -> dict:
        """The step's parameters as given (field name → value; names carry the unit)."""
        return self.model_dump(exclude_none=True)


@dataclass
class StepResult:
    """What a step did: its ``step`` name and ``label``, its parameters, ``derived``
    quantities (name → (value, unit)), the fraction of each population it kept
    (``kept``: population name → fraction 0–1), the volume after it (mL) and notes."""

    step: str
    label: str
    parameters: dict
    derived: dict[str, tuple[float, str]] = field(default_factory=dict)
    kept: dict[str, float] = field(default_factory=dict)
    volume_ml: float = float("nan")
    notes: list[str] = field(default_factory=list)


def kept_fractions(before: list[Population], after: list[Population]) -> dict[str, float]:
    """Fraction of each population (by name) left after a step (NaN where none was there)."""
    out = {}
    for b, a in zip(before, after, strict=True):
        out[b.name] = a.total / b.total if b.total > 0 else float("nan")
    return out


def water_viscosity_mpa_s(temperature_c: float) -> float:
    """Viscosity of water (mPa·s) at ``temperature_c`` (°C), Vogel equation
    η = A·10^(B/(T − C)), A = 2.414e-5 Pa·s, B = 247.8 K, C = 140 K (assumption: a
    textbook fit, ±2 % over 0–40 °C)."""
    t = float(temperature_c) + 273.15
    return 2.414e-5 * 10 ** (247.8 / (t - 140.0)) * 1e3


def viscosity_at(viscosity_mpa_s: float, reference_c: float, temperature_c: float) -> float:
    """A medium's viscosity (mPa·s) at ``temperature_c`` (°C) from its value
    ``viscosity_mpa_s`` at ``reference_c`` (°C), scaled as water's (assumption: plasma and
    buffers follow water's temperature dependence)."""
    return viscosity_mpa_s * water_viscosity_mpa_s(temperature_c) / \
        water_viscosity_mpa_s(reference_c)


def clip01(x: np.ndarray | float) -> np.ndarray:
    """``x`` clipped to [0, 1]."""
    return np.clip(np.asarray(x, float), 0.0, 1.0)
