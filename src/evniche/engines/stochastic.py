"""Stochastic engine: small cell populations as random events, the rest as ODEs.

The engine runs the same compiled network as the well-mixed engine (:mod:`.compiled`), as
a hybrid of two regimes, chosen per cell type:

* a cell type with fewer than ``threshold`` cells (default :data:`THRESHOLD`, 1,000
  cells) is **discrete**: a whole number of cells that changes only by random events,
  simulated exactly by Gillespie's direct method (SSA). Its events are the terms of the
  well-mixed equations taken one cell at a time, with the same rates (per hour, from the
  same behaviors, rules, feedback, niche, homeostasis and crowding at the current state):

  - a **division** (rate proliferation · N): it fails with probability
    ``division_failure`` (both daughters die); otherwise each daughter independently
    mutates (probability: the mutation behavior), or else self-renews (probability:
    self-renewal, with feedback and niche), or else differentiates into a target chosen by
    the differentiation fractions (a share the fractions leave over leaves the model);
  - a **death** (rate death · homeostasis · N, plus crowding) and an **exit** (egress into
    the ``exit_to`` type);
  - a **kill** of one of its cells by a killer type (rate behavior · N_killer · N / N_total);
  - the arrival of one cell from a continuous type that differentiates, mutates or exits
    into it (rate: that flow of the well-mixed equations), e.g. the first leukemic cell
    mutating out of a large stem-cell pool.

  A dying cell of a per-death EV pool's source releases that pool's EVs per dying cell
  (into the pool and the ledger's ``secreted`` alike), so the EV ledger still closes.

* a cell type with ``threshold`` cells or more is **continuous** and follows the
  well-mixed ODEs, as do EV pools, ledgers, cargo per cell, cell states, cytokines and
  drugs (numbers far too large to count one by one).

The two are coupled by operator splitting in steps of at most ``coupling_hours`` (default
:data:`COUPLING_HOURS`, 6 h; steps also end at output times, intervention breakpoints and
whenever a discrete type reaches the threshold): over a step the discrete events are drawn
exactly with the continuous state held at its value at the start of the step, then the
continuous part is integrated over the step (CVODE with the exact sparse Jacobian, as
the well-mixed engine, :func:`.solver.solve`) with each discrete type at its count averaged
over the step's events and the per-death EVs of the step's discrete deaths released evenly
over the step (so secretion, linear in the counts, adds up to what the events gave); the
discrete counts then take their values at the end of the step. Regimes are re-decided at
every step: a discrete type at or above the threshold becomes continuous; a continuous
type below it becomes discrete, rounded to a whole number at random (down or up with the
probabilities that keep its mean). With no discrete event possible (every discrete type
empty with no inflow) a step lasts up to the next output time. The splitting error
shrinks with ``coupling_hours``; 6 h is short beside the cell kinetics (days), and EVs
follow their sources within minutes to hours. See docs/stochastic.md.

Randomness: one :class:`numpy.random.Generator` (PCG64) seeded with the run's ``--seed``
draws every event and every rounding, so the same seed gives the same trajectory.

:func:`establishment` runs many short realizations of a model from one cell of a type and
counts how many reach the threshold (established) or die out: the probability that one
leukemic stem cell takes hold, 1 − death/birth for a plain birth-death process.
Units: hours inside, days at the interface; counts; EVs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numba
import numpy as np
from scipy import sparse

from ..compile.network import Network
from ..compile.schedule import Schedule
from ..errors import SimulationError
from . import wellmixed
from .compiled import (
    DIFF_FRAC,
    DIFF_FROM,
    DIFF_TO,
    EXIT_FROM,
    EXIT_INTO,
    I_CELL,
    I_EV_B,
    I_EV_M,
    K_BEH,
    K_KILLER,
    K_TARGET,
    LED_SECRETED,
    MUT_FROM,
    MUT_TO,
    PL_IN_MARROW,
    PL_PER_DEATH,
    PL_SEC,
    PL_SRC,
    CompiledKinetics,
    _core_rates,
    _parts,
    _rhs,
    _seg,
    _step_size,
)
from .kernel_cache import ENABLED as _CACHE
from .kinetics import Kinetics
from .solver import solve
from .stopwatch import Stopwatch

#: default threshold (cells): a type with fewer cells is simulated one event at a time
THRESHOLD = 1000.0
#: default longest coupling step between the discrete and the continuous part (h)
COUPLING_HOURS = 6.0
#: options of the engine, with their defaults
DEFAULTS: dict[str, float | bool] = {"threshold": THRESHOLD, "coupling_hours": COUPLING_HOURS,
                                     "output_hours": 24.0, "rtol": 1e-6,
                                     "equilibrate_first": True}

# what _ssa returns as its status
REACHED_END, SWITCHED, EXTINCT = 0, 1, 2


def validated_options(options: Mapping[str, object] | None) -> dict:
    """The engine's options with defaults filled in, or a SimulationError naming the
    option and what it expects: ``threshold`` (cells, a number ≥ 1), ``coupling_hours``
    (h, > 0), ``output_hours`` (h, > 0), ``rtol`` (in (0, 0.1]), ``equilibrate_first``
    (true/false)."""
    out = dict(DEFAULTS)
    for key, value in dict(options or {}).items():
        if key not in DEFAULTS:
            raise SimulationError(f"unknown option '{key}' of the stochastic engine; "
                                  f"choose from {', '.join(DEFAULTS)}")
        if key == "equilibrate_first":
            if not isinstance(value, bool | np.bool_):
                raise SimulationError(f"option equilibrate_first of the stochastic engine "
                                      f"must be true or false, got {value!r}")
            out[key] = bool(value)
            continue
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        low, high, what = {"threshold": (1.0, math.inf, "a number of cells >= 1"),
                           "coupling_hours": (0.0, math.inf, "a number of hours > 0"),
                           "output_hours": (0.0, math.inf, "a number of hours > 0"),
                           "rtol": (0.0, 0.1, "a relative tolerance in (0, 0.1]")}[key]
        ok = math.isfinite(number) and (number >= low if key == "threshold" else number > low)
        if not (ok and number <= high):
            raise SimulationError(f"option {key} of the stochastic engine must be {what}, "
                                  f"got {value!r}")
        out[key] = number
    return out


# ============================================================================ kernels
@numba.njit(cache=_CACHE)
def _cell_rates(y, ix, ixo, fx, fxo, beh_f, upt_f):
    """Per cell type: counts N, the counted total, behaviors (with a 0 appended) and the
    rates of the hematopoiesis core (:func:`.compiled._core_rates`, as the well-mixed
    right-hand side uses them): proliferation (1/h), self-renewal with feedback and niche,
    division failure, death with homeostasis and crowding (1/h), exit (1/h) and mutation
    per daughter."""
    N, n_total, _, _, beh = _parts(y, ix, ixo, fx, fxo, beh_f, upt_f)
    prolif, renew, fail, death, exit_, mut = _core_rates(y, N, beh, ix, ixo, fx, fxo)
    return N, n_total, beh, prolif, renew, fail, death, exit_, mut


@numba.njit(cache=_CACHE)
def _discrete_part(y, dy, ix, ixo, fx, fxo, beh_f, upt_f, discrete):
    """Take out of ``dy`` (dy/dt of :func:`.compiled._rhs`) the expected contribution of
    every term that the discrete events carry: all flows out of a discrete type, every
    flow into one, kills of its cells and the per-death EVs of its dying cells. What is
    left is the continuous part; discrete types' rows are exactly 0."""
    N, n_total, beh, prolif, renew, fail, death, exit_, mut = _cell_rates(
        y, ix, ixo, fx, fxo, beh_f, upt_f)
    i_cell = _seg(ix, ixo, I_CELL)
    nN = N.size
    dying = np.zeros(nN, y.dtype)
    for i in range(nN):
        if discrete[i]:
            dy[i_cell[i]] -= ((2.0 * renew[i] * (1.0 - fail[i]) * (1.0 - mut[i]) - 1.0)
                              * prolif[i] * N[i] - (death[i] + exit_[i]) * N[i])
            dying[i] = (death[i] + 2.0 * fail[i] * prolif[i]) * N[i]
    diff_from = _seg(ix, ixo, DIFF_FROM)
    diff_to = _seg(ix, ixo, DIFF_TO)
    diff_frac = _seg(fx, fxo, DIFF_FRAC)
    for k in range(diff_from.size):
        a = diff_from[k]
        if discrete[a] or discrete[diff_to[k]]:
            dy[i_cell[diff_to[k]]] -= (2.0 * (1.0 - renew[a]) * (1.0 - fail[a])
                                       * (1.0 - mut[a]) * diff_frac[k] * prolif[a] * N[a])
    mut_from = _seg(ix, ixo, MUT_FROM)
    mut_to = _seg(ix, ixo, MUT_TO)
    for k in range(mut_from.size):
        a = mut_from[k]
        if discrete[a] or discrete[mut_to[k]]:
            dy[i_cell[mut_to[k]]] -= 2.0 * (1.0 - fail[a]) * mut[a] * prolif[a] * N[a]
    exit_from = _seg(ix, ixo, EXIT_FROM)
    exit_into = _seg(ix, ixo, EXIT_INTO)
    for k in range(exit_from.size):
        a = exit_from[k]
        if discrete[a] or discrete[exit_into[k]]:
            dy[i_cell[exit_into[k]]] -= exit_[a] * N[a]
    k_killer = _seg(ix, ixo, K_KILLER)
    k_target = _seg(ix, ixo, K_TARGET)
    k_beh = _seg(ix, ixo, K_BEH)
    for k in range(k_beh.size):
        t = k_target[k]
        if discrete[t]:
            kills = beh[k_beh[k]] * N[k_killer[k]] * N[t] / n_total
            dy[i_cell[t]] += kills
            dying[t] += kills
    pl_src = _seg(ix, ixo, PL_SRC)
    pl_sec = _seg(ix, ixo, PL_SEC)
    pl_per_death = _seg(ix, ixo, PL_PER_DEATH)
    pl_in_marrow = _seg(fx, fxo, PL_IN_MARROW)
    i_ev_m = _seg(ix, ixo, I_EV_M)
    i_ev_b = _seg(ix, ixo, I_EV_B)
    led_sec = _seg(ix, ixo, LED_SECRETED)
    for p in range(pl_src.size):
        if pl_per_death[p] and discrete[pl_src[p]]:
            S = beh[pl_sec[p]] * dying[pl_src[p]]
            dy[i_ev_m[p]] -= S * pl_in_marrow[p]
            dy[i_ev_b[p]] -= S * (1.0 - pl_in_marrow[p])
            dy[led_sec[p]] -= S
    for i in range(nN):
        if discrete[i]:
            dy[i_cell[i]] = dy[i_cell[i]] * 0.0


