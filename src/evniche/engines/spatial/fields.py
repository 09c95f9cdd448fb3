"""The voxel fields and the blood pools over one cell step, in one compiled call.

A cell step of ``dt`` hours is split into ``substeps`` field sub-steps of ``h = dt /
substeps``. Each sub-step, in this order (operator splitting):

1. reaction in every voxel, exact for the step's constant rates. An EV pool's
   concentration ``c`` with source ``S`` and first-order loss ``λ`` (degradation, drainage
   in sinusoid voxels, uptake by the voxel's agents) becomes ``c·e^{-λh} + S·(1 -
   e^{-λh})/λ``; what is lost is split between the sinks in proportion to their rates,
   which keeps the EV ledger exact. Cytokines: production and decay, likewise;
2. diffusion (:mod:`.diffusion`, backward-Euler LOD sweeps; its kernels are compiled into
   this module's, and Numba's disk cache keys a kernel on its own source file only, so a
   change of :mod:`.diffusion`'s kernels must come with an edit here, or stale cached
   kernels keep the old sweeps);
3. the pool's blood compartment: EVs drained from the sinusoid voxels in this sub-step and
   blood secretion in; clearance, homing, removal (interventions) and uptake by blood
   cells out, exact for constant inflow; homed EVs go back into the sinusoid voxels,
   evenly.

Fields do not interact within a step (each EV pool has its own blood pool; the rates
couple them only through the cells, between steps), so each field runs all its sub-steps
as one work item, fields shared between threads (:mod:`.threads`): a section's field and
its rate arrays stay in one core's cache, and a step costs one compiled call per thread
whatever the number of sub-steps. Each field's sums (drainage into blood, totals of stiff
fields) are taken in a fixed order, so the result is bitwise the same at any thread count.

Units: concentrations per mL (EV/mL; cytokines as the model), rates 1/h, times h; blood
pools and ledger terms are EV counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np
from scipy import sparse

from . import kernel_cache, threads
from .diffusion import lod_field

if TYPE_CHECKING:
    from .state import Section


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _total(u):  # pragma: no cover - compiled
    """Σ of a field (nz, ny, nx) in a fixed (serial) order."""
    s = 0.0
    for x in u.ravel():
        s += x
    return s


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _pool(u, p, substeps, h, inv_lam, e, src, sec_h, drain, sin_idx, sin_rate, vox_amount,
          alpha, fx, fy, fz, stiff, Eb, S_b, e_b, frac_b, lam_b, clear, home, rem,
          route_pool, lam_routes, blood_route, lost, led_secreted, led_cleared, led_removed,
          blood_taken, led_uptake):  # pragma: no cover - compiled
    """All sub-steps of EV pool ``p``: its field ``u`` (nz, ny, nx) and its blood pool."""
    flat = u.ravel()
    nvox = flat.size
    nsin = sin_idx.size
    e_p, src_p, sech_p, lost_p, il_p = e[p], src[p], sec_h[p], lost[p], inv_lam[p]
    for _ in range(substeps):
        # drainage over this sub-step: the sinusoid voxels' share of what they lose (the
        # same arithmetic as the reaction below), summed in a fixed order
        s = 0.0
        for k in range(nsin):
            v = sin_idx[k]
            c = flat[v]
            s += sin_rate[k] * ((c + sech_p[v] - (c * e_p[v] + src_p[v])) * il_p[v])
        drained = drain[p] * s * vox_amount
        for v in range(nvox):
            c = flat[v]
            new = c * e_p[v] + src_p[v]
            lost_p[v] += c + sech_p[v] - new
            flat[v] = new
        before = _total(u) if stiff[p] else 0.0
        lod_field(u, alpha[p], fx, fy, fz, p)
        if stiff[p]:
            _restore(u, before)
        # the blood pool
        inflow = drained / h + S_b[p]
        new_b = Eb[p] * e_b[p] + inflow * frac_b[p]
        share = 0.0
        if lam_b[p] > 0.0:
            share = (Eb[p] + inflow * h - new_b) / lam_b[p]
        led_secreted[p] += S_b[p] * h
        led_cleared[p] += clear[p] * share
        led_removed[p] += rem[p] * share
        for r in range(route_pool.size):
            if blood_route[r] and route_pool[r] == p:
                taken = lam_routes[r] * share
                blood_taken[r] += taken
                led_uptake[r] += taken
        Eb[p] = new_b
        homed = home[p] * share
        if nsin > 0 and homed > 0.0:
            add = homed / (vox_amount * nsin)
            for k in range(nsin):
                flat[sin_idx[k]] += add


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _restore(u, before):  # pragma: no cover - compiled
    """Scale field ``u`` back to the total ``before``: Thomas sweeps lose digits of the line
    sums when α ≫ 1 (see diffusion.STIFF_ALPHA); the factor is ~1 ± 1e-8 per step."""
    after = _total(u)
    if after > 0.0:
        g = before / after
        flat = u.ravel()
        for v in range(flat.size):
            flat[v] *= g


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def _cytokine(u, f, substeps, ce, cf, prod, alpha, fx, fy, fz, stiff
              ):  # pragma: no cover - compiled
    """All sub-steps of cytokine field ``u`` (row ``f`` of the fields): production ``prod``
    (per h, per voxel), decay (``ce = e^{-kh}``, ``cf = (1-e^{-kh})/k``), diffusion."""
    flat = u.ravel()
    for _ in range(substeps):
        for v in range(flat.size):
            flat[v] = flat[v] * ce + prod[v] * cf
        before = _total(u) if stiff[f] else 0.0
        lod_field(u, alpha[f], fx, fy, fz, f)
        if stiff[f]:
            _restore(u, before)


@numba.njit(cache=kernel_cache.ENABLED, nogil=True)
def advance(u4, npl, substeps, h, inv_lam, e, src, sec_h, cyt_e, cyt_frac, cyt_sec, drain,
            sin_idx, sin_rate, vox_amount, alpha, fx, fy, fz, stiff, Eb, S_b, e_b,
            frac_b, lam_b, clear, home, rem, route_pool, lam_routes, blood_route, lost,
            led_secreted, led_cleared, led_removed, blood_taken, led_uptake, first, step
            ):  # pragma: no cover - compiled
    """Advance fields ``first, first + step, …`` of ``u4`` (F, nz, ny, nx), and the blood
    pools ``Eb`` of those that are EV pools, over ``substeps`` sub-steps of ``h`` hours, in
    place, and accumulate their ledger terms (one share of a parallel call).

    EV pools (npl, nvox): ``inv_lam`` ``1/λ`` of the loss rate λ (0 where λ = 0), ``e``
    ``e^{-λh}``, ``src`` what the source ``S`` adds over a sub-step ``S·(1-e^{-λh})/λ``,
    ``sec_h`` ``S·h``. Cytokines: ``cyt_e, cyt_frac`` (ncyt) ``e^{-kh}``,
    ``(1-e^{-kh})/k`` of the decay rate k, ``cyt_sec`` (ncyt, nvox) the production.
    Drainage: ``drain`` (npl) the marrow-average rate, ``sin_rate`` its multiplier in each
    sinusoid voxel ``sin_idx``. Diffusion: ``alpha`` (F), Thomas factors ``fx, fy, fz``
    stacked (cp, inv) as (2, F, n), ``stiff`` (F) the fields whose total is restored.
    Blood (npl): ``S_b`` secretion (EV/h), ``e_b, frac_b, lam_b`` as above, ``clear, home,
    rem`` the sinks' rates; routes: ``route_pool``, ``lam_routes`` (1/h), ``blood_route``.
    ``lost`` (npl, nvox) accumulates what each voxel lost (÷ λ × a sink's rate is what that
    sink took: the rates are constant over the step).
    """
    for f in range(first, u4.shape[0], step):
        if f < npl:
            _pool(u4[f], f, substeps, h, inv_lam, e, src, sec_h, drain, sin_idx, sin_rate,
                  vox_amount, alpha, fx, fy, fz, stiff, Eb, S_b, e_b, frac_b, lam_b, clear,
                  home, rem, route_pool, lam_routes, blood_route, lost, led_secreted,
                  led_cleared, led_removed, blood_taken, led_uptake)
        else:
            j = f - npl
            _cytokine(u4[f], f, substeps, cyt_e[j], cyt_frac[j], cyt_sec[j], alpha, fx, fy,
                      fz, stiff)


def exact_factors(lam: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``e^{-λh}``, ``(1 - e^{-λh})/λ`` (→ ``h`` as λ → 0) and ``1/λ`` (0 where λ = 0) for
    loss rates ``lam`` (1/h) over ``h`` hours."""
    lam = np.asarray(lam, dtype=float)
    pos = lam > 0
    inv = np.divide(1.0, lam, out=np.zeros_like(lam), where=pos)
    x = np.negative(lam * h)  # in place from here: one (pools × voxels) array at a time
    e = np.exp(x)
    np.expm1(x, out=x)
    np.negative(x, out=x)
    x *= inv
    x[~pos] = h
    return e, x, inv


