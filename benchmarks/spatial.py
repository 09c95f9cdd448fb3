"""Benchmarks of the spatial engine; prints one table.

    python benchmarks/spatial.py [--quick] [--threads N] [--repeats K]

For 1e4, 1e5 and 1e6 agents (``--quick``: 1e4 and 1e5) on a 2-D grid with one voxel per
agent and 8 fields (medians over repeats, after a warm-up call that compiles):

* diffusion: voxel-substrate updates per second of one implicit LOD step of all 8 fields
  (``Diffuser.step``), and of a plain NumPy explicit 5-point step on the same array, measured
  in the same run;
* agents: agent-steps per second of one cell step's compiled neighbor work (binning,
  contact forces and motion, and the contact-killing neighborhood sums);
* memory: bytes per agent of the agent arrays (8 cargo and 8 state slots), and the
  process's peak resident memory after the largest case (agents and fields held at once).

Whole runs of the aml preset (``--agents``, default 1e5 and 1e6; ``--quick``: 1e5) at one
agent per 10-µm voxel (a square 2-D section of ``agents`` voxels), ``--run-days`` simulated
days (default 0.125: 6 cell steps) with the default snapshots written to a temporary
folder, each in a child process: its peak resident memory (the whole run: set-up, fields,
snapshots, outputs) and two rates against the 2e6 agent-steps/s target, agents × steps /
time: the agents' work per step (the cell step without the fields: neither the compiled
reaction-diffusion-blood sub-steps nor the per-voxel coupling that prepares them and books
their ledger) and the full step including them; then the
time per step of each part (rules and behaviours, field coupling, field sub-steps,
neighbour sums, motion, cells) and of the snapshots.

Then a whole run at the scale of PhysiCell's rules sample: ~1,300 agents, 5 fields (4 EV
pools and CXCL12), 5 simulated days, on a 1 mm × 1 mm section of 20 µm voxels (median
wall time of ``--repeats`` runs, compilation excluded).

PhysiCell's figures are measured beside these in ``benchmarks/physicell.py``, which builds
PhysiCell 1.14.2 from the anchor and runs the same 3-D grid and the rules sample's scale in
the same run. The machine is shared: timings are noisy; rerun to see the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from evniche.engines.spatial import agents as ag  # noqa: E402
from evniche.engines.spatial import threads  # noqa: E402
from evniche.engines.spatial.diffusion import Diffuser  # noqa: E402

FIELDS = 8


def median_time(fn, repeats: int) -> float:
    """Median wall time (s) of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def numpy_explicit(u: np.ndarray, a: float) -> None:
    """One explicit 5-point diffusion step with zero-flux edges (stable for a ≤ 0.25)."""
    p = np.pad(u, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    u += a * (p[:, :, :-2, 1:-1] + p[:, :, 2:, 1:-1] + p[:, :, 1:-1, :-2] + p[:, :, 1:-1, 2:]
              - 4.0 * u)


def case(n_agents: int, repeats: int, rng: np.random.Generator) -> dict:
    """Diffusion, agent and memory figures at ``n_agents`` agents (one voxel each)."""
    side = int(round(np.sqrt(n_agents)))
    dx = 10.0
    shape = (1, side, side)
    u = rng.random((FIELDS, *shape))
    # exosome-like coefficient (2.4 µm²/s) over a 3-min sub-step: α ≈ 4.3
    diff = Diffuser(shape, dx, np.full(FIELDS, 2.4 * 3600), 0.05)
    t_diff = median_time(lambda: diff.step(u), repeats)
    t_np = median_time(lambda: numpy_explicit(u, 0.2), repeats)
    extent = np.array([side * dx, side * dx, dx])
    a = ag.Agents(np.zeros(n_agents, np.int32),
                  np.column_stack([rng.random(n_agents) * extent[0],
                                   rng.random(n_agents) * extent[1],
                                   np.full(n_agents, 0.5 * dx)]),
                  np.zeros(n_agents), np.zeros((n_agents, 8)), np.zeros((n_agents, 8)))
    radius = np.full(n_agents, 5.0)
    drift = np.zeros((n_agents, 3))
    noise = rng.normal(size=(n_agents, 3))
    noise[:, 2] = 0.0
    sinusoid = np.zeros(side * side, bool)
    weight = np.ones(n_agents)
    targets = rng.random(n_agents) < 0.1

    def agent_step():
        grid = ag.bin_agents(a.pos, 20.0, extent)
        ag.neighbor_ratio(a.pos, weight, weight, targets, grid, 20.0)
        grid = ag.bin_agents(a.pos, 12.5, extent)
        a.pos = ag.move(a, radius, drift, noise, grid, extent, 0.5, 20.0, 1.0, sinusoid, dx,
                        shape)

    t_agents = median_time(agent_step, repeats)
    updates = FIELDS * side * side
    return {"agents": n_agents, "voxels": side * side, "diff": updates / t_diff,
            "numpy": updates / t_np, "agent_steps": n_agents / t_agents,
            "bytes_per_agent": a.nbytes() / n_agents}


#: the cell step's parts timed by :func:`whole_run` (seconds summed over the run's steps)
PARTS = ("behaviours", "coupling", "substeps", "neighbours", "motion", "cells")
PART_NAMES = {
    "behaviours": "rules and behaviours (population view, per-agent rules, secretion)",
    "coupling": "field coupling (loss rates, exact factors, ledger, cargo delivered)",
    "substeps": "field sub-steps (compiled reaction, diffusion and blood)",
    "neighbours": "contact-killing neighbour sums",
    "motion": "motion (chemotaxis, binning, contact forces)",
    "cells": "cells (cargo, states, fates, daughters, reweighting, bookkeeping)",
}


def whole_run(n_agents: int, days: float, n_threads: int | None) -> dict:
    """A whole aml run at ``n_agents`` agents (one per voxel) in this process, after a
    small run that loads the compiled kernels; for :func:`child_run`. Times the cell
    step's parts (:data:`PARTS`: each part's time net of the parts timed inside it) and
    the snapshots (taken between steps)."""
    import evniche
    from evniche.engines.spatial import agents as ag
    from evniche.engines.spatial import behaviours, cells, engine, fields, motion, snapshots

    side = float(np.sqrt(n_agents) * 10.0)
    with tempfile.TemporaryDirectory() as tmp:  # loads (or compiles) every kernel
        evniche.simulate("aml", days=0.05, engine="spatial", seed=0, agents=400,
                         size_um=(200.0, 200.0), snapshot_dir=tmp, threads=n_threads)
    spent = dict.fromkeys(("time", "snapshots", *PARTS), 0.0)
    steps = {"agent_steps": 0, "n": 0}
    inner: list[str] = []  # the parts being timed, innermost last

    def timed(owner, name: str, label: str) -> None:
        function = getattr(owner, name)

        def timed_part(*args, **kwargs):
            inner.append(label)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                took = time.perf_counter() - start
                inner.pop()
                spent[label] += took
                if inner:  # not the enclosing part's own time
                    spent[inner[-1]] -= took

        setattr(owner, name, timed_part)

    run_shares = threads.run

    def fields_run(task, work, kind):  # the compiled sub-steps: the parallel field call
        if kind != "fields" or not inner:
            return run_shares(task, work, kind)
        inner.append("substeps")
        start = time.perf_counter()
        try:
            return run_shares(task, work, kind)
        finally:
            took = time.perf_counter() - start
            inner.pop()
            spent["substeps"] += took
            spent[inner[-1]] -= took

    timed(behaviours, "evaluate", "behaviours")
    timed(fields, "react", "coupling")
    threads.run = fields_run
    timed(cells, "advance", "cells")
    timed(motion, "displace", "motion")
    timed(ag, "neighbor_ratio", "neighbours")
    timed(snapshots.Snapshots, "take", "snapshots")
    step = engine.Run.step

    def timed_step(self, t):
        start = time.perf_counter()
        n = self.agents.n
        step(self, t)
        spent["time"] += time.perf_counter() - start
        steps["agent_steps"] += n
        steps["n"] += 1

    engine.Run.step = timed_step
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ds = evniche.simulate("aml", days=days, engine="spatial", seed=0, agents=n_agents,
                              size_um=(side, side), snapshot_dir=tmp, threads=n_threads,
                              allow_large=True)
        ds.to_netcdf(Path(tmp) / "trajectory.nc")
    return {"agents": n_agents, "wall": time.perf_counter() - start,
            "step_time": spent["time"], "agent_steps": steps["agent_steps"],
            "steps": steps["n"], "parts": {k: spent[k] for k in PARTS},
            "snapshots": spent["snapshots"],
            "final": int(ds.attrs["agents_final"]), "fields": int(ds.sizes["field"]),
            "substeps": int(ds.attrs["field_substeps"]),
            "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
            "load": os.getloadavg()[0]}


def child_run(n_agents: int, days: float, n_threads: int | None) -> dict:
    """:func:`whole_run` in a child process (its own peak resident memory)."""
    cmd = [sys.executable, __file__, "--child", str(n_agents), str(days)]
    if n_threads is not None:
        cmd += ["--threads", str(n_threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", check=False)
    if done.returncode != 0:
        sys.exit(f"error: the whole run at {n_agents} agents failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rules_sample_model() -> dict:
    """A small model at the scale of PhysiCell's rules sample: 3 marrow cell types, 4 EV
    pools and CXCL12 (5 fields). Its numbers are benchmark settings, not biology."""
    why = "assumption: a benchmark setting, not a biological value"

    def p(value, unit):
        return {"value": value, "unit": unit, "source": why}

    return {
        "name": "benchmark-rules-scale",
        "description": "5 fields, ~1,300 agents: the scale of PhysiCell's rules sample",
        "parameters": {
            "vm": p(1000, "mL"), "vb": p(3000, "mL"), "d_min": p(30, "nm"),
            "d_med": p(100, "nm"), "d_max": p(150, "nm"), "mv_min": p(100, "nm"),
            "mv_med": p(300, "nm"), "mv_max": p(1000, "nm"), "gsd": p(1.4, "dimensionless"),
            "deg": p(0.1, "1/h"), "drain": p(0.5, "1/h"), "clear": p(7, "1/min"),
            "n_msc": p(2e5, "cell"), "n_hsc": p(5e4, "cell"), "n_nk": p(1e5, "cell"),
            "sec": p(100, "EV/cell/h"), "up": p(1e-6, "mL/h"), "copies": p(0.01, "copies"),
            "decay": p(0.03, "1/h"), "div": p(0.01, "1/h"), "renew": p(0.5, "dimensionless"),
            "death": p(0.005, "1/h"), "cxcl12": p(1e4, "1/h"), "cyt_decay": p(1, "1/h"),
            "half": p(0.01, "copies"), "hill": p(2, "dimensionless"),
            "sat": p(0.4, "dimensionless"), "kill": p(1e-3, "1/h"),
        },
        "compartments": {"marrow": {"volume": "vm"}, "blood": {"volume": "vb"}},
        "vesicle_classes": {
            "exosome": {"diameter": {"median": "d_med", "gsd": "gsd", "min": "d_min",
                                     "max": "d_max"},
                        "degradation": "deg", "drainage": "drain", "clearance": "clear"},
            "microvesicle": {"diameter": {"median": "mv_med", "gsd": "gsd", "min": "mv_min",
                                          "max": "mv_max"},
                             "degradation": "deg", "drainage": "drain", "clearance": "clear"},
        },
        "cargo": {"miR-150": {"decay": "decay"}},
        "cytokines": {"CXCL12": {"decay": "cyt_decay"}},
        "cell_types": {
            "MSC": {"lineage": "stroma", "initial": "n_msc", "produces": {"CXCL12": "cxcl12"},
                    "secretion": [{"class": "exosome", "rate": "sec",
                                   "cargo": {"miR-150": "copies"}},
                                  {"class": "microvesicle", "rate": "sec"}]},
            "HSC": {"initial": "n_hsc", "proliferation": "div", "self_renewal": "renew",
                    "death": "death", "niche": True,
                    "secretion": [{"class": "exosome", "rate": "sec"},
                                  {"class": "microvesicle", "rate": "sec"}]},
            "NK": {"lineage": "immune", "initial": "n_nk", "kills": [{"target": "HSC",
                                                                      "rate": "kill"}]},
        },
        "uptake": [{"target": "HSC", "class": "exosome", "rate": "up"},
                   {"target": "NK", "class": "microvesicle", "rate": "up"}],
        "rules": [{"cell_type": "HSC", "signal": "cargo:miR-150", "direction": "decreases",
                   "behavior": "self_renewal", "saturation": "sat", "half_max": "half",
                   "hill_power": "hill"}],
    }


def rules_sample_run(repeats: int) -> dict:
    """Median wall time of a 5-day run at the rules sample's scale."""
    import evniche

    model = evniche.load_model(rules_sample_model())
    opts = {"agents": 1300, "min_agents": 40, "size_um": (1000.0, 1000.0), "dx_um": 20.0,
            "equilibrate_first": False, "animation_frames": 0, "snapshot_days": [0.0]}
    ds = evniche.simulate(model, days=5.0, seed=0, engine="spatial", **opts)  # compiles
    walls, agents = [], []
    for k in range(repeats):
        ds = evniche.simulate(model, days=5.0, seed=k, engine="spatial", **opts)
        walls.append(float(ds.attrs["wall_seconds"]))
        agents.append(int(ds.attrs["agents_final"]))
    steps = int(round(5 * 24 / float(ds.attrs["dt_hours"])))
    wall = float(np.median(walls))
    fields = ds.sizes["field"]
    return {"wall": wall, "walls": walls, "agents_end": int(np.median(agents)),
            "fields": fields, "steps": steps, "agent_steps": 1300 * steps / wall}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e4 and 1e5 agents only")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of the compiled kernels (default: the cores)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="repeats of the 5-day run (default 3)")
    parser.add_argument("--agents", type=float, nargs="+", default=None,
                        help="agents of the whole aml runs (default 1e5 1e6; --quick: 1e5)")
    parser.add_argument("--run-days", type=float, default=0.125,
                        help="simulated days of the whole aml runs (default 0.125)")
    parser.add_argument("--child", nargs=2, metavar=("AGENTS", "DAYS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(whole_run(int(float(args.child[0])), float(args.child[1]),
                                   args.threads)))
        return
    with threads.using(args.threads):
        report(args)


def report(args: argparse.Namespace) -> None:
    """Measure and print the table."""
    rng = np.random.default_rng(0)
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    reps = {10_000: 21, 100_000: 11, 1_000_000: 5}
    rows = [case(n, reps[n], rng) for n in sizes]
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    whole = [child_run(int(n), args.run_days, args.threads) for n in
             (args.agents or ([1e5] if args.quick else [1e5, 1e6]))]
    run = rules_sample_run(args.repeats)
    print(f"spatial engine benchmark — {FIELDS} fields, 2-D grid, one 10-µm voxel per agent, "
          f"{threads.workers()} thread(s); medians over repeats")
    head = (f"{'agents':>9} {'voxels':>9} {'LOD vox-subst/s':>16} "
            f"{'NumPy expl./s':>14} {'vs NumPy':>9} {'agent-steps/s':>14} {'B/agent':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['agents']:>9.0e} {r['voxels']:>9d} {r['diff']:>16.3e} "
              f"{r['numpy']:>14.3e} "
              f"{r['diff'] / r['numpy']:>8.2f}x {r['agent_steps']:>14.3e} "
              f"{r['bytes_per_agent']:>8.0f}")
    print(f"peak resident memory of this process (largest case: agents and "
          f"{FIELDS} fields held together): {peak_gb:.2f} GB")
    print()
    print(f"whole aml runs, one agent per 10-µm voxel (2-D), {args.run_days:g} days, default "
          "snapshots written; each in a child process (kernels loaded first)")
    head = (f"{'agents':>9} {'fields':>6} {'sub-steps':>9} {'steps':>5} {'wall s':>8} "
            f"{'s/step':>7} {'agent work/s':>13} {'full step/s':>12} {'target':>7} "
            f"{'peak RSS GB':>12} {'load':>5}")
    print(head)
    print("-" * len(head))
    for w in whole:
        agent_time = w["step_time"] - w["parts"]["substeps"] - w["parts"]["coupling"]
        print(f"{w['agents']:>9.0e} {w['fields']:>6d} {w['substeps']:>9d} {w['steps']:>5d} "
              f"{w['wall']:>8.1f} {w['step_time'] / w['steps']:>7.2f} "
              f"{w['agent_steps'] / agent_time:>13.3e} "
              f"{w['agent_steps'] / w['step_time']:>12.3e} {2e6:>7.0e} "
              f"{w['peak_gb']:>12.2f} {w['load']:>5.1f}")
    print("agent work/s: agent-steps per second of the agents' parts of the cell step "
          "(rules and behaviours, neighbour sums, motion, cells; without the field coupling "
          "and the field sub-steps); full step/s: the whole cell step, fields included "
          "(target ≥ 2e6 agent-steps/s for each). load: the 1-min load average at the end "
          "of the run")
    for w in whole:
        per = {k: v / w["steps"] for k, v in w["parts"].items()}
        other = w["step_time"] / w["steps"] - sum(per.values())
        print(f"  {w['agents']:.0e} agents, seconds per step: "
              + "; ".join(f"{PART_NAMES[k]} {v:.2f}" for k, v in per.items())
              + f"; other (blood cells, drug) {other:.2f}; snapshots (between steps) "
              f"{w['snapshots'] / w['steps']:.2f}")
    print()
    print(f"whole run at the rules sample's scale: 1,300 agents at the start "
          f"({run['agents_end']} at the end), {run['fields']} fields, 5 days = "
          f"{run['steps']} cell steps, 50 × 50 voxels of 20 µm")
    print(f"  wall time {run['wall']:.2f} s (median of {len(run['walls'])}: "
          + ", ".join(f"{w:.2f}" for w in run["walls"]) + f"); {run['agent_steps']:.3e} "
          f"agent-steps/s (PhysiCell beside it: benchmarks/physicell.py)")


if __name__ == "__main__":
    main()
