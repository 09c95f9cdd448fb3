"""Characterization with instrument limits: NTA, flow cytometry, electron microscopy and
western blot / proteomics marker presence.

Light scattering (NTA, flow) sees a particle when it scatters at least as much as the
smallest reference bead the instrument sees. In the Rayleigh limit a sphere of diameter
d and refractive index n_p in a medium n_m scatters ∝ d⁶·α², α = (m² − 1)/(m² + 2),
m = n_p/n_m, so the smallest detectable diameter of a particle is

    d_min = d_ref · (α_ref/α)^(1/3)

(d_ref: the smallest detectable polystyrene bead, n = 1.59). EVs (n ≈ 1.40) are seen only
from ≈1.5 × d_ref, lipid-rich lipoproteins (n ≈ 1.47) from ≈1.2 × d_ref. Rayleigh
scattering overestimates the signal of particles near the wavelength; above ~200 nm the
limits are upper bounds on what is missed (assumption: no Mie calculation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .affinity import marker_copies
from .particles import CENTERS_NM, EDGES_NM, KINDS, Number
from .samples import Sample

POLYSTYRENE_RI = Number(1.59, "1", 1.58, 1.61,
                        "assumption: polystyrene bead RI at visible wavelengths")
MEASURING_MEDIUM_RI = 1.333  # NTA and flow read samples diluted in buffer (water RI)


def polarizability_factor(particle_ri: float, medium_ri: float = MEASURING_MEDIUM_RI) -> float:
    """α = (m² − 1)/(m² + 2) with m = ``particle_ri``/``medium_ri``."""
    m2 = (particle_ri / medium_ri) ** 2
    return (m2 - 1.0) / (m2 + 2.0)


def detection_diameter_nm(reference_nm: float, particle_ri: float,
                          reference_ri: float = POLYSTYRENE_RI.value,
                          medium_ri: float = MEASURING_MEDIUM_RI) -> float:
    """Smallest diameter (nm) of a particle of ``particle_ri`` that scatters as much as a
    ``reference_nm`` bead of ``reference_ri`` (Rayleigh: d_ref·(α_ref/α)^(1/3))."""
    a = polarizability_factor(particle_ri, medium_ri)
    if a <= 0:
        return math.inf
    return reference_nm * (polarizability_factor(reference_ri, medium_ri) / a) ** (1.0 / 3.0)


def scatter(diameter_nm: np.ndarray | float, particle_ri: float,
            medium_ri: float = MEASURING_MEDIUM_RI) -> np.ndarray:
    """Relative Rayleigh scattering d⁶·α² (nm⁶)."""
    return np.asarray(diameter_nm, float) ** 6 * polarizability_factor(particle_ri,
                                                                       medium_ri) ** 2


def rebin(counts: np.ndarray, edges_nm: np.ndarray) -> np.ndarray:
    """Counts on the grid re-binned onto ``edges_nm`` (cumulative counts interpolated in
    log diameter)."""
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    at = np.interp(np.log(np.clip(edges_nm, EDGES_NM[0], EDGES_NM[-1])), np.log(EDGES_NM), cum)
    return np.diff(at)


# --------------------------------------------------------------------------------- NTA


@dataclass(frozen=True)
class NTASettings:
    """A nanoparticle-tracking instrument: smallest polystyrene bead seen ``reference_nm``
    (assumption: 45 nm at a typical camera level, range 30–60 nm), largest size tracked
    ``upper_nm`` (1000 nm: evniche.readouts.liquid_biopsy.NTA_DETECTION_NM), the
    concentration window it counts reliably ``window_per_ml`` (assumption: 10⁷–10⁹
    particles/mL in the cell, manufacturers' guidance; the sample is diluted into it) and
    the histogram bin width (nm)."""

    reference_nm: float = 45.0
    upper_nm: float = 1000.0
    window_per_ml: tuple[float, float] = (1e7, 1e9)
    bin_nm: float = 10.0


@dataclass
class NTAReading:
    """A virtual NTA reading of a sample: histogram ``edges_nm`` and particles/mL of the
    sample per bin by kind (``by_kind``), the smallest diameter seen per population
    (``limits_nm``), the dilution into the counting window and whether it fits."""

    edges_nm: np.ndarray
    by_kind: dict[str, np.ndarray]
    limits_nm: dict[str, float]
    dilution: float
    in_window: bool
    settings: NTASettings

    @property
    def per_ml(self) -> np.ndarray:
        """Particles/mL of the sample per bin, all kinds."""
        return sum(self.by_kind.values(), np.zeros(len(self.edges_nm) - 1))

    @property
    def total_per_ml(self) -> float:
        """Particles/mL of the sample NTA counts."""
        return float(self.per_ml.sum())

    def share(self, kind: str) -> float:
        """Share of the counted particles that are of ``kind`` (NaN if none counted)."""
        total = self.total_per_ml
        return float(self.by_kind.get(kind, np.zeros(1)).sum() / total) if total > 0 \
            else float("nan")

    @property
    def mode_nm(self) -> float:
        """Centre of the fullest bin (nm)."""
        y = self.per_ml
        if not y.any():
            return float("nan")
        return float(0.5 * (self.edges_nm[:-1] + self.edges_nm[1:])[int(np.argmax(y))])


def detected_counts(sample: Sample, reference_nm: float, upper_nm: float
                    ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Counts per grid bin a scattering instrument sees, summed by kind, and each
    population's smallest detectable diameter (nm)."""
    by_kind = {k: np.zeros(len(CENTERS_NM)) for k in KINDS}
    limits = {}
    for pop in sample.populations:
        d_min = detection_diameter_nm(reference_nm, pop.refractive_index)
        limits[pop.name] = d_min
        seen = (CENTERS_NM >= d_min) & (CENTERS_NM <= upper_nm)
        by_kind[pop.kind] += pop.counts * seen
    return by_kind, limits


def nta(sample: Sample, settings: NTASettings | None = None) -> NTAReading:
    """What a virtual NTA reports for ``sample``: every particle that scatters enough,
    EV or not, sized and counted per mL of the sample."""
    s = settings or NTASettings()
    by_kind, limits = detected_counts(sample, s.reference_nm, s.upper_nm)
    edges = np.arange(0.0, s.upper_nm + s.bin_nm, s.bin_nm)
    hist = {k: rebin(v, np.maximum(edges, EDGES_NM[0])) / sample.volume_ml
            for k, v in by_kind.items()}
    total = sum(float(v.sum()) for v in hist.values())
    lo, hi = s.window_per_ml
    dilution = max(1.0, total / hi)
    return NTAReading(edges_nm=edges, by_kind=hist, limits_nm=limits, dilution=dilution,
                      in_window=total / dilution >= lo, settings=s)


# ------------------------------------------------------------------------- flow cytometry


@dataclass(frozen=True)
class FlowSettings:
    """A flow cytometer triggered on side scatter: the smallest polystyrene bead above the
    trigger threshold ``trigger_nm`` (assumption: 200 nm for a conventional instrument,
    range 100–500 nm), the probe volume lit at once ``probe_volume_ml`` (assumption:
    5 × 10⁻⁹ mL, a 10 × 50 µm spot on a 10 µm core, range 10⁻⁹–10⁻⁷ mL) and the markers
    reported (share of events carrying each)."""

    trigger_nm: float = 200.0
    probe_volume_ml: float = 5e-9
    upper_nm: float = 10000.0
    markers: tuple[str, ...] = ("CD63", "CD9", "CD41", "phosphatidylserine", "ApoB")


@dataclass
class FlowReading:
    """Events per mL of the sample above the trigger, by kind and by marker (share of
    events), the smallest diameter triggering per population (nm) and swarm detection:
    ``swarm_index`` = 3 × SD of the summed scatter of the sub-threshold particles in the
    probe volume / threshold scatter (≥ 1: their fluctuations trigger events), and the
    dilution that brings it below 1."""

    events_per_ml: dict[str, float]
    marker_share: dict[str, float]
    limits_nm: dict[str, float]
    swarm_index: float
    swarm_dilution: float
    settings: FlowSettings

    @property
    def total_per_ml(self) -> float:
        return float(sum(self.events_per_ml.values()))

    @property
    def swarm(self) -> bool:
        """Whether swarm detection is expected at this concentration."""
        return self.swarm_index >= 1.0


def flow(sample: Sample, settings: FlowSettings | None = None) -> FlowReading:
    """What a virtual flow cytometer reports for ``sample`` (undiluted)."""
    s = settings or FlowSettings()
    events = dict.fromkeys(KINDS, 0.0)
    marker_events = dict.fromkeys(s.markers, 0.0)
    limits = {}
    var = 0.0
    for pop in sample.populations:
        d_min = detection_diameter_nm(s.trigger_nm, pop.refractive_index)
        limits[pop.name] = d_min
        seen = (CENTERS_NM >= d_min) & (CENTERS_NM <= s.upper_nm)
        n_seen = pop.counts * seen
        events[pop.kind] += float(n_seen.sum()) / sample.volume_ml
        for m in s.markers:
            positive = marker_copies(pop, m) >= 1.0
            marker_events[m] += float((n_seen * positive).sum()) / sample.volume_ml
        conc_sub = pop.counts * (~seen) / sample.volume_ml
        var += float((conc_sub * scatter(CENTERS_NM, pop.refractive_index) ** 2).sum())
    threshold = float(scatter(s.trigger_nm, POLYSTYRENE_RI.value))
    index = 3.0 * math.sqrt(var * s.probe_volume_ml) / threshold
    total = sum(events.values())
    share = {m: (v / total if total > 0 else float("nan")) for m, v in marker_events.items()}
    return FlowReading(events_per_ml=events, marker_share=share, limits_nm=limits,
                       swarm_index=index, swarm_dilution=max(1.0, index ** 2), settings=s)


# --------------------------------------------------------------------- electron microscopy


@dataclass(frozen=True)
class EMSettings:
    """Transmission EM of a grid: particles below ``resolution_nm`` are not recognised
    (assumption: 20 nm for negative stain, range 10–30 nm), ``particles`` are counted
    (sizes by count), drawn with ``seed``; vesicles (a bilayer) are told apart from
    non-vesicular particles (assumption: as in cryo-EM; negative stain often cannot)."""

    resolution_nm: float = 20.0
    particles: int = 200
    seed: int = 0
    bin_nm: float = 20.0
    upper_nm: float = 1000.0


@dataclass
class EMReading:
    """Counted particles: EV diameters by count (``ev_counts`` per bin of ``edges_nm``),
    non-vesicular particles counted by kind, and the EV share of all counted."""

    edges_nm: np.ndarray
    ev_counts: np.ndarray
    other_counts: dict[str, int]
    settings: EMSettings

    @property
    def ev_share(self) -> float:
        n_ev = int(self.ev_counts.sum())
        total = n_ev + sum(self.other_counts.values())
        return n_ev / total if total else float("nan")

    @property
    def ev_median_nm(self) -> float:
        c = self.ev_counts
        if not c.sum():
            return float("nan")
        cum = np.cumsum(c) / c.sum()
        return float(0.5 * (self.edges_nm[:-1] + self.edges_nm[1:])[int(np.searchsorted(cum,
                                                                                         0.5))])


def electron_microscopy(sample: Sample, settings: EMSettings | None = None) -> EMReading:
    """Count ``settings.particles`` particles of ``sample`` on a virtual grid."""
    s = settings or EMSettings()
    rng = np.random.default_rng(s.seed)
    visible = CENTERS_NM >= s.resolution_nm
    weights = [pop.counts * visible for pop in sample.populations]
    flat = np.concatenate(weights)
    edges = np.arange(0.0, s.upper_nm + s.bin_nm, s.bin_nm)
    ev_counts = np.zeros(len(edges) - 1, dtype=int)
    other = {k: 0 for k in KINDS if k != "ev"}
    if flat.sum() <= 0:
        return EMReading(edges, ev_counts, other, s)
    drawn = rng.multinomial(s.particles, flat / flat.sum())
    n_bins = len(CENTERS_NM)
    for i, pop in enumerate(sample.populations):
        n = drawn[i * n_bins:(i + 1) * n_bins]
        if pop.kind == "ev":
            idx = np.clip(np.searchsorted(edges, CENTERS_NM, side="right") - 1, 0,
                          len(edges) - 2)
            np.add.at(ev_counts, idx, n)
        else:
            other[pop.kind] += int(n.sum())
    return EMReading(edges, ev_counts, other, s)


# ------------------------------------------------------------- western blot / proteomics

#: approximate molar masses of marker proteins (kDa; assumption: protein cores, ±20 %)
MARKER_KDA = {"CD9": 25.0, "CD63": 26.0, "CD81": 26.0, "TSG101": 44.0, "ApoA1": 28.0,
              "ApoB": 515.0, "albumin": 66.5, "CD41": 113.0, "histone": 15.0}
#: what each marker says in a MISEV-style analysis
MARKER_ROLE = {"CD9": "EV transmembrane", "CD63": "EV transmembrane",
               "CD81": "EV transmembrane", "TSG101": "EV cytosolic",
               "ApoA1": "contaminant (HDL)", "ApoB": "contaminant (LDL/VLDL/chylomicrons)",
               "albumin": "contaminant (soluble protein)", "CD41": "platelet",
               "histone": "apoptotic bodies / nuclear"}


@dataclass(frozen=True)
class BlotSettings:
    """Marker detection: western blot detects ``wb_lod_molecules`` of a protein
    (assumption: 10⁹ molecules ≈ 0.1 ng of a 60 kDa protein, range 10⁸–10¹⁰),
    proteomics ``ms_lod_molecules`` (assumption: 10⁷, range 10⁶–10⁸), on ``load_fraction``
    of the isolate (assumption: all of it lysed and loaded)."""

    markers: tuple[str, ...] = ("CD9", "CD63", "CD81", "TSG101", "ApoA1", "ApoB", "albumin")
    wb_lod_molecules: float = 1e9
    ms_lod_molecules: float = 1e7
    load_fraction: float = 1.0


@dataclass
class MarkerReading:
    """Molecules of each marker in the loaded isolate, ng, and detection by WB and MS."""

    molecules: dict[str, float]
    western_blot: dict[str, bool]
    proteomics: dict[str, bool]
    settings: BlotSettings

    def ng(self, marker: str) -> float:
        """Nanograms of ``marker`` loaded (NaN if its molar mass is not tabulated)."""
        kda = MARKER_KDA.get(marker)
        if kda is None:
            return float("nan")
        return self.molecules[marker] * kda * 1e3 / 6.02214076e23 * 1e9


def markers(sample: Sample, settings: BlotSettings | None = None) -> MarkerReading:
    """Marker presence in ``sample`` by western blot and proteomics."""
    s = settings or BlotSettings()
    mol = {m: s.load_fraction * float(sum((p.counts * marker_copies(p, m)).sum()
                                          for p in sample.populations)) for m in s.markers}
    return MarkerReading(molecules=mol,
                         western_blot={m: v >= s.wb_lod_molecules for m, v in mol.items()},
                         proteomics={m: v >= s.ms_lod_molecules for m, v in mol.items()},
                         settings=s)


@dataclass
class Characterization:
    """All four readings of one sample."""

    nta: NTAReading
    flow: FlowReading
    em: EMReading
    markers: MarkerReading
    notes: list[str] = field(default_factory=list)


def characterize(sample: Sample, seed: int = 0) -> Characterization:
    """NTA, flow, EM and marker readings of ``sample`` with default instrument settings."""
    return Characterization(nta=nta(sample), flow=flow(sample),
                            em=electron_microscopy(sample, EMSettings(seed=seed)),
                            markers=markers(sample))
