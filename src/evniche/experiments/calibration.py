"""Calibration: the posterior of a model's assumed parameters given observation records,
by ABC-SMC (pyABC) with the records' distances (docs/calibration.md).

* Free parameters: the model's ``assumption:`` parameters that declare a plausible
  ``range`` (optionally a chosen subset). Priors are uniform on the range, log-uniform
  (uniform in log10) where the range spans more than a decade (high / low > 10, low > 0).
* Objective: :func:`evniche.observations.total_distance` of the records with a condition on
  the model, each proposed value applied as a ``parameters.NAME`` override (in the model
  file's unit) to every run whose model defines that parameter. A record that cannot be
  read (a run that fails, a readout after the horizon) makes the distance +inf: the
  particle is rejected and the reason logged.
* History: pyABC's SQLite database ``DIR/history.db``; :func:`calibrate` on a folder that
  already holds a run of the same calibration resumes it (finished generations are kept).
* Output: ``DIR/posterior.parquet`` (one row per particle: a column per override key
  ``parameters.NAME`` in the model file's unit and ``weight``, normalised to sum 1) and
  ``DIR/posterior.json`` (model, digest, parameters with priors and units, versions,
  observations, generations, epsilons, acceptance rates, simulations).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EvnicheError, ModelError

log = logging.getLogger("evniche.calibration")

#: file names inside the output folder
DATABASE = "history.db"
SETTINGS = "calibration.json"
POSTERIOR_TABLE = "posterior.parquet"
POSTERIOR_INFO = "posterior.json"

#: a range wider than this ratio (high / low) gets a log-uniform prior
LOG_SCALE_RATIO = 10.0


@dataclass(frozen=True)
class Prior:
    """The prior of one free parameter: uniform on [low, high] (in ``unit``, the model
    file's unit), or uniform in log10 of the value when ``log``."""

    name: str
    low: float
    high: float
    unit: str
    log: bool
    value: float  # the model's own value (unit as above)

    @property
    def key(self) -> str:
        """The override key runs take: ``parameters.NAME``."""
        return f"parameters.{self.name}"

    def to_value(self, x: float) -> float:
        """The parameter value of a sampled coordinate (log10 for a log prior)."""
        return float(10.0 ** x) if self.log else float(x)

    def coordinate(self, value: float) -> float:
        """The sampled coordinate of a value (inverse of :meth:`to_value`)."""
        return float(math.log10(value)) if self.log else float(value)

    def bounds(self) -> tuple[float, float]:
        """The coordinate bounds of the prior."""
        return self.coordinate(self.low), self.coordinate(self.high)


def free_parameters(model: Any, names: Iterable[str] | None = None) -> list[Prior]:
    """The priors of ``model``'s free parameters: its ``assumption:`` parameters with a
    ``range`` (all of them, or the ``names`` given, in that order). An unknown name, or one
    that is not an assumption with a range, is an EvnicheError naming it."""
    declared = model.spec.parameters
    free = {name: p for name, p in declared.items()
            if p.range is not None and p.value is not None and p.range[0] < p.range[1]
            and p.source.strip().lower().startswith("assumption")}
    chosen = list(free) if names is None else [n.strip() for n in names if n.strip()]
    if not chosen:
        raise EvnicheError(f"model '{model.name}' has no free parameter (an 'assumption:' "
                           "parameter with a range)" if names is None else
                           "--parameters: give at least one parameter name")
    priors = []
    for name in chosen:
        if name not in free:
            if name in declared:
                why = "is not an 'assumption:' parameter with a range; it cannot be calibrated"
            else:
                why = "is not a parameter of the model"
            raise EvnicheError(f"--parameters: '{name}' {why} (free parameters of "
                               f"'{model.name}': {', '.join(sorted(free)) or 'none'})")
        p = free[name]
        low, high = (float(v) for v in p.range)
        log_scale = low > 0 and high / low > LOG_SCALE_RATIO
        priors.append(Prior(name, low, high, p.unit, log_scale, float(p.value)))
    return priors


@lru_cache(maxsize=64)
def _parameter_names(preset: str) -> frozenset[str]:
    """The parameter names a preset or model file declares."""
    from ..spec.loader import load_model

    return frozenset(load_model(preset).spec.parameters)


@dataclass
class Compiled:
    """A condition's model compiled once per process (a Dask worker): the model with the
    record's own overrides, its network (an EV therapy's product included), the parameter
    table a proposal is applied through, and the steady state of the unchanged model that
    every proposal's relaxation starts from (None: each relaxes from the initial values);
    ``lean``: the network without the EV ledger species
    (:func:`evniche.engines.kinetics.without_ledger`), what a particle's runs solve, and
    ``kept``: which species of ``net`` it keeps."""

    model: Any
    net: Any
    values: Any
    base: np.ndarray | None
    lean: Any = None
    kept: np.ndarray | None = None

    def start(self, params: dict[str, float]) -> np.ndarray:
        """Where a run of ``lean`` with parameter values ``params`` starts: the full
        network's starting state (its steady state, found as a run of ``net`` finds it,
        kept in memory for the other runs of the same values) without the ledger: the
        same start as the full network's run, bitwise."""
        import dataclasses

        from ..engines import solver
        from ..engines.kinetics import kinetics_of
        from ..engines.wellmixed import starting_state

        kin = kinetics_of(dataclasses.replace(self.net, params=params))
        with solver.compiled_cvode():  # as solve_run relaxes
            return starting_state(kin, True, None, self.base, keep=False)[self.kept]


#: compiled conditions of this process, by (preset, record overrides, interventions without
#: their start days, days); the oldest goes beyond COMPILED_CONDITIONS
_COMPILED: dict[str, Compiled] = {}
COMPILED_CONDITIONS = 32


def compiled(preset: str, overrides: dict[str, Any], interventions: list[dict],
             days: float) -> Compiled:
    """The :class:`Compiled` condition: ``preset`` with the record's ``overrides`` and
    ``interventions`` over ``days``, loaded, checked (the size of a run) and compiled on
    the first call in this process, kept for the next particles. A start day (which may
    follow the particle's diagnosis day) changes the schedule, not the network, so it is
    not part of the key."""
    from ..engines import cost, prepare
    from ..engines.ensemble import ParameterValues
    from ..engines.kinetics import Kinetics, without_ledger
    from ..engines.wellmixed import starting_state
    from ..spec.loader import load_model

    shape = [{k: v for k, v in item.items() if k != "start"} for item in interventions]
    key = json.dumps([preset, overrides, shape, days], sort_keys=True, default=str)
    found = _COMPILED.pop(key, None)
    if found is None:
        model = load_model(preset, overrides=overrides or None)
        net, _ = prepare(model, None, interventions, days)
        cost.check(cost.estimate(net, days, "wellmixed", {}), False)
        try:
            base = starting_state(Kinetics(net), True)
        except EvnicheError:
            base = None  # each proposal relaxes from the initial values and fails on its own
        lean = without_ledger(net)
        kept = np.array([s.kind != "ledger" for s in net.species])
        found = Compiled(model, net, ParameterValues(model, net), base, lean, kept)
    _COMPILED[key] = found
    while len(_COMPILED) > COMPILED_CONDITIONS:
        _COMPILED.pop(next(iter(_COMPILED)))
    return found


def _simulations_class():
    from ..observations import Simulations
    from .calibration_runs import read as read_arrays

    class ModelSimulations(Simulations):
        """Simulations whose ``parameters.NAME`` overrides apply only to the runs of models
        that declare NAME (a disease-over-healthy contrast shares the healthy parameters,
        the disease's own parameters leave the healthy reference run alone).

        A run is the well-mixed engine's, as :func:`evniche.simulate` makes it, without
        loading or compiling the model again: each condition is compiled once per process
        (:func:`compiled`) and a proposal only changes parameter values
        (:class:`evniche.engines.ensemble.ParameterValues`), relaxing to its steady state
        from the unchanged model's (the path of :func:`evniche.simulate_many`). With
        ``simulate_options`` (another engine, another tolerance) or an override of
        anything but a parameter, runs go through :func:`evniche.simulate`. Its runs are
        :class:`.calibration_runs.ArrayRun`: :attr:`read` reads them from their arrays.

        A run leaves out the EV ledger species (:attr:`ledger` False: half of ``aml``'s
        species, which nothing in the right-hand side reads back and no measurement
        model read from arrays needs): the same equations for the rest, solved to the
        same tolerance, so the readouts move only at the solver's tolerance
        (tests/calibration/test_lean_runs.py). A measurement model that reads the
        run's Dataset gets the run solved again with its ledger (the full network)."""

        read = staticmethod(read_arrays)
        #: whether runs keep the EV ledger species (the full network, as evniche.simulate)
        ledger = False
        #: whether a run stops once it has the samples its records read (:meth:`plan`)
        horizons = True
        #: whether a therapy that starts later starts from the untreated run's samples
        branches = True
        #: whether runs without the ledger factorise CVODE's Newton matrices with
        #: evniche.engines.sparse_lu (their steady states too) instead of SuperLU_MT
        sparse_lu = True

        def _model(self, preset: str, overrides: dict[str, Any]):
            names = _parameter_names(preset)
            saved = self.overrides
            self.overrides = {k: v for k, v in saved.items()
                              if not k.startswith("parameters.") or k[11:] in names}
            try:
                return super()._model(preset, overrides)
            finally:
                self.overrides = saved

        def run(self, preset: str, overrides: dict[str, Any], interventions: list[dict],
                days: float):
            proposal = self._proposal(preset, overrides)
            if proposal is None:
                return super().run(preset, overrides, interventions, days)
            import contextlib

            from ..engines import solver
            from ..engines.ensemble import solve_run
            from .calibration_runs import ArrayRun

            condition = compiled(preset, overrides, interventions, days)
            # the parameter values and their key once per condition and proposal (a
            # particle's records read the same runs ~20 times)
            memo = self.__dict__.setdefault("_values_of", {})
            seen = (id(condition), tuple(sorted(proposal.items())))
            if seen not in memo:
                params = condition.values.canonical(proposal, "calibration")
                values = sorted((k, repr(v)) for k, v in params.items())
                memo[seen] = params, values, json.dumps(values)
            params, values, values_key = memo[seen]

            def run_key(items: list) -> str:
                return json.dumps([preset, items, days], sort_keys=True,
                                  default=str) + values_key

            key = run_key(interventions)
            if key not in self._runs:
                def full(until=None):  # the run with its ledger (for a Dataset)
                    return solve_run(condition.model, condition.net, params, days,
                                     interventions, 1e-7, 24.0, True,
                                     relax_from=condition.base, keep_steady=False,
                                     until=until)

                # a therapy that starts later (at diagnosis) starts from the untreated
                # run's sample there, when that run was solved (integrate's branch_from)
                untreated = self._runs.get(run_key([])) \
                    if interventions and self.branches else None
                # runs of one network and parameter values start from one state (as the
                # steady-state cache gives it, without building its kinetics again)
                starts = self.__dict__.setdefault("_starts", {})

                def start():
                    fingerprint = (condition.net.digest, condition.kept.tobytes(),
                                   tuple(s.name for s in condition.net.species), str(values))
                    if fingerprint not in starts:
                        starts[fingerprint] = condition.start(params)
                    return starts[fingerprint]

                def lean(until=None):
                    with (solver.sparse_lu() if self.sparse_lu
                          else contextlib.nullcontext()):
                        return solve_run(condition.model, condition.lean, params, days,
                                         interventions, 1e-7, 24.0, True,
                                         keep_steady=False, initial=start(), until=until,
                                         branch_from=None if untreated is None
                                         else untreated.solved.sol)

                solve = full if self.ledger else lean
                until = self._horizon(preset, overrides, interventions, days,
                                      condition.lean)
                self._runs[key] = ArrayRun(solve(until), full=None if self.ledger else full,
                                           whole=solve)
            return self._runs[key]

        def plan(self, records: list) -> None:
            """Note what ``records`` read of each run, so that a run stops once it has
            those samples (:class:`.calibration_runs.Horizon`; the samples are bitwise
            those of the whole run, and a readout that asks for more has it solved to
            its end). Without a plan every run goes to its end."""
            from ..compile.interventions import diagnosis_offset, parse_intervention
            from ..observations.records import model_overrides
            from .calibration_runs import needs

            wanted: dict[str, list] = {}
            for record in records:
                overrides = model_overrides(record.overrides)
                for condition, need in needs(record):
                    items = [parse_intervention(text) for text in condition.interventions]
                    key = self._shape(condition.preset, overrides, items, condition.days)
                    wanted.setdefault(key, []).append(need)
                    if need[0] == "diagnosis" or any(
                            diagnosis_offset(item["start"]) is not None for item in items):
                        untreated = self._shape(condition.preset, overrides, [],
                                                condition.days)
                        wanted.setdefault(untreated, []).append(("diagnosis", 0.0))
            self._wanted = wanted

        @staticmethod
        def _shape(preset: str, overrides: dict[str, Any], interventions: list[dict],
                   days: float) -> str:
            """A run's key in a plan: the interventions without their start days."""
            shape = [{k: v for k, v in item.items() if k != "start"}
                     for item in interventions]
            return json.dumps([preset, overrides, shape, float(days)], sort_keys=True,
                              default=str)

        def _horizon(self, preset: str, overrides: dict[str, Any],
                     interventions: list[dict], days: float, net: Any):
            """The :class:`.calibration_runs.Horizon` of a run (None: to its end)."""
            from ..observations.comparison import DIAGNOSIS_BLASTS
            from .calibration_runs import Horizon

            wanted = getattr(self, "_wanted", {}).get(
                self._shape(preset, overrides, interventions, days))
            if not self.horizons or not wanted or any(need[0] == "end" for need in wanted):
                return None
            if interventions:  # another run's diagnosis day: a day of this one
                resolved = []
                for need in wanted:
                    if need[0] == "diagnosis":
                        try:
                            day = self.diagnosis_day(preset, overrides, days)
                        except (EvnicheError, ModelError):
                            return None
                        need = ("day", day + need[1])
                    resolved.append(need)
                wanted = resolved
            return Horizon(net, wanted, DIAGNOSIS_BLASTS)

        def diagnosis_day(self, preset: str, overrides: dict[str, Any], days: float) -> float:
            """As :meth:`Simulations.diagnosis_day`, read once per run (records read at or
            after diagnosis ask for it again and again), from the run's arrays."""
            key = json.dumps([preset, overrides, days], sort_keys=True, default=str)
            days_seen = self.__dict__.setdefault("_diagnosis", {})
            if key not in days_seen:
                try:
                    days_seen[key] = self._diagnosis_day(preset, overrides, days)
                except (EvnicheError, ModelError) as exc:
                    days_seen[key] = exc
            found = days_seen[key]
            if isinstance(found, Exception):
                raise found
            return found

        def _diagnosis_day(self, preset: str, overrides: dict[str, Any], days: float
                           ) -> float:
            from ..observations.comparison import DIAGNOSIS_BLASTS
            from ..readouts.clinical import diagnosis_criteria
            from .calibration_runs import ArrayRun

            run = self.run(preset, overrides, [], days)
            if not isinstance(run, ArrayRun):
                return super().diagnosis_day(preset, overrides, days)
            hit = run.diagnosis_sample(DIAGNOSIS_BLASTS)
            if hit is None:
                raise EvnicheError(f"'{preset}' never reaches diagnosis "
                                   f"({diagnosis_criteria(run, DIAGNOSIS_BLASTS)}; highest "
                                   f"blasts {float(np.nanmax(run.blast_percent)):.3g} %) in "
                                   f"{days:g} days")
            return float(run.time[hit])

        def _proposal(self, preset: str, overrides: dict[str, Any]
                      ) -> dict[str, float] | None:
            """The proposed values (NAME → value in the model file's unit) that apply to
            ``preset``'s runs, less those the record's ``overrides`` set (the record's
            win); None when a run must go through evniche.simulate (see the class)."""
            if self.options or any(not k.startswith("parameters.") for k in self.overrides):
                return None
            names = _parameter_names(preset)
            mine = {k.removeprefix("parameters.").removesuffix(".value"): v
                    for k, v in self.overrides.items()}
            set_by_record = {k.split(".")[1] for k in overrides if k.startswith("parameters.")}
            return {name: v for name, v in mine.items()
                    if name in names and name not in set_by_record}

    return ModelSimulations


class Objective:
    """The pyABC model: proposed coordinates → the records' distances. Picklable (runs on
    Dask workers). Returns ``{"total": sum, "<record id>": distance, …}``; a record that
    cannot be read counts +inf and its reason is logged."""

    def __init__(self, records: list, priors: list[Prior], simulate_options: dict | None = None):
        self.records = records
        self.priors = priors
        self.options = dict(simulate_options or {})

    def overrides(self, coordinates: dict[str, float]) -> dict[str, float]:
        """The ``parameters.NAME`` overrides (model file's unit) of pyABC coordinates."""
        return {p.key: p.to_value(coordinates[p.name]) for p in self.priors}

    def comparisons(self, overrides: dict[str, float]) -> list:
        """Every record beside the model with ``overrides``."""
        from ..observations.comparison import evaluate

        sims = _simulations_class()(overrides=overrides, **self.options)
        sims.plan(self.records)
        return [evaluate(r, sims) for r in self.records]

    def __call__(self, coordinates: dict[str, float]) -> dict[str, float]:
        overrides = self.overrides(coordinates)
        out: dict[str, float] = {}
        for row in self.comparisons(overrides):
            d = row.distance
            if row.error or math.isnan(d):
                log.warning("rejected %s: record %s could not be read: %s", overrides,
                            row.record.id, row.error or "no value")
                d = math.inf
            out[row.record.id] = float(d)
        out["total"] = float(sum(out.values()))
        return out


def preflight(objective: Objective, say: Callable[[str], None]) -> float:
    """Simulate the records once at the model's own parameter values; a record that cannot
    be read there is an EvnicheError (a calibration where every particle would be rejected
    never ends: pyABC's Dask sampler has no cap inside a generation). Returns the wall time
    of the particle (s)."""
    import time

    start = time.perf_counter()
    rows = objective.comparisons({p.key: p.value for p in objective.priors})
    seconds = time.perf_counter() - start
    for row in rows:
        if row.error or math.isnan(row.distance):
            raise EvnicheError(f"observation {row.record.id} cannot be read at the model's own "
                               f"parameter values: {row.error or 'no value'}")
    total = sum(r.distance for r in rows)
    say(f"{len(rows)} observation(s); at the model's own values the distance is {total:.4g} "
        f"({seconds:.1f} s per particle on one core)")
    return seconds


def _distance(x: dict, x_0: dict) -> float:
    """pyABC distance: the summed record distance the model already computed."""
    return float(x["total"])


def _acceptor():
    from pyabc.acceptor import AcceptorResult, UniformAcceptor

    class FiniteAcceptor(UniformAcceptor):
        """Uniform acceptance that never accepts an infinite distance (a failed record),
        even while epsilon is still infinite."""

        def __call__(self, distance_function, eps, x, x_0, t, par):
            res = super().__call__(distance_function, eps, x, x_0, t, par)
            return AcceptorResult(distance=res.distance,
                                  accept=bool(res.accept and math.isfinite(res.distance)))

    return FiniteAcceptor()


@dataclass
class Settings:
    """What defines a calibration run; a resumed run must have the same."""

    model: str
    digest: str
    parameters: list[str]
    observations: list[str]
    population: int
    days: float | None
    seed: int | None = None

    def check_same(self, other: Settings, folder: Path) -> None:
        """Refuse to resume ``folder``'s run under different settings."""
        for field in ("model", "digest", "parameters", "observations", "population", "days",
                      "seed"):
            a, b = getattr(self, field), getattr(other, field)
            if a != b:
                raise EvnicheError(f"{folder}: holds a calibration with a different {field} "
                                   f"({b} there, {a} now); use a new --out folder to start "
                                   "another")


def select_records(records: Iterable, model: str) -> list:
    """The records with a condition on ``model`` (a preset name or a model file)."""
    def same(preset: str) -> bool:
        if preset == model:
            return True
        a, b = Path(preset), Path(model)
        return a.is_file() and b.is_file() and a.resolve() == b.resolve()

    return [r for r in records if any(same(c.preset) for c in r.conditions)]


def without(records: list, leave_out: Iterable[str], model: str) -> list:
    """``records`` less those whose id is in ``leave_out``; an id that is not among them is
    an EvnicheError naming it, and so is leaving out every record."""
    gone = set(leave_out)
    unknown = sorted(gone - {r.id for r in records})
    if unknown:
        raise EvnicheError(f"leave out {', '.join(unknown)}: not an observation record on "
                           f"'{model}' (records: {', '.join(r.id for r in records)})")
    kept = [r for r in records if r.id not in gone]
    if not kept:
        raise EvnicheError(f"leave out {', '.join(sorted(gone))}: no record on '{model}' "
                           "would be left to fit")
    return kept


def with_horizon(records: list, days: float | None) -> list:
    """The records with every condition's run length set to ``days`` (None: as written)."""
    if days is None:
        return records
    return [r.model_copy(update={"conditions": [c.model_copy(update={"days": days})
                                                for c in r.conditions]}) for r in records]


def _check_budget(name: str, value: float | None) -> None:
    if value is not None and not value > 0:
        raise EvnicheError(f"{name}: must be > 0, got {value:g}")


def calibrate(model: str, out: str | Path, *, observations: Iterable[str | Path] | None = None,
              parameters: Iterable[str] | None = None, population: int = 4,
              generations: int = 2, max_simulations: int | None = None,
              days: float | None = None, sampler: Any = None,
              simulate_options: dict | None = None, predictive: int = 4,
              progress: Callable[[str], None] | None = None,
              command: str | None = None, leave_out: Iterable[str] = (),
              seed: int = 0) -> dict:
    """Run (or resume) an ABC-SMC calibration of ``model`` into the folder ``out``.

    ``generations`` is the total number of generations wanted: a folder that already
    holds k finished generations of the same calibration runs ``generations - k`` more.
    ``max_simulations`` caps the simulations (particles proposed, all generations);
    ``days`` replaces every record condition's run length (days). ``sampler`` is a pyABC
    sampler or a function making one (default: a Dask sampler on a LocalCluster, see
    :func:`dask_sampler`). ``seed`` seeds the parameter draws of a
    :class:`~evniche.experiments.seeded_sampler.SeededSampler` (the default sampler, and
    any a factory makes): the same seed gives the same posterior on any number of workers,
    resumed or not; a resumed run must use the seed it started with.
    ``predictive`` posterior draws are simulated again for the report (``report.html``).
    ``command``: the command line that made the calibration, recorded in
    ``posterior.json`` (``command``) so that the posterior says how to make it again.
    ``leave_out``: ids of records on ``model`` to leave out of the fit (each must be one of
    them; :mod:`evniche.experiments.leave_one_out`).
    Returns the contents of ``posterior.json``."""
    import pyabc

    from ..observations import load
    from ..spec.loader import load_model
    from .seeded_sampler import SeededSampler

    _check_budget("--population", population)
    if population < 2:
        raise EvnicheError(f"--population: needs at least 2 particles, got {population}")
    _check_budget("--generations", generations)
    _check_budget("--max-simulations", max_simulations)
    _check_budget("--days", days)
    if predictive < 0:
        raise EvnicheError(f"--predictive: must be >= 0, got {predictive}")
    say = progress or (lambda _: None)
    resolved = load_model(model)
    priors = free_parameters(resolved, parameters)
    folders = None if observations is None else list(observations)
    records = select_records(load(folders), model)
    if not records:
        where = "the shipped records" if folders is None else ", ".join(map(str, folders))
        raise EvnicheError(f"no observation in {where} has a condition on '{model}'")
    records = without(records, leave_out, model)
    records = with_horizon(records, days)
    settings = Settings(model, resolved.digest, [p.name for p in priors],
                        [r.id for r in records], int(population), days, int(seed))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    db_path = out / DATABASE
    settings_path = out / SETTINGS
    if db_path.exists() and settings_path.exists():
        Settings(**json.loads(settings_path.read_text(encoding="utf-8"))).check_same(settings, out)
    elif db_path.exists():
        raise EvnicheError(f"{db_path}: a history without {SETTINGS}; use a new --out folder")

    prior = pyabc.Distribution(**{p.name: pyabc.RV("uniform", lo, hi - lo)
                                  for p in priors for lo, hi in [p.bounds()]})
    if sampler is None:
        sampler = dask_sampler(seed=seed)
    elif not isinstance(sampler, pyabc.sampler.Sampler):
        sampler = sampler()  # a factory: the cluster starts only once the inputs are checked
    if isinstance(sampler, SeededSampler):
        sampler.seed = int(seed)
    objective = Objective(records, priors, simulate_options)
    abc = pyabc.ABCSMC(objective, prior, _distance, transitions=transition(priors, population),
                       population_size=int(population), sampler=sampler,
                       acceptor=_acceptor())
    db = f"sqlite:///{db_path.resolve()}"
    if db_path.exists():
        history = abc.load(db, 1)
        done = history.max_t + 1
        say(f"resuming {out}: {done} generation(s) done")
    else:
        preflight(objective, say)
        settings_path.write_text(json.dumps(asdict(settings), indent=1), encoding="utf-8")
        history = abc.new(db, {"total": 0.0})
        done = 0
    remaining = int(generations) - done
    if remaining > 0:
        cap = np.inf if max_simulations is None else int(max_simulations)
        if history.total_nr_simulations < cap:
            say(f"running {remaining} generation(s) of {population} particles")
            history = abc.run(max_nr_populations=remaining, max_total_nr_simulations=cap)
    if history.max_t < 0:
        raise EvnicheError("no generation finished (every particle was rejected, or the "
                           "simulation budget ran out first)")
    info = write_posterior(out, history, resolved, priors, records, settings,
                           {"max_simulations": max_simulations, "command": command})
    from .calibration_report import predictive as redraw
    from .calibration_report import write_report

    say(f"simulating {predictive} posterior draws for the report")
    frame = posterior_frame(history, priors)
    write_report(out, info, frame, priors, generations_table(history),
                 redraw(objective, frame, predictive))
    return info


def ship(out: str | Path, model: str, root: str | Path | None = None) -> Path:
    """Install the posterior of the calibration in ``out`` as the one shipped with preset
    ``model``: copy ``posterior.parquet`` and ``posterior.json`` (nothing else: the history
    and the report stay in ``out``) into the package folder ``evniche/posteriors/MODEL/``
    (in a development install, src/evniche/posteriors/MODEL/), adding ``regenerate`` (the
    command that remakes every shipped posterior) to the JSON. ``root``: the folder of the
    shipped posteriors (default: the package's). Returns the preset's folder."""
    import shutil
    from importlib import resources

    from ..spec.loader import preset_names
    from .posterior import REGENERATE, SHIPPED

    out = Path(out)
    if model not in preset_names():
        raise EvnicheError(f"--ship: '{model}' is not a preset; only presets ship a posterior "
                           f"(presets: {', '.join(preset_names())})")
    info = json.loads((out / POSTERIOR_INFO).read_text(encoding="utf-8"))
    if info.get("model_source") != model:
        raise EvnicheError(f"--ship: {out} holds a calibration of '{info.get('model_source')}'"
                           f", not of preset '{model}'")
    dest = Path(str(resources.files("evniche") / SHIPPED if root is None else root)) / model
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / POSTERIOR_TABLE, dest / POSTERIOR_TABLE)
    info["regenerate"] = REGENERATE
    (dest / POSTERIOR_INFO).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return dest


