"""Implicit diffusion of voxel fields: locally one-dimensional backward Euler (as BioFVM).

Each step solves, along x, then y, then z, the 1-D systems ``(I - α·L) u_new = u`` with
``α = D·dt/dx²`` and ``L`` the second-difference operator with zero-flux (Neumann)
boundaries, by the Thomas algorithm. Every 1-D solve conserves the line's sum exactly (in
exact arithmetic), is unconditionally stable, and its factorization depends only on α and
the line length, so it is precomputed once per field and axis: a sweep is then one
multiply-add and one multiply per value forward and one multiply-add back.

Fields are one C-contiguous ``float64`` array of shape ``(F, nz, ny, nx)``; a 2-D section
has ``nz == 1`` and no z sweep. Fields are independent, so fields are the parallel work
items (:mod:`.threads`; the engine always has several). A field is swept plane by plane
(z ascending), in two passes over each plane while it is in cache: rows upwards,
:data:`ROWS` at a time, the x sweep (their recurrences interleaved) and the y forward
elimination of those rows while they are in the first-level cache; rows downwards, the y
back substitution and the forward elimination of the z lines through the row. Then one
pass over the field back substitutes the z lines: two passes over memory per step. While
a block of rows is solved along x, the block :data:`AHEAD` blocks further on is
prefetched into cache, one cache line per voxel of the row, so that memory traffic runs
under the serial x recurrences instead of stalling them.

The kernels let the compiler fuse a multiply and an add into one FMA (``fastmath``
``contract`` only: no reassociation, no change of the operations' order), which rounds
once where the plain expression rounds twice, a change of the last bit at most per
operation. Every line is solved by the same instructions whichever thread runs it and in
whichever order the lines are taken, so the result is bitwise the same at any thread count
and as sweeping each axis over the whole field in turn with the same kernels.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import kernel_cache, threads

#: fields with α = D·dt/dx² above this have their total restored after each step
STIFF_ALPHA = 100.0


def factorize(alpha: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Thomas factors (c', 1/denominator), each of shape (F, n), for coefficients ``alpha``
    (one per field) on lines of ``n`` voxels with zero-flux ends."""
    alpha = np.asarray(alpha, dtype=float)
    F = alpha.size
    cp = np.zeros((F, n))
    inv = np.zeros((F, n))
    for f in range(F):
        a = alpha[f]
        if n == 1:
            inv[f, 0] = 1.0
            continue
        diag = np.full(n, 1.0 + 2.0 * a)
        diag[0] = diag[-1] = 1.0 + a
        prev_c = 0.0
        for i in range(n):
            denom = diag[i] - (-a) * prev_c if i else diag[0]
            inv[f, i] = 1.0 / denom
            c = -a * inv[f, i] if i < n - 1 else 0.0
            cp[f, i] = c
            prev_c = c
    return cp, inv


#: rows of the x sweep solved together: their recurrences interleave in registers, which
#: hides the latency of each serial recurrence (every line is still solved on its own)
ROWS = 8
#: blocks of :data:`ROWS` rows between the block being solved along x and the block being
#: prefetched (measured: 1–2 best on 100³ fields, where a block is 6.4 kB)
AHEAD = 2
#: floating-point flags of the sweeps: fused multiply-add only (see the module docstring)
FLOAT_FLAGS = {"contract"}


