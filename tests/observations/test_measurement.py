"""Measurement models on hand-made Trajectories; every expected value is worked out by hand
from the numbers in the test (see tests/observations/synthetic.py for the size classes)."""

from __future__ import annotations

import math

import pytest

from evniche.errors import EvnicheError
from evniche.observations import measurement as m

from .synthetic import trajectory


def test_nta_counts_the_evs_inside_its_size_window():
    ds = trajectory({"small": [1000.0, 1000.0], "large": [200.0, 200.0]})
    # small EVs are 100 nm, large ones 800 nm: both inside 50-1000 nm
    assert m.nta_count(ds) == pytest.approx(1200.0)
    # a 50-500 nm window leaves the 800 nm EVs out
    assert m.nta_count(ds, low_nm=50, high_nm=500) == pytest.approx(1000.0)


def test_readouts_interpolate_between_samples():
    ds = trajectory({"small": [1000.0, 3000.0]})
    assert m.nta_count(ds, day=0.5) == pytest.approx(2000.0)
    assert m.nta_count(ds) == pytest.approx(3000.0)  # no day: the last sample


def test_flow_cytometry_sees_only_evs_above_its_threshold():
    ds = trajectory({"small": [1000.0, 1000.0], "large": [200.0, 200.0]})
    # 200 EV/mL of 800 nm are >= 600 nm: 0.2 per µL; 200 of 1200 EVs = 1/6
    assert m.flow_count(ds, threshold_nm=600) == pytest.approx(0.2)
    assert m.flow_fraction(ds, threshold_nm=600) == pytest.approx(1 / 6)


def test_flow_fraction_comes_from_the_size_distribution():
    # median 400 nm, truncated symmetrically in log size: half lies above 400 nm
    ds = trajectory({"wide": [1000.0, 1000.0]})
    assert m.flow_fraction(ds, threshold_nm=400) == pytest.approx(0.5)
    assert m.flow_count(ds, threshold_nm=400) == pytest.approx(0.5)  # 500/mL = 0.5/µL


def test_counts_in_marrow_fluid_and_of_leukemic_origin():
    ds = trajectory({"small": [1000.0, 1000.0], "large": [200.0, 200.0]},
                    marrow={"small": [50.0, 50.0], "large": [3000.0, 3000.0]},
                    sources={"large": "blast"})
    # marrow: 3000 large EVs/mL >= 600 nm = 3 per µL; all 3050 in the NTA window
    assert m.flow_count(ds, compartment="marrow") == pytest.approx(3.0)
    assert m.nta_count(ds, compartment="marrow") == pytest.approx(3050.0)
    # only the blast pool (the large EVs) counts with origin=leukemic: 200 of plasma
    assert m.nta_count(ds, origin="leukemic") == pytest.approx(200.0)
    assert m.flow_fraction(ds, origin="leukemic") == pytest.approx(1.0)
    with pytest.raises(EvnicheError, match="compartment must be one of blood, marrow"):
        m.nta_count(ds, compartment="lymph")
    with pytest.raises(EvnicheError, match="origin must be one of all, leukemic"):
        m.nta_count(ds, origin="stroma")


def test_flow_fraction_without_plasma_evs_is_nan():
    assert math.isnan(m.flow_fraction(trajectory({"small": [0.0, 0.0]})))


def test_exosome_protein_is_small_ev_count_times_protein_per_ev():
    ds = trajectory({"small": [1e9, 1e9], "large": [1e8, 1e8]})
    # only the 100 nm EVs are <= 200 nm: 1e9/mL × 10 fg = 1e10 fg/mL = 10 µg/mL
    assert m.exosome_protein(ds, protein_per_ev_fg=10.0) == pytest.approx(10.0)


def test_mirna_copies_per_ml_sum_over_pools():
    ds = trajectory({"small": [1000.0, 1000.0], "large": [200.0, 200.0]},
                    cargo={"src.small": {"miR-155": 0.01}, "src.large": {"miR-155": 0.5}})
    assert m.mirna_copies(ds, cargo="miR-155") == pytest.approx(1000 * 0.01 + 200 * 0.5)
    assert m.mirna_copies(ds, cargo="miR-21") == 0.0


def test_blast_percent_and_normal_output():
    ds = trajectory({"small": [1.0, 1.0]},
                    cells={"HSC": [30.0, 30.0], "blast": [0.0, 10.0], "mature": [100.0, 40.0]})
    assert m.blast_percent(ds) == pytest.approx(25.0)  # 10 of the 40 marrow cells
    assert m.normal_output_fraction(ds) == pytest.approx(0.4)
    assert m.neutrophil_count(ds, healthy_anc=4000.0) == pytest.approx(1600.0)
    assert m.cell_count(ds, cell_type="HSC") == pytest.approx(30.0)
    with pytest.raises(EvnicheError, match="no cell type 'LSC'"):
        m.cell_count(ds, cell_type="LSC")


def _leukemia(blasts_at_10: float) -> object:
    return trajectory({"small": [1.0, 1.0]}, times=[0.0, 10.0],
                      cells={"HSC": [100.0 - blasts_at_10] * 2, "blast": [0.0, blasts_at_10],
                             "mature": [1.0, 1.0]})


def test_takeover_day_and_the_knockdown_delay_ratio():
    control = _leukemia(30.0)  # 0 → 30 % over 10 days: 20 % on day 20/3
    treated = _leukemia(25.0)  # 0 → 25 %: 20 % on day 8
    assert m.takeover_day(control) == pytest.approx(20 / 3)
    assert m.takeover_ratio(treated, control) == pytest.approx(8.0 / (20 / 3))
    assert m.takeover_day(_leukemia(10.0)) == math.inf  # never reaches 20 %


def test_fold_change_edge_cases():
    assert m.fold_change(6.0, 3.0) == 2.0
    assert m.fold_change(1.0, 0.0) == math.inf
    assert math.isnan(m.fold_change(0.0, 0.0))


def test_read_fold_change_of_a_readout_between_two_runs():
    disease = trajectory({"small": [3000.0, 3000.0]})
    healthy = trajectory({"small": [1000.0, 1000.0]})
    value = m.read(m.MODELS["fold_change"], [(disease, None), (healthy, None)],
                   {"readout": "nta_count"})
    assert value == pytest.approx(3.0)


def test_blood_half_life_from_the_clearance_ledger():
    # 1000 EVs in blood, 24,000 cleared in one day: k = 24/day = 1/h, t½ = ln 2 h
    ds = trajectory({"small": [1000.0, 1000.0]}, cleared={"src.small": [0.0, 24000.0]})
    assert m.blood_half_life(ds, vesicle_class="small") == pytest.approx(math.log(2))
    with pytest.raises(EvnicheError, match="no EV pool of class 'oncosome'"):
        m.blood_half_life(ds, vesicle_class="oncosome")


def test_unit_conversion_and_unknown_models():
    assert m.convert(656, "1/uL", "1/mL") == pytest.approx(656_000)
    assert m.convert(7, "min", "hour") == pytest.approx(7 / 60)
    with pytest.raises(Exception, match="cannot be converted"):
        m.convert(1, "nm", "1/mL")
    with pytest.raises(Exception, match="unknown measurement model 'elisa'"):
        m.lookup("elisa")
