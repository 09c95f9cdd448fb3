"""The calibration report (``DIR/report.html``, Matplotlib figures inlined): prior against
posterior per parameter (what the data constrain: the posterior 90 % interval width over
the prior width, in the prior's scale), each observation beside its posterior-predictive
distribution (a handful of particles simulated again) with its source, and the fit
diagnostics (epsilon, acceptance rate and ESS per generation)."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np

from .calibration import Objective, Prior, interval

#: a parameter whose 90 % interval covers less than this share of its prior is "constrained"
CONSTRAINED = 0.5


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "<img src='data:image/png;base64," + base64.b64encode(buf.getvalue()).decode() + "'>"


def constraint(prior: Prior, values: np.ndarray, weights: np.ndarray) -> dict:
    """The posterior 90 % interval (model file's unit) and its width over the prior's width,
    both measured in the prior's scale (log10 for a log-uniform prior)."""
    lo, hi = interval(values, weights)
    a, b = prior.bounds()
    share = (prior.coordinate(hi) - prior.coordinate(lo)) / (b - a)
    return {"low": lo, "high": hi, "share": float(share)}


def predictive(objective: Objective, frame, particles: int, seed: int = 0) -> list[list]:
    """``particles`` draws from the posterior (by weight) simulated again: per draw, the
    records' Comparisons."""
    if particles <= 0:
        return []
    rng = np.random.default_rng(seed)
    w = frame["weight"].to_numpy(dtype=float)
    picks = rng.choice(len(frame), size=particles, replace=True, p=w / w.sum())
    keys = [p.key for p in objective.priors]
    return [objective.comparisons({k: float(frame.iloc[i][k]) for k in keys}) for i in picks]


def write_report(out: Path, info: dict, frame, priors: list[Prior], generations: list[dict],
                 draws: list[list]) -> Path:
    """Write ``out/report.html``; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = frame["weight"].to_numpy(dtype=float)
    parts = [f"<h1>Calibration of {html.escape(info['model'])}</h1>",
             f"<p>digest {info['digest']}; {info['generations']} generation(s) of "
             f"{info['population']} particles; {info['simulations']} simulations; "
             f"pyABC {info['versions']['pyabc']}.</p>",
             "<h2>Parameters: prior and posterior</h2>",
             "<p>Share = posterior 90 % interval width / prior width (log10 scale for a "
             f"log-uniform prior); below {CONSTRAINED:g} the data constrain the parameter, "
             "otherwise they leave it open.</p>",
             "<table border=1 cellpadding=3><tr><th>parameter</th><th>unit</th><th>prior</th>"
             "<th>model value</th><th>posterior 90 %</th><th>share</th><th>verdict</th></tr>"]
    figs = []
    for p in priors:
        v = frame[p.key].to_numpy(dtype=float)
        c = constraint(p, v, w)
        verdict = "constrained" if c["share"] < CONSTRAINED else "left open"
        parts.append(f"<tr><td>{p.name}</td><td>{html.escape(p.unit)}</td><td>{p.low:.3g}–"
                     f"{p.high:.3g} ({'log-uniform' if p.log else 'uniform'})</td>"
                     f"<td>{p.value:.3g}</td><td>{c['low']:.3g}–{c['high']:.3g}</td>"
                     f"<td>{c['share']:.2f}</td><td>{verdict}</td></tr>")
        fig, ax = plt.subplots(figsize=(4, 2.6))
        lo, hi = p.bounds()
        bins = np.linspace(lo, hi, 21)
        ax.hist([p.coordinate(x) for x in v], bins=bins, weights=w, density=True,
                alpha=0.7, label="posterior")
        ax.plot([lo, hi], [1 / (hi - lo)] * 2, "k--", label="prior")
        ax.axvline(p.coordinate(p.value), color="r", lw=1, label="model value")
        ax.set_xlabel(f"{'log10 ' if p.log else ''}{p.name} [{p.unit}]")
        ax.legend(fontsize=7)
        figs.append(_png(fig))
    parts.append("</table>")
    parts += figs
    parts.append("<h2>Observations and the posterior predictive</h2>")
    if not draws:
        parts.append("<p>No posterior-predictive runs (--predictive 0).</p>")
    else:
        parts.append(f"<p>{len(draws)} posterior draws simulated again. Magnitudes: the "
                     "observed value with its 95 % band (from its spread) beside the draws' "
                     "values; trends: the draws' distances (0: the trend holds).</p>")
        for j, first in enumerate(draws[0]):
            rec = first.record
            values = [d[j].model for d in draws]
            dists = [d[j].distance for d in draws]
            parts.append(f"<h3>{html.escape(rec.id)}</h3><p>{html.escape(rec.measured)}; "
                         f"source: {html.escape(rec.source.ref)}</p>")
            fig, ax = plt.subplots(figsize=(4, 2.2))
            if rec.observed.trend is None and first.observed is not None:
                sigma = rec.observed.sigma()
                obs = first.observed
                ax.axvspan(math.log10(obs) - 1.96 * sigma / math.log(10),
                           math.log10(obs) + 1.96 * sigma / math.log(10), color="0.85",
                           label="observed 95 %")
                ax.axvline(math.log10(obs), color="k", label="observed")
                good = [math.log10(x) for x in values if x > 0 and math.isfinite(x)]
                ax.plot(good, [0.5] * len(good), "o", alpha=0.6, label="posterior draws")
                ax.set_xlabel(f"log10 model value [{first.record.observed.unit}]")
            else:
                ax.plot(dists, [0.5] * len(dists), "o", alpha=0.6, label="draws")
                ax.set_xlabel(f"trend distance ({rec.observed.trend})")
            ax.set_yticks([])
            ax.legend(fontsize=7)
            parts.append(_png(fig))
            fails = sorted({d[j].error for d in draws if d[j].error})
            if fails:
                parts.append("<p>failed: " + html.escape("; ".join(fails)) + "</p>")
    parts.append("<h2>Fit diagnostics</h2><table border=1 cellpadding=3><tr><th>t</th>"
                 "<th>epsilon</th><th>simulations</th><th>acceptance rate</th><th>ESS</th></tr>")
    for g in generations:
        parts.append(f"<tr><td>{g['t']}</td><td>{g['epsilon']:.4g}</td><td>{g['simulations']}"
                     f"</td><td>{g['acceptance_rate']:.3f}</td><td>{g['ess']:.1f}</td></tr>")
    parts.append("</table>")
    fig, axes = plt.subplots(1, 3, figsize=(9, 2.4))
    ts = [g["t"] for g in generations]
    for ax, key in zip(axes, ("epsilon", "acceptance_rate", "ess"), strict=True):
        ax.plot(ts, [g[key] for g in generations], "o-")
        ax.set_xlabel("generation")
        ax.set_title(key.replace("_", " "))
    parts.append(_png(fig))
    path = out / "report.html"
    path.write_text("<!doctype html><html><head><meta charset='utf-8'><title>calibration"
                    "</title></head><body>" + "\n".join(parts) + "</body></html>", encoding="utf-8")
    return path
