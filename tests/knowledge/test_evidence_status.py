"""Evidence status in models and in the knowledge base (issue 11 items 3 and 5):

- a rule or parameter that cites a retracted record is flagged by ``evniche check`` (and the
  run report); one that cites a non-retracted record is not;
- the reviews' own citation problems found on audit are loaded and shown by ``evniche kb``;
- ``evniche kb summary`` reports the share of effect records that drive a rule of some
  shipped model, per disease, computed right on a hand-built knowledge base.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evniche.cli import main
from evniche.cli.kb import app
from evniche.knowledge import KnowledgeBase
from evniche.knowledge.coverage import effect_coverage, rule_citations
from evniche.spec.evidence import retraction_warnings
from evniche.spec.loader import load_model

TINY = Path(__file__).resolve().parents[1] / "spec" / "tiny.yaml"
RETRACTED = "aml-exo-vps33b-leukemia-development-up"  # Gu et al. 2016, seed 003 [123]
REPORTED = "aml-exo-mir150-hspc-cmyb-down"


def _tiny(kb_ids: list[str], source: str | None = None) -> dict:
    data = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    data["rules"][0]["kb"] = kb_ids
    if source is not None:
        data["parameters"]["sat"]["source"] = source
    return data


def test_kb_has_the_retracted_record(kb: KnowledgeBase) -> None:
    assert kb.get(RETRACTED).status == "retracted"
    assert kb.get(REPORTED).status != "retracted"


def test_rule_citing_a_retracted_record_is_flagged() -> None:
    lines = retraction_warnings(load_model(_tiny([REPORTED, RETRACTED])))
    assert len(lines) == 1
    assert lines[0].startswith("rules[0] (HSC: cargo:miR-150 decreases self_renewal)")
    assert RETRACTED in lines[0] and "10.1172/JCI197214" in lines[0]


def test_rule_citing_a_reported_record_is_not_flagged() -> None:
    assert retraction_warnings(load_model(_tiny([REPORTED]))) == []


def test_parameter_citing_the_retracted_study_is_flagged() -> None:
    cited = "seed: 003_94ab5ca458a47f16.txt [120-124]"  # a range that holds [123]
    lines = retraction_warnings(load_model(_tiny([], source=cited)))
    assert lines == [line for line in lines if line.startswith("parameters.sat cites seed "
                                                               "003_94ab5ca458a47f16.txt [123]")]
    assert len(lines) == 1
    # another reference of the same seed, or the retracted number in the other seed: nothing
    for source in ("seed: 003_94ab5ca458a47f16.txt [122, 124]",
                   "seed: 000_0fd60b7714f79a13.txt [123]"):
        assert retraction_warnings(load_model(_tiny([], source=source))) == []


def test_check_prints_the_warning(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_tiny([RETRACTED])), encoding="utf-8")
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_tiny([REPORTED])), encoding="utf-8")
    assert main(["check", str(bad)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: retracted evidence:" in err and RETRACTED in err
    assert main(["check", str(good)]) == 0
    assert "retracted" not in capsys.readouterr().err


def test_citation_problems_are_loaded_and_shown(kb: KnowledgeBase) -> None:
    problems = {r.id for r in kb.records.values() for ev in r.evidences()
                if ev.citation_problem}
    # the [41]/[50] mix-up, the AML/ALL mismatch of [58], seed 003's [62] used for
    # different studies, the clinical-trial claim of [22, 32, 33]
    assert {"aml-exmv-chemo-hmgcr-cholesterol-up", "aml-exmv-nk-tgfb-signaling-up",
            "mm-msc-exo-cxcl12-viability-up", "therapy-carrier-imatinib"} <= problems
    result = CliRunner().invoke(app, ["show", "aml-exmv-nk-tgfb-signaling-up"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if "citation problem" in x)
    assert "acute lymphoblastic" in line.lower() and "not AML" in line
    summary = CliRunner().invoke(app, ["summary"]).stdout
    assert f"{sum(1 for r in kb.records.values() for e in r.evidences() if e.citation_problem)}"\
        " evidence entries carry a citation problem" in summary


def _effects(kb: KnowledgeBase, n: int) -> list:
    return [r for r in kb.effects.values() if r.status != "retracted"][:n]


def test_coverage_on_a_hand_built_kb(kb: KnowledgeBase) -> None:
    base = _effects(kb, 5)
    records = {
        "a1": base[0].model_copy(update={"id": "a1", "disease": "AML"}),
        "a2": base[1].model_copy(update={"id": "a2", "disease": "AML"}),
        "a3": base[2].model_copy(update={"id": "a3", "disease": "AML"}),
        "c1": base[3].model_copy(update={"id": "c1", "disease": "CML"}),
        "r1": kb.get(RETRACTED).model_copy(update={"id": "r1", "disease": "AML"}),
    }
    tiny = KnowledgeBase(records, kb.vocabulary)
    rows = {r.disease: r for r in effect_coverage(tiny, {"a1", "c1", "r1", "elsewhere"})}
    assert (rows["AML"].used, rows["AML"].total) == (1, 3)  # the retracted one left out
    assert (rows["CML"].used, rows["CML"].total) == (1, 1)
    assert (rows["all"].used, rows["all"].total) == (2, 4)
    assert rows["all"].share == pytest.approx(0.5)


def test_rule_citations_of_a_model() -> None:
    model = load_model(_tiny([REPORTED, RETRACTED]))
    assert rule_citations([model]) == {REPORTED, RETRACTED}


def test_summary_prints_the_preset_share(kb: KnowledgeBase) -> None:
    from evniche.knowledge.coverage import preset_rule_citations

    overall = effect_coverage(kb, preset_rule_citations())[-1]
    out = " ".join(CliRunner().invoke(app, ["summary"]).stdout.split())
    assert (f"{overall.used} of {overall.total} effect records "
            f"({100 * overall.share:.0f} %) drive a rule of some shipped preset") in out
    assert overall.used > 0 and overall.total > overall.used


def test_run_report_shows_the_retraction(tmp_path: Path) -> None:
    import evniche
    from evniche.report import write_report

    model = load_model(_tiny([RETRACTED]))
    ds = evniche.simulate(model, days=2)
    html = write_report(ds, tmp_path / "bad", model=model).read_text(encoding="utf-8")
    assert "Retracted evidence" in html and RETRACTED in html
    clean = load_model(_tiny([REPORTED]))
    html = write_report(ds, tmp_path / "good", model=clean).read_text(encoding="utf-8")
    assert "Retracted evidence" not in html
