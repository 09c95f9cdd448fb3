"""The comparison: conditions resolved (diagnosis anchors, intervention starts), runs shared,
values and distances computed as documented. Runs are hand-made Trajectories (a fake
simulator), so the expected numbers are worked out by hand."""

from __future__ import annotations

import math

import pytest

from evniche.observations.comparison import (
    Comparison,
    Simulations,
    compare,
    evaluate,
    select,
    total_distance,
)
from evniche.observations.schema import Observation

from .synthetic import trajectory

TIMES = [float(t) for t in range(11)]


def leukemia(blasts: list[float], plasma: float = 1000.0):
    """Blasts (cells) over days 0-10 beside 80 HSC; plasma small EVs constant."""
    return trajectory({"small": [plasma] * 11}, times=TIMES,
                      cells={"HSC": [80.0] * 11, "blast": blasts, "mature": [1.0] * 11})


class FakeSimulations(Simulations):
    """Returns prepared Trajectories by (preset, intervention names) and records each call."""

    def __init__(self, table):
        super().__init__()
        self.table = table
        self.calls: list[tuple] = []

    def run(self, preset, overrides, interventions, days):
        self.calls.append((preset, tuple((i["name"], i["start"]) for i in interventions)))
        return self.table[(preset, tuple(i["name"] for i in interventions))]


def record(**fields) -> Observation:
    base = {
        "id": "T-1", "measured": "x", "system": "patients", "species": "human",
        "conditions": [{"preset": "aml", "at": "diagnosis", "days": 10}],
        "measurement": {"model": "nta_count"},
        "observed": {"value": 1000.0, "unit": "1/mL", "spread": {"ci95": [500.0, 2000.0]}},
        "source": {"ref": "r", "quote": "q"},
    }
    base.update(fields)
    return Observation.model_validate(base)


# 20 blasts beside 80 HSC = 20 % first on day 4 (blasts 0, 5, 10, 15, 20, ...)
RISING = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0]


def test_diagnosis_anchor_and_intervention_start_are_resolved():
    sims = FakeSimulations({("aml", ()): leukemia(RISING),
                            ("aml", ("cytarabine",)): leukemia(RISING)})
    rec = record(conditions=[{"preset": "aml", "at": "diagnosis+2", "days": 10,
                              "interventions": ["cytarabine@diagnosis+1"]}],
                 measurement={"model": "blast_percent"},
                 observed={"value": 20.0, "unit": "percent", "spread": {"fold": 2,
                                                                        "source": "assumption"}})
    out = evaluate(rec, sims)
    assert out.error == ""
    # diagnosis: day 4 (first sample >= 20 %); the drug starts on day 5; read on day 6,
    # where blasts are 30 of 110 marrow cells
    assert ("aml", (("cytarabine", 5.0),)) in sims.calls
    assert out.model == pytest.approx(100 * 30 / 110)


def test_magnitude_value_z_and_distance():
    sims = FakeSimulations({("aml", ()): leukemia(RISING, plasma=2000.0)})
    out = evaluate(record(), sims)
    # σ = ln(2000/500) / (2 × 1.96); model 2000 vs observed 1000
    sigma = math.log(4.0) / (2 * 1.959963984540054)
    z = math.log(2.0) / sigma
    assert out.model == pytest.approx(2000.0)
    assert out.observed == pytest.approx(1000.0)
    assert out.z == pytest.approx(z)
    assert out.distance == pytest.approx(0.5 * z * z)


def test_observed_units_are_converted_to_the_measurement_unit():
    sims = FakeSimulations({("aml", ()): leukemia(RISING, plasma=1000.0)})
    rec = record(observed={"value": 1.0, "unit": "1/uL", "spread": {"ci95": [0.5, 2.0]}})
    out = evaluate(rec, sims)
    assert out.observed == pytest.approx(1000.0)  # 1 per µL = 1000 per mL
    assert out.distance == pytest.approx(0.0)


