"""A sparse LU of CVODE's Newton matrix over its fixed pattern, factorised again with the
pivots and fill of the last full factorisation (as KLU's refactorisation does), for
:mod:`.sundials` in place of SuperLU_MT.

The Newton matrix M = I - γJ of a network keeps one sparsity pattern for the whole run
(the Jacobian's structural pattern), while SuperLU_MT redoes its symbolic work (row
pivoting by partial pivoting, supernodes, memory, OpenMP locks) at each of the ~500
factorisations of a particle: most of its ~0.06 ms each for a 271-row matrix, and some
30 % of a calibration particle's time (measured with ``perf``). Here:

* the first factorisation of a pattern (and any whose pivot fails the test below) is a
  full one with threshold partial pivoting (the diagonal entry while it is at least
  :data:`DIAGONAL_PREFERENCE` of the column's largest, else the largest), over a
  fill-reducing column order (SuperLU's minimum degree on A + Aᵀ, from SciPy); it keeps
  the row order and the structural pattern of L and U;
* every later factorisation refactors the same pattern with those pivots (a sparse
  left-looking LU: only the flops) and accepts a pivot of at least
  :data:`REFACTOR_PIVOT` of the largest entry below it in its column, else it is redone
  as a full one (the pivots of a changed matrix);
* the solves are the two sparse triangular solves.

Not bitwise SuperLU_MT's: another pivot order rounds differently, so CVODE's Newton
iterations and steps differ at round-off and the solution within the solver's tolerance
(tests/engines/test_sparse_lu.py compares the factors' solves with SciPy's, and
tests/calibration/test_lean_runs.py-style readouts with SuperLU_MT's path).

Units: none (a linear solver); the matrix is CVODE's (per hour × hours).
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import sparse

from .kernel_cache import ENABLED as _CACHE

#: a full factorisation keeps the diagonal pivot while it is at least this share of the
#: largest candidate in its column (less fill than the largest; SuperLU's own rule)
DIAGONAL_PREFERENCE = 0.1
#: a refactorisation's pivot must be at least this share of the largest entry below it
#: (else the matrix is factorised again with new pivots; KLU's default tolerance)
REFACTOR_PIVOT = 1e-3


class Factors:
    """The pivots, column order and L/U storage of one pattern (``n`` × ``n``, CSC
    ``indptr``/``indices``), reused by every solve of a network. ``ready`` (``state[0]``)
    is 0 until the first full factorisation."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, n: int) -> None:
        from scipy.sparse.linalg import splu

        self.n = n
        pattern = sparse.csc_matrix((np.ones(len(indices)), indices, indptr), shape=(n, n))
        # a fill-reducing column order for diagonal pivots: minimum degree on A + Aᵀ (the
        # values only make SciPy's factorisation succeed; the order depends on the pattern)
        probe = pattern + sparse.identity(n, format="csc") * n
        self.q = np.asarray(splu(probe.tocsc(), permc_spec="MMD_AT_PLUS_A").perm_c,
                            dtype=np.int64)
        self.q = np.argsort(self.q).astype(np.int64)  # column of A at each position
        cap = n * n
        self.prow = np.zeros(n, np.int64)
        self.pos = np.zeros(n, np.int64)
        self.uptr = np.zeros(n + 1, np.int64)
        self.uidx = np.zeros(cap, np.int64)
        self.uval = np.zeros(cap)
        self.udiag = np.zeros(n)
        self.lptr = np.zeros(n + 1, np.int64)
        self.lidx = np.zeros(cap, np.int64)
        self.lval = np.zeros(cap)
        self.work = np.zeros(n)
        self.dense = np.zeros(cap)
        self.mask = np.zeros(cap, np.bool_)
        self.done = np.zeros(n, np.bool_)
        self.col_rows = np.zeros(cap, np.int64)
        self.col_count = np.zeros(n, np.int64)
        self.row_cols = np.zeros(cap, np.int64)
        self.row_count = np.zeros(n, np.int64)
        #: [0] factorised once (1) or not (0), [1] full factorisations, [2] refactorisations
        self.state = np.zeros(3, np.int64)


