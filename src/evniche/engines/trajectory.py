"""The Trajectory: what every engine returns, an ``xarray.Dataset``.

Dimensions and variables (time in days; counts are plain numbers)::

    cells(time, cell_type)                 cell counts in their compartment
    ev(time, pool, compartment)            EVs present per pool in marrow and blood
    ev_concentration(time, pool, compartment)   EVs per mL
    states(time, state)                    cell-state variables ("MSC.reprogrammed")
    cargo_per_cell(time, target, cargo)    internalized copies per cell (NaN: not tracked)
    cytokines(time, cytokine)              molecules per mL of marrow
    drugs(time, drug)                      nM in plasma
    behaviors(time, behavior)              rule-set behavior values ("HSC.self_renewal")
    ledger(time, pool, term)               cumulative EVs: secreted, administered, degraded,
                                           cleared, removed, taken_up
    uptake(time, pool, target)             cumulative EVs taken up per pool and target
    communication(time, source, target)    EVs delivered per day, source → target
    cargo_delivered(time, source, target, cargo)   copies delivered per day
    pool_cargo(pool, cargo)                copies of each cargo per EV of each pool
    rule_signals(time, rule)               the signal each rule saw (canonical units: per
                                           hour, per mL, copies per cell, nM), as the rules
                                           combined it into ``behaviors``; well-mixed only

Cell-type coordinates: ``cell_compartment`` (``"marrow"`` or ``"blood"``: where the type
lives) and ``cell_lineage`` (``normal``, ``leukemic``, ``stroma``, ``immune`` or ``blood``), so
readouts find e.g. the circulating leukemic types (leukemic, blood) and the normal blood
output (normal, blood) without knowing the model's names.
Pool coordinates: ``pool_source``, ``pool_class``, ``pool_markers`` (";"-joined),
``pool_ps`` (PS exposed). Class coordinates for sizes: ``class_median_um``, ``class_gsd``,
``class_min_um``, ``class_max_um``. Rule coordinates (with ``rule_signals``):
``rule_cell_type``, ``rule_signal``, ``rule_direction``, ``rule_behavior``,
``rule_half_max``, ``rule_hill_power``, ``rule_saturation``, ``rule_base`` (the behavior's
value without rules), ``rule_kb`` (";"-joined). Attributes: model, digest, engine, seed, disease,
volumes (mL), marrow_counted (cell types that make up marrow cellularity), leukemic;
:func:`evniche.engines.simulate` adds ``interventions``, the therapy timeline as JSON (see
:meth:`evniche.compile.schedule.Schedule.timeline`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..compile.network import BLOOD, MARROW, Behavior, Network, RuleTerm

TERMS = ("secreted", "administered", "degraded", "cleared", "removed", "taken_up")


def rule_terms(net: Network) -> list[tuple[Behavior, str, RuleTerm]]:
    """Every rule as (behavior, "increases" | "decreases", term), in the order of
    :class:`~evniche.engines.kinetics.Kinetics`' Hill terms: up-rules, then down-rules."""
    up = [(b, "increases", t) for b in net.behaviors for t in b.up]
    return up + [(b, "decreases", t) for b in net.behaviors for t in b.down]


def _rule_variables(net: Network, signals: np.ndarray, params: dict[str, float]
                    ) -> tuple[dict, dict]:
    """``rule_signals(time, rule)`` and its coordinates from the per-signal values
    ``signals`` (time × ``net.signals``)."""
    terms = rule_terms(net)
    labels: list[str] = []
    for b, direction, t in terms:
        sig = net.signals[t.signal]
        label = f"{b.cell_type}: {sig.kind}:{sig.argument} {direction} {b.name}"
        k, base = 2, label
        while label in labels:  # two rules alike: number them
            label, k = f"{base} #{k}", k + 1
        labels.append(label)
    cols = np.array([t.signal for _, _, t in terms], int)
    values = signals[:, cols] if cols.size else np.zeros((signals.shape[0], 0))
    coords = {
        "rule": labels,
        "rule_cell_type": ("rule", [b.cell_type for b, _, _ in terms]),
        "rule_signal": ("rule", [f"{net.signals[t.signal].kind}:"
                                 f"{net.signals[t.signal].argument}" for _, _, t in terms]),
        "rule_direction": ("rule", [d for _, d, _ in terms]),
        "rule_behavior": ("rule", [b.name for b, _, _ in terms]),
        "rule_half_max": ("rule", [float(params[t.half_max]) for _, _, t in terms]),
        "rule_hill_power": ("rule", [float(params[t.hill_power]) for _, _, t in terms]),
        "rule_saturation": ("rule", [float(params[t.saturation]) for _, _, t in terms]),
        "rule_base": ("rule", [float(params[b.base]) for b, _, _ in terms]),
        "rule_kb": ("rule", [";".join(t.kb) for _, _, t in terms]),
    }
    return {"rule_signals": (("time", "rule"), values)}, coords


