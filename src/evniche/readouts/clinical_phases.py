"""Kill and regrowth of each cell population through the phases of a therapy course.

A pure function of a Trajectory ``xarray.Dataset`` (time in days, ``cells`` in cells), as
the other clinical readouts. A phase runs from one therapy start to the next (the last to
the end of the run). In each phase and for each cell type the readout gives the count at
the start, the nadir within ``nadir_within`` days of the start, the kill (log10 of start
over nadir), the regrowth from the nadir to the end of the phase (log10) and the mean
doubling time of that regrowth: what carries a leukemia through 7+3 and each consolidation
cycle, and how fast it comes back between them (docs/sources/clinical-course.md item 18).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..errors import EvnicheError
from .clinical import _cells


@dataclass(frozen=True)
class PhaseKinetics:
    """One cell type through one phase; counts in cells, days in days."""

    cell_type: str
    start_day: float
    end_day: float
    start: float
    nadir: float
    nadir_day: float
    end: float

    @property
    def kill_log10(self) -> float:
        """log10(start / nadir): how much the phase's therapy removed (0 if it removed none)."""
        return _log10_ratio(self.start, self.nadir)

    @property
    def regrowth_log10(self) -> float:
        """log10(end / nadir): what grew back from the nadir to the end of the phase."""
        return _log10_ratio(self.end, self.nadir)

    @property
    def doubling_days(self) -> float | None:
        """Mean doubling time (days) from the nadir to the end of the phase; ``None`` if the
        population did not grow (or was extinct at its nadir)."""
        if self.nadir <= 0 or self.end <= self.nadir or self.end_day <= self.nadir_day:
            return None
        return (self.end_day - self.nadir_day) * math.log(2) / math.log(self.end / self.nadir)


def _log10_ratio(a: float, b: float) -> float:
    if a <= 0 and b <= 0:
        return 0.0
    if b <= 0:
        return math.inf
    if a <= 0:
        return -math.inf
    return math.log10(a / b)


def phase_kinetics(ds: xr.Dataset, starts: Sequence[float], cell_types: Sequence[str],
                   nadir_within: float = 10.0) -> list[PhaseKinetics]:
    """Kill and regrowth of ``cell_types`` in each phase that begins at one of ``starts``
    (days, increasing, inside the run) and ends at the next start or at the end of the run;
    the nadir is the lowest sample within ``nadir_within`` days (> 0) of the start, values
    are read at the samples nearest to the days asked. One entry per phase and cell type,
    phase by phase."""
    cells = _cells(ds)
    known = [str(n) for n in cells["cell_type"].values]
    unknown = [n for n in cell_types if n not in known]
    if unknown or not cell_types:
        raise EvnicheError(f"phase_kinetics: cell types {unknown or list(cell_types)} are not "
                           f"in the trajectory; expected some of {known}")
    times = np.asarray(ds["time"].values, dtype=float)
    days = [float(d) for d in starts]
    if not days or any(not times[0] <= d < times[-1] for d in days) \
            or any(b <= a for a, b in zip(days, days[1:], strict=False)):
        raise EvnicheError(f"phase_kinetics: starts {days} must be increasing days within the "
                           f"run [{times[0]:g}, {times[-1]:g})")
    if not nadir_within > 0:
        raise EvnicheError(f"phase_kinetics: nadir_within must be > 0 days, got {nadir_within}")
    ends = days[1:] + [float(times[-1])]

    def at(day: float) -> int:
        return int(np.argmin(np.abs(times - day)))

    out = []
    for a, b in zip(days, ends, strict=True):
        i, j = at(a), at(b)
        k_end = max(i + 1, min(j, at(a + nadir_within)) + 1)
        for name in cell_types:
            x = np.asarray(cells.sel(cell_type=name).values, dtype=float)
            k = i + int(np.argmin(x[i:k_end]))
            out.append(PhaseKinetics(name, a, b, float(x[i]), float(x[k]), float(times[k]),
                                     float(x[j])))
    return out
