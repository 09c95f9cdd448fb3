"""Liquid-biopsy readouts: what a blood draw would show about the EVs of a Trajectory.

Everything is read in the ``blood`` compartment (plasma). Units: EV concentrations in
EVs per mL of plasma (EV/mL), cargo in copies per mL, sizes in nm (the Dataset stores
class sizes in µm: ``class_median_um`` …), time in days.

* :func:`plasma_concentration` — EV/mL by vesicle class over time.
* :func:`plasma_by_source` — EV/mL by the secreting cell type over time.
* :func:`cargo_per_ml` — cargo copies per mL of plasma over time.
* :func:`marker_profile` — share of plasma EVs carrying each surface marker.
* :func:`nta_histogram` — a virtual nanoparticle-tracking (NTA) size histogram.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import ndtr

from ..errors import EvnicheError
from .clinical import value_at

BLOOD = "blood"
#: NTA detection window (nm): typical NanoSight/ZetaView lower and upper limits
NTA_DETECTION_NM = (50.0, 1000.0)
#: NTA histogram bin width (nm), as instruments export it
NTA_BIN_WIDTH_NM = 10.0


def _plasma(ds: xr.Dataset) -> xr.DataArray:
    if "ev_concentration" not in ds:
        raise EvnicheError("the trajectory has no 'ev_concentration' variable; expected "
                           "ev_concentration(time, pool, compartment) in EV/mL")
    if BLOOD not in ds["compartment"].values:
        raise EvnicheError("the trajectory has no 'blood' compartment to read a liquid "
                           "biopsy from")
    return ds["ev_concentration"].sel(compartment=BLOOD, drop=True)


def plasma_concentration(ds: xr.DataArray | xr.Dataset) -> xr.DataArray:
    """Plasma EV concentration by vesicle class, ``(time, vesicle_class)`` in EV/mL.

    The sum of ``ev_concentration`` in blood over the pools of each class; a class with no
    pool (nothing secretes it) reads 0.
    """
    conc = _plasma(ds)
    classes = [str(c) for c in ds["vesicle_class"].values] if "vesicle_class" in ds.coords \
        else sorted({str(c) for c in ds["pool_class"].values})
    pool_class = np.asarray(ds["pool_class"].values).astype(str)
    columns = []
    for cls in classes:
        mask = pool_class == cls
        columns.append(conc.isel(pool=np.nonzero(mask)[0]).sum("pool"))
    out = xr.concat(columns, dim=pd.Index(classes, name="vesicle_class")) if columns else \
        xr.zeros_like(conc.isel(pool=0, drop=True)).expand_dims(vesicle_class=[])
    out = out.transpose("time", "vesicle_class")
    out.attrs["units"] = "EV/mL"
    return out.rename("plasma_ev_concentration")


def plasma_by_source(ds: xr.Dataset) -> xr.DataArray:
    """Plasma EV concentration by the cell type that secreted it, ``(time, source)`` in
    EV/mL: ``ev_concentration`` in blood summed over the pools of each ``pool_source``
    (round-off negatives read 0). Empty ``source`` if the trajectory has no pools."""
    conc = _plasma(ds).clip(min=0.0)
    sources = np.asarray(ds["pool_source"].values).astype(str) if "pool_source" in \
        ds.coords else np.array([], dtype=str)
    names = list(dict.fromkeys(sources))
    columns = [conc.isel(pool=np.nonzero(sources == n)[0]).sum("pool") for n in names]
    out = xr.concat(columns, dim=pd.Index(names, name="source")) if columns else \
        xr.zeros_like(conc.isel(pool=0, drop=True) if conc.sizes.get("pool") else
                      conc.sum("pool")).expand_dims(source=[])
    out = out.transpose("time", "source")
    out.attrs["units"] = "EV/mL"
    return out.rename("plasma_ev_by_source")


def copies_table(ds: xr.Dataset,
                 copies: Mapping[str, Mapping[str, float]] | xr.DataArray | None = None
                 ) -> xr.DataArray:
    """Copies of each cargo per EV of each pool, ``(pool, cargo)`` (copies/EV).

    ``copies`` maps pool name → {cargo: copies per EV}; pools or cargo not given carry 0.
    Without it the Dataset's ``pool_cargo(pool, cargo)`` variable is used.
    """
    if isinstance(copies, xr.DataArray):
        return copies
    if copies is None:
        if "pool_cargo" in ds:
            return ds["pool_cargo"]
        raise EvnicheError("cargo per mL needs copies per EV: the trajectory has no "
                           "'pool_cargo(pool, cargo)' variable, and no 'copies' mapping "
                           "(pool → {cargo: copies per EV}) was given")
    pools = [str(p) for p in ds["pool"].values]
    unknown = [p for p in copies if p not in pools]
    if unknown:
        raise EvnicheError(f"copies given for unknown pool(s) {', '.join(unknown)}; "
                           f"pools: {', '.join(pools)}")
    cargos = sorted({str(c) for per in copies.values() for c in per}
                    | {str(c) for c in ds.coords.get("cargo", xr.DataArray([])).values})
    table = np.zeros((len(pools), len(cargos)))
    for pool, per in copies.items():
        for cargo, n in per.items():
            if not np.isfinite(n) or n < 0:
                raise EvnicheError(f"copies of '{cargo}' per EV of pool '{pool}' must be a "
                                   f"finite number >= 0, got {n}")
            table[pools.index(pool), cargos.index(cargo)] = n
    return xr.DataArray(table, coords={"pool": pools, "cargo": cargos},
                        dims=("pool", "cargo"), attrs={"units": "copies/EV"})


def cargo_per_ml(ds: xr.Dataset,
                 copies: Mapping[str, Mapping[str, float]] | xr.DataArray | None = None
                 ) -> xr.DataArray:
    """Cargo copies per mL of plasma, ``(time, cargo)``: Σ_pool EV/mL × copies/EV.

    See :func:`copies_table` for ``copies``.
    """
    table = copies_table(ds, copies).fillna(0.0)
    conc = _plasma(ds)
    out = (conc * table).sum("pool").transpose("time", "cargo")
    out.attrs["units"] = "copies/mL"
    return out.rename("plasma_cargo")


#: names under which a model may list exposed phosphatidylserine as a marker
PS_NAMES = ("phosphatidylserine", "PS")


def _pool_markers(ds: xr.Dataset) -> list[set[str]]:
    raw = ds["pool_markers"].values if "pool_markers" in ds.coords else [""] * ds.sizes["pool"]
    markers = [{m for m in str(x).split(";") if m} for x in raw]
    if "pool_ps" in ds.coords:
        named = {m for ms in markers for m in ms if m.lower() in {n.lower() for n in PS_NAMES}}
        ps_name = sorted(named)[0] if named else "PS"
        for i, ps in enumerate(ds["pool_ps"].values):
            if bool(ps):
                markers[i].add(ps_name)
    return markers


def marker_profile(ds: xr.Dataset) -> xr.DataArray:
    """Share of plasma EVs carrying each surface marker, ``(time, marker)``, a fraction 0–1.

    Markers come from the pool coordinate ``pool_markers``; pools with exposed
    phosphatidylserine (``pool_ps``) count as carrying it, under the name the model uses
    for it among the markers (``phosphatidylserine``/``PS``), else ``PS``. Shares do not add to 1
    (an EV carries several markers). NaN where plasma holds no EVs.
    """
    conc = _plasma(ds)
    markers = _pool_markers(ds)
    names = sorted(set().union(*markers)) if markers else []
    total = conc.sum("pool")
    rows = []
    for name in names:
        idx = [i for i, ms in enumerate(markers) if name in ms]
        rows.append(conc.isel(pool=idx).sum("pool") / total.where(total > 0))
    if not rows:
        return xr.DataArray(np.zeros((ds.sizes["time"], 0)),
                            coords={"time": ds["time"], "marker": np.array([], dtype=str)},
                            dims=("time", "marker"))
    out = xr.concat(rows, dim=pd.Index(names, name="marker")).transpose("time", "marker")
    out.attrs["units"] = "fraction of plasma EVs"
    return out.rename("marker_share")


@dataclass
class NTAHistogram:
    """A virtual NTA size histogram of plasma EVs.

    ``edges_nm``: bin edges (nm, n+1); ``per_ml``: particles per mL of plasma in each bin
    (n); ``by_class``: the same per vesicle class; ``day``: when it was read (days).
    """

    edges_nm: np.ndarray
    per_ml: np.ndarray
    by_class: dict[str, np.ndarray] = field(default_factory=dict)
    day: float = float("nan")

    @property
    def centers_nm(self) -> np.ndarray:
        """Bin centres (nm)."""
        return 0.5 * (self.edges_nm[:-1] + self.edges_nm[1:])

    @property
    def total_per_ml(self) -> float:
        """Particles per mL detected in the whole window."""
        return float(self.per_ml.sum())

    @property
    def mode_nm(self) -> float:
        """Centre of the fullest bin (nm); NaN if the histogram is empty."""
        if not self.per_ml.any():
            return float("nan")
        return float(self.centers_nm[int(np.argmax(self.per_ml))])

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: bin_low_nm, bin_high_nm, particles_per_mL and one column per class."""
        frame = pd.DataFrame({"bin_low_nm": self.edges_nm[:-1],
                              "bin_high_nm": self.edges_nm[1:],
                              "particles_per_mL": self.per_ml})
        for name, values in self.by_class.items():
            frame[name] = values
        return frame