@numba.njit(cache=_CACHE)
def factor_full(n, indptr, indices, data, q, prow, pos, uptr, uidx, uval, udiag, lptr, lidx,
                lval, dense, mask, done, col_rows, col_count, row_cols,
                row_count):  # pragma: no cover - Numba
    """Full LU with threshold partial pivoting of A[:, q] (CSC ``indptr``, ``indices``,
    ``data``), right-looking over ``dense`` (n × n, by row of A and position) with the
    structural ``mask`` and the lists of each column's rows and each row's positions
    (``col_rows``/``row_cols``, n × n, with their counts): fills the pivot rows ``prow``
    (``pos`` its inverse), U by columns (positions above the diagonal, ascending;
    ``udiag``) and L by columns (positions below, multipliers). Leaves ``dense`` and
    ``mask`` zero again. Returns 0, or 1 when the matrix is singular."""
    for r in range(n):
        done[r] = False
        col_count[r] = 0
        row_count[r] = 0
    for k in range(n):
        j = q[k]
        for e in range(indptr[j], indptr[j + 1]):
            r = indices[e]
            dense[r * n + k] = data[e]
            if not mask[r * n + k]:
                mask[r * n + k] = True
                col_rows[k * n + col_count[k]] = r
                col_count[k] += 1
                row_cols[r * n + row_count[r]] = k
                row_count[r] += 1
    singular = 0
    for k in range(n):
        big = 0.0
        best = -1
        for e in range(col_count[k]):
            r = col_rows[k * n + e]
            if not done[r]:
                a = abs(dense[r * n + k])
                if a > big:
                    big = a
                    best = r
        if best < 0 or big == 0.0:
            singular = 1
            break
        d = q[k]  # the diagonal entry of column q[k] lies in row q[k]
        if not done[d] and mask[d * n + k] and abs(dense[d * n + k]) \
                >= DIAGONAL_PREFERENCE * big:
            best = d
        prow[k] = best
        pos[best] = k
        done[best] = True
        pivot = dense[best * n + k]
        for e in range(col_count[k]):
            r = col_rows[k * n + e]
            if done[r]:
                continue
            m = dense[r * n + k] / pivot
            dense[r * n + k] = m
            for g in range(row_count[best]):
                c = row_cols[best * n + g]
                if c <= k:
                    continue
                dense[r * n + c] -= m * dense[best * n + c]
                if not mask[r * n + c]:
                    mask[r * n + c] = True
                    col_rows[c * n + col_count[c]] = r
                    col_count[c] += 1
                    row_cols[r * n + row_count[r]] = c
                    row_count[r] += 1
    if singular == 0:
        nu = 0
        nl = 0
        for k in range(n):
            uptr[k] = nu
            lptr[k] = nl
            first = nu
            for e in range(col_count[k]):
                r = col_rows[k * n + e]
                i = pos[r]
                if i < k:
                    uidx[nu] = i
                    nu += 1
                elif i > k:
                    lidx[nl] = i
                    lval[nl] = dense[r * n + k]
                    nl += 1
            for e in range(first + 1, nu):  # ascending (insertion sort): the solve's order
                v = uidx[e]
                g = e - 1
                while g >= first and uidx[g] > v:
                    uidx[g + 1] = uidx[g]
                    g -= 1
                uidx[g + 1] = v
            for e in range(first, nu):
                uval[e] = dense[prow[uidx[e]] * n + k]
            udiag[k] = dense[prow[k] * n + k]
        uptr[n] = nu
        lptr[n] = nl
    for k in range(n):  # clear what was touched
        for e in range(col_count[k]):
            r = col_rows[k * n + e]
            dense[r * n + k] = 0.0
            mask[r * n + k] = False
    return singular


