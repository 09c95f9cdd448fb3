"""Engines: each turns a compiled network into a Trajectory (an ``xarray.Dataset``)."""

from __future__ import annotations

import json
import time as _time
from collections.abc import Callable

from ..compile.network import Network, compile_model
from ..compile.schedule import Schedule
from ..errors import SimulationError
from ..spec.resolve import ResolvedModel
from . import cost

ENGINES = ("wellmixed", "spatial", "stochastic")


def prepare(model: ResolvedModel | str, overrides: dict | None = None,
            interventions: list | None = None, days: float | None = None
            ) -> tuple[Network, Schedule]:
    """Load (if needed) and compile a model, and compile its interventions to a schedule.

    ``overrides`` (dotted paths → values, as ``--set``) apply to a loaded model too: it is
    loaded again from its mapping with them (an unknown path is a ModelError)."""
    if not isinstance(model, ResolvedModel):
        from ..spec.loader import load_model

        model = load_model(model, overrides=overrides)
    elif overrides:  # a loaded model: loaded again from what it was made of, with them
        from ..spec.loader import load_model

        model = load_model(model.raw, overrides=overrides)
    try:
        from ..compile.interventions import build_schedule
        from ..compile.therapies import with_products
    except ImportError:
        return compile_model(model), Schedule()
    items = list(model.spec.interventions) + list(interventions or [])
    # an EV therapy's manufactured product (drug-loaded carriers, NK exosomes) joins the
    # model of the run that gives it (evniche.compile.therapies)
    net = compile_model(with_products(model, items))
    return net, build_schedule(net, items, days)


def simulate(model: ResolvedModel | str, days: float = 365.0, seed: int = 0,
             engine: str = "wellmixed", overrides: dict | None = None,
             interventions: list | None = None, progress: Callable[[float], None] | None = None,
             allow_large: bool = False, wall_limit_s: float | None = None, **options):
    """Run ``model`` for ``days`` on ``engine``; return the Trajectory Dataset.

    A run above the limits of :mod:`evniche.engines.cost` (100 years, 2 GiB of results,
    a million spatial steps) is refused before it starts unless ``allow_large``.
    ``wall_limit_s``: stop the run with a SimulationError (saying how far it got) after
    this many seconds of wall-clock time; ``None``: no limit. The well-mixed engine checks
    it inside the solver (the relaxation to the healthy steady state included), the
    spatial engine every 10 steps, the stochastic engine inside its solver and at every
    coupling step. ``seed`` seeds the stochastic and spatial engines' random draws.
    ``start`` (well-mixed only): a :class:`evniche.engines.restart.SavedState` (see
    :func:`evniche.saved_state`) to continue from; the Dataset then starts at its day.
    ``ds.attrs["interventions"]`` records the schedule as JSON: a list of ``{"label",
    "intervention", "item", "start_day", "end_day"}`` (days; a dose has ``end_day ==
    start_day``), from the model's interventions and ``interventions``."""
    if engine not in ENGINES:
        raise SimulationError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    saved = options.pop("start", None)  # a restart.SavedState: continue from its day
    if saved is not None and engine != "wellmixed":
        raise SimulationError("a run continues from a saved state on the well-mixed engine "
                              "only")
    days = cost.check_days(days)
    seed = cost.check_seed(seed)
    net, schedule = prepare(model, overrides, interventions, days)
    cost.check(cost.estimate(net, days, engine, options), allow_large)
    start = _time.perf_counter()
    if engine == "spatial":
        from .spatial import simulate as spatial_simulate
        from .stopwatch import Stopwatch

        stopwatch = Stopwatch(wall_limit_s, days)

        def progress_and_limit(frac: float) -> None:
            stopwatch.check(frac * days * 24.0)
            if progress is not None:
                progress(frac)

        ds = spatial_simulate(net, days=days, seed=seed, schedule=schedule,
                              progress=progress_and_limit, **options)
    else:
        from . import trajectory, wellmixed

        extra = {}
        if engine == "stochastic":
            from . import stochastic

            sol = stochastic.integrate(net, days, schedule, seed=seed, progress=progress,
                                       wall_limit_s=wall_limit_s, **options)
            opts = stochastic.validated_options(options)
            extra = {"events": sol.events, "threshold_cells": opts["threshold"],
                     "coupling_hours": opts["coupling_hours"]}
        else:
            sol = wellmixed.integrate(net, days, schedule, progress=progress,
                                      wall_limit_s=wall_limit_s, start=saved, **options)
        kin = sol.kinetics
        beh, sig = wellmixed.behaviors_signals(sol, days)
        ds = trajectory.build(net, sol.t, sol.y, beh, engine, seed,
                              {"ledger_relative_error": sol.ledger_error,
                               "rhs_evaluations": sol.n_rhs, **extra},
                              signals=sig, params=kin.p, initial=sol.initial)
        if saved is not None:
            ds.attrs["continued_from"] = f"{saved.source} at day {saved.day:g}"
    ds.attrs["wall_seconds"] = _time.perf_counter() - start
    ds.attrs["interventions"] = json.dumps(schedule.timeline())  # the therapy timeline
    return ds
