"""The posterior contract, weighted quantiles and the ensemble run from a posterior."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evniche
from evniche.cli import main
from evniche.errors import EvnicheError
from evniche.experiments.ensemble import (
    simulate_members,
    summarize_ensemble,
    takeover_days,
)
from evniche.experiments.posterior import load_posterior, weighted_quantile

TINY = Path(__file__).parents[1] / "readouts" / "tiny_leukemia.yaml"


def test_weighted_quantiles_by_hand():
    # equal weights: midpoints at 1/8, 3/8, 5/8, 7/8 → the median halfway between 2 and 3
    assert weighted_quantile([4, 1, 3, 2], None, 0.5)[0] == pytest.approx(2.5)
    assert weighted_quantile([1, 2, 3, 4], None, 0.25)[0] == pytest.approx(1.5)
    # value 1 holds 3/4 of the weight: midpoints 0.375 (1) and 0.875 (2);
    # q = 0.5 lies a quarter of the way → 1.25
    assert weighted_quantile([2, 1], [0.25, 0.75], 0.5)[0] == pytest.approx(1.25)
    # below the first / above the last midpoint: the extreme values
    assert list(weighted_quantile([1, 2], [0.25, 0.75], [0.0, 1.0])) == [1.0, 2.0]
    # equal weights agree with numpy's Hazen rule
    x = np.array([3.0, 9.0, 1.0, 7.0, 4.0])
    assert weighted_quantile(x, None, [0.1, 0.3, 0.9]) == pytest.approx(
        np.quantile(x, [0.1, 0.3, 0.9], method="hazen"))
    # censored (+inf) values sort last: a quantile inside them is inf
    assert weighted_quantile([10, math.inf, math.inf], None, 0.9)[0] == math.inf
    assert weighted_quantile([10, 20, math.inf], None, 0.1)[0] == 10
    with pytest.raises(EvnicheError, match="weights"):
        weighted_quantile([1, 2], [1, -1], 0.5)


@pytest.fixture(scope="module")
def tiny():
    return evniche.load_model(str(TINY))


def write_posterior(folder: Path, model, values=(0.012, 0.02, 0.035),
                    weights=(0.2, 0.5, 0.3), digest: str | None = None) -> Path:
    """Three particles; the first (p_lsc 0.012/h, self-renewal 0.5) never takes over, the
    others do within 30 days."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"parameters.p_lsc": list(values), "parameters.a_lsc": [0.5, 0.8, 0.8],
                  "weight": list(weights)}).to_parquet(folder / "posterior.parquet")
    (folder / "posterior.json").write_text(json.dumps({
        "model": model.name, "digest": digest or model.digest,
        "parameters": {"parameters.p_lsc": {"unit": "1/h", "range": [0.01, 0.04]},
                       "parameters.a_lsc": {"unit": "dimensionless", "range": [0.5, 0.9]}}}),
        encoding="utf-8")
    return folder


def test_same_seed_same_draw_and_weights_respected(tiny, tmp_path):
    post = load_posterior(write_posterior(tmp_path / "p", tiny))
    post.check_model(tiny)
    a, b = post.draw(400, seed=3), post.draw(400, seed=3)
    assert a == b
    assert post.draw(400, seed=4) != a
    with pytest.raises(EvnicheError, match="--ensemble must be a whole number >= 1"):
        post.draw(0, seed=3)
    share = np.mean([d["parameters.p_lsc"] == 0.02 for d in a])
    assert share == pytest.approx(0.5, abs=0.08)  # weight 0.5


def test_a_posterior_of_another_model_is_refused(tiny, tmp_path):
    post = load_posterior(write_posterior(tmp_path / "d", tiny, digest="0123456789abcdef"))
    with pytest.raises(EvnicheError, match="digest 0123456789abcdef.*calibrate again"):
        post.check_model(tiny)
    other = evniche.load_model(str(TINY), overrides={"name": "other"})
    with pytest.raises(EvnicheError, match="made for model 'tiny_leukemia', not 'other'"):
        load_posterior(write_posterior(tmp_path / "n", tiny)).check_model(other)


def test_malformed_posteriors_are_refused(tiny, tmp_path):
    folder = write_posterior(tmp_path / "m", tiny)
    pd.DataFrame({"parameters.p_lsc": [0.02], "w": [1.0]}).to_parquet(
        folder / "posterior.parquet")
    with pytest.raises(EvnicheError, match="no 'weight' column"):
        load_posterior(folder)
    pd.DataFrame({"parameters.nope": [0.02], "weight": [1.0]}).to_parquet(
        folder / "posterior.parquet")
    with pytest.raises(EvnicheError, match="'parameters.nope' names no parameter"):
        load_posterior(folder).check_model(tiny)
    (folder / "posterior.json").unlink()
    with pytest.raises(EvnicheError, match="posterior.json is missing"):
        load_posterior(folder)


