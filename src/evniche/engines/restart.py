"""Continue a well-mixed run from any saved time: the state a run saved, read back.

A well-mixed trajectory carries the full state vector of every output time
(``state_vector(time, species)``, in canonical units) and the state the run started from
(``initial_state_vector(species)``, for the EV ledger). :func:`saved_state` reads the state
at one saved day; :func:`evniche.simulate` with ``start=`` continues from it: same model, same
schedule, the integration picks up at that day (jumps given at that very day are already in
the saved state and are not given again). A continued run equals the uninterrupted one
within the solver's tolerance (``tests/engines/test_restart.py``).

Branching: continue one saved state twice with different interventions::

    state = evniche.saved_state("runs/aml", day=200)
    a = evniche.simulate(model, days=400, start=state)
    b = evniche.simulate(model, days=400, start=state,
                         interventions=[parse_intervention("nsmase2_inhibitor@200")])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import EvnicheError, SimulationError

STATE = "state_vector"
INITIAL = "initial_state_vector"


@dataclass(frozen=True)
class SavedState:
    """The full state of a run at one saved time."""

    day: float
    y: np.ndarray  # canonical units, in the order of ``species``
    initial: np.ndarray  # the state the run started from (for the EV ledger)
    species: tuple[str, ...]
    model: str
    digest: str
    source: str  # where it was read from, for messages

    def check(self, species: list[str], digest: str) -> None:
        """Refuse to continue a different model (another species list)."""
        if tuple(species) != self.species:
            extra = sorted(set(species) ^ set(self.species))[:5]
            raise SimulationError(
                f"the saved state of {self.source} is of another model ('{self.model}', "
                f"{len(self.species)} state variables; this run has {len(species)}"
                + (f"; differing: {', '.join(extra)}" if extra else "") + "): continue a "
                "run with the model (and EV products) it was made with")


def attach(ds: xr.Dataset, species: list[str], y: np.ndarray, initial: np.ndarray,
           units: list[str] | None = None) -> xr.Dataset:
    """``ds`` with the state variables a run can be continued from (``units``: each
    species' canonical unit, kept for :mod:`evniche.store.conventions`)."""
    ds = ds.assign_coords(species=np.array(species, dtype=object))
    ds[STATE] = (("time", "species"), np.asarray(y, float))
    ds[STATE].attrs.update(long_name="full state vector (for continuing the run)",
                           units="canonical unit of each species (cells, EVs, copies, "
                                 "1/mL, nM)")
    ds[INITIAL] = (("species",), np.asarray(initial, float))
    ds[INITIAL].attrs.update(long_name="state the run started from (EV ledger origin)",
                             units=ds[STATE].attrs["units"])
    if units is not None:
        from ..store.conventions import species_units

        ds[STATE].attrs["species_units"] = species_units(units)
    return ds


def saved_state(source: str | Path | xr.Dataset, day: float) -> SavedState:
    """The state at ``day`` of a saved well-mixed run: a run folder (``trajectory.nc``), a
    trajectory file, or a Dataset."""
    if isinstance(source, xr.Dataset):
        ds, where = source, "the trajectory"
    else:
        path = Path(source)
        if path.is_dir():
            path = path / "trajectory.nc"
        if not path.exists():
            raise FileNotFoundError(f"{source}: no saved run (trajectory.nc) there")
        ds, where = xr.load_dataset(path, engine="h5netcdf"), str(source)
    if STATE not in ds:
        raise EvnicheError(f"{where} holds no full state (a spatial run, or a run saved before "
                           "evniche could continue runs): it cannot be continued")
    times = np.asarray(ds["time"].values, float)
    hits = np.flatnonzero(np.isclose(times, day, rtol=0, atol=1e-9))
    if not hits.size:
        raise EvnicheError(f"{where} has no state saved at day {day:g}; saved days run from "
                           f"{times[0]:g} to {times[-1]:g}"
                           + (f" every {times[1] - times[0]:g} day(s)" if times.size > 1 else ""))
    return SavedState(day=float(times[hits[0]]), y=np.array(ds[STATE].values[hits[0]], float),
                      initial=np.array(ds[INITIAL].values, float),
                      species=tuple(str(s) for s in ds["species"].values),
                      model=str(ds.attrs.get("model", "")),
                      digest=str(ds.attrs.get("digest", "")), source=where)


def parse_from(text: str) -> tuple[Path, float]:
    """``DIR@DAY`` of ``evniche run --from``."""
    folder, sep, day = text.rpartition("@")
    if not sep or not folder:
        raise EvnicheError(f"--from: expected DIR@DAY (a run folder and a saved day), got "
                           f"'{text}'")
    try:
        value = float(day)
    except ValueError:
        raise EvnicheError(f"--from: the day must be a number, got '{day}'") from None
    if not np.isfinite(value) or value < 0:
        raise EvnicheError(f"--from: the day must be a finite number >= 0, got '{day}'")
    return Path(folder), value
