"""Benchmark of a calibration's throughput: ``evniche calibrate`` (ABC-SMC, pyABC's Dask
sampler on a LocalCluster) of a preset on its shipped records, simulations per second.

    python benchmarks/calibration.py [--model aml] [--parameters msc_mv_rate,lsc_division_interval]
                                     [--population 30] [--max-simulations 200] [--workers 2]
                                     [--split 10] [--baseline] [--out DIR]

First (``--split N``, 0 to skip) it simulates N particles drawn from the prior in this
process, one core, and prints where a particle's time goes (median over the particles of
each part's share, in ms): CVODE (driven from compiled code, or scikit-sundae's with its
Python callbacks for the right-hand side and the Jacobian: counted apart, with the calls
per model-year), the steady state, the runs' set-up, the trajectory Datasets, the
readouts, the rest; then the same particles along main's path before this one (commit
7158aef: every run solved to its end, each from day 0, SuperLU_MT's LU), the baseline,
with the ratio of the two. "Model-years solved" counts what a particle's runs integrate
themselves: a run stopped once it has the samples its records read, and a therapy
branched off the untreated run at diagnosis, solve less than their 365 days.

It runs the calibration (as ``evniche calibrate MODEL --parameters … --population N
--generations 1000 --max-simulations M --workers W --predictive 0 --out DIR``: generations
until the simulation budget is spent) and reads pyABC's history: per generation its
simulations (pyABC's count: particles proposed, each simulating every condition of the
records once; 8 runs of 365 days for the 11 ``aml`` records) and wall time, then
simulations per second over the whole calibration (from pyABC's start, the cluster and
the first particles' compilation included) and over the generations after the first
(steady state), the model runs per second, the workers' CPU time per simulation, and the
time 10,000 simulations would take at each rate and on otherwise idle cores (extrapolated,
labelled so). The workers and this process are warmed up first (one particle at the
model's values: the conditions compiled, their steady states found, the kernels loaded),
so the CPU per simulation after the warm-up is the marginal cost, and the warm-up, paid
once per worker, is counted once in the 10,000-simulation extrapolation. ``--baseline``
runs the same calibration along the baseline path first (same seed: the particles
differ only where a distance moved across an epsilon) and prints both. The target
(issue 9): a calibration of ``aml`` with >= 10,000 simulations within 15 minutes on 2
cores. The load average is printed beside the figures: on a shared machine compare
figures of the same run only.
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

#: the label of the path the present one is measured against: main's (commit 7158aef),
#: every run of a particle solved to its end and from day 0, with SuperLU_MT
BASELINE = "baseline (main: runs to their end, from day 0, SuperLU_MT)"
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
    parser.add_argument("--baseline", action="store_true",
                        help="also run the calibration along the baseline path, first, with "
                        "the same settings and seed")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: a temporary one, removed after)")
    args = parser.parse_args(argv)

    from evniche.errors import EvnicheError

    per_particle = math.nan
    if args.split > 0:
        per_particle = split(args.model, args.parameters.split(","), args.split)
    results = {}
    for label, baseline in ([(BASELINE, True)] if args.baseline else []) + [(PRESENT, False)]:
        try:
            results[label] = calibration_run(args, baseline)
        except EvnicheError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    for label, result in results.items():
        report(args, label, result, per_particle if label == PRESENT else math.nan)
    if len(results) == 2:
        a, b = results[BASELINE], results[PRESENT]
        same = [n for _, n, _ in a["gens"]] == [n for _, n, _ in b["gens"]]
        print(f"simulations per generation, {BASELINE} vs {PRESENT}: "
              f"{[n for _, n, _ in a['gens']]} vs {[n for _, n, _ in b['gens']]} "
              f"({'the same' if same else 'not the same'}); marginal CPU per simulation "
              f"(workers + this process) {a['marginal']:.3f} vs {b['marginal']:.3f} s: "
              f"{a['marginal'] / b['marginal']:.2f}x")
    return 0


#: the label of the present path
PRESENT = "present path"


def calibration_run(args, baseline: bool) -> dict:
    """One calibration (``baseline``: along the baseline path, in every worker) with
    the workers and this process warmed up first (conditions compiled, steady states of
    the unchanged models found, kernels loaded): returns the settings' results, the CPU
    seconds of the warm-up and of the calibration after it (workers, this process)."""
    from evniche.experiments.calibration import calibrate, dask_sampler

    parameters = args.parameters.split(",")
    main_cpu = _cpu_seconds()
    sampler = None
    warm: dict[str, float] = {}

    def make():
        nonlocal sampler
        sampler = dask_sampler(None, args.workers)
        sampler.client.run(_use_path, baseline)
        _use_path(baseline)
        began = sum(sampler.client.run(_cpu_seconds).values())
        sampler.client.run(_warm, args.model, parameters)
        _warm(args.model, parameters)  # the preflight particle in this process
        warm["workers"] = sum(sampler.client.run(_cpu_seconds).values())
        warm["workers_warmup"] = warm["workers"] - began
        warm["main"] = _cpu_seconds()
        return sampler

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "calibration"
        if args.out is not None and baseline:
            out = args.out.with_name(args.out.name + "-baseline")
        wall = time.perf_counter()
        try:
            info = calibrate(args.model, out, parameters=parameters,
                             population=args.population, generations=1000,
                             max_simulations=args.max_simulations, sampler=make,
                             predictive=0, progress=lambda line: print(line, flush=True))
            worker_cpu = float(sum(sampler.client.run(_cpu_seconds).values()))
        finally:
            if sampler is not None:
                sampler.client.close()
            _use_path(False)
        wall = time.perf_counter() - wall
        start, gens = generations(out / "history.db")
    end_cpu = _cpu_seconds()
    n = info["simulations"]
    marginal = ((worker_cpu - warm["workers"]) + (end_cpu - warm["main"])) / n
    return {"info": info, "wall": wall, "start": start, "gens": gens,
            "worker_cpu": worker_cpu, "worker_after_warm": worker_cpu - warm["workers"],
            "warmup": warm["workers_warmup"], "main_cpu": end_cpu - main_cpu,
            "main_after_warm": end_cpu - warm["main"], "marginal": marginal,
            "load": os.getloadavg()[0]}


def report(args, label: str, r: dict, per_particle: float) -> None:
    """Print one calibration's figures."""
    info, gens, start = r["info"], r["gens"], r["start"]
    runs = _runs_per_simulation(args.model, args.parameters.split(","), info)
    print(f"--- {label}: {args.model}, {args.parameters}, population {args.population}, "
          f"{args.workers} workers, {os.cpu_count()} CPUs, load average {r['load']:.1f} at "
          "the end")
    print(f"{'generation':>10}{'simulations':>13}{'wall s':>9}{'sim/s':>8}")
    before = start
    for t, n, end in gens:
        seconds = (end - before).total_seconds()
        print(f"{t:>10}{n:>13}{seconds:9.1f}{n / max(seconds, 1e-9):8.3f}")
        before = end
    total = sum(n for _, n, _ in gens)
    span = (gens[-1][2] - start).total_seconds()
    rate = total / span
    sims = info["simulations"]
    print(f"whole calibration: {sims} simulations, {total} in the generations, "
          f"{span:.0f} s from pyABC's start ({r['wall']:.0f} s for the whole command, the "
          f"warm-up included): {rate:.3f} simulations/s, {rate * runs:.2f} model runs/s "
          f"({runs} runs per simulation); 10,000 simulations extrapolated: "
          f"{TARGET_SIMULATIONS / rate / 60:.0f} min (target {TARGET_SECONDS / 60:.0f} min)")
    per = r["worker_cpu"] / sims
    print(f"CPU of the workers (their whole life, start-up included): {r['worker_cpu']:.0f} "
          f"s, {per:.3f} s per simulation: on {args.workers} otherwise idle cores 10,000 "
          f"simulations would take at best {TARGET_SIMULATIONS * per / args.workers / 60:.0f}"
          " min (extrapolated)")
    after = r["worker_after_warm"] / sims
    main = r["main_after_warm"] / sims
    print(f"after the warm-up ({r['warmup']:.0f} CPU-s of the workers, once: compiling "
          f"the conditions, their steady states, loading the kernels): the workers "
          f"{after:.3f} s and this process (pyABC, the Dask scheduler) {main:.3f} s of CPU "
          f"per simulation ({r['main_cpu']:.0f} s in all, start-up included)")
    idle = (r["warmup"] + TARGET_SIMULATIONS * (after + main)) / args.workers
    print(f"10,000 simulations on {args.workers} otherwise idle cores, from the CPU: "
          f"({r['warmup']:.0f} s warm-up + 10,000 x {after + main:.3f} s) / {args.workers} "
          f"= {idle / 60:.1f} min (extrapolated; target {TARGET_SECONDS / 60:.0f} min: "
          f"{'met' if idle <= TARGET_SECONDS else 'not met'})")
    if math.isfinite(per_particle):
        print(f"a particle in one process (the split above): {per_particle:.3f} CPU-s; the "
              f"workers spent {after - per_particle:.3f} s more per simulation after the "
              "warm-up (Dask, pyABC's sampling and pickling)")
    later = [g for g in gens if g[0] >= 1]
    if later:
        n = sum(g[1] for g in later)
        seconds = (later[-1][2] - next(g[2] for g in gens if g[0] == 0)).total_seconds()
        steady = n / seconds
        print(f"generations after the first: {n} simulations in {seconds:.0f} s: "
              f"{steady:.3f} simulations/s; 10,000 simulations extrapolated: "
              f"{TARGET_SIMULATIONS / steady / 60:.0f} min")


