"""The rule operating-range readout: verdicts of designed rules, and the signals it reports
are the ones the engine combined into behaviors."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from synthetic_trajectories import TINY_LEUKEMIA

import evniche
from evniche.errors import EvnicheError
from evniche.readouts.rules import describe, operating_range

INERT = "HSC: uptake:LSC.exosome decreases proliferation"
SATURATED = "mature: fraction:HSC increases death"
RESPONSIVE = "LSC: fraction:LSC increases death"
FLAT = "MSC: fraction:HSC increases secretion:exosome"


def _param(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "source": "assumption: a test value"}


@pytest.fixture(scope="module")
def designed():
    """The tiny leukemia model plus three rules placed against their signals:

    * inert: HSC uptake of LSC exosomes is at most ~0.2 EV/h per cell (LSC ≤ niche capacity
      2e5 cells × 500 EV/h, degraded/drained at 0.6/h in 1000 mL, cleared at 1e-6 mL/h per
      HSC), against a half-max of 1e6 EV/h;
    * saturated: the HSC share of marrow cells stays ≥ ~0.1 (the niche holds both), against
      a half-max of 1e-6;
    * responsive: the LSC share rises from ~1 % toward a majority, half-max 0.1;
    * responsive but nearly constant: the HSC share (0.99 falling to ~0.014 by day 90)
      against a half-max of 3.5e-4: s/K from ~2800 to ~40, r from ~1 to ~0.975.
    """
    data = yaml.safe_load(TINY_LEUKEMIA.read_text(encoding="utf-8"))
    data["parameters"].update({
        "inert_half": _param(1e6, "EV/h"), "tiny_half": _param(1e-6, "dimensionless"),
        "mid_half": _param(0.1, "dimensionless"), "one": _param(1, "dimensionless"),
        "zero_rate": _param(0, "1/h"), "mature_death_max": _param(0.002, "1/h"),
        "lsc_death_max": _param(0.004, "1/h"), "flat_half": _param(3.5e-4, "dimensionless"),
        "sec_msc_max": _param(200, "EV/cell/h"),
    })
    data["rules"] += [
        {"cell_type": "HSC", "signal": "uptake:LSC.exosome", "direction": "decreases",
         "behavior": "proliferation", "saturation": "zero_rate", "half_max": "inert_half",
         "hill_power": "one", "kb": ["aml-exo-mir150-hspc-cmyb-down", "leuk-exmv-hsc-cxcr4-down"]},
        {"cell_type": "mature", "signal": "fraction:HSC", "direction": "increases",
         "behavior": "death", "saturation": "mature_death_max", "half_max": "tiny_half",
         "hill_power": "one", "kb": ["aml-exo-hspc-clonogenicity-down"]},
        {"cell_type": "LSC", "signal": "fraction:LSC", "direction": "increases",
         "behavior": "death", "saturation": "lsc_death_max", "half_max": "mid_half",
         "hill_power": "one"},
        {"cell_type": "MSC", "signal": "fraction:HSC", "direction": "increases",
         "behavior": "secretion:exosome", "saturation": "sec_msc_max", "half_max": "flat_half",
         "hill_power": "one"},
    ]
    model = evniche.load_model(data)
    ds = evniche.simulate(model, days=90, equilibrate_first=False)
    return model, ds


def test_designed_rules_get_their_verdicts(designed):
    _, ds = designed
    frame = operating_range(ds)
    assert frame.loc[INERT, "verdict"] == "inert"
    assert frame.loc[SATURATED, "verdict"] == "saturated"
    assert frame.loc[RESPONSIVE, "verdict"] == "responsive"
    assert not frame.loc[RESPONSIVE, "nearly_constant"]
    assert frame.loc[FLAT, "verdict"] == "responsive" and frame.loc[FLAT, "nearly_constant"]
    assert frame.loc[INERT, "kb"] == "aml-exo-mir150-hspc-cmyb-down;leuk-exmv-hsc-cxcr4-down"
    assert frame.loc[INERT, "ratio_max"] < 1e-5
    assert frame.loc[SATURATED, "response_min"] > 0.99
    # inert and saturated rows come first
    order = list(frame["verdict"])
    assert order.index("responsive") > max(order.index("inert"), order.index("saturated"))
    sentence = describe(frame)
    assert sentence.startswith(f"1 of {len(frame)} rules is inert and 1 saturated")
    assert "; 1 more responds but moves by less than 0.05" in sentence


def test_ratio_is_the_signal_read_off_the_state(designed):
    """Fraction and per-cell uptake signals recomputed from cells and EVs of the Dataset."""
    model, ds = designed
    frame = operating_range(ds)
    counted = ds.attrs["marrow_counted"].split(";")
    cells = ds["cells"]
    share = cells.sel(cell_type="LSC") / cells.sel(cell_type=counted).sum("cell_type")
    np.testing.assert_allclose(frame.loc[RESPONSIVE, "ratio_end"] * 0.1,
                               float(share.isel(time=-1)), rtol=1e-12)
    np.testing.assert_allclose(frame.loc[RESPONSIVE, "ratio_start"] * 0.1,
                               float(share.isel(time=0)), rtol=1e-12)
    # uptake per HSC = clearance (mL/h per cell) × LSC exosomes per mL of marrow
    conc = ds["ev_concentration"].sel(pool="LSC.exosome", compartment="marrow")
    per_cell = model.params.resolved["up"].value * conc.isel(time=-1)
    np.testing.assert_allclose(frame.loc[INERT, "signal_end"], float(per_cell), rtol=1e-12)
    assert frame.loc[INERT, "signal_end"] > 0


def _combine(rows, base: float, at: str) -> float:
    """The generalized PhysiCell rule from the reported ratios (docs/model-format.md)."""
    u = base
    for direction in ("increases", "decreases"):
        part = rows[rows["direction"] == direction]
        h = part[f"ratio_{at}"].to_numpy() ** part["hill_power"].to_numpy()
        u = u + float(np.sum(h * (part["saturation"].to_numpy() - u))) / (1.0 + h.sum())
    return u


def test_reported_ratios_reproduce_the_engine_behaviors(designed):
    _, ds = designed
    frame = operating_range(ds)
    checked = 0
    for (cell, behavior), rows in frame.groupby(["cell_type", "behavior"]):
        base = float(rows["base"].iloc[0])
        for at, index in (("start", 0), ("end", -1)):
            engine = float(ds["behaviors"].sel(behavior=f"{cell}.{behavior}").isel(time=index))
            np.testing.assert_allclose(_combine(rows, base, at), engine, rtol=1e-10,
                                       atol=1e-300)
            checked += 1
    assert checked == 2 * 5  # five rules on five behaviors, at the start and the end


def test_takeover_ratio_lies_between_start_and_end(designed):
    _, ds = designed
    row = operating_range(ds).loc[RESPONSIVE]
    assert row["ratio_start"] < row["ratio_takeover"] < row["ratio_end"]


def test_needs_rule_signals(designed):
    _, ds = designed
    with pytest.raises(EvnicheError, match="rule_signals"):
        operating_range(ds.drop_vars("rule_signals"))
