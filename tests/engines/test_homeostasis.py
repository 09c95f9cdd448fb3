"""Homeostatic control of a pool (cell type ``homeostasis``): the death rate times
(N / set_point)^power. A type with proliferation p, self-renewal 1 and death d settles at
N* = set_point · (p / d)^(1/power); at N = set_point nothing changes."""

from __future__ import annotations

import numpy as np
import pytest

import evniche
from evniche.compile.network import compile_model
from evniche.engines.kinetics import Kinetics
from evniche.engines.wellmixed import equilibrate, integrate

SET_POINT = 1.0e6


def _p(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "source": "assumption: a test value"}


def pool_model(p: float, d: float, power: float | None, initial: float = SET_POINT,
               compartment: str = "marrow") -> dict:
    """One CD8 T-cell pool: proliferation ``p`` (1/h), self-renewal 1, death ``d`` (1/h),
    homeostasis at SET_POINT with ``power`` (none if None)."""
    cell = {"lineage": "immune", "compartment": compartment, "initial": _p(initial, "cell"),
            "proliferation": _p(p, "1/h"), "self_renewal": _p(1, "dimensionless"),
            "death": _p(d, "1/h")}
    if power is not None:
        cell["homeostasis"] = {"set_point": _p(SET_POINT, "cell"),
                               "power": _p(power, "dimensionless")}
    return {
        "name": "pool", "parameters": {"vm": _p(1000, "mL"), "vb": _p(3000, "mL")},
        "compartments": {"marrow": {"volume": "vm"}, "blood": {"volume": "vb"}},
        "vesicle_classes": {}, "cell_types": {"CD8_T": cell},
    }


def kinetics(data: dict) -> Kinetics:
    return Kinetics(compile_model(evniche.load_model(data)))


@pytest.mark.parametrize(("p", "d", "power"), [(0.03, 0.01, 1.0), (0.03, 0.01, 2.0),
                                               (0.01, 0.03, 0.5), (0.02, 0.01, 1.5)])
def test_rhs_vanishes_at_the_analytic_equilibrium(p, d, power):
    kin = kinetics(pool_model(p, d, power))
    n_star = SET_POINT * (p / d) ** (1.0 / power)
    for n, sign in ((n_star, 0), (0.5 * n_star, 1), (2.0 * n_star, -1)):
        y = kin.initial_state()
        y[kin.i_cell[0]] = n
        rate = kin.rhs(0.0, y)[kin.i_cell[0]]
        if sign == 0:
            assert abs(rate) <= 1e-12 * p * n
        else:
            assert np.sign(rate) == sign  # the equilibrium attracts


@pytest.mark.parametrize(("p", "d", "power"), [(0.03, 0.01, 1.0), (0.03, 0.09, 0.5)])
@pytest.mark.parametrize("compartment", ["marrow", "blood"])
def test_pool_relaxes_to_the_analytic_equilibrium(p, d, power, compartment):
    # near N* the pool relaxes at rate power·p (≥ 0.015/h here): 60 days are ~20 e-folds
    net = compile_model(evniche.load_model(pool_model(p, d, power, compartment=compartment)))
    sol = integrate(net, days=60, equilibrate_first=False)
    n_star = SET_POINT * (p / d) ** (1.0 / power)
    assert sol.y[-1, sol.kinetics.i_cell[0]] == pytest.approx(n_star, rel=1e-5)
    kin = Kinetics(net)
    y = equilibrate(kin, kin.initial_state())
    assert y[kin.i_cell[0]] == pytest.approx(n_star, rel=1e-6)


def test_without_homeostasis_or_at_power_zero_the_pool_grows_without_bound():
    days = 30
    free = compile_model(evniche.load_model(pool_model(0.03, 0.01, None)))
    flat = compile_model(evniche.load_model(pool_model(0.03, 0.01, 0.0)))
    a = integrate(free, days=days, equilibrate_first=False)
    b = integrate(flat, days=days, equilibrate_first=False)
    expected = SET_POINT * np.exp((0.03 - 0.01) * days * 24)
    assert a.y[-1, 0] == pytest.approx(expected, rel=1e-4)
    np.testing.assert_allclose(b.y, a.y, rtol=1e-12)


def test_balanced_pool_stays_at_its_set_point():
    net = compile_model(evniche.load_model(pool_model(0.02, 0.02, 1.0)))
    sol = integrate(net, days=365, equilibrate_first=False)
    assert np.max(np.abs(sol.y[:, 0] / SET_POINT - 1.0)) < 1e-12


def test_spatial_engine_uses_the_global_count_for_the_death_factor():
    # no proliferation: dN/dt = -d·N·(N/S) gives N(t) = N0 / (1 + d·N0·t/S); without the
    # factor N0·exp(-d·t) would be 0.09·N0 after two days instead of 0.62·N0
    # (the model has no EV pool at all: the spatial engine runs without fields)
    d, days, n0 = 0.05, 2.0, 0.25 * SET_POINT
    data = pool_model(0.0, d, 1.0, initial=n0)
    data["cell_types"]["CD8_T"].pop("proliferation")
    data["cell_types"]["CD8_T"].pop("self_renewal")
    blood = {**data["cell_types"]["CD8_T"], "compartment": "blood", "is_a": "CD8_T"}
    data["cell_types"]["CD8_T_blood"] = blood
    model = evniche.load_model(data)
    ds = evniche.simulate(model, days=days, seed=2, engine="spatial", size_um=(120.0, 120.0),
                          dx_um=10.0, agents=2000, min_agents=20, equilibrate_first=False)
    expected = n0 / (1.0 + d * n0 * days * 24 / SET_POINT)
    end = ds.cells.isel(time=-1)
    assert float(end.sel(cell_type="CD8_T")) == pytest.approx(expected, rel=0.05)
    assert float(end.sel(cell_type="CD8_T_blood")) == pytest.approx(expected, rel=0.01)
