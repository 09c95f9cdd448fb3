"""Integration of the well-mixed ODEs with retries, and a diagnosis when it fails.

The ODEs are integrated by SUNDIALS' CVODE (variable-order BDF, through scikit-sundae):
its step, error and Newton loop run in compiled code and only call back for the
right-hand side and the Jacobian, which are themselves compiled (:mod:`.compiled`). The
Newton systems are solved by the sparse direct solver SuperLU_MT over the Jacobian's
structural pattern with the exact Jacobian. When that fails (a singular Newton matrix,
non-finite values) or stalls (:data:`STALL_CALLS` evaluations without moving
:data:`STALL_SHARE` of the span: near a blow-up the exact Jacobian can keep Newton's
iteration from converging where a finite-difference one does not), CVODE is tried again
with the Jacobian by finite differences over its sparsity pattern, and then SciPy's LSODA
(switching between stiff and non-stiff methods) once on the same span. When all fail the
run ends with a :class:`~evniche.errors.SimulationError` that names the likely cause —
the species that first became NaN or infinite and when, the fastest process, extreme
parameter values, rules so steep they are steps, EV pools without any loss — never a
solver traceback. A state passing :data:`BLOWUP` stops the run at once (a root of
CVODE's event function, checked on accepted steps only) with the species and its growth
rate. CVODE's event function costs a Python call per step (a quarter of a year's
integration), so a solve runs without it and the right-hand side watches the largest
state instead: only a solve that met a state past :data:`BLOWUP` is solved again with the
event, which then stops it at the first accepted step past it, as before.

Inside :func:`compiled_cvode` (ensembles, calibrations) the first attempt drives CVODE
from compiled code instead (:mod:`.sundials`: no Python call per evaluation, the same
result); whatever it cannot finish simply is solved again as above.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numba
import numpy as np
from scipy import sparse
from scipy.integrate import solve_ivp

from ..errors import SimulationError
from .kernel_cache import ENABLED as _CACHE  # Numba's cache folder, before any kernel
from .kinetics import Kinetics
from .stopwatch import Budget, Stopwatch

#: what a solve raises when it breaks down (CVODE's setup errors are RuntimeErrors, SciPy's
#: LinAlgError is a ValueError; overflow in a step is an ArithmeticError)
SOLVER_ERRORS = (RuntimeError, ValueError, ArithmeticError)
#: a state beyond this magnitude (counts, copies, concentrations) has blown up: nothing in
#: a body comes near it (3e13 cells, ~1e16 EVs secreted in a year)
BLOWUP = 1e30
#: parameter values (canonical units) beyond these magnitudes are named as likely causes
EXTREME_HIGH, EXTREME_LOW = 1e20, 1e-20
#: Hill powers above this make a rule a step the solver cannot follow
STEEP_HILL = 100.0
#: processes faster than this (hours) are named as likely causes (3.6 ms)
FASTEST_PLAUSIBLE_H = 1e-6
#: a solve has stalled after this many right-hand-side evaluations in a row that moved
#: less than STALL_SHARE of its span (a healthy year takes ~1,000 evaluations in all)
STALL_CALLS = 2000
STALL_SHARE = 1e-9
#: CVODE steps allowed between two output times (the stall watch and the stopwatch stop a
#: solve that goes nowhere long before)
MAX_STEPS = 10**7
#: CVODE's return flags that mean its linear solver failed (-6: setup, -7: solve): with a
#: direct solver, a singular Newton matrix
LINEAR_SOLVER_FAILED = (-6, -7)


class Stalled(RuntimeError):
    """The solver kept evaluating without moving forward (caught like a SciPy failure)."""


def blown_up(t: float, y: np.ndarray) -> float:
    """Event function: crosses zero when the largest |state| passes :data:`BLOWUP`."""
    return BLOWUP - float(np.max(np.abs(y)))


blown_up.terminal = True  # type: ignore[attr-defined]


def _blown_up_into(t: float, y: np.ndarray, out: np.ndarray) -> None:
    """:func:`blown_up` as CVODE calls it (writes the event's value into ``out``; two
    reductions without a temporary array: it runs at every step)."""
    out[0] = BLOWUP - max(float(y.max()), -float(y.min()))


_blown_up_into.terminal = [True]  # type: ignore[attr-defined]


@numba.njit(cache=_CACHE)
def _scan(u: np.ndarray, du: np.ndarray) -> tuple[bool, float]:  # pragma: no cover - Numba
    """(every value of ``du`` is finite, the largest |value| of ``u``): one pass over both,
    for the right-hand side's watch (a NaN in ``u`` does not count as large)."""
    finite = True
    big = 0.0
    for i in range(u.size):
        a = abs(u[i])
        if a > big:
            big = a
        d = du[i]
        if not d - d == 0.0:  # inf - inf and NaN - NaN are NaN
            finite = False
    return finite, big


