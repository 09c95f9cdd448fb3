"""CVODE driven from compiled code: the compiled right-hand side and Jacobian
(:mod:`.compiled`) passed to SUNDIALS as C function pointers (Numba ``cfunc``), through
the SUNDIALS 7 libraries that scikit-sundae ships (``scikit_sundae.libs``), via ctypes.

scikit-sundae calls back into Python at every right-hand-side and Jacobian evaluation
(wrapping CVODE's vectors as NumPy arrays, then :class:`.solver.Watch`, then the Numba
kernel); here CVODE calls the kernel directly. The settings are scikit-sundae's, one
for one (BDF, order 5, SuperLU_MT with 1 thread over the same CSC pattern, the same
tolerances, step limits, Newton iterations, convergence failures and stop time), and
the kernels are the same, so a solve gives scikit-sundae's result (the tests compare
the two, tests/engines/test_sundials.py).

Only the plain case is driven here: :func:`.solver.solve`'s first attempt (exact
Jacobian, no wall-clock limit). The right-hand side keeps :class:`.solver.Watch`'s stall
rule (it makes CVODE stop) and notes a state past :data:`.solver.BLOWUP`; a solve that
fails, stalls, meets such a state or gives non-finite values is thrown away and
:func:`.solver.solve` runs its usual path (scikit-sundae with the watch, then the
fallbacks), which finds and reports the same. Where the libraries cannot be loaded,
:func:`available` is False and every solve takes that path.

Units: time in hours (the engine's), as the callers give it.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
import threading
from collections.abc import Callable

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .compiled import _jacobian, _rhs_held
from .kernel_cache import ENABLED as _CACHE
from .solver import smallest_step

#: CVODE's constants (cvode.h, sundials_types.h)
CV_BDF, CV_NORMAL, CV_TSTOP_RETURN, CSC_MAT = 2, 1, 1, 0
#: scikit-sundae's defaults for the options :func:`.solver._cvode` leaves as they are
MAX_ORDER, MAX_NONLIN_ITERS, MAX_CONV_FAILS = 5, 3, 10
#: the watch's state: [0] flags (1: a state past BLOWUP, 2: stalled, 3: past the
#: evaluations allowed), [1] the time of the last mark (h), [2] evaluations since, [3] the
#: span share that counts as moving (h), [4] the evaluations allowed without moving,
#: [5] BLOWUP, [6] the right-hand-side evaluations allowed (inf: no bound), [7] those made;
#: 4: the caller's ``stop`` rule ended the solve
STALLED, PAST_CALLS, STOPPED = 2, 3, 4
#: the header's (address, length) pairs, in this order
ARRAYS = ("ints", "int_off", "floats", "float_off", "beh", "upt", "rem", "inf", "held",
          "colors", "nz_rows", "nz_cols", "indices", "indptr", "watch")
HEADER = 3 + 2 * len(ARRAYS)
#: one compiled solve at a time per process: SuperLU_MT keeps static state, and ctypes lets
#: go of the GIL that serialised scikit-sundae's solves (a Dask worker runs threads)
_ONE_AT_A_TIME = threading.Lock()
#: byte offsets of the data pointers in the contents of a serial N_Vector (after its
#: 32-bit length and own-data flag) and of a CSC SUNMatrix (after M, N, NNZ, NP; then
#: the sparse type; then the row indices and column pointers), checked against the
#: libraries' accessors before use (:func:`_layout_holds`)
VECTOR_DATA, MATRIX_DATA, MATRIX_ROWS, MATRIX_COLUMNS = 8, 16, 32, 40


@functools.cache
def _libraries():
    """The ctypes handles of the shipped SUNDIALS libraries (core, serial vectors, sparse
    matrices, SuperLU_MT, CVODE), or None where they cannot be loaded."""
    try:
        import sksundae

        from .solver import _cvode_class

        _cvode_class()  # one thread for the BLAS that SuperLU_MT calls, as scikit-sundae's
        folder = os.path.join(os.path.dirname(sksundae.__file__), os.pardir,
                              "scikit_sundae.libs")
        libs = {}
        for name in ("sundials_core", "sundials_nvecserial", "sundials_sunmatrixsparse",
                     "sundials_sunlinsolsuperlumt", "sundials_cvode"):
            found = sorted(glob.glob(os.path.join(folder, f"lib{name}-*.so*")))
            if len(found) != 1:
                return None
            libs[name] = ctypes.CDLL(found[0], mode=ctypes.RTLD_GLOBAL)
        _declare(libs)
        return libs
    except (ImportError, OSError, AttributeError):
        return None


def _declare(libs: dict) -> None:
    """ctypes signatures (SUNDIALS 7 with 32-bit indices, as scikit-sundae builds it)."""
    vp, c_int, c_double, c_long = ctypes.c_void_p, ctypes.c_int, ctypes.c_double, ctypes.c_long
    core, nvec = libs["sundials_core"], libs["sundials_nvecserial"]
    mat, lin, cv = (libs["sundials_sunmatrixsparse"], libs["sundials_sunlinsolsuperlumt"],
                    libs["sundials_cvode"])

    def sig(fn, restype, *argtypes):
        fn.restype, fn.argtypes = restype, list(argtypes)

    sig(core.SUNContext_Create, c_int, c_int, ctypes.POINTER(vp))
    sig(core.SUNContext_Free, c_int, ctypes.POINTER(vp))
    sig(core.SUNContext_ClearErrHandlers, c_int, vp)
    sig(core.N_VDestroy, None, vp)
    sig(core.SUNMatDestroy, None, vp)
    sig(core.SUNLinSolFree, c_int, vp)
    sig(core.SUNLinSolNewEmpty, vp, vp)
    sig(core.SUNLinSolFreeEmpty, None, vp)
    sig(nvec.N_VNew_Serial, vp, c_int, vp)
    sig(nvec.N_VGetArrayPointer, ctypes.POINTER(c_double), vp)
    sig(mat.SUNSparseMatrix, vp, c_int, c_int, c_int, c_int, vp)
    sig(mat.SUNSparseMatrix_Data, ctypes.POINTER(c_double), vp)
    sig(mat.SUNSparseMatrix_IndexValues, ctypes.POINTER(ctypes.c_int32), vp)
    sig(mat.SUNSparseMatrix_IndexPointers, ctypes.POINTER(ctypes.c_int32), vp)
    sig(lin.SUNLinSol_SuperLUMT, vp, vp, vp, c_int, vp)
    sig(cv.CVodeCreate, vp, c_int, vp)
    sig(cv.CVodeFree, None, ctypes.POINTER(vp))
    sig(cv.CVodeInit, c_int, vp, vp, c_double, vp)
    sig(cv.CVodeSVtolerances, c_int, vp, c_double, vp)
    sig(cv.CVodeSetUserData, c_int, vp, vp)
    sig(cv.CVodeSetLinearSolver, c_int, vp, vp, vp)
    sig(cv.CVodeSetJacFn, c_int, vp, vp)
    for name in ("CVodeSetInitStep", "CVodeSetMinStep", "CVodeSetMaxStep",
                 "CVodeSetStopTime"):
        sig(getattr(cv, name), c_int, vp, c_double)
    for name in ("CVodeSetMaxOrd", "CVodeSetMaxNonlinIters", "CVodeSetMaxConvFails"):
        sig(getattr(cv, name), c_int, vp, c_int)
    sig(cv.CVodeSetMaxNumSteps, c_int, vp, c_long)
    sig(cv.CVode, c_int, vp, c_double, vp, ctypes.POINTER(c_double), c_int)
    sig(cv.CVodeGetNumRhsEvals, c_int, vp, ctypes.POINTER(c_long))


def _layout_holds(libs: dict) -> bool:
    """Whether the data pointers lie at the offsets the callbacks read (VECTOR_DATA …):
    read from a vector and a matrix made here and compared with the accessors'."""
    core, nvec = libs["sundials_core"], libs["sundials_nvecserial"]
    mat = libs["sundials_sunmatrixsparse"]
    ctx = ctypes.c_void_p()
    if core.SUNContext_Create(0, ctypes.byref(ctx)) < 0:
        return False
    v = nvec.N_VNew_Serial(3, ctx)
    A = mat.SUNSparseMatrix(3, 3, 4, CSC_MAT, ctx)
    try:
        def at(obj, offset):
            content = ctypes.c_void_p.from_address(obj).value
            return ctypes.c_void_p.from_address(content + offset).value

        def address(pointer):
            return ctypes.cast(pointer, ctypes.c_void_p).value

        return bool(v and A) and (
            at(v, VECTOR_DATA) == address(nvec.N_VGetArrayPointer(v))
            and at(A, MATRIX_DATA) == address(mat.SUNSparseMatrix_Data(A))
            and at(A, MATRIX_ROWS) == address(mat.SUNSparseMatrix_IndexValues(A))
            and at(A, MATRIX_COLUMNS) == address(mat.SUNSparseMatrix_IndexPointers(A)))
    finally:
        if A:
            core.SUNMatDestroy(A)
        if v:
            core.N_VDestroy(v)
        core.SUNContext_Free(ctypes.byref(ctx))


