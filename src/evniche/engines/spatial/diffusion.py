"""Implicit diffusion of voxel fields: locally one-dimensional backward Euler (as BioFVM).

Each step solves, along x, then y, then z, the 1-D systems ``(I - α·L) u_new = u`` with
``α = D·dt/dx²`` and ``L`` the second-difference operator with zero-flux (Neumann)
boundaries, by the Thomas algorithm. Every 1-D solve conserves the line's sum exactly (in
exact arithmetic), is unconditionally stable, and its factorization depends only on α and
the line length, so it is precomputed once per field and axis.

Fields are one C-contiguous ``float64`` array of shape ``(F, nz, ny, nx)``; a 2-D section
has ``nz == 1`` and no z sweep. Lines are independent, so the sweeps run in parallel over
lines (``numba.prange``) and give bitwise the same result at any thread count.
"""

from __future__ import annotations

import numba
import numpy as np

#: fields with α = D·dt/dx² above this have their total restored after each step
STIFF_ALPHA = 100.0
#: grids with fewer voxel-field values than this diffuse on one thread
SERIAL_BELOW = 200_000


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


ROWS = 16  # lines of the x sweep solved together (independent recurrences interleave)


@numba.njit(parallel=True, cache=True, fastmath=False)
def _sweep_x(u, alpha, cp, inv):  # pragma: no cover - compiled
    F, nz, ny, nx = u.shape
    nyb = (ny + ROWS - 1) // ROWS
    nblocks = F * nz * nyb
    for block in numba.prange(nblocks):
        f = block // (nz * nyb)
        rem = block - f * nz * nyb
        z = rem // nyb
        y0 = (rem - z * nyb) * ROWS
        y1 = min(y0 + ROWS, ny)
        a = alpha[f]
        s = u[f, z]
        for y in range(y0, y1):
            s[y, 0] = s[y, 0] * inv[f, 0]
        for i in range(1, nx):
            w = inv[f, i]
            for y in range(y0, y1):
                s[y, i] = (s[y, i] + a * s[y, i - 1]) * w
        for i in range(nx - 2, -1, -1):
            c = cp[f, i]
            for y in range(y0, y1):
                s[y, i] = s[y, i] - c * s[y, i + 1]


@numba.njit(parallel=True, cache=True, fastmath=False)
def _sweep_y(u, alpha, cp, inv):  # pragma: no cover - compiled
    F, nz, ny, nx = u.shape
    nplanes = F * nz
    for plane in numba.prange(nplanes):
        f = plane // nz
        z = plane - f * nz
        a = alpha[f]
        s = u[f, z]
        for x in range(nx):
            s[0, x] = s[0, x] * inv[f, 0]
        for j in range(1, ny):
            w = inv[f, j]
            for x in range(nx):
                s[j, x] = (s[j, x] + a * s[j - 1, x]) * w
        for j in range(ny - 2, -1, -1):
            c = cp[f, j]
            for x in range(nx):
                s[j, x] = s[j, x] - c * s[j + 1, x]


@numba.njit(parallel=True, cache=True, fastmath=False)
def _sweep_z(u, alpha, cp, inv):  # pragma: no cover - compiled
    F, nz, ny, nx = u.shape
    nplanes = F * ny
    for plane in numba.prange(nplanes):
        f = plane // ny
        y = plane - f * ny
        a = alpha[f]
        for x in range(nx):
            u[f, 0, y, x] = u[f, 0, y, x] * inv[f, 0]
        for k in range(1, nz):
            w = inv[f, k]
            for x in range(nx):
                u[f, k, y, x] = (u[f, k, y, x] + a * u[f, k - 1, y, x]) * w
        for k in range(nz - 2, -1, -1):
            c = cp[f, k]
            for x in range(nx):
                u[f, k, y, x] = u[f, k, y, x] - c * u[f, k + 1, y, x]


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
        self.fx = factorize(self.alpha, nx)
        self.fy = factorize(self.alpha, ny)
        self.fz = factorize(self.alpha, nz)
        self.stiff = np.flatnonzero(self.alpha > STIFF_ALPHA)

    def step(self, u: np.ndarray) -> None:
        """Diffuse ``u`` (F, nz, ny, nx) in place over one time step."""
        if u.shape[0] == 0:
            return
        nz, ny, nx = self.shape
        # small grids run on the calling thread: a parallel launch costs more than the work
        # (the result is the same either way: lines are independent)
        threads = numba.get_num_threads()
        small = u.size < SERIAL_BELOW
        if small and threads > 1:
            numba.set_num_threads(1)
        stiff = self.stiff
        before = u[stiff].sum(axis=(1, 2, 3)) if stiff.size else None
        try:
            if nx > 1:
                _sweep_x(u, self.alpha, *self.fx)
            if ny > 1:
                _sweep_y(u, self.alpha, *self.fy)
            if nz > 1:
                _sweep_z(u, self.alpha, *self.fz)
        finally:
            if small and threads > 1:
                numba.set_num_threads(threads)
        if stiff.size:
            # Thomas sweeps lose digits of the line sums when α ≫ 1; restore the exact
            # total (a uniform factor ~1 ± 1e-8 per step) so that EV ledgers stay closed
            after = u[stiff].sum(axis=(1, 2, 3))
            ok = after > 0
            u[stiff[ok]] *= (before[ok] / after[ok])[:, None, None, None]
