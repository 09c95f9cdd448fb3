"""Global sensitivity of a model's readouts to its assumptions (SALib: Morris, Sobol').

The **factors** are the model's assumption parameters (source ``assumption: …``) that
declare a plausible ``range`` and a ``value`` (not a formula): every number the model
rests on without a citation. Each is sampled over its range, in the unit the model file
writes it in:

* **log-uniform** where the range spans more than a decade (``high / low > 10``, ``low >
  0``): the sampling coordinate is ``log10(value)``, so each decade gets the same share of
  samples and a Morris step or a Sobol' variance is per decade, not dominated by the top
  decade;
* **uniform** otherwise (and always where ``low <= 0``).

Methods (``method``):

* ``morris`` (default): elementary effects on ``r`` trajectories of ``k + 1`` runs each
  (4 levels). Per readout and factor: ``mu_star`` (mean |effect|, readout unit per unit
  of the sampling coordinate's range), its bootstrap 95 % CI, ``sigma`` (spread: non-linear
  or interacting) and ``influence = mu_star / sd(readout)`` (dimensionless). A factor
  *matters* for a readout when ``influence >= 0.1``.
* ``sobol``: Saltelli's scheme (scrambled Sobol' sequence), ``N (k + 2)`` runs: first
  order ``S1`` and total ``ST`` indices with bootstrap 95 % CIs; ``influence = ST``; a
  factor matters when ``ST >= 0.01`` (1 % of the readout's variance, interactions
  included).
* ``local``: the elasticities of :mod:`evniche.readouts.sensitivity` (±10 % around the
  model's values, kept inside the range), ``2k + 1`` runs: ``influence = |elasticity|``; a
  factor matters when ``influence >= 0.1``. A quick view, blind to everything away from
  the model's values.

Budget: ``budget`` caps the number of model runs. Morris uses the most trajectories that
fit (at least :data:`MIN_TRAJECTORIES`); Sobol' the largest power of two ``N`` with ``N (k +
2) <= budget`` (at least :data:`MIN_SOBOL_BASE`). Without a budget: Morris
:data:`DEFAULT_TRAJECTORIES` trajectories (``r (k + 1)`` runs: 624 for ``aml``'s 103
factors), Sobol' ``N = 8``.

**Infeasible sets.** A parameter set is *infeasible* when the model's own derivations break
down on it: a derived parameter is not a finite real number, or a value lies outside what the
place that uses it accepts (a negative cell count, a self-renewal fraction above 1): the
checks a reload of the model makes (:class:`evniche.engines.ensemble.InfeasibleParameters`).
In ``aml``, e.g., HSCs that leave the niche faster than they divide (a high
``hsc_mobilization_max`` with weak CXCL12 retention) have no healthy steady state: the
derived HSC outflow is negative and the amplification per stage (its cube root) complex.
The plausible ranges are a box; the valid models are a region inside it. Morris and Sobol'
therefore sample that region by **rejection of whole design blocks**, before any run: a
candidate trajectory (Morris) or Saltelli block (Sobol') with an infeasible set is drawn
again (from the same seed), up to :data:`MAX_CANDIDATES` candidates per block wanted. Each
rejected candidate is kept (:attr:`Design.rejected`: its first infeasible set and why) and
counted in the summary; nothing is dropped silently. The indices are those of the readouts
over the valid region (the elementary effects of steps that stay valid; Saltelli's
estimators assume independent inputs, which the constraint makes them not: a screening).

Runs that fail (solver, time limit) are kept in the samples with their error and left out
of the analysis by whole design blocks (a Morris trajectory, a Sobol' block of ``k + 2``
runs), as SALib needs complete blocks; the take-over day of a run without take-over is
censored at the horizon (see :mod:`evniche.readouts.scalars`). Both are counted in the
summary. A readout that never moves across the runs (e.g. no run takes over) cannot
constrain any assumption, and says so.

Same model, method, budget, horizon and seed: same samples and same tables.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import EvnicheError
from ..readouts import scalars
from . import distribute

METHODS = ("morris", "sobol", "local")
#: a range wider than this ratio (high / low) is sampled log-uniformly
LOG_SPAN = 10.0
MORRIS_LEVELS = 4
MIN_TRAJECTORIES = 2
#: Morris trajectories without a budget
DEFAULT_TRAJECTORIES = 6
MIN_SOBOL_BASE = 8
#: candidate blocks (trajectories, Saltelli blocks) drawn at most per block wanted, when
#: candidates with infeasible sets are drawn again
MAX_CANDIDATES = 50
#: local elasticities: relative change of each parameter (fraction)
LOCAL_STEP = 0.1
#: a factor matters for a readout when its influence reaches this (per method)
MATTERS = {"morris": 0.1, "sobol": 0.01, "local": 0.1}
INFLUENCE = {"morris": "mu_star / sd(readout)", "sobol": "ST", "local": "|elasticity|"}


@dataclass(frozen=True)
class Factor:
    """An assumption parameter varied over its plausible range (values in ``unit``, the
    unit of the model file). ``key`` is the override path that sets it."""

    name: str
    key: str
    unit: str
    value: float
    low: float
    high: float
    source: str

    @property
    def log(self) -> bool:
        """Sampled log-uniformly: the range spans more than a decade (see module text)."""
        # a relative tolerance: a range written as exactly one decade stays uniform after
        # the round trip through canonical units
        return self.low > 0 and self.high / self.low > LOG_SPAN * (1 + 1e-9)

    @property
    def bounds(self) -> tuple[float, float]:
        """The range of the sampling coordinate (log10 of the value where :attr:`log`)."""
        return (math.log10(self.low), math.log10(self.high)) if self.log else \
            (self.low, self.high)

    def values(self, coordinate: np.ndarray) -> np.ndarray:
        """Parameter values (``unit``) from sampling coordinates, kept inside the range."""
        raw = np.power(10.0, coordinate) if self.log else np.asarray(coordinate, float)
        return np.clip(raw, self.low, self.high)


def factors(model, patterns: Sequence[str] | None = None) -> list[Factor]:
    """The factors of a :class:`~evniche.spec.resolve.ResolvedModel`, sorted by name;
    ``patterns`` (shell globs such as ``lsc_*``) keep only the parameters they match."""
    from .. import units

    found = []
    for p in model.params.resolved.values():
        if not p.is_assumption or p.range is None or p.expr is not None:
            continue
        factor = p.value / p.value_in_unit if p.value_in_unit else units.to_canonical(
            1.0, p.unit, p.kind, p.name)
        low, high = p.range[0] / factor, p.range[1] / factor
        if not high > low:
            continue  # a point range: nothing to vary
        key = f"parameters.{p.name}.value" if p.name in model.spec.parameters else \
            f"{p.name}.value"  # an inline parameter is named by its path
        found.append(Factor(p.name, key, p.unit, p.value_in_unit, low, high, p.source))
    found.sort(key=lambda f: f.name)
    if patterns:
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(f.name, pattern) for f in found):
                raise EvnicheError(f"--parameter {pattern}: matches no assumption parameter "
                                   f"with a plausible range of model '{model.name}'")
        found = [f for f in found if any(fnmatch.fnmatchcase(f.name, p) for p in patterns)]
    if not found:
        raise EvnicheError(f"model '{model.name}' has no assumption parameter with a "
                           f"plausible range (source 'assumption: …' and range: [low, high])")
    return found


def problem(items: Sequence[Factor]) -> dict:
    """The SALib problem, in sampling coordinates."""
    return {"num_vars": len(items), "names": [f.name for f in items],
            "bounds": [list(f.bounds) for f in items]}


@dataclass
class Design:
    """The runs of one analysis: ``coordinates`` (runs × factors, sampling coordinates),
    ``values`` (runs × factors, in each factor's unit); ``size`` is Morris's trajectories
    ``r``, Sobol's base sample ``N``, or the local runs."""

    method: str
    size: int
    coordinates: np.ndarray
    values: np.ndarray
    #: candidate blocks drawn (kept and rejected)
    candidates: int = 0
    #: one row per rejected candidate block: ``candidate`` (its number among those drawn),
    #: ``set`` (its first infeasible parameter set, within the block), the factor values of
    #: that set, ``cause`` (parameter and condition) and ``error`` (the whole message)
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def runs(self) -> int:
        return int(self.values.shape[0])

    def causes(self) -> dict[str, int]:
        """Rejected candidate blocks per cause, the most frequent first."""
        if self.rejected.empty:
            return {}
        counts = self.rejected["cause"].value_counts(sort=True)
        return {str(k): int(v) for k, v in counts.items()}


#: a feasibility check of one parameter set (factor values in their units): None when the
#: set is a valid model, else (cause, message)
Check = Callable[[np.ndarray], "tuple[str, str] | None"]


def feasibility(model, items: Sequence[Factor], days: float = 365.0) -> Check:
    """The feasibility check of ``items``' parameter sets of ``model`` (a
    :class:`~evniche.spec.resolve.ResolvedModel`): the model's own derivations and use-site
    checks (:class:`evniche.engines.ensemble.ParameterValues`), without running it."""
    from ..engines import prepare
    from ..engines.ensemble import InfeasibleParameters, ParameterValues

    net, _ = prepare(model, None, None, days)
    values = ParameterValues(model, net)
    names = [f.name for f in items]  # the parameter table's names (an inline one: its path)

    def check(row: np.ndarray) -> tuple[str, str] | None:
        try:
            values.canonical(dict(zip(names, map(float, row), strict=True)), "design")
        except InfeasibleParameters as exc:
            return f"{exc.parameter} {exc.condition}", str(exc)
        return None

    return check


def _check_budget(budget: int | None) -> None:
    if budget is not None and (not isinstance(budget, int | np.integer) or budget < 1):
        raise EvnicheError(f"--budget must be a whole number of runs >= 1, got {budget}")


def design(method: str, items: Sequence[Factor], budget: int | None = None,
           seed: int = 0, check: Check | None = None) -> Design:
    """Sample the factors for ``method`` within ``budget`` runs (see module text).
    ``check``: the feasibility of a parameter set (:func:`feasibility`); Morris and Sobol'
    draw a candidate block again while one of its sets is infeasible."""
    if method not in METHODS:
        raise EvnicheError(f"unknown method '{method}'; choose one of {', '.join(METHODS)}")
    _check_budget(budget)
    k = len(items)
    if method == "local":
        if budget is not None:
            raise EvnicheError("--budget applies to morris and sobol; local always runs "
                               f"2k + 1 = {2 * k + 1} runs")
        return _local_design(items)
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    if method == "morris":
        r = DEFAULT_TRAJECTORIES if budget is None else budget // (k + 1)
        if r < MIN_TRAJECTORIES:
            raise EvnicheError(f"--budget {budget} is too small for Morris with {k} factors: "
                               f"at least {MIN_TRAJECTORIES} trajectories of k + 1 runs, "
                               f"{MIN_TRAJECTORIES * (k + 1)} runs (or fewer factors with "
                               f"--parameter)")

        def draw(n: int, round_: int) -> np.ndarray:
            # round 0 is the design a model without infeasible sets always had; each later
            # round new trajectories from the same seed
            return morris_sample.sample(problem(items), n, num_levels=MORRIS_LEVELS,
                                        seed=seed if round_ == 0 else
                                        np.random.default_rng([seed, round_]))

        wanted, least, block, unit = r, MIN_TRAJECTORIES, k + 1, "trajectories"
    else:
        n = MIN_SOBOL_BASE if budget is None else 2 ** int(math.floor(math.log2(
            max(budget / (k + 2), 1))))
        if n < MIN_SOBOL_BASE:
            raise EvnicheError(f"--budget {budget} is too small for Sobol' with {k} factors: "
                               f"at least N = {MIN_SOBOL_BASE} base samples of k + 2 runs, "
                               f"{MIN_SOBOL_BASE * (k + 2)} runs (or fewer factors with "
                               f"--parameter)")
        drawn: list[np.ndarray] = []

        def draw(n: int, round_: int) -> np.ndarray:
            # the next n blocks of one scrambled Sobol' sequence (a longer sample of the
            # same seed starts with the shorter one): round 0 is the design as it always was
            total = sum(len(x) for x in drawn) // (k + 2) + n
            total = 2 ** math.ceil(math.log2(total))
            x = sobol_sample.sample(problem(items), total, calc_second_order=False,
                                    scramble=True, seed=seed)
            new = x[sum(len(p) for p in drawn):][:n * (k + 2)]
            drawn.append(new)
            return new

        wanted, least, block, unit = n, 2, k + 2, "Saltelli blocks"
    x, tried, rejected = _feasible(draw, wanted, block, items, check)
    kept = len(x) // block
    if kept < least:
        causes = pd.Series([c for c in rejected["cause"]]).value_counts()
        raise EvnicheError(
            f"only {kept} of {tried} candidate {unit} of {method} are valid models (at least "
            f"{least} needed); the others hold infeasible parameter sets: "
            + "; ".join(f"{v} x {c}" for c, v in causes.items())
            + ". Vary fewer assumptions with --parameter, or see 'Infeasible sets' in "
              "docs/sensitivity.md")
    values = np.column_stack([f.values(x[:, j]) for j, f in enumerate(items)])
    return Design(method, kept, x, values, tried, rejected)


def _feasible(draw: Callable[[int, int], np.ndarray], wanted: int, block: int,
              items: Sequence[Factor], check: Check | None
              ) -> tuple[np.ndarray, int, pd.DataFrame]:
    """``wanted`` blocks of ``block`` rows (sampling coordinates) whose every parameter set
    passes ``check``, from candidates ``draw(n, round)`` (n blocks), in the order drawn; at
    most :data:`MAX_CANDIDATES` candidates per block wanted. Returns the kept rows, the
    candidates drawn and the rejected ones (see :attr:`Design.rejected`)."""
    kept: list[np.ndarray] = []
    rejected: list[dict] = []
    tried = round_ = 0
    cap = MAX_CANDIDATES * wanted
    while len(kept) < wanted and tried < cap:
        need = wanted - len(kept)
        # after round 0, as many as the acceptance so far suggests (at least twice the need)
        share = len(kept) / tried if tried and kept else 0.0
        n = need if round_ == 0 else min(cap - tried, max(2 * need, math.ceil(
            1.2 * need / share) if share else 4 * need))
        x = draw(n, round_)
        for b in range(n):
            if len(kept) == wanted:  # the rest of this round is never looked at
                n = b
                break
            rows = x[b * block:(b + 1) * block]
            why = None
            if check is not None:
                values = np.column_stack([f.values(rows[:, j]) for j, f in
                                          enumerate(items)])
                for i, row in enumerate(values):
                    why = check(row)
                    if why is not None:
                        rejected.append({"candidate": tried + b, "set": i,
                                         **dict(zip([f.name for f in items], row,
                                                    strict=True)),
                                         "cause": why[0], "error": why[1]})
                        break
            if why is None:
                kept.append(rows)
        tried += n
        round_ += 1
    columns = ["candidate", "set", *[f.name for f in items], "cause", "error"]
    out = np.vstack(kept) if kept else np.empty((0, len(items)))
    return out, tried, pd.DataFrame(rejected, columns=columns)


def _local_requests(items: Sequence[Factor]) -> list[dict[str, float]]:
    """The runs :func:`evniche.readouts.sensitivity.elasticities` asks for, in order
    (recorded by a runner that runs nothing), without repeats."""
    from ..readouts.sensitivity import elasticities

    asked: list[dict[str, float]] = []

    def record(overrides: dict[str, float]) -> None:
        if overrides not in asked:
            asked.append(dict(overrides))

    elasticities(record, {f.key: f.value for f in items}, step=LOCAL_STEP,
                 outcome=lambda _: None, ranges={f.key: (f.low, f.high) for f in items})
    return asked


def _local_design(items: Sequence[Factor]) -> Design:
    asked = _local_requests(items)
    values = np.array([[req.get(f.key, f.value) for f in items] for req in asked], float)
    coords = np.column_stack([np.log10(values[:, j]) if f.log else values[:, j]
                              for j, f in enumerate(items)])
    return Design("local", len(asked), coords, values)


def overrides(items: Sequence[Factor], values: np.ndarray) -> list[dict[str, float]]:
    """One override mapping per run (every factor set, in its unit)."""
    keys = [f.key for f in items]
    return [dict(zip(keys, map(float, row), strict=True)) for row in values]


# ------------------------------------------------------------------------------ analysis


def _blocks(y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row mask of the complete (all finite) blocks of ``size`` runs; and the kept ones."""
    finite = np.isfinite(y).reshape(-1, size).all(axis=1)
    return np.repeat(finite, size), finite


def _morris(items: Sequence[Factor], d: Design, y: np.ndarray, seed: int
            ) -> tuple[pd.DataFrame, int, str]:
    from SALib.analyze import morris as morris_analyze

    k = len(items)
    rows, kept = _blocks(y, k + 1)
    names = [f.name for f in items]
    if kept.sum() < MIN_TRAJECTORIES:
        return _empty(names, ["mu_star", "mu_star_conf", "sigma", "mu"]), int(rows.sum()), \
            f"fewer than {MIN_TRAJECTORIES} complete trajectories"
    res = morris_analyze.analyze(problem(items), d.coordinates[rows], y[rows],
                                 num_levels=MORRIS_LEVELS, seed=seed)
    frame = pd.DataFrame({"parameter": names, "mu_star": res["mu_star"],
                          "mu_star_conf": res["mu_star_conf"], "sigma": res["sigma"],
                          "mu": res["mu"]})
    spread = float(np.std(y[rows]))
    frame["influence"] = frame["mu_star"] / spread if spread > 0 else 0.0
    return frame, int(rows.sum()), ""


def _sobol(items: Sequence[Factor], d: Design, y: np.ndarray, seed: int
           ) -> tuple[pd.DataFrame, int, str]:
    from SALib.analyze import sobol as sobol_analyze

    k = len(items)
    rows, kept = _blocks(y, k + 2)
    names = [f.name for f in items]
    cols = ["S1", "S1_conf", "ST", "ST_conf"]
    if kept.sum() < 2:
        return _empty(names, cols), int(rows.sum()), "fewer than 2 complete Sobol' blocks"
    if float(np.std(y[rows])) == 0:
        frame = pd.DataFrame({"parameter": names, **{c: 0.0 for c in cols}})
        frame["influence"] = 0.0
        return frame, int(rows.sum()), ""
    with np.errstate(all="ignore"):
        res = sobol_analyze.analyze(problem(items), y[rows], calc_second_order=False,
                                    seed=seed)
    frame = pd.DataFrame({"parameter": names, **{c: res[c] for c in cols}})
    frame["influence"] = frame["ST"]
    return frame, int(rows.sum()), ""


def _local(items: Sequence[Factor], d: Design, y: np.ndarray, censored: np.ndarray | None
           ) -> tuple[pd.DataFrame, int, str]:
    from ..readouts.sensitivity import elasticities

    keys = [f.key for f in items]
    lookup: dict[tuple, float | None] = {}
    for i, row in enumerate(d.values):
        value = y[i] if np.isfinite(y[i]) and not (censored is not None and censored[i]) \
            else None
        lookup[tuple(row)] = None if value is None else float(value)
    base = np.array([f.value for f in items])

    def lookup_run(changes: dict[str, float]) -> tuple:
        row = base.copy()
        for key, value in changes.items():
            row[keys.index(key)] = value
        return tuple(row)

    table = elasticities(lambda changes: lookup_run(changes), dict(zip(keys, base,
                         strict=True)), step=LOCAL_STEP, outcome=lambda row: lookup[row],
                         ranges={f.key: (f.low, f.high) for f in items})
    by_key = {f.key: f.name for f in items}
    frame = pd.DataFrame({"parameter": table["parameter"].map(by_key),
                          "elasticity": table["elasticity"], "local_note": table["note"]})
    frame = frame.set_index("parameter").loc[[f.name for f in items]].reset_index()
    frame["influence"] = frame["elasticity"].abs()
    return frame, int(np.isfinite(y).sum()), ""


def _empty(names: list[str], cols: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({"parameter": names, **{c: np.nan for c in cols}})
    frame["influence"] = np.nan
    return frame


# ------------------------------------------------------------------------------ running


@dataclass
class Result:
    """A global sensitivity analysis: ``samples`` (one row per run: ``run``, the factor
    values in their units, the readouts, ``NAME_censored``, ``note``, ``error``),
    ``indices`` (one row per readout × factor, method columns + ``influence`` and
    ``matters``), ``readout_notes`` (per readout: runs used, censored, constant …)."""

    model: str
    method: str
    design: Design
    factors: list[Factor]
    readouts: list[scalars.Readout]
    samples: pd.DataFrame
    indices: pd.DataFrame
    readout_notes: dict[str, str]
    settings: dict[str, Any] = field(default_factory=dict)

    def ranked(self) -> pd.DataFrame:
        """Factors × readouts of ``influence``, the most influential factor first (by its
        largest influence over the readouts)."""
        wide = self.indices.pivot(index="parameter", columns="readout", values="influence")
        wide = wide[[r.name for r in self.readouts]]
        order = wide.max(axis=1).fillna(-1.0).sort_values(ascending=False, kind="stable")
        return wide.loc[order.index]

    def summary(self) -> list[str]:
        """Sentences: which assumptions matter for which readout, which readouts cannot
        constrain any, and the assumptions no readout here constrains."""
        threshold = MATTERS[self.method]
        lines = []
        failed = int((self.samples["error"] != "").sum())
        lines.append(f"{self.design.runs} runs ({self.method}, "
                     f"{_size_text(self.method, self.design.size)}), {len(self.factors)} "
                     f"assumptions; {failed} run(s) failed")
        causes = self.design.causes()
        if causes:
            unit = {"morris": "trajectories", "sobol": "Saltelli blocks"}[self.method]
            lines.append(
                f"{len(self.design.rejected)} of {self.design.candidates} candidate {unit} "
                "held an infeasible parameter set (not a valid model) and were drawn again "
                "before running; by the first such set's cause: "
                + ", ".join(f"{c} ({n})" for c, n in causes.items()))
        for r in self.readouts:
            part = self.indices[self.indices["readout"] == r.name]
            top = part[part["matters"]].sort_values("influence", ascending=False)
            note = self.readout_notes.get(r.name, "")
            if top.empty:
                lines.append(f"{r.name}: no assumption reaches influence {threshold:g} "
                             f"({INFLUENCE[self.method]}); it cannot constrain them"
                             + (f" ({note})" if note else ""))
                continue
            names = ", ".join(f"{p} ({v:.2g})" for p, v in
                              zip(top["parameter"][:5], top["influence"][:5], strict=True))
            more = f" and {len(top) - 5} more" if len(top) > 5 else ""
            lines.append(f"{r.name}: {len(top)} assumption(s) matter: {names}{more}"
                         + (f" ({note})" if note else ""))
        never = self.unconstrained()
        if never:
            lines.append(f"{len(never)} assumption(s) no readout here can constrain: "
                         + ", ".join(never))
        return lines

    def unconstrained(self) -> list[str]:
        """Factors that matter for no readout."""
        matters = self.indices.groupby("parameter")["matters"].any()
        return [f.name for f in self.factors if not matters.get(f.name, False)]


def _size_text(method: str, size: int) -> str:
    return {"morris": f"r = {size} trajectories", "sobol": f"N = {size} base samples",
            "local": f"{size} runs"}[method]


def analyse(method: str, items: Sequence[Factor], d: Design, samples: pd.DataFrame,
            readouts: Sequence[scalars.Readout], seed: int = 0
            ) -> tuple[pd.DataFrame, dict[str, str]]:
    """The indices of every readout (long table) and a note per readout."""
    parts, notes = [], {}
    for r in readouts:
        y = samples[r.name].to_numpy(dtype=float)
        censored = samples[f"{r.name}_censored"].to_numpy(bool) if r.censored else None
        if method == "morris":
            frame, used, why = _morris(items, d, y, seed)
        elif method == "sobol":
            frame, used, why = _sobol(items, d, y, seed)
        else:
            frame, used, why = _local(items, d, y, censored)
        frame.insert(0, "readout", r.name)
        frame["matters"] = frame["influence"].fillna(0.0) >= MATTERS[method]
        parts.append(frame)
        bits = [why] if why else []
        if used < len(y):
            bits.append(f"{len(y) - used} of {len(y)} runs left out (failed or undefined)")
        if censored is not None and censored.any():
            bits.append(f"censored at the horizon in {int(censored.sum())} of {len(y)} runs")
        finite = y[np.isfinite(y)]
        if finite.size and np.ptp(finite) == 0:
            bits.append("never moves across the runs")
        elif not finite.size:
            bits.append("undefined in every run")
        notes[r.name] = "; ".join(bits)
    return pd.concat(parts, ignore_index=True), notes


def run(model, *, method: str = "morris", budget: int | None = None, seed: int = 0,
        days: float = 365.0, readouts: Sequence[str] | None = None,
        extra_readouts: Mapping[str, scalars.ScalarFunction] | None = None,
        parameters: Sequence[str] | None = None, client: Any = None,
        wall_limit_s: float | None = None, options: Mapping[str, Any] | None = None,
        progress: Callable[[int, int], None] | None = None,
        plan: Design | None = None) -> Result:
    """Global sensitivity of ``model`` (a :class:`~evniche.spec.resolve.ResolvedModel`).

    ``readouts``: built-in names or ``module:function`` (default: take-over day, plasma EVs,
    normal output); ``extra_readouts``: ``{name: callable Dataset -> float}``;
    ``parameters``: globs choosing factors; ``client``: a ``distributed.Client`` (None: run
    in this process); ``wall_limit_s``: per run (seconds); ``options``: engine options of
    :func:`evniche.simulate` (e.g. ``equilibrate_first``); ``progress(done, total)`` after
    each chunk of runs; ``plan``: the design, when the caller made it already
    (:func:`design` with the same method, budget, seed and the :func:`feasibility` check).
    """
    from ..engines import cost

    if method not in METHODS:
        raise EvnicheError(f"unknown method '{method}'; choose one of {', '.join(METHODS)}")
    _check_budget(budget)
    days = cost.check_days(days)
    chosen = scalars.choose(readouts, extra_readouts)
    items = factors(model, parameters)
    d = plan if plan is not None else design(method, items, budget, seed,
                                              feasibility(model, items, days))
    ensemble = distribute.Ensemble(model=model.raw, days=days, readouts=tuple(chosen),
                                   seed=seed, wall_limit_s=wall_limit_s,
                                   options=dict(options or {}))
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, d.runs)

    outputs = distribute.evaluate(ensemble, overrides(items, d.values), client=client,
                                  progress=advance)
    if (outputs["error"] != "").all():
        raise EvnicheError(f"every run failed; the first: {outputs['error'].iloc[0]}")
    samples = pd.concat([pd.DataFrame({"run": np.arange(d.runs)}),
                         pd.DataFrame(d.values, columns=[f.name for f in items]), outputs],
                        axis=1)
    indices, notes = analyse(method, items, d, samples, chosen, seed)
    settings = {"method": method, "budget": budget, "seed": seed, "days": days,
                "runs": d.runs, "size": d.size, "candidates": d.candidates,
                "rejected": len(d.rejected), "readouts": [r.name for r in chosen],
                "parameters": list(parameters or []),
                "thresholds": {"influence": INFLUENCE[method], "matters": MATTERS[method],
                               "log_span": LOG_SPAN}}
    return Result(model.name, method, d, list(items), chosen, samples, indices, notes,
                  settings)
