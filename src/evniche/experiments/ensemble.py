"""An ensemble of runs drawn from a posterior: per-member readouts, credible intervals and
trajectory bands.

Members are equally weighted (the weights went into the resampling,
:meth:`evniche.experiments.posterior.Posterior.draw`), so every interval here is a plain
quantile over members (:func:`evniche.experiments.posterior.weighted_quantile` with equal
weights): the median, the 50 % band (25-75 %) and the 90 % band (5-95 %). A take-over that
does not happen within the horizon is *censored*: it counts as "after the horizon"
(``+inf``), it is never dropped, and the probability of a take-over within the horizon is
reported next to its interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ..errors import EvnicheError
from ..readouts import clinical, liquid_biopsy
from .posterior import QUANTILES, weighted_quantile

#: a trajectory series for bands: dataset -> {label: values over the dataset's time}
SeriesFn = Callable[[xr.Dataset], dict[str, np.ndarray]]


def simulate_members(resolved, draws: Sequence[dict[str, float]], days: float, seed: int = 0,
                     interventions: list | None = None,
                     advance: Callable[[], None] | None = None,
                     wall_limit_s: float | None = None, **options) -> list[xr.Dataset]:
    """One well-mixed run per draw (override key ``parameters.NAME`` → value in the
    model's unit): the model is compiled once and each draw only changes parameter values
    (:func:`evniche.simulate_many`). The single place an ensemble is simulated.
    ``options``: ``rtol``, ``output_hours`` and ``equilibrate_first`` as in
    :func:`evniche.simulate` (``allow_large`` is accepted and not needed: the size of one
    run was checked before; ``seed`` too: the well-mixed engine is deterministic); any
    other option is refused."""
    from ..engines.ensemble import simulate_many

    names = []
    for draw in draws:
        keys = {k: k.removeprefix("parameters.") for k in draw}
        if any(k == v or "." in v for k, v in keys.items()):
            raise EvnicheError(f"posterior draws name parameters as 'parameters.NAME', got "
                               f"{', '.join(k for k, v in keys.items() if k == v or '.' in v)}")
        names.append({keys[k]: v for k, v in draw.items()})
    from .distribute import ENGINE_OPTIONS

    unknown = set(options) - set(ENGINE_OPTIONS) - {"allow_large"}
    if unknown:
        raise EvnicheError(f"ensemble options {', '.join(sorted(unknown))} are not engine "
                           f"options; expected some of {', '.join(ENGINE_OPTIONS)}")
    passed = {k: options[k] for k in ENGINE_OPTIONS if k in options}
    return simulate_many(resolved, names, days, interventions=list(interventions or []),
                         wall_limit_s=wall_limit_s, advance=advance, **passed)


def takeover_days(members: Sequence[xr.Dataset], threshold: float = 20.0) -> np.ndarray:
    """Each member's take-over day (blasts >= ``threshold`` % of marrow cells); ``+inf``
    for a member that does not take over within its run (censored)."""
    days = [clinical.takeover_day(ds, threshold) for ds in members]
    return np.array([math.inf if d is None else float(d) for d in days])


@dataclass
class Interval:
    """One readout over the ensemble: its quantiles (5, 25, 50, 75, 95 %)."""

    label: str
    unit: str
    q: np.ndarray
    note: str = ""

    @property
    def median(self) -> float:
        return float(self.q[2])

    def text(self, fmt: Callable[[float], str]) -> str:
        """'median (90 % CrI low–high)'; a censored end reads '> horizon'."""
        return f"{fmt(self.q[2])} (90 % CrI {fmt(self.q[0])}–{fmt(self.q[4])})"


@dataclass
class EnsembleSummary:
    """What the report and the console show of an ensemble."""

    n: int
    days: float
    p_takeover: float  # share of members taking over within the horizon
    takeover: Interval
    readouts: list[Interval] = field(default_factory=list)
    bands: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = field(default_factory=dict)
    parameters: list[Interval] = field(default_factory=list)


def interval(label: str, unit: str, values: Sequence[float], note: str = "") -> Interval:
    return Interval(label, unit, weighted_quantile(values, None, QUANTILES), note)


def readout_values(ds: xr.Dataset) -> dict[tuple[str, str], float]:
    """The summary readouts of one run: (label, unit) → value."""
    out: dict[tuple[str, str], float] = {}
    blasts = clinical.blast_percent(ds)
    out[("marrow blasts at the end", "%")] = float(blasts.isel(time=-1))
    out[("marrow cellularity at the end", "cells")] = float(
        clinical.marrow_cellularity(ds).isel(time=-1))
    drop = clinical.normal_output_drop(ds)
    out[("normal blood output, change from day 0 to the end", "%")] = (
        -100.0 * drop if math.isfinite(drop) else math.nan)
    stem = clinical.normal_stem_progenitor(ds)
    for c in stem["cell_type"].values:
        out[(f"normal {c} at the end", "cells")] = float(stem.sel(cell_type=c).isel(time=-1))
    plasma = liquid_biopsy.plasma_concentration(ds).isel(time=-1)
    for c in plasma["vesicle_class"].values:
        out[(f"plasma {c} at the end", "EV/mL")] = float(plasma.sel(vesicle_class=c))
    out[("plasma EVs at the end, all classes", "EV/mL")] = float(plasma.sum())
    return out


def _common_time(members: Sequence[xr.Dataset]) -> np.ndarray:
    return np.asarray(members[0]["time"].values, dtype=float)


def series_bands(members: Sequence[xr.Dataset], series: SeriesFn
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per label, the 5/25/50/75/95 % quantiles over members at each time of the first
    member (others interpolated onto it): an array of shape (5, time)."""
    t = _common_time(members)
    stacks: dict[str, list[np.ndarray]] = {}
    for ds in members:
        mt = np.asarray(ds["time"].values, dtype=float)
        for label, y in series(ds).items():
            y = np.asarray(y, dtype=float)
            stacks.setdefault(label, []).append(y if mt.shape == t.shape and
                                                np.allclose(mt, t) else np.interp(t, mt, y))
    bands = {}
    for label, ys in stacks.items():
        if len(ys) != len(members):
            continue  # a series only some members have: no honest band
        arr = np.nan_to_num(np.vstack(ys), nan=0.0)
        bands[label] = np.vstack([weighted_quantile(arr[:, k], None, QUANTILES)
                                  for k in range(arr.shape[1])]).T
    return t, bands


def _cells(ds: xr.Dataset) -> dict[str, np.ndarray]:
    cells = ds["cells"]
    return {str(c): cells.sel(cell_type=c).values for c in cells["cell_type"].values}


def _blasts(ds: xr.Dataset) -> dict[str, np.ndarray]:
    return {"marrow blasts (%)": clinical.blast_percent(ds).values}


def _blood(ds: xr.Dataset) -> dict[str, np.ndarray]:
    out = {"normal blood output": clinical.normal_blood_output(ds).values}
    stem = clinical.normal_stem_progenitor(ds)
    for c in stem["cell_type"].values:
        out[f"{c} (normal)"] = stem.sel(cell_type=c).values
    return out


def _plasma(ds: xr.Dataset) -> dict[str, np.ndarray]:
    conc = liquid_biopsy.plasma_concentration(ds)
    return {str(c): conc.sel(vesicle_class=c).values for c in conc["vesicle_class"].values}


def _states(ds: xr.Dataset) -> dict[str, np.ndarray]:
    if "states" not in ds or ds.sizes.get("state", 0) == 0:
        return {}
    return {str(s): ds["states"].sel(state=s).values for s in ds["state"].values}


#: the report's trajectory figures and the series each one bands: key → (title, y label,
#: log scale, series)
BANDED = {
    "populations": ("Cell populations", "cells", True, _cells),
    "blasts": ("Marrow blasts", "marrow blasts (%)", False, _blasts),
    "blood": ("Normal hematopoiesis", "cells", True, _blood),
    "plasma": ("Plasma EVs by class", "EV per mL plasma", True, _plasma),
    "states": ("Cell states", "state (model units)", False, _states),
}


def summarize_ensemble(members: Sequence[xr.Dataset], days: float,
                       draws: Sequence[dict[str, float]] = (),
                       threshold: float = 20.0,
                       units: dict[str, str] | None = None) -> EnsembleSummary:
    """Credible intervals of the take-over day and the summary readouts, the bands of
    every trajectory figure and the drawn parameters' intervals."""
    takeover = takeover_days(members, threshold)
    p = float(np.mean(np.isfinite(takeover)))
    summary = EnsembleSummary(
        n=len(members), days=days, p_takeover=p,
        takeover=interval(f"take-over day (blasts ≥ {threshold:g} %)", "day", takeover,
                          note="censored: a member without take-over within the horizon "
                               "counts as after it (> horizon), never dropped"))
    values: dict[tuple[str, str], list[float]] = {}
    for ds in members:
        for key, v in readout_values(ds).items():
            values.setdefault(key, []).append(v)
    for (label, unit), vs in values.items():
        if len(vs) == len(members) and not np.isnan(vs).any():
            summary.readouts.append(interval(label, unit, vs))
    for key, (_title, _ylabel, _log, fn) in BANDED.items():
        t, bands = series_bands(members, fn)
        if bands:
            summary.bands[key] = (t, bands)
    for key in (draws[0] if draws else {}):
        summary.parameters.append(interval(key.split(".", 1)[1], (units or {}).get(key, ""),
                                           [d[key] for d in draws]))
    return summary


def median_draw(draws: Sequence[dict[str, float]]) -> dict[str, float]:
    """The per-parameter median of the drawn values: the point the run's trajectory.nc
    and its single-run report sections are simulated at."""
    keys = list(draws[0])
    return {k: float(weighted_quantile([d[k] for d in draws], None, 0.5)[0]) for k in keys}


ENSEMBLE_FILE = "ensemble.parquet"


@dataclass
class PosteriorPlan:
    """An ensemble run from a posterior: the draws, and the model at their median (the
    single run whose trajectory.nc and report sections are written)."""

    folder: str
    n: int
    seed: int
    draws: list[dict[str, float]]
    base: object  # the ResolvedModel the posterior was checked against
    median: dict[str, float]
    label: str = ""  # what the posterior is, when not just its folder (a shipped one)

    @property
    def source(self) -> str:
        what = self.label or f"the posterior in {self.folder}"
        return f"{what} (seed {self.seed})"


def plan(resolved, folder: str, n: int, seed: int):
    """Load and check the posterior in ``folder`` for ``resolved``, draw ``n`` particles
    with ``seed``; return (the model at the draws' median, the plan)."""
    from ..spec.loader import load_model
    from .posterior import load_posterior

    posterior = load_posterior(folder)
    posterior.check_model(resolved)
    draws = posterior.draw(n, seed)
    median = median_draw(draws)
    return load_model(resolved.raw, overrides=median), PosteriorPlan(
        str(folder), n, seed, draws, resolved, median)


def run_plan(p: PosteriorPlan, days: float, interventions: list, console, out_dir,
             **options) -> EnsembleSummary:
    """Simulate every member (with a progress bar on ``console``), write
    ``out_dir/ensemble.parquet`` (one row per member: drawn parameters, take-over day —
    empty when censored — and the summary readouts) and return the summary."""
    import pandas as pd
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        TextColumn("{task.completed}/{task.total} runs"),
                        TimeElapsedColumn(), console=console)
    task = progress.add_task(f"ensemble from the posterior ({p.n} runs)", total=p.n)
    with progress:
        members = simulate_members(p.base, p.draws, days, seed=p.seed,
                                   interventions=interventions,
                                   advance=lambda: progress.advance(task), **options)
    params = p.base.params.resolved
    summary = summarize_ensemble(members, days, p.draws, units={
        k: str(params[k.split(".", 1)[1]].unit) for k in p.median})
    rows = []
    for draw, ds, day in zip(p.draws, members, takeover_days(members), strict=True):
        row: dict[str, float | None] = dict(draw)
        row["takeover_day"] = None if math.isinf(day) else day
        row.update({f"{label} ({unit})": v for (label, unit), v in readout_values(ds).items()})
        rows.append(row)
    pd.DataFrame(rows).to_parquet(f"{out_dir}/{ENSEMBLE_FILE}", index=False)
    return summary


def describe(summary: EnsembleSummary, fmt: Callable[[float], str]) -> list[str]:
    """Console lines: P(take-over within the horizon), the take-over day's interval and
    the plasma EV readouts' intervals."""
    def show(x: float) -> str:
        return f"> {summary.days:g} (censored)" if math.isinf(x) else fmt(x)

    t = summary.takeover
    lines = [f"ensemble of {summary.n}: P(take-over within the horizon of {summary.days:g} "
             f"days) = {100 * summary.p_takeover:.0f} %; take-over day {t.text(show)}"]
    for r in summary.readouts:
        if r.label.startswith("plasma"):
            lines.append(f"  {r.label}: {r.text(show)} {r.unit}")
    return lines
