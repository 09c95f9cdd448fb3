"""``--intervene scale@…`` / ``set@…`` on the command line and the example model with
branching differentiation, mutation and a parameter window: ``evniche check`` accepts it,
``evniche run`` applies the windows, bad windows exit with status 2 and one message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from evniche.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "branching.yaml"


def test_check_accepts_the_example(capsys):
    assert main(["check", str(EXAMPLE)]) == 0
    assert "branching_example" in capsys.readouterr().out


def test_run_applies_a_set_window_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    # the model's own window doubles p_hsc from day 20; the command line sets it to
    # 0.48/day = 0.02/h from day 2 to day 5
    assert main(["run", str(EXAMPLE), "--days", "25", "--out", str(out), "--no-sensitivity",
                 "--no-report", "--intervene",
                 "set@2:parameter=p_hsc,value=0.48 1/day,duration=3"]) == 0
    with xr.open_dataset(out / "trajectory.nc") as ds:
        prolif = ds.behaviors.sel(behavior="HSC.proliferation").values
        day = ds.time.values
    inside = ((day >= 2) & (day < 5)) | (day >= 20)
    np.testing.assert_allclose(prolif, np.where(inside, 0.02, 0.01))


def test_run_refuses_a_bad_window_with_one_message(tmp_path, capsys):
    status = main(["run", str(EXAMPLE), "--days", "25", "--out", str(tmp_path / "o"),
                   "--intervene", "scale@2:parameter=f_ery,factor=3"])
    err = " ".join(capsys.readouterr().err.split())
    assert status == 2
    assert err.startswith("error:") and "'f_ery' would be 1.8" in err and "Traceback" not in err


def test_check_refuses_a_window_on_an_unknown_parameter(capsys):
    case = EXAMPLE.parents[2] / "tests" / "spec" / "scale_unknown_parameter.yaml"
    assert main(["check", "--allow-path", str(case.parent), str(case)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("error:") and "scale_unknown_parameter.yaml" in err
    assert "interventions[0] (scale).options.parameter: the model has no parameter 'p2'" in err
