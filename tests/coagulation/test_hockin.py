"""The Hockin–Mann model against what its paper states (Hockin et al. 2002, J Biol Chem
277:18322, doi:10.1074/jbc.M201173200; inputs from its BioModels entry BIOMD0000000335;
see docs/sources/thrombin.md), and the thrombogram readouts on curves with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evniche.coagulation import hockin, thrombogram
from evniche.errors import EvnicheError


def _read(tf_pM: float, **kwargs) -> thrombogram.Thrombogram:
    return thrombogram.read(hockin.simulate(tf_pM, **kwargs))


def test_inputs_are_the_papers_biomodels_values():
    """docs/sources/thrombin.md H1-H3: k1-k42 and mean plasma as BIOMD0000000335 has them."""
    assert len(hockin.RATES) == 42
    assert (hockin.RATES["k2"], hockin.RATES["k4"], hockin.RATES["k16"]) == (3.2e6, 2.3e7, 7.5e3)
    assert (hockin.RATES["k31"], hockin.RATES["k41"], hockin.RATES["k42"]) == (63.5, 7.1e3, 2.3e2)
    assert hockin.PLASMA == {"II": 1.4e-6, "V": 2.0e-8, "VII": 1.0e-8, "VIIa": 1.0e-10,
                             "VIII": 7.0e-10, "IX": 9.0e-8, "X": 1.6e-7, "TFPI": 2.5e-9,
                             "ATIII": 3.4e-6}


def test_species_are_conserved():
    """Mass action with the paper's stoichiometry: total factor X (free, in complexes,
    activated, inhibited) stays what it was."""
    y0 = hockin.initial_state(5.0)
    k = hockin.rate_vector()
    dy = hockin._S @ hockin._fluxes(y0 * 0 + 1e-9, k)
    x_species = ["X", "TF_VIIa_X", "TF_VIIa_Xa", "Xa", "IXa_VIIIa_X", "Xa_Va", "Xa_Va_II",
                 "Xa_TFPI", "TF_VIIa_Xa_TFPI", "Xa_ATIII"]
    assert abs(sum(dy[hockin.INDEX[s]] for s in x_species)) < 1e-20
    assert y0[hockin.INDEX["TF"]] == pytest.approx(5e-12)


def test_above_the_threshold_the_thrombin_bolus_is_equivalent():
    """Paper (abstract): "for concentrations above the TF threshold, the bolus of thrombin
    produced is quantitatively equivalent" — 5 and 25 pM TF, ETP within 5 %; the higher
    dose is faster (shorter lag, earlier and higher peak)."""
    five, twentyfive = _read(5.0), _read(25.0)
    assert five.burst and twentyfive.burst
    assert twentyfive.etp_nM_min == pytest.approx(five.etp_nM_min, rel=0.05)
    assert twentyfive.lag_min < five.lag_min
    assert twentyfive.time_to_peak_min < five.time_to_peak_min
    assert twentyfive.peak_nM > five.peak_nM


def test_below_the_threshold_tfpi_and_antithrombin_suppress_thrombin():
    """Paper (abstract): "At subthreshold TF, thrombin production/expression is suppressed by
    the combination of TFPI and AT-III" — at 0.5 pM TF no burst within 40 min; without
    TFPI the same dose bursts, and the bolus is a fraction of the suprathreshold one."""
    low = _read(0.5)
    assert not low.burst
    assert low.etp_nM_min < 0.05 * _read(5.0).etp_nM_min
    without_tfpi = _read(0.5, plasma={**hockin.PLASMA, "TFPI": 0.0})
    assert without_tfpi.burst


def test_no_tissue_factor_no_thrombin():
    assert _read(0.0).peak_nM == 0.0


def test_scarce_membrane_slows_and_lowers_thrombin_generation():
    """The membrane factor (the assumption of docs/sources/thrombin.md) scales the
    membrane-assembled complexes: less membrane, later lag, lower peak; none, no burst."""
    readouts = [_read(5.0, membrane=f) for f in (1.0, 0.5, 0.2)]
    lags = [r.lag_min for r in readouts]
    peaks = [r.peak_nM for r in readouts]
    assert lags == sorted(lags) and peaks == sorted(peaks, reverse=True)
    assert not _read(5.0, membrane=0.0).burst


@pytest.mark.parametrize("kwargs, where", [
    ({"tf_pM": -1.0}, "tissue factor"), ({"tf_pM": math.nan}, "tissue factor"),
    ({"tf_pM": 5.0, "membrane": 1.5}, "membrane"), ({"tf_pM": 5.0, "minutes": 0.0}, "minutes"),
])
def test_bad_input_is_refused_with_its_name(kwargs, where):
    with pytest.raises(EvnicheError, match=where):
        hockin.simulate(**kwargs)


def test_unknown_plasma_species_is_named():
    with pytest.raises(EvnicheError, match="'XII'"):
        hockin.simulate(5.0, plasma={"XII": 1e-8})


def test_thrombogram_of_a_known_curve():
    """A triangle 0 → 100 nM at 10 min → 0 at 20 min: lag (2 nM) at 0.2 min, peak 100 nM at
    10 min, ETP 1000 nM·min, velocity 100 / 9.8 nM/min."""
    t = np.linspace(0.0, 20.0, 201)
    y = np.where(t <= 10, 10 * t, 200 - 10 * t)
    r = thrombogram.read(hockin.ThrombinCurve(t, y, 1.0, 1.0))
    assert r.lag_min == pytest.approx(0.2)
    assert (r.peak_nM, r.time_to_peak_min) == (pytest.approx(100.0), pytest.approx(10.0))
    assert r.etp_nM_min == pytest.approx(1000.0)
    assert r.velocity_nM_per_min == pytest.approx(100 / 9.8)
    flat = thrombogram.read(hockin.ThrombinCurve(t, np.full_like(t, 1.0), 0.0, 1.0))
    assert not flat.burst and math.isnan(flat.time_to_peak_min)
