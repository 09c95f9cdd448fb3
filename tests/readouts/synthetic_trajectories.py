"""Hand-made Trajectories with known answers, in the schema of evniche.engines.trajectory."""

from __future__ import annotations

import json
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


#: marrow blast % of :func:`course_trajectory`, days 0–20
COURSE_BLASTS = [2, 8, 14, 26, 16, 8, 6, 4, 2, 1, 0.5, 0.05, 1e-5, 0.01, 0.05, 3, 7, 12, 20, 30,
                 40]
#: normal blood output (cells) of :func:`course_trajectory`, days 0–20
COURSE_MATURE = [1000, 900, 700, 500, 300, 100, 50, 150, 200, 300, 500] + [800] * 10
#: circulating blasts (cells) of :func:`course_trajectory`, days 0–20
COURSE_BLOOD_BLASTS = [0, 0, 10, 50, 20, 5, 0.5] + [0] * 14
#: the therapy timeline of :func:`course_trajectory`: an induction window on days 3–10 and
#: three cytarabine doses on days 3, 4, 5
COURSE_INTERVENTIONS = [
    {"label": "induction", "intervention": "induction", "item": 0, "start_day": 3.0,
     "end_day": 10.0},
    *({"label": f"cytarabine dose {k + 1}", "intervention": "cytarabine", "item": 1,
       "start_day": 3.0 + k, "end_day": 3.0 + k} for k in range(3)),
]


def course_trajectory(blasts=COURSE_BLASTS, mature=COURSE_MATURE,
                      blood_blasts=COURSE_BLOOD_BLASTS,
                      interventions=COURSE_INTERVENTIONS) -> xr.Dataset:
    """A hand-made clinical course, daily on days 0–20, with cell compartments and lineages.

    Marrow: 1e6 counted cells, LSC = blast % × 1e4, HSC the rest; MSC (stroma, 1e5) is not
    counted. Blood: ``mature`` (normal), ``blast_blood`` (leukemic), ``platelets`` (lineage
    blood, 1e5, neither output nor white cell). Plasma EVs (``ev`` in blood): LSC pool =
    10 × blast % EVs, MSC pool 1000 EVs. Interventions: :data:`COURSE_INTERVENTIONS`.
    """
    t = np.arange(len(blasts), dtype=float)
    pct = np.asarray(blasts, dtype=float)
    lsc = pct * 1e4
    cells = np.stack([1e6 - lsc, lsc, 1e5 + 0 * t, np.asarray(mature, float),
                      np.asarray(blood_blasts, float), 1e5 + 0 * t], axis=1)
    ev = np.zeros((len(t), 2, 2))
    ev[:, 0, 1] = 10 * pct
    ev[:, 1, 1] = 1000.0
    ds = xr.Dataset(
        {"cells": (("time", "cell_type"), cells),
         "ev": (("time", "pool", "compartment"), ev),
         "ev_concentration": (("time", "pool", "compartment"), ev / np.array([1000.0, 3000.0]))},
        coords={
            "time": t,
            "cell_type": ["HSC", "LSC", "MSC", "mature", "blast_blood", "platelets"],
            "cell_compartment": ("cell_type", ["marrow", "marrow", "marrow", "blood", "blood",
                                               "blood"]),
            "cell_lineage": ("cell_type", ["normal", "leukemic", "stroma", "normal",
                                           "leukemic", "blood"]),
            "pool": ["LSC.exosome", "MSC.exosome"],
            "compartment": ["marrow", "blood"],
            "pool_source": ("pool", ["LSC", "MSC"]),
            "pool_class": ("pool", ["exosome", "exosome"]),
            "vesicle_class": ["exosome"],
        },
        attrs={"model": "course", "marrow_counted": "HSC;LSC", "leukemic": "LSC;blast_blood",
               "volume_marrow_mL": 1000.0, "volume_blood_mL": 3000.0,
               "interventions": json.dumps(list(interventions))},
    )
    return ds
