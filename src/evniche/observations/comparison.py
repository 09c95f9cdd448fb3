"""Model against data: simulate each distinct condition once, read every observation's
measurement model and its distance (:mod:`evniche.observations.distance`).

Runs are shared: two records with the same preset, species overrides, interventions and
run length read the same Trajectory; ``diagnosis`` (the first output day on which the
untreated run's marrow blasts are >= 20 %, as :func:`evniche.compile.interventions.
resolve_diagnosis` defines it) comes from the untreated run of the same model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ..errors import EvnicheError, ModelError
from . import distance
from .measurement import MODELS, read
from .records import model_overrides
from .schema import Condition, Observation

#: WHO/ELN blast threshold of a diagnosis (% of marrow cells)
DIAGNOSIS_BLASTS = 20.0


@dataclass
class Comparison:
    """One observation beside the model: ``model`` is the value the measurement model reads
    (in its unit; for a trend, the values per condition in ``per_condition``), ``observed``
    the data in the same unit (None for a trend), ``z`` the log-scale residual in σ (NaN
    for a trend), ``distance`` as documented in :mod:`.distance`; ``error`` says why no
    value could be read (then ``distance`` is NaN)."""

    record: Observation
    model: float = math.nan
    per_condition: list[float] = field(default_factory=list)
    observed: float | None = None
    z: float = math.nan
    distance: float = math.nan
    error: str = ""


class Simulations:
    """Runs each distinct (model, overrides, interventions, days) once; ``simulate_options``
    go to :func:`evniche.simulate` (``engine``, ``seed`` …). :attr:`read` reads a
    measurement model off its runs (a subclass whose runs are not Datasets has its own).

    ``overrides`` (dotted paths → values, as :func:`evniche.load_model` takes them) apply to
    every model run, e.g. the parameters a calibration proposes; a record's own species
    overrides are applied over them (a species' measured value wins for its records)."""

    #: what reads a measurement model off this object's runs (:func:`.measurement.read`)
    read = staticmethod(read)

    def __init__(self, progress: Callable[[str], None] | None = None,
                 overrides: dict[str, Any] | None = None, **simulate_options: Any) -> None:
        self.options = simulate_options
        self.progress = progress
        self.overrides = dict(overrides or {})
        self._models: dict[str, Any] = {}
        self._runs: dict[str, xr.Dataset] = {}

    @property
    def runs(self) -> int:
        """How many simulations were run so far."""
        return len(self._runs)

    def _model(self, preset: str, overrides: dict[str, Any]) -> tuple[Any, str]:
        """The model and its fingerprint: the preset and every resolved parameter value
        (canonical units), so an override that repeats the preset's own value (a mouse
        half-life the preset already uses) shares the preset's runs."""
        from ..spec.loader import load_model

        merged = {**self.overrides, **overrides}
        key = json.dumps([preset, merged], sort_keys=True, default=str)
        if key not in self._models:
            model = load_model(preset, overrides=merged or None)
            values = sorted((name, repr(p.value)) for name, p in model.params.resolved.items())
            self._models[key] = (model, json.dumps([preset, values]))
        return self._models[key]

    def run(self, preset: str, overrides: dict[str, Any], interventions: list[dict],
            days: float) -> xr.Dataset:
        """The Trajectory of ``preset`` with ``overrides`` and ``interventions`` (starts in
        days) over ``days``, simulated once."""
        from .. import simulate

        model, fingerprint = self._model(preset, overrides)
        key = json.dumps([fingerprint, interventions, days], sort_keys=True, default=str)
        if key not in self._runs:
            if self.progress:
                names = ", ".join(f"{i['name']}@{i['start']:g}" for i in interventions)
                self.progress(f"simulating {preset}" + (f" with {names}" if names else "")
                              + f" for {days:g} days")
            self._runs[key] = simulate(model, days=days, interventions=interventions,
                                       **self.options)
        return self._runs[key]

    def diagnosis_day(self, preset: str, overrides: dict[str, Any], days: float) -> float:
        """First output day (days) on which the untreated run meets the diagnosis criteria
        (:func:`evniche.readouts.clinical.diagnosis_day`: marrow blasts >= 20 %, for AML
        with cytopenia)."""
        from ..readouts.clinical import blast_percent, diagnosis_criteria, diagnosis_sample

        ds = self.run(preset, overrides, [], days)
        pct = blast_percent(ds)
        hit = diagnosis_sample(ds, DIAGNOSIS_BLASTS)
        if hit is None:
            raise EvnicheError(f"'{preset}' never reaches diagnosis "
                               f"({diagnosis_criteria(ds, DIAGNOSIS_BLASTS)}; highest blasts "
                               f"{float(np.nanmax(pct.values)):.3g} %) in {days:g} days")
        return float(pct["time"].values[hit])

    def condition(self, condition: Condition, overrides: dict[str, Any]
                  ) -> tuple[xr.Dataset, float | None]:
        """The Trajectory of ``condition`` and the day (days; None: the last sample) it is
        read on."""
        from ..compile.interventions import diagnosis_offset, parse_intervention

        def diagnosis() -> float:
            return self.diagnosis_day(condition.preset, overrides, condition.days)

        items = []
        for text in condition.interventions:
            item = parse_intervention(text)
            offset = diagnosis_offset(item["start"], text)
            if offset is not None:
                item["start"] = diagnosis() + offset
            items.append(item)
        ds = self.run(condition.preset, overrides, items, condition.days)
        at = condition.at
        if isinstance(at, str):
            anchor, _, offset = at.partition("+")
            extra = float(offset) if offset.strip() else 0.0
            day = {"start": lambda: 0.0, "end": lambda: None,
                   "diagnosis": diagnosis}[anchor.strip()]()
            at = None if day is None else day + extra
        if at is not None and at > condition.days:
            raise EvnicheError(f"read on day {at:g}, after the run's end (day "
                               f"{condition.days:g}); give a longer 'days'")
        return ds, at


def evaluate(record: Observation, sims: Simulations) -> Comparison:
    """``record``'s model value(s) and distance; a run or readout that fails gives a
    Comparison with ``error`` set."""
    out = Comparison(record)
    spec = MODELS[record.measurement.model]
    params = record.measurement.values()
    try:
        overrides = model_overrides(record.overrides)
        runs = [sims.condition(c, overrides) for c in record.conditions]
        if record.observed.trend is not None:
            out.per_condition = [sims.read(spec, [run], params) for run in runs]
            out.distance = distance.trend(out.per_condition, record.observed.trend,
                                          record.observed.margin)
        else:
            out.model = sims.read(spec, runs, params)
            out.observed = record.observed_in_model_unit()
            out.z, out.distance = distance.magnitude(out.model, out.observed,
                                                     record.observed.sigma())
    except (EvnicheError, ModelError) as exc:
        out.error = str(exc)
    return out


def total_distance(rows: Iterable[Comparison]) -> float:
    """The sum of the distances (a negative log-likelihood up to a constant, for a
    calibration to minimise); a record whose value could not be read counts as +inf."""
    return sum(math.inf if math.isnan(r.distance) else r.distance for r in rows)


def select(records: Iterable[Observation], preset: str | None) -> list[Observation]:
    """The records with a condition on ``preset`` (all records if None)."""
    return [r for r in records if preset is None or preset in r.presets()]


def compare(records: Iterable[Observation], preset: str | None = None,
            sims: Simulations | None = None) -> list[Comparison]:
    """Every record on ``preset`` (all if None) beside the model, runs shared."""
    sims = sims or Simulations()
    return [evaluate(r, sims) for r in select(records, preset)]
