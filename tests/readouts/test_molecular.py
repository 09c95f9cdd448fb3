"""BCR-ABL1/ABL1 in blood (% IS), log reductions and the slopes of the biphasic decline,
on hand-made trajectories whose answers are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from evniche.errors import EvnicheError
from evniche.readouts.molecular import (
    MMR,
    bcr_abl_is,
    biphasic_slopes,
    first_day_at_or_above,
    first_day_at_or_below,
    log_reduction,
    log_slope,
)

BLOOD_CELLS = 1e11  # granulocyte-equivalents in blood, leukemic + normal


def _trajectory(level_percent: np.ndarray, days: np.ndarray) -> xr.Dataset:
    """Blood holds BLOOD_CELLS hematopoietic cells, ``level_percent`` % of them leukemic;
    marrow HSCs and blood immune cells must not count."""
    leukemic = BLOOD_CELLS * level_percent / 100.0
    cells = np.stack([np.full_like(days, 1e5), leukemic, BLOOD_CELLS - leukemic,
                      np.full_like(days, 3e9)], axis=1)
    return xr.Dataset(
        {"cells": (("time", "cell_type"), cells)},
        coords={"time": days, "cell_type": ["HSC", "CML_granulocyte", "mature", "CD8_T_blood"],
                "cell_compartment": ("cell_type", ["marrow", "blood", "blood", "blood"]),
                "cell_lineage": ("cell_type", ["normal", "leukemic", "normal", "immune"])},
        attrs={"marrow_counted": "HSC", "leukemic": "CML_granulocyte"})


def _biphasic(t: np.ndarray) -> np.ndarray:
    """100 % falling at 0.05/day until day 100, then at 0.005/day (ln units)."""
    return np.where(t <= 100, 100 * np.exp(-0.05 * t),
                    100 * np.exp(-5.0) * np.exp(-0.005 * (t - 100)))


def test_the_level_is_the_leukemic_share_of_blood_leukocytes_in_percent():
    days = np.array([0.0, 1.0, 2.0])
    # 1e11, 1e9 and 1e8 leukemic of 1e11 blood cells: 100 %, 1 %, 0.1 % (MMR)
    level = bcr_abl_is(_trajectory(np.array([100.0, 1.0, 0.1]), days))
    assert level.values == pytest.approx([100.0, 1.0, 0.1])
    assert level.attrs["unit"] == "% IS"


def test_marrow_and_immune_cells_do_not_enter_the_ratio():
    ds = _trajectory(np.array([50.0]), np.array([0.0]))
    ds["cells"].loc[{"cell_type": "CD8_T_blood"}] = 1e12  # a T-cell flood changes nothing
    ds["cells"].loc[{"cell_type": "HSC"}] = 1e12
    assert float(bcr_abl_is(ds)[0]) == pytest.approx(50.0)


def test_blood_without_hematopoietic_cells_reads_nan_and_no_leukemic_type_is_an_error():
    ds = _trajectory(np.array([0.0]), np.array([0.0]))
    ds["cells"].loc[{"cell_type": "mature"}] = 0.0
    assert math.isnan(float(bcr_abl_is(ds)[0]))
    healthy = ds.assign_coords(cell_lineage=("cell_type", ["normal"] * 3 + ["immune"]))
    with pytest.raises(EvnicheError, match="leukemic cell type that lives in blood"):
        bcr_abl_is(healthy)


def test_log_reduction_counts_logs_from_the_is_baseline():
    assert log_reduction(100.0) == pytest.approx(0.0)
    assert log_reduction(MMR) == pytest.approx(3.0)  # MMR is a 3-log reduction
    assert log_reduction(0.0032) == pytest.approx(4.49485, abs=1e-5)  # MR4.5
    assert log_reduction(0.0) == math.inf
    with pytest.raises(EvnicheError, match=">= 0"):
        log_reduction(-1.0)


def test_the_two_slopes_of_a_biphasic_decline_are_recovered():
    t = np.arange(0.0, 731.0)
    ds = _trajectory(_biphasic(t), t)
    first, second = biphasic_slopes(ds, start=0.0)
    assert first == pytest.approx(-0.05, rel=1e-6)
    assert second == pytest.approx(-0.005, rel=1e-6)
    # counted from the therapy start: the same course 30 days later, same slopes
    late = _trajectory(_biphasic(t - 30.0), t + 0.0)
    late["cells"].loc[{"time": slice(0, 29)}] = late["cells"].sel(time=30.0).values
    assert biphasic_slopes(late, start=30.0, second=(365.0, 700.0)) == pytest.approx(
        (-0.05, -0.005), rel=1e-6)


def test_a_slope_needs_two_positive_samples_and_an_ordered_window():
    t = np.arange(0.0, 10.0)
    level = bcr_abl_is(_trajectory(np.where(t < 9, 0.0, 1.0), t))
    assert math.isnan(log_slope(level, 0.0, 9.0))  # only day 9 is above 0
    with pytest.raises(EvnicheError, match="end after it starts"):
        log_slope(level, 5.0, 5.0)


def test_milestone_days():
    t = np.arange(0.0, 731.0)
    level = bcr_abl_is(_trajectory(_biphasic(t), t))
    # 100·e^-5 = 0.674 % on day 100, then 0.674·e^(-0.005 (t-100)) <= 0.1 from day 482
    assert first_day_at_or_below(level, MMR) == 482.0
    assert first_day_at_or_below(level, 1e-9) is None
    assert first_day_at_or_above(level, 50.0) == 0.0
    assert first_day_at_or_above(level, 150.0) is None
