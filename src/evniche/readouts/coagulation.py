"""Coagulation risk: tissue factor carried by plasma EVs (a readout of side effects).

Seed 000 warns that applying ExMVs "bears the risk of hypercoagulation, acute fibrinolysis,
and the development of cardiovascular complications [68]" and that "the induction of
coagulation is a feature of both normal platelet ExMVs and leukemic ExMVs, as both may
express tissue factor" (knowledge base: ``risk-hypercoagulation``, ``marker-tissue-factor``).
The models carry tissue factor (TF) as a cargo of the pools that bear it (copies per EV:
platelet dust, leukemic microvesicles, EV products), so the procoagulant load of plasma is

    TF(t) = Σ_pool  EV/mL of the pool in plasma × TF copies per EV of the pool

in TF copies per mL of plasma — the quantity an EV-TF activity assay on a blood draw
tracks. It is a proxy of risk, not a clotting time: no coagulation cascade is simulated.
:func:`coagulation_risk` gives it relative to a baseline (the first sample, i.e. before the
disease grew or a therapy started, unless another baseline is given).

Pure functions of a Trajectory ``xarray.Dataset``; time in days.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import EvnicheError
from .liquid_biopsy import _plasma, copies_table

#: names under which a model may carry tissue factor (cargo or marker), compared loosely
TF_NAMES = ("tissue_factor", "tissue factor", "TF", "CD142")


def _is_tf(name: str) -> bool:
    key = str(name).replace(" ", "_").casefold()
    return key in {n.replace(" ", "_").casefold() for n in TF_NAMES}


def tf_copies_per_ev(ds: xr.Dataset) -> xr.DataArray:
    """Tissue-factor copies per EV of each pool, ``(pool,)`` in copies/EV (0 where none)."""
    table = copies_table(ds).fillna(0.0)
    names = [c for c in table["cargo"].values if _is_tf(c)]
    if not names:
        return xr.zeros_like(table.isel(cargo=0, drop=True)) if table.sizes.get("cargo") \
            else xr.DataArray(np.zeros(ds.sizes["pool"]), coords={"pool": ds["pool"]},
                              dims=("pool",))
    out = table.sel(cargo=names).sum("cargo")
    out.attrs["units"] = "copies/EV"
    return out.rename("tf_copies_per_ev")


def tissue_factor_per_ml(ds: xr.Dataset) -> xr.DataArray:
    """Plasma tissue factor on EVs over time (TF copies per mL of plasma).

    Zero at all times when no pool of the model carries tissue factor as cargo."""
    conc = _plasma(ds)
    out = (conc * tf_copies_per_ev(ds)).sum("pool")
    out.attrs["units"] = "copies/mL"
    return out.rename("plasma_tissue_factor")


def tissue_factor_peak_per_ml(ds: xr.Dataset) -> xr.DataArray:
    """Plasma EV tissue factor over time with administered EVs counted at their peak
    (TF copies per mL of plasma).

    A dose of EVs enters blood as a bolus and is cleared within minutes (EV half-life in
    blood), so samples hours apart miss its peak. Here each sample also carries the tissue
    factor of the EVs administered since the previous sample (the ``administered`` ledger),
    undiluted on top of the sampled background: an upper bound of the peak in the interval.
    Without doses this equals :func:`tissue_factor_per_ml`."""
    tf = tissue_factor_per_ml(ds)
    if "ledger" not in ds or "administered" not in ds["term"].values:
        return tf
    given = ds["ledger"].sel(term="administered", drop=True)
    added = given.diff("time", label="upper").reindex(time=ds["time"], fill_value=0.0)
    added = added.fillna(0.0).clip(min=0.0)
    volume = float(ds.attrs.get("volume_blood_mL", np.nan))
    if not np.isfinite(volume) or volume <= 0:
        raise EvnicheError("the trajectory's attribute 'volume_blood_mL' (plasma volume, mL) "
                           "is missing; it is needed to turn a dose into a concentration")
    out = tf + (added * tf_copies_per_ev(ds)).sum("pool") / volume
    out.attrs["units"] = "copies/mL"
    return out.rename("plasma_tissue_factor_peak")


def tf_sources(ds: xr.Dataset, day: float | None = None) -> xr.DataArray:
    """Share of plasma EV tissue factor from each source cell type at ``day`` (days; last
    sample if None), ``(source,)`` as a fraction; NaN when plasma carries none."""
    conc = _plasma(ds)
    conc = conc.isel(time=-1) if day is None else conc.interp(time=day)
    per_pool = conc * tf_copies_per_ev(ds)
    src = np.asarray(ds["pool_source"].values).astype(str)
    names = sorted(set(src))
    total = float(per_pool.sum())
    shares = [float(per_pool.isel(pool=np.nonzero(src == s)[0]).sum()) / total
              if total > 0 else np.nan for s in names]
    return xr.DataArray(shares, coords={"source": names}, dims=("source",),
                        attrs={"units": "fraction"}, name="tf_share")


def coagulation_risk(ds: xr.Dataset, baseline: float | None = None) -> xr.DataArray:
    """Plasma EV tissue factor relative to ``baseline`` (TF copies/mL; default: the first
    sample), over time — a fold (1 = no change). NaN if the baseline is 0."""
    tf = tissue_factor_per_ml(ds)
    base = float(tf.isel(time=0)) if baseline is None else float(baseline)
    if not np.isfinite(base) or base < 0:
        raise EvnicheError(f"coagulation baseline must be a number >= 0, got {baseline}")
    out = tf / base if base > 0 else xr.full_like(tf, np.nan)
    out.attrs["units"] = "fold of baseline"
    return out.rename("coagulation_risk")


def summary(ds: xr.Dataset) -> dict[str, float]:
    """Headline numbers: TF per mL at start and end (copies/mL), peak fold over the start,
    and the day of the peak (days)."""
    tf = tissue_factor_per_ml(ds)
    start, end = float(tf.isel(time=0)), float(tf.isel(time=-1))
    k = int(np.argmax(tf.values)) if tf.size else 0
    peak = float(tf.values[k]) if tf.size else float("nan")
    return {"tf_start_per_ml": start, "tf_end_per_ml": end,
            "tf_peak_fold": peak / start if start > 0 else float("nan"),
            "tf_peak_day": float(ds["time"].values[k]) if tf.size else float("nan")}
