"""Spatial engine: ledger, decay, reproducibility across thread counts, the well-mixed
limit, and the Dataset it returns."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evniche
from evniche.compile.network import compile_model
from evniche.compile.schedule import Schedule
from evniche.engines.spatial import engine, threads
from evniche.errors import SimulationError

TINY = Path(__file__).with_name("tiny.yaml")
SMALL = {"size_um": (120.0, 120.0), "dx_um": 10.0, "sinusoid_spacing_um": 60.0,
         "agents": 600, "min_agents": 20, "equilibrate_first": False}


@pytest.fixture(scope="module")
def model():
    return evniche.load_model(str(TINY))


def run(model, days=2.0, seed=1, **opts):
    return evniche.simulate(model, days=days, seed=seed, engine="spatial", **{**SMALL, **opts})


def test_ledger_closes_and_dataset_has_the_snapshots(model, tmp_path):
    ds = run(model, snapshot_dir=str(tmp_path / "snap"))
    assert ds.attrs["ledger_relative_error"] <= 1e-9
    led = ds["ledger"].sel(pool="MSC.exosome").isel(time=-1)
    present = float(ds["ev"].sel(pool="MSC.exosome").isel(time=-1).sum())
    secreted = float(led.sel(term="secreted"))
    out = sum(float(led.sel(term=t)) for t in ("taken_up", "degraded", "cleared", "removed"))
    assert present + out == pytest.approx(secreted, rel=1e-9)
    assert secreted > 0 and float(led.sel(term="taken_up")) > 0
    assert ds["field_snapshot"].dims == ("snapshot", "field", "y", "x")
    assert list(ds["field"].values) == ["MSC.exosome"]
    assert ds.attrs["agent_type_names"] == "MSC;HSC"
    types = ds["agent_type"].values
    assert set(np.unique(types)) <= {-1, 0, 1}
    x = ds["agent_x"].values[types >= 0]
    assert np.all((x >= 0) & (x <= 120.0))
    assert float(ds["communication"].sel(source="MSC", target="HSC").isel(time=-1)) > 0
    assert (tmp_path / "snap" / "fields.zarr").is_dir()
    assert (tmp_path / "snap" / "agents.parquet").stat().st_size > 0
    # the rows streamed to agents.parquet are the agents pictured in the Dataset
    rows = pd.read_parquet(tmp_path / "snap" / "agents.parquet")
    for s, day in enumerate(ds["snapshot_day"].values):
        x = ds["agent_x"].values[s]
        np.testing.assert_array_equal(rows[rows["day"] == day]["x_um"].values,
                                      x[~np.isnan(x)])
    assert not [p for p in (tmp_path / "snap").iterdir() if p.name.startswith(".")]
    import xarray as xr

    with xr.open_zarr(tmp_path / "snap" / "fields.zarr") as zarr:
        np.testing.assert_array_equal(zarr["field"].values[:, :, 0],
                                      ds["field_snapshot"].values)


def test_a_failed_run_leaves_no_partial_snapshot_file(model, tmp_path, monkeypatch):
    def fail(self, t):
        raise SimulationError("stopped in a step")

    monkeypatch.setattr(engine.Run, "step", fail)
    with pytest.raises(SimulationError, match="stopped"):
        run(model, snapshot_dir=str(tmp_path / "snap"))
    assert list((tmp_path / "snap").iterdir()) == []


def test_decay_follows_the_exponential(model):
    net = compile_model(model)
    r = engine.Run(net, 1.0, 0, Schedule(), engine.validated_options(net,
        {**SMALL, "params": {"sec": 0.0, "up": 0.0, "kdrain": 0.0}}))
    r.fields[:] = 3.0
    for k in range(8):
        r.step(k * r.dt)
    expected = 3.0 * np.exp(-net.params["kdeg"] * 8 * r.dt)
    assert r.fields.mean() == pytest.approx(expected, rel=1e-12)
    assert np.ptp(r.fields) <= 1e-12 * expected


def test_same_seed_is_bitwise_identical_at_one_and_two_threads(model, monkeypatch):
    # small problems run serially by default: force every kernel onto the parallel path
    monkeypatch.setattr(threads, "FIELD_VALUES", 0)
    monkeypatch.setattr(threads, "AGENTS", 0)
    a = run(model, days=1.0, seed=7, threads=1)
    b = run(model, days=1.0, seed=7, threads=2)
    for name in ("cells", "ev", "cargo_per_cell", "field_snapshot", "agent_x", "agent_y",
                 "ledger", "communication"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    c = run(model, days=1.0, seed=8, threads=1)
    assert not np.array_equal(a["agent_x"].values, c["agent_x"].values, equal_nan=True)


def test_well_mixed_limit_agrees_with_the_well_mixed_engine(model):
    days = 3.0
    sp = run(model, days=days, diffusion_factor=1e4, agents=2000, seed=3,
             max_substep_loss=0.02)
    wm = evniche.simulate(model, days=days, equilibrate_first=False)
    for name in ("cells", "ev", "cargo_per_cell"):
        a = sp[name].values[1:]
        b = wm[name].values[1:]
        ok = np.isfinite(b) & (np.abs(b) > 0)
        np.testing.assert_allclose(a[ok], b[ok], rtol=0.05, err_msg=name)


def test_bad_options_are_named(model):
    with pytest.raises(SimulationError, match="unknown option.*colour"):
        run(model, colour="red")
    with pytest.raises(SimulationError, match="dt_hours"):
        run(model, dt_hours=0)
    with pytest.raises(SimulationError, match="chemoattractant"):
        run(model, chemoattractant="CXCL99")
    # 120 µm × 120 µm holds 144 cells of 10 µm: at most 32 × 144 = 4,608 agents
    with pytest.raises(SimulationError, match=r"agents: 4609 agents in a section of 144 cells"
                                              r" of 10 µm .*more than 32.*120-µm square"):
        run(model, agents=4609)
    run(model, days=0.25, agents=4608, min_agents=1)  # at the bound: runs


def test_drug_death_kills_agents_as_in_the_well_mixed_engine(model, tmp_path):
    """A drug-induced death of 0.01/h on the HSCs (its own term, kinetics.py) multiplies
    their count by exp(-0.01 × 48) = 0.619 after 2 days in both engines, whatever the
    miR-150 rule does to their renewal (it acts the same with and without the drug)."""
    text = TINY.read_text(encoding="utf-8")
    text = text.replace("    self_renewal: a1\n", "    self_renewal: a1\n    drug_death: kill\n")
    text = text.replace("  sat: {value: 0.4", '  kill: {value: 0.01, unit: 1/h, source: '
                        '"assumption: a test value"}\n  sat: {value: 0.4')
    path = tmp_path / "tiny_drug.yaml"
    path.write_text(text, encoding="utf-8")
    killed = evniche.load_model(str(path))

    def hsc(ds):
        return float(ds["cells"].sel(cell_type="HSC").isel(time=-1))

    big = {"agents": 20000, "size_um": (300.0, 300.0), "seed": 3}
    spatial = hsc(run(killed, **big)) / hsc(run(model, **big))
    wellmixed = (hsc(evniche.simulate(killed, days=2.0, equilibrate_first=False))
                 / hsc(evniche.simulate(model, days=2.0, equilibrate_first=False)))
    assert wellmixed == pytest.approx(np.exp(-0.48), rel=1e-4)
    # ~4,800 HSC agents die one by one: the ratio's binomial spread is ~1.1 % (one SD);
    # the spatial engine without the term would give 1.0
    assert spatial == pytest.approx(np.exp(-0.48), rel=0.05)
