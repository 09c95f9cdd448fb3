"""Buoyant-density banding in a density gradient (iodixanol or sucrose), as physics.

At equilibrium each particle sits where the gradient's density equals its own (denser
than the gradient's bottom: at the bottom; lighter than its top: at the top). A
population's density is normal (mean, SD: :class:`~evniche.lab.particles.Population`), so
the share of it in the collected density window [lo, hi] is the normal mass there.

Whether a particle reaches its band within the run follows Stokes' law
(:mod:`evniche.lab.centrifugation`): with Δρ taken against the density where the sample
is loaded (the gradient's top, or its bottom for a flotation gradient) and the gradient's
viscosity, a particle has equilibrated once s ω² t ≥ ln(r_max/r_min); the fraction that
has equilibrated is s ω² t / ln(r_max/r_min), capped at 1 (assumption: linear approach).
The rest stays at the loading density and is collected only if that lies in the window.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator
from scipy.special import ndtr

from .centrifugation import (
    ROTORS,
    Rotor,
    g_at,
    k_factor,
    omega,
    rpm_for_g,
    sedimentation_coefficient,
)
from .particles import CENTERS_NM
from .steps import Step, StepResult, clip01, kept_fractions, viscosity_at


def banded_fraction(mean: float, sd: float, low: float, high: float, lo: float,
                    hi: float) -> float:
    """Share of a normal density distribution (``mean``, ``sd`` g/mL) whose band, in a
    gradient spanning [``low``, ``high``] g/mL, falls in the window [``lo``, ``hi``]."""
    a = -math.inf if lo <= low else lo
    b = math.inf if hi >= high else hi
    if sd <= 0:
        x = min(max(mean, low), high)
        return float(lo <= x <= hi)
    return float(ndtr((b - mean) / sd) - ndtr((a - mean) / sd))


class DensityGradient(Step):
    """A density-gradient spin: a gradient from ``low_g_ml`` to ``high_g_ml`` (g/mL) of
    viscosity ``viscosity_mpa_s`` (at 20 °C; assumption: iodixanol 10–40 % ≈ 2 mPa·s, range
    1.2–4), the sample loaded at the ``top`` or ``bottom``, spun at ``g`` (× g at r_max) or
    ``rpm`` for ``minutes``; the fractions between ``collect_g_ml`` [lo, hi] are pooled,
    ``collect_ml`` mL, and washed into PBS."""

    step: Literal["density_gradient"]
    label: str = ""
    low_g_ml: float = Field(gt=0.9, lt=1.5)
    high_g_ml: float = Field(gt=0.9, lt=1.5)
    collect_g_ml: tuple[float, float]
    collect_ml: float = Field(gt=0)
    g: float | None = Field(default=None, gt=0)
    rpm: float | None = Field(default=None, gt=0)
    minutes: float = Field(gt=0)
    rotor: str | Rotor = "SW 41 Ti"
    load: Literal["top", "bottom"] = "top"
    viscosity_mpa_s: float = Field(default=2.0, gt=0)
    temperature_c: float = Field(default=4.0, ge=-5, le=40)

    @model_validator(mode="after")
    def _check(self) -> DensityGradient:
        if not self.high_g_ml > self.low_g_ml:
            raise ValueError("high_g_ml must be larger than low_g_ml")
        lo, hi = self.collect_g_ml
        if not hi > lo:
            raise ValueError("collect_g_ml must be [lo, hi] with hi > lo")
        if (self.g is None) == (self.rpm is None):
            raise ValueError("give exactly one of g (× g at r_max) and rpm")
        if isinstance(self.rotor, str) and self.rotor not in ROTORS:
            raise ValueError(f"unknown rotor {self.rotor!r}; known: {', '.join(ROTORS)}")
        return self

    def apply(self, sample):
        from .samples import BUFFER

        rotor = ROTORS[self.rotor] if isinstance(self.rotor, str) else self.rotor
        rpm = self.rpm if self.rpm is not None else rpm_for_g(self.g, rotor.r_max_mm)
        eta = viscosity_at(self.viscosity_mpa_s, 20.0, self.temperature_c)
        load_rho = self.low_g_ml if self.load == "top" else self.high_g_ml
        lo, hi = self.collect_g_ml
        scale = omega(rpm) ** 2 * self.minutes * 60.0 / math.log(rotor.r_max_mm /
                                                                 rotor.r_min_mm)
        kept = []
        for pop in sample.populations:
            s = np.abs(sedimentation_coefficient(CENTERS_NM, pop.density, load_rho, eta))
            eq = clip01(s * scale)
            banded = banded_fraction(pop.density, pop.density_sd, self.low_g_ml,
                                     self.high_g_ml, lo, hi)
            stays = float(lo <= load_rho <= hi)
            kept.append(pop.scaled(eq * banded + (1.0 - eq) * stays))
        out = sample.replaced(kept, self.collect_ml, BUFFER)
        result = StepResult(
            step="density_gradient",
            label=self.label or f"density gradient {self.low_g_ml:g}–{self.high_g_ml:g} g/mL, "
            f"collect {lo:g}–{hi:g} g/mL", parameters=self.parameters(),
            kept=kept_fractions(sample.populations, kept), volume_ml=out.volume_ml)
        result.derived = {"rpm": (rpm, "rpm"), "g at r_max": (g_at(rpm, rotor.r_max_mm), "× g"),
                          "k-factor": (k_factor(rotor, rpm), "h·S"),
                          "viscosity": (eta, "mPa·s")}
        result.notes.append("fractions washed into PBS (assumption: no loss in the wash)")
        return out, result
