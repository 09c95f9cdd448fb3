"""Protocol files: shipped protocols load and run; a bad file gets one line naming the
file, the field and what was expected."""

from __future__ import annotations

import pytest

from evniche.errors import ModelError
from evniche.lab import protocols
from evniche.lab.samples import synthetic


def test_shipped_protocols_load_and_run():
    names = protocols.shipped()
    assert {"duc", "sec", "sec_uf", "gradient", "precipitation", "cd63_beads"} <= set(names)
    s = synthetic()
    for name in names:
        iso = protocols.run(protocols.load(name), s)
        assert len(iso.results) == len(iso.protocol.steps)
        assert 0 < iso.isolate.count("ev") < s.count("ev")


def _write(tmp_path, text: str):
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, match", [
    ("name: x\nsteps:\n  - {step: boil, minutes: 5}\n", r"steps\[0\]: unknown step 'boil'"),
    ("name: x\nsteps:\n  - {step: centrifuge, g: -5, minutes: 5, keep: supernatant}\n",
     r"steps\[0\]\.g: .*greater than 0"),
    ("name: x\nsteps:\n  - {step: centrifuge, g: 5, minutes: 5, keep: supernatant, "
     "colour: red}\n", r"steps\[0\]\.colour: unknown field"),
    ("name: x\nsteps:\n  - {minutes: 5}\n", r"needs a 'step' field"),
    ("name: x\nsteps: []\n", r"steps"),
    ("steps:\n  - {step: filtration, cutoff_nm: 10, keep: filtrate}\n", r"name: required"),
    ("name: x\nsteps: [\n", r"not valid YAML"),
])
def test_bad_protocols_get_one_line(tmp_path, text, match):
    with pytest.raises(ModelError, match=match) as err:
        protocols.load(_write(tmp_path, text))
    assert "\n" not in str(err.value)
    assert str(tmp_path / "p.yaml") in str(err.value)


def test_unknown_protocol_name():
    with pytest.raises(ModelError, match="no such protocol"):
        protocols.load("no-such-protocol")
