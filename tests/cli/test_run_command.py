"""``evniche run``: a model run end to end writes its trajectory, run record and report,
with the take-over sensitivity table; bad interventions are refused before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr

from evniche.cli import main

TINY_LEUKEMIA = Path(__file__).parents[1] / "readouts" / "tiny_leukemia.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    assert main(["run", str(TINY_LEUKEMIA), "--days", "120", "--out", str(out)]) == 0
    return out


def test_run_writes_trajectory_record_and_report(run_dir):
    with xr.open_dataset(run_dir / "trajectory.nc") as ds:
        assert float(ds["time"].max()) == pytest.approx(120.0)
        assert "communication" in ds
        assert ds["rule_signals"].sizes["rule"] == 1  # the signal each rule saw, saved
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert record["seed"] == 0
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "take-over on day" in page
    assert "elasticity" in page  # the sensitivity table of the take-over day
    assert "rules are inert and" in page.split(">Rules: where each one operates</h2>")[1]


def test_run_refuses_an_unknown_intervention_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["run", str(TINY_LEUKEMIA), "--days", "30", "--out", str(out),
                   "--intervene", "unobtainium@5"])
    assert status == 2
    assert "unobtainium" in capsys.readouterr().err
    assert not out.exists()


def test_run_refuses_an_intervention_after_the_end_of_the_run(tmp_path, capsys):
    status = main(["run", str(TINY_LEUKEMIA), "--days", "30", "--out", str(tmp_path / "o"),
                   "--intervene", "nsmase2_inhibitor@45"])
    assert status == 2
    assert "45" in capsys.readouterr().err


def test_run_starts_an_intervention_at_diagnosis_and_prints_the_course(tmp_path, capsys):
    out = tmp_path / "dx"
    assert main(["run", str(TINY_LEUKEMIA), "--days", "90", "--out", str(out),
                 "--intervene", "heparin@diagnosis+5", "--no-sensitivity",
                 "--no-report"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    with xr.open_dataset(out / "trajectory.nc") as ds:
        timeline = json.loads(ds.attrs["interventions"])
        pct = ds["cells"].sel(cell_type="LSC") / ds["cells"].sel(cell_type=["HSC", "LSC"]).sum(
            "cell_type")
        mature = ds["cells"].sel(cell_type="mature").values
        # samples before the start are the untreated run's: the tiny model is an AML, so
        # its first day at >= 20 % blasts with cytopenia (output <= 45 % of day 0)
        first = float(ds["time"].values[((pct.values >= 0.2)
                                         & (mature / mature[0] <= 0.45)).argmax()])
    assert timeline[0]["intervention"] == "heparin"
    assert timeline[0]["start_day"] == pytest.approx(first + 5)
    assert f"heparin@diagnosis+5: diagnosis of the untreated run → starts on day {first + 5:g}" \
        in printed
    assert "clinical course: Presents on day" in printed
    assert "untreated, so no remission" not in printed


def test_run_refuses_diagnosis_when_the_untreated_run_never_reaches_it(tmp_path, capsys):
    out = tmp_path / "never"
    status = main(["run", str(TINY_LEUKEMIA), "--days", "30", "--out", str(out),
                   "--set", "parameters.n_lsc=0", "--intervene", "heparin@diagnosis"])
    assert status == 2
    assert "never reaches diagnosis" in capsys.readouterr().err
    assert not out.exists()


def test_without_days_a_course_begun_at_diagnosis_is_followed_for_a_year(tmp_path, capsys):
    """No --days and a start at diagnosis: the untreated run (looked at over three years)
    gives the diagnosis day d, and the run lasts d + 365 days, announced; the start is the
    same day as with --days given (the untreated samples are the same)."""
    out = tmp_path / "year"
    assert main(["run", str(TINY_LEUKEMIA), "--out", str(out), "--intervene",
                 "heparin@diagnosis", "--no-sensitivity", "--no-report"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    with xr.open_dataset(out / "trajectory.nc") as ds:
        start = json.loads(ds.attrs["interventions"])[0]["start_day"]
        end = float(ds["time"].max())
    assert end == pytest.approx(start + 365.0)
    assert f"--days not given: 365 days after the diagnosis (day {start:g}) → {end:g} days" \
        in printed
    given = tmp_path / "given"
    assert main(["run", str(TINY_LEUKEMIA), "--days", "90", "--out", str(given), "--intervene",
                 "heparin@diagnosis", "--no-sensitivity", "--no-report"]) == 0
    with xr.open_dataset(given / "trajectory.nc") as ds:
        assert json.loads(ds.attrs["interventions"])[0]["start_day"] == pytest.approx(start)
        assert float(ds["time"].max()) == pytest.approx(90.0)


def test_without_days_and_without_a_diagnosis_start_the_run_lasts_365_days(tmp_path):
    out = tmp_path / "plain"
    assert main(["run", str(TINY_LEUKEMIA), "--out", str(out), "--intervene",
                 "heparin@5", "--no-sensitivity", "--no-report"]) == 0
    with xr.open_dataset(out / "trajectory.nc") as ds:
        assert float(ds["time"].max()) == pytest.approx(365.0)
