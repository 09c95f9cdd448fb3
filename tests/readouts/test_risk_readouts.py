"""Complement proxy and off-target cargo on hand-made Trajectories with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from evniche.errors import EvnicheError
from evniche.readouts import complement, off_target

# ----------------------------------------------------------------------------- complement


def test_ps_surface_counts_only_ps_exposing_pools(synthetic):
    """Pool B (exosome, PS exposed, 10 EV/mL; median 100 nm, GSD 1.4) carries π·E[d²] per
    EV; pool A (no PS) none."""
    area = math.pi * 0.1 ** 2 * math.exp(2 * math.log(1.4) ** 2)
    per_ev = complement.surface_per_ev_um2(synthetic)
    assert per_ev.sel(pool="A.microvesicle") == 0.0
    assert float(per_ev.sel(pool="B.exosome")) == pytest.approx(area)
    np.testing.assert_allclose(complement.ps_surface_per_ml(synthetic).values, 10 * area)


def test_proxy_fold_against_a_control_and_the_first_day(synthetic):
    more = synthetic.copy(deep=True)
    more["ev_concentration"].loc[{"pool": "B.exosome", "compartment": "blood",
                                  "time": 4.0}] = 30.0
    assert complement.proxy_fold(more, synthetic) == pytest.approx(3.0)
    assert complement.proxy_fold(more) == pytest.approx(3.0)  # over its day 0
    assert complement.proxy_fold(synthetic) == pytest.approx(1.0)
    none = synthetic.assign_coords(pool_ps=("pool", [False, False]))
    assert math.isnan(complement.proxy_fold(synthetic, none))


def test_complement_needs_the_ps_coordinate(synthetic):
    with pytest.raises(EvnicheError, match="pool_ps"):
        complement.ps_surface_per_ml(synthetic.drop_vars("pool_ps"))

# ----------------------------------------------------------------------------- off-target


def _dosed(synthetic: xr.Dataset, product_to_hsc: float = 1.0) -> xr.Dataset:
    """Pool A is a product given twice (days 2 and 5) carrying miR-X (5 copies/EV); per
    day it delivers 100 copies to LSC (on target) and 100·``product_to_hsc`` to HSC; the
    mature cells (other normal) get 10."""
    ds = synthetic.copy(deep=True)
    ds = ds.assign_coords(cell_lineage=("cell_type", ["normal", "leukemic", "leukemic",
                                                     "normal"]),
                          cargo=["miR-X"], term=["administered"],
                          source=["A", "B"], target=["HSC", "LSC", "mature"])
    ds["pool_cargo"] = (("pool", "cargo"), np.array([[5.0], [0.0]]))
    given = np.zeros((ds.sizes["time"], 2, 1))
    given[2:, 0, 0] = 1e9
    given[5:, 0, 0] = 2e9
    ds["ledger"] = (("time", "pool", "term"), given)
    per_day = np.zeros((ds.sizes["time"], 2, 3, 1))
    per_day[:, 0, 0, 0] = 100.0 * product_to_hsc
    per_day[:, 0, 1, 0] = 100.0
    per_day[:, 0, 2, 0] = 10.0
    per_day[:, 1, :, 0] = 7.0  # pool B's source: not the product, never counted
    ds["cargo_delivered"] = (("time", "source", "target", "cargo"), per_day)
    return ds


def test_product_delivery_per_group_dose_and_cell(synthetic):
    ds = _dosed(synthetic)
    assert off_target.administered_pools(ds) == ["A.microvesicle"]
    assert off_target.doses(ds) == 2
    frame = off_target.delivery(ds, 0.0, 10.0).set_index("group")
    # 10 days × 100 copies/day, 2 doses; HSC = 100 − 3t cells, mean 85 over days 0-10
    assert frame.loc["normal HSPCs", "copies"] == pytest.approx(1000.0)
    assert frame.loc["normal HSPCs", "per_dose"] == pytest.approx(500.0)
    assert frame.loc["normal HSPCs", "per_cell"] == pytest.approx(500.0 / 85.0)
    assert frame.loc[off_target.ON_TARGET, "copies"] == pytest.approx(1000.0)
    assert frame.loc["other normal", "copies"] == pytest.approx(100.0)
    assert off_target.off_target_share(frame.reset_index()) == pytest.approx(1100 / 2100)


def test_control_deliveries_are_subtracted(synthetic):
    """What the product's source cell type delivers without the therapy does not count."""
    treated, control = _dosed(synthetic, 3.0), _dosed(synthetic, 1.0)
    frame = off_target.delivery(treated, 0.0, 10.0, control=control).set_index("group")
    assert frame.loc["normal HSPCs", "copies"] == pytest.approx(2000.0)
    assert frame.loc[off_target.ON_TARGET, "copies"] == pytest.approx(0.0)


def test_no_doses_no_rows_and_a_bad_window(synthetic):
    assert off_target.doses(synthetic) == 0
    assert off_target.delivery(synthetic, 0.0, 10.0).empty
    with pytest.raises(EvnicheError, match="must end after it starts"):
        off_target.delivery(_dosed(synthetic), 5.0, 5.0)
    assert math.isnan(off_target.off_target_share(pd.DataFrame(
        columns=["cargo", "group", "copies"])))