#: where a SUNLinearSolver keeps its ops table (bytes into the object: after its content
#: and one more pointer in SUNDIALS 7.9) and the slots of the ops this module sets in it
#: (SUNDIALS 7.9's _generic_SUNLinearSolver_Ops: gettype 0, initialize 7, setup 8,
#: solve 9), checked against SuperLU_MT's own table before use (:func:`_ops_layout_holds`)
SOLVER_OPS, OP_GETTYPE, OP_INITIALIZE, OP_SETUP, OP_SOLVE = 16, 0, 7, 8, 9


def _ops_layout_holds(libs: dict) -> bool:
    """Whether a SUNLinearSolver's ops table lies at :data:`SOLVER_OPS` with gettype,
    initialize, setup and solve in the slots this module writes: read from a SuperLU_MT
    solver made here and compared with that library's exported functions."""
    core, nvec = libs["sundials_core"], libs["sundials_nvecserial"]
    mat, lin = libs["sundials_sunmatrixsparse"], libs["sundials_sunlinsolsuperlumt"]
    ctx = ctypes.c_void_p()
    if core.SUNContext_Create(0, ctypes.byref(ctx)) < 0:
        return False
    v = nvec.N_VNew_Serial(3, ctx)
    A = mat.SUNSparseMatrix(3, 3, 4, CSC_MAT, ctx)
    LS = lin.SUNLinSol_SuperLUMT(v, A, 1, ctx) if v and A else None
    try:
        if not LS:
            return False
        ops = ctypes.c_void_p.from_address(LS + SOLVER_OPS).value
        if not ops:
            return False

        def slot(k):
            return ctypes.c_void_p.from_address(ops + 8 * k).value

        def address(name):
            return ctypes.cast(getattr(lin, name), ctypes.c_void_p).value

        return (slot(OP_GETTYPE) == address("SUNLinSolGetType_SuperLUMT")
                and slot(OP_INITIALIZE) == address("SUNLinSolInitialize_SuperLUMT")
                and slot(OP_SETUP) == address("SUNLinSolSetup_SuperLUMT")
                and slot(OP_SOLVE) == address("SUNLinSolSolve_SuperLUMT"))
    except AttributeError:
        return False
    finally:
        if LS:  # (SuperLU_MT's own free crashes on a solver never set up: its content,
            core.SUNLinSolFreeEmpty(LS)  # a few hundred bytes, is left, once per process)
        if A:
            core.SUNMatDestroy(A)
        if v:
            core.N_VDestroy(v)
        core.SUNContext_Free(ctypes.byref(ctx))


