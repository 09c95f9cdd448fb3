"""Run cost: days and seeds are checked for every engine, the size of a run is estimated
before it starts, and a run above the limits is refused unless it is allowed."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import evniche
from evniche.engines import cost, prepare, wellmixed
from evniche.errors import SimulationError

TESTS = Path(__file__).parents[1]
TINY_LEUKEMIA = str(TESTS / "readouts" / "tiny_leukemia.yaml")
TINY_SPATIAL = str(TESTS / "engines" / "spatial" / "tiny.yaml")
SMALL = {"size_um": (120.0, 120.0), "dx_um": 10.0, "sinusoid_spacing_um": 60.0,
         "agents": 600, "min_agents": 20, "equilibrate_first": False}


@pytest.mark.parametrize("days", [math.inf, -math.inf, math.nan, 0, -5, 1e308, "abc", None])
def test_days_must_be_a_finite_positive_number(days):
    with pytest.raises(SimulationError, match="--days"):
        cost.check_days(days)


def test_days_are_returned_as_a_float():
    assert cost.check_days("2.5") == 2.5


@pytest.mark.parametrize("seed", [-1, cost.SEED_LIMIT, True, 1.5, "3", None])
def test_a_seed_must_be_a_whole_number_in_range(seed):
    with pytest.raises(SimulationError, match="--seed"):
        cost.check_seed(seed)


@pytest.mark.parametrize("seed", [0, cost.SEED_LIMIT - 1, np.int64(7)])
def test_seeds_in_range_are_accepted(seed):
    assert cost.check_seed(seed) == int(seed)


def test_the_well_mixed_estimate_grows_as_the_trajectory_does():
    net = prepare(TINY_LEUKEMIA)[0]
    short, long = (evniche.simulate(TINY_LEUKEMIA, days=d) for d in (4, 9))
    est_short, est_long = (cost.estimate(net, d) for d in (4, 9))
    assert est_short.samples == short.sizes["time"]
    assert est_long.samples == long.sizes["time"]
    assert est_long.output_bytes - est_short.output_bytes == long.nbytes - short.nbytes
    assert cost.estimate(net, 4, options={"output_hours": 6}).samples == 4 * 4 + 1


def test_the_spatial_estimate_counts_steps_samples_and_voxels():
    net = prepare(TINY_SPATIAL)[0]
    days, dt = 2.0, 0.25
    est = cost.estimate(net, days, "spatial", {**SMALL, "dt_hours": dt})
    assert est.steps == math.ceil(days * 24 / dt)
    ds = evniche.simulate(TINY_SPATIAL, days=days, engine="spatial", **SMALL, dt_hours=dt)
    assert est.samples >= ds.sizes["time"]
    assert est.output_bytes >= ds.nbytes  # what the run kept fits within the estimate
    # a grid 10 times finer in each direction: 100 times the voxels of every snapshot
    fine = cost.estimate(net, days, "spatial", {**SMALL, "dt_hours": dt, "dx_um": 1.0})
    assert fine.output_bytes - est.output_bytes >= 99 * ds["field_snapshot"].nbytes


@pytest.fixture
def no_memory_limit(monkeypatch):
    monkeypatch.setattr(cost, "memory_bytes", lambda: None)


@pytest.mark.parametrize(("over", "words"), [
    ({"days": cost.MAX_DAYS * 1.01}, "100 years"),
    ({"output_bytes": cost.MAX_OUTPUT_BYTES * 1.01}, "more than the limit of 2 GiB"),
    ({"steps": cost.MAX_STEPS + 1}, "time steps"),
])
def test_each_limit_refuses_a_run_unless_it_is_allowed(no_memory_limit, over, words):
    fields = {"days": 10.0, "engine": "spatial", "samples": 11, "output_bytes": 1e6,
              "steps": 480}
    cost.check(cost.Cost(**fields))  # within every limit
    large = cost.Cost(**{**fields, **over})
    with pytest.raises(SimulationError, match="--allow-large") as exc:
        cost.check(large)
    assert words in str(exc.value)
    cost.check(large, allow_large=True)


def test_a_run_beyond_the_memory_of_the_machine_is_refused_even_when_allowed(monkeypatch):
    monkeypatch.setattr(cost, "memory_bytes", lambda: 10_000)
    with pytest.raises(SimulationError, match="memory"):
        cost.check(cost.Cost(1.0, "wellmixed", 2, 20_000.0), allow_large=True)


def test_simulate_refuses_before_the_engine_starts(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the engine must not start")

    monkeypatch.setattr(wellmixed, "integrate", never)
    for days in (cost.MAX_DAYS + 1, math.inf, 0):
        with pytest.raises(SimulationError):
            evniche.simulate(TINY_LEUKEMIA, days=days)
    with pytest.raises(SimulationError, match="--seed"):
        evniche.simulate(TINY_LEUKEMIA, days=1, seed=-1)


def test_a_negative_seed_is_refused_by_the_spatial_engine_too():
    with pytest.raises(SimulationError, match=r"\[0, 2\*\*63\)"):
        evniche.simulate(TINY_SPATIAL, days=1, seed=-1, engine="spatial", **SMALL)


def test_the_spatial_estimate_counts_whole_3d_grids_only_when_they_are_written(tmp_path):
    net = prepare(TINY_SPATIAL)[0]
    flat = cost.estimate(net, 1.0, "spatial", SMALL)
    deep = {**SMALL, "size_um": (120.0, 120.0, 50.0)}  # 5 planes of 10 µm
    kept = cost.estimate(net, 1.0, "spatial", deep)
    written = cost.estimate(net, 1.0, "spatial", {**deep, "snapshot_dir": str(tmp_path)})
    # without a snapshot_dir a 3-D run keeps the middle section only, as a 2-D run does
    assert kept.output_bytes == flat.output_bytes
    # with one, each snapshot keeps the 4 other planes of every field too (float32)
    snapshots = 4 + 16  # the default snapshot days and animation frames
    planes = 4 * (len(net.pools) + len(net.cytokines)) * 12 * 12 * 4.0
    assert written.output_bytes - kept.output_bytes == snapshots * planes
