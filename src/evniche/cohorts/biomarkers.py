"""Biomarker statistics: ROC curve, AUC with bootstrap intervals, sensitivity and specificity
at a cut-off, power and sample size for a target AUC, and the lead time of a biomarker over
marrow relapse.

Conventions: a *score* is a measured biomarker value; higher means "more disease" (a
biomarker that falls with disease is negated before it comes here). A subject is called
positive when its score is >= the cut-off. ``pos`` are the patients' scores, ``neg`` the
controls'. NaN scores (a failed run) are refused: drop them first and say so.

* AUC is the Mann–Whitney probability P(patient > control) + ½ P(tie), which equals the
  trapezoidal area under the empirical ROC curve (Hanley & McNeil, Radiology
  1982;143:29–36, doi:10.1148/radiology.143.1.7063747).
* Bootstrap intervals resample patients and controls separately (stratified), percentile
  method.
* Standard error, power and sample size use the Hanley–McNeil variance
  ``V(A) = [A(1−A) + (n₁−1)(Q₁−A²) + (n₀−1)(Q₂−A²)] / (n₁n₀)``, ``Q₁ = A/(2−A)``,
  ``Q₂ = 2A²/(1+A)`` (same paper), with the normal approximation for a test of
  H₀: AUC = 0.5 against the target AUC (the design of Obuchowski, Stat Methods Med Res
  1998;7:371–392, doi:10.1177/096228029800700405): power =
  Φ((|A − A₀| − z₁₋α/₂·√V(A₀)) / √V(A)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..errors import EvnicheError


def _scores(values: Sequence[float], what: str) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise EvnicheError(f"{what}: no scores")
    if np.isnan(x).any():
        raise EvnicheError(f"{what}: NaN scores; drop failed subjects first")
    return x


def auc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """Area under the ROC curve (0–1): P(patient score > control score) + ½ P(tie)."""
    p, n = _scores(pos, "patients"), _scores(neg, "controls")
    ranks = stats.rankdata(np.concatenate([p, n]))  # average ranks: ties count ½
    u = ranks[: p.size].sum() - p.size * (p.size + 1) / 2.0
    return float(u / (p.size * n.size))


def roc_curve(pos: Sequence[float], neg: Sequence[float]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The empirical ROC curve: (false-positive rate, true-positive rate, cut-off), one point
    per distinct score from the highest down, starting at (0, 0) with cut-off +inf. A
    subject is positive when its score >= the cut-off."""
    p, n = _scores(pos, "patients"), _scores(neg, "controls")
    cuts = np.unique(np.concatenate([p, n]))[::-1]
    tpr = np.array([(p >= c).mean() for c in cuts])
    fpr = np.array([(n >= c).mean() for c in cuts])
    return (np.concatenate([[0.0], fpr]), np.concatenate([[0.0], tpr]),
            np.concatenate([[np.inf], cuts]))


def sensitivity_specificity(pos: Sequence[float], neg: Sequence[float],
                            cutoff: float) -> tuple[float, float]:
    """(sensitivity, specificity) (fractions) of calling a score >= ``cutoff`` positive."""
    p, n = _scores(pos, "patients"), _scores(neg, "controls")
    return float((p >= cutoff).mean()), float((n < cutoff).mean())


def youden_cutoff(pos: Sequence[float], neg: Sequence[float]) -> float:
    """The cut-off that maximises sensitivity + specificity − 1 (Youden's J); of equal ones
    the highest (fewest false positives)."""
    fpr, tpr, cuts = roc_curve(pos, neg)
    j = (tpr - fpr)[1:]
    best = np.nonzero(j >= j.max() - 1e-12)[0][0]  # round-off must not pick a lower one
    return float(cuts[1:][best])


