"""A run folder with a hand-made Trajectory (known EV pools) for the lab tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

#: plasma EV/mL of the two pools: A (normal, microvesicles), B (leukemic, exosomes)
BLOOD_A, BLOOD_B = 4e9, 1e9
#: marrow EV/mL of the two pools
MARROW_A, MARROW_B = 2e10, 3e10


def trajectory(days: int = 10) -> xr.Dataset:
    """Two pools, constant in time: A.microvesicle from A (normal; median 300 nm, GSD 1.5,
    100–1000 nm; marker PD-L1) and B.exosome from B (leukemic; median 100 nm, GSD 1.4,
    30–150 nm; 50 copies of miR-155 per EV)."""
    t = np.arange(days + 1, dtype=float)
    conc = np.zeros((len(t), 2, 2))
    conc[:, 0, 0], conc[:, 1, 0] = MARROW_A, MARROW_B
    conc[:, 0, 1], conc[:, 1, 1] = BLOOD_A, BLOOD_B
    return xr.Dataset(
        {"ev_concentration": (("time", "pool", "compartment"), conc),
         "pool_cargo": (("pool", "cargo"), np.array([[0.0], [50.0]]))},
        coords={
            "time": t, "pool": ["A.microvesicle", "B.exosome"],
            "compartment": ["marrow", "blood"], "cargo": ["miR-155"],
            "pool_source": ("pool", ["A", "B"]),
            "pool_class": ("pool", ["microvesicle", "exosome"]),
            "pool_markers": ("pool", ["PD-L1", ""]),
            "pool_ps": ("pool", [True, False]),
            "vesicle_class": ["exosome", "microvesicle"],
            "class_median_um": ("vesicle_class", [0.1, 0.3]),
            "class_gsd": ("vesicle_class", [1.4, 1.5]),
            "class_min_um": ("vesicle_class", [0.03, 0.1]),
            "class_max_um": ("vesicle_class", [0.15, 1.0]),
        },
        attrs={"model": "synthetic", "digest": "abc", "leukemic": "B"})


@pytest.fixture(scope="session")
def run_folder(tmp_path_factory) -> Path:
    """A run folder (trajectory.nc, run.json) holding :func:`trajectory`."""
    folder = tmp_path_factory.mktemp("run")
    trajectory().to_netcdf(folder / "trajectory.nc", engine="h5netcdf")
    (folder / "run.json").write_text(json.dumps({"model": "synthetic"}), encoding="utf-8")
    return folder
