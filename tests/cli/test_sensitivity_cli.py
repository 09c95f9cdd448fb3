"""``evniche sensitivity MODEL``: a tiny budget on a local Dask cluster prints the ranked
table and writes its folder; bad requests exit with status 2 and one ``error:`` line,
before any cluster starts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from evniche.cli import main

TINY = Path(__file__).parents[1] / "experiments" / "gsa_tiny.yaml"


def test_tiny_budget_on_a_local_cluster_writes_the_analysis(tmp_path, capsys):
    out = tmp_path / "gsa"
    code = main(["sensitivity", str(TINY), "--parameter", "p_lsc", "--parameter", "relax",
                 "--days", "20", "--workers", "1", "--seed", "3", "--budget", "6",
                 "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "gsa_tiny: morris, 6 runs of 20 days over 2 assumptions" in printed
    assert "assumption(s) no readout here can constrain" in printed
    assert sorted(p.name for p in out.iterdir()) == ["indices.csv", "rejected.parquet",
                                                     "report.html", "samples.parquet",
                                                     "sensitivity.json"]
    samples = pd.read_parquet(out / "samples.parquet")
    assert list(samples.columns[:3]) == ["run", "p_lsc", "relax"]
    assert len(samples) == 6 and (samples["error"] == "").all()
    indices = pd.read_csv(out / "indices.csv")
    assert set(indices["readout"]) == {"takeover_day", "plasma_evs", "normal_output"}
    assert {"mu_star", "mu_star_conf", "sigma", "influence", "matters"} <= set(indices)
    record = json.loads((out / "sensitivity.json").read_text(encoding="utf-8"))
    assert record["runs"] == 6 and record["seed"] == 3
    assert [f["sampling"] for f in record["factors"]] == ["uniform", "uniform"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "Ranked assumptions" in page


@pytest.mark.parametrize(("args", "message"), [
    (["no_such_model"], "no_such_model"),
    ([str(TINY), "--readout", "marrow_mood"], "unknown readout 'marrow_mood'"),
    ([str(TINY), "--budget", "-4"], "--budget must be a whole number of runs >= 1, got -4"),
    ([str(TINY), "--budget", "5"], "--budget 5 is too small for Morris with 3 factors"),
    ([str(TINY), "--method", "sobol", "--budget", "30"], "too small for Sobol' with 3"),
    ([str(TINY), "--parameter", "zzz*"], "--parameter zzz*: matches no assumption"),
    ([str(TINY), "--workers", "0"], "--workers must be a whole number >= 1, got 0"),
    ([str(TINY), "--method", "local", "--budget", "50"], "--budget applies to morris"),
    ([str(TINY), "--time-limit", "0"], "--time-limit must be a positive number"),
])
def test_bad_requests_exit_2_with_one_error_line(args, message, capsys):
    assert main(["sensitivity", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in " ".join(err.split())
    assert "Traceback" not in err


def test_an_out_folder_holding_other_files_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["sensitivity", str(TINY), "--out", str(tmp_path)]) == 2
    assert "holds other files and no sensitivity.json" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_help_documents_every_option(capsys):
    assert main(["sensitivity", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--method", "--budget", "--days", "--seed", "--readout", "--parameter",
                   "--out", "--workers", "--scheduler", "--time-limit", "--set"):
        assert option in text
