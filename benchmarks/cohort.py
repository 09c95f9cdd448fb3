"""Cost of a virtual cohort-year (``evniche cohort MODEL --no-monitoring``) on 1 and 2
workers against single runs of the same model, in the same process; prints medians.

    python benchmarks/cohort.py [--model aml] [--patients 1000] [--controls 100]
                                [--baseline 5] [--repeats 1]

1. baseline: ``--baseline`` single one-year runs of the model (``evniche.simulate_many``,
   warmed up first), median wall seconds;
2. the cohort (patients drawn from the default population, one year, no monitoring) into
   a new folder on a LocalCluster of 1 and then 2 worker processes, ``--repeats`` times
   each (cluster start included), median wall seconds, and the speed-up 1 -> 2 workers;
   the cohort's seconds per subject against the baseline run.
Wall seconds on a shared machine include waiting for the CPU: compare within one run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import evniche
from evniche.cohorts import cohort
from evniche.experiments import distribute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="aml")
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--controls", type=int, default=100)
    parser.add_argument("--baseline", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    model = evniche.load_model(args.model)
    evniche.simulate_many(model, [{}], 365.0)  # warm-up: imports, JIT, steady state
    single = []
    for _ in range(args.baseline):
        t = time.perf_counter()
        evniche.simulate_many(model, [{}], 365.0)
        single.append(time.perf_counter() - t)
    base = statistics.median(single)
    settings = cohort.make_settings(model, days=365.0, monitoring=False)
    walls: dict[int, list[float]] = {1: [], 2: []}
    draws = 0
    for _ in range(args.repeats):
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                with distribute.cluster(workers=workers) as client:
                    info = cohort.run(settings, Path(tmp) / "c", args.patients,
                                      args.controls, client=client)
                walls[workers].append(time.perf_counter() - t)
                draws = info.draws
    one, two = statistics.median(walls[1]), statistics.median(walls[2])
    subjects = draws + args.controls
    print(f"{args.model}: single one-year run, median of {args.baseline}: {base:.2f} s")
    print(f"cohort-year of {args.patients} patients ({draws} draws) + {args.controls} "
          f"controls, median of {args.repeats}: 1 worker {one:.1f} s, 2 workers {two:.1f} s; "
          f"speed-up {one / two:.2f}x")
    print(f"per subject on 2 workers: {two / subjects:.2f} s wall = "
          f"{two / subjects / base:.2f}x a single run (2 workers: ideal 0.5x)")


if __name__ == "__main__":
    main()
