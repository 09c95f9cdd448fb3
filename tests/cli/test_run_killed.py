"""``evniche run`` killed outright (SIGKILL) or interrupted (SIGINT) at seeded points spread
over a measured run, in a child process: the output folder afterwards always holds one
complete run, the previous one (byte for byte) unless the new one was already swapped in,
and never a mixture; what the killed runs left beside it is cleaned up by the next run, and
none of them stays registered as running or complete unless its files are the ones kept.

The runs are forked from a child that has imported everything first, so the kill points
fall in the run itself (spatial engine: fields.zarr and agents.parquet, trajectory,
run.json, the swap)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from evniche.store import runs

TINY = Path(__file__).parents[1] / "engines" / "spatial" / "tiny.yaml"
ARGS = ["run", str(TINY), "--engine", "spatial", "--days", "1", "--no-sensitivity",
        "--no-report", "--spatial", "size_um=[120,120]", "--spatial", "sinusoid_spacing_um=60",
        "--spatial", "agents=300", "--spatial", "snapshot_days=[0,1]",
        "--spatial", "equilibrate_first=false"]
FILES = ["agents.parquet", "fields.zarr", "run.json", "trajectory.nc"]
CHILD = """
import os, sys
import evniche.cli, evniche.engines.spatial.engine, evniche.store.runs
import h5netcdf, pyarrow.parquet, zarr
for line in sys.stdin:  # a file for the run's stderr: fork a run, say its pid and status
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.dup2(os.open(line.strip(), os.O_WRONLY | os.O_CREAT), 2)
        code = 1
        try:
            evniche.cli.run()
        except SystemExit as stop:
            code = stop.code
        finally:
            sys.stderr.flush()
            os._exit(code)
    print(pid, flush=True)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""
KILLS = 10


class Runs:
    """``evniche run ARGS --out OUT`` in child processes forked from one that has imported
    everything already (so a run starts at once and kill points fall in the run itself)."""

    def __init__(self, out: Path, env: dict[str, str]) -> None:
        self.out = out
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, *ARGS, "--out", str(out)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                     text=True, encoding="utf-8")
        self.count = 0

    def start(self) -> tuple[int, float]:
        """Start a run: its pid and start time (time.perf_counter)."""
        self.count += 1
        self.err = self.out.parent / f"stderr-{self.count}.txt"
        self.proc.stdin.write(f"{self.err}\n")
        self.proc.stdin.flush()
        pid = int(self.proc.stdout.readline())
        return pid, time.perf_counter()

    def wait(self) -> tuple[int, str]:
        """The run's exit status (-N: killed by signal N) and what it wrote on stderr."""
        code = int(self.proc.stdout.readline())
        return code, self.err.read_text(encoding="utf-8")

    def signal_at(self, signum: int, delay: float) -> tuple[int, str]:
        """Start a run, send it ``signum`` ``delay`` seconds later, wait for it to end."""
        pid, start = self.start()
        time.sleep(max(0.0, start + delay - time.perf_counter()))
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
        return self.wait()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {**os.environ, "EVNICHE_REGISTRY": str(tmp_path / "registry"),
            "NUMBA_NUM_THREADS": "1"}


def _contents(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path → SHA-256)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _check_complete(out: Path) -> str:
    """``out`` holds one complete spatial run: return its id."""
    ds, meta = runs.read_run(out)  # first puts back a folder left aside by a killed swap
    assert sorted(p.name for p in out.iterdir()) == FILES
    assert ds.attrs["run_id"] == meta["id"] and float(ds["time"].max()) == 1.0
    with xr.open_zarr(out / "fields.zarr", consolidated=False) as fields:
        assert fields["field"].sizes["snapshot"] == ds.sizes["snapshot"] >= 2
    assert set(pd.read_parquet(out / "agents.parquet")["cell_type"]) == {"MSC", "HSC"}
    return meta["id"]


def test_a_killed_run_leaves_the_previous_complete_run(tmp_path, env):
    out = tmp_path / "run"
    child = Runs(out, env)
    _, start = child.start()
    assert child.wait()[0] == 0
    duration = time.perf_counter() - start  # of a whole run
    previous_id, previous = _check_complete(out), _contents(out)

    rng = np.random.default_rng(15)
    at = (np.arange(KILLS) + rng.uniform(size=KILLS)) / KILLS * duration  # one per tenth
    kept = left_partial = 0
    for delay in at:
        assert child.signal_at(signal.SIGKILL, delay)[0] in (-signal.SIGKILL, 0)
        left_partial += any(p.name.startswith(".run.partial-") for p in tmp_path.iterdir())
        run_id = _check_complete(out)
        if run_id == previous_id:
            kept += 1
            assert _contents(out) == previous
        else:  # killed after its own files were swapped in
            previous_id, previous = run_id, _contents(out)
    assert kept >= 1 and left_partial >= 1  # kills fell both during and before the swap

    child.start()
    assert child.wait()[0] == 0
    child.close()
    last = _check_complete(out)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("stderr")) == \
        [".run.lock", "registry", "run"]
    status = {r["id"]: r["status"] for r in runs.list_runs(registry=tmp_path / "registry")}
    assert status.pop(last) == "complete"
    assert set(status.values()) <= {"failed", "replaced"}  # killed ones: none running


def test_ctrl_c_says_what_was_kept_without_a_traceback(tmp_path, env):
    out = tmp_path / "run"
    child = Runs(out, env)
    said = {f"interrupted: nothing was written to {out}",
            f"interrupted: the new run is complete in {out}",
            "interrupted"}  # before the run folder was opened (loading the model)
    for delay in np.random.default_rng(130).uniform(0.0, 2.0, size=3):
        code, err = child.signal_at(signal.SIGINT, delay)
        assert "Traceback" not in err
        if code != 130:  # the run ended before the signal came
            assert code == 0 and _check_complete(out)
            break
        assert err.splitlines()[-1] in said
        assert out.exists() == err.endswith(f"complete in {out}\n")
    child.close()


def test_a_ctrl_c_in_a_finalizer_interrupts_the_command_instead_of_printing_a_traceback():
    """Python cannot raise a KeyboardInterrupt out of a weakref callback or finalizer; it
    prints 'Exception ignored … Traceback' and goes on. The CLI delivers it again."""
    import subprocess
    import sys

    code = (
        "import weakref, sys\n"
        "from evniche.cli import main\n"
        "class Thing: pass\n"
        "def hit(_):\n"
        "    raise KeyboardInterrupt\n"
        "import evniche.cli.model_commands as mc\n"
        "def presets():\n"
        "    t = Thing(); r = weakref.ref(t, hit); del t\n"
        "    import time\n"
        "    for _ in range(200): time.sleep(0.01)\n"
        "    print('not interrupted')\n"
        "mc.presets = presets\n"
        "sys.exit(main(['presets']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          encoding="utf-8",
                          timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and "not interrupted" not in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == "interrupted"
