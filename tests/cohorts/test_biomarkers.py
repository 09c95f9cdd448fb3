"""Biomarker statistics on hand-computed cases: ROC points, AUC with ties, Youden's cut-off,
the Hanley–McNeil variance, bootstrap coverage, power and sample size, lead time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evniche.cohorts import biomarkers as bm
from evniche.errors import EvnicheError

POS, NEG = [3.0, 4.0, 5.0], [1.0, 2.0, 3.0]


def test_auc_counts_a_tie_as_half():
    # pairs: 3 beats 1, 2 and ties 3 (2.5); 4 and 5 beat all (3 + 3): 8.5 of 9
    assert bm.auc(POS, NEG) == pytest.approx(8.5 / 9)
    assert bm.auc(NEG, POS) == pytest.approx(0.5 / 9)
    assert bm.auc([1, 1], [1, 1]) == pytest.approx(0.5)


def test_roc_curve_points_and_trapezoid_area():
    fpr, tpr, cuts = bm.roc_curve(POS, NEG)
    assert list(cuts) == [math.inf, 5, 4, 3, 2, 1]
    assert np.allclose(tpr, [0, 1 / 3, 2 / 3, 1, 1, 1])
    assert np.allclose(fpr, [0, 0, 0, 1 / 3, 2 / 3, 1])
    assert np.trapezoid(tpr, fpr) == pytest.approx(bm.auc(POS, NEG))


def test_youden_cutoff_and_sensitivity_specificity():
    # J = tpr - fpr: 1/3 at 5, 2/3 at 4 and at 3: the higher cut-off (4) wins
    assert bm.youden_cutoff(POS, NEG) == 4
    assert bm.sensitivity_specificity(POS, NEG, 4) == (pytest.approx(2 / 3), 1.0)
    assert bm.sensitivity_specificity(POS, NEG, 3) == (1.0, pytest.approx(2 / 3))


def test_nan_scores_are_refused():
    with pytest.raises(EvnicheError, match="NaN"):
        bm.auc([1.0, math.nan], [0.0])


def test_hanley_mcneil_variance_at_half_is_the_mann_whitney_null_variance():
    for n1, n0 in ((10, 10), (7, 30)):
        assert bm.hanley_mcneil_variance(0.5, n1, n0) == pytest.approx(
            (n1 + n0 + 1) / (12 * n1 * n0))
    # Hanley & McNeil's table: A = 0.8 with 50 + 50 subjects has SE 0.0445
    assert math.sqrt(bm.hanley_mcneil_variance(0.8, 50, 50)) == pytest.approx(0.0445, abs=5e-4)


def test_bootstrap_interval_covers_the_true_auc():
    rng = np.random.default_rng(1)
    true = stats.norm.cdf(1 / math.sqrt(2))  # binormal, unit separation: AUC 0.760
    covered = 0
    for _ in range(40):
        pos, neg = rng.normal(1.0, 1.0, 40), rng.normal(0.0, 1.0, 40)
        lo, hi = bm.bootstrap_auc(pos, neg, rng, n_boot=200)
        assert lo < bm.auc(pos, neg) < hi
        covered += lo <= true <= hi
    assert covered >= 34  # nominal 95 %: at least 85 % of 40


def test_power_rises_with_n_and_sample_size_is_the_first_n_that_reaches_it():
    n = bm.sample_size(0.75, 0.8)
    assert n is not None and bm.power(0.75, n) >= 0.8 > bm.power(0.75, n - 1)
    assert bm.power(0.75, 10) < bm.power(0.75, 40) < bm.power(0.75, 160)
    assert bm.sample_size(0.9, 0.8) < n  # a stronger marker needs fewer patients
    assert bm.power(0.5, 50) == pytest.approx(0.05)
    assert bm.sample_size(0.5) is None


def test_panel_standardises_by_the_controls():
    neg = np.array([[0.0, 10.0], [2.0, 30.0]])  # means 1 and 20, SDs sqrt(2) and sqrt(200)
    pos = np.array([[1.0 + math.sqrt(2), 20.0]])
    p, n = bm.panel_scores(pos, neg)
    assert p[0] == pytest.approx(0.5)
    assert n.mean() == pytest.approx(0.0)


def test_lead_time_is_relapse_minus_first_positive_visit_after_remission():
    days, values = [30, 60, 90, 120, 150], [9.0, 1.0, 2.0, 6.0, 8.0]
    # positive (>= 5) on day 30 is before remission (day 45): the first after it is day 120
    assert bm.lead_time(140.0, days, values, 5.0, remission_day=45.0) == pytest.approx(20.0)
    assert bm.lead_time(100.0, days, values, 5.0, remission_day=45.0) == pytest.approx(-20.0)
    assert bm.lead_time(100.0, days, values, 50.0, remission_day=45.0) is None
