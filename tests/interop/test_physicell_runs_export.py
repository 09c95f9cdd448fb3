"""PhysiCell 1.14 itself loads and runs an exported project (slow: needs a PhysiCell build).

Build once (about 2–3 minutes on 2 cores), then point EVNICHE_PHYSICELL at the executable::

    d=$(mktemp -d) && tar xzf ../shared/anchors/physicell/PhysiCell-1.14.2.tar.gz -C "$d"
    (cd "$d/PhysiCell-1.14.2" && make template && make -j2)
    export EVNICHE_PHYSICELL="$d/PhysiCell-1.14.2/project"
    pytest tests/interop/test_physicell_runs_export.py

Without it the test is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from evniche.cli import main

EXECUTABLE = os.environ.get("EVNICHE_PHYSICELL", "")


@pytest.mark.skipif(not (EXECUTABLE and Path(EXECUTABLE).is_file()),
                    reason="set EVNICHE_PHYSICELL to a built PhysiCell 1.14 'project' executable")
def test_physicell_loads_and_runs_the_exported_aml_project(tmp_path: Path) -> None:
    out = tmp_path / "aml"
    assert main(["export", "physicell", "aml", "--out", str(out)]) == 0
    settings = out / "config" / "PhysiCell_settings.xml"
    # a few diffusion steps: enough for PhysiCell to parse everything and step once
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        '<max_time units="min">1440</max_time>', '<max_time units="min">0.05</max_time>'))
    (out / "output").mkdir()
    run = subprocess.run([shutil.which(EXECUTABLE) or EXECUTABLE, "config/PhysiCell_settings.xml"],
                         cwd=out, capture_output=True, text=True, encoding="utf-8", timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    log = run.stdout
    cells = sum(1 for _ in (out / "config" / "cells.csv").open(encoding="utf-8")) - 1
    assert f"total agents: {cells}" in log
    # the exported rule was parsed as a rule of CD8 T cells
    rules = (out / "output" / "detailed_rules.txt").read_text(encoding="utf-8")
    assert "EV blast.microvesicle increases apoptosis" in rules
    assert "Misformed rule" not in log and "Error" not in log