@dataclass
class Result:
    """What a solve gives (SciPy's layout): times ``t`` (h), states ``y`` (species ×
    times), right-hand-side evaluations ``nfev``, ``status`` (0: reached the end, 1: a
    state passed :data:`BLOWUP`, negative: failed), the solver's ``message``, and the
    time and state of the blow-up (``t_events[0]``, ``y_events[0]``) when there was one."""

    t: np.ndarray
    y: np.ndarray
    nfev: int
    status: int
    message: str
    t_events: list[np.ndarray] = field(default_factory=list)
    y_events: list[np.ndarray] = field(default_factory=list)
    #: the caller's ``stop`` rule ended the solve before the span's end (the states
    #: given are bitwise those of the whole solve)
    stopped: bool = False

    @property
    def success(self) -> bool:
        return self.status >= 0


#: a span shorter than this share of its end time (h) is stepped once by forward Euler:
#: CVODE refuses a span within a few round-off units of its start ("tout too close to t0")
#: and scikit-sundae 1.2.0 then crashes the process; segment ends computed from fractional
#: days can differ by 1e-12 h
TINY_SPAN = 1e-9


def _euler(rhs: Callable[[float, np.ndarray], np.ndarray], span: tuple[float, float],
           y0: np.ndarray, t_eval: np.ndarray | None) -> Result:
    """One forward-Euler step over a span shorter than :data:`TINY_SPAN` of its end: the
    states at ``t_eval`` (None: both ends) on that line. Linear invariants (the EV
    ledger's balance) hold exactly, as in any linear multistep method."""
    y0 = np.asarray(y0, float)
    slope = rhs(span[0], y0)
    t = np.array(span, float) if t_eval is None else np.asarray(t_eval, float)
    y = y0[:, None] + slope[:, None] * (t - span[0])[None, :]
    return Result(t=t, y=y, nfev=1, status=0, message="one Euler step over a tiny span")


def smallest_step(span: tuple[float, float]) -> float:
    """CVODE's minimum step (h) over ``span`` (h): 16 ulps of its latest time. A smaller
    step cannot move t (t + h = t in floating point): CVODE then warns ("t + h = t on the
    next step") and steps anyway; its first-step estimate fell to ~6e-14 h at t ~ 6e3 h
    right after a therapeutic EV bolus."""
    return 16.0 * float(np.spacing(max(abs(span[0]), abs(span[1]), 1.0)))


@functools.cache
def _cvode_class():
    """scikit-sundae's CVODE, with the OpenBLAS it ships limited to one thread: its
    threads only wait on each other over Newton matrices of a few hundred rows (a year of
    aml takes 10 times longer on 2 busy cores with them)."""
    from sksundae.cvode import CVODE
    from threadpoolctl import ThreadpoolController

    for lib in ThreadpoolController().lib_controllers:
        if "scikit_sundae" in lib.filepath:
            lib.set_num_threads(1)
    return CVODE