@numba.njit(cache=_CACHE)
def _hybrid_rhs(y, dy, ix, ixo, fx, fxo, beh_f, upt_f, rem, inf, discrete, release_rate):
    """dy/dt of the continuous part (per hour): :func:`.compiled._rhs` less the terms
    the discrete events carry (:func:`_discrete_part`), plus ``release_rate`` (EVs per
    hour, one per pool: the per-death EVs of the step's discrete deaths) into each pool's
    compartment and its ledger's ``secreted``."""
    _rhs(y, dy, ix, ixo, fx, fxo, beh_f, upt_f, rem, inf)
    _discrete_part(y, dy, ix, ixo, fx, fxo, beh_f, upt_f, discrete)
    pl_in_marrow = _seg(fx, fxo, PL_IN_MARROW)
    i_ev_m = _seg(ix, ixo, I_EV_M)
    i_ev_b = _seg(ix, ixo, I_EV_B)
    led_sec = _seg(ix, ixo, LED_SECRETED)
    for p in range(release_rate.size):
        if release_rate[p] != 0.0:
            dy[i_ev_m[p]] += release_rate[p] * pl_in_marrow[p]
            dy[i_ev_b[p]] += release_rate[p] * (1.0 - pl_in_marrow[p])
            dy[led_sec[p]] += release_rate[p]


