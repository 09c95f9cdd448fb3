"""Behaviours of the agents over one cell step: the population view's feedbacks (the
hematopoiesis feedback ``s``, niche ``ν``, crowding and the homeostatic death factor from
global counts, exactly as :meth:`Kinetics.rhs`), then per agent, type by type, the rules'
behaviours from the agent's cargo, states and its voxel's concentrations (:mod:`.rules`),
and what they imply for the fields: secretion per voxel and uptake entries.

Rates are per hour; concentrations per mL (per voxel) as the fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import agents as ag
from . import rules

if TYPE_CHECKING:
    from .state import Section


@dataclass
class Behaviours:
    """What one step's behaviours give the fields and the cells (per agent unless said)."""

    vox: np.ndarray  # voxel of each agent
    chem: np.ndarray | None  # the chemoattractant at the agents at the step's start (None:
    # no chemoattractant)
    prolif: np.ndarray  # division rate (1/h)
    renew: np.ndarray  # self-renewal probability of a division
    loss: np.ndarray  # death + exit rate (1/h)
    fail: np.ndarray  # probability that a division fails
    exit_rate: np.ndarray  # exit (egress) rate (1/h)
    mut: np.ndarray  # mutation probability per daughter
    state_target: np.ndarray  # (agents, state slots) targets the states relax to
    kill_rate: np.ndarray  # (kill entries, agents) the killer's rate (1/h)
    sec_rate: np.ndarray  # (fields, voxels) secretion and production, concentration/h
    uptake: tuple  # (route, agent, rate 1/h) entries of marrow uptake
    beh_pop: np.ndarray  # population behaviours (and a trailing 0)
    part: dict  # Kinetics.parts of the population view
    N: np.ndarray  # cells per type (weighted)
    n_total: float  # counted cells
    s_fb: float  # hematopoiesis feedback
    nu: float  # niche occupancy factor
    crowd: float  # crowding death rate (1/h)
    homeo: np.ndarray  # homeostatic death factor per type
    upt_f: np.ndarray  # uptake factors of the schedule's modifiers
    rem: np.ndarray  # removal rates of the schedule's modifiers (1/h)


