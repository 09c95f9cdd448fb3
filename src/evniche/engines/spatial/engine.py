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

1. behaviors per agent from the rules (:mod:`.rules`), with the hematopoiesis feedback
   ``s``, niche ``ν``, crowding and the homeostatic death factor from global counts
   exactly as :meth:`Kinetics.rhs`;
2.-4. fields and blood in field sub-steps, one compiled call per thread
   (:mod:`.fields`): reaction per voxel, exact for the step's constant rates (secretion and
   production in; degradation, sinusoidal drainage and uptake by the voxel's agents out,
   the losses split by their rates, which keeps the EV ledger exact); diffusion
   (:mod:`.diffusion`, implicit LOD); blood pools, likewise exact (drained EVs and blood
   secretion in; clearance, homing into the sinusoid voxels, removal by interventions and
   uptake by blood cells out);
5. cells: delivered cargo, states relax to their targets, then division (self-renewal or
   differentiation), death, exit, crowding and contact killing as random events; motion
   (chemotaxis along the chemoattractant, retention where it is high, contact repulsion
   and adhesion, random motility; the ``retention`` option: cell types that adhere near
   a sinusoid and move at a fraction of their motility there). Blood cell types are
   population counts.

All random numbers come from one ``numpy.random.Generator(PCG64(seed))`` in a fixed
order; compiled kernels split work into independent shares (fields, agents) and only
gather, so the result does not depend on the thread count (:mod:`.threads`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import sparse

from ...compile.network import Network
from ...compile.schedule import Schedule
from ...errors import SimulationError
from .. import trajectory
from ..kinetics import Kinetics
from . import agents as ag
from . import fields, geometry, rules, threads, transport
from .diffusion import Diffuser

LEDGER_TOLERANCE = 1e-9

#: engine options with defaults (units in the name); everything here is an assumption
#: of the engine, not a biological parameter, except where a docstring cites a source
DEFAULTS: dict[str, object] = {
    "dt_hours": 0.5,
    "output_hours": 24.0,
    "agents": 4000,
    "min_agents": 40,
    "field_substeps": None,  # default: enough that a sub-step loses ≤ max_substep_loss
    "max_substep_loss": 0.1,  # fraction lost to the fastest local sink per field sub-step
    "cell_radius_um": 5.0,  # assumption: ~10 µm marrow cells
    "repulsion_um_h": 20.0,  # assumption: relaxes a full overlap within ~0.25 h
    "adhesion_um_h": 1.0,  # assumption
    "motility_um2_h": 10.0,  # assumption: slow random motility of marrow cells
    "chemotaxis_um_h": 2.0,  # assumption: directed speed along CXCL12 at full CXCR4
    "kill_reach_um": 20.0,  # assumption: contact distance of an NK/CD8 cell and its target
    "chemoattractant": None,  # cytokine name; default: one named like CXCL12/SDF-1
    "chemotactic_types": None,  # default: niche cell types and types with a cxcr4 state
    "placement": None,  # {cell type: uniform|perivascular|hsc|sinusoid|bone}
    # {cell type: {reach_um, motility_factor, chemotaxis_um_h}}: niche retention (adhesion
    # near a sinusoid and chemotaxis up the chemoattractant); none by default
    "retention": None,
    "niche_distance_um": 10.0,  # readout niche_fraction: "within 10 µm" as Acar 2015
    "equilibrate_first": True,
    "params": None,
    "snapshot_days": None,  # days pictured in the report (default: 4, evenly spaced)
    "animation_frames": 16,  # snapshots for the report's animation, evenly spaced (0: none)
    "snapshot_dir": None,
    "threads": None,
}
#: options the well-mixed engine takes that have no meaning here (accepted, ignored)
IGNORED = {"rtol"}


@dataclass
class Setup:
    """Everything fixed during a run."""

    net: Network
    kin: Kinetics
    geom: geometry.Geometry
    tr: list[rules.TypeRules]
    marrow_type: np.ndarray  # bool per cell type
    D_um2_h: np.ndarray  # per field
    field_names: list[str]


def simulate(net: Network, days: float, seed: int = 0, schedule: Schedule | None = None,
             progress: Callable[[float], None] | None = None, **options) -> xr.Dataset:
    """Run ``net`` for ``days`` in a marrow section; return the Trajectory Dataset (same
    variables as the well-mixed engine) plus section snapshots (see the package docs)."""
    opts = validated_options(net, options)
    with threads.using(opts.pop("threads")):
        run = Run(net, float(days), int(seed), schedule or Schedule(), opts)
        return run.execute(progress)


def validated_options(net: Network, options: dict) -> dict:
    """The engine options of a run: the model's ``spatial`` section, overridden by
    ``options``, validated, defaults filled in (see :func:`_options`)."""
    return _options({**model_options(net), **options})


def model_options(net: Network) -> dict:
    """Engine options from the model file's ``spatial`` section (validated when the model was
    loaded; lengths in µm). Options given to :func:`simulate` override them."""
    sp = getattr(net.model.spec, "spatial", None)
    if sp is None:
        return {}
    p = net.params

    def length(key: str, ref) -> float | None:
        if ref is None:
            return None
        return float(p[ref if isinstance(ref, str) else f"spatial.{key}"])

    out: dict[str, object] = {}
    size = [length(k, getattr(sp, k)) for k in ("width", "height", "depth")]
    if any(v is not None for v in size):
        default = geometry.GeometrySettings().size_um
        out["size_um"] = tuple(d if v is None else v for v, d in zip(size, default, strict=True))
    for key, option in (("voxel", "dx_um"), ("sinusoid_radius", "sinusoid_radius_um"),
                        ("sinusoid_spacing", "sinusoid_spacing_um"),
                        ("niche_distance", "niche_distance_um")):
        value = length(key, getattr(sp, key))
        if value is not None:
            out[option] = value
    for key in ("bone", "agents", "min_agents", "snapshot_days", "animation_frames",
                "chemoattractant", "chemotactic_types"):
        if getattr(sp, key) is not None:
            out[key] = getattr(sp, key)
    if sp.placement:
        out["placement"] = dict(sp.placement)
    if sp.retention:
        out["retention"] = {
            cell: {option: float(p[ref if isinstance(ref, str) else
                                   f"spatial.retention.{cell}.{key}"])
                   for key, option in (("reach", "reach_um"),
                                       ("motility_factor", "motility_factor"),
                                       ("chemotaxis", "chemotaxis_um_h"))
                   if (ref := getattr(entry, key)) is not None}
            for cell, entry in sp.retention.items()}
    return out


#: options that are numbers: their type and whether they must be > 0 (else ≥ 0)
NUMBERS: dict[str, tuple[type, bool]] = {
    "dt_hours": (float, True), "output_hours": (float, True), "agents": (int, True),
    "min_agents": (int, True), "max_substep_loss": (float, True),
    "cell_radius_um": (float, True), "repulsion_um_h": (float, False),
    "adhesion_um_h": (float, False), "motility_um2_h": (float, False),
    "chemotaxis_um_h": (float, False), "kill_reach_um": (float, True),
    "niche_distance_um": (float, True),
    "animation_frames": (int, False), "field_substeps": (int, True), "threads": (int, True),
}


def _number(key: str, value, kind: type, positive: bool):
    """``value`` as ``kind`` (int or float), or a SimulationError naming ``key``."""
    try:
        number = kind(value)
        if kind is int and number != float(value):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        what = "an integer" if kind is int else "a number"
        raise SimulationError(f"spatial option {key}: expected {what}, got {value!r}"
                              ) from None
    if not (number > 0 if positive else number >= 0):
        bound = "positive" if positive else "≥ 0"
        raise SimulationError(f"spatial option {key} must be {bound}, got {value!r}")
    return number


def _options(options: dict) -> dict:
    """Validated engine options: defaults filled in, geometry and transport settings
    grouped; a wrong name or value raises a SimulationError naming the option."""
    options = dict(options)
    unknown = sorted(set(options) - set(DEFAULTS) - IGNORED
                     - set(geometry.GeometrySettings.__dataclass_fields__)
                     - set(transport.TransportSettings.__dataclass_fields__))
    if unknown:
        geo = ", ".join(sorted(geometry.GeometrySettings.__dataclass_fields__))
        tra = ", ".join(sorted(transport.TransportSettings.__dataclass_fields__))
        raise SimulationError(f"unknown option(s) for the spatial engine: {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(DEFAULTS))}, geometry {geo}, "
                              f"transport {tra}")
    settings = {"geometry": geometry.GeometrySettings.from_options(options),
                "transport": transport.TransportSettings.from_options(options)}
    out = {k: options.get(k, v) for k, v in DEFAULTS.items()}
    out.update(settings)
    for key, (kind, positive) in NUMBERS.items():
        if out[key] is not None:
            out[key] = _number(key, out[key], kind, positive)
    if out["snapshot_days"] is not None:
        try:
            days = [float(d) for d in np.atleast_1d(out["snapshot_days"])]
        except (TypeError, ValueError):
            days = [-1.0]
        if not days or any(not d >= 0 for d in days):
            raise SimulationError("spatial option snapshot_days: give a list of days ≥ 0, "
                                  f"got {out['snapshot_days']!r}")
        out["snapshot_days"] = days
    if out["retention"] is not None:
        out["retention"] = _retention(out["retention"])
    if out["placement"] is not None and not isinstance(out["placement"], dict):
        raise SimulationError("spatial option placement: expected {cell type: uniform|"
                              f"perivascular|hsc|sinusoid|bone}}, got {out['placement']!r}")
    return out


#: keys of one cell type's ``retention`` entry: (whether it must be ≤ 1, default)
RETENTION_KEYS: dict[str, tuple[bool, float | None]] = {
    "reach_um": (False, 10.0), "motility_factor": (True, 1.0), "chemotaxis_um_h": (False, None)}


def _retention(raw) -> dict[str, dict[str, float | None]]:
    """The ``retention`` option validated: {cell type: {reach_um (µm from a sinusoid within
    which the cell adheres), motility_factor (0–1: random motility of an adherent cell),
    chemotaxis_um_h (directed speed up the chemoattractant, none: the engine's)}}."""
    if not isinstance(raw, dict):
        raise SimulationError("spatial option retention: expected {cell type: {reach_um, "
                              f"motility_factor, chemotaxis_um_h}}}}, got {raw!r}")
    out = {}
    for cell, entry in raw.items():
        where = f"spatial option retention.{cell}"
        if not isinstance(entry, dict):
            raise SimulationError(f"{where}: expected {{reach_um, motility_factor, "
                                  f"chemotaxis_um_h}}, got {entry!r}")
        unknown = sorted(set(entry) - set(RETENTION_KEYS))
        if unknown:
            raise SimulationError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
                                  f"known: {', '.join(RETENTION_KEYS)}")
        values: dict[str, float | None] = {}
        for key, (fraction, default) in RETENTION_KEYS.items():
            value = entry.get(key, default)
            if value is not None:
                value = _number(f"retention.{cell}.{key}", value, float, False)
                if fraction and value > 1:
                    raise SimulationError(f"{where}.{key}: expected a fraction in [0, 1], got "
                                          f"{value!r}")
            values[key] = value
        out[str(cell)] = values
    return out


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