@intrinsic
def _prefetch(typingctx, flat, index):  # pragma: no cover - compiled
    """Hint the CPU to bring the cache line of ``flat[index]`` (a C-contiguous array; the
    index must lie inside it) into its caches; computes nothing."""
    if not (isinstance(flat, types.Array) and flat.layout == "C"
            and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        hint = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        address = builder.bitcast(builder.gep(array.data, [args[1]]), byte_ptr)
        # read, keep in all cache levels, data
        builder.call(hint, [address, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.none(flat, index), codegen


@numba.njit(cache=kernel_cache.ENABLED, nogil=True, fastmath=FLOAT_FLAGS)
def _x_rows(s, y0, a, cp, inv, flat, ahead):  # pragma: no cover - compiled
    """Solve rows ``y0 … y0+ROWS-1`` (fewer at the edge) of the plane ``s`` (ny, nx) along x;
    meanwhile prefetch the cache lines of ``flat`` (the whole field, flat) from ``ahead``
    on, one line per voxel of a row (none past its end)."""
    ny, nx = s.shape
    if y0 + ROWS > ny:
        for y in range(y0, ny):
            p = s[y, 0] * inv[0]
            s[y, 0] = p
            for i in range(1, nx):
                p = (s[y, i] + a * p) * inv[i]
                s[y, i] = p
            for i in range(nx - 2, -1, -1):
                p = s[y, i] - cp[i] * p
                s[y, i] = p
        return
    w = inv[0]
    p0 = s[y0 + 0, 0] * w
    s[y0 + 0, 0] = p0
    p1 = s[y0 + 1, 0] * w
    s[y0 + 1, 0] = p1
    p2 = s[y0 + 2, 0] * w
    s[y0 + 2, 0] = p2
    p3 = s[y0 + 3, 0] * w
    s[y0 + 3, 0] = p3
    p4 = s[y0 + 4, 0] * w
    s[y0 + 4, 0] = p4
    p5 = s[y0 + 5, 0] * w
    s[y0 + 5, 0] = p5
    p6 = s[y0 + 6, 0] * w
    s[y0 + 6, 0] = p6
    p7 = s[y0 + 7, 0] * w
    s[y0 + 7, 0] = p7
    last = flat.size - 1
    for i in range(1, nx):
        _prefetch(flat, min(ahead + 8 * i, last))  # 8 float64 per 64-byte line
        w = inv[i]
        p0 = (s[y0 + 0, i] + a * p0) * w
        s[y0 + 0, i] = p0
        p1 = (s[y0 + 1, i] + a * p1) * w
        s[y0 + 1, i] = p1
        p2 = (s[y0 + 2, i] + a * p2) * w
        s[y0 + 2, i] = p2
        p3 = (s[y0 + 3, i] + a * p3) * w
        s[y0 + 3, i] = p3
        p4 = (s[y0 + 4, i] + a * p4) * w
        s[y0 + 4, i] = p4
        p5 = (s[y0 + 5, i] + a * p5) * w
        s[y0 + 5, i] = p5
        p6 = (s[y0 + 6, i] + a * p6) * w
        s[y0 + 6, i] = p6
        p7 = (s[y0 + 7, i] + a * p7) * w
        s[y0 + 7, i] = p7
    for i in range(nx - 2, -1, -1):
        c = cp[i]
        p0 = s[y0 + 0, i] - c * p0
        s[y0 + 0, i] = p0
        p1 = s[y0 + 1, i] - c * p1
        s[y0 + 1, i] = p1
        p2 = s[y0 + 2, i] - c * p2
        s[y0 + 2, i] = p2
        p3 = s[y0 + 3, i] - c * p3
        s[y0 + 3, i] = p3
        p4 = s[y0 + 4, i] - c * p4
        s[y0 + 4, i] = p4
        p5 = s[y0 + 5, i] - c * p5
        s[y0 + 5, i] = p5
        p6 = s[y0 + 6, i] - c * p6
        s[y0 + 6, i] = p6
        p7 = s[y0 + 7, i] - c * p7
        s[y0 + 7, i] = p7


@numba.njit(cache=kernel_cache.ENABLED, nogil=True, fastmath=FLOAT_FLAGS)
def _y_forward(s, j0, j1, a, inv):  # pragma: no cover - compiled
    """Forward elimination along y of rows ``j0 … j1-1`` of the plane ``s`` (ny, nx), whose
    row ``j0 - 1`` is already eliminated (rows in memory order, vectorised along x)."""
    nx = s.shape[1]
    if j0 == 0:
        w = inv[0]
        row = s[0]
        for x in range(nx):
            row[x] = row[x] * w
        j0 = 1
    for j in range(j0, j1):
        w = inv[j]
        row = s[j]
        prev = s[j - 1]
        for x in range(nx):
            row[x] = (row[x] + a * prev[x]) * w


@numba.njit(cache=kernel_cache.ENABLED, nogil=True, fastmath=FLOAT_FLAGS)
def _z_forward_row(u, z, j, a, w):  # pragma: no cover - compiled
    """Forward elimination of the z lines through row ``j`` of plane ``z`` of ``u``
    (nz, ny, nx), plane ``z - 1`` already eliminated; ``w`` the plane's 1/denominator."""
    row = u[z, j]
    if z == 0:
        for x in range(row.size):
            row[x] = row[x] * w
    else:
        below = u[z - 1, j]
        for x in range(row.size):
            row[x] = (row[x] + a * below[x]) * w


@numba.njit(cache=kernel_cache.ENABLED, nogil=True, fastmath=FLOAT_FLAGS)
def _y_back_z_forward(u, z, a, cp, w, sweep_y, sweep_z):  # pragma: no cover - compiled
    """Rows of plane ``z`` of ``u`` (nz, ny, nx) from the last down: back substitution
    along y (``sweep_y``; factors ``cp``), and, once a row is final for x and y and the
    row below it has used it, forward elimination of the z lines through it (``sweep_z``;
    ``w`` the plane's 1/denominator)."""
    ny = u.shape[1]
    s = u[z]
    for j in range(ny - 2, -1, -1):
        if sweep_y:
            c = cp[j]
            row = s[j]
            nxt = s[j + 1]
            for x in range(row.size):
                row[x] = row[x] - c * nxt[x]
        if sweep_z:
            _z_forward_row(u, z, j + 1, a, w)
    if sweep_z:
        _z_forward_row(u, z, 0, a, w)


@numba.njit(cache=kernel_cache.ENABLED, nogil=True, fastmath=FLOAT_FLAGS)
def _z_backward(u, cp):  # pragma: no cover - compiled
    """Back substitution of every z line of ``u`` (nz, ny, nx), plane by plane downwards."""
    nz, ny, _ = u.shape
    for z in range(nz - 2, -1, -1):
        c = cp[z]
        for j in range(ny):
            row = u[z, j]
            above = u[z + 1, j]
            for x in range(row.size):
                row[x] = row[x] - c * above[x]


@numba.njit(cache=kernel_cache.ENABLED, nogil=True, fastmath=FLOAT_FLAGS)
def lod_field(u, a, fx, fy, fz, f):  # pragma: no cover - compiled
    """One LOD step of one field ``u`` (nz, ny, nx) with coefficient ``a``, on the calling
    thread; ``fx, fy, fz`` are the stacked Thomas factors (2, F, n), ``f`` the field's row.

    Plane by plane, two passes over the plane in cache, then the z back substitution
    (see the module docstring).
    """
    nz, ny, nx = u.shape
    flat = u.ravel()
    for z in range(nz):
        plane = u[z]
        for y0 in range(0, ny, ROWS):
            if nx > 1:
                _x_rows(plane, y0, a, fx[0, f], fx[1, f], flat,
                        (z * ny + y0 + AHEAD * ROWS) * nx)
            if ny > 1:
                _y_forward(plane, y0, min(y0 + ROWS, ny), a, fy[1, f])
        if ny > 1 or nz > 1:
            _y_back_z_forward(u, z, a, fy[0, f], fz[1, f, z], ny > 1, nz > 1)
    if nz > 1:
        _z_backward(u, fz[0, f])


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _lod_fields(u, alpha, fx, fy, fz, first, step):  # pragma: no cover - compiled
    """LOD step of fields ``first, first + step, …`` (one share of a parallel call)."""
    for f in range(first, u.shape[0], step):
        lod_field(u[f], alpha[f], fx, fy, fz, f)


class Diffuser:
    """Backward-Euler LOD diffusion of ``F`` fields on a grid of ``shape`` (nz, ny, nx)
    voxels of edge ``dx_um`` µm, with coefficients ``D_um2_h`` (µm²/h, one per field) and
    time step ``dt_h`` (h)."""

    def __init__(self, shape: tuple[int, int, int], dx_um: float, D_um2_h: np.ndarray,
                 dt_h: float) -> None:
        self.shape = shape
        self.D = np.asarray(D_um2_h, dtype=float)
        self.alpha = np.ascontiguousarray(self.D * dt_h / dx_um**2)
        nz, ny, nx = shape
        #: Thomas factors per axis, stacked (cp, inv) → (2, F, n)
        self.fx = np.stack(factorize(self.alpha, nx))
        self.fy = np.stack(factorize(self.alpha, ny))
        self.fz = np.stack(factorize(self.alpha, nz))
        self.stiff_mask = self.alpha > STIFF_ALPHA
        self.stiff = np.flatnonzero(self.stiff_mask)

    def step(self, u: np.ndarray) -> None:
        """Diffuse ``u`` (F, nz, ny, nx) in place over one time step."""
        if u.shape[0] == 0:
            return
        stiff = self.stiff
        before = u[stiff].sum(axis=(1, 2, 3)) if stiff.size else None
        threads.run(lambda share, shares: _lod_fields(u, self.alpha, self.fx, self.fy,
                                                      self.fz, share, shares),
                    u.size, "fields")
        if stiff.size:
            # Thomas sweeps lose digits of the line sums when α ≫ 1; restore the exact
            # total (a uniform factor ~1 ± 1e-8 per step) so that EV ledgers stay closed
            after = u[stiff].sum(axis=(1, 2, 3))
            ok = after > 0
            u[stiff[ok]] *= (before[ok] / after[ok])[:, None, None, None]
