"""Findings answered with P(agree), proposals with P(effect ≥ threshold), and the exit
status of ``evniche scenarios run`` (non-zero only for a contradicted finding)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from evniche.cli import main
from evniche.errors import EvnicheError
from evniche.experiments.agreement import POINT, answer, draws_for, prior_draws
from evniche.experiments.catalog import _cells, catalog
from evniche.experiments.scenarios import Arm, Readout, Runner, Scenario, anchors_used

sys.path.insert(0, str(Path(__file__).parents[1] / "compile"))
from test_interventions import MODEL  # noqa: E402

RATE = "dmax_rate: {value: 0.05, unit: 1/h, "


@pytest.fixture(scope="module")
def runner():
    return Runner({"equilibrate_first": False})


def _model(tmp_path_factory, name: str, low: float, high: float,
           value: float = 0.05) -> str:
    """The catalog test model with a plausible range on cytarabine's maximal kill rate."""
    assert RATE in MODEL
    path = tmp_path_factory.mktemp("m") / f"{name}.yaml"
    path.write_text(MODEL.replace(RATE, f"dmax_rate: {{value: {value}, unit: 1/h, "
                                        f"range: [{low}, {high}], "), encoding="utf-8")
    return str(path)


def _chemo(model: str, expected: int, kind: str = "finding") -> Scenario:
    return Scenario("cytarabine-lowers-blasts", "test", ("test",),
                    Arm(model, ({"name": "cytarabine", "start": 1},)), Arm(model),
                    Readout("blasts", "cells", _cells(["blast"])), expected=expected,
                    margin=0.05, days=5, kind=kind, uncertain=("dmax_rate",))


def test_a_reproduced_and_a_contradicted_finding_on_the_point_model(tmp_path_factory,
                                                                     runner):
    model = _model(tmp_path_factory, "point", 0.01, 0.1)
    good = answer(_chemo(model, -1), POINT, runner)
    assert (good.p, good.verdict, len(good.members)) == (1.0, "reproduced", 1)
    bad = answer(_chemo(model, +1), POINT, runner)
    assert (bad.p, bad.verdict, bad.contradicted) == (0.0, "contradicted", True)


def test_a_proposal_is_answered_over_the_prior_with_a_known_answer(tmp_path_factory,
                                                                   runner):
    # a strong drug over the whole range (at least the point value, which kills > 5 %):
    # every draw reaches the threshold; a drug 10^5 times weaker never does
    strong = _model(tmp_path_factory, "strong", 0.05, 0.1)
    weak = _model(tmp_path_factory, "weak", 5e-7, 1e-6, value=7e-7)
    for model, p in ((strong, 1.0), (weak, 0.0)):
        s = _chemo(model, -1, kind="proposal")
        draws = draws_for(s, None, 4, seed=1)
        assert len(draws.draws) == 4 and "prior predictive" in draws.label
        a = answer(s, draws, runner)
        assert a.p == p and a.verdict == "answered"
        q = a.effect_q
        assert q[0] < q[2] < q[4]  # the draws reached the arms: the effects differ
        assert (q[4] <= -0.05) if p == 1.0 else (q[0] > -0.05)


def test_prior_draws_stay_in_the_range_and_repeat_with_the_seed(tmp_path_factory):
    model = _model(tmp_path_factory, "draws", 0.01, 0.1)
    a = prior_draws(model, ["dmax_rate"], 50, seed=2)
    assert a.draws == prior_draws(model, ["dmax_rate"], 50, seed=2).draws
    values = [d["parameters.dmax_rate"] for d in a.draws]
    assert all(0.01 <= v <= 0.1 for v in values)
    assert min(values) < 0.02 and max(values) > 0.05  # log-uniform: both decades reached
    with pytest.raises(EvnicheError, match="'vm' has no plausible range"):
        prior_draws(model, ["vm"], 3)


@pytest.mark.parametrize(("expected", "kind", "code"), [
    (-1, "finding", 0), (+1, "finding", 1), (+1, "proposal", 0)])
def test_exit_status_is_1_only_for_a_contradicted_finding(tmp_path_factory, monkeypatch,
                                                          capsys, expected, kind, code):
    model = _model(tmp_path_factory, "cli", 0.01, 0.1)
    import evniche.experiments.catalog as cat

    monkeypatch.setattr(cat, "select", lambda names: [_chemo(model, expected, kind)])
    report = tmp_path_factory.mktemp("rep")
    assert main(["scenarios", "run", "--prior-draws", "0", "--report", str(report)]) == code
    out = capsys.readouterr().out
    assert ("contradicted" in out.split("findings reproduced")[0]) == (code == 1)
    page = (report / "index.html").read_text(encoding="utf-8")
    assert "Findings: published results" in page and "Proposals: the reviews" in page


def test_every_catalog_scenario_is_a_finding_or_a_proposal_with_a_reason():
    kinds = {s.name: s.kind for s in catalog().values()}
    assert all(s.reason for s in catalog().values())
    assert kinds["pdl1-ev-removal-restores-cd8-killing"] == "proposal"
    assert catalog()["pdl1-ev-removal-restores-cd8-killing"].uncertain == (
        "ev_blood_half_life",)
    assert kinds["induction-7-3-reaches-remission"] == "finding"
    lasting = catalog()["remission-after-7-3-lasts-six-months"]
    assert lasting.kind == "finding"
    assert anchors_used(lasting) == {"diagnosis", "remission"}  # read at diagnosis+210
    assert kinds["mir34c-il3-evs-reduce-lsc"] == "proposal"
    with pytest.raises(EvnicheError, match="kind must be one of finding, proposal"):
        Scenario("x", "x", (), Arm("aml"), Arm("aml"), Readout("x", "1", _cells()),
                 expected=1, kind="hope")


def test_a_shipped_posterior_is_used_and_a_stale_one_skipped(tmp_path_factory, monkeypatch,
                                                             runner):
    import evniche
    import evniche.experiments.agreement as agreement

    model = _model(tmp_path_factory, "shipped", 5e-7, 0.1)
    folder = tmp_path_factory.mktemp("post")
    resolved = evniche.load_model(model)
    pd.DataFrame({"parameters.dmax_rate": [7e-7], "weight": [1.0]}).to_parquet(
        folder / "posterior.parquet")
    meta = {"model": resolved.name, "digest": resolved.digest, "parameters": {}}
    (folder / "posterior.json").write_text(json.dumps(meta), encoding="utf-8")
    monkeypatch.setattr(agreement, "shipped_posterior", lambda name: folder)
    s = _chemo(model, -1)
    draws = draws_for(s, None, 4, seed=0, ensemble_n=3)
    assert draws.label.startswith("posterior") and len(draws.draws) == 3
    # `scenarios run --posterior none`: the shipped posterior is not looked at
    unshipped = draws_for(s, None, 4, seed=0, ensemble_n=3, shipped=False)
    assert "prior predictive" in unshipped.label and "shipped" not in unshipped.label
    # the one particle is a drug 10^5 times weaker: the finding is contradicted under it
    a = answer(s, draws, runner)
    assert a.contradicted and not a.errors
    assert answer(s, POINT, runner).verdict == "reproduced"  # the point model agrees
    (folder / "posterior.json").write_text(json.dumps({**meta, "digest": "0" * 16}),
                                           encoding="utf-8")
    stale = draws_for(s, None, 4, seed=0)
    assert "prior predictive" in stale.label and "shipped posterior not used" in stale.label
