"""The model file's ``spatial:`` section: lengths with units, validated names, and options
given to ``simulate`` overriding it."""

import shutil
from pathlib import Path

import pytest

import evniche
from evniche.errors import ModelError

TINY = Path(__file__).with_name("tiny.yaml")
WHY = "assumption: a small section for a fast test"


def model_file(tmp_path: Path, section: str) -> str:
    """A model beside a copy of the tiny model it extends (a model may extend only files in
    its own folder, the presets or folders allowed explicitly)."""
    shutil.copyfile(TINY, tmp_path / "tiny.yaml")
    path = tmp_path / "m.yaml"
    path.write_text(f"name: sectioned\nextends: tiny.yaml\nspatial:\n{section}", encoding="utf-8")
    return str(path)


def test_section_sets_geometry_agents_and_snapshots(tmp_path):
    path = model_file(tmp_path, f"""\
  width: {{value: 0.12, unit: mm, source: "{WHY}"}}
  height: {{value: 150, unit: um, source: "{WHY}"}}
  sinusoid_spacing: {{value: 60, unit: um, source: "{WHY}"}}
  agents: 200
  min_agents: 20
  snapshot_days: [0, 0.5]
  animation_frames: 0
  placement: {{HSC: bone}}
""")
    ds = evniche.simulate(path, days=0.5, engine="spatial", equilibrate_first=False)
    assert ds.attrs["grid_shape_zyx"] == "1;15;12"  # 150 µm × 120 µm of 10-µm voxels
    assert list(ds["snapshot_day"].values) == [0.0, 0.5]
    hsc = ds["agent_type"].isel(snapshot=0).values == 1
    assert (ds["agent_x"].isel(snapshot=0).values[hsc] <= 5.0).all()  # on the bone surface
    # an option given to simulate overrides the file
    ds = evniche.simulate(path, days=0.5, engine="spatial", equilibrate_first=False,
                          size_um=(100, 100), snapshot_days=[0.5])
    assert ds.attrs["grid_shape_zyx"] == "1;10;10"
    assert list(ds["snapshot_day"].values) == [0.5]


@pytest.mark.parametrize(("entry", "where", "message"), [
    (f'width: {{value: 10, unit: h, source: "{WHY}"}}', "spatial.width", "length"),
    (f'voxel: {{value: 0, unit: um, source: "{WHY}"}}', "spatial.voxel", "positive"),
    ("width: 100", "spatial.width", "no unit"),
    ("placement: {HSX: bone}", "spatial.placement.HSX", "unknown cell type"),
    ("placement: {HSC: marrow}", "spatial.placement.HSC", "perivascular"),
    ("chemoattractant: CXCL12", "spatial.chemoattractant", "unknown cytokine"),
    ("agents: 0", "spatial.agents", "greater than or equal to 1"),
    ("colour: red", "spatial.colour", "unknown field"),
])
def test_bad_section_entries_are_named(tmp_path, entry, where, message):
    with pytest.raises(ModelError) as err:
        evniche.load_model(model_file(tmp_path, f"  {entry}\n"))
    assert where in str(err.value) and message in str(err.value)
    assert "m.yaml" in str(err.value)
