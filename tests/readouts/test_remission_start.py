"""Interventions that start at complete remission (``NAME@remission[+N]``): consolidation
follows a documented CR with count recovery. The remission day comes from the run with the
other interventions; here that run is the hand-made course of synthetic_trajectories.py,
whose CR day (8.5) is derived by hand in test_course.py."""

from __future__ import annotations

import pytest
from synthetic_trajectories import TINY_LEUKEMIA, course_trajectory

import evniche
import evniche.engines
from evniche.compile.interventions import (
    parse_intervention,
    remission_offset,
    resolve_diagnosis,
    resolve_remission,
)
from evniche.engines import prepare
from evniche.errors import EvnicheError, ModelError

#: the hand-made course: blasts < 5 %, output >= 25 % of day 0 and no blood blasts first
#: together on day 8.5 (test_course.test_diagnosis_remission_and_relapse_days), first seen
#: at the daily sample of day 9 (on day 8 the count, 20 %, was still short of 25 %)
COURSE_CR_DAY = 8.5
COURSE_CR_SAMPLE = 9.0


@pytest.fixture(scope="module")
def tiny():
    return evniche.load_model(str(TINY_LEUKEMIA))


@pytest.mark.parametrize(("text", "days"), [
    ("remission", 0.0), ("remission+7", 7.0), ("Remission + 2 weeks", 14.0),
    ("remission+12h", 0.5)])
def test_remission_offsets(text, days):
    assert remission_offset(text) == pytest.approx(days)


@pytest.mark.parametrize("text", [30, "diagnosis", "diagnosis+35", "remissionx", None])
def test_other_starts_are_not_remission(text):
    assert remission_offset(text) is None


@pytest.mark.parametrize("text", ["remission-3", "remission+", "remission 7"])
def test_malformed_remission_offsets_are_refused(text):
    with pytest.raises(ModelError, match="remission[+]N"):
        remission_offset(text)


def test_parse_intervention_keeps_a_remission_start_as_text():
    item = parse_intervention("consolidation@remission+3:cycles=2")
    assert item == {"name": "consolidation", "start": "remission+3",
                    "options": {"cycles": "2"}}


def test_an_unresolved_remission_start_is_refused_naming_the_helper(tiny):
    with pytest.raises(ModelError, match="resolve_remission"):
        prepare(tiny, None, [parse_intervention("heparin@remission")], 30)


def _fake_runs(monkeypatch, ds):
    """Replace the simulator by one returning ``ds``, recording what each run was given."""
    calls: list[dict] = []

    def simulate(model, days=365.0, **kwargs):
        calls.append({"days": days, **kwargs})
        return ds

    monkeypatch.setattr(evniche.engines, "simulate", simulate)
    return calls


def test_resolve_remission_starts_on_the_cr_day_of_the_run_with_the_other_interventions(
        tiny, monkeypatch):
    calls = _fake_runs(monkeypatch, course_trajectory())
    items = [{"name": "heparin", "start": 3.0, "options": {}},
             parse_intervention("heparin@remission+2")]
    resolved = resolve_remission(items, tiny, 20, equilibrate_first=False)
    assert resolved[0] == items[0]
    # the first sample that documents the CR, as diagnosis starts use the first sample
    assert resolved[1] == {**items[1], "start": COURSE_CR_SAMPLE + 2}
    assert COURSE_CR_SAMPLE > COURSE_CR_DAY  # the CR of the treated run comes first
    # one run, given the other interventions only (not the one waiting for the CR)
    assert len(calls) == 1
    assert calls[0]["interventions"] == [items[0]]
    assert calls[0]["days"] == 20


def test_resolve_remission_without_remission_starts_runs_nothing(monkeypatch):
    calls = _fake_runs(monkeypatch, course_trajectory())
    items = [{"name": "heparin", "start": 3}]
    assert resolve_remission(items, "no-such-model", 10) == items
    assert calls == []


def test_no_remission_is_an_error_naming_the_intervention(tiny, monkeypatch):
    """The same course without therapy has no CR: a patient without remission is not
    consolidated, and the error says so."""
    _fake_runs(monkeypatch, course_trajectory(interventions=[]))
    with pytest.raises(EvnicheError, match="heparin@remission: .*no complete remission"):
        resolve_remission([parse_intervention("heparin@remission")], tiny, 20)


def test_resolve_diagnosis_lets_a_remission_start_wait_for_its_own_run(tiny):
    """``induction@diagnosis`` with ``consolidation@remission``: the diagnosis step checks
    every item and leaves the remission start as text for resolve_remission."""
    items = [parse_intervention("heparin@diagnosis"), parse_intervention("heparin@remission")]
    resolved = resolve_diagnosis(items, tiny, 60, equilibrate_first=False)
    assert isinstance(resolved[0]["start"], float)
    assert resolved[1] == items[1]
