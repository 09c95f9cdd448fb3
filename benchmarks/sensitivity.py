"""Cost of ``evniche sensitivity`` on a preset; prints one table.

    python benchmarks/sensitivity.py [--model aml] [--runs 12] [--full --workers 2]

Draws the default Morris design (seed 0, 365 days; candidate trajectories holding an
infeasible parameter set drawn again, see docs/sensitivity.md), runs its first ``--runs``
parameter sets one after the other in this process and reports, per run, the CPU seconds
(this process, all threads) and the wall seconds, then the projection for the whole
default design on ``--workers`` cores: runs × mean CPU seconds / workers (the runs are
independent, one per worker process). ``--full`` also runs the whole default analysis on a
local Dask cluster of ``--workers`` processes and reports its wall time (cluster start
included). CPU seconds are the honest figure on a shared machine: wall time there includes
waiting for the CPU.
"""

from __future__ import annotations

import argparse
import statistics
import time

from evniche.experiments import distribute
from evniche.experiments import global_sensitivity as gsa
from evniche.readouts import scalars
from evniche.spec.loader import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="aml")
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    model = load_model(args.model)
    items = gsa.factors(model)
    start = time.perf_counter()
    design = gsa.design("morris", items, None, 0, gsa.feasibility(model, items))
    drawn = time.perf_counter() - start
    rows = gsa.overrides(items, design.values)
    ensemble = distribute.Ensemble(model=model.raw, days=365.0,
                                   readouts=tuple(scalars.choose()))
    distribute.run_chunk(rows[:1], ensemble)  # warm-up: imports, JIT
    cpu, wall = [], []
    for row in rows[:args.runs]:
        c, t = time.process_time(), time.perf_counter()
        distribute.run_chunk([row], ensemble)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    mean_cpu = statistics.fmean(cpu)
    print(f"{args.model}: {len(items)} assumptions, default Morris design {design.runs} runs "
          f"({design.size} trajectories; {len(design.rejected)} of {design.candidates} "
          f"candidates held an infeasible set and were drawn again, {drawn:.1f} s)")
    print(f"per run over {len(cpu)} runs: CPU mean {mean_cpu:.2f} s (min {min(cpu):.2f}, "
          f"max {max(cpu):.2f}); wall mean {statistics.fmean(wall):.2f} s")
    print(f"projected default analysis on {args.workers} cores: "
          f"{design.runs * mean_cpu / args.workers / 60:.1f} min of runs (from the first "
          f"runs only: a set whose healthy state settles slowly or oscillates costs 5-10 s; "
          f"the whole default analysis of aml measured 9.9 min, docs/sensitivity.md)")
    if args.full:
        start = time.perf_counter()
        with distribute.cluster(workers=args.workers) as client:
            gsa.run(model, client=client)
        print(f"whole default analysis on {args.workers} workers: "
              f"{(time.perf_counter() - start) / 60:.1f} min wall")


if __name__ == "__main__":
    main()
