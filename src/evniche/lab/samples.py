"""Samples: a body fluid taken from a run (``evniche run … --out DIR``) at a chosen day.

A :class:`Sample` is a volume of fluid (mL) in a :class:`Medium` holding
:class:`~evniche.lab.particles.Population` s: one EV population per pool of the run (its
class, cell of origin, size distribution, density, markers and cargo) and the non-EV
particles of the fluid (lipoproteins, soluble protein, protein aggregates, platelets).

Fluids (:data:`FLUIDS`): ``plasma`` and ``serum`` read the run's blood compartment,
``marrow_plasma`` its marrow compartment (both with plasma lipoproteins and protein),
``medium`` (conditioned, serum-free culture medium) the EVs of the marrow compartment with
no lipoproteins and little protein.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import EvnicheError
from .particles import (
    CENTERS_NM,
    EV_DENSITY,
    EV_DENSITY_SD,
    EV_REFRACTIVE_INDEX,
    PLASMA_PARTICLES,
    PLATELETS,
    TETRASPANIN_COPIES_100NM,
    TSG101_COPIES,
    Number,
    Population,
    ev_protein_ug,
    platelets,
    size_counts,
)


@dataclass(frozen=True)
class Medium:
    """The liquid particles sit in: ``density`` (g/mL), ``viscosity`` (mPa·s at
    ``viscosity_at_c`` °C), ``refractive_index``; each a :class:`Number` with its source."""

    name: str
    density: Number
    viscosity: Number
    refractive_index: Number
    viscosity_at_c: float = 20.0


PLASMA_MEDIUM = Medium(
    "plasma",
    Number(1.025, "g/mL", 1.024, 1.027, "assumption: plasma density 1.024–1.027 g/mL"),
    Number(1.23, "mPa·s", 1.10, 1.30,
           "research: ev_parameters.md D 'Serum viscosity 1.23 mPa·s, Newtonian' (V-partial; "
           "read as 37 °C); plasma 1.10–1.30 mPa·s at 37 °C (U)"),
    Number(1.345, "1", 1.340, 1.350, "assumption: plasma RI"), viscosity_at_c=37.0)
BUFFER = Medium(
    "PBS",
    Number(1.005, "g/mL", 1.004, 1.007, "assumption: phosphate-buffered saline at 20 °C"),
    Number(1.00, "mPa·s", 0.95, 1.05, "assumption: water-like, 20 °C"),
    Number(1.334, "1", 1.333, 1.335, "assumption: water-like"))
CULTURE_MEDIUM = Medium(
    "serum-free medium",
    Number(1.007, "g/mL", 1.005, 1.010, "assumption: culture medium at 20 °C"),
    Number(0.95, "mPa·s", 0.93, 1.00, "assumption: culture medium at 20 °C"),
    Number(1.336, "1", 1.334, 1.338, "assumption: culture medium"))


@dataclass(frozen=True)
class Fluid:
    """How a fluid is made from a run: which compartment its EVs come from, the factor on
    plasma lipoproteins and soluble protein, its platelets and its medium."""

    name: str
    compartment: str
    lipoproteins: float
    protein: float
    platelets: str | None
    medium: Medium
    note: str


FLUIDS: dict[str, Fluid] = {
    "plasma": Fluid("plasma", "blood", 1.0, 1.0, "ppp", PLASMA_MEDIUM,
                    "citrated platelet-poor plasma (platelets: 'ppp'; see --platelets)"),
    "serum": Fluid("serum", "blood", 1.0, 0.95, None, PLASMA_MEDIUM,
                   "serum: platelets trapped in the clot; protein −5 % (fibrinogen, "
                   "assumption: 2–4 g/L of 70 g/L); EVs released by platelets during "
                   "clotting are not modelled"),
    "marrow_plasma": Fluid("marrow_plasma", "marrow", 1.0, 1.0, "ppp", PLASMA_MEDIUM,
                           "bone-marrow plasma: EVs of the run's marrow compartment; "
                           "lipoproteins and protein as plasma (assumption: range 0.5–1×)"),
    "medium": Fluid("medium", "marrow", 0.0, 0.001, None, CULTURE_MEDIUM,
                    "conditioned serum-free medium: the EV mix the marrow cells secrete, "
                    "no lipoproteins, protein 0.07 mg/mL (assumption: 0.1 % of plasma)"),
}

#: surface/luminal proteins by vesicle class (copies per EV at 100 nm; tetraspanins and
#: TSG101 from :mod:`~evniche.lab.particles`), added to the model's own pool markers
CLASS_MARKERS: dict[str, dict[str, float]] = {
    "exosome": {"CD63": TETRASPANIN_COPIES_100NM.value, "CD9": TETRASPANIN_COPIES_100NM.value,
                "CD81": TETRASPANIN_COPIES_100NM.value, "TSG101": TSG101_COPIES.value},
    "microvesicle": {"CD9": TETRASPANIN_COPIES_100NM.value / 2,
                     "CD81": TETRASPANIN_COPIES_100NM.value / 2},
    "apoptotic_body": {"histone": 1e3},
    "oncosome": {"CD9": TETRASPANIN_COPIES_100NM.value / 2},
}
CLASS_MARKERS_SOURCE = ("assumption: MISEV-style class markers (exosomes CD63/CD9/CD81/"
                        "TSG101; microvesicles tetraspanins at half the density; apoptotic "
                        "bodies histones); DESIGN.md lists exosome CD63/CD9")
#: copies of a model-listed marker (PD-L1, FasL …) per EV at 100 nm
MODEL_MARKER_COPIES = Number(20.0, "copies/EV", 1.0, 200.0,
                             "assumption: order of magnitude for a surface ligand")


@dataclass
class Sample:
    """A volume of fluid with its particles.

    ``volume_ml`` (mL); ``medium``; ``populations``; ``fluid`` and provenance (``run``:
    the run folder, ``day``: the day it was drawn, ``model``/``digest`` of the run);
    ``notes``: what was assumed in making it.
    """

    fluid: str
    volume_ml: float
    medium: Medium
    populations: list[Population]
    day: float = float("nan")
    run: str = ""
    model: str = ""
    digest: str = ""
    notes: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Population]:
        """The populations of one kind (``ev``, ``lipoprotein``, ``protein`` …)."""
        return [p for p in self.populations if p.kind == kind]

    def count(self, kind: str | None = None) -> float:
        """Particles in the whole sample (of ``kind``, or all)."""
        return float(sum(p.total for p in self.populations if kind in (None, p.kind)))

    @property
    def protein_ug(self) -> float:
        """Total protein in the sample (µg)."""
        return float(sum(p.protein_total_ug for p in self.populations))

    def replaced(self, populations: list[Population], volume_ml: float,
                 medium: Medium | None = None) -> Sample:
        """The same sample with new ``populations``, volume (mL) and medium."""
        return replace(self, populations=populations, volume_ml=float(volume_ml),
                       medium=medium or self.medium)


def parse_spec(text: str) -> tuple[Path, float | None]:
    """``DIR`` or ``DIR@DAY`` (DAY in days) from the command line."""
    if "@" in text:
        head, _, tail = text.rpartition("@")
        try:
            day = float(tail)
        except ValueError:
            raise EvnicheError(f"--sample {text}: expected DIR or DIR@DAY with DAY a number "
                               f"of days, got day {tail!r}") from None
        if not math.isfinite(day) or day < 0:
            raise EvnicheError(f"--sample {text}: DAY must be a finite number >= 0 days")
        return Path(head), day
    return Path(text), None


def ev_populations(ds, compartment: str, day: float | None, volume_ml: float
                   ) -> tuple[list[Population], float]:
    """One EV population per pool of the Trajectory ``ds`` in ``compartment`` at ``day``
    (days; the last sample if None), for ``volume_ml`` mL; and the day read."""
    times = np.asarray(ds["time"].values, float)
    if day is None:
        index = len(times) - 1
    else:
        if day > times[-1] + 1e-9 or day < times[0] - 1e-9:
            raise EvnicheError(f"--sample: day {day:g} is outside the run "
                               f"({times[0]:g}–{times[-1]:g} days)")
        index = int(np.argmin(np.abs(times - day)))
    conc = ds["ev_concentration"].sel(compartment=compartment).isel(time=index)
    leukemic = {n for n in str(ds.attrs.get("leukemic", "")).split(";") if n}
    cargo_names = [str(c) for c in ds["cargo"].values] if "cargo" in ds.coords else []
    pops = []
    for i, pool in enumerate(ds["pool"].values):
        cls = str(ds["pool_class"].values[i])
        src = str(ds["pool_source"].values[i])
        c = ds.sel(vesicle_class=cls)
        per_ml = max(float(conc.values[i]), 0.0)
        counts = size_counts(per_ml * volume_ml, float(c["class_median_um"]) * 1e3,
                             float(c["class_gsd"]), float(c["class_min_um"]) * 1e3,
                             float(c["class_max_um"]) * 1e3)
        dens = EV_DENSITY.get(cls, EV_DENSITY["microvesicle"])
        markers = dict(CLASS_MARKERS.get(cls, {}))
        for m in str(ds["pool_markers"].values[i]).split(";"):
            if m:
                markers[m] = MODEL_MARKER_COPIES.value
        if "pool_ps" in ds.coords and bool(ds["pool_ps"].values[i]):
            markers["phosphatidylserine"] = MODEL_MARKER_COPIES.value
        markers[f"origin:{src}"] = MODEL_MARKER_COPIES.value
        cargo = {}
        if "pool_cargo" in ds:
            row = ds["pool_cargo"].isel(pool=i).values
            cargo = {name: float(v) for name, v in zip(cargo_names, row, strict=True)
                     if float(v) > 0}
        pops.append(Population(
            name=str(pool), kind="ev", counts=counts, density=dens.value,
            density_sd=EV_DENSITY_SD, refractive_index=EV_REFRACTIVE_INDEX.value,
            protein_ug=ev_protein_ug(CENTERS_NM), markers=markers, cargo=cargo,
            ev_class=cls, source=src, leukemic=src in leukemic))
    return pops, float(times[index])


def fluid_particles(fluid: Fluid, volume_ml: float, platelet_prep: str | None = None,
                    fasting: bool = True) -> list[Population]:
    """The non-EV particles of ``fluid`` in ``volume_ml`` mL: lipoproteins (no
    chylomicrons when ``fasting``), soluble protein, aggregates, platelets (``platelet_prep``
    ``prp``/``ppp``/``pfp``, default the fluid's own)."""
    pops = []
    for ptype in PLASMA_PARTICLES:
        if ptype.kind == "lipoprotein":
            factor = fluid.lipoproteins * (0.0 if fasting and ptype.name == "chylomicron"
                                           else 1.0)
        else:
            factor = fluid.protein
        if factor > 0:
            pops.append(ptype.population(volume_ml, factor))
    prep = platelet_prep if platelet_prep is not None else fluid.platelets
    if prep is not None:
        if prep not in PLATELETS:
            raise EvnicheError(f"--platelets: expected one of {', '.join(PLATELETS)}, got "
                               f"{prep!r}")
        if fluid.platelets is None:
            raise EvnicheError(f"--platelets: a {fluid.name} sample holds no platelets")
        if PLATELETS[prep].value > 0:
            pops.append(platelets(volume_ml, PLATELETS[prep].value))
    return pops


def from_run(folder: str | Path, day: float | None = None, fluid: str = "plasma",
             volume_ml: float = 1.0, platelet_prep: str | None = None,
             fasting: bool = True) -> Sample:
    """A sample of ``volume_ml`` mL of ``fluid`` drawn at ``day`` from the run in
    ``folder`` (``evniche run MODEL --out folder``)."""
    from ..store.runs import read_run

    if fluid not in FLUIDS:
        raise EvnicheError(f"--fluid: expected one of {', '.join(FLUIDS)}, got {fluid!r}")
    if not (math.isfinite(volume_ml) and volume_ml > 0):
        raise EvnicheError(f"--volume: expected a volume > 0 mL, got {volume_ml}")
    path = Path(folder)
    if not path.is_dir():
        raise EvnicheError(f"--sample {folder}: no such run folder (make one with "
                           "`evniche run aml --out DIR`)")
    ds, info = read_run(path)
    spec = FLUIDS[fluid]
    evs, day_read = ev_populations(ds, spec.compartment, day, volume_ml)
    return Sample(fluid=fluid, volume_ml=float(volume_ml), medium=spec.medium,
                  populations=evs + fluid_particles(spec, volume_ml, platelet_prep, fasting),
                  day=day_read, run=str(path), model=str(ds.attrs.get("model", "")),
                  digest=str(ds.attrs.get("digest", "")),
                  notes=[spec.note, CLASS_MARKERS_SOURCE])


def synthetic(ev_per_ml: float = 1e10, fluid: str = "plasma", volume_ml: float = 1.0,
              platelet_prep: str | None = None, fasting: bool = True,
              median_nm: float = 100.0, gsd: float = 1.6) -> Sample:
    """A sample without a run: one exosome-like EV population of ``ev_per_ml`` (EV/mL;
    default ≈10¹⁰ EV/mL, research: ev_parameters.md PAR 'healthy plasma EV concentration',
    Johnsen 2019) of log-normal size (``median_nm``, ``gsd``, 30–1000 nm), with the
    fluid's non-EV particles. For the literature findings and tests."""
    spec = FLUIDS[fluid]
    dens = EV_DENSITY["exosome"]
    ev = Population(
        name="EV", kind="ev",
        counts=size_counts(ev_per_ml * volume_ml, median_nm, gsd, 30.0, 1000.0),
        density=dens.value, density_sd=EV_DENSITY_SD,
        refractive_index=EV_REFRACTIVE_INDEX.value, protein_ug=ev_protein_ug(CENTERS_NM),
        markers=dict(CLASS_MARKERS["exosome"]), ev_class="exosome", source="healthy")
    return Sample(fluid=fluid, volume_ml=float(volume_ml), medium=spec.medium,
                  populations=[ev] + fluid_particles(spec, volume_ml, platelet_prep, fasting),
                  notes=[spec.note, "synthetic EV population (no run)"])
