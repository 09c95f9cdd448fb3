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

from . import kernel_cache, threads


@dataclass
class Agents:
    """Structure of arrays of all agents (n agents, Q cargo slots, X state slots).

    ``state`` has one column per entry of the network's ``states`` (columns of other cell
    types unused, zero); ``cargo`` holds only the agent's own type's cargo slots, Q the
    most of any type (see ``Section.cargo_global``: which slot a column holds).
    """

    type: np.ndarray  # int32 (n,)
    pos: np.ndarray  # float64 (n, 3), µm
    cycle: np.ndarray  # float64 (n,), hours since last division
    cargo: np.ndarray  # float64 (n, Q), internalized copies per cell, own slots only
    state: np.ndarray  # float64 (n, X), state variables
    #: int64 (n,): the agent's identity, kept while it lives (-1 or None: new, not numbered
    #: yet; :meth:`number` numbers them)
    id: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.type.size)

    def ids(self) -> np.ndarray:
        return np.full(self.n, -1, np.int64) if self.id is None else self.id

    def take(self, index: np.ndarray) -> Agents:
        return Agents(self.type[index], self.pos[index], self.cycle[index], self.cargo[index],
                      self.state[index], self.ids()[index])

    @staticmethod
    def concat(parts: list[Agents]) -> Agents:
        return Agents(np.concatenate([p.type for p in parts]),
                      np.concatenate([p.pos for p in parts]),
                      np.concatenate([p.cycle for p in parts]),
                      np.concatenate([p.cargo for p in parts]),
                      np.concatenate([p.state for p in parts]),
                      np.concatenate([p.ids() for p in parts]))

    def kept(self, index: np.ndarray | None, parts: list[Agents],
             into: Agents | None = None) -> Agents:
        """The agents ``index`` (None: all) followed by ``parts``: ``concat([take(index),
        *parts])`` with each array written once. ``into``: agents whose arrays nothing uses
        any more (the step before last's): an array of theirs large enough is written over
        (its pages are mapped already; fresh ones cost a page fault each), the others are
        allocated with 1/32 spare rows so that the next reuse fits a growing population."""
        if index is None:
            return Agents.concat([self, *parts])
        m = int(index.size)
        total = m + sum(p.n for p in parts)

        def gathered(name: str, mine: np.ndarray, theirs: list[np.ndarray]) -> np.ndarray:
            old = None if into is None else getattr(into, name)
            base = old if old is None or old.base is None else old.base
            if (isinstance(base, np.ndarray) and base.dtype == mine.dtype
                    and base.shape[1:] == mine.shape[1:] and base.shape[0] >= total
                    and base.flags.c_contiguous
                    and not any(np.may_share_memory(base, x) for x in (mine, *theirs))):
                out = base[:total]
            else:
                out = np.empty((total + total // 32, *mine.shape[1:]), mine.dtype)[:total]
            np.take(mine, index, axis=0, out=out[:m])
            k = m
            for arr in theirs:
                out[k:k + arr.shape[0]] = arr
                k += arr.shape[0]
            return out

        return Agents(*(gathered(f, getattr(self, f), [getattr(p, f) for p in parts])
                        for f in ("type", "pos", "cycle", "cargo", "state")),
                      gathered("id", self.ids(), [p.ids() for p in parts]))

    def number(self, next_id: int) -> int:
        """Give every agent without an identity the next free numbers (in index order);
        return the next free number."""
        ids = self.ids().copy()
        new = np.flatnonzero(ids < 0)
        ids[new] = next_id + np.arange(new.size)
        self.id = ids
        return next_id + int(new.size)

    def groups(self, n_types: int) -> list[np.ndarray]:
        """The agents of each type ``0 … n_types-1``, as ascending indices (one stable sort
        instead of a mask over all agents per type)."""
        order = np.argsort(self.type, kind="stable")
        bounds = np.searchsorted(self.type[order], np.arange(n_types + 1))
        return [order[bounds[t]:bounds[t + 1]] for t in range(n_types)]

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.type, self.pos, self.cycle, self.cargo, self.state))


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _add_by_voxel(row, vox, values, scratch):  # pragma: no cover - compiled
    """``row += bincount(vox, values, minlength=row.size)`` without the full-length
    temporary: the sums are formed in ``scratch`` (zeros, left zero) in the same order."""
    for i in range(vox.size):
        scratch[vox[i]] += values[i]
    for i in range(vox.size):
        v = vox[i]
        if scratch[v] != 0.0:  # a zero sum leaves row as bincount's + 0.0 does
            row[v] += scratch[v]
            scratch[v] = 0.0


