"""Scenario framework: verdicts come from simulated numbers; every catalog scenario runs."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from evniche.errors import EvnicheError
from evniche.experiments.catalog import _cells, catalog, select
from evniche.experiments.scenario_report import write_report
from evniche.experiments.scenarios import (
    Anchor,
    Arm,
    Readout,
    Runner,
    Scenario,
    anchored_day,
    relative_effect,
    run_scenario,
    summarize,
    verdict,
    wanted,
)

sys.path.insert(0, str(Path(__file__).parents[1] / "compile"))
from test_interventions import MODEL  # noqa: E402

#: one runner for the catalog tests: scenarios share their controls
RUNNER = Runner()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "scenario.yaml"
    path.write_text(MODEL, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def runner():
    return Runner({"equilibrate_first": False})


def _chemo_scenario(model: str, expected: int) -> Scenario:
    return Scenario("cytarabine-kills-blasts", "cytarabine lowers blasts (test)", ("test",),
                    Arm(model, ({"name": "cytarabine", "start": 1},)), Arm(model),
                    Readout("blasts", "cells", _cells(["blast"])), expected=expected,
                    margin=0.05, days=10)


def test_verdict_arithmetic():
    assert relative_effect(10.0, 8.0) == pytest.approx(-0.2)
    assert relative_effect(0.0, 1.0) == math.inf
    assert verdict(-0.2, -1, 0.1) == "agree"
    assert verdict(-0.05, -1, 0.1) == "disagree"
    assert verdict(-0.2, +1, 0.1) == "disagree"


def test_a_bounded_finding_disagrees_beyond_its_upper_end():
    """A published range has two ends: an effect too large disagrees as one too small."""
    assert verdict(-0.5, -1, 0.32, most=1.74) == "agree"
    assert verdict(-1.74, -1, 0.32, most=1.74) == "agree"
    assert verdict(-5.15, -1, 0.32, most=1.74) == "disagree"
    assert verdict(-0.2, -1, 0.32, most=1.74) == "disagree"
    assert verdict(-math.inf, -1, 0.32, most=1.74) == "disagree"
    assert verdict(-math.inf, -1, 0.32) == "agree"  # unbounded: as before
    assert wanted(-1, 0.32, 1.74) == "-32% … -174%"
    assert wanted(+1, 0.05) == "≥ +5%"


def test_scenario_verdict_comes_from_the_simulation(model_path, runner):
    result = run_scenario(_chemo_scenario(model_path, -1), runner)
    assert result.verdict == "agree", result.error
    assert result.treatment < result.control
    assert result.effect == pytest.approx((result.treatment - result.control)
                                          / result.control)


def test_opposite_expectation_is_reported_as_disagreeing(model_path, runner):
    scenario = _chemo_scenario(model_path, -1).opposite()
    result = run_scenario(scenario, runner)
    assert result.verdict == "disagree"
    assert result.effect < -0.05  # the same numbers; only the expectation differs


def test_missing_mechanism_is_an_error_naming_it(model_path, runner):
    s = Scenario("needs-dkk1", "x", ("test",), Arm(model_path), Arm(model_path),
                 Readout("DKK1", "1/mL", lambda ds, net: ds["cytokines"].sel(cytokine="DKK1")
                         if "DKK1" in ds["cytokine"].values else _missing()),
                 expected=1, days=2)
    result = run_scenario(s, runner)
    assert result.verdict == "error" and "DKK1" in result.error


def _missing():
    raise EvnicheError("the model has no cytokine 'DKK1'")


def test_report_has_table_and_plots(model_path, runner, tmp_path):
    results = [run_scenario(_chemo_scenario(model_path, -1), runner)]
    page = write_report(results, tmp_path / "rep").read_text(encoding="utf-8")
    assert "cytarabine-kills-blasts" in page and "data:image/png;base64," in page
    assert "1 of 1 agree" in page


def test_unknown_scenario_is_refused():
    with pytest.raises(EvnicheError, match="unknown scenario"):
        select(["no-such-scenario"])


@pytest.mark.parametrize("name", sorted(catalog()))
def test_every_catalog_scenario_runs(name):
    """Each scenario runs to a verdict; a model lacking a mechanism names it (error)."""
    result = run_scenario(catalog()[name], RUNNER)
    assert result.verdict in ("agree", "disagree", "error")
    if result.verdict == "error":
        assert result.error
    else:
        assert math.isfinite(result.control)
        assert result.effect == relative_effect(result.control, result.treatment)



# ----------------------------------------------------------------------------- anchors
def test_anchored_days_parse_only_declared_anchors():
    days = {"diagnosis": 200.0}
    assert anchored_day("diagnosis", days) == 200.0
    assert anchored_day("diagnosis+14", days) == 214.0
    assert anchored_day("diagnosis - 2.5", days) == 197.5
    for other in (3, "12 h", "relapse+3", "some_parameter"):
        assert anchored_day(other, days) == other


def _first_day_below(count: float):
    def day(ds, net):
        from evniche.readouts.clinical import first_crossing

        blasts = ds["cells"].sel(cell_type="blast").values
        return first_crossing(ds["time"].values, -blasts, -count)
    return day


def test_interventions_start_on_the_anchor_day_of_the_reference_run(model_path, runner):
    # the reference run (no treatment) tells the day blasts fall below 8e6 cells; the
    # treated arm gets cytarabine on that day and the readout window follows it
    anchor = Anchor("peak", Arm(model_path), _first_day_below(8e6), "blasts below 8e6", 20)
    scenario = Scenario("chemo-at-peak", "cytarabine at the anchor day", ("test",),
                        Arm(model_path, ({"name": "cytarabine", "start": "peak"},)),
                        Arm(model_path), Readout("blasts", "cells", _cells(["blast"]),
                                                 summary="min", window=("peak", "peak+5")),
                        expected=-1, margin=0.05, days="peak+6", anchors=(anchor,))
    reference, _ = runner.run(Arm(model_path), 20)
    day = _first_day_below(8e6)(reference, None)
    assert day is not None and 1 < day < 19
    result = run_scenario(scenario, runner)
    assert result.verdict == "agree", result.error
    assert result.anchors == {"peak": pytest.approx(day)}
    assert result.resolved.treatment.interventions[0]["start"] == pytest.approx(day)
    assert result.resolved.readout.window == (pytest.approx(day), pytest.approx(day + 5))
    assert result.resolved.days == pytest.approx(day + 6)
    # the nadir is read inside the window, not at the end of the run
    series = result.treatment_series
    inside = series.where((series.time >= day) & (series.time <= day + 5), drop=True)
    assert result.treatment <= float(inside.min()) + 1e-9


def test_an_anchor_never_reached_is_an_error_naming_it(model_path, runner):
    anchor = Anchor("never", Arm(model_path), lambda ds, net: None, "blasts pass 1e30", 5)
    scenario = Scenario("x", "x", ("test",),
                        Arm(model_path, ({"name": "cytarabine", "start": "never"},)),
                        Arm(model_path), Readout("blasts", "cells", _cells(["blast"])),
                        expected=-1, days=5, anchors=(anchor,))
    result = run_scenario(scenario, runner)
    assert result.verdict == "error" and "'never'" in result.error \
        and "blasts pass 1e30" in result.error


def test_an_anchor_runs_its_arm_with_the_anchors_before_it(model_path, runner):
    """A second anchor's arm and run length may name the first (remission: the run with
    induction at diagnosis): its reference run gets cytarabine on the first anchor's day,
    so its day is that of the treated run, not of the untreated one."""
    first = Anchor("peak", Arm(model_path), _first_day_below(8e6), "blasts below 8e6", 20)
    second = Anchor("low", Arm(model_path, ({"name": "cytarabine", "start": "peak"},)),
                    _first_day_below(4e6), "blasts below 4e6", "peak+10")
    scenario = Scenario("chain", "cytarabine at peak, again when blasts are low", ("test",),
                        Arm(model_path, ({"name": "cytarabine", "start": "peak"},
                                         {"name": "cytarabine", "start": "low"})),
                        Arm(model_path), Readout("blasts", "cells", _cells(["blast"])),
                        expected=-1, days="peak+12", anchors=(first, second))
    result = run_scenario(scenario, runner)
    assert result.error == ""
    peak = result.anchors["peak"]
    treated, _ = runner.run(Arm(model_path, ({"name": "cytarabine", "start": peak},)),
                            peak + 10)
    assert result.anchors["low"] == pytest.approx(_first_day_below(4e6)(treated, None))
    starts = [iv["start"] for iv in result.resolved.treatment.interventions]
    assert starts == [pytest.approx(peak), pytest.approx(result.anchors["low"])]


def test_an_anchor_not_required_and_never_reached_leaves_its_interventions_out(
        model_path, runner):
    """A patient without remission is not consolidated: an optional anchor that never
    comes drops the interventions that start at it, and the scenario still runs."""
    never = Anchor("never", Arm(model_path), lambda ds, net: None, "blasts pass 1e30", 5,
                   required=False)
    scenario = Scenario("x", "x", ("test",),
                        Arm(model_path, ({"name": "cytarabine", "start": 1},
                                         {"name": "cytarabine", "start": "never"})),
                        Arm(model_path), Readout("blasts", "cells", _cells(["blast"])),
                        expected=-1, days=5, anchors=(never,))
    result = run_scenario(scenario, runner)
    assert result.error == ""
    assert result.resolved.treatment.interventions == ({"name": "cytarabine", "start": 1},)
    assert "never" not in result.anchors


def test_summaries():
    import numpy as np
    import xarray as xr

    da = xr.DataArray([5.0, 1.0, 3.0, 4.0], coords={"time": [0.0, 1.0, 2.0, 3.0]},
                      dims="time")
    assert summarize(da, "end") == 4.0
    assert summarize(da, "min", (0.5, 3.0)) == 1.0
    assert summarize(da, "min", (1.5, 3.0)) == 2.0  # interpolated at the window's start
    assert summarize(da, "max", (1.0, 2.5)) == 3.5
    assert summarize(da, "at", (2.5, 2.5)) == 3.5
    assert summarize(da, "mean", (1.0, 3.0)) == pytest.approx(np.mean([2.0, 3.5]))
    with pytest.raises(EvnicheError, match="unknown readout summary"):
        summarize(da, "median")


# ----------------------------------------------------------------------------- catalog
def test_a_catalog_scenario_given_the_opposite_direction_disagrees():
    scenario = catalog()["aml-evs-lower-kitl"]
    right = run_scenario(scenario, RUNNER)
    wrong = run_scenario(scenario.opposite(), RUNNER)
    assert right.verdict == "agree"
    assert wrong.verdict == "disagree"
    assert wrong.effect == right.effect  # the same simulated numbers


def test_consolidation_starts_at_the_remission_of_the_induction_run():
    """induction-7-3-reaches-remission consolidates from the documented CR: the remission
    anchor is the first sample in CR of the run with 7+3 at diagnosis, the day
    `evniche run ... consolidation@remission` starts it (resolve_remission)."""
    from evniche.readouts.clinical import remission_day, remission_sample

    result = run_scenario(catalog()["induction-7-3-reaches-remission"], RUNNER)
    dx = result.anchors["diagnosis"]
    induction = Arm("aml", ({"name": "induction_7_3", "start": dx},))
    treated, _ = RUNNER.run(induction, dx + 60.0)
    k = remission_sample(treated)
    assert k is not None
    assert result.anchors["remission"] == pytest.approx(float(treated["time"].values[k]))
    assert remission_day(treated) <= result.anchors["remission"]
    starts = {iv["name"]: iv["start"] for iv in result.resolved.treatment.interventions}
    assert starts == {"induction_7_3": pytest.approx(dx),
                      "consolidation": pytest.approx(result.anchors["remission"])}


def test_chemotherapy_scenarios_treat_at_diagnosis_of_the_untreated_model():
    from evniche.readouts.clinical import diagnosis_day, takeover_day

    result = run_scenario(catalog()["reprogrammed-msc-evs-protect-blasts"], RUNNER)
    untreated, _ = RUNNER.run(Arm("aml"), 365.0)
    diagnosis = diagnosis_day(untreated)
    assert result.anchors["diagnosis"] == pytest.approx(diagnosis)
    # AML presents with cytopenia, after its blasts pass the WHO 20 %
    assert diagnosis > takeover_day(untreated)
    for arm in (result.resolved.treatment, result.resolved.control):
        starts = {iv["name"]: iv["start"] for iv in arm.interventions}
        assert starts["cytarabine"] == pytest.approx(diagnosis)
    # the arms are the same until diagnosis: only then is the stromal pool blocked
    before = result.control_series.sel(time=slice(None, diagnosis - 1))
    same = result.treatment_series.sel(time=slice(None, diagnosis - 1))
    assert float(abs(before - same).max()) <= 1e-6 * float(same.max())


def test_every_scenario_shows_the_coagulation_risk():
    result = run_scenario(catalog()["aml-more-plasma-evs"], RUNNER)
    assert result.scenario.risk is not None
    # leukemic microvesicles carry tissue factor: an AML plasma holds more than a healthy one
    assert result.risk_ratio > 1.5
