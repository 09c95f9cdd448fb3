"""The cells over one cell step. Marrow agents: delivered cargo, states relaxing to their
targets, then division (self-renewal or differentiation), death, exit, crowding and
contact killing as random events, daughters placed next to their parent, motion
(:mod:`.motion`), and the weights adapted (:func:`reweight`). Blood cell types:
population counts, states and cargo, exact over the step for its constant rates.

Rates per hour, lengths in µm; counts are real cells (an agent of type ``t`` stands for
``run.w[t]`` of them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np

from . import agents as ag
from . import kernel_cache, motion, threads

if TYPE_CHECKING:
    from .state import Section


def blood_cells(run: Section, beh_pop, part, s_fb, nu, crowd, N, homeo) -> None:
    """Cell types outside the marrow: population counts, states and cargo."""
    kin, dt = run.kin, run.dt
    blood = np.flatnonzero(~run.marrow_type)
    if blood.size == 0:
        return
    y = run.y_blood
    prolif = beh_pop[kin.c_prolif]
    renew = beh_pop[kin.c_renew] * kin.feedback_factor(s_fb) * np.where(
        kin.c_niche, nu, 1.0)
    fail = beh_pop[kin.c_fail]
    exit_ = beh_pop[kin.c_exit]
    loss = (beh_pop[kin.c_death] * homeo + beh_pop[kin.c_drug_death] + exit_
            + np.where(kin.crowd_members, crowd, 0.0))
    n_total = float(part["n_total"])
    kill = np.zeros(len(run.net.cells))
    for k in range(kin.k_beh.size):
        kill[kin.k_target[k]] += beh_pop[kin.k_beh[k]] * N[kin.k_killer[k]] / n_total
    mut = beh_pop[kin.c_mut]
    g = (2.0 * renew * (1.0 - fail) * (1.0 - mut) - 1.0) * prolif - loss - kill
    inflow = np.zeros(len(run.net.cells))
    for src in blood:
        made = 2.0 * (1.0 - fail[src]) * prolif[src] * N[src]  # daughters per hour
        for dst, frac in zip(run.diff_targets[src], np.diff(run.diff_cum[src],
                                                            prepend=0.0), strict=True):
            if not run.marrow_type[dst]:
                inflow[dst] += made * (1.0 - renew[src]) * (1.0 - mut[src]) * frac
        dst = run.mut_to[src]
        if dst >= 0 and not run.marrow_type[dst]:
            inflow[dst] += made * mut[src]
        dst = run.exit_to[src]
        if dst >= 0 and not run.marrow_type[dst]:
            inflow[dst] += exit_[src] * N[src]

    for t in blood:
        i = kin.i_cell[t]
        y[i] = y[i] * np.exp(g[t] * dt) + inflow[t] * dt
        for si in run.state_slots[t]:
            tgt = beh_pop[kin.s_target[si]]
            y[kin.i_state[si]] = tgt + (y[kin.i_state[si]] - tgt) * np.exp(-dt / kin.s_tau[si])
        for qi in run.cargo_slots[t]:
            k = kin.q_decay[qi] + prolif[t]
            row = kin.Q.getrow(qi)
            inp = 0.0
            for ri, copies in zip(row.indices, row.data, strict=True):
                if not kin.r_marrow[ri] and N[t] > 0:
                    inp += copies * run.blood_taken[ri] / N[t] / dt
            q = y[kin.i_cargo[qi]]
            y[kin.i_cargo[qi]] = q * np.exp(-k * dt) + (inp * (-np.expm1(-k * dt)) / k
                                                        if k > 0 else inp * dt)


def advance(run: Section, vox, chem, prolif, renew, loss, state_target, kill_rate, delivered,
            N, n_total, beh_pop, fail, exit_rate, mut) -> None:
    """Marrow agents over one step (see the module docstring): ``vox``, ``chem`` the
    agents' voxels and the chemoattractant there at the step's start, the per-agent rates
    and probabilities of :class:`.behaviours.Behaviours`, ``delivered`` cargo copies per
    real cell."""
    kin, net, a, dt, rng = run.kin, run.net, run.agents, run.dt, run.rng
    n = a.n
    nt = len(net.cells)
    # cargo: decay (halving at division below) and delivery spread over the step
    if kin.q_decay.size and n:
        k = kin.q_decay
        spread = np.where(k > 0, -np.expm1(-k * dt) / np.where(k > 0, k * dt, 1.0), 1.0)
        column = np.maximum(run.cargo_global, 0)  # (type, column): the cargo slot
        decay, spread = np.exp(-k * dt)[column], spread[column]
        cargo = np.ascontiguousarray(a.cargo)
        threads.run(lambda share, shares: _cargo(
            cargo, a.type, run.cargo_own, decay, np.ascontiguousarray(delivered), spread,
            *threads.span(n, share, shares)), n, "agents")
        a.cargo = cargo
    if kin.s_tau.size and n:
        state = np.ascontiguousarray(a.state)
        factor = np.exp(-dt / kin.s_tau)
        target = np.ascontiguousarray(state_target, dtype=float)
        threads.run(lambda share, shares: _relax(
            state, a.type, run.state_own, target, factor, *threads.span(n, share, shares)),
            n, "agents")
        a.state = state
    a.cycle += dt
    # contact killing: hazard = Σ kill rate × weight of killers within reach / Σ weight
    # of counted marrow cells within reach (the local share, as N_killer / N_total)
    hazard = np.zeros(n)
    w_agent = run.w[a.type] if n else np.zeros(0)
    grid = None  # binned when a marrow type kills by contact
    for k in range(kin.k_beh.size):
        tgt = a.type == kin.k_target[k]
        if not tgt.any():
            continue
        if run.marrow_type[kin.k_killer[k]]:
            num = kill_rate[k] * w_agent
            den = np.where(kin.c_counted[a.type], w_agent, 0.0)
            if grid is None:
                grid = ag.bin_agents(a.pos, max(float(run.o["kill_reach_um"]),
                                                2.5 * float(run.o["cell_radius_um"])),
                                     run.geom.extent)
            hazard += ag.neighbor_ratio(a.pos, num, den, tgt, grid,
                                        float(run.o["kill_reach_um"]))
        else:
            hazard[tgt] += beh_pop[kin.k_beh[k]] * N[kin.k_killer[k]] / n_total
    u = rng.random((n, 3)) if n else np.zeros((0, 3))
    total = loss + hazard
    p_loss = -np.expm1(-total * dt)
    dies = u[:, 0] < p_loss
    # a loss is an exit (egress) with probability exit / total: u0 / p_loss is uniform
    # on a loss, so the same draw decides it
    egress = dies & (run.exit_to[a.type] >= 0) & (
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
        dst = run.exit_to[a.type[out_idx]]
        to_blood = ~run.marrow_type[dst]
        np.add.at(counts_to_blood, dst[to_blood], run.w[a.type[out_idx[to_blood]]])
        src_i, dst_t = out_idx[~to_blood], dst[~to_blood]
        if src_i.size:  # into another marrow type: agents of that type, same place
            expect = run.w[a.type[src_i]] / run.w[dst_t]
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
    if diff_idx.size or run.mut_to.max(initial=-1) >= 0:
        groups = a.groups(nt)
        for t in range(nt):
            sel = groups[t]
            mean_state[t] = a.state[sel].mean(axis=0) if sel.size else run.baseline(t)
    if diff_idx.size:
        # the target: u2 is uniform on [f + (1 - f)·a, 1) on a differentiation, so its
        # rescaled value picks a target with the targets' fractions
        low = fail[diff_idx] + (1.0 - fail[diff_idx]) * renew[diff_idx]
        v = (u[diff_idx, 2] - low) / np.maximum(1.0 - low, 1e-300)
        dst = np.full(diff_idx.size, -1, int)
        for t in np.unique(a.type[diff_idx]):
            sel = a.type[diff_idx] == t
            if run.diff_targets[t].size:
                pick = np.searchsorted(run.diff_cum[t], v[sel], side="right")
                dst[sel] = run.diff_targets[t][np.minimum(pick, run.diff_targets[t].size
                                                          - 1)]
        to_marrow = dst >= 0
        to_marrow[to_marrow] = run.marrow_type[dst[to_marrow]]
        to_blood = (dst >= 0) & ~to_marrow
        np.add.at(counts_to_blood, dst[to_blood], 2.0 * (1.0 - mut[diff_idx[to_blood]])
                  * run.w[a.type[diff_idx[to_blood]]])
        src_i = diff_idx[to_marrow]
        dst_t = dst[to_marrow]
        expect = 2.0 * (1.0 - mut[src_i]) * run.w[a.type[src_i]] / run.w[dst_t]
        rr = rng.random(src_i.size)
        k_new = (np.floor(expect) + (rr < expect - np.floor(expect))).astype(int)
        if k_new.sum():
            new_parts.append(daughters(run, src_i, dst_t, k_new, mean_state))
    # mutant daughters of successful divisions: 2·μ·w_source / w_mutant agents on
    # average, stochastically rounded (random numbers drawn only for mutating types)
    ok = np.flatnonzero(divides & ~failed & (mut > 0))
    if ok.size:
        dst = run.mut_to[a.type[ok]]
        expect = 2.0 * mut[ok] * run.w[a.type[ok]]
        to_blood = ~run.marrow_type[dst]
        np.add.at(counts_to_blood, dst[to_blood], expect[to_blood])
        src_i, dst_t = ok[~to_blood], dst[~to_blood]
        expect = expect[~to_blood] / run.w[dst_t]
        rr = rng.random(src_i.size)
        k_new = (np.floor(expect) + (rr < expect - np.floor(expect))).astype(int)
        if k_new.sum():
            new_parts.append(daughters(run, src_i, dst_t, k_new, mean_state))
    for t in np.flatnonzero(counts_to_blood):
        run.y_blood[kin.i_cell[t]] += counts_to_blood[t]
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
        new_parts.append(ag.Agents(a.type[ren].copy(), near(run, a.pos[ren]),
                                   np.zeros(ren.size), a.cargo[ren].copy(),
                                   a.state[ren].copy()))
    # motion of the surviving, non-differentiated agents
    keep = ~(dies | differentiates)
    moved = motion.displace(run, vox, chem)
    a.pos = moved
    # the step before last's agents' arrays are written over (see Agents.kept): nothing
    # holds them (snapshots and the population view copy what they keep)
    run.agents = a.kept(np.flatnonzero(keep), new_parts, run.spare_agents)
    run.spare_agents = a
    reweight(run)


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _cargo(cargo, types, own, decay, delivered, spread, k0, k1):  # pragma: no cover - compiled
    """Agents ``k0 … k1-1``, in place: ``cargo · decay + delivered · spread`` in the
    columns their type owns (``own``, per type and column; ``decay`` and ``spread`` per
    type and column as well), 0 elsewhere."""
    for i in range(k0, k1):
        t = types[i]
        for j in range(cargo.shape[1]):
            if own[t, j]:
                cargo[i, j] = cargo[i, j] * decay[t, j] + delivered[i, j] * spread[t, j]
            else:
                cargo[i, j] = 0.0


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _relax(state, types, own, target, factor, k0, k1):  # pragma: no cover - compiled
    """Agents ``k0 … k1-1``, in place: the state slots their type owns relax to ``target``
    by ``factor = e^{-dt/τ}`` (per slot): ``target + (state - target) · factor``."""
    for i in range(k0, k1):
        t = types[i]
        for j in range(state.shape[1]):
            if own[t, j]:
                state[i, j] = target[i, j] + (state[i, j] - target[i, j]) * factor[j]


def daughters(run: Section, src: np.ndarray, dst: np.ndarray, k_new: np.ndarray,
              mean_state: dict[int, np.ndarray]) -> ag.Agents:
    """``k_new[i]`` new agents of type ``dst[i]`` next to agent ``src[i]``, without
    cargo, with the mean state of their type."""
    a = run.agents
    parent = np.repeat(src, k_new)
    types = np.repeat(dst, k_new).astype(np.int32)
    return ag.Agents(types, near(run, a.pos[parent]), np.zeros(parent.size),
                     np.zeros((parent.size, a.cargo.shape[1])),
                     np.stack([mean_state[int(t)] for t in types]) if types.size else
                     np.zeros((0, a.state.shape[1])))


def near(run: Section, pos: np.ndarray) -> np.ndarray:
    """Positions of daughters: one cell radius from the parent, in a random direction,
    kept inside the domain."""
    r = float(run.o["cell_radius_um"])
    v = run.rng.normal(size=pos.shape)
    if run.geom.dims == 2:
        v[:, 2] = 0.0
    v /= np.maximum(np.linalg.norm(v, axis=1), 1e-12)[:, None]
    out = pos + r * v
    ext = run.geom.extent
    return np.clip(out, 1e-6, ext - 1e-6)


def reweight(run: Section) -> None:
    """Thin types above twice their share of agents (weight up), duplicate types below
    half of it (weight down); real counts are conserved exactly."""
    a = run.agents
    nt = len(run.net.cells)
    counts = np.bincount(a.type, minlength=nt)
    drop = np.zeros(a.n, bool)
    extra = []
    for t in range(nt):
        c = counts[t]
        if c > 2 * run.n_target[t]:
            idx = np.flatnonzero(a.type == t)
            keep_n = int(run.n_target[t])
            keep = run.rng.choice(idx.size, keep_n, replace=False)
            mask = np.ones(idx.size, bool)
            mask[keep] = False
            drop[idx[mask]] = True
            run.w[t] *= c / keep_n
        elif 0 < c < 0.5 * run.n_target[t] and run.w[t] >= 2.0:
            idx = np.flatnonzero(a.type == t)
            dup = a.take(idx)
            dup.pos = near(run, dup.pos)
            dup.id = None  # a duplicate is a new agent
            extra.append(dup)
            run.w[t] *= 0.5
    if drop.any() or extra:
        run.agents = a.kept(np.flatnonzero(~drop) if drop.any() else None, extra)

# ------------------------------------------------------------------ jumps
