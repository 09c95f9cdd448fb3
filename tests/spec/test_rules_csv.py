"""Rules in PhysiCell's v3 CSV form (8 columns) plus a 9th column of knowledge-base ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evniche.errors import ModelError
from evniche.spec.loader import load_model, read_rules_csv

# cell type, signal, direction, behavior, saturation, half-max, Hill power, applies-to-dead,
# knowledge-base ids. Numbers are in the canonical unit of the signal/behavior.
V3 = """\
// PhysiCell v3 rules with an evniche column of knowledge-base ids
HSC,cargo:miR-150,decreases,self_renewal,0.4,0.01,2,0
HSC,uptake:MSC.exosome,increases,proliferation,0.002,50,1.5,0,

MSC,fraction:HSC,increases,secretion:exosome,200,0.5,3,0,KB-1;KB-2
"""

ASSUMED = "assumption: a test value"


def yaml_rules() -> list[dict]:
    """The rules of V3 written in YAML with explicit units (the equivalent declaration)."""
    def p(value: float, unit: str) -> dict:
        return {"value": value, "unit": unit, "source": ASSUMED}

    return [
        {"cell_type": "HSC", "signal": "cargo:miR-150", "direction": "decreases",
         "behavior": "self_renewal", "saturation": p(0.4, "dimensionless"),
         "half_max": p(0.01, "copies"), "hill_power": p(2, "dimensionless")},
        {"cell_type": "HSC", "signal": "uptake:MSC.exosome", "direction": "increases",
         "behavior": "proliferation", "saturation": p(0.048, "1/day"),
         "half_max": p(50, "EV/cell/h"), "hill_power": p(1.5, "dimensionless")},
        {"cell_type": "MSC", "signal": "fraction:HSC", "direction": "increases",
         "behavior": "secretion:exosome", "saturation": p(200, "EV/cell/h"),
         "half_max": p(50, "percent"), "hill_power": p(3, "dimensionless"),
         "kb": ["KB-1", "KB-2"]},
    ]


def canonical(resolved, rule, path: str) -> dict:
    """A rule as plain canonical numbers, for comparing CSV- and YAML-declared rules."""
    table = resolved.params
    out = {"cell_type": rule.cell_type, "signal": rule.signal, "direction": rule.direction,
           "behavior": rule.behavior, "kb": list(rule.kb)}
    for key in ("saturation", "half_max", "hill_power"):
        ref = getattr(rule, key)
        name = ref if isinstance(ref, str) else f"{path}.{key}"
        out[key] = table.value(name)
    return out


def test_read_rules_csv_parses_v3_rows(tmp_path: Path) -> None:
    csv = tmp_path / "rules.csv"
    csv.write_text(V3, encoding="utf-8")
    rules = read_rules_csv(csv)
    assert [where for _, where in rules] == ["rules.csv:2", "rules.csv:3", "rules.csv:5"]
    first, _ = rules[0]
    assert (first.cell_type, first.signal, first.direction, first.behavior) == (
        "HSC", "cargo:miR-150", "decreases", "self_renewal")
    assert first.saturation.value == 0.4 and first.hill_power.value == 2
    assert first.kb == []
    assert rules[2][0].kb == ["KB-1", "KB-2"]
    # numbers without provenance in the file are marked as assumptions citing the file line
    assert first.half_max.source.startswith("assumption:") and "line 2" in first.half_max.source


def real_kb_ids() -> list[str] | None:
    """Two record ids of the shipped knowledge base, or None while it cannot be loaded."""
    try:
        from evniche.knowledge import load

        ids = sorted(load().records)
    except Exception:  # the knowledge base is not built in this checkout yet
        return None
    return ids[:2] if len(ids) >= 2 else None


def test_csv_rules_equal_yaml_declared_rules(tiny_data: dict, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ids = real_kb_ids()
    if ids is None:
        # without a knowledge base the ids cannot be checked; compare everything else
        import evniche.spec.resolve as resolve_module

        original = resolve_module._check_rule
        monkeypatch.setattr(resolve_module, "_check_rule", lambda rule, *args: original(
            rule.model_copy(update={"kb": []}), *args))
        ids = ["KB-1", "KB-2"]
    tiny_data["rules"] = []
    (tmp_path / "rules.csv").write_text(V3.replace("KB-1;KB-2", ";".join(ids)),
                                        encoding="utf-8")
    model_file = tmp_path / "model.yaml"
    model_file.write_text(yaml.safe_dump(dict(tiny_data, rules_csv=["rules.csv"])),
                          encoding="utf-8")
    declared = yaml_rules()
    declared[2]["kb"] = ids
    by_csv = load_model(model_file)
    by_yaml = load_model(dict(tiny_data, rules=declared))
    got = [canonical(by_csv, r, p) for r, p in by_csv.rules]
    want = [canonical(by_yaml, r, p) for r, p in by_yaml.rules]
    assert len(got) == 3
    assert got[2]["kb"] == ids
    for g, w in zip(got, want, strict=True):
        assert g.keys() == w.keys()
        for key in g:
            assert g[key] == pytest.approx(w[key]), key


def test_rules_csv_path_is_relative_to_the_model_file(tiny_data: dict, tmp_path: Path) -> None:
    sub = tmp_path / "models"
    sub.mkdir()
    (sub / "rules.csv").write_text("HSC,cargo:miR-150,increases,self_renewal,0.9,0.02,1,0\n",
                                   encoding="utf-8")
    tiny_data["rules_csv"] = ["rules.csv"]
    (sub / "model.yaml").write_text(yaml.safe_dump(tiny_data), encoding="utf-8")
    resolved = load_model(sub / "model.yaml")
    assert len(resolved.rules) == 2
    assert resolved.rules[1][1] == "rules.csv:1"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("HSC,cargo:miR-150,decreases,self_renewal,0.4,0.01,2", "expected at least 8 columns"),
        ("HSC,cargo:miR-150,down,self_renewal,0.4,0.01,2,0", "'increases' or 'decreases'"),
        ("HSC,cargo:miR-150,decreases,self_renewal,lots,0.01,2,0", "column 5 must be"),
        ("HSC,cargo:miR-150,decreases,self_renewal,0.4,half,2,0", "column 6 must be"),
        ("HSC,cargo:miR-150,decreases,self_renewal,0.4,0.01,inf,0", "column 7 must be"),
        ("HSC,cargo:miR-150,decreases,self_renewal,0.4,0.01,2,0,,a guess",
         "provenance must be"),
        ("HSC,cargo:miR-150,decreases,self_renewal,0.4,0.01,2,yes", "column 8 (applies to "
                                                                   "dead) must be 0 or 1"),
        ("HSC,cargo:miR-150,decreases,self_renewal,0.4,0.01,2,1", "applies to dead cells"),
        ("HSC,oxygen,decreases,cycle entry,0,3.75,8,0", "evniche import physicell"),
        ("HSC,cargo:miR-150,decreases,cycle entry,0,3.75,8,0", "column 4: 'cycle entry'"),
    ],
)
def test_malformed_csv_line_names_its_line_number(tmp_path: Path, line: str,
                                                   message: str) -> None:
    csv = tmp_path / "rules.csv"
    csv.write_text("# header comment\nHSC,cargo:miR-150,decreases,self_renewal,0.4,0.01,2,0\n"
                   f"{line}\n", encoding="utf-8")
    with pytest.raises(ModelError) as info:
        read_rules_csv(csv)
    assert info.value.path.startswith("line 3")
    assert info.value.source == str(csv)
    assert message in info.value.message


def test_csv_rule_checked_against_the_model(tiny_data: dict, tmp_path: Path) -> None:
    (tmp_path / "rules.csv").write_text(
        "HSC,cargo:miR-150,decreases,self_renewal,0.4,0.01,2,0\n"
        "LSC,cargo:miR-150,decreases,self_renewal,0.4,0.01,2,0\n", encoding="utf-8")
    tiny_data["rules_csv"] = ["rules.csv"]
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(tiny_data), encoding="utf-8")
    with pytest.raises(ModelError) as info:
        load_model(tmp_path / "model.yaml")
    assert info.value.path == "rules.csv:2.cell_type"
    assert "unknown cell type 'LSC'" in info.value.message
