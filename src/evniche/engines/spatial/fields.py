"""The voxel fields and the blood pools over one cell step, in one compiled call.

A cell step of ``dt`` hours is split into ``substeps`` field sub-steps of ``h = dt /
substeps``. Each sub-step, in this order (operator splitting):

1. reaction in every voxel, exact for the step's constant rates. An EV pool's
   concentration ``c`` with source ``S`` and first-order loss ``λ`` (degradation, drainage
   in sinusoid voxels, uptake by the voxel's agents) becomes ``c·e^{-λh} + S·(1 -
   e^{-λh})/λ``; what is lost is split between the sinks in proportion to their rates,
   which keeps the EV ledger exact. Cytokines: production and decay, likewise;
2. diffusion (:mod:`.diffusion`, backward-Euler LOD sweeps);
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

import numba
import numpy as np

from . import kernel_cache
from .diffusion import lod_field


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
    return np.exp(-lam * h), np.where(pos, -np.expm1(-lam * h) * inv, h), inv
