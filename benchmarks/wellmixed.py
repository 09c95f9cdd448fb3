"""Benchmark of the well-mixed engine beside libRoadRunner on the exported SBML; one table.

    python benchmarks/wellmixed.py [--model aml] [--days 365] [--repeats 5] [--rtol 1e-7]

``--model`` is a preset name or a path to a model file. Both simulators start from the
same state, the one ``evniche simulate`` starts from (the equilibrated healthy marrow plus
the leukemic seeds, computed once and not timed in the integration rows), apply the
model's own interventions, use the same relative tolerance and the same absolute
tolerance per species, and report the state every simulated day. Rows (median, min and
max wall time of ``--repeats`` runs, after one untimed warm-up):

* ``evniche integrate``: :func:`evniche.engines.wellmixed.integrate` from that state
  (BDF with a sparse Jacobian pattern; includes probing that pattern, as every run does);
* ``evniche.simulate``: the whole public call (load and compile the model, equilibrate,
  integrate, build the Dataset);
* ``roadrunner simulate``: ``RoadRunner.simulate`` of the exported SBML (CVODE, stiff),
  after ``resetAll``; the one-time load and LLVM compilation is a separate row.

It also prints the number of states, the engine's right-hand-side evaluations per run, and
how far the two final states are apart (largest relative difference over species above
1000 times their absolute tolerance), so a fast but wrong run cannot pass unnoticed.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import evniche  # noqa: E402
from evniche.engines import prepare, wellmixed  # noqa: E402
from evniche.interop.sbml import starting_state, to_sbml  # noqa: E402


def timed(fn, repeats: int) -> tuple[list[float], object]:
    """Wall times (s) of ``repeats`` calls after one untimed warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="aml", help="preset name or model file")
    parser.add_argument("--days", type=float, default=365.0, help="simulated days")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row")
    parser.add_argument("--rtol", type=float, default=1e-7,
                        help="relative tolerance of both solvers (evniche's default 1e-7)")
    args = parser.parse_args(argv)
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
    t = time.perf_counter()
    y0 = starting_state(net)
    t_equilibrate = time.perf_counter() - t
    start_net = starting_at(net, y0)

    # --- evniche
    def engine():
        return wellmixed.integrate(start_net, args.days, schedule, rtol=args.rtol,
                                   equilibrate_first=False)

    t_engine, sol = timed(engine, args.repeats)

    def whole():
        return evniche.simulate(args.model, days=args.days, rtol=args.rtol)

    t_whole, _ = timed(whole, args.repeats)

    # --- libRoadRunner on the export
    text = to_sbml(net, y0, schedule)
    atol = wellmixed.tolerances(sol.kinetics, sol.initial, args.rtol)
    t = time.perf_counter()
    rr = roadrunner.RoadRunner(text)
    t_load = time.perf_counter() - t
    ids = _ids(text)
    rr.integrator.stiff = True
    rr.integrator.relative_tolerance = args.rtol
    rr.integrator.maximum_num_steps = 10**6
    for sp, tol in zip(net.species, atol, strict=True):
        rr.integrator.setIndividualTolerance(ids[sp.name], float(tol))
    rr.timeCourseSelections = ["time"] + [ids[sp.name] for sp in net.species]
    times = [float(v) for v in sol.t]

    def rr_run():
        rr.resetAll()
        return np.asarray(rr.simulate(times=times))

    t_rr, result = timed(rr_run, args.repeats)
    other = result[:, 1:]

    meaningful = np.abs(sol.y[-1]) > 1000 * atol
    diff = np.abs(other[-1] - sol.y[-1]) / np.where(meaningful, np.abs(sol.y[-1]), 1.0)
    worst = float(np.max(diff[meaningful])) if meaningful.any() else 0.0

    rr_median = statistics.median(t_rr)
    print(f"model {net.name} ({args.model}), {args.days:g} days, {len(net.species)} states, "
          f"{len(schedule.windows)} windows and {len(schedule.jumps)} doses, "
          f"rtol {args.rtol:g}, medians of {args.repeats} runs")
    print(f"{'':32}{'median s':>10}{'min s':>10}{'max s':>10}{'/ roadrunner':>14}")
    for label, ts in (("evniche integrate", t_engine), ("evniche.simulate (whole)", t_whole),
                      ("roadrunner simulate", t_rr)):
        median = statistics.median(ts)
        print(f"{label:32}{median:10.4f}{min(ts):10.4f}{max(ts):10.4f}"
              f"{median / rr_median:14.2f}")
    print(f"{'roadrunner load + compile (1x)':32}{t_load:10.4f}")
    print(f"{'evniche equilibrate (1x)':32}{t_equilibrate:10.4f}")
    print(f"RHS evaluations per evniche run: {sol.n_rhs}; "
          f"output points: {len(times)}; "
          f"largest relative difference of the final states: {worst:.2e}")
    return 0


def _ids(text: str) -> dict[str, str]:
    import libsbml

    model = libsbml.readSBMLFromString(text).getModel()
    return {model.getParameter(i).getName(): model.getParameter(i).getId()
            for i in range(model.getNumParameters())}


if __name__ == "__main__":
    sys.exit(main())
