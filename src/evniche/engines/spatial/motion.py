"""Motion of the agents over one cell step: chemotaxis up the chemoattractant (speed
scaled by the agent's CXCR4 state), retention where the chemoattractant is high, adhesion
near a sinusoid (the ``retention`` option), random motility, then contact repulsion and
adhesion between neighbours (:func:`.agents.move`). Lengths in µm, times in hours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np

from . import agents as ag
from . import kernel_cache, threads

if TYPE_CHECKING:
    from .state import Section


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _drive(vox, types, state, gx, gy, gz, chemotactic, cxcr4_slot, own_speed, speed0,
           has_field, attractant, ref, retained, dist_sinusoid, reach, motility, scale, flat,
           drift, noise, mobility, k0, k1):  # pragma: no cover - compiled
    """Agents ``k0 … k1-1``: chemotactic ``drift`` (µm/h) up the gradient ``gx, gy, gz``
    (per voxel; empty: that axis is flat) of the chemoattractant (``has_field``; ``ref``
    its mean, ``attractant`` its value at the agents) at the type's speed (``own_speed``, NaN: the
    engine's ``speed0``) times the CXCR4 state (``cxcr4_slot`` per type, -1: none);
    ``mobility`` (niche adhesion where ``retained``); ``noise`` (standard normal draws, in
    place) scaled by ``scale · sqrt(retention · mobility)``; ``flat``: a 2-D section."""
    for i in range(k0, k1):
        t = types[i]
        v = vox[i]
        g0 = gx[v] if gx.size else 0.0
        g1 = gy[v] if gy.size else 0.0
        g2 = gz[v] if gz.size else 0.0
        retention = 1.0
        if has_field:
            norm = np.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
            sens = 1.0
            if cxcr4_slot[t] >= 0:
                sens = state[i, cxcr4_slot[t]]
                if sens < 0.0:
                    sens = 0.0
            own = own_speed[t]
            speed = (speed0 if np.isnan(own) else own) * sens * (1.0 if chemotactic[t] else 0.0)
            f = speed / norm if norm > 0 else 0.0
            drift[i, 0] = g0 * f
            drift[i, 1] = g1 * f
            drift[i, 2] = 0.0 if flat else g2 * f
            if ref > 0 and chemotactic[t]:
                retention = 1.0 / (1.0 + attractant[i] / ref)
        else:
            drift[i, 0] = 0.0
            drift[i, 1] = 0.0
            drift[i, 2] = 0.0
        m = 1.0
        if retained and dist_sinusoid[v] <= reach[t]:
            m = motility[t]
        if retained:
            retention = retention * m
        mobility[i] = m
        sigma = scale * np.sqrt(retention)
        noise[i, 0] = noise[i, 0] * sigma
        noise[i, 1] = noise[i, 1] * sigma
        noise[i, 2] = 0.0 if flat else noise[i, 2] * sigma


def displace(run: Section, vox: np.ndarray, attractant: np.ndarray | None) -> np.ndarray:
    """New positions (agents, 3) of ``run``'s agents after one step; ``vox`` their voxels,
    ``attractant`` the chemoattractant there at the step's start (None: no chemoattractant)."""
    a, o, dt = run.agents, run.o, run.dt
    n = a.n
    if n == 0:
        return a.pos
    empty = np.zeros(0)
    grads = [empty, empty, empty]  # along x, y, z: per voxel
    ref = 0.0
    if run.chem_field is not None:
        C = run.fields[run.chem_field]
        axes = [i for i, s in enumerate(C.shape) if s > 1]
        if axes:
            g = np.gradient(C, run.geom.dx, axis=axes)
            g = g if isinstance(g, list | tuple) else [g]
            for ax, gi in zip(axes, g, strict=True):
                grads[2 - ax] = gi.ravel()  # array axes (z, y, x) → (x, y, z)
        ref = float(C.mean())
    cxcr4 = np.full(len(run.net.cells), -1, np.int64)
    for t, slot in run.cxcr4_slot.items():
        cxcr4[t] = slot
    # adhesion to the niche (VCAM-1/VLA-4, CXCL12/CXCR4; docs/spatial.md): a cell of a
    # retained type within its reach of a sinusoid has its drag raised by 1/motility_factor:
    # random motility and every directed or contact displacement scaled by motility_factor
    retained = bool(run.o["retention"])
    drift = np.empty((n, 3))
    mobility = np.empty(n)
    noise = run.rng.normal(size=(n, 3))
    state = np.ascontiguousarray(a.state)
    chem_at = np.zeros(n) if attractant is None else np.ascontiguousarray(attractant)
    scale = float(np.sqrt(2.0 * float(o["motility_um2_h"]) * dt))
    dist = run.geom.dist_sinusoid.ravel()
    threads.run(lambda share, shares: _drive(
        vox, a.type, state, grads[0], grads[1], grads[2], run.chemotactic, cxcr4,
        run.ret_chemotaxis, float(o["chemotaxis_um_h"]), run.chem_field is not None,
        chem_at, ref, retained, dist,
        run.ret_reach, run.ret_motility, scale, run.geom.dims == 2, drift, noise, mobility,
        *threads.span(n, share, shares)), n, "agents")
    radius = np.full(n, float(o["cell_radius_um"]))
    grid = ag.bin_agents(a.pos, 2.5 * float(o["cell_radius_um"]), run.geom.extent)
    return ag.move(a, radius, drift, noise, grid, run.geom.extent, dt,
                   float(o["repulsion_um_h"]), float(o["adhesion_um_h"]), run.sin_flat,
                   run.geom.dx, run.geom.shape, mobility)
