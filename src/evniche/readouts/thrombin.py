"""Thrombin generation of a run's plasma: the Hockin–Mann model driven by the tissue factor
and the phosphatidylserine (PS) that the plasma EVs carry — a virtual calibrated automated
thrombogram (CAT) of a blood draw on a chosen day.

**Tissue factor.** TF on EVs (copies/mL, :func:`evniche.readouts.coagulation.
tissue_factor_per_ml`: Σ pools EV/mL × TF copies per EV) is a concentration:
1 pM = 1e-12 mol/L × 6.022e23 /mol × 1e-3 L/mL = 6.022e8 copies/mL. Every TF copy counts as
active (``assumption``: circulating EV-TF is partly encrypted; the active share is 1–100 %,
so the readouts are an upper bound of the EVs' procoagulant effect). Apoptotic bodies
count like every other pool: after chemotherapy the AML preset's dying blasts release
apoptotic bodies with tissue factor (presets/aml.yaml ``tf_copies_leukemic_ab``).

**Phosphatidylserine.** Pools with ``ps_exposed`` (the ``pool_ps`` coordinate) expose PS
on their outer leaflet: per EV, lipids = outer area / area per lipid, with the outer area
π·E[d²] of the class's log-normal diameter (E[d²] = median² · exp(2 ln² gsd)), of which a
share :data:`PS_SHARE` is PS. Plasma PS (nM) then sets the membrane factor of the Hockin
model's membrane-assembled complexes (:mod:`evniche.coagulation.hockin`) as a saturating
function, :func:`membrane_factor` = PS / (PS + :data:`PS_HALF_NM`). Other membranes of
platelet-poor plasma (platelet remnants, lipoproteins) are not counted.

**The assay.** ``reagent="none"`` (default): the sample as drawn, its own EV-TF and EV-PS,
no trigger added — the format of EV-dependent thrombin generation assays, which read the
procoagulant activity the EVs bring. ``reagent="cat"``: the CAT "PPP reagent" adds 5 pM TF
and 4 µM phospholipid (20 mol % PS: :data:`CAT_PS_NM`) to the sample; then plasma's
potential dominates and EVs add little. Plasma factor levels are the mean normal plasma of
the Hockin model (the disease models do not change coagulation factors); the sample is not
diluted (a CAT well holds 80 µL plasma in 120 µL: real readouts are diluted ×2/3).

Each sample is one ODE solve (about 0.1–0.3 s); :func:`sample_days` picks a few days of a
run, so a run's report spends well under two seconds here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..coagulation import hockin, thrombogram
from ..errors import EvnicheError
from .coagulation import tf_copies_per_ev
from .liquid_biopsy import _plasma

AVOGADRO = 6.02214076e23
#: TF copies per mL of plasma in 1 pM (derived: 1e-12 mol/L × N_A × 1e-3 L/mL)
COPIES_PER_ML_PER_PM = 1e-12 * AVOGADRO * 1e-3
#: area per lipid in a fluid bilayer (nm²). assumption: the textbook value of fluid
#: phosphatidylcholine bilayers (e.g. Nagle & Tristram-Nagle 2000, Biochim Biophys Acta
#: 1469:159, recalled, not re-read here); range 0.6-0.75 nm²
AREA_PER_LIPID_NM2 = 0.65
#: share of the outer-leaflet lipids of a PS-exposing EV that are PS (fraction).
#: assumption: PS is about a tenth of plasma-membrane lipids (textbook; e.g. van Meer et al.
#: 2008, Nat Rev Mol Cell Biol 9:112, recalled), almost all inner in a resting cell and
#: scrambled outward on microvesicles and apoptotic bodies; range 0.02-0.2
PS_SHARE = 0.10
#: plasma PS (nM) at which the membrane-assembled complexes run at half their rate with
#: membrane in excess. assumption: thrombin generation assays in platelet-poor plasma add
#: about 4 µM phospholipid with 20 mol % PS (800 nM PS) as near-saturating (CAT conditions,
#: Hemker et al. 2003, Pathophysiol Haemost Thromb 33:4, doi:10.1159/000071636, as commonly
#: reported; the numbers were not in the text checked here); range 30-500 nM
PS_HALF_NM = 150.0
#: PS of the CAT PPP reagent (nM): assumption, 4 µM phospholipid × 20 mol % PS (see
#: PS_HALF_NM); range 200-1000 nM
CAT_PS_NM = 800.0
#: TF of the CAT PPP reagent (pM): assumption, the 5 pM "PPP reagent" (1 pM "low");
#: 5 pM is also the Hockin model's reference dose; range 1-5 pM
CAT_TF_PM = 5.0
#: simulated time of one assay (min): a CAT run lasts 30-60 min
ASSAY_MINUTES = 40.0
REAGENTS = ("none", "cat")


def membrane_factor(ps_nM: float) -> float:
    """Share (0–1) of the membrane-assembled complexes' rate at ``ps_nM`` nM PS, relative to
    membrane in excess (the Hockin model's condition): PS / (PS + PS_HALF_NM)."""
    if not (math.isfinite(ps_nM) and ps_nM >= 0):
        raise EvnicheError(f"plasma phosphatidylserine must be a number of nM >= 0, got "
                           f"{ps_nM}")
    return ps_nM / (ps_nM + PS_HALF_NM)


def ps_per_ev(ds: xr.Dataset) -> xr.DataArray:
    """Exposed PS molecules per EV of each pool, ``(pool,)`` (0 where PS is not exposed)."""
    if "pool_ps" not in ds.coords:
        return xr.zeros_like(ds["pool"], dtype=float)
    classes = [str(c) for c in ds["vesicle_class"].values]
    median_nm = np.asarray(ds["class_median_um"].values, dtype=float) * 1e3
    gsd = np.asarray(ds["class_gsd"].values, dtype=float)
    mean_d2 = dict(zip(classes, median_nm ** 2 * np.exp(2 * np.log(gsd) ** 2), strict=True))
    pool_class = np.asarray(ds["pool_class"].values).astype(str)
    exposed = np.asarray(ds["pool_ps"].values, dtype=bool)
    per_ev = np.array([math.pi * mean_d2[c] / AREA_PER_LIPID_NM2 * PS_SHARE if e else 0.0
                       for c, e in zip(pool_class, exposed, strict=True)])
    return xr.DataArray(per_ev, coords={"pool": ds["pool"]}, dims=("pool",),
                        attrs={"units": "PS molecules/EV"}, name="ps_per_ev")


@dataclass(frozen=True)
class PlasmaSample:
    """What a blood draw on ``day`` brings into the assay: TF (pM) and PS (nM) on EVs, and
    the share of the TF from each source cell type and from each vesicle class (fractions;
    e.g. the apoptotic bodies of blasts dying under chemotherapy)."""

    day: float
    tf_pM: float
    ps_nM: float
    tf_sources: dict[str, float]
    tf_classes: dict[str, float]


def _pool_concentration(ds: xr.Dataset, day: float, doses: bool) -> xr.DataArray:
    conc = _plasma(ds)
    t = ds["time"].values
    if not (math.isfinite(day) and t[0] <= day <= t[-1]):
        raise EvnicheError(f"sample day {day:g} is outside the run (days {t[0]:g}-{t[-1]:g})")
    at = conc.interp(time=day)
    if doses and "ledger" in ds and "administered" in ds["term"].values:
        given = ds["ledger"].sel(term="administered", drop=True).fillna(0.0)
        k = int(np.searchsorted(t, day, side="left"))
        volume = float(ds.attrs.get("volume_blood_mL", math.nan))
        if not (math.isfinite(volume) and volume > 0):
            raise EvnicheError("the trajectory's attribute 'volume_blood_mL' (plasma volume, "
                               "mL) is missing; it is needed to turn a dose into a "
                               "concentration")
        if k > 0:
            added = (given.isel(time=k) - given.isel(time=k - 1)).clip(min=0.0)
            at = at + added / volume
    return at


def plasma_sample(ds: xr.Dataset, day: float, doses: bool = False) -> PlasmaSample:
    """Plasma TF (pM) and PS (nM) on EVs on ``day`` (days). ``doses``: count the EVs
    administered in the sampling interval before ``day`` undiluted on top (the peak of a
    bolus that leaves blood within minutes, as :func:`evniche.readouts.coagulation.
    tissue_factor_peak_per_ml`)."""
    conc = _pool_concentration(ds, float(day), doses)
    tf_by_pool = conc * tf_copies_per_ev(ds)
    tf = float(tf_by_pool.sum()) / COPIES_PER_ML_PER_PM
    ps = float((conc * ps_per_ev(ds)).sum()) / AVOGADRO * 1e3 * 1e9  # per mL -> nM
    total = float(tf_by_pool.sum())

    def shares(coord: str) -> dict[str, float]:
        keys = np.asarray(ds[coord].values).astype(str)
        out = {k: float(tf_by_pool.isel(pool=np.nonzero(keys == k)[0]).sum()) / total
               for k in sorted(set(keys))} if total > 0 else {}
        return {k: v for k, v in out.items() if v > 0}

    return PlasmaSample(float(day), tf, ps, shares("pool_source"), shares("pool_class"))


def assay(sample: PlasmaSample, reagent: str = "none",
          minutes: float = ASSAY_MINUTES) -> tuple[thrombogram.Thrombogram, hockin.ThrombinCurve]:
    """The virtual thrombogram of ``sample`` (see the module docstring for ``reagent``)."""
    if reagent not in REAGENTS:
        raise EvnicheError(f"unknown thrombin-generation reagent '{reagent}'; expected one of "
                           f"{', '.join(REAGENTS)}")
    tf, ps = sample.tf_pM, sample.ps_nM
    if reagent == "cat":
        tf, ps = tf + CAT_TF_PM, ps + CAT_PS_NM
    curve = hockin.simulate(tf, membrane=membrane_factor(ps), minutes=minutes)
    return thrombogram.read(curve), curve


#: days after a therapy starts in which :func:`sample_days` looks for its EV-TF peak (days):
#: apoptotic bodies of blasts killed by a 7-day induction course appear within two weeks
THERAPY_WINDOW_DAYS = 14.0


def sample_days(ds: xr.Dataset) -> list[float]:
    """A few days worth a blood draw (days, sorted, distinct): the first and last day, the
    day plasma EV-TF peaks, and for each therapy of the run the day EV-TF peaks within
    :data:`THERAPY_WINDOW_DAYS` of its start (e.g. apoptotic bodies after chemotherapy)."""
    import json

    from .coagulation import tissue_factor_per_ml

    t = np.asarray(ds["time"].values, dtype=float)
    tf = np.nan_to_num(tissue_factor_per_ml(ds).values)
    days = {float(t[0]), float(t[-1])}
    if tf.size and tf.max() > 0:
        days.add(float(t[int(np.argmax(tf))]))
    try:
        timeline = json.loads(ds.attrs.get("interventions", "[]") or "[]")
    except (TypeError, ValueError):
        timeline = []
    first: dict[str, float] = {}  # each therapy's first start (its items share a window)
    for e in timeline:
        if isinstance(e, dict) and "start_day" in e:
            name = str(e.get("intervention", e.get("label", "")))
            first[name] = min(first.get(name, math.inf), float(e["start_day"]))
    for start in sorted(first.values())[:3]:
        inside = np.nonzero((t >= start) & (t <= start + THERAPY_WINDOW_DAYS))[0]
        if inside.size:
            days.add(float(t[inside[int(np.argmax(tf[inside]))]]))
    return sorted(days)


def table(ds: xr.Dataset, days: list[float] | None = None, reagent: str = "none"
          ) -> list[dict[str, float]]:
    """One row per sample day (default :func:`sample_days`): day, TF (pM), PS (nM), the
    membrane factor and the thrombogram (lag and time to peak in min, peak in nM, ETP in
    nM·min, velocity in nM/min). Empty when no pool of the model carries TF."""
    if not float(tf_copies_per_ev(ds).sum()) > 0 and reagent == "none":
        return []
    rows = []
    for day in days if days is not None else sample_days(ds):
        sample = plasma_sample(ds, day)
        readout, _ = assay(sample, reagent)
        rows.append({"day": sample.day, "tf_pM": sample.tf_pM, "ps_nM": sample.ps_nM,
                     "tf_apoptotic_share": sample.tf_classes.get("apoptotic_body", 0.0),
                     "membrane": readout.membrane, "lag_min": readout.lag_min,
                     "peak_nM": readout.peak_nM,
                     "time_to_peak_min": readout.time_to_peak_min,
                     "etp_nM_min": readout.etp_nM_min,
                     "velocity_nM_per_min": readout.velocity_nM_per_min})
    return rows


def describe(row: dict[str, float]) -> str:
    """One line for a table row: 'day 12: TF 0.8 pM, PS 40 nM → lag 6.1 min, peak …'."""
    head = f"day {row['day']:.0f}: TF {row['tf_pM']:.3g} pM"
    if row.get("tf_apoptotic_share", 0.0) >= 0.01:
        head += f" ({100 * row['tf_apoptotic_share']:.0f} % on apoptotic bodies)"
    head += f", PS {row['ps_nM']:.3g} nM"
    if not math.isfinite(row["lag_min"]):
        return head + f" → no thrombin burst within {ASSAY_MINUTES:g} min (peak " \
            f"{row['peak_nM']:.2g} nM)"
    return head + (f" → lag {row['lag_min']:.1f} min, peak {row['peak_nM']:.0f} nM at "
                   f"{row['time_to_peak_min']:.1f} min, ETP {row['etp_nM_min']:.0f} nM·min")
