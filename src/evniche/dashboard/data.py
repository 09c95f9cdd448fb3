"""What the dashboard shows, as plain tables and series (no web framework here).

Every function takes names the page offers (a preset, a run id from the registry, a search
text) and never a file path typed on the page: runs are found through the registry only.
Units: time in days, cells in cells, EV concentrations in EV/mL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import EvnicheError

#: what a run's plot can show: label → (how to get it from a Trajectory, y-axis title)
SERIES = {
    "cells": "cells by type (marrow and blood)",
    "marrow blasts %": "marrow blasts, % of marrow nucleated cells",
    "plasma EVs": "plasma EV concentration by pool (EV/mL)",
    "marrow EVs": "marrow EV concentration by pool (EV/mL)",
}


def runs_table(registry: str | Path | None = None, model: str | None = None
               ) -> list[dict[str, Any]]:
    """Complete runs of the registry, newest first, as table rows (id, created, model,
    engine, days, seed, wall_seconds)."""
    from ..store.runs import list_runs

    rows = []
    for run in list_runs(registry, model=model or None):
        if run["status"] != "complete":
            continue
        rows.append({k: run[k] for k in ("id", "created", "model", "engine", "days", "seed",
                                         "wall_seconds")})
    return rows


def run_folder(run_id: str, registry: str | Path | None = None) -> Path:
    """The folder of the registered, complete run ``run_id`` (an EvnicheError otherwise)."""
    from ..store.runs import list_runs

    for run in list_runs(registry):
        if run["id"] == run_id and run["status"] == "complete":
            return Path(run["out_dir"])
    raise EvnicheError(f"no complete run '{run_id}' in the registry")


def load_run(run_id: str, registry: str | Path | None = None) -> xr.Dataset:
    """The Trajectory of the registered run ``run_id``."""
    from ..store.runs import read_run

    ds, _ = read_run(run_folder(run_id, registry))
    return ds


def series(ds: xr.Dataset, what: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Named (days, values) lines of ``what`` (a key of :data:`SERIES`) for one run."""
    t = ds["time"].values
    if what == "cells":
        return {str(c): (t, ds["cells"].sel(cell_type=c).values)
                for c in ds["cell_type"].values}
    if what == "marrow blasts %":
        from ..readouts.clinical import blast_percent

        return {"marrow blasts": (t, blast_percent(ds).values)} if ds.attrs.get("leukemic") \
            else {}
    if what in ("plasma EVs", "marrow EVs"):
        compartment = "blood" if what == "plasma EVs" else "marrow"
        conc = ds["ev_concentration"].sel(compartment=compartment)
        return {str(p): (t, conc.sel(pool=p).values) for p in ds["pool"].values}
    raise EvnicheError(f"unknown series '{what}'; choose one of {', '.join(SERIES)}")


def parameters_table(model: Any) -> list[dict[str, Any]]:
    """The model's parameters with value, unit, plausible range (in the file unit) and
    provenance, for the Explore view; only those with a range can be changed there."""
    rows = []
    for name, item in sorted(model.params.resolved.items()):
        factor = item.value / item.value_in_unit if item.value_in_unit else 1.0
        low, high = (item.range[0] / factor, item.range[1] / factor) if item.range else (None,
                                                                                         None)
        rows.append({"name": name, "value": item.value_in_unit, "unit": item.unit,
                     "low": low, "high": high, "source": item.source or "",
                     "formula": item.expr or ""})
    return rows


