"""The sparse LU of CVODE's Newton matrices (evniche.engines.sparse_lu): its solves agree
with SciPy's SuperLU to round-off, a refactorisation keeps the pivots while they hold and
factorises anew when one fails, a singular matrix is refused, and CVODE driven with it
(evniche.engines.sundials, ``linear_solver="sparse_lu"``) follows the SuperLU_MT solve
within the solver's tolerance (1e-4 of each species' scale over 40 days of aml at rtol
1e-7, measured 2e-5), deterministically."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.linalg import splu

from evniche.engines import prepare, solver, sparse_lu, sundials
from evniche.engines.compiled import CompiledKinetics
from evniche.engines.kinetics import Kinetics, without_ledger
from evniche.engines.wellmixed import starting_state, tolerances
from evniche.spec.loader import load_model


@pytest.fixture(scope="module")
def aml():
    net, _ = prepare(load_model("aml"), None, [], 40.0)
    full = Kinetics(net)
    y0 = starting_state(full, True)
    kept = np.array([s.kind != "ledger" for s in net.species])
    kin = Kinetics(without_ledger(net))
    return kin, CompiledKinetics(kin), y0[kept]


def newton_matrix(compiled, y, gamma):
    pattern = sparse.csc_matrix(compiled.sparsity())
    J = sparse.csc_matrix(compiled.jacobian(0.0, y))
    M = (sparse.identity(pattern.shape[0], format="csc") - gamma * J + 0.0 * pattern).tocsc()
    M.sort_indices()
    return M


@pytest.mark.parametrize("gamma", [1e-3, 1.0, 100.0, 1e4])
def test_solves_agree_with_superlu(aml, gamma):
    """Both solves are backward stable: the residual is round-off of |M|·|x| + |b| (the
    Newton matrices of aml are badly scaled, condition numbers up to ~2e21, so two stable
    solvers may differ forwards by more than round-off: 1.5e-9 of the largest component at
    γ = 1e4 with 12 normal stages; normwise backward errors measured ~1e-25 for both; the forward
    agreement bound, 1e-6, is CVODE's scale, far above the measured 1.5e-9)."""
    _, compiled, y = aml
    M = newton_matrix(compiled, y, gamma)
    b = np.random.default_rng(1).random(M.shape[0])
    x = sparse_lu.solve(sparse_lu.lu(M), b)
    expected = splu(M).solve(b)
    scale = abs(M).sum(axis=1).max()

    def backward_error(z):  # normwise: ‖Mz − b‖∞ / (‖M‖∞‖z‖∞ + ‖b‖∞)
        return np.max(np.abs(M @ z - b)) / (scale * np.max(np.abs(z)) + np.max(np.abs(b)))

    assert backward_error(x) <= 1e-15
    assert backward_error(expected) <= 1e-15
    assert np.max(np.abs(x - expected)) <= 1e-6 * np.max(np.abs(expected))


def test_a_refactorisation_keeps_the_pivots_until_one_fails():
    A = sparse.csc_matrix(np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]]))
    f = sparse_lu.lu(A)
    assert list(f.state) == [1, 1, 0]
    B = sparse.csc_matrix(A.toarray() * 1.5 + np.diag([0.1, 0.2, 0.3]))
    f = sparse_lu.lu(B, f)  # the same pivots hold: a refactorisation
    assert list(f.state) == [1, 1, 1]
    b = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(sparse_lu.solve(f, b), np.linalg.solve(B.toarray(), b),
                               rtol=1e-13)
    # a zero diagonal: the kept pivots fail, it is factorised anew with row exchanges
    C = sparse.csc_matrix(np.array([[0.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]]))
    f = sparse_lu.lu(C + 0.0 * sparse.csc_matrix(A != 0), f)
    assert f.state[1] == 2
    np.testing.assert_allclose(sparse_lu.solve(f, b), np.linalg.solve(C.toarray(), b),
                               rtol=1e-13)


def test_a_singular_matrix_is_refused():
    with pytest.raises(ValueError, match="singular"):
        sparse_lu.lu(sparse.csc_matrix(np.array([[1.0, 2.0], [2.0, 4.0]])))


def compiled_solve(kin, compiled, y0, days, linear_solver):
    times = np.arange(0.0, days * 24.0 + 1e-9, 24.0)
    return sundials.solve((compiled, compiled.modifiers()), (0.0, times[-1]), y0, times,
                          rtol=1e-7, atol=tolerances(kin, y0, 1e-7), first_step=None,
                          max_steps=10**6, stall_share=solver.STALL_SHARE,
                          stall_calls=solver.STALL_CALLS, blowup=solver.BLOWUP,
                          linear_solver=linear_solver)


def test_cvode_with_it_follows_the_superlu_mt_solve(aml):
    kin, compiled, y0 = aml
    t, y, nfev, flag, watched = compiled_solve(kin, compiled, y0, 40.0, "sparse_lu")
    t2, y2, *_ = compiled_solve(kin, compiled, y0, 40.0, "superlu_mt")
    assert flag >= 0 and watched == 0
    np.testing.assert_array_equal(t, t2)
    # within 1e-4 of each species' scale: 1000 x rtol, the order of either solution's own
    # global error at rtol 1e-7 (as tests/calibration/test_lean_runs.py; measured 2e-5)
    scale = np.abs(y2).max(axis=0) + tolerances(kin, y0, 1e-7)
    assert np.max(np.abs(y - y2) / scale) < 1e-4
    assert not np.array_equal(y, y2)  # another LU: not SuperLU_MT's numbers
    # deterministic: the same solve again, after others, gives the same numbers
    compiled_solve(kin, compiled, y0 * 1.1, 5.0, "sparse_lu")
    again = compiled_solve(kin, compiled, y0, 40.0, "sparse_lu")[1]
    np.testing.assert_array_equal(again, y)


def test_an_unknown_linear_solver_is_refused(aml):
    kin, compiled, y0 = aml
    with pytest.raises(ValueError, match="linear_solver"):
        compiled_solve(kin, compiled, y0, 1.0, "klu")
