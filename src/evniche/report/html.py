"""The HTML report of one run: a single self-contained ``report.html``.

Figures are PNGs (an animated GIF for spatial snapshots) embedded as base64 data URIs;
styles are inline; there is no JavaScript and no network access, so the file can be
mailed, archived or opened offline. Sections (their headings are in :data:`SECTIONS`):
summary (with the clinical course in one paragraph), the clinical course (therapy
timeline, blasts in marrow and blood, normal lineages, plasma EVs by origin, MRD),
populations and blast %, normal blood output, plasma EVs by class, the virtual
NTA histogram, the communication matrix, cargo flows, cell states, where each rule operates
(its signal against its half-max: inert, saturated or responsive), the EV ledger check,
spatial snapshots (when the trajectory has them), the assumptions the result rests on and
every cited parameter with its source. Cell counts below one cell read "extinct" and
round-off negatives 0 (:func:`evniche.readouts.clinical.present`).
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from jinja2 import Environment, PackageLoader, select_autoescape

from ..errors import EvnicheError
from ..files import write_text
from ..readouts import clinical, communication, liquid_biopsy
from ..readouts import rules as rule_readout
from ..readouts.sensitivity import describe
from . import figures

REPORT = "report.html"
#: section headings, in order (spatial snapshots only when the trajectory has them)
SECTIONS = (
    "Summary", "Clinical course", "Populations and marrow blasts", "Normal blood output",
    "Plasma EVs by class",
    "Virtual NTA size histogram", "Who talks to whom", "Cargo flows", "Cell states",
    "Rules: where each one operates", "EV ledger check", "Spatial snapshots",
    "Assumptions this result rests on", "Cited parameters",
    "Thrombin generation of plasma EVs",
)
#: the communication heatmap averages over this many last days of the run (days)
COMMUNICATION_WINDOW_DAYS = 30.0
TAKEOVER_THRESHOLD = 20.0


def num(x: Any, digits: int = 3) -> str:
    """A number for humans: 3 significant digits, "–" for None/NaN."""
    if x is None:
        return "–"
    try:
        value = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(value):
        return "–"
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.{digits}g}"
    return f"{value:.{digits - 1}e}"


def cells(x: Any) -> str:
    """A cell count for humans: "extinct" below one cell (round-off negatives included),
    else :func:`num`."""
    try:
        value = float(x)
    except (TypeError, ValueError):
        return num(x)
    if math.isfinite(value) and clinical.present(value) == 0:
        return "extinct"
    return num(value)


def amount(x: Any) -> str:
    """A non-negative amount (EVs, EV/mL) for humans: round-off negatives read 0."""
    try:
        return num(max(float(x), 0.0))
    except (TypeError, ValueError):
        return num(x)


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("evniche.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["num"] = num
    return env


def _range_in_unit(p: Any) -> str:
    if p.range is None:
        return ""
    if p.value:
        factor = p.value_in_unit / p.value
        return f"{num(p.range[0] * factor)}–{num(p.range[1] * factor)} {p.unit}"
    return f"{num(p.range[0])}–{num(p.range[1])} {p.canonical_unit}"


def _parameter_rows(model: Any, assumptions: bool) -> list[dict[str, str]]:
    if model is None:
        return []
    chosen = model.assumptions() if assumptions else [
        p for p in model.params.resolved.values() if not p.is_assumption]
    rows = []
    for p in sorted(chosen, key=lambda q: q.name):
        rows.append({"name": p.name, "value": num(p.value_in_unit, 4), "unit": p.unit,
                     "source": p.source, "range": _range_in_unit(p),
                     "used_at": ", ".join(p.used_at[:4]) + (" …" if len(p.used_at) > 4 else "")})
    return rows


def _ledger_rows(ds: xr.Dataset) -> list[dict[str, str]]:
    """Per pool at the end (EVs): inputs (present at the start + secreted + administered)
    vs where they went."""
    if "ledger" not in ds or ds.sizes.get("pool", 0) == 0:
        return []
    end = ds["ledger"].isel(time=-1)
    present = ds["ev"].isel(time=-1).sum("compartment") if "ev" in ds else 0.0 * end.isel(
        term=0)
    initial = ds["ev"].isel(time=0).sum("compartment") if "ev" in ds else 0.0 * end.isel(
        term=0)
    rows = []
    for pool in ds["pool"].values:
        led = end.sel(pool=pool)
        terms = {str(t): float(led.sel(term=t)) for t in led["term"].values}
        start = float(initial.sel(pool=pool))
        inputs = start + terms.get("secreted", 0.0) + terms.get("administered", 0.0)
        here = float(present.sel(pool=pool))
        outputs = here + sum(terms.get(t, 0.0) for t in
                             ("degraded", "cleared", "removed", "taken_up"))
        rel = abs(inputs - outputs) / max(abs(inputs), 1.0)
        rows.append({"pool": str(pool), "initial": amount(start),
                     "secreted": amount(terms.get("secreted")),
                     "administered": amount(terms.get("administered")), "present": amount(here),
                     "degraded": amount(terms.get("degraded")),
                     "cleared": amount(terms.get("cleared")),
                     "removed": amount(terms.get("removed")),
                     "taken_up": amount(terms.get("taken_up")),
                     "relative_error": f"{rel:.1e}"})
    return rows


def _section(ds: xr.Dataset) -> dict[str, Any]:
    """What the spatial-snapshot images show, in words."""
    ev_field, cxcl12 = figures.pick_fields(ds)
    leukemic = any(n for n in str(ds.attrs.get("leukemic", "")).split(";"))
    days = ds["snapshot_day"].values if "snapshot_day" in ds.coords else [0.0]
    return {
        "ev_field": ev_field,
        "ev_unit": figures.EV_UNIT,
        "ev_why": ("the pool from leukemic cells with the most EVs in the section at the "
                   "last snapshot") if leukemic and "pool_source" in ds.coords else
                  "the pool with the most EVs in the section at the last snapshot",
        "cxcl12": cxcl12,
        "cxcl12_unit": figures.CYTOKINE_UNIT,
        "files": str(ds.attrs.get("snapshot_dir", "")),
        "first": float(days[0]),
        "last": float(days[-1]),
        **_niche(ds),
    }


def _niche(ds: xr.Dataset) -> dict[str, Any]:
    """The niche-anatomy table: per marrow cell type, the fraction of its agents within
    ``distance_um`` of a sinusoid at the start, its minimum and mean over the run and at
    the end (Dataset variable ``niche_fraction``)."""
    if "niche_fraction" not in ds:
        return {"niche_rows": [], "niche_distance": None}
    f = ds["niche_fraction"]
    rows = []
    for cell in f["cell_type"].values:
        v = f.sel(cell_type=cell).values
        if np.isfinite(v).any():
            rows.append({"cell_type": str(cell), "start": num(v[0]),
                         "min": num(np.nanmin(v)), "mean": num(np.nanmean(v)),
                         "end": num(v[-1])})
    return {"niche_rows": rows, "niche_distance": num(f.attrs.get("distance_um"))}


def _rules(ds: xr.Dataset) -> dict[str, Any]:
    """The rule operating-range table (inert and saturated rules first) and its sentence,
    or why there is none."""
    if not rule_readout.has_rule_signals(ds):
        return {"rows": [], "sentence": "", "reason": (
            f"this trajectory (engine '{ds.attrs.get('engine', '?')}') does not record the "
            "signals its rules saw; the well-mixed engine does")}
    frame = rule_readout.operating_range(ds, TAKEOVER_THRESHOLD)
    rows = []
    for label, r in frame.iterrows():
        rows.append({**r.to_dict(), "rule": str(label),
                     "kb": ", ".join(k for k in str(r["kb"]).split(";") if k) or "–"})
    return {"rows": rows, "sentence": rule_readout.describe(frame), "reason": "",
            "inert_below": rule_readout.INERT_BELOW,
            "saturated_above": rule_readout.SATURATED_ABOVE,
            "nearly_constant": rule_readout.NEARLY_CONSTANT_SPAN}


def _course(ds: xr.Dataset) -> dict[str, Any]:
    """The clinical course: its text, figure and therapy table, or why there is none."""
    if not clinical.names_attr(ds, "leukemic"):
        return {"leukemic": False}
    c = clinical.course(ds)
    pct = "–" if c["mrd_at_remission"] is None else f"{100 * c['mrd_at_remission']:.2g} %"
    return {
        "leukemic": True, "text": c["text"], "figure": figures.clinical_course(ds, c),
        "therapies": [{"intervention": t["intervention"], "start": num(t["start_day"], 4),
                       "end": num(t["end_day"], 4), "blasts": num(t["blast_percent"])}
                      for t in c["therapies"]],
        "rows": [(f"diagnosis ({c['diagnosis_criteria'].replace('>=', '≥').replace('<=', '≤')})",
                  _day(c["diagnosis_day"])),
                 ("complete remission (ELN)", _day(c["remission_day"])),
                 ("marrow MRD at remission", pct),
                 ("relapse", _day(c["relapse_day"])),
                 ("lowest normal blood output",
                  "–" if c["lowest_output"] is None else
                  f"{100 * c['lowest_output']:.3g} % of day 0, day "
                  f"{c['lowest_output_day']:.0f}")]
        + ([("interventions asked for", str(ds.attrs["interventions_not_given"]))]
           if ds.attrs.get("interventions_not_given") else []),
        "recovery": f"{100 * clinical.COUNT_RECOVERY:g}",
        "remission_blasts": f"{clinical.REMISSION_BLASTS:g}",
        "blood_limit": f"{clinical.BLOOD_BLAST_LIMIT:g}",
    }


def _thrombin(ds: xr.Dataset, rows: list[dict] | None) -> dict[str, Any]:
    """The virtual thrombogram of plasma EVs on a few days (see
    :mod:`evniche.readouts.thrombin`); ``rows`` when the caller computed them already."""
    from ..readouts import thrombin

    rows = thrombin.table(ds) if rows is None else rows
    return {"rows": [{"day": num(r["day"], 4), "tf": num(r["tf_pM"]), "ps": num(r["ps_nM"]),
                      "membrane": num(r["membrane"]), "lag": num(r["lag_min"]),
                      "peak": num(r["peak_nM"]), "ttp": num(r["time_to_peak_min"]),
                      "etp": num(r["etp_nM_min"])} for r in rows],
            "minutes": num(thrombin.ASSAY_MINUTES), "ps_half": num(thrombin.PS_HALF_NM),
            "ps_share": num(thrombin.PS_SHARE)}


def _day(day: float | None) -> str:
    return "none" if day is None else f"day {day:.1f}"


def _frame_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict(orient="records")


def _sensitivity(frame: pd.DataFrame | None) -> dict[str, Any] | None:
    if frame is None:
        return None
    needed = {"parameter", "elasticity"}
    if not needed <= set(frame.columns):
        raise EvnicheError("sensitivity must be a DataFrame from evniche.readouts.sensitivity "
                           f"with columns {sorted(needed)}; got {list(frame.columns)}")
    return {"sentence": describe(frame), "rows": _frame_rows(frame)}


def _retractions(model: Any) -> list[str]:
    """What the model cites that has been retracted (see :mod:`evniche.spec.evidence`)."""
    if model is None or not hasattr(model, "rules"):
        return []
    from ..spec.evidence import retraction_warnings

    return retraction_warnings(model)


def build_context(ds: xr.Dataset, model: Any = None, sensitivity: pd.DataFrame | None = None,
                  title: str | None = None, ensemble: Any = None,
                  ensemble_source: str = "", thrombin: list[dict] | None = None
                  ) -> dict[str, Any]:
    """Everything the template shows, as plain values and base64 images (``ensemble``: an
    :class:`evniche.experiments.ensemble.EnsembleSummary` for the uncertainty section;
    ``thrombin``: rows of :func:`evniche.readouts.thrombin.table`, computed when None)."""
    shown_sensitivity = _sensitivity(sensitivity)
    time = ds["time"].values
    if len(time) < 2:
        raise EvnicheError("the report needs a trajectory with at least two time points")
    days = float(time[-1] - time[0])
    takeover = clinical.takeover_day(ds, TAKEOVER_THRESHOLD)
    drop = clinical.normal_output_drop(ds)
    blasts = clinical.blast_percent(ds)
    window_days = min(COMMUNICATION_WINDOW_DAYS, days)
    matrix = communication.communication_matrix(ds, last_days=window_days)
    flows = communication.cargo_flows(ds, top=15, last_days=window_days)
    hist = liquid_biopsy.nta_histogram(ds)
    plasma_end = liquid_biopsy.plasma_concentration(ds).isel(time=-1)
    stem = clinical.normal_stem_progenitor(ds)
    name = str(getattr(model, "name", None) or ds.attrs.get("model", "model"))
    summary = {
        "model": name,
        "disease": str(ds.attrs.get("disease", "")) or "–",
        "days": num(days, 4),
        "engine": str(ds.attrs.get("engine", "")) or "–",
        "seed": str(ds.attrs.get("seed", "–")),
        "digest": str(getattr(model, "digest", None) or ds.attrs.get("digest", "–")),
        "takeover": ("no take-over (blasts stay below "
                     f"{TAKEOVER_THRESHOLD:g} %)") if takeover is None else
        f"take-over on day {takeover:.1f} (blasts ≥ {TAKEOVER_THRESHOLD:g} %)",
        "takeover_day": takeover,
        "blasts_start": num(float(blasts.isel(time=0))),
        "blasts_end": num(float(blasts.isel(time=-1))),
        "output_change": "–" if not math.isfinite(drop) else f"{-100.0 * drop:+.1f} %",
        "cellularity_end": cells(float(clinical.marrow_cellularity(ds).isel(time=-1))),
        "normal_end": [(str(c), cells(float(stem.sel(cell_type=c).isel(time=-1))))
                       for c in stem["cell_type"].values],
    }
    snapshot_frames: list[tuple[float, str]] = []
    gif = None
    section: dict[str, Any] = {}
    if figures.has_snapshots(ds):
        snapshot_frames, gif = figures.snapshots(ds)
        section = _section(ds)
    ledger_error = ds.attrs.get("ledger_relative_error")
    try:
        ledger_error = float(ledger_error) if ledger_error is not None else None
    except (TypeError, ValueError):
        ledger_error = None
    return {
        "title": title or f"evniche run: {name}",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "sections": SECTIONS,
        "summary": summary,
        "threshold": TAKEOVER_THRESHOLD,
        "sensitivity": shown_sensitivity,
        "fig_populations": figures.populations(ds, TAKEOVER_THRESHOLD),
        "fig_blood": figures.blood_output(ds),
        "fig_plasma": figures.plasma_evs(ds),
        "course": _course(ds),
        "plasma_end": [(str(c), amount(float(plasma_end.sel(vesicle_class=c))))
                       for c in plasma_end["vesicle_class"].values],
        "fig_nta": figures.nta(hist),
        "nta": {"day": num(hist.day), "total": amount(hist.total_per_ml),
                "mode": num(hist.mode_nm), "low": num(hist.edges_nm[0]),
                "high": num(hist.edges_nm[-1])},
        "window_days": num(window_days),
        "fig_heatmap": figures.heatmap(
            matrix, f"EVs delivered per day, mean of the last {window_days:g} days", "EV/day"),
        "matrix": {"columns": [str(c) for c in matrix.columns],
                   "rows": [(str(r), [num(v) for v in matrix.loc[r].to_numpy()])
                            for r in matrix.index]},
        "flows": _frame_rows(flows),
        "fig_states": figures.states(ds),
        "rules": _rules(ds),
        "ledger_error": ledger_error,
        "ledger_rows": _ledger_rows(ds),
        "snapshots": snapshot_frames,
        "gif": gif,
        "section": section,
        "has_model": model is not None,
        "assumptions": _parameter_rows(model, assumptions=True),
        "retractions": _retractions(model),
        "cited": _parameter_rows(model, assumptions=False),
        "attrs": {str(k): str(v) for k, v in ds.attrs.items()},
        "finite": bool(np.isfinite(ds["cells"].values).all()),
        "ensemble": None if ensemble is None else _uncertainty(ensemble, ensemble_source),
        "thrombin": _thrombin(ds, thrombin),
    }


def _uncertainty(ensemble: Any, source: str) -> dict[str, Any]:
    from .uncertainty import context

    return context(ensemble, source, num)


def write_report(ds: xr.Dataset, out_dir: str | Path, model: Any = None,
                 sensitivity: pd.DataFrame | None = None, title: str | None = None,
                 ensemble: Any = None, ensemble_source: str = "",
                 thrombin: list[dict] | None = None) -> Path:
    """Write ``out_dir/report.html`` for the Trajectory ``ds`` and return its path.

    ``model`` (an :class:`evniche.spec.resolve.ResolvedModel`) supplies the assumptions and
    cited parameters; ``sensitivity`` (a DataFrame from
    :func:`evniche.readouts.sensitivity.elasticities`) is shown under the take-over time;
    ``ensemble`` (an :class:`evniche.experiments.ensemble.EnsembleSummary`) adds the
    uncertainty section ("Uncertainty over the posterior"), ``ensemble_source`` says where
    its draws came from; ``thrombin`` (rows of :func:`evniche.readouts.thrombin.table`)
    saves computing the thrombogram again.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvnicheError(f"cannot create the report folder {out}: {exc}") from None
    html = _environment().get_template("report.html.j2").render(
        **build_context(ds, model, sensitivity, title, ensemble, ensemble_source, thrombin))
    path = out / REPORT
    return write_text(path, html)
