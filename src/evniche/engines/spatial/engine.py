"""The spatial engine: agents in a marrow section, EV pools and cytokines as voxel fields,
the blood compartment well-mixed — all driven by the same compiled network.

Scale. The marrow holds ~1e11–1e12 cells; a section holds a sample. Each cell type ``t``
has a *weight* ``w_t``: one agent of type ``t`` stands for ``w_t`` real marrow cells, and
the counts in the Dataset are ``Σ w_t`` over agents. Weights are chosen at the start so
that the section holds about ``agents`` agents (default 4000; every type present at least
``min_agents``, or one agent per real cell when fewer), and are adapted during the run
(agents of a type thinned and the weight raised when they exceed twice their share;
duplicated and the weight halved when they fall below half of it) so that expanding
clones stay tractable. Counts are exactly conserved by reweighting. Weights differ per
type, so agent densities in the section are a *sampling* of the marrow, not its packing.

The section is a representative volume of the whole marrow: field concentrations are
marrow concentrations (per mL), and the marrow total of a pool is its mean concentration
times the marrow volume. An agent of weight ``w`` in a grid of ``n_vox`` voxels adds
``rate · w · n_vox / V_marrow`` per hour to its voxel's concentration. Drainage, set per
class as a marrow-average rate, acts only in sinusoid voxels (scaled by
``n_vox / n_sinusoid`` so that the average matches); homing from blood enters through them.

Each step (``dt_hours``):

1. behaviors per agent from the rules (:mod:`.behaviours`, :mod:`.rules`), with the
   hematopoiesis feedback ``s``, niche ``ν``, crowding and the homeostatic death factor
   from global counts exactly as :meth:`Kinetics.rhs`;
2.-4. fields and blood in field sub-steps, one compiled call per thread
   (:mod:`.fields`): reaction per voxel, exact for the step's constant rates (secretion and
   production in; degradation, sinusoidal drainage and uptake by the voxel's agents out,
   the losses split by their rates, which keeps the EV ledger exact); diffusion
   (:mod:`.diffusion`, implicit LOD); blood pools, likewise exact (drained EVs and blood
   secretion in; clearance, homing into the sinusoid voxels, removal by interventions and
   uptake by blood cells out);
5. cells (:mod:`.cells`): delivered cargo, states relax to their targets, then division
   (self-renewal or differentiation), death, exit, crowding and contact killing as random
   events; motion (:mod:`.motion`: chemotaxis along the chemoattractant, retention where
   it is high, contact repulsion and adhesion, random motility; the ``retention`` option:
   cell types that adhere near a sinusoid and move at a fraction of their motility
   there). Blood cell types are population counts.

The run's state and set-up are in :mod:`.state`, its options in :mod:`.options`, and the
section pictures (fields and agents at chosen days) in :mod:`.snapshots`.

All random numbers come from one ``numpy.random.Generator(PCG64(seed))`` in a fixed
order; compiled kernels split work into independent shares (fields, agents) and only
gather, so the result does not depend on the thread count (:mod:`.threads`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from ...compile.network import Network
from ...compile.schedule import Schedule
from ...errors import SimulationError
from .. import trajectory
from . import agents as ag
from . import behaviours, cells, fields, geometry, threads
from .options import DEFAULTS, IGNORED, model_options, validated_options
from .snapshots import Snapshots
from .state import Section, diffusion_coefficients

__all__ = ["DEFAULTS", "IGNORED", "LEDGER_TOLERANCE", "Run", "diffusion_coefficients",
           "model_options", "simulate", "validated_options"]

LEDGER_TOLERANCE = 1e-9


def simulate(net: Network, days: float, seed: int = 0, schedule: Schedule | None = None,
             progress: Callable[[float], None] | None = None, **options) -> xr.Dataset:
    """Run ``net`` for ``days`` in a marrow section; return the Trajectory Dataset (same
    variables as the well-mixed engine) plus section snapshots (see the package docs)."""
    opts = validated_options(net, options)
    with threads.using(opts.pop("threads")):
        run = Run(net, float(days), int(seed), schedule or Schedule(), opts)
        return run.execute(progress)


class Run(Section):
    """State and steps of one spatial run."""

    def step(self, t: float) -> None:
        """Advance the section by one cell step from ``t`` (h)."""
        kin, dt = self.kin, self.dt
        b = behaviours.evaluate(self, t)
        delivered = fields.react(self, b.vox, b.sec_rate, b.uptake, b.rem, b.beh_pop, b.N,
                                 b.upt_f)
        cells.blood_cells(self, b.beh_pop, b.part, b.s_fb, b.nu, b.crowd, b.N, b.homeo)
        cells.advance(self, b.vox, b.chem, b.prolif, b.renew, b.loss, b.state_target,
                      b.kill_rate, delivered, b.N, b.n_total, b.beh_pop, b.fail, b.exit_rate,
                      b.mut)
        if self.drug.size:
            # first-order elimination with a constant infusion over the step (exact)
            k = kin.drug_elim
            inf = self.schedule.infusion(t, k.size)
            decay = np.exp(-k * dt)
            gain = np.where(k > 0, -np.expm1(-k * dt) / np.where(k > 0, k, 1.0), dt)
            self.drug = self.drug * decay + inf * gain

    # ------------------------------------------------------------------ jumps
    def _jump(self, species: str, amount: float, ledger: str) -> None:
        kin = self.kin
        idx = kin.species_index
        if species not in idx:
            raise SimulationError(f"intervention adds to unknown species '{species}'")
        i = idx[species]
        kind = self.net.species[i].kind
        if kind == "ev":
            p = self.net.pools[[pl.name for pl in self.net.pools].index(
                species[3:].rsplit("@", 1)[0])]
            pi = self.net.pools.index(p)
            if species.endswith("@blood"):
                self.Eb[pi] += amount
            else:
                Fl = self.fields.reshape(self.fields.shape[0], self.n_vox)
                Fl[pi] += amount / self.V_m
        elif kind == "drug":
            self.drug[list(kin.i_drug).index(i)] += amount
        elif kind == "cell" and not self.marrow_type[list(kin.i_cell).index(i)]:
            self.y_blood[i] += amount
        elif kind == "cell":
            t = list(kin.i_cell).index(i)
            k = int(round(amount / self.w[t]))
            if k > 0:
                pos = geometry.place(self.geom, k, self.placement[t], self.rng)
                new = ag.Agents(np.full(k, t, np.int32), pos, np.zeros(k),
                                np.zeros((k, self.agents.cargo.shape[1])),
                                np.tile(self.baseline(t), (k, 1)))
                self.agents = ag.Agents.concat([self.agents, new])
        else:
            raise SimulationError(f"the spatial engine cannot apply a jump to {kind} species "
                                  f"'{species}'")
        if ledger:
            term = ledger.rsplit(".", 1)[1]
            pi = [pl.name for pl in self.net.pools].index(ledger[7:].rsplit(".", 1)[0])
            if term in self.led:
                self.led[term][pi] += amount

    # ------------------------------------------------------------------ the run
    def execute(self, progress: Callable[[float], None] | None) -> xr.Dataset:
        """Run to the end; the Trajectory Dataset with the section snapshots (written under
        ``snapshot_dir`` when given; a run that fails leaves no partial snapshot file)."""
        snaps = Snapshots(self)
        try:
            return self._execute(progress, snaps)
        finally:
            snaps.close()

    def _execute(self, progress: Callable[[float], None] | None,
                 snaps: Snapshots) -> xr.Dataset:
        t_end = self.days * 24.0
        n_steps = int(np.ceil(t_end / self.dt - 1e-9))
        out_every = max(int(round(float(self.o["output_hours"]) / self.dt)), 1)
        # the chosen days (report images) and the animation's frames, as step numbers
        chosen = self.o["snapshot_days"]
        if chosen is None:
            chosen = np.linspace(0.0, self.days, 4)
        chosen_steps = {min(int(round(float(d) * 24.0 / self.dt)), n_steps) for d in chosen}
        frames = int(self.o["animation_frames"])
        frame_steps = {int(round(s)) for s in np.linspace(0, n_steps, frames)} if frames > 1 \
            else set()
        snap_steps = chosen_steps | frame_steps
        times, ys, behs, niche = [], [], [], []
        done_jumps: set[int] = set()
        self.beh_now = self.kin.parts(self.y0)["beh"]
        for step in range(n_steps + 1):
            t = min(step * self.dt, t_end)
            self.segment(min(t, np.nextafter(t_end, 0.0)))
            kin = self.kin
            for j, jump in enumerate(self.schedule.jumps):
                if j not in done_jumps and jump.time <= t + 1e-9 and jump.time < t_end:
                    self._jump(jump.species, jump.amount, jump.ledger)
                    done_jumps.add(j)
            if step in snap_steps:
                snaps.take(t / 24.0)
            if step % out_every == 0 or step == n_steps:
                y = self.population()
                times.append(t)
                ys.append(y)
                niche.append(self.niche_fraction())
                if step == 0:
                    beh_f, upt_f, _ = self.schedule.modifiers(t, kin.n_beh, kin.n_routes,
                                                              kin.n_pools)
                    behs.append(kin.parts(y, beh_f, upt_f)["beh"])
                else:
                    behs.append(self.beh_now.copy())
            if step == n_steps:
                break
            self.step(t)
            if progress is not None and step % 10 == 0:
                progress((step + 1) / n_steps)
        Y = np.vstack(ys)
        error = self.ledger_error(Y[-1])
        if error > LEDGER_TOLERANCE:
            raise SimulationError(f"EV ledger does not close: relative error {error:.3e} > "
                                  f"{LEDGER_TOLERANCE:g}")
        g = self.geom
        ds = trajectory.build(self.net, np.array(times), Y, np.vstack(behs), "spatial",
                              self.seed, {
                                  "ledger_relative_error": error,
                                  "dims": g.dims,
                                  "grid_shape_zyx": ";".join(str(s) for s in g.shape),
                                  "voxel_um": g.dx,
                                  "sinusoid_fraction": self.n_sin / self.n_vox,
                                  "dt_hours": self.dt,
                                  "field_substeps": self.substeps,
                                  "agents_final": self.agents.n,
                                  "agent_weights": ";".join(
                                      f"{c.name}={w:.6g}" for c, w in
                                      zip(self.net.cells, self.w, strict=True)),
                                  "diffusion_um2_s": ";".join(
                                      f"{nm}={d / 3600:.6g}" for nm, d in
                                      zip(self.field_names, self.D, strict=True)),
                              })
        ds = ds.assign(niche_fraction=(("time", "cell_type"), np.vstack(niche)))
        ds["niche_fraction"].attrs.update(
            units="1", distance_um=float(self.o["niche_distance_um"]),
            description="fraction of the type's agents in the section within distance_um of "
                        "a sinusoid (voxel centres; NaN: no agent of the type)")
        ds = snaps.attach(ds)
        ds.attrs["section_days"] = ";".join(f"{s * self.dt / 24.0:g}"
                                            for s in sorted(chosen_steps))
        if self.o["snapshot_dir"]:
            snaps.write()
            ds.attrs["snapshot_dir"] = str(self.o["snapshot_dir"])
        return ds

