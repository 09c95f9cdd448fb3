"""``evniche scenarios`` output stays readable at 80 columns and in a pipe; ``evniche run
--intervene`` refuses an unknown name, a day outside the run and a value of the wrong unit
with one clear line (no traceback)."""

from __future__ import annotations

import io
import math
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

import evniche.cli.scenarios as cli_scenarios
from evniche.cli import main
from evniche.experiments.agreement import Answer
from evniche.experiments.scenarios import Arm, Readout, Scenario, ScenarioResult

LONG = "secretion-inhibition-removes-hspc-support-and-a-much-longer-tail"


def _result(name: str, expected: int, effect: float, verdict: str) -> ScenarioResult:
    s = Scenario(name, "finding", ("test",), Arm("aml"), Arm("aml"),
                 Readout("x", "cells", lambda ds, net: None), expected=expected, margin=0.05)
    return ScenarioResult(s, control=9.671e5, treatment=9.671e5 * (1 + effect),
                          effect=effect, verdict=verdict)


@pytest.mark.parametrize("width", [80, 120])
def test_table_fits_the_width_and_keeps_whole_names(monkeypatch, width):
    out = io.StringIO()
    console = Console(width=width, file=out, color_system=None)
    monkeypatch.setattr(cli_scenarios, "console", console)
    results = [_result(LONG, -1, -0.198, "agree"), _result("aml-more-plasma-evs", 1, math.inf,
                                                           "agree"),
               _result("pdl1-ev-removal-restores-cd8-killing", 1, 0.0, "disagree")]
    console.print(cli_scenarios.findings_table(
        [Answer(r.scenario, "point model", [r]) for r in results]))
    lines = out.getvalue().splitlines()
    assert all(len(line) <= width for line in lines)
    assert "…" not in out.getvalue()  # nothing cut off
    first_column = "".join(line.split()[0] for line in lines[2:] if line.strip())
    for r in results:
        assert r.scenario.name in first_column
    text = out.getvalue()
    assert "≤ -5%" in text and "≥ +5%" in text  # the margin, with the expected direction
    assert "-19.8%" in text and "contradicted" in text and "reproduced" in text


def test_at_80_columns_an_interval_wraps_and_no_column_is_cut(monkeypatch):
    """An ensemble's effect with its interval and the TF ratio: every cell is printed
    whole at 80 columns (the interval may wrap at its spaces; the TF ratio is not cut)."""
    import dataclasses

    out = io.StringIO()
    console = Console(width=80, file=out, color_system=None)
    monkeypatch.setattr(cli_scenarios, "console", console)
    import xarray as xr

    def series(values):
        return xr.DataArray(values, dims="time", coords={"time": [0.0, 1.0]})

    members = [dataclasses.replace(_result("pdl1-ev-removal-restores-cd8-killing", 1, e,
                                           "agree"), risk_control_series=series([1.0, 1.0]),
                                   risk_treatment_series=series([1.0, 3.17]))
               for e in (0.101, 0.204, 0.333)]
    console.print(cli_scenarios.findings_table(
        [Answer(members[0].scenario, "posterior", members)]))
    text = out.getvalue()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "…" not in text
    assert "×3.17" in text
    assert "+10.1%" in " ".join(text.split()) and "+33.3%" in " ".join(text.split())


def test_scenarios_run_in_a_pipe_prints_the_whole_table():
    proc = subprocess.run([sys.executable, "-m", "evniche.cli", "scenarios", "run",
                           "aml-evs-lower-kitl", "--posterior", "none"], capture_output=True,
                          text=True, encoding="utf-8",
                          timeout=300,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": ""})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines if not line.startswith(("1 of", "report")))
    assert any(line.split()[:1] == ["aml-evs-lower-kitl"] for line in lines)
    assert "≤ -1%" in proc.stdout and "reproduced" in proc.stdout


@pytest.mark.parametrize(("intervene", "message"), [
    ("heparine@1", "unknown intervention 'heparine' (did you mean 'heparin'"),
    ("heparin@20", "outside the run [0, 10) days"),
    ("plasmapheresis@1:marker=PD-L1,flow=3 nM",
     "options.flow: unit 'nM' has dimension [substance] / [length] ** 3; expected a volume "
     "per time"),
    ("cytarabine@1:dose=2 mL", "options.dose: unit 'mL' has dimension [length] ** 3; "
     "expected a molar concentration"),
])
def test_run_refuses_bad_interventions_with_one_clear_line(tmp_path, capsys, intervene,
                                                           message):
    code = main(["run", "aml", "--days", "10", "--out", str(tmp_path / "out"),
                 "--no-sensitivity", "--no-report", "--intervene", intervene])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert err.startswith("error:") and message in err
    assert "Traceback" not in err


def _chemo(model: str, expected: int) -> Scenario:
    from evniche.experiments.catalog import _cells

    return Scenario("cytarabine-lowers-blasts", "test", ("test",),
                    Arm(model, ({"name": "cytarabine", "start": 1},)), Arm(model),
                    Readout("blasts", "cells", _cells(["blast"])), expected=expected,
                    margin=0.05, days=5)


@pytest.mark.parametrize(("expected", "code"), [(-1, 0), (+1, 1)])
def test_exit_status_is_1_when_a_finding_is_contradicted(tmp_path, monkeypatch, capsys, expected,
                                                    code):
    sys.path.insert(0, str(Path(__file__).parents[1] / "compile"))
    from test_interventions import MODEL

    model = tmp_path / "m.yaml"
    model.write_text(MODEL, encoding="utf-8")
    import evniche.experiments.catalog as catalog

    monkeypatch.setattr(catalog, "select", lambda names: [_chemo(str(model), expected)])
    assert main(["scenarios", "run", "--report", str(tmp_path / "rep")]) == code
    out = capsys.readouterr().out
    assert ("contradicted" in out.split("findings reproduced")[0]) == (code == 1)
    assert (tmp_path / "rep" / "index.html").exists()