def bootstrap_auc(pos: Sequence[float], neg: Sequence[float], rng: np.random.Generator,
                  n_boot: int = 2000, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC at ``level``: patients and controls resampled
    separately with replacement, ``n_boot`` times, with ``rng``."""
    p, n = _scores(pos, "patients"), _scores(neg, "controls")
    if not 0 < level < 1 or n_boot < 10:
        raise EvnicheError(f"bootstrap: expected 0 < level < 1 and n_boot >= 10, got "
                           f"{level}, {n_boot}")
    values = np.empty(n_boot)
    for b in range(n_boot):
        values[b] = auc(rng.choice(p, p.size), rng.choice(n, n.size))
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [tail, 1.0 - tail])
    return float(lo), float(hi)


def hanley_mcneil_variance(area: float, n_pos: int, n_neg: int) -> float:
    """Variance of an empirical AUC ``area`` from ``n_pos`` patients and ``n_neg`` controls
    (Hanley & McNeil 1982, exponential approximation of Q₁ and Q₂)."""
    if not 0 < area < 1 or n_pos < 1 or n_neg < 1:
        raise EvnicheError(f"Hanley–McNeil: expected 0 < AUC < 1 and group sizes >= 1, got "
                           f"{area}, {n_pos}, {n_neg}")
    q1, q2 = area / (2 - area), 2 * area * area / (1 + area)
    return (area * (1 - area) + (n_pos - 1) * (q1 - area ** 2)
            + (n_neg - 1) * (q2 - area ** 2)) / (n_pos * n_neg)


def power(area: float, n_pos: int, ratio: float = 1.0, alpha: float = 0.05,
          null: float = 0.5) -> float:
    """Power (0–1) of a two-sided test at ``alpha`` of H₀: AUC = ``null`` when the true AUC is
    ``area``, with ``n_pos`` patients and ``ratio`` × ``n_pos`` controls (rounded up)."""
    n_neg = max(1, math.ceil(ratio * n_pos))
    effect = abs(area - null)
    if effect == 0:
        return alpha
    z = stats.norm.ppf(1 - alpha / 2)
    v0 = hanley_mcneil_variance(null, n_pos, n_neg)
    v1 = hanley_mcneil_variance(min(max(area, 1e-9), 1 - 1e-9), n_pos, n_neg)
    return float(stats.norm.cdf((effect - z * math.sqrt(v0)) / math.sqrt(v1)))


def sample_size(area: float, target_power: float = 0.8, ratio: float = 1.0,
                alpha: float = 0.05, null: float = 0.5, most: int = 100_000) -> int | None:
    """Fewest patients (with ``ratio`` controls per patient) for ``target_power`` to tell
    AUC ``area`` from ``null``; None if more than ``most`` would be needed (an AUC at 0.5)."""
    if not 0 < target_power < 1:
        raise EvnicheError(f"power must lie in (0, 1), got {target_power}")
    if power(area, most, ratio, alpha, null) < target_power:
        return None
    lo, hi = 1, most
    while lo < hi:  # power rises with n: bisection for the first n that reaches the target
        mid = (lo + hi) // 2
        if power(area, mid, ratio, alpha, null) >= target_power:
            hi = mid
        else:
            lo = mid + 1
    return lo


@dataclass(frozen=True)
class RocSummary:
    """One biomarker's diagnostic performance: AUC with its bootstrap interval, the cut-off
    (Youden's, or the one asked for) with sensitivity and specificity there, and the
    patients needed (1 control per patient) for 80 % power at alpha 0.05."""

    name: str
    n_pos: int
    n_neg: int
    auc: float
    ci: tuple[float, float]
    cutoff: float
    sensitivity: float
    specificity: float
    n_for_power: int | None
    curve: tuple[np.ndarray, np.ndarray]


def summarise(name: str, pos: Sequence[float], neg: Sequence[float], rng: np.random.Generator,
              cutoff: float | None = None, n_boot: int = 2000, level: float = 0.95
              ) -> RocSummary:
    """The :class:`RocSummary` of one biomarker (``cutoff`` None: Youden's)."""
    area = auc(pos, neg)
    cut = youden_cutoff(pos, neg) if cutoff is None else float(cutoff)
    sens, spec = sensitivity_specificity(pos, neg, cut)
    fpr, tpr, _ = roc_curve(pos, neg)
    return RocSummary(name, len(pos), len(neg), area, bootstrap_auc(pos, neg, rng, n_boot, level),
                      cut, sens, spec, sample_size(area) if area != 0.5 else None, (fpr, tpr))


def panel_scores(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A panel of biomarkers without fitted weights: each column (a biomarker's log10 score)
    standardised by the controls' mean and SD, then averaged per subject. Rows are
    subjects; returns (patients' panel scores, controls' panel scores). A column whose
    controls have no spread is centred only."""
    pos, neg = np.atleast_2d(pos), np.atleast_2d(neg)
    mean, sd = neg.mean(axis=0), neg.std(axis=0, ddof=1) if neg.shape[0] > 1 else 0.0
    sd = np.where(np.asarray(sd) > 0, sd, 1.0)
    return ((pos - mean) / sd).mean(axis=1), ((neg - mean) / sd).mean(axis=1)


def first_positive(days: Sequence[float], values: Sequence[float], cutoff: float,
                   after: float) -> float | None:
    """The first visit day (days) strictly after ``after`` whose value is >= ``cutoff``;
    None if none is."""
    for day, value in sorted(zip(days, values, strict=True)):
        if day > after and np.isfinite(value) and value >= cutoff:
            return float(day)
    return None


def lead_time(relapse_day: float, visit_days: Sequence[float], values: Sequence[float],
              cutoff: float, remission_day: float) -> float | None:
    """Lead time (days) of a biomarker over marrow relapse: ``relapse_day`` − the first visit
    after ``remission_day`` at which the biomarker is >= ``cutoff`` (> 0: the biomarker came
    first; < 0: it lagged); None if it never turned positive after remission."""
    day = first_positive(visit_days, values, cutoff, remission_day)
    return None if day is None else float(relapse_day - day)
