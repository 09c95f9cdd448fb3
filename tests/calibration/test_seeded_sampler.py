"""The seeded sampler: a calibration is a function of its seed, not of the cluster, the
order in which workers finish, or where it was stopped and resumed."""

from __future__ import annotations

import pandas as pd
import pyabc
import pytest

from evniche.errors import EvnicheError
from evniche.experiments.calibration import calibrate
from evniche.experiments.seeded_sampler import SeededSampler, evaluation_seed

from .test_calibration import MODEL, observe


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return observe(tmp_path_factory.mktemp("obs"), sec=100.0)


def fit(folder, synthetic, sampler, generations=2, seed=0):
    calibrate(MODEL, folder, observations=[synthetic], parameters=["sec", "kdrain"],
              population=4, generations=generations, sampler=sampler, predictive=0,
              seed=seed)
    history = pyabc.History(f"sqlite:///{folder / 'history.db'}", _id=1)
    frames = []
    for t in range(history.max_t + 1):
        df, w = history.get_distribution(m=0, t=t)
        frames.append(df.assign(weight=list(w), t=t).reset_index(drop=True))
    return pd.concat(frames, ignore_index=True)


def test_evaluation_seeds_depend_on_seed_generation_and_index():
    seeds = {evaluation_seed(s, t, i) for s in (0, 1) for t in (-1, 0, 3) for i in range(5)}
    assert len(seeds) == 2 * 3 * 5
    assert evaluation_seed(4, 2, 9) == evaluation_seed(4, 2, 9)
    with pytest.raises(ValueError, match="expected t >= -1"):
        evaluation_seed(0, -2, 0)


def test_same_seed_same_posterior_other_seed_another(synthetic, tmp_path):
    a = fit(tmp_path / "a", synthetic, SeededSampler(seed=5), seed=5)
    b = fit(tmp_path / "b", synthetic, SeededSampler(seed=5), seed=5)
    c = fit(tmp_path / "c", synthetic, SeededSampler(seed=6), seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a[["sec", "kdrain"]].equals(c[["sec", "kdrain"]])


def test_calibrate_gives_its_seed_to_the_sampler(synthetic, tmp_path):
    # the sampler was made with seed 1, the calibration asks for 5: the calibration's wins
    a = fit(tmp_path / "a", synthetic, SeededSampler(seed=1), seed=5)
    b = fit(tmp_path / "b", synthetic, lambda: SeededSampler(seed=2), seed=5)
    pd.testing.assert_frame_equal(a, b)


def test_resumed_equals_uninterrupted(synthetic, tmp_path):
    whole = fit(tmp_path / "whole", synthetic, SeededSampler(), generations=2)
    fit(tmp_path / "part", synthetic, SeededSampler(), generations=1)
    resumed = fit(tmp_path / "part", synthetic, SeededSampler(), generations=2)
    pd.testing.assert_frame_equal(whole, resumed)


def test_resume_refuses_another_seed(synthetic, tmp_path):
    fit(tmp_path, synthetic, SeededSampler(), generations=1, seed=0)
    with pytest.raises(EvnicheError, match="different seed"):
        fit(tmp_path, synthetic, SeededSampler(), generations=2, seed=1)


def test_two_dask_workers_give_what_one_process_gives(synthetic, tmp_path):
    from distributed import Client, LocalCluster

    serial = fit(tmp_path / "serial", synthetic, SeededSampler(seed=3), seed=3)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        parallel = fit(tmp_path / "dask", synthetic, SeededSampler(client, seed=3), seed=3)
    pd.testing.assert_frame_equal(serial, parallel)