def _cvode(rhs: Callable[[float, np.ndarray], np.ndarray], span: tuple[float, float],
           y0: np.ndarray, t_eval: np.ndarray | None, *, rtol: float, atol: np.ndarray,
           jac: Callable[[float, np.ndarray], sparse.spmatrix] | None,
           sparsity: sparse.spmatrix, first_step: float | None,
           events: bool = True) -> Result:
    """CVODE (BDF, SuperLU_MT over ``sparsity``) of ``rhs`` over ``span`` from ``y0``, with
    the Jacobian ``jac`` (None: CVODE's finite differences over ``sparsity``), states at
    the times of ``t_eval`` (None: at every internal step). ``events``: stop at the first
    accepted step with a state past :data:`BLOWUP` (status 1); without it the solve does
    not look (the same steps and results otherwise)."""
    pattern = sparse.csc_matrix(sparsity)
    pattern.sort_indices()
    pattern.indices = pattern.indices.astype(np.int32)
    pattern.indptr = pattern.indptr.astype(np.int32)

    def rhs_into(t: float, y: np.ndarray, out: np.ndarray) -> None:
        out[:] = rhs(t, y)

    options = dict(rtol=rtol, atol=np.asarray(atol, float), linsolver="sparse",
                   sparsity=pattern, nthreads=1, max_num_steps=MAX_STEPS,
                   min_step=smallest_step(span), max_step=np.inf)
    if events:
        options.update(eventsfn=_blown_up_into, num_events=1)
    if jac is not None:
        def jac_into(t: float, y: np.ndarray, yp: np.ndarray, out: np.ndarray) -> None:
            J = sparse.csc_matrix(jac(t, y))
            J.sort_indices()
            if J.nnz != pattern.nnz:  # entries outside the pattern: not in this layout
                raise ValueError("the Jacobian does not have the solver's sparsity pattern")
            out[:] = J.data

        options["jacfn"] = jac_into
    if first_step is not None:
        options["first_step"] = float(first_step)
    with warnings.catch_warnings():  # "custom sparse Jacobian ignored for jacfn": intended
        warnings.simplefilter("ignore", UserWarning)
        solver = _cvode_class()(rhs_into, **options)
    if t_eval is None:
        times = np.array(span, float)
    else:
        times = np.union1d([span[0]], np.asarray(t_eval, float))
    sol = solver.solve(times, np.asarray(y0, float))
    t, y = np.asarray(sol.t, float), np.asarray(sol.y, float)
    status = int(sol.status)
    events: tuple[list, list] = ([], [])
    if status == 2:  # a root of the event function: a state passed BLOWUP
        status = 1
        events = ([np.asarray(sol.t_events, float)], [np.asarray(sol.y_events, float)])
    else:  # CVODE's other flags: reached the end (>= 0) or failed (< 0)
        status = 0 if sol.success and status >= 0 else min(status, -1)
    if t_eval is not None:
        keep = np.isin(t, np.asarray(t_eval, float))
        t, y = t[keep], y[keep]
    message = str(sol.message)
    if int(sol.status) in LINEAR_SOLVER_FAILED:
        message += " (singular Newton matrix)"
    return Result(t=t, y=y.T, nfev=int(sol.nfev), status=status, message=message,
                  t_events=events[0], y_events=events[1])


#: whether :func:`solve` drives CVODE from compiled code where it can (:mod:`.sundials`);
#: off outside :func:`compiled_cvode` (loading the callbacks takes ~0.2 s per process,
#: more than a lone run gains; the results are the same)
COMPILED = False
#: :func:`compiled_cvode`'s setting, per thread (a Dask worker runs several)
_THREAD = threading.local()


@contextlib.contextmanager
def compiled_cvode() -> Iterator[None]:
    """Drive CVODE from compiled code inside this block, in this thread (an ensemble's or
    a calibration's many runs: the same results, ~25 % less time per solve)."""
    with _thread_flag("compiled"):
        yield