class Run:
    """State and steps of one spatial run."""

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

    def _segment(self, t: float) -> None:
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
        #: (cell type, slot): whether an agent of the type uses the cargo / state slot
        self.cargo_own = np.zeros((len(net.cells), len(net.cargo_states)), bool)
        self.state_own = np.zeros((len(net.cells), len(net.states)), bool)
        for t in range(len(net.cells)):
            self.cargo_own[t, self.cargo_slots[t]] = True
            self.state_own[t, self.state_slots[t]] = True
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
        Xs, Qs = len(net.states), len(net.cargo_states)
        parts = []
        for t in np.flatnonzero(n_t):
            pos = geometry.place(self.geom, int(n_t[t]), self.placement[t], self.rng)
            st = np.zeros((n_t[t], Xs))
            st[:, self.state_slots[t]] = y[kin.i_state[self.state_slots[t]]]
            cg = np.zeros((n_t[t], Qs))
            cg[:, self.cargo_slots[t]] = y[kin.i_cargo[self.cargo_slots[t]]]
            parts.append(ag.Agents(np.full(n_t[t], t, np.int32), pos,
                                   self.rng.random(n_t[t]) * 24.0, cg, st))
        self.agents = ag.Agents.concat(parts) if parts else ag.Agents(
            np.zeros(0, np.int32), np.zeros((0, 3)), np.zeros(0), np.zeros((0, Qs)),
            np.zeros((0, Xs)))
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
        for t in np.flatnonzero(m):
            sel = a.type == t
            if sel.any():
                if self.state_slots[t].size:
                    y[kin.i_state[self.state_slots[t]]] = a.state[sel][:, self.state_slots[t]
                                                                       ].mean(axis=0)
                if self.cargo_slots[t].size:
                    y[kin.i_cargo[self.cargo_slots[t]]] = a.cargo[sel][:, self.cargo_slots[t]
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

    # ------------------------------------------------------------------ one step
    def step(self, t: float) -> None:
        kin, net, a, dt = self.kin, self.net, self.agents, self.dt
        beh_f, upt_f, rem = self.schedule.modifiers(t, kin.n_beh, kin.n_routes, kin.n_pools)
        ypop = self.population()
        part = kin.parts(ypop, beh_f, upt_f)
        beh_pop = np.append(part["beh"], 0.0)
        N = part["N"]
        n_total = float(part["n_total"])
        s_fb = 1.0 / (1.0 + kin.fb_k * np.sum(N[kin.fb_members]))
        nu = 1.0 / (1.0 + np.sum(N[kin.niche_members]) / kin.niche_cap)
        cap, crate, cpow = kin.crowd
        crowd = crate * (np.sum(N[kin.crowd_members]) / cap) ** cpow if crate else 0.0
        homeo = kin.homeostasis(N)  # death factor per type from its global (weighted) count

        n = a.n
        nt = len(net.cells)
        vox = self.geom.voxel_of(a.pos) if n else np.zeros(0, np.int64)
        Fl = self.fields.reshape(self.fields.shape[0], self.n_vox)
        conc = Fl[:, vox]  # (F, n) concentrations at the agents
        # per-agent behaviors, type by type
        prolif, renew, loss = np.zeros(n), np.zeros(n), np.zeros(n)
        fail, exit_rate, mut = np.zeros(n), np.zeros(n), np.zeros(n)
        # kills per target cell (1/h) at the population level: the expected dying rate
        # that per-death secretion (apoptotic bodies) follows
        kill_pop = np.zeros(nt)
        for k in range(kin.k_beh.size):
            kill_pop[kin.k_target[k]] += beh_pop[kin.k_beh[k]] * N[kin.k_killer[k]] / n_total
        sec_rate = np.zeros((self.npl + self.ncyt, self.n_vox))  # concentration per hour
        # uptake entries (route, agent, 1/h the agent adds to its voxel's loss rate)
        up_route, up_agent, up_rate = [], [], []
        state_target = np.zeros_like(a.state)
        kill_rate = np.zeros((kin.k_beh.size, n))
        beh_sum = np.zeros(kin.n_beh)
        beh_cnt = np.zeros(kin.n_beh)
        order = np.argsort(a.type, kind="stable")
        bounds = np.searchsorted(a.type[order], np.arange(nt + 1))
        base_mult = kin.b_base[kin.r_mult] * upt_f if kin.n_routes else np.zeros(0)
        for t_i in range(nt):
            idx = order[bounds[t_i]:bounds[t_i + 1]]
            if idx.size == 0 or not self.marrow_type[t_i]:
                continue
            tr = self.tr[t_i]
            cols = self._columns(tr, idx, conc, part, base_mult, n_total)
            B = rules.evaluate(tr, cols, beh_f)
            local = {int(g): k for k, g in enumerate(tr.beh)}
            beh_sum[tr.beh] += B.sum(axis=0)
            beh_cnt[tr.beh] += idx.size

            def col(g: int, B=B, local=local, idx=idx) -> np.ndarray:
                return B[:, local[g]] if g in local else np.zeros(idx.size)

            w = self.w[t_i]
            prolif[idx] = col(int(kin.c_prolif[t_i]))
            r = col(int(kin.c_renew[t_i]))
            r = r * (s_fb if kin.c_fb[t_i] else 1.0) * (nu if kin.c_niche[t_i] else 1.0)
            renew[idx] = r
            fail[idx] = col(int(kin.c_fail[t_i]))
            mut[idx] = col(int(kin.c_mut[t_i]))
            exit_rate[idx] = col(int(kin.c_exit[t_i]))
            death = (col(int(kin.c_death[t_i])) * homeo[t_i]
                     + (crowd if kin.crowd_members[t_i] else 0.0))
            loss[idx] = death + exit_rate[idx]
            dying = death + 2.0 * fail[idx] * prolif[idx] + kill_pop[t_i]  # per cell, 1/h
            unit = w * self.n_vox / self.V_m  # concentration per hour per (rate per cell)
            for p in np.flatnonzero(kin.pl_src == t_i):
                per_cell = col(int(kin.pl_sec[p])) * (dying if kin.pl_per_death[p] else 1.0)
                sec_rate[p] += np.bincount(vox[idx], per_cell * unit, minlength=self.n_vox)
            for k in np.flatnonzero(kin.pr_cell == t_i):
                sec_rate[self.npl + kin.pr_cyt[k]] += np.bincount(
                    vox[idx], col(int(kin.pr_beh[k])) * unit, minlength=self.n_vox)
            for ri in np.flatnonzero((kin.r_target == t_i) & kin.r_marrow):
                up_route.append(np.full(idx.size, ri))
                up_agent.append(idx)
                up_rate.append(kin.r_rate[ri] * col(int(kin.r_mult[ri])) * upt_f[ri] * unit)
            for si in self.state_slots[t_i]:
                state_target[idx, si] = col(int(kin.s_target[si]))
            for k in np.flatnonzero(kin.k_killer == t_i):
                kill_rate[k, idx] = col(int(kin.k_beh[k]))
        self.beh_now = np.where(beh_cnt > 0, beh_sum / np.maximum(beh_cnt, 1), beh_pop[:-1])

        uptake = tuple(np.concatenate(x) if x else np.zeros(0, dt_) for x, dt_ in
                       ((up_route, np.int64), (up_agent, np.int64), (up_rate, float)))
        # dying cells per hour of each type, for per-death secretion in blood
        self.dying_blood = (beh_pop[kin.c_death] * homeo
                            + np.where(kin.crowd_members, crowd, 0.0)
                            + 2.0 * beh_pop[kin.c_fail] * beh_pop[kin.c_prolif] + kill_pop) * N
        delivered = self._react(vox, sec_rate, uptake, rem, beh_pop, N, upt_f)
        self._blood_cells(beh_pop, part, s_fb, nu, crowd, N, homeo)
        self._cells(vox, conc, prolif, renew, loss, state_target, kill_rate, delivered, N,
                    n_total, beh_pop, fail, exit_rate, mut)
        if self.drug.size:
            # first-order elimination with a constant infusion over the step (exact)
            k = kin.drug_elim
            inf = self.schedule.infusion(t, k.size)
            decay = np.exp(-k * dt)
            gain = np.where(k > 0, -np.expm1(-k * dt) / np.where(k > 0, k, 1.0), dt)
            self.drug = self.drug * decay + inf * gain

    def _columns(self, tr, idx, conc, part, base_mult, n_total) -> np.ndarray:
        """The z columns a type's signals need, per agent (see rules.py)."""
        kin, a = self.kin, self.agents
        out = np.zeros((idx.size, tr.cols_kind.size))
        for j, (kind, k) in enumerate(zip(tr.cols_kind, tr.cols_index, strict=True)):
            if kind == rules.Q:
                out[:, j] = a.cargo[idx, k]
            elif kind == rules.R:
                if kin.r_marrow[k]:
                    out[:, j] = kin.r_rate[k] * base_mult[k] * conc[kin.r_pool[k], idx]
                else:
                    out[:, j] = part["r"][k]
            elif kind == rules.E:
                out[:, j] = conc[k, idx] if k < self.npl else self.Eb[k - self.npl] / self.V_b
            elif kind == rules.C:
                out[:, j] = conc[self.npl + k, idx]
            elif kind == rules.X:
                out[:, j] = a.state[idx, k]
            elif kind == rules.D:
                out[:, j] = self.drug[k]
            else:
                out[:, j] = part["N"][k] / n_total
        return out

    def _react(self, vox, sec_rate, uptake, rem, beh_pop, N, upt_f) -> np.ndarray:
        """Fields and blood over one step, in ``self.substeps`` sub-steps of reaction (exact
        for constant rates), diffusion and blood (one compiled call, :mod:`.fields`).
        ``uptake`` = (route, agent, rate 1/h) entries of marrow uptake. Returns cargo copies
        delivered per real cell, per agent and cargo slot."""
        kin, npl, nvox = self.kin, self.npl, self.n_vox
        h = self.dt / self.substeps
        n = vox.size
        nr = kin.n_routes
        up_route, up_agent, up_rate = uptake
        flat = kin.r_pool[up_route] * nvox + vox[up_agent]  # (pool, voxel) of each entry
        lam = kin.pl_deg[:, None] + kin.pl_drain[:, None] * self.drain_v[None, :]
        if flat.size:
            lam += np.bincount(flat, up_rate, minlength=npl * nvox).reshape(npl, nvox)
        e, frac, inv_lam = fields.exact_factors(lam, h)
        sec = np.ascontiguousarray(sec_rate[:npl])
        lost = np.zeros((npl, self.n_vox))
        cyt_e, cyt_frac, _ = fields.exact_factors(kin.cyt_decay, h)
        S_b, lam_routes, lam_b, rem = self._blood_rates(rem, beh_pop, N, upt_f)
        e_b, frac_b, _ = fields.exact_factors(lam_b, h)
        self.blood_taken = np.zeros(nr)
        secreted_b, cleared, removed = np.zeros(npl), np.zeros(npl), np.zeros(npl)
        d = self.diffuser
        args = (self.fields, npl, self.substeps, h, inv_lam, e, sec * frac, sec * h,
                cyt_e, cyt_frac, np.ascontiguousarray(sec_rate[npl:]),
                kin.pl_drain.astype(float), self.sin_idx, self.sin_rate, self.vox_amount,
                d.alpha, d.fx, d.fy, d.fz, d.stiff_mask,
                self.Eb, S_b, e_b, frac_b, lam_b, kin.pl_clear.astype(float),
                kin.pl_home.astype(float), rem, self.route_pool, lam_routes,
                self.blood_route, lost, secreted_b, cleared, removed, self.blood_taken,
                self.led_uptake)
        threads.run(lambda share, shares: fields.advance(*args, share, shares),
                    self.fields.size * self.substeps, "fields")
        share_sum = lost * inv_lam  # Σ over sub-steps of lost/λ (λ constant over the step)
        self.led["secreted"] += secreted_b
        self.led["cleared"] += cleared
        self.led["removed"] += removed
        self.led["secreted"] += sec.sum(axis=1) * self.dt * self.vox_amount
        self.led["degraded"] += kin.pl_deg * share_sum.sum(axis=1) * self.vox_amount
        # EVs (marrow-equivalent) taken up per uptake entry, then per route and per agent
        taken = up_rate * share_sum.ravel()[flat] * self.vox_amount
        if nr:
            self.led_uptake += np.bincount(up_route, taken, minlength=nr)
        # cargo delivered per real cell (copies), per agent and cargo slot
        if nr and n and taken.size:
            per_cell = sparse.csr_matrix(
                (taken / self.w[self.agents.type[up_agent]], (up_agent, up_route)),
                shape=(n, nr))
            return np.asarray((per_cell @ self.Q_marrow_T).todense())
        return np.zeros_like(self.agents.cargo)

    def _blood_rates(self, rem, beh_pop, N, upt_f):
        """Blood secretion (EV/h), uptake rate per route (1/h), total loss rate per pool
        (1/h) and the removal rate (1/h)."""
        kin = self.kin
        S_b = (beh_pop[kin.pl_sec] * np.where(kin.pl_per_death, self.dying_blood[kin.pl_src],
                                               N[kin.pl_src]) * (1.0 - kin.pl_in_marrow))
        lam_routes = np.zeros(kin.n_routes)
        blood_r = ~kin.r_marrow
        if kin.n_routes:
            mult = beh_pop[kin.r_mult] * upt_f
            lam_routes[blood_r] = (kin.r_rate * mult * N[kin.r_target] / self.V_b)[blood_r]
        lam_up = kin.R_to_pool_b @ lam_routes if kin.n_routes else np.zeros(self.npl)
        lam = kin.pl_clear + kin.pl_home + rem + lam_up
        return (np.asarray(S_b, float), lam_routes, np.asarray(lam, float),
                np.asarray(rem, float))

    def _blood_cells(self, beh_pop, part, s_fb, nu, crowd, N, homeo) -> None:
        """Cell types outside the marrow: population counts, states and cargo."""
        kin, dt = self.kin, self.dt
        blood = np.flatnonzero(~self.marrow_type)
        if blood.size == 0:
            return
        y = self.y_blood
        prolif = beh_pop[kin.c_prolif]
        renew = beh_pop[kin.c_renew] * np.where(kin.c_fb, s_fb, 1.0) * np.where(
            kin.c_niche, nu, 1.0)
        fail = beh_pop[kin.c_fail]
        exit_ = beh_pop[kin.c_exit]
        loss = (beh_pop[kin.c_death] * homeo + exit_
                + np.where(kin.crowd_members, crowd, 0.0))
        n_total = float(part["n_total"])
        kill = np.zeros(len(self.net.cells))
        for k in range(kin.k_beh.size):
            kill[kin.k_target[k]] += beh_pop[kin.k_beh[k]] * N[kin.k_killer[k]] / n_total
        mut = beh_pop[kin.c_mut]
        g = (2.0 * renew * (1.0 - fail) * (1.0 - mut) - 1.0) * prolif - loss - kill
        inflow = np.zeros(len(self.net.cells))
        for src in blood:
            made = 2.0 * (1.0 - fail[src]) * prolif[src] * N[src]  # daughters per hour
            for dst, frac in zip(self.diff_targets[src], np.diff(self.diff_cum[src],
                                                                 prepend=0.0), strict=True):
                if not self.marrow_type[dst]:
                    inflow[dst] += made * (1.0 - renew[src]) * (1.0 - mut[src]) * frac
            dst = self.mut_to[src]
            if dst >= 0 and not self.marrow_type[dst]:
                inflow[dst] += made * mut[src]
            dst = self.exit_to[src]
            if dst >= 0 and not self.marrow_type[dst]:
                inflow[dst] += exit_[src] * N[src]

        for t in blood:
            i = kin.i_cell[t]
            y[i] = y[i] * np.exp(g[t] * dt) + inflow[t] * dt
            for si in self.state_slots[t]:
                tgt = beh_pop[kin.s_target[si]]
                y[kin.i_state[si]] = tgt + (y[kin.i_state[si]] - tgt) * np.exp(-dt / kin.s_tau[si])
            for qi in self.cargo_slots[t]:
                k = kin.q_decay[qi] + prolif[t]
                row = kin.Q.getrow(qi)
                inp = 0.0
                for ri, copies in zip(row.indices, row.data, strict=True):
                    if not kin.r_marrow[ri] and N[t] > 0:
                        inp += copies * self.blood_taken[ri] / N[t] / dt
                q = y[kin.i_cargo[qi]]
                y[kin.i_cargo[qi]] = q * np.exp(-k * dt) + (inp * (-np.expm1(-k * dt)) / k
                                                            if k > 0 else inp * dt)

    def _cells(self, vox, conc, prolif, renew, loss, state_target, kill_rate, delivered, N,
               n_total, beh_pop, fail, exit_rate, mut) -> None:
        kin, net, a, dt, rng = self.kin, self.net, self.agents, self.dt, self.rng
        n = a.n
        nt = len(net.cells)
        # cargo: decay (halving at division below) and delivery spread over the step
        if kin.q_decay.size and n:
            k = kin.q_decay
            spread = np.where(k > 0, -np.expm1(-k * dt) / np.where(k > 0, k * dt, 1.0), 1.0)
            a.cargo = np.where(self.cargo_own[a.type], a.cargo * np.exp(-k * dt)
                               + delivered * spread, 0.0)
        if kin.s_tau.size and n:
            relaxed = state_target + (a.state - state_target) * np.exp(-dt / kin.s_tau)[None, :]
            a.state = np.where(self.state_own[a.type], relaxed, a.state)
        a.cycle = a.cycle + dt
        # contact killing: hazard = Σ kill rate × weight of killers within reach / Σ weight
        # of counted marrow cells within reach (the local share, as N_killer / N_total)
        hazard = np.zeros(n)
        w_agent = self.w[a.type] if n else np.zeros(0)
        grid = ag.bin_agents(a.pos, max(float(self.o["kill_reach_um"]),
                                        2.5 * float(self.o["cell_radius_um"])),
                             self.geom.extent) if n else None
        for k in range(kin.k_beh.size):
            tgt = a.type == kin.k_target[k]
            if not tgt.any():
                continue
            if self.marrow_type[kin.k_killer[k]]:
                num = kill_rate[k] * w_agent
                den = np.where(kin.c_counted[a.type], w_agent, 0.0)
                hazard += ag.neighbor_ratio(a.pos, num, den, tgt, grid,
                                            float(self.o["kill_reach_um"]))
            else:
                hazard[tgt] += beh_pop[kin.k_beh[k]] * N[kin.k_killer[k]] / n_total
        u = rng.random((n, 3)) if n else np.zeros((0, 3))
        total = loss + hazard
        p_loss = -np.expm1(-total * dt)
        dies = u[:, 0] < p_loss
        # a loss is an exit (egress) with probability exit / total: u0 / p_loss is uniform
        # on a loss, so the same draw decides it
        egress = dies & (self.exit_to[a.type] >= 0) & (
            u[:, 0] < p_loss * exit_rate / np.where(total > 0, total, 1.0))
        divides = ~dies & (u[:, 1] < -np.expm1(-prolif * dt))
        # one draw per division: it fails (both daughters die) with probability f, else
        # renews with probability a: u2 < f fails, f <= u2 < f + (1 - f)·a renews
        failed = divides & (u[:, 2] < fail)
        renews = divides & ~failed & (u[:, 2] < fail + (1.0 - fail) * renew)
        differentiates = divides & ~renews & ~failed
        dies = dies | failed
        new_parts = []
        counts_to_blood = np.zeros(nt)
        out_idx = np.flatnonzero(egress)
        if out_idx.size:
            dst = self.exit_to[a.type[out_idx]]
            to_blood = ~self.marrow_type[dst]
            np.add.at(counts_to_blood, dst[to_blood], self.w[a.type[out_idx[to_blood]]])
            src_i, dst_t = out_idx[~to_blood], dst[~to_blood]
            if src_i.size:  # into another marrow type: agents of that type, same place
                expect = self.w[a.type[src_i]] / self.w[dst_t]
                rr = rng.random(src_i.size)
                k_new = (np.floor(expect) + (rr < expect - np.floor(expect))).astype(int)
                parent = np.repeat(src_i, k_new)
                new_parts.append(ag.Agents(
                    np.repeat(dst_t, k_new).astype(np.int32), a.pos[parent].copy(),
                    np.zeros(parent.size), a.cargo[parent].copy(), a.state[parent].copy()))
        # cells made by differentiation: a stochastically rounded number of target agents
        # (each daughter mutates with probability μ: differentiated daughters are 2·(1 - μ)
        # on average, self-renewed ones too, and mutants 2·μ, as in Kinetics.rhs)
        diff_idx = np.flatnonzero(differentiates)
        mean_state: dict[int, np.ndarray] = {}
        if diff_idx.size or self.mut_to.max(initial=-1) >= 0:
            for t in range(nt):
                sel = a.type == t
                mean_state[t] = a.state[sel].mean(axis=0) if sel.any() else self._baseline(t)
        if diff_idx.size:
            # the target: u2 is uniform on [f + (1 - f)·a, 1) on a differentiation, so its
            # rescaled value picks a target with the targets' fractions
            low = fail[diff_idx] + (1.0 - fail[diff_idx]) * renew[diff_idx]
            v = (u[diff_idx, 2] - low) / np.maximum(1.0 - low, 1e-300)
            dst = np.full(diff_idx.size, -1, int)
            for t in np.unique(a.type[diff_idx]):
                sel = a.type[diff_idx] == t
                if self.diff_targets[t].size:
                    pick = np.searchsorted(self.diff_cum[t], v[sel], side="right")
                    dst[sel] = self.diff_targets[t][np.minimum(pick, self.diff_targets[t].size
                                                               - 1)]
            to_marrow = dst >= 0
            to_marrow[to_marrow] = self.marrow_type[dst[to_marrow]]
            to_blood = (dst >= 0) & ~to_marrow
            np.add.at(counts_to_blood, dst[to_blood], 2.0 * (1.0 - mut[diff_idx[to_blood]])
                      * self.w[a.type[diff_idx[to_blood]]])
            src_i = diff_idx[to_marrow]
            dst_t = dst[to_marrow]
            expect = 2.0 * (1.0 - mut[src_i]) * self.w[a.type[src_i]] / self.w[dst_t]
            rr = rng.random(src_i.size)
            k_new = (np.floor(expect) + (rr < expect - np.floor(expect))).astype(int)
            if k_new.sum():
                new_parts.append(self._daughters(src_i, dst_t, k_new, mean_state))
        # mutant daughters of successful divisions: 2·μ·w_source / w_mutant agents on
        # average, stochastically rounded (random numbers drawn only for mutating types)
        ok = np.flatnonzero(divides & ~failed & (mut > 0))
        if ok.size:
            dst = self.mut_to[a.type[ok]]
            expect = 2.0 * mut[ok] * self.w[a.type[ok]]
            to_blood = ~self.marrow_type[dst]
            np.add.at(counts_to_blood, dst[to_blood], expect[to_blood])
            src_i, dst_t = ok[~to_blood], dst[~to_blood]
            expect = expect[~to_blood] / self.w[dst_t]
            rr = rng.random(src_i.size)
            k_new = (np.floor(expect) + (rr < expect - np.floor(expect))).astype(int)
            if k_new.sum():
                new_parts.append(self._daughters(src_i, dst_t, k_new, mean_state))
        for t in np.flatnonzero(counts_to_blood):
            self.y_blood[kin.i_cell[t]] += counts_to_blood[t]
        # self-renewing divisions: the parent and one new agent, cargo halved
        ren = np.flatnonzero(renews)
        a.cargo[ren] *= 0.5
        a.cycle[ren] = 0.0
        if (mut[ren] > 0).any():
            # 2·(1 - μ) self-renewed daughters on average: the new agent is kept with
            # probability 1 - 2μ (μ <= 1/2), else the parent too is lost w.p. 2μ - 1
            vk = rng.random(ren.size)
            drop_parent = np.zeros(n, bool)
            drop_parent[ren] = vk >= np.minimum(1.0, 2.0 - 2.0 * mut[ren])
            dies = dies | drop_parent
            ren = ren[vk < np.maximum(0.0, 1.0 - 2.0 * mut[ren])]
        if ren.size:
            new_parts.append(ag.Agents(a.type[ren].copy(), self._near(a.pos[ren]),
                                       np.zeros(ren.size), a.cargo[ren].copy(),
                                       a.state[ren].copy()))
        # motion of the surviving, non-differentiated agents
        keep = ~(dies | differentiates)
        moved = self._motion(vox, conc, w_agent)
        a.pos = moved
        survivors = a.take(np.flatnonzero(keep))
        self.agents = ag.Agents.concat([survivors, *new_parts])
        self._reweight()

    def _daughters(self, src: np.ndarray, dst: np.ndarray, k_new: np.ndarray,
                   mean_state: dict[int, np.ndarray]) -> ag.Agents:
        """``k_new[i]`` new agents of type ``dst[i]`` next to agent ``src[i]``, without
        cargo, with the mean state of their type."""
        a = self.agents
        parent = np.repeat(src, k_new)
        types = np.repeat(dst, k_new).astype(np.int32)
        return ag.Agents(types, self._near(a.pos[parent]), np.zeros(parent.size),
                         np.zeros((parent.size, a.cargo.shape[1])),
                         np.stack([mean_state[int(t)] for t in types]) if types.size else
                         np.zeros((0, a.state.shape[1])))

    def _baseline(self, t: int) -> np.ndarray:
        x = np.zeros(len(self.net.states))
        for si in self.state_slots[t]:
            x[si] = self.kin.p[self.net.states[si].baseline]
        return x

    def _near(self, pos: np.ndarray) -> np.ndarray:
        """Positions of daughters: one cell radius from the parent, in a random direction,
        kept inside the domain."""
        r = float(self.o["cell_radius_um"])
        v = self.rng.normal(size=pos.shape)
        if self.geom.dims == 2:
            v[:, 2] = 0.0
        v /= np.maximum(np.linalg.norm(v, axis=1), 1e-12)[:, None]
        out = pos + r * v
        ext = self.geom.extent
        return np.clip(out, 1e-6, ext - 1e-6)

    def _motion(self, vox, conc, w_agent) -> np.ndarray:
        a, o, dt = self.agents, self.o, self.dt
        n = a.n
        if n == 0:
            return a.pos
        drift = np.zeros((n, 3))
        retention = np.ones(n)
        if self.chem_field is not None:
            C = self.fields[self.chem_field]
            axes = [i for i, s in enumerate(C.shape) if s > 1]
            grads = np.zeros((3, n))
            if axes:
                g = np.gradient(C, self.geom.dx, axis=axes)
                g = g if isinstance(g, list | tuple) else [g]
                for ax, gi in zip(axes, g, strict=True):
                    grads[2 - ax] = gi.ravel()[vox]  # array axes (z, y, x) → (x, y, z)
            norm = np.sqrt((grads**2).sum(axis=0))
            chem = self.chemotactic[a.type]
            sens = np.ones(n)
            for t, slot in self.cxcr4_slot.items():
                sel = a.type == t
                sens[sel] = np.clip(a.state[sel, slot], 0.0, None)
            own = self.ret_chemotaxis[a.type]
            speed = np.where(np.isnan(own), float(o["chemotaxis_um_h"]), own) * sens * chem
            drift = (grads * np.where(norm > 0, speed / np.where(norm > 0, norm, 1.0), 0.0)).T
            ref = float(C.mean())
            cc = conc[self.chem_field]
            if ref > 0:
                retention = np.where(chem, 1.0 / (1.0 + cc / ref), 1.0)
        mobility = np.ones(n)
        if self.o["retention"]:
            # adhesion to the niche (VCAM-1/VLA-4, CXCL12/CXCR4; docs/spatial.md): a cell of
            # a retained type within its reach of a sinusoid has its drag raised by
            # 1/motility_factor: random motility and every directed or contact displacement
            # scaled by motility_factor
            near = self.geom.dist_sinusoid.ravel()[vox] <= self.ret_reach[a.type]
            mobility = np.where(near, self.ret_motility[a.type], 1.0)
            retention = retention * mobility
        sigma = np.sqrt(2.0 * float(o["motility_um2_h"]) * dt) * np.sqrt(retention)
        noise = self.rng.normal(size=(n, 3)) * sigma[:, None]
        if self.geom.dims == 2:
            noise[:, 2] = 0.0
            drift[:, 2] = 0.0
        radius = np.full(n, float(o["cell_radius_um"]))
        grid = ag.bin_agents(a.pos, 2.5 * float(o["cell_radius_um"]), self.geom.extent)
        return ag.move(a, radius, drift, noise, grid, self.geom.extent, dt,
                       float(o["repulsion_um_h"]), float(o["adhesion_um_h"]), self.sin_flat,
                       self.geom.dx, self.geom.shape, mobility)

    def _reweight(self) -> None:
        """Thin types above twice their share of agents (weight up), duplicate types below
        half of it (weight down); real counts are conserved exactly."""
        a = self.agents
        nt = len(self.net.cells)
        counts = np.bincount(a.type, minlength=nt)
        drop = np.zeros(a.n, bool)
        extra = []
        for t in range(nt):
            c = counts[t]
            if c > 2 * self.n_target[t]:
                idx = np.flatnonzero(a.type == t)
                keep_n = int(self.n_target[t])
                keep = self.rng.choice(idx.size, keep_n, replace=False)
                mask = np.ones(idx.size, bool)
                mask[keep] = False
                drop[idx[mask]] = True
                self.w[t] *= c / keep_n
            elif 0 < c < 0.5 * self.n_target[t] and self.w[t] >= 2.0:
                idx = np.flatnonzero(a.type == t)
                dup = a.take(idx)
                dup.pos = self._near(dup.pos)
                dup.id = None  # a duplicate is a new agent
                extra.append(dup)
                self.w[t] *= 0.5
        if drop.any() or extra:
            self.agents = ag.Agents.concat([a.take(np.flatnonzero(~drop)), *extra])

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
                                np.tile(self._baseline(t), (k, 1)))
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
        from .snapshots import Snapshots

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
        snaps = Snapshots(self)
        times, ys, behs, niche = [], [], [], []
        done_jumps: set[int] = set()
        self.beh_now = self.kin.parts(self.y0)["beh"]
        for step in range(n_steps + 1):
            t = min(step * self.dt, t_end)
            self._segment(min(t, np.nextafter(t_end, 0.0)))
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
            snaps.write(self.o["snapshot_dir"])
            ds.attrs["snapshot_dir"] = str(self.o["snapshot_dir"])
        return ds

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
