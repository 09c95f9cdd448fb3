"""Distance between a model value and an observation, given the observation's spread.

Every distance is a negative log-likelihood with its minimum subtracted, so 0 means "as
the data say" and the distances of independent observations add up (a calibration
minimises their sum; ``exp(-d)`` is a likelihood up to a constant).

* **Magnitudes** (a number with a spread): log-normal, ``d = ½ z²`` with
  ``z = (ln model − ln observed) / σ`` and σ the log-scale spread of
  :func:`log_sigma`. EV counts, concentrations, half-lives and fold changes are positive
  and spread multiplicatively between patients, hence the log scale.
* **Trends** (a direction or an ordering only, across two or more conditions): a hinge.
  For consecutive conditions the model's log ratio ``r = ln(v[i+1] / v[i])`` must be at
  least ``ln(1 + margin)`` in the stated direction (``increasing`` / ``decreasing``), or
  within ``± ln(1 + margin)`` for ``similar``; the shortfall ``h`` costs
  ``½ (h / τ)²`` with ``τ = ln(1 + margin)``: the margin is read as a one-sided bound
  with one σ of its own size, so a model that shows no effect at all costs ½ (one σ, as a
  magnitude one σ off) and one with the opposite effect of the margin's size costs 2
  (an assumption: direction-only data say nothing more about size). A model value that is
  not a positive number is infinitely far.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: z of the 97.5th percentile of the normal: a 95 % interval is ± 1.96 σ
Z95 = 1.959963984540054
#: z of the 75th percentile: an interquartile range is ± 0.674 σ
Z75 = 0.6744897501960817


def log_sigma(value: float, *, sd: float | None = None, se: float | None = None,
              n: int | None = None, ci95: Sequence[float] | None = None,
              iqr: Sequence[float] | None = None, range_: Sequence[float] | None = None,
              fold: float | None = None) -> float:
    """The log-scale spread σ of an observation ``value`` (> 0) from the one spread given:

    * ``sd`` (of a mean ``value``): σ = √ln(1 + (sd/value)²), the log-normal with that mean
      and SD;
    * ``se`` and ``n``: sd = se·√n, then as ``sd``;
    * ``ci95`` = (low, high): σ = ln(high/low) / (2·1.96);
    * ``iqr`` = (q1, q3): σ = ln(q3/q1) / (2·0.674);
    * ``range_`` = (low, high) of the individuals: σ = ln(high/low) / 4 (range ≈ ± 2 σ);
    * ``fold`` f (a 95 % multiplicative tolerance, for a value given without spread):
      σ = ln f / 1.96.
    """
    if not value > 0:
        raise ValueError(f"a log-scale spread needs an observed value > 0, got {value}")
    if se is not None:
        if n is None:
            raise ValueError("a standard error needs n")
        sd = se * math.sqrt(n)
    if sd is not None:
        return math.sqrt(math.log1p((sd / value) ** 2))
    for pair, width in ((ci95, 2 * Z95), (iqr, 2 * Z75), (range_, 4.0)):
        if pair is not None:
            low, high = pair
            return math.log(high / low) / width
    if fold is not None:
        return math.log(fold) / Z95
    raise ValueError("no spread given")


def magnitude(model: float, observed: float, sigma: float) -> tuple[float, float]:
    """``(z, d)``: the log-scale residual in units of ``sigma`` and ``d = ½ z²``; a model
    value that is not a positive finite number gives ``(nan, inf)``."""
    if not (math.isfinite(model) and model > 0):
        return math.nan, math.inf
    z = (math.log(model) - math.log(observed)) / sigma
    return z, 0.5 * z * z


TRENDS = ("increasing", "decreasing", "similar")


def _log_ratio(before: float, after: float) -> float:
    """ln(after / before) for values >= 0: ±inf from or to 0 (or +inf), 0 for two zeros;
    NaN for a negative or NaN value, or two infinities."""
    if not (before >= 0 and after >= 0) or (math.isinf(before) and math.isinf(after)):
        return math.nan
    if before == after:
        return 0.0
    if before == 0 or math.isinf(after):
        return math.inf
    if after == 0 or math.isinf(before):
        return -math.inf
    return math.log(after) - math.log(before)


def trend(values: Sequence[float], direction: str, margin: float = 0.05) -> float:
    """The hinge distance of model ``values`` (one per condition, in order) from the trend
    ``direction`` (one of :data:`TRENDS`) with the relative ``margin`` (> 0; 0.05: a step
    must be at least 5 %); see the module text. Values are >= 0: a rise from 0 (or to
    +inf, a take-over never reached) is an infinite rise; a negative or NaN value is
    infinitely far."""
    if not margin > 0:
        raise ValueError(f"the margin must be > 0, got {margin}")
    if direction not in TRENDS:
        raise ValueError(f"unknown trend '{direction}'; expected one of {', '.join(TRENDS)}")
    need = math.log1p(margin)
    total = 0.0
    for before, after in zip(values[:-1], values[1:], strict=True):
        r = _log_ratio(before, after)
        if math.isnan(r):
            return math.inf
        if direction == "increasing":
            h = max(0.0, need - r)
        elif direction == "decreasing":
            h = max(0.0, need + r)
        else:
            h = max(0.0, abs(r) - need)
        total += 0.5 * (h / need) ** 2
    return total
