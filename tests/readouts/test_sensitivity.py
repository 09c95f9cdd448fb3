"""Elasticities of the take-over day by central finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_trajectories import TINY_LEUKEMIA, synthetic_trajectory

import evniche
from evniche.errors import EvnicheError
from evniche.readouts import sensitivity


def _power_law_runner(base: dict[str, float], exponents: dict[str, float]):
    """A fake engine: blast % = slope·t with slope chosen so that take-over (20 %) happens
    on day T = 5 · Π (p/p0)^e, a power law with known elasticities e."""

    def run(overrides):
        values = {**base, **overrides}
        takeover = 5.0 * np.prod([(values[k] / base[k]) ** e for k, e in exponents.items()])
        ds = synthetic_trajectory(days=30)
        t = ds["time"].values
        blast = np.clip(20.0 * t / takeover, 0, 100)
        ds["cells"].loc[{"cell_type": "LSC"}] = blast
        ds["cells"].loc[{"cell_type": "HSC"}] = 100 - blast
        return ds

    return run


def test_power_law_elasticities_are_recovered_and_sorted():
    base = {"a": 2.0, "b": 0.5, "c": 10.0}
    exps = {"a": -1.0, "b": 0.5, "c": 0.0}
    # sample the take-over exactly: blast % is linear in t, so interpolation is exact
    frame = sensitivity.takeover_elasticities(_power_law_runner(base, exps), base)
    assert list(frame["parameter"]) == ["a", "b", "c"]
    got = dict(zip(frame["parameter"], frame["elasticity"], strict=True))
    assert got["a"] == pytest.approx(-1.0, rel=1e-9)
    assert got["b"] == pytest.approx(0.5, rel=1e-9)
    assert got["c"] == pytest.approx(0.0, abs=1e-12)
    assert frame["outcome_base"].iloc[0] == pytest.approx(5.0)
    assert "a (elasticity -1.00)" in sensitivity.describe(frame)


def test_changes_stay_inside_the_plausible_range_one_sided_at_its_edge():
    base = {"a": 2.0, "b": 0.5}
    exps = {"a": -1.0, "b": 0.5}
    ranges = {"a": (2.0, 3.0), "b": (0.48, 0.6)}  # a sits on its lower edge
    frame = sensitivity.takeover_elasticities(_power_law_runner(base, exps), base,
                                              ranges=ranges)
    got = frame.set_index("parameter")
    assert got.loc["a", "elasticity"] == pytest.approx(-1.0, rel=1e-9)
    assert got.loc["a", "outcome_low"] == pytest.approx(5.0)  # the baseline itself
    assert got.loc["b", "elasticity"] == pytest.approx(0.5, rel=1e-9)
    assert "plausible range" in got.loc["b", "note"]


def test_no_outcome_at_one_end_gives_a_one_sided_elasticity():
    base = {"a": 2.0}

    def run(overrides):
        a = overrides.get("a", base["a"])
        ds = synthetic_trajectory(days=30)
        t = ds["time"].values
        takeover = 5.0 * (a / 2.0) ** -2  # no take-over at all when a is lower
        blast = np.clip(20.0 * t / takeover, 0, 100) if a >= 2.0 else 0.0 * t
        ds["cells"].loc[{"cell_type": "LSC"}] = blast
        ds["cells"].loc[{"cell_type": "HSC"}] = 100 - blast
        return ds

    row = sensitivity.takeover_elasticities(run, base).iloc[0]
    assert row["elasticity"] == pytest.approx(-2.0, rel=1e-9)
    assert np.isnan(row["outcome_low"])
    assert "one-sided" in row["note"] and "1.8" in row["note"]


def test_no_takeover_gives_nan_with_a_note():
    def run(overrides):
        return synthetic_trajectory()  # blast % reaches 30 %, never 50 %

    frame = sensitivity.elasticities(run, {"x": 1.0}, threshold=50)
    assert np.isnan(frame["elasticity"].iloc[0])
    assert "no outcome" in frame["note"].iloc[0]


def test_bad_step_is_rejected():
    with pytest.raises(EvnicheError, match="step"):
        sensitivity.elasticities(lambda o: synthetic_trajectory(), {"x": 1.0}, step=1.5)


def test_leukemia_takeover_is_faster_with_more_lsc_self_renewal():
    def run(overrides):
        return evniche.simulate(
            str(TINY_LEUKEMIA), days=60, equilibrate_first=False, rtol=1e-6,
            overrides={f"parameters.{k}": v for k, v in overrides.items()})

    frame = sensitivity.takeover_elasticities(run, {"a_lsc": 0.8, "sec_lsc": 500.0})
    got = dict(zip(frame["parameter"], frame["elasticity"], strict=True))
    # more self-renewal of leukemic stem cells → earlier take-over
    assert got["a_lsc"] < -1
    # LSC exosomes act on no behavior here, so they cannot change the take-over day
    assert abs(got["sec_lsc"]) < 1e-3
    assert frame["parameter"].iloc[0] == "a_lsc"
