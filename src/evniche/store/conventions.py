"""CF conventions for ``trajectory.nc``: a ``Conventions`` attribute, and ``units`` (UDUNITS
strings) and ``long_name`` on every numeric variable and coordinate.

Counts (cells, EVs, copies) are dimensionless, ``"1"``. A variable whose entries have
different units (``behaviors``: rates per hour and fractions; ``rule_signals``; the restart
state ``state_vector``) carries the unit of each entry, ";"-joined in the order of its
last dimension, in an ``entry_units`` attribute, and its ``units`` attribute says so.
``time`` is in days since the start of the run (``"d"``; no calendar date, so that readers
keep it as a number of days).
"""

from __future__ import annotations

import xarray as xr

from .. import __version__

CONVENTIONS = "CF-1.10"

#: variable → (UDUNITS units, long name)
UNITS: dict[str, tuple[str, str]] = {
    "time": ("d", "time since the start of the run"),
    "cells": ("1", "cells of each type in its compartment"),
    "ev": ("1", "EVs present per pool and compartment"),
    "ev_concentration": ("mL-1", "EVs per mL per pool and compartment"),
    "states": ("1", "cell-state variables (dimensionless, 0..1)"),
    "cargo_per_cell": ("1", "internalized cargo copies per cell"),
    "cytokines": ("mL-1", "cytokine molecules per mL of marrow"),
    "drugs": ("nmol L-1", "plasma drug concentration"),
    "ledger": ("1", "cumulative EVs per pool and ledger term"),
    "uptake": ("1", "cumulative EVs taken up per pool and target type"),
    "communication": ("d-1", "EVs delivered per day, source type to target type"),
    "cargo_delivered": ("d-1", "cargo copies delivered per day, source to target type"),
    "pool_cargo": ("1", "cargo copies per EV of each pool"),
    "niche_fraction": ("1", "fraction of the type's agents near a sinusoid"),
    "field_snapshot": ("mL-1", "field concentration per mL of marrow (EVs or molecules)"),
    "agent_x": ("um", "agent position: distance from the bone surface"),
    "agent_y": ("um", "agent position along the bone surface"),
    "agent_type": ("1", "agent cell type (index into agent_type_names; -1: padding)"),
    "sinusoid_mask": ("1", "1 where the voxel is a sinusoid"),
    "snapshot_day": ("d", "day of the section snapshot"),
    "class_median_um": ("um", "median EV diameter of the class"),
    "class_gsd": ("1", "geometric standard deviation of the EV diameter"),
    "class_min_um": ("um", "smallest EV diameter of the class"),
    "class_max_um": ("um", "largest EV diameter of the class"),
    "rule_hill_power": ("1", "Hill power of the rule"),
    "pool_ps": ("1", "1 where the pool's EVs expose phosphatidylserine"),
    "x": ("um", "voxel centre"), "y": ("um", "voxel centre"), "z": ("um", "voxel centre"),
}
#: variables whose entries have units of their own (in the ``entry_units`` attribute)
MIXED: dict[str, str] = {
    "behaviors": "behavior values of the rule sets",
    "rule_signals": "the signal each rule saw",
    "rule_half_max": "half-max of the rule, in its signal's unit",
    "rule_saturation": "saturation of the rule, in its behavior's unit",
    "rule_base": "the behavior's value without rules",
    "state_vector": "full state vector (for continuing the run)",
    "initial_state_vector": "the state the run started from",
}
#: evniche's canonical unit of each kind of signal or behavior, as UDUNITS strings
KIND_UNITS = {"rate": "h-1", "dimensionless": "1", "concentration": "mL-1",
              "molar": "nmol L-1"}
SPECIES_UNITS = {"1": "1", "1/mL": "mL-1", "EV": "1", "cell": "1", "copies/cell": "1",
                 "nM": "nmol L-1"}


def _behavior_unit(name: str) -> str:
    from ..spec.signals import BEHAVIOR_KINDS, split

    kind = split(name.split(".", 1)[-1]).kind
    return KIND_UNITS.get(BEHAVIOR_KINDS.get(kind, "dimensionless"), "1")


def _signal_unit(name: str) -> str:
    from ..spec.signals import SIGNAL_KINDS, split

    return KIND_UNITS.get(SIGNAL_KINDS.get(split(name).kind, "dimensionless"), "1")


def apply(ds: xr.Dataset) -> xr.Dataset:
    """A shallow copy of ``ds`` with CF attributes (see the module docstring)."""
    out = ds.copy(deep=False)
    entries: dict[str, list[str]] = {}
    if "behavior" in out.coords:
        entries["behaviors"] = [_behavior_unit(str(b)) for b in out["behavior"].values]
    if "rule" in out.coords and "rule_signal" in out.coords:
        sig = [_signal_unit(str(s)) for s in out["rule_signal"].values]
        beh = [_behavior_unit(str(b)) for b in out["rule_behavior"].values]
        entries.update(rule_signals=sig, rule_half_max=sig, rule_saturation=beh,
                       rule_base=beh)
    if "state_vector" in out and isinstance(out["state_vector"].attrs.get("species_units"),
                                            str):
        units = out["state_vector"].attrs["species_units"].split(";")
        entries.update(state_vector=units, initial_state_vector=units)
    for name in list(out.variables):
        var = out[name]
        if var.dtype.kind not in "biuf" or (var.size == 0 and name in out.dims):
            continue  # names, or an empty list of names
        attrs = dict(var.attrs)
        if name in UNITS:
            attrs["units"] = UNITS[name][0]
            attrs.setdefault("long_name", UNITS[name][1])
        elif name in MIXED:
            attrs["units"] = "per entry: see the entry_units attribute"
            attrs.setdefault("long_name", MIXED[name])
            if name in entries:
                attrs["entry_units"] = ";".join(entries[name])
        attrs.pop("species_units", None)
        out[name].attrs = attrs
    out.attrs = {"Conventions": CONVENTIONS,
                 "title": f"evniche trajectory of the model '{ds.attrs.get('model', '')}'",
                 "source": f"evniche {__version__}, {ds.attrs.get('engine', '')} engine",
                 "references": "docs/interop.md (units and conventions)",
                 **out.attrs}
    return out


def species_units(units: list[str]) -> str:
    """The ';'-joined UDUNITS units of the species (for the restart state's attribute)."""
    return ";".join(SPECIES_UNITS.get(u, u) for u in units)


def missing_units(ds: xr.Dataset) -> list[str]:
    """Numeric variables and coordinates of ``ds`` (not empty) without a ``units``
    attribute."""
    return sorted(str(n) for n in ds.variables
                  if ds[n].dtype.kind in "biuf" and ds[n].size and "units" not in ds[n].attrs)
