"""Thrombin generation of a run's plasma: EV tissue factor and PS into the Hockin–Mann
model, on hand-made Trajectories with known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr

from evniche.errors import EvnicheError
from evniche.readouts import thrombin

N_A = 6.02214076e23


def _plasma(synthetic: xr.Dataset, tf_a: float, scale: float = 1e8) -> xr.Dataset:
    """Pool A (microvesicle, no PS) 30·scale EV/mL with ``tf_a`` TF copies/EV; pool B
    (exosome, PS exposed) 10·scale EV/mL without TF."""
    ds = synthetic.copy()
    ds["ev_concentration"] = ds["ev_concentration"] * scale
    ds["pool_cargo"] = (("pool", "cargo"), np.array([[tf_a], [0.0]]))
    ds = ds.assign_coords(cargo=["tissue_factor"])
    ds.attrs["volume_blood_mL"] = 3000.0
    return ds


def test_sample_converts_ev_cargo_to_pM_and_surface_to_nM(synthetic):
    ds = _plasma(synthetic, tf_a=0.02)
    s = thrombin.plasma_sample(ds, 3.0)
    assert s.tf_pM == pytest.approx(3e9 * 0.02 / (1e-12 * N_A * 1e-3))  # 0.0996 pM
    # pool B: exosomes, median 100 nm, GSD 1.4: outer area π·E[d²], 0.65 nm² per lipid
    mean_d2 = 100.0 ** 2 * math.exp(2 * math.log(1.4) ** 2)
    ps_per_ev = math.pi * mean_d2 / thrombin.AREA_PER_LIPID_NM2 * thrombin.PS_SHARE
    assert s.ps_nM == pytest.approx(1e9 * ps_per_ev / N_A * 1e12)
    assert s.tf_sources == {"A": 1.0} and s.tf_classes == {"microvesicle": 1.0}


def test_membrane_factor_is_half_at_its_half_saturation():
    assert thrombin.membrane_factor(thrombin.PS_HALF_NM) == pytest.approx(0.5)
    assert thrombin.membrane_factor(0.0) == 0.0
    with pytest.raises(EvnicheError, match="phosphatidylserine"):
        thrombin.membrane_factor(-1.0)


def _pM(pM: float) -> float:
    """TF copies per EV of pool A (3e10 EV/mL at scale 1e9) that make ``pM`` pM."""
    return pM * 1e-12 * N_A * 1e-3 / 3e10


def test_more_ev_tissue_factor_means_earlier_thrombin(synthetic):
    """Above the model's threshold, a sample with ×4 the EV-TF (5 → 20 pM) clots sooner and
    peaks higher; below it (0.2 pM, the presets' plasma level) there is no burst."""
    low, mid, high = (thrombin.assay(thrombin.plasma_sample(
        _plasma(synthetic, _pM(pM), scale=1e9), 1.0))[0] for pM in (0.2, 5.0, 20.0))
    assert mid.tf_pM == pytest.approx(5.0)
    assert not low.burst
    assert mid.burst and high.burst
    assert high.lag_min < mid.lag_min and high.peak_nM > mid.peak_nM


def test_more_ps_exposing_evs_mean_more_thrombin(synthetic):
    """Same TF, more PS-exposing EVs (pool B ×10): larger membrane factor, earlier lag."""
    ds = _plasma(synthetic, _pM(5.0), scale=1e9)
    more = ds.copy(deep=True)
    more["ev_concentration"].loc[{"pool": "B.exosome"}] *= 10
    a = thrombin.assay(thrombin.plasma_sample(ds, 1.0))[0]
    b = thrombin.assay(thrombin.plasma_sample(more, 1.0))[0]
    assert b.membrane > a.membrane
    assert b.lag_min < a.lag_min


def test_cat_reagent_adds_five_pM_and_phospholipid(synthetic):
    s = thrombin.plasma_sample(_plasma(synthetic, 0.0), 1.0)
    none, _ = thrombin.assay(s, "none")
    cat, _ = thrombin.assay(s, "cat")
    assert not none.burst and none.peak_nM == 0.0
    assert cat.burst and cat.tf_pM == pytest.approx(thrombin.CAT_TF_PM)
    with pytest.raises(EvnicheError, match="reagent 'thrombin'"):
        thrombin.assay(s, "thrombin")


def test_table_rows_and_descriptions(synthetic):
    ds = _plasma(synthetic, 0.02)
    rows = thrombin.table(ds)
    assert [r["day"] for r in rows] == [0.0, 10.0]  # TF constant: its peak is day 0
    assert "no thrombin burst" in thrombin.describe(rows[0])
    burst = thrombin.table(_plasma(synthetic, _pM(20.0), scale=1e9), days=[2.0])[0]
    assert thrombin.describe(burst).startswith("day 2: TF ") and "ETP" in thrombin.describe(burst)
    no_tf = _plasma(synthetic, 0.0)
    assert thrombin.table(no_tf) == []


def test_sample_days_find_the_peak_after_each_therapy(synthetic):
    """A therapy starting on day 3 with an EV-TF spike on day 5 (apoptotic bodies after
    chemotherapy, say): day 5 is sampled; the therapy's items share one window."""
    ds = _plasma(synthetic, 0.02)
    ds["ev_concentration"].loc[{"time": 5.0, "pool": "A.microvesicle",
                                "compartment": "blood"}] *= 3
    ds["ev_concentration"].loc[{"time": 9.0, "pool": "A.microvesicle",
                                "compartment": "blood"}] *= 2
    ds.attrs["interventions"] = json.dumps([
        {"intervention": "chemo", "start_day": 8.0, "end_day": 9.0},
        {"intervention": "chemo", "start_day": 3.0, "end_day": 4.0}])
    assert thrombin.sample_days(ds) == [0.0, 5.0, 10.0]
    ds.attrs["interventions"] = json.dumps([
        {"intervention": "other", "start_day": 8.0, "end_day": 9.0}])
    assert thrombin.sample_days(ds) == [0.0, 5.0, 9.0, 10.0]


def test_a_day_outside_the_run_is_refused(synthetic):
    with pytest.raises(EvnicheError, match="sample day 11 is outside the run"):
        thrombin.plasma_sample(_plasma(synthetic, 0.02), 11.0)


def test_doses_are_counted_at_their_bolus_peak(synthetic):
    ds = _plasma(synthetic, 0.02)
    given = np.zeros((ds.sizes["time"], 2, 1))
    given[4:, 0, 0] = 3.0e12  # 3e12 EVs of pool A given between day 3 and day 4
    ds["ledger"] = (("time", "pool", "term"), given)
    ds = ds.assign_coords(term=["administered"])
    base = thrombin.plasma_sample(ds, 4.0).tf_pM
    peak = thrombin.plasma_sample(ds, 4.0, doses=True).tf_pM
    assert peak - base == pytest.approx(3.0e12 / 3000.0 * 0.02 / (1e-12 * N_A * 1e-3))


def test_report_section_rows(synthetic):
    """The run report's section: one row per sample day, '–' where thrombin never bursts,
    rows given by the caller are used as they are (no second solve)."""
    from evniche.report.html import _thrombin

    ds = _plasma(synthetic, 0.02)
    section = _thrombin(ds, None)
    assert [r["day"] for r in section["rows"]] == ["0", "10"]
    assert section["rows"][0]["lag"] == "–" and section["rows"][0]["tf"] == "0.0996"
    given = [{**thrombin.table(ds, days=[3.0])[0], "peak_nM": 123.0}]
    assert _thrombin(ds, given)["rows"][0]["peak"] == "123"
    assert _thrombin(_plasma(synthetic, 0.0), None)["rows"] == []
