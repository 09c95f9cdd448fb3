"""Harmful cargo transfer: where the cargo of an administered EV product lands.

An EV product (MSC-EVs, engineered EVs, drug-loaded EVs, NK-cell exosomes: the therapies of
:mod:`evniche.compile.therapies`) is taken up by every cell type that the model's uptake
routes and tropism let take up its EVs, not only by the leukemic cells it is meant for. The
engine already books every delivery: ``cargo_delivered(time, source, target, cargo)``
(copies per day). This module sums, over a window after the first dose, the copies of
each cargo of the administered pools that reach each group of cells:

* **on target** — the leukemic cell types (lineage ``leukemic``): the efficacy side;
* **normal HSPCs** — the normal HSC, MPP and progenitor types (healthy hematopoiesis);
* **stroma** — lineage ``stroma`` (MSCs, endothelium: the niche);
* **immune** — lineage ``immune``;
* **other normal** — the other normal and blood types.

Per dose (copies / number of doses) and per cell (divided by the group's mean count over the
window). Copies from the product's source cell type that the untreated control also
delivers (MSC-EVs the MSCs make themselves) are subtracted when the control is given, so
the table is what the doses add. Nothing here judges the harm of a copy: the cargo names
say what is transferred (a miRNA, tissue factor, a drug, FasL), the counts say how much.

Pure functions of Trajectories; time in days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import EvnicheError
from .clinical import NORMAL_STEM_PROGENITOR

ON_TARGET = "on target (leukemic)"
GROUPS = (ON_TARGET, "normal HSPCs", "stroma", "immune", "other normal")


def administered_pools(ds: xr.Dataset) -> list[str]:
    """Pools of which the run administered EVs (the ``administered`` ledger term > 0)."""
    if "ledger" not in ds or "administered" not in ds["term"].values:
        return []
    given = ds["ledger"].sel(term="administered", drop=True).isel(time=-1).fillna(0.0)
    return [str(p) for p, v in zip(ds["pool"].values, given.values, strict=True) if v > 0]


def doses(ds: xr.Dataset) -> int:
    """Number of dosing events: the samples at which the administered ledger rises (doses
    closer than the output interval count once)."""
    if not administered_pools(ds):
        return 0
    total = ds["ledger"].sel(term="administered", drop=True).fillna(0.0).sum("pool").values
    return int(np.count_nonzero(np.diff(total) > 0) + (total[0] > 0))


def group_of(ds: xr.Dataset) -> dict[str, str]:
    """Each cell type's group (one of :data:`GROUPS`)."""
    lineage = dict(zip(ds["cell_type"].values.astype(str),
                       ds["cell_lineage"].values.astype(str), strict=True)) \
        if "cell_lineage" in ds.coords else {}
    leukemic = {n for n in str(ds.attrs.get("leukemic", "")).split(";") if n}
    out = {}
    for name in ds["cell_type"].values.astype(str):
        kind = lineage.get(name, "normal")
        if name in leukemic or kind == "leukemic":
            out[name] = ON_TARGET
        elif name in NORMAL_STEM_PROGENITOR:
            out[name] = "normal HSPCs"
        elif kind in ("stroma", "immune"):
            out[name] = kind
        else:
            out[name] = "other normal"
    return out


def _window_sum(da: xr.DataArray, start: float, end: float) -> xr.DataArray:
    """∫ da dt over [start, end] days (da per day), trapezoid on the samples inside."""
    part = da.sel(time=slice(start, end))
    if part.sizes["time"] < 2:
        return part.isel(time=0, drop=True) * 0.0 if part.sizes["time"] else \
            da.isel(time=0, drop=True) * 0.0
    return part.integrate("time")


def delivery(treated: xr.Dataset, start: float, end: float,
             control: xr.Dataset | None = None) -> pd.DataFrame:
    """Copies of each cargo of the administered pools delivered to each group of cells in
    [start, end] days: columns cargo, group, copies (total), per_dose, per_cell (per dose
    and per cell of the group). Empty when the run administered nothing.

    ``control`` (the same model without the therapy) removes what the product's source cell
    type delivers anyway."""
    if not end > start:
        raise EvnicheError(f"the delivery window must end after it starts, got {start:g}-"
                           f"{end:g} days")
    pools = administered_pools(treated)
    if not pools:
        return pd.DataFrame(columns=["cargo", "group", "copies", "per_dose", "per_cell"])
    if "cargo_delivered" not in treated:
        raise EvnicheError("the trajectory has no 'cargo_delivered(time, source, target, "
                           "cargo)' variable to read the product's deliveries from")
    pool_index = [list(treated["pool"].values.astype(str)).index(p) for p in pools]
    sources = sorted({str(treated["pool_source"].values[i]) for i in pool_index})
    table = treated["pool_cargo"].isel(pool=pool_index).fillna(0.0)
    cargos = [str(c) for c in table["cargo"].values if float(table.sel(cargo=c).sum()) > 0]
    delivered = _window_sum(treated["cargo_delivered"].sel(source=sources, cargo=cargos)
                            .sum("source"), start, end)
    if control is not None and "cargo_delivered" in control:
        present = [s for s in sources if s in control["source"].values]
        have = [c for c in cargos if c in control["cargo"].values]
        if present and have:
            base = _window_sum(control["cargo_delivered"].sel(source=present, cargo=have)
                               .sum("source"), start, end)
            delivered = delivered - base.reindex(cargo=cargos, target=delivered["target"],
                                                 fill_value=0.0)
    n = max(doses(treated), 1)
    groups = group_of(treated)
    cells = treated["cells"].sel(time=slice(start, end)).mean("time")
    rows = []
    for cargo in cargos:
        for group in GROUPS:
            targets = [t for t in delivered["target"].values.astype(str)
                       if groups.get(t) == group]
            if not targets:
                continue
            copies = max(float(delivered.sel(cargo=cargo, target=targets).sum()), 0.0)
            count = float(cells.sel(cell_type=[t for t in targets
                                               if t in cells["cell_type"].values]).sum())
            rows.append({"cargo": cargo, "group": group, "copies": copies,
                         "per_dose": copies / n,
                         "per_cell": copies / n / count if count > 0 else np.nan})
    return pd.DataFrame(rows)


def off_target_share(frame: pd.DataFrame, cargo: str | None = None) -> float:
    """Share (0–1) of the delivered copies (of ``cargo``, or all) that reach cells other
    than the leukemic ones; NaN when nothing was delivered."""
    part = frame if cargo is None else frame[frame["cargo"] == cargo]
    total = float(part["copies"].sum()) if len(part) else 0.0
    if total <= 0:
        return float("nan")
    return float(part.loc[part["group"] != ON_TARGET, "copies"].sum()) / total
