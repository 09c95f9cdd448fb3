"""Relapse-free survival of a monitored cohort: the Kaplan–Meier estimate (SciPy's
``stats.ecdf`` of right-censored data) of the time from complete remission to relapse,
censored at the end of follow-up, with its median and the median's confidence interval.

The median is the first time at which the survival estimate is at or below 1/2; its
interval runs from the first time the lower confidence band (log-log, Greenwood) is at or
below 1/2 to the first time the upper band is (Brookmeyer–Crowley's construction). A bound
that the follow-up never reaches is ``inf``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import EvnicheError


@dataclass(frozen=True)
class RelapseFree:
    """Relapse-free survival after complete remission (days): ``patients`` in CR,
    ``relapses`` among them, the median (``inf``: not reached within the follow-up) with its
    95 % interval, ``at_one_year``, the share relapse-free 365 days after CR (NaN when
    nobody was followed that long and someone was still in remission), and
    ``longest_follow_up``, the longest time observed after CR (to relapse or censoring)."""

    patients: int
    relapses: int
    median: float
    interval: tuple[float, float]
    at_one_year: float
    longest_follow_up: float


def _first_at_or_below(times: np.ndarray, values: np.ndarray, level: float) -> float:
    hit = np.nonzero(values <= level)[0]
    return float(times[hit[0]]) if hit.size else math.inf


def relapse_free(durations: Sequence[float], relapsed: Sequence[bool],
                 level: float = 0.95) -> RelapseFree:
    """Kaplan–Meier relapse-free survival from ``durations`` (days from CR to relapse, or to
    the end of follow-up where ``relapsed`` is False: right-censored)."""
    from scipy.stats import CensoredData, ecdf

    t = np.asarray(durations, dtype=float)
    event = np.asarray(relapsed, dtype=bool)
    if t.shape != event.shape or t.ndim != 1:
        raise EvnicheError("relapse-free survival: durations and relapse flags must be two "
                           "lists of the same length")
    if t.size == 0:
        raise EvnicheError("relapse-free survival: no patient in complete remission")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise EvnicheError("relapse-free survival: durations must be finite days >= 0")
    if not event.any():  # nobody relapsed: the estimate stays at 1
        return RelapseFree(int(t.size), 0, math.inf, (math.inf, math.inf),
                           1.0 if t.max() >= 365.0 else math.nan, float(t.max()))
    sf = ecdf(CensoredData(uncensored=t[event], right=t[~event])).sf
    with warnings.catch_warnings():  # the band is undefined where S is 0 or 1: set below
        warnings.simplefilter("ignore", RuntimeWarning)
        band = sf.confidence_interval(level, method="log-log")
    times, s = sf.quantiles, sf.probabilities

    def bound(values: np.ndarray) -> np.ndarray:
        return np.where(s == 0.0, 0.0, np.where(np.isnan(values), s, values))

    median = _first_at_or_below(times, s, 0.5)
    low = _first_at_or_below(times, bound(band.low.probabilities), 0.5)
    high = _first_at_or_below(times, bound(band.high.probabilities), 0.5)
    ended = sf.probabilities[-1] == 0.0  # everyone relapsed: known at any later day
    year = float(sf.evaluate(365.0)) if t.max() >= 365.0 or ended else math.nan
    return RelapseFree(int(t.size), int(event.sum()), median, (low, high), year,
                       float(t.max()))
