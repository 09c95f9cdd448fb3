"""Motion of the agents over one cell step: chemotaxis up the chemoattractant (speed
scaled by the agent's CXCR4 state), retention where the chemoattractant is high, adhesion
near a sinusoid (the ``retention`` option), random motility, then contact repulsion and
adhesion between neighbours (:func:`.agents.move`). Lengths in µm, times in hours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import agents as ag

if TYPE_CHECKING:
    from .state import Section


def displace(run: Section, vox: np.ndarray, attractant: np.ndarray | None) -> np.ndarray:
    """New positions (agents, 3) of ``run``'s agents after one step; ``vox`` their voxels,
    ``attractant`` the chemoattractant there at the step's start (None: no chemoattractant)."""
    a, o, dt = run.agents, run.o, run.dt
    n = a.n
    if n == 0:
        return a.pos
    drift = np.zeros((n, 3))
    retention = np.ones(n)
    if run.chem_field is not None:
        C = run.fields[run.chem_field]
        axes = [i for i, s in enumerate(C.shape) if s > 1]
        grads = np.zeros((3, n))
        if axes:
            g = np.gradient(C, run.geom.dx, axis=axes)
            g = g if isinstance(g, list | tuple) else [g]
            for ax, gi in zip(axes, g, strict=True):
                grads[2 - ax] = gi.ravel()[vox]  # array axes (z, y, x) → (x, y, z)
        norm = np.sqrt((grads**2).sum(axis=0))
        chem = run.chemotactic[a.type]
        sens = np.ones(n)
        for t, slot in run.cxcr4_slot.items():
            sel = a.type == t
            sens[sel] = np.clip(a.state[sel, slot], 0.0, None)
        own = run.ret_chemotaxis[a.type]
        speed = np.where(np.isnan(own), float(o["chemotaxis_um_h"]), own) * sens * chem
        drift = (grads * np.where(norm > 0, speed / np.where(norm > 0, norm, 1.0), 0.0)).T
        ref = float(C.mean())
        cc = attractant
        if ref > 0:
            retention = np.where(chem, 1.0 / (1.0 + cc / ref), 1.0)
    mobility = np.ones(n)
    if run.o["retention"]:
        # adhesion to the niche (VCAM-1/VLA-4, CXCL12/CXCR4; docs/spatial.md): a cell of
        # a retained type within its reach of a sinusoid has its drag raised by
        # 1/motility_factor: random motility and every directed or contact displacement
        # scaled by motility_factor
        near = run.geom.dist_sinusoid.ravel()[vox] <= run.ret_reach[a.type]
        mobility = np.where(near, run.ret_motility[a.type], 1.0)
        retention = retention * mobility
    sigma = np.sqrt(2.0 * float(o["motility_um2_h"]) * dt) * np.sqrt(retention)
    noise = run.rng.normal(size=(n, 3)) * sigma[:, None]
    if run.geom.dims == 2:
        noise[:, 2] = 0.0
        drift[:, 2] = 0.0
    radius = np.full(n, float(o["cell_radius_um"]))
    grid = ag.bin_agents(a.pos, 2.5 * float(o["cell_radius_um"]), run.geom.extent)
    return ag.move(a, radius, drift, noise, grid, run.geom.extent, dt,
                   float(o["repulsion_um_h"]), float(o["adhesion_um_h"]), run.sin_flat,
                   run.geom.dx, run.geom.shape, mobility)
