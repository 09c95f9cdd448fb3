"""Risk–benefit rows: which therapies a model gets, and each number from two hand-made
Trajectories with known answers."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from evniche.errors import EvnicheError
from evniche.experiments import risk_benefit as rb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "readouts"))
from synthetic_trajectories import synthetic_trajectory  # noqa: E402


def test_aml_rows_are_the_ev_therapies_the_catalog_proposals_and_the_reference():
    rows = rb.therapies("aml")
    names = [t.name for t in rows]
    for name in ("mir34c_ev", "nk_exosomes", "msc_ev", "drug_loaded_ev",
                 "proton_pump_inhibitor", "nsmase2_inhibitor", "heparin", "plasmapheresis"):
        assert name in names
    assert names.count("mir34c_ev") == 1  # an EV therapy and a catalog proposal: one row
    assert rows[-1].origin == "reference" and rows[-1].name == "induction_7_3"
    catalog = [t for t in rows if t.origin == "catalog proposal"]
    assert {t.name for t in catalog} == {"nsmase2_inhibitor", "heparin", "plasmapheresis"}
    heparin = next(t for t in catalog if t.name == "heparin")
    assert heparin.options == {"targets": ["MSC"]} and heparin.item(200.0)["start"] == 0.0
    assert rows[0].item(200.0) == {"name": "mir34c_ev", "start": 200.0, "options": {}}


def _arms():
    """Control: LSC = 3t (take-over, 20 % blasts, on day 6.67). Treated: LSC = 1.5t (never
    within 10 days), with a product pool A given on day 2 carrying tissue factor."""
    control = synthetic_trajectory()
    control.attrs["volume_blood_mL"] = 3000.0
    control["pool_cargo"] = (("pool", "cargo"), np.array([[0.0], [0.0]]))
    control = control.assign_coords(cargo=["tissue_factor"])
    treated = control.copy(deep=True)
    treated["cells"].loc[{"cell_type": "LSC"}] = 1.5 * treated["time"].values
    treated["pool_cargo"] = (("pool", "cargo"), np.array([[2.0e3], [0.0]]))
    given = np.zeros((treated.sizes["time"], 2, 1))
    given[2:, 0, 0] = 1.0e12  # 1e12 EVs × 2e3 TF copies in 3000 mL: 1.1 pM at the bolus
    treated["ledger"] = (("time", "pool", "term"), given)
    treated = treated.assign_coords(term=["administered"], source=["A", "B"],
                                    target=["HSC", "LSC", "mature"])
    per_day = np.zeros((treated.sizes["time"], 2, 3, 1))
    per_day[:, 0, :, 0] = [10.0, 30.0, 0.0]  # product TF copies/day to HSC, LSC, mature
    treated["cargo_delivered"] = (("time", "source", "target", "cargo"), per_day)
    return control, treated


def test_a_row_from_known_trajectories():
    control, treated = _arms()
    row = rb.Row(rb.Therapy("product", "therapeutic_ev"))
    rb._evaluate(row, control, treated, 0.0, 10.0)
    assert row.takeover_delay_days == pytest.approx(10.0 - 20 / 3)
    assert row.takeover_lower_bound  # the treated arm never takes over within the run
    # blasts at day 10: control 30/100, treated 15/85
    assert row.blast_change == pytest.approx((15 / 85 - 0.30) / 0.30)
    # the bolus on day 2: 1e12 × 2e3 / 3000 mL of TF copies, as pM
    assert row.tf_pM_treated == pytest.approx(1e12 * 2e3 / 3000 / 6.02214076e8)
    assert row.tf_pM_control == 0.0 and row.etp_control == 0.0
    assert row.etp_treated > 0
    assert row.complement_fold == pytest.approx(1.0)  # the product exposes no PS
    assert math.isnan(row.support_change)  # the model has no MSC source
    assert row.cargo == "tissue_factor"
    assert row.off_target_share == pytest.approx(0.25)  # 10 of 40 copies/day reach HSCs
    # 10 copies/day × 8 days (2-10: the window is the run, delivery before the dose is 0
    # only in a real run; here the series is 10/day from day 0): 100 copies, one dose,
    # per HSC of the mean count 85
    assert row.cargo_per_dose_hspc == pytest.approx(100.0)
    assert row.cargo_per_hspc == pytest.approx(100.0 / 85.0)


def test_refused_window():
    with pytest.raises(EvnicheError, match="--window"):
        rb.assess("aml", [], window=0.0)
