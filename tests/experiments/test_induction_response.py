"""The resistant-share calibration (evniche.experiments.induction_response): the
log-uniform arithmetic by hand, the threshold share on a grid, and the refusals."""

from __future__ import annotations

import math

import pytest

from evniche.errors import EvnicheError
from evniche.experiments.induction_response import (
    CR_RATE_O3,
    Response,
    calibrate,
    grid,
    table,
    threshold_share,
)


def _r(share: float, cr: bool) -> Response:
    return Response(share, 200.0, 1.0, 30.0 if cr else None, None)


def test_the_o3_cr_rate_is_the_pooled_count_of_both_arms():
    # Ohtake 2011: 407 of 525 (daunorubicin) and 416 of 532 (idarubicin)
    assert CR_RATE_O3 == pytest.approx(823 / 1057)
    assert CR_RATE_O3 == pytest.approx(0.779, abs=5e-4)


def test_calibrate_places_the_threshold_at_the_cr_rate_by_hand():
    # s* = 1e-4, q = 0.75, 4 decades: lo = 1e-4 · 10^-3 = 1e-7, median 1e-5, hi 1e-3
    lo, median, hi = calibrate(1e-4, 0.75, 4.0)
    assert lo == pytest.approx(1e-7)
    assert median == pytest.approx(1e-5)
    assert hi == pytest.approx(1e-3)
    # the share of the log-uniform below s* is the CR rate
    assert (math.log10(1e-4) - math.log10(lo)) / 4.0 == pytest.approx(0.75)


def test_a_cr_rate_above_one_half_puts_the_median_patient_below_the_threshold():
    for decades in (2.0, 4.0, 8.0):
        _, median, _ = calibrate(3e-5, CR_RATE_O3, decades)
        assert median < 3e-5
    _, median, _ = calibrate(3e-5, 0.4, 4.0)
    assert median > 3e-5


def test_threshold_share_is_the_largest_share_with_cr_below_the_first_without():
    responses = [_r(0.0, True), _r(1e-5, True), _r(1e-4, False), _r(1e-3, False)]
    assert threshold_share(responses[::-1]) == 1e-5  # order does not matter
    assert threshold_share([_r(0.0, False), _r(1e-5, False)]) is None


def test_a_response_that_is_not_monotone_in_the_share_is_refused():
    with pytest.raises(EvnicheError, match="not monotone"):
        threshold_share([_r(0.0, True), _r(1e-5, False), _r(1e-4, True)])


@pytest.mark.parametrize(("threshold", "message"), [
    (None, "cannot be calibrated"), (0.0, "only patients without")])
def test_no_threshold_cannot_be_calibrated(threshold, message):
    with pytest.raises(EvnicheError, match=message):
        calibrate(threshold)


def test_bad_rates_are_refused():
    with pytest.raises(EvnicheError, match="expected 0 < rate"):
        calibrate(1e-4, 1.2)


def test_grid_is_log_spaced_with_none_first():
    g = grid(1e-4, 1.0, 2)
    assert g[0] == 0.0 and len(g) == 10
    assert g[1] == pytest.approx(1e-4) and g[-1] == pytest.approx(1.0)
    assert g[2] / g[1] == pytest.approx(math.sqrt(10))


def test_table_says_refractory_where_there_is_no_remission():
    text = table([_r(0.0, True), _r(1e-3, False)])
    assert "| 0 | 200 | 1 % | d+30.0 | — |" in text
    assert "no (refractory)" in text.splitlines()[-1]
