"""Assay models: what a laboratory reports for a plasma sample of a simulated subject, with
the assay's detection limits and noise.

The true quantities come from the measurement models of
:mod:`evniche.observations.measurement` (EVs in a size window, flow-detectable EVs, EV-borne
RNA copies per mL, all read from a Trajectory at a day); this module adds what stands
between them and a number in a report:

* **NTA** (``nta_particles``, particles/mL of platelet-free plasma): the EVs in the
  instrument's size window plus the non-EV particles (lipoproteins) NTA counts in plasma,
  drawn per sample from the healthy reference interval, times the analytical noise.
* **Flow cytometry** (``flow_evs``, EVs/µL): only EVs above the scatter threshold (about
  1 % of plasma EVs, calibration_targets PAR-2), counted as Poisson events in the acquired
  volume; below one event the count is 0 (the limit of detection).
* **Marker-gated flow** (``flow_marker_evs``, EVs/µL): EVs carrying a blast marker. No
  leukemia-specific EV surface marker exists (seed 000: "there are no reliable surface
  markers specific for leukemic ExMVs. This is because leukemia and hematopoietic cells
  share several common antigens"), so a share of the normal cells' EVs is marker-positive
  too.
* **qPCR** (``qpcr_<cargo>``, copies/mL): RNA extracted from a plasma volume with a
  per-sample recovery, a share of the eluate per reaction, Poisson copies into the
  reaction, Ct = Ct(1 copy) − log₂₍₁₊E₎(copies) + Ct noise; no copy (or Ct past the last
  cycle) is "undetermined" and reads as the last cycle (the limit of detection). A
  spike-in of known copies goes through the same extraction and normalises the recovery
  (ΔCt), so the reported copies/mL are the spike-in-normalised estimate.

Every number is an :class:`AssayParameter` with a unit and a source or ``assumption:`` with a
range; the report lists them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..errors import EvnicheError
from ..observations import measurement
from ..readouts import clinical


@dataclass(frozen=True)
class AssayParameter:
    """One number of an assay model: ``value`` in ``unit``, its ``source`` (or ``assumption:``
    with why) and the plausible ``range`` (same unit)."""

    value: float
    unit: str
    source: str
    range: tuple[float, float] | None = None


PARAMETERS: dict[str, AssayParameter] = {
    "nta_low_nm": AssayParameter(
        measurement.NTA_WINDOW_NM[0], "nm", "evniche.observations.measurement.NTA_WINDOW_NM: "
        "lower detection limit of NanoSight/ZetaView for EVs"),
    "nta_high_nm": AssayParameter(
        measurement.NTA_WINDOW_NM[1], "nm", "evniche.observations.measurement.NTA_WINDOW_NM"),
    "nta_background_low": AssayParameter(
        1.4e11, "1/mL", "'Preanalytical, analytical, and biological variation of blood plasma "
        "submicron particle levels measured with nanoparticle tracking analysis and tunable "
        "resistive pulse sensing' (20 healthy subjects, platelet-free plasma; figshare "
        "collection 3256282): 'estimated reference intervals of 1.4 × 10^11–1.2 × 10^12 "
        "particles/mL for NTA'; lower end, read as the 2.5 % quantile of a log-normal. Nearly "
        "all of these are lipoproteins ('more than 98% of the particles detected by NTA are "
        "very low density lipoprotein (VLDL) particles', Sci Rep 2018, "
        "doi:10.1038/s41598-018-35401-8), so the whole interval is taken as non-EV background"),
    "nta_background_high": AssayParameter(
        1.2e12, "1/mL", "the same reference interval, upper end (97.5 % quantile)"),
    "nta_cv": AssayParameter(
        0.10, "dimensionless", "the same study: 'The analytical variation was generally below "
        "10%'; Vestad et al., J Extracell Vesicles 2017;6:1344087 "
        "(doi:10.1080/20013078.2017.1344087): intra-assay CV 1–12 %", (0.01, 0.25)),
    "flow_threshold_nm": AssayParameter(
        600.0, "nm", "evniche.observations.measurement flow threshold (ISTH-SSC-VB: 'Most "
        "included flow cytometers lack the sensitivity to detect EVs of 600 nm and "
        "smaller'); with the model's size distributions it sees a few % of plasma EVs, "
        "Arraud et al. J Thromb Haemost 2014;12:614 report 'only about 1%' "
        "(calibration_targets PAR-2)", (200.0, 1000.0)),
    "flow_volume_ul": AssayParameter(
        30.0, "uL", "assumption: plasma volume whose events are acquired per sample "
        "(bead-calibrated counting; a few to 100 µL)", (5.0, 100.0)),
    "marker_shared": AssayParameter(
        0.01, "dimensionless", "assumption: share of the normal cells' flow-detectable EVs "
        "that carry the blast marker gated on (CD33/CD34/CD117 are on normal myeloid cells "
        "too; seed 000: no leukemia-specific EV marker); no measured value found",
        (0.001, 0.1)),
    "qpcr_plasma_ml": AssayParameter(
        0.2, "mL", "assumption: plasma input of a column RNA extraction (200 µL kits)",
        (0.1, 1.0)),
    "qpcr_recovery_median": AssayParameter(
        0.3, "dimensionless", "assumption: median share of plasma EV RNA recovered through "
        "extraction and reverse transcription", (0.05, 0.9)),
    "qpcr_recovery_gsd": AssayParameter(
        1.6, "dimensionless", "assumption: geometric SD of the recovery between samples; the "
        "spike-in normalisation removes it", (1.1, 3.0)),
    "qpcr_reaction_share": AssayParameter(
        0.1, "dimensionless", "assumption: share of the eluate (cDNA) put in one reaction",
        (0.02, 0.5)),
    "qpcr_efficiency": AssayParameter(
        0.95, "dimensionless", "assumption: amplification efficiency (1 = doubling per "
        "cycle), inside the 90–110 % usually accepted; the MIQE guidelines (Bustin et al., "
        "Clin Chem 2009;55:611–622, doi:10.1373/clinchem.2008.112797) ask that it be "
        "measured and reported (the range was not read in the text found)", (0.9, 1.0)),
    "qpcr_ct_one_copy": AssayParameter(
        37.0, "cycle", "assumption: Ct of a single template copy", (34.0, 39.0)),
    "qpcr_ct_sd": AssayParameter(
        0.25, "cycle", "assumption: SD of the Ct of technical replicates above the Poisson "
        "limit; the Poisson sampling of copies into the reaction is modelled separately "
        "(Forootan et al., Biomol Detect Quantif 2017;12:1–6, doi:10.1016/j.bdq.2017.04.001)",
        (0.1, 0.5)),
    "qpcr_cycles": AssayParameter(
        40.0, "cycle", "assumption: cycles run; a later or absent signal is undetermined",
        (35.0, 45.0)),
    "qpcr_spike_copies": AssayParameter(
        1.0e8, "copies", "assumption: synthetic spike-in (e.g. cel-miR-39) copies added per "
        "sample before extraction", (1.0e6, 1.0e10)),
}


def value(name: str) -> float:
    """The value of the assay parameter ``name``."""
    return PARAMETERS[name].value


@dataclass(frozen=True)
class Biomarker:
    """A biomarker an assay reports: ``name``, ``unit``, what it is and which assay."""

    name: str
    unit: str
    summary: str
    assay: str
    cargo: str | None = None


def rna_cargos(ds: xr.Dataset) -> list[str]:
    """The RNA cargos (miRNAs, named ``miR-…``) carried by a leukemic cell type's EV pool:
    the candidates for an EV-RNA biomarker, in name order."""
    if "pool_cargo" not in ds or ds.sizes.get("pool", 0) == 0:
        return []
    leukemic = set(clinical.names_attr(ds, "leukemic"))
    table = ds["pool_cargo"]
    found = set()
    for k, source in enumerate(ds["pool_source"].values):
        if str(source) not in leukemic:
            continue
        for cargo in ds["cargo"].values:
            if str(cargo).lower().startswith("mir") and float(table.isel(pool=k).sel(
                    cargo=cargo)) > 0:
                found.add(str(cargo))
    return sorted(found)


def biomarkers(cargos: list[str]) -> list[Biomarker]:
    """The cohort's biomarkers: NTA, flow, marker-gated flow and one qPCR per cargo."""
    out = [Biomarker("nta_particles", "1/mL", "particles in the NTA window, platelet-free "
                     "plasma (EVs + lipoprotein background)", "nta"),
           Biomarker("flow_evs", "1/uL", "EVs above the flow cytometer's scatter threshold",
                     "flow"),
           Biomarker("flow_marker_evs", "1/uL", "blast-marker-positive EVs by flow (marker "
                     "shared with normal cells)", "flow_marker")]
    out += [Biomarker(f"qpcr_{c}", "1/mL", f"EV {c} copies per mL of plasma by qPCR, "
                      "spike-in normalised", "qpcr", c) for c in cargos]
    return out


