"""``evniche check/run/export MODEL``: a model file that reads outside its folder, a pipe, a
key given twice, nesting too deep or a name too long exits with status 2 and one line
``error: ...`` on stderr; ``--allow-path DIR`` lets a model read another folder."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from evniche.cli import main

SPEC = Path(__file__).parents[1] / "spec"
TINY = SPEC / "tiny.yaml"
TINY_LEUKEMIA = Path(__file__).parents[1] / "readouts" / "tiny_leukemia.yaml"


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def outside_model(tmp_path: Path) -> tuple[Path, Path]:
    """(a model in tmp_path/models extending a model in tmp_path/elsewhere, that folder)."""
    models, elsewhere = tmp_path / "models", tmp_path / "elsewhere"
    models.mkdir()
    elsewhere.mkdir()
    shutil.copyfile(TINY_LEUKEMIA, elsewhere / "base.yaml")
    model = models / "model.yaml"
    model.write_text(f"name: child\nextends: {elsewhere / 'base.yaml'}\n", encoding="utf-8")
    return model, elsewhere


@pytest.mark.parametrize("command", [["check"], ["export", "sbml"],
                                     ["run", "--days", "1", "--out", "OUT"]])
def test_reading_outside_the_model_folder_exits_2(outside_model: tuple[Path, Path],
                                                  tmp_path: Path, command: list[str],
                                                  capsys: pytest.CaptureFixture) -> None:
    model, elsewhere = outside_model
    args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    assert main([*args, str(model)]) == 2
    line = one_error_line(capsys)
    assert f"{model}: extends: refused to read '{elsewhere / 'base.yaml'}'" in line
    assert "--allow-path" in line
    assert not (tmp_path / "out").exists()


def test_allow_path_lets_check_and_export_read_another_folder(
        outside_model: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture) -> None:
    model, elsewhere = outside_model
    assert main(["check", "--allow-path", str(elsewhere), str(model)]) == 0
    assert "child" in capsys.readouterr().out
    xml = tmp_path / "child.xml"
    assert main(["export", "sbml", str(model), "--allow-path", str(elsewhere),
                 "--out", str(xml)]) == 0
    assert "<sbml" in xml.read_text(encoding="utf-8")


def test_allow_path_lets_run_read_another_folder(outside_model: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    model, elsewhere = outside_model
    out = tmp_path / "run"
    assert main(["run", str(model), "--allow-path", str(elsewhere), "--days", "2",
                 "--no-report", "--no-sensitivity", "--out", str(out)]) == 0
    assert (out / "run.json").is_file()


def test_allow_path_must_name_a_folder(capsys: pytest.CaptureFixture) -> None:
    assert main(["check", "--allow-path", str(TINY), str(TINY)]) == 2
    assert "--allow-path: expected an existing folder" in one_error_line(capsys)


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX pipes")
def test_a_pipe_as_model_or_extends_exits_2(tmp_path: Path, hang_guard: None,
                                            capsys: pytest.CaptureFixture) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert main(["check", str(fifo)]) == 2
    assert "is not a regular file" in one_error_line(capsys)
    model = tmp_path / "model.yaml"
    model.write_text("name: m\nextends: pipe.yaml\n", encoding="utf-8")
    assert main(["check", str(model)]) == 2
    line = one_error_line(capsys)
    assert f"{model}: extends:" in line and "is not a regular file" in line


@pytest.mark.parametrize(("text", "expected"), [
    ("name: a\nname: b\n", "line 2, column 1: not valid YAML: the key 'name' appears twice"),
    ("name: a\ndescription: " + "[" * 5000 + "]" * 5000 + "\n",
     "not valid YAML: nested deeper than 100 levels"),
    ("name: a\nextends: " + "x" * 5000 + "\n", "(5000 characters) is neither a model file"),
])
def test_bad_yaml_and_long_names_exit_2(tmp_path: Path, text: str, expected: str,
                                        capsys: pytest.CaptureFixture) -> None:
    model = tmp_path / "model.yaml"
    model.write_text(text, encoding="utf-8")
    assert main(["check", str(model)]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: {model}: ") and expected in line


def test_a_300_character_model_name_exits_2(capsys: pytest.CaptureFixture) -> None:
    assert main(["check", "m" * 300]) == 2
    assert "(300 characters) is neither a model file nor a preset" in one_error_line(capsys)
