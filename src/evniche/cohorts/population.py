"""The population a virtual cohort is drawn from: per subject, parameter values of the model
and the disease stage at which the sample is taken.

A :class:`Variation` says how one model parameter differs between people: its law (uniform,
log-uniform or normal truncated to the parameter's plausible range), which arm it applies
to (patients, controls or both) and its source. :data:`DEFAULT` lists the variations the
presets support (only those whose parameter the model has are used). A calibration
posterior (``evniche calibrate``, :mod:`evniche.experiments.posterior`) replaces the draws of
the parameters it holds: its particles are resampled by weight, the other variations drawn
as listed.

Sex enters through the one parameter of the presets that depends on it, the plasma volume;
no parameter of the presets depends on age, so no age is drawn (a model that adds one adds
its variation here).

Disease stage at sampling: a patient's sample is taken on the day marrow blasts first reach
``stage_blasts`` % (drawn per patient), so patients are sampled at different burdens.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import EvnicheError

ARMS = ("patient", "control")


@dataclass(frozen=True)
class Variation:
    """How ``parameter`` varies between subjects of ``arms``: ``law`` ``uniform`` or
    ``loguniform`` on [``low``, ``high``], ``normal`` (``mean``, ``sd``) truncated to
    [``low``, ``high``], or ``sex`` (``low`` for women, ``high`` for men, each with
    probability one half); values in the unit the model file writes the parameter in."""

    parameter: str
    law: str
    low: float
    high: float
    source: str
    arms: tuple[str, ...] = ARMS
    mean: float = math.nan
    sd: float = math.nan

    def draw(self, rng: np.random.Generator) -> float:
        """One value (the model file's unit)."""
        if self.law == "uniform":
            return float(rng.uniform(self.low, self.high))
        if self.law == "loguniform":
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        if self.law == "normal":
            for _ in range(1000):
                x = rng.normal(self.mean, self.sd)
                if self.low <= x <= self.high:
                    return float(x)
            raise EvnicheError(f"variation of {self.parameter}: the normal law almost never "
                               f"falls in [{self.low}, {self.high}]")
        if self.law == "sex":
            return float(self.low if rng.random() < 0.5 else self.high)
        raise EvnicheError(f"variation of {self.parameter}: unknown law '{self.law}'; expected "
                           "uniform, loguniform, normal or sex")


#: the blast % at which a patient's sample is taken (the disease stage at sampling)
STAGE = Variation(
    "stage_blasts", "uniform", 20.0, 80.0,
    "assumption: marrow blasts at presentation, from the WHO/ELN diagnostic threshold of "
    "20 % (evniche.readouts.clinical.DIAGNOSIS_BLASTS) to 80 %; patients present at any "
    "burden above the threshold", arms=("patient",))

#: the variations the presets support; each applies only where the model has the parameter
DEFAULT: tuple[Variation, ...] = (
    Variation("plasma_ev_production", "normal", 1.1e12, 1.9e12,
              "research: ev_parameters.md A (Auber & Svenningsen 2022: whole-body plasma EV "
              "production (1.5 ± 0.4) × 10^12 EVs/min); the ± read as the spread between "
              "people (assumption), truncated to the preset's range", mean=1.5e12, sd=0.4e12),
    Variation("ev_blood_half_life", "loguniform", 2.0, 20.0,
              "assumption: the preset's plausible range of the plasma EV half-life (min; "
              "research C, 2–20 min) read as the spread between people"),
    Variation("plasma_volume", "sex", 2600.0, 3000.0,
              "assumption: plasma volume about 40 mL/kg, women (2600 mL) smaller than men "
              "(3000 mL), both inside the preset's range [2500, 3500] mL; sex drawn 1:1"),
    Variation("lsc_self_renewal", "uniform", 0.8, 0.95,
              "assumption: the aml preset's plausible range (LSCs out-renew HSCs)",
              arms=("patient",)),
    Variation("blast_doubling_at_relapse", "uniform", 11.0, 14.0,
              "doi:10.1182/blood-2009-04-212530 (Ommen 2010, O11): the medians of the "
              "leukemic clone's doubling at molecular relapse by subtype (NPM1c 11, PML-RARA "
              "12, RUNX1-RUNX1T1 14 days) read as the spread between patients (assumption; "
              "the slow CBFB-MYH11 36 days is left out, as in the preset); the aml preset "
              "derives blast self-renewal from it",
              arms=("patient",)),
    Variation("leukemic_secretion_fold", "uniform", 2.0, 10.0,
              "research: ev_parameters.md A (cancer vs normal EV secretion usually quoted "
              "2–10×)", arms=("patient",)),
    Variation("mirna_enrichment", "loguniform", 2.0, 50.0,
              "assumption: the aml preset's plausible range of miRNA enrichment in leukemic "
              "exosomes", arms=("patient",)),
    Variation("resistant_share", "loguniform", 1.1e-5, 1.1e-1,
              "calibrated: the aml preset's between-patient distribution of the "
              "chemoresistant share of the founder cells, log-uniform over 4 decades placed "
              "on the CR rate after 7+3 of Ohtake 2011 (O3; aml.yaml resistant_share, "
              "docs/sources/clinical-course.md item 20)", arms=("patient",)),
)


def applicable(variations: Sequence[Variation], parameters: Mapping[str, object],
               arm: str) -> list[Variation]:
    """The variations of ``arm`` whose parameter the model has (``parameters``: its table)."""
    return [v for v in variations if arm in v.arms and v.parameter in parameters]


def draw(variations: Sequence[Variation], arm: str, rng: np.random.Generator,
         posterior: Mapping[str, float] | None = None) -> dict[str, float]:
    """One subject's parameter values (name → value in the file's unit): ``posterior`` (one
    resampled particle, name → value) first, then each variation of ``arm`` not in it.
    Draws happen in a fixed order, so the same ``rng`` state gives the same subject."""
    values = dict(posterior or {})
    for v in variations:
        x = v.draw(rng)  # drawn even when the posterior sets it: the stream stays aligned
        if arm in v.arms and v.parameter not in values:
            values[v.parameter] = x
    return values
