"""``evniche check FILE``: a malformed model exits with status 2 and one clear message on
stderr (file, path inside it, what was expected) — never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evniche.cli import main

ROOT = Path(__file__).resolve().parents[2]
MALFORMED = ROOT / "tests" / "spec" / "malformed"
CASES = sorted(MALFORMED.glob("*.yaml"))
_HEADER = re.compile(r"^# expect-(path|message|source): (.*)$", re.MULTILINE)


def header(path: Path) -> dict[str, str]:
    return dict(_HEADER.findall(path.read_text(encoding="utf-8")))


def knowledge_base_available() -> bool:
    try:
        from evniche.knowledge import load

        load()
    except Exception:  # not built yet in a fresh checkout
        return False
    return True


def one_line(text: str) -> str:
    """stderr with line breaks a terminal-width console may insert removed."""
    return " ".join(text.split())


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_check_malformed_file_exits_2_with_location(case: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    if case.name == "unknown_kb_id.yaml" and not knowledge_base_available():
        pytest.skip("the knowledge base is not available")
    expect = header(case)
    status = main(["check", "--allow-path", str(MALFORMED.parent), str(case)])
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    err = one_line(err)
    source = MALFORMED / expect["source"] if "source" in expect else case
    assert str(source) in err
    assert expect.get("path", "") in err
    assert one_line(expect["message"]) in err
    assert "Traceback" not in err and "Traceback" not in out


def test_check_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "no_such_model.yaml"
    assert main(["check", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert "does not exist" in err and "no_such_model.yaml" in one_line(err)
    assert "Traceback" not in err + out


def test_check_valid_model_exits_0(capsys: pytest.CaptureFixture) -> None:
    assert main(["check", str(ROOT / "tests" / "spec" / "tiny.yaml")]) == 0
    out, _ = capsys.readouterr()
    assert "tiny" in out


@pytest.mark.parametrize("name", ["secretion_rate_in_mm.yaml"])
def test_check_in_a_real_process(name: str) -> None:
    case = MALFORMED / name
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), COLUMNS="400")
    entry = "import sys; from evniche.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", entry, "check", "--allow-path",
                           str(MALFORMED.parent), str(case)],
                          capture_output=True, text=True, encoding="utf-8", env=env, timeout=120,
                          check=False)
    assert proc.returncode == 2, proc.stderr
    err = one_line(proc.stderr)
    expect = header(case)
    assert str(case) in err and expect["path"] in err and expect["message"] in err
    assert "Traceback" not in proc.stderr + proc.stdout


def test_a_reader_that_goes_away_ends_the_command_quietly(monkeypatch, capsys):
    """`evniche scenarios run --help | head`: a BrokenPipeError while writing is no
    traceback, exit status 1."""
    import evniche.cli.model_commands as commands

    def broken(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(commands, "_print_retractions", broken)
    assert main(["check", "healthy"]) == 1
    assert "Traceback" not in capsys.readouterr().err