#: the factors' arrays a custom solver's content header holds, in this order
FACTORS = ("q", "prow", "pos", "uptr", "uidx", "uval", "udiag", "lptr", "lidx", "lval",
           "work", "dense", "mask", "done", "col_rows", "col_count", "row_cols", "row_count",
           "state")
#: the Newton matrices' LU a solve may use: SuperLU_MT (scikit-sundae's, bitwise its
#: results) or :mod:`.sparse_lu` (pivots kept between factorisations)
LINEAR_SOLVERS = ("superlu_mt", "sparse_lu")


@functools.cache
def _linear_solver():
    """The C function pointers of the custom linear solver (gettype, initialize, setup,
    solve) over :mod:`.sparse_lu`, or None where the layout does not hold."""
    libs = _libraries()
    if libs is None or not _ops_layout_holds(libs):
        return None
    from .sparse_lu import factorise, solve_into

    (Q, PROW, POS, UPTR, UIDX, UVAL, UDIAG, LPTR, LIDX, LVAL, WORK, DENSE, MASK, DONE,
     COL_ROWS, COL_COUNT, ROW_COLS, ROW_COUNT, STATE) = range(len(FACTORS))
    width = 2 + 2 * len(FACTORS)

    @numba.njit(cache=_CACHE, inline="always")
    def _b8(h, k):  # pragma: no cover - Numba
        return numba.carray(_pointer(h[2 + 2 * k]), (h[3 + 2 * k],), np.bool_)

    @numba.njit(cache=_CACHE, inline="always")
    def _g64(h, k):  # pragma: no cover - Numba
        return numba.carray(_pointer(h[2 + 2 * k]), (h[3 + 2 * k],), np.int64)

    @numba.njit(cache=_CACHE, inline="always")
    def _d64(h, k):  # pragma: no cover - Numba
        return numba.carray(_pointer(h[2 + 2 * k]), (h[3 + 2 * k],), np.float64)

    @numba.cfunc(types.int32(types.voidptr), cache=_CACHE)
    def gettype(S):  # pragma: no cover - Numba
        return 0  # SUNLINEARSOLVER_DIRECT

    @numba.cfunc(types.int32(types.voidptr), cache=_CACHE)
    def initialize(S):  # pragma: no cover - Numba
        return 0

    @numba.cfunc(types.int32(types.voidptr, types.voidptr), cache=_CACHE)
    def setup(S, A):  # pragma: no cover - Numba
        h = numba.carray(_pointer(_load(_address(S))), (width,), np.int64)
        n = h[0]
        nnz = _content_i32(A, MATRIX_COLUMNS, n + 1)[n]
        state = _g64(h, STATE)
        if state[0] == 1 and nnz != h[1]:  # another pattern (a diagonal added): anew
            state[0] = 0
        h[1] = nnz
        return factorise(n, _content_i32(A, MATRIX_COLUMNS, n + 1),
                         _content_i32(A, MATRIX_ROWS, nnz),
                         numba.carray(_pointer(_content(A, MATRIX_DATA)), (nnz,), np.float64),
                         _g64(h, Q), _g64(h, PROW), _g64(h, POS), _g64(h, UPTR),
                         _g64(h, UIDX), _d64(h, UVAL), _d64(h, UDIAG), _g64(h, LPTR),
                         _g64(h, LIDX), _d64(h, LVAL), _d64(h, WORK), _d64(h, DENSE),
                         _b8(h, MASK), _b8(h, DONE), _g64(h, COL_ROWS), _g64(h, COL_COUNT),
                         _g64(h, ROW_COLS), _g64(h, ROW_COUNT), state)

    @numba.cfunc(types.int32(types.voidptr, types.voidptr, types.voidptr, types.voidptr,
                             types.float64), cache=_CACHE)
    def solve(S, A, x, b, tol):  # pragma: no cover - Numba
        h = numba.carray(_pointer(_load(_address(S))), (width,), np.int64)
        n = h[0]
        out = numba.carray(_pointer(_content(x, VECTOR_DATA)), (n,), np.float64)
        rhs = numba.carray(_pointer(_content(b, VECTOR_DATA)), (n,), np.float64)
        solve_into(n, _g64(h, Q), _g64(h, PROW), _g64(h, UPTR), _g64(h, UIDX),
                   _d64(h, UVAL), _d64(h, UDIAG), _g64(h, LPTR), _g64(h, LIDX),
                   _d64(h, LVAL), rhs, out, _d64(h, WORK))
        return 0

    try:
        return gettype.address, initialize.address, setup.address, solve.address
    except Exception:  # noqa: BLE001 - a kernel that does not compile here: SuperLU_MT
        return None


