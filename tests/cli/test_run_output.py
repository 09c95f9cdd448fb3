"""``evniche run --out``: a place no run can go is refused before anything is simulated; a
second run into a folder being written is refused; Ctrl-C prints what was kept, exits with
130 and leaves the previous run (or nothing) in the folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import evniche.engines
import evniche.report
import evniche.spec.loader
from evniche import cli
from evniche.cli import main
from evniche.store import outdir, runs

TINY_LEUKEMIA = Path(__file__).parents[1] / "readouts" / "tiny_leukemia.yaml"
FAST = ["--days", "5", "--no-sensitivity"]


@pytest.fixture(autouse=True)
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("EVNICHE_REGISTRY", str(tmp_path / "registry"))


def _run(out, *extra: str) -> int:
    return main(["run", str(TINY_LEUKEMIA), *FAST, "--out", str(out), *extra])


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def no_simulation(monkeypatch):
    def simulate(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(evniche.engines, "simulate", simulate)


@pytest.fixture
def interrupt(monkeypatch):
    """Ctrl-C at a chosen step: interrupt(module, name) makes ``module.name`` raise it."""

    def at(module, name):
        def stop(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(module, name, stop)

    return at


@pytest.mark.parametrize(("out", "expected"), [
    ("", "error: --out: expected a folder name, got an empty string"),
    ("file", "error: --out {d}/file: {d}/file is a file, not a folder"),
    ("file/run", "error: --out {d}/file/run: {d}/file is a file, so no folder can be made"),
    ("notes", "error: --out {d}/notes: {d}/notes holds other files and no run"),
    ("locked/run", "error: --out {d}/locked/run: cannot write into {d}/locked"),
])
def test_an_out_no_run_can_go_into_is_refused_before_running(tmp_path, capsys, monkeypatch,
                                                              no_simulation, out, expected):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x", encoding="utf-8")
    (tmp_path / "locked").mkdir()
    real = os.access  # as root permission bits are bypassed: unwritable for os.access alone
    monkeypatch.setattr(os, "access", lambda p, mode: real(p, mode) and
                        os.fspath(p) != str(tmp_path / "locked"))
    status = _run(f"{tmp_path}/{out}" if out else "")
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(expected.format(d=tmp_path)) and err.count("\n") == 1


def test_a_second_run_into_a_folder_being_written_is_refused(tmp_path, capsys, no_simulation):
    out = tmp_path / "run"
    with outdir.OutputFolder(out):
        assert _run(out) == 2
    assert capsys.readouterr().err == (f"error: another run is writing into {out} "
                                       f"(pid {os.getpid()})\n")


@pytest.fixture
def previous(tmp_path) -> Path:
    out = tmp_path / "run"
    assert _run(out, "--no-report") == 0
    return out


@pytest.mark.parametrize("step", ["simulating", "writing the report"])
def test_ctrl_c_keeps_the_previous_run_and_says_so(previous, capsys, interrupt, step):
    before = _files(previous)
    capsys.readouterr()
    if step == "simulating":
        interrupt(evniche.engines, "simulate")
    else:  # the trajectory and run.json are written by then
        interrupt(evniche.report, "write_report")
    assert _run(previous) == 130
    assert capsys.readouterr().err == (f"interrupted: the previous run in {previous} is "
                                       "unchanged; nothing was written\n")
    assert _files(previous) == before
    assert sorted(p.name for p in previous.parent.iterdir()) == [".run.lock", "registry",
                                                                 "run"]
    assert [r["status"] for r in runs.list_runs()] == ["failed", "complete"]


def test_ctrl_c_before_a_first_run_leaves_no_folder(tmp_path, capsys, interrupt):
    interrupt(evniche.engines, "simulate")
    assert _run(tmp_path / "run") == 130
    assert capsys.readouterr().err == f"interrupted: nothing was written to {tmp_path}/run\n"
    assert not (tmp_path / "run").exists()


def test_ctrl_c_while_loading_prints_one_line(tmp_path, capsys, interrupt):
    interrupt(evniche.spec.loader, "load_model")
    assert _run(tmp_path / "run") == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_the_console_script_turns_a_late_ctrl_c_into_status_130(monkeypatch):
    def main(argv=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "main", main)
    with pytest.raises(SystemExit) as stop:
        cli.run()
    assert stop.value.code == 130


def test_ctrl_c_while_the_commands_load_prints_one_line(capsys, monkeypatch):
    def load():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_app", load)
    assert main(["presets"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_the_console_script_imports_nothing_heavy_before_main():
    """Everything slow to import loads inside main(), where Ctrl-C is handled."""
    code = "import sys, evniche.cli; print(sorted({'typer', 'rich', 'numpy'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          encoding="utf-8",
                          check=True)
    assert done.stdout == "[]\n"
