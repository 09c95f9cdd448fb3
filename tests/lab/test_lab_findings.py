"""The literature findings: each cites a source with a quote and its check runs the lab."""

from __future__ import annotations

from evniche.lab.findings import FINDINGS
from evniche.lab.record import score


def test_findings_run_and_keep_their_verdicts():
    verdicts = {f.id: f.check().verdict for f in FINDINGS}
    assert verdicts == {
        "LAB-NTA-VLDL": "reproduced", "LAB-LIPO-EXCESS": "input check",
        "LAB-SEC-HDL": "reproduced", "LAB-SEC-RECOVERY": "reproduced",
        "LAB-SEC-LDL": "reproduced", "LAB-NO-LIPO-FREE": "reproduced",
        "LAB-GRADIENT-HDL": "reproduced", "LAB-PPP": "reproduced",
        "LAB-UF-LOSS": "not reproduced", "LAB-KIT-VS-UC": "not reproduced",
        "LAB-FLOW-SWARM": "reproduced"}
    for f in FINDINGS:
        assert f.source and len(f.quote) > 30


def test_checklist_score_counts_applicable_items_only():
    items = [{"applicable": True, "satisfied": True}, {"applicable": True, "satisfied": False},
             {"applicable": False, "satisfied": False}]
    assert score(items) == 0.5
