"""The files of ``evniche sensitivity --out`` (evniche.report.sensitivity_report), from
analyses of an analytic function (no model runs): every method writes its four files, the
figure and the ranked table; the folder is refused or replaced as documented."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evniche.errors import EvnicheError
from evniche.experiments import global_sensitivity as gsa
from evniche.readouts import scalars
from evniche.report import sensitivity_report


def analytic_result(method: str, check: gsa.Check | None = None) -> gsa.Result:
    """y = a² · b on positive ranges (b over two decades: log-uniform); c is never read;
    ``check``: which sets are valid (default: all)."""
    items = [gsa.Factor("a", "a", "cell", 2.0, 1.0, 3.0, "assumption: a test value"),
             gsa.Factor("b", "b", "1/h", 1.0, 0.1, 10.0, "assumption: a test value"),
             gsa.Factor("c", "c", "", 0.5, 0.0, 1.0, "assumption: never read")]
    d = gsa.design(method, items, None, seed=2, check=check)
    y = d.values[:, 0] ** 2 * d.values[:, 1]
    readouts = [scalars.Readout("y", lambda _: 0.0, "unit")]
    samples = pd.concat([pd.DataFrame(d.values, columns=["a", "b", "c"]),
                         pd.DataFrame({"y": y, "note": "", "error": ""})], axis=1)
    samples.insert(0, "run", np.arange(d.runs))
    samples.loc[1, "error"] = "solver failed (a test)"
    indices, notes = gsa.analyse(method, items, d, samples, readouts, seed=2)
    return gsa.Result("analytic", method, d, items, readouts, samples, indices, notes,
                      {"method": method, "budget": None, "seed": 2, "days": 10.0,
                       "runs": d.runs, "size": d.size, "readouts": ["y"], "parameters": [],
                       "thresholds": {"influence": gsa.INFLUENCE[method],
                                      "matters": gsa.MATTERS[method], "log_span": 10.0}})


@pytest.mark.parametrize("method", ["morris", "sobol", "local"])
def test_every_method_writes_its_files(tmp_path, method):
    result = analytic_result(method)
    assert result.unconstrained() == ["c"]
    out = sensitivity_report.write(result, tmp_path / "gsa")
    assert sorted(p.name for p in out.iterdir()) == ["indices.csv", "rejected.parquet",
                                                     "report.html", "samples.parquet",
                                                     "sensitivity.json"]
    assert pd.read_parquet(out / "rejected.parquet").empty  # every candidate was valid
    assert "Infeasible candidates" not in (out / "report.html").read_text(encoding="utf-8")
    pd.testing.assert_frame_equal(pd.read_parquet(out / "samples.parquet"), result.samples)
    indices = pd.read_csv(out / "indices.csv")
    assert list(indices["parameter"]) == ["a", "b", "c"]
    assert list(indices["matters"]) == [True, True, False]
    record = json.loads((out / "sensitivity.json").read_text(encoding="utf-8"))
    assert [f["sampling"] for f in record["factors"]] == ["uniform", "log-uniform", "uniform"]
    assert record["summary"][-1] == "1 assumption(s) no readout here can constrain: c"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 1
    assert "run 1: solver failed (a test)" in page
    assert {"morris": "μ*", "sobol": "S1", "local": "elasticities"}[method] in page


def test_an_earlier_analysis_is_replaced_other_folders_refused(tmp_path):
    out = sensitivity_report.write(analytic_result("morris"), tmp_path / "gsa")
    (out / "stale.txt").write_text("from before", encoding="utf-8")
    sensitivity_report.write(analytic_result("sobol"), out)
    assert not (out / "stale.txt").exists()
    assert json.loads((out / "sensitivity.json").read_text(encoding="utf-8"))["method"] == "sobol"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "data.csv").write_text("x", encoding="utf-8")
    with pytest.raises(EvnicheError, match="holds other files and no sensitivity.json"):
        sensitivity_report.check_folder(tmp_path / "mine")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(EvnicheError, match="is a file, not a folder"):
        sensitivity_report.check_folder(tmp_path / "file")


def test_infeasible_candidates_are_written_with_their_cause(tmp_path):
    def check(row):  # a · b > 6 is not a valid model here (a test constraint)
        return ("ab above 6", f"a * b = {row[0] * row[1]:.3g} > 6") if row[0] * row[1] > 6 \
            else None

    result = analytic_result("morris", check)
    assert len(result.design.rejected) > 0
    assert (result.design.values[:, 0] * result.design.values[:, 1] <= 6).all()
    out = sensitivity_report.write(result, tmp_path / "gsa")
    rejected = pd.read_parquet(out / "rejected.parquet")
    assert list(rejected.columns) == ["candidate", "set", "a", "b", "c", "cause", "error"]
    assert (rejected["cause"] == "ab above 6").all() and (rejected["a"] * rejected["b"] > 6).all()
    record = json.loads((out / "sensitivity.json").read_text(encoding="utf-8"))
    assert record["infeasible_causes"] == {"ab above 6": len(rejected)}
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"<b>ab above 6</b> ({len(rejected)}), e.g. candidate" in page
    assert f"{len(rejected)} of {result.design.candidates} candidate trajectories held an " \
           "infeasible parameter set" in " ".join(result.summary())