def add_by_voxel(row: np.ndarray, vox: np.ndarray, values: np.ndarray,
                 scratch: np.ndarray) -> None:
    """Add ``values`` (one per agent) to ``row`` (one per voxel) at the agents' voxels
    ``vox``, as ``row += np.bincount(vox, values, minlength=row.size)`` does, bitwise;
    ``scratch`` is a zero array as long as ``row`` and is left zero."""
    _add_by_voxel(row, np.ascontiguousarray(vox, dtype=np.int64),
                  np.ascontiguousarray(values, dtype=float), scratch)


@dataclass
class BinGrid:
    """Agents sorted into square/cubic bins of edge ``size`` µm (a stable counting sort:
    within a bin, agents keep their index order)."""

    order: np.ndarray  # agent indices sorted by bin
    starts: np.ndarray  # (nbins + 1,) offsets into order
    nb: np.ndarray  # bins per axis (x, y, z), int64
    size: float
    pos: np.ndarray  # positions in bin order, (n, 3) µm: neighbors are read contiguously


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _bin(pos, size, nb, order, starts, sorted_pos):  # pragma: no cover - compiled
    n = pos.shape[0]
    flat = np.empty(n, np.int64)
    for i in range(n):
        bx = min(max(int(pos[i, 0] / size), 0), nb[0] - 1)
        by = min(max(int(pos[i, 1] / size), 0), nb[1] - 1)
        bz = min(max(int(pos[i, 2] / size), 0), nb[2] - 1)
        b = (bz * nb[1] + by) * nb[0] + bx
        flat[i] = b
        starts[b + 1] += 1
    for b in range(starts.size - 1):
        starts[b + 1] += starts[b]
    fill = starts[:-1].copy()
    for i in range(n):
        k = fill[flat[i]]
        order[k] = i
        sorted_pos[k, 0] = pos[i, 0]
        sorted_pos[k, 1] = pos[i, 1]
        sorted_pos[k, 2] = pos[i, 2]
        fill[flat[i]] = k + 1