def evaluate(run: Section, t: float) -> Behaviours:
    """The behaviours of ``run``'s agents at time ``t`` (h). Sets ``run.beh_now`` (mean
    behaviours, for the output) and ``run.dying_blood`` (dying cells per hour per type)."""
    kin, net, a = run.kin, run.net, run.agents
    beh_f, upt_f, rem = run.schedule.modifiers(t, kin.n_beh, kin.n_routes, kin.n_pools)
    ypop = run.population()
    part = kin.parts(ypop, beh_f, upt_f)
    beh_pop = np.append(part["beh"], 0.0)
    N = part["N"]
    n_total = float(part["n_total"])
    s_fb = 1.0 / (1.0 + kin.fb_k * np.sum(N[kin.fb_members]))
    fb_factor = kin.feedback_factor(s_fb)  # s^φ per cell type
    nu = 1.0 / (1.0 + np.sum(N[kin.niche_members]) / kin.niche_cap)
    cap, crate, cpow = kin.crowd
    crowd = crate * (np.sum(N[kin.crowd_members]) / cap) ** cpow if crate else 0.0
    homeo = kin.homeostasis(N)  # death factor per type from its global (weighted) count

    n = a.n
    nt = len(net.cells)
    vox = run.geom.voxel_of(a.pos) if n else np.zeros(0, np.int64)
    Fl = run.fields.reshape(run.fields.shape[0], run.n_vox)
    # concentrations at the agents are gathered per type and field where a rule reads them
    # (all fields at all agents would be a (fields × agents) copy per step); motion reads
    # the chemoattractant as it was at the step's start
    chem = None if run.chem_field is None else Fl[run.chem_field, vox]
    # per-agent behaviors, type by type
    prolif, renew, loss = np.zeros(n), np.zeros(n), np.zeros(n)
    fail, exit_rate, mut = np.zeros(n), np.zeros(n), np.zeros(n)
    # kills per target cell (1/h) at the population level: the expected dying rate
    # that per-death secretion (apoptotic bodies) follows
    kill_pop = np.zeros(nt)
    for k in range(kin.k_beh.size):
        kill_pop[kin.k_target[k]] += beh_pop[kin.k_beh[k]] * N[kin.k_killer[k]] / n_total
    sec_rate = np.zeros((run.npl + run.ncyt, run.n_vox))  # concentration per hour
    # uptake entries (route, agent, 1/h the agent adds to its voxel's loss rate)
    up_route, up_agent, up_rate = [], [], []
    state_target = np.zeros_like(a.state)
    kill_rate = np.zeros((kin.k_beh.size, n))
    beh_sum = np.zeros(kin.n_beh)
    beh_cnt = np.zeros(kin.n_beh)
    groups = a.groups(nt)
    scratch = np.zeros(run.n_vox)
    base_mult = kin.b_base[kin.r_mult] * upt_f if kin.n_routes else np.zeros(0)
    for t_i in range(nt):
        idx = groups[t_i]
        if idx.size == 0 or not run.marrow_type[t_i]:
            continue
        tr = run.tr[t_i]
        vox_t = vox[idx]
        cols = _columns(run, tr, idx, Fl, vox_t, part, base_mult, n_total)
        B = rules.evaluate(tr, cols, beh_f)
        local = {int(g): k for k, g in enumerate(tr.beh)}
        beh_sum[tr.beh] += B.sum(axis=0)
        beh_cnt[tr.beh] += idx.size

        def col(g: int, B=B, local=local, idx=idx) -> np.ndarray:
            return B[:, local[g]] if g in local else np.zeros(idx.size)

        w = run.w[t_i]
        prolif[idx] = col(int(kin.c_prolif[t_i]))
        r = col(int(kin.c_renew[t_i]))
        r = r * fb_factor[t_i] * (nu if kin.c_niche[t_i] else 1.0)
        renew[idx] = r
        fail[idx] = col(int(kin.c_fail[t_i]))
        mut[idx] = col(int(kin.c_mut[t_i]))
        exit_rate[idx] = col(int(kin.c_exit[t_i]))
        # drug-induced death is its own term, outside homeostasis and survival rules
        death = (col(int(kin.c_death[t_i])) * homeo[t_i]
                 + (crowd if kin.crowd_members[t_i] else 0.0)
                 + col(int(kin.c_drug_death[t_i])))
        loss[idx] = death + exit_rate[idx]
        dying = death + 2.0 * fail[idx] * prolif[idx] + kill_pop[t_i]  # per cell, 1/h
        unit = w * run.n_vox / run.V_m  # concentration per hour per (rate per cell)
        for p in np.flatnonzero(kin.pl_src == t_i):
            per_cell = col(int(kin.pl_sec[p])) * (dying if kin.pl_per_death[p] else 1.0)
            ag.add_by_voxel(sec_rate[p], vox_t, per_cell * unit, scratch)
        for k in np.flatnonzero(kin.pr_cell == t_i):
            ag.add_by_voxel(sec_rate[run.npl + kin.pr_cyt[k]], vox_t,
                            col(int(kin.pr_beh[k])) * unit, scratch)
        for ri in np.flatnonzero((kin.r_target == t_i) & kin.r_marrow):
            up_route.append(np.full(idx.size, ri))
            up_agent.append(idx)
            up_rate.append(kin.r_rate[ri] * col(int(kin.r_mult[ri])) * upt_f[ri] * unit)
        for si in run.state_slots[t_i]:
            state_target[idx, si] = col(int(kin.s_target[si]))
        for k in np.flatnonzero(kin.k_killer == t_i):
            kill_rate[k, idx] = col(int(kin.k_beh[k]))
    run.beh_now = np.where(beh_cnt > 0, beh_sum / np.maximum(beh_cnt, 1), beh_pop[:-1])

    uptake = tuple(np.concatenate(x) if x else np.zeros(0, dt_) for x, dt_ in
                   ((up_route, np.int64), (up_agent, np.int64), (up_rate, float)))
    # dying cells per hour of each type, for per-death secretion in blood
    run.dying_blood = (beh_pop[kin.c_death] * homeo + beh_pop[kin.c_drug_death]
                       + np.where(kin.crowd_members, crowd, 0.0)
                       + 2.0 * beh_pop[kin.c_fail] * beh_pop[kin.c_prolif] + kill_pop) * N
    return Behaviours(vox, chem, prolif, renew, loss, fail, exit_rate, mut, state_target,
                      kill_rate, sec_rate, uptake, beh_pop, part, N, n_total, s_fb, nu, crowd,
                      homeo, upt_f, rem)


def _columns(run: Section, tr, idx, Fl, vox_t, part, base_mult, n_total) -> np.ndarray:
    """The z columns a type's signals need, per agent ``idx`` of the type (see rules.py);
    ``Fl`` the fields (fields, voxels), ``vox_t`` the agents' voxels."""
    kin, a = run.kin, run.agents
    out = np.zeros((idx.size, tr.cols_kind.size))
    for j, (kind, k) in enumerate(zip(tr.cols_kind, tr.cols_index, strict=True)):
        if kind == rules.Q:
            out[:, j] = a.cargo[idx, run.cargo_col[k]]
        elif kind == rules.R:
            if kin.r_marrow[k]:
                out[:, j] = kin.r_rate[k] * base_mult[k] * Fl[kin.r_pool[k], vox_t]
            else:
                out[:, j] = part["r"][k]
        elif kind == rules.E:
            out[:, j] = Fl[k, vox_t] if k < run.npl else run.Eb[k - run.npl] / run.V_b
        elif kind == rules.C:
            out[:, j] = Fl[run.npl + k, vox_t]
        elif kind == rules.X:
            out[:, j] = a.state[idx, k]
        elif kind == rules.D:
            out[:, j] = run.drug[k]
        else:
            out[:, j] = part["N"][k] / n_total
    return out