def test_bands_are_ordered_and_censoring_counts(tiny, tmp_path):
    draws = [{"parameters.p_lsc": p, "parameters.a_lsc": a} for p, a in
             ((0.012, 0.5), (0.015, 0.8), (0.02, 0.8), (0.028, 0.8), (0.035, 0.8))]
    members = simulate_members(tiny, draws, 60, equilibrate_first=False)
    # the slowest leukemia (p_lsc 0.012/h, a_lsc 0.5) does not take over in 60 days:
    # censored
    days = takeover_days(members)
    slow = [d["parameters.p_lsc"] == 0.012 for d in draws]
    assert any(slow) and not all(slow)
    assert np.isinf(days[slow]).all() and np.isfinite(days[~np.array(slow)]).all()
    summary = summarize_ensemble(members, 60, draws)
    assert summary.p_takeover == pytest.approx(1 - np.mean(slow))
    assert summary.n == 5
    for _t, bands in summary.bands.values():
        for q in bands.values():
            assert (np.diff(q, axis=0) >= -1e-9 * np.abs(q).max()).all()
    t, blasts = summary.bands["blasts"]
    q = blasts["marrow blasts (%)"][:, 20]  # day 20: every member at another blast %
    assert q[0] < q[1] < q[2] < q[3] < q[4]
    assert summary.takeover.q[4] == np.inf  # the censored member: after the horizon


def test_run_with_a_posterior_reports_bands(tiny, tmp_path, capsys):
    folder = write_posterior(tmp_path / "r", tiny)
    outs = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        assert main(["run", str(TINY), "--days", "60", "--out", str(out), "--posterior",
                     str(folder), "--ensemble", "5", "--seed", "2", "--no-sensitivity"]) == 0
        outs.append(pd.read_parquet(out / "ensemble.parquet"))
    pd.testing.assert_frame_equal(outs[0], outs[1])  # same seed, same numbers
    text = capsys.readouterr().out
    assert "P(take-over within the horizon of 60 days)" in text
    html = (tmp_path / "out0" / "report.html").read_text(encoding="utf-8")
    assert "Uncertainty over the posterior" in html and "90 % CrI" in html
    assert " 1/h</td>" in html  # the drawn p_lsc's range, in the model's unit
    assert html.count("over the ensemble: median and bands") >= 4
    assert len(outs[0]) == 5 and "takeover_day" in outs[0]


def test_run_refuses_a_posterior_of_another_model(tiny, tmp_path, capsys):
    folder = write_posterior(tmp_path / "x", tiny, digest="ffffffffffffffff")
    status = main(["run", str(TINY), "--days", "30", "--out", str(tmp_path / "o"),
                   "--posterior", str(folder)])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "digest ffffffffffffffff" in err
    assert not (tmp_path / "o").exists()
    status = main(["run", str(TINY), "--days", "30", "--out", str(tmp_path / "o"),
                   "--posterior", str(folder), "--engine", "spatial"])
    assert status == 2 and "well-mixed engine only" in capsys.readouterr().err


def test_members_refuse_an_option_they_would_not_use(tiny):
    with pytest.raises(EvnicheError, match="not engine options.*rtol"):
        simulate_members(tiny, [{"parameters.p_lsc": 0.02}], 5, engine="spatial")
    with pytest.raises(EvnicheError, match="'parameters.NAME'"):
        simulate_members(tiny, [{"p_lsc": 0.02}], 5)


def test_the_parameter_list_calibrate_writes_is_read_for_units(tiny, tmp_path):
    folder = write_posterior(tmp_path / "l", tiny)
    meta = json.loads((folder / "posterior.json").read_text(encoding="utf-8"))
    listed = [{"name": "p_lsc", "key": "parameters.p_lsc", "unit": "1/h"},
              {"name": "a_lsc", "key": "parameters.a_lsc", "unit": "dimensionless"}]
    (folder / "posterior.json").write_text(json.dumps({**meta, "parameters": listed}),
                                           encoding="utf-8")
    post = load_posterior(folder)
    assert post.units == {"parameters.p_lsc": "1/h", "parameters.a_lsc": "dimensionless"}
    post.check_model(tiny)
    listed[0]["unit"] = "1/day"
    (folder / "posterior.json").write_text(json.dumps({**meta, "parameters": listed}),
                                           encoding="utf-8")
    with pytest.raises(EvnicheError, match="parameters\\['parameters.p_lsc'\\] is in '1/day'"):
        load_posterior(folder).check_model(tiny)
    (folder / "posterior.json").write_text(json.dumps({**meta, "parameters": 3}),
                                           encoding="utf-8")
    with pytest.raises(EvnicheError, match="'parameters' \\(a mapping or a list\\)"):
        load_posterior(folder)
