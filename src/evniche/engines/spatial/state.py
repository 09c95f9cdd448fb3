"""The state of a spatial run and its set-up: the section's geometry, fields, agents and
blood pools, the cell types' roles (placement, chemotaxis, retention, fates), agent weights,
and the population view of the state in the well-mixed species layout (see
:mod:`.engine` for the steps that advance it).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ...compile.network import Network
from ...compile.schedule import Schedule
from ...errors import SimulationError
from ..kinetics import Kinetics
from . import agents as ag
from . import geometry, rules, transport
from .diffusion import Diffuser


def diffusion_coefficients(net: Network, settings: transport.TransportSettings
                           ) -> tuple[list[str], np.ndarray]:
    """Field names (pools, then cytokines) and their diffusion coefficients (µm²/h)."""
    p = net.params
    names, D = [], []
    h = transport.hindrance(settings.tortuosity)
    for pool in net.pools:
        d = net.classes[pool.vesicle_class].diameter
        free = transport.mean_diffusion(p[d["median"]], p[d["gsd"]], p[d["min"]], p[d["max"]],
                                        settings.temperature_K, settings.viscosity_mPa_s)
        names.append(pool.name)
        D.append(free * h)
    spec = net.model.spec
    for name in net.cytokines:
        ref = spec.cytokines[name].diffusion
        if ref is None:
            value = settings.cytokine_diffusion_um2_s
        else:
            value = p[ref if isinstance(ref, str) else f"cytokines.{name}.diffusion"]
        names.append(name)
        D.append(value)  # a cytokine's coefficient is taken as already effective in tissue
    return names, np.array(D, float) * 3600.0 * settings.diffusion_factor

class Section:
    """State of one spatial run (fixed set-up and what the steps change)."""

    def __init__(self, net: Network, days: float, seed: int, schedule: Schedule,
                 opts: dict) -> None:
        if not days > 0:
            raise SimulationError(f"--days must be positive, got {days}")
        self.net, self.days, self.seed, self.schedule, self.o = net, days, seed, schedule, opts
        self.rng = np.random.Generator(np.random.PCG64(seed))
        kin = Kinetics(net, opts["params"])
        self.kin = kin
        geom = geometry.generate(opts["geometry"], self.rng)
        self.geom = geom
        names, D = diffusion_coefficients(net, opts["transport"])
        self.field_names = names
        self.D = D
        self.tr = rules.type_rules(kin)
        self.marrow_type = kin.c_marrow.copy()
        self.dt = float(opts["dt_hours"])
        self.n_vox = geom.n_voxels
        self.sin_flat = geom.sinusoid.ravel()
        self.n_sin = int(self.sin_flat.sum())
        # drainage acts in sinusoid voxels only, scaled so that its marrow average is the
        # class's drainage rate
        self.drain_v = np.where(self.sin_flat, self.n_vox / max(self.n_sin, 1), 0.0)
        self.sin_idx = np.flatnonzero(self.sin_flat).astype(np.int64)
        self.sin_rate = self.drain_v[self.sin_idx]
        sub = opts["field_substeps"]
        if sub is None:
            # sub-steps so that the fastest local first-order loss takes ≤ max_substep_loss
            # per sub-step (the operator-splitting error of a concentrated sink scales with
            # it: ~half of it, relative, in the well-mixed limit)
            fastest = max([0.0, *(kin.pl_deg + kin.pl_drain * self.drain_v.max()),
                           *kin.cyt_decay])
            loss = float(opts["max_substep_loss"])
            if not 0 < loss < 1:
                raise SimulationError(f"spatial option max_substep_loss must be in (0, 1), "
                                      f"got {loss}")
            sub = min(max(int(np.ceil(fastest * self.dt / loss)), 1), 500)
        self.substeps = max(int(sub), 1)
        self.diffuser = Diffuser(geom.shape, geom.dx, D, self.dt / self.substeps)
        self.V_m, self.V_b = kin.V_marrow, kin.V_blood
        self.vox_amount = self.V_m / self.n_vox  # EVs (marrow) per unit concentration per voxel
        npl = kin.n_pools
        self.npl = npl
        self.ncyt = len(net.cytokines)
        self.route_pool = kin.r_pool.astype(np.int64)
        # copies of each cargo per EV of each marrow route, as (route, cargo slot)
        self.Q_marrow_T = sparse.csr_matrix(kin.Q.multiply(kin.r_marrow[None, :]).T)
        self.blood_route = ~kin.r_marrow.astype(bool)
        self._kin_key: tuple = ()
        self._base_kin = kin
        self._setup_roles()
        self._initial_state()

    def segment(self, t: float) -> None:
        """Use the kinetics of the parameter windows (``scale``/``set``) in force at ``t``
        (h): rebuilt when the values in force change. Compartment volumes, diffusion
        coefficients and the section's geometry are fixed for a spatial run."""
        from ...compile.parameter_windows import values_in_force

        changed = values_in_force(self.net, self.schedule, t, self._base_kin.p)
        key = tuple(sorted(changed.items()))
        if key == self._kin_key:
            return
        resolved = self.net.model.params.resolved
        for name in changed:
            fixed = [u for u in (resolved[name].used_at if name in resolved else [])
                     if u.startswith(("compartments.", "spatial.")) or u.endswith(".diffusion")]
            if fixed:
                raise SimulationError(f"the spatial engine keeps parameter '{name}' (used at "
                                      f"{fixed[0]}) fixed during a run; a 'scale' or 'set' "
                                      "intervention cannot change it (use the well-mixed "
                                      "engine)")
        kin = self._base_kin if not key else Kinetics(self.net, {**(self.o["params"] or {}),
                                                                 **changed})
        self._kin_key = key
        self.kin = kin
        self.tr = rules.type_rules(kin)
        self.Q_marrow_T = sparse.csr_matrix(kin.Q.multiply(kin.r_marrow[None, :]).T)
        self.diff_cum = [np.cumsum([kin.p[f] for _, f in c.differentiation])
                         for c in self.net.cells]

    # ------------------------------------------------------------------ set-up
    def _setup_roles(self) -> None:
        net, o = self.net, self.o
        names = [c.name for c in net.cells]
        cyt = list(net.cytokines)
        chem = o["chemoattractant"]
        if chem is None:
            chem = next((c for c in cyt if "cxcl12" in c.lower() or "sdf" in c.lower()), None)
        elif chem not in cyt:
            raise SimulationError(f"spatial option chemoattractant: '{chem}' is not a cytokine "
                                  f"of the model ({', '.join(cyt) or 'none'})")
        self.chem_field = None if chem is None else self.npl + cyt.index(chem)
        chemo = o["chemotactic_types"]
        if chemo is None:
            chemo = [c.name for c in net.cells if c.niche] + [
                s.cell_type for s in net.states if s.var.lower() == "cxcr4"]
        for c in chemo:
            if c not in names:
                raise SimulationError(f"spatial option chemotactic_types: unknown cell type "
                                      f"'{c}'")
        self.chemotactic = np.array([n in set(chemo) for n in names], bool)
        retention = o["retention"] or {}
        for c in retention:
            if c not in names:
                raise SimulationError(f"spatial option retention: unknown cell type '{c}'")
        nt = len(names)
        #: per cell type: distance (µm) from a sinusoid within which it adheres (-1: never),
        #: random motility factor there, and its own chemotactic speed (NaN: the engine's)
        self.ret_reach = np.full(nt, -1.0)
        self.ret_motility = np.ones(nt)
        self.ret_chemotaxis = np.full(nt, np.nan)
        for c, entry in retention.items():
            t = names.index(c)
            self.ret_reach[t] = entry["reach_um"]
            self.ret_motility[t] = entry["motility_factor"]
            if entry["chemotaxis_um_h"] is not None:
                self.ret_chemotaxis[t] = entry["chemotaxis_um_h"]
                self.chemotactic[t] = True
        self.cxcr4_slot = {net.cell_index()[s.cell_type]: i for i, s in enumerate(net.states)
                           if s.var.lower() == "cxcr4"}
        place = dict(o["placement"] or {})
        for c in place:
            if c not in names:
                raise SimulationError(f"spatial option placement: unknown cell type '{c}'")
        self.placement = []
        for c in net.cells:
            low = c.name.lower()
            default = ("hsc" if c.niche else
                       "sinusoid" if "endothel" in low else
                       "bone" if "osteo" in low else
                       "perivascular" if c.lineage == "stroma" else "uniform")
            self.placement.append(place.get(c.name, default))
        # per (cell type): states and cargo slots of the type
        self.state_slots = [np.array([i for i, s in enumerate(net.states)
                                      if s.cell_type == c.name], int) for c in net.cells]
        self.cargo_slots = [np.array([i for i, q in enumerate(net.cargo_states)
                                      if q.cell_type == c.name], int) for c in net.cells]
        #: agents keep their own type's cargo only: column j of an agent of type t holds
        #: the network's cargo slot ``cargo_global[t, j]`` (-1: unused); ``cargo_col`` is
        #: the column of each cargo slot in its type's agents, ``cargo_type`` its type
        width = max((s.size for s in self.cargo_slots), default=0)
        self.cargo_global = np.full((len(net.cells), width), -1, np.int64)
        self.cargo_col = np.zeros(len(net.cargo_states), np.int64)
        self.cargo_type = np.zeros(len(net.cargo_states), np.int64)
        self.cargo_cols = [np.arange(s.size) for s in self.cargo_slots]
        #: (cell type, column / slot): whether an agent of the type uses the cargo column /
        #: state slot
        self.state_own = np.zeros((len(net.cells), len(net.states)), bool)
        for t in range(len(net.cells)):
            self.cargo_global[t, :self.cargo_slots[t].size] = self.cargo_slots[t]
            self.cargo_col[self.cargo_slots[t]] = self.cargo_cols[t]
            self.cargo_type[self.cargo_slots[t]] = t
            self.state_own[t, self.state_slots[t]] = True
        self.cargo_own = self.cargo_global >= 0
        cidx = net.cell_index()
        # differentiation targets of each type and the cumulative fractions that pick one
        self.diff_targets = [np.array([cidx[t] for t, _ in c.differentiation], int)
                             for c in net.cells]
        self.diff_cum = [np.cumsum([self.kin.p[f] for _, f in c.differentiation])
                         for c in net.cells]
        self.mut_to = np.array([cidx[c.mutation[0]] if c.mutation else -1
                                for c in net.cells], int)
        self.exit_to = np.array([cidx[c.exit_to] if c.exit_to else -1 for c in net.cells], int)

    def _initial_state(self) -> None:
        from ..wellmixed import starting_state

        kin, net, o = self.kin, self.net, self.o
        y = starting_state(kin, o["equilibrate_first"])
        self.y0 = y.copy()
        N0 = y[kin.i_cell]
        # weights: agents per type ∝ sqrt(N0) over marrow types, at least min_agents
        target, mn = int(o["agents"]), int(o["min_agents"])
        m = self.marrow_type
        root = np.sqrt(np.where(m, np.maximum(N0, 0.0), 0.0))
        share = target * root / root.sum() if root.sum() > 0 else np.zeros_like(root)
        n_t = np.where(N0 > 0, np.maximum(np.round(share), mn), 0).astype(int)
        n_t = np.where(N0 > 0, np.minimum(n_t, np.maximum(np.round(N0), 1)), 0).astype(int)
        n_t = np.where(m, n_t, 0)
        self.w = np.where(n_t > 0, N0 / np.maximum(n_t, 1), 1.0)
        n_types_m = max(int(m.sum()), 1)
        self.n_target = np.where(n_t > 0, np.maximum(n_t, mn),
                                 max(target // n_types_m, mn)).astype(float)
        # zero-start types inherit the weight of a type that differentiates into them
        for i in np.flatnonzero(m & (n_t == 0)):
            parents = [j for j in range(len(net.cells))
                       if i in self.diff_targets[j] and n_t[j] > 0]
            self.w[i] = self.w[parents[0]] if parents else 1.0
        Xs, Qs = len(net.states), self.cargo_global.shape[1]
        parts = []
        for t in np.flatnonzero(n_t):
            pos = geometry.place(self.geom, int(n_t[t]), self.placement[t], self.rng)
            st = np.zeros((n_t[t], Xs))
            st[:, self.state_slots[t]] = y[kin.i_state[self.state_slots[t]]]
            cg = np.zeros((n_t[t], Qs))
            cg[:, self.cargo_cols[t]] = y[kin.i_cargo[self.cargo_slots[t]]]
            parts.append(ag.Agents(np.full(n_t[t], t, np.int32), pos,
                                   self.rng.random(n_t[t]) * 24.0, cg, st))
        self.agents = ag.Agents.concat(parts) if parts else ag.Agents(
            np.zeros(0, np.int32), np.zeros((0, 3)), np.zeros(0), np.zeros((0, Qs)),
            np.zeros((0, Xs)))
        #: the step before last's agents, whose arrays the next step writes over
        #: (:meth:`.agents.Agents.kept`)
        self.spare_agents: ag.Agents | None = None
        # population state of blood cell types (counts, states, cargo) lives in y_blood
        self.y_blood = y.copy()
        F = self.npl + self.ncyt
        self.fields = np.zeros((F,) + self.geom.shape)
        for p in range(self.npl):
            self.fields[p] = y[kin.i_ev_m[p]] / self.V_m
        for c in range(self.ncyt):
            self.fields[self.npl + c] = y[kin.i_cyt[c]]
        self.Eb = y[kin.i_ev_b].copy()
        self.drug = y[kin.i_drug].copy()
        self.led = {k: np.zeros(self.npl) for k in
                    ("secreted", "administered", "degraded", "cleared", "removed")}
        self.led_uptake = np.zeros(kin.n_routes)
        self.initial_present = y[kin.i_ev_m] + y[kin.i_ev_b]

    # ------------------------------------------------------------------ population view
    def population(self) -> np.ndarray:
        """The state in the well-mixed species layout (counts, means, EV totals, ledger)."""
        kin, net, a = self.kin, self.net, self.agents
        y = self.y_blood.copy()
        nt = len(net.cells)
        counts = np.bincount(a.type, minlength=nt).astype(float)
        N = counts * self.w
        m = self.marrow_type
        y[kin.i_cell[m]] = N[m]
        groups = a.groups(nt)
        for t in np.flatnonzero(m):
            sel = groups[t]
            if sel.size:
                # rows, then columns: the layout (and so the sums' order) of the mean
                if self.state_slots[t].size:
                    y[kin.i_state[self.state_slots[t]]] = a.state[sel][:, self.state_slots[t]
                                                                       ].mean(axis=0)
                if self.cargo_slots[t].size:
                    y[kin.i_cargo[self.cargo_slots[t]]] = a.cargo[sel][:, self.cargo_cols[t]
                                                                       ].mean(axis=0)
            elif self.cargo_slots[t].size:
                y[kin.i_cargo[self.cargo_slots[t]]] = 0.0
        F = self.fields.reshape(self.fields.shape[0], self.n_vox)
        y[kin.i_ev_m] = F[: self.npl].sum(axis=1) * self.vox_amount
        y[kin.i_ev_b] = self.Eb
        if self.ncyt:
            y[kin.i_cyt] = F[self.npl:].mean(axis=1)
        y[kin.i_drug] = self.drug
        for k, v in self.led.items():
            y[kin.i_led[k]] = v
        if kin.i_led_uptake.size:
            y[kin.i_led_uptake] = 0.0
            np.add.at(y, kin.i_led_uptake, self.led_uptake)
        return y

    def baseline(self, t: int) -> np.ndarray:
        """The baseline state slots of a new agent of type ``t``."""
        x = np.zeros(len(self.net.states))
        for si in self.state_slots[t]:
            x[si] = self.kin.p[self.net.states[si].baseline]
        return x

    def niche_fraction(self) -> np.ndarray:
        """Per cell type: the fraction of its agents within ``niche_distance_um`` of a
        sinusoid (distance between voxel centres, µm); NaN for a type without agents (and
        for blood types). Agents of one type share one weight, so this is the fraction of
        its marrow cells in the section."""
        a, nt = self.agents, len(self.net.cells)
        near = self.geom.dist_sinusoid.ravel()[self.geom.voxel_of(a.pos)] <= float(
            self.o["niche_distance_um"]) if a.n else np.zeros(0, bool)
        total = np.bincount(a.type, minlength=nt).astype(float)
        inside = np.bincount(a.type, weights=near.astype(float), minlength=nt)
        return np.where(total > 0, inside / np.maximum(total, 1.0), np.nan)

    def ledger_error(self, y: np.ndarray) -> float:
        """Largest relative error over pools of initial + secreted + administered =
        present + taken up + degraded + cleared + removed."""
        from ..wellmixed import ledger_error

        return ledger_error(self.kin, self.y0_for_ledger(), y)

    def y0_for_ledger(self) -> np.ndarray:
        y0 = np.zeros(self.kin.n)
        y0[self.kin.i_ev_m] = self.initial_present  # marrow + blood at the start
        return y0
