"""The clinical course readouts (diagnosis, complete remission, MRD, relapse) on a hand-made
course whose answers are derived by hand (tests/readouts/synthetic_trajectories.py)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from synthetic_trajectories import (
    COURSE_BLASTS,
    COURSE_BLOOD_BLASTS,
    COURSE_MATURE,
    course_trajectory,
)

from evniche.errors import EvnicheError
from evniche.readouts import clinical


@pytest.fixture
def course_ds() -> xr.Dataset:
    return course_trajectory()


def test_present_reads_less_than_one_cell_as_extinct():
    assert clinical.present(5.7e-7) == 0.0
    assert clinical.present(-1e-12) == 0.0
    assert clinical.present(1.0) == 1.0
    np.testing.assert_array_equal(clinical.present(np.array([0.99, 3.0, np.nan])),
                                  [0.0, 3.0, np.nan])
    da = xr.DataArray([0.5, 2.0], dims="time")
    np.testing.assert_array_equal(clinical.present(da).values, [0.0, 2.0])
    np.testing.assert_array_equal(da.values, [0.5, 2.0])  # the raw values stay


def test_cell_types_by_compartment_and_lineage(course_ds, synthetic):
    assert clinical.cell_types(course_ds, "blood", "leukemic") == ["blast_blood"]
    assert clinical.cell_types(course_ds, "blood", "normal") == ["mature"]
    # without the coordinates: leukemic types not marrow-counted circulate, 'mature' is output
    assert clinical.cell_types(synthetic, "blood", "leukemic") == ["blast_blood"]
    assert clinical.cell_types(synthetic, "blood", "normal") == ["mature"]


def test_normal_output_and_lineages_leave_out_background_blood_cells(course_ds):
    np.testing.assert_array_equal(clinical.normal_blood_output(course_ds).values, COURSE_MATURE)
    assert list(clinical.normal_lineages(course_ds)["cell_type"].values) == ["HSC", "mature"]


def test_blood_blast_percent_counts_hematopoietic_blood_cells_only(course_ds):
    pct = clinical.blood_blast_percent(course_ds).values
    assert pct[3] == pytest.approx(100 * 50 / 550)  # platelets are not in the denominator
    assert pct[6] == 0.0  # 0.5 circulating blasts: extinct


def test_mrd_three_ways(course_ds):
    levels = clinical.mrd(course_ds)
    np.testing.assert_allclose(levels["marrow"].values[:12], np.array(COURSE_BLASTS[:12]) / 100)
    # 1e-5 % of 1e6 marrow cells is 0.1 cell: extinct, MRD 0 (blast % keeps the raw value)
    assert levels["marrow"].values[12] == 0.0
    assert clinical.blast_percent(course_ds).values[12] == pytest.approx(1e-5)
    assert levels["blood"].values[3] == pytest.approx(50 / 550)
    assert levels["ev"].values[20] == pytest.approx(400 / 1400)  # LSC EVs 10 × 40 % vs 1000


def test_mrd_blood_is_nan_without_blood_hematopoietic_types(course_ds):
    ds = course_ds.isel(cell_type=[0, 1, 2, 5])  # no mature, no circulating blasts
    assert np.isnan(clinical.mrd_blood(ds).values).all()


def test_therapies_group_doses_by_intervention(course_ds):
    given = clinical.therapies(course_ds)
    assert [(t["intervention"], t["start_day"], t["end_day"]) for t in given] == [
        ("induction", 3.0, 10.0), ("cytarabine", 3.0, 5.0)]
    assert clinical.therapies(course_ds.assign_attrs(interventions="")) == []
    with pytest.raises(EvnicheError, match="interventions"):
        clinical.therapies(course_ds.assign_attrs(interventions="[{]"))


def test_diagnosis_remission_and_relapse_days(course_ds):
    # blasts 14 % (day 2) -> 26 % (day 3): 20 % on day 2.5
    assert clinical.diagnosis_day(course_ds) == pytest.approx(2.5)
    # from day 3 (therapy start) the first sample in CR is day 9 (blasts 1 %, output 30 %,
    # no blood blasts); on day 8 only the count (20 % < 25 %) was missing: 25 % on day 8.5
    assert clinical.remission_day(course_ds) == pytest.approx(8.5)
    # blasts 3 % (day 15) -> 7 % (day 16): 5 % on day 15.5
    assert clinical.relapse_day(course_ds) == pytest.approx(15.5)
    # a stricter count recovery (35 %): day 9 has 30 %, day 10 50 %: 35 % on day 9.25
    assert clinical.remission_day(course_ds, recovery=0.35) == pytest.approx(9.25)


def test_circulating_blasts_delay_remission(course_ds):
    blood = list(COURSE_BLOOD_BLASTS)
    blood[9] = 100.0  # 100 / (100 + 300) = 25 % on day 9, gone on day 10
    ds = course_trajectory(blood_blasts=blood)
    # margin 1 % − blood blast %: −24 on day 9, +1 on day 10: crosses 0 on day 9.96
    assert clinical.remission_day(ds) == pytest.approx(9 + 24 / 25)


def test_reappearing_blood_blasts_are_a_relapse():
    blood = list(COURSE_BLOOD_BLASTS)
    blood[12] = 16.0  # 16 / (16 + 800) = 1.96 % on day 12, after 0 % on day 11
    ds = course_trajectory(blood_blasts=blood)
    assert clinical.relapse_day(ds) == pytest.approx(11 + 1 / (16 / 816 * 100))


def test_course_summary_and_text(course_ds):
    c = clinical.course(course_ds)
    assert c["diagnosis_day"] == pytest.approx(2.5)
    assert c["output_at_diagnosis"] == pytest.approx(0.6)  # 600 of 1000 on day 2.5
    assert c["remission_day"] == pytest.approx(8.5)
    assert c["remission_after"] == "cytarabine"
    assert c["mrd_at_remission"] == pytest.approx(0.015)  # 2 % and 1 % around day 8.5
    assert c["mrd_negative"] is False
    assert c["relapse_day"] == pytest.approx(15.5)
    assert (c["lowest_output"], c["lowest_output_day"]) == (pytest.approx(0.05), 6.0)
    assert [t["blast_percent"] for t in c["therapies"]] == [26.0, 26.0]
    assert c["text"] == (
        "Presents on day 2.5 with 20 % marrow blasts and normal blood output at 60 % of "
        "healthy; complete remission on day 8.5 after cytarabine; MRD 1.5 % at remission "
        "(positive, threshold 0.1 %); relapse on day 15.5. Normal blood output is lowest on "
        "day 6, at 5 % of healthy.")


def test_course_without_therapy_has_no_remission():
    c = clinical.course(course_trajectory(interventions=[]))
    assert c["remission_day"] is None and c["relapse_day"] is None
    assert "untreated, so no remission" in c["text"]


def test_course_without_diagnosis():
    ds = course_trajectory(blasts=[b / 10 for b in COURSE_BLASTS])  # at most 4 %
    c = clinical.course(ds)
    assert c["diagnosis_day"] is None and c["remission_day"] is None
    assert c["text"].startswith("No diagnosis: marrow blasts stay below 20 % over the 20 days "
                                "simulated (highest 4 % on day 20); induction and cytarabine "
                                "given.")


def test_course_without_count_recovery_names_the_therapy_and_cytopenia():
    mature = [1000, 900, 500, 300] + [100] * 17  # 400 on day 2.5: 40 %; never 25 % again
    c = clinical.course(course_trajectory(mature=mature))
    assert c["remission_day"] is None
    assert "at 40 % of healthy (cytopenia)" in c["text"]
    assert "no complete remission after induction and cytarabine" in c["text"]



#: a presentation by hand: blasts pass 20 % on day 2, normal output falls through 45 % of
#: day 0 between day 4 (50 %) and day 5 (40 %)
PRESENTING_BLASTS = [2, 10, 20, 30, 40, 50, 60, 70, 80, 90, 90]
PRESENTING_MATURE = [1000, 1000, 900, 700, 500, 400, 300, 200, 100, 100, 100]


def _presenting(disease: str | None) -> xr.Dataset:
    ds = course_trajectory(blasts=PRESENTING_BLASTS, mature=PRESENTING_MATURE,
                           blood_blasts=[0] * 11, interventions=[])
    if disease is not None:
        ds.attrs["disease"] = disease
    return ds


def test_aml_is_diagnosed_when_it_presents_with_cytopenia():
    """AML needs >= 20 % blasts and normal output <= 45 % of day 0 (ANC 1.8 over 4e9/L):
    both hold first on day 5; the cytopenia, met last, crosses at 4 + (0.45 - 0.5) /
    (0.4 - 0.5) = 4.5, when blasts are 40 + 0.5 * 10 = 45 %."""
    ds = _presenting("AML")
    assert clinical.presents_with_cytopenia(ds)
    assert clinical.diagnosis_sample(ds) == 5
    assert clinical.diagnosis_day(ds) == pytest.approx(4.5)
    c = clinical.course(ds)
    assert c["output_at_diagnosis"] == pytest.approx(0.45)
    assert c["text"].startswith("Presents on day 4.5 with 45 % marrow blasts and normal blood "
                                "output at 45 % of healthy (cytopenia); untreated")
    assert c["diagnosis_criteria"] == ("marrow blasts >= 20 % with cytopenia (normal blood "
                                       "output <= 45 % of healthy)")


@pytest.mark.parametrize("disease", [None, "CML", "T-ALL"])
def test_other_diseases_are_diagnosed_at_the_who_blast_threshold(disease):
    """Without a cytopenic presentation the diagnosis is the 20 % crossing: day 1 + (20 -
    10) / (20 - 10) = 2, the take-over day."""
    ds = _presenting(disease)
    assert not clinical.presents_with_cytopenia(ds)
    assert clinical.diagnosis_sample(ds) == 2
    assert clinical.diagnosis_day(ds) == pytest.approx(2.0) == clinical.takeover_day(ds)


@pytest.mark.parametrize(("disease", "noun"), [
    ("CML", "malignant cells"), ("MM", "malignant cells"), ("T-ALL", "blasts"), (None, "blasts")])
def test_course_text_names_maturing_clones_malignant_cells_not_blasts(disease, noun):
    """Chronic-phase CML, myeloma and the lymphomas have few blasts: their clone's share of
    the marrow is reported as malignant cells (day 2, 20 %: the WHO crossing above)."""
    text = clinical.course(_presenting(disease))["text"]
    assert text.startswith(f"Presents on day 2.0 with 20 % marrow {noun} and normal blood "
                           "output at 90 % of healthy; untreated")


def test_aml_blasts_without_cytopenia_are_no_diagnosis():
    ds = course_trajectory(blasts=PRESENTING_BLASTS, mature=[1000] * 11,
                           blood_blasts=[0] * 11, interventions=[])
    ds.attrs["disease"] = "AML"
    assert clinical.diagnosis_day(ds) is None and clinical.diagnosis_sample(ds) is None
    assert clinical.course(ds)["text"].startswith(
        "No diagnosis: marrow blasts >= 20 % with cytopenia (normal blood output <= 45 % of "
        "healthy) not reached over the 10 days simulated (highest 90 % on day 9)")


def test_a_diagnosis_threshold_outside_0_100_is_refused():
    with pytest.raises(EvnicheError, match="diagnosis threshold"):
        clinical.diagnosis_day(_presenting("AML"), threshold=0)


def test_blasts_below_5_percent_before_the_count_nadir_are_aplasia_not_remission():
    """Blasts fall below 5 % on day 5 while normal output (300 = 30 % of healthy) is still
    falling toward its nadir on day 6: no CR then. CR waits for the nadir (day 6, 50 cells)
    and the recovery after it: 25 % is crossed between day 8 (200) and day 9 (300)."""
    blasts = list(COURSE_BLASTS)
    blasts[5] = 4.0  # < 5 % on day 5 (was 8 %), with output 300 = 30 % ≥ 25 %
    mature = [1000, 900, 700, 500, 400, 300, 50, 150, 200, 300, 500] + [800] * 10
    ds = course_trajectory(blasts=blasts, mature=mature, blood_blasts=[0] * 21)
    assert clinical.remission_search_start(ds) == pytest.approx(6.0)
    assert clinical.remission_day(ds) == pytest.approx(8.5)
    # without the nadir rule the same data would read CR on day 5 (all criteria met)
    pct = clinical.blast_percent(ds).values
    assert pct[5] < 5 and mature[5] / mature[0] >= 0.25


def test_aml_treated_after_the_who_blast_criterion_is_followed_to_remission():
    """A marrow with >= 20 % blasts makes the diagnosis even before the patient presents
    with cytopenia (a cohort sampled at a blast stage): the hand-made course has 20 %
    blasts on day 2.5 and normal output 50 % of healthy on day 3, never <= 45 % while the
    blasts are >= 20 %, so AML never 'presents'; 7+3 from day 3 still reaches CR on day 8.5
    and relapse on day 15.5 (test_diagnosis_remission_and_relapse_days). The same therapy
    from day 2, before the blast criterion, treats no diagnosed leukemia: no CR."""
    ds = course_trajectory()
    ds.attrs["disease"] = "AML"
    assert clinical.diagnosis_day(ds) is None
    assert clinical.remission_day(ds) == pytest.approx(8.5)
    assert clinical.relapse_day(ds) == pytest.approx(15.5)
    before = course_trajectory(interventions=[
        {"label": "induction", "intervention": "induction", "item": 0, "start_day": 2.0,
         "end_day": 10.0}])
    before.attrs["disease"] = "AML"
    assert clinical.remission_day(before) is None
