"""What a run writes, as other tools read it: trajectory.nc follows the CF conventions with
units on every numeric variable; fields.zarr opens in xarray without a warning; the agent
column of agents.parquet is an identity that holds across snapshots."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from evniche.cli import main
from evniche.store.conventions import missing_units

TINY = Path(__file__).resolve().parents[1] / "engines" / "spatial" / "tiny.yaml"


@pytest.fixture(scope="module")
def spatial_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("outputs") / "run"
    assert main(["run", str(TINY), "--engine", "spatial", "--days", "4", "--out", str(out),
                 "--no-report", "--spatial", "size_um=[120,120]",
                 "--spatial", "sinusoid_spacing_um=60", "--spatial", "agents=300",
                 "--spatial", "snapshot_days=[0,1,2,3,4]", "--spatial", "animation_frames=0",
                 "--spatial", "equilibrate_first=false"]) == 0
    return out


@pytest.fixture(scope="module")
def wellmixed_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("outputs") / "wm"
    assert main(["run", str(TINY), "--days", "5", "--out", str(out), "--no-report",
                 "--no-sensitivity"]) == 0
    return out


@pytest.mark.parametrize("run", ["wellmixed_run", "spatial_run"])
def test_trajectory_follows_cf_with_units_on_every_variable(run: str, request) -> None:
    folder = request.getfixturevalue(run)
    with xr.open_dataset(folder / "trajectory.nc", engine="h5netcdf") as ds:
        assert ds.attrs["Conventions"] == "CF-1.10"
        assert missing_units(ds) == []
        assert ds["time"].attrs["units"] == "d"
        assert ds["cells"].attrs["units"] == "1"
        assert ds["ev_concentration"].attrs["units"] == "mL-1"
        assert all("long_name" in ds[n].attrs for n in ds.data_vars
                   if ds[n].dtype.kind in "biuf")
        # behaviors have a unit per entry: HSC proliferation is a rate, self-renewal a share
        units = dict(zip(ds["behavior"].values,
                         ds["behaviors"].attrs["entry_units"].split(";"), strict=True))
        assert units["HSC.proliferation"] == "h-1" and units["HSC.self_renewal"] == "1"
        assert "entry_units" in ds["behaviors"].attrs["units"]
        if run == "wellmixed_run":
            su = dict(zip(ds["species"].values,
                          ds["state_vector"].attrs["entry_units"].split(";"), strict=True))
            assert su["cell:HSC"] == "1" and su["ev:MSC.exosome@marrow"] == "1"


def test_fields_zarr_opens_without_a_warning(spatial_run: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with xr.open_zarr(spatial_run / "fields.zarr") as fields:
            assert fields["field"].sizes["snapshot"] == 5
            assert fields["field"].attrs["units"]


def test_agent_identity_holds_across_snapshots(spatial_run: Path) -> None:
    agents = pd.read_parquet(spatial_run / "agents.parquet")
    days = sorted(agents["day"].unique())
    assert len(days) == 5
    for _, snap in agents.groupby("day"):
        assert snap["agent"].is_unique and (snap["agent"] >= 0).all()
    first = agents[agents["day"] == days[0]].set_index("agent")
    last = agents[agents["day"] == days[-1]].set_index("agent")
    kept = first.index.intersection(last.index)
    # MSCs neither divide nor die in the fixture: every MSC agent keeps its number and type
    msc = first.index[first["cell_type"] == "MSC"]
    assert set(msc) <= set(kept)
    assert (first.loc[kept, "cell_type"] == last.loc[kept, "cell_type"]).all()
    # HSCs divide: their daughters are new agents with numbers never used before
    new = last.index.difference(first.index)
    assert len(new) and new.min() > first.index.max()
    # the identity is not the row number: after the first snapshot some numbers are gone
    assert not np.array_equal(np.sort(last.index.values), np.arange(len(last)))
