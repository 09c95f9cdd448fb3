"""Graded feedback coupling: a cell type's self-renewal is scaled by s^φ (φ in [0, 1]) of
the systemic feedback s = 1 / (1 + k·Σ feedback cells), checked against the closed-form
steady state, the exact Jacobian against finite differences, the other engines against
the well-mixed one, and the refusals of a bad φ."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import evniche
from evniche.compile.network import compile_model
from evniche.engines.compiled import CompiledKinetics
from evniche.engines.kinetics import Kinetics
from evniche.errors import ModelError

P, A, D, K = 0.02, 0.8, 0.004, 1.0e-6  # 1/h, renewal, 1/h, 1/cell
N0 = 1.0e5
PHI = 0.5


def _p(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "source": "assumption: a test value"}


def coupled_model(feedback=PHI, params: dict | None = None) -> dict:
    """Blasts in the marrow that divide (p), renew with a·s^φ and die (d); s is fed back by
    the blasts themselves (strength k); they secrete exosomes (so the state has EVs)."""
    return {
        "name": "coupling", "disease": "AML",
        "parameters": {"vm": _p(1000, "mL"), "vb": _p(3000, "mL"), **(params or {})},
        "compartments": {"marrow": {"volume": "vm"}, "blood": {"volume": "vb"}},
        "vesicle_classes": {"exosome": {
            "diameter": {"median": _p(0.1, "um"), "gsd": _p(1.5, "dimensionless"),
                         "min": _p(0.03, "um"), "max": _p(0.2, "um")},
            "degradation": _p(0.1, "1/h"), "drainage": _p(0.01, "1/h"),
            "clearance": _p(1, "1/h")}},
        "cell_types": {"blast": {
            "lineage": "leukemic", "initial": _p(N0, "cell"), "proliferation": _p(P, "1/h"),
            "self_renewal": _p(A, "dimensionless"), "death": _p(D, "1/h"),
            "feedback": feedback,
            "secretion": [{"class": "exosome", "rate": _p(10, "EV/h")}]}},
        "hematopoiesis": {"feedback": {"from": ["blast"],
                                       "strength": _p(K, "dimensionless")}},
    }


def steady_count(phi: float) -> float:
    """By hand: (2·a·s^φ − 1)·p = d at s* = ((1 + d/p) / (2a))^(1/φ); N* = (1/s* − 1)/k."""
    s_star = ((1 + D / P) / (2 * A)) ** (1 / phi)
    return (1 / s_star - 1) / K


def _blasts(ds) -> np.ndarray:
    return ds["cells"].sel(cell_type="blast").values


def test_graded_coupling_settles_at_the_closed_form_steady_state():
    """φ = 0.5: N* = (1/0.5625 − 1)/1e-6 = 7.78e5 cells (φ = 1 would give 3.33e5)."""
    assert steady_count(PHI) == pytest.approx(7.778e5, rel=1e-3)
    ds = evniche.simulate(coupled_model(), days=120, equilibrate_first=False)
    assert _blasts(ds)[-1] == pytest.approx(steady_count(PHI), rel=1e-4)
    full = evniche.simulate(coupled_model(True), days=120, equilibrate_first=False)
    assert _blasts(full)[-1] == pytest.approx(steady_count(1.0), rel=1e-4)


def test_a_coupling_parameter_is_the_same_as_the_number():
    by_name = coupled_model("phi", {"phi": _p(PHI, "dimensionless")})
    a = evniche.simulate(by_name, days=5, equilibrate_first=False)
    b = evniche.simulate(coupled_model(), days=5, equilibrate_first=False)
    np.testing.assert_array_equal(_blasts(a), _blasts(b))


@pytest.mark.parametrize(("flag", "number"), [(True, 1.0), (False, 0.0)])
def test_true_and_false_are_couplings_one_and_zero_exactly(flag, number):
    """φ = 1 gives s and φ = 0 gives 1 with no power evaluated: bitwise the old bools."""
    kin_flag = Kinetics(compile_model(evniche.load_model(coupled_model(flag))))
    kin_num = Kinetics(compile_model(evniche.load_model(coupled_model(number))))
    s = 0.123456789
    assert kin_flag.feedback_factor(s)[0] == (s if flag else 1.0)
    y = kin_flag.initial_state()
    np.testing.assert_array_equal(CompiledKinetics(kin_flag).rhs(0.0, y),
                                  CompiledKinetics(kin_num).rhs(0.0, y))
    np.testing.assert_array_equal(kin_flag.rhs(0.0, y), kin_num.rhs(0.0, y))


def test_compiled_rhs_and_kinetics_agree_and_the_jacobian_matches_finite_differences():
    kin = Kinetics(compile_model(evniche.load_model(coupled_model())))
    comp = CompiledKinetics(kin)
    y = kin.initial_state()
    y[kin.i_ev_m] = 1e6
    np.testing.assert_allclose(comp.rhs(0.0, y), kin.rhs(0.0, y), rtol=1e-12, atol=0)
    J = comp.jacobian(0.0, y).toarray()
    i = kin.i_cell[0]
    h = 1e-3 * y[i]
    up, down = y.copy(), y.copy()
    up[i] += h
    down[i] -= h
    fd = (comp.rhs(0.0, up) - comp.rhs(0.0, down)) / (2 * h)
    np.testing.assert_allclose(J[:, i], fd, rtol=1e-6, atol=1e-12)
    # by hand: d(dN/dt)/dN = ((2a s^φ − 1)p − d) + 2a p φ s^(φ−1) · ds/dN · N, ds/dN = −k s²
    N = y[i]
    s = 1 / (1 + K * N)
    by_hand = (2 * A * s**PHI - 1) * P - D + 2 * A * P * PHI * s ** (PHI - 1) * (-K * s**2) * N
    assert J[i, i] == pytest.approx(by_hand, rel=1e-10)


def test_stochastic_engine_follows_the_ode_with_a_graded_coupling():
    data = coupled_model()
    ode = evniche.simulate(data, days=2, equilibrate_first=False)
    ds = evniche.simulate(data, days=2, engine="stochastic", seed=3, threshold=1e4,
                          equilibrate_first=False)
    np.testing.assert_allclose(_blasts(ds), _blasts(ode), rtol=1e-4)


def test_spatial_engine_takes_the_graded_coupling():
    """The spatial engine's renewal uses s^φ too: its blast count after 6 days lies within
    3 % of the well-mixed one with φ = 0.5 (2.29e5), while φ = 1 gives 21 % fewer (1.80e5)."""
    small = {"size_um": (120.0, 120.0), "dx_um": 10.0, "sinusoid_spacing_um": 60.0,
             "agents": 2000, "min_agents": 20, "equilibrate_first": False}
    sp = evniche.simulate(coupled_model(), days=6, seed=1, engine="spatial", **small)
    graded = evniche.simulate(coupled_model(), days=6, equilibrate_first=False)
    full = evniche.simulate(coupled_model(True), days=6, equilibrate_first=False)
    assert _blasts(sp)[-1] == pytest.approx(_blasts(graded)[-1], rel=0.03)
    assert _blasts(full)[-1] < 0.85 * _blasts(graded)[-1]


@pytest.mark.parametrize(("feedback", "params", "message"), [
    (1.5, None, "outside [0, 1]"),
    (-0.1, None, "outside [0, 1]"),
    ("phi", {"phi": _p(2.0, "dimensionless")}, "above 1.0"),
    ("phii", {"phi": _p(0.5, "dimensionless")}, "'phii'"),
    ("phi", {"phi": _p(0.5, "1/h")}, "dimensionless"),
])
def test_a_bad_coupling_is_refused_naming_the_cell_type(feedback, params, message):
    with pytest.raises(ModelError) as err:
        evniche.load_model(coupled_model(feedback, params))
    assert message in str(err.value)
    assert "cell_types.blast" in str(err.value)


def test_an_override_past_the_range_is_refused_naming_the_cell_type():
    """simulate_many sets parameter values without resolving the file again."""
    net = compile_model(evniche.load_model(coupled_model("phi", {"phi": _p(PHI,
                                                                  "dimensionless")})))
    bad = copy.copy(net)
    bad.params = {**net.params, "phi": 1.2}
    with pytest.raises(ModelError, match=r"feedback coupling φ of cell type 'blast' is 1.2"):
        Kinetics(bad)