@numba.njit(cache=_CACHE, inline="always")
def _content_i32(obj, offset, size):  # pragma: no cover - Numba
    """The int32 array at the pointer ``offset`` bytes into a SUNMatrix's content."""
    return numba.carray(_pointer(_content(obj, offset)), (size,), np.int32)


#: the factors of each pattern this process solved, kept (their storage is n² entries
#: per array: ~19 MB for the 573 rows of ``aml`` with its ledger, ~4 MB for 271); the
#: oldest goes beyond FACTORS_KEPT
_FACTORS: dict[tuple, object] = {}
FACTORS_KEPT = 8


def _factors(pattern) -> object:
    """The :class:`.sparse_lu.Factors` of a CSC ``pattern`` (made on first use)."""
    from .sparse_lu import Factors

    key = (pattern.shape[0], pattern.nnz, pattern.indices.tobytes(), pattern.indptr.tobytes())
    found = _FACTORS.get(key)
    if found is None:
        found = _FACTORS[key] = Factors(pattern.indptr.astype(np.int64),
                                        pattern.indices.astype(np.int64), pattern.shape[0])
        while len(_FACTORS) > FACTORS_KEPT:
            _FACTORS.pop(next(iter(_FACTORS)))
    return found


def _custom_solver(core, ctx, factors, nnz: int):
    """A SUNLinearSolver over :mod:`.sparse_lu` (its ops in the slots checked by
    :func:`_ops_layout_holds`), with its content header (kept alive by the caller), or
    (None, None) where it cannot be made."""
    pointers = _linear_solver()
    if pointers is None:
        return None, None
    # each solve starts with a full factorisation: its factors then depend on its own
    # matrices only, not on the solves before it in this process (a particle's result is
    # the same on any worker, after any other particle)
    factors.state[0] = 0
    header = np.zeros(2 + 2 * len(FACTORS), np.int64)
    header[0], header[1] = factors.n, nnz
    for k, name in enumerate(FACTORS):
        a = getattr(factors, name)
        header[2 + 2 * k] = a.ctypes.data
        header[3 + 2 * k] = a.size
    LS = core.SUNLinSolNewEmpty(ctx)
    if not LS:
        return None, None
    ops = ctypes.c_void_p.from_address(LS + SOLVER_OPS).value
    for slot, address in zip((OP_GETTYPE, OP_INITIALIZE, OP_SETUP, OP_SOLVE), pointers,
                             strict=True):
        ctypes.c_void_p.from_address(ops + 8 * slot).value = address
    ctypes.c_void_p.from_address(LS).value = header.ctypes.data  # its content
    return LS, header


