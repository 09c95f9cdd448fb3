"""PhysiCell out: `evniche export physicell MODEL --out DIR` writes a project whose settings
XML has the structure PhysiCell 1.14's parser reads (checked against its own sample
configuration), whose rules CSV re-imports, and whose initial cells match the model."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import evniche
from evniche.cli import main
from evniche.engines import prepare
from evniche.interop import physicell_rules
from evniche.interop.physicell_export import UM3_PER_ML, _uptake_rate, write_project
from evniche.interop.physicell_import import import_project

ANCHORS = Path(__file__).resolve().parents[3] / "shared" / "anchors" / "physicell"
SAMPLE = ANCHORS / "rules_sample" / "PhysiCell_settings.xml"
TINY = Path(__file__).resolve().parents[1] / "engines" / "spatial" / "tiny.yaml"


def _paths(el: ET.Element, prefix: str = "") -> set[str]:
    """Every element path below ``el`` (attributes that name an item dropped)."""
    out = set()
    for child in el:
        path = f"{prefix}/{child.tag}"
        out.add(path)
        out |= _paths(child, path)
    return out


@pytest.fixture(scope="module")
def aml_project(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pc") / "aml"
    assert main(["export", "physicell", "aml", "--out", str(out)]) == 0
    return out


@pytest.mark.skipif(not SAMPLE.exists(), reason="no PhysiCell sample configuration")
def test_settings_have_every_element_of_physicells_own_sample(aml_project: Path) -> None:
    ours = ET.parse(aml_project / "config" / "PhysiCell_settings.xml").getroot()
    theirs = ET.parse(SAMPLE).getroot()
    assert ours.tag == theirs.tag == "PhysiCell_settings"
    # top level, the domain, overall, save and options as PhysiCell's parser reads them
    for section in ("domain", "overall", "parallel", "save", "options",
                    "microenvironment_setup", "initial_conditions", "cell_rules",
                    "user_parameters"):
        missing = _paths(theirs.find(section)) - _paths(ours.find(section)) \
            - {"/SVG/plot_substrate", "/SVG/plot_substrate/substrate",
               "/SVG/plot_substrate/min_conc", "/SVG/plot_substrate/max_conc",
               "/SVG/plot_substrate/colormap"}  # optional plotting settings
        assert not missing, (section, missing)
    # every cell definition has every element of the sample's cell definitions
    sample_def = _paths(theirs.find("cell_definitions/cell_definition"))
    defs = ours.findall("cell_definitions/cell_definition")
    assert defs
    for i, cd in enumerate(defs):
        assert cd.get("ID") == str(i) and cd.get("name")
        assert not sample_def - _paths(cd) - {
            # the sample's flow-cytometry cycle has phase durations; ours is "live"
            "/phenotype/death/model/phase_durations",
            "/phenotype/death/model/phase_durations/duration"}, cd.get("name")
    # every substrate of a variable is named in each cell's secretion and chemotaxis
    subs = [v.get("name") for v in ours.findall("microenvironment_setup/variable")]
    assert [v.get("ID") for v in ours.findall("microenvironment_setup/variable")] == \
        [str(i) for i in range(len(subs))]
    for cd in defs:
        assert [s.get("name") for s in cd.findall("phenotype/secretion/substrate")] == subs
    # EV pools are substrates
    assert "EV MSC.exosome" in subs and "CXCL12" in subs
    # numbers PhysiCell reads are numbers
    for el in ours.iter():
        if el.get("units") and el.text and el.text.strip():
            float(el.text)


def test_rules_and_cells_reimport(aml_project: Path) -> None:
    config = aml_project / "config"
    rows, problems = physicell_rules.read(config / "cell_rules.csv", 3.0)
    assert rows and not problems
    imported = import_project(config / "PhysiCell_settings.xml")
    evniche.load_model(imported.model)
    # every exported rule maps back
    assert imported.rules_mapped == len(rows)
    assert not [p for p in imported.refused if p.file == "cell_rules.csv"]
    # ... with the same numbers: CD8 T cells' death up with blast microvesicles
    back = evniche.load_model(imported.model)
    (i,) = [i for i, (r, _) in enumerate(back.rules) if r.cell_type == "CD8_T"
            and r.behavior == "death"]
    assert back.rules[i][0].signal == "cytokine:EV_blast_microvesicle"
    net0, _ = prepare(evniche.load_model("aml"))
    (beh,) = [b for b in net0.behaviors if b.cell_type == "CD8_T" and b.name == "death"]
    (term,) = [t for t in beh.up if net0.signals[t.signal].argument == "blast.microvesicle"]
    got = back.params.resolved
    assert got[f"rules[{i}].saturation"].value == pytest.approx(net0.params[term.saturation])
    # the signal was the uptake of that pool (EVs/cell/h = clearance × density): the
    # half-max comes back as the density at which the uptake is the original half-max
    assert net0.signals[term.signal].kind == "uptake"
    (route,) = [r for r in net0.uptakes if r.target == "CD8_T"
                and net0.pools[r.pool].name == "blast.microvesicle"]
    assert got[f"rules[{i}].half_max"].value * net0.params[route.rate] == pytest.approx(
        net0.params[term.half_max])
    assert got["cell_types.CD8_T.death"].value == pytest.approx(net0.params[beh.base])
    # the cells file's counts are the model's marrow densities in the section (rare types 1)
    with (config / "cells.csv").open(encoding="utf-8") as fh:
        types = [r[3] for r in list(csv.reader(fh))[1:]]
    net, _ = prepare(evniche.load_model("aml"))
    initial = {c.name: net.params[c.initial] for c in net.cells}
    section_ml = 1000.0 * 1000.0 * 10.0 / UM3_PER_ML  # the spatial engine's default section
    share = section_ml / net.params[net.volumes["marrow"]]
    assert initial["precursor"] * share > 100  # a common type: its density, rounded
    assert types.count("precursor") == pytest.approx(initial["precursor"] * share, abs=1.0)
    assert types.count("LSC") == 1  # a rare seed is placed once
    notes = (aml_project / "EXPORT_NOTES.txt").read_text(encoding="utf-8")
    assert "cell type LSC" in notes and "blood" in notes


def test_tiny_model_numbers_carry_over(tmp_path: Path) -> None:
    """Secretion as net export (EVs/cell/min × µm³/mL), uptake as clearance / cell volume,
    rates per minute, and the rule's signal an EV pool."""
    model = evniche.load_model(str(TINY))
    exported = write_project(model, tmp_path / "tiny")
    root = ET.fromstring(exported.settings)
    msc = root.find("cell_definitions/cell_definition[@name='MSC']")
    hsc = root.find("cell_definitions/cell_definition[@name='HSC']")
    sub = "EV MSC.exosome"
    export = float(msc.find(f"phenotype/secretion/substrate[@name='{sub}']/net_export_rate")
                   .text)
    assert export == pytest.approx(100 / 60 * 1e12)  # 100 EV/cell/h
    uptake = float(hsc.find(f"phenotype/secretion/substrate[@name='{sub}']/uptake_rate").text)
    assert uptake == pytest.approx(_uptake_rate(1e-6)) and uptake == pytest.approx(
        1e-6 * 1e12 / 60 / 2494)
    # HSC: proliferation 0.001/h × self-renewal 0.5 = self-renewing divisions per minute
    rate = float(hsc.find("phenotype/cycle/phase_transition_rates/rate").text)
    assert rate == pytest.approx(0.001 * 0.5 / 60)
    var = root.find(f"microenvironment_setup/variable[@name='{sub}']")
    assert float(var.find("physical_parameter_set/decay_rate").text) == pytest.approx(
        (0.1 + 0.5) / 60)  # degradation + drainage, per minute
    # its one rule (cargo → self-renewal) has no PhysiCell counterpart: listed, not written
    assert exported.rules == []
    assert any("cargo:miR-150" in n and "not exported" in n for n in exported.notes)


def test_export_physicell_needs_a_folder(tmp_path: Path, capsys) -> None:
    assert main(["export", "physicell", "aml"]) == 2
    assert "--out DIR" in capsys.readouterr().err
    (tmp_path / "file").write_text("x", encoding="utf-8")
    assert main(["export", "physicell", "aml", "--out", str(tmp_path / "file")]) == 2
    assert main(["export", "vtk", "aml"]) == 2
