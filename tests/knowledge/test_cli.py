"""``evniche kb``: summary, list (with synonyms), show (retraction), export (json, csv,
graphml), and clear errors for unknown terms and ids."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import networkx as nx
import pytest
from typer.testing import CliRunner

from evniche.cli.kb import app
from evniche.errors import EvnicheError
from evniche.knowledge import KnowledgeBase


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout


def _ids(output: str) -> list[str]:
    return [line.split()[0] for line in output.splitlines() if line.strip()]


def test_summary_counts(runner: CliRunner, kb: KnowledgeBase) -> None:
    out = _ok(runner, "summary")
    assert out.splitlines()[0].startswith(f"{len(kb.effects)} effect records")
    for title in ("Effects by disease", "Effects by source cell type",
                  "Effects by target cell type", "Effects by cargo kind", "Effects by mode",
                  "Records by kind"):
        assert title in out
    n_aml = sum(e.disease == "AML" for e in kb.effects.values())
    assert any("AML" in line and f" {n_aml} " in line for line in out.splitlines())


def test_list_filters_accept_synonyms(runner: CliRunner, kb: KnowledgeBase) -> None:
    canonical = _ids(_ok(runner, "list", "--target", "MSC", "--disease", "AML"))
    assert canonical == _ids(_ok(runner, "list", "--target", "MSCs", "--disease",
                                 "acute myeloid leukemia"))
    assert set(canonical) == {e.id for e in kb.query(target="MSC", disease="AML")}
    assert len(canonical) >= 10
    sdf = _ids(_ok(runner, "list", "--cargo", "SDF-1"))
    assert sdf == _ids(_ok(runner, "list", "--cargo", "CXCL12"))
    assert "mm-msc-exo-cxcl12-viability-up" in sdf
    assert _ids(_ok(runner, "list", "--source", "MDCs")) == _ids(
        _ok(runner, "list", "--source", "MDSC"))


def test_list_line_shows_source_target_cargo_effect_disease(runner: CliRunner) -> None:
    out = _ok(runner, "list", "--cargo", "miR-150", "--target", "HSPC", "--exact")
    line = next(x for x in out.splitlines() if x.startswith("aml-exo-mir150-hspc-cxcr4-down"))
    assert "blast → HSPC" in line and "miR-150" in line
    assert "CXCR4 expression decrease" in line and "disease: AML" in line


def test_list_other_kinds(runner: CliRunner, kb: KnowledgeBase) -> None:
    therapies = _ids(_ok(runner, "list", "--kind", "therapy"))
    assert set(therapies) == {r.id for r in kb.records.values() if r.kind == "therapy"}
    assert "therapy-uptake-heparin" in therapies
    assert len(_ids(_ok(runner, "list", "--kind", "all"))) == len(kb.records)
    imatinib = _ids(_ok(runner, "list", "--kind", "therapy", "--cargo", "imatinib"))
    assert imatinib == ["therapy-carrier-imatinib"]


@pytest.mark.parametrize(("args", "expected"), [
    (["list", "--target", "MSX"], "MSC"),
    (["list", "--cargo", "miR-15O"], "miR-150"),
    (["list", "--disease", "AMLL"], "AML"),
    (["list", "--kind", "therap"], "therapy"),
    (["show", "aml-exo-mir150-cxcr4"], "aml-exo-mir150-hspc-cxcr4-down"),
    (["export", "--format", "xml"], "graphml"),
])
def test_unknown_terms_and_ids_raise_evniche_errors(runner: CliRunner, args: list[str],
                                                    expected: str) -> None:
    result = runner.invoke(app, args)
    assert isinstance(result.exception, EvnicheError), result.output
    assert expected in str(result.exception)


def test_main_cli_prints_error_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        from evniche.cli import main

        status = main(["kb", "list", "--target", "MSX"])  # also registers every subcommand
    except ImportError as exc:  # pragma: no cover - until the other commands exist
        pytest.skip(f"main CLI not importable yet: {exc}")
    assert status == 2
    assert "did you mean: MSC" in capsys.readouterr().err


def test_show_prints_every_field_and_evidence(runner: CliRunner, kb: KnowledgeBase) -> None:
    out = _ok(runner, "show", "aml-exo-mir150-hspc-cxcr4-down")
    record = kb.get("aml-exo-mir150-hspc-cxcr4-down")
    for text in ("cell_type=blast", "cargo: miR-150", "mode: cargo_delivery", "status: reported",
                 "what=CXCR4 expression", "direction=decrease", "disease: AML",
                 "003_94ab5ca458a47f16.txt", "refs [151]", "Huan", record.evidence.quote):
        assert text in out, text
    assert "RETRACTED" not in out


def test_show_marks_retracted_records(runner: CliRunner, kb: KnowledgeBase) -> None:
    retracted = [r for r in kb.records.values() if r.status == "retracted"]
    assert retracted
    for record in retracted:
        out = _ok(runner, "show", record.id)
        assert "RETRACTED" in out.splitlines()[0]
        assert "10.1172/JCI197214" in out and "2025-08-15" in out


def test_export_json_lists_every_record(runner: CliRunner, kb: KnowledgeBase) -> None:
    data = json.loads(_ok(runner, "export", "--format", "json"))
    assert len(data) == len(kb.records)
    by_id = {r["id"]: r for r in data}
    assert by_id["aml-exo-mir150-hspc-cxcr4-down"]["cargo"] == ["miR-150"]
    assert by_id["aml-exo-vps33b-leukemia-development-up"]["retraction"]["doi"] == (
        "10.1172/JCI197214")


def test_export_csv_one_row_per_effect(runner: CliRunner, kb: KnowledgeBase) -> None:
    rows = list(csv.DictReader(io.StringIO(_ok(runner, "export", "--format", "csv"))))
    assert len(rows) == len(kb.effects)
    row = next(r for r in rows if r["id"] == "aml-exo-mir155-hspc-cmyb-down")
    assert (row["source_cell_type"], row["target_cell_type"], row["cargo"], row["effect"],
            row["direction"], row["refs"]) == ("blast", "HSPC", "miR-155", "c-MYB expression",
                                               "decrease", "34, 41")


def test_export_graphml_one_edge_per_effect(runner: CliRunner, kb: KnowledgeBase,
                                            tmp_path: Path) -> None:
    path = tmp_path / "kb.graphml"
    result = runner.invoke(app, ["export", "--format", "graphml", "--out", str(path)])
    assert result.exit_code == 0, result.output
    graph = nx.read_graphml(path, force_multigraph=True)
    assert graph.is_directed() and graph.is_multigraph()
    assert graph.number_of_edges() == len(kb.effects)
    keys = {k for _, _, k in graph.edges(keys=True)}
    assert keys == set(kb.effects)
    u, v, data = next((u, v, d) for u, v, k, d in graph.edges(keys=True, data=True)
                      if k == "aml-exo-mir150-hspc-cxcr4-down")
    assert (u, v) == ("blast", "HSPC")
    assert data["cargo"] == "miR-150" and data["effect"] == "CXCR4 expression"
    assert data["direction"] == "decrease" and data["disease"] == "AML"
    assert data["mode"] == "cargo_delivery"
    assert data["record_id"] == "aml-exo-mir150-hspc-cxcr4-down"
    assert all(isinstance(x, str) for _, _, d in graph.edges(data=True) for x in d.values())
    stdout_graph = nx.parse_graphml(_ok(runner, "export", "--format", "graphml"),
                                    force_multigraph=True)
    assert stdout_graph.number_of_edges() == len(kb.effects)


def test_show_works_for_every_record(runner: CliRunner, kb: KnowledgeBase) -> None:
    for record in kb.records.values():
        out = _ok(runner, "show", record.id)
        assert f"id: {record.id}" in out
        assert record.evidence.quote in out
        assert f"status: {record.status}" in out
