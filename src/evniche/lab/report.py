"""The HTML report of a virtual experiment: one self-contained ``lab_report.html`` (figures
as embedded PNGs, inline styles, no JavaScript), beside ``lab_record.json`` (the
EV-TRACK-style record) and ``yields.csv``, ``nta.csv``.

Sections: summary; sample; protocol (each step with its parameters and derived
quantities); yield by EV class and by cell of origin; purity and carry-over; the leukemic
readout; virtual NTA (sample and isolate) with its limits; virtual flow cytometry with its
limits and swarm detection; electron microscopy; marker presence; the EV-METRIC-style and
MISEV2018 checklists; assumptions and sources.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from ..errors import EvnicheError
from ..files import write_text
from ..report.figures import new_figure, png
from ..report.html import num
from .characterization import Characterization, NTAReading
from .outcome import Outcome
from .protocols import Isolation

REPORT, RECORD, YIELDS, NTA_CSV = "lab_report.html", "lab_record.json", "yields.csv", "nta.csv"
FILES = (REPORT, RECORD, YIELDS, NTA_CSV)
KIND_COLOURS = {"ev": "#1b9e77", "lipoprotein": "#d95f02", "protein": "#7570b3",
                "aggregate": "#e7298a", "platelet": "#66a61e"}


def check_folder(text: str) -> Path:
    """``--out``: a new or empty folder, or one holding an earlier lab report (replaced)."""
    if not text.strip():
        raise EvnicheError("--out: expected a folder name, got an empty string")
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise EvnicheError(f"--out {text}: {path} is a file, not a folder")
    if path.is_dir() and any(path.iterdir()) and not (path / RECORD).exists():
        raise EvnicheError(f"--out {text}: {path} holds other files and no lab record; give "
                           "a new or empty folder")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise EvnicheError(f"--out {text}: {existing} is a file, so no folder can be made "
                           "under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise EvnicheError(f"--out {text}: cannot write into {existing} (permission denied)")
    return path


def _nta_figure(before: NTAReading, after: NTAReading) -> str:
    fig = new_figure(figsize=(9, 3.4))
    axes = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.86, wspace=0.28)
    for ax, reading, title in ((axes[0], before, "sample"), (axes[1], after, "isolate")):
        for kind, values in reading.by_kind.items():
            if values.any():
                ax.stairs(np.where(values > 0, values, np.nan), reading.edges_nm,
                          color=KIND_COLOURS[kind], label=kind, linewidth=1.5)
        ax.set_yscale("log")
        ax.set_xlim(0, 600)
        ax.set_xlabel("diameter (nm)")
        ax.set_ylabel("particles per mL per 10 nm")
        ax.set_title(f"virtual NTA: {title} (by kind, log scale)", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return png(fig)


def _bars(values: dict[str, float], title: str, ylabel: str) -> str:
    fig = new_figure(figsize=(6, 3.0))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.12, right=0.98, bottom=0.32, top=0.88)
    names = list(values)
    ax.bar(range(len(names)), [0 if v is None or not np.isfinite(v) else v
                               for v in values.values()], color="#1b9e77")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return png(fig)


def _em_figure(readings: Characterization) -> str:
    em = readings.em
    fig = new_figure(figsize=(6, 3.0))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.12, right=0.98, bottom=0.16, top=0.88)
    ax.bar(em.edges_nm[:-1], em.ev_counts, width=np.diff(em.edges_nm), align="edge",
           color="#1b9e77")
    ax.set_xlim(0, 600)
    ax.set_xlabel("EV diameter (nm)")
    ax.set_ylabel("EVs counted")
    ax.set_title(f"virtual EM: {int(em.ev_counts.sum())} EVs of {em.settings.particles} "
                 "particles counted", fontsize=10)
    return png(fig)


def yields_frame(result: Outcome) -> pd.DataFrame:
    """Yields by class and by source as a tidy table (group, name, yield)."""
    rows = [("class", k, v) for k, v in result.by_class.items()] + \
        [("source", k, v) for k, v in result.by_source.items()] + \
        [("all EVs", "all", result.ev_yield), ("leukemic EVs", "leukemic",
                                               result.leukemic_yield)]
    return pd.DataFrame(rows, columns=["group", "name", "yield"])


def nta_frame(before: NTAReading, after: NTAReading) -> pd.DataFrame:
    """Both NTA histograms as a tidy table (per mL of sample and of isolate)."""
    frame = pd.DataFrame({"bin_low_nm": before.edges_nm[:-1],
                          "bin_high_nm": before.edges_nm[1:]})
    for label, reading in (("sample", before), ("isolate", after)):
        for kind, values in reading.by_kind.items():
            frame[f"{label}_{kind}_per_mL"] = values
    return frame




def _pct(x) -> str:
    if x is None:
        return "–"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not np.isfinite(v):
        return "–"
    return f"{100 * v:.3g} %"


def _summary(record: dict) -> str:
    r = record["results"]
    return (f"Protocol {record['protocol']['name']} recovers {_pct(r['ev_yield'])} of the "
            f"sample's EVs with {num(r['particles_per_ug'])} NTA-visible particles per µg "
            f"protein; {_pct(r['lipoprotein_share_of_NTA_particles'])} of the particles NTA "
            f"counts in the isolate are lipoproteins ({num(r['lipoprotein_particles_per_EV'])} "
            f"lipoprotein particles per EV, most too small for NTA) and "
            f"{_pct(r['protein_carryover'])} of the sample's protein is carried over.")


def _leukemic_text(result: Outcome) -> str:
    if not np.isfinite(result.leukemic_share_start):
        return "The sample holds no leukemic EVs."
    e = result.leukemic_enrichment
    verdict = "gains (enriches leukemic EVs)" if e > 1.05 else \
        "loses (favours other EVs)" if e < 0.95 else "neither gains nor loses"
    return (f"A leukemic-EV-specific readout {verdict}: leukemic EVs are recovered at "
            f"{_pct(result.leukemic_yield)} against {_pct(result.ev_yield)} for all EVs; a "
            "particle-count readout of them is diluted by the other particles NTA sees "
            f"({_pct(result.leukemic_visible)} of the visible particles are leukemic EVs).")


def write(out: Path, isolation: Isolation, readings_before: Characterization,
          readings: Characterization, result: Outcome, record: dict) -> Path:
    """Write the report, the record and the tables into ``out``; return the report path."""
    out.mkdir(parents=True, exist_ok=True)
    env = Environment(loader=PackageLoader("evniche", "lab/templates"),
                      autoescape=select_autoescape(default=True))
    template = env.get_template("lab_report.html.j2")
    yields = yields_frame(result)
    ch = record["characterization"]
    kinds = {p["name"]: p["kind"] for p in record["sample"]["particles"]}

    def by_kind(limits: dict) -> dict:
        out: dict[str, float] = {}
        for name, value in limits.items():
            if value is not None:
                out[kinds[name]] = min(out.get(kinds[name], value), value)
        return out

    html = template.render(
        protocol=record["protocol"]["name"], description=record["protocol"]["description"],
        reference=record["protocol"]["reference"], summary=_summary(record),
        sample=record["sample"], steps=record["steps"], yields=yields.to_dict("records"),
        res=record["results"], nta=ch["nta"], flow=ch["flow"], em=ch["electron_microscopy"],
        markers=ch["markers"], limits=ch["marker_limits"], checks=record["checklists"],
        leukemic_text=_leukemic_text(result), num=num, pct=_pct,
        nta_limits=by_kind(ch["nta"]["smallest_detected_nm"]),
        flow_limits=by_kind(ch["flow"]["smallest_triggering_nm"]),
        fig_nta=_nta_figure(readings_before.nta, readings.nta),
        fig_class=_bars(result.by_class, "yield by EV class", "fraction recovered"),
        fig_source=_bars(result.by_source, "yield by cell of origin", "fraction recovered"),
        fig_em=_em_figure(readings))
    write_text(out / RECORD, json.dumps(record, indent=2))
    write_text(out / YIELDS, yields.to_csv(index=False))
    write_text(out / NTA_CSV, nta_frame(readings_before.nta, readings.nta).to_csv(index=False))
    return write_text(out / REPORT, html)
