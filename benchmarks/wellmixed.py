"""Benchmark of the well-mixed engine beside libRoadRunner on the exported SBML, and of
in-process ensembles; one table.

    python benchmarks/wellmixed.py [--model aml] [--days 365] [--repeats 5] [--rtol 1e-7]
                                   [--ensemble 100] [--ensemble-repeats 3] [--ensemble-only]

``--model`` is a preset name or a path to a model file. Both simulators start from the
same state, the one ``evniche simulate`` starts from (the equilibrated healthy marrow plus
the leukemic seeds), apply the model's own interventions, use the same relative tolerance
and the same absolute tolerance per species, and report the state every simulated day.
Rows give the median, min and max wall time of ``--repeats`` runs and the median CPU time
(this process's, or the child's for a fresh process: on a shared machine CPU time varies
less with the load than wall time); evniche and RoadRunner runs are interleaved (one of
each per repetition), so a change of load hits both alike:

* ``evniche integrate``: :func:`evniche.engines.wellmixed.integrate` from that state
  (compiled right-hand side, exact sparse Jacobian, SUNDIALS CVODE through
  scikit-sundae), in a warm process;
* ``evniche.simulate warm``: the whole public call (load and compile the model, start from
  the cached steady state, integrate, build the Dataset) in a process that ran it before;
* ``evniche.simulate cold process``: a fresh Python process that imports evniche and runs
  ``evniche.simulate`` once (compiled kernels and steady state cached on disk, as after
  the first run on a machine; the import is included); ``… cold steady state``: the same
  with an empty steady-state cache (the relaxation to the healthy marrow is computed);
* ``roadrunner simulate (resetAll)``: ``RoadRunner.simulate`` of the exported SBML (CVODE,
  stiff) on one object, after ``resetAll``;
* ``roadrunner warm``: a new ``RoadRunner`` object in a process that has built one before
  (load + simulate), as a later run of a sweep would;
* ``roadrunner cold``: a fresh process that builds its first ``RoadRunner`` object (load
  and LLVM compilation) and simulates once (the import of roadrunner not included).

The ensemble rows run ``--ensemble`` parameter sets (two parameters drawn within their
plausible ranges, so each set needs its own steady state: the relaxation is included) and
give model-years per second, the median of ``--ensemble-repeats`` repetitions, each on
sets of its own (so no steady state is read from a cache): a single run per set beside
them (``evniche.simulate`` with the set as overrides: load, compile, relax from the initial
values, integrate, build the Dataset; 3 sets per repetition),
:func:`evniche.engines.ensemble.simulate_many` in this process (after a one-day warm-up
run that loads the compiled kernels), then the path of calibration and sensitivity runs
(:func:`evniche.experiments.distribute.evaluate`, scalar readouts per run) on a Dask
``LocalCluster`` of 1 and of 2 worker processes (each warmed up on other sets first), with
the speed-up of 2 workers over 1, the CPU time per run and the load average (1 min) beside
each row. The target is 1,000 AML-years within 60 s on 2 cores. ``--ensemble-only`` runs
these rows alone.

It also prints the number of states, the engine's right-hand-side evaluations, and how far
evniche's and RoadRunner's final states are apart (largest relative difference over
species above 1000 times their absolute tolerance), so a fast but wrong run cannot pass.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

import evniche  # noqa: E402
from evniche.engines import prepare, wellmixed  # noqa: E402
from evniche.interop.sbml import starting_state, to_sbml  # noqa: E402

#: ensemble target: this many model-years …
TARGET_YEARS = 1000
#: … within this many seconds on 2 cores
TARGET_SECONDS = 60.0


def starting_at(net, y0: np.ndarray):
    """A copy of ``net`` whose initial values are ``y0`` (so the engine starts there without
    equilibrating again): each species gets its own initial-value parameter."""
    params = dict(net.params)
    species = []
    for i, sp in enumerate(net.species):
        name = f"__benchmark_initial_{i}"
        params[name] = float(y0[i])
        species.append(dataclasses.replace(sp, initial=name))
    return dataclasses.replace(net, params=params, species=species)


def child(code: str, env: dict | None = None) -> tuple[float, float]:
    """Run ``code`` in a fresh Python process; it prints its own wall time (s) last. Gives
    that wall time and the child's CPU time (s, user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         encoding="utf-8",
                         env={**os.environ, "PYTHONPATH": str(SRC), **(env or {})},
                         check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(out.stdout.split()[-1]), cpu