def bin_agents(pos: np.ndarray, size: float, extent: np.ndarray) -> BinGrid:
    """Sort agents into bins of edge ``size`` (µm) over a domain of ``extent`` (x, y, z) µm."""
    nb = np.maximum((extent / size).astype(np.int64), 1)
    n = pos.shape[0]
    order = np.empty(n, np.int64)
    starts = np.zeros(int(np.prod(nb)) + 1, np.int64)
    sorted_pos = np.empty((n, 3))
    _bin(np.ascontiguousarray(pos, dtype=float), float(size), nb, order, starts, sorted_pos)
    return BinGrid(order, starts, nb, float(size), sorted_pos)


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _move(sp, radius, drift, noise, order, starts, nb, bsize, extent, dt, rep, adh,
          sinusoid, dx, shape, mobility, out, k0, k1):  # pragma: no cover - compiled
    nz, ny, nx = shape[0], shape[1], shape[2]
    for k in range(k0, k1):  # k: position in bin order; i: the agent
        i = order[k]
        px, py, pz = sp[k, 0], sp[k, 1], sp[k, 2]
        bx = min(max(int(px / bsize), 0), nb[0] - 1)
        by = min(max(int(py / bsize), 0), nb[1] - 1)
        bz = min(max(int(pz / bsize), 0), nb[2] - 1)
        vx, vy, vz = drift[i, 0], drift[i, 1], drift[i, 2]
        ri = radius[k]
        for cz in range(max(bz - 1, 0), min(bz + 2, nb[2])):
            for cy in range(max(by - 1, 0), min(by + 2, nb[1])):
                for cx in range(max(bx - 1, 0), min(bx + 2, nb[0])):
                    b = (cz * nb[1] + cy) * nb[0] + cx
                    for m in range(starts[b], starts[b + 1]):
                        if m == k:
                            continue
                        ex = px - sp[m, 0]
                        ey = py - sp[m, 1]
                        ez = pz - sp[m, 2]
                        d = np.sqrt(ex * ex + ey * ey + ez * ez)
                        s = ri + radius[m]
                        if d >= 1.25 * s:
                            continue
                        if d < 1e-9:
                            # coincident cells: push apart along a direction fixed by index
                            ex, ey, ez, d = (1.0 if i > order[m] else -1.0), 0.0, 0.0, 1.0
                            mag = rep
                        elif d < s:
                            mag = rep * (1.0 - d / s)
                        else:
                            mag = -adh * (1.0 - (d - s) / (0.25 * s))
                        vx += mag * ex / d
                        vy += mag * ey / d
                        vz += mag * ez / d
        mob = mobility[i] * dt
        mx = vx * mob + noise[i, 0]
        my = vy * mob + noise[i, 1]
        mz = vz * mob + noise[i, 2]
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
         sinusoid_flat: np.ndarray, dx: float, shape: tuple[int, int, int],
         mobility: np.ndarray | None = None) -> np.ndarray:
    """New positions (µm) after one step of overdamped motion: ``drift`` (µm/h, e.g.
    chemotaxis), contact repulsion (``repulsion`` µm/h at full overlap) and adhesion
    (``adhesion`` µm/h, up to 1.25 contact distances), all times ``mobility`` (per agent,
    1 by default: the inverse of its relative drag, lower for a cell adhering to the
    niche), plus the random displacement ``noise`` (µm). ``grid`` must bin the agents'
    current positions."""
    out = np.empty_like(agents.pos)
    n = agents.n
    if n:
        r_sorted = radius[grid.order]
        shape_a = np.array(shape, np.int64)
        # one layout and dtype per argument, whatever the caller passes (a transposed drift
        # is Fortran-ordered): one compiled signature, found in the on-disk cache every run
        drift, noise = (np.ascontiguousarray(v, dtype=float) for v in (drift, noise))
        mobility = np.ascontiguousarray(np.ones(n) if mobility is None else mobility,
                                        dtype=float)
        extent = np.ascontiguousarray(extent, dtype=float)
        threads.run(lambda share, shares: _move(
            grid.pos, r_sorted, drift, noise, grid.order, grid.starts, grid.nb, grid.size,
            extent, float(dt), float(repulsion), float(adhesion), sinusoid_flat, float(dx),
            shape_a, mobility, out, *threads.span(n, share, shares)), n, "agents")
    return out


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _neighbor_ratio(sp, num, den, want, order, starts, nb, bsize, reach, out, k0, k1
                    ):  # pragma: no cover - compiled
    r2 = reach * reach
    span = int(np.ceil(reach / bsize))
    for k in range(k0, k1):  # k: position in bin order (num, den, want are in bin order)
        i = order[k]
        if not want[k]:
            out[i] = 0.0
            continue
        px, py, pz = sp[k, 0], sp[k, 1], sp[k, 2]
        bx = min(max(int(px / bsize), 0), nb[0] - 1)
        by = min(max(int(py / bsize), 0), nb[1] - 1)
        bz = min(max(int(pz / bsize), 0), nb[2] - 1)
        a = 0.0
        c = 0.0
        for cz in range(max(bz - span, 0), min(bz + span + 1, nb[2])):
            for cy in range(max(by - span, 0), min(by + span + 1, nb[1])):
                for cx in range(max(bx - span, 0), min(bx + span + 1, nb[0])):
                    b = (cz * nb[1] + cy) * nb[0] + cx
                    for m in range(starts[b], starts[b + 1]):
                        ex = px - sp[m, 0]
                        ey = py - sp[m, 1]
                        ez = pz - sp[m, 2]
                        if ex * ex + ey * ey + ez * ez <= r2:
                            a += num[m]
                            c += den[m]
        out[i] = a / c if c > 0 else 0.0


def neighbor_ratio(pos: np.ndarray, num: np.ndarray, den: np.ndarray, want: np.ndarray,
                   grid: BinGrid, reach: float) -> np.ndarray:
    """For each agent with ``want``: Σ num / Σ den over agents within ``reach`` µm (itself
    included); 0 where the denominator is 0. Used for contact killing: the local share of
    killers among marrow cells around a target. ``grid`` must bin ``pos``."""
    n = pos.shape[0]
    out = np.zeros(n)
    if n:
        o = grid.order
        num_s, den_s, want_s = num[o], den[o], want[o]
        threads.run(lambda share, shares: _neighbor_ratio(
            grid.pos, num_s, den_s, want_s, o, grid.starts, grid.nb, grid.size, float(reach),
            out, *threads.span(n, share, shares)), n, "agents")
    return out
