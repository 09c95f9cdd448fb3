"""Benchmark of a calibration's throughput: ``evniche calibrate`` (ABC-SMC, pyABC's Dask
sampler on a LocalCluster) of a preset on its shipped records, simulations per second.

    python benchmarks/calibration.py [--model aml] [--parameters msc_mv_rate,lsc_division_interval]
                                     [--population 30] [--max-simulations 200] [--workers 2]
                                     [--split 10] [--out DIR]

First (``--split N``, 0 to skip) it simulates N particles drawn from the prior in this
process, one core, and prints where a particle's time goes (median over the particles of
each part's share, in ms): CVODE (driven from compiled code, or scikit-sundae's with its
Python callbacks for the right-hand side and the Jacobian: counted apart, with the calls
per model-year), the steady state, the runs' set-up, the trajectory Datasets, the
readouts, the rest; then the same particles along the path of the previous session
(each run on the full network, its EV ledger species included), the baseline, with the
ratio of the two.

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
import functools
import math
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

#: the label of the path the present one is measured against: runs with their EV ledger
BASELINE = "baseline (runs with the EV ledger)"
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
    parser.add_argument("--split", type=int, default=10,
                        help="particles simulated in this process for the time split "
                        "(0: none)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: a temporary one, removed after)")
    args = parser.parse_args(argv)

    from evniche.errors import EvnicheError
    from evniche.experiments.calibration import calibrate, dask_sampler

    per_particle = math.nan
    if args.split > 0:
        per_particle = split(args.model, args.parameters.split(","), args.split)
    main_cpu = _cpu_seconds()
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
        main_cpu = _cpu_seconds() - main_cpu
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
    print(f"CPU of this process (pyABC, the Dask scheduler) during the calibration: "
          f"{main_cpu:.0f} s, {main_cpu / info['simulations']:.3f} s per simulation")
    if math.isfinite(per_particle):
        print(f"a particle in one process (the split above): {per_particle:.3f} CPU-s; the "
              f"workers spent {per - per_particle:.3f} s more per simulation (Dask, pyABC's "
              "sampling and pickling, the first particles' compilation and steady states)")
    later = [g for g in gens if g[0] >= 1]
    if later:
        n = sum(g[1] for g in later)
        seconds = (later[-1][2] - next(g[2] for g in gens if g[0] == 0)).total_seconds()
        steady = n / seconds
        print(f"generations after the first: {n} simulations in {seconds:.0f} s: "
              f"{steady:.3f} simulations/s; 10,000 simulations extrapolated: "
              f"{TARGET_SIMULATIONS / steady / 60:.0f} min")
    return 0


class Split:
    """Exclusive wall time per part of a particle (a part's time leaves out the parts
    called inside it) and calls per part."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.stack: list[list] = []
        self.phase = "run"

    def timed(self, label, fn):
        """``fn`` counted under ``label`` (a string, or a function of the phase)."""
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            name = label(self.phase) if callable(label) else label
            self.stack.append([name, time.perf_counter(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                name, began, inner = self.stack.pop()
                spent = time.perf_counter() - began
                self.seconds[name] = self.seconds.get(name, 0.0) + spent - inner
                self.calls[name] = self.calls.get(name, 0) + 1
                if self.stack:
                    self.stack[-1][2] += spent
        return wrapper

    def reset(self) -> None:
        self.seconds, self.calls = {}, {}


def split(model: str, parameters: list[str], particles: int) -> float:
    """Simulate ``particles`` prior draws in this process along the present path and
    along the previous session's (the baseline), print where the time goes; return the
    present path's median CPU seconds per particle."""
    import numpy as np

    from evniche.engines import ensemble, solver, sundials, wellmixed
    from evniche.experiments import calibration, calibration_runs
    from evniche.experiments.calibration import Objective, free_parameters, select_records
    from evniche.observations import comparison, load
    from evniche.spec.loader import load_model

    sp = Split()
    calls = {"rhs": 0}
    real_solve, real_cvode = sundials.solve, solver._cvode

    def compiled_solve(*args, **kwargs):
        out = real_solve(*args, **kwargs)
        calls["rhs"] += out[2]
        return out

    def python_cvode(rhs, span, y0, t_eval, *, jac, **kwargs):
        rhs = sp.timed(lambda ph: f"{ph}: RHS callbacks (Python)", rhs)
        jac = jac and sp.timed(lambda ph: f"{ph}: Jacobian callbacks (Python)", jac)
        return sp.timed(lambda ph: f"{ph}: CVODE (scikit-sundae)", real_cvode)(
            rhs, span, y0, t_eval, jac=jac, **kwargs)

    def steady(*args, **kwargs):
        sp.phase = "steady state"
        try:
            return sp.timed("steady state: Newton, checks", real_steady)(*args, **kwargs)
        finally:
            sp.phase = "run"

    real_steady = wellmixed.starting_state
    patches = [(sundials, "solve", sp.timed(lambda ph: f"{ph}: CVODE (compiled callbacks)",
                                            compiled_solve)),
               (solver, "_cvode", python_cvode), (wellmixed, "starting_state", steady),
               (wellmixed, "integrate", sp.timed("run set-up (kinetics, schedule, "
                                                 "segments)", wellmixed.integrate)),
               (ensemble, "dataset", sp.timed("trajectory Datasets (xarray)",
                                              ensemble.dataset)),
               (calibration_runs, "read", sp.timed("readouts (measurement models)",
                                                   calibration_runs.read)),
               (calibration_runs.ArrayRun, "diagnosis_sample",
                sp.timed("diagnosis day", calibration_runs.ArrayRun.diagnosis_sample)),
               (ensemble.ParameterValues, "canonical",
                sp.timed("parameter values", ensemble.ParameterValues.canonical))]

    real_class = calibration._simulations_class

    def with_ledger():  # the baseline's runs: the full network, EV ledger included
        return type("WithLedger", (real_class(),), {"ledger": True})

    baseline = [(calibration, "_simulations_class", with_ledger)]
    records = select_records(load(None), model)
    priors = free_parameters(load_model(model), parameters)
    objective = Objective(records, priors)
    objective({p.name: p.coordinate(p.value) for p in priors})  # compile, steady states
    rng = np.random.default_rng(7)
    warm, *draws = [{p.name: float(rng.uniform(*p.bounds())) for p in priors}
                    for _ in range(particles + 1)]
    sims = calibration._simulations_class()(overrides=objective.overrides(draws[0]))
    for record in records:
        comparison.evaluate(record, sims)
    years = sum(run.solved.days for run in sims._runs.values()) / 365.0
    medians = {}
    for label, extra in (("present path", []), (BASELINE, baseline)):
        saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches + extra]
        for obj, name, value in patches + extra:
            setattr(obj, name, value)
        try:
            objective(warm)  # the first particle on a path loads its code
            wellmixed._RECENT.clear()  # each path computes its particles' steady states
            cpu, parts, rhs = [], [], []
            for draw in draws:
                sp.reset()
                calls["rhs"] = 0
                began = time.process_time()
                objective(draw)
                cpu.append(time.process_time() - began)
                parts.append((dict(sp.seconds), dict(sp.calls)))
                rhs.append(calls["rhs"] + sp.calls.get("run: RHS callbacks (Python)", 0))
        finally:
            for obj, name, value in saved:
                setattr(obj, name, value)
        medians[label] = float(np.median(cpu))
        print(f"{label}: {particles} particles of {model} ({len(sims._runs)} runs, "
              f"{years:.1f} model-years each), "
              f"median {medians[label]:.3f} CPU-s per particle (min {min(cpu):.3f}, max "
              f"{max(cpu):.3f}); RHS evaluations per model-year {np.median(rhs) / years:.0f}")
        names = sorted({k for s, _ in parts for k in s},
                       key=lambda k: -float(np.median([s.get(k, 0.0) for s, _ in parts])))
        total = float(np.median([sum(s.values()) for s, _ in parts]))
        for name in names:
            ms = float(np.median([s.get(name, 0.0) for s, _ in parts])) * 1e3
            n = float(np.median([c.get(name, 0) for _, c in parts]))
            each = ms * 1e3 / n if n else float("nan")
            print(f"  {name:48s}{ms:8.1f} ms{100 * ms / 1e3 / medians[label]:6.1f} %"
                  f"{n / years:9.1f} calls/model-year{each:9.1f} us/call")
        print(f"  {'rest (records, distances, JSON keys …)':48s}"
              f"{(medians[label] - total) * 1e3:8.1f} ms")
    ratio = medians[BASELINE] / medians["present path"]
    print(f"a particle: {medians['present path']:.3f} CPU-s, baseline "
          f"{medians[BASELINE]:.3f}: {ratio:.2f}x faster")
    return medians["present path"]


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
