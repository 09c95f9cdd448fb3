"""``evniche lab PROTOCOL --sample DIR[@DAY] --out OUT``: the report, the record and the
tables; bad input is one line on stderr and status 2."""

from __future__ import annotations

import json

import pytest

from evniche.cli import main
from evniche.lab import record, report


def test_lab_writes_report_and_record(run_folder, tmp_path, capsys):
    out = tmp_path / "lab"
    assert main(["lab", "duc", "--sample", f"{run_folder}@4", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(report.FILES)
    html = (out / report.REPORT).read_text(encoding="utf-8")
    for heading in ("Yield by EV class and by cell of origin", "Purity and carry-over",
                    "Virtual NTA", "Virtual flow cytometry", "Swarm index",
                    "EV-TRACK-style record", "Leukemic-EV readout"):
        assert heading in html
    rec = json.loads((out / report.RECORD).read_text(encoding="utf-8"))
    assert rec["format"] == record.FORMAT and rec["sample"]["day"] == 4.0
    assert [s["step"] for s in rec["steps"]] == ["centrifuge"] * 4
    uc = rec["steps"][-1]["derived"]
    assert uc["k-factor"]["unit"] == "h·S" and uc["g at r_max"]["value"] == pytest.approx(1e5)
    assert set(rec["results"]["yield_by_source"]) == {"A", "B"}
    assert 0 < rec["checklists"]["ev_metric"]["score"] < 1
    assert rec["characterization"]["nta"]["reference_bead_nm"] == 45.0
    assert "EV yield" in capsys.readouterr().out
    # a second run into the same folder replaces the report
    assert main(["lab", "sec", "--sample", str(run_folder), "--out", str(out)]) == 0
    second = json.loads((out / report.RECORD).read_text(encoding="utf-8"))
    assert second["protocol"]["name"] == "sec"


@pytest.mark.parametrize("args, match", [
    (["lab", "boil", "--sample", "{run}", "--out", "{out}"], "no such protocol"),
    (["lab", "duc", "--sample", "{missing}", "--out", "{out}"], "no such run folder"),
    (["lab", "duc", "--sample", "{run}@500", "--out", "{out}"], "outside the run"),
    (["lab", "duc", "--out", "{out}"], "--sample"),
    (["lab", "duc", "--sample", "{run}"], "--out"),
    (["lab", "duc", "--sample", "{run}", "--out", "{out}", "--volume", "-1"], "--volume"),
    (["lab", "{bad}", "--sample", "{run}", "--out", "{out}"], "greater than 0"),
])
def test_bad_input_is_one_line_and_status_2(run_folder, tmp_path, capsys, args, match):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps:\n  - {step: centrifuge, rpm: -3000, minutes: 5, "
                   "keep: supernatant}\n", encoding="utf-8")
    fill = {"run": str(run_folder), "out": str(tmp_path / "o"), "bad": str(bad),
            "missing": str(tmp_path / "nothing")}
    assert main([a.format(**fill) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and match in err and err.count("\n") == 1


def test_out_holding_other_files_is_refused(run_folder, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["lab", "duc", "--sample", str(run_folder), "--out", str(tmp_path)]) == 2
    assert "holds other files" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
    under = tmp_path / "notes.txt" / "lab"
    assert main(["lab", "duc", "--sample", str(run_folder), "--out", str(under)]) == 2
    assert "is a file" in capsys.readouterr().err
    file_out = tmp_path / "notes.txt"
    assert main(["lab", "duc", "--sample", str(run_folder), "--out", str(file_out)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_list_and_findings(capsys):
    assert main(["lab", "--list"]) == 0
    assert "sec_uf:" in capsys.readouterr().out
    assert main(["lab", "--findings"]) == 0
    out = capsys.readouterr().out
    assert "LAB-SEC-LDL: reproduced" in out and "LAB-UF-LOSS: not reproduced" in out


def test_lab_on_a_real_run(tmp_path, monkeypatch):
    """End to end: `evniche run` (the tiny leukemia model, 5 days) then `evniche lab`."""
    from pathlib import Path

    monkeypatch.setenv("EVNICHE_REGISTRY", str(tmp_path / "registry"))
    tiny = Path(__file__).parents[1] / "readouts" / "tiny_leukemia.yaml"
    run = tmp_path / "run"
    assert main(["run", str(tiny), "--days", "5", "--no-sensitivity", "--out", str(run)]) == 0
    out = tmp_path / "lab"
    assert main(["lab", "sec_uf", "--sample", f"{run}@3", "--fluid", "marrow_plasma",
                 "--out", str(out)]) == 0
    rec = json.loads((out / report.RECORD).read_text(encoding="utf-8"))
    assert rec["sample"]["fluid"] == "marrow_plasma" and rec["sample"]["day"] == 3.0
    assert rec["results"]["ev_yield"] > 0