def react(run: Section, vox, sec_rate, uptake, rem, beh_pop, N, upt_f) -> np.ndarray:
    """Fields and blood over one step, in ``run.substeps`` sub-steps of reaction (exact
    for constant rates), diffusion and blood (one compiled call, :mod:`.fields`).
    ``uptake`` = (route, agent, rate 1/h) entries of marrow uptake. Returns cargo copies
    delivered per real cell, per agent and cargo column (see ``Section.cargo_global``)."""
    kin, npl, nvox = run.kin, run.npl, run.n_vox
    h = run.dt / run.substeps
    n = vox.size
    nr = kin.n_routes
    up_route, up_agent, up_rate = uptake
    flat = kin.r_pool[up_route] * nvox + vox[up_agent]  # (pool, voxel) of each entry
    lam = kin.pl_deg[:, None] + kin.pl_drain[:, None] * run.drain_v[None, :]
    if flat.size:
        lam += np.bincount(flat, up_rate, minlength=npl * nvox).reshape(npl, nvox)
    e, frac, inv_lam = exact_factors(lam, h)
    del lam
    sec = np.ascontiguousarray(sec_rate[:npl])
    src = np.multiply(sec, frac, out=frac)  # what the source adds over a sub-step
    lost = np.zeros((npl, run.n_vox))
    cyt_e, cyt_frac, _ = exact_factors(kin.cyt_decay, h)
    S_b, lam_routes, lam_b, rem = blood_rates(run, rem, beh_pop, N, upt_f)
    e_b, frac_b, _ = exact_factors(lam_b, h)
    run.blood_taken = np.zeros(nr)
    secreted_b, cleared, removed = np.zeros(npl), np.zeros(npl), np.zeros(npl)
    d = run.diffuser
    args = (run.fields, npl, run.substeps, h, inv_lam, e, src, sec * h,
            cyt_e, cyt_frac, np.ascontiguousarray(sec_rate[npl:]),
            kin.pl_drain.astype(float), run.sin_idx, run.sin_rate, run.vox_amount,
            d.alpha, d.fx, d.fy, d.fz, d.stiff_mask,
            run.Eb, S_b, e_b, frac_b, lam_b, kin.pl_clear.astype(float),
            kin.pl_home.astype(float), rem, run.route_pool, lam_routes,
            run.blood_route, lost, secreted_b, cleared, removed, run.blood_taken,
            run.led_uptake)
    threads.run(lambda share, shares: advance(*args, share, shares),
                run.fields.size * run.substeps, "fields")
    args = ()  # frees the step's factors
    del e, src
    share_sum = np.multiply(lost, inv_lam, out=lost)  # Σ over sub-steps of lost/λ (λ
    del inv_lam  # constant over the step)
    run.led["secreted"] += secreted_b
    run.led["cleared"] += cleared
    run.led["removed"] += removed
    run.led["secreted"] += sec.sum(axis=1) * run.dt * run.vox_amount
    run.led["degraded"] += kin.pl_deg * share_sum.sum(axis=1) * run.vox_amount
    # EVs (marrow-equivalent) taken up per uptake entry, then per route and per agent
    taken = up_rate * share_sum.ravel()[flat] * run.vox_amount
    if nr:
        run.led_uptake += np.bincount(up_route, taken, minlength=nr)
    # cargo delivered per real cell (copies), per agent and cargo slot
    if nr and n and taken.size:
        per_cell = sparse.csr_matrix(
            (taken / run.w[run.agents.type[up_agent]], (up_agent, up_route)),
            shape=(n, nr))
        got = (per_cell @ run.Q_marrow_T).tocoo()
        own = run.cargo_type[got.col] == run.agents.type[got.row]
        out = np.zeros_like(run.agents.cargo)
        out[got.row[own], run.cargo_col[got.col[own]]] = got.data[own]
        return out
    return np.zeros_like(run.agents.cargo)


def blood_rates(run: Section, rem, beh_pop, N, upt_f):
    """Blood secretion (EV/h), uptake rate per route (1/h), total loss rate per pool
    (1/h) and the removal rate (1/h)."""
    kin = run.kin
    S_b = (beh_pop[kin.pl_sec] * np.where(kin.pl_per_death, run.dying_blood[kin.pl_src],
                                          N[kin.pl_src]) * (1.0 - kin.pl_in_marrow))
    lam_routes = np.zeros(kin.n_routes)
    blood_r = ~kin.r_marrow
    if kin.n_routes:
        mult = beh_pop[kin.r_mult] * upt_f
        lam_routes[blood_r] = (kin.r_rate * mult * N[kin.r_target] / run.V_b)[blood_r]
    lam_up = kin.R_to_pool_b @ lam_routes if kin.n_routes else np.zeros(run.npl)
    lam = kin.pl_clear + kin.pl_home + rem + lam_up
    return (np.asarray(S_b, float), lam_routes, np.asarray(lam, float),
            np.asarray(rem, float))
