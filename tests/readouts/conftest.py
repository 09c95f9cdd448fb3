"""Fixtures for readout tests: a small leukemia run and synthetic Trajectories with known
answers (built by hand in the Trajectory schema of evniche.engines.trajectory)."""

from __future__ import annotations

import pytest
import xarray as xr
from synthetic_trajectories import TINY_LEUKEMIA, synthetic_trajectory

import evniche


@pytest.fixture(scope="session")
def leukemia_model():
    return evniche.load_model(str(TINY_LEUKEMIA))


@pytest.fixture(scope="session")
def leukemia_run(leukemia_model) -> xr.Dataset:
    """120 days of the tiny leukemia model, daily output."""
    return evniche.simulate(leukemia_model, days=120, equilibrate_first=False)


@pytest.fixture
def synthetic() -> xr.Dataset:
    return synthetic_trajectory()
