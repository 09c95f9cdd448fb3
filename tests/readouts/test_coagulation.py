"""Coagulation risk: tissue factor on plasma EVs, with known answers on hand-made
Trajectories and the presets' tissue-factor-bearing pools."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import evniche
from evniche.readouts import coagulation


def _with_tf(ds: xr.Dataset, copies_a: float, copies_b: float) -> xr.Dataset:
    ds = ds.copy()
    ds["pool_cargo"] = (("pool", "cargo"), np.array([[copies_a, 1.0], [copies_b, 0.0]]))
    ds = ds.assign_coords(cargo=["tissue_factor", "miR-155"])
    ds.attrs["volume_blood_mL"] = 3000.0
    return ds


def test_tissue_factor_is_plasma_evs_times_copies(synthetic):
    ds = _with_tf(synthetic, 0.5, 0.1)  # A: 30 EV/mL, B: 10 EV/mL in plasma
    tf = coagulation.tissue_factor_per_ml(ds)
    np.testing.assert_allclose(tf.values, 30 * 0.5 + 10 * 0.1)
    assert tf.attrs["units"] == "copies/mL"
    shares = coagulation.tf_sources(ds)
    assert float(shares.sel(source="A")) == pytest.approx(15 / 16)


def test_no_tissue_factor_cargo_reads_zero(synthetic):
    ds = synthetic.copy()
    ds["pool_cargo"] = (("pool", "cargo"), np.array([[1.0], [2.0]]))
    ds = ds.assign_coords(cargo=["miR-155"])
    assert float(coagulation.tissue_factor_per_ml(ds).max()) == 0.0
    assert np.isnan(coagulation.coagulation_risk(ds).values).all()


def test_risk_is_relative_to_the_first_sample(synthetic):
    ds = _with_tf(synthetic, 0.5, 0.1)
    ds["ev_concentration"].loc[{"time": 5, "pool": "A.microvesicle",
                                "compartment": "blood"}] = 60.0
    risk = coagulation.coagulation_risk(ds)
    assert float(risk.sel(time=0)) == pytest.approx(1.0)
    assert float(risk.sel(time=5)) == pytest.approx((60 * 0.5 + 1) / 16)
    assert coagulation.summary(ds)["tf_peak_day"] == 5.0


def test_a_dose_is_counted_at_its_bolus_peak(synthetic):
    ds = _with_tf(synthetic, 0.5, 0.1)
    given = np.zeros((ds.sizes["time"], 2, 1))
    given[4:, 0, 0] = 3.0e6  # 3e6 EVs of pool A given between day 3 and day 4
    ds["ledger"] = (("time", "pool", "term"), given)
    ds = ds.assign_coords(term=["administered"])
    peak = coagulation.tissue_factor_peak_per_ml(ds)
    base = coagulation.tissue_factor_per_ml(ds)
    np.testing.assert_allclose((peak - base).values,
                               np.where(ds["time"].values == 4, 3.0e6 * 0.5 / 3000, 0.0))


def test_presets_carry_tissue_factor_on_platelet_and_leukemic_microvesicles():
    healthy = evniche.simulate("healthy", days=5)
    aml = evniche.simulate("aml", days=300)
    per_ev = coagulation.tf_copies_per_ev(aml)
    assert float(per_ev.sel(pool="blood_cells.microvesicle")) > 0
    assert float(per_ev.sel(pool="blast.microvesicle")) > float(
        per_ev.sel(pool="blood_cells.microvesicle"))
    h = coagulation.summary(healthy)
    assert h["tf_start_per_ml"] > 0 and h["tf_peak_fold"] == pytest.approx(1.0, rel=1e-6)
    # a leukemic marrow sheds tissue-factor-bearing microvesicles into plasma
    assert coagulation.summary(aml)["tf_peak_fold"] > 1.5
    assert float(coagulation.tf_sources(aml).sel(source="blast")) > 0.3
