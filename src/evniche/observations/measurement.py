"""Measurement models: what an assay reports, computed from a Trajectory ``xarray.Dataset``.

An observation is never compared with a state variable of the model directly: a plasma
sample read by nanoparticle tracking (NTA) sees only particles inside its size window, a
conventional flow cytometer only the largest EVs, a protein assay the mass of the small
EVs. Each function here is a pure function of one Trajectory (a *readout*, read at a day)
or of two (a *contrast*: treated vs control, disease vs healthy) and returns one number in
the assay's unit, which :data:`MODELS` records with the parameters each model takes.

Sizes come from the Trajectory's class coordinates (``class_median_um``, ``class_gsd``,
``class_min_um``, ``class_max_um``: a log-normal truncated to [min, max] per vesicle
class), so the share of plasma EVs an instrument sees is derived from the model's size
distributions rather than assumed.

Units: days for ``day``; nm for sizes; EVs per mL (or per µL where the assay reports so).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ..errors import EvnicheError, ModelError
from ..readouts import clinical
from ..readouts.liquid_biopsy import cargo_per_ml, truncated_lognormal_mass
from ..units import parse_unit, ureg

#: NTA detection window (nm): the lower limit of NanoSight/ZetaView for EVs and its top
NTA_WINDOW_NM = (50.0, 1000.0)
#: MISEV2018: small EVs are < 200 nm (research: ev_parameters.md D)
SMALL_EV_NM = 200.0
UM_TO_NM = 1000.0
ML_PER_UL = 1.0e-3
UG_PER_FG = 1.0e-9


def _at(da: xr.DataArray, day: float | None) -> xr.DataArray:
    """``da`` at ``day`` (days, interpolated) or at the last sample."""
    return clinical.value_at(da, day)


def size_share(ds: xr.Dataset, low_nm: float, high_nm: float) -> xr.DataArray:
    """Share (0–1) of each vesicle class's EVs with a diameter in [``low_nm``, ``high_nm``]
    (nm), from its truncated log-normal size distribution, ``(vesicle_class,)``."""
    if not 0 <= low_nm < high_nm:
        raise EvnicheError(f"size window must be 0 <= low < high nm, got [{low_nm}, "
                           f"{high_nm}]")
    shares = []
    for cls in ds["vesicle_class"].values:
        c = ds.sel(vesicle_class=cls)
        mass = truncated_lognormal_mass(
            np.array([max(low_nm, 1e-9), high_nm]), float(c["class_median_um"]) * UM_TO_NM,
            float(c["class_gsd"]), float(c["class_min_um"]) * UM_TO_NM,
            float(c["class_max_um"]) * UM_TO_NM)
        shares.append(float(mass[0]))
    return xr.DataArray(shares, coords={"vesicle_class": ds["vesicle_class"].values},
                        dims=("vesicle_class",))


#: where an EV count is read: plasma, or the marrow interstitial fluid (BM supernatant)
COMPARTMENTS = ("blood", "marrow")
#: which EVs are counted: all, or only those of leukemic cells (counted by blast markers)
ORIGINS = ("all", "leukemic")


def by_class(ds: xr.Dataset, day: float | None = None, compartment: str = "blood",
             origin: str = "all") -> xr.DataArray:
    """EVs per mL by vesicle class at ``day`` in ``compartment`` (``blood``: plasma;
    ``marrow``: marrow interstitial fluid), from every pool (``origin="all"``) or only the
    pools of leukemic cell types (``"leukemic"``), ``(vesicle_class,)``; round-off negatives
    read 0."""
    if compartment not in COMPARTMENTS:
        raise EvnicheError(f"compartment must be one of {', '.join(COMPARTMENTS)}, got "
                           f"'{compartment}'")
    if origin not in ORIGINS:
        raise EvnicheError(f"origin must be one of {', '.join(ORIGINS)}, got '{origin}'")
    if "ev_concentration" not in ds:
        raise EvnicheError("the trajectory has no 'ev_concentration' variable")
    conc = _at(ds["ev_concentration"].sel(compartment=compartment, drop=True), day)
    conc = conc.clip(min=0.0)
    classes = np.asarray(ds["pool_class"].values).astype(str)
    keep = np.ones(len(classes), dtype=bool)
    if origin == "leukemic":
        leukemic = set(clinical.names_attr(ds, "leukemic"))
        keep = np.array([str(s) in leukemic for s in ds["pool_source"].values], dtype=bool)
    names = [str(c) for c in ds["vesicle_class"].values]
    values = [float(conc.isel(pool=np.nonzero((classes == c) & keep)[0]).sum()) for c in names]
    return xr.DataArray(values, coords={"vesicle_class": names}, dims=("vesicle_class",))


def plasma_in_window(ds: xr.Dataset, day: float | None, low_nm: float, high_nm: float,
                     compartment: str = "blood", origin: str = "all") -> float:
    """EVs per mL with a diameter in [``low_nm``, ``high_nm``] (nm) at ``day``, in plasma
    (or ``compartment``), of every origin (or only leukemic ones): see :func:`by_class`."""
    conc = by_class(ds, day, compartment, origin)
    share = size_share(ds, low_nm, high_nm).sel(vesicle_class=conc["vesicle_class"])
    return float((conc * share).sum())


# ----------------------------------------------------------------------------- readouts
def nta_count(ds: xr.Dataset, day: float | None = None, low_nm: float = NTA_WINDOW_NM[0],
              high_nm: float = NTA_WINDOW_NM[1], compartment: str = "blood",
              origin: str = "all") -> float:
    """EV count by nanoparticle tracking (particles/mL of plasma, or of ``compartment``):
    the EVs whose diameter lies in the instrument's window [``low_nm``, ``high_nm``] (nm).
    Lipoproteins, which NTA also counts in unpurified plasma, are not in the model."""
    return plasma_in_window(ds, day, low_nm, high_nm, compartment, origin)


def flow_fraction(ds: xr.Dataset, day: float | None = None, threshold_nm: float = 600.0,
                  compartment: str = "blood", origin: str = "all") -> float:
    """Share (0–1) of the EVs (of plasma, or ``compartment``) a flow cytometer detects: those
    with a diameter of at least ``threshold_nm`` (nm), from the model's size distributions;
    NaN without EVs."""
    total = float(by_class(ds, day, compartment, origin).sum())
    if not total > 0:
        return float("nan")
    return plasma_in_window(ds, day, threshold_nm, math.inf, compartment, origin) / total


def flow_count(ds: xr.Dataset, day: float | None = None, threshold_nm: float = 600.0,
               compartment: str = "blood", origin: str = "all") -> float:
    """Flow-cytometry EV count (EVs/µL of plasma or serum, or of marrow fluid with
    ``compartment="marrow"``): the EVs with a diameter of at least ``threshold_nm`` (nm), the
    smallest EV the cytometer's scatter resolves; ``origin="leukemic"`` counts only the EVs
    of leukemic cells (gated on blast or tumour markers)."""
    return plasma_in_window(ds, day, threshold_nm, math.inf, compartment, origin) * ML_PER_UL


def exosome_protein(ds: xr.Dataset, day: float | None = None, protein_per_ev_fg: float = 7.5,
                    max_nm: float = SMALL_EV_NM) -> float:
    """Exosome protein (µg/mL of plasma) as a BCA assay of isolated small EVs reads it:
    plasma EVs of diameter <= ``max_nm`` (nm) × protein per EV (``protein_per_ev_fg``, fg)."""
    return plasma_in_window(ds, day, 0.0, max_nm) * protein_per_ev_fg * UG_PER_FG


def mirna_copies(ds: xr.Dataset, day: float | None = None, cargo: str = "miR-155") -> float:
    """Copies of the RNA ``cargo`` per mL of plasma carried by EVs (copies/mL): Σ over pools
    of EV/mL × copies per EV (the Trajectory's ``pool_cargo``); 0 if no pool carries it."""
    table = _at(cargo_per_ml(ds), day)
    if cargo not in table["cargo"].values:
        return 0.0
    return float(table.sel(cargo=cargo))


def blast_percent(ds: xr.Dataset, day: float | None = None) -> float:
    """Marrow blast % (0–100) at ``day``: leukemic over all marrow-counted cells."""
    return float(_at(clinical.blast_percent(ds), day))


def normal_output_fraction(ds: xr.Dataset, day: float | None = None) -> float:
    """Normal blood output at ``day`` as a fraction of its day-0 (healthy) value."""
    return 1.0 - clinical.normal_output_drop(ds, day)


def neutrophil_count(ds: xr.Dataset, day: float | None = None,
                     healthy_anc: float = 4000.0) -> float:
    """Absolute neutrophil count (cells/µL): :func:`normal_output_fraction` × the healthy
    median ANC ``healthy_anc`` (cells/µL); the model's blood output is granulocyte
    equivalents, so only its ratio to health is read."""
    return normal_output_fraction(ds, day) * healthy_anc


def cell_count(ds: xr.Dataset, day: float | None = None, cell_type: str = "HSC") -> float:
    """Cells of ``cell_type`` at ``day`` (cells)."""
    if cell_type not in ds["cell_type"].values:
        raise EvnicheError(f"the trajectory has no cell type '{cell_type}'")
    return float(_at(ds["cells"].sel(cell_type=cell_type), day))


def takeover_day(ds: xr.Dataset, day: float | None = None, threshold: float = 20.0) -> float:
    """Day (days) marrow blasts reach ``threshold`` % (interpolated); +inf if never in the
    run. ``day`` is not used (the whole course is read)."""
    found = clinical.takeover_day(ds, threshold)
    return math.inf if found is None else found


def blood_half_life(ds: xr.Dataset, day: float | None = None,
                    vesicle_class: str = "exosome") -> float:
    """Blood half-life (hours) of EVs of ``vesicle_class``: ln 2 / k, k the first-order rate
    at which plasma EVs of the class are cleared (liver/spleen), read from the ledger as
    d(cleared)/dt over the EVs in blood between the two samples around ``day``. Homing back
    to the marrow and uptake by blood cells are not counted (both slower than clearance in
    the presets); NaN without EVs of the class in blood."""
    pools = np.nonzero(np.asarray(ds["pool_class"].values).astype(str) == vesicle_class)[0]
    if pools.size == 0:
        raise EvnicheError(f"no EV pool of class '{vesicle_class}' in the trajectory")
    t = np.asarray(ds["time"].values, dtype=float)
    if t.size < 2:
        raise EvnicheError("a blood half-life needs at least two samples")
    k = len(t) - 1 if day is None else int(np.clip(np.searchsorted(t, day, "right"), 1,
                                                   len(t) - 1))
    cleared = ds["ledger"].sel(term="cleared").isel(pool=pools).sum("pool").values
    blood = ds["ev"].sel(compartment="blood").isel(pool=pools).sum("pool").values
    mean_blood = 0.5 * (blood[k - 1] + blood[k])
    if not mean_blood > 0:
        return float("nan")
    rate_per_day = (cleared[k] - cleared[k - 1]) / (t[k] - t[k - 1]) / mean_blood
    return math.log(2.0) / rate_per_day * 24.0 if rate_per_day > 0 else math.inf


# ----------------------------------------------------------------------------- contrasts
def fold_change(value: float, reference: float) -> float:
    """``value`` / ``reference`` (same unit); +inf for a positive value over 0, NaN for 0/0."""
    if reference == 0:
        return math.nan if value == 0 else math.copysign(math.inf, value)
    return value / reference


def takeover_ratio(ds: xr.Dataset, reference: xr.Dataset, threshold: float = 20.0) -> float:
    """Ratio of take-over days (``ds`` over ``reference``): > 1 when the treatment (e.g. a
    secretion knock-down) delays the day blasts reach ``threshold`` % of marrow cells."""
    return fold_change(takeover_day(ds, threshold=threshold),
                       takeover_day(reference, threshold=threshold))


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Parameter:
    """A parameter of a measurement model: a quantity in ``unit`` (``unit`` None: a name,
    e.g. a cargo or a readout) and its default (None: required)."""

    unit: str | None
    default: float | str | None
    meaning: str
    source: str = ""
    #: the names a name parameter may take (empty: any)
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class MeasurementModel:
    """A named measurement model: its function, the unit it reports in, its parameters.

    ``kind`` is ``"readout"`` (one run, read at the condition's day) or ``"contrast"`` (two
    runs: the first condition over the second)."""

    name: str
    unit: str
    kind: str
    function: Callable[..., float]
    summary: str
    parameters: dict[str, Parameter] = field(default_factory=dict)


_THRESHOLD = Parameter("nm", 600.0, "smallest EV diameter the cytometer resolves",
                       "ISTH-SSC-VB working group, 'Standardization of extracellular vesicle "
                       "measurements by flow cytometry through vesicle diameter approximation' "
                       "(J Thromb Haemost; research.utwente.nl record): 'Most included flow "
                       "cytometers lack the sensitivity to detect EVs of 600 nm and smaller' "
                       "(docs/sources/observations.md F1)")

_WHERE = {"compartment": Parameter(None, "blood", "blood (plasma) or marrow (fluid)",
                                   choices=COMPARTMENTS),
          "origin": Parameter(None, "all", "all EVs or only those of leukemic cells",
                              choices=ORIGINS)}

MODELS: dict[str, MeasurementModel] = {m.name: m for m in (
    MeasurementModel("nta_count", "1/mL", "readout", nta_count,
                     "plasma EVs in the NTA size window (particles/mL)",
                     {"low_nm": Parameter("nm", NTA_WINDOW_NM[0], "lower detection limit"),
                      "high_nm": Parameter("nm", NTA_WINDOW_NM[1], "upper detection limit"),
                      **_WHERE}),
    MeasurementModel("flow_count", "1/uL", "readout", flow_count,
                     "plasma EVs a conventional flow cytometer detects (EVs/µL)",
                     {"threshold_nm": _THRESHOLD, **_WHERE}),
    MeasurementModel("flow_fraction", "dimensionless", "readout", flow_fraction,
                     "share of plasma EVs a flow cytometer detects",
                     {"threshold_nm": _THRESHOLD, **_WHERE}),
    MeasurementModel("exosome_protein", "ug/mL", "readout", exosome_protein,
                     "protein of the small plasma EVs (µg/mL)",
                     {"protein_per_ev_fg": Parameter("fg", None, "protein mass per small EV"),
                      "max_nm": Parameter("nm", SMALL_EV_NM, "largest EV the isolation "
                                          "keeps")}),
    MeasurementModel("mirna_copies", "1/mL", "readout", mirna_copies,
                     "EV-borne RNA copies per mL of plasma",
                     {"cargo": Parameter(None, None, "the cargo (an RNA) of the model")}),
    MeasurementModel("blast_percent", "percent", "readout", blast_percent,
                     "marrow blasts (% of marrow cells)"),
    MeasurementModel("normal_output_fraction", "dimensionless", "readout",
                     normal_output_fraction, "normal blood output over its healthy value"),
    MeasurementModel("neutrophil_count", "1/uL", "readout", neutrophil_count,
                     "absolute neutrophil count (cells/µL)",
                     {"healthy_anc": Parameter("1/uL", None, "healthy median ANC")}),
    MeasurementModel("cell_count", "dimensionless", "readout", cell_count,
                     "cells of one type (cells)",
                     {"cell_type": Parameter(None, None, "the cell type of the model")}),
    MeasurementModel("takeover_day", "day", "readout", takeover_day,
                     "day blasts reach the threshold % of marrow cells",
                     {"threshold": Parameter("percent", 20.0, "blast threshold")}),
    MeasurementModel("blood_half_life", "hour", "readout", blood_half_life,
                     "blood half-life of EVs of a class (hours)",
                     {"vesicle_class": Parameter(None, "exosome", "the vesicle class")}),
    MeasurementModel("fold_change", "dimensionless", "contrast", fold_change,
                     "a readout of the first condition over the second",
                     {"readout": Parameter(None, None, "the readout (a measurement model "
                                           "of kind readout) and its parameters")}),
    MeasurementModel("takeover_ratio", "dimensionless", "contrast", takeover_ratio,
                     "take-over day of the first condition over the second",
                     {"threshold": Parameter("percent", 20.0, "blast threshold")}),
)}


def lookup(name: str, where: str = "") -> MeasurementModel:
    """The measurement model ``name`` or a ModelError listing the known ones."""
    if name not in MODELS:
        raise ModelError(f"unknown measurement model '{name}'; known: "
                         f"{', '.join(MODELS)}", where)
    return MODELS[name]


def convert(value: float, unit: str, to: str, where: str = "") -> float:
    """``value`` in ``unit`` converted to the unit ``to``, or a ModelError naming ``where``."""
    source, target = parse_unit(unit, where), parse_unit(to, where)
    try:
        return float(ureg.Quantity(value, source).to(target).magnitude)
    except Exception:  # pint: a unit of another dimension
        raise ModelError(f"unit '{unit}' cannot be converted to '{to}' (expected the "
                         f"dimension of {to})", where) from None


def read(model: MeasurementModel, runs: list[tuple[xr.Dataset, float | None]],
         parameters: dict[str, float | str]) -> float:
    """The value ``model`` reports, in ``model.unit``: a readout of ``runs[0]`` at its day,
    or a contrast of ``runs[0]`` over ``runs[1]``. ``parameters`` are in the units of
    :class:`Parameter` (names as text); missing ones take their defaults; for
    ``fold_change`` ``readout`` names the readout and the other parameters go to it."""
    params = {k: p.default for k, p in model.parameters.items() if p.default is not None}
    params.update(parameters)
    if model.name == "fold_change":
        inner = lookup(str(params.pop("readout")), "measurement.parameters.readout")
        return fold_change(read(inner, runs[:1], params), read(inner, runs[1:2], params))
    if model.kind == "contrast":
        return model.function(runs[0][0], runs[1][0], **params)
    ds, day = runs[0]
    return model.function(ds, day, **params)
