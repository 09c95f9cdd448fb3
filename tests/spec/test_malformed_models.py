"""Malformed model files: each gives a ModelError naming the file, the place inside it and
what was expected.

Every file in ``malformed/`` states what it must produce in its header::

    # expect-path: <substring of the error's path>        (optional)
    # expect-message: <substring of the error's message>
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from evniche.errors import ModelError
from evniche.spec.loader import load_model, read_rules_csv

SPEC = Path(__file__).resolve().parent
MALFORMED = SPEC / "malformed"
CASES = sorted(MALFORMED.glob("*.yaml"))
_HEADER = re.compile(r"^# expect-(path|message|source): (.*)$", re.MULTILINE)


def expectations(path: Path) -> tuple[str, str]:
    """(path substring, message substring) declared in the header of a malformed file."""
    found = dict(_HEADER.findall(path.read_text(encoding="utf-8")))
    return found.get("path", ""), found["message"]


def expected_source(path: Path) -> Path:
    """The file the error must name: the model file, or the rules CSV it reads."""
    found = dict(_HEADER.findall(path.read_text(encoding="utf-8")))
    return path.parent / found["source"] if "source" in found else path


def needs_knowledge_base(path: Path) -> bool:
    return path.name == "unknown_kb_id.yaml"


def knowledge_base_available() -> bool:
    try:
        from evniche.knowledge import load

        load()
    except Exception:  # the knowledge base may not be built yet in a fresh checkout
        return False
    return True


def test_there_are_many_distinct_malformed_files() -> None:
    assert len(CASES) >= 25
    assert len({expectations(p) for p in CASES}) >= 25


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_malformed_file_gives_model_error(case: Path) -> None:
    if needs_knowledge_base(case) and not knowledge_base_available():
        pytest.skip("the knowledge base is not available")
    where, what = expectations(case)
    with pytest.raises(ModelError) as info:
        load_model(case, allow_paths=[SPEC])  # many extend ../tiny.yaml
    err = info.value
    source = str(expected_source(case))
    assert err.source == source, err
    assert where in err.path, err
    assert what in err.message, err
    assert source in str(err) and err.path in str(err) and err.message in str(err)


def test_missing_model_file_is_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_model.yaml"
    with pytest.raises(FileNotFoundError, match="model file .*no_such_model.yaml' does not exist"):
        load_model(missing)


def test_unknown_preset_name_lists_presets() -> None:
    with pytest.raises(ModelError, match="neither a model file nor a preset"):
        load_model("no_such_preset_name")


def test_mapping_source_errors_name_the_mapping(tiny_data: dict) -> None:
    tiny_data["cell_types"]["HSC"]["self_renewal"] = {"value": 2, "unit": "dimensionless",
                                                      "source": "assumption: a test value"}
    with pytest.raises(ModelError) as info:
        load_model(tiny_data)
    assert info.value.source == "<mapping>"
    assert info.value.path == "cell_types.HSC.self_renewal"
    assert "fraction between 0 and 1" in info.value.message


@pytest.mark.parametrize(
    ("override", "where", "what"),
    [
        ({"parameters.nope": 1}, "parameters.nope", "no 'parameters.nope'"),
        ({"cell_types.HSC.self_renewal": "a1x"}, "cell_types.HSC.self_renewal",
         "did you mean 'a1'"),
        ({"parameters.a1": 3}, "cell_types.HSC.self_renewal", "fraction between 0 and 1"),
        ({"parameters.sec.unit": "mm"}, "cell_types.MSC.secretion[0].rate", "expected a rate"),
    ],
)
def test_bad_overrides_are_model_errors(tiny_path: Path, override: dict, where: str,
                                        what: str) -> None:
    with pytest.raises(ModelError) as info:
        load_model(tiny_path, overrides=override)
    assert where in info.value.path
    assert what in info.value.message


def test_rules_csv_line_with_non_finite_number(tmp_path: Path) -> None:
    csv = tmp_path / "rules.csv"
    csv.write_text("HSC,cargo:miR-150,decreases,self_renewal,0.4,0.01,2,0\n"
                   "HSC,cargo:miR-150,decreases,self_renewal,0.4,0.01,nan,0\n", encoding="utf-8")
    with pytest.raises(ModelError) as info:
        read_rules_csv(csv)
    assert info.value.path == "line 2"
    assert "column 7 must be a finite number" in info.value.message


def test_rules_csv_bad_provenance_keeps_line_number(tmp_path: Path) -> None:
    csv = tmp_path / "rules.csv"
    csv.write_text("HSC,cargo:miR-150,decreases,self_renewal,0.4,0.01,2,0,,my guess\n",
                   encoding="utf-8")
    with pytest.raises(ModelError) as info:
        read_rules_csv(csv)
    assert info.value.path.startswith("line 1")
    assert "provenance must be" in info.value.message


def test_every_malformed_file_other_than_syntax_cases_is_yaml(tmp_path: Path) -> None:
    # the malformed files are wrong as models, not as YAML (except the syntax-error case)
    for case in CASES:
        if case.name == "yaml_syntax_error.yaml":
            continue
        try:
            yaml.safe_load(case.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            pytest.fail(f"{case.name} is not even YAML: {exc}")
