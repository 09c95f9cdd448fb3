"""How compiled kernels share the cores.

The hot loops are serial Numba functions compiled with ``nogil=True``; a parallel call
splits the work into ``W`` independent shares (fields, or ranges of agents) and runs them
on ``W`` Python threads, the calling thread taking share 0. Each share is computed by one
thread in a fixed order and shares never write to the same place, so the result is bitwise
the same at any number of threads.

Why not ``numba.prange``: on these shared 2-core machines, the OpenMP layer's threads spin
at the end of a parallel region and, when other processes keep the cores busy, a 0.1-ms
region took 10 ms; and compiling the parallel regions added ~10 s to a fresh test run.

Small problems run on the calling thread: a hand-off costs more than the work there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numba

#: work (voxel-field values × sub-steps of a call) below which field kernels use one thread
FIELD_VALUES = 200_000
#: agents below which agent kernels use one thread
AGENTS = 20_000

_state: dict[str, object] = {"workers": int(numba.config.NUMBA_NUM_THREADS), "pool": None}


def workers() -> int:
    """Threads a parallel call uses (default: ``NUMBA_NUM_THREADS``, the number of cores)."""
    return int(_state["workers"])


@contextmanager
def using(n: int | None) -> Iterator[None]:
    """Use ``n`` threads inside the block (``None``: leave the setting as it is)."""
    before = workers()
    if n is not None:
        _state["workers"] = int(n)
    try:
        yield
    finally:
        _state["workers"] = before


def run(task: Callable[[int, int], None], work: int, kind: str) -> None:
    """Call ``task(share, shares)`` for every share, in parallel when ``work`` is at least
    the threshold of ``kind`` ("fields": :data:`FIELD_VALUES`, "agents": :data:`AGENTS`;
    read at call time, so a test can set them to 0 to force the parallel path)."""
    threshold = FIELD_VALUES if kind == "fields" else AGENTS
    shares = workers() if work >= threshold else 1
    if shares <= 1:
        task(0, 1)
        return
    pool = _state["pool"]
    if pool is None or pool._max_workers < shares - 1:  # noqa: SLF001
        if pool is not None:
            pool.shutdown(wait=False)
        pool = ThreadPoolExecutor(max_workers=shares - 1, thread_name_prefix="evniche")
        _state["pool"] = pool
    futures = [pool.submit(task, s, shares) for s in range(1, shares)]
    task(0, shares)
    for future in futures:
        future.result()


def span(n: int, share: int, shares: int) -> tuple[int, int]:
    """The ``share``-th of ``shares`` contiguous ranges of ``range(n)``."""
    return n * share // shares, n * (share + 1) // shares