def work_folder(model: str, settings: str = "") -> Path:
    """The default ``--out`` of ``evniche calibrate PRESET --ship``: ``build/posteriors/
    PRESET-DIGEST-KEY`` under the current folder (DIGEST: 16 hex digits of the preset's
    digest; KEY: 8 hex digits of the SHA-256 of ``settings``, the options that define the
    calibration: parameters, observations, population, days). The same command resumes an
    interrupted calibration (also with more --generations); a changed preset or budget
    starts a fresh folder."""
    import hashlib

    from ..spec.loader import load_model

    key = hashlib.sha256(settings.encode("utf-8")).hexdigest()[:8]
    return Path("build") / "posteriors" / f"{model}-{str(load_model(model).digest)[:16]}-{key}"


def transition(priors: list[Prior], population: int):
    """pyABC's perturbation kernel: a multivariate normal over all parameters when the
    population has more particles than parameters + 1 (its covariance is then of full
    rank), otherwise one normal kernel per parameter (a product kernel, which ignores
    correlations but stays defined for a small population in many dimensions)."""
    import pyabc

    if population > len(priors) + 1:
        return pyabc.MultivariateNormalTransition()
    return pyabc.AggregatedTransition({p.name: pyabc.MultivariateNormalTransition()
                                       for p in priors})


