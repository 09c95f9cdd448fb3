"""Many parameter sets of one model, in one process, without loading or compiling it again.

:func:`simulate_many` loads and compiles the model once (YAML, validation, network,
interventions' schedule), then for each parameter set only recomputes the parameter
values (canonical units, formulas of derived parameters included), the schedule (doses and
infusion rates may depend on parameters), the healthy steady state (cached on disk like any
run's, see :func:`.wellmixed.starting_state`; found by Newton's method from the unchanged
model's steady state, which is computed or read once, then relaxed from there, so a set
near it needs few solver steps) and the integration. The compiled right-hand
side (:mod:`.compiled`) and its Jacobian pattern are shared by every run. For calibration,
virtual cohorts and sensitivity runs of the well-mixed engine::

    from evniche.engines.ensemble import simulate_many

    blasts = simulate_many("aml", [{"lsc_self_renewal": v} for v in (0.85, 0.9)],
                           days=365, readout=lambda ds: float(ds.cells.sel(
                               cell_type="LSC").isel(time=-1)))

Units: ``days`` in days; parameter values in the unit the model file gives that parameter
(as ``evniche simulate --set parameters.NAME=VALUE``), checked against its plausible range.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import units
from ..compile.network import Network
from ..errors import EvnicheError
from ..spec.resolve import ResolvedModel
from . import cost, prepare

#: what a run gives when no readout is asked for: the trajectory Dataset
Readout = Callable[[Any], Any]


class InfeasibleParameters(EvnicheError):
    """A parameter set that is not a valid model: a derived parameter is not a finite real
    number, or a value lies outside what a place that uses it accepts (a negative cell
    count, a self-renewal fraction above 1), as a reload of the model would refuse it.
    ``parameter`` names the first such parameter (in the order formulas are evaluated) and
    ``condition`` says what it broke (``"not a finite real number"``, ``"negative"``,
    ``"above 1"``), so that an ensemble can count its infeasible sets by cause."""

    def __init__(self, message: str, parameter: str, condition: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.condition = condition

    def __reduce__(self):  # a Dask worker sends it back pickled
        return (type(self), (str(self), self.parameter, self.condition))


class ParameterValues:
    """Canonical parameter values of ``net`` with some parameters set to other values (in
    their file unit): the values a reloaded model would have, formulas of derived
    parameters re-evaluated, without reading, validating and resolving the model again."""

    def __init__(self, model: ResolvedModel, net: Network) -> None:
        from ..expressions import parse

        self.model = model
        self.net = net
        self.table = model.params.resolved
        self.formulas = {name: parse(item.expr, f"parameters.{name}.expr")
                         for name, item in self.table.items() if item.expr}
        self.order = _dependency_order(self.formulas)

    def canonical(self, overrides: Mapping[str, float], where: str = "overrides"
                  ) -> dict[str, float]:
        """All parameter values (canonical units) with ``overrides`` (name → value in the
        parameter's file unit) applied; an EvnicheError naming ``where`` and the parameter
        when a name is unknown, a value not a finite number or outside its range."""
        changed: dict[str, float] = {}
        for name, value in overrides.items():
            item = self.table.get(name)
            if item is None:
                raise EvnicheError(f"{where}: '{name}' is not a parameter of model "
                                   f"'{self.net.name}'")
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number) or isinstance(value, bool):
                raise EvnicheError(f"{where}: parameter '{name}' = {value!r}; expected a "
                                   f"finite number in {item.unit}")
            canon = units.to_canonical(number, item.unit, item.kind, f"parameters.{name}")
            if item.range is not None and not item.range[0] <= canon <= item.range[1]:
                factor = item.value / item.value_in_unit if item.value_in_unit else 1.0
                lo, hi = (v / factor for v in item.range)
                raise EvnicheError(f"{where}: parameter '{name}' = {number} {item.unit} lies "
                                   f"outside its range [{lo:g}, {hi:g}]")
            self._check_limits(name, canon, where)
            changed[name] = canon
        values = dict(self.net.params)
        values.update(changed)
        for name in self.order:  # formulas after the parameters they read
            if name in overrides or not (self.formulas[name].names & changed.keys()):
                continue
            item = self.table[name]
            inputs = {other: units.ureg.Quantity(values[other],
                                                 units.CANONICAL[self.table[other].kind])
                      for other in self.formulas[name].names}
            result = self.formulas[name].evaluate(inputs)
            quantity = result if isinstance(result, units.Quantity) else units.Quantity(
                result, "")
            magnitude = quantity.to(units.CANONICAL[item.kind]).magnitude
            if isinstance(magnitude, complex) or not math.isfinite(magnitude):
                raise InfeasibleParameters(
                    f"{where}: derived parameter '{name}' is {magnitude} (not a finite real "
                    f"number) with {self._inputs(name, values)} (canonical units): these "
                    "values are not a valid model", name, "not a finite real number")
            self._check_limits(name, float(magnitude), where, values)
            values[name] = changed[name] = float(magnitude)
        return values

    def _inputs(self, name: str, values: Mapping[str, float]) -> str:
        return ", ".join(f"{other} = {values[other]:.6g}"
                         for other in sorted(self.formulas[name].names))

    def _check_limits(self, name: str, canon: float, where: str,
                      values: Mapping[str, float] | None = None) -> None:
        """An :class:`InfeasibleParameters` when ``canon`` (canonical units) lies outside
        what a place that uses parameter ``name`` accepts (its recorded ``limits``: the
        checks the model's loader makes); ``values``: the set so far, to name a derived
        parameter's inputs."""
        item = self.table[name]
        for path, lowest, highest in item.limits:
            if lowest is not None and canon < lowest:
                condition, expected = "negative", f">= {lowest:g}"
            elif highest is not None and canon > highest:
                condition, expected = f"above {highest:g}", f"<= {highest:g}"
            else:
                continue
            factor = item.value / item.value_in_unit if item.value_in_unit else 1.0
            kind = "derived parameter" if name in self.formulas else "parameter"
            given = f" with {self._inputs(name, values)} (canonical units)" \
                if values is not None and name in self.formulas else ""
            raise InfeasibleParameters(
                f"{where}: {kind} '{name}' = {canon / factor:.6g} {item.unit} is {condition}"
                f" where {path} uses it (expected {expected}){given}: these values are not a "
                "valid model", name, condition)


def _dependency_order(formulas: Mapping[str, Any]) -> list[str]:
    """Names of derived parameters, each after the derived parameters it reads."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for other in sorted(formulas[name].names):
            if other in formulas:
                visit(other)
        order.append(name)

    for name in sorted(formulas):
        visit(name)
    return order


def simulate_many(model: ResolvedModel | str, overrides: Sequence[Mapping[str, float]],
                  days: float = 365.0, readout: Readout | None = None, *,
                  interventions: list | None = None, rtol: float = 1e-7,
                  output_hours: float = 24.0, equilibrate_first: bool = True,
                  errors: str = "raise", wall_limit_s: float | None = None,
                  advance: Callable[[], None] | None = None,
                  restartable: bool = True) -> list[Any]:
    """Run the well-mixed engine on ``model`` once per parameter set of ``overrides`` (each
    a mapping of parameter name → value in that parameter's file unit; ``{}`` runs the model
    as it is) for ``days`` days, and return one result per set, in order.

    Each result is ``readout(ds)`` of the run's trajectory Dataset (the one
    :func:`evniche.simulate` returns: ``time`` in days, cells in counts, EVs in counts,
    concentrations in nM), or the Dataset itself when ``readout`` is None. ``rtol`` and
    ``output_hours`` (h between samples) are those of :func:`.wellmixed.integrate`;
    ``interventions`` are added to the model's own. ``errors``: ``"raise"`` stops at the
    first run that fails (a SimulationError naming the set); ``"record"`` puts the
    exception in that run's place and goes on. Parameter sets are checked (names, finite
    values, plausible ranges) before any run starts (with ``"record"``, a set that fails
    the check gets its error in its place and the others run). ``wall_limit_s``: each run's
    wall-clock limit (s; a run past it fails with a SimulationError); ``advance`` is called
    after each run (a progress bar's step). ``restartable=False``: the Datasets leave out
    the state vectors a run is continued from (:mod:`.restart`), which only readouts read."""
    if errors not in ("raise", "record"):
        raise EvnicheError(f"simulate_many: errors must be 'raise' or 'record', got "
                           f"{errors!r}")
    days = cost.check_days(days)
    if not isinstance(model, ResolvedModel):
        from ..spec.loader import load_model

        model = load_model(model)
    net, values, base_of = _prepared(model, interventions, days)
    sets: list[dict[str, float] | EvnicheError] = []
    for i, o in enumerate(overrides):
        try:
            sets.append(values.canonical(dict(o), f"simulate_many: overrides[{i}]"))
        except EvnicheError as exc:
            if errors == "raise":
                raise
            sets.append(exc)  # recorded in this set's place; the others still run
    # every set relaxes from the model's steady state
    base = base_of() if equilibrate_first and sets else None
    out: list[Any] = []
    for i, params in enumerate(sets):
        if isinstance(params, EvnicheError):
            out.append(params)
            if advance is not None:
                advance()
            continue
        try:
            ds = _run(model, net, params, days, interventions, rtol, output_hours,
                      equilibrate_first, wall_limit_s, base, restartable)
            out.append(ds if readout is None else readout(ds))
        except EvnicheError as exc:
            if errors == "raise":
                raise type(exc)(f"simulate_many: overrides[{i}] "
                                f"{dict(overrides[i])}: {exc}") from None
            out.append(exc)
        if advance is not None:
            advance()
    return out


#: models this process prepared (network, parameter table, steady state), by model digest,
#: interventions and days; the oldest goes beyond PREPARED_MODELS
_PREPARED: dict[str, list] = {}
PREPARED_MODELS = 8


def _prepared(model: ResolvedModel, interventions: list | None, days: float
              ) -> tuple[Network, ParameterValues, Callable[[], Any]]:
    """The compiled network of ``model`` with ``interventions`` over ``days``, its
    :class:`ParameterValues` and a function giving its healthy steady state (computed on
    the first call; None when it fails: each set then relaxes from the initial values and
    fails on its own), kept for the next call in this process (a Dask worker's next chunk
    of the same ensemble compiles nothing)."""
    import json

    key = json.dumps([model.name, model.digest, model.source, interventions or [], days],
                     sort_keys=True, default=str)
    entry = _PREPARED.pop(key, None)
    if entry is None:
        net, _ = prepare(model, None, interventions, days)
        entry = [net, ParameterValues(model, net), False, None]
    _PREPARED[key] = entry
    while len(_PREPARED) > PREPARED_MODELS:
        _PREPARED.pop(next(iter(_PREPARED)))

    def base():
        if not entry[2]:
            from .kinetics import Kinetics
            from .wellmixed import starting_state

            try:
                entry[3] = starting_state(Kinetics(entry[0]), True)
            except EvnicheError:
                entry[3] = None
            entry[2] = True
        return entry[3]

    return entry[0], entry[1], base


def _run(model: ResolvedModel, net: Network, params: dict[str, float], days: float,
         interventions: list | None, rtol: float, output_hours: float,
         equilibrate_first: bool, wall_limit_s: float | None = None,
         relax_from=None, restartable: bool = True, keep_steady: bool = True):
    """One run of the compiled ``net`` with parameter values ``params``: its Dataset.
    ``keep_steady``: whether its steady state goes to the cache folder."""
    return dataset(solve_run(model, net, params, days, interventions, rtol, output_hours,
                             equilibrate_first, wall_limit_s, relax_from, keep_steady),
                   restartable)


@dataclasses.dataclass
class Solved:
    """A run of the well-mixed engine before its Dataset is built: the network with the
    run's parameter values, the schedule, the solution (times in h, states time ×
    species), the run length (days) and the wall time of the solve (s)."""

    net: Network
    schedule: Any
    sol: Any
    days: float
    seconds: float


def solve_run(model: ResolvedModel, net: Network, params: dict[str, float], days: float,
              interventions: list | None, rtol: float, output_hours: float,
              equilibrate_first: bool, wall_limit_s: float | None = None,
              relax_from=None, keep_steady: bool = True, initial=None,
              until=None, branch_from=None) -> Solved:
    """The integration of :func:`_run` without building its Dataset (:func:`dataset`
    builds it: together they are :func:`_run`, bitwise). ``initial``: the state on day 0
    (:func:`.wellmixed.integrate`'s; None: the steady state it finds); ``until``: where
    the run may stop early, ``branch_from``: a run it may start from at its first
    breakpoint (both :func:`.wellmixed.integrate`'s)."""
    import time

    from ..compile.interventions import build_schedule
    from . import solver, wellmixed

    start = time.perf_counter()
    run_net = dataclasses.replace(net, params=params)
    schedule = build_schedule(run_net, list(model.spec.interventions)
                              + list(interventions or []), days)
    with solver.compiled_cvode():  # many runs: CVODE calls the compiled kinetics directly
        sol = wellmixed.integrate(run_net, days, schedule, params=None, rtol=rtol,
                                  output_hours=output_hours,
                                  equilibrate_first=equilibrate_first,
                                  wall_limit_s=wall_limit_s, relax_from=relax_from,
                                  keep_steady=keep_steady, initial=initial, until=until,
                                  branch_from=branch_from)
    return Solved(run_net, schedule, sol, days, time.perf_counter() - start)


def dataset(run: Solved, restartable: bool = True):
    """The trajectory Dataset of a :class:`Solved` run (as :func:`evniche.simulate`'s)."""
    import json
    import time

    from . import trajectory, wellmixed

    start = time.perf_counter()
    sol = run.sol
    beh, sig = wellmixed.behaviors_signals(sol, run.days)
    ds = trajectory.build(run.net, sol.t, sol.y, beh, "wellmixed", 0,
                          {"ledger_relative_error": sol.ledger_error,
                           "rhs_evaluations": sol.n_rhs}, signals=sig, params=sol.kinetics.p,
                          initial=sol.initial, restartable=restartable)
    ds.attrs["wall_seconds"] = run.seconds + time.perf_counter() - start
    ds.attrs["interventions"] = json.dumps(run.schedule.timeline())
    return ds


__all__ = ["InfeasibleParameters", "ParameterValues", "simulate_many"]
