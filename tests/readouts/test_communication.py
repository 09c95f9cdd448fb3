"""Who talks to whom: the communication matrix agrees with the EV ledger."""

from __future__ import annotations

import numpy as np
import pytest

from evniche.errors import EvnicheError
from evniche.readouts import communication as comm


def _taken_up(ds, day: float) -> float:
    return ds["ledger"].sel(term="taken_up").sel(time=day).sum().item()


@pytest.mark.parametrize("window", [(0.0, 120.0), (90.0, 120.0), (10.0, 11.0)])
def test_matrix_sum_equals_the_ledger_taken_up_increase(leukemia_run, window):
    start, end = window
    matrix = comm.communication_matrix(leukemia_run, window=window)
    delivered = matrix.to_numpy().sum() * (end - start)
    assert delivered > 0
    assert delivered == pytest.approx(_taken_up(leukemia_run, end) - _taken_up(
        leukemia_run, start), rel=1e-9)
    assert comm.delivered_total(leukemia_run, start, end) == pytest.approx(delivered)


def test_matrix_rows_are_sources_and_columns_targets(leukemia_run):
    matrix = comm.communication_matrix(leukemia_run, last_days=30)
    assert set(matrix.index) == {"LSC", "MSC"}
    assert {"HSC", "MSC"} <= set(matrix.columns)
    # per source: the uptake of that source's pools by each target over the window
    uptake = leukemia_run["uptake"]
    pools = [p for p, s in zip(uptake["pool"].values, leukemia_run["pool_source"].values,
                               strict=True) if s == "LSC"]
    gained = (uptake.sel(pool=pools, time=120.0) - uptake.sel(pool=pools, time=90.0)).sum("pool")
    np.testing.assert_allclose(matrix.loc["LSC", "MSC"] * 30, gained.sel(target="MSC").item(),
                               rtol=1e-9)
    # nobody takes up EVs into the (non-uptaking) mature cells
    assert matrix["mature"].sum() == 0


def test_matrix_at_a_day_and_tidy_table(leukemia_run):
    at = comm.communication_matrix(leukemia_run, day=50.0)
    np.testing.assert_allclose(at.to_numpy(), leukemia_run["communication"].sel(
        time=50.0).transpose("source", "target").values)
    table = comm.communication_table(leukemia_run, last_days=30)
    assert list(table.columns) == ["source", "target", "evs_per_day"]
    assert table["evs_per_day"].is_monotonic_decreasing


def test_cargo_flows_are_sorted_and_consistent(leukemia_run):
    flows = comm.cargo_flows(leukemia_run, top=3, last_days=30)
    assert len(flows) == 3
    assert flows["copies_per_day"].is_monotonic_decreasing
    top = flows.iloc[0]
    # LSC exosomes carry 0.05 miR-155 per EV: copies/day = 0.05 × EVs/day
    matrix = comm.communication_matrix(leukemia_run, last_days=30)
    assert (top.source, top.cargo) == ("LSC", "miR-155")
    assert top.copies_per_day == pytest.approx(0.05 * matrix.loc["LSC", top.target], rel=1e-9)


def test_bad_window_is_reported(leukemia_run):
    with pytest.raises(EvnicheError, match="holds no time"):
        comm.communication_matrix(leukemia_run, window=(200.0, 300.0))
    with pytest.raises(EvnicheError, match="at most one"):
        comm.communication_matrix(leukemia_run, day=3.0, last_days=5.0)


def _roundoff_deliveries():
    """Two sources, two targets, days 0–2: A → X delivers 5 EV/day, B → Y −1e-12 EV/day
    (solver round-off on a stopped flow), the rest 0."""
    import xarray as xr

    comm_rates = np.zeros((3, 2, 2))
    comm_rates[:, 0, 0] = 5.0
    comm_rates[:, 1, 1] = -1e-12
    return xr.Dataset({"communication": (("time", "source", "target"), comm_rates)},
                      coords={"time": [0.0, 1.0, 2.0], "source": ["A", "B"],
                              "target": ["X", "Y"]})


def test_round_off_negative_deliveries_read_zero():
    ds = _roundoff_deliveries()
    matrix = comm.communication_matrix(ds, last_days=2)
    assert matrix.loc["B", "Y"] == 0.0
    assert matrix.loc["A", "X"] == pytest.approx(5.0)
    table = comm.communication_table(ds)
    assert (table["evs_per_day"] >= 0).all()
    assert ds["communication"].values.min() == -1e-12  # the trajectory keeps its raw values
