"""Ensembles on Dask: many parameter sets of one model, run in chunks over a cluster.

* :func:`cluster` opens a Dask ``distributed`` client: a ``LocalCluster`` by default (one
  worker process per CPU core, one thread each), or an existing cluster at a scheduler
  address (``tcp://host:8786``).
* :func:`map_chunks` splits a list of items into chunks and runs ``function(chunk, *args)``
  as one task per chunk; results come back in the order of the items, whatever the number
  of workers or the order tasks finish in, so an ensemble is deterministic.
* :class:`Ensemble` + :func:`evaluate` run a model once per row of parameter overrides and
  keep only the scalar readouts of each run (:mod:`evniche.readouts.scalars`): trajectories
  never travel back. The ensemble (the merged model mapping, horizon, seed, readouts) is
  sent to each worker once (scattered), so the model file is read once, not per run.

Every run of a chunk goes through :func:`simulate_rows`, the one place that simulates;
an in-process ensemble API of the engines (many parameter sets per compiled model) will
replace its body by one call.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import EvnicheError
from ..readouts import scalars

Row = Mapping[str, float]
#: a chunk of an ensemble per worker and this many more, for load balance and progress
CHUNKS_PER_WORKER = 16
#: seconds to wait for an existing scheduler to answer
CONNECT_TIMEOUT_S = 10


def default_workers() -> int:
    """Worker processes of the local cluster: the CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def cluster(scheduler: str | None = None, workers: int | None = None, *,
            processes: bool = True) -> Iterator[Any]:
    """A ``distributed.Client``: connected to ``scheduler`` (an address) if given, else to a
    new ``LocalCluster`` of ``workers`` processes (default: one per core) with one thread
    each (``processes=False``: threads of this process, for tests). Closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if workers is not None:
            raise EvnicheError("--workers sizes the local cluster; with --scheduler the "
                               "existing cluster's workers are used")
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise EvnicheError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = default_workers() if workers is None else workers
    if not isinstance(n, int) or n < 1:
        raise EvnicheError(f"--workers must be a whole number >= 1, got {workers}")
    # the scheduler's HTTP server on a free local port: never a clash with another cluster;
    # the workers' own logs only at CRITICAL: a task's error reaches the caller through its
    # future, and at shutdown a worker's last heartbeat to the closed scheduler would print
    # a traceback ("Failed to communicate with scheduler during heartbeat") after every run
    local = LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                         dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)
    client = Client(local)
    try:
        yield client
    finally:
        client.close()
        local.close()


def split(n_items: int, n_chunks: int) -> list[range]:
    """``range(n_items)`` cut into at most ``n_chunks`` consecutive, near-equal pieces."""
    n_chunks = max(1, min(n_chunks, n_items))
    size = math.ceil(n_items / n_chunks) if n_items else 0
    return [range(i, min(i + size, n_items)) for i in range(0, n_items, size or 1)]


def map_chunks(function: Callable[..., list], items: Sequence, *args: Any,
               client: Any = None, n_chunks: int | None = None,
               progress: Callable[[int], None] | None = None) -> list:
    """``function(chunk, *args)`` over chunks of ``items``; the concatenated results, in
    the order of ``items``. ``function`` returns one result per item of its chunk.

    ``client``: a ``distributed.Client`` (None: run here, in this process, one chunk after
    the other). ``args`` are sent to each worker once. ``n_chunks`` defaults to
    :data:`CHUNKS_PER_WORKER` per worker. ``progress(n)`` is called as each chunk of ``n``
    items finishes. An error in a task is raised here and the other tasks are cancelled.
    """
    items = list(items)
    if client is None:
        out: list = []
        for piece in split(len(items), n_chunks or 1):
            chunk = [items[i] for i in piece]
            out += _checked(function(chunk, *args), chunk)
            if progress is not None:
                progress(len(chunk))
        return out
    from distributed import as_completed

    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    pieces = split(len(items), n_chunks or CHUNKS_PER_WORKER * n_workers)
    shared = [client.scatter(a, broadcast=True, hash=False) for a in args]
    tag = uuid.uuid4().hex[:8]
    futures = {client.submit(function, [items[i] for i in piece], *shared, pure=False,
                             key=f"ensemble-{tag}-{k}"): k for k, piece in enumerate(pieces)}
    results: list[list | None] = [None] * len(pieces)
    try:
        for future in as_completed(futures):
            k = futures[future]
            results[k] = _checked(future.result(), pieces[k])
            if progress is not None:
                progress(len(pieces[k]))
    finally:
        for future in futures:
            future.cancel()
    return [r for chunk in results for r in (chunk or [])]


def _checked(result: list, chunk: Sequence) -> list:
    if len(result) != len(chunk):
        raise EvnicheError(f"a chunk of {len(chunk)} items gave {len(result)} results")
    return list(result)


@dataclass(frozen=True)
class Ensemble:
    """What every run of an ensemble shares: ``model`` (the merged model mapping,
    :attr:`evniche.spec.resolve.ResolvedModel.raw`), ``days`` (horizon, days), ``seed``,
    the scalar ``readouts``, ``wall_limit_s`` (per run, seconds; None: none) and engine
    ``options`` (keyword arguments of :func:`evniche.simulate`, e.g. ``equilibrate_first``)."""

    model: dict
    days: float
    readouts: tuple[scalars.Readout, ...]
    seed: int = 0
    wall_limit_s: float | None = None
    options: dict = field(default_factory=dict)


#: options of a well-mixed run an ensemble passes on (see :func:`evniche.simulate_many`)
ENGINE_OPTIONS = ("rtol", "output_hours", "equilibrate_first")


def simulate_rows(ensemble: Ensemble, rows: Sequence[Row]) -> Iterator[Any]:
    """One Trajectory per row of overrides (``{"parameters.NAME.value": value}``, or an
    inline parameter's ``PATH.value``), or the :class:`EvnicheError` that stopped that run.
    The single place an ensemble simulates: the model is loaded and compiled once per worker
    (not per chunk) and each row only changes parameter values
    (:func:`evniche.simulate_many`)."""
    import warnings

    from ..engines.ensemble import simulate_many
    from ..spec.loader import load_model

    unknown = set(ensemble.options) - set(ENGINE_OPTIONS)
    if unknown:
        raise EvnicheError(f"ensemble options {', '.join(sorted(unknown))} are not engine "
                           f"options; expected some of {', '.join(ENGINE_OPTIONS)}")
    model = _loaded(ensemble.model, load_model)
    names = [{_parameter_name(key): value for key, value in overrides.items()}
             for overrides in rows]
    # one call for the chunk: the network and schedule are compiled once, not per row.
    # NumPy/SciPy overflow warnings of a run at the edge of the ranges would print
    # from every worker; a run that really fails says why in its error instead
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            results = simulate_many(model, names, ensemble.days, errors="record",
                                    wall_limit_s=ensemble.wall_limit_s, restartable=False,
                                    **ensemble.options)
        except EvnicheError as exc:  # what no row gets past (the model, the days)
            results = [exc] * len(names)
    yield from results


#: the last model mapping a chunk loaded in this process, and the model (a scattered
#: ensemble is the same object in every task of a worker: it is loaded once per worker)
_LAST: list = [None, None]


def _loaded(mapping: dict, load: Callable[[dict], Any]) -> Any:
    """``load(mapping)``, or the model loaded from this very mapping object before."""
    if _LAST[0] is not mapping:
        _LAST[1] = load(mapping)
        _LAST[0] = mapping
    return _LAST[1]


def _parameter_name(key: str) -> str:
    """The parameter an override path sets: ``parameters.NAME.value`` → NAME,
    ``cell_types.X.rate.value`` (an inline parameter, named by its path) → the path."""
    key = key.removesuffix(".value")
    return key.removeprefix("parameters.")


def run_chunk(rows: Sequence[Row], ensemble: Ensemble) -> list[dict]:
    """One task: simulate each row and read its scalars (see :func:`evaluate`)."""
    out = []
    for result in simulate_rows(ensemble, rows):
        if isinstance(result, EvnicheError):
            record: dict = {r.name: float("nan") for r in ensemble.readouts}
            record.update({f"{r.name}_censored": False for r in ensemble.readouts
                           if r.censored})
            record["note"] = ""
            record["error"] = str(result)
        else:
            record = scalars.evaluate(ensemble.readouts, result)
            record["error"] = ""
        out.append(record)
    return out


def evaluate(ensemble: Ensemble, rows: Sequence[Row], client: Any = None,
             progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Run ``ensemble`` once per row of overrides; one row of readouts per run, in order:
    a column per readout (NaN where undefined), ``NAME_censored`` for censored readouts,
    ``note`` (readouts that raised) and ``error`` (the run failed: all readouts NaN).
    ``client``: see :func:`map_chunks`."""
    records = map_chunks(run_chunk, list(rows), ensemble, client=client, progress=progress)
    columns = [c for r in ensemble.readouts for c in
               ([r.name, f"{r.name}_censored"] if r.censored else [r.name])]
    return pd.DataFrame(records, columns=[*columns, "note", "error"])
