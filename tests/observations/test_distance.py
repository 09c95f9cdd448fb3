"""Distances: log-scale spreads from each kind of published spread, the log-normal distance
and the trend hinge; expected values worked out by hand."""

from __future__ import annotations

import math

import pytest

from evniche.observations import distance as d


def test_log_sigma_from_each_spread():
    # chosen so that every spread gives σ = 1 on the log scale
    assert d.log_sigma(5.0, ci95=(1.0, math.exp(2 * 1.959963984540054))) == pytest.approx(1.0)
    assert d.log_sigma(5.0, iqr=(1.0, math.exp(2 * 0.6744897501960817))) == pytest.approx(1.0)
    assert d.log_sigma(5.0, range_=(1.0, math.exp(4.0))) == pytest.approx(1.0)
    assert d.log_sigma(5.0, fold=math.exp(1.959963984540054)) == pytest.approx(1.0)
    # a mean of 10 with SD 10: σ² = ln(1 + 1) (the log-normal of that mean and SD)
    assert d.log_sigma(10.0, sd=10.0) == pytest.approx(math.sqrt(math.log(2.0)))
    # SE 5 with n = 4 is SD 10
    assert d.log_sigma(10.0, se=5.0, n=4) == pytest.approx(math.sqrt(math.log(2.0)))
    with pytest.raises(ValueError, match="needs n"):
        d.log_sigma(10.0, se=5.0)


def test_magnitude_is_half_z_squared_on_the_log_scale():
    z, dist = d.magnitude(math.e * 3.0, 3.0, 1.0)  # one σ (= one e-fold) too high
    assert (z, dist) == (pytest.approx(1.0), pytest.approx(0.5))
    z, dist = d.magnitude(3.0 / math.e ** 2, 3.0, 0.5)  # two e-folds low at σ = 0.5
    assert (z, dist) == (pytest.approx(-4.0), pytest.approx(8.0))
    assert d.magnitude(3.0, 3.0, 1.0)[1] == 0.0
    z, dist = d.magnitude(0.0, 3.0, 1.0)
    assert math.isnan(z) and dist == math.inf


def test_trend_hinge():
    step = math.log(1.05)
    assert d.trend([1.0, 2.0], "increasing") == 0.0
    assert d.trend([1.0, 1.0], "increasing") == pytest.approx(0.5)  # no effect: ½
    # the opposite effect of the margin's size: (2 ln 1.05 / ln 1.05)² / 2 = 2
    assert d.trend([1.0, 1 / 1.05], "increasing") == pytest.approx(2.0)
    assert d.trend([2.0, 1.0], "decreasing") == 0.0
    assert d.trend([1.0, 1.02], "similar") == 0.0
    assert d.trend([1.0, 1.05 ** 2], "similar") == pytest.approx(0.5)
    # steps add up: a rise, then a 2-fold fall where a rise was due
    expected = 0.5 * ((step + math.log(2.0)) / step) ** 2
    assert d.trend([1.0, 2.0, 1.0], "increasing") == pytest.approx(expected)


def test_trend_with_infinite_or_missing_values():
    assert d.trend([200.0, math.inf], "increasing") == 0.0  # never taken over: a delay
    assert d.trend([200.0, math.inf], "decreasing") == math.inf
    assert d.trend([0.0, 1.0], "increasing") == 0.0  # a rise from none (healthy: no blasts)
    assert d.trend([0.0, 1.0], "decreasing") == math.inf
    assert d.trend([0.0, 0.0], "increasing") == pytest.approx(0.5)  # no change: no effect
    assert d.trend([-1.0, 1.0], "increasing") == math.inf
    assert d.trend([math.nan, 1.0], "increasing") == math.inf
    assert d.trend([math.inf, math.inf], "increasing") == math.inf
    with pytest.raises(ValueError, match="unknown trend"):
        d.trend([1.0, 2.0], "up")
    with pytest.raises(ValueError, match="margin must be > 0"):
        d.trend([1.0, 2.0], "increasing", margin=0.0)