@numba.njit(cache=_CACHE)
def _hybrid_jacobian(y, data, colors, n_colors, nz_rows, nz_cols, ix, ixo, fx, fxo, beh_f,
                     upt_f, rem, inf, discrete, release_rate):
    """Jacobian values of :func:`_hybrid_rhs` (compressed columns of the full network's
    pattern), by one complex-step evaluation per color as :func:`.compiled._jacobian`."""
    n = y.size
    yc = np.empty(n, np.complex128)
    fc = np.empty(n, np.complex128)
    for c in range(n_colors):
        for j in range(n):
            yc[j] = y[j] + (1j * _step_size(y[j]) if colors[j] == c else 0.0)
        _hybrid_rhs(yc, fc, ix, ixo, fx, fxo, beh_f, upt_f, rem, inf, discrete, release_rate)
        for k in range(nz_rows.size):
            j = nz_cols[k]
            if colors[j] == c:
                data[k] = fc[nz_rows[k]].imag / _step_size(y[j])


@numba.njit(cache=_CACHE)
def _release(released, ix, ixo, beh, source, cells):
    """``cells`` dying cells of type ``source``: each per-death pool of that source is
    owed its EVs per dying cell (``released``, EVs per pool)."""
    pl_src = _seg(ix, ixo, PL_SRC)
    pl_sec = _seg(ix, ixo, PL_SEC)
    pl_per_death = _seg(ix, ixo, PL_PER_DEATH)
    for p in range(pl_src.size):
        if pl_per_death[p] and pl_src[p] == source:
            released[p] += beh[pl_sec[p]] * cells


@numba.njit(cache=_CACHE)
def _unit(v):
    """``v`` clipped to [0, 1] (a probability)."""
    return min(max(v, 0.0), 1.0)


