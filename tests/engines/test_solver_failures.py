"""A model the solver cannot integrate ends in a SimulationError that names the likely
cause (never a solver's own error), a failing CVODE solve is retried with a
finite-difference Jacobian and then LSODA, a stalled solve counts as failed, and a run past
its wall-clock limit stops with an error saying how far it got."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evniche import engines
from evniche.cli import main
from evniche.engines import solver
from evniche.errors import SimulationError

TINY = Path(__file__).parents[1] / "spec" / "tiny.yaml"


def test_a_population_that_grows_without_bound_is_named(tiny):
    # every HSC division renews at 10 divisions per hour: HSC grow as e^(10 t)
    with pytest.raises(SimulationError) as exc:
        engines.simulate(tiny(p1=10.0, a1=1.0), days=5, equilibrate_first=False)
    message = str(exc.value)
    assert "'cell:HSC' reached 1e+30" in message
    assert "grows without bound" in message
    assert "net growth rate at the start: 10 per hour" in message


def test_a_blow_up_while_relaxing_to_steady_state_says_so(tiny):
    with pytest.raises(SimulationError, match="relaxing the model to its healthy steady state"
                       ".*'cell:HSC' reached 1e\\+30"):
        engines.simulate(tiny(p1=10.0, a1=1.0), days=5)


def test_an_extreme_rate_is_integrated_and_the_ledger_closes(tiny):
    # EV degradation at 1e299 per hour: EVs vanish as they are made (SciPy's BDF, used
    # before CVODE, found its Newton matrix singular here)
    ds = engines.simulate(tiny(kdeg=1e299), days=5, equilibrate_first=False)
    assert float(abs(ds.ev).max()) < 1e-200
    assert float(ds.cells.sel(cell_type="HSC").isel(time=-1)) > 0
    assert ds.attrs["ledger_relative_error"] < 1e-9


def test_a_singular_newton_matrix_names_the_parameter_and_the_species(monkeypatch, tiny):
    """Every method fails (the first two on a singular matrix, as CVODE reports it): the
    error says so and names the extreme parameter and the species it makes fastest."""

    def singular(rhs, span, y0, t_eval, **kwargs):
        rhs(span[0], y0)  # the state the solver saw last
        return solver.Result(t=np.array([span[0]]), y=y0[:, None], nfev=1, status=-6,
                             message="linear solver setup failed (singular Newton matrix)")

    def lsoda(rhs, span, y0, t_eval, **kwargs):
        raise ValueError("repeated convergence failures")

    monkeypatch.setattr(solver, "_cvode", singular)
    monkeypatch.setattr(solver, "_lsoda", lsoda)
    with pytest.raises(SimulationError) as exc:
        engines.simulate(tiny(kdeg=1e299), days=5, equilibrate_first=False)
    message = str(exc.value)
    assert "between day 0 and day 5" in message
    assert "the solver's Jacobian matrix is singular" in message
    assert "kdeg = 1e+299" in message
    assert "'ev:MSC.exosome@marrow' changes on a time scale of 1e-299 h" in message


def test_a_rule_that_is_a_step_is_named(tiny):
    with pytest.raises(SimulationError) as exc:
        engines.simulate(tiny(h=1e12), days=5, equilibrate_first=False)
    message = str(exc.value)
    assert "rules with Hill powers of 1e+12" in message
    assert "'cell:HSC' first became NaN or infinite on day" in message


def test_a_failing_cvode_solve_is_retried_with_finite_differences_then_lsoda(monkeypatch, tiny):
    methods = []
    lsoda = solver._lsoda

    def flaky(rhs, span, y0, t_eval, *, jac, **kwargs):
        methods.append(("CVODE", jac is not None))
        raise RuntimeError("CVode - the linear solver's setup function failed")

    def counted(*args, **kwargs):
        methods.append(("LSODA", False))
        return lsoda(*args, **kwargs)

    reference = engines.simulate(tiny(), days=2, equilibrate_first=False)
    monkeypatch.setattr(solver, "_cvode", flaky)
    monkeypatch.setattr(solver, "_lsoda", counted)
    ds = engines.simulate(tiny(), days=2, equilibrate_first=False)
    # one segment: CVODE with the exact Jacobian failed, then with finite differences,
    # LSODA ran it
    assert methods == [("CVODE", True), ("CVODE", False), ("LSODA", False)]
    hsc = ds.cells.sel(cell_type="HSC").isel(time=-1)
    assert float(hsc) == pytest.approx(float(reference.cells.sel(cell_type="HSC")
                                             .isel(time=-1)), rel=1e-4)


def test_a_run_past_its_time_limit_stops_with_how_far_it_got(tiny):
    with pytest.raises(SimulationError) as exc:
        engines.simulate(tiny(), days=5, equilibrate_first=False, wall_limit_s=1e-9)
    message = str(exc.value)
    assert "time limit of 1e-09 s" in message
    assert "at simulated day" in message and "of 5" in message
    assert "--time-limit" in message


def test_the_time_limit_covers_the_relaxation_to_steady_state(monkeypatch, tiny):
    from evniche.engines import wellmixed

    monkeypatch.setattr(wellmixed, "_steady_path", lambda *args: None)  # no cached state
    monkeypatch.setattr(wellmixed, "_RECENT", {})
    with pytest.raises(SimulationError, match="time limit.*while relaxing"):
        engines.simulate(tiny(), days=5, wall_limit_s=1e-9)


@pytest.mark.parametrize("limit", [0, -1.0, float("nan")])
def test_a_time_limit_must_be_positive(limit, tiny):
    with pytest.raises(SimulationError, match="positive number of seconds"):
        engines.simulate(tiny(), days=1, wall_limit_s=limit)


def test_cli_time_limit_stops_a_run_with_a_clean_error(tmp_path, capsys):
    status = main(["run", str(TINY), "--days", "5", "--out", str(tmp_path / "o"),
                   "--time-limit", "1e-9", "--no-report", "--no-sensitivity"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: the run was stopped at its time limit of 1e-09 s")
    assert "--time-limit SECONDS" in err
    assert "Traceback" not in err


def test_cli_refuses_a_time_limit_that_is_not_positive(tmp_path, capsys):
    status = main(["run", str(TINY), "--days", "5", "--out", str(tmp_path / "o"),
                   "--time-limit", "0"])
    assert status == 2
    assert "--time-limit must be a positive number of seconds" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_solve_that_stops_moving_forward_is_retried(monkeypatch, tiny):
    """A solver that keeps evaluating at one time is stopped and the next method runs."""
    calls = []
    cvode = solver._cvode

    def stuck(rhs, span, y0, t_eval, **kwargs):
        calls.append(kwargs["jac"] is not None)
        if len(calls) == 1:
            while True:  # evaluates forever without moving: the watch must stop it
                rhs(span[0], y0)
        return cvode(rhs, span, y0, t_eval, **kwargs)

    monkeypatch.setattr(solver, "_cvode", stuck)
    ds = engines.simulate(tiny(), days=2, equilibrate_first=False)
    assert calls == [True, False]  # exact Jacobian stalled; finite differences ran it
    assert float(ds.cells.sel(cell_type="HSC").isel(time=-1)) > 0


def test_cvode_runs_without_its_event_function_unless_a_state_passes_blowup(monkeypatch, tiny):
    """The blow-up event costs a Python call per step: a run that never comes near BLOWUP
    solves without it, one that passes it is solved again with it (and stops at 1e30)."""
    calls = []
    cvode = solver._cvode

    def recorded(*args, events=True, **kwargs):
        calls.append(events)
        return cvode(*args, events=events, **kwargs)

    monkeypatch.setattr(solver, "_cvode", recorded)
    engines.simulate(tiny(), days=2, equilibrate_first=False)
    assert calls and not any(calls)
    calls.clear()
    with pytest.raises(SimulationError, match="'cell:HSC' reached 1e\\+30"):
        engines.simulate(tiny(p1=10.0, a1=1.0), days=5, equilibrate_first=False)
    assert calls == [False, True]
