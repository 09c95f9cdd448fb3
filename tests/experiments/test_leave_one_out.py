"""Leave one out (evniche.experiments.leave_one_out): findings link the observation records
that state their published result, the refit leaves out exactly those (checked on a tiny
model where the left-out record is the one that constrains the parameter), and the
findings tables show P(agree) with and without them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyabc
import pytest
import yaml
from rich.console import Console

from evniche.cli import main
from evniche.cli.scenarios import left_out_lines, left_out_table
from evniche.errors import EvnicheError
from evniche.experiments.agreement import Answer
from evniche.experiments.calibration import calibrate, interval
from evniche.experiments.catalog import catalog
from evniche.experiments.leave_one_out import (
    LeftOut,
    check_links,
    fits,
    in_fit,
    read_meta,
    refit,
    standing,
)
from evniche.experiments.scenario_report import answer_tables
from evniche.experiments.scenarios import Arm, Readout, Scenario, ScenarioResult
from evniche.observations import load

TINY = str((Path(__file__).parents[1] / "calibration" / "tiny.yaml").resolve())
DAYS = 2


def _scenario(name: str = "x-finding", observations: tuple[str, ...] = ()) -> Scenario:
    return Scenario(name, "a finding", (), Arm("aml"), Arm("healthy"),
                    Readout("r", "1", lambda ds, net: ds), expected=+1,
                    observations=observations)


# ------------------------------------------------------------------------- the links


def test_every_catalog_link_names_a_shipped_record_of_the_same_source():
    scenarios = list(catalog().values())
    check_links(scenarios)
    records = {r.id: r for r in load()}
    linked = {s.name: s.observations for s in scenarios if s.observations}
    # hand-linked: the "more plasma EVs" findings and the records quoting Caivano 2014
    assert linked["aml-more-plasma-evs"] == ("PAT-1-AML-above-healthy", "PAT-1-AML-serum-MV")
    for name, ids in linked.items():
        assert catalog()[name].kind == "finding"
        for oid in ids:
            assert "124(21):2917" in records[oid].source.ref, (name, oid)
    # findings of another published result link nothing (e.g. the Kumar 2018 cytokine
    # findings are not the Rab27a growth record GRW-1 of the same paper)
    assert not catalog()["aml-evs-lower-cxcl12"].observations


def test_an_unknown_observation_id_is_an_error_naming_the_scenario():
    with pytest.raises(EvnicheError, match=r"scenario 'x-finding': observation 'NO-SUCH' "
                                           r"is not an observation record"):
        check_links([_scenario(observations=("PAT-1-AML-serum-MV", "NO-SUCH"))])


def test_standing_says_which_linked_records_are_in_the_fit(tmp_path):
    (tmp_path / "posterior.json").write_text(json.dumps(
        {"model": "aml", "observations": [{"id": "PAT-1-AML-serum-MV"}, {"id": "GRW-1-AML-"
                                                                          "rab27a-knockdown-delays"}]}))
    linked = _scenario("linked", ("PAT-1-AML-above-healthy", "PAT-1-AML-serum-MV"))
    other = _scenario("other", ("PAT-1-CML-serum-MV",))
    rows = standing([Answer(linked, "posterior", [ScenarioResult(linked, verdict="agree")],
                            folder=str(tmp_path)),
                     Answer(other, "posterior", [ScenarioResult(other, verdict="agree")],
                            folder=str(tmp_path)),
                     Answer(other, "point model", [ScenarioResult(other, verdict="agree")])])
    assert [r.fitted for r in rows] == [("PAT-1-AML-serum-MV",), (), ()]
    assert [r.still for r in rows] == ["not run", "not in the fit", "not in the fit"]


# ------------------------------------------------------------------------- the refit


def _record(rid: str, measurement: dict, value: float, fold: float) -> dict:
    return {"id": rid, "measured": "synthetic", "system": "in_vitro", "species": "human",
            "conditions": [{"preset": TINY, "at": DAYS, "days": DAYS}],
            "measurement": measurement,
            "observed": {"value": value, "unit": "1/mL" if measurement["model"] ==
                         "nta_count" else "dimensionless", "statistic": "median",
                         "spread": {"fold": fold, "source": "assumption: synthetic"}},
            "source": {"ref": "synthetic", "quote": "made by the tiny model itself"}}


@pytest.fixture(scope="module")
def two_records(tmp_path_factory) -> Path:
    """SYN-COUNT: the tiny model's NTA count at secretion 100 EV/cell/h (tight: it pins
    ``sec``); SYN-SIZE: the share of EVs >= 100 nm, which no secretion rate changes."""
    from evniche.experiments.calibration import Objective, free_parameters
    from evniche.spec.loader import load_model

    folder = tmp_path_factory.mktemp("obs")
    nta = {"model": "nta_count", "parameters": {
        "low_nm": {"value": 20, "unit": "nm", "source": "assumption: test"}}}
    size = {"model": "flow_fraction", "parameters": {
        "threshold_nm": {"value": 100, "unit": "nm", "source": "assumption: test"}}}
    records = [_record("SYN-COUNT", nta, 1.0, 1.5), _record("SYN-SIZE", size, 0.5, 1.5)]
    (folder / "syn.yaml").write_text(yaml.safe_dump(records), encoding="utf-8")
    objective = Objective(load([folder]), free_parameters(load_model(TINY), ["sec"]))
    rows = objective.comparisons({"parameters.sec": 100.0})
    records[0]["observed"]["value"] = float(rows[0].model)
    records[1]["observed"]["value"] = float(rows[1].model)
    (folder / "syn.yaml").write_text(yaml.safe_dump(records), encoding="utf-8")
    return folder


def _decades(folder: Path) -> float:
    frame = pd.read_parquet(folder / "posterior.parquet")
    lo, hi = interval(frame["parameters.sec"].to_numpy(), frame["weight"].to_numpy())
    return float(np.log10(hi / lo))


@pytest.fixture
def seeded():
    """pyABC's single-core sampling draws from numpy's global generator: seed it here."""
    state = np.random.get_state()  # noqa: NPY002 (pyABC uses the legacy global)
    np.random.seed(1)  # noqa: NPY002
    yield
    np.random.set_state(state)  # noqa: NPY002


def test_refit_leaves_out_exactly_the_linked_record(two_records, tmp_path, seeded,
                                                   monkeypatch):
    from evniche.experiments import leave_one_out

    def sampler():
        return pyabc.sampler.SingleCoreSampler(check_max_eval=True)

    base = tmp_path / "base"
    calibrate(TINY, base, observations=[two_records], parameters=["sec"], population=6,
              generations=2, sampler=sampler(), predictive=0)
    meta = read_meta(base)
    assert [o["id"] for o in meta["observations"]] == ["SYN-COUNT", "SYN-SIZE"]
    # shipped as `evniche calibrate PRESET --ship --leave-one-out` does, for a finding
    # linked to SYN-COUNT (the refit's work folder lands in build/ of the current folder)
    finding = _scenario("tiny-finding", ("SYN-COUNT",))
    monkeypatch.setattr(leave_one_out, "linked_findings",
                        lambda model, base_meta: [(finding, in_fit(finding, base_meta))])
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "posteriors"
    (root / "tiny" / "leave-one-out" / "gone-finding").mkdir(parents=True)
    shipped = leave_one_out.ship_all("tiny", base, observations=[two_records],
                                     sampler=sampler, root=root, command="make it")
    out = root / "tiny" / "leave-one-out" / "tiny-finding"
    assert shipped == [out]
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny-finding"]  # stale: gone
    work = list((tmp_path / "build" / "posteriors").iterdir())  # the refit, kept in build/
    assert len(work) == 1 and work[0].name.startswith("tiny.yaml-")
    loo = read_meta(out)
    assert loo["finding"] == "tiny-finding" and loo["command"] == "make it"
    assert [o["id"] for o in loo["observations"]] == ["SYN-SIZE"]
    assert loo["left_out"] == ["SYN-COUNT"]
    assert loo["population"] == 6
    assert [p["name"] for p in loo["parameters"]] == ["sec"]
    # the count pins the secretion rate; without it only the prior (2 decades) is left
    # (seeded: measured 0.07-0.29 decades with it, 1.24-1.64 without, over seeds 1-3)
    assert _decades(base) < 0.6
    assert _decades(out) > 1.0
    assert fits(out, meta, ["SYN-COUNT"]) == ""
    assert "leaves out" in fits(out, meta, ["SYN-SIZE"])
    with pytest.raises(EvnicheError, match="leave out NOPE: not in the fit"):
        refit(meta, ["NOPE"], tmp_path / "other", observations=[two_records])


def test_calibrate_refuses_to_leave_out_an_unknown_record(two_records, tmp_path):
    with pytest.raises(EvnicheError, match="leave out NOPE: not an observation record on"):
        calibrate(TINY, tmp_path, observations=[two_records], parameters=["sec"],
                  leave_out=["NOPE"], sampler=pyabc.sampler.SingleCoreSampler())
    with pytest.raises(EvnicheError, match="no record on .* would be left to fit"):
        calibrate(TINY, tmp_path, observations=[two_records], parameters=["sec"],
                  leave_out=["SYN-COUNT", "SYN-SIZE"],
                  sampler=pyabc.sampler.SingleCoreSampler())


def test_calibrate_leave_one_out_needs_ship(capsys):
    assert main(["calibrate", "aml", "--out", "x", "--leave-one-out"]) == 2
    assert "error: --leave-one-out: only with --ship" in capsys.readouterr().err


# ------------------------------------------------------------------------- rendering


def _answer(s: Scenario, agree: int, of: int) -> Answer:
    return Answer(s, "posterior P", [ScenarioResult(s, verdict="agree" if i < agree else
                                                    "disagree", effect=0.5)
                                     for i in range(of)])


def test_tables_show_p_agree_with_and_without_the_own_observations():
    kept = _scenario("kept-finding", ("OBS-A",))
    lost = _scenario("lost-finding", ("OBS-B",))
    free = _scenario("free-finding")
    answers = [_answer(kept, 4, 4), _answer(lost, 4, 4), _answer(free, 3, 4)]
    rows = [LeftOut(kept, ("OBS-A",), 1.0, without=_answer(kept, 3, 4), posterior="L1"),
            LeftOut(lost, ("OBS-B",), 1.0, without=_answer(lost, 1, 4), posterior="L2"),
            LeftOut(free, (), 0.75)]
    assert [r.still for r in rows] == ["yes", "no", "not in the fit"]
    page = answer_tables(answers, rows)
    assert "<th>without own observations</th>" in page
    assert "<td class='ok' title='left out: OBS-A; effect without them +50 % (90 % CrI +50 % " \
           "– +50 %); posterior L1'>1.00 → 0.75: yes</td>" in page
    assert "title='left out: OBS-B; effect without them +50 % (90 % CrI +50 % – +50 %); " \
           "posterior L2'>1.00 → 0.25: no</td>" in page
    assert "not in fit</td>" in page and "the verdict does not rest on it" in page
    assert "without own observations" not in answer_tables(answers)  # no column without it

    console = Console(record=True, width=80)  # a pipe: rich assumes 80 columns
    console.print(left_out_table(rows))
    for line in left_out_lines(rows):
        console.print(line, soft_wrap=True)
    text = console.export_text()
    table = [line.split() for line in text.splitlines()]
    assert ["kept-finding", "1", "1.00", "0.75", "yes"] in table
    assert ["lost-finding", "1", "1.00", "0.25", "no"] in table
    assert ["free-finding", "none", "0.75", "–", "not", "in", "the", "fit"] in table
    assert "lost-finding: its observation(s) OBS-B are in the fit; P(agree) 1.00 with, " \
           "0.25 without (effect +50.0%); still reproduced: no" in " ".join(text.split())
    assert "free-finding: its" not in text
    assert "the verdict does not rest on it" in text


# ------------------------------------------------------------------------- shipped


def _shipped_bases():
    from evniche.experiments.posterior import shipped_folder as base_folder
    from evniche.spec.loader import preset_names

    return [(p, base_folder(p)) for p in preset_names() if base_folder(p) is not None]


@pytest.mark.parametrize(("preset", "folder"), _shipped_bases())
def test_each_finding_in_a_shipped_fit_ships_its_leave_one_out_posterior(preset, folder):
    from evniche.experiments.leave_one_out import linked_findings, shipped_folder

    base = read_meta(folder)
    for scenario, fitted in linked_findings(preset, base):
        loo = shipped_folder(preset, scenario.name)
        why = fits(loo, base, fitted)
        assert not why, (f"the leave-one-out posterior of '{scenario.name}' does not fit "
                         f"({why}); regenerate: `make posteriors`, then commit "
                         "src/evniche/posteriors/")
        meta = read_meta(loo)
        assert meta["finding"] == scenario.name and meta["regenerate"] == "make posteriors"
        assert "--leave-one-out" in meta["command"].split()


def test_report_page_names_the_own_records_and_a_failed_refit(tmp_path):
    from evniche.experiments.scenario_report import write_report

    s = _scenario("kept-finding", ("OBS-A", "OBS-B"))
    r = ScenarioResult(s, error="not simulated in this test")
    page = write_report([r], tmp_path, [Answer(s, "posterior P", [r])],
                        [LeftOut(s, ("OBS-A",), 0.0, error="refit failed")]
                        ).read_text(encoding="utf-8")
    assert "own observation records (the same published result): OBS-A, OBS-B" in page
    assert "<th>without own observations</th>" in page
    assert "title='left out: OBS-A; refit failed'>error</td>" in page
