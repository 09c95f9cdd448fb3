"""Implicit diffusion of voxel fields: locally one-dimensional backward Euler (as BioFVM).

Each step solves, along x, then y, then z, the 1-D systems ``(I - α·L) u_new = u`` with
``α = D·dt/dx²`` and ``L`` the second-difference operator with zero-flux (Neumann)
boundaries, by the Thomas algorithm. Every 1-D solve conserves the line's sum exactly (in
exact arithmetic), is unconditionally stable, and its factorization depends only on α and
the line length, so it is precomputed once per field and axis.

Fields are one C-contiguous ``float64`` array of shape ``(F, nz, ny, nx)``; a 2-D section
has ``nz == 1`` and no z sweep. Fields are independent, so fields are the parallel work
items (:mod:`.threads`; the engine always has several). A field is swept plane by plane:
each z plane's x and y sweeps and the forward elimination of the z lines through it run
while the plane is in cache, then one pass back substitutes the z lines (two passes over
memory per step instead of one per axis). Lines along x are solved :data:`ROWS` at a time
with their recurrences interleaved; lines along y and z are swept row by row in memory
order. Every line is solved by the same arithmetic whichever thread runs it and in
whichever order the lines are taken, so the result is bitwise the same at any thread count
and as sweeping each axis over the whole field in turn.
"""

from __future__ import annotations

import numba
import numpy as np

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


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _x_rows(s, y0, a, cp, inv):  # pragma: no cover - compiled
    """Solve rows ``y0 … y0+ROWS-1`` (fewer at the edge) of the plane ``s`` (ny, nx) along x."""
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
    for i in range(1, nx):
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


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _y_lines(s, a, cp, inv):  # pragma: no cover - compiled
    """Solve every column of the plane ``s`` (ny, nx) along y (rows in memory order)."""
    ny, nx = s.shape
    w = inv[0]
    for x in range(nx):
        s[0, x] = s[0, x] * w
    for j in range(1, ny):
        w = inv[j]
        for x in range(nx):
            s[j, x] = (s[j, x] + a * s[j - 1, x]) * w
    for j in range(ny - 2, -1, -1):
        c = cp[j]
        for x in range(nx):
            s[j, x] = s[j, x] - c * s[j + 1, x]


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _z_forward(u, z, a, w):  # pragma: no cover - compiled
    """Forward elimination of the z lines at plane ``z`` of ``u`` (nz, ny, nx), whose plane
    ``z - 1`` is already eliminated; ``w`` the plane's 1/denominator."""
    _, ny, nx = u.shape
    if z == 0:
        for j in range(ny):
            for x in range(nx):
                u[0, j, x] = u[0, j, x] * w
        return
    for j in range(ny):
        for x in range(nx):
            u[z, j, x] = (u[z, j, x] + a * u[z - 1, j, x]) * w


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _z_backward(u, cp):  # pragma: no cover - compiled
    """Back substitution of every z line of ``u`` (nz, ny, nx), plane by plane downwards."""
    nz, ny, nx = u.shape
    for z in range(nz - 2, -1, -1):
        c = cp[z]
        for j in range(ny):
            for x in range(nx):
                u[z, j, x] = u[z, j, x] - c * u[z + 1, j, x]


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def lod_field(u, a, fx, fy, fz, f):  # pragma: no cover - compiled
    """One LOD step of one field ``u`` (nz, ny, nx) with coefficient ``a``, on the calling
    thread; ``fx, fy, fz`` are the stacked Thomas factors (2, F, n), ``f`` the field's row.

    Plane by plane (z ascending): the x sweep, the y sweep and the z lines' forward
    elimination, while the plane (and the one below it) are in cache; then one pass of the
    z back substitution. Two passes over the field instead of three, each line solved by
    the same arithmetic as sweeping x, y and z one after the other over the whole field.
    """
    nz, ny, nx = u.shape
    for z in range(nz):
        plane = u[z]
        if nx > 1:
            for y0 in range(0, ny, ROWS):
                _x_rows(plane, y0, a, fx[0, f], fx[1, f])
        if ny > 1:
            _y_lines(plane, a, fy[0, f], fy[1, f])
        if nz > 1:
            _z_forward(u, z, a, fz[1, f, z])
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
