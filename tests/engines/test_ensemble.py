"""simulate_many: many parameter sets of one model in one process give what separate
runs of the reloaded model give; parameter sets are checked before any run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import evniche
from evniche import engines
from evniche.compile.network import compile_model
from evniche.engines.ensemble import ParameterValues, simulate_many
from evniche.errors import EvnicheError
from evniche.spec.loader import load_model

TINY = str(Path(__file__).parents[1] / "spec" / "tiny.yaml")


def test_parameter_values_equal_those_of_the_reloaded_model():
    # ev_marrow_half_life feeds the formula of ev_marrow_degradation; kclear-like unit
    # conversions (h, min, days) and a plain dimensionless value are covered too
    model = load_model("aml")
    net = compile_model(model)
    table = model.params.resolved
    half_life = table["ev_marrow_half_life"]
    assert "ev_marrow_half_life" in table["ev_marrow_degradation"].expr  # relied on here
    new = {"ev_marrow_half_life": half_life.value_in_unit * 1.5,
           "lsc_self_renewal": 0.9}
    ours = ParameterValues(model, net).canonical(new)
    reloaded = compile_model(load_model(model.raw, overrides={
        f"parameters.{k}": v for k, v in new.items()})).params
    assert ours.keys() == reloaded.keys()
    for name, value in reloaded.items():
        assert ours[name] == pytest.approx(value, rel=1e-12, abs=0.0), name
    assert ours["ev_marrow_degradation"] != net.params["ev_marrow_degradation"]


def test_runs_equal_separate_simulations_of_the_reloaded_model():
    sets = [{}, {"kclear": 3.0, "a1": 0.6}, {"sec": 250.0}]
    # each set relaxes from the model's own steady state, a separate run from the initial
    # values: the same steady state within the solver's tolerances (rtol 1e-7, absolute
    # floors of 1e-6 cells and 1e-3 EVs, engines.wellmixed.tolerances)
    runs = simulate_many(TINY, sets, days=10)
    for overrides, ds in zip(sets, runs, strict=True):
        model = load_model(TINY, overrides={f"parameters.{k}": v for k, v in
                                            overrides.items()})
        alone = engines.simulate(model, days=10)
        for name, floor in (("cells", 1e-6), ("ev", 1e-3)):
            np.testing.assert_allclose(ds[name].values, alone[name].values, rtol=1e-6,
                                       atol=floor, err_msg=f"{name} of {overrides}")
        assert ds.attrs["ledger_relative_error"] <= 1e-9
    # the sets differ where they should: more secretion, more EVs
    assert float(runs[2].ev.sum()) > float(runs[0].ev.sum())


def test_a_readout_is_applied_to_each_run():
    # through the top-level API; from the model's initial values (HSC die out in the tiny
    # model's healthy steady state, so from there both runs would end at 0)
    final_hsc = evniche.simulate_many(TINY, [{"p1": 0.001}, {"p1": 0.002}], days=5,
                              readout=lambda ds: float(ds.cells.sel(cell_type="HSC")
                                                       .isel(time=-1)),
                              equilibrate_first=False)
    assert all(isinstance(v, float) for v in final_hsc)
    assert final_hsc[0] != final_hsc[1]


@pytest.mark.parametrize("overrides, message", [
    ([{}, {"no_such": 1.0}], r"overrides\[1\]: 'no_such' is not a parameter"),
    ([{"kdeg": float("nan")}], r"overrides\[0\]: parameter 'kdeg' = nan; expected a finite"),
    ([{"kdeg": "fast"}], r"parameter 'kdeg' = 'fast'; expected a finite number in 1/h"),
])
def test_bad_parameter_sets_are_refused_before_any_run(overrides, message):
    with pytest.raises(EvnicheError, match=message):
        simulate_many(TINY, overrides, days=1)


def test_a_value_outside_the_plausible_range_is_refused():
    with pytest.raises(EvnicheError, match=r"'lsc_self_renewal' = 0.5 .*outside its range"):
        simulate_many("aml", [{"lsc_self_renewal": 0.5}], days=1)


def test_failed_runs_are_recorded_when_asked():
    # HSC renewing at 10 divisions per hour blow up; the other set runs
    runs = simulate_many(TINY, [{"p1": 10.0, "a1": 1.0}, {}], days=2, errors="record",
                         equilibrate_first=False)
    assert isinstance(runs[0], EvnicheError) and "grows without bound" in str(runs[0])
    assert not isinstance(runs[1], Exception)
    # a set that fails the check is recorded in its place too (a Dask chunk's rows)
    checked = simulate_many(TINY, [{"no_such": 1.0}, {}], days=1, errors="record",
                            equilibrate_first=False)
    assert isinstance(checked[0], EvnicheError) and "'no_such'" in str(checked[0])
    assert not isinstance(checked[1], Exception)
    with pytest.raises(EvnicheError, match=r"overrides\[0\] .*grows without bound"):
        simulate_many(TINY, [{"p1": 10.0, "a1": 1.0}], days=2, equilibrate_first=False)


@pytest.fixture(scope="module")
def aml_base(tmp_path_factory):
    """aml, its network and its steady state (computed in a cache folder of its own)."""
    from evniche.engines.kinetics import Kinetics
    from evniche.engines.wellmixed import starting_state

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        model = load_model("aml")
        net = compile_model(model)
        yield model, net, starting_state(Kinetics(net), True)


def test_relaxing_from_the_base_steady_state_reaches_the_same_steady_state(aml_base, tmp_path,
                                                                          monkeypatch):
    # aml under another LSC self-renewal and EV half-life: relaxed from the base model's
    # steady state (what simulate_many does) or from the initial values (a lone run)
    from evniche.engines.kinetics import Kinetics
    from evniche.engines.wellmixed import starting_state

    model, net, base = aml_base
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a"))
    values = ParameterValues(model, net).canonical(
        {"lsc_self_renewal": 0.9,
         "ev_marrow_half_life": model.params.resolved["ev_marrow_half_life"].value_in_unit
         * 1.4})
    other = Kinetics(net, values)
    warm = starting_state(other, True, relax_from=base)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))  # no cached state
    cold = starting_state(other, True)
    assert np.max(np.abs(warm - base) / (np.abs(base) + 1.0)) > 1e-3  # it did move
    np.testing.assert_allclose(warm, cold, rtol=1e-6, atol=1e-6)


def test_members_that_are_only_read_leave_out_the_restart_state():
    full, slim = (simulate_many(TINY, [{"sec": 250.0}], days=3, restartable=keep)[0]
                  for keep in (True, False))
    assert "state_vector" in full and "state_vector" not in slim
    assert "initial_state_vector" not in slim
    np.testing.assert_array_equal(slim.cells.values, full.cells.values)
    np.testing.assert_array_equal(slim.ev.values, full.ev.values)


def test_newton_first_reaches_the_same_steady_state_in_fewer_solver_steps(aml_base,
                                                                         monkeypatch):
    # from the base steady state, Newton's method lands on the set's steady state and the
    # 200-year relaxation from there is a few steps; without it the relaxation does the work
    from evniche.engines import wellmixed
    from evniche.engines.kinetics import Kinetics

    model, net, base = aml_base
    half_life = model.params.resolved["ev_marrow_half_life"].value_in_unit
    other = Kinetics(net, ParameterValues(model, net).canonical(
        {"ev_marrow_half_life": half_life * 1.4}))  # the healthy state moves (EV pools)
    evaluations = []
    solve = wellmixed.solve

    def counted(*args, **kwargs):
        sol = solve(*args, **kwargs)
        evaluations.append(sol.nfev)
        return sol

    monkeypatch.setattr(wellmixed, "solve", counted)
    fast = wellmixed.equilibrate(other, base, newton_first=True)
    slow = wellmixed.equilibrate(other, base)
    assert evaluations[0] < evaluations[1] / 3
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-9)


def test_a_set_whose_derived_parameter_is_not_real_is_an_error_in_its_place():
    """HSCs that leave the niche faster than they divide (mobilization at its range's top,
    weak CXCL12 retention, the longest division interval) have a negative outflow, so the
    amplification per stage, its cube root, is complex: that set is an EvnicheError naming
    the derived parameter (recorded in its place), not a TypeError from float()."""
    bad = {"hsc_mobilization_max": 1e-3, "hsc_division_interval": 50,
           "cxcl12_retention_half_max": 1e8}
    results = simulate_many("healthy", [bad, {}], 1.0, errors="record")
    assert isinstance(results[0], EvnicheError)
    assert "amplification_per_stage" in str(results[0]) and "hsc_outflow" in str(results[0])
    assert not isinstance(results[1], Exception)
    with pytest.raises(EvnicheError, match="overrides\\[0\\]: derived parameter"):
        simulate_many("healthy", [bad], 1.0)


@pytest.mark.parametrize(("overrides", "parameter", "condition", "place"), [
    # the niche cannot hold the HSCs: 2·a·ν = 0.78 < 1 needs a negative feedback strength
    ({"hsc_self_renewal": 0.6, "niche_occupancy": 0.65}, "feedback_strength", "negative",
     "hematopoiesis.feedback.strength"),
    # MPPs divide (0.03/day) slower than crowding removes them at rest (2/day · 0.5^4)
    ({"mpp_division": 0.03, "crowding_rate": 2.0, "crowding_power": 4.0}, "mpp_count",
     "negative", "cell_types.MPP.initial"),
])
def test_a_set_a_reload_would_refuse_is_infeasible_naming_its_cause(overrides, parameter,
                                                                     condition, place):
    """Derived values outside what their place of use accepts (the loader's checks) are an
    InfeasibleParameters naming the parameter, the condition and the place, as a reload of
    the model with those values refuses them; before, such sets ran (and crawled)."""
    from evniche.engines.ensemble import InfeasibleParameters
    from evniche.errors import ModelError

    model = load_model("healthy")
    values = ParameterValues(model, compile_model(model))
    with pytest.raises(InfeasibleParameters) as caught:
        values.canonical(overrides, "set 3")
    assert (caught.value.parameter, caught.value.condition) == (parameter, condition)
    assert str(caught.value).startswith(f"set 3: derived parameter '{parameter}' = ")
    assert f"is {condition} where {place} uses it (expected >= 0)" in str(caught.value)
    with pytest.raises(ModelError, match=f"parameter '{parameter}' = .* is negative"):
        load_model("healthy", overrides={f"parameters.{k}.value": v
                                         for k, v in overrides.items()})
    results = simulate_many("healthy", [overrides], 1.0, errors="record")
    assert isinstance(results[0], InfeasibleParameters)


def test_an_ensemble_relaxation_is_bounded_a_lone_one_is_not(monkeypatch):
    """A member's relaxation to its healthy steady state past RELAXATION_EVALUATIONS
    right-hand-side evaluations (a healthy state that oscillates) fails with the reason in
    its place, deterministically; a lone run's relaxation is as it always was."""
    from evniche.engines import wellmixed

    monkeypatch.setattr(wellmixed, "RELAXATION_EVALUATIONS", 5)
    monkeypatch.setattr(wellmixed, "_write_steady", lambda path, y: None)
    monkeypatch.setattr(wellmixed, "_read_steady", lambda path, size: None)
    wellmixed._RECENT.clear()
    results = simulate_many(TINY, [{"sec": 120.0}], 2.0, errors="record")
    assert isinstance(results[0], EvnicheError)
    assert "no healthy steady state: the relaxation to it had not settled after 5 " \
           "right-hand-side evaluations" in str(results[0])
    wellmixed._RECENT.clear()
    assert evniche.simulate(TINY, days=2.0) is not None