def _use_path(baseline: bool) -> None:
    """Run this process's particles along the baseline path (or the present one again)."""
    from evniche.experiments import calibration

    real = calibration.__dict__.setdefault("_present_class", calibration._simulations_class)
    calibration._simulations_class = (lambda: _baseline_class(real)) if baseline else real


def _baseline_class(real):
    """The baseline's simulations: every run solved to its end, each from day 0, with
    SuperLU_MT (main's path before horizons, branches and the sparse LU)."""
    return type("Baseline", (real(),), {"horizons": False, "branches": False,
                                        "sparse_lu": False})


def _warm(model: str, parameters: list[str]) -> None:
    """Simulate one particle at the model's own values (compiles the records' conditions
    and finds their steady states in this process)."""
    from evniche.experiments.calibration import Objective, free_parameters, select_records
    from evniche.observations import load
    from evniche.spec.loader import load_model

    priors = free_parameters(load_model(model), parameters)
    Objective(select_records(load(None), model), priors)(
        {p.name: p.coordinate(p.value) for p in priors})


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
    real_integrate = wellmixed.integrate
    solved = {"hours": 0.0}

    def integrate(*args, **kwargs):  # counts the model time a run solves itself
        sol = real_integrate(*args, **kwargs)
        solved["hours"] += float(sol.t[-1]) - (sol.branched_at or 0.0)
        return sol

    patches = [(sundials, "solve", sp.timed(lambda ph: f"{ph}: CVODE (compiled callbacks)",
                                            compiled_solve)),
               (solver, "_cvode", python_cvode), (wellmixed, "starting_state", steady),
               (wellmixed, "integrate", sp.timed("run set-up (kinetics, schedule, "
                                                 "segments)", integrate)),
               (ensemble, "dataset", sp.timed("trajectory Datasets (xarray)",
                                              ensemble.dataset)),
               (calibration_runs, "read", sp.timed("readouts (measurement models)",
                                                   calibration_runs.read)),
               (calibration_runs.ArrayRun, "diagnosis_sample",
                sp.timed("diagnosis day", calibration_runs.ArrayRun.diagnosis_sample)),
               (ensemble.ParameterValues, "canonical",
                sp.timed("parameter values", ensemble.ParameterValues.canonical))]

    real_class = calibration._simulations_class
    baseline = [(calibration, "_simulations_class", lambda: _baseline_class(real_class))]
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
            cpu, parts, rhs, solved_years = [], [], [], []
            for draw in draws:
                sp.reset()
                calls["rhs"] = 0
                solved["hours"] = 0.0
                began = time.process_time()
                objective(draw)
                cpu.append(time.process_time() - began)
                parts.append((dict(sp.seconds), dict(sp.calls)))
                rhs.append(calls["rhs"] + sp.calls.get("run: RHS callbacks (Python)", 0))
                solved_years.append(solved["hours"] / 8766.0)
        finally:
            for obj, name, value in saved:
                setattr(obj, name, value)
        medians[label] = float(np.median(cpu))
        print(f"{label}: {particles} particles of {model} ({len(sims._runs)} runs, "
              f"{years:.1f} model-years each), "
              f"median {medians[label]:.3f} CPU-s per particle (min {min(cpu):.3f}, max "
              f"{max(cpu):.3f}); RHS evaluations per model-year {np.median(rhs) / years:.0f}; "
              f"model-years solved per particle {np.median(solved_years):.2f} (the rest "
              "stopped after the last sample read, or taken from the untreated run)")
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