def available() -> bool:
    """Whether compiled solves can run here (the libraries load and the kernels compile)."""
    return _callbacks() is not None


@intrinsic
def _pointer(typingctx, address):  # pragma: no cover - Numba
    """An int64 address as a void pointer."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(types.int64), codegen


@intrinsic
def _address(typingctx, pointer):  # pragma: no cover - Numba
    """A void pointer as an int64 address."""
    def codegen(context, builder, signature, args):
        return builder.ptrtoint(args[0], cgutils.intp_t)

    return types.int64(types.voidptr), codegen


@numba.njit(cache=_CACHE, inline="always")
def _load(address):  # pragma: no cover - Numba
    """The 8 bytes at ``address`` (a pointer) as an int64."""
    return numba.carray(_pointer(address), (1,), np.int64)[0]


@numba.njit(cache=_CACHE, inline="always")
def _content(obj, offset):  # pragma: no cover - Numba
    """The pointer at ``offset`` bytes into the content of a SUNDIALS object (an
    N_Vector or a SUNMatrix: its first field points to its content)."""
    return _load(_load(_address(obj)) + offset)


@numba.njit(cache=_CACHE, inline="always")
def _f64(h, k):  # pragma: no cover - Numba
    return numba.carray(_pointer(h[3 + 2 * k]), (h[4 + 2 * k],), np.float64)


@numba.njit(cache=_CACHE, inline="always")
def _i64(h, k):  # pragma: no cover - Numba
    return numba.carray(_pointer(h[3 + 2 * k]), (h[4 + 2 * k],), np.int64)


@numba.njit(cache=_CACHE, inline="always")
def _i32(h, k):  # pragma: no cover - Numba
    return numba.carray(_pointer(h[3 + 2 * k]), (h[4 + 2 * k],), np.int32)


@numba.njit(cache=_CACHE, inline="always")
def _held(h, k):  # pragma: no cover - Numba
    return numba.carray(_pointer(h[3 + 2 * k]), (h[4 + 2 * k],), np.bool_)


@functools.cache
def _callbacks():
    """The C function pointers of the right-hand side and the Jacobian, or None."""
    libs = _libraries()
    if libs is None or not _layout_holds(libs):
        return None
    (INTS, INT_OFF, FLOATS, FLOAT_OFF, BEH, UPT, REM, INF, HELD, COLORS, NZ_ROWS, NZ_COLS,
     INDICES, INDPTR, WATCH_) = range(len(ARRAYS))

    @numba.cfunc(types.int32(types.float64, types.voidptr, types.voidptr, types.voidptr),
                 cache=_CACHE)
    def rhs(t, y, ydot, user):  # pragma: no cover - Numba
        h = numba.carray(user, (HEADER,), np.int64)
        n = h[0]
        u = numba.carray(_pointer(_content(y, VECTOR_DATA)), (n,), np.float64)
        du = numba.carray(_pointer(_content(ydot, VECTOR_DATA)), (n,), np.float64)
        w = _f64(h, WATCH_)
        w[7] += 1.0
        if w[7] > w[6]:  # a solve's evaluation budget (stopwatch.Budget) is spent
            w[0] = 3.0
            return -1
        if t - w[1] > w[3]:  # the stall rule of solver.Watch
            w[1] = t
            w[2] = 0.0
        else:
            w[2] += 1.0
            if w[2] > w[4]:
                w[0] = 2.0
                return -1
        _rhs_held(u, du, _i64(h, INTS), _i64(h, INT_OFF), _f64(h, FLOATS),
                  _i64(h, FLOAT_OFF), _f64(h, BEH), _f64(h, UPT), _f64(h, REM),
                  _f64(h, INF), _held(h, HELD))
        for i in range(n):
            if abs(u[i]) > w[5]:
                w[0] = max(w[0], 1.0)
                break
        return 0

    @numba.cfunc(types.int32(types.float64, types.voidptr, types.voidptr, types.voidptr,
                             types.voidptr, types.voidptr, types.voidptr, types.voidptr),
                 cache=_CACHE)
    def jac(t, y, fy, J, user, tmp1, tmp2, tmp3):  # pragma: no cover - Numba
        h = numba.carray(user, (HEADER,), np.int64)
        n = h[0]
        nnz = h[1]
        u = numba.carray(_pointer(_content(y, VECTOR_DATA)), (n,), np.float64)
        out = numba.carray(_pointer(_content(J, MATRIX_DATA)), (nnz,), np.float64)
        _jacobian(u, out, _i64(h, COLORS), h[2], _i64(h, NZ_ROWS), _i64(h, NZ_COLS),
                  _i64(h, INTS), _i64(h, INT_OFF), _f64(h, FLOATS), _i64(h, FLOAT_OFF),
                  _f64(h, BEH), _f64(h, UPT), _f64(h, REM), _f64(h, INF), _held(h, HELD))
        r = numba.carray(_pointer(_content(J, MATRIX_ROWS)), (nnz,), np.int32)
        c = numba.carray(_pointer(_content(J, MATRIX_COLUMNS)), (n + 1,), np.int32)
        indices = _i32(h, INDICES)
        indptr = _i32(h, INDPTR)
        for k in range(nnz):
            r[k] = indices[k]
        for k in range(n + 1):
            c[k] = indptr[k]
        return 0

    try:
        return rhs.address, jac.address
    except Exception:  # noqa: BLE001 - a kernel that does not compile here: not available
        return None


def solve(packed, span: tuple[float, float], y0: np.ndarray, times: np.ndarray, *,
          rtol: float, atol: np.ndarray, first_step: float | None, max_steps: int,
          stall_share: float, stall_calls: int, blowup: float, max_calls: float = np.inf,
          stop: Callable[[np.ndarray, np.ndarray], bool] | None = None,
          linear_solver: str = "superlu_mt"):
    """:func:`_solve`, one at a time in this process."""
    if linear_solver not in LINEAR_SOLVERS:
        raise ValueError(f"linear_solver must be one of {LINEAR_SOLVERS}, got "
                         f"{linear_solver!r}")
    with _ONE_AT_A_TIME:
        return _solve(packed, span, y0, times, rtol=rtol, atol=atol, first_step=first_step,
                      max_steps=max_steps, stall_share=stall_share,
                      stall_calls=stall_calls, blowup=blowup, max_calls=max_calls,
                      stop=stop, linear_solver=linear_solver)


#: with a ``stop`` rule, outputs between two of its calls
STOP_EVERY = 8


def _solve(packed, span: tuple[float, float], y0: np.ndarray, times: np.ndarray, *,
           rtol: float, atol: np.ndarray, first_step: float | None, max_steps: int,
           stall_share: float, stall_calls: int, blowup: float, max_calls: float = np.inf,
           stop: Callable[[np.ndarray, np.ndarray], bool] | None = None,
           linear_solver: str = "superlu_mt"):
    """CVODE over ``span`` (h) from ``y0`` with the compiled kinetics ``packed`` =
    (CompiledKinetics, its four modifier arrays): the states at ``times`` (which start
    at ``span[0]`` and end at ``span[1]``), as scikit-sundae's ``solve`` gives them.
    ``max_calls``: the right-hand-side evaluations allowed (the solve stops past them).
    ``stop(t, y)``: called with the outputs so far (every :data:`STOP_EVERY` outputs);
    True ends the solve there (the caller has what it needs; watch flag 4). CVODE's stop
    time stays ``times[-1]`` and its steps do not depend on later output times, so the
    outputs it gives are bitwise those of the whole solve. ``linear_solver``: one of
    :data:`LINEAR_SOLVERS` (``"sparse_lu"`` falls back to SuperLU_MT where its layout
    check fails).
    Returns (t, y (times × species), right-hand-side evaluations, CVODE's flag, watch
    flags: 1 a state past ``blowup``, 2 stalled, 3 past ``max_calls``, 4 stopped by
    ``stop``)."""
    libs = _libraries()
    rhs_address, jac_address = _callbacks()
    core, nvec = libs["sundials_core"], libs["sundials_nvecserial"]
    mat, lin, cv = (libs["sundials_sunmatrixsparse"], libs["sundials_sunlinsolsuperlumt"],
                    libs["sundials_cvode"])
    kinetics, mods = packed
    pattern = kinetics.sparsity()
    n = kinetics.n
    watch = np.array([0.0, -np.inf, 0.0, stall_share * abs(span[1] - span[0]),
                      float(stall_calls), blowup, float(max_calls), 0.0])
    arrays = {
        "ints": kinetics.ints, "int_off": kinetics.int_off, "floats": kinetics.floats,
        "float_off": kinetics.float_off, "beh": np.ascontiguousarray(mods[0], np.float64),
        "upt": np.ascontiguousarray(mods[1], np.float64),
        "rem": np.ascontiguousarray(mods[2], np.float64),
        "inf": np.ascontiguousarray(mods[3], np.float64), "held": kinetics.held,
        "colors": kinetics.colors, "nz_rows": kinetics.nz_rows, "nz_cols": kinetics.nz_cols,
        "indices": pattern.indices.astype(np.int32), "indptr": pattern.indptr.astype(np.int32),
        "watch": watch}
    header = np.zeros(HEADER, np.int64)
    header[:3] = n, pattern.nnz, kinetics.n_colors
    for k, name in enumerate(ARRAYS):
        a = arrays[name]
        header[3 + 2 * k] = a.ctypes.data if a.size else 0
        header[4 + 2 * k] = a.size
    ctx, mem = ctypes.c_void_p(), ctypes.c_void_p()
    y = tol = A = LS = custom = None
    out_t = np.empty(len(times))
    out_y = np.empty((len(times), n))
    flag = -99
    try:
        if core.SUNContext_Create(0, ctypes.byref(ctx)) < 0:
            raise RuntimeError("SUNContext_Create failed")
        core.SUNContext_ClearErrHandlers(ctx)  # CVODE's errors are read from its flags
        y = nvec.N_VNew_Serial(n, ctx)
        np.ctypeslib.as_array(nvec.N_VGetArrayPointer(y), (n,))[:] = y0
        mem = ctypes.c_void_p(cv.CVodeCreate(CV_BDF, ctx))
        checks = [cv.CVodeSetUserData(mem, header.ctypes.data),
                  cv.CVodeInit(mem, rhs_address, float(span[0]), y)]
        tol = nvec.N_VNew_Serial(n, ctx)
        np.ctypeslib.as_array(nvec.N_VGetArrayPointer(tol), (n,))[:] = atol
        checks.append(cv.CVodeSVtolerances(mem, float(rtol), tol))
        A = mat.SUNSparseMatrix(n, n, pattern.nnz, CSC_MAT, ctx)
        if linear_solver == "sparse_lu":
            LS, custom = _custom_solver(core, ctx, _factors(pattern), pattern.nnz)
        if not LS:
            LS = lin.SUNLinSol_SuperLUMT(y, A, 1, ctx)
        checks += [cv.CVodeSetLinearSolver(mem, LS, A), cv.CVodeSetJacFn(mem, jac_address),
                   cv.CVodeSetMaxNonlinIters(mem, MAX_NONLIN_ITERS),
                   cv.CVodeSetMaxConvFails(mem, MAX_CONV_FAILS),
                   cv.CVodeSetInitStep(mem, float(first_step or 0.0)),
                   cv.CVodeSetMinStep(mem, smallest_step(span)), cv.CVodeSetMaxStep(mem, 0.0),
                   cv.CVodeSetMaxOrd(mem, MAX_ORDER), cv.CVodeSetMaxNumSteps(mem, max_steps),
                   cv.CVodeSetStopTime(mem, float(times[-1]))]
        if min(checks) < 0 or not (mem.value and A and LS):
            raise RuntimeError(f"CVODE's set-up failed (flags {checks})")
        state = np.ctypeslib.as_array(nvec.N_VGetArrayPointer(y), (n,))
        out_t[0], out_y[0] = times[0], state
        reached = ctypes.c_double()
        k = asked = 1
        while k < len(times):
            flag = cv.CVode(mem, float(times[k]), y, ctypes.byref(reached), CV_NORMAL)
            if flag < 0:
                break
            out_t[k], out_y[k] = reached.value, state
            k += 1
            if flag == CV_TSTOP_RETURN:
                break
            if stop is not None and k - asked >= STOP_EVERY and k < len(times):
                asked = k
                if watch[0] == 0 and stop(out_t[:k], out_y[:k]):
                    watch[0] = STOPPED
                    break
        evaluations = ctypes.c_long()
        cv.CVodeGetNumRhsEvals(mem, ctypes.byref(evaluations))
        return out_t[:k], out_y[:k], int(evaluations.value), int(flag), int(watch[0])
    finally:
        if mem.value:
            cv.CVodeFree(ctypes.byref(mem))
        if LS and custom is not None:
            core.SUNLinSolFreeEmpty(LS)  # its content is the header, owned here
        elif LS:
            core.SUNLinSolFree(LS)
        if A:
            core.SUNMatDestroy(A)
        for v in (y, tol):
            if v:
                core.N_VDestroy(v)
        if ctx.value:
            core.SUNContext_Free(ctypes.byref(ctx))
