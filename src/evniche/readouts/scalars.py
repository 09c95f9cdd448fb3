"""Scalar readouts: one number per run, for ensembles (global sensitivity, later calibration).

A scalar readout is any callable ``Dataset -> float`` (or ``None`` when the run does not
define it). The built-in ones are the readouts that matter clinically:

* ``takeover_day`` (days): first day marrow blasts reach 20 %
  (:func:`evniche.readouts.clinical.takeover_day`). A run without take-over is
  **censored** at its last day: the value is the horizon and the run is flagged, so an
  analysis never mistakes "not within the run" for a number it measured.
* ``plasma_evs`` (EV/mL): total plasma EV concentration at the end of the run, summed over
  vesicle classes (:func:`evniche.readouts.liquid_biopsy.plasma_concentration`).
* ``normal_output`` (fraction): normal blood output at the end over its day-0 value
  (:func:`evniche.readouts.clinical.normal_blood_output`); 0.3 means a 70 % drop.

Extra readouts (e.g. the model value of an observation record) are passed as
``{name: callable}``, or named on the command line as ``package.module:function``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import xarray as xr

from ..errors import EvnicheError
from . import clinical, liquid_biopsy

ScalarFunction = Callable[[xr.Dataset], float | None]


@dataclass(frozen=True)
class Readout:
    """A named scalar readout. ``censored``: a ``None`` from ``function`` means "not
    within the run" and reads as the run's last day, flagged (time-to-event readouts)."""

    name: str
    function: ScalarFunction
    unit: str = ""
    description: str = ""
    censored: bool = False


def takeover(ds: xr.Dataset) -> float | None:
    """Take-over day (days; blasts ≥ 20 % of marrow cells); None if not within the run."""
    return clinical.takeover_day(ds)


def plasma_evs(ds: xr.Dataset) -> float:
    """Total plasma EV concentration at the last sample (EV/mL)."""
    return float(liquid_biopsy.plasma_concentration(ds).isel(time=-1).sum())


def normal_output(ds: xr.Dataset) -> float | None:
    """Normal blood output at the end over day 0 (fraction); None if the model has none."""
    drop = clinical.normal_output_drop(ds)
    return None if not math.isfinite(drop) else 1.0 - drop


BUILTIN: dict[str, Readout] = {r.name: r for r in (
    Readout("takeover_day", takeover, "day", "first day marrow blasts reach 20 % "
            "(censored at the horizon)", censored=True),
    Readout("plasma_evs", plasma_evs, "EV/mL", "plasma EV concentration at the end"),
    Readout("normal_output", normal_output, "fraction", "normal blood output at the end "
            "over day 0"),
)}
DEFAULT = tuple(BUILTIN)


def from_name(name: str) -> Readout:
    """A built-in readout, or ``package.module:function`` imported (a callable
    ``Dataset -> float``)."""
    if name in BUILTIN:
        return BUILTIN[name]
    module, sep, attr = name.partition(":")
    if not sep or not module or not attr:
        raise EvnicheError(f"unknown readout '{name}'; built-in: {', '.join(BUILTIN)}, or "
                           f"'package.module:function' for a callable Dataset -> float")
    try:
        function = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise EvnicheError(f"readout '{name}': cannot import it ({exc})") from None
    if not callable(function):
        raise EvnicheError(f"readout '{name}' is not callable; expected a function "
                           f"Dataset -> float")
    return Readout(name, function)


def choose(names: Sequence[str] | None = None,
           extra: Mapping[str, ScalarFunction | Readout] | None = None) -> list[Readout]:
    """The readouts to compute: ``names`` (default: the built-in ones) then ``extra``
    (``{name: callable}``). Names must be unique."""
    chosen = [from_name(n) for n in (DEFAULT if names is None else names)]
    for name, item in (extra or {}).items():
        if isinstance(item, Readout):
            chosen.append(item)
        elif callable(item):
            chosen.append(Readout(str(name), item))
        else:
            raise EvnicheError(f"extra readout '{name}' is not callable; expected a function "
                               f"Dataset -> float")
    seen: set[str] = set()
    for r in chosen:
        if r.name in seen:
            raise EvnicheError(f"readout '{r.name}' is given twice")
        seen.add(r.name)
    if not chosen:
        raise EvnicheError("no readout chosen")
    return chosen


def evaluate(readouts: Sequence[Readout], ds: xr.Dataset) -> dict[str, float | bool | str]:
    """Every readout of one run: ``{name: value}`` (NaN where undefined) plus, for a
    censored readout, ``{name}_censored`` (True where the run ended first), and ``note``
    (why a readout is undefined; empty when all are defined)."""
    horizon = float(ds["time"].values[-1])
    out: dict[str, float | bool | str] = {}
    notes = []
    for r in readouts:
        try:
            value = r.function(ds)
        except EvnicheError as exc:
            value = None
            notes.append(f"{r.name}: {exc}")
        if r.censored:
            out[f"{r.name}_censored"] = value is None and not any(
                n.startswith(f"{r.name}:") for n in notes)
            if out[f"{r.name}_censored"]:
                value = horizon
        number = float("nan") if value is None else float(value)
        if not math.isfinite(number):
            number = float("nan")
        out[r.name] = number
    out["note"] = "; ".join(notes)
    return out