def dask_sampler(scheduler: str | None = None, workers: int | None = None,
                 seed: int = 0):
    """A seeded pyABC sampler on Dask: on the cluster at ``scheduler`` (an address), or on
    a new LocalCluster with ``workers`` processes (default: the CPU count), 1 thread each."""
    import os

    from distributed import Client, LocalCluster

    from .seeded_sampler import SeededSampler

    if scheduler:
        client = Client(scheduler)
    else:
        n = workers or os.cpu_count() or 1
        client = Client(LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                     dashboard_address=":0"))
    return SeededSampler(client, seed)


def generations_table(history) -> list[dict]:
    """Per finished generation: t, epsilon, simulations, particles, acceptance rate, ESS."""
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0]
    rows = []
    for _, row in pops.iterrows():
        t = int(row["t"])
        _, w = history.get_distribution(m=0, t=t)
        w = np.asarray(w, dtype=float) / np.sum(w)
        rows.append({"t": t, "epsilon": float(row["epsilon"]),
                     "simulations": int(row["samples"]), "particles": int(row["particles"]),
                     "acceptance_rate": float(row["particles"]) / max(int(row["samples"]), 1),
                     "ess": float(1.0 / np.sum(w ** 2))})
    return rows


def posterior_frame(history, priors: list[Prior]):
    """The last generation as a DataFrame: a column per ``parameters.NAME`` (model file's
    unit) and ``weight`` (sums to 1)."""
    import pandas as pd

    df, w = history.get_distribution(m=0, t=history.max_t)
    w = np.asarray(w, dtype=float)
    table = {p.key: [p.to_value(x) for x in df[p.name].to_numpy(dtype=float)] for p in priors}
    table["weight"] = list(w / w.sum())
    return pd.DataFrame(table)