def truncated_lognormal_mass(edges: np.ndarray, median: float, gsd: float, low: float,
                             high: float) -> np.ndarray:
    """Probability mass in each bin ``edges`` (any length unit, same as the others) of a
    log-normal with ``median`` and geometric SD ``gsd`` truncated to [``low``, ``high``].

    Sums to 1 when the bins cover [low, high]. ``gsd == 1`` is a point mass at the median.
    """
    edges = np.asarray(edges, dtype=float)
    lo_e = np.clip(edges[:-1], low, high)
    hi_e = np.clip(edges[1:], low, high)
    if gsd <= 1.0 + 1e-12:
        return ((edges[:-1] <= median) & (median < edges[1:])).astype(float)
    sigma = np.log(gsd)

    def cdf(x: np.ndarray | float) -> np.ndarray:
        return ndtr((np.log(x) - np.log(median)) / sigma)

    norm = cdf(high) - cdf(low)
    if norm <= 0:
        return np.zeros(len(edges) - 1)
    return np.maximum(cdf(hi_e) - cdf(lo_e), 0.0) / norm


def nta_histogram(ds: xr.Dataset, day: float | None = None,
                  detection_nm: tuple[float, float] = NTA_DETECTION_NM,
                  bin_width_nm: float = NTA_BIN_WIDTH_NM,
                  edges_nm: np.ndarray | None = None) -> NTAHistogram:
    """Virtual NTA size histogram of plasma EVs at ``day`` (days; the last sample if None).

    Each vesicle class contributes a log-normal size distribution with median
    ``class_median_um`` and geometric SD ``class_gsd``, truncated to
    [``class_min_um``, ``class_max_um``], weighted by its plasma concentration (EV/mL).
    Only particles inside ``detection_nm`` (nm; NTA sees about 50–1000 nm) are counted,
    in bins ``bin_width_nm`` wide (nm) — or in the bins ``edges_nm`` (nm) if given.
    On linear bins the fullest bin lies near the log-normal mode, median·exp(−ln²gsd).
    """
    lo, hi = (float(x) for x in detection_nm)
    if not 0 < lo < hi:
        raise EvnicheError(f"NTA detection window must be 0 < low < high nm, got {detection_nm}")
    if edges_nm is None:
        if not bin_width_nm > 0:
            raise EvnicheError(f"NTA bin width must be > 0 nm, got {bin_width_nm}")
        n = max(1, int(np.ceil((hi - lo) / bin_width_nm - 1e-9)))
        edges = lo + bin_width_nm * np.arange(n + 1)
        edges[-1] = min(edges[-1], hi)
    else:
        edges = np.asarray(edges_nm, dtype=float)
        if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
            raise EvnicheError("NTA bin edges must be an increasing 1-D array of >= 2 nm values")
        edges = np.clip(edges, lo, hi)
    conc = value_at(plasma_concentration(ds), day)
    per_ml = np.zeros(len(edges) - 1)
    by_class: dict[str, np.ndarray] = {}
    for cls in conc["vesicle_class"].values:
        c = ds.sel(vesicle_class=cls)
        to_nm = 1000.0  # µm → nm
        mass = truncated_lognormal_mass(
            edges, float(c["class_median_um"]) * to_nm, float(c["class_gsd"]),
            float(c["class_min_um"]) * to_nm, float(c["class_max_um"]) * to_nm)
        counts = float(conc.sel(vesicle_class=cls)) * mass
        by_class[str(cls)] = counts
        per_ml += counts
    day_read = float(ds["time"].values[-1]) if day is None else float(day)
    return NTAHistogram(edges_nm=edges, per_ml=per_ml, by_class=by_class, day=day_read)
