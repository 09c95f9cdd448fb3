"""Size-exclusion chromatography (SEC) as physics: size-dependent elution.

A sphere of diameter d enters the pores (diameter d_p) of the resin with the partition
coefficient of a sphere in a cylindrical pore (Ferry/Renkin steric partition)

    K(d) = (1 − d/d_p)²   for d < d_p, else 0,

and elutes at V_e = V_0 + K·V_i (V_0: void volume, V_i: pore volume, mL), spread as a
Gaussian of SD σ = √(σ_0² + V_load²/12) (σ_0: the column's own band spread; a load of
V_load mL adds a rectangular plug). The share of a particle collected between elution
volumes [v_start, v_end] is Φ((v_end − V_e)/σ) − Φ((v_start − V_e)/σ), less a non-specific
loss on the resin. Defaults describe a 10 mL Sepharose CL-2B column as used by Böing et al.
(JEV 2014;3:23430): 0.5 mL fractions, EVs in fractions 9–12 (4.0–6.0 mL).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator
from scipy.special import ndtr

from .particles import CENTERS_NM
from .steps import Step, StepResult, clip01, kept_fractions


def partition_coefficient(diameter_nm: np.ndarray | float, pore_nm: float) -> np.ndarray:
    """Steric partition coefficient K = (1 − d/d_p)² of spheres of ``diameter_nm`` in pores
    of ``pore_nm`` (0 for d ≥ d_p)."""
    x = np.asarray(diameter_nm, float) / pore_nm
    return np.where(x < 1.0, (1.0 - np.minimum(x, 1.0)) ** 2, 0.0)


def elution_volume(diameter_nm: np.ndarray | float, void_ml: float, pore_ml: float,
                   pore_nm: float) -> np.ndarray:
    """Elution volume V_e = V_0 + K·V_i (mL) of spheres of ``diameter_nm``."""
    return void_ml + partition_coefficient(diameter_nm, pore_nm) * pore_ml


def collected_fraction(diameter_nm: np.ndarray | float, void_ml: float, pore_ml: float,
                       pore_nm: float, start_ml: float, end_ml: float,
                       sigma_ml: float) -> np.ndarray:
    """Share of spheres of ``diameter_nm`` eluting between ``start_ml`` and ``end_ml``."""
    ve = elution_volume(diameter_nm, void_ml, pore_ml, pore_nm)
    return ndtr((end_ml - ve) / sigma_ml) - ndtr((start_ml - ve) / sigma_ml)


class SizeExclusion(Step):
    """An SEC column: ``bed_ml`` of resin with ``void_fraction`` (V_0/bed; assumption 0.42,
    range 0.3–0.45) and ``pore_fraction`` (V_i/bed; assumption 0.55, range 0.4–0.6) and
    pores of ``pore_nm`` (assumption: Sepharose CL-2B ≈ 75 nm, range 50–100), band spread
    ``spread_fraction`` × bed (assumption 0.05, range 0.02–0.1), ``loss_fraction`` lost on
    the resin (assumption 0.05, range 0–0.3); the sample (its whole volume) is loaded and
    the eluate between ``collect_ml`` [start, end] (mL after loading) is pooled."""

    step: Literal["size_exclusion"]
    label: str = ""
    bed_ml: float = Field(gt=0)
    collect_ml: tuple[float, float]
    pore_nm: float = Field(default=75.0, gt=0)
    void_fraction: float = Field(default=0.42, gt=0, lt=1)
    pore_fraction: float = Field(default=0.55, gt=0, lt=1)
    spread_fraction: float = Field(default=0.05, gt=0, lt=1)
    loss_fraction: float = Field(default=0.05, ge=0, lt=1)

    @model_validator(mode="after")
    def _check(self) -> SizeExclusion:
        start, end = self.collect_ml
        if not (0 <= start < end):
            raise ValueError("collect_ml must be [start, end] mL with 0 <= start < end")
        if self.void_fraction + self.pore_fraction > 1:
            raise ValueError("void_fraction + pore_fraction must be <= 1")
        return self

    def apply(self, sample):
        from .samples import BUFFER

        v0, vi = self.void_fraction * self.bed_ml, self.pore_fraction * self.bed_ml
        sigma = float(np.sqrt((self.spread_fraction * self.bed_ml) ** 2 +
                              sample.volume_ml ** 2 / 12.0))
        start, end = self.collect_ml
        frac = clip01(collected_fraction(CENTERS_NM, v0, vi, self.pore_nm, start, end, sigma)
                      * (1.0 - self.loss_fraction))
        kept = [p.scaled(frac) for p in sample.populations]
        out = sample.replaced(kept, end - start, BUFFER)
        result = StepResult(
            step="size_exclusion",
            label=self.label or f"SEC {self.bed_ml:g} mL, collect {start:g}–{end:g} mL",
            parameters=self.parameters(), kept=kept_fractions(sample.populations, kept),
            volume_ml=out.volume_ml)
        result.derived = {"void volume": (v0, "mL"), "pore volume": (vi, "mL"),
                          "band SD": (sigma, "mL"),
                          "elution of 8 nm (HDL)": (float(elution_volume(8.0, v0, vi,
                                                                         self.pore_nm)), "mL"),
                          "elution of 100 nm EV": (float(elution_volume(100.0, v0, vi,
                                                                        self.pore_nm)), "mL")}
        return out, result
