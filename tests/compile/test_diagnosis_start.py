"""Interventions that start at diagnosis (``NAME@diagnosis[+N]``) and the therapy timeline
every run records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import evniche
from evniche.compile.interventions import (
    build_schedule,
    diagnosis_offset,
    parse_intervention,
    resolve_diagnosis,
)
from evniche.engines import prepare
from evniche.errors import EvnicheError, ModelError
from evniche.readouts import clinical

TINY_LEUKEMIA = Path(__file__).parents[1] / "readouts" / "tiny_leukemia.yaml"


@pytest.fixture(scope="module")
def tiny():
    return evniche.load_model(str(TINY_LEUKEMIA))


@pytest.mark.parametrize(("text", "days"), [
    ("diagnosis", 0.0), ("diagnosis+7", 7.0), ("Diagnosis + 35", 35.0),
    ("diagnosis+12h", 0.5), ("diagnosis+2 weeks", 14.0), ("diagnosis+1.5 d", 1.5)])
def test_diagnosis_offsets(text, days):
    assert diagnosis_offset(text) == pytest.approx(days)


@pytest.mark.parametrize("text", [30, "30", "12 h", "diagnosisx", None])
def test_other_starts_are_not_diagnosis(text):
    assert diagnosis_offset(text) is None


@pytest.mark.parametrize(("text", "match"), [
    ("diagnosis-3", "diagnosis[+]N"), ("diagnosis+", "diagnosis[+]N"),
    ("diagnosis+x", "diagnosis[+]N"), ("diagnosis 7", "diagnosis[+]N"),
    ("diagnosis+-2", "diagnosis[+]N"), ("diagnosis+3 mL", "unit 'mL'.*expected a time")])
def test_malformed_diagnosis_offsets_are_refused(text, match):
    with pytest.raises(ModelError, match=match):
        diagnosis_offset(text)


def test_parse_intervention_keeps_a_diagnosis_start_as_text():
    item = parse_intervention("nsmase2_inhibitor@diagnosis+7:efficacy=0.5")
    assert item == {"name": "nsmase2_inhibitor", "start": "diagnosis+7",
                    "options": {"efficacy": "0.5"}}
    with pytest.raises(ModelError, match="--intervene nsmase2_inhibitor@diagnosis-7"):
        parse_intervention("nsmase2_inhibitor@diagnosis-7")


def test_an_unresolved_diagnosis_start_is_refused_naming_the_helper(tiny):
    with pytest.raises(ModelError, match="resolve_diagnosis"):
        prepare(tiny, None, [parse_intervention("nsmase2_inhibitor@diagnosis")], 30)


def test_resolve_diagnosis_takes_the_untreated_runs_first_sample_at_presentation(tiny):
    """The tiny model's disease is AML, which presents with marrow failure: the start is
    the first daily sample with >= 20 % marrow blasts *and* normal blood output <= 45 % of
    day 0 (ANC lower limit 1.8e9/L over the healthy median 4e9/L)."""
    items = [parse_intervention("nsmase2_inhibitor@diagnosis+7"),
             parse_intervention("heparin@3")]
    resolved = resolve_diagnosis(items, tiny, 60, equilibrate_first=False)
    untreated = evniche.simulate(tiny, days=60, equilibrate_first=False)
    crossing = clinical.diagnosis_day(untreated)
    pct = clinical.blast_percent(untreated).values
    out = clinical.normal_blood_output(untreated).values
    t = untreated["time"].values
    first = float(t[np.nonzero((pct >= 20) & (out / out[0] <= 0.45))[0][0]])
    assert first > float(t[np.nonzero(pct >= 20)[0][0]])  # cytopenia comes after 20 %
    assert first == np.ceil(crossing)  # daily samples: the first whole day meeting both
    assert resolved[0] == {**items[0], "start": first + 7}
    assert resolved[1] == items[1]  # a day number stays as it is
    # the treated run's samples up to the start are the untreated ones: same diagnosis
    treated = evniche.simulate(tiny, days=60, equilibrate_first=False,
                               interventions=resolve_diagnosis(
                                   [parse_intervention("heparin@diagnosis")], tiny, 60,
                                   equilibrate_first=False))
    assert clinical.diagnosis_day(treated) == pytest.approx(crossing, rel=1e-6)  # solver tol


def test_resolve_diagnosis_of_a_disease_without_cytopenic_presentation_is_20_percent(tiny):
    """A disease outside clinical.PRESENTS_WITH_CYTOPENIA (here the tiny model relabelled
    CML) is diagnosed on the first sample with >= 20 % marrow blasts."""
    cml_like = evniche.load_model(str(TINY_LEUKEMIA), overrides={"disease": "CML"})
    resolved = resolve_diagnosis([parse_intervention("heparin@diagnosis")], cml_like, 60,
                                 equilibrate_first=False)
    untreated = evniche.simulate(cml_like, days=60, equilibrate_first=False)
    pct = clinical.blast_percent(untreated)
    assert resolved[0]["start"] == float(pct["time"].values[np.nonzero(pct.values >= 20)[0][0]])
    assert clinical.diagnosis_day(untreated) == clinical.takeover_day(untreated)


def test_resolve_diagnosis_without_diagnosis_starts_runs_nothing():
    items = [{"name": "heparin", "start": 3}]
    assert resolve_diagnosis(items, "no-such-model", 10) == items


def test_resolve_diagnosis_refuses_a_run_that_never_reaches_diagnosis(tiny):
    with pytest.raises(EvnicheError, match="never reaches diagnosis"):
        resolve_diagnosis([parse_intervention("heparin@diagnosis")], tiny, 5,
                          equilibrate_first=False)


def test_resolve_diagnosis_checks_options_before_the_untreated_run(tiny):
    with pytest.raises(ModelError, match="efficacy"):
        resolve_diagnosis([parse_intervention("heparin@diagnosis:efficacy=3")], tiny, 60)


def test_schedule_timeline_in_days(tiny):
    net, _ = prepare(tiny)
    schedule = build_schedule(net, [parse_intervention("heparin@5:duration=3 day"),
                                    parse_intervention("nsmase2_inhibitor@2 h")], days=30)
    assert schedule.timeline() == [
        {"label": "nsmase2_inhibitor", "intervention": "nsmase2_inhibitor", "item": 1,
         "start_day": pytest.approx(2 / 24), "end_day": 30.0},
        {"label": "heparin", "intervention": "heparin", "item": 0, "start_day": 5.0,
         "end_day": 8.0}]


def test_simulate_records_the_timeline(tiny):
    ds = evniche.simulate(tiny, days=10, equilibrate_first=False,
                          interventions=[{"name": "heparin", "start": 2,
                                          "options": {"duration": 3}}])
    assert json.loads(ds.attrs["interventions"]) == [
        {"label": "heparin", "intervention": "heparin", "item": 0, "start_day": 2.0,
         "end_day": 5.0}]
    assert json.loads(evniche.simulate(tiny, days=2, equilibrate_first=False)
                      .attrs["interventions"]) == []
    # where each cell type lives and its lineage, as the model file says
    assert list(ds["cell_compartment"].values) == ["marrow", "marrow", "blood", "marrow"]
    assert list(ds["cell_lineage"].values) == ["stroma", "normal", "normal", "leukemic"]
