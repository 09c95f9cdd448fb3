"""Where each rule operates: its signal against its half-max over a run.

A rule with half-max K and Hill power n responds to its signal s with the fraction
``r = s^n / (s^n + K^n)`` (0: the rule does nothing; 1: it holds the behavior at its
saturation value). A rule whose signal stays far below K is *inert* (the mechanism it
cites never acts in this run); one whose signal stays far above K is *saturated* (the rule
acts, but at a constant strength: nothing that happens in the run, e.g. the rise of a
leukemic signal, changes it). Only a *responsive* rule transmits a change of its signal.

The signals are the ones the engine combined into ``behaviors`` (``rule_signals`` of the
Trajectory, written by the well-mixed engine with the same evaluation as the right-hand
side: :meth:`evniche.engines.kinetics.Kinetics.parts`), so per-cell signals (uptake, cargo)
are those of the rule's own cell type. The spatial engine does not record them (each agent
senses its own voxel), so this readout needs a well-mixed Trajectory.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import EvnicheError
from .clinical import takeover_day

#: r below this at every sample: the rule is inert; above 1 − this: saturated
INERT_BELOW = 0.01
SATURATED_ABOVE = 0.99
#: a responsive rule whose response moves by less than this over the run is flagged as
#: nearly constant (convention: 5 % of the response's full 0–1 range)
NEARLY_CONSTANT_SPAN = 0.05
#: the unit in which the engine evaluates each kind of signal (and its half-max)
SIGNAL_UNITS = {
    "cargo": "copies/cell", "uptake": "EV/h per cell", "ev": "EV/mL", "cytokine": "1/mL",
    "state": "1", "drug": "nM", "fraction": "1",
}
#: verdicts, in the order a table shows them (the ones that need a look first)
VERDICTS = ("inert", "saturated", "responsive")
_COORDS = ("rule_cell_type", "rule_signal", "rule_direction", "rule_behavior",
           "rule_half_max", "rule_hill_power", "rule_saturation", "rule_base", "rule_kb")


def has_rule_signals(ds: xr.Dataset) -> bool:
    """Whether ``ds`` records the signals its rules saw (well-mixed runs do)."""
    return "rule_signals" in ds and all(c in ds.coords for c in _COORDS)


def response(ratio: np.ndarray, hill: np.ndarray | float) -> np.ndarray:
    """The Hill response fraction ``r = x^n / (1 + x^n)`` of ``ratio`` x = signal/half-max
    (dimensionless, 0–1; 1 for an infinite ratio)."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        h = np.power(np.asarray(ratio, float), hill)
        return np.where(np.isinf(h), 1.0, h / (1.0 + h))


