"""Density gradients, SEC, membranes, precipitation and beads against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.stats import norm

from evniche.lab import affinity, chromatography, filtration, gradients, precipitation
from evniche.lab.particles import CENTERS_NM
from evniche.lab.samples import synthetic

# ------------------------------------------------------------------------ density gradient

def test_banded_fraction_is_the_normal_mass_in_the_window():
    assert gradients.banded_fraction(1.15, 0.02, 1.03, 1.25, 1.13, 1.17) == pytest.approx(
        norm.cdf(1) - norm.cdf(-1))
    # denser than the gradient's bottom: banded at the bottom, collected only with it
    assert gradients.banded_fraction(1.30, 0.001, 1.03, 1.25, 1.20, 1.25) == pytest.approx(1)
    assert gradients.banded_fraction(1.30, 0.001, 1.03, 1.25, 1.10, 1.19) == pytest.approx(0)


def _gradient(minutes: float, load: str = "top") -> gradients.DensityGradient:
    return gradients.DensityGradient(step="density_gradient", low_g_ml=1.03, high_g_ml=1.25,
                                     collect_g_ml=(1.10, 1.19), collect_ml=1.0, g=100000,
                                     minutes=minutes, load=load)


def test_equilibrium_bands_evs_by_density_and_short_runs_leave_them_at_the_top():
    s = synthetic()
    _, long = _gradient(1e6).apply(s)
    ev = s.populations[0]
    expected = norm.cdf((1.19 - ev.density) / ev.density_sd) - \
        norm.cdf((1.10 - ev.density) / ev.density_sd)
    assert long.kept["EV"] == pytest.approx(expected, rel=1e-3)
    _, short = _gradient(1e-3).apply(s)
    assert short.kept["EV"] < 1e-3  # still at 1.03 g/mL, outside the window
    # VLDL (0.98 g/mL) floats to the top whatever the time
    assert long.kept["VLDL"] < 1e-6


def test_gradient_window_must_be_ordered():
    with pytest.raises(ValidationError):
        gradients.DensityGradient(step="density_gradient", low_g_ml=1.03, high_g_ml=1.25,
                                  collect_g_ml=(1.19, 1.10), collect_ml=1, g=1e5, minutes=60)


# --------------------------------------------------------------------------------- SEC

def test_partition_coefficient_by_hand():
    assert chromatography.partition_coefficient(25.0, 75.0) == pytest.approx((2 / 3) ** 2)
    assert chromatography.partition_coefficient(100.0, 75.0) == 0.0
    # 10 mL bed, V0 = 4.2, Vi = 5.5 mL: HDL (8 nm) elutes at 4.2 + (1 − 8/75)² × 5.5 mL
    assert chromatography.elution_volume(8.0, 4.2, 5.5, 75.0) == pytest.approx(
        4.2 + (1 - 8 / 75) ** 2 * 5.5)


def test_sec_collects_the_void_peak_and_leaves_small_particles_behind():
    s = synthetic()
    step = chromatography.SizeExclusion(step="size_exclusion", bed_ml=10, collect_ml=(4, 6),
                                        loss_fraction=0.0)
    out, res = step.apply(s)
    sigma = math.sqrt(0.5 ** 2 + 1.0 / 12)  # 5 % of the bed, plus a 1 mL plug
    big = norm.cdf((6 - 4.2) / sigma) - norm.cdf((4 - 4.2) / sigma)
    bins = (CENTERS_NM > 80) & (CENTERS_NM < 900)  # excluded from the pores: elute at V0
    frac = out.populations[0].counts[bins] / s.populations[0].counts[bins]
    assert np.allclose(frac, big)
    assert res.kept["HDL"] < 1e-4 and res.kept["soluble protein"] < 1e-4
    assert out.volume_ml == 2.0


# ------------------------------------------------------------------------------ membranes

def test_retention_is_half_at_the_cutoff_and_mass_is_conserved():
    assert filtration.retention(10.0, 10.0, 4.0) == pytest.approx(0.5)
    assert filtration.retention(20.0, 10.0, 4.0) == pytest.approx(1 / (1 + 0.5 ** 4))
    s = synthetic()
    ret, _ = filtration.Filtration(step="filtration", cutoff_nm=10, keep="retentate",
                                   final_ml=0.1, loss_fraction=0).apply(s)
    fil, _ = filtration.Filtration(step="filtration", cutoff_nm=10, keep="filtrate").apply(s)
    for a, b, p in zip(ret.populations, fil.populations, s.populations, strict=True):
        assert a.total + b.total == pytest.approx(p.total)


# -------------------------------------------------------------------------- precipitation

def test_precipitation_curve_by_hand():
    assert precipitation.precipitated_fraction(30.0, 30.0, 2.0, 0.9) == pytest.approx(0.45)
    assert precipitation.precipitated_fraction(60.0, 30.0, 2.0, 0.9) == pytest.approx(0.72)
    s = synthetic()
    out, res = precipitation.Precipitation(step="precipitation", resuspend_ml=0.1,
                                           protein_coprecipitation=0.02).apply(s)
    assert res.kept["soluble protein"] == pytest.approx(0.02)
    assert res.kept["EV"] > res.kept["LDL"] > res.kept["HDL"]  # larger goes down first


# ---------------------------------------------------------------------------------- beads

def test_beads_hold_marker_carriers_and_only_nonspecific_others():
    s = synthetic()
    out, res = affinity.Immunocapture(step="immunocapture", marker="CD63", elute_ml=0.1,
                                      nonspecific=0.005).apply(s)
    assert res.kept["HDL"] == pytest.approx(0.005)
    assert 0.5 < res.kept["EV"] <= 0.8
    # 100 nm EV with 100 CD63: 0.8 × (1 − 2^(−100/5))
    ev = s.populations[0]
    b = affinity.bound_fraction(ev, "CD63", 0.8, 5.0, 0.005)
    i = int(np.argmin(abs(CENTERS_NM - 100)))
    copies = 100 * (CENTERS_NM[i] / 100) ** 2
    assert b[i] == pytest.approx(0.8 * (1 - 2 ** (-copies / 5)))
    unbound, _ = affinity.Immunocapture(step="immunocapture", marker="ApoB",
                                        keep="unbound").apply(s)
    assert unbound.populations[0].total == pytest.approx(ev.total * (1 - 0.005))


def test_unknown_marker_is_noted():
    _, res = affinity.Immunocapture(step="immunocapture", marker="CD999",
                                    elute_ml=0.1).apply(synthetic())
    assert any("CD999" in n for n in res.notes)
