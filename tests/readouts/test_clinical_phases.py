"""Kill and regrowth per population and therapy phase (evniche.readouts.clinical_phases),
on a hand-made course whose answers are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from evniche.errors import EvnicheError
from evniche.readouts.clinical_phases import phase_kinetics


def _course() -> xr.Dataset:
    """Two phases starting on days 0 and 10, 21 daily samples. ``blast``: 1e8 falls 1 log
    a day for 3 days (nadir 1e5 on day 3) and then doubles every 2 days, so 1e5·2^(7/2) on
    day 10; in phase 2 it falls 2 log in 1 day and doubles every 2 days again. ``LSC``:
    constant 100 (no kill, no regrowth)."""
    t = np.arange(21, dtype=float)
    blast = np.empty_like(t)
    for k, d in enumerate(t):
        if d <= 3:
            blast[k] = 1e8 * 10.0 ** -d
        elif d <= 10:
            blast[k] = 1e5 * 2.0 ** ((d - 3) / 2)
        elif d <= 11:
            blast[k] = 1e5 * 2.0 ** 3.5 * 10.0 ** -(2 * (d - 10))
        else:
            blast[k] = 1e3 * 2.0 ** 3.5 * 2.0 ** ((d - 11) / 2)
    cells = np.stack([blast, 100.0 + 0 * t], axis=1)
    return xr.Dataset({"cells": (("time", "cell_type"), cells)},
                      coords={"time": t, "cell_type": ["blast", "LSC"]})


def test_kill_regrowth_and_doubling_by_phase_and_population():
    got = phase_kinetics(_course(), [0.0, 10.0], ["blast", "LSC"], nadir_within=5.0)
    assert [(p.cell_type, p.start_day, p.end_day) for p in got] == [
        ("blast", 0.0, 10.0), ("LSC", 0.0, 10.0), ("blast", 10.0, 20.0), ("LSC", 10.0, 20.0)]
    first, lsc, second, _ = got
    assert first.nadir_day == 3.0
    assert first.kill_log10 == pytest.approx(3.0)
    assert first.regrowth_log10 == pytest.approx(3.5 * math.log10(2.0))
    assert first.doubling_days == pytest.approx(2.0)
    assert second.nadir_day == 11.0
    assert second.kill_log10 == pytest.approx(2.0)
    assert second.doubling_days == pytest.approx(2.0)  # day 11 to the run's end, day 20
    assert second.regrowth_log10 == pytest.approx(4.5 * math.log10(2.0))
    assert lsc.kill_log10 == 0.0 and lsc.regrowth_log10 == 0.0
    assert lsc.doubling_days is None  # no growth, no doubling time


def test_the_nadir_is_looked_for_only_near_the_start():
    """With a 2-day window the blasts' nadir is read on day 2 (1e6), not day 3."""
    first = phase_kinetics(_course(), [0.0], ["blast"], nadir_within=2.0)[0]
    assert first.nadir_day == 2.0
    assert first.kill_log10 == pytest.approx(2.0)
    assert first.end_day == 20.0


@pytest.mark.parametrize("starts, types, within, message", [
    ([0.0], ["HSC"], 5.0, "cell types ['HSC'] are not in the trajectory"),
    ([10.0, 5.0], ["blast"], 5.0, "must be increasing days within the run"),
    ([25.0], ["blast"], 5.0, "must be increasing days within the run"),
    ([0.0], ["blast"], 0.0, "nadir_within must be > 0"),
])
def test_bad_requests_are_refused_with_one_clear_line(starts, types, within, message):
    with pytest.raises(EvnicheError, match=message.replace("[", r"\[").replace("]", r"\]")):
        phase_kinetics(_course(), starts, types, nadir_within=within)
