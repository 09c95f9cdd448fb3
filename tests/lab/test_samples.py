"""Samples from a run folder: EV pools by class and cell of origin at a day, with the
fluid's non-EV particles from cited counts."""

from __future__ import annotations

import pytest

from conftest import BLOOD_A, BLOOD_B, MARROW_B
from evniche.errors import EvnicheError
from evniche.lab import particles, samples


def test_plasma_reads_the_blood_pools_with_lipoproteins(run_folder):
    s = samples.from_run(run_folder, 5, fluid="plasma", volume_ml=2.0)
    ev = {p.name: p for p in s.of_kind("ev")}
    assert ev["A.microvesicle"].total == pytest.approx(2 * BLOOD_A, rel=1e-6)
    assert ev["B.exosome"].total == pytest.approx(2 * BLOOD_B, rel=1e-6)
    assert ev["B.exosome"].leukemic and not ev["A.microvesicle"].leukemic
    assert ev["B.exosome"].cargo == {"miR-155": 50.0}
    assert "origin:B" in ev["B.exosome"].markers and "CD63" in ev["B.exosome"].markers
    assert "PD-L1" in ev["A.microvesicle"].markers
    assert "phosphatidylserine" in ev["A.microvesicle"].markers
    hdl = [p for p in s.populations if p.name == "HDL"][0]
    # HDL-P 30 µmol/L: 30e-6 mol/L × 6.022e23 / 1000 mL × 2 mL
    assert hdl.total == pytest.approx(30e-6 * 6.02214076e23 / 1000 * 2, rel=1e-6)
    assert s.day == 5.0 and s.volume_ml == 2.0
    # protein ≈ 70 mg/mL of soluble protein plus particles
    assert 140e3 < s.protein_ug < 160e3
    assert s.count("platelet") == pytest.approx(2 * particles.PLATELETS["ppp"].value, rel=1e-3)


def test_marrow_plasma_and_medium(run_folder):
    marrow = samples.from_run(run_folder, None, fluid="marrow_plasma")
    assert [p.total for p in marrow.of_kind("ev")][1] == pytest.approx(MARROW_B, rel=1e-6)
    medium = samples.from_run(run_folder, fluid="medium")
    assert medium.count("lipoprotein") == 0 and medium.count("platelet") == 0
    serum = samples.from_run(run_folder, fluid="serum")
    assert serum.count("platelet") == 0


def test_fasting_removes_chylomicrons(run_folder):
    fed = samples.from_run(run_folder, fasting=False)
    assert any(p.name == "chylomicron" for p in fed.populations)
    assert not any(p.name == "chylomicron" for p in samples.from_run(run_folder).populations)


@pytest.mark.parametrize("text, expected", [("runs/x", ("runs/x", None)),
                                            ("runs/x@12.5", ("runs/x", 12.5))])
def test_sample_spec(text, expected):
    path, day = samples.parse_spec(text)
    assert (str(path), day) == expected


@pytest.mark.parametrize("text", ["dir@soon", "dir@-3"])
def test_bad_sample_spec(text):
    with pytest.raises(EvnicheError, match="--sample"):
        samples.parse_spec(text)


def test_bad_samples_are_refused(run_folder, tmp_path):
    with pytest.raises(EvnicheError, match="no such run folder"):
        samples.from_run(tmp_path / "missing")
    with pytest.raises(EvnicheError, match="not a run folder"):
        samples.from_run(tmp_path)
    with pytest.raises(EvnicheError, match="outside the run"):
        samples.from_run(run_folder, 99)
    with pytest.raises(EvnicheError, match="--fluid"):
        samples.from_run(run_folder, fluid="urine")
    with pytest.raises(EvnicheError, match="--volume"):
        samples.from_run(run_folder, volume_ml=-1)
    with pytest.raises(EvnicheError, match="--platelets"):
        samples.from_run(run_folder, fluid="serum", platelet_prep="prp")


def test_every_cited_number_has_a_unit_range_and_source():
    numbers = [t.per_ml for t in particles.PLASMA_PARTICLES] + \
        [t.density for t in particles.PLASMA_PARTICLES] + \
        list(particles.EV_DENSITY.values()) + list(particles.PLATELETS.values())
    for n in numbers:
        assert n.unit and n.source and n.low <= n.value <= n.high, n