def rr_setup(rr, net, atol, ids, rtol: float) -> None:
    rr.integrator.stiff = True
    rr.integrator.relative_tolerance = rtol
    rr.integrator.maximum_num_steps = 10**6
    for sp, tol in zip(net.species, atol, strict=True):
        rr.integrator.setIndividualTolerance(_species_id(ids[sp.name]), float(tol))
    rr.timeCourseSelections = ["time"] + [ids[sp.name] for sp in net.species]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="aml", help="preset name or model file")
    parser.add_argument("--days", type=float, default=365.0, help="simulated days")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row")
    parser.add_argument("--rtol", type=float, default=1e-7,
                        help="relative tolerance of both solvers (evniche's default 1e-7)")
    parser.add_argument("--ensemble", type=int, default=100,
                        help="parameter sets of the ensemble rows (0: none)")
    parser.add_argument("--ensemble-repeats", type=int, default=3,
                        help="repetitions of the ensemble rows, each on sets of its own "
                             "(the rows give the median)")
    parser.add_argument("--ensemble-only", action="store_true",
                        help="only the ensemble rows (no libRoadRunner comparison)")
    args = parser.parse_args(argv)
    if args.ensemble_only:
        if args.ensemble <= 0:
            print("--ensemble-only needs --ensemble > 0", file=sys.stderr)
            return 2
        ensemble(args)
        return 0
    try:
        import roadrunner
    except ImportError:
        print("libroadrunner is not installed: pip install libroadrunner", file=sys.stderr)
        return 2
    try:
        net, schedule = prepare(args.model, None, None, args.days)
    except evniche.errors.EvnicheError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    y0 = starting_state(net)
    start_net = starting_at(net, y0)
    text = to_sbml(net, y0, schedule)
    ids = _ids(text)

    def engine():
        return wellmixed.integrate(start_net, args.days, schedule, rtol=args.rtol,
                                   equilibrate_first=False)

    def whole():
        return evniche.simulate(args.model, days=args.days, rtol=args.rtol)

    sol = engine()  # warm-up: kernels loaded, steady state cached
    whole()
    atol = wellmixed.tolerances(sol.kinetics, sol.initial, args.rtol)
    times = [float(v) for v in sol.t]
    rr = roadrunner.RoadRunner(text)  # this process's first object: compiles
    rr_setup(rr, net, atol, ids, args.rtol)

    def rr_simulate():
        rr.resetAll()
        return np.asarray(rr.simulate(times=times))

    def rr_new():
        other = roadrunner.RoadRunner(text)
        rr_setup(other, net, atol, ids, args.rtol)
        return np.asarray(other.simulate(times=times))

    with tempfile.TemporaryDirectory() as tmp:
        sbml_path = Path(tmp) / "model.xml"
        sbml_path.write_text(text, encoding="utf-8")
        np.save(Path(tmp) / "atol.npy", atol)
        evniche_cold = (f"import time; t = time.perf_counter(); import evniche; "
                        f"evniche.simulate({args.model!r}, days={args.days}, "
                        f"rtol={args.rtol}); print(time.perf_counter() - t)")
        rr_cold = ("import time, numpy as np, roadrunner, sys\n"
                   "t = time.perf_counter()\n"
                   f"rr = roadrunner.RoadRunner(open({str(sbml_path)!r}).read())\n"
                   "rr.integrator.stiff = True\n"
                   f"rr.integrator.relative_tolerance = {args.rtol}\n"
                   "rr.integrator.maximum_num_steps = 10**6\n"
                   f"ids = {[ids[sp.name] for sp in net.species]!r}\n"
                   f"atol = np.load({str(Path(tmp) / 'atol.npy')!r})\n"
                   "for i, a in zip(ids, atol): rr.integrator.setIndividualTolerance("
                   "i.strip('[]'), float(a))\n"
                   "rr.timeCourseSelections = ['time'] + ids\n"
                   f"rr.simulate(times={times!r})\n"
                   "print(time.perf_counter() - t)\n")
        numba_dir = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                        / "evniche" / "numba")
        labels = ("evniche integrate", "evniche.simulate warm", "evniche.simulate cold process",
                  "  … cold steady state", "roadrunner simulate (resetAll)", "roadrunner warm",
                  "roadrunner cold")
        rows: dict[str, list[float]] = {k: [] for k in labels}
        cpus: dict[str, list[float]] = {k: [] for k in labels}
        for _ in range(args.repeats):  # interleaved: one of each per repetition
            for label, fn in (("evniche integrate", engine),
                              ("roadrunner simulate (resetAll)", rr_simulate),
                              ("evniche.simulate warm", whole), ("roadrunner warm", rr_new)):
                c, t = time.process_time(), time.perf_counter()
                result = fn()
                rows[label].append(time.perf_counter() - t)
                cpus[label].append(time.process_time() - c)
                if label == "roadrunner simulate (resetAll)":
                    other = result[:, 1:]
            for label, code, env in (
                    ("evniche.simulate cold process", evniche_cold, None),
                    ("  … cold steady state", evniche_cold, "empty"),
                    ("roadrunner cold", rr_cold, None)):
                with tempfile.TemporaryDirectory() as cache:
                    wall, cpu = child(code, None if env is None else {
                        "XDG_CACHE_HOME": cache, "NUMBA_CACHE_DIR": numba_dir})
                rows[label].append(wall)
                cpus[label].append(cpu)

    meaningful = np.abs(sol.y[-1]) > 1000 * atol
    diff = np.abs(other[-1] - sol.y[-1]) / np.where(meaningful, np.abs(sol.y[-1]), 1.0)
    worst = float(np.max(diff[meaningful])) if meaningful.any() else 0.0

    warm_rr = statistics.median(rows["roadrunner warm"])
    print(f"model {net.name} ({args.model}), {args.days:g} days, {len(net.species)} states, "
          f"{len(schedule.windows)} windows and {len(schedule.jumps)} doses, "
          f"rtol {args.rtol:g}, medians of {args.repeats} interleaved runs, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    warm_cpu = statistics.median(cpus["roadrunner warm"])
    print(f"{'':34}{'median s':>10}{'min s':>10}{'max s':>10}{'/ rr warm':>11}"
          f"{'cpu s':>10}{'/ rr warm':>11}")
    for label, ts in rows.items():
        median, cpu = statistics.median(ts), statistics.median(cpus[label])
        print(f"{label:34}{median:10.4f}{min(ts):10.4f}{max(ts):10.4f}"
              f"{median / warm_rr:11.2f}{cpu:10.4f}{cpu / warm_cpu:11.2f}")
    print(f"RHS evaluations per evniche run: {sol.n_rhs}; output points: {len(times)}; "
          f"largest relative difference of the final states: {worst:.2e}")
    if args.ensemble > 0:
        ensemble(args)
    return 0


def _parameter_sets(model, n: int, seed: int) -> tuple[list[str], list[dict[str, float]]]:
    """``n`` sets of two parameters drawn uniformly within their plausible ranges (file
    units)."""
    table = model.params.resolved
    ranged = [n for n in ("lsc_self_renewal", "ev_marrow_half_life") if n in table
              and table[n].range is not None] or [n for n, p in table.items()
                                                  if p.range is not None][:2]
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(n):
        one = {}
        for name in ranged:
            item = table[name]
            factor = item.value / item.value_in_unit if item.value_in_unit else 1.0
            lo, hi = (v / factor for v in item.range)
            one[name] = float(rng.uniform(lo, hi))
        sets.append(one)
    return ranged, sets


def ensemble(args) -> None:
    """Model-years per second on ``args.ensemble`` parameter sets: a single run per set
    (:func:`evniche.simulate`), then in this process (simulate_many), then on Dask
    LocalClusters of 1 and 2 worker processes; the median of ``args.ensemble_repeats``
    repetitions, each on sets of its own (no steady state is ever read from a cache)."""
    from evniche.engines.ensemble import simulate_many
    from evniche.experiments import distribute
    from evniche.readouts import scalars

    model = evniche.load_model(args.model)
    repeats = max(1, args.ensemble_repeats)
    ranged, _ = _parameter_sets(model, 1, 2026)
    draws = [_parameter_sets(model, args.ensemble, 2026 + r)[1] for r in range(repeats)]
    years = args.days / 365.25
    old = os.environ.get("XDG_CACHE_HOME")
    rates: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}  # CPU seconds per run (all workers together)
    loads: dict[str, list[float]] = {}
    failed: dict[str, int] = {}

    def record(label: str, n_runs: int, wall: float, used: float, bad: int) -> None:
        rates.setdefault(label, []).append(n_runs * years / wall)
        cpu.setdefault(label, []).append(used / n_runs)
        loads.setdefault(label, []).append(os.getloadavg()[0])
        failed[label] = failed.get(label, 0) + bad

    try:
        _, warm = _parameter_sets(model, 4, 7)
        with tempfile.TemporaryDirectory() as cache:  # kernels loaded; its cache dropped
            os.environ["XDG_CACHE_HOME"] = cache
            simulate_many(model, warm[:1], days=1.0, errors="record")
        single = "single run (evniche.simulate)"
        for r in range(repeats):
            for one in draws[r][:3]:  # load, compile, relax from the initial values, run
                with tempfile.TemporaryDirectory() as cache:
                    os.environ["XDG_CACHE_HOME"] = cache
                    c, t = time.process_time(), time.perf_counter()
                    try:
                        evniche.simulate(args.model, days=args.days, rtol=args.rtol,
                                         overrides={f"parameters.{k}.value": v
                                                    for k, v in one.items()})
                        bad = 0
                    except evniche.errors.EvnicheError:
                        bad = 1
                    record(single, 1, time.perf_counter() - t, time.process_time() - c, bad)
            with tempfile.TemporaryDirectory() as cache:  # every set relaxes to its own state
                os.environ["XDG_CACHE_HOME"] = cache
                c, t = time.process_time(), time.perf_counter()
                out = simulate_many(model, draws[r], days=args.days, rtol=args.rtol,
                                    readout=lambda ds: float(ds.cells.isel(time=-1).sum()),
                                    errors="record", restartable=False)
                record("1 process (simulate_many)", args.ensemble, time.perf_counter() - t,
                       time.process_time() - c, sum(isinstance(v, Exception) for v in out))
        print(f"ensemble: {args.ensemble} parameter sets of {', '.join(ranged)} per "
              f"repetition, {repeats} repetitions on sets of their own, {args.days:g} days "
              f"each, steady state included")
        spec = distribute.Ensemble(model=model.raw, days=args.days,
                                   readouts=tuple(scalars.BUILTIN.values()),
                                   options={"rtol": args.rtol})

        def rows_of(sets):
            return [{f"parameters.{k}.value": v for k, v in one.items()} for one in sets]

        for workers in (1, 2):
            label = f"Dask, {workers} worker{'s' if workers > 1 else ''}"
            with tempfile.TemporaryDirectory() as cache:
                os.environ["XDG_CACHE_HOME"] = cache
                with distribute.cluster(workers=workers) as client:
                    distribute.evaluate(spec, rows_of(warm), client)  # imports, kernels
                    for r in range(repeats):
                        before = _worker_cpu(client)
                        t = time.perf_counter()
                        table = distribute.evaluate(spec, rows_of(draws[r]), client)
                        record(label, args.ensemble, time.perf_counter() - t,
                               _worker_cpu(client) - before, int((table["error"] != "").sum()))
    finally:
        if old is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = old
    median = {k: statistics.median(v) for k, v in rates.items()}
    one = median["Dask, 1 worker"]
    print(f"{'':34}{'years/s':>10}{'min':>8}{'max':>8}{'s/run':>9}{'vs 1 worker':>13}"
          f"{'1000 years':>12}{'cpu s/run':>11}{'load':>7}{'failed':>8}")
    for label, rate in median.items():
        print(f"{label:34}{rate:10.2f}{min(rates[label]):8.2f}{max(rates[label]):8.2f}"
              f"{years / rate:9.3f}{rate / one:13.2f}{TARGET_YEARS / rate:11.0f}s"
              f"{statistics.median(cpu[label]):11.3f}{statistics.median(loads[label]):7.1f}"
              f"{failed[label]:8d}")
    two = median["Dask, 2 workers"]
    best = TARGET_YEARS * statistics.median(cpu["Dask, 2 workers"]) / years / 2
    print(f"target: {TARGET_YEARS} years in {TARGET_SECONDS:g} s on 2 cores "
          f"({TARGET_YEARS / TARGET_SECONDS:.1f} years/s); measured on 2 workers: "
          f"{TARGET_YEARS / two:.0f} s ({TARGET_YEARS / two / TARGET_SECONDS:.1f}× the target "
          f"time); speed-up 1 → 2 workers: {two / one:.2f}× ({os.cpu_count()} CPUs, load "
          f"average {os.getloadavg()[0]:.1f}); on 2 otherwise idle cores the CPU time per "
          f"run gives at best {best:.0f} s")


def _worker_cpu(client) -> float:
    """CPU seconds (user + system) used so far by all the client's worker processes."""

    def used() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    return float(sum(client.run(used).values()))


def _ids(text: str) -> dict[str, str]:
    """evniche species name -> the libRoadRunner selection of the same value: the SBML
    species' id for one counted in amounts, ``[id]`` for one in concentration."""
    import libsbml

    model = libsbml.readSBMLFromString(text).getModel()
    out = {}
    for i in range(model.getNumSpecies()):
        sp = model.getSpecies(i)
        out[sp.getName()] = (sp.getId() if sp.getHasOnlySubstanceUnits()
                             else f"[{sp.getId()}]")
    return out


def _species_id(selection: str) -> str:
    """The SBML id inside a selection (``[id]`` or ``id``)."""
    return selection.strip("[]")


if __name__ == "__main__":
    sys.exit(main())
