"""Agents as a structure of arrays, and the compiled neighbor kernels that move them and
find who kills whom.

An agent is a *sampling particle* of its cell type: it stands for ``weight[type]`` real
marrow cells (see :mod:`evniche.engines.spatial.engine` for why weights are per type).
Positions are in µm, ``(n, 3)``; in a 2-D section z is the mid-plane of the single layer.

Neighbor search uses a uniform bin grid built by a stable counting sort, and every
kernel *gathers* from neighbors (never scatters), visiting them in bin order: the result
of each agent is computed by one thread in a fixed order, so runs are bitwise identical at
any number of threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


@dataclass
class Agents:
    """Structure of arrays of all agents (n agents, Q cargo slots, X state slots).

    ``cargo`` and ``state`` have one column per entry of the network's ``cargo_states``
    and ``states``; columns of other cell types are unused (zero) for an agent.
    """

    type: np.ndarray  # int32 (n,)
    pos: np.ndarray  # float64 (n, 3), µm
    cycle: np.ndarray  # float64 (n,), hours since last division
    cargo: np.ndarray  # float64 (n, Q), internalized copies per cell
    state: np.ndarray  # float64 (n, X), state variables

    @property
    def n(self) -> int:
        return int(self.type.size)

    def take(self, index: np.ndarray) -> Agents:
        return Agents(self.type[index], self.pos[index], self.cycle[index], self.cargo[index],
                      self.state[index])

    @staticmethod
    def concat(parts: list[Agents]) -> Agents:
        return Agents(np.concatenate([p.type for p in parts]),
                      np.concatenate([p.pos for p in parts]),
                      np.concatenate([p.cycle for p in parts]),
                      np.concatenate([p.cargo for p in parts]),
                      np.concatenate([p.state for p in parts]))

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.type, self.pos, self.cycle, self.cargo, self.state))


@dataclass
class BinGrid:
    """Agents sorted into square/cubic bins of edge ``size`` µm."""

    order: np.ndarray  # agent indices sorted by bin
    starts: np.ndarray  # (nbins + 1,) offsets into order
    nb: np.ndarray  # bins per axis (x, y, z), int64
    size: float


def bin_agents(pos: np.ndarray, size: float, extent: np.ndarray) -> BinGrid:
    """Sort agents into bins of edge ``size`` (µm) over a domain of ``extent`` (x, y, z) µm."""
    nb = np.maximum((extent / size).astype(np.int64), 1)
    ijk = np.minimum((pos / size).astype(np.int64), nb - 1)
    ijk = np.maximum(ijk, 0)
    flat = (ijk[:, 2] * nb[1] + ijk[:, 1]) * nb[0] + ijk[:, 0]
    order = np.argsort(flat, kind="stable")
    counts = np.bincount(flat, minlength=int(np.prod(nb)))
    starts = np.zeros(counts.size + 1, np.int64)
    np.cumsum(counts, out=starts[1:])
    return BinGrid(order.astype(np.int64), starts, nb, float(size))


@numba.njit(parallel=True, cache=True)
def _move(pos, radius, drift, noise, order, starts, nb, bsize, extent, dt, rep, adh,
          sinusoid, dx, shape, out):  # pragma: no cover - compiled
    n = pos.shape[0]
    nz, ny, nx = shape[0], shape[1], shape[2]
    for i in numba.prange(n):
        px, py, pz = pos[i, 0], pos[i, 1], pos[i, 2]
        bx = min(max(int(px / bsize), 0), nb[0] - 1)
        by = min(max(int(py / bsize), 0), nb[1] - 1)
        bz = min(max(int(pz / bsize), 0), nb[2] - 1)
        vx, vy, vz = drift[i, 0], drift[i, 1], drift[i, 2]
        ri = radius[i]
        for cz in range(max(bz - 1, 0), min(bz + 2, nb[2])):
            for cy in range(max(by - 1, 0), min(by + 2, nb[1])):
                for cx in range(max(bx - 1, 0), min(bx + 2, nb[0])):
                    b = (cz * nb[1] + cy) * nb[0] + cx
                    for k in range(starts[b], starts[b + 1]):
                        j = order[k]
                        if j == i:
                            continue
                        ex = px - pos[j, 0]
                        ey = py - pos[j, 1]
                        ez = pz - pos[j, 2]
                        d = np.sqrt(ex * ex + ey * ey + ez * ez)
                        s = ri + radius[j]
                        if d >= 1.25 * s:
                            continue
                        if d < 1e-9:
                            # coincident cells: push apart along a direction fixed by index
                            ex, ey, ez, d = (1.0 if i > j else -1.0), 0.0, 0.0, 1.0
                            mag = rep
                        elif d < s:
                            mag = rep * (1.0 - d / s)
                        else:
                            mag = -adh * (1.0 - (d - s) / (0.25 * s))
                        vx += mag * ex / d
                        vy += mag * ey / d
                        vz += mag * ez / d
        mx = vx * dt + noise[i, 0]
        my = vy * dt + noise[i, 1]
        mz = vz * dt + noise[i, 2]
        m = np.sqrt(mx * mx + my * my + mz * mz)
        if m > ri:  # no cell jumps more than its radius in one step
            mx *= ri / m
            my *= ri / m
            mz *= ri / m
        qx = min(max(px + mx, 1e-6), extent[0] - 1e-6)
        qy = min(max(py + my, 1e-6), extent[1] - 1e-6)
        qz = min(max(pz + mz, 1e-6), extent[2] - 1e-6) if nz > 1 else pz
        ix = min(int(qx / dx), nx - 1)
        iy = min(int(qy / dx), ny - 1)
        iz = min(int(qz / dx), nz - 1)
        if sinusoid[(iz * ny + iy) * nx + ix]:  # cells stay out of the vessels
            qx, qy, qz = px, py, pz
        out[i, 0] = qx
        out[i, 1] = qy
        out[i, 2] = qz


def move(agents: Agents, radius: np.ndarray, drift: np.ndarray, noise: np.ndarray,
         grid: BinGrid, extent: np.ndarray, dt: float, repulsion: float, adhesion: float,
         sinusoid_flat: np.ndarray, dx: float, shape: tuple[int, int, int]) -> np.ndarray:
    """New positions (µm) after one step of overdamped motion: ``drift`` (µm/h, e.g.
    chemotaxis), contact repulsion (``repulsion`` µm/h at full overlap) and adhesion
    (``adhesion`` µm/h, up to 1.25 contact distances), plus the random displacement
    ``noise`` (µm)."""
    out = np.empty_like(agents.pos)
    if agents.n:
        _move(agents.pos, radius, drift, noise, grid.order, grid.starts, grid.nb, grid.size,
              extent, dt, repulsion, adhesion, sinusoid_flat, dx, np.array(shape, np.int64),
              out)
    return out


@numba.njit(parallel=True, cache=True)
def _neighbor_ratio(pos, num, den, want, order, starts, nb, bsize, reach, out
                    ):  # pragma: no cover - compiled
    n = pos.shape[0]
    r2 = reach * reach
    span = int(np.ceil(reach / bsize))
    for i in numba.prange(n):
        if not want[i]:
            out[i] = 0.0
            continue
        px, py, pz = pos[i, 0], pos[i, 1], pos[i, 2]
        bx = min(max(int(px / bsize), 0), nb[0] - 1)
        by = min(max(int(py / bsize), 0), nb[1] - 1)
        bz = min(max(int(pz / bsize), 0), nb[2] - 1)
        a = 0.0
        c = 0.0
        for cz in range(max(bz - span, 0), min(bz + span + 1, nb[2])):
            for cy in range(max(by - span, 0), min(by + span + 1, nb[1])):
                for cx in range(max(bx - span, 0), min(bx + span + 1, nb[0])):
                    b = (cz * nb[1] + cy) * nb[0] + cx
                    for k in range(starts[b], starts[b + 1]):
                        j = order[k]
                        ex = px - pos[j, 0]
                        ey = py - pos[j, 1]
                        ez = pz - pos[j, 2]
                        if ex * ex + ey * ey + ez * ez <= r2:
                            a += num[j]
                            c += den[j]
        out[i] = a / c if c > 0 else 0.0


def neighbor_ratio(pos: np.ndarray, num: np.ndarray, den: np.ndarray, want: np.ndarray,
                   grid: BinGrid, reach: float) -> np.ndarray:
    """For each agent with ``want``: Σ num / Σ den over agents within ``reach`` µm (itself
    included); 0 where the denominator is 0. Used for contact killing: the local share of
    killers among marrow cells around a target."""
    out = np.zeros(pos.shape[0])
    if pos.shape[0]:
        _neighbor_ratio(pos, num, den, want, grid.order, grid.starts, grid.nb, grid.size,
                        float(reach), out)
    return out
