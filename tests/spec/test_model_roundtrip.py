"""Spec → YAML → spec: ``dump_model`` writes text that ``load_model`` reads back equal."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evniche.spec.loader import dump_model, load_model
from evniche.spec.model import Model

ASSUMED = "assumption: a test value"


def rich(data: dict) -> dict:
    """The tiny model with every optional construct the schema has: inline parameters,
    ranges, expressions, aliases (``class``, ``from``), states, cytokines, drugs, kills,
    hematopoiesis, subsets, markers, interventions."""
    data = dict(data)
    params = data["parameters"]
    params["t_half"] = {"value": 30, "unit": "min", "source": ASSUMED, "range": [10, 60],
                        "description": "blood half-life of exosomes"}
    params["kclear"] = {"expr": "ln(2) / t_half", "unit": "1/h", "source": "derived: from t_half"}
    params["relax"] = {"value": 2, "unit": "day", "source": ASSUMED}
    params["base"] = {"value": 0.2, "unit": "dimensionless", "source": ASSUMED}
    params["strength"] = {"value": 1e-9, "unit": "1/cell", "source": ASSUMED}
    params["cap"] = {"value": 1e5, "unit": "cell", "source": ASSUMED}
    params["start"] = {"value": 3, "unit": "day", "source": ASSUMED}
    params["elim"] = {"value": 0.2, "unit": "1/h", "source": ASSUMED}
    data["cytokines"] = {"CXCL12": {"decay": "decay",
                                    "diffusion": {"value": 100, "unit": "um^2/s",
                                                  "source": ASSUMED}}}
    data["drugs"] = {"cytarabine": {"elimination": "elim"}}
    msc = data["cell_types"]["MSC"]
    msc["states"] = {"reprogrammed": {"baseline": "base", "relaxation": "relax",
                                      "description": "fraction of MSCs reprogrammed"}}
    msc["produces"] = {"CXCL12": "sec"}
    msc["secretion"].append({"class": "exosome", "subset": "stressed", "rate": "sec",
                             "markers": ["CD63"]})
    hsc = data["cell_types"]["HSC"]
    hsc.update({"death": {"value": 0.01, "unit": "1/day", "source": ASSUMED},
                "feedback": True, "niche": True, "description": "haematopoietic stem cells"})
    data["cell_types"]["NK"] = {"lineage": "immune", "initial": "cap",
                               "kills": [{"target": "HSC", "rate": "p1"}]}
    data["uptake"].append({"target": "MSC", "class": "exosome", "source": "MSC", "rate": "up"})
    data["hematopoiesis"] = {"feedback": {"from": ["HSC"], "strength": "strength"},
                             "niche": {"members": ["HSC"], "capacity": "cap"}}
    data["rules"].append({"cell_type": "MSC", "signal": "uptake:MSC.exosome",
                          "direction": "increases", "behavior": "state:reprogrammed",
                          "saturation": "sat", "half_max": {"value": 10, "unit": "EV/cell/h",
                                                            "source": ASSUMED},
                          "hill_power": "h", "note": "a pleiotropic effect"})
    data["interventions"] = [{"name": "cytarabine", "start": "start",
                              "options": {"dose": "elim", "drug": "cytarabine", "daily": True,
                                          "targets": ["HSC", "MSC"]}}]
    data["description"] = "a model using every construct"
    data["disease"] = "AML"
    return data


def roundtrip(model: Model, tmp_path: Path) -> Model:
    text = dump_model(model)
    path = tmp_path / "dumped.yaml"
    path.write_text(text, encoding="utf-8")
    return load_model(path).spec


def test_tiny_roundtrip(tiny_path: Path, tmp_path: Path) -> None:
    model = load_model(tiny_path).spec
    again = roundtrip(model, tmp_path)
    assert again == model
    assert dump_model(again) == dump_model(model)


def test_rich_model_roundtrip(tiny_data: dict, tmp_path: Path) -> None:
    resolved = load_model(rich(tiny_data))
    again = roundtrip(resolved.spec, tmp_path)
    assert again == resolved.spec
    # the same numbers in canonical units come out of both
    reloaded = load_model(tmp_path / "dumped.yaml")
    assert {k: p.value for k, p in reloaded.params.resolved.items()} == pytest.approx(
        {k: p.value for k, p in resolved.params.resolved.items()})


def test_dump_is_plain_yaml_with_aliases(tiny_data: dict) -> None:
    text = dump_model(load_model(rich(tiny_data)).spec)
    data = yaml.safe_load(text)  # no python-specific tags (tuples, objects)
    assert "!!python" not in text
    assert data["uptake"][0]["class"] == "exosome"
    assert data["hematopoiesis"]["feedback"]["from"] == ["HSC"]
    assert data["parameters"]["t_half"]["range"] == [10, 60]


def test_extends_is_resolved_before_dumping(tmp_path: Path, tiny_path: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text(f"name: child\nextends: {tiny_path}\n"
                     "parameters:\n  a1: {value: 0.6}\n", encoding="utf-8")
    model = load_model(child, allow_paths=[tiny_path.parent]).spec
    assert model.parameters["a1"].value == 0.6
    assert model.extends == str(tiny_path)
    again = roundtrip(model, tmp_path)
    # the dump is self-contained: the parent's content is in it, 'extends' is not
    assert again.extends is None
    assert again == model.model_copy(update={"extends": None})
    assert len(again.cell_types["MSC"].secretion) == 1