def deliveries(ds: xr.Dataset, ev_class: str | None = None) -> xr.DataArray:
    """EVs delivered per day, ``(time, source, target)``, counting only the pools of
    ``ev_class`` (None: every class, i.e. the trajectory's ``communication``): the increase
    of cumulative uptake over each output interval divided by its length in days, as the
    trajectory computes ``communication``."""
    if not ev_class:
        return ds["communication"]
    classes = [str(c) for c in ds["pool_class"].values]
    if ev_class not in classes:
        raise EvnicheError(f"the run has no {ev_class} pools; its classes are "
                           f"{', '.join(sorted(set(classes)))}")
    uptake = ds["uptake"].isel(pool=[k for k, c in enumerate(classes) if c == ev_class])
    t = ds["time"].values
    rate = uptake.diff("time", label="upper") / xr.DataArray(np.diff(t), dims="time",
                                                             coords={"time": t[1:]})
    rate = xr.concat([rate.isel(time=[0]).assign_coords(time=[t[0]]), rate], dim="time")
    by_source = rate.groupby(rate["pool_source"].rename("source")).sum("pool")
    return by_source.transpose("time", "source", "target").clip(min=0.0)


def ev_classes(ds: xr.Dataset) -> list[str]:
    """The EV classes of a run's pools."""
    return sorted({str(c) for c in ds["pool_class"].values})


def communication_edges(ds: xr.Dataset, day: float | None = None, top: int = 30,
                        ev_class: str | None = None) -> list[dict[str, Any]]:
    """Source → target EV deliveries (EV/day) at ``day`` (default: the run's end), the
    ``top`` largest, of one EV class or all, each with its largest cargo flows (copies/day,
    all classes) and the knowledge-base records whose source and target cell types match
    the edge (see :func:`records_for_edge`)."""
    from ..readouts.communication import cargo_flows, communication_table

    table = communication_table(ds.assign(communication=deliveries(ds, ev_class)), day=day)
    table = table[table["evs_per_day"] > 0].head(top)
    flows = cargo_flows(ds, top=None, day=day)
    edges = []
    for row in table.itertuples(index=False):
        mine = flows[(flows["source"] == row.source) & (flows["target"] == row.target)]
        cargo = ", ".join(f"{c} {v:.3g}/day" for c, v in
                          zip(mine["cargo"].head(3), mine["copies_per_day"].head(3),
                              strict=True))
        edges.append({"source": str(row.source), "target": str(row.target),
                      "evs_per_day": float(row.evs_per_day), "cargo": cargo,
                      "records": ", ".join(records_for_edge(str(row.source),
                                                            str(row.target)))})
    return edges


def _norm(name: str) -> str:
    return str(name).replace("_", " ").replace("-", " ").casefold().strip()


def records_for_edge(source: str, target: str, limit: int = 8) -> list[str]:
    """Ids of effect records of the knowledge base with this source and target cell type
    (names compared loosely: case, spaces and underscores ignored)."""
    kb = _kb()
    found = []
    for rid, rec in kb.effects.items():
        facets = rec.facets()
        sources = {_norm(x) for x in facets.get("source", set())}
        targets = {_norm(x) for x in facets.get("target", set())}
        if _norm(source) in sources and _norm(target) in targets:
            found.append(rid)
    return sorted(found)[:limit]


_KB: list = []


def _kb():
    """The knowledge base, loaded once per process."""
    if not _KB:
        from ..knowledge.base import load

        _KB.append(load())
    return _KB[0]


def search_records(text: str = "", limit: int = 200) -> list[dict[str, Any]]:
    """Records whose id, title, quotes or references contain every word of ``text``
    (case ignored), with kind and evidence status (retracted records say so)."""
    kb = _kb()
    words = [w.casefold() for w in text.split()]
    rows = []
    for rid, rec in sorted(kb.records.items()):
        evidences = rec.evidences()
        haystack = " ".join([rid, rec.title(), rec.description or ""]
                            + [f"{e.quote} {e.first_author or ''}" for e in evidences]
                            ).casefold()
        if all(w in haystack for w in words):
            rows.append({"id": rid, "kind": rec.kind, "title": rec.title(),
                         "status": record_status(rec)})
        if len(rows) >= limit:
            break
    return rows


def record_status(rec: Any) -> str:
    """'retracted' when the record is retracted, else its evidence status."""
    status = str(getattr(rec, "status", "") or "")
    return "retracted" if getattr(rec, "retraction", None) is not None else status