@numba.njit(cache=_CACHE)
def _propensities(y, ix, ixo, fx, fxo, beh_f, upt_f, discrete, a):
    """Fill ``a`` with the rate (events per hour) of every discrete channel, in the order
    [division of each type, death of each type, exit of each type, differentiation
    arrivals, mutation arrivals, egress arrivals (continuous source → discrete target),
    kills of discrete cells]; return the total and the per-type rates."""
    N, n_total, beh, prolif, renew, fail, death, exit_, mut = _cell_rates(
        y, ix, ixo, fx, fxo, beh_f, upt_f)
    nN = N.size
    diff_from = _seg(ix, ixo, DIFF_FROM)
    diff_to = _seg(ix, ixo, DIFF_TO)
    diff_frac = _seg(fx, fxo, DIFF_FRAC)
    mut_from = _seg(ix, ixo, MUT_FROM)
    mut_to = _seg(ix, ixo, MUT_TO)
    exit_from = _seg(ix, ixo, EXIT_FROM)
    exit_into = _seg(ix, ixo, EXIT_INTO)
    k_killer = _seg(ix, ixo, K_KILLER)
    k_target = _seg(ix, ixo, K_TARGET)
    k_beh = _seg(ix, ixo, K_BEH)
    a[:] = 0.0
    for i in range(nN):
        if discrete[i] and N[i] > 0.0:
            a[i] = max(prolif[i], 0.0) * N[i]
            a[nN + i] = max(death[i], 0.0) * N[i]
            a[2 * nN + i] = max(exit_[i], 0.0) * N[i]
    o = 3 * nN
    for k in range(diff_from.size):
        s = diff_from[k]
        if discrete[diff_to[k]] and not discrete[s]:
            a[o + k] = max(2.0 * (1.0 - renew[s]) * (1.0 - fail[s]) * (1.0 - mut[s])
                           * diff_frac[k] * prolif[s] * N[s], 0.0)
    o += diff_from.size
    for k in range(mut_from.size):
        s = mut_from[k]
        if discrete[mut_to[k]] and not discrete[s]:
            a[o + k] = max(2.0 * (1.0 - fail[s]) * mut[s] * prolif[s] * N[s], 0.0)
    o += mut_from.size
    for k in range(exit_from.size):
        s = exit_from[k]
        if discrete[exit_into[k]] and not discrete[s]:
            a[o + k] = max(exit_[s] * N[s], 0.0)
    o += exit_from.size
    for k in range(k_beh.size):
        t = k_target[k]
        if discrete[t] and N[t] > 0.0:
            a[o + k] = max(beh[k_beh[k]] * N[k_killer[k]] * N[t] / n_total, 0.0)
    total = 0.0
    for k in range(a.size):
        total += a[k]
    return total, beh, renew, fail, mut


@numba.njit(cache=_CACHE)
def _add(y, i_cell, discrete, switch, cell, amount):
    """Add ``amount`` cells to type ``cell``; True when it is discrete and now has
    ``switch[cell]`` cells or more (it becomes continuous)."""
    y[i_cell[cell]] += amount
    return discrete[cell] and y[i_cell[cell]] >= switch[cell]


