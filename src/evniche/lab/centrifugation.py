"""Centrifugation as physics: Stokes settling in a rotor, for differential centrifugation
and ultracentrifugation.

A sphere of diameter d and density ρp in a medium of density ρm and viscosity η has the
sedimentation coefficient (Stokes' law)

    s = d² (ρp − ρm) / (18 η)            [s; 1 S = 1e-13 s]

and in a rotor at angular speed ω moves outward as r(t) = r0·exp(s ω² t). A particle
starting at r0 between r_min and r_max reaches the tube bottom (r_max) within t when
r0 ≥ r_max·exp(−s ω² t); with particles spread evenly along the radius (assumption: a
tube of constant cross-section, no wall effects), the pelleted fraction is

    f = (r_max − max(r_min, r_max·e^(−s ω² t))) / (r_max − r_min)     (0 when s ≤ 0).

Everything is pelleted once s ω² t ≥ ln(r_max/r_min): the smallest diameter pelleted
completely (the cut-off) is d* = √(18 η ln(r_max/r_min) / ((ρp − ρm) ω² t)). The rotor's
k-factor is k = ln(r_max/r_min)/ω² · 10¹³/3600 (h·S), so that complete pelleting takes
T = k/S hours (Encyclopedia of Separation Science, Centrifugation: k = ln(rmax/rmin) ×
10¹³/(3600 ω²) = 2.53 × 10¹¹ ln(rmax/rmin)/rpm², T = k/S). Particles lighter than the
medium (VLDL, chylomicrons in plasma) float and are never pelleted.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ..errors import EvnicheError
from .particles import CENTERS_NM, Population
from .steps import Step, StepResult, Strict, clip01, kept_fractions, viscosity_at

#: standard gravity (m/s²)
G0 = 9.80665


class Rotor(Strict):
    """A rotor by its radii (mm) and top speed (rpm); ``name`` for the record."""

    name: str = "custom"
    r_min_mm: float = Field(gt=0)
    r_max_mm: float = Field(gt=0)
    max_rpm: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _radii(self) -> Rotor:
        if not self.r_max_mm > self.r_min_mm:
            raise ValueError(f"r_max_mm ({self.r_max_mm}) must be larger than r_min_mm "
                             f"({self.r_min_mm})")
        return self


#: rotors by name (radii from the manufacturers' rotor tables; their published k-factors,
#: Type 70 Ti 44 and SW 41 Ti 124 at top speed, follow from these radii)
ROTORS: dict[str, Rotor] = {
    "Type 70 Ti": Rotor(name="Type 70 Ti", r_min_mm=39.5, r_max_mm=91.9, max_rpm=70000),
    "SW 41 Ti": Rotor(name="SW 41 Ti", r_min_mm=67.4, r_max_mm=153.1, max_rpm=41000),
    "TLA-100.3": Rotor(name="TLA-100.3", r_min_mm=26.0, r_max_mm=48.3, max_rpm=100000),
    "benchtop swing-out": Rotor(name="benchtop swing-out", r_min_mm=80.0, r_max_mm=150.0),
    "microcentrifuge": Rotor(name="microcentrifuge", r_min_mm=45.0, r_max_mm=85.0),
}
ROTOR_SOURCE = ("assumption: radii as recalled from Beckman Coulter rotor tables (Type 70 Ti "
                "39.5/91.9 mm, SW 41 Ti 67.4/153.1 mm, TLA-100.3 26.0/48.3 mm); benchtop and "
                "microcentrifuge radii typical, not a specific model")


def sedimentation_coefficient(diameter_nm: np.ndarray | float, particle_density: float,
                              medium_density: float, viscosity_mpa_s: float) -> np.ndarray:
    """Stokes sedimentation coefficient s (seconds) of spheres of ``diameter_nm`` (nm) and
    ``particle_density`` (g/mL) in a medium of ``medium_density`` (g/mL) and
    ``viscosity_mpa_s`` (mPa·s): s = d²(ρp − ρm)/(18η); negative for floating particles."""
    d = np.asarray(diameter_nm, float) * 1e-9
    drho = (particle_density - medium_density) * 1e3  # kg/m³
    return d ** 2 * drho / (18.0 * viscosity_mpa_s * 1e-3)


def omega(rpm: float) -> float:
    """Angular speed (rad/s) of ``rpm`` revolutions per minute."""
    return rpm * 2.0 * math.pi / 60.0


def rpm_for_g(g_force: float, radius_mm: float) -> float:
    """Speed (rpm) at which the relative centrifugal force at ``radius_mm`` is ``g_force``
    (× g): RCF = ω² r / g₀."""
    w = math.sqrt(g_force * G0 / (radius_mm * 1e-3))
    return w * 60.0 / (2.0 * math.pi)


def g_at(rpm: float, radius_mm: float) -> float:
    """Relative centrifugal force (× g) at ``radius_mm`` (mm) and ``rpm``."""
    return omega(rpm) ** 2 * radius_mm * 1e-3 / G0


def k_factor(rotor: Rotor, rpm: float) -> float:
    """Clearing factor k (h·S) of ``rotor`` at ``rpm``: ln(r_max/r_min)/ω² · 10¹³/3600."""
    return math.log(rotor.r_max_mm / rotor.r_min_mm) / omega(rpm) ** 2 * 1e13 / 3600.0


def pelleted_fraction(s_seconds: np.ndarray | float, rotor: Rotor, rpm: float,
                      minutes: float) -> np.ndarray:
    """Fraction of particles of sedimentation coefficient ``s_seconds`` (s) that reach the
    bottom of a tube spanning the rotor's radii in ``minutes`` at ``rpm`` (particles spread
    evenly along the radius at the start; floating particles, s ≤ 0, give 0)."""
    s = np.asarray(s_seconds, float)
    travel = np.exp(-np.clip(s, 0.0, None) * omega(rpm) ** 2 * minutes * 60.0)
    start = np.maximum(rotor.r_min_mm, rotor.r_max_mm * travel)
    f = (rotor.r_max_mm - start) / (rotor.r_max_mm - rotor.r_min_mm)
    return np.where(s > 0, clip01(f), 0.0)


def cutoff_diameter_nm(particle_density: float, medium_density: float,
                       viscosity_mpa_s: float, rotor: Rotor, rpm: float,
                       minutes: float) -> float:
    """Smallest diameter (nm) pelleted completely: √(18 η ln(r_max/r_min)/(Δρ ω² t));
    infinite for particles no denser than the medium."""
    drho = (particle_density - medium_density) * 1e3
    if drho <= 0:
        return math.inf
    s_star = math.log(rotor.r_max_mm / rotor.r_min_mm) / (omega(rpm) ** 2 * minutes * 60.0)
    return math.sqrt(18.0 * viscosity_mpa_s * 1e-3 * s_star / drho) * 1e9


class Centrifuge(Step):
    """One spin: ``g`` (× g at r_max) or ``rpm``, for ``minutes``, at ``temperature_c``,
    in ``rotor`` (a name from :data:`ROTORS` or radii); keep the ``pellet`` (resuspended
    in ``resuspend_ml`` of PBS) or the ``supernatant``. ``residual_fraction`` of the
    supernatant stays with the pellet when it is poured off (assumption: 0.01, range
    0.002–0.05)."""

    step: Literal["centrifuge"]
    label: str = ""
    g: float | None = Field(default=None, gt=0)
    rpm: float | None = Field(default=None, gt=0)
    minutes: float = Field(gt=0)
    rotor: str | Rotor = "benchtop swing-out"
    keep: Literal["pellet", "supernatant"]
    resuspend_ml: float | None = Field(default=None, gt=0)
    temperature_c: float = Field(default=4.0, ge=-5, le=40)
    residual_fraction: float = Field(default=0.01, ge=0, lt=1)

    @model_validator(mode="after")
    def _speed(self) -> Centrifuge:
        if (self.g is None) == (self.rpm is None):
            raise ValueError("give exactly one of g (× g at r_max) and rpm")
        if isinstance(self.rotor, str) and self.rotor not in ROTORS:
            raise ValueError(f"unknown rotor {self.rotor!r}; known: {', '.join(ROTORS)}, or "
                             "give {r_min_mm, r_max_mm}")
        if self.keep == "pellet" and self.resuspend_ml is None:
            raise ValueError("keep: pellet needs resuspend_ml (mL of PBS)")
        return self

    @property
    def the_rotor(self) -> Rotor:
        """The rotor (from :data:`ROTORS` if named)."""
        return ROTORS[self.rotor] if isinstance(self.rotor, str) else self.rotor

    @property
    def the_rpm(self) -> float:
        """Speed in rpm (from ``g`` at r_max if given as g)."""
        return self.rpm if self.rpm is not None else rpm_for_g(self.g, self.the_rotor.r_max_mm)

    def apply(self, sample):
        from .samples import BUFFER

        rotor, rpm = self.the_rotor, self.the_rpm
        if rotor.max_rpm is not None and rpm > rotor.max_rpm * 1.0001:
            raise EvnicheError(f"centrifuge step {self.label or ''}: {rpm:.0f} rpm is above "
                               f"the {rotor.name} rotor's top speed {rotor.max_rpm:.0f} rpm")
        medium = sample.medium
        eta = viscosity_at(medium.viscosity.value, medium.viscosity_at_c, self.temperature_c)
        rho_m = medium.density.value
        kept: list[Population] = []
        for pop in sample.populations:
            s = sedimentation_coefficient(CENTERS_NM, pop.density, rho_m, eta)
            f = pelleted_fraction(s, rotor, rpm, self.minutes)
            if self.keep == "pellet":
                frac = f + (1.0 - f) * self.residual_fraction
            else:
                frac = (1.0 - f) * (1.0 - self.residual_fraction)
            kept.append(pop.scaled(frac))
        if self.keep == "pellet":
            out = sample.replaced(kept, self.resuspend_ml, BUFFER)
        else:
            out = sample.replaced(kept, sample.volume_ml * (1.0 - self.residual_fraction))
        result = StepResult(
            step="centrifuge", label=self.label or f"{g_at(rpm, rotor.r_max_mm):,.0f} × g "
            f"{self.minutes:g} min, keep {self.keep}", parameters=self.parameters(),
            kept=kept_fractions(sample.populations, kept), volume_ml=out.volume_ml)
        result.derived = {
            "rpm": (rpm, "rpm"),
            "g at r_max": (g_at(rpm, rotor.r_max_mm), "× g"),
            "g at r_min": (g_at(rpm, rotor.r_min_mm), "× g"),
            "k-factor": (k_factor(rotor, rpm), "h·S"),
            "viscosity": (eta, "mPa·s"),
            "cut-off diameter (exosome density 1.16 g/mL)": (
                cutoff_diameter_nm(1.16, rho_m, eta, rotor, rpm, self.minutes), "nm"),
        }
        result.notes.append(ROTOR_SOURCE if isinstance(self.rotor, str) else
                            "rotor radii as given in the protocol")
        return out, result
