"""``evniche run --engine stochastic``: a run of a small leukemia model writes its
trajectory, run record and report like a well-mixed run; the seed decides the run;
``--stochastic`` options are checked before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from evniche.cli import main

TINY_LEUKEMIA = Path(__file__).parents[1] / "readouts" / "tiny_leukemia.yaml"


def _run(out: Path, *extra: str) -> int:
    return main(["run", str(TINY_LEUKEMIA), "--days", "20", "--engine", "stochastic",
                 "--out", str(out), "--stochastic", "threshold=5000", *extra])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stochastic")
    assert _run(out, "--seed", "4") == 0
    return out


def test_run_writes_trajectory_record_and_report(run_dir):
    with xr.open_dataset(run_dir / "trajectory.nc") as ds:
        assert ds.attrs["engine"] == "stochastic"
        assert ds.attrs["seed"] == 4
        assert ds.attrs["threshold_cells"] == 5000.0
        assert ds.attrs["events"] > 0
        assert ds.attrs["ledger_relative_error"] <= 1e-9
        # 1,000 LSCs at the start: whole cells until they pass 5,000, an ODE after
        lsc = ds.cells.sel(cell_type="LSC").values
        below = lsc < 5000
        assert below[0] and not below[-1]
        np.testing.assert_array_equal(lsc[below], np.round(lsc[below]))
        assert np.any(lsc[~below] != np.round(lsc[~below]))
        hsc = ds.cells.sel(cell_type="HSC").values  # a few cells in this model: discrete
        np.testing.assert_array_equal(hsc, np.round(hsc))
        assert "rule_signals" in ds
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert record["seed"] == 4 and record["engine"] == "stochastic"
    assert "stochastic" in (run_dir / "report.html").read_text(encoding="utf-8")


def test_the_seed_decides_the_run(run_dir, tmp_path):
    assert _run(tmp_path / "same", "--seed", "4", "--no-report") == 0
    assert _run(tmp_path / "other", "--seed", "5", "--no-report") == 0
    with xr.open_dataset(run_dir / "trajectory.nc") as a, \
            xr.open_dataset(tmp_path / "same" / "trajectory.nc") as b, \
            xr.open_dataset(tmp_path / "other" / "trajectory.nc") as c:
        np.testing.assert_array_equal(a.cells.values, b.cells.values)
        assert not np.array_equal(a.cells.values, c.cells.values)


@pytest.mark.parametrize(("args", "message"), [
    (["--stochastic", "threshold=-3"], "error: option threshold of the stochastic engine "
                                       "must be a number of cells >= 1, got -3"),
    (["--stochastic", "speed=fast"], "error: unknown option 'speed' of the stochastic engine"),
    (["--stochastic", "threshold"], "error: --stochastic: expected KEY=VALUE, got 'threshold'"),
])
def test_bad_options_are_refused_before_anything_is_written(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    status = main(["run", str(TINY_LEUKEMIA), "--days", "5", "--engine", "stochastic",
                   "--out", str(out), *args])
    assert status == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


def test_stochastic_options_need_the_stochastic_engine(tmp_path, capsys):
    status = main(["run", str(TINY_LEUKEMIA), "--days", "5", "--out", str(tmp_path / "o"),
                   "--stochastic", "threshold=10"])
    assert status == 2
    assert "--stochastic applies to --engine stochastic only" in capsys.readouterr().err