@numba.njit(cache=_CACHE)
def _ssa(y, t0, t1, ix, ixo, fx, fxo, beh_f, upt_f, discrete, switch, watch, rng,
         integral, released):
    """Gillespie's direct method for the discrete channels from ``t0`` to ``t1`` (h), the
    continuous state held; ``y``'s counts are changed in place, ``integral`` (one entry per
    cell type) gains each type's count integrated over the time simulated (cell·h) and
    ``released`` (one entry per pool) the per-death EVs of the cells that died. Stops early
    when a discrete type reaches its ``switch`` cells (one per type; status SWITCHED) or
    when type ``watch``
    (≥ 0) has no cells left (status EXTINCT). Returns (time reached, events, status)."""
    i_cell = _seg(ix, ixo, I_CELL)
    nN = i_cell.size
    diff_from = _seg(ix, ixo, DIFF_FROM)
    diff_to = _seg(ix, ixo, DIFF_TO)
    diff_frac = _seg(fx, fxo, DIFF_FRAC)
    mut_from = _seg(ix, ixo, MUT_FROM)
    mut_to = _seg(ix, ixo, MUT_TO)
    exit_from = _seg(ix, ixo, EXIT_FROM)
    exit_into = _seg(ix, ixo, EXIT_INTO)
    k_target = _seg(ix, ixo, K_TARGET)
    n_ch = 3 * nN + diff_from.size + mut_from.size + exit_from.size + k_target.size
    a = np.zeros(n_ch)
    t = t0
    events = 0
    while True:
        if watch >= 0 and y[i_cell[watch]] <= 0.0:
            return t, events, EXTINCT
        total, beh, renew, fail, mut = _propensities(y, ix, ixo, fx, fxo, beh_f, upt_f,
                                                     discrete, a)
        dt = rng.standard_exponential() / total if total > 0.0 else np.inf
        if t + dt >= t1:
            for i in range(nN):
                integral[i] += y[i_cell[i]] * (t1 - t)
            return t1, events, REACHED_END
        for i in range(nN):
            integral[i] += y[i_cell[i]] * dt
        t += dt
        events += 1
        u = rng.random() * total
        ch = 0
        acc = a[0]
        while acc <= u and ch < n_ch - 1:
            ch += 1
            acc += a[ch]
        while a[ch] == 0.0 and ch > 0:  # round-off at the top end: the last live channel
            ch -= 1
        switched = False
        if ch < nN:  # a division of type ch
            i = ch
            y[i_cell[i]] -= 1.0
            if rng.random() < _unit(fail[i]):
                _release(released, ix, ixo, beh, i, 2.0)
            else:
                for _ in range(2):
                    v = rng.random()
                    m = _unit(mut[i])
                    r = _unit(renew[i])
                    if v < m:
                        for k in range(mut_from.size):
                            if mut_from[k] == i:
                                switched |= _add(y, i_cell, discrete, switch, mut_to[k], 1.0)
                                break
                    elif v < m + (1.0 - m) * r:
                        switched |= _add(y, i_cell, discrete, switch, i, 1.0)
                    else:  # differentiates: a target by its fraction (the rest leaves)
                        w = rng.random()
                        cum = 0.0
                        for k in range(diff_from.size):
                            if diff_from[k] == i:
                                cum += diff_frac[k]
                                if w < cum:
                                    switched |= _add(y, i_cell, discrete, switch,
                                                     diff_to[k], 1.0)
                                    break
        elif ch < 2 * nN:  # a death
            i = ch - nN
            y[i_cell[i]] -= 1.0
            _release(released, ix, ixo, beh, i, 1.0)
        elif ch < 3 * nN:  # an exit (into exit_to, if any)
            i = ch - 2 * nN
            y[i_cell[i]] -= 1.0
            for k in range(exit_from.size):
                if exit_from[k] == i:
                    switched |= _add(y, i_cell, discrete, switch, exit_into[k], 1.0)
                    break
        else:
            k = ch - 3 * nN
            if k < diff_from.size:
                switched |= _add(y, i_cell, discrete, switch, diff_to[k], 1.0)
            elif k < diff_from.size + mut_from.size:
                k -= diff_from.size
                switched |= _add(y, i_cell, discrete, switch, mut_to[k], 1.0)
            elif k < diff_from.size + mut_from.size + exit_from.size:
                k -= diff_from.size + mut_from.size
                switched |= _add(y, i_cell, discrete, switch, exit_into[k], 1.0)
            else:
                k -= diff_from.size + mut_from.size + exit_from.size
                y[i_cell[k_target[k]]] -= 1.0
                _release(released, ix, ixo, beh, k_target[k], 1.0)
        if switched:
            return t, events, SWITCHED


@numba.njit(cache=_CACHE)
def _establishment_runs(y0, t_end, runs, ix, ixo, fx, fxo, beh_f, upt_f, threshold, watch,
                        rng):
    """``runs`` realizations of a model of cells alone, all discrete, from ``y0`` to
    ``t_end`` (h): how many had type ``watch`` reach ``threshold`` cells, die out, or
    neither. The other types stay discrete whatever their size (exact; nothing in the
    model is continuous)."""
    nN = _seg(ix, ixo, I_CELL).size
    discrete = np.ones(nN, np.bool_)
    switch = np.full(nN, np.inf)
    switch[watch] = threshold
    integral = np.zeros(nN)
    released = np.zeros(_seg(ix, ixo, PL_SRC).size)
    established = extinct = 0
    for _ in range(runs):
        y = y0.copy()
        _, _, status = _ssa(y, 0.0, t_end, ix, ixo, fx, fxo, beh_f, upt_f, discrete, switch,
                            watch, rng, integral, released)
        if status == SWITCHED:
            established += 1
        elif status == EXTINCT:
            extinct += 1
    return established, extinct, runs - established - extinct


# ============================================================================ driver
@dataclass
class Run:
    """What :meth:`Hybrid.run` gives: sample times (h) and states (time × species), the
    events drawn, the number of right-hand-side evaluations, and how the run ended
    (``"end"``, ``"extinct"``: the watched type died out, ``"established"``: it reached
    the threshold)."""

    t: np.ndarray
    y: np.ndarray
    events: int
    n_rhs: int
    ended: str


