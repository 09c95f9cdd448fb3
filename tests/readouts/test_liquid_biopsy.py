"""Liquid biopsy: plasma EVs by class, cargo per mL, markers, the virtual NTA."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from evniche.errors import EvnicheError
from evniche.readouts import liquid_biopsy as lb


def test_plasma_concentration_sums_pools_by_class(synthetic):
    conc = lb.plasma_concentration(synthetic)
    np.testing.assert_allclose(conc.sel(vesicle_class="microvesicle").values, 30.0)
    np.testing.assert_allclose(conc.sel(vesicle_class="exosome").values, 10.0)


def test_marker_profile_shares(synthetic):
    share = lb.marker_profile(synthetic).isel(time=-1)
    assert share.sel(marker="CD63").item() == pytest.approx(1.0)
    assert share.sel(marker="CD9").item() == pytest.approx(0.75)
    assert share.sel(marker="PS").item() == pytest.approx(0.25)


def test_cargo_per_ml_from_mapping_and_from_pool_cargo(synthetic):
    copies = {"A.microvesicle": {"miR-155": 2.0}, "B.exosome": {"miR-155": 0.5}}
    per_ml = lb.cargo_per_ml(synthetic, copies)
    np.testing.assert_allclose(per_ml.sel(cargo="miR-155").values, 30 * 2.0 + 10 * 0.5)
    with_var = synthetic.assign(pool_cargo=(("pool", "cargo"), np.array([[2.0], [0.5]])))
    with_var = with_var.assign_coords(cargo=["miR-155"])
    xr.testing.assert_allclose(lb.cargo_per_ml(with_var), per_ml)


def test_cargo_per_ml_needs_copies(synthetic):
    with pytest.raises(EvnicheError, match="pool_cargo"):
        lb.cargo_per_ml(synthetic)
    with pytest.raises(EvnicheError, match="unknown pool"):
        lb.cargo_per_ml(synthetic, {"nope": {"miR-155": 1.0}})


def test_nta_integrates_to_plasma_concentration_inside_the_window(synthetic):
    only_mv = synthetic.copy()
    only_mv["ev_concentration"] = synthetic["ev_concentration"].where(
        synthetic["pool_class"] == "microvesicle", 0.0)
    hist = lb.nta_histogram(only_mv)
    # microvesicles (100–1000 nm) lie wholly inside the 50–1000 nm window
    assert hist.total_per_ml == pytest.approx(30.0, rel=1e-10)
    assert hist.edges_nm[0] == 50 and hist.edges_nm[-1] == 1000
    # on linear bins the fullest bin holds the log-normal mode, median·exp(−ln²gsd)
    mode = 300.0 * np.exp(-np.log(1.5) ** 2)
    assert abs(hist.mode_nm - mode) <= 10.0


def test_nta_peaks_at_the_median_on_log_bins(synthetic):
    edges = np.geomspace(50, 1000, 61)
    hist = lb.nta_histogram(synthetic, edges_nm=edges)
    k = int(np.argmax(hist.by_class["microvesicle"]))
    assert edges[k] <= 300.0 <= edges[k + 1]


def test_nta_counts_only_the_detected_part_of_a_class(synthetic):
    hist = lb.nta_histogram(synthetic)
    # exosomes: log-normal(100 nm, 1.4) truncated to 20–150 nm; NTA sees 50–150 nm of it
    dist = stats.lognorm(s=np.log(1.4), scale=100.0)
    seen = (dist.cdf(150) - dist.cdf(50)) / (dist.cdf(150) - dist.cdf(20))
    assert hist.by_class["exosome"].sum() == pytest.approx(10.0 * seen, rel=1e-9)
    assert hist.total_per_ml == pytest.approx(30.0 + 10.0 * seen, rel=1e-9)
    frame = hist.to_frame()
    assert list(frame.columns[:3]) == ["bin_low_nm", "bin_high_nm", "particles_per_mL"]


def test_nta_rejects_a_bad_window(synthetic):
    with pytest.raises(EvnicheError, match="detection window"):
        lb.nta_histogram(synthetic, detection_nm=(500, 50))


def test_liquid_biopsy_of_a_model_run(leukemia_run):
    conc = lb.plasma_concentration(leukemia_run)
    blood = leukemia_run["ev_concentration"].sel(compartment="blood").sum("pool")
    xr.testing.assert_allclose(conc.sum("vesicle_class"), blood.drop_vars(
        [c for c in blood.coords if c != "time"]))
    hist = lb.nta_histogram(leukemia_run, day=60.0)
    assert hist.total_per_ml > 0
    assert hist.total_per_ml <= conc.sel(time=60.0).sum().item() * (1 + 1e-12)
    per_ml = lb.cargo_per_ml(leukemia_run, {"LSC.exosome": {"miR-155": 0.05}})
    lsc = leukemia_run["ev_concentration"].sel(pool="LSC.exosome", compartment="blood")
    np.testing.assert_allclose(per_ml.sel(cargo="miR-155").values, 0.05 * lsc.values)
