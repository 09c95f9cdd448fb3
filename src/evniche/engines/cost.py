"""What a run will cost, estimated before it starts, and the limits it must stay within.

Before any engine starts, :func:`estimate` sizes the results a run keeps in memory (and
then writes): the trajectory (one sample every ``output_hours``, each holding every
variable of the Trajectory, 8 bytes a number) and, for the spatial engine, the section
snapshots as :mod:`evniche.engines.spatial.snapshots` keeps them (every field on the
middle section, or on the whole grid in 3-D when snapshots are written, 4 bytes a number,
and the position and type of up to twice the target number of agents; the agents' other
columns stream to disk). :func:`check` refuses a run that would

* simulate more than :data:`MAX_DAYS` days (100 years: longer than a human life),
* keep more than :data:`MAX_OUTPUT_BYTES` (2 GiB) of results, or
* take more than :data:`MAX_STEPS` fixed time steps (spatial engine),

unless the caller allows a large run (``allow_large=True``; ``evniche run --allow-large``).
Even a large run must keep its results within this machine's memory.

The number of days must be finite and > 0, and a seed a whole number in [0, 2**63) (the
run registry stores it as a 64-bit integer) for every engine.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from ..compile.network import Network
from ..errors import SimulationError

#: the longest run without ``allow_large``: 100 years of 365.25 days
MAX_DAYS = 36_525.0
#: the most result bytes a run may keep without ``allow_large`` (2 GiB)
MAX_OUTPUT_BYTES = 2 * 1024**3
#: the most fixed time steps (spatial engine) without ``allow_large``
MAX_STEPS = 1_000_000
#: seeds lie in [0, SEED_LIMIT)
SEED_LIMIT = 2**63
ALLOW = "--allow-large (allow_large=True in Python)"


@dataclass(frozen=True)
class Cost:
    """The estimate for one run: ``samples`` trajectory times, ``output_bytes`` of results
    and ``steps`` fixed time steps (None for the adaptive well-mixed solver)."""

    days: float
    engine: str
    samples: int
    output_bytes: float
    steps: int | None = None
    detail: str = ""


def check_days(days) -> float:
    """``days`` as a float, or a SimulationError unless it is a finite number > 0."""
    try:
        value = float(days)
    except (TypeError, ValueError):
        raise SimulationError(f"--days must be a number of days, got {days!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise SimulationError(f"--days must be a finite number > 0, got {days!r}")
    if not math.isfinite(value * 24.0):
        raise SimulationError(f"--days {value:g} is too many days to count in hours")
    return value


def check_seed(seed) -> int:
    """``seed`` as an int, or a SimulationError unless it is a whole number in
    [0, :data:`SEED_LIMIT`)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise SimulationError(f"--seed must be a whole number, got {seed!r}")
    if not 0 <= int(seed) < SEED_LIMIT:
        raise SimulationError(f"--seed must lie in [0, 2**63), got {seed}")
    return int(seed)


def _positive(options: dict, key: str, default: float) -> float:
    value = options.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise SimulationError(f"option {key} must be a finite number > 0, got {value!r}")
    return number


#: bytes per sample, by network digest, engine and sizes (a run of an ensemble or a
#: sensitivity table measures its probe trajectories once, not once per run)
_PER_SAMPLE: dict[tuple, int] = {}


def trajectory_bytes_per_sample(net: Network, engine: str = "wellmixed") -> int:
    """Bytes one time sample adds to the Trajectory of ``net`` (measured on a probe
    Trajectory of one and of two samples, so it follows what the Trajectory holds)."""
    key = (net.digest, engine, len(net.species), len(net.behaviors), len(net.signals),
           len(net.pools), len(net.cells))
    if key not in _PER_SAMPLE:
        _PER_SAMPLE[key] = _measure_bytes_per_sample(net, engine)
    return _PER_SAMPLE[key]


def _measure_bytes_per_sample(net: Network, engine: str) -> int:
    from . import trajectory

    def size(n: int) -> int:
        signals = np.zeros((n, len(net.signals))) if engine != "spatial" else None
        return trajectory.build(net, np.arange(n) * 24.0, np.zeros((n, len(net.species))),
                                np.zeros((n, len(net.behaviors))), engine, 0,
                                signals=signals).nbytes

    return max(size(2) - size(1), 0)


