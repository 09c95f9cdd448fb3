"""Fixtures for report tests: the tiny leukemia run of tests/readouts and a copy of it
with hand-made spatial snapshots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import evniche

TINY_LEUKEMIA = Path(__file__).parents[1] / "readouts" / "tiny_leukemia.yaml"


@pytest.fixture(scope="session")
def leukemia_model():
    return evniche.load_model(str(TINY_LEUKEMIA))


@pytest.fixture(scope="session")
def leukemia_run(leukemia_model) -> xr.Dataset:
    return evniche.simulate(leukemia_model, days=90, equilibrate_first=False)


@pytest.fixture(scope="session")
def spatial_run(leukemia_run) -> xr.Dataset:
    """The well-mixed run plus 3 snapshots of two 12 × 16 fields and 40 agents (the
    last 5 slots padding), in the spatial-snapshot schema the report reads."""
    rng = np.random.default_rng(1)
    n, ny, nx, na = 3, 12, 16, 40
    types = rng.integers(0, 3, (n, na)).astype(float)
    types[:, -5:] = np.nan
    x = rng.random((n, na)) * 160
    x[:, -5:] = np.nan
    ds = leukemia_run.assign(
        field_snapshot=(("snapshot", "field", "y", "x"), rng.random((n, 2, ny, nx)) + 1e-3),
        agent_x=(("snapshot", "agent"), x),
        agent_y=(("snapshot", "agent"), rng.random((n, na)) * 120),
        agent_type=(("snapshot", "agent"), types),
    )
    ds = ds.assign_coords(snapshot_day=("snapshot", [0.0, 45.0, 90.0]),
                          field=["LSC.exosome", "CXCL12"],
                          x=np.arange(nx) * 10.0 + 5, y=np.arange(ny) * 10.0 + 5)
    ds.attrs["agent_type_names"] = "HSC;LSC;MSC"
    return ds