@contextlib.contextmanager
def sparse_lu() -> Iterator[None]:
    """Inside this block, in this thread, compiled solves (:func:`compiled_cvode`)
    factorise CVODE's Newton matrices with :mod:`.sparse_lu` (the pivots kept between
    factorisations) instead of SuperLU_MT: a calibration particle's runs take ~25 % less
    time. Not bitwise SuperLU_MT's: the same solution within the solver's tolerance
    (tests/calibration/test_sparse_lu_runs.py)."""
    with _thread_flag("sparse_lu"):
        yield


@contextlib.contextmanager
def _thread_flag(name: str) -> Iterator[None]:
    """Set the flag ``name`` of this thread inside the block, restoring it after."""
    before = getattr(_THREAD, name, None)
    setattr(_THREAD, name, True)
    try:
        yield
    finally:
        setattr(_THREAD, name, before)


#: CVODE's messages of a solve that reached its end (scikit-sundae's words)
_REACHED = {0: "Successful function return.", 1: "Reached specified tstop."}


def _compiled_cvode(f, jac, span: tuple[float, float], y0: np.ndarray,
                    t_eval: np.ndarray | None, *, rtol: float, atol: np.ndarray,
                    first_step: float | None, stopwatch: Stopwatch | None,
                    stop: Callable[[np.ndarray, np.ndarray], bool] | None = None
                    ) -> Result | None:
    """:func:`_cvode` (exact Jacobian, no event) with CVODE calling the compiled kinetics
    directly (:mod:`.sundials`): the same result, or None where it does not apply (the
    right-hand side is not a compiled segment's, a wall-clock limit, the libraries
    missing, :data:`COMPILED` off) or the solve did not simply succeed (it failed,
    stalled, met a state past :data:`BLOWUP` or gave non-finite values): the caller then
    solves as before, which finds and reports the same. ``stop``: :func:`.sundials.solve`'s
    (the result then ends where it stopped, ``stopped`` True)."""
    from . import sundials

    packed = getattr(f, "packed", None)
    on = getattr(_THREAD, "compiled", None)
    if (not (COMPILED if on is None else on) or packed is None
            or getattr(jac, "packed", None) is not packed
            or (stopwatch is not None and stopwatch.limit_s is not None)
            or not sundials.available()):
        return None
    times = np.array(span, float) if t_eval is None else np.union1d(
        [span[0]], np.asarray(t_eval, float))
    budget = stopwatch if isinstance(stopwatch, Budget) else None
    try:
        t, y, nfev, flag, watched = sundials.solve(
            packed, span, np.asarray(y0, float), times, rtol=rtol,
            atol=np.asarray(atol, float), first_step=first_step, max_steps=MAX_STEPS,
            stall_share=STALL_SHARE, stall_calls=STALL_CALLS, blowup=BLOWUP,
            max_calls=np.inf if budget is None else budget.calls - budget.used, stop=stop,
            linear_solver="sparse_lu" if getattr(_THREAD, "sparse_lu", None)
            else "superlu_mt")
    except (RuntimeError, OSError):
        return None
    if budget is not None:  # past the evaluations left: the budget's error, as a tick's
        budget.spend(budget.calls - budget.used + 1 if watched == sundials.PAST_CALLS
                     else nfev, span[0] if len(t) == 0 else t[-1])
    stopped = watched == sundials.STOPPED
    if flag < 0 or (watched and not stopped) or (len(t) != len(times) and not stopped) \
            or not np.isfinite(y).all() or _past_blowup(y):
        return None
    if t_eval is not None:
        keep = np.isin(t, np.asarray(t_eval, float))
        t, y = t[keep], y[keep]
    return Result(t=t, y=y.T, nfev=nfev, status=0, message=_REACHED.get(flag, str(flag)),
                  stopped=stopped)


def _lsoda(rhs: Callable[[float, np.ndarray], np.ndarray], span: tuple[float, float],
           y0: np.ndarray, t_eval: np.ndarray | None, *, rtol: float,
           atol: np.ndarray) -> Result:
    """SciPy's LSODA over ``span``: the last resort, when CVODE failed on the span."""
    sol = solve_ivp(rhs, span, y0, method="LSODA", t_eval=t_eval, rtol=rtol, atol=atol,
                    events=blown_up)
    return Result(t=sol.t, y=sol.y, nfev=int(sol.nfev), status=int(sol.status),
                  message=str(sol.message), t_events=list(sol.t_events or []),
                  y_events=list(sol.y_events or []))


