"""Global sensitivity (evniche.experiments.global_sensitivity): Morris and Sobol' recover
known rankings on the Ishigami function, a parameter with provably no effect gets ~0 on a
tiny model, same seed gives the same samples and tables, bad input is refused clearly."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evniche
from evniche.errors import EvnicheError
from evniche.experiments import distribute
from evniche.experiments import global_sensitivity as gsa
from evniche.readouts import scalars

TINY = Path(__file__).parent / "gsa_tiny.yaml"
#: the tiny model without relaxation to a healthy steady state, over 45 days: LSCs take
#: over between day ~15 and ~35 depending on p_lsc
OPTIONS = {"equilibrate_first": False}
DAYS = 45.0


def ishigami_factors() -> list[gsa.Factor]:
    """x1..x3 of the Ishigami function on [-π, π], and x4 which it never reads."""
    return [gsa.Factor(f"x{i}", f"x{i}", "", 0.0, -np.pi, np.pi, "assumption: test")
            for i in range(1, 5)]


def ishigami(values: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    x1, x2, x3 = values[:, 0], values[:, 1], values[:, 2]
    return np.sin(x1) + a * np.sin(x2) ** 2 + b * x3 ** 4 * np.sin(x1)


def analyse_ishigami(method: str, budget: int, seed: int = 1) -> pd.DataFrame:
    items = ishigami_factors()
    d = gsa.design(method, items, budget, seed)
    samples = pd.DataFrame({"y": ishigami(d.values)})
    indices, _ = gsa.analyse(method, items, d, samples, [scalars.Readout("y", lambda _: 0)],
                             seed)
    return indices.set_index("parameter")


def test_sobol_recovers_the_ishigami_indices():
    # analytic values (a = 7, b = 0.1): S1 = 0.314, 0.442, 0; ST = 0.558, 0.442, 0.244
    idx = analyse_ishigami("sobol", budget=6 * 1024)
    assert idx.loc[["x1", "x2", "x3"], "ST"].to_numpy() == pytest.approx(
        [0.558, 0.442, 0.244], abs=0.06)
    assert idx.loc[["x1", "x2"], "S1"].to_numpy() == pytest.approx([0.314, 0.442], abs=0.06)
    assert abs(idx.loc["x3", "S1"]) < 0.06  # x3 acts only through its interaction with x1
    assert idx.loc["x4", "ST"] == 0.0 and abs(idx.loc["x4", "S1"]) < 0.03
    assert list(idx["matters"]) == [True, True, True, False]
    assert (idx["S1_conf"] > 0).all() or idx.loc["x4", "S1_conf"] == 0


def test_morris_screens_out_the_unread_input_and_ranks_the_rest():
    idx = analyse_ishigami("morris", budget=40 * 5)
    assert idx.loc["x4", "mu_star"] == 0.0 and idx.loc["x4", "sigma"] == 0.0
    assert (idx.loc[["x1", "x2", "x3"], "mu_star"] > 0.5).all()
    assert idx.loc["x3", "sigma"] > idx.loc["x3", "mu_star"] * 0.5  # interaction only
    assert list(idx["matters"]) == [True, True, True, False]


def test_failed_runs_leave_out_their_whole_morris_trajectory():
    items = ishigami_factors()
    d = gsa.design("morris", items, 4 * 5, seed=3)
    y = ishigami(d.values)
    y[7] = np.nan  # a run of the second trajectory (rows 5–9) failed
    indices, notes = gsa.analyse("morris", items, d, pd.DataFrame({"y": y}),
                                 [scalars.Readout("y", lambda _: 0)])
    assert "5 of 20 runs left out" in notes["y"]
    keep = np.r_[0:5, 10:20]
    ref, _ = gsa.analyse("morris", items, gsa.Design("morris", 3, d.coordinates[keep],
                                                     d.values[keep]),
                         pd.DataFrame({"y": y[keep]}), [scalars.Readout("y", lambda _: 0)])
    assert indices["mu_star"].to_numpy() == pytest.approx(ref["mu_star"].to_numpy())


def test_wide_ranges_are_sampled_log_uniformly():
    wide = gsa.Factor("k", "k", "1/h", 1.0, 0.01, 100.0, "assumption: t")
    narrow = gsa.Factor("f", "f", "", 0.5, 0.1, 0.9, "assumption: t")
    assert wide.log and not narrow.log
    assert not gsa.Factor("z", "z", "", 1.0, 0.0, 100.0, "assumption: t").log
    decade = gsa.Factor("d", "d", "", 1.0, 0.1, 1.0000000001, "assumption: t")
    assert not decade.log  # one decade, rounded by a unit conversion: still uniform
    assert wide.bounds == (-2.0, 2.0) and narrow.bounds == (0.1, 0.9)
    d = gsa.design("sobol", [wide, narrow], 8 * 4 * 64, seed=0)
    col = d.values[:, 0]
    assert col.min() >= 0.01 and col.max() <= 100.0
    # a quarter of the samples in each decade, not 99 % in the top one
    counts = np.histogram(np.log10(col), bins=[-2, -1, 0, 1, 2])[0] / col.size
    assert counts == pytest.approx([0.25] * 4, abs=0.03)


def test_same_seed_same_design_other_seed_other_design():
    items = ishigami_factors()
    for method in ("morris", "sobol"):
        one, two = gsa.design(method, items, 200, 7), gsa.design(method, items, 200, 7)
        assert np.array_equal(one.values, two.values)
        assert not np.array_equal(one.values, gsa.design(method, items, 200, 8).values)


def test_budget_sets_the_design_size():
    items = ishigami_factors()  # k = 4
    assert gsa.design("morris", items).runs == gsa.DEFAULT_TRAJECTORIES * 5
    assert gsa.design("morris", items, 37).size == 7
    assert gsa.design("sobol", items).runs == 8 * 6
    assert gsa.design("sobol", items, 100).size == 16  # 16 · 6 = 96 <= 100 < 32 · 6


@pytest.mark.parametrize(("method", "budget", "message"), [
    ("morris", -5, "--budget must be a whole number of runs >= 1, got -5"),
    ("morris", 0, "--budget must be a whole number of runs >= 1, got 0"),
    ("morris", 9, "--budget 9 is too small for Morris with 4 factors: at least 2 "
                  "trajectories of k + 1 runs, 10 runs"),
    ("sobol", 40, "--budget 40 is too small for Sobol' with 4 factors: at least N = 8"),
    ("local", 10, "--budget applies to morris and sobol"),
    ("fast", None, "unknown method 'fast'; choose one of morris, sobol, local"),
])
def test_bad_design_requests_are_refused(method, budget, message):
    with pytest.raises(EvnicheError, match="^" + re.escape(message)):
        gsa.design(method, ishigami_factors(), budget)


@pytest.fixture(scope="module")
def tiny():
    return evniche.load_model(str(TINY))


def test_factors_are_the_assumptions_with_a_range(tiny):
    items = gsa.factors(tiny)
    assert [f.name for f in items] == ["p_lsc", "relax", "sec_lsc"]
    by = {f.name: f for f in items}
    assert by["sec_lsc"].log and not by["relax"].log and not by["p_lsc"].log
    assert (by["relax"].low, by["relax"].high, by["relax"].unit) == (12.0, 96.0, "h")
    assert by["p_lsc"].key == "parameters.p_lsc.value"
    assert [f.name for f in gsa.factors(tiny, ["p_*", "relax"])] == ["p_lsc", "relax"]
    with pytest.raises(EvnicheError, match=re.escape("--parameter q_*: matches no assumption")):
        gsa.factors(tiny, ["q_*"])


def test_a_model_without_assumption_ranges_is_refused():
    model = evniche.load_model(str(TINY), overrides={f"parameters.{n}.range": None
                                                     for n in ("p_lsc", "sec_lsc", "relax")})
    with pytest.raises(EvnicheError, match="model 'gsa_tiny' has no assumption "
                                           "parameter with a plausible range"):
        gsa.factors(model)


@pytest.fixture(scope="module")
def morris_tiny(tiny):
    return gsa.run(tiny, days=DAYS, options=OPTIONS, seed=5, budget=8)


def test_tiny_model_ranking_is_the_one_known_by_hand(morris_tiny):
    idx = morris_tiny.indices.set_index(["readout", "parameter"])["influence"]
    # relax paces an MSC state no rule reads: no readout depends on it (solver noise only)
    for readout in ("takeover_day", "plasma_evs", "normal_output"):
        assert idx[readout, "relax"] < 1e-4
    assert idx["takeover_day", "p_lsc"] > 1.0  # LSC division drives the take-over
    assert idx["takeover_day", "sec_lsc"] < 1e-4  # no rule reads LSC exosomes back
    assert idx["plasma_evs", "sec_lsc"] > 1.0
    assert morris_tiny.unconstrained() == ["relax"]
    assert morris_tiny.ranked().index[-1] == "relax"
    summary = morris_tiny.summary()
    assert summary[-1] == "1 assumption(s) no readout here can constrain: relax"
    assert summary[1].startswith("takeover_day: 1 assumption(s) matter: p_lsc")
    samples = morris_tiny.samples
    assert len(samples) == 8 and (samples["error"] == "").all()
    assert not samples["takeover_day_censored"].any()
    assert samples["relax"].between(12, 96).all()


def test_same_seed_same_table_on_dask_as_in_process(tiny, morris_tiny):
    with distribute.cluster(workers=2, processes=False) as client:
        again = gsa.run(tiny, days=DAYS, options=OPTIONS, seed=5, budget=8, client=client)
    pd.testing.assert_frame_equal(again.samples, morris_tiny.samples)
    pd.testing.assert_frame_equal(again.indices, morris_tiny.indices)


def test_no_takeover_is_censored_at_the_horizon_and_cannot_constrain(tiny):
    # within 5 days nothing takes over: every run is censored at day 5
    res = gsa.run(tiny, days=5, options=OPTIONS, parameters=["relax"], budget=4,
                  readouts=["takeover_day"])
    assert (res.samples["takeover_day"] == 5.0).all()
    assert res.samples["takeover_day_censored"].all()
    assert res.readout_notes["takeover_day"] == ("censored at the horizon in 4 of 4 runs; "
                                                 "never moves across the runs")
    assert res.summary()[1].startswith("takeover_day: no assumption reaches influence 0.1")


def test_extra_readouts_and_their_failures_are_reported(tiny):
    def blasts_end(ds):
        return float(evniche.readouts.clinical.blast_percent(ds).isel(time=-1))

    def broken(ds):
        raise EvnicheError("no assay for this")

    res = gsa.run(tiny, days=DAYS, options=OPTIONS, parameters=["p_lsc"], budget=4,
                  readouts=["plasma_evs"], extra_readouts={"blasts_end": blasts_end,
                                                           "broken": broken})
    assert [r.name for r in res.readouts] == ["plasma_evs", "blasts_end", "broken"]
    assert res.samples["blasts_end"].between(0, 100).all()
    assert res.samples["broken"].isna().all()
    assert (res.samples["note"] == "broken: no assay for this").all()
    assert res.readout_notes["broken"].endswith("undefined in every run")


def test_every_run_failing_is_an_error(tiny):
    with pytest.raises(EvnicheError, match="every run failed; the first: .*"):
        gsa.run(tiny, days=DAYS, options=OPTIONS, parameters=["p_lsc"], budget=4,
                wall_limit_s=1e-9)


def test_local_elasticities_over_the_same_factors(tiny):
    res = gsa.run(tiny, method="local", days=DAYS, options=OPTIONS, parameters=["p_lsc",
                                                                                 "relax"])
    assert res.design.runs == 5  # baseline + 2 per factor
    idx = res.indices.set_index(["readout", "parameter"])
    assert idx.loc[("takeover_day", "p_lsc"), "elasticity"] < -0.5  # faster division, sooner
    assert abs(idx.loc[("takeover_day", "relax"), "elasticity"]) < 1e-4


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"readouts": ["blast_count"]}, "unknown readout 'blast_count'; built-in: takeover_day"),
    ({"readouts": ["math:nope"]}, "readout 'math:nope': cannot import it"),
    ({"readouts": ["plasma_evs", "plasma_evs"]}, "readout 'plasma_evs' is given twice"),
    ({"budget": -1}, "--budget must be a whole number of runs >= 1, got -1"),
    ({"days": -3}, "days"),
    ({"method": "anova"}, "unknown method 'anova'"),
])
def test_bad_requests_are_refused_before_any_run(tiny, kwargs, message):
    with pytest.raises(EvnicheError, match=re.escape(message)):
        gsa.run(tiny, **kwargs)


def test_module_function_readouts_are_imported():
    r = scalars.from_name("evniche.readouts.scalars:plasma_evs")
    assert r.function is scalars.plasma_evs
    with pytest.raises(EvnicheError, match="is not callable"):
        scalars.from_name("evniche.readouts.scalars:DEFAULT")


def _x1_below_two(row):
    """A test constraint: sets with x1 >= 2 are not valid models."""
    return ("x1 too large", f"x1 = {row[0]:.3g} >= 2") if row[0] >= 2 else None


@pytest.mark.parametrize(("method", "budget", "block"), [("morris", 40 * 5, 5),
                                                          ("sobol", 64 * 6, 6)])
def test_infeasible_candidates_are_drawn_again_and_kept_with_their_cause(method, budget,
                                                                          block):
    items = ishigami_factors()
    plain = gsa.design(method, items, budget, seed=4)
    d = gsa.design(method, items, budget, seed=4, check=_x1_below_two)
    assert d.size == plain.size and d.runs == plain.runs  # the size asked for, all valid
    assert (d.values[:, 0] < 2).all()
    assert d.candidates == d.size + len(d.rejected)
    assert d.causes() == {"x1 too large": len(d.rejected)} and len(d.rejected) > 0
    assert (d.rejected["x1"] >= 2).all() and d.rejected["set"].between(0, block - 1).all()
    # the kept blocks are whole blocks of the design drawn without the check where valid
    assert np.array_equal(gsa.design(method, items, budget, seed=4,
                                     check=lambda row: None).values, plain.values)
    # SALib analyses the constrained design as any other
    y = ishigami(d.values)
    indices, _ = gsa.analyse(method, items, d, pd.DataFrame({"y": y}),
                             [scalars.Readout("y", lambda _: 0)], 4)
    assert np.isfinite(indices["influence"]).all()


def test_a_box_with_too_few_valid_candidates_is_refused_with_the_causes():
    with pytest.raises(EvnicheError, match=re.escape(
            "only 0 of 500 candidate trajectories of morris are valid models (at least 2 "
            "needed); the others hold infeasible parameter sets: 500 x nothing valid")):
        gsa.design("morris", ishigami_factors(), 50, seed=1,
                   check=lambda row: ("nothing valid", "never"))
