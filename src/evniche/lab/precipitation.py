"""Polymer precipitation (PEG-based kits) as co-precipitation by size.

Crowding polymers push particles out of solution the more the larger they are
(excluded volume). A particle of diameter d is precipitated, and pelleted in the kit's
low-speed spin, with probability

    p(d) = p_max / (1 + (d_50/d)^n)

(assumption: d_50 = 30 nm, range 15–60; n = 2, range 1–4; p_max = 0.9, range 0.6–1),
whatever it is: EVs, lipoproteins and protein aggregates alike. Soluble proteins are
carried down with ``protein_coprecipitation`` of their amount (assumption 0.02, range
0.005–0.1) instead of by size.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from .particles import CENTERS_NM
from .steps import Step, StepResult, kept_fractions


def precipitated_fraction(diameter_nm: np.ndarray | float, d50_nm: float, hill: float,
                          max_fraction: float) -> np.ndarray:
    """Share of particles of ``diameter_nm`` a polymer precipitates."""
    d = np.asarray(diameter_nm, float)
    return max_fraction / (1.0 + (d50_nm / d) ** hill)


class Precipitation(Step):
    """A precipitation kit: polymer curve (``d50_nm``, ``hill``, ``max_fraction``),
    soluble-protein carry-down ``protein_coprecipitation``; the pellet is resuspended in
    ``resuspend_ml`` of PBS."""

    step: Literal["precipitation"]
    label: str = ""
    d50_nm: float = Field(default=30.0, gt=0)
    hill: float = Field(default=2.0, gt=0)
    max_fraction: float = Field(default=0.9, gt=0, le=1)
    protein_coprecipitation: float = Field(default=0.02, ge=0, le=1)
    resuspend_ml: float = Field(gt=0)

    def apply(self, sample):
        from .samples import BUFFER

        curve = precipitated_fraction(CENTERS_NM, self.d50_nm, self.hill, self.max_fraction)
        kept = [p.scaled(self.protein_coprecipitation if p.kind == "protein" else curve)
                for p in sample.populations]
        out = sample.replaced(kept, self.resuspend_ml, BUFFER)
        result = StepResult(
            step="precipitation", label=self.label or "polymer precipitation",
            parameters=self.parameters(), kept=kept_fractions(sample.populations, kept),
            volume_ml=out.volume_ml)
        result.derived = {"precipitated at 100 nm": (float(precipitated_fraction(
            100.0, self.d50_nm, self.hill, self.max_fraction)), "1"),
            "precipitated at 22 nm (LDL)": (float(precipitated_fraction(
                22.0, self.d50_nm, self.hill, self.max_fraction)), "1")}
        return out, result