# ----------------------------------------------------------------------------- assays
def nta(true_per_ml: float, rng: np.random.Generator) -> float:
    """NTA reading (particles/mL) of a plasma holding ``true_per_ml`` EVs in the window: plus
    a log-normal non-EV background drawn from the reference interval, times log-normal
    analytical noise of CV ``nta_cv``."""
    lo, hi = math.log(value("nta_background_low")), math.log(value("nta_background_high"))
    background = math.exp(rng.normal((lo + hi) / 2, (hi - lo) / (2 * 1.959964)))
    cv = value("nta_cv")
    sigma = math.sqrt(math.log1p(cv * cv))
    return (true_per_ml + background) * math.exp(rng.normal(-sigma * sigma / 2, sigma))


def flow(true_per_ul: float, rng: np.random.Generator) -> float:
    """Flow count (EVs/µL): Poisson events in ``flow_volume_ul`` µL over that volume; 0 below
    one event (the limit of detection is one event per acquired volume)."""
    if not true_per_ul >= 0:
        raise EvnicheError(f"flow: expected a count >= 0 per µL, got {true_per_ul}")
    volume = value("flow_volume_ul")
    return float(rng.poisson(true_per_ul * volume)) / volume


def qpcr_ct(copies: float, rng: np.random.Generator) -> float:
    """Ct of a reaction holding ``copies`` template copies on average: Poisson copies, Ct =
    Ct(1 copy) − log₂₍₁₊E₎(n) + normal noise; no copy or past the last cycle reads the
    last cycle (undetermined)."""
    n = rng.poisson(copies) if copies < 1e9 else copies
    cycles = value("qpcr_cycles")
    if n <= 0:
        return cycles
    ct = (value("qpcr_ct_one_copy") - math.log(n) / math.log1p(value("qpcr_efficiency"))
          + rng.normal(0.0, value("qpcr_ct_sd")))
    return min(ct, cycles)


