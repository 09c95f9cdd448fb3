"""evniche: extracellular-vesicle communication in the bone-marrow niche of leukemia.

Python API::

    import evniche
    model = evniche.load_model("aml")          # a preset name or a YAML path
    ds = evniche.simulate(model, days=365)     # an xarray.Dataset
    state = evniche.saved_state("runs/aml", day=200)   # a saved run, at a saved day
    ds2 = evniche.simulate(model, days=365, start=state)   # continued from day 200
    finals = evniche.simulate_many(model, [{"lsc_self_renewal": 0.9}, {}], days=365,
                                   readout=lambda ds: float(ds.cells.isel(time=-1).sum()))
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_model", "saved_state", "simulate", "simulate_many"]


def load_model(source, overrides=None, *, allow_paths=()):
    """Load and validate a model: a preset name (``"aml"``) or a path to a YAML file.

    ``overrides`` maps dotted paths (``"parameters.lsc_self_renewal"``) to values.
    ``allow_paths`` lists folders, besides the model file's own and the presets, that its
    ``extends:`` and ``rules_csv:`` may read from.
    """
    from .spec.loader import load_model as _load

    return _load(source, overrides=overrides, allow_paths=allow_paths)


def simulate(model, days: float = 365.0, seed: int = 0, engine: str = "wellmixed", **options):
    """Simulate ``model`` for ``days`` and return the trajectory as an ``xarray.Dataset``.

    ``days`` must be finite and > 0 and ``seed`` a whole number in [0, 2**63); a run longer
    than 100 years, with more than 2 GiB of results or a million spatial steps is refused
    before it starts unless ``allow_large=True`` (see :mod:`evniche.engines.cost`)."""
    from .engines import simulate as _simulate

    return _simulate(model, days=days, seed=seed, engine=engine, **options)


def simulate_many(model, overrides, days: float = 365.0, readout=None, **options):
    """Run the well-mixed engine on ``model`` once per parameter set of ``overrides`` (each
    a mapping of parameter name → value in the unit the model file gives it) for ``days``
    days, loading and compiling the model once; one result per set, in order:
    ``readout(ds)`` of the run's Dataset, or the Dataset. See
    :func:`evniche.engines.ensemble.simulate_many` for ``options``."""
    from .engines.ensemble import simulate_many as _simulate_many

    return _simulate_many(model, overrides, days=days, readout=readout, **options)


def saved_state(source, day: float):
    """The full state at ``day`` of a saved well-mixed run (a run folder written by ``evniche
    run``, a trajectory.nc, or the Dataset :func:`simulate` returned), to continue from with
    ``simulate(model, days=..., start=state)``; see :mod:`evniche.engines.restart`."""
    from .engines.restart import saved_state as _saved_state

    return _saved_state(source, day)
