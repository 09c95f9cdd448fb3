"""The report's uncertainty section for a run from a posterior (``evniche run --posterior``).

Every trajectory figure of the report is drawn again over the ensemble: the median as a
line, the 50 % band (25-75 %) darker and the 90 % band (5-95 %) lighter; the take-over day,
the plasma EVs and every summary readout get their median and 90 % credible interval
(quantiles over the equally weighted members, see :mod:`evniche.experiments.ensemble`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..experiments.ensemble import BANDED, EnsembleSummary
from . import figures


def banded(time: np.ndarray, bands: dict[str, np.ndarray], title: str, ylabel: str,
           log: bool, threshold: float | None = None) -> str:
    """One figure: per label its median line and 50 % / 90 % bands (base64 PNG)."""
    fig = figures.new_figure(figsize=(8, 3.8))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.1, right=0.78, bottom=0.14, top=0.9)
    for i, (label, q) in enumerate(bands.items()):
        style = figures._style(i)
        lo90, lo50, med, hi50, hi90 = (np.asarray(r, dtype=float) for r in q)
        if log:
            lo90, lo50, med, hi50, hi90 = (np.where(r > 0, r, np.nan)
                                           for r in (lo90, lo50, med, hi50, hi90))
        ax.fill_between(time, lo90, hi90, color=style["color"], alpha=0.15, linewidth=0)
        ax.fill_between(time, lo50, hi50, color=style["color"], alpha=0.3, linewidth=0)
        ax.plot(time, med, label=f"{label} (median)", **style)
    if log and any(np.isfinite(np.where(q > 0, q, np.nan)).any() for q in bands.values()):
        ax.set_yscale("log")
    if threshold is not None:
        ax.axhline(threshold, color="k", ls="--", lw=0.8, label=f"{threshold:g} % take-over")
    ax.set_xlabel("time (days)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}: median, 50 % and 90 % bands")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    return figures.png(fig)


def context(summary: EnsembleSummary, source: str, num) -> dict[str, Any]:
    """What the template's uncertainty section shows (``num``: the report's number
    format)."""
    def fmt(x: float) -> str:
        if np.isinf(x):
            return f"> {num(summary.days, 4)} (after the horizon)"
        return num(x)

    figs = []
    for key, (t, bands) in summary.bands.items():
        title, ylabel, log, _fn = BANDED[key]
        figs.append((title, banded(t, bands, title, ylabel, log,
                                   threshold=20.0 if key == "blasts" else None)))
    rows = [(r.label, r.unit, fmt(r.q[2]), f"{fmt(r.q[1])} – {fmt(r.q[3])}",
             f"{fmt(r.q[0])} – {fmt(r.q[4])}") for r in summary.readouts]
    t = summary.takeover
    return {
        "n": summary.n, "source": source, "days": num(summary.days, 4),
        "p_takeover": f"{100 * summary.p_takeover:.0f} %",
        "takeover": (fmt(t.q[2]), f"{fmt(t.q[1])} – {fmt(t.q[3])}",
                     f"{fmt(t.q[0])} – {fmt(t.q[4])}"),
        "takeover_note": t.note,
        "rows": rows,
        "parameters": [(p.label, num(p.q[2]), f"{num(p.q[0])} – {num(p.q[4])} {p.unit}")
                       for p in summary.parameters],
        "figures": figs,
    }
