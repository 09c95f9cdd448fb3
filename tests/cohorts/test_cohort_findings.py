"""Published AUCs as cohort findings: verdicts on hand-made ROC summaries."""

from __future__ import annotations

import math
from types import SimpleNamespace

from evniche.cohorts.findings import CohortFinding, RelapseFreeFinding
from evniche.cohorts.survival import RelapseFree
from evniche.experiments.catalog import cohort_findings


def _analysis(**cis):
    return SimpleNamespace(rocs={name: SimpleNamespace(auc=sum(ci) / 2, ci=ci)
                                 for name, ci in cis.items()})


FINDING = CohortFinding("f", "aml", "test", ("qpcr_miR-10b",), 0.875, None, "test",
                        proxy=("qpcr_miR-155",))


def test_reproduced_when_the_published_value_lies_in_the_cohort_interval():
    got = FINDING.evaluate(_analysis(**{"qpcr_miR-10b": (0.80, 0.90)}))
    assert got["verdict"] == "reproduced"
    assert FINDING.evaluate(_analysis(**{"qpcr_miR-10b": (0.95, 1.0)}))["verdict"] == \
        "not reproduced"


def test_a_proxy_stands_in_and_says_so():
    got = FINDING.evaluate(_analysis(**{"qpcr_miR-155": (0.85, 0.95)}))
    assert got["verdict"] == "reproduced"
    assert "the model has no qpcr_miR-10b; proxy qpcr_miR-155" in got["detail"]


def test_not_evaluable_without_the_biomarker_or_the_stratum():
    assert FINDING.evaluate(_analysis(nta=(0.4, 0.6)))["verdict"] == "not evaluable"
    mrd = CohortFinding("m", "mm", "t", ("flow_marker_evs",), 0.92, None, "t", stratum="mrd")
    assert mrd.evaluate(_analysis(flow_marker_evs=(0.9, 1.0)))["verdict"] == "not evaluable"


def test_a_glob_needs_every_matching_biomarker_to_overlap_the_published_interval():
    band = CohortFinding("b", "aml", "t", ("qpcr_*",), 0.90, (0.87, 0.93), "t")
    assert band.evaluate(_analysis(qpcr_a=(0.85, 0.88), qpcr_b=(0.92, 0.99)))["verdict"] == \
        "reproduced"
    assert band.evaluate(_analysis(qpcr_a=(0.85, 0.88), qpcr_b=(1.0, 1.0)))["verdict"] == \
        "not reproduced"


def test_the_catalog_lists_the_roc_rows_with_an_auc_and_the_relapse_free_survival():
    names = {f.name for f in cohort_findings()}
    assert {"roc1_aml_ev_mir10b", "roc8_aml_rna_band", "roc2_mm_exosomal_panel",
            "roc9_mm_circulating_mirna", "roc3_mm_marker_mvs_mrd", "rfs_aml_kern2003"} == names


RFS = RelapseFreeFinding("rfs", "aml", "test", 456.6, "test")


def _rfs(median, interval, longest=900.0):
    return SimpleNamespace(relapse_free=RelapseFree(40, 30, median, interval, 0.4, longest))


def test_relapse_free_survival_is_reproduced_when_the_published_median_is_in_the_interval():
    assert RFS.evaluate(_rfs(420.0, (350.0, 520.0)))["verdict"] == "reproduced"
    got = RFS.evaluate(_rfs(220.0, (200.0, 240.0)))
    assert got["verdict"] == "not reproduced"
    assert "cohort median relapse-free survival 220 days (95 % CI 200–240" in got["detail"]
    # not reached within a long follow-up: the interval's open end holds the published one
    assert RFS.evaluate(_rfs(math.inf, (400.0, math.inf)))["verdict"] == "reproduced"


def test_relapse_free_survival_needs_monitoring_and_a_long_enough_follow_up():
    assert RFS.evaluate(SimpleNamespace(rocs={}))["verdict"] == "not evaluable"
    got = RFS.evaluate(_rfs(math.inf, (math.inf, math.inf), longest=300.0))
    assert got["verdict"] == "not evaluable" and "--followup-days" in got["detail"]
