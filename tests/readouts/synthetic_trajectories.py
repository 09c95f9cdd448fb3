"""Hand-made Trajectories with known answers, in the schema of evniche.engines.trajectory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

#: a small leukemia model (test values only) shared by readout, report and store tests
TINY_LEUKEMIA = Path(__file__).with_name("tiny_leukemia.yaml")


def synthetic_trajectory(days: int = 10) -> xr.Dataset:
    """A hand-made Trajectory with known answers.

    Marrow: HSC = 100 − 3t, LSC = 3t cells (blast % = 3t exactly); a circulating leukemic
    type ``blast_blood`` (blood, not marrow-counted) that must not count; mature = 1000 −
    50t in blood. Plasma: pool A (microvesicle, CD63;CD9) 30 EV/mL, pool B (exosome,
    CD63, PS exposed) 10 EV/mL, constant. Microvesicles: median 300 nm, GSD 1.5, range
    100–1000 nm (all inside the NTA window); exosomes: median 100 nm, GSD 1.4, 20–150 nm.
    """
    t = np.arange(days + 1, dtype=float)
    cells = np.stack([100 - 3 * t, 3 * t, 500 + 0 * t, 1000 - 50 * t], axis=1)
    conc = np.zeros((len(t), 2, 2))
    conc[:, 0, 1] = 30.0
    conc[:, 1, 1] = 10.0
    conc[:, :, 0] = 5.0
    ds = xr.Dataset(
        {
            "cells": (("time", "cell_type"), cells),
            "ev_concentration": (("time", "pool", "compartment"), conc),
            "ev": (("time", "pool", "compartment"), conc * np.array([1000.0, 3000.0])),
        },
        coords={
            "time": t,
            "cell_type": ["HSC", "LSC", "blast_blood", "mature"],
            "pool": ["A.microvesicle", "B.exosome"],
            "compartment": ["marrow", "blood"],
            "pool_source": ("pool", ["A", "B"]),
            "pool_class": ("pool", ["microvesicle", "exosome"]),
            "pool_markers": ("pool", ["CD63;CD9", "CD63"]),
            "pool_ps": ("pool", [False, True]),
            "vesicle_class": ["exosome", "microvesicle"],
            "class_median_um": ("vesicle_class", [0.1, 0.3]),
            "class_gsd": ("vesicle_class", [1.4, 1.5]),
            "class_min_um": ("vesicle_class", [0.02, 0.1]),
            "class_max_um": ("vesicle_class", [0.15, 1.0]),
        },
        attrs={"model": "synthetic", "marrow_counted": "HSC;LSC",
               "leukemic": "LSC;blast_blood"},
    )
    return ds