class Watch:
    """Sits in the right-hand side: checks the stopwatch and remembers the last finite
    state and the first non-finite value the solver met."""

    def __init__(self, kin: Kinetics, stopwatch: Stopwatch | None, relaxing: bool,
                 span: tuple[float, float] = (0.0, 1.0)) -> None:
        self.kin = kin
        self.stopwatch = stopwatch
        self.relaxing = relaxing
        self.first_bad: tuple[float, int, str] | None = None  # (t, species, where)
        self.last: tuple[float, np.ndarray] | None = None
        self.beyond = False  # the solver evaluated a state past BLOWUP
        self.stall_step = STALL_SHARE * abs(span[1] - span[0])
        self.restart()

    def restart(self) -> None:
        """Start counting for stalls again (a new attempt at the span)."""
        self.mark = -np.inf
        self.calls_since_mark = 0

    def wrap(self, f: Callable[[float, np.ndarray], np.ndarray]
             ) -> Callable[[float, np.ndarray], np.ndarray]:
        def rhs(t: float, u: np.ndarray) -> np.ndarray:
            if self.stopwatch is not None:
                try:
                    self.stopwatch.tick(t, self.relaxing)
                except SimulationError as exc:
                    causes = _causes(self.kin, *self.last) if self.last else []
                    if not causes:
                        raise
                    raise SimulationError(f"{exc}. What slows the solver down: "
                                          + "; ".join(causes)) from None
            if t - self.mark > self.stall_step:
                self.mark, self.calls_since_mark = t, 0
            else:
                self.calls_since_mark += 1
                if self.calls_since_mark > STALL_CALLS:
                    raise Stalled(f"no progress in {STALL_CALLS} evaluations near "
                                  f"t = {t:.6g} h")
            du = f(t, u)
            finite, big = _scan(u, du)
            if big > BLOWUP:
                self.beyond = True
            if finite:
                self.last = (t, u.copy())  # CVODE passes a view of its own memory
            elif self.first_bad is None:
                bad_u = np.flatnonzero(~np.isfinite(u))
                if bad_u.size:
                    self.first_bad = (t, int(bad_u[0]), "the amount")
                else:
                    self.first_bad = (t, int(np.flatnonzero(~np.isfinite(du))[0]),
                                      "the rate of change")
            return du

        return rhs


