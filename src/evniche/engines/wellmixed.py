"""Well-mixed engine: ODEs over marrow and blood, integrated with an implicit solver.

The system is stiff (EV half-life in blood is minutes, cells change over weeks), so it is
integrated with SUNDIALS' CVODE (BDF; :mod:`.solver`), the compiled right-hand side and its
exact sparse Jacobian (:mod:`.compiled`), the Newton systems by a sparse LU. The ledger
counters stay in the system: they are integrated by the same steps and formulas as the
pools, so the EV balance holds to round-off. Interventions split the run into segments at
their breakpoints (a new CVODE start at each).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..compile.network import Network
from ..compile.schedule import Schedule
from ..errors import SimulationError
from .compiled import CompiledKinetics
from .kinetics import Kinetics, kinetics_of
from .solver import solve
from .stopwatch import Stopwatch

LEDGER_TOLERANCE = 1e-9


class SegmentKinetics:
    """The :class:`Kinetics` in force in each segment of a run: the run's own, or one
    rebuilt with the values of the parameter windows (``scale``/``set``) in force there
    (:mod:`evniche.compile.parameter_windows`), kept per distinct set of values."""

    def __init__(self, kin: Kinetics, schedule: Schedule,
                 params: dict[str, float] | None = None) -> None:
        self.base = kin
        self.schedule = schedule
        self.params = dict(params or {})
        self._cache: dict[tuple, Kinetics] = {(): kin}
        self._compiled: dict[tuple, CompiledKinetics] = {}

    def _key(self, t: float) -> tuple[tuple, dict[str, float]]:
        from ..compile.parameter_windows import values_in_force

        changed = values_in_force(self.base.net, self.schedule, t, self.base.p)
        return tuple(sorted(changed.items())), changed

    def at(self, t: float) -> Kinetics:
        """The kinetics of the segment that starts at (or contains) ``t`` (h)."""
        key, changed = self._key(t)
        if key not in self._cache:
            self._cache[key] = Kinetics(self.base.net, {**self.params, **changed})
        return self._cache[key]

    def compiled(self, t: float) -> CompiledKinetics:
        """The compiled right-hand side and Jacobian of the segment's kinetics (its
        sparsity is structural, so a window that switches on a term is covered)."""
        key, _ = self._key(t)
        if key not in self._compiled:
            self._compiled[key] = CompiledKinetics(self.at(t))
        return self._compiled[key]


@dataclass
class Solution:
    """Raw result: times (h), states (time × species), the kinetics used, wall time.
    ``segments`` gives the kinetics in force at a time (parameter windows)."""

    t: np.ndarray
    y: np.ndarray
    kinetics: Kinetics
    schedule: Schedule
    ledger_error: float
    initial: np.ndarray
    n_rhs: int
    segments: SegmentKinetics | None = None
    #: whether the run reached its end (False: ``integrate``'s ``until`` stopped it)
    complete: bool = True
    #: the relative tolerance it was solved to and its samples' spacing (h)
    rtol: float = float("nan")
    output_hours: float = float("nan")
    #: where it took over another run's samples (h; ``integrate``'s ``branch_from``)
    branched_at: float | None = None


def tolerances(kin: Kinetics, y0: np.ndarray, rtol: float) -> np.ndarray:
    """Absolute tolerances per species, scaled to what each kind of species counts."""
    floor = {"cell": 1e-6, "state": 1e-12, "cargo": 1e-10, "cytokine": 1e-6, "ev": 1e-3,
             "ledger": 1e-3, "drug": 1e-9}
    atol = np.array([floor[s.kind] for s in kin.net.species])
    return np.maximum(atol, 1e-3 * rtol * np.abs(y0))


def ledger_tolerances(kin: Kinetics, y: np.ndarray, atol: np.ndarray, rtol: float
                      ) -> np.ndarray:
    """``atol`` with each pool's ledger entries raised to that pool's error allowance at
    state ``y`` (its EV species' atol + rtol·|EVs present|).

    A ledger entry counts EVs that left or entered a pool, so by conservation its local
    error is the pool's local error with the opposite sign: it cannot be held to a tighter
    absolute tolerance than the pool. Without this a ledger that starts at 0 when a flux
    switches on (``removed`` when a plasmapheresis window opens on a pool of 1e11 EVs)
    would demand sub-EV accuracy of a flux of 1e11 EV/h and the step size would collapse.
    """
    out = atol.copy()
    if not kin.has_ledger:
        return out
    pool_scale = (atol[kin.i_ev_m] + atol[kin.i_ev_b]
                  + rtol * (np.abs(y[kin.i_ev_m]) + np.abs(y[kin.i_ev_b])))
    for rows in kin.i_led.values():
        out[rows] = np.maximum(out[rows], pool_scale)
    if kin.i_led_uptake.size:
        out[kin.i_led_uptake] = np.maximum(out[kin.i_led_uptake], pool_scale[kin.r_pool])
    return out


#: Newton's method on the steady state: at most this many iterations, converged once a step
#: moves no free species by more than NEWTON_STEP of its scale (|value| + atol)
NEWTON_ITERATIONS = 12
NEWTON_STEP = 1e-10
#: right-hand-side evaluations an ensemble member's relaxation to its healthy steady state
#: may take (``newton_first``): one that settles takes 400-82,000 (aml over its default
#: sensitivity design, measured: the most where damped oscillations die out slowly); a
#: healthy state that keeps oscillating (a limit cycle of the hematopoietic feedback loop
#: with some parameter values) is followed cycle by cycle for the whole relaxation (0.8-1.5
#: million evaluations, 40-100 s, measured) and has no steady state to start from
RELAXATION_EVALUATIONS = 100_000


def equilibrate(kin: Kinetics, y0: np.ndarray, years: float = 200.0,
                rtol: float = 1e-8, stopwatch: Stopwatch | None = None,
                newton_first: bool = False) -> np.ndarray:
    """The healthy steady state: leukemic populations removed, the rest relaxed by a long
    integration and polished by Newton's method. Ledger entries are reset to zero.
    ``stopwatch``: the run's wall-clock limit, if any. ``newton_first``: ``y0`` is the
    steady state of nearby parameter values (an ensemble's): Newton's method is tried from
    there first and the relaxation starts where it converged (a state that is already
    steady relaxes in a few steps; an unstable one is left by the relaxation as before) and
    the polish is a sparse Newton; without it the state is made as it always was (a lone
    run's, bitwise: the spatial engine's pinned results start from it)."""
    y = y0.copy()
    leukemic = [kin.net.cell_index()[c] for c in kin.net.leukemic]
    y[kin.i_cell[leukemic]] = 0.0
    free = np.array([i for i, s in enumerate(kin.net.species)
                     if s.kind != "ledger" and not (s.kind == "cell" and i in
                                                   set(kin.i_cell[leukemic]))], int)
    # leukemic populations stay exactly absent (round-off must not seed them)
    healthy = CompiledKinetics(kin, held=kin.i_cell[leukemic])
    healthy_rhs, healthy_jac = healthy.segment()
    if newton_first:
        moved = _newton(kin, healthy_rhs, healthy_jac, y, _moving(healthy_rhs, y, free), rtol,
                        reach=np.inf)
        # only a state of the same kind (every species within a factor of 10 of where it
        # was): Newton's method may also find the trivial or another, unstable, state
        atol = tolerances(kin, y, rtol)
        if moved is not None and np.all(moved[free] <= 10.0 * (np.abs(y[free]) + atol[free])) \
                and np.all(moved[free] >= 0.1 * np.abs(y[free]) - atol[free]):
            y = moved
    end = years * 8766.0
    watch = stopwatch
    if newton_first:  # an ensemble member's: bounded (a lone run's is as it always was)
        from .stopwatch import Budget

        watch = Budget(stopwatch, RELAXATION_EVALUATIONS, (
            "no healthy steady state: the relaxation to it had not settled after {calls} "
            f"right-hand-side evaluations (year {{years:.3g}} of {years:g}; one that settles "
            "takes at most a few tens of thousands): with these parameter values the healthy state "
            "oscillates or drifts instead of settling"))
    # (with newton_first only the last state is kept: CVODE's normal mode, the same steps)
    sol = solve(kin, healthy_rhs, (0.0, end), y, rtol=rtol,
                atol=tolerances(kin, y, rtol), jac=healthy_jac,
                sparsity=healthy.sparsity(), stopwatch=watch, relaxing=True,
                t_eval=np.array([end / 2, end]) if newton_first else None)
    y = sol.y[:, -1].copy()
    # keep the polish only where it refines the relaxed state: Newton can also converge to
    # another steady state (e.g. the trivial one without hematopoiesis)
    if newton_first:  # the sparse Newton (a few ms)
        polished = _newton(kin, healthy_rhs, healthy_jac, y, _moving(healthy_rhs, y, free),
                           rtol)
        if polished is not None:
            y = polished
    else:  # MINPACK's hybr on the dense Jacobian, as a lone run's state was always made
        y = _hybr_polish(kin, healthy_rhs, healthy_jac, y, _moving(healthy_rhs, y, free),
                         rtol)
    for i, s in enumerate(kin.net.species):
        if s.kind == "ledger":
            y[i] = 0.0
    return y


def _moving(rhs: Callable, y: np.ndarray, free: np.ndarray) -> np.ndarray:
    """The species of ``free`` that something changes: a pool without kinetics stays where
    it is (its rows of the Jacobian are empty, and Newton's method would move it freely)."""
    probe = np.abs(y) * (1.0 + 0.1 * np.random.default_rng(0).random(y.size)) + 1.0
    inert = (rhs(0.0, y) == 0.0) & (rhs(0.0, probe) == 0.0)
    return free[~inert[free]]


def _hybr_polish(kin: Kinetics, rhs: Callable, jac: Callable, y: np.ndarray,
                 free: np.ndarray, rtol: float) -> np.ndarray:
    """``y`` polished by MINPACK's hybr (scaled residual, dense Jacobian) where it converges
    to a non-negative state within 1e-3 of each species' scale; else ``y``."""
    from scipy.optimize import root

    scale = np.abs(y[free]) + tolerances(kin, y, rtol)[free]

    def residual(u: np.ndarray) -> np.ndarray:
        full = y.copy()
        full[free] = u * scale
        return rhs(0.0, full)[free] / scale * 1e3

    def residual_jac(u: np.ndarray) -> np.ndarray:
        full = y.copy()
        full[free] = u * scale
        J = jac(0.0, full)[free][:, free].toarray()
        return J * scale[None, :] / scale[:, None] * 1e3

    polished = root(residual, y[free] / scale, jac=residual_jac, method="hybr")
    out = y.copy()
    if polished.success and np.all(polished.x >= -1e-9) and np.max(
            np.abs(polished.x * scale - y[free]) / scale) < 1e-3:
        out[free] = polished.x * scale
    return out


def _newton(kin: Kinetics, rhs: Callable, jac: Callable, y: np.ndarray, free: np.ndarray,
            rtol: float, reach: float = 1e-3) -> np.ndarray | None:
    """``y`` with its ``free`` species moved to where ``rhs`` vanishes by Newton's method
    (the sparse exact Jacobian, sparse LU), or None when it does not converge within
    :data:`NEWTON_ITERATIONS`, goes negative (below -1e-9 of a species' scale) or moves a
    species by more than ``reach`` of its scale from ``y`` (another steady state)."""
    from scipy.sparse.linalg import splu

    if not free.size:
        return y.copy()
    scale = np.abs(y[free]) + tolerances(kin, y, rtol)[free]
    out = y.copy()
    with np.errstate(all="ignore"):
        for _ in range(NEWTON_ITERATIONS):
            try:
                step = splu(jac(0.0, out)[free][:, free].tocsc()).solve(-rhs(0.0, out)[free])
            except (RuntimeError, ValueError):  # a singular matrix
                return None
            if not np.all(np.isfinite(step)):
                return None
            out[free] += step
            if np.max(np.abs(step) / scale) < NEWTON_STEP:
                break
        else:
            return None
    change = np.abs(out[free] - y[free]) / scale
    if np.all(out[free] / scale >= -1e-9) and np.max(change) < reach:
        return out
    return None


#: steady states this process computed or read, by cache file and key (newest last)
_RECENT: dict[str, np.ndarray] = {}
#: how many :data:`_RECENT` keeps
RECENT_STATES = 64


def starting_state(kin: Kinetics, equilibrate_first: bool = True,
                   stopwatch: Stopwatch | None = None,
                   relax_from: np.ndarray | None = None, keep: bool = True) -> np.ndarray:
    """Where a run starts: the model's initial values or, with ``equilibrate_first``,
    the healthy steady state (:func:`equilibrate`) with the leukemic seeds put back.

    ``relax_from``: a state to start the relaxation from instead of the initial values
    (the steady state of the same model under nearby parameter values, as an ensemble
    has): the same steady state within the solver's tolerance, reached in fewer steps.
    The cache key stays that of the initial values.

    The steady state is kept in the user's cache folder (``steady``, see
    :mod:`evniche.user_cache`) under a hash of everything it depends on (the network's
    species, its parameter values, the initial values, the versions of evniche, NumPy,
    SciPy and scikit-sundae (CVODE) and the source of the modules that compute it), so a
    model run again starts from
    the very numbers it computed before. The last :data:`RECENT_STATES` of them are also
    kept in memory (runs of one parameter set with other interventions share one).
    ``keep=False`` writes nothing to the cache folder (a calibration's particles, each
    its own parameter set, would fill it with states never read again)."""
    y = kin.initial_state()
    if not equilibrate_first:
        return y
    leukemic = kin.i_cell[[kin.net.cell_index()[c] for c in kin.net.leukemic]]
    seeds = {i: y[i] for i in leukemic}
    key = _steady_key(kin, y)
    path = _steady_path(kin, y, key)
    key = f"{path or ''}:{key}"  # in memory as a copy of that cache folder's file
    cached = _RECENT.pop(key, None)
    if cached is None:
        cached = _read_steady(path, y.size)
    if cached is None:
        guess = y if relax_from is None else np.asarray(relax_from, float)
        if guess.shape != y.shape:
            raise SimulationError(f"relax_from has {guess.size} state variables; the "
                                  f"model has {y.size}")
        cached = equilibrate(kin, guess, stopwatch=stopwatch,
                             newton_first=relax_from is not None)
        if keep:
            _write_steady(path, cached)
    _RECENT[key] = cached
    while len(_RECENT) > RECENT_STATES:
        _RECENT.pop(next(iter(_RECENT)))
    y = cached.copy()
    for i, v in seeds.items():
        y[i] = v
    return y


def _steady_key(kin: Kinetics, y0: np.ndarray) -> str:
    """What the steady state of ``kin`` from ``y0`` depends on, hashed (hex)."""
    import hashlib
    import json

    import scipy

    from .. import __version__

    return hashlib.sha256(json.dumps(
        [__version__, np.__version__, scipy.__version__, _code_fingerprint(), kin.net.digest,
         [s.name for s in kin.net.species], sorted((k, repr(float(v))) for k, v in kin.p.items()),
         y0.tobytes().hex()]).encode()).hexdigest()


def _steady_path(kin: Kinetics, y0: np.ndarray, key: str | None = None):
    """Cache file of the steady state of ``kin`` from ``y0`` (None: no cache folder);
    ``key``: its :func:`_steady_key`, when known."""
    from ..user_cache import folder

    where = folder("steady")
    if where is None:
        return None
    return where / f"{key or _steady_key(kin, y0)}.npy"


@functools.cache
def _code_fingerprint() -> str:
    """Hash of the source of the modules that compute a steady state and of the version of
    the solver library (scikit-sundae's CVODE): a cached state is never reused by other
    code, even under the same version number."""
    import hashlib
    from importlib.metadata import version
    from pathlib import Path

    here = Path(__file__).parent
    digest = hashlib.sha256(version("scikit-sundae").encode())
    for path in (here / "kinetics.py", here / "compiled.py", here / "wellmixed.py",
                 here / "solver.py", here.parent / "compile" / "network.py"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _read_steady(path, size: int) -> np.ndarray | None:
    if path is None or not path.is_file():
        return None
    try:
        y = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return y if y.shape == (size,) and np.all(np.isfinite(y)) else None


def _write_steady(path, y: np.ndarray) -> None:
    if path is None:
        return
    import os
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.partial")
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, y, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass  # the cache only saves time


def integrate(net: Network, days: float, schedule: Schedule | None = None, *,
              params: dict[str, float] | None = None, output_hours: float = 24.0,
              rtol: float = 1e-7, equilibrate_first: bool = True,
              progress: Callable[[float], None] | None = None,
              wall_limit_s: float | None = None, start=None,
              relax_from: np.ndarray | None = None, keep_steady: bool = True,
              initial: np.ndarray | None = None,
              until: Callable[[list[np.ndarray], list[np.ndarray]], bool] | None = None,
              branch_from: Solution | None = None) -> Solution:
    """Integrate ``net`` for ``days`` and return states every ``output_hours``.

    ``wall_limit_s``: stop with a SimulationError once the run (the relaxation to the
    healthy steady state included) has taken this many seconds; ``None``: no limit.
    A failing solve is retried once with another method (:func:`.solver.solve`).
    ``start``: a :class:`evniche.engines.restart.SavedState`: continue from its day and
    state (``days`` is still counted from the run's day 0). ``relax_from``: where the
    relaxation to the steady state starts; ``keep_steady``: whether a steady state computed
    here goes to the cache folder (:func:`starting_state`'s ``keep``). ``initial``: the
    state on day 0, found by the caller (a calibration's run without its ledger starts
    from the steady state of the full network); None: :func:`starting_state`'s.
    ``until(times, states)``: whether the samples so far (lists of arrays: times in h,
    states time × species) are all a caller needs; the run then stops (``complete``
    False). The samples it gives are bitwise those of the whole run: CVODE's stop time is
    still each segment's end and its steps do not depend on later output times.
    ``branch_from``: a run of the same network, parameter values, start, tolerance and
    sampling whose
    schedule, like this one's, has nothing in force before this one's first breakpoint
    (a therapy that starts at diagnosis, against the untreated run): where that holds
    (:func:`_fork`), this run takes its samples before that breakpoint and starts from
    its sample there, instead of solving the same equations again. Not bitwise: the
    state there is CVODE's interpolant within a step, where a solve of its own would
    stop at the breakpoint (the same solution within the solver's tolerance)."""
    if not days > 0:
        raise SimulationError(f"--days must be positive, got {days}")
    stopwatch = Stopwatch(wall_limit_s, days)
    kin = kinetics_of(net, params)
    schedule = schedule or Schedule()
    t_start = 0.0
    if start is not None:
        start.check([s.name for s in net.species], net.digest)
        t_start = start.day * 24.0
        if not days * 24.0 > t_start:
            raise SimulationError(f"--days ({days:g}) must be later than the day the run "
                                  f"continues from ({start.day:g})")
        y, y_initial = start.y.copy(), start.initial.copy()
    elif initial is not None:
        y = np.array(initial, dtype=float)
        y_initial = y.copy()
    else:
        y = starting_state(kin, equilibrate_first, stopwatch, relax_from, keep_steady)
        y_initial = y.copy()
    t_end = days * 24.0
    grid = np.arange(0.0, t_end + 1e-9, output_hours)
    if grid[-1] < t_end:
        grid = np.append(grid, t_end)
    grid = grid[grid >= t_start - 1e-9]
    segments = SegmentKinetics(kin, schedule, params)
    atol = tolerances(kin, y_initial, rtol)
    idx = kin.species_index
    breaks = schedule.breakpoints(t_end)
    if start is not None:  # the saved state holds what happened up to its day
        breaks = [t_start] + [b for b in breaks if b > t_start + 1e-9]
    out_t: list[np.ndarray] = []
    out_y: list[np.ndarray] = []
    n_rhs = 0
    complete = True
    fork = None if branch_from is None or start is not None \
        or branch_from.rtol != rtol or branch_from.output_hours != output_hours \
        else _fork(kin, schedule, breaks, grid, y_initial, branch_from)
    if fork is not None:  # the samples before the first breakpoint are branch_from's
        out_t.append(branch_from.t[:fork])
        out_y.append(branch_from.y[:fork])
        y = branch_from.y[fork].copy()
        breaks = breaks[1:]
    for a, b in zip(breaks[:-1], breaks[1:], strict=True):
        stopwatch.check(a)  # also between segments: a short solve may never reach a tick
        for jump in (schedule.jumps_at(a) if a > t_start or start is None else ()):
            y[idx[jump.species]] += jump.amount
            if jump.ledger and kin.has_ledger:
                y[idx[jump.ledger]] += jump.amount
        beh_f, upt_f, rem = schedule.modifiers(a, kin.n_beh, kin.n_routes, kin.n_pools)
        inf = schedule.infusion(a, len(kin.drug_elim))
        seg = segments.at(a)  # the run's kinetics unless a parameter window is in force

        compiled = segments.compiled(a)
        f, jac = compiled.segment(beh_f, upt_f, rem, inf)
        inside = grid[(grid >= a) & (grid < b)] if b < t_end else grid[grid >= a]
        t_eval = np.union1d(inside, [b])
        stop = None
        if until is not None:
            # the solve's outputs start at a, kept when a is a sample; the last one (b) is
            # never among those a stop rule sees
            skip = 0 if inside.size and inside[0] == a else 1

            def stop(t_seg, y_seg, skip=skip):
                return until(out_t + [t_seg[skip:]], out_y + [y_seg[skip:]])

        sol = solve(seg, f, (a, b), y, t_eval=t_eval, rtol=rtol,
                    atol=ledger_tolerances(kin, y, atol, rtol), jac=jac,
                    sparsity=compiled.sparsity(), stopwatch=stopwatch, stop=stop)
        n_rhs += sol.nfev
        keep = np.isin(sol.t, inside)
        out_t.append(sol.t[keep])
        out_y.append(sol.y.T[keep])
        y = sol.y[:, -1].copy()
        if progress is not None:
            progress(b / t_end)
        if until is not None and (sol.stopped or (b < t_end and until(out_t, out_y))):
            complete = False
            break
    t = np.concatenate(out_t)
    Y = np.vstack(out_y)
    # (NaN without the ledger: nothing to check)
    error = ledger_error(kin, y_initial, Y[-1]) if kin.has_ledger else float("nan")
    if error > LEDGER_TOLERANCE:
        raise SimulationError(f"EV ledger does not close: relative error {error:.3e} > "
                              f"{LEDGER_TOLERANCE:g}")
    return Solution(t=t, y=Y, kinetics=kin, schedule=schedule, ledger_error=error,
                    initial=y_initial, n_rhs=n_rhs, segments=segments, complete=complete,
                    rtol=rtol, output_hours=output_hours,
                    branched_at=None if fork is None else float(breaks[0]))


def _fork(kin: Kinetics, schedule: Schedule, breaks: list[float], grid: np.ndarray,
          initial: np.ndarray, other: Solution) -> int | None:
    """Where a run of ``kin`` (``schedule``, segments between ``breaks``, samples at
    ``grid``, day-0 state ``initial``) may start from the samples of ``other``: the
    index of ``other``'s sample at this run's first breakpoint, when nothing is in force
    before it in either schedule, the two runs solve the same equations (network and
    parameter values equal) from the same state, and ``other`` has the same samples up to
    that breakpoint; else None."""
    if len(breaks) < 3:
        return None
    fork = breaks[1]
    for plan in (schedule, other.schedule):
        if any(w.start < fork and w.end > 0.0 for w in plan.windows) or any(
                j.time < fork for j in plan.jumps):
            return None
    k = int(np.searchsorted(other.t, fork))
    if k >= other.t.size or other.t[k] != fork or not np.array_equal(
            other.t[:k], grid[grid < fork]) or not np.array_equal(other.initial, initial):
        return None
    if other.kinetics.p != kin.p or not same_network(other.kinetics.net, kin.net):
        return None
    return k


def same_network(a: Network, b: Network) -> bool:
    """Whether two compiled networks are the same (every field equal; their models,
    loaded apart, need only have the same digest, which is one of the fields)."""
    return all(getattr(a, f.name) == getattr(b, f.name)
               for f in dataclasses.fields(a) if f.name != "model")


def behaviors_signals(sol: Solution, days: float) -> tuple[np.ndarray, np.ndarray]:
    """Behaviors (samples × behaviors) and signals (samples × signals) of a solution, each
    sample under the modifiers and parameter values in force then; the last sample belongs
    to the last segment (windows are [start, end), so at the run's end, ``days``, they
    would read as over)."""
    kin = sol.kinetics
    t_last = days * 24.0
    at = [min(t, np.nextafter(t_last, 0.0)) for t in sol.t]
    mods = [sol.schedule.modifiers(t, kin.n_beh, kin.n_routes, kin.n_pools) for t in at]
    beh_f = np.array([m[0] for m in mods]).reshape(len(mods), kin.n_beh)
    upt_f = np.array([m[1] for m in mods]).reshape(len(mods), kin.n_routes)
    segments = sol.segments or SegmentKinetics(kin, sol.schedule)
    # samples grouped by the compiled kinetics in force (one group without parameter windows)
    groups: dict[int, tuple[CompiledKinetics, list[int]]] = {}
    for row, t in enumerate(at):
        compiled = segments.compiled(t)
        groups.setdefault(id(compiled), (compiled, []))[1].append(row)
    parts = []
    for compiled, rows in groups.values():
        b, s = compiled.behaviors_signals(sol.y[rows], beh_f[rows], upt_f[rows])
        parts.append((rows, b, s))
    beh = np.empty((len(at),) + parts[0][1].shape[1:]) if parts else np.empty((0, kin.n_beh))
    sig = np.empty((len(at),) + parts[0][2].shape[1:]) if parts else np.empty((0, 0))
    for rows, b, s in parts:
        beh[rows], sig[rows] = b, s
    return beh, sig


def ledger_error(kin: Kinetics, y0: np.ndarray, y: np.ndarray) -> float:
    """Largest relative error over pools of
    initial + secreted + administered = present + taken up + degraded + cleared + removed."""
    worst = 0.0
    for p, pool in enumerate(kin.net.pools):
        prefix = f"ledger:{pool.name}.uptake:"
        taken = sum(y[i] for name, i in kin.species_index.items() if name.startswith(prefix))
        start = y0[kin.i_ev_m[p]] + y0[kin.i_ev_b[p]]
        into = start + y[kin.i_led["secreted"][p]] + y[kin.i_led["administered"][p]]
        out = (y[kin.i_ev_m[p]] + y[kin.i_ev_b[p]] + taken + y[kin.i_led["degraded"][p]]
               + y[kin.i_led["cleared"][p]] + y[kin.i_led["removed"][p]])
        scale = max(abs(into), abs(out), 1.0)
        worst = max(worst, abs(into - out) / scale)
    return worst
