"""Calibration (ABC-SMC with pyABC): recovery of a known parameter from synthetic
observations made by a tiny model itself, resume without loss, the posterior files'
contract, and clear errors for bad inputs. A single-core pyABC sampler stands in for the
Dask cluster (the CLI's default is a LocalCluster)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyabc
import pytest
import yaml

from evniche.cli import main
from evniche.errors import EvnicheError
from evniche.experiments.calibration import (
    Objective,
    _acceptor,
    calibrate,
    free_parameters,
    interval,
    with_horizon,
)
from evniche.observations import load
from evniche.spec.loader import load_model

MODEL = str((Path(__file__).parent / "tiny.yaml").resolve())
# plasma EVs (NTA, >= 20 nm, so every exosome of the tiny model) after 2 days, per mL
DAYS = 2


def observe(folder: Path, sec: float, fold: float = 1.5) -> Path:
    """One synthetic record: the tiny model's own NTA count with secretion ``sec`` (EV/cell/h),
    with a 95 % multiplicative tolerance ``fold``."""
    probe = [{"id": "SYN-probe", "measured": "plasma EVs", "system": "in_vitro",
              "species": "human", "conditions": [{"preset": MODEL, "at": DAYS, "days": DAYS}],
              "measurement": {"model": "nta_count", "parameters": {
                  "low_nm": {"value": 20, "unit": "nm", "source": "assumption: test"}}},
              "observed": {"value": 1.0, "unit": "1/mL", "statistic": "median",
                           "spread": {"fold": fold, "source": "assumption: synthetic"}},
              "source": {"ref": "synthetic", "quote": "made by the tiny model itself"}}]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "syn.yaml").write_text(yaml.safe_dump(probe), encoding="utf-8")
    model = load_model(MODEL)
    objective = Objective(load([folder]), free_parameters(model, ["sec"]))
    value = objective.comparisons({"parameters.sec": sec})[0].model
    assert value > 0
    probe[0]["id"] = "SYN-1"
    probe[0]["observed"]["value"] = float(value)
    (folder / "syn.yaml").write_text(yaml.safe_dump(probe), encoding="utf-8")
    return folder


def single_core():
    return pyabc.sampler.SingleCoreSampler(check_max_eval=True)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    return observe(tmp_path_factory.mktemp("obs"), sec=100.0)


def test_priors_log_uniform_beyond_a_decade():
    priors = {p.name: p for p in free_parameters(load_model(MODEL))}
    assert set(priors) == {"sec", "kdrain"}
    assert priors["sec"].log and priors["sec"].bounds() == (1.0, 3.0)  # 10–1000: 2 decades
    assert not priors["kdrain"].log  # 0.2–1.0: less than a decade
    assert priors["sec"].to_value(2.0) == pytest.approx(100.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_the_parameter_that_made_the_observation(synthetic, tmp_path, seed):
    """Seeded (the same posterior on every machine): with pyABC's unseeded single-core
    sampler the 90 % interval of a 10-particle fit missed the true value in one CI run
    (it is a 90 % interval); seeds 0-9 all cover it (measured), three are checked."""
    from evniche.experiments.seeded_sampler import SeededSampler

    info = calibrate(MODEL, tmp_path, observations=[synthetic], parameters=["sec"],
                     population=10, generations=2, sampler=SeededSampler(seed=seed),
                     predictive=1, seed=seed)
    frame = pd.read_parquet(tmp_path / "posterior.parquet")
    lo, hi = interval(frame["parameters.sec"].to_numpy(), frame["weight"].to_numpy())
    assert lo <= 100.0 <= hi
    # the data constrain it: the 90 % interval is much narrower than the prior (2 decades)
    assert math.log10(hi / lo) < 1.0
    assert info["generations"] == 2
    assert (tmp_path / "report.html").read_text(encoding="utf-8").count("<img") >= 3


def test_posterior_files_follow_the_contract(synthetic, tmp_path):
    info = calibrate(MODEL, tmp_path, observations=[synthetic], parameters=["sec", "kdrain"],
                     population=4, generations=1, sampler=single_core(), predictive=0,
                     command="evniche calibrate tiny.yaml --population 4")
    frame = pd.read_parquet(tmp_path / "posterior.parquet")
    assert list(frame.columns) == ["parameters.sec", "parameters.kdrain", "weight"]
    assert len(frame) == 4
    assert frame["weight"].sum() == pytest.approx(1.0)
    assert frame["parameters.sec"].between(10, 1000).all()
    assert frame["parameters.kdrain"].between(0.2, 1.0).all()
    stored = json.loads((tmp_path / "posterior.json").read_text(encoding="utf-8"))
    assert stored == json.loads(json.dumps(info))
    assert stored["model"] == "tiny_calibration"
    assert stored["digest"] == load_model(MODEL).digest
    assert [p["key"] for p in stored["parameters"]] == ["parameters.sec", "parameters.kdrain"]
    assert stored["parameters"][0]["unit"] == "EV/cell/h"
    assert stored["parameters"][0]["prior"] == {"low": 10.0, "high": 1000.0,
                                                "scale": "log-uniform"}
    assert stored["parameters"][1]["prior"]["scale"] == "uniform"
    assert set(stored["versions"]) == {"evniche", "pyabc", "numpy"}
    assert [o["id"] for o in stored["observations"]] == ["SYN-1"]
    assert stored["generations"] == 1 and len(stored["epsilons"]) == 1
    assert 0 < stored["acceptance_rates"][0] <= 1
    assert stored["simulations"] >= 4
    assert stored["command"] == "evniche calibrate tiny.yaml --population 4"
    assert stored["max_simulations"] is None


def test_small_population_in_more_dimensions_runs(synthetic, tmp_path):
    # 2 particles, 2 parameters: a full multivariate kernel would be singular (NaN weights)
    info = calibrate(MODEL, tmp_path, observations=[synthetic], population=2, generations=2,
                     sampler=single_core(), predictive=0)
    frame = pd.read_parquet(tmp_path / "posterior.parquet")
    assert info["generations"] == 2
    assert frame["weight"].sum() == pytest.approx(1.0)


def test_rerun_resumes_without_losing_a_generation(synthetic, tmp_path):
    calibrate(MODEL, tmp_path, observations=[synthetic], parameters=["sec"], population=3,
              generations=1, sampler=single_core(), predictive=0)
    history = pyabc.History(f"sqlite:///{tmp_path / 'history.db'}", _id=1)
    first, first_w = history.get_distribution(m=0, t=0)
    info = calibrate(MODEL, tmp_path, observations=[synthetic], parameters=["sec"],
                     population=3, generations=2, sampler=single_core(), predictive=0)
    history = pyabc.History(f"sqlite:///{tmp_path / 'history.db'}", _id=1)
    assert history.max_t == 1 and len(history.all_runs()) == 1
    again, again_w = history.get_distribution(m=0, t=0)
    pd.testing.assert_frame_equal(first, again)
    assert list(first_w) == list(again_w)
    assert info["generations"] == 2
    # asking again for 2 runs nothing more
    calibrate(MODEL, tmp_path, observations=[synthetic], parameters=["sec"], population=3,
              generations=2, sampler=single_core(), predictive=0)
    assert pyabc.History(f"sqlite:///{tmp_path / 'history.db'}", _id=1).max_t == 1


def test_resume_refuses_other_settings(synthetic, tmp_path):
    calibrate(MODEL, tmp_path, observations=[synthetic], parameters=["sec"], population=3,
              generations=1, sampler=single_core(), predictive=0)
    with pytest.raises(EvnicheError, match="different parameters"):
        calibrate(MODEL, tmp_path, observations=[synthetic], parameters=["kdrain"],
                  population=3, generations=1, sampler=single_core(), predictive=0)


def test_failing_record_counts_infinite_and_is_logged(synthetic, caplog):
    # read on day 2, but the run now ends on day 1: the record cannot be read
    records = with_horizon(load([synthetic]), 1.0)
    objective = Objective(records, free_parameters(load_model(MODEL), ["sec"]))
    out = objective({"sec": 2.0})
    assert out == {"SYN-1": math.inf, "total": math.inf}
    assert "SYN-1 could not be read: read on day 2" in caplog.text


def test_infinite_distance_is_never_accepted():
    acceptor = _acceptor()
    # epsilon is infinite before the first calibration sample
    res = acceptor(lambda x, x0, t, par: math.inf, lambda t: math.inf, {}, {}, 0, {})
    assert not res.accept
    res = acceptor(lambda x, x0, t, par: 3.0, lambda t: math.inf, {}, {}, 0, {})
    assert res.accept


def test_a_record_failing_at_the_model_values_stops_before_sampling(synthetic, tmp_path):
    with pytest.raises(EvnicheError, match="SYN-1 cannot be read at the model's own"):
        calibrate(MODEL, tmp_path, observations=[synthetic], parameters=["sec"],
                  population=2, generations=1, days=1.0, sampler=single_core())
    assert not (tmp_path / "history.db").exists()


@pytest.mark.parametrize("args, message", [
    (["--parameters", "nonesuch"], "'nonesuch' is not a parameter of the model"),
    (["--parameters", "vm"], "'vm' is not an 'assumption:' parameter with a range"),
    (["--population", "0"], "--population: must be > 0"),
    (["--population", "1"], "--population: needs at least 2 particles"),
    (["--generations", "-1"], "--generations: must be > 0"),
    (["--max-simulations", "0"], "--max-simulations: must be > 0"),
])
def test_bad_inputs_are_clear_errors(synthetic, tmp_path, capsys, args, message):
    code = main(["calibrate", MODEL, "--out", str(tmp_path / "out"),
                 "--observations", str(synthetic), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.startswith("error: ")
    assert not (tmp_path / "out" / "history.db").exists()


def test_empty_observation_folder_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["calibrate", MODEL, "--out", str(tmp_path / "out"),
                 "--observations", str(tmp_path / "empty")])
    assert code == 2
    assert "no observation files" in capsys.readouterr().err


def test_no_record_on_the_model_is_an_error(synthetic, tmp_path):
    with pytest.raises(EvnicheError, match="no observation in .* has a condition on 'aml'"):
        calibrate("aml", tmp_path, observations=[synthetic], parameters=["msc_mv_rate"],
                  sampler=single_core())
