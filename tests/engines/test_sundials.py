"""CVODE driven from compiled code (evniche.engines.sundials) gives what scikit-sundae's
CVODE with Python callbacks gives (the present path), on a small model and on a short
run of aml at rtol 1e-10, and whatever it cannot do simply (a stall, a blow-up, a
failure) falls back to that path, which reports as before."""

from __future__ import annotations

import numpy as np
import pytest

from evniche import engines
from evniche.engines import prepare, solver, sundials
from evniche.engines.compiled import CompiledKinetics
from evniche.engines.ensemble import simulate_many
from evniche.engines.kinetics import Kinetics
from evniche.engines.wellmixed import starting_state, tolerances
from evniche.errors import SimulationError
from evniche.spec.loader import load_model


def segment(model, days: float):
    net, _ = prepare(model, None, [], days)
    kin = Kinetics(net)
    compiled = CompiledKinetics(kin)
    f, jac = compiled.segment()
    return kin, compiled, f, jac


def both(kin, compiled, f, jac, y0, days: float, rtol: float, monkeypatch):
    """The solve of the present path and the compiled one (counting compiled solves)."""
    grid = np.arange(0.0, days * 24.0 + 1e-9, 24.0)
    out = []
    for on in (False, True):
        monkeypatch.setattr(solver, "COMPILED", on)
        out.append(solver.solve(kin, f, (0.0, days * 24.0), y0, t_eval=grid, rtol=rtol,
                                atol=tolerances(kin, y0, rtol), jac=jac,
                                sparsity=compiled.sparsity()))
    return out


def test_the_shipped_libraries_drive_cvode_here():
    assert sundials.available()


@pytest.mark.parametrize("name, days", [("tiny", 20.0), ("aml", 40.0)])
def test_compiled_solve_gives_the_present_paths_trajectory(name, days, monkeypatch, tiny):
    model = tiny() if name == "tiny" else load_model("aml")
    kin, compiled, f, jac = segment(model, days)
    y0 = starting_state(kin, True)
    calls = []
    real = sundials.solve
    monkeypatch.setattr(sundials, "solve", lambda *a, **k: calls.append(1) or real(*a, **k))
    slow, fast = both(kin, compiled, f, jac, y0, days, 1e-10, monkeypatch)
    assert calls == [1]  # the second solve was the compiled one
    np.testing.assert_array_equal(fast.t, slow.t)
    np.testing.assert_allclose(fast.y, slow.y, rtol=1e-8, atol=0.0)
    assert fast.nfev == slow.nfev and fast.status == slow.status == 0


def test_a_failed_or_stalled_compiled_solve_falls_back_to_the_present_path(monkeypatch, tiny):
    kin, compiled, f, jac = segment(tiny(), 5.0)
    y0 = starting_state(kin, True)
    # the stall rule inside the compiled right-hand side stops CVODE
    t, y, nfev, flag, watched = sundials.solve(
        (compiled, compiled.modifiers()), (0.0, 120.0), y0, np.array([0.0, 60.0, 120.0]),
        rtol=1e-7, atol=tolerances(kin, y0, 1e-7), first_step=None, max_steps=10**6,
        stall_share=1.0, stall_calls=3, blowup=solver.BLOWUP)
    assert flag < 0 and watched == 2
    # a compiled solve that fails is thrown away: the present path's result comes back
    monkeypatch.setattr(sundials, "solve", lambda *a, **k: (np.zeros(1), np.zeros((1, kin.n)),
                                                             1, -4, 0))
    slow, fast = both(kin, compiled, f, jac, y0, 5.0, 1e-7, monkeypatch)
    np.testing.assert_array_equal(fast.y, slow.y)


def test_a_blow_up_is_reported_as_before(monkeypatch, tiny):
    messages = []
    for on in (False, True):
        monkeypatch.setattr(solver, "COMPILED", on)
        with pytest.raises(SimulationError) as exc:
            engines.simulate(tiny(p1=10.0, a1=1.0), days=5, equilibrate_first=False)
        messages.append(str(exc.value))
    assert messages[0] == messages[1] and "grows without bound" in messages[0]


def test_compiled_solves_in_threads_give_the_serial_result(monkeypatch):
    """A Dask worker runs threads: compiled solves there must not share SuperLU_MT's
    static state (ctypes releases the GIL that kept scikit-sundae's solves apart)."""
    from concurrent.futures import ThreadPoolExecutor

    kin, compiled, f, jac = segment(load_model("aml"), 30.0)
    y0 = starting_state(kin, True)
    grid = np.arange(0.0, 30 * 24.0 + 1e-9, 24.0)

    def one(_):
        with solver.compiled_cvode():
            return solver.solve(kin, f, (0.0, 30 * 24.0), y0, t_eval=grid, rtol=1e-7,
                                atol=tolerances(kin, y0, 1e-7), jac=jac,
                                sparsity=compiled.sparsity()).y

    serial = one(0)
    with ThreadPoolExecutor(4) as pool:
        for y in pool.map(one, range(8)):
            np.testing.assert_array_equal(y, serial)


def test_an_ensemble_runs_compiled_and_leaves_lone_runs_as_they_were(monkeypatch, tiny):
    calls = []
    real = sundials.solve
    monkeypatch.setattr(sundials, "solve", lambda *a, **k: calls.append(1) or real(*a, **k))
    ds = simulate_many(tiny(), [{}], days=3.0)[0]
    assert calls and getattr(solver._THREAD, "compiled", None) is None
    calls.clear()
    lone = engines.simulate(tiny(), days=3.0)
    assert not calls
    np.testing.assert_allclose(ds["cells"].values, lone["cells"].values, rtol=1e-6)
