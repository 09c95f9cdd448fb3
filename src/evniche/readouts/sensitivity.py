"""Which parameters the take-over time depends on: local elasticities by finite differences.

The elasticity of an outcome T (by default the take-over day) to a parameter p is
d ln T / d ln p: the % change of T per 1 % change of p. It is estimated by central
differences at p·(1 ± step): ``(ln T₊ − ln T₋) / (ln(1+step) − ln(1−step))`` (exact for a
power law T ∝ p^e). The caller provides the runner ``run(overrides) -> Dataset``; this
module never touches an engine. Override keys are passed to ``run`` exactly as given
(e.g. ``"parameters.lsc_self_renewal"`` for :func:`evniche.simulate`'s ``overrides``);
values are in the unit the model file writes them in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import EvnicheError
from .clinical import takeover_day

Runner = Callable[[dict[str, float]], xr.Dataset]
Outcome = Callable[[xr.Dataset], float | None]

COLUMNS = ["parameter", "value", "outcome_low", "outcome_base", "outcome_high", "elasticity",
           "note"]


def _positive(x: float | None) -> bool:
    return x is not None and np.isfinite(x) and x > 0


def _ends(value: float, step: float, bounds: tuple[float, float] | None
          ) -> tuple[float, float, str]:
    """The two parameter values of the difference: value·(1 ± step), each kept inside
    the parameter's plausible range (a one-sided difference where the value sits on it)."""
    low, high = value * (1.0 - step), value * (1.0 + step)
    if value < 0:
        low, high = high, low
    note = ""
    if bounds is not None:
        clipped = min(max(low, bounds[0]), bounds[1]), min(max(high, bounds[0]), bounds[1])
        if clipped != (low, high):
            note = f"change kept inside the plausible range [{bounds[0]:.4g}, {bounds[1]:.4g}]"
        low, high = clipped
    return low, high, note


def elasticities(run: Runner, parameters: Mapping[str, float], step: float = 0.1,
                 outcome: Outcome | None = None, threshold: float = 20.0,
                 baseline: xr.Dataset | None = None,
                 ranges: Mapping[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """Local elasticities d ln(outcome) / d ln(parameter) by ±``step`` (fraction) changes.

    ``parameters`` maps each override key to its baseline value (in the file's unit);
    ``outcome`` defaults to the take-over day at ``threshold`` blast %. ``baseline`` is the
    Dataset of the unchanged model (run here if not given). ``ranges`` gives plausible
    [low, high] (same unit) per parameter: the changed values stay inside them, one-sided
    at an edge, and the elasticity uses the values actually run. Returns one row per parameter
    (columns: parameter, value, outcome_low, outcome_base, outcome_high, elasticity, note)
    sorted by |elasticity|, largest first; elasticity is NaN (with a note) where the
    outcome is not a positive number at both ends (e.g. no take-over), or a run failed.
    """
    if not 0 < step < 1:
        raise EvnicheError(f"finite-difference step must be a fraction in (0, 1), got {step}")
    if not parameters:
        raise EvnicheError("no parameters given to compute elasticities for")
    measure: Outcome = outcome or (lambda ds: takeover_day(ds, threshold))
    base_ds = baseline if baseline is not None else run({})
    base = measure(base_ds)
    rows = []
    for name, value in parameters.items():
        value = float(value)
        row = {"parameter": name, "value": value, "outcome_low": np.nan,
               "outcome_base": np.nan if base is None else float(base),
               "outcome_high": np.nan, "elasticity": np.nan, "note": ""}
        if value == 0 or not np.isfinite(value):
            row["note"] = "baseline value is zero or not finite; no relative change possible"
            rows.append(row)
            continue
        p_low, p_high, row["note"] = _ends(value, step, (ranges or {}).get(name))
        ends: list[float | None] = []
        for changed in (p_low, p_high):
            if changed == value:
                ends.append(base)
                continue
            try:
                ends.append(measure(run({name: changed})))
            except EvnicheError as exc:
                row["note"] = f"run at {changed:.4g} failed: {exc}"
                ends.append(None)
        low, high = ends
        row["outcome_low"] = np.nan if low is None else float(low)
        row["outcome_high"] = np.nan if high is None else float(high)
        if _positive(low) and _positive(high) and p_low > 0 and p_high > p_low:
            row["elasticity"] = float(np.log(high / low) / np.log(p_high / p_low))
        elif _positive(base) and (_positive(low) or _positive(high)) and \
                not row["note"].startswith("run at"):
            # one end has no outcome (e.g. no take-over within the run): one-sided
            # difference from the baseline, and say so
            changed, other, missing = ((p_low, low, p_high) if _positive(low)
                                       else (p_high, high, p_low))
            if changed > 0 and changed != value:
                row["elasticity"] = float(np.log(other / base) / np.log(changed / value))
                row["note"] = "; ".join(filter(None, [
                    row["note"], f"one-sided: no outcome (e.g. no take-over within the run) "
                                 f"at {missing:.4g}"]))
        elif not row["note"]:
            row["note"] = "no outcome (e.g. no take-over) at one end of the change"
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    order = frame["elasticity"].abs().fillna(-1.0).sort_values(ascending=False, kind="stable")
    return frame.loc[order.index].reset_index(drop=True)


def takeover_elasticities(run: Runner, parameters: Mapping[str, float], step: float = 0.1,
                          threshold: float = 20.0, baseline: xr.Dataset | None = None,
                          ranges: Mapping[str, tuple[float, float]] | None = None
                          ) -> pd.DataFrame:
    """Elasticities of the take-over day (first day blast % ≥ ``threshold``); see
    :func:`elasticities`."""
    return elasticities(run, parameters, step=step, threshold=threshold, baseline=baseline,
                        ranges=ranges)


def describe(frame: pd.DataFrame, n: int = 3) -> str:
    """One sentence naming the ``n`` parameters with the largest |elasticity|."""
    ok = frame.dropna(subset=["elasticity"]).head(n)
    if ok.empty:
        return "no parameter changed it measurably"
    parts = [f"{r.parameter} (elasticity {r.elasticity:+.2f})" for r in ok.itertuples()]
    return ", ".join(parts)
