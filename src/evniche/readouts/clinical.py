"""Clinical readouts of a Trajectory: what a hematologist reads off a marrow and a blood count.

All functions are pure functions of a Trajectory ``xarray.Dataset`` (see
:mod:`evniche.engines.trajectory`); they never know which engine produced it. Time is in
days; cell numbers are counts (cells); percentages are in % (0–100).

Definitions used throughout:

* **marrow cellularity**: the sum of ``cells`` over the cell types listed in
  ``ds.attrs["marrow_counted"]`` (";"-joined: the normal and leukemic hematopoietic
  types that live in the marrow; stroma and immune cells are not counted, as on a
  marrow differential).
* **blast %**: the leukemic cell types (``ds.attrs["leukemic"]``) that live in the marrow
  (i.e. that are also marrow-counted), over marrow cellularity, × 100.
* **normal blood output**: the count of cell types *named* ``mature`` (case-insensitive)
  that are not leukemic. The models use one lumped ``mature`` compartment for the
  differentiated progeny of normal hematopoiesis (the Marciniak-Czochra / Stiehl
  structure, HSC → progenitor → mature), so a fall of this number is the model's
  cytopenia. Platelets or other named blood cells are not added in, because models
  differ in which of them they carry; pass ``names`` to choose others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from ..errors import EvnicheError

#: cell-type names read as normal hematopoietic stem and progenitor cells
NORMAL_STEM_PROGENITOR = ("HSC", "progenitor")
#: cell-type names read as normal blood output
MATURE = ("mature",)


def names_attr(ds: xr.Dataset, key: str) -> list[str]:
    """The cell-type names in the ";"-joined attribute ``key`` (empty list if absent)."""
    raw = ds.attrs.get(key, "")
    if isinstance(raw, list | tuple | np.ndarray):
        return [str(x) for x in raw if str(x)]
    return [part for part in str(raw).split(";") if part]


def _cells(ds: xr.Dataset) -> xr.DataArray:
    if "cells" not in ds:
        raise EvnicheError("the trajectory has no 'cells' variable; expected cells(time, "
                           "cell_type) as every engine writes it")
    return ds["cells"]


def _sum_types(ds: xr.DataArray | xr.Dataset, names: Sequence[str]) -> xr.DataArray:
    cells = _cells(ds) if isinstance(ds, xr.Dataset) else ds
    present = [n for n in names if n in cells["cell_type"].values]
    if not present:
        return xr.zeros_like(cells.isel(cell_type=0, drop=True))
    return cells.sel(cell_type=present).sum("cell_type")


def marrow_cellularity(ds: xr.Dataset) -> xr.DataArray:
    """Marrow cellularity over time (cells): ``cells`` summed over marrow-counted types."""
    counted = names_attr(ds, "marrow_counted")
    if not counted:
        raise EvnicheError("the trajectory's attribute 'marrow_counted' names no cell type; "
                           "expected the ';'-joined marrow cell types")
    out = _sum_types(ds, counted)
    out.attrs["units"] = "cells"
    return out.rename("marrow_cellularity")


def leukemic_marrow(ds: xr.Dataset) -> xr.DataArray:
    """Leukemic cells in the marrow over time (cells)."""
    counted = set(names_attr(ds, "marrow_counted"))
    leuk = [n for n in names_attr(ds, "leukemic") if n in counted]
    out = _sum_types(ds, leuk)
    out.attrs["units"] = "cells"
    return out.rename("leukemic_marrow")


def blast_percent(ds: xr.Dataset) -> xr.DataArray:
    """Blast % of marrow cells over time (%, 0–100; NaN where the marrow is empty)."""
    total = marrow_cellularity(ds)
    leuk = leukemic_marrow(ds)
    pct = 100.0 * leuk / total.where(total > 0)
    pct.attrs["units"] = "%"
    return pct.rename("blast_percent")


def normal_stem_progenitor(ds: xr.Dataset,
                           names: Sequence[str] = NORMAL_STEM_PROGENITOR) -> xr.DataArray:
    """Counts (cells) over time of the normal HSC and progenitor types present.

    Returns ``(time, cell_type)``; types in ``names`` missing from the model are left out,
    leukemic types are never included.
    """
    cells = _cells(ds)
    leuk = set(names_attr(ds, "leukemic"))
    present = [n for n in names if n in cells["cell_type"].values and n not in leuk]
    return cells.sel(cell_type=present)


def normal_blood_output(ds: xr.Dataset, names: Sequence[str] = MATURE) -> xr.DataArray:
    """Normal blood output over time (cells): non-leukemic types named ``mature``.

    Names match case-insensitively. NaN over time if the model has no such type.
    """
    cells = _cells(ds)
    leuk = set(names_attr(ds, "leukemic"))
    wanted = {n.lower() for n in names}
    present = [str(n) for n in cells["cell_type"].values
               if str(n).lower() in wanted and str(n) not in leuk]
    if not present:
        out = xr.full_like(cells.isel(cell_type=0, drop=True), np.nan)
    else:
        out = cells.sel(cell_type=present).sum("cell_type")
    out.attrs["units"] = "cells"
    return out.rename("normal_blood_output")


def first_crossing(times: np.ndarray, values: np.ndarray, threshold: float) -> float | None:
    """First time (same unit as ``times``) at which ``values`` reaches ``threshold``.

    Linear interpolation between the sample before and the first sample at or above the
    threshold; the first sample itself if it is already at or above; ``None`` if never.
    NaN samples are skipped.
    """
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values) & np.isfinite(times)
    times, values = times[ok], values[ok]
    above = np.nonzero(values >= threshold)[0]
    if above.size == 0:
        return None
    k = int(above[0])
    if k == 0:
        return float(times[0])
    t0, t1, v0, v1 = times[k - 1], times[k], values[k - 1], values[k]
    return float(t0 + (threshold - v0) * (t1 - t0) / (v1 - v0))


def takeover_day(ds: xr.Dataset, threshold: float = 20.0) -> float | None:
    """First day (days) on which marrow blast % reaches ``threshold`` (%; 20 % is the WHO
    blast threshold for AML), linearly interpolated between samples; ``None`` if never."""
    if not 0 < threshold <= 100:
        raise EvnicheError(f"take-over threshold must be a blast % in (0, 100], got {threshold}")
    pct = blast_percent(ds)
    return first_crossing(ds["time"].values, pct.values, threshold)


def value_at(da: xr.DataArray, day: float | None = None) -> xr.DataArray:
    """``da`` at ``day`` (days; linear interpolation), or at the last sample if ``None``."""
    if day is None:
        return da.isel(time=-1)
    t = da["time"].values
    if not t[0] <= day <= t[-1]:
        raise EvnicheError(f"day {day} lies outside the trajectory ({t[0]:g}–{t[-1]:g} days)")
    return da.interp(time=day)


def normal_output_drop(ds: xr.Dataset, day: float | None = None,
                       names: Sequence[str] = MATURE) -> float:
    """Relative drop of normal blood output from day 0 (first sample) to ``day`` (last
    sample if ``None``): ``1 − output(day) / output(start)``, a fraction (0.3 = 30 % lower;
    negative if output rose). NaN if the model has no mature type or starts with none."""
    out = normal_blood_output(ds, names)
    start = float(out.isel(time=0))
    end = float(value_at(out, day))
    if not np.isfinite(start) or start <= 0:
        return float("nan")
    return 1.0 - end / start


def summary(ds: xr.Dataset, threshold: float = 20.0) -> dict[str, float | None]:
    """The headline numbers: take-over day (days or None), blast % at start and end (%),
    marrow cellularity at the end (cells), normal output drop (fraction)."""
    pct = blast_percent(ds)
    return {
        "takeover_day": takeover_day(ds, threshold),
        "blast_percent_start": float(pct.isel(time=0)),
        "blast_percent_end": float(pct.isel(time=-1)),
        "marrow_cellularity_end": float(marrow_cellularity(ds).isel(time=-1)),
        "normal_output_drop": normal_output_drop(ds),
    }
