"""Fixtures for store tests: a short run of the tiny leukemia model of tests/readouts, and
a run registry in a temporary folder (never the user's ~/.evniche)."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

import evniche

TINY_LEUKEMIA = Path(__file__).parents[1] / "readouts" / "tiny_leukemia.yaml"


@pytest.fixture(scope="session")
def store_model():
    return evniche.load_model(str(TINY_LEUKEMIA))


@pytest.fixture(scope="session")
def store_run(store_model) -> xr.Dataset:
    return evniche.simulate(store_model, days=30, seed=7, equilibrate_first=False)


@pytest.fixture(autouse=True)
def registry(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "registry"
    monkeypatch.setenv("EVNICHE_REGISTRY", str(folder))
    return folder