class Hybrid:
    """The hybrid SSA/ODE integration of one network, its schedule and engine options
    (:func:`validated_options`), drawing from ``rng``."""

    def __init__(self, kin: Kinetics, schedule: Schedule, options: dict,
                 rng: np.random.Generator, params: dict[str, float] | None = None) -> None:
        self.kin = kin
        self.schedule = schedule
        self.opts = options
        self.rng = rng
        self.segments = wellmixed.SegmentKinetics(kin, schedule, params)
        self.threshold = float(options["threshold"])
        self.switch = np.full(kin.n_cells, self.threshold)
        self.last_step: float | None = None  # h, of the last continuous solve
        # nothing but cells: with every type discrete there is nothing to integrate
        net = kin.net
        self.cells_only = not (net.pools or net.cargo_states or net.cytokines or net.drugs
                               or net.states)

    # -------------------------------------------------------------------- regimes
    def regimes(self, y: np.ndarray) -> np.ndarray:
        """Which types are discrete at ``y`` (fewer cells than the threshold); a type that
        becomes discrete is rounded to a whole number of cells at random, keeping its
        mean."""
        N = y[self.kin.i_cell]
        discrete = N < self.threshold
        for i in np.flatnonzero(discrete):
            v = max(float(N[i]), 0.0)
            whole = math.floor(v)
            if v != whole:
                whole += int(self.rng.random() < v - whole)
            y[self.kin.i_cell[i]] = float(whole)
        return discrete

    # -------------------------------------------------------------------- a step
    def _continuous(self, compiled: CompiledKinetics, mods: tuple, discrete: np.ndarray,
                    y: np.ndarray, a: float, b: float, atol: np.ndarray,
                    stopwatch: Stopwatch | None, mean_counts: np.ndarray | None = None,
                    released: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """Integrate the continuous part from ``a`` to ``b`` (h) and return the state at
        ``b`` with the discrete counts of ``y``. Over the step the continuous part sees
        each discrete type at ``mean_counts`` (cells, one per type: its count averaged
        over the step's events) or, without them, at its count in ``y``: secretion,
        cytokine production and uptake, linear in the counts, then add up over the step
        to what the events' counts give. ``released`` (EVs, one per pool): the per-death
        EVs of the step's discrete deaths, released evenly over the step."""
        if self.cells_only and discrete.all():
            return y, 0
        cells = self.kin.i_cell[discrete]
        start = y.copy()
        if mean_counts is not None:
            start[cells] = mean_counts[discrete]
        ix, ixo, fx, fxo = compiled.ints, compiled.int_off, compiled.floats, \
            compiled.float_off
        pattern = compiled.sparsity()
        held = discrete.astype(np.bool_)
        n = y.size
        rate = np.zeros(self.kin.n_pools) if released is None else released / (b - a)

        def f(t: float, u: np.ndarray) -> np.ndarray:
            out = np.empty(n)
            _hybrid_rhs(np.ascontiguousarray(u, dtype=float), out, ix, ixo, fx, fxo, *mods,
                        held, rate)
            return out

        def jac(t: float, u: np.ndarray) -> sparse.csc_matrix:
            data = np.empty(pattern.nnz)
            _hybrid_jacobian(np.ascontiguousarray(u, dtype=float), data, compiled.colors,
                             compiled.n_colors, compiled.nz_rows, compiled.nz_cols, ix, ixo,
                             fx, fxo, *mods, held, rate)
            return sparse.csc_matrix((data, pattern.indices, pattern.indptr),
                                     shape=pattern.shape)

        rtol = float(self.opts["rtol"])
        first = None if self.last_step is None else min(self.last_step, b - a)
        sol = solve(self.segments.at(a), f, (a, b), start, rtol=rtol,
                    atol=wellmixed.ledger_tolerances(self.kin, start, atol, rtol), jac=jac,
                    sparsity=pattern, stopwatch=stopwatch, first_step=first)
        # the next step starts where this one's step size ended (not from BDF's tiny
        # first guess): the last full step (the very last may be cut short to land on b)
        steps = np.diff(sol.t)
        self.last_step = float(steps[-2] if steps.size > 1 else steps[-1])
        out = sol.y[:, -1].copy()
        # discrete counts were held (their rows of f and of the Jacobian are 0): they end
        # at the counts the events left
        out[cells] = y[cells]
        return out, int(sol.nfev)

    def run(self, y: np.ndarray, t_end: float, grid: np.ndarray, *,
            watch: int = -1, stopwatch: Stopwatch | None = None,
            progress: Callable[[float], None] | None = None) -> Run:
        """Run from state ``y`` at 0 h to ``t_end`` (h), keeping the states at the times
        of ``grid`` (h, within [0, t_end], sorted). With ``watch`` (a cell-type index) the
        run ends early when that type dies out or reaches the threshold."""
        kin, schedule = self.kin, self.schedule
        y = y.copy()
        h_max = float(self.opts["coupling_hours"])
        rtol = float(self.opts["rtol"])
        atol = wellmixed.tolerances(kin, y, rtol)
        idx = kin.species_index
        breaks = schedule.breakpoints(t_end)
        samples_t: list[float] = []
        samples_y: list[np.ndarray] = []
        g = 0  # next grid time to record
        events = n_rhs = 0
        ended = "end"
        n_ch = (3 * kin.n_cells + kin.diff_from.size + kin.mut_from.size
                + kin.exit_from.size + kin.k_target.size)
        a_buf = np.zeros(n_ch)

        def record(t: float) -> None:
            nonlocal g
            while g < grid.size and grid[g] <= t + 1e-9:
                samples_t.append(float(grid[g]))
                samples_y.append(y.copy())
                g += 1

        for a, b in zip(breaks[:-1], breaks[1:], strict=True):
            for jump in schedule.jumps_at(a):
                y[idx[jump.species]] += jump.amount
                if jump.ledger:
                    y[idx[jump.ledger]] += jump.amount
            self.regimes(y)  # the samples show whole cells for discrete types
            record(a)
            beh_f, upt_f, rem = schedule.modifiers(a, kin.n_beh, kin.n_routes, kin.n_pools)
            inf = schedule.infusion(a, len(kin.drug_elim))
            compiled = self.segments.compiled(a)
            mods = compiled.modifiers(beh_f, upt_f, rem, inf)
            ix, ixo, fx, fxo = compiled.ints, compiled.int_off, compiled.floats, \
                compiled.float_off
            t = a
            while t < b:
                if stopwatch is not None:
                    stopwatch.check(t)
                discrete = self.regimes(y)
                if watch >= 0 and not discrete[watch]:
                    ended = "established"
                    break
                if watch >= 0 and y[kin.i_cell[watch]] <= 0.0:
                    ended = "extinct"
                    break
                next_out = grid[g] if g < grid.size else b
                total = 0.0
                mean_counts = released = None
                if discrete.any():
                    total = _propensities(y, ix, ixo, fx, fxo, mods[0], mods[1], discrete,
                                          a_buf)[0]
                t_next = min(b, next_out if next_out > t else b)
                if total > 0.0:
                    if not (self.cells_only and discrete.all()):  # else nothing to couple
                        t_next = min(t_next, t + h_max)
                    integral = np.zeros(kin.n_cells)
                    released = np.zeros(kin.n_pools)
                    t_reached, n_ev, status = _ssa(y, t, t_next, ix, ixo, fx, fxo, mods[0],
                                                   mods[1], discrete, self.switch, watch,
                                                   self.rng, integral, released)
                    events += n_ev
                    if status != REACHED_END and t_reached > t:
                        t_next = t_reached
                    if status == REACHED_END or t_reached > t:
                        mean_counts = integral / (t_next - t)
                y, used = self._continuous(compiled, mods, discrete, y, t, t_next, atol,
                                           stopwatch, mean_counts, released)
                n_rhs += used
                t = t_next
                record(t)
                if progress is not None:
                    progress(t / t_end)
            if ended != "end":
                break
        if ended != "end":  # the rest of the grid: the state where the run ended
            while g < grid.size:
                samples_t.append(float(grid[g]))
                samples_y.append(y.copy())
                g += 1
        return Run(np.array(samples_t), np.array(samples_y).reshape(len(samples_t), -1),
                   events, n_rhs, ended)


def _grid(t_end: float, output_hours: float) -> np.ndarray:
    grid = np.arange(0.0, t_end + 1e-9, output_hours)
    return grid if grid[-1] >= t_end else np.append(grid, t_end)


def integrate(net: Network, days: float, schedule: Schedule | None = None, *, seed: int = 0,
              params: dict[str, float] | None = None,
              progress: Callable[[float], None] | None = None,
              wall_limit_s: float | None = None, **options) -> wellmixed.Solution:
    """Simulate ``net`` for ``days`` with the hybrid engine (options:
    :func:`validated_options`) and return the states every ``output_hours`` as a
    :class:`.wellmixed.Solution` (the ledger error included; a SimulationError if the EV
    ledger does not close within :data:`.wellmixed.LEDGER_TOLERANCE`). ``seed`` seeds the
    run's random generator: the same seed gives the same run."""
    opts = validated_options(options)
    if not days > 0:
        raise SimulationError(f"--days must be positive, got {days}")
    stopwatch = Stopwatch(wall_limit_s, days)
    kin = Kinetics(net, params)
    schedule = schedule or Schedule()
    rng = np.random.default_rng(seed)
    y0 = wellmixed.starting_state(kin, bool(opts["equilibrate_first"]), stopwatch)
    hybrid = Hybrid(kin, schedule, opts, rng, params)
    t_end = days * 24.0
    result = hybrid.run(y0, t_end, _grid(t_end, float(opts["output_hours"])),
                        stopwatch=stopwatch, progress=progress)
    error = wellmixed.ledger_error(kin, y0, result.y[-1])
    if error > wellmixed.LEDGER_TOLERANCE:
        raise SimulationError(f"EV ledger does not close: relative error {error:.3e} > "
                              f"{wellmixed.LEDGER_TOLERANCE:g}")
    sol = wellmixed.Solution(t=result.t, y=result.y, kinetics=kin, schedule=schedule,
                             ledger_error=error, initial=y0, n_rhs=result.n_rhs,
                             segments=hybrid.segments)
    sol.events = result.events  # type: ignore[attr-defined]
    return sol


@dataclass(frozen=True)
class Establishment:
    """Outcome of :func:`establishment`: of ``runs`` runs from ``cells`` cells of
    ``cell_type``, how many reached the threshold (``established``), died out
    (``extinct``) or neither within ``days`` (``undecided``)."""

    cell_type: str
    cells: int
    runs: int
    established: int
    extinct: int
    undecided: int
    threshold: float
    days: float

    @property
    def probability(self) -> float:
        """Share of runs that established."""
        return self.established / self.runs


def establishment(model, cell_type: str, runs: int = 10_000, days: float = 365.0,
                  seed: int = 0, cells: int = 1, overrides: dict | None = None,
                  **options) -> Establishment:
    """Run ``model`` ``runs`` times from ``cells`` cells of ``cell_type`` (every other
    leukemic type emptied, the rest at the model's starting state) and count how many runs
    reach the threshold (options: :func:`validated_options`) before ``days``, how many die
    out, and how many neither. One generator seeded with ``seed`` draws all runs in turn.
    For a plain birth-death process (birth b, death d per hour) the share that establishes
    tends to 1 − d/b (a branching process), for a threshold well above 1 cell."""
    from . import cost, prepare

    days = cost.check_days(days)
    seed = cost.check_seed(seed)
    if isinstance(runs, bool) or not isinstance(runs, int | np.integer) or runs < 1:
        raise SimulationError(f"runs must be a whole number >= 1, got {runs!r}")
    if isinstance(cells, bool) or not isinstance(cells, int | np.integer) or cells < 1:
        raise SimulationError(f"cells must be a whole number >= 1, got {cells!r}")
    opts = validated_options(options)
    if cells >= opts["threshold"]:
        raise SimulationError(f"cells ({cells}) must lie below the threshold "
                              f"({opts['threshold']:g}): a population at the threshold is "
                              "already established")
    net, schedule = prepare(model, overrides, None, days)
    cidx = net.cell_index()
    if cell_type not in cidx:
        raise SimulationError(f"'{cell_type}' is not a cell type of model '{net.name}'; "
                              f"choose one of {', '.join(cidx)}")
    kin = Kinetics(net)
    y0 = wellmixed.starting_state(kin, bool(opts["equilibrate_first"]))
    for name in net.leukemic:
        y0[kin.i_cell[cidx[name]]] = 0.0
    watch = cidx[cell_type]
    y0[kin.i_cell[watch]] = float(cells)
    rng = np.random.default_rng(seed)
    hybrid = Hybrid(kin, schedule, opts, rng)
    t_end = days * 24.0
    if hybrid.cells_only and schedule.breakpoints(t_end) == [0.0, t_end] and bool(
            np.all(y0[kin.i_cell] < opts["threshold"])):
        # cells alone, all discrete, no intervention: every run in compiled code
        compiled = hybrid.segments.compiled(0.0)
        beh_f, upt_f, _, _ = compiled.modifiers()
        y = y0.copy()
        hybrid.regimes(y)
        established, extinct, undecided = _establishment_runs(
            y, t_end, int(runs), compiled.ints, compiled.int_off, compiled.floats,
            compiled.float_off, beh_f, upt_f, float(opts["threshold"]), watch, rng)
    else:
        grid = np.array([t_end])
        counts = {"established": 0, "extinct": 0, "end": 0}
        for _ in range(int(runs)):
            counts[hybrid.run(y0, t_end, grid, watch=watch).ended] += 1
        established, extinct, undecided = (counts["established"], counts["extinct"],
                                           counts["end"])
    return Establishment(cell_type, int(cells), int(runs), int(established), int(extinct),
                         int(undecided), float(opts["threshold"]), days)


__all__ = ["COUPLING_HOURS", "THRESHOLD", "Establishment", "Hybrid", "establishment",
           "integrate", "validated_options"]