def solve(kin: Kinetics, f: Callable[[float, np.ndarray], np.ndarray],
          span: tuple[float, float], y0: np.ndarray, *, rtol: float,
          atol: np.ndarray, jac: Callable[[float, np.ndarray], sparse.spmatrix],
          sparsity: sparse.spmatrix, t_eval: np.ndarray | None = None,
          stopwatch: Stopwatch | None = None, relaxing: bool = False,
          first_step: float | None = None,
          stop: Callable[[np.ndarray, np.ndarray], bool] | None = None) -> Result:
    """Integrate ``f`` over ``span`` (h) from ``y0``: CVODE with the exact sparse Jacobian
    ``jac(t, y)`` (per hour, on the pattern ``sparsity``), else CVODE with finite
    differences over ``sparsity``, else LSODA; a SimulationError naming the likely cause
    when all fail. States at the times of ``t_eval`` (None: at every step).
    ``relaxing``: this is the relaxation to the healthy steady state. ``first_step`` (h):
    the step tried first (None: the solver's own choice), e.g. the last step of a solve
    just before this one (the stochastic engine's coupling steps). ``stop(t, y)``: a rule
    on the states so far (times h, states time × species, from ``span[0]``) that may end
    the compiled solve early (``Result.stopped``; the states given are bitwise the whole
    solve's); the other attempts solve the whole span."""
    watch = Watch(kin, stopwatch, relaxing, span)
    rhs = watch.wrap(f)
    if abs(span[1] - span[0]) <= TINY_SPAN * max(1.0, abs(span[0]), abs(span[1])):
        sol = _euler(rhs, span, y0, t_eval)  # CVODE would crash on such a span
        if np.isfinite(sol.y).all():
            return sol
        raise SimulationError(diagnose(kin, watch, span, ["one Euler step over a span of "
                                                          f"{span[1] - span[0]:.3g} h: "
                                                          "non-finite values"]))
    problems: list[str] = []
    attempts = (("CVODE", jac), ("CVODE (finite-difference Jacobian)", None),
                ("LSODA", None))
    for label, exact in attempts:
        watch.restart()
        try:
            # a step the method rejects may hold inf/nan; a run that truly fails is caught
            # below by its non-finite values or status, and retried or reported
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                if label == "LSODA":
                    sol = _lsoda(rhs, span, y0, t_eval, rtol=rtol, atol=atol)
                else:
                    watch.beyond = False
                    fast = None if exact is None else _compiled_cvode(
                        f, exact, span, y0, t_eval, rtol=rtol, atol=atol,
                        first_step=first_step, stopwatch=stopwatch, stop=stop)
                    if fast is not None:
                        return fast
                    try:
                        sol = _cvode(rhs, span, y0, t_eval, rtol=rtol, atol=atol,
                                     jac=exact, sparsity=sparsity, first_step=first_step,
                                     events=False)
                    except SOLVER_ERRORS:
                        if not watch.beyond:
                            raise
                    # a state past BLOWUP: solved again with the event, which stops there
                    if watch.beyond or _past_blowup(sol.y):
                        watch.restart()
                        sol = _cvode(rhs, span, y0, t_eval, rtol=rtol, atol=atol, jac=exact,
                                     sparsity=sparsity, first_step=first_step, events=True)
        except SOLVER_ERRORS as exc:
            problems.append(f"{label}: {exc}")
            continue
        if sol.status == 1:  # a state passed BLOWUP: no other method would help
            raise SimulationError(blowup_message(kin, sol, span, y0, relaxing))
        if sol.success and np.isfinite(sol.y).all():
            return sol
        problems.append(f"{label}: {sol.message if not sol.success else 'non-finite values'}")
    raise SimulationError(diagnose(kin, watch, span, problems))


def _past_blowup(y: np.ndarray) -> bool:
    """Whether a value of ``y`` lies past ±:data:`BLOWUP` (a NaN does not)."""
    return bool(y.size) and bool(y.max() > BLOWUP or y.min() < -BLOWUP)


def _where(span: tuple[float, float], relaxing: bool) -> str:
    if relaxing:
        return "while relaxing the model to its healthy steady state (before day 0)"
    return f"between day {span[0] / 24:.4g} and day {span[1] / 24:.4g}"


def _day(t: float, relaxing: bool) -> str:
    return f"in year {t / 8766:.3g} of the relaxation before day 0" if relaxing \
        else f"on day {t / 24:.4g}"


def blowup_message(kin: Kinetics, sol, span: tuple[float, float], y0: np.ndarray,
                   relaxing: bool) -> str:
    """The run stopped because a state passed BLOWUP: which, when, how fast it grew at the
    start of the span, and extreme values in the model."""
    t = float(sol.t_events[0][0])
    y = sol.y_events[0][0]
    i = int(np.argmax(np.abs(y)))
    name = kin.net.species[i].name
    with np.errstate(all="ignore"):
        growth = kin.rhs(span[0], y0)[i] / y0[i] if y0[i] else float("nan")
    out = (f"the run stopped {_where(span, relaxing)}: '{name}' reached {y[i]:.3g} "
           f"{_day(t, relaxing)} and grows without bound")
    own = [j for j, s in enumerate(kin.net.species) if s.kind != "ledger"]
    if kin.net.species[i].kind == "ledger" and own:  # a ledger integrates a flux: whose?
        j = own[int(np.argmax(np.abs(y[own])))]
        out += f" (the largest amount then: '{kin.net.species[j].name}' = {y[j]:.3g})"
    if np.isfinite(growth) and growth > 0:
        out += f" (net growth rate at the start: {growth:.3g} per hour)"
    causes = _parameter_causes(kin)
    return out + (f"; likely causes: {'; '.join(causes)}" if causes else "")