def build(net: Network, t_hours: np.ndarray, y: np.ndarray, behaviors: np.ndarray,
          engine: str, seed: int, extra_attrs: dict | None = None,
          signals: np.ndarray | None = None, params: dict[str, float] | None = None,
          initial: np.ndarray | None = None, restartable: bool = True) -> xr.Dataset:
    """Assemble a Dataset from states ``y`` (time × species) of ``net``.

    A well-mixed trajectory also keeps the full state (``state_vector(time, species)``) and the
    state the run started from (``initial``, default ``y[0]``), so that a run can be
    continued from any saved time (:mod:`evniche.engines.restart`); ``restartable=False``
    leaves them out (an ensemble member that is only read).

    ``signals`` (time × ``net.signals``), when given, are the signal values the rules
    combined into ``behaviors``; they are stored per rule as ``rule_signals``, with the
    rule parameters from ``params`` (default ``net.params``)."""
    idx = net.index()
    time = t_hours / 24.0
    cell_names = [c.name for c in net.cells]
    pools = [p.name for p in net.pools]
    p = net.params

    def col(name: str) -> np.ndarray:
        return y[:, idx[name]] if name in idx else np.full(len(time), np.nan)

    cells = np.stack([col(f"cell:{c}") for c in cell_names], axis=1)
    ev = np.stack([np.stack([col(f"ev:{pl}@{MARROW}"), col(f"ev:{pl}@{BLOOD}")], axis=1)
                   for pl in pools], axis=1) if pools else np.zeros((len(time), 0, 2))
    volumes = np.array([p[net.volumes[MARROW]], p[net.volumes[BLOOD]]])
    targets = sorted({c.name for c in net.cells})
    cargos = sorted({q.cargo for q in net.cargo_states})
    cargo = np.full((len(time), len(targets), len(cargos)), np.nan)
    for q in net.cargo_states:
        cargo[:, targets.index(q.cell_type), cargos.index(q.cargo)] = col(
            f"cargo:{q.cell_type}.{q.cargo}")
    ledger = np.zeros((len(time), len(pools), len(TERMS)))
    uptake = np.zeros((len(time), len(pools), len(targets)))
    for i, pl in enumerate(pools):
        for j, term in enumerate(TERMS[:-1]):
            ledger[:, i, j] = col(f"ledger:{pl}.{term}")
        for target in net.pool_targets(i):
            uptake[:, i, targets.index(target)] = col(f"ledger:{pl}.uptake:{target}")
        ledger[:, i, -1] = uptake[:, i, :].sum(axis=1)

    # communication per day: the increase of cumulative uptake over each output interval,
    # divided by its length in days (first entry: the rate at the start, from the second)
    sources = sorted({pl.source for pl in net.pools})
    comm = np.zeros((len(time), len(sources), len(targets)))
    cargo_del = np.zeros((len(time), len(sources), len(targets), len(cargos)))
    if len(time) > 1:
        dt = np.diff(time)[:, None]
        for i, pl in enumerate(net.pools):
            s = sources.index(pl.source)
            rate = np.diff(uptake[:, i, :], axis=0) / dt  # EVs per day per target
            rate = np.vstack([rate[:1], rate])
            comm[:, s, :] += rate
            for c, copies in pl.cargo.items():
                cargo_del[:, s, :, cargos.index(c)] += rate * p[copies]

    rule_vars, rule_coords = ({}, {}) if signals is None else _rule_variables(
        net, np.asarray(signals, float), params if params is not None else p)
    ds = xr.Dataset(
        {
            **rule_vars,
            "cells": (("time", "cell_type"), cells),
            "ev": (("time", "pool", "compartment"), ev),
            "ev_concentration": (("time", "pool", "compartment"), ev / volumes),
            "states": (("time", "state"), np.stack(
                [col(f"state:{s.cell_type}.{s.var}") for s in net.states], axis=1)
                if net.states else np.zeros((len(time), 0))),
            "cargo_per_cell": (("time", "target", "cargo"), cargo),
            "cytokines": (("time", "cytokine"), np.stack(
                [col(f"cytokine:{c}") for c in net.cytokines], axis=1)
                if net.cytokines else np.zeros((len(time), 0))),
            "drugs": (("time", "drug"), np.stack([col(f"drug:{d}") for d in net.drugs], axis=1)
                     if net.drugs else np.zeros((len(time), 0))),
            "behaviors": (("time", "behavior"), behaviors),
            "ledger": (("time", "pool", "term"), ledger),
            "uptake": (("time", "pool", "target"), uptake),
            "communication": (("time", "source", "target"), comm),
            "cargo_delivered": (("time", "source", "target", "cargo"), cargo_del),
            "pool_cargo": (("pool", "cargo"), np.array(
                [[p[pl.cargo[c]] if c in pl.cargo else 0.0 for c in cargos] for pl in net.pools]
            ).reshape(len(pools), len(cargos))),
        },
        coords={
            "time": ("time", time, {"units": "day"}),
            "cell_type": cell_names,
            "cell_compartment": ("cell_type", [c.compartment for c in net.cells]),
            "cell_lineage": ("cell_type", [c.lineage for c in net.cells]),
            "pool": pools,
            "compartment": [MARROW, BLOOD],
            "state": [f"{s.cell_type}.{s.var}" for s in net.states],
            "target": targets,
            "source": sources,
            "cargo": cargos,
            "cytokine": list(net.cytokines),
            "drug": list(net.drugs),
            "behavior": [b.key for b in net.behaviors],
            "term": list(TERMS),
            "pool_source": ("pool", [pl.source for pl in net.pools]),
            "pool_class": ("pool", [pl.vesicle_class for pl in net.pools]),
            "pool_markers": ("pool", [";".join(sorted(pl.markers)) for pl in net.pools]),
            "pool_ps": ("pool", [bool(pl.ps_exposed) for pl in net.pools]),
            "vesicle_class": list(net.classes),
            "class_median_um": ("vesicle_class", [p[c.diameter["median"]]
                                                  for c in net.classes.values()]),
            "class_gsd": ("vesicle_class", [p[c.diameter["gsd"]] for c in net.classes.values()]),
            "class_min_um": ("vesicle_class", [p[c.diameter["min"]]
                                               for c in net.classes.values()]),
            "class_max_um": ("vesicle_class", [p[c.diameter["max"]]
                                               for c in net.classes.values()]),
            **rule_coords,
        },
        attrs={
            "model": net.name, "digest": net.digest, "engine": engine, "seed": seed,
            "disease": net.disease, "volume_marrow_mL": float(volumes[0]),
            "volume_blood_mL": float(volumes[1]),
            "marrow_counted": ";".join(net.marrow_counted),
            "leukemic": ";".join(net.leukemic),
            **(extra_attrs or {}),
        },
    )
    ds["cells"].attrs["units"] = "cells"
    ds["ev_concentration"].attrs["units"] = "EV/mL"
    ds["communication"].attrs["units"] = "EV/day"
    ds["cargo_delivered"].attrs["units"] = "copies/day"
    ds["cargo_per_cell"].attrs["units"] = "copies/cell"
    if "rule_signals" in ds:
        ds["rule_signals"].attrs["units"] = "canonical unit of each rule's signal"
    if engine == "wellmixed" and restartable:
        from .restart import attach

        ds = attach(ds, [s.name for s in net.species], y,
                    y[0] if initial is None else initial, [s.unit for s in net.species])
    return ds
