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
    Arm,
    Readout,
    Runner,
    Scenario,
    relative_effect,
    run_scenario,
    verdict,
)

sys.path.insert(0, str(Path(__file__).parents[1] / "compile"))
from test_interventions import MODEL  # noqa: E402


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "scenario.yaml"
    path.write_text(MODEL)
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
    page = write_report(results, tmp_path / "rep").read_text()
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


RUNNER = Runner()
