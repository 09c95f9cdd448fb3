"""Yield, purity and the leukemic readout of an isolation; the record's checklists."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evniche.lab import centrifugation as c
from evniche.lab import experiment, outcome, protocols, record, samples
from evniche.lab.affinity import Immunocapture
from evniche.lab.filtration import Filtration


def _isolate(sample, *steps):
    return protocols.run(protocols.Protocol(name="t", steps=list(steps)), sample)


def test_a_size_blind_step_keeps_every_share(run_folder):
    s = samples.from_run(run_folder, fluid="medium")
    # a membrane far below every size keeps everything: its loss is the only effect
    iso = _isolate(s, Filtration(step="filtration", cutoff_nm=0.01, keep="retentate",
                                 final_ml=0.5, loss_fraction=0.5))
    o = outcome.outcome(iso)
    assert o.ev_yield == pytest.approx(0.5)
    assert o.by_source == pytest.approx({"A": 0.5, "B": 0.5})
    assert o.leukemic_enrichment == pytest.approx(1.0)
    assert o.cargo_yield == pytest.approx({"miR-155": 0.5})


def test_capture_by_origin_enriches_leukemic_evs(run_folder):
    s = samples.from_run(run_folder)
    iso = _isolate(s, Immunocapture(step="immunocapture", marker="origin:B", elute_ml=0.1))
    o = outcome.outcome(iso)
    # B is leukemic: 1e9 of 5e9 plasma EVs/mL
    assert o.leukemic_share_start == pytest.approx(0.2, rel=1e-6)
    assert o.leukemic_enrichment > 4
    assert o.by_source["B"] > 0.5 and o.by_source["A"] < 0.01
    assert o.leukemic_visible > o.leukemic_visible_start


def test_checklists_follow_the_protocol(run_folder):
    s = samples.from_run(run_folder)
    def items(name):
        rec = experiment(name, s).record["checklists"]["ev_metric"]["items"]
        return {i["item"]: i for i in rec}
    grad, sec = items("gradient"), items("sec")
    assert grad["density gradient used in the separation"]["satisfied"]
    assert not sec["density gradient used in the separation"]["satisfied"]
    uc = "ultracentrifugation specifics (g-force, time, rotor, k-factor)"
    assert grad[uc]["satisfied"] and not sec[uc]["applicable"]
    assert record.score(list(grad.values())) > record.score(list(sec.values()))


@settings(max_examples=30, deadline=None)
@given(d=st.floats(10, 2000), t=st.floats(1, 600), more=st.floats(1.01, 5))
def test_pelleting_grows_with_size_and_time(d, t, more):
    rotor = c.ROTORS["Type 70 Ti"]
    s1 = c.sedimentation_coefficient(d, 1.16, 1.005, 1.0)
    s2 = c.sedimentation_coefficient(d * more, 1.16, 1.005, 1.0)
    f = c.pelleted_fraction(s1, rotor, 30000, t)
    assert 0 <= f <= 1
    assert c.pelleted_fraction(s2, rotor, 30000, t) >= f
    assert c.pelleted_fraction(s1, rotor, 30000, t * more) >= f
