"""Clinical readouts: marrow cellularity, blast %, take-over day, blood output."""

from __future__ import annotations

import numpy as np
import pytest

from evniche.errors import EvnicheError
from evniche.readouts import clinical


def test_blast_percent_counts_only_leukemic_marrow_cells(synthetic):
    t = synthetic["time"].values
    np.testing.assert_allclose(clinical.marrow_cellularity(synthetic).values, 100.0)
    # blast_blood is leukemic but lives in blood: it must not count
    np.testing.assert_allclose(clinical.blast_percent(synthetic).values, 3.0 * t)


def test_takeover_day_interpolates_between_samples(synthetic):
    # blast % = 3t: 20 % is crossed between day 6 (18 %) and day 7 (21 %), at 20/3 days
    assert clinical.takeover_day(synthetic, 20) == pytest.approx(20.0 / 3.0, rel=1e-12)
    assert clinical.takeover_day(synthetic, 30) == pytest.approx(10.0)
    assert clinical.takeover_day(synthetic, 31) is None


def test_takeover_day_rejects_a_threshold_that_is_not_a_percentage(synthetic):
    with pytest.raises(EvnicheError, match="blast %"):
        clinical.takeover_day(synthetic, 150)


def test_first_crossing_at_start_and_with_nan():
    assert clinical.first_crossing(np.array([0.0, 1.0]), np.array([25.0, 30.0]), 20) == 0.0
    times = np.array([0.0, 1.0, 2.0, 3.0])
    values = np.array([0.0, np.nan, 10.0, 30.0])
    assert clinical.first_crossing(times, values, 20) == pytest.approx(2.5)


def test_normal_blood_output_and_its_drop(synthetic):
    out = clinical.normal_blood_output(synthetic)
    np.testing.assert_allclose(out.values, 1000 - 50 * synthetic["time"].values)
    assert clinical.normal_output_drop(synthetic) == pytest.approx(0.5)
    assert clinical.normal_output_drop(synthetic, day=4.0) == pytest.approx(0.2)
    with pytest.raises(EvnicheError, match="outside the trajectory"):
        clinical.normal_output_drop(synthetic, day=11.0)


def test_normal_stem_progenitor_excludes_leukemic_types(synthetic):
    stem = clinical.normal_stem_progenitor(synthetic)
    assert list(stem["cell_type"].values) == ["HSC"]


def test_leukemia_model_takes_over_and_suppresses_output(leukemia_run):
    pct = clinical.blast_percent(leukemia_run)
    day = clinical.takeover_day(leukemia_run)
    assert day is not None and 0 < day < 120
    # the crossing lies between the samples that bracket 20 %
    before = pct.sel(time=np.floor(day)).item()
    after = pct.sel(time=np.ceil(day)).item()
    assert before <= 20 <= after
    assert clinical.normal_output_drop(leukemia_run) > 0
    summary = clinical.summary(leukemia_run)
    assert summary["takeover_day"] == day
    assert summary["blast_percent_end"] > 20
