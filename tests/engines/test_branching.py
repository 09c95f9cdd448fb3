"""Branching differentiation (several targets with fractions), mutation at division and
parameter windows (``scale``/``set``), checked by hand on small linear models: flows out
of a type equal the flows into its targets, a scaled rate changes only inside its window
(closed-form piecewise exponential), mutation feeds the leukemic type at 2·(1 - f)·μ·p·N,
and bad input is refused with a clear message."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import evniche
from evniche.compile.interventions import build_schedule, parse_intervention
from evniche.compile.network import compile_model
from evniche.engines.kinetics import Kinetics
from evniche.engines.wellmixed import integrate
from evniche.errors import ModelError, SimulationError

P, A, F, MU, DS, DE, DM, DL = 0.02, 0.45, 0.1, 0.01, 0.002, 0.01, 0.02, 0.005
FE = 0.7  # share of differentiating daughters that become erythroid
S0, E0, M0 = 1.0e5, 2.0e5, 3.0e5
K0 = 0.004  # 1/h, base of the death rate of 'stem' (death = 2·k0)


def _p(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "source": "assumption: a test value"}


def branching_model() -> dict:
    """stem divides (p, self-renewal a, a share f of divisions failing), its differentiated
    daughters go to erythroid (FE) and myeloid (1 - FE), each daughter mutates into LSC
    with probability μ; stem dies at 2·k0 (a derived parameter)."""
    return {
        "name": "branching", "disease": "AML",
        "parameters": {
            "vm": _p(1000, "mL"), "vb": _p(3000, "mL"),
            "f_ery": _p(FE, "dimensionless"),
            "f_mye": {"expr": "1 - f_ery", "unit": "dimensionless",
                      "source": "derived: the rest"},
            "mu": _p(MU, "dimensionless"),
            "k0": _p(K0, "1/h"),
            "k_death": {"expr": "2 * k0", "unit": "1/h", "source": "derived: twice k0"},
            "p_stem": _p(P, "1/h"),
        },
        "compartments": {"marrow": {"volume": "vm"}, "blood": {"volume": "vb"}},
        "vesicle_classes": {"exosome": {
            "diameter": {"median": _p(0.1, "um"), "gsd": _p(1.4, "dimensionless"),
                         "min": _p(0.03, "um"), "max": _p(0.15, "um")},
            "degradation": _p(0.1, "1/h"), "drainage": _p(0.5, "1/h"),
            "clearance": _p(7, "1/min")}},
        "cell_types": {
            "stem": {"is_a": "HSC", "initial": _p(S0, "cell"), "proliferation": "p_stem",
                     "self_renewal": _p(A, "dimensionless"),
                     "division_failure": _p(F, "dimensionless"), "death": "k_death",
                     "differentiates_to": {"erythroid": "f_ery", "myeloid": "f_mye"},
                     "mutates_to": {"target": "LSC", "rate": "mu"}},
            "erythroid": {"is_a": "mature", "initial": _p(E0, "cell"), "death": _p(DE, "1/h")},
            "myeloid": {"is_a": "mature", "initial": _p(M0, "cell"), "death": _p(DM, "1/h")},
            "LSC": {"lineage": "leukemic", "initial": _p(0, "cell"), "death": _p(DL, "1/h")},
        },
    }


def net_of(data: dict):
    return compile_model(evniche.load_model(data))


def growth(p: float = P, k: float = K0) -> float:
    """Net growth rate of stem (1/h): (2·a·(1 - f)·(1 - μ) - 1)·p - 2·k0."""
    return (2 * A * (1 - F) * (1 - MU) - 1) * p - 2 * k


# ---------------------------------------------------------------------------------- rhs
def test_flows_out_of_stem_equal_the_flows_into_its_targets():
    kin = Kinetics(net_of(branching_model()))
    y = kin.initial_state()
    dy = kin.rhs(0.0, y)
    cell = {c.name: kin.i_cell[i] for i, c in enumerate(kin.net.cells)}
    daughters = 2 * (1 - F) * P * S0  # successful-division daughters per hour
    diff = 2 * (1 - A) * (1 - F) * (1 - MU) * P * S0
    assert dy[cell["erythroid"]] == pytest.approx(FE * diff - DE * E0, rel=1e-12)
    assert dy[cell["myeloid"]] == pytest.approx((1 - FE) * diff - DM * M0, rel=1e-12)
    assert dy[cell["LSC"]] == pytest.approx(daughters * MU, rel=1e-12)
    assert dy[cell["stem"]] == pytest.approx(growth() * S0, rel=1e-12)
    # conservation: the daughters stem does not keep are exactly those its targets receive
    kept = dy[cell["stem"]] + P * S0 + 2 * K0 * S0  # net change + divided + died
    inflow = (dy[cell["erythroid"]] + DE * E0 + dy[cell["myeloid"]] + DM * M0
              + dy[cell["LSC"]])
    assert inflow == pytest.approx(daughters - kept, rel=1e-12)


def test_mutation_feeds_the_leukemic_type_over_time():
    """LSC (no division, death d_l) fed by 2·(1 - f)·μ·p·S(t): the closed form."""
    sol = integrate(net_of(branching_model()), 5.0, equilibrate_first=False, rtol=1e-10,
                    output_hours=6.0)
    kin, t = sol.kinetics, sol.t
    g = growth()
    rate = 2 * (1 - F) * MU * P * S0
    lsc = rate / (g + DL) * (np.exp(g * t) - np.exp(-DL * t))
    i = [c.name for c in kin.net.cells].index("LSC")
    np.testing.assert_allclose(sol.y[1:, kin.i_cell[i]], lsc[1:], rtol=1e-6)


def test_single_target_form_keeps_its_dynamics():
    data = branching_model()
    stem = data["cell_types"]["stem"]
    stem["differentiates_to"] = "erythroid"
    del stem["mutates_to"]
    kin = Kinetics(net_of(data))
    dy = kin.rhs(0.0, kin.initial_state())
    assert dy[kin.i_cell[1]] == 2 * (1 - A) * (1 - F) * P * S0 - DE * E0
    assert dy[kin.i_cell[0]] == ((2 * A * (1 - F) - 1) * P - 2 * K0) * S0


# ---------------------------------------------------------------------- parameter windows
def _stem_count(schedule_items: list, days: float = 8.0, engine_rtol: float = 1e-10):
    net = net_of(branching_model())
    schedule = build_schedule(net, schedule_items, days)
    sol = integrate(net, days, schedule, equilibrate_first=False, rtol=engine_rtol,
                    output_hours=3.0)
    return sol.t, sol.y[:, sol.kinetics.i_cell[0]]


def piecewise(t: np.ndarray, g0: float, g1: float, a: float, b: float) -> np.ndarray:
    """S0·exp of growth g0 outside [a, b) and g1 inside (hours)."""
    inside = np.clip(t, a, b) - a
    return S0 * np.exp(g0 * (t - inside) + g1 * inside)


def test_scale_changes_the_rate_only_inside_its_window_and_derived_parameters_follow():
    # k0 × 3 from day 2 for 3 days: the death rate k_death = 2·k0 follows
    t, stem = _stem_count([{"name": "scale", "start": 2.0,
                            "options": {"parameter": "k0", "factor": "3", "duration": "3"}}])
    expected = piecewise(t, growth(), growth(k=3 * K0), 48.0, 120.0)
    np.testing.assert_allclose(stem, expected, rtol=1e-6)
    untreated = S0 * np.exp(growth() * t)
    assert np.all(stem[t <= 48.0] == pytest.approx(untreated[t <= 48.0], rel=1e-6))
    assert stem[-1] < 0.9 * untreated[-1]


def test_set_replaces_a_value_with_its_unit():
    # proliferation set to 0.24 1/day = 0.01 1/h from day 1 to day 4
    t, stem = _stem_count([{"name": "set", "start": 1.0,
                            "options": {"parameter": "p_stem", "value": "0.24 1/day",
                                        "duration": "3 day"}}])
    np.testing.assert_allclose(stem, piecewise(t, growth(), growth(p=0.01), 24.0, 96.0),
                               rtol=1e-6)


def test_trajectory_behaviors_show_the_window():
    net = net_of(branching_model())
    ds = evniche.simulate(evniche.load_model(branching_model()), days=6, equilibrate_first=False,
                          interventions=[{"name": "scale", "start": 2.0, "options": {
                              "parameter": "p_stem", "factor": "2", "duration": "2"}}])
    prolif = ds.behaviors.sel(behavior="stem.proliferation").values
    day = ds.time.values  # days
    assert net.params["p_stem"] == P
    np.testing.assert_allclose(prolif, np.where((day >= 2) & (day < 4), 2 * P, P))


@pytest.mark.parametrize(("options", "message"), [
    ({"parameter": "nope", "factor": "2"}, "no parameter 'nope'"),
    ({"parameter": "k0"}, "needs option factor"),
    ({"parameter": "k0", "factor": "-1"}, ">= 0"),
    ({"parameter": "f_ery", "factor": "2"}, "fraction"),
    ({"parameter": "mu", "factor": "1e9"}, "fraction"),
    ({"parameter": "vm", "factor": "0"}, "positive"),
])
def test_bad_scale_is_refused(options, message):
    net = net_of(branching_model())
    with pytest.raises(ModelError, match=message) as err:
        build_schedule(net, [{"name": "scale", "start": 1.0, "options": options}], 10.0)
    assert "interventions[0]" in str(err.value)


@pytest.mark.parametrize(("options", "message"), [
    ({"parameter": "p_stem", "value": "0.01 mL"}, "expected a rate"),
    ({"parameter": "p_stem", "value": "fast"}, "expected a number with a unit"),
    ({"parameter": "p_stem"}, "needs option value"),
])
def test_bad_set_is_refused(options, message):
    net = net_of(branching_model())
    with pytest.raises(ModelError, match=message):
        build_schedule(net, [{"name": "set", "start": 1.0, "options": options}], 10.0)


def test_fractions_must_still_sum_to_one_inside_a_window():
    # f_mye = 1 - f_ery follows a new f_ery: accepted, the shares stay complementary
    net = net_of(branching_model())
    schedule = build_schedule(net, [{"name": "set", "start": 1.0, "options": {
        "parameter": "f_ery", "value": "0.9"}}], 10.0)
    from evniche.compile.parameter_windows import values_in_force

    assert values_in_force(net, schedule, 48.0) == pytest.approx({"f_ery": 0.9, "f_mye": 0.1})
    # an independent f_mye does not follow: refused
    data = branching_model()
    data["parameters"]["f_mye"] = _p(1 - FE, "dimensionless")
    with pytest.raises(ModelError, match="would sum to 1.2"):
        build_schedule(net_of(data), [{"name": "set", "start": 1.0, "options": {
            "parameter": "f_ery", "value": "0.9"}}], 10.0)


def test_overlapping_sets_of_one_parameter_are_refused():
    net = net_of(branching_model())
    items = [{"name": "set", "start": s, "options": {"parameter": "p_stem", "value": v}}
             for s, v in ((1.0, "0.01 1/h"), (2.0, "0.03 1/h"))]
    with pytest.raises(ModelError, match="two 'set' interventions"):
        build_schedule(net, items, 10.0)


def test_a_scale_can_be_given_on_the_command_line():
    item = parse_intervention("scale@2:parameter=k0,factor=3,duration=3")
    assert item == {"name": "scale", "start": 2.0,
                    "options": {"parameter": "k0", "factor": "3", "duration": "3"}}
    t, stem = _stem_count([item])
    np.testing.assert_allclose(stem, piecewise(t, growth(), growth(k=3 * K0), 48.0, 120.0),
                               rtol=1e-6)


# ----------------------------------------------------------------------------- errors
def _refused(change, message: str, where: str) -> None:
    data = branching_model()
    change(data)
    with pytest.raises(ModelError, match=message) as err:
        evniche.load_model(data)
    assert where in str(err.value)


@pytest.mark.parametrize(("change", "message", "where"), [
    (lambda d: d["parameters"].update(f_ery=_p(0.5, "dimensionless"),
                                      f_mye=_p(0.4, "dimensionless")),
     "sum to 0.9", "cell_types.stem.differentiates_to"),
    (lambda d: d["cell_types"]["stem"].update(differentiates_to={"erythroid": "f_ery",
                                                                 "monocyte": "f_mye"}),
     "unknown cell type 'monocyte'", "cell_types.stem.differentiates_to.monocyte"),
    (lambda d: d["cell_types"]["stem"].update(differentiates_to={"erythroid": "nope"}),
     "not defined", "cell_types.stem.differentiates_to.erythroid"),
    (lambda d: d["cell_types"]["stem"].update(differentiates_to={}),
     "at least one cell type", "cell_types.stem.differentiates_to"),
    (lambda d: d["cell_types"]["stem"].update(differentiates_to={"erythroid": _p(1.2, "1")}),
     "above 1", "cell_types.stem.differentiates_to.erythroid"),
    (lambda d: d["cell_types"]["stem"].update(differentiates_to="stem"),
     "into itself", "cell_types.stem.differentiates_to"),
    (lambda d: d["parameters"].update(mu=_p(-1e-6, "dimensionless")),
     "negative", "cell_types.stem.mutates_to.rate"),
    (lambda d: d["parameters"].update(mu=_p(1e-3, "1/h")),
     "dimensionless", "cell_types.stem.mutates_to.rate"),
    (lambda d: d["parameters"].update(mu=_p(2.0, "dimensionless")),
     "above 1", "cell_types.stem.mutates_to.rate"),
    (lambda d: d["cell_types"]["stem"]["mutates_to"].update(target="AML"),
     "unknown cell type 'AML'", "cell_types.stem.mutates_to.target"),
    (lambda d: d["cell_types"]["stem"]["mutates_to"].update(target="stem"),
     "cannot mutate into itself", "cell_types.stem.mutates_to.target"),
    (lambda d: d["cell_types"]["erythroid"].update(mutates_to={"target": "LSC",
                                                               "rate": "mu"}),
     "needs 'proliferation'", "cell_types.erythroid.mutates_to"),
])
def test_bad_branching_or_mutation_is_refused(change, message, where):
    _refused(change, message, where)


def test_mutation_is_a_behavior_rules_can_change():
    data = branching_model()
    data["drugs"] = {"mutagen": {"elimination": _p(0.1, "1/h")}}
    data["rules"] = [{"cell_type": "stem", "signal": "drug:mutagen", "direction": "increases",
                      "behavior": "mutation", "saturation": _p(0.5, "dimensionless"),
                      "half_max": _p(1, "nM"), "hill_power": _p(1, "dimensionless")}]
    kin = Kinetics(net_of(data))
    y = kin.initial_state()
    y[kin.i_drug[0]] = 1.0  # at half-max: μ = MU + (0.5 - MU) / 2
    mu = MU + (0.5 - MU) / 2
    lsc = [c.name for c in kin.net.cells].index("LSC")
    assert kin.rhs(0.0, y)[kin.i_cell[lsc]] == pytest.approx(2 * (1 - F) * mu * P * S0,
                                                             rel=1e-12)
    bad = copy.deepcopy(data)
    bad["rules"][0]["cell_type"] = "erythroid"
    with pytest.raises(ModelError, match="no base 'mutates_to'"):
        evniche.load_model(bad)


# ----------------------------------------------------------------------------- spatial
def test_spatial_engine_branches_mutates_and_scales_like_the_closed_form():
    """Agents share differentiated daughters by the fractions, mutate at 2·(1 - f)·μ per
    division and follow a scale window: counts, pooled over three seeds, agree with the
    closed form within sampling noise (about 4000 agents per run; single runs scatter by
    ~5-10 %)."""
    data = branching_model()
    mu = 0.05  # enough mutants to count
    data["parameters"]["mu"] = _p(mu, "dimensionless")
    model = evniche.load_model(data)
    days = 3.0
    runs = [evniche.simulate(model, days=days, seed=seed, engine="spatial",
                             size_um=(200.0, 200.0), dx_um=20.0, agents=4000, min_agents=20,
                             equilibrate_first=False, sinusoid_spacing_um=100.0,
                             interventions=[{"name": "scale", "start": 1.0, "options": {
                                 "parameter": "k0", "factor": "3", "duration": "1"}}])
            for seed in (1, 2, 3)]

    def final(name: str) -> float:
        return float(np.mean([sp.cells.sel(cell_type=name).isel(time=-1) for sp in runs]))

    t = days * 24.0
    g0 = (2 * A * (1 - F) * (1 - mu) - 1) * P - 2 * K0
    g1 = g0 - 4 * K0  # death 2·(3·k0) during day 1-2

    def stem_at(ts):
        inside = np.clip(ts, 24.0, 48.0) - 24.0
        return S0 * np.exp(g0 * (ts - inside) + g1 * inside)

    assert final("stem") == pytest.approx(stem_at(t), rel=0.06)
    # made by stem over the run: differentiated daughters split FE : 1 - FE
    made_e = final("erythroid") - E0 * np.exp(-DE * t)
    made_m = final("myeloid") - M0 * np.exp(-DM * t)
    assert made_e / (made_e + made_m) == pytest.approx(FE, abs=0.04)
    ts = np.linspace(0.0, t, 2001)
    expected = np.trapezoid(2 * (1 - F) * mu * P * stem_at(ts) * np.exp(-DL * (t - ts)), ts)
    assert final("LSC") == pytest.approx(expected, rel=0.1)


def test_spatial_engine_refuses_a_window_on_a_fixed_parameter():
    with pytest.raises(SimulationError, match="keeps parameter 'vm'"):
        evniche.simulate(evniche.load_model(branching_model()), days=2, engine="spatial",
                         size_um=(100.0, 100.0), dx_um=20.0, agents=200,
                         equilibrate_first=False, sinusoid_spacing_um=100.0,
                         interventions=[{"name": "scale", "start": 1.0,
                                         "options": {"parameter": "vm", "factor": "2"}}])


def test_a_window_on_an_initial_value_is_refused():
    with pytest.raises(ModelError, match="changing it during a run would change nothing"):
        build_schedule(net_of(branching_model()), [{"name": "scale", "start": 1.0, "options": {
            "parameter": "cell_types.stem.initial", "factor": "2"}}], 10.0)
