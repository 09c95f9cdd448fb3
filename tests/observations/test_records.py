"""Observation records: the schema refuses bad records with one line naming the file, the
record and the field; the shipped folder holds enough records for every preset."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path

import pytest
import yaml

from evniche.errors import ModelError
from evniche.observations import records
from evniche.observations.schema import Observation

GOOD = {
    "id": "R-1",
    "measured": "plasma EVs",
    "system": "healthy_donors",
    "species": "human",
    "conditions": [{"preset": "healthy", "at": "end", "days": 20}],
    "measurement": {"model": "nta_count"},
    "observed": {"value": 1.0e10, "unit": "1/mL", "statistic": "estimate",
                 "spread": {"fold": 10, "source": "assumption: order of magnitude"}},
    "source": {"ref": "a paper", "quote": "approximately 10^10 EVs per mL"},
}


def changed(path: str, value) -> dict:
    """GOOD with the dotted ``path`` set to ``value`` (``None`` deletes it)."""
    out = copy.deepcopy(GOOD)
    keys = path.split(".")
    node = out
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is None:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return out


def write(folder: Path, name: str, data) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_good_record_validates():
    record = Observation.model_validate(GOOD)
    assert record.presets() == ["healthy"]
    assert record.observed_in_model_unit() == 1.0e10


@pytest.mark.parametrize(("path", "value", "field", "message"), [
    ("observed.valu", 3, "observed.valu", "unknown field"),
    ("observed.spread", None, "observed", "needs a unit and a spread"),
    ("observed.unit", "nm", "observed", "cannot be converted"),
    ("measurement.model", "elisa", "measurement", "unknown measurement model 'elisa'"),
    ("measurement.parameters", {"low_nm": 50}, "measurement.parameters", "a bare number"),
    ("measurement.parameters", {"low_nm": "fifty"}, "measurement", "is a quantity"),
    ("measurement.parameters", {"wavelength": "x"}, "measurement", "has no parameter"),
    ("measurement.parameters", {"compartment": "lymph"}, "measurement", "must be one of"),
    ("conditions.0.at", "tomorrow", "conditions[0].at", "expected a day number"),
    ("conditions.0.interventions", ["nosuchdrug@3"], "conditions[0].interventions",
     "nosuchdrug"),
    ("observed.spread", {"sd": 1, "iqr": [1, 2]}, "observed.spread", "exactly one of"),
    ("observed.spread", {"fold": 3}, "observed.spread", "needs a source"),
    ("observed.value", -1.0, "observed", "> 0"),
    ("system", "zebrafish", "system", "patients"),
    ("source.quote", None, "source.quote", "required field is missing"),
    ("id", "has space", "id", "letters, digits"),
])
def test_bad_records_name_file_record_and_field(tmp_path, path, value, field, message):
    file = write(tmp_path, "bad.yaml", [changed(path, value)])
    with pytest.raises(ModelError) as info:
        records.read_file(file)
    text = str(info.value)
    label = GOOD["id"] if path != "id" else "has space"
    assert text.startswith(f"{file}: {label} (entry 1): {field}"), text
    assert message in text
    assert "\n" not in text


def test_a_mean_with_sd_is_centred_on_its_log_normal_median():
    mean = Observation.model_validate(changed("observed", {
        "value": 10.0, "unit": "1/uL", "statistic": "mean", "spread": {"sd": 10.0}}))
    # σ² = ln 2, so the median is 10 / √2; per mL: × 1000
    assert mean.observed_in_model_unit() == pytest.approx(1000 * 10 / 2 ** 0.5)
    median = Observation.model_validate(changed("observed", {
        "value": 10.0, "unit": "1/uL", "statistic": "median", "spread": {"sd": 10.0}}))
    assert median.observed_in_model_unit() == pytest.approx(10_000.0)


def test_trend_and_contrast_need_the_right_number_of_conditions(tmp_path):
    trend = changed("observed", {"trend": "increasing"})
    with pytest.raises(ModelError, match="at least two conditions"):
        records.read_file(write(tmp_path, "t.yaml", trend))
    contrast = changed("measurement", {"model": "takeover_ratio"})
    with pytest.raises(ModelError, match="compares two conditions"):
        records.read_file(write(tmp_path, "c.yaml", contrast))
    two = changed("conditions", [{"preset": "healthy"}, {"preset": "aml"}])
    with pytest.raises(ModelError, match="reads one condition; got 2"):
        records.read_file(write(tmp_path, "two.yaml", two))


def test_a_file_holds_one_record_or_a_list(tmp_path):
    assert [r.id for r in records.read_file(write(tmp_path, "one.yaml", GOOD))] == ["R-1"]
    second = changed("id", "R-2")
    assert [r.id for r in records.read_file(write(tmp_path, "two.yaml", [GOOD, second]))] \
        == ["R-1", "R-2"]
    with pytest.raises(ModelError, match="expected a record"):
        records.read_file(write(tmp_path, "empty.yaml", []))


def test_yaml_errors_and_duplicate_ids(tmp_path):
    bad = tmp_path / "broken" / "x.yaml"
    bad.parent.mkdir()
    bad.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(ModelError, match=r"x.yaml: line \d+, column \d+: not valid YAML"):
        records.load([bad.parent])
    folder = tmp_path / "dup"
    write(folder, "a.yaml", GOOD)
    write(folder, "b.yaml", GOOD)
    twice = r"b.yaml: R-1: id 'R-1' is used twice \(also in .*a.yaml\)"
    with pytest.raises(ModelError, match=twice):
        records.load([folder])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="no observation files"):
        records.load([empty])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        records.load([tmp_path / "nowhere"])


def test_check_models_reports_an_override_the_model_lacks(tmp_path):
    record = changed("overrides", [{"path": "parameters.no_such_parameter", "value": 1,
                                    "unit": "h", "species": "human",
                                    "source": "assumption: test"}])
    file = write(tmp_path, "o.yaml", record)
    origins: dict[str, str] = {}
    loaded = records.load([file], origins)
    with pytest.raises(ModelError) as info:
        records.check_models(loaded, origins)
    text = str(info.value)
    assert text.startswith(f"{file}: R-1: conditions[0]")
    assert "no_such_parameter" in text
    unknown = changed("conditions", [{"preset": "no_such_preset"}])
    with pytest.raises(ModelError, match="neither a model file nor a preset"):
        records.check_models(records.load([write(tmp_path / "u", "u.yaml", unknown)]))


def test_model_overrides_for_parameters_and_inline_places():
    record = Observation.model_validate(changed("overrides", [
        {"path": "parameters.ev_blood_half_life", "value": 5.5, "unit": "h",
         "species": "human", "source": "derived: x"},
        {"path": "vesicle_classes.microvesicle.clearance", "value": 0.126, "unit": "1/h",
         "species": "human", "source": "derived: y"}]))
    assert records.model_overrides(record.overrides) == {
        "parameters.ev_blood_half_life.value": 5.5,
        "parameters.ev_blood_half_life.unit": "h",
        "parameters.ev_blood_half_life.source": "derived: x",
        "parameters.ev_blood_half_life.range": None,
        "vesicle_classes.microvesicle.clearance": {"value": 0.126, "unit": "1/h",
                                                    "source": "derived: y"},
    }


def test_the_shipped_records_cover_every_preset():
    shipped = records.load()
    assert len(shipped) >= 25
    assert sum(r.observed.value is not None for r in shipped) >= 12
    per_preset = Counter(p for r in shipped for p in r.presets())
    for preset in ("healthy", "aml", "cml", "cll", "t_all", "mm"):
        assert per_preset[preset] >= 2, preset
    for r in shipped:
        assert r.source.quote.strip()
        assert all(o.source.strip() and o.species for o in r.overrides)
    assert records.check_models(shipped) >= 3