def record_detail(record_id: str) -> dict[str, Any]:
    """One record's title, kind, status and evidence (quote, reference, seed) for display."""
    rec = _kb().get(record_id)
    return {"id": record_id, "kind": rec.kind, "title": rec.title(),
            "status": record_status(rec),
            "description": rec.description or "", "notes": rec.notes or "",
            "retraction": (f"retracted {rec.retraction.date}: {rec.retraction.notice} "
                           f"(doi:{rec.retraction.doi})" if rec.retraction else ""),
            "evidence": [{"quote": e.quote, "seed": str(e.seed),
                          "refs": ", ".join(str(r) for r in e.refs),
                          "author": f"{e.first_author or ''} {e.year or ''}".strip(),
                          "citation_problem": e.citation_problem or ""}
                         for e in rec.evidences()]}


def scenario_table(models: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The scenario catalog: name, model, kind (finding or proposal), what it checks and
    the knowledge-base records behind it."""
    from ..experiments.catalog import scenarios

    return [{"name": sc.name, "model": sc.treatment.model, "kind": sc.kind,
             "finding": sc.finding, "kb": ", ".join(sc.kb)}
            for sc in scenarios(list(models) if models else None)]


def scenario_result_row(result: Any) -> dict[str, Any]:
    """One scenario run for display: verdict, control and treatment readouts, effect."""
    row = result.row()
    return {k: row[k] for k in ("scenario", "readout", "expected", "control", "treatment",
                                "effect", "verdict", "error")}


def intervention_names() -> list[str]:
    """Names of the intervention catalog, sorted."""
    from ..compile.interventions import CATALOG

    return sorted(CATALOG)


def intervention_text(name: str, day: float, options: Mapping[str, str] | None = None) -> str:
    """The ``NAME@DAY[:key=value,…]`` text of an intervention chosen on the page."""
    if not name:
        raise EvnicheError("choose an intervention")
    if not np.isfinite(day) or day < 0:
        raise EvnicheError(f"intervention day must be a number ≥ 0, got {day}")
    extra = ",".join(f"{k}={v}" for k, v in (options or {}).items() if str(v).strip())
    return f"{name}@{day:g}" + (f":{extra}" if extra else "")


def result_kind(folder: Path) -> str:
    """'cohort' (``evniche cohort``'s biomarkers.csv), 'posterior' (``evniche
    calibrate``'s posterior.json + posterior.parquet) or an EvnicheError."""
    if (folder / "biomarkers.csv").is_file():
        return "cohort"
    if (folder / "posterior.json").is_file():
        return "posterior"
    raise EvnicheError(f"{folder}: neither a cohort folder (biomarkers.csv, from evniche "
                       f"cohort) nor a calibration folder (posterior.json, from evniche "
                       f"calibrate)")


def result_table(folder: Path) -> tuple[str, list[dict[str, Any]]]:
    """The kind of a results folder and its table: per biomarker AUC with its 95 % CI,
    cut-off, sensitivity, specificity and patients for 80 % power (a cohort), or per
    parameter the weighted 5/25/50/75/95 % posterior quantiles in the model's unit (a
    calibration)."""
    kind = result_kind(folder)
    if kind == "cohort":
        import pandas as pd

        frame = pd.read_csv(folder / "biomarkers.csv")
        return kind, [{k: (float(f"{v:.4g}") if isinstance(v, float) and np.isfinite(v)
                           else v) for k, v in row.items()}
                      for row in frame.to_dict("records")]
    from ..experiments.posterior import load_posterior

    post = load_posterior(folder)
    rows = []
    for key in post.keys:
        q = post.quantiles(key)
        unit = post.units.get(key, "")
        rows.append({"parameter": key.split(".", 1)[1], "unit": unit,
                     **{f"q{p}": float(f"{v:.4g}") for p, v in
                        zip((5, 25, 50, 75, 95), q, strict=True)}})
    return kind, rows