def qpcr(true_per_ml: float, rng: np.random.Generator) -> float:
    """Spike-in-normalised qPCR estimate of RNA copies per mL of plasma: target and spike-in
    share the sample's recovery; copies/mL = spike × (1+E)^(Ct_spike − Ct_target) / plasma
    volume. An undetermined target reads the last cycle: the estimate is then the limit of
    detection of that sample."""
    volume = value("qpcr_plasma_ml")
    recovery = value("qpcr_recovery_median") * math.exp(
        rng.normal(0.0, math.log(value("qpcr_recovery_gsd"))))
    recovery = min(recovery, 1.0)
    share = value("qpcr_reaction_share")
    spike = value("qpcr_spike_copies")
    ct_target = qpcr_ct(true_per_ml * volume * recovery * share, rng)
    ct_spike = qpcr_ct(spike * recovery * share, rng)
    return spike * (1 + value("qpcr_efficiency")) ** (ct_spike - ct_target) / volume


def true_values(ds: xr.Dataset, day: float, markers: list[Biomarker]) -> dict[str, float]:
    """The quantities each biomarker's assay measures, noise-free, at ``day``: EVs/mL in
    the NTA window, flow-detectable EVs/µL (all; marker-positive: leukemic ones plus the
    shared share of the others), RNA copies/mL."""
    out: dict[str, float] = {}
    threshold = value("flow_threshold_nm")
    for m in markers:
        if m.assay == "nta":
            out[m.name] = measurement.nta_count(ds, day, value("nta_low_nm"),
                                                value("nta_high_nm"))
        elif m.assay == "flow":
            out[m.name] = measurement.flow_count(ds, day, threshold)
        elif m.assay == "flow_marker":
            total = measurement.flow_count(ds, day, threshold)
            leukemic = measurement.flow_count(ds, day, threshold, origin="leukemic")
            out[m.name] = leukemic + value("marker_shared") * max(total - leukemic, 0.0)
        elif m.assay == "qpcr":
            out[m.name] = measurement.mirna_copies(ds, day, cargo=str(m.cargo))
        else:
            raise EvnicheError(f"unknown assay '{m.assay}' of biomarker '{m.name}'")
    return out


ASSAYS = {"nta": nta, "flow": flow, "flow_marker": flow, "qpcr": qpcr}


def measure(true: dict[str, float], markers: list[Biomarker], rng: np.random.Generator
            ) -> dict[str, float]:
    """What each assay reports for the true values ``true`` (same keys), with ``rng``."""
    return {m.name: ASSAYS[m.assay](max(true[m.name], 0.0), rng) for m in markers}
