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
    record = json.loads((run_dir / "run.json").read_text())
    assert record["seed"] == 0
    page = (run_dir / "report.html").read_text()
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
