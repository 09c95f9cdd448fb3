"""Benchmark of a calibration's throughput: ``evniche calibrate`` (ABC-SMC, pyABC's Dask
sampler on a LocalCluster) of a preset on its shipped records, simulations per second.

    python benchmarks/calibration.py [--model aml] [--parameters msc_mv_rate,lsc_division_interval]
                                     [--population 30] [--max-simulations 200] [--workers 2]
                                     [--out DIR]

It runs the calibration (as ``evniche calibrate MODEL --parameters … --population N
--generations 1000 --max-simulations M --workers W --predictive 0 --out DIR``: generations
until the simulation budget is spent) and reads pyABC's history: per generation its
simulations (pyABC's count: particles proposed, each simulating every condition of the
records once; 8 runs of 365 days for the 11 ``aml`` records) and wall time, then
simulations per second over the whole calibration (from pyABC's start, the cluster and
the first particles' compilation included) and over the generations after the first
(steady state), the model runs per second, the workers' CPU time per simulation, and the
time 10,000 simulations would take at each rate and on otherwise idle cores (extrapolated,
labelled so). The target (issue 9): a calibration of ``aml`` with
>= 10,000 simulations within 15 minutes on 2 cores. The load average is printed beside the
figures: on a shared machine compare figures of the same run only.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

#: the target: this many simulations …
TARGET_SIMULATIONS = 10_000
#: … within this many seconds on 2 cores
TARGET_SECONDS = 15 * 60.0


def generations(db: Path) -> tuple[datetime.datetime, list[tuple[int, int, datetime.datetime]]]:
    """pyABC's start time of the last run in ``db`` and its generations: (t, simulations,
    end time); t = -1 is the prior sample that sets the first epsilon."""
    with sqlite3.connect(db) as con:
        start = con.execute("select start_time from abc_smc order by id desc limit 1"
                            ).fetchone()[0]
        rows = con.execute("select t, nr_samples, population_end_time from populations "
                           "where abc_smc_id = (select max(id) from abc_smc) order by t"
                           ).fetchall()
    when = datetime.datetime.fromisoformat
    return when(str(start)), [(int(t), int(n), when(str(end))) for t, n, end in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="aml", help="preset name or model file")
    parser.add_argument("--parameters", default="msc_mv_rate,lsc_division_interval",
                        help="free parameters, comma-separated")
    parser.add_argument("--population", type=int, default=30, help="particles per generation")
    parser.add_argument("--max-simulations", type=int, default=200,
                        help="simulation budget (all generations)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: a temporary one, removed after)")
    args = parser.parse_args(argv)

    from evniche.errors import EvnicheError
    from evniche.experiments.calibration import calibrate, dask_sampler

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "calibration"
        sampler = None

        def make():
            nonlocal sampler
            sampler = dask_sampler(None, args.workers)
            return sampler

        wall = time.perf_counter()
        worker_cpu = float("nan")
        try:
            info = calibrate(args.model, out, parameters=args.parameters.split(","),
                             population=args.population, generations=1000,
                             max_simulations=args.max_simulations, sampler=make,
                             predictive=0, progress=lambda line: print(line, flush=True))
            worker_cpu = float(sum(sampler.client.run(_cpu_seconds).values()))
        except EvnicheError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            if sampler is not None:
                sampler.client.close()
        wall = time.perf_counter() - wall
        start, gens = generations(out / "history.db")
    runs = _runs_per_simulation(args.model, args.parameters.split(","), info)
    load = os.getloadavg()[0]
    print(f"{args.model}, {args.parameters}, population {args.population}, "
          f"{args.workers} workers, {os.cpu_count()} CPUs, load average {load:.1f} at the end")
    print(f"{'generation':>10}{'simulations':>13}{'wall s':>9}{'sim/s':>8}")
    before = start
    for t, n, end in gens:
        seconds = (end - before).total_seconds()
        print(f"{t:>10}{n:>13}{seconds:9.1f}{n / max(seconds, 1e-9):8.3f}")
        before = end
    total = sum(n for _, n, _ in gens)
    span = (gens[-1][2] - start).total_seconds()
    rate = total / span
    print(f"whole calibration: {info['simulations']} simulations, {total} in the generations, "
          f"{span:.0f} s from pyABC's start ({wall:.0f} s for the whole command): "
          f"{rate:.3f} simulations/s, {rate * runs:.2f} model runs/s ({runs} runs per "
          f"simulation); 10,000 simulations extrapolated: {TARGET_SIMULATIONS / rate / 60:.0f} "
          f"min (target {TARGET_SECONDS / 60:.0f} min)")
    per = worker_cpu / info["simulations"]
    print(f"CPU of the workers (their whole life, start-up included): {worker_cpu:.0f} s, "
          f"{per:.2f} s per simulation: on {args.workers} otherwise idle cores 10,000 "
          f"simulations would take at best {TARGET_SIMULATIONS * per / args.workers / 60:.0f} "
          f"min (extrapolated)")
    later = [g for g in gens if g[0] >= 1]
    if later:
        n = sum(g[1] for g in later)
        seconds = (later[-1][2] - next(g[2] for g in gens if g[0] == 0)).total_seconds()
        steady = n / seconds
        print(f"generations after the first: {n} simulations in {seconds:.0f} s: "
              f"{steady:.3f} simulations/s; 10,000 simulations extrapolated: "
              f"{TARGET_SIMULATIONS / steady / 60:.0f} min")
    return 0


def _cpu_seconds() -> float:
    """CPU seconds (user + system) this process used so far (run on each worker)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _runs_per_simulation(model: str, parameters: list[str], info: dict) -> int:
    """Model runs of one simulation (a particle at the model's own values; runs that
    records share count once)."""
    from evniche.experiments.calibration import _simulations_class, free_parameters, select_records
    from evniche.observations import load
    from evniche.observations.comparison import evaluate
    from evniche.spec.loader import load_model

    ids = {o["id"] for o in info["observations"]}
    records = [r for r in select_records(load(None), model) if r.id in ids]
    priors = free_parameters(load_model(model), parameters)
    sims = _simulations_class()(overrides={p.key: p.value for p in priors})
    for record in records:
        evaluate(record, sims)
    return sims.runs


if __name__ == "__main__":
    sys.exit(main())
