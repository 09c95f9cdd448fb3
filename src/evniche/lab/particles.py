"""Particles of a sample: EVs from a run and the non-EV particles of the fluid, on one
size grid.

Every population is a set of counts on the shared diameter grid :data:`EDGES_NM` (nm,
log-spaced), so that each isolation step acts on it as a recovery per size bin. Units:
diameters in nm, densities in g/mL, counts as particle numbers in the whole sample
(not per mL), protein in µg per particle.

The non-EV particles of plasma (:data:`PLASMA_PARTICLES`) carry their numbers with a unit,
a plausible range and a source (docs/sources/lab.md quotes each one).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from ..readouts.liquid_biopsy import truncated_lognormal_mass

#: the diameter grid, bin edges in nm: 2 nm to 20 µm, 50 bins per decade
EDGES_NM = np.logspace(np.log10(2.0), np.log10(20000.0), 201)
#: bin centres (geometric means of the edges), nm
CENTERS_NM = np.sqrt(EDGES_NM[:-1] * EDGES_NM[1:])
#: Avogadro's number (1/mol)
AVOGADRO = 6.02214076e23

Kind = Literal["ev", "lipoprotein", "protein", "aggregate", "platelet"]
KINDS: tuple[str, ...] = ("ev", "lipoprotein", "protein", "aggregate", "platelet")


@dataclass(frozen=True)
class Number:
    """A cited number: ``value`` in ``unit``, plausible ``low``–``high``, and its source
    (DOI/URL, ``research: …``, ``derived: …`` or ``assumption: …``)."""

    value: float
    unit: str
    low: float
    high: float
    source: str


@dataclass
class Population:
    """One kind of particle in a sample.

    ``counts``: particles in the whole sample per grid bin (:data:`CENTERS_NM`);
    ``density``: buoyant density (g/mL), mean and SD ``density_sd`` (g/mL);
    ``refractive_index``: of the particle (dimensionless); ``markers``: surface or luminal
    proteins it carries (``CD63``, ``ApoB`` …) with copies per particle at 100 nm
    (``marker_copies``; tetraspanins scale with surface area); ``protein_ug``: protein per
    particle per bin (µg); ``cargo``: copies of each cargo per particle; ``source`` and
    ``ev_class``: the secreting cell type and vesicle class of an EV population
    (``leukemic``: secreted by a leukemic cell type).
    """

    name: str
    kind: Kind
    counts: np.ndarray
    density: float
    density_sd: float
    refractive_index: float
    protein_ug: np.ndarray
    markers: dict[str, float] = field(default_factory=dict)
    cargo: dict[str, float] = field(default_factory=dict)
    ev_class: str | None = None
    source: str | None = None
    leukemic: bool = False

    @property
    def total(self) -> float:
        """Particles in the whole sample."""
        return float(self.counts.sum())

    @property
    def protein_total_ug(self) -> float:
        """Protein of this population in the whole sample (µg)."""
        return float((self.counts * self.protein_ug).sum())

    def scaled(self, fraction: np.ndarray | float) -> Population:
        """The same population with ``counts`` × ``fraction`` (per bin or scalar, 0–1)."""
        return replace(self, counts=self.counts * np.clip(fraction, 0.0, 1.0))


def size_counts(total: float, median_nm: float, gsd: float, low_nm: float,
                high_nm: float) -> np.ndarray:
    """``total`` particles spread over the grid as a log-normal (``median_nm``, geometric
    SD ``gsd``) truncated to [``low_nm``, ``high_nm``]; counts per bin."""
    return float(total) * truncated_lognormal_mass(EDGES_NM, median_nm, gsd, low_nm, high_nm)


def sphere_mass_ug(diameter_nm: np.ndarray | float, density: float) -> np.ndarray:
    """Mass (µg) of a sphere of ``diameter_nm`` (nm) and ``density`` (g/mL)."""
    d_cm = np.asarray(diameter_nm, float) * 1e-7
    return np.pi / 6.0 * d_cm ** 3 * density * 1e6


# ------------------------------------------------------------------ EV properties by class

#: buoyant density of EVs by class (g/mL); unknown classes use the microvesicle values
EV_DENSITY: dict[str, Number] = {
    "exosome": Number(1.16, "g/mL", 1.13, 1.19,
                      "research: ev_parameters.md D 'Exosome buoyant density' 1.13–1.19 g/mL "
                      "(sucrose), Biology (MDPI) 2022;11(6):804"),
    "microvesicle": Number(1.10, "g/mL", 1.04, 1.16,
                           "assumption: plasma-membrane vesicles are lighter than exosomes; "
                           "no measured value found"),
    "apoptotic_body": Number(1.20, "g/mL", 1.16, 1.28,
                             "assumption: DNA/histone-laden vesicles are denser than "
                             "exosomes; no measured value found"),
    "oncosome": Number(1.12, "g/mL", 1.08, 1.16,
                       "assumption: large tumour vesicles; no measured value found"),
}
#: SD of EV density within a class (g/mL): the cited range read as ±2 SD
EV_DENSITY_SD = 0.015
#: refractive index of EVs (modal blood EV value by NTA/Mie)
EV_REFRACTIVE_INDEX = Number(
    1.398, "1", 1.364, 1.414,
    "Gardiner C et al. JEV 2013 (NTA+Mie): modal RI blood EV 1.398; small placental EV "
    "1.364–1.375, large 1.398–1.414")
#: EVs per µg protein at 100 nm (protein per EV scales with surface area, d²)
EV_PER_UG_PROTEIN = Number(
    1.5e11, "EV/µg", 1e11, 2e11,
    "research: ev_parameters.md D '1 µg protein ≈ 1–2 × 10^11 EVs' (weak source, U)")
#: tetraspanin (CD9/CD63/CD81) copies per EV of 100 nm diameter (∝ surface area)
TETRASPANIN_COPIES_100NM = Number(
    100.0, "copies/EV", 10.0, 1000.0,
    "assumption: order of magnitude; single-EV counts vary by cell type")
#: TSG101 copies per exosome (luminal, ESCRT)
TSG101_COPIES = Number(10.0, "copies/EV", 1.0, 100.0,
                       "assumption: order of magnitude for a luminal ESCRT protein")


def ev_protein_ug(diameter_nm: np.ndarray) -> np.ndarray:
    """Protein per EV (µg) on the grid: 1/:data:`EV_PER_UG_PROTEIN` at 100 nm, ∝ d²."""
    return (np.asarray(diameter_nm, float) / 100.0) ** 2 / EV_PER_UG_PROTEIN.value


# --------------------------------------------------------------- non-EV particles of plasma


@dataclass(frozen=True)
class ParticleType:
    """A non-EV particle of a body fluid: concentration, size (log-normal: median, gsd,
    min, max in nm), density (g/mL), refractive index, protein mass fraction and markers
    (copies per particle), each as a :class:`Number` or with its source."""

    name: str
    kind: Kind
    per_ml: Number
    median_nm: float
    gsd: float
    min_nm: float
    max_nm: float
    size_source: str
    density: Number
    refractive_index: Number
    protein_fraction: Number
    markers: dict[str, float]
    markers_source: str
    #: mass per particle (kDa) when known as a molecule (soluble protein); else the
    #: sphere's mass × ``protein_fraction``
    mass_kda: float | None = None

    def population(self, volume_ml: float, factor: float = 1.0) -> Population:
        """This particle type in ``volume_ml`` (mL) of fluid, its concentration × ``factor``."""
        counts = size_counts(self.per_ml.value * factor * volume_ml, self.median_nm,
                             self.gsd, self.min_nm, self.max_nm)
        if self.mass_kda is not None:
            protein = np.full(CENTERS_NM.shape, self.mass_kda * 1e3 / AVOGADRO * 1e6)
        else:
            protein = sphere_mass_ug(CENTERS_NM, self.density.value) * \
                self.protein_fraction.value
        sd = (self.density.high - self.density.low) / 4.0
        return Population(name=self.name, kind=self.kind, counts=counts,
                          density=self.density.value, density_sd=sd,
                          refractive_index=self.refractive_index.value,
                          protein_ug=protein, markers=dict(self.markers))


_LIPID_RI = Number(1.47, "1", 1.45, 1.50,
                   "assumption: lipid-rich particle, RI of triglyceride/cholesterol ester "
                   "oils ≈1.45–1.50")
_LIPO_TABLE = ("Adv Drug Deliv Rev 2020;159:377 Table 1 (PMC7747060): chylomicrons "
               "<0.950 g/cm3, 80–1000 nm; VLDL 0.930–1.006, 30–80 nm; LDL 1.019–1.063, "
               "~20 nm; HDL 1.063–1.210, 5–10 nm")
_COMPOSITION = ("pathologyboardreview.com clinical chemistry: protein 1–2 % of chylomicrons, "
                "6–10 % of VLDL, 20–25 % of LDL, 35–55 % of HDL")
_APOB = ("eguideline.guidelinecentral.com lipid guideline: 'The apoB containing lipoproteins "
         "each contain a single molecule of apoB'")

#: albumin-like soluble protein: Stokes diameter (nm) and effective density (g/mL)
SOLUBLE_PROTEIN_DIAMETER_NM = Number(
    7.2, "nm", 6.5, 8.0, "assumption: Stokes diameter of serum albumin ≈7 nm")
SOLUBLE_PROTEIN_DENSITY = Number(
    1.16, "g/mL", 1.13, 1.20,
    "derived: the hydrated-sphere density that gives albumin's sedimentation coefficient "
    "(assumption: 4.6 S, range 4.3–4.8 S) with Stokes' law at 7.2 nm")
SOLUBLE_PROTEIN_KDA = 66.5  # albumin, kDa (assumption: all soluble protein albumin-sized)

PLASMA_PARTICLES: tuple[ParticleType, ...] = (
    ParticleType(
        "HDL", "lipoprotein",
        Number(30e-6 * AVOGADRO / 1000.0, "particles/mL", 21.1e-6 * AVOGADRO / 1000.0,
               43.4e-6 * AVOGADRO / 1000.0,
               "derived: HDL-P 30 µmol/L (Mayo Clinic Labs NMR lipoprotein profile, HDL "
               "particles male >30 µmol/L; range 21.1–43.4 µmol/L, optimaldx HDL-P "
               "standard range) × Avogadro"),
        8.0, 1.15, 5.0, 12.0, _LIPO_TABLE,
        Number(1.13, "g/mL", 1.063, 1.21, _LIPO_TABLE), _LIPID_RI,
        Number(0.45, "1", 0.35, 0.55, _COMPOSITION),
        {"ApoA1": 3.0}, "assumption: 2–5 ApoA1 per HDL particle"),
    ParticleType(
        "LDL", "lipoprotein",
        Number(1000e-9 * AVOGADRO / 1000.0, "particles/mL", 700e-9 * AVOGADRO / 1000.0,
               2000e-9 * AVOGADRO / 1000.0,
               "derived: LDL-P 1000 nmol/L (Mayo Clinic Labs NMR: desirable <1000, very "
               "high ≥2000 nmol/L) × Avogadro"),
        22.0, 1.08, 18.0, 27.0,
        "pathologyboardreview.com: LDL 19–25 nm, density 1.019–1.063 g/mL",
        Number(1.04, "g/mL", 1.019, 1.063, _LIPO_TABLE), _LIPID_RI,
        Number(0.22, "1", 0.20, 0.25, _COMPOSITION), {"ApoB": 1.0}, _APOB),
    ParticleType(
        "VLDL", "lipoprotein",
        Number(50e-9 * AVOGADRO / 1000.0, "particles/mL", 20e-9 * AVOGADRO / 1000.0,
               150e-9 * AVOGADRO / 1000.0,
               "assumption: total VLDL-P ≈50 nmol/L (20–150) in fasting adults; not "
               "verified against a cited reference interval"),
        45.0, 1.3, 30.0, 80.0, _LIPO_TABLE,
        Number(0.98, "g/mL", 0.95, 1.006,
               "pathologyboardreview.com: VLDL density 0.95–1.006 g/mL, 30–80 nm"),
        _LIPID_RI, Number(0.08, "1", 0.06, 0.10, _COMPOSITION), {"ApoB": 1.0}, _APOB),
    ParticleType(
        "chylomicron", "lipoprotein",
        Number(1e10, "particles/mL", 1e9, 1e12,
               "assumption: postprandial only; 'After a 12-hour fast, chylomicrons are "
               "absent from the plasma' (pathologyboardreview.com), so 0 when fasting"),
        150.0, 1.8, 80.0, 1000.0, _LIPO_TABLE,
        Number(0.93, "g/mL", 0.90, 0.95, _LIPO_TABLE), _LIPID_RI,
        Number(0.015, "1", 0.01, 0.02, _COMPOSITION), {"ApoB": 1.0}, _APOB),
    ParticleType(
        "soluble protein", "protein",
        Number(70e-3 / (SOLUBLE_PROTEIN_KDA * 1e3) * AVOGADRO, "particles/mL",
               62e-3 / (SOLUBLE_PROTEIN_KDA * 1e3) * AVOGADRO,
               80e-3 / (SOLUBLE_PROTEIN_KDA * 1e3) * AVOGADRO,
               "derived: total protein 70 g/L (RCPA manual, adult 62–80 g/L) as "
               "albumin-sized molecules of 66.5 kDa"),
        7.2, 1.0, 6.0, 9.0, SOLUBLE_PROTEIN_DIAMETER_NM.source,
        SOLUBLE_PROTEIN_DENSITY,
        Number(1.45, "1", 1.43, 1.47, "assumption: hydrated protein RI"),
        Number(1.0, "1", 1.0, 1.0, "by definition"), {"albumin": 1.0},
        "assumption: every soluble protein molecule counts as albumin (albumin is 55–65 % "
        "of plasma protein, unitslab.com/Tietz)", mass_kda=SOLUBLE_PROTEIN_KDA),
    ParticleType(
        "protein aggregate", "aggregate",
        Number(1e9, "particles/mL", 1e8, 1e11,
               "assumption: protein aggregates/immune complexes of EV size; no count found"),
        60.0, 2.0, 20.0, 1000.0, "assumption: 20–1000 nm, median 60 nm",
        Number(1.25, "g/mL", 1.20, 1.35, "assumption: dense protein (1.35 g/mL) with water"),
        Number(1.45, "1", 1.40, 1.50, "assumption: protein RI"),
        Number(0.3, "1", 0.1, 0.5, "assumption: protein share of an aggregate's mass"),
        {"albumin": 10.0}, "assumption: aggregates hold plasma proteins"),
)

#: platelets in citrated plasma by preparation (platelets/mL)
PLATELETS: dict[str, Number] = {
    "prp": Number(3e8, "platelets/mL", 1.5e8, 4.5e8,
                  "assumption: platelet-rich plasma keeps about the blood count, reference "
                  "150–450 × 10^9/L"),
    "ppp": Number(1e6, "platelets/mL", 0.0, 5e6,
                  "scite.ai abstract (Raditya et al.): PPP by 1,500 g × 15 min twice, median "
                  "1 × 10^3/µL (0–3); 3,000 g × 15 min 1 × 10^3/µL (0–5)"),
    "pfp": Number(0.0, "platelets/mL", 0.0, 1e5,
                  "assumption: platelet-free plasma after an extra high-speed spin"),
}
PLATELET = dict(
    median_nm=2500.0, gsd=1.15, min_nm=1500.0, max_nm=4000.0,
    size_source="assumption: mean platelet volume 7–11 fL ≈ sphere of 2.4–2.8 µm",
    density=Number(1.06, "g/mL", 1.04, 1.08, "assumption: platelet density 1.04–1.08 g/mL"),
    refractive_index=Number(1.39, "1", 1.37, 1.40, "assumption: cell-like RI"),
    protein_fraction=Number(0.15, "1", 0.1, 0.2, "assumption: protein share of cell mass"),
)


def platelets(volume_ml: float, per_ml: float) -> Population:
    """Platelets at ``per_ml`` (platelets/mL) in ``volume_ml`` (mL); they carry CD41."""
    p = PLATELET
    counts = size_counts(per_ml * volume_ml, p["median_nm"], p["gsd"], p["min_nm"],
                         p["max_nm"])
    dens = p["density"]
    return Population(
        name="platelets", kind="platelet", counts=counts, density=dens.value,
        density_sd=(dens.high - dens.low) / 4.0, refractive_index=p["refractive_index"].value,
        protein_ug=sphere_mass_ug(CENTERS_NM, dens.value) * p["protein_fraction"].value,
        markers={"CD41": 5e4, "CD63": 1e3, "CD9": 1e4})