def operating_range(ds: xr.Dataset, threshold: float = 20.0) -> pd.DataFrame:
    """One row per rule of the run ``ds``: where its signal sits against its half-max.

    Columns: ``cell_type``, ``signal``, ``direction``, ``behavior``, ``kb`` (";"-joined
    knowledge-base ids), ``half_max`` and ``unit`` (the signal's canonical unit),
    ``hill_power``, ``saturation`` and ``base`` (behavior value the rule pulls toward and
    the one without rules), ``signal_start``/``signal_end`` (in ``unit``), the ratio
    signal/half-max ``ratio_start``, ``ratio_takeover`` (at the take-over day, blasts ≥
    ``threshold`` %, interpolated; NaN without take-over), ``ratio_end``, ``ratio_min``,
    ``ratio_max`` (over every sample), the response fractions ``response_*`` at the same
    points, ``response_span`` (max − min: how much the run moves the rule), ``verdict``:
    ``inert`` (r < 0.01 at every sample), ``saturated`` (r > 0.99 at every sample) or
    ``responsive``, ``nearly_constant`` (a responsive rule whose response moves by less
    than :data:`NEARLY_CONSTANT_SPAN`), and ``note`` (says when the signal is zero
    throughout). Sorted by
    verdict (inert, saturated, responsive), then by ``response_span`` (nearly constant
    responsive rules first), cell type and behavior; the index is the rule label of ``ds``.
    """
    if not has_rule_signals(ds):
        raise EvnicheError(
            "the rule operating range needs the signals each rule saw (variable "
            "'rule_signals(time, rule)' with its rule_* coordinates); the well-mixed engine "
            f"writes them, this trajectory (engine '{ds.attrs.get('engine', '?')}') has none")
    sig = ds["rule_signals"]
    if sig.sizes["rule"] == 0:
        return pd.DataFrame(columns=["cell_type", "signal", "direction", "behavior", "kb",
                                     "verdict"])
    half = ds["rule_half_max"].values.astype(float)
    hill = ds["rule_hill_power"].values.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = sig.values / half  # time × rule
    resp = response(ratio, hill)
    day = takeover_day(ds, threshold) if "cells" in ds else None
    if day is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_to = sig.interp(time=day).values / half
    else:
        ratio_to = np.full(half.shape, np.nan)
    r_min, r_max = resp.min(axis=0), resp.max(axis=0)
    verdict = np.where(r_max < INERT_BELOW, "inert",
                       np.where(r_min > SATURATED_ABOVE, "saturated", "responsive"))
    kinds = [str(s).partition(":")[0] for s in ds["rule_signal"].values]
    frame = pd.DataFrame({
        "cell_type": ds["rule_cell_type"].values.astype(str),
        "signal": ds["rule_signal"].values.astype(str),
        "direction": ds["rule_direction"].values.astype(str),
        "behavior": ds["rule_behavior"].values.astype(str),
        "kb": ds["rule_kb"].values.astype(str),
        "half_max": half,
        "unit": [SIGNAL_UNITS.get(k, "") for k in kinds],
        "hill_power": hill,
        "saturation": ds["rule_saturation"].values.astype(float),
        "base": ds["rule_base"].values.astype(float),
        "signal_start": sig.values[0],
        "signal_end": sig.values[-1],
        "ratio_start": ratio[0],
        "ratio_takeover": ratio_to,
        "ratio_end": ratio[-1],
        "ratio_min": ratio.min(axis=0),
        "ratio_max": ratio.max(axis=0),
        "response_start": resp[0],
        "response_takeover": response(ratio_to, hill),
        "response_end": resp[-1],
        "response_min": r_min,
        "response_max": r_max,
        "response_span": r_max - r_min,
        "verdict": verdict,
        "nearly_constant": (verdict == "responsive") & (r_max - r_min < NEARLY_CONSTANT_SPAN),
        "note": np.where(np.nanmax(np.abs(sig.values), axis=0) == 0,
                         "signal zero throughout (its source is absent in this run, e.g. a "
                         "drug or EV product not given)", ""),
    }, index=pd.Index(ds["rule"].values.astype(str), name="rule"))
    order = frame["verdict"].map({v: i for i, v in enumerate(VERDICTS)})
    return frame.assign(_order=order).sort_values(
        ["_order", "response_span", "cell_type", "behavior", "signal"],
        kind="stable").drop(columns="_order")


def describe(frame: pd.DataFrame) -> str:
    """One sentence: how many rules are inert and saturated throughout the run."""
    n = len(frame)
    counts = frame["verdict"].value_counts() if n else pd.Series(dtype=int)
    inert, sat = int(counts.get("inert", 0)), int(counts.get("saturated", 0))
    if n == 0:
        return "The model has no rules."
    verb = "is" if inert == 1 else "are"
    flat = int(frame["nearly_constant"].sum()) if "nearly_constant" in frame else 0
    tail = (f"; {flat} more {'responds' if flat == 1 else 'respond'} but "
            f"{'moves' if flat == 1 else 'move'} by less than {NEARLY_CONSTANT_SPAN:g} over "
            "the run") if flat else ""
    return (f"{inert} of {n} rules {verb} inert and {sat} saturated throughout this run "
            f"(response below {INERT_BELOW:g} / above {SATURATED_ABOVE:g} at every sample)"
            f"{tail}.")