def estimate(net: Network, days: float, engine: str = "wellmixed",
             options: dict | None = None) -> Cost:
    """The cost of running ``net`` for ``days`` on ``engine`` with engine ``options``."""
    options = dict(options or {})
    if engine == "spatial":
        return _spatial(net, days, options)
    if engine == "stochastic":
        from .stochastic import validated_options

        options = validated_options(options)
    output_hours = _positive(options, "output_hours", 24.0)
    samples = math.ceil(days * 24.0 / output_hours) + 1
    per = trajectory_bytes_per_sample(net, engine)
    return Cost(days, engine, samples, float(samples) * per,
                detail=f"{samples:.3g} samples × {per / 1024:.3g} KiB")


def _spatial(net: Network, days: float, options: dict) -> Cost:
    from .spatial import engine as spatial
    from .spatial.geometry import grid_shape

    opts = spatial.validated_options(net, options)
    dt = float(opts["dt_hours"])
    steps = math.ceil(days * 24.0 / dt - 1e-9)
    every = max(round(float(opts["output_hours"]) / dt), 1)
    samples = steps // every + 2
    per = trajectory_bytes_per_sample(net, "spatial")
    nz, ny, nx = grid_shape(opts["geometry"])
    n_fields = len(net.pools) + len(net.cytokines)
    chosen = opts["snapshot_days"]
    snapshots = (4 if chosen is None else len(chosen)) + int(opts["animation_frames"])
    agents = 2 * int(opts["agents"])  # a type is thinned once it holds twice its target
    # what engines.spatial.snapshots keeps per snapshot: the fields' middle section and the
    # agents' x, y (float32) and type (int32), and in 3-D with a snapshot_dir the whole
    # grid for fields.zarr; the agents' other columns stream to agents.parquet
    grids = nz > 1 and opts.get("snapshot_dir") is not None
    field_bytes = n_fields * ny * nx * (nz if grids else 1) * 4.0 * snapshots
    agent_bytes = agents * 12.0 * snapshots
    total = samples * float(per) + field_bytes + agent_bytes
    kept = f"{n_fields} fields × {ny * nx * (nz if grids else 1):.3g} voxels"
    return Cost(days, "spatial", samples, total, steps,
                detail=f"{samples:.3g} samples × {per / 1024:.3g} KiB, {snapshots} snapshots "
                       f"of {kept} and ≤ {agents:.3g} agents")


def memory_bytes() -> int | None:
    """Physical memory of this machine, or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} TiB"  # pragma: no cover


def check(cost: Cost, allow_large: bool = False) -> None:
    """Refuse a run above the limits of this module (SimulationError giving the estimate
    and how to allow it); with ``allow_large``, only one beyond this machine's memory."""
    memory = memory_bytes()
    if memory is not None and cost.output_bytes > memory:
        raise SimulationError(
            f"a {cost.days:g}-day {cost.engine} run would keep about "
            f"{_size(cost.output_bytes)} of results ({cost.detail}), more than this "
            f"machine's memory ({_size(memory)}); shorten --days or sample less often")
    if allow_large:
        return
    over, fixes = [], ["shorten --days"]
    if cost.days > MAX_DAYS:
        over.append(f"{cost.days:g} days is more than the limit of {MAX_DAYS:g} days "
                    "(100 years)")
    if cost.output_bytes > MAX_OUTPUT_BYTES:
        over.append(f"its results would take about {_size(cost.output_bytes)} "
                    f"({cost.detail}), more than the limit of {_size(MAX_OUTPUT_BYTES)}")
        if cost.engine == "spatial":
            fixes.append("take fewer snapshots (--spatial animation_frames=…), a coarser "
                         "grid (dx_um) or fewer agents")
    if cost.steps is not None and cost.steps > MAX_STEPS:
        over.append(f"it would take {cost.steps:.3g} time steps, more than the limit of "
                    f"{MAX_STEPS:.3g}")
        fixes.append("take longer steps (--spatial dt_hours=…)")
    if over:
        raise SimulationError(f"this {cost.engine} run is too large: {'; '.join(over)}. "
                              f"{'; '.join(fixes).capitalize()}; or pass {ALLOW} to run it "
                              "anyway")
