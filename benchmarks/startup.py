"""Start-up benchmark: how long the command line takes before and around a short spatial run;
prints one table.

    python benchmarks/startup.py [--repeats K] [--agents N]

Every case runs in a fresh child process, ``--repeats`` times (default 5); the table gives
the median wall time, the spread (min–max) and the median CPU time (user + system) of the
child, which is steadier than wall time on a shared machine. Cases:

* baselines: ``python -c pass`` and ``python -c "import numpy, scipy"``;
* ``evniche --help``;
* ``evniche run aml --engine spatial --days 1 --spatial agents=1300`` (``--agents``), with a
  warm kernel cache (a cache folder of this benchmark, filled by one uncounted run first):
  time to first step (from the child's start to the end of the first simulation step,
  when the engine first reports progress), and the whole run with and without
  ``--no-report``;
* the same run with a cold cache (a fresh, empty ``NUMBA_CACHE_DIR`` each time: every
  kernel is compiled).

The target is a time to first step of at most :data:`TARGET_FIRST_STEP_S` with a warm
cache; the ratio column is the median over the target (≤ 1 meets it).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
#: seconds from process start to the first simulation step of a warm-cache run (issue 15)
TARGET_FIRST_STEP_S = 3.0

#: the child of a CLI case: runs ``evniche ARGS``; the first progress report of the engine
#: (after its first step) appends "wall-clock time, CPU time" to the file MARK
CHILD = """
import os, sys, time
import evniche.engines as engines

_simulate = engines.simulate

def simulate(*args, progress=None, **kwargs):
    seen = []

    def probe(frac):
        if not seen and os.environ.get("EVNICHE_BENCH_MARK"):
            seen.append(frac)
            with open(os.environ["EVNICHE_BENCH_MARK"], "a") as f:
                f.write(f"{time.time()!r} {time.process_time()!r}\\n")
        if progress is not None:
            progress(frac)

    return _simulate(*args, progress=probe, **kwargs)

engines.simulate = simulate
from evniche.cli import main
sys.exit(main(sys.argv[1:]))
"""


def child(argv: list[str], env: dict[str, str], mark: Path | None = None
          ) -> tuple[float, float, float | None]:
    """Run ``argv``; return (wall s, CPU s, seconds from start to the first step or None)."""
    if mark is not None:
        mark.unlink(missing_ok=True)
        env = {**env, "EVNICHE_BENCH_MARK": str(mark)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, encoding="utf-8")
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed ({' '.join(argv)}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    first = None
    if mark is not None:
        first = float(mark.read_text(encoding="utf-8").split()[0]) - start
    return wall, cpu, first


def summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per case (default 5)")
    parser.add_argument("--agents", type=int, default=1300, help="agents (default 1300)")
    parser.add_argument("--src", type=Path, default=SRC,
                        help="source folder of the evniche to measure (default: this "
                             "checkout's src; another one compares versions)")
    args = parser.parse_args(argv)
    py = sys.executable
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(args.src.resolve()), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("NUMBA_CACHE_DIR", None)
    rows: list[tuple[str, list[float], list[float], float | None]] = []
    with tempfile.TemporaryDirectory(prefix="evniche-startup-") as tmp:
        tmp_path = Path(tmp)
        warm = {**env, "NUMBA_CACHE_DIR": str(tmp_path / "warm-cache")}
        mark = tmp_path / "first-step"
        run = [py, "-c", CHILD, "run", "aml", "--engine", "spatial", "--days", "1",
               "--spatial", f"agents={args.agents}", "--out", str(tmp_path / "out")]

        def case(label: str, argv: list[str], environ=None, first_label: str | None = None,
                 fresh_cache: bool = False) -> None:
            walls, cpus, firsts = [], [], []
            for k in range(args.repeats):
                e = dict(environ or env)
                if fresh_cache:
                    e["NUMBA_CACHE_DIR"] = str(tmp_path / f"cold-cache-{label}-{k}")
                wall, cpu, first = child(argv, e, mark if first_label else None)
                walls.append(wall)
                cpus.append(cpu)
                if first is not None:
                    firsts.append(first)
            if first_label:
                rows.append((first_label, firsts, [],
                             None if fresh_cache else TARGET_FIRST_STEP_S))
            rows.append((label, walls, cpus, None))

        case("python -c pass", [py, "-c", "pass"])
        case('python -c "import numpy, scipy"', [py, "-c", "import numpy, scipy"])
        case("evniche --help", [py, "-m", "evniche.cli", "--help"])
        child(run, warm)  # fills the warm cache (not counted)
        case("spatial run, warm cache (whole run)", run, warm,
             first_label="time to first step, warm cache")
        case("spatial run, warm cache, --no-report", [*run, "--no-report"], warm)
        case("spatial run, cold cache (whole run)", run, env,
             first_label="time to first step, cold cache", fresh_cache=True)
    print(f"start-up benchmark — 1-day spatial run of aml with {args.agents} agents; "
          f"medians of {args.repeats} child processes (min–max); CPU = user + system")
    head = (f"{'case':<42} {'wall s':>7} {'min–max':>13} {'CPU s':>7} {'target s':>8} "
            f"{'ratio':>6}")
    print(head)
    print("-" * len(head))
    for label, walls, cpus, target in rows:
        med, lo, hi = summary(walls)
        cpu = f"{statistics.median(cpus):7.2f}" if cpus else f"{'':>7}"
        goal = f"{target:8.1f} {med / target:6.2f}" if target else ""
        print(f"{label:<42} {med:7.2f} {f'{lo:.2f}–{hi:.2f}':>13} {cpu} {goal}")
    print("ratio = median / target (≤ 1 meets it); the target is for a warm cache. Time to "
          "first step runs from the child's start to the end of its first simulation step.")


if __name__ == "__main__":
    main()
