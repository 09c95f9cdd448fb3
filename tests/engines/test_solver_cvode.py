"""CVODE, the well-mixed engine's solver, gives the trajectories that SciPy's BDF (the
solver before it) gives at the same tolerances, over a schedule cut into segments by
interventions (a drug course, a plasmapheresis window, a secretion inhibitor), and the EV
ledger closes to 1e-9 either way."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import evniche
from evniche.compile.interventions import parse_intervention
from evniche.engines import solver
from evniche.engines.wellmixed import LEDGER_TOLERANCE

DAYS = 90
ITEMS = ("cytarabine@20", "plasmapheresis@30:marker=PD-L1", "nsmase2_inhibitor@50")


def scipy_bdf(rhs, span, y0, t_eval, *, rtol, atol, jac, sparsity, first_step, events=True):
    """SciPy's BDF with the exact sparse Jacobian, as the engine integrated before CVODE."""
    sol = solve_ivp(rhs, span, y0, method="BDF", t_eval=t_eval, rtol=rtol, atol=atol,
                    jac=jac, jac_sparsity=None if jac is not None else sparsity)
    return solver.Result(t=sol.t, y=sol.y, nfev=int(sol.nfev), status=int(sol.status),
                         message=str(sol.message))


@pytest.fixture(scope="module")
def runs():
    model = evniche.load_model("aml")
    items = [parse_intervention(i) for i in ITEMS]
    cvode = evniche.simulate(model, days=DAYS, interventions=items)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(solver, "_cvode", scipy_bdf)
        bdf = evniche.simulate(model, days=DAYS, interventions=items)
    return cvode, bdf


def _relative(a, b, floor: float) -> np.ndarray:
    """|a - b| / |b| where |b| is above ``floor`` (values near 0 are solver noise)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    keep = np.abs(b) > floor
    return np.abs(a - b)[keep] / np.abs(b)[keep]


def test_the_schedule_cuts_the_run_into_segments(runs):
    cvode, _ = runs
    timeline = cvode.attrs["interventions"]
    for name in ("cytarabine", "plasmapheresis", "nsmase2"):
        assert name in timeline


@pytest.mark.parametrize("var, floor", [("cells", 1e-3), ("ev", 1e3), ("cytokines", 1e-3),
                                        ("drugs", 1e-6), ("ledger", 1e3)])
def test_cvode_matches_scipy_bdf(runs, var, floor):
    # floors: 1000 times each kind's absolute tolerance (cells 1e-6, EVs 1, nM 1e-9..1e-6)
    cvode, bdf = runs
    assert cvode[var].shape == bdf[var].shape
    rel = _relative(cvode[var].values, bdf[var].values, floor)
    assert rel.size > 0
    # measured: medians 1e-13 to 3e-7, largest 5e-5 (each solver is off the exact
    # solution by up to ~1e-4 over a year at rtol 1e-7, measured against rtol 1e-11)
    assert np.median(rel) < 1e-5, var
    assert rel.max() < 5e-4, var


def test_the_states_of_cvode_match_scipy_bdf(runs):
    cvode, bdf = runs
    rel = _relative(cvode.states.values, bdf.states.values, 1e-6)
    assert rel.max() < 5e-4


def test_the_ledger_closes_with_cvode(runs):
    cvode, bdf = runs
    assert cvode.attrs["ledger_relative_error"] < LEDGER_TOLERANCE
    assert bdf.attrs["ledger_relative_error"] < LEDGER_TOLERANCE
    # and CVODE did the integration: fewer right-hand-side evaluations than BDF
    assert cvode.attrs["rhs_evaluations"] < bdf.attrs["rhs_evaluations"]



def test_a_segment_a_round_off_long_is_one_euler_step_not_a_crash():
    """An intervention window ending 2 h after a fractional day left a last segment of
    ~1e-12 h (5323.906829028658 → ...659 h, measured): CVODE refuses it and scikit-sundae
    1.2.0 crashed the process. It is one forward-Euler step: y0 + f(t0, y0)·Δt."""
    from evniche.compile.network import compile_model
    from evniche.engines.kinetics import Kinetics

    kin = Kinetics(compile_model(evniche.load_model("aml")))
    y0 = kin.initial_state()
    span = (5323.906829028658, 5323.906829028659)
    sol = solver.solve(kin, kin.rhs, span, y0, rtol=1e-7, atol=np.full(kin.n, 1e-6),
                       jac=None, sparsity=None, t_eval=np.array([span[1]]))
    assert sol.success and sol.message.startswith("one Euler step")
    np.testing.assert_allclose(sol.y[:, -1], y0 + kin.rhs(span[0], y0) * (span[1] - span[0]))


def test_the_smallest_step_is_16_ulps_of_the_latest_time():
    from evniche.engines.solver import smallest_step

    assert smallest_step((6000.0, 6300.0)) == 16 * np.spacing(6300.0)
    assert smallest_step((0.0, 0.5)) == 16 * np.spacing(1.0)  # never below that of t = 1 h
    assert 6300.0 + smallest_step((6000.0, 6300.0)) > 6300.0  # a step that moves t


def test_a_therapeutic_ev_bolus_steps_without_cvode_warning_that_t_does_not_move(capfd):
    """Right after the first dose of the mir34c_ev course at the diagnosis day (t ~ 6277 h)
    CVODE's first-step estimate was ~6e-14 h, below the resolution of t: it printed
    't + h = t on the next step' (6 times over the course, on stdout). With the minimum step of
    engines.solver.smallest_step it does not, and the course still runs."""
    import evniche

    ds = evniche.simulate("aml", days=300.0, output_hours=1.0,
                          interventions=[{"name": "mir34c_ev", "start": 261.54996648521126}])
    assert float(ds["time"].max()) == pytest.approx(300.0)
    printed = capfd.readouterr()
    assert "t + h = t" not in printed.out + printed.err
