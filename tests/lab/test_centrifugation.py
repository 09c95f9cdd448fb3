"""Centrifugation: Stokes' law, the rotor's k-factor and the pelleting cut-off against
numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from evniche.errors import EvnicheError
from evniche.lab import centrifugation as c
from evniche.lab.samples import BUFFER, synthetic

TYPE70 = c.ROTORS["Type 70 Ti"]


def test_stokes_sedimentation_coefficient_by_hand():
    # 100 nm, 1.16 g/mL in 1.005 g/mL at 1.0 mPa·s: (1e-7 m)² × 155 kg/m³ / (18 × 1e-3 Pa·s)
    assert c.sedimentation_coefficient(100.0, 1.16, 1.005, 1.0) == pytest.approx(8.6111e-11,
                                                                                  rel=1e-4)
    # s ∝ d²: twice the diameter, four times s; lighter than the medium: negative (floats)
    assert c.sedimentation_coefficient(200.0, 1.16, 1.005, 1.0) == pytest.approx(
        4 * 8.6111e-11, rel=1e-4)
    assert c.sedimentation_coefficient(50.0, 0.98, 1.025, 1.2) < 0


def test_k_factor_matches_the_published_rotor_value():
    # Type 70 Ti at 70,000 rpm: ln(91.9/39.5)/ω² × 1e13/3600 = 43.65 (Beckman lists 44)
    w = 70000 * 2 * math.pi / 60
    assert c.k_factor(TYPE70, 70000) == pytest.approx(math.log(91.9 / 39.5) / w ** 2 * 1e13
                                                      / 3600, rel=1e-12)
    assert c.k_factor(TYPE70, 70000) == pytest.approx(44, abs=0.5)
    assert c.k_factor(c.ROTORS["SW 41 Ti"], 41000) == pytest.approx(124, abs=1)
    # the k-factor equals 2.53e11 ln(rmax/rmin)/rpm² (the textbook's shortcut)
    assert c.k_factor(TYPE70, 50000) == pytest.approx(2.533e11 * math.log(91.9 / 39.5)
                                                      / 50000 ** 2, rel=1e-3)


def test_g_force_and_rpm_are_inverse():
    rpm = c.rpm_for_g(100000, TYPE70.r_max_mm)
    assert c.g_at(rpm, TYPE70.r_max_mm) == pytest.approx(100000)
    # RCF = ω² r / g0 by hand: 30,000 rpm at 91.9 mm
    assert c.g_at(30000, 91.9) == pytest.approx((30000 * 2 * math.pi / 60) ** 2 * 0.0919
                                                / 9.80665)


def test_cutoff_diameter_by_hand():
    # 100,000 g (at r_max) for 70 min in a Type 70 Ti, EVs of 1.16 g/mL in PBS (1.005 g/mL,
    # 1.0 mPa·s): ω² = 1e5·g0/0.0919 m = 1.0671e7 s⁻², s* = ln(91.9/39.5)/(ω²·4200 s)
    # = 1.884e-11 s, d* = √(18·1e-3·s*/155) = 46.8 nm
    rpm = c.rpm_for_g(1e5, TYPE70.r_max_mm)
    assert c.cutoff_diameter_nm(1.16, 1.005, 1.0, TYPE70, rpm, 70) == pytest.approx(46.78,
                                                                                     abs=0.05)
    assert math.isinf(c.cutoff_diameter_nm(0.98, 1.005, 1.0, TYPE70, rpm, 70))


def test_pelleting_is_complete_at_t_equal_k_over_s():
    rpm = 60000
    s = 300e-13  # 300 S
    hours = c.k_factor(TYPE70, rpm) / 300.0  # T = k/S
    assert c.pelleted_fraction(s, TYPE70, rpm, hours * 60) == pytest.approx(1.0)
    assert c.pelleted_fraction(s, TYPE70, rpm, 0.9 * hours * 60) < 0.99
    # half the travel (s ω² t = ln(rmax/rmin)/2): start radius √(rmin·rmax) by hand
    half = c.pelleted_fraction(s, TYPE70, rpm, hours * 30)
    assert half == pytest.approx((91.9 - math.sqrt(39.5 * 91.9)) / (91.9 - 39.5))
    assert c.pelleted_fraction(-1e-13, TYPE70, rpm, 600) == 0.0


def test_pellet_and_supernatant_share_every_particle():
    s = synthetic()
    common = dict(step="centrifuge", g=20000, minutes=30, rotor="Type 70 Ti",
                  residual_fraction=0.0)
    pellet, _ = c.Centrifuge(keep="pellet", resuspend_ml=0.1, **common).apply(s)
    sup, res = c.Centrifuge(keep="supernatant", **common).apply(s)
    for a, b, p in zip(pellet.populations, sup.populations, s.populations, strict=True):
        assert a.total + b.total == pytest.approx(p.total, rel=1e-9)
    assert pellet.medium == BUFFER and pellet.volume_ml == 0.1
    # VLDL (0.98 g/mL) floats in plasma: never pelleted
    assert res.kept["VLDL"] == pytest.approx(1.0)
    assert "k-factor" in res.derived


def test_bigger_and_denser_pellets_first():
    s = synthetic()
    _, res = c.Centrifuge(step="centrifuge", g=10000, minutes=30, rotor="Type 70 Ti",
                          keep="supernatant").apply(s)
    # exosome-sized EVs mostly stay up at 10,000 g; platelets (µm) go down
    assert res.kept["EV"] > 0.8
    assert res.kept["platelets"] < 0.01


@pytest.mark.parametrize("bad", [
    dict(g=-100, minutes=10, keep="supernatant"),
    dict(rpm=0, minutes=10, keep="supernatant"),
    dict(g=100, rpm=100, minutes=10, keep="supernatant"),
    dict(g=100, minutes=10, keep="pellet"),
    dict(g=100, minutes=-1, keep="supernatant"),
    dict(g=100, minutes=10, keep="supernatant", rotor="no such rotor"),
    dict(g=100, minutes=10, keep="supernatant", rotor={"r_min_mm": 90, "r_max_mm": 40}),
])
def test_bad_spins_are_refused(bad):
    with pytest.raises(ValidationError):
        c.Centrifuge(step="centrifuge", **bad)


def test_a_speed_above_the_rotors_top_is_refused():
    step = c.Centrifuge(step="centrifuge", rpm=90000, minutes=10, rotor="Type 70 Ti",
                        keep="supernatant")
    with pytest.raises(EvnicheError, match="top speed"):
        step.apply(synthetic())


def test_cold_plasma_is_more_viscous():
    from evniche.lab.steps import viscosity_at, water_viscosity_mpa_s

    assert water_viscosity_mpa_s(20.0) == pytest.approx(1.002, abs=0.01)
    assert water_viscosity_mpa_s(4.0) == pytest.approx(1.567, abs=0.03)
    assert viscosity_at(1.23, 37.0, 4.0) > 2.0
    assert np.isclose(viscosity_at(1.0, 20.0, 20.0), 1.0)