def write_posterior(out: Path, history, model, priors: list[Prior], records: list,
                    settings: Settings, extra: dict | None = None) -> dict:
    """Write ``posterior.parquet`` and ``posterior.json`` into ``out``; return the JSON.
    ``extra`` (e.g. ``max_simulations``, ``command``) is added to the JSON."""
    import pyabc

    from .. import __version__ as evniche_version

    frame = posterior_frame(history, priors)
    frame.to_parquet(out / POSTERIOR_TABLE, index=False)
    gens = generations_table(history)
    info = {
        "model": model.name,
        "model_source": settings.model,
        "digest": model.digest,
        "parameters": [{"name": p.name, "key": p.key, "unit": p.unit,
                        "prior": {"low": p.low, "high": p.high,
                                  "scale": "log-uniform" if p.log else "uniform"},
                        "model_value": p.value} for p in priors],
        "versions": {"evniche": evniche_version, "pyabc": pyabc.__version__,
                     "numpy": np.__version__},
        "observations": [{"id": r.id, "source": r.source.ref} for r in records],
        "days": settings.days,
        "seed": settings.seed,
        "population": settings.population,
        "generations": len(gens),
        "epsilons": [g["epsilon"] for g in gens],
        "acceptance_rates": [g["acceptance_rate"] for g in gens],
        "ess": [g["ess"] for g in gens],
        "simulations": int(history.total_nr_simulations),
        **(extra or {}),
    }
    (out / POSTERIOR_INFO).write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def interval(values: np.ndarray, weights: np.ndarray, level: float = 0.9) -> tuple[float, float]:
    """The central weighted ``level`` interval of ``values``."""
    order = np.argsort(values)
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    cdf = np.cumsum(w) / np.sum(w)
    lo = float(v[np.searchsorted(cdf, (1 - level) / 2)])
    hi = float(v[min(np.searchsorted(cdf, 1 - (1 - level) / 2), len(v) - 1)])
    return lo, hi