def diagnose(kin: Kinetics, watch: Watch, span: tuple[float, float],
             problems: list[str]) -> str:
    """One message: where the solver failed, how, and the likely causes in the model."""
    names = [s.name for s in kin.net.species]
    out = f"the solver failed {_where(span, watch.relaxing)} ({'; '.join(problems)})"
    causes: list[str] = []
    if watch.first_bad is not None:
        t, i, what = watch.first_bad
        causes.append(f"{what} of '{names[i]}' first became NaN or infinite "
                      f"{_day(t, watch.relaxing)}")
    if watch.last is not None:
        causes += _causes(kin, *watch.last)
    if any("singular" in p for p in problems):
        causes.append("the solver's Jacobian matrix is singular, which extreme values, "
                      "steps and states that blow up cause")
    return out + (f"; likely causes: {'; '.join(causes)}" if causes else "")


def _causes(kin: Kinetics, t: float, u: np.ndarray) -> list[str]:
    """What in the model makes it hard to integrate at state ``u`` (time ``t``, h): the
    fastest process, and :func:`_parameter_causes`."""
    out: list[str] = []
    names = [s.name for s in kin.net.species]
    with np.errstate(all="ignore"):
        rate = np.abs(_jacobian_diagonal(kin, t, u))
    if np.isfinite(rate).any() and np.nanmax(rate) > 1.0 / FASTEST_PLAUSIBLE_H:
        i = int(np.nanargmax(rate))
        out.append(f"'{names[i]}' changes on a time scale of {1.0 / rate[i]:.3g} h, far "
                   "faster than any process of the niche")
    return out + _parameter_causes(kin)


def _parameter_causes(kin: Kinetics) -> list[str]:
    """Extreme parameter values, near-step rules and EV pools without loss."""
    out: list[str] = []
    extreme = [f"{n} = {v:.3g}" for n, v in kin.p.items() if not n.startswith("__")
               and (abs(v) > EXTREME_HIGH or 0 < abs(v) < EXTREME_LOW)]
    if extreme:
        out.append("extreme parameter values (canonical units: h, µm, mL, counts): "
                   + ", ".join(extreme[:4]) + (" …" if len(extreme) > 4 else ""))
    steep = sorted({f"{v:.3g}" for v in np.concatenate([kin.up_hill, kin.dn_hill])
                    if v > STEEP_HILL})
    if steep:
        out.append(f"rules with Hill powers of {', '.join(steep[:4])} (a step the solver "
                   "cannot follow)")
    lossless = [pool.name for p, pool in enumerate(kin.net.pools)
                if kin.pl_deg[p] + kin.pl_drain[p] + kin.pl_clear[p] == 0
                and not np.any((kin.r_pool == p) & (kin.r_rate > 0))]
    if lossless:
        out.append("EV pools with no loss (degradation, drainage, clearance and uptake all "
                   "0): " + ", ".join(lossless[:4]))
    return out


def _jacobian_diagonal(kin: Kinetics, t: float, u: np.ndarray) -> np.ndarray:
    """∂f_i/∂y_i at ``u`` by forward differences (per hour): the inverse time scale of each
    species' own dynamics. For a diagnosis only (n right-hand-side evaluations)."""
    f0 = kin.rhs(t, u)
    out = np.zeros(kin.n)
    for i in range(kin.n):
        step = 1e-6 * max(abs(u[i]), 1e-3)
        v = u.copy()
        v[i] += step
        out[i] = (kin.rhs(t, v)[i] - f0[i]) / step
    return out
