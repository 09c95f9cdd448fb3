"""``evniche risks MODEL``: a table row per therapy; bad input is one line on stderr."""

from __future__ import annotations

from pathlib import Path

from evniche.cli import main

TINY = Path(__file__).resolve().parents[1] / "readouts" / "tiny_leukemia.yaml"


def test_unknown_therapy_is_named_with_the_rows(capsys):
    assert main(["risks", str(TINY), "--therapy", "nope"]) == 2
    err = capsys.readouterr().err
    assert "--therapy: no row named nope" in err and "proton_pump_inhibitor" in err


def test_secretion_inhibitor_row_shows_the_lost_msc_support(capsys, tmp_path, monkeypatch):
    """The tiny model: a proton pump inhibitor lowers exosome secretion, so the MSC EVs that
    reach normal HSPCs fall; NK exosomes do not apply (the model's reason is printed)."""
    from evniche.cli import risks

    monkeypatch.setattr(risks.console, "width", 250)  # one line per table row
    code = main(["risks", str(TINY), "--therapy", "proton_pump_inhibitor", "--therapy",
                 "nk_exosomes", "--report", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "proton_pump_inhibitor" in out and "does not apply" in out
    risk_rows = out[out.index("risks (treated"):].splitlines()
    ppi = next(line for line in risk_rows if line.strip().startswith("proton_pump"))
    assert ppi.rstrip().endswith("-29.9 %")  # MSC EVs to HSPCs, treated against untreated
    page = (tmp_path / "risks.html").read_text(encoding="utf-8")
    assert "<h2>Risks</h2>" in page and "-29.9 %" in page


def test_posterior_draws_give_ranges(capsys, tmp_path, monkeypatch):
    """Over three posterior draws the blast column carries its 5-95 % range."""
    import evniche
    from evniche.cli import risks

    sys_path = Path(__file__).resolve().parents[1] / "experiments"
    monkeypatch.syspath_prepend(str(sys_path))
    from test_posterior import write_posterior

    folder = write_posterior(tmp_path / "post", evniche.load_model(str(TINY)))
    monkeypatch.setattr(risks.console, "width", 250)
    code = main(["risks", str(TINY), "--therapy", "proton_pump_inhibitor", "--posterior",
                 str(folder), "--ensemble", "3"])
    out = capsys.readouterr().out
    assert code == 0
    benefit = out[out.index("benefit (treated"):out.index("risks (treated")]
    ppi = next(line for line in benefit.splitlines() if line.strip().startswith("proton_pump"))
    assert ppi.count("[") == 1 and "%]" in ppi
    assert "Posterior: 3 draws." in " ".join(out.split())


def test_a_model_without_diagnosis_is_refused(capsys):
    assert main(["risks", "healthy", "--therapy", "proton_pump_inhibitor"]) == 2
    assert "never reaches 20 % marrow blasts" in " ".join(capsys.readouterr().err.split())


def test_thrombogram_of_a_run_on_chosen_days(capsys, tmp_path):
    """`evniche thrombogram RUN --day D`: the tiny model's EVs carry no tissue factor, so
    the sample as drawn never bursts; with the CAT reagent (5 pM TF) it does. Bad days and
    reagents are one line on stderr."""
    run = tmp_path / "run"
    assert main(["run", str(TINY), "--days", "10", "--out", str(run), "--no-sensitivity",
                 "--no-report"]) == 0
    capsys.readouterr()
    assert main(["thrombogram", str(run), "--day", "4"]) == 0
    assert "day 4: TF 0 pM" in capsys.readouterr().out
    csv = tmp_path / "curves.csv"
    assert main(["thrombogram", str(run), "--day", "2", "--day", "8", "--reagent", "cat",
                 "--csv", str(csv)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.count("→ lag ") == 2
    header = csv.read_text(encoding="utf-8").splitlines()[0]
    assert header == "time_min,thrombin_nM_day_2,thrombin_nM_day_8"
    assert main(["thrombogram", str(run), "--day", "11"]) == 2
    assert "sample day 11 is outside the run" in capsys.readouterr().err
    assert main(["thrombogram", str(run), "--reagent", "foo"]) == 2
    assert "unknown thrombin-generation reagent 'foo'" in capsys.readouterr().err


def test_row_names_are_not_markup():
    """'[catalog]' and '[reference]' tags survive the table (rich would eat them as
    markup); a refusal keeps only the reason."""
    from rich.console import Console

    from evniche.cli import risks as cli
    from evniche.experiments import risk_benefit as rb

    rows = [rb.Row(rb.Therapy("x", "heparin", {"targets": ["MSC"]}, 0,
                              origin="catalog proposal"),
                   error="interventions[0] (heparin): heparin does not apply to model 'm': "
                         "it has no MSC. It applies to models with MSCs")]
    console = Console(width=200, record=True)
    for table in cli.tables(rows, 10.0, 28.0):
        console.print(table)
    text = console.export_text()
    assert "heparin (targets=['MSC']) [catalog]" in text
    assert "does not apply: it has no MSC" in text and "It applies" not in text
