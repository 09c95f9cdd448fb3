"""Time schedules of interventions, in the form every engine applies them.

An intervention compiles to piecewise-constant *modifiers* (multipliers of behaviors,
multipliers of uptake routes, removal rates of pools from blood, drug infusion rates,
factors on or new values of model parameters: :mod:`.parameter_windows`) over time
windows, and
to *jumps* (a dose of drug or of therapeutic EVs added at an instant). Times in hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Window:
    """Between ``start`` and ``end`` (h), multiply or add as given (indices into the network)."""

    start: float
    end: float
    behavior_factor: dict[int, float] = field(default_factory=dict)
    uptake_factor: dict[int, float] = field(default_factory=dict)
    removal_rate: dict[int, float] = field(default_factory=dict)  # pool -> 1/h from blood
    #: drug (index into Network.drugs) -> infusion rate (nM of plasma per hour)
    infusion: dict[int, float] = field(default_factory=dict)
    #: parameter name -> factor it is multiplied by (the ``scale`` intervention)
    parameter_factor: dict[str, float] = field(default_factory=dict)
    #: parameter name -> canonical value that replaces it (the ``set`` intervention)
    parameter_value: dict[str, float] = field(default_factory=dict)
    label: str = ""
    intervention: str = ""  # the catalog name of the intervention it comes from
    item: int = -1  # index of that intervention in the list the schedule was built from


@dataclass
class Jump:
    """At ``time`` (h) add ``amount`` to species ``species`` (a name of Network.species);
    ``ledger`` names the ledger species that records what was added (or "")."""

    time: float
    species: str
    amount: float
    ledger: str = ""
    label: str = ""
    intervention: str = ""
    item: int = -1


@dataclass
class Schedule:
    windows: list[Window] = field(default_factory=list)
    jumps: list[Jump] = field(default_factory=list)

    def breakpoints(self, t_end: float) -> list[float]:
        """Times (h) where modifiers change or jumps happen, within (0, t_end)."""
        times = {0.0, t_end}
        for w in self.windows:
            times.update(t for t in (w.start, w.end) if 0.0 < t < t_end)
        times.update(j.time for j in self.jumps if 0.0 <= j.time < t_end)
        return sorted(times)

    def modifiers(self, t: float, n_behaviors: int, n_uptakes: int, n_pools: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Multipliers and removal rates in force during the segment that starts at ``t``."""
        beh = np.ones(n_behaviors)
        upt = np.ones(n_uptakes)
        rem = np.zeros(n_pools)
        for w in self.windows:
            if w.start <= t < w.end:
                for i, f in w.behavior_factor.items():
                    beh[i] *= f
                for i, f in w.uptake_factor.items():
                    upt[i] *= f
                for i, r in w.removal_rate.items():
                    rem[i] += r
        return beh, upt, rem

    def infusion(self, t: float, n_drugs: int) -> np.ndarray:
        """Drug infusion rates (nM/h, one per drug) during the segment that starts at ``t``."""
        rate = np.zeros(n_drugs)
        for w in self.windows:
            if w.start <= t < w.end:
                for i, r in w.infusion.items():
                    rate[i] += r
        return rate

    def jumps_at(self, t: float) -> list[Jump]:
        return [j for j in self.jumps if j.time == t]

    def timeline(self) -> list[dict]:
        """The therapy timeline in days, in order of start: one entry per window
        (``start_day``, ``end_day``) and per jump (``end_day == start_day``), each with its
        ``label``, the ``intervention`` (catalog name) and ``item`` (which intervention of
        the list it came from, so the doses of one course can be grouped)."""
        rows = [{"label": w.label, "intervention": w.intervention, "item": w.item,
                 "start_day": w.start / 24.0, "end_day": w.end / 24.0} for w in self.windows]
        rows += [{"label": j.label, "intervention": j.intervention, "item": j.item,
                  "start_day": j.time / 24.0, "end_day": j.time / 24.0} for j in self.jumps]
        return sorted(rows, key=lambda r: (r["start_day"], r["item"], r["end_day"]))
