"""Who talks to whom: the EV communication matrix and the cargo flows of a Trajectory.

The Trajectory's ``communication(time, source, target)`` holds EVs delivered per day
from each source cell type to each target cell type; entry ``k > 0`` is the mean rate over
the output interval (t[k−1], t[k]] (entry 0 repeats entry 1). ``cargo_delivered(time,
source, target, cargo)`` is the same in copies per day. A window average therefore
weights each interval's rate by its length, so that rate × window length equals the
increase of the cumulative uptake in the ledger over the window exactly.

Tables are tidy pandas DataFrames (one row per source, target [, cargo]). Deliveries
cannot be negative: a negative rate is solver round-off on a flow that has stopped
(-1e-12 EV/day) and the tables show it as 0; the trajectory keeps the raw values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import EvnicheError
from .clinical import value_at


def window_mean(da: xr.DataArray, start: float, end: float) -> xr.DataArray:
    """Time-weighted mean (same unit as ``da``) over the window [start, end] (days) of a
    per-interval rate variable such as ``communication``.

    Interval k (t[k−1], t[k]] counts by the length of its overlap with the window.
    """
    t = np.asarray(da["time"].values, dtype=float)
    if len(t) < 2:
        return da.isel(time=0)
    start, end = max(float(start), t[0]), min(float(end), t[-1])
    if not end > start:
        raise EvnicheError(f"the window [{start:g}, {end:g}] days holds no time of the "
                           f"trajectory ({t[0]:g}–{t[-1]:g} days)")
    overlap = np.clip(np.minimum(t[1:], end) - np.maximum(t[:-1], start), 0.0, None)
    weights = xr.DataArray(np.concatenate([[0.0], overlap]) / (end - start),
                           coords={"time": da["time"]}, dims="time")
    return (da.fillna(0.0) * weights).sum("time")


def _select(da: xr.DataArray, day: float | None, window: tuple[float, float] | None,
            last_days: float | None) -> xr.DataArray:
    if sum(x is not None for x in (day, window, last_days)) > 1:
        raise EvnicheError("give at most one of day, window or last_days")
    if window is not None:
        return window_mean(da, *window)
    if last_days is not None:
        end = float(da["time"].values[-1])
        return window_mean(da, end - float(last_days), end)
    if day is None:
        return da.isel(time=-1)
    return value_at(da, day)


def communication_matrix(ds: xr.Dataset, day: float | None = None,
                         window: tuple[float, float] | None = None,
                         last_days: float | None = None) -> pd.DataFrame:
    """Source × target matrix of EVs delivered per day (EV/day).

    At ``day`` (days; interpolated), averaged over ``window`` = (start, end) days or over
    the ``last_days`` of the run; at the last sample if none is given. Rows: source cell
    types; columns: target cell types. Round-off negatives read 0.
    """
    if "communication" not in ds:
        raise EvnicheError("the trajectory has no 'communication(time, source, target)'")
    mat = _select(ds["communication"], day, window, last_days).clip(min=0.0)
    return mat.transpose("source", "target").to_pandas()


def communication_table(ds: xr.Dataset, day: float | None = None,
                        window: tuple[float, float] | None = None,
                        last_days: float | None = None) -> pd.DataFrame:
    """The communication matrix as a tidy table: source, target, evs_per_day (EV/day),
    sorted by flow, largest first."""
    mat = communication_matrix(ds, day, window, last_days)
    tidy = mat.stack().rename("evs_per_day").reset_index()
    tidy.columns = ["source", "target", "evs_per_day"]
    return tidy.sort_values("evs_per_day", ascending=False, ignore_index=True)


def cargo_flows(ds: xr.Dataset, top: int | None = 10, day: float | None = None,
                window: tuple[float, float] | None = None,
                last_days: float | None = None) -> pd.DataFrame:
    """Top cargo flows: source, target, cargo, copies_per_day (copies/day), largest first.

    Flows of zero are left out; ``top=None`` keeps all.
    """
    if "cargo_delivered" not in ds:
        raise EvnicheError("the trajectory has no 'cargo_delivered(time, source, target, "
                           "cargo)'")
    flows = _select(ds["cargo_delivered"], day, window, last_days)
    if flows.size == 0:
        return pd.DataFrame(columns=["source", "target", "cargo", "copies_per_day"])
    tidy = flows.transpose("source", "target", "cargo").to_dataframe(
        name="copies_per_day").reset_index()[["source", "target", "cargo", "copies_per_day"]]
    tidy = tidy[tidy["copies_per_day"] > 0]
    tidy = tidy.sort_values("copies_per_day", ascending=False, ignore_index=True)
    return tidy if top is None else tidy.head(top).reset_index(drop=True)


def delivered_total(ds: xr.Dataset, start: float, end: float) -> float:
    """EVs delivered to all targets over [start, end] days (EVs): the window-mean
    communication summed over source and target, × window length."""
    t = ds["time"].values
    start, end = max(float(start), t[0]), min(float(end), t[-1])
    return float(window_mean(ds["communication"], start, end).sum()) * (end - start)
