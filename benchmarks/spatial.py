"""Benchmarks of the spatial engine's hot loops; prints one table.

    python benchmarks/spatial.py [--quick] [--threads N]

For 1e4, 1e5 and 1e6 agents (``--quick``: 1e4 and 1e5) on a 2-D grid with one voxel per
agent and 8 fields:

* diffusion: voxel-substrate updates per second of one implicit LOD step (median of
  repeats), and of a plain NumPy explicit 5-point step on the same array, measured in the
  same run;
* agents: agent-steps per second of the mechanics step (binning + contact forces + motion);
* memory: bytes per agent of the agent arrays (8 cargo and 8 state slots), and the
  process's peak resident memory after the largest case.

PhysiCell 1.14.2 (BioFVM) reference: ≈1.2e8 voxel-substrate updates/s with 4 substrates
and 2 threads on these 2-core machines — a QUOTED figure (docs/DESIGN.md), not measured in
this run.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numba  # noqa: E402

from evniche.engines.spatial import agents as ag  # noqa: E402
from evniche.engines.spatial.diffusion import Diffuser  # noqa: E402

PHYSICELL_VOXEL_UPDATES = 1.2e8  # quoted reference, 4 substrates, 2 threads
FIELDS = 8


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up (compilation, caches)
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
    side = int(round(np.sqrt(n_agents)))
    dx = 10.0
    shape = (1, side, side)
    u = rng.random((FIELDS, *shape))
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

    def mechanics():
        grid = ag.bin_agents(a.pos, 12.5, extent)
        a.pos = ag.move(a, radius, drift, noise, grid, extent, 0.5, 20.0, 1.0, sinusoid, dx,
                        shape)

    t_mech = median_time(mechanics, repeats)
    updates = FIELDS * side * side
    return {"agents": n_agents, "voxels": side * side, "diff": updates / t_diff,
            "numpy": updates / t_np, "agent_steps": n_agents / t_mech,
            "bytes_per_agent": a.nbytes() / n_agents}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e4 and 1e5 agents only")
    parser.add_argument("--threads", type=int, default=None, help="Numba threads")
    args = parser.parse_args(argv)
    if args.threads:
        numba.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    rows = [case(n, 5 if n < 1_000_000 else 3, rng) for n in sizes]
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"spatial engine benchmark — {FIELDS} fields, 2-D grid, one voxel per agent, "
          f"{numba.get_num_threads()} Numba thread(s); medians over repeats")
    head = (f"{'agents':>9} {'voxels':>9} {'LOD vox-subst/s':>16} {'vs PhysiCell*':>13} "
            f"{'NumPy expl./s':>14} {'vs NumPy':>9} {'agent-steps/s':>14} {'B/agent':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['agents']:>9.0e} {r['voxels']:>9d} {r['diff']:>16.3e} "
              f"{r['diff'] / PHYSICELL_VOXEL_UPDATES:>12.2f}x {r['numpy']:>14.3e} "
              f"{r['diff'] / r['numpy']:>8.2f}x {r['agent_steps']:>14.3e} "
              f"{r['bytes_per_agent']:>8.0f}")
    print(f"peak resident memory of this process: {peak_gb:.2f} GB")
    print("* PhysiCell 1.14.2 BioFVM ≈ 1.2e8 voxel-substrate updates/s (4 substrates, "
          "2 threads) is a quoted reference, not measured in this run.")


if __name__ == "__main__":
    main()
