"""A calibration's runs read from their arrays, without building a trajectory Dataset.

A particle of a calibration reads a few numbers off each of its runs (a blast % on the
diagnosis day, a plasma EV count, a take-over day). Building the run's ``xarray.Dataset``
(behaviors, signals, ledger, communication …) and reading it through xarray cost more
than the integration itself (docs/calibration.md, "Speed"). :class:`ArrayRun` keeps the
solved run and reads the measurement models of :data:`READOUTS` straight from the state
arrays, with the same formulas as :mod:`evniche.observations.measurement` and
:mod:`evniche.readouts.clinical` (the same values within round-off: tests/calibration/
test_calibration_runs.py holds them to 1e-10 relative on ``aml``'s records). Any other
measurement model, and every error message that needs more, reads the run's Dataset,
built on first use exactly as :func:`evniche.simulate_many` builds it.

Units: days for time and ``day``; cells; EVs per mL (or per µL where the assay reports
so); nm for sizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np

from ..compile.network import BLOOD, MARROW
from ..errors import EvnicheError
from ..observations import measurement
from ..readouts import clinical
from ..readouts.liquid_biopsy import truncated_lognormal_mass


class ArrayRun:
    """A solved well-mixed run (:class:`evniche.engines.ensemble.Solved`) read from its
    arrays; :attr:`dataset` is its Dataset, built on first use. ``full``: for a run solved
    without its EV ledger species, what solves it with them (the Dataset is that run's).

    A run stopped early (its solution not ``complete``: a :class:`Horizon` ended it once
    the samples its records read were there) is solved again to its end by ``whole``
    when a readout asks for more (:meth:`cover`); the samples both have are bitwise the
    same, so what was read before stays true."""

    def __init__(self, solved: Any, full: Callable[[], Any] | None = None,
                 whole: Callable[[], Any] | None = None) -> None:
        self.full = full
        self.whole = whole
        self.net = solved.net
        #: what :func:`evniche.readouts.clinical.diagnosis_criteria` reads
        self.attrs = {"disease": self.net.disease}
        self._use(solved)

    def _use(self, solved: Any) -> None:
        self.solved = solved
        self.time = np.asarray(solved.sol.t, dtype=float) / 24.0  # days
        self.complete = bool(getattr(solved.sol, "complete", True))
        for name in ("cells", "blast_percent", "normal_output", "ev_concentration"):
            self.__dict__.pop(name, None)

    def cover(self, day: float | None) -> None:
        """Make sure the run has its samples up to ``day`` (days; None: its end),
        solving it again to its end if it stopped before."""
        if self.complete or (day is not None and day <= self.time[-1]):
            return
        if self.whole is None:
            raise EvnicheError("a run stopped early cannot be read after its last sample "
                               f"(day {self.time[-1]:g})")
        self._use(self.whole())

    @cached_property
    def dataset(self):
        """The run's trajectory Dataset (without the state vectors of a restart)."""
        from ..engines.ensemble import dataset

        return dataset(self.solved if self.full is None else self.full(), restartable=False)

    # ------------------------------------------------------------------ series
    @cached_property
    def _index(self) -> dict[str, int]:
        return self.net.index()

    def _column(self, name: str) -> np.ndarray:
        i = self._index.get(name)
        y = self.solved.sol.y
        return y[:, i] if i is not None else np.full(len(self.time), np.nan)

    @cached_property
    def cell_names(self) -> list[str]:
        return [c.name for c in self.net.cells]

    @cached_property
    def cells(self) -> np.ndarray:
        """Cell counts (time × cell type, cells)."""
        return np.stack([self._column(f"cell:{c}") for c in self.cell_names], axis=1)

    def _sum_types(self, names: list[str]) -> np.ndarray:
        cols = [self.cell_names.index(n) for n in names if n in self.cell_names]
        if not cols:
            return np.zeros(len(self.time))
        return np.nansum(self.cells[:, cols], axis=1)

    @cached_property
    def blast_percent(self) -> np.ndarray:
        """Marrow blast % over time (as :func:`evniche.readouts.clinical.blast_percent`)."""
        counted = self.net.marrow_counted
        if not counted:
            raise EvnicheError("the trajectory's attribute 'marrow_counted' names no cell "
                               "type; expected the ';'-joined marrow cell types")
        total = self._sum_types(counted)
        leuk = self._sum_types([n for n in self.net.leukemic if n in set(counted)])
        with np.errstate(invalid="ignore", divide="ignore"):
            return 100.0 * leuk / np.where(total > 0, total, np.nan)

    @cached_property
    def normal_output(self) -> np.ndarray:
        """Normal blood output over time (cells; NaN without a normal blood type)."""
        chosen = [c.name for c in self.net.cells
                  if c.compartment == BLOOD and c.lineage == "normal"]
        if not chosen:
            return np.full(len(self.time), np.nan)
        return self._sum_types(chosen)

    @cached_property
    def ev_concentration(self) -> np.ndarray:
        """EVs per mL (time × pool × compartment: marrow, blood)."""
        p = self.net.params
        volumes = np.array([p[self.net.volumes[MARROW]], p[self.net.volumes[BLOOD]]])
        pools = [pl.name for pl in self.net.pools]
        if not pools:
            return np.zeros((len(self.time), 0, 2))
        ev = np.stack([np.stack([self._column(f"ev:{pl}@{MARROW}"),
                                 self._column(f"ev:{pl}@{BLOOD}")], axis=1)
                       for pl in pools], axis=1)
        return ev / volumes

    def at(self, series: np.ndarray, day: float | None) -> Any:
        """``series`` (time first) at ``day`` (days, linear interpolation) or at the last
        sample (as :func:`evniche.readouts.clinical.value_at`)."""
        if len(series) != len(self.time) or not (
                self.complete or (day is not None and day <= self.time[-1])):
            raise EvnicheError("internal: read a run before covering the day (ArrayRun.cover)")
        if day is None:
            return series[-1]
        t = self.time
        if not t[0] <= day <= t[-1]:
            raise EvnicheError(f"day {day} lies outside the trajectory ({t[0]:g}–{t[-1]:g} "
                               "days)")
        if series.ndim == 1:
            return np.interp(day, t, series)
        flat = series.reshape(len(t), -1)
        return np.array([np.interp(day, t, flat[:, k]) for k in range(flat.shape[1])]
                        ).reshape(series.shape[1:])

    # ------------------------------------------------------------------ diagnosis
    def diagnosis_sample(self, threshold: float = clinical.DIAGNOSIS_BLASTS) -> int | None:
        """As :func:`evniche.readouts.clinical.diagnosis_sample`."""
        if not 0 < threshold <= 100:
            raise EvnicheError(f"diagnosis threshold must be a blast % in (0, 100], got "
                               f"{threshold}")
        margins = [np.nan_to_num(self.blast_percent - threshold, nan=-np.inf)]
        if clinical.presents_with_cytopenia(self):
            out = self.normal_output
            healthy = float(out[0]) if out.size else float("nan")
            if np.isfinite(healthy) and healthy > 0:
                margins.append(np.nan_to_num(clinical.CYTOPENIA_BELOW - out / healthy,
                                             nan=-np.inf))
        hit = np.nonzero(np.logical_and.reduce([m >= 0 for m in margins]))[0]
        if not hit.size and not self.complete:
            self.cover(None)
            return self.diagnosis_sample(threshold)
        return int(hit[0]) if hit.size else None


# ---------------------------------------------------------------------- readouts
def blast_percent(run: ArrayRun, day: float | None = None) -> float:
    run.cover(day)
    return float(run.at(run.blast_percent, day))


def normal_output_fraction(run: ArrayRun, day: float | None = None) -> float:
    run.cover(day)
    out = run.normal_output
    start = float(out[0])
    end = float(run.at(out, day))
    drop = float("nan") if not np.isfinite(start) or start <= 0 else 1.0 - end / start
    return 1.0 - drop


def neutrophil_count(run: ArrayRun, day: float | None = None,
                     healthy_anc: float = 4000.0) -> float:
    return normal_output_fraction(run, day) * healthy_anc


def cell_count(run: ArrayRun, day: float | None = None, cell_type: str = "HSC") -> float:
    if cell_type not in run.cell_names:
        raise EvnicheError(f"the trajectory has no cell type '{cell_type}'")
    run.cover(day)
    return float(run.at(run.cells[:, run.cell_names.index(cell_type)], day))


def takeover_day(run: ArrayRun, day: float | None = None, threshold: float = 20.0) -> float:
    if not 0 < threshold <= 100:
        raise EvnicheError(f"take-over threshold must be a blast % in (0, 100], got "
                           f"{threshold}")
    found = clinical.first_crossing(run.time, run.blast_percent, threshold)
    if found is None and not run.complete:
        run.cover(None)
        found = clinical.first_crossing(run.time, run.blast_percent, threshold)
    return math.inf if found is None else found


def _by_class(run: ArrayRun, day: float | None, compartment: str, origin: str
              ) -> tuple[list[str], np.ndarray]:
    if compartment not in measurement.COMPARTMENTS:
        raise EvnicheError(f"compartment must be one of {', '.join(measurement.COMPARTMENTS)}"
                           f", got '{compartment}'")
    if origin not in measurement.ORIGINS:
        raise EvnicheError(f"origin must be one of {', '.join(measurement.ORIGINS)}, got "
                           f"'{origin}'")
    run.cover(day)
    series = run.ev_concentration[:, :, 0 if compartment == MARROW else 1]
    conc = np.clip(run.at(series, day), 0.0, None)
    classes = np.array([pl.vesicle_class for pl in run.net.pools], dtype=str)
    keep = np.ones(len(classes), dtype=bool)
    if origin == "leukemic":
        leukemic = set(run.net.leukemic)
        keep = np.array([pl.source in leukemic for pl in run.net.pools], dtype=bool)
    names = list(run.net.classes)
    return names, np.array([float(np.nansum(conc[(classes == c) & keep])) for c in names])


def _size_share(run: ArrayRun, names: list[str], low_nm: float, high_nm: float
                ) -> np.ndarray:
    if not 0 <= low_nm < high_nm:
        raise EvnicheError(f"size window must be 0 <= low < high nm, got [{low_nm}, "
                           f"{high_nm}]")
    p = run.net.params
    um = measurement.UM_TO_NM
    out = []
    for name in names:
        d = run.net.classes[name].diameter
        mass = truncated_lognormal_mass(np.array([max(low_nm, 1e-9), high_nm]),
                                        p[d["median"]] * um, p[d["gsd"]], p[d["min"]] * um,
                                        p[d["max"]] * um)
        out.append(float(mass[0]))
    return np.array(out)


def _in_window(run: ArrayRun, day: float | None, low_nm: float, high_nm: float,
               compartment: str = "blood", origin: str = "all") -> float:
    names, conc = _by_class(run, day, compartment, origin)
    return float(np.nansum(conc * _size_share(run, names, low_nm, high_nm)))


def nta_count(run: ArrayRun, day: float | None = None,
              low_nm: float = measurement.NTA_WINDOW_NM[0],
              high_nm: float = measurement.NTA_WINDOW_NM[1], compartment: str = "blood",
              origin: str = "all") -> float:
    return _in_window(run, day, low_nm, high_nm, compartment, origin)


def flow_fraction(run: ArrayRun, day: float | None = None, threshold_nm: float = 600.0,
                  compartment: str = "blood", origin: str = "all") -> float:
    total = float(np.nansum(_by_class(run, day, compartment, origin)[1]))
    if not total > 0:
        return float("nan")
    return _in_window(run, day, threshold_nm, math.inf, compartment, origin) / total


def flow_count(run: ArrayRun, day: float | None = None, threshold_nm: float = 600.0,
               compartment: str = "blood", origin: str = "all") -> float:
    return (_in_window(run, day, threshold_nm, math.inf, compartment, origin)
            * measurement.ML_PER_UL)


def exosome_protein(run: ArrayRun, day: float | None = None,
                    protein_per_ev_fg: float = 7.5,
                    max_nm: float = measurement.SMALL_EV_NM) -> float:
    return _in_window(run, day, 0.0, max_nm) * protein_per_ev_fg * measurement.UG_PER_FG


def takeover_ratio(run: ArrayRun, reference: ArrayRun, threshold: float = 20.0) -> float:
    return measurement.fold_change(takeover_day(run, threshold=threshold),
                                   takeover_day(reference, threshold=threshold))


#: the measurement models read from arrays (the others read the Dataset)
READOUTS: dict[str, Callable[..., float]] = {
    "blast_percent": blast_percent, "normal_output_fraction": normal_output_fraction,
    "neutrophil_count": neutrophil_count, "cell_count": cell_count,
    "takeover_day": takeover_day, "nta_count": nta_count, "flow_fraction": flow_fraction,
    "flow_count": flow_count, "exosome_protein": exosome_protein,
    "takeover_ratio": takeover_ratio,
}


def read(model: measurement.MeasurementModel, runs: list[tuple[Any, float | None]],
         parameters: dict[str, float | str]) -> float:
    """:func:`evniche.observations.measurement.read` for runs that may be
    :class:`ArrayRun`: from the arrays where every run is one and the measurement model
    (for ``fold_change``, its readout) is in :data:`READOUTS`, otherwise from the
    Datasets."""
    inner = str(parameters.get("readout", "")) if model.name == "fold_change" else model.name
    if all(isinstance(r, ArrayRun) for r, _ in runs) and inner in READOUTS:
        params = {k: p.default for k, p in model.parameters.items() if p.default is not None}
        params.update(parameters)
        if model.name == "fold_change":
            readout = measurement.lookup(str(params.pop("readout")),
                                         "measurement.parameters.readout")
            params = {**{k: p.default for k, p in readout.parameters.items()
                         if p.default is not None}, **params}
            fn = READOUTS[readout.name]
            return measurement.fold_change(fn(runs[0][0], runs[0][1], **params),
                                           fn(runs[1][0], runs[1][1], **params))
        if model.kind == "contrast":
            return READOUTS[model.name](runs[0][0], runs[1][0], **params)
        return READOUTS[model.name](runs[0][0], runs[0][1], **params)
    return measurement.read(model, [(r.dataset if isinstance(r, ArrayRun) else r, day)
                                    for r, day in runs], parameters)


# ---------------------------------------------------------------------- horizons
#: measurement models that read a run up to the first sample at or above a blast %
#: (``threshold``), wherever the record reads it
CROSSINGS = ("takeover_day", "takeover_ratio")
#: what a condition's readout needs of its run: ``("end",)`` (every sample), ``("day",
#: D)`` (the samples up to day D), ``("diagnosis", N)`` (up to N days after the run's own
#: diagnosis day), ``("crossing", T)`` (up to the first sample with marrow blasts >= T %)
Need = tuple


def needs(record: Any) -> list[tuple[Any, Need]]:
    """What each condition of ``record`` reads of its run: (condition, :data:`Need`).
    A measurement model not read from arrays (:data:`READOUTS`) needs the whole run."""
    params = record.measurement.values()
    name = record.measurement.model
    inner = str(params.get("readout", "")) if name == "fold_change" else name
    out: list[tuple[Any, Need]] = []
    for condition in record.conditions:
        if inner not in READOUTS:
            need: Need = ("end",)
        elif inner in CROSSINGS:
            default = measurement.MODELS[inner].parameters["threshold"].default
            need = ("crossing", float(params.get("threshold", default)))
        elif isinstance(condition.at, str):
            anchor, _, offset = condition.at.partition("+")
            extra = float(offset) if offset.strip() else 0.0
            need = {"start": ("day", extra), "end": ("end",),
                    "diagnosis": ("diagnosis", extra)}[anchor.strip()]
        else:
            need = ("day", float(condition.at))
        out.append((condition, need))
    return out


class Horizon:
    """Where a run of ``net`` may stop: once the samples so far hold every :data:`Need`
    of ``wanted`` (``"day"``, ``"diagnosis"``, ``"crossing"``; ``diagnosis``: the day
    the run itself first meets the diagnosis criteria of
    :meth:`ArrayRun.diagnosis_sample` with ``diagnosis_blasts`` %). Called by
    :func:`evniche.engines.wellmixed.integrate` with the samples so far (lists of
    arrays: times in h, states time × species). Only a saving: a readout that finds the
    samples short has the run solved to its end (:meth:`ArrayRun.cover`)."""

    def __init__(self, net: Any, wanted: list[Need], diagnosis_blasts: float) -> None:
        index = net.index()
        names = {c.name for c in net.cells}

        def columns(types: list[str]) -> np.ndarray:
            return np.array([index[f"cell:{n}"] for n in types
                             if n in names and f"cell:{n}" in index], dtype=int)

        counted = list(net.marrow_counted)
        self.counted = columns(counted)
        self.leukemic = columns([n for n in net.leukemic if n in set(counted)])
        self.normal = columns([c.name for c in net.cells
                               if c.compartment == BLOOD and c.lineage == "normal"])
        self.cytopenia = str(net.disease) in clinical.PRESENTS_WITH_CYTOPENIA
        self.days = [float(v) for kind, v in wanted if kind == "day"]
        self.crossings = [float(v) for kind, v in wanted if kind == "crossing"]
        self.after_diagnosis = [float(v) for kind, v in wanted if kind == "diagnosis"]
        self.diagnosis_blasts = diagnosis_blasts

    def _blasts(self, y: np.ndarray) -> np.ndarray:
        total = y[:, self.counted].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return 100.0 * y[:, self.leukemic].sum(axis=1) / np.where(total > 0, total,
                                                                       np.nan)

    def __call__(self, times: list[np.ndarray], states: list[np.ndarray]) -> bool:
        chunks = [(t, y) for t, y in zip(times, states, strict=True) if len(t)]
        if not chunks or not self.counted.size:
            return False
        last = float(chunks[-1][0][-1]) / 24.0  # days
        if any(last < d for d in self.days):
            return False
        if self.crossings:
            top = max(float(np.nanmax(self._blasts(y), initial=-np.inf)) for _, y in chunks)
            if any(top < c for c in self.crossings):
                return False
        if self.after_diagnosis:
            healthy = float(chunks[0][1][0, self.normal].sum()) if self.normal.size else 0.0
            day = None
            for t, y in chunks:
                met = self._blasts(y) >= self.diagnosis_blasts
                if self.cytopenia and healthy > 0:
                    met &= clinical.CYTOPENIA_BELOW - y[:, self.normal].sum(axis=1) \
                        / healthy >= 0
                hit = np.flatnonzero(met)
                if hit.size:
                    day = float(t[hit[0]]) / 24.0
                    break
            if day is None or any(last < day + n for n in self.after_diagnosis):
                return False
        return True
