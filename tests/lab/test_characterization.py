"""Instruments with their limits: NTA and flow detection by refractive index, the NTA
counting window, swarm detection, EM counting and marker detection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evniche.lab import characterization as ch
from evniche.lab.samples import synthetic


def _alpha(n_p: float, n_m: float = 1.333) -> float:
    m2 = (n_p / n_m) ** 2
    return (m2 - 1) / (m2 + 2)


def test_detection_limit_by_refractive_index_by_hand():
    # a 45 nm polystyrene bead (n = 1.59) scatters as much as an EV (n = 1.398) of
    # 45 × (α_PS/α_EV)^(1/3) nm in water (Rayleigh)
    expected = 45 * (_alpha(1.59) / _alpha(1.398)) ** (1 / 3)
    assert ch.detection_diameter_nm(45, 1.398) == pytest.approx(expected)
    assert 65 < expected < 75
    # a particle matching the medium is invisible; a denser-RI particle is seen smaller
    assert math.isinf(ch.detection_diameter_nm(45, 1.333))
    assert ch.detection_diameter_nm(45, 1.47) < expected


def test_nta_of_raw_plasma_counts_lipoproteins_and_dilutes_into_its_window():
    s = synthetic()
    reading = ch.nta(s)
    assert reading.share("lipoprotein") > 0.99
    assert reading.dilution == pytest.approx(reading.total_per_ml / 1e9)
    assert reading.in_window
    # only particles above the EV limit count: a sample of EVs all below it reads 0
    small = synthetic(median_nm=35, gsd=1.05, fluid="medium")
    tiny = small.replaced([small.populations[0]], small.volume_ml)
    assert ch.nta(tiny).total_per_ml == 0.0


def test_nta_below_its_window_is_flagged():
    s = synthetic(ev_per_ml=1e5, fluid="medium")
    reading = ch.nta(s.replaced([s.populations[0]], s.volume_ml))
    assert reading.dilution == 1.0 and not reading.in_window


def test_flow_trigger_and_swarm_scale_with_concentration():
    def evs_only(c):
        s = synthetic(ev_per_ml=c, fluid="medium")
        return s.replaced([s.populations[0]], s.volume_ml)

    one, four = ch.flow(evs_only(1e9)), ch.flow(evs_only(4e9))
    # the swarm index is a Poisson fluctuation: ∝ √concentration
    assert four.swarm_index == pytest.approx(2 * one.swarm_index, rel=1e-6)
    assert four.swarm_dilution == pytest.approx(max(1.0, four.swarm_index ** 2))
    # single events only above the trigger's EV-equivalent diameter
    assert one.limits_nm["EV"] == pytest.approx(ch.detection_diameter_nm(200, 1.398))
    assert one.events_per_ml["ev"] < 1e9 * 0.05


def test_em_counts_the_requested_particles_reproducibly():
    s = synthetic(fluid="medium")
    a = ch.electron_microscopy(s, ch.EMSettings(particles=300, seed=3))
    b = ch.electron_microscopy(s, ch.EMSettings(particles=300, seed=3))
    assert int(a.ev_counts.sum()) + sum(a.other_counts.values()) == 300
    assert np.array_equal(a.ev_counts, b.ev_counts)
    plasma = ch.electron_microscopy(synthetic())
    assert plasma.ev_share < 0.01  # LDL (≈22 nm) crowds the grid


def test_marker_detection_by_limit():
    s = synthetic()
    reading = ch.markers(s)
    # ApoB: one per LDL/VLDL particle (≈6.3e14 in 1 mL)
    assert reading.molecules["ApoB"] == pytest.approx(s.count("lipoprotein") -
                                                      s.populations[1].total, rel=1e-6)
    assert reading.western_blot["ApoB"] and reading.western_blot["albumin"]
    few = synthetic(ev_per_ml=1e5, fluid="medium")
    low = ch.markers(few.replaced([few.populations[0]], 1.0))
    assert not low.western_blot["CD63"] and low.molecules["CD63"] < 1e9
    assert low.ng("CD63") == pytest.approx(low.molecules["CD63"] * 26e3 / 6.02214076e23 * 1e9)
