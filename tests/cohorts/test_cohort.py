"""A virtual cohort end to end on a tiny model: draws fixed by seed and index, a killed
cohort resumes without losing or redoing a subject, Dask gives the same cohort as one
process, other settings in the same folder are refused, the CLI writes its report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import evniche
from evniche.cli import main
from evniche.cohorts import analysis, cohort, population
from evniche.errors import EvnicheError
from evniche.experiments import distribute

TINY = Path(__file__).with_name("tiny.yaml")
VARIATIONS = (
    population.Variation("p_lsc", "uniform", 0.012, 0.04, "assumption: test",
                         arms=("patient",)),
    population.Variation("sec_lsc", "loguniform", 1e5, 1e7, "assumption: test",
                         arms=("patient",)),
    population.Variation("sec_msc", "uniform", 50.0, 150.0, "assumption: test"),
)


@pytest.fixture(scope="module")
def settings():
    return cohort.make_settings(evniche.load_model(str(TINY)), days=200.0,
                                variations=VARIATIONS, control_days=10.0, seed=3)


def _frame(out: Path) -> pd.DataFrame:
    return cohort.load(out).drop(columns=["error"])


def test_a_killed_cohort_resumes_without_losing_or_redoing_a_subject(settings, tmp_path,
                                                                     monkeypatch):
    whole = tmp_path / "whole"
    cohort.run(settings, whole, patients=4, controls=3)
    killed = tmp_path / "killed"
    seen: list[str] = []

    def kill_after_three(name: str) -> None:
        seen.append(name)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cohort.run(settings, killed, patients=4, controls=3, progress=kill_after_three)
    assert cohort.finished(killed) == set(seen)
    ran: list[str] = []
    real = cohort.run_subject

    def counting(subject, s):
        ran.append(subject.name)
        return real(subject, s)

    monkeypatch.setattr(cohort, "run_subject", counting)
    info = cohort.run(settings, killed, patients=4, controls=3)
    assert not set(ran) & set(seen)  # nothing redone
    assert cohort.finished(killed) == cohort.finished(whole)  # nothing lost
    assert info.resumed == 3 and info.simulated == len(ran)
    pd.testing.assert_frame_equal(_frame(killed), _frame(whole))
    ran.clear()
    cohort.run(settings, killed, patients=4, controls=3)
    assert ran == []  # a finished cohort reruns nothing


def test_dask_gives_the_same_cohort_as_one_process(settings, tmp_path):
    cohort.run(settings, tmp_path / "here", patients=3, controls=2)
    with distribute.cluster(workers=2, processes=False) as client:
        cohort.run(settings, tmp_path / "dask", patients=3, controls=2, client=client)
    pd.testing.assert_frame_equal(_frame(tmp_path / "dask"), _frame(tmp_path / "here"))


def test_patients_differ_by_their_draws_and_are_sampled_at_their_stage(settings, tmp_path):
    cohort.run(settings, tmp_path, patients=5, controls=3)
    frame = cohort.load(tmp_path)
    diag = frame[frame["phase"] == "diagnosis"]
    pat, con = diag[diag["arm"] == "patient"], diag[diag["arm"] == "control"]
    assert len(pat) == 5 and len(con) == 3
    assert pat["param.p_lsc"].nunique() == 5 and con["param.p_lsc"].isna().all()
    # sampled on the day blasts reach the drawn stage (interpolated between daily samples)
    assert (pat["blast_percent"] - pat["stage_blasts"]).abs().max() < 2.0
    assert (con["blast_percent"].abs() < 1e-9).all()  # round-off of an empty clone
    # controls carry no leukemic EVs: their miR-155 is the MSCs' (none) -> 0 copies true
    assert (con["qpcr_miR-155_true"].abs() < 1e-30).all() and (pat["qpcr_miR-155_true"] > 0).all()
    result = analysis.analyse(tmp_path, n_boot=200)
    assert result.rocs["qpcr_miR-155"].auc == 1.0
    assert 0.0 <= result.rocs["nta_particles"].auc <= 1.0
    assert result.findings == []  # no published AUC for this model


def test_other_settings_in_the_same_folder_are_refused(settings, tmp_path):
    cohort.run(settings, tmp_path, patients=2, controls=2)
    other = cohort.make_settings(evniche.load_model(str(TINY)), days=200.0,
                                 variations=VARIATIONS, control_days=10.0, seed=4)
    with pytest.raises(EvnicheError, match="other settings"):
        cohort.run(other, tmp_path, patients=2, controls=2)


def test_a_variation_outside_the_parameter_range_is_refused_before_running():
    bad = (population.Variation("p_lsc", "uniform", 0.001, 0.04, "assumption: test",
                                arms=("patient",)),)
    with pytest.raises(EvnicheError, match="variation of p_lsc.*outside its range"):
        cohort.make_settings(evniche.load_model(str(TINY)), variations=bad)


def test_cli_writes_the_report_and_refuses_unknown_engines(tmp_path, capsys):
    out = tmp_path / "c"
    with distribute.cluster(workers=1, processes=False) as client:  # no process start-up
        assert main(["cohort", str(TINY), "--patients", "3", "--controls", "2", "--days",
                     "200", "--out", str(out), "--scheduler", client.scheduler.address,
                     "--bootstrap", "100"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    for text in ("ROC curves", "qpcr_miR-155", "95 % CI", "Power", "lead time"):
        assert text in page
    table = pd.read_csv(out / "biomarkers.csv")
    assert set(table["biomarker"]) >= {"nta_particles", "qpcr_miR-155", "panel"}
    assert (table["ci_low"] <= table["auc"]).all() and (table["auc"] <= table["ci_high"]).all()
    assert main(["cohort", str(TINY), "--out", str(tmp_path / "d"), "--engine",
                 "spatial"]) == 2
    assert "error: --engine spatial: cohorts run wellmixed only" in capsys.readouterr().err
    assert main(["cohort", str(TINY), "--out", str(tmp_path / "e"), "--patients", "1"]) == 2


def test_monitoring_needs_the_drugs_of_the_therapy():
    with pytest.raises(EvnicheError, match="--monitoring: model 'cohort_tiny' lacks the "
                                           "drugs"):
        cohort.make_settings(evniche.load_model(str(TINY)), variations=VARIATIONS,
                             monitoring=True)


def _subject(name: str, arm: str, index: int, value: float, **course) -> list[dict]:
    base = {"subject": name, "arm": arm, "index": index, "diagnosed": arm == "patient",
            "remission_day": course.get("cr", float("nan")),
            "relapse_day": course.get("relapse", float("nan")), "error": "",
            "stage_blasts": 30.0, "sample_day": 100.0, "blast_percent": 30.0}
    markers = {"nta_particles": 1e11, "flow_evs": 1.0, "flow_marker_evs": value,
               "qpcr_miR-155": value}
    rows = [dict(base, phase="diagnosis", day=100.0, **markers)]
    for day, v in course.get("visits", []):
        rows.append(dict(base, phase="monitoring", day=day, **dict(markers, **{
            "flow_marker_evs": v, "qpcr_miR-155": v})))
    return rows


def test_lead_times_come_from_the_visits_after_remission(tmp_path):
    (tmp_path / "subjects").mkdir()
    record = {"model_name": "hand", "days": 365.0, "cargos": ["miR-155"], "seed": 0}
    (tmp_path / cohort.SETTINGS).write_text(__import__("json").dumps(record), encoding="utf-8")
    # controls at 1-2, patients at 10-11 at diagnosis: Youden cut-off log10(10) = 1
    subjects = [_subject("control-00000", "control", 0, 1.0),
                _subject("control-00001", "control", 1, 2.0),
                # remission on day 150, biomarker back above 10 on day 240, relapse day 300:
                # lead 60 days
                _subject("patient-00000", "patient", 0, 10.0, cr=150.0, relapse=300.0,
                         visits=[(130.0, 50.0), (180.0, 1.0), (210.0, 3.0), (240.0, 20.0),
                                 (270.0, 40.0)]),
                # relapses (day 200) before the biomarker turns positive: missed
                _subject("patient-00001", "patient", 1, 11.0, cr=150.0, relapse=200.0,
                         visits=[(180.0, 1.0), (210.0, 1.0)]),
                # no remission: not in the lead-time analysis
                _subject("patient-00002", "patient", 2, 12.0, visits=[(130.0, 50.0)])]
    for rows in subjects:
        cohort.write_subject(tmp_path, rows[0]["subject"], rows)
    a = analysis.analyse(tmp_path, n_boot=100)
    assert a.rocs["qpcr_miR-155"].auc == 1.0
    assert a.monitored == 3 and a.remissions == 2 and a.relapses == 2
    assert a.lead_times["qpcr_miR-155"] == [60.0]
    assert a.missed["qpcr_miR-155"] == 1


def test_ctrl_c_says_what_is_kept_and_how_to_resume(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cohort, "run", interrupted)
    with distribute.cluster(workers=1, processes=False) as client:
        code = main(["cohort", str(TINY), "--patients", "2", "--controls", "2", "--days",
                     "200", "--out", str(tmp_path / "c"), "--scheduler",
                     client.scheduler.address])
    assert code == 130
    assert "0 finished subjects are kept in" in capsys.readouterr().err
    assert (tmp_path / "c" / cohort.SETTINGS).exists()  # the rerun will resume this folder


def test_patients_take_the_posterior_particles_for_the_parameters_it_holds(tmp_path):
    import json

    from evniche.experiments.posterior import load_posterior

    model = evniche.load_model(str(TINY))
    folder = tmp_path / "post"
    folder.mkdir()
    pd.DataFrame({"parameters.p_lsc": [0.015, 0.03], "weight": [0.5, 0.5]}).to_parquet(
        folder / "posterior.parquet")
    (folder / "posterior.json").write_text(json.dumps({
        "model": model.name, "digest": model.digest,
        "parameters": {"parameters.p_lsc": {"unit": "1/h", "range": [0.01,
                                                                     0.04]}}}), encoding="utf-8")
    s = cohort.make_settings(model, days=200.0, variations=VARIATIONS, control_days=10.0,
                             posterior=load_posterior(folder))
    cohort.run(s, tmp_path / "c", patients=4, controls=2)
    frame = cohort.load(tmp_path / "c")
    pat = frame[frame["arm"] == "patient"]
    assert set(pat["param.p_lsc"]) <= {0.015, 0.03}  # never the population's uniform draw
    assert pat["param.sec_lsc"].nunique() == pat["subject"].nunique()  # the rest still drawn


def test_a_variation_of_a_derived_parameter_is_refused_and_the_defaults_fit_aml():
    aml = evniche.load_model("aml")
    derived = (population.Variation("blast_self_renewal", "uniform", 0.66, 0.8,
                                    "assumption: test", arms=("patient",)),)
    with pytest.raises(EvnicheError, match="variation of blast_self_renewal.*derives it"):
        cohort.make_settings(aml, variations=derived)
    # every default variation the aml preset has is one of its free parameters
    settings = cohort.make_settings(aml, days=2.0)
    assert "blast_doubling_at_relapse" in {v.parameter for v in settings.variations}


def test_treatment_starts_at_the_first_output_sample_from_the_sampling_day():
    """The therapy starts on the first sample at or after the sampling day, so the treated
    run holds the diagnostic marrow as a sample before the first dose."""
    import xarray as xr

    ds = xr.Dataset(coords={"time": [0.0, 1.0, 2.0, 3.0]})
    assert cohort._treatment_day(ds, 1.3) == 2.0
    assert cohort._treatment_day(ds, 2.0) == 2.0
    assert cohort._treatment_day(ds, 9.0) == 3.0  # never past the run


def test_a_monitored_aml_patient_carries_remission_and_relapse_on_every_row():
    """aml with --monitoring: the first patient draw is sampled at >= 20 % blasts (its
    stage), treated with 7+3 + consolidation from the next daily sample, and followed to
    complete remission; the diagnosis row holds the same remission and relapse days as the
    visit rows (it held NaN, and the monitoring summary counted no remission)."""
    import math

    settings = cohort.make_settings(evniche.load_model("aml"), monitoring=True)
    rows = cohort.run_subject(cohort.Subject("patient", 0), settings)
    diagnosis, visits = rows[0], rows[1:]
    assert diagnosis["phase"] == "diagnosis" and diagnosis["stage_blasts"] >= 20.0
    assert visits and all(r["phase"] == "monitoring" for r in visits)
    cr = diagnosis["remission_day"]
    assert cr > diagnosis["sample_day"]
    for row in visits:
        assert row["remission_day"] == cr
        assert (math.isnan(row["relapse_day"]) and math.isnan(diagnosis["relapse_day"])) or \
            row["relapse_day"] == diagnosis["relapse_day"] > cr
