"""Small hand-made Trajectories for the measurement-model tests: every number a test expects
is computed by hand from the numbers set here, never copied from a simulation."""

from __future__ import annotations

import numpy as np
import xarray as xr

#: vesicle classes: median and bounds in µm, geometric SD. ``small`` and ``large`` are point
#: masses (gsd 1) at 100 nm and 800 nm; ``wide`` is a log-normal with median 400 nm, gsd 2,
#: truncated symmetrically in log size (50–3200 nm = median / 8 … median × 8), so exactly
#: half of it lies above 400 nm.
CLASSES = {
    "small": (0.1, 1.0, 0.02, 0.15),
    "large": (0.8, 1.0, 0.5, 1.0),
    "wide": (0.4, 2.0, 0.05, 3.2),
}


def trajectory(plasma: dict[str, list[float]], cells: dict[str, list[float]] | None = None,
               times: list[float] | None = None,
               cargo: dict[str, dict[str, float]] | None = None,
               cleared: dict[str, list[float]] | None = None,
               leukemic: tuple[str, ...] = ("blast",),
               marrow: dict[str, list[float]] | None = None,
               sources: dict[str, str] | None = None) -> xr.Dataset:
    """A Trajectory with one pool per class (named ``SOURCE.CLASS``, the source ``src``
    unless ``sources`` maps the class to another) whose blood concentration over ``times``
    (days) is ``plasma[CLASS]`` (EV/mL, the same number of EVs since the plasma volume is
    set to 1 mL) and marrow concentration ``marrow[CLASS]`` (default 0), cell counts
    ``cells`` (HSC, blast in marrow, mature in blood), ``cargo`` copies per EV (pool →
    {cargo: copies}) and the cumulative ``cleared`` ledger per pool."""
    times = times or [0.0, 1.0]
    nt = len(times)
    source_of = {c: (sources or {}).get(c, "src") for c in plasma}
    pools = [f"{source_of[c]}.{c}" for c in plasma]
    conc = np.zeros((nt, len(pools), 2))
    for j, cls in enumerate(plasma):
        conc[:, j, 1] = plasma[cls]
        conc[:, j, 0] = (marrow or {}).get(cls, [0.0] * nt)
    cells = cells or {"HSC": [10.0] * nt, "blast": [0.0] * nt, "mature": [100.0] * nt}
    names = list(cells)
    compartment = ["blood" if n == "mature" else "marrow" for n in names]
    lineage = ["leukemic" if n in leukemic else "normal" for n in names]
    cargos = sorted({c for per in (cargo or {}).values() for c in per}) or ["none"]
    table = np.zeros((len(pools), len(cargos)))
    for pool, per in (cargo or {}).items():
        for c, n in per.items():
            table[pools.index(pool), cargos.index(c)] = n
    terms = ["secreted", "administered", "degraded", "cleared", "removed", "taken_up"]
    ledger = np.zeros((nt, len(pools), len(terms)))
    for pool, series in (cleared or {}).items():
        ledger[:, pools.index(pool), terms.index("cleared")] = series
    classes = list(CLASSES)
    ds = xr.Dataset(
        {
            "cells": (("time", "cell_type"), np.array([cells[n] for n in names]).T),
            "ev_concentration": (("time", "pool", "compartment"), conc),
            "ev": (("time", "pool", "compartment"), conc.copy()),
            "pool_cargo": (("pool", "cargo"), table),
            "ledger": (("time", "pool", "term"), ledger),
        },
        coords={
            "time": times, "cell_type": names, "pool": pools, "compartment": ["marrow", "blood"],
            "cargo": cargos, "term": terms,
            "cell_compartment": ("cell_type", compartment),
            "cell_lineage": ("cell_type", lineage),
            "pool_class": ("pool", list(plasma)),
            "pool_source": ("pool", [source_of[c] for c in plasma]),
            "vesicle_class": classes,
            "class_median_um": ("vesicle_class", [CLASSES[c][0] for c in classes]),
            "class_gsd": ("vesicle_class", [CLASSES[c][1] for c in classes]),
            "class_min_um": ("vesicle_class", [CLASSES[c][2] for c in classes]),
            "class_max_um": ("vesicle_class", [CLASSES[c][3] for c in classes]),
        },
        attrs={"marrow_counted": ";".join(n for n, c in zip(names, compartment, strict=True)
                                          if c == "marrow"),
               "leukemic": ";".join(leukemic)},
    )
    return ds
