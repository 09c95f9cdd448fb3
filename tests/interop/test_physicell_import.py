"""PhysiCell in: rules CSV v1/v2/v3 with PhysiCell's dictionary and per-minute units, whole
projects (settings XML + rules + cells.csv) as evniche models, the rules sample on the
spatial engine; every row that cannot be mapped is refused with its line and the reason."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

import evniche
from evniche.cli import main
from evniche.errors import ModelError
from evniche.interop import physicell_rules
from evniche.interop.physicell_import import import_project

#: PhysiCell 1.14.2's sample configurations (../shared/anchors/physicell/ beside the clone)
ANCHORS = Path(__file__).resolve().parents[3] / "shared" / "anchors" / "physicell"
SAMPLES = sorted(ANCHORS.glob("**/PhysiCell_settings.xml"))
needs_anchors = pytest.mark.skipif(not SAMPLES, reason=f"no PhysiCell samples in {ANCHORS}")


def _rule_rows(path: Path) -> list[int]:
    """Line numbers of the rows that are not comments or blank."""
    return [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("//")]


@needs_anchors
@pytest.mark.parametrize("settings", SAMPLES, ids=lambda p: p.parent.name)
def test_every_sample_loads_and_every_row_is_mapped_or_refused(settings: Path) -> None:
    imported = import_project(settings)
    model = evniche.load_model(imported.model)
    assert set(model.spec.cell_types) == set(imported.names[n] for n in imported.names
                                             if imported.names[n] in imported.model[
                                                 "cell_types"])
    rules_file = settings.parent / "cell_rules.csv"
    refused_lines = [p.line for p in imported.refused if p.file == rules_file.name]
    # each rule's note names its PhysiCell row
    mapped_lines = [int(r["note"].split(", line ")[1].split(":")[0])
                    for r in imported.model["rules"]]
    assert len(model.rules) == imported.rules_mapped == len(mapped_lines)
    # every row of the file is either a rule of the model or refused, with a reason
    assert sorted(mapped_lines + refused_lines) == _rule_rows(rules_file)
    assert all(p.reason for p in imported.refused)


@needs_anchors
def test_rules_sample_maps_physicell_names_and_per_minute_units() -> None:
    imported = import_project(ANCHORS / "rules_sample" / "PhysiCell_settings.xml")
    model = evniche.load_model(imported.model)
    rules = {(r.cell_type, r.signal, r.behavior): i for i, (r, _) in enumerate(model.rules)}
    p = model.params.resolved
    # oxygen increases cycle entry to 0.003333/min; the cycle's other phases (flow
    # cytometry separated: S 1/0.002083, G2 1/0.004167, M 1/0.016667 min) are added
    i = rules[("malignant_epithelial_cell", "cytokine:oxygen", "proliferation")]
    rest = 1 / 0.002083 + 1 / 0.004167 + 1 / 0.016667
    assert p[f"rules[{i}].saturation"].value == pytest.approx(60 / (1 / 0.003333 + rest))
    assert p[f"rules[{i}].half_max"].value == pytest.approx(21.5)
    # the base: 1 / (1/0.00003333 + rest) per minute, in evniche's per hour
    assert p["cell_types.malignant_epithelial_cell.proliferation"].value == pytest.approx(
        60 / (1 / 0.00003333 + rest))
    # oxygen decreases necrosis to 0: death falls to the apoptosis rate 7e-5/min
    i = rules[("malignant_epithelial_cell", "cytokine:oxygen", "death")]
    assert p[f"rules[{i}].saturation"].value == pytest.approx(7e-5 * 60)
    assert p["cell_types.malignant_epithelial_cell.death"].value == pytest.approx(
        (7e-5 + 3e-3) * 60)
    # transform to M1 macrophage: exit into that type at 0.05/min at saturation
    i = rules[("M0_macrophage", "cytokine:necrotic_debris", "exit")]
    assert p[f"rules[{i}].saturation"].value == pytest.approx(3.0)
    assert model.spec.cell_types["M0_macrophage"].exit_to == "M1_macrophage"
    # attack malignant epithelial cell → kill
    assert ("effector_T_cell", "cytokine:pro-inflammatory_factor",
            "kill:malignant_epithelial_cell") in rules
    # initial cells from cells.csv
    with (ANCHORS / "rules_sample" / "cells.csv").open(encoding="utf-8") as fh:
        types = [row[3] for row in list(csv.reader(fh))[1:] if row]
    assert p["cell_types.M0_macrophage.initial"].value == types.count("M0 macrophage")
    assert p["cell_types.malignant_epithelial_cell.initial"].value == \
        types.count("malignant epithelial cell")
    reasons = {p.line: p.reason for p in imported.refused if p.file == "cell_rules.csv"}
    assert "pressure" in reasons[4] and "motility" in reasons[7]
    assert "dead" in reasons[5]  # applies to dead cells
    # settings that cannot be carried over are listed too
    assert any("Dirichlet" in p.text for p in imported.refused)


@needs_anchors
def test_rules_sample_runs_on_the_spatial_engine() -> None:
    imported = import_project(ANCHORS / "rules_sample" / "PhysiCell_settings.xml")
    model = evniche.load_model(imported.model)
    ds = evniche.simulate(model, days=0.25, engine="spatial", equilibrate_first=False,
                          animation_frames=0, output_hours=3.0)
    start = ds.cells.isel(time=0).sel(cell_type="malignant_epithelial_cell")
    assert float(start) == 1000.0
    assert np.isfinite(ds.cells.values).all()
    # macrophages and T cells neither divide nor die in the sample (rates 0): counts stay
    assert float(ds.cells.isel(time=-1).sel(cell_type="M0_macrophage")) + float(
        ds.cells.isel(time=-1).sel(cell_type="M1_macrophage")) == 150.0
    # malignant cells die at their base necrosis rate without oxygen (its boundary supply
    # is refused): 1000·exp(-(3e-3 + 7e-5)·360 min) on average, a binomial draw
    end = float(ds.cells.isel(time=-1).sel(cell_type="malignant_epithelial_cell"))
    expected = 1000 * math.exp(-3.07e-3 * 360)
    assert abs(end - expected) < 5 * math.sqrt(1000 * 0.3 * 0.7) + 30


def _write(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


SETTINGS = """<PhysiCell_settings version="devel-version">
<domain><x_min>-100</x_min><x_max>100</x_max><y_min>-100</y_min><y_max>100</y_max>
<z_min>-10</z_min><z_max>10</z_max><dx>20</dx><dy>20</dy><dz>20</dz><use_2D>true</use_2D>
</domain>
<microenvironment_setup><variable name="oxygen" units="mmHg" ID="0">
<physical_parameter_set><diffusion_coefficient units="micron^2/min">1000</diffusion_coefficient>
<decay_rate units="1/min">0.1</decay_rate></physical_parameter_set>
<initial_condition units="mmHg">0</initial_condition>
<Dirichlet_boundary_condition units="mmHg" enabled="false">0</Dirichlet_boundary_condition>
</variable></microenvironment_setup>
<cell_definitions>
<cell_definition name="tumor" ID="0"><phenotype>
<cycle code="5" name="live"><phase_transition_rates units="1/min">
<rate start_index="0" end_index="0" fixed_duration="false">0.001</rate>
</phase_transition_rates></cycle>
<death><model code="100" name="apoptosis"><death_rate units="1/min">0.0002</death_rate></model>
<model code="101" name="necrosis"><death_rate units="1/min">0</death_rate></model></death>
</phenotype></cell_definition>
</cell_definitions>
<cell_rules><rulesets><ruleset protocol="CBHG" version="{version}" format="csv" enabled="true">
<folder>.</folder><filename>rules.csv</filename></ruleset></rulesets></cell_rules>
<user_parameters><number_of_cells type="int">10</number_of_cells></user_parameters>
</PhysiCell_settings>
"""


def _project(tmp_path: Path, rows: list[str], version: str = "3.0") -> Path:
    _write(tmp_path, "rules.csv", rows)
    path = tmp_path / "PhysiCell_settings.xml"
    path.write_text(SETTINGS.replace("{version}", version), encoding="utf-8")
    return path


@pytest.mark.parametrize("version", ["2.0", "3.0"])
def test_v2_and_v3_rows_read_with_rates_per_minute(tmp_path: Path, version: str) -> None:
    imported = import_project(_project(tmp_path, [
        "tumor,oxygen,increases,cycle entry,0.01,5,2,0"], version))
    model = evniche.load_model(imported.model)
    # live cycle: proliferation = cycle entry; 0.01/min is 0.6/h, never read as 0.01/h
    assert model.params.resolved["rules[0].saturation"].value == pytest.approx(0.6)
    assert model.params.resolved["cell_types.tumor.proliferation"].value == \
        pytest.approx(0.06)
    assert model.params.resolved["cell_types.tumor.initial"].value == 10  # number_of_cells


def test_v1_rows_check_their_base_value(tmp_path: Path) -> None:
    imported = import_project(_project(tmp_path, [
        "tumor,oxygen,increases,cycle entry,0.001,0.01,5,2,0",
        "tumor,oxygen,decreases,apoptosis,0.5,0,5,2,0"], "1.0"))
    assert imported.rules_mapped == 1
    (problem,) = imported.refused
    assert problem.line == 2 and "base value 0.5 differs" in problem.reason


def test_column_count_tells_the_version_without_settings(tmp_path: Path) -> None:
    rows, problems = physicell_rules.read(_write(tmp_path, "r.csv", [
        "// comment", "a,oxygen,increases,cycle entry,0.001,0.01,5,2,0"]))
    assert rows[0].base == 0.001 and rows[0].saturation == 0.01 and not problems
    rows, _ = physicell_rules.read(_write(tmp_path, "r3.csv", [
        "a\toxygen\tdecreases\tapoptosis\t0\t5\t2\t0"]))  # tab-separated, as PhysiCell allows
    assert rows[0].saturation == 0 and rows[0].half_max == 5


def test_v0_prototype_is_refused_as_by_physicell(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="10-column"):
        physicell_rules.read(_write(tmp_path, "r.csv", [
            "a,cycle entry,0,0.001,0.01,oxygen,increases,5,2,0"]))


@pytest.mark.parametrize(("row", "reason"), [
    ("tumor,oxygen,increases,cycle entry,0.01,5,2,maybe", "column 8 (applies to dead)"),
    ("tumor,oxygen,raises,cycle entry,0.01,5,2,0", "column 3 (direction)"),
    ("tumor,oxygen,increases,cycle entry,fast,5,2,0", "column 5 (max response value)"),
    ("tumor,oxygen,increases,cycle entry,0.01,5,2", "expected 8 columns"),
    ("tumor,oxygen,increases,cycle entry,0.01,5,2,1", "applies to dead cells"),
    ("tumor,pressure,increases,cycle entry,0.01,5,2,0", "pressure"),
    ("tumor,contact with tumor,increases,cycle entry,0.01,5,2,0", "contact"),
    ("tumor,oxygen,increases,migration speed,1,5,2,0", "motility"),
    ("tumor,oxygen,increases,glucose secretion,1,5,2,0", "not in PhysiCell's behavior"),
    ("stroma,oxygen,increases,apoptosis,1,5,2,0", "unknown cell type 'stroma'"),
])
def test_bad_or_unmappable_rows_are_refused_with_line_and_reason(tmp_path: Path, row: str,
                                                                 reason: str) -> None:
    imported = import_project(_project(tmp_path, ["// header", row]))
    assert imported.rules_mapped == 0
    (problem,) = [p for p in imported.refused if p.file == "rules.csv"]
    assert problem.line == 2 and reason in problem.reason, problem


def test_two_death_components_in_one_rate_are_refused(tmp_path: Path) -> None:
    imported = import_project(_project(tmp_path, [
        "tumor,oxygen,decreases,apoptosis,0,5,2,0",
        "tumor,oxygen,increases,necrosis,0.01,5,2,0"]))
    assert imported.rules_mapped == 1
    (problem,) = imported.refused
    assert problem.line == 2 and "one 'death'" in problem.reason


@needs_anchors
def test_cli_import_writes_a_model_that_loads(tmp_path: Path, capsys) -> None:
    out = tmp_path / "rules_sample.yaml"
    assert main(["import", "physicell", str(ANCHORS / "rules_sample"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "refused: cell_rules.csv, line 4" in err and "pressure" in err
    assert evniche.load_model(str(out)).name == "rules_sample"
    assert "# refused:" in out.read_text(encoding="utf-8")
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["cell_types"]


def test_cli_import_refuses_a_missing_project(tmp_path: Path, capsys) -> None:
    assert main(["import", "physicell", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["import", "compucell", str(tmp_path)]) == 2


@pytest.mark.parametrize(("text", "message"), [
    ("<nope", "not a readable XML file"),
    ("<model/>", "expected a <PhysiCell_settings> document"),
    ("<PhysiCell_settings/>", "missing <domain>"),
    ("<PhysiCell_settings><domain><x_min>5</x_min><x_max>1</x_max><y_min>0</y_min>"
     "<y_max>1</y_max><z_min>0</z_min><z_max>1</z_max></domain></PhysiCell_settings>",
     "x_max (1) must exceed x_min (5)"),
])
def test_cli_import_refuses_a_bad_settings_file(tmp_path: Path, capsys, text: str,
                                                message: str) -> None:
    path = tmp_path / "PhysiCell_settings.xml"
    path.write_text(text, encoding="utf-8")
    assert main(["import", "physicell", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and str(path) in err
