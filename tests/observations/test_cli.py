"""``evniche observations list|check|compare``: exit codes, one-line errors, the tables."""

from __future__ import annotations

import yaml

from evniche.cli import main

RECORD = {
    "id": "U-1",
    "measured": "plasma EVs by NTA",
    "system": "healthy_donors",
    "species": "human",
    "conditions": [{"preset": "healthy", "at": "end", "days": 5}],
    "measurement": {"model": "nta_count"},
    "observed": {"value": 1.0e10, "unit": "1/mL", "spread": {"fold": 10,
                                                             "source": "assumption: order"}},
    "source": {"ref": "a paper", "quote": "about 10^10 per mL"},
}


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_check_the_shipped_records(capsys):
    assert main(["observations", "check"]) == 0
    out = one_line(capsys.readouterr().out)
    assert "records in 4 files are valid" in out


def test_check_a_bad_user_folder_names_file_record_and_field(tmp_path, capsys):
    bad = dict(RECORD, observed={"value": 1.0e10, "unit": "1/mL"})
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump([bad]), encoding="utf-8")
    assert main(["observations", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'mine.yaml'}: U-1 (entry 1): observed: ")
    assert "needs a unit and a spread" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_list_and_compare_a_user_folder(tmp_path, capsys):
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(RECORD), encoding="utf-8")
    assert main(["observations", "list", "--folder", str(tmp_path)]) == 0
    assert "U-1" in capsys.readouterr().out
    assert main(["observations", "compare", "healthy", "--folder", str(tmp_path)]) == 0
    out = one_line(capsys.readouterr().out)
    assert "U-1" in out and "1 observations, 1 runs" in out
    assert main(["observations", "compare", "cll", "--folder", str(tmp_path)]) == 2
    assert "no record has a condition on 'cll'" in capsys.readouterr().err
