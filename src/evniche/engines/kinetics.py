"""Vectorized right-hand side of a compiled network (shared by the well-mixed and the
stochastic/spatial engines' population parts).

:class:`Kinetics` turns a :class:`~evniche.compile.network.Network` into index arrays once;
:meth:`Kinetics.rhs` then evaluates dy/dt with a handful of NumPy operations.
Units: hours, counts, mL.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..compile.network import BLOOD, MARROW, Network
from ..errors import ModelError


def combine_rules(kin: Kinetics, sig: np.ndarray) -> np.ndarray:
    """Behavior values from signals (last axis: signals → behaviors; leading axes allowed,
    e.g. one row per agent): the generalized PhysiCell combination of the module docstring
    of :mod:`evniche.compile.network`."""
    beh = np.broadcast_to(kin.b_base, sig.shape[:-1] + kin.b_base.shape).copy()
    n = kin.n_beh
    if kin.up_beh.size:
        h = (sig[..., kin.up_sig] / kin.up_half) ** kin.up_hill
        su = _sum_by(h, kin.up_beh, n)
        pull = _sum_by(h * (kin.up_sat - beh[..., kin.up_beh]), kin.up_beh, n)
        beh = beh + pull / (1.0 + su)
    if kin.dn_beh.size:
        h = (sig[..., kin.dn_sig] / kin.dn_half) ** kin.dn_hill
        sd = _sum_by(h, kin.dn_beh, n)
        pull = _sum_by(h * (kin.dn_sat - beh[..., kin.dn_beh]), kin.dn_beh, n)
        beh = beh + pull / (1.0 + sd)
    return beh


def _sum_by(values: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    """Sum ``values`` (last axis) into ``n`` bins by ``index``."""
    if values.ndim == 1:
        return np.bincount(index, weights=values, minlength=n)
    out = np.zeros(values.shape[:-1] + (n,))
    np.add.at(out, (..., index), values)
    return out


def pool_suffix(pool) -> str:
    """``class`` or ``class.subset``: how signals name a pool of a source."""
    return f"{pool.vesicle_class}.{pool.subset}" if pool.subset else pool.vesicle_class


class Kinetics:
    """Index arrays and parameter values of a network, and its right-hand side."""

    def __init__(self, net: Network, params: dict[str, float] | None = None) -> None:
        self.net = net
        p = dict(net.params)
        if params:
            p.update(params)
        self.p = p
        sp = net.species
        self.n = len(sp)
        idx = net.index()
        self.species_index = idx
        cidx = net.cell_index()
        self.n_cells = len(net.cells)
        self.n_beh = len(net.behaviors)
        self.n_pools = len(net.pools)
        self.n_routes = len(net.uptakes)

        def slot(prefix: str) -> np.ndarray:
            return np.array([i for i, s in enumerate(sp) if s.name.startswith(prefix)], int)

        self.i_cell = slot("cell:")
        self.i_state = slot("state:")
        self.i_cargo = slot("cargo:")
        self.i_cyt = slot("cytokine:")
        self.i_drug = slot("drug:")
        self.i_ev_m = np.array([idx[f"ev:{pl.name}@{MARROW}"] for pl in net.pools], int)
        self.i_ev_b = np.array([idx[f"ev:{pl.name}@{BLOOD}"] for pl in net.pools], int)
        #: whether the network keeps the EV ledger (a network :func:`without_ledger` has
        #: none: its ledger index arrays are empty and nothing writes to them)
        self.has_ledger = any(s.kind == "ledger" for s in sp)
        pools_led = net.pools if self.has_ledger else []
        led = {t: np.array([idx[f"ledger:{pl.name}.{t}"] for pl in pools_led], int)
               for t in ("secreted", "administered", "degraded", "cleared", "removed")}
        self.i_led = led
        self.i_led_uptake = np.array(
            [idx[f"ledger:{net.pools[r.pool].name}.uptake:{r.target}"]
             for r in (net.uptakes if self.has_ledger else [])], int)

        # ---------------------------------------------------------------- behaviors
        B = self.n_beh
        up = [(bi, t) for bi, b in enumerate(net.behaviors) for t in b.up]
        down = [(bi, t) for bi, b in enumerate(net.behaviors) for t in b.down]
        self.up_beh = np.array([bi for bi, _ in up], int)
        self.up_sig = np.array([t.signal for _, t in up], int)
        self.dn_beh = np.array([bi for bi, _ in down], int)
        self.dn_sig = np.array([t.signal for _, t in down], int)

        # ---------------------------------------------------------------- cells
        def beh_or_none(i: int | None) -> int:
            return B if i is None else i  # index B is a zero appended to the behavior vector

        cells = net.cells
        self.c_prolif = np.array([beh_or_none(c.proliferation) for c in cells], int)
        self.c_renew = np.array([beh_or_none(c.self_renewal) for c in cells], int)
        self.c_death = np.array([beh_or_none(c.death) for c in cells], int)
        self.c_exit = np.array([beh_or_none(c.exit) for c in cells], int)
        self.c_fail = np.array([beh_or_none(c.division_failure) for c in cells], int)
        self.c_drug_death = np.array([beh_or_none(c.drug_death) for c in cells], int)
        egress = [(i, cidx[c.exit_to]) for i, c in enumerate(cells) if c.exit_to is not None]
        self.exit_from = np.array([a for a, _ in egress], int)
        self.exit_into = np.array([b for _, b in egress], int)
        self.c_niche = np.array([c.niche for c in cells], bool)
        # one entry per (source, target) differentiation flow, with the target's fraction
        diff = [(i, cidx[t]) for i, c in enumerate(cells) for t, _ in c.differentiation]
        self.diff_from = np.array([a for a, _ in diff], int)
        self.diff_to = np.array([b for _, b in diff], int)
        # mutation at division: probability per daughter (a behavior) and where mutants go
        self.c_mut = np.array([beh_or_none(c.mutation[1] if c.mutation else None)
                               for c in cells], int)
        mut = [(i, cidx[c.mutation[0]]) for i, c in enumerate(cells) if c.mutation]
        self.mut_from = np.array([a for a, _ in mut], int)
        self.mut_to = np.array([b for _, b in mut], int)
        self.c_marrow = np.array([c.compartment == MARROW for c in cells], bool)
        counted = set(net.marrow_counted)
        self.c_counted = np.array([c.name in counted for c in cells], bool)

        self.fb_members = np.zeros(self.n_cells, bool)
        if net.feedback:
            self.fb_members[[cidx[c] for c in net.feedback[0]]] = True
        self.niche_members = np.zeros(self.n_cells, bool)
        if net.niche:
            self.niche_members[[cidx[c] for c in net.niche[0]]] = True
        self.crowd_members = np.zeros(self.n_cells, bool)
        if net.crowding:
            self.crowd_members[[cidx[c] for c in net.crowding[0]]] = True

        # homeostasis: death × (N / set_point)^power; other types get set 1, power 0
        self.h_on = np.array([c.homeostasis is not None for c in cells], bool)

        self.k_killer = np.array([cidx[k.killer] for k in net.kills], int)
        self.k_target = np.array([cidx[k.target] for k in net.kills], int)
        self.k_beh = np.array([k.behavior for k in net.kills], int)

        # ---------------------------------------------------------------- states
        self.s_target = np.array([s.target for s in net.states], int)

        # ---------------------------------------------------------------- EV pools
        pools = net.pools
        self.pl_src = np.array([cidx[pl.source] for pl in pools], int)
        self.pl_sec = np.array([pl.secretion for pl in pools], int)
        self.pl_per_death = np.array([pl.per_death for pl in pools], bool)
        self.pl_in_marrow = np.array([pl.compartment == MARROW for pl in pools], float)

        routes = net.uptakes
        self.r_target = np.array([cidx[r.target] for r in routes], int)
        self.r_pool = np.array([r.pool for r in routes], int)
        self.r_mult = np.array([r.multiplier for r in routes], int)
        self.r_marrow = np.array([cells[cidx[r.target]].compartment == MARROW for r in routes],
                                 bool)
        ev_of_route = np.where(self.r_marrow, self.i_ev_m[self.r_pool], self.i_ev_b[self.r_pool])
        self.r_ev = ev_of_route
        # uptake per pool and compartment, as sparse sums over routes
        nr, npl = self.n_routes, self.n_pools
        self.R_to_pool_m = sparse.csr_matrix(
            (self.r_marrow.astype(float), (self.r_pool, np.arange(nr))), shape=(npl, nr))
        self.R_to_pool_b = sparse.csr_matrix(
            ((~self.r_marrow).astype(float), (self.r_pool, np.arange(nr))), shape=(npl, nr))

        # ---------------------------------------------------------------- cargo
        qs = net.cargo_states
        self.q_cell = np.array([cidx[q.cell_type] for q in qs], int)

        # ---------------------------------------------------------------- cytokines, drugs
        cyt_names = list(net.cytokines)
        self.pr_cell = np.array([cidx[pr.cell_type] for pr in net.productions], int)
        self.pr_beh = np.array([pr.behavior for pr in net.productions], int)
        self.pr_cyt = np.array([cyt_names.index(pr.cytokine) for pr in net.productions], int)

        # ---------------------------------------------------------------- signals
        self._build_signals(cyt_names)
        self._values()

    def _values(self) -> None:
        """Everything that depends on the parameter values ``self.p`` (the rest depends
        on the network's structure only: :meth:`with_values` keeps it)."""
        net, p = self.net, self.p
        V = {c: p[v] for c, v in net.volumes.items()}
        self.V_marrow, self.V_blood = V[MARROW], V[BLOOD]
        self.b_base = np.array([p[b.base] for b in net.behaviors])
        up = [t for b in net.behaviors for t in b.up]
        down = [t for b in net.behaviors for t in b.down]
        self.up_half = np.array([p[t.half_max] for t in up])
        self.up_hill = np.array([p[t.hill_power] for t in up])
        self.up_sat = np.array([p[t.saturation] for t in up])
        self.dn_half = np.array([p[t.half_max] for t in down])
        self.dn_hill = np.array([p[t.hill_power] for t in down])
        self.dn_sat = np.array([p[t.saturation] for t in down])
        cells = net.cells
        #: feedback coupling φ per cell type (renewal × s^φ; 0: no feedback)
        self.c_fb_exp = np.array([_coupling(c, p) for c in cells], float)
        self.c_fb = self.c_fb_exp != 0.0
        self.diff_frac = np.array([p[f] for c in cells for _, f in c.differentiation], float)
        self.fb_k = p[net.feedback[1]] if net.feedback else 0.0
        self.niche_cap = p[net.niche[1]] if net.niche else np.inf
        self.crowd = (p[net.crowding[1]], p[net.crowding[2]], p[net.crowding[3]]) \
            if net.crowding else (np.inf, 0.0, 1.0)
        # homeostasis: death × (N / set_point)^power; other types get set 1, power 0
        self.h_set = np.array([p[c.homeostasis[0]] if c.homeostasis else 1.0 for c in cells])
        self.h_pow = np.array([p[c.homeostasis[1]] if c.homeostasis else 0.0 for c in cells])
        self.s_tau = np.array([p[s.relaxation] for s in net.states])
        pools, cls, routes = net.pools, net.classes, net.uptakes
        self.pl_deg = np.array([p[cls[pl.vesicle_class].degradation] for pl in pools])
        self.pl_drain = np.array([p[cls[pl.vesicle_class].drainage] for pl in pools])
        self.pl_clear = np.array([p[cls[pl.vesicle_class].clearance] for pl in pools])
        self.pl_home = np.array([p[cls[pl.vesicle_class].homing] for pl in pools])
        self.r_rate = np.array([p[r.rate] for r in routes])
        self.r_V = np.where(self.r_marrow, self.V_marrow, self.V_blood)
        qs = net.cargo_states
        self.q_decay = np.array([p[q.decay] for q in qs])
        rows, cols, vals = [], [], []
        routes_to: dict[str, list[int]] = {}  # route numbers by target cell type, in order
        for ri, r in enumerate(routes):
            routes_to.setdefault(r.target, []).append(ri)
        for qi, q in enumerate(qs):
            for ri in routes_to.get(q.cell_type, ()):
                pl = pools[routes[ri].pool]
                if q.cargo in pl.cargo:
                    rows.append(qi)
                    cols.append(ri)
                    vals.append(p[pl.cargo[q.cargo]])
        self.Q = sparse.csr_matrix((vals, (rows, cols)), shape=(len(qs), self.n_routes))
        self.cyt_decay = np.array([p[net.cytokines[c]] for c in net.cytokines])
        self.drug_elim = np.array([p[net.drugs[d]] for d in net.drugs])

    def with_values(self, net: Network, params: dict[str, float] | None = None
                    ) -> Kinetics:
        """``Kinetics(net, params)`` for a ``net`` of this kinetics' structure (the same
        species, cells, rules …, other parameter values: a calibration's next particle):
        the index arrays are shared with this one, only :meth:`_values` is computed again
        (tests/engines/test_kinetics_values.py holds every attribute to a fresh build's).
        The shared arrays are read-only by convention: nothing writes into them."""
        import copy

        new = copy.copy(self)
        new.net = net
        p = dict(net.params)
        if params:
            p.update(params)
        new.p = p
        new._values()
        return new

    # ------------------------------------------------------------------------------
    def _build_signals(self, cyt_names: list[str]) -> None:
        """Signals are linear in z = [q, r (per-cell uptake by route), E/V, C, x, D, N/Ntot]."""
        net = self.net
        cidx = net.cell_index()
        nq, nr = len(net.cargo_states), self.n_routes
        npl = self.n_pools
        nC, nx, nD, nN = len(cyt_names), len(net.states), len(net.drugs), self.n_cells
        off = np.cumsum([0, nq, nr, 2 * npl, nC, nx, nD])
        self.z_size = int(off[-1] + nN)
        self.z_off = off
        rows, cols, vals = [], [], []
        qkey = {(q.cell_type, q.cargo): i for i, q in enumerate(net.cargo_states)}
        skey = {(s.cell_type, s.var): i for i, s in enumerate(net.states)}
        drugs = list(net.drugs)
        for si, sig in enumerate(net.signals):
            if sig.kind == "cargo":
                rows.append(si)
                cols.append(off[0] + qkey[(sig.cell_type, sig.argument)])
                vals.append(1.0)
            elif sig.kind == "uptake":
                src, _, cls = sig.argument.partition(".")
                for ri, r in enumerate(net.uptakes):
                    pl = net.pools[r.pool]
                    if r.target == sig.cell_type and pl.source == src and (
                            not cls or cls in (pl.vesicle_class, pool_suffix(pl))):
                        rows.append(si)
                        cols.append(off[1] + ri)
                        vals.append(1.0)
            elif sig.kind == "ev":
                src, _, cls = sig.argument.partition(".")
                in_marrow = net.cells[cidx[sig.cell_type]].compartment == MARROW
                for pi, pl in enumerate(net.pools):
                    if pl.source == src and cls in (pl.vesicle_class, pool_suffix(pl)):
                        rows.append(si)
                        cols.append(off[2] + (pi if in_marrow else npl + pi))
                        vals.append(1.0)
            elif sig.kind == "cytokine":
                rows.append(si)
                cols.append(off[3] + cyt_names.index(sig.argument))
                vals.append(1.0)
            elif sig.kind == "state":
                rows.append(si)
                cols.append(off[4] + skey[(sig.cell_type, sig.argument)])
                vals.append(1.0)
            elif sig.kind == "drug":
                rows.append(si)
                cols.append(off[5] + drugs.index(sig.argument))
                vals.append(1.0)
            elif sig.kind == "fraction":
                rows.append(si)
                cols.append(off[6] + cidx[sig.argument])
                vals.append(1.0)
        self.A = sparse.csr_matrix((vals, (rows, cols)), shape=(len(net.signals), self.z_size))

    # ------------------------------------------------------------------------------
    def parts(self, y: np.ndarray, beh_factor: np.ndarray | None = None,
              upt_factor: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Everything the right-hand side computes, by name (for readouts and tests)."""
        N = y[self.i_cell]
        Em = y[self.i_ev_m]
        Eb = y[self.i_ev_b]
        q = y[self.i_cargo]
        C = y[self.i_cyt]
        x = y[self.i_state]
        D = y[self.i_drug]
        n_total = float(np.sum(N[self.c_counted]))
        n_total = n_total if n_total > 0 else 1.0

        # per-cell uptake rates need uptake multipliers, which are behaviors; those
        # depend on signals, which may depend on uptake (uptake:<source> signals): the
        # multipliers are evaluated from signals that use the base multipliers.
        beh, sig = self._behaviors(q, Em, Eb, C, x, D, N, n_total, None, beh_factor,
                                   upt_factor)
        mult = beh[self.r_mult]
        if upt_factor is not None:
            mult = mult * upt_factor
        r = self.r_rate * mult * y[self.r_ev] / self.r_V  # EVs per target cell per hour
        return {"N": N, "Em": Em, "Eb": Eb, "q": q, "C": C, "x": x, "D": D, "beh": beh,
                "sig": sig, "r": r, "n_total": np.array(n_total)}

    def _behaviors(self, q, Em, Eb, C, x, D, N, n_total, r, beh_factor, upt_factor):
        if r is None:
            mult = self.b_base[self.r_mult] if self.n_beh else np.ones(self.n_routes)
            if upt_factor is not None:
                mult = mult * upt_factor
            r = self.r_rate * mult * np.concatenate([Em, Eb])[
                np.where(self.r_marrow, self.r_pool, self.n_pools + self.r_pool)] / self.r_V
        z = np.concatenate([q, r, Em / self.V_marrow, Eb / self.V_blood, C, x, D, N / n_total])
        sig = np.maximum(self.A @ z, 0.0)
        beh = combine_rules(self, sig)
        if beh_factor is not None:
            beh = beh * beh_factor
        return beh, sig

    def signals(self, y: np.ndarray, beh_factor=None, upt_factor=None) -> np.ndarray:
        """The signal values (one per ``net.signals``, canonical units) that the rules
        combine into behaviors at state ``y``: uptake signals use the base uptake
        multipliers, exactly as :meth:`parts` does for the behaviors."""
        return self.parts(y, beh_factor, upt_factor)["sig"]

    def homeostasis(self, N: np.ndarray) -> np.ndarray:
        """Factor on each type's death rate: (N / set_point)^power for types with
        homeostasis (N its own count, cells; negative solver excursions read as 0), else 1."""
        if not self.h_on.any():
            return np.ones_like(N, dtype=float)
        return np.where(self.h_on, (np.maximum(N, 0.0) / self.h_set) ** self.h_pow, 1.0)

    def feedback_factor(self, s: float) -> np.ndarray:
        """s^φ per cell type for the systemic feedback signal ``s`` (dimensionless): φ = 1
        gives s and φ = 0 gives 1 exactly (no power is evaluated for them)."""
        phi = self.c_fb_exp
        graded = (phi != 0.0) & (phi != 1.0)
        out = np.where(phi == 1.0, s, 1.0)
        if graded.any():
            out[graded] = s ** phi[graded]
        return out

    def rhs(self, t: float, y: np.ndarray, beh_factor: np.ndarray | None = None,
            upt_factor: np.ndarray | None = None, removal: np.ndarray | None = None,
            infusion: np.ndarray | None = None) -> np.ndarray:
        """dy/dt (per hour); ``infusion``: drug input per drug (nM/h), if any."""
        part = self.parts(y, beh_factor, upt_factor)
        N, Em, Eb, q, C, x, D = (part[k] for k in ("N", "Em", "Eb", "q", "C", "x", "D"))
        beh = np.append(part["beh"], 0.0)
        r = part["r"]
        n_total = float(part["n_total"])
        dy = np.zeros_like(y)

        # hematopoiesis core
        s = 1.0 / (1.0 + self.fb_k * np.sum(N[self.fb_members]))
        nu = 1.0 / (1.0 + np.sum(N[self.niche_members]) / self.niche_cap)
        prolif = beh[self.c_prolif]
        renew = beh[self.c_renew] * self.feedback_factor(s) * np.where(self.c_niche, nu, 1.0)
        fail = beh[self.c_fail]
        mut = beh[self.c_mut]  # probability that a daughter mutates
        kept = 1.0 - mut
        cap, crate, cpow = self.crowd
        # (a negative solver excursion of the sum reads as 0, as in homeostasis)
        crowd_death = (crate * (max(float(np.sum(N[self.crowd_members])), 0.0) / cap) ** cpow
                       if crate else 0.0)
        # drug-induced death is its own term: rules on 'death' (survival signals) and
        # homeostasis act on the basal rate only
        death = (beh[self.c_death] * self.homeostasis(N)
                 + np.where(self.crowd_members, crowd_death, 0.0) + beh[self.c_drug_death])
        exit_ = beh[self.c_exit]
        dN = (2.0 * renew * (1.0 - fail) * kept - 1.0) * prolif * N - (death + exit_) * N
        if self.diff_from.size:
            np.add.at(dN, self.diff_to,
                      2.0 * (1.0 - renew[self.diff_from]) * (1.0 - fail[self.diff_from])
                      * kept[self.diff_from] * self.diff_frac
                      * prolif[self.diff_from] * N[self.diff_from])
        if self.mut_from.size:
            np.add.at(dN, self.mut_to,
                      2.0 * (1.0 - fail[self.mut_from]) * mut[self.mut_from]
                      * prolif[self.mut_from] * N[self.mut_from])
        if self.exit_from.size:
            np.add.at(dN, self.exit_into, exit_[self.exit_from] * N[self.exit_from])
        # dying cells per hour: deaths, the two daughters of each failed division, kills
        dying = (death + 2.0 * fail * prolif) * N
        if self.k_beh.size:
            kills = beh[self.k_beh] * N[self.k_killer] * N[self.k_target] / n_total
            np.subtract.at(dN, self.k_target, kills)
            np.add.at(dying, self.k_target, kills)
        dy[self.i_cell] = dN

        # states relax to rule-set targets
        if self.s_tau.size:
            dy[self.i_state] = (beh[self.s_target] - x) / self.s_tau

        # EV pools (a per-death pool releases its EVs per dying cell of its source)
        S = beh[self.pl_sec] * np.where(self.pl_per_death, dying[self.pl_src], N[self.pl_src])
        U = r * N[self.r_target]  # EVs per hour, per route
        Um = self.R_to_pool_m @ U
        Ub = self.R_to_pool_b @ U
        rem = removal if removal is not None else 0.0
        dy[self.i_ev_m] = (S * self.pl_in_marrow - Um - (self.pl_deg + self.pl_drain) * Em
                           + self.pl_home * Eb)
        dy[self.i_ev_b] = (S * (1.0 - self.pl_in_marrow) - Ub + self.pl_drain * Em
                           - (self.pl_clear + self.pl_home + rem) * Eb)
        if self.has_ledger:
            dy[self.i_led["secreted"]] = S
            dy[self.i_led["degraded"]] = self.pl_deg * Em
            dy[self.i_led["cleared"]] = self.pl_clear * Eb
            dy[self.i_led["removed"]] = rem * Eb
        if self.i_led_uptake.size:
            np.add.at(dy, self.i_led_uptake, U)

        # internalized cargo per cell: delivered copies, decay, halving at each division
        if self.q_decay.size:
            dy[self.i_cargo] = self.Q @ r - (self.q_decay + prolif[self.q_cell]) * q

        # cytokines and drugs
        if self.cyt_decay.size:
            prod = np.bincount(self.pr_cyt, weights=beh[self.pr_beh] * N[self.pr_cell],
                               minlength=self.cyt_decay.size)
            dy[self.i_cyt] = prod / self.V_marrow - self.cyt_decay * C
        if self.drug_elim.size:
            dy[self.i_drug] = -self.drug_elim * D + (0.0 if infusion is None else infusion)
        return dy

    # ------------------------------------------------------------------------------
    def initial_state(self) -> np.ndarray:
        """The model's initial values (before any equilibration)."""
        y = np.zeros(self.n)
        for i, s in enumerate(self.net.species):
            y[i] = self.p[s.initial]
        return y

    def jacobian_sparsity(self, y0: np.ndarray) -> sparse.csc_matrix:
        """Which derivatives depend on which states, probed at a generic positive point."""
        rng = np.random.default_rng(12345)
        base = np.abs(y0) + 1.0 + rng.random(self.n)
        probe = np.ones(self.n_pools)  # removal on: EVs removed depend on blood EVs
        f0 = self.rhs(0.0, base, removal=probe)
        # a species can be tiny beside the sums it enters (one leukemic cell in a marrow of
        # 1e11 cells: crowding, kill and fraction signals), so a relative step of it changes
        # nothing in floating point; it is also stepped by a share of the largest species
        # of its kind
        kinds = np.array([s.kind for s in self.net.species])
        largest = {k: float(np.max(base[kinds == k])) for k in set(kinds.tolist())}
        rows, cols = [], []
        for j in range(self.n):
            changed: set[int] = set()
            for step in (1e-3 * base[j], 1e-3 * largest[kinds[j]]):
                yp = base.copy()
                yp[j] += step
                changed.update(np.nonzero(self.rhs(0.0, yp, removal=probe) != f0)[0].tolist())
            rows.extend(sorted(changed))
            cols.extend([j] * len(changed))
        rows.extend(range(self.n))
        cols.extend(range(self.n))
        data = np.ones(len(rows))
        return sparse.csc_matrix((data, (rows, cols)), shape=(self.n, self.n))


#: the first :class:`Kinetics` of each network structure this process built (by the
#: identity of the network's fields other than its parameter values, which networks made
#: with ``dataclasses.replace(net, params=…)`` share); the oldest goes beyond 64
_TEMPLATES: dict[tuple, Kinetics] = {}


def kinetics_of(net: Network, params: dict[str, float] | None = None) -> Kinetics:
    """``Kinetics(net, params)``, built from the structure of an earlier network with the
    same fields but other parameter values where this process has one
    (:meth:`Kinetics.with_values`: the same attributes, ~1 ms less per run of a
    calibration or an ensemble)."""
    import dataclasses

    key = tuple(id(getattr(net, f.name)) for f in dataclasses.fields(net)
                if f.name != "params")
    template = _TEMPLATES.get(key)
    if template is None:
        template = _TEMPLATES[key] = Kinetics(net, params)  # keeps the fields (their ids)
        while len(_TEMPLATES) > 64:
            oldest = next(iter(_TEMPLATES))
            del _TEMPLATES[oldest]
            _RECENT.pop(oldest, None)
        _RECENT[key] = [template]
        return template
    values = dict(net.params)
    if params:
        values.update(params)
    recent = _RECENT.setdefault(key, [])
    for kin in recent:  # the same values again (the runs of one particle): the same object
        if kin.p == values:
            return kin
    kin = template.with_values(net, params)
    recent.insert(0, kin)
    del recent[_RECENT_VALUES:]
    return kin


#: per network structure of :data:`_TEMPLATES`, its most recent :class:`Kinetics`, newest
#: first: a run with parameter values equal to one of them gets that one (a Kinetics is
#: read-only once built), so the runs of a calibration particle build it once
_RECENT: dict[tuple, list[Kinetics]] = {}
#: how many value sets :data:`_RECENT` keeps per structure
_RECENT_VALUES = 4


def without_ledger(net: Network) -> Network:
    """``net`` without its EV ledger species (the cumulative counts of EVs secreted,
    administered, degraded, cleared, removed and taken up by each target): nothing in the
    right-hand side reads them back, so the other species follow the same equations. For
    runs that only read cells and EVs (a calibration's readouts from arrays): ~half the
    species of ``aml``. The ledger's balance cannot be checked on such a run and its
    trajectory has no ``ledger`` or ``communication`` to build a Dataset from."""
    import dataclasses

    return dataclasses.replace(net, species=[s for s in net.species if s.kind != "ledger"])


def _coupling(cell, p: dict[str, float]) -> float:
    """The feedback coupling φ of ``cell`` (a number or its parameter's value), checked to
    lie in [0, 1] (an override can move a parameter past its range)."""
    phi = p[cell.feedback] if isinstance(cell.feedback, str) else float(cell.feedback)
    if not 0.0 <= phi <= 1.0:
        raise ModelError(f"feedback coupling φ of cell type '{cell.name}' is {phi}; expected "
                         "a number between 0 and 1", f"cell_types.{cell.name}.feedback")
    return phi
