"""Ultrafiltration and syringe filtration as physics: a membrane's size cut-off.

A membrane retains a sphere of diameter d with the sieving curve

    R(d) = 1 / (1 + (d_c/d)^n)

(d_c: the cut-off diameter, nm, where half is retained; n: sharpness; assumption: a
log-logistic curve, n = 4, range 2–8). The retentate keeps R(d) of each particle less
an adsorption loss on the membrane; the filtrate gets 1 − R(d). A 100 kDa membrane has a
cut-off near 10 nm, a 0.22 µm filter 220 nm (assumption: nominal ratings read as d_c).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from .particles import CENTERS_NM
from .steps import Step, StepResult, kept_fractions


def retention(diameter_nm: np.ndarray | float, cutoff_nm: float, sharpness: float
              ) -> np.ndarray:
    """Fraction of spheres of ``diameter_nm`` a membrane of ``cutoff_nm`` retains."""
    d = np.asarray(diameter_nm, float)
    return 1.0 / (1.0 + (cutoff_nm / d) ** sharpness)


class Filtration(Step):
    """A membrane of ``cutoff_nm`` (nm) and ``sharpness``; keep the ``retentate``
    (concentrated to ``final_ml``, losing ``loss_fraction`` on the membrane; assumption
    0.1, range 0–0.6) or the ``filtrate``."""

    step: Literal["filtration"]
    label: str = ""
    cutoff_nm: float = Field(gt=0)
    sharpness: float = Field(default=4.0, gt=0)
    keep: Literal["retentate", "filtrate"]
    final_ml: float | None = Field(default=None, gt=0)
    loss_fraction: float = Field(default=0.1, ge=0, lt=1)

    @model_validator(mode="after")
    def _check(self) -> Filtration:
        if self.keep == "retentate" and self.final_ml is None:
            raise ValueError("keep: retentate needs final_ml (mL)")
        return self

    def apply(self, sample):
        r = retention(CENTERS_NM, self.cutoff_nm, self.sharpness)
        if self.keep == "retentate":
            frac = r * (1.0 - self.loss_fraction)
            volume = min(self.final_ml, sample.volume_ml)
        else:
            frac = 1.0 - r
            volume = sample.volume_ml
        kept = [p.scaled(frac) for p in sample.populations]
        out = sample.replaced(kept, volume)
        result = StepResult(
            step="filtration",
            label=self.label or f"filtration {self.cutoff_nm:g} nm, keep {self.keep}",
            parameters=self.parameters(), kept=kept_fractions(sample.populations, kept),
            volume_ml=out.volume_ml)
        result.derived = {"retention at 100 nm": (float(retention(100.0, self.cutoff_nm,
                                                                  self.sharpness)), "1"),
                          "retention at 8 nm": (float(retention(8.0, self.cutoff_nm,
                                                                self.sharpness)), "1")}
        return out, result
