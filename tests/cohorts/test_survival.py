"""Relapse-free survival (evniche.cohorts.survival) against the Kaplan–Meier estimate by
hand."""

from __future__ import annotations

import math

import pytest

from evniche.cohorts.survival import relapse_free
from evniche.errors import EvnicheError


def test_kaplan_meier_median_and_one_year_by_hand():
    """7 patients: relapses on days 100, 200, 300, 400, 500; censored on days 250 and 600.
    S = 6/7 after 100, × 5/6 = 0.714 after 200, × 3/4 = 0.536 after 300 (4 at risk once
    250 is censored), × 2/3 = 0.357 after 400: the median is day 400; at 365 days S =
    0.536. The lower band crosses 1/2 first, the upper one never within the follow-up."""
    r = relapse_free([100, 200, 300, 400, 500, 250, 600], [1, 1, 1, 1, 1, 0, 0])
    assert (r.patients, r.relapses) == (7, 5)
    assert r.median == 400.0
    assert r.at_one_year == pytest.approx(15 / 28)
    assert r.interval[0] <= r.median and math.isinf(r.interval[1])
    assert r.longest_follow_up == 600.0


def test_without_relapses_the_median_is_not_reached():
    r = relapse_free([400.0, 500.0], [False, False])
    assert math.isinf(r.median) and r.at_one_year == 1.0 and r.relapses == 0


@pytest.mark.parametrize(("durations", "flags", "match"), [
    ([], [], "no patient"), ([1.0, 2.0], [True], "same length"),
    ([-1.0], [True], ">= 0"), ([math.nan], [True], "finite")])
def test_bad_input_is_refused(durations, flags, match):
    with pytest.raises(EvnicheError, match=match):
        relapse_free(durations, flags)


def test_when_everyone_relapsed_within_the_year_none_is_relapse_free_at_one_year():
    """S = 2/3, 1/3, 0 after days 100, 200, 300; where S is 0 the band is 0 too (its
    log-log formula is undefined there), so the median's interval ends on day 300."""
    r = relapse_free([100.0, 200.0, 300.0], [True, True, True])
    assert r.median == 200.0 and r.at_one_year == 0.0
    assert r.interval == (100.0, 300.0)