def test_trend_reads_each_condition_and_shares_runs():
    sims = FakeSimulations({("healthy", ()): leukemia([0.0] * 11, plasma=1000.0),
                            ("aml", ()): leukemia(RISING, plasma=1500.0)})
    rec = record(conditions=[{"preset": "healthy", "at": "end", "days": 10},
                             {"preset": "aml", "at": "diagnosis", "days": 10}],
                 observed={"trend": "decreasing"})
    out = evaluate(rec, sims)
    assert out.per_condition == [pytest.approx(1000.0), pytest.approx(1500.0)]
    # a 1.5-fold rise where a fall of >= 5 % was due
    need = math.log(1.05)
    assert out.distance == pytest.approx(0.5 * ((math.log(1.5) + need) / need) ** 2)
    assert select([rec], "aml") == [rec] and select([rec], "cll") == []


def test_a_condition_without_diagnosis_or_read_after_the_end_gives_an_error():
    sims = FakeSimulations({("aml", ()): leukemia([0.0] * 11)})
    out = evaluate(record(), sims)
    assert "never reaches diagnosis" in out.error and math.isnan(out.distance)
    late = record(conditions=[{"preset": "aml", "at": 30, "days": 10}])
    assert "after the run's end" in evaluate(late, sims).error


def test_overrides_repeating_the_preset_value_share_its_runs():
    sims = Simulations()
    plain = sims._model("healthy", {})[1]  # noqa: SLF001
    same = sims._model("healthy", {  # noqa: SLF001
        "parameters.ev_blood_half_life.value": 7, "parameters.ev_blood_half_life.unit": "min",
        "parameters.ev_blood_half_life.source": "doi:10.1080/20013078.2019.1696517",
        "parameters.ev_blood_half_life.range": None})[1]
    other = sims._model("healthy", {  # noqa: SLF001
        "parameters.ev_blood_half_life.value": 5.5, "parameters.ev_blood_half_life.unit": "h",
        "parameters.ev_blood_half_life.source": "assumption: a human value for the test",
        "parameters.ev_blood_half_life.range": None})[1]
    assert plain == same
    assert plain != other


def test_compare_runs_a_real_short_healthy_condition_once():
    rec = record(conditions=[{"preset": "healthy", "at": "end", "days": 5}])
    twin = record(id="T-2", conditions=[{"preset": "healthy", "at": "end", "days": 5}],
                  measurement={"model": "flow_fraction"},
                  observed={"value": 0.01, "unit": "dimensionless",
                            "spread": {"fold": 3, "source": "assumption"}})
    sims = Simulations()
    rows = compare([rec, twin], "healthy", sims)
    assert sims.runs == 1
    assert rows[0].model > 0 and 0 < rows[1].model < 1
    assert all(r.error == "" and math.isfinite(r.distance) for r in rows)


def test_base_overrides_apply_to_every_run_and_records_override_them():
    base = {"parameters.ev_blood_half_life.value": 14}
    sims = Simulations(overrides=base)
    model, _ = sims._model("healthy", {})  # noqa: SLF001
    assert model.params.resolved["ev_blood_half_life"].value == pytest.approx(14 / 60)  # h
    species = {"parameters.ev_blood_half_life.value": 7}
    model, _ = sims._model("healthy", species)  # noqa: SLF001
    assert model.params.resolved["ev_blood_half_life"].value == pytest.approx(7 / 60)


def test_total_distance_counts_a_failed_record_as_infinite():
    rec = record()
    assert total_distance([Comparison(rec, distance=1.5), Comparison(rec, distance=0.5)]) \
        == 2.0
    assert total_distance([Comparison(rec, distance=1.5), Comparison(rec)]) == math.inf


def test_an_aml_run_is_read_at_diagnosis_on_its_presentation_with_cytopenia():
    """For AML the diagnosis needs >= 20 % blasts and normal output <= 45 % of day 0:
    blasts reach 20 % on day 4 (RISING), the mature output 1.0, 1.0, … falls to 0.45 first
    on day 7, so the reading is on day 7: 35 blasts of 115 marrow cells."""
    ds = trajectory({"small": [1000.0] * 11}, times=TIMES,
                    cells={"HSC": [80.0] * 11, "blast": RISING,
                           "mature": [1.0] * 5 + [0.8, 0.6, 0.45, 0.4, 0.3, 0.2]})
    ds.attrs["disease"] = "AML"
    sims = FakeSimulations({("aml", ()): ds})
    out = evaluate(record(measurement={"model": "blast_percent"},
                          observed={"value": 20.0, "unit": "percent",
                                    "spread": {"fold": 2, "source": "assumption"}}), sims)
    assert out.error == ""
    assert out.model == pytest.approx(100 * 35 / 115)