@numba.njit(cache=_CACHE)
def refactor(n, indptr, indices, data, q, pos, uptr, uidx, uval, udiag, lptr, lidx, lval,
             x):  # pragma: no cover - Numba
    """LU of A[:, q] with the pivots and fill pattern of the last full factorisation
    (left-looking, over the pattern only). Returns 0, or 1 when a pivot is below
    :data:`REFACTOR_PIVOT` of its column's largest entry below it (or zero)."""
    for k in range(n):
        for e in range(uptr[k], uptr[k + 1]):
            x[uidx[e]] = 0.0
        x[k] = 0.0
        for e in range(lptr[k], lptr[k + 1]):
            x[lidx[e]] = 0.0
        j = q[k]
        for e in range(indptr[j], indptr[j + 1]):
            x[pos[indices[e]]] = data[e]
        for e in range(uptr[k], uptr[k + 1]):
            i = uidx[e]
            xi = x[i]
            uval[e] = xi
            if xi != 0.0:
                for f in range(lptr[i], lptr[i + 1]):
                    x[lidx[f]] -= lval[f] * xi
        pivot = x[k]
        big = 0.0
        for e in range(lptr[k], lptr[k + 1]):
            a = abs(x[lidx[e]])
            if a > big:
                big = a
        if pivot == 0.0 or abs(pivot) < REFACTOR_PIVOT * big:
            return 1
        udiag[k] = pivot
        for e in range(lptr[k], lptr[k + 1]):
            lval[e] = x[lidx[e]] / pivot
    return 0


@numba.njit(cache=_CACHE)
def solve_into(n, q, prow, uptr, uidx, uval, udiag, lptr, lidx, lval, b, out,
               y):  # pragma: no cover - Numba
    """``out`` = A⁻¹ ``b`` from the factors (``y``: work, length n)."""
    for p in range(n):
        y[p] = b[prow[p]]
    for i in range(n):
        yi = y[i]
        if yi != 0.0:
            for f in range(lptr[i], lptr[i + 1]):
                y[lidx[f]] -= lval[f] * yi
    for k in range(n - 1, -1, -1):
        yk = y[k] / udiag[k]
        y[k] = yk
        if yk != 0.0:
            for e in range(uptr[k], uptr[k + 1]):
                y[uidx[e]] -= uval[e] * yk
    for k in range(n):
        out[q[k]] = y[k]


@numba.njit(cache=_CACHE)
def factorise(f_n, indptr, indices, data, q, prow, pos, uptr, uidx, uval, udiag, lptr, lidx,
              lval, x, dense, mask, done, col_rows, col_count, row_cols, row_count,
              state):  # pragma: no cover - Numba
    """Refactor with the kept pivots where that holds, else a full factorisation.
    Returns 0, or 1 when the matrix is singular."""
    if state[0] == 1:
        if refactor(f_n, indptr, indices, data, q, pos, uptr, uidx, uval, udiag, lptr,
                    lidx, lval, x) == 0:
            state[2] += 1
            return 0
    state[1] += 1
    if factor_full(f_n, indptr, indices, data, q, prow, pos, uptr, uidx, uval, udiag, lptr,
                   lidx, lval, dense, mask, done, col_rows, col_count, row_cols,
                   row_count) != 0:
        state[0] = 0
        return 1
    state[0] = 1
    return 0


def lu(matrix: sparse.spmatrix, factors: Factors | None = None) -> Factors:
    """The factors of a square sparse ``matrix`` (for tests and the Python side; CVODE
    calls the kernels through :mod:`.sundials`); ``factors``: those of the same pattern to
    refactor. A singular matrix is a ValueError."""
    m = sparse.csc_matrix(matrix)
    m.sort_indices()
    f = factors or Factors(m.indptr.astype(np.int64), m.indices.astype(np.int64), m.shape[0])
    flag = factorise(f.n, m.indptr.astype(np.int64), m.indices.astype(np.int64),
                     m.data.astype(float), f.q, f.prow, f.pos, f.uptr, f.uidx, f.uval,
                     f.udiag, f.lptr, f.lidx, f.lval, f.work, f.dense, f.mask, f.done,
                     f.col_rows, f.col_count, f.row_cols, f.row_count, f.state)
    if flag:
        raise ValueError("singular matrix")
    return f


def solve(factors: Factors, b: np.ndarray) -> np.ndarray:
    """A⁻¹ ``b`` from :func:`lu`'s factors."""
    f = factors
    out = np.empty(f.n)
    solve_into(f.n, f.q, f.prow, f.uptr, f.uidx, f.uval, f.udiag, f.lptr, f.lidx, f.lval,
               np.asarray(b, float), out, np.empty(f.n))
    return out
