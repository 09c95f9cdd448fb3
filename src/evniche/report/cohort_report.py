"""The HTML report of a virtual cohort (``evniche cohort … --out DIR`` writes
``DIR/report.html``, ``DIR/biomarkers.csv`` and ``DIR/summary.json``).

Self-contained (PNG figures as base64, no JavaScript): the summary sentences; the table of
every biomarker and the panel (AUC with its 95 % bootstrap interval, cut-off, sensitivity,
specificity, patients for 80 % power); ROC curves; the distributions of each biomarker in
patients and controls; power curves; lead-time histograms of the monitored patients; the
published AUCs checked (findings); the population and assay parameters with their
sources.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from ..cohorts import assays, population
from ..cohorts.analysis import PANEL, POWER_N, Analysis, summary_lines
from . import figures


def _roc_figure(a: Analysis) -> str:
    fig = figures.new_figure(figsize=(6.5, 5))
    ax = fig.subplots()
    for i, (name, r) in enumerate(a.rocs.items()):
        fpr, tpr = r.curve
        # straight segments between the points: a tie between patients and controls is a
        # diagonal, the curve whose trapezoidal area is the AUC
        ax.plot(fpr, tpr, label=f"{name} (AUC {r.auc:.2f})",
                lw=2.2 if name == PANEL else 1.3, **figures._style(i))
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("1 − specificity (controls called positive)")
    ax.set_ylabel("sensitivity (patients called positive)")
    ax.set_title(f"ROC: {a.n_patients} patients vs {a.n_controls} controls")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    return figures.png(fig, tight=True)


def _distributions(a: Analysis) -> str:
    names = list(a.scores)
    cols = 3
    rows = (len(names) + cols - 1) // cols
    fig = figures.new_figure(figsize=(10, 2.8 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, name in zip(axes, names, strict=False):
        p, n = a.scores[name]
        both = np.concatenate([p, n])
        bins = np.linspace(both.min(), both.max(), 25) if both.max() > both.min() else 5
        ax.hist(n, bins=bins, alpha=0.55, label="controls", color="tab:blue")
        ax.hist(p, bins=bins, alpha=0.55, label="patients", color="tab:red")
        ax.axvline(a.rocs[name].cutoff, color="k", ls="--", lw=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("panel score (z)" if name == PANEL else "log10 measured value",
                      fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return figures.png(fig)


def _power_figure(a: Analysis) -> str:
    fig = figures.new_figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for i, (name, values) in enumerate(a.power.items()):
        ax.plot(POWER_N, values, marker="o", ms=3, label=name, **figures._style(i))
    ax.axhline(0.8, color="k", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("patients (controls in the cohort's ratio)")
    ax.set_ylabel("power (two-sided α = 0.05, H₀: AUC = 0.5)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return figures.png(fig, tight=True)


def _lead_figure(a: Analysis) -> str | None:
    data = {n: v for n, v in a.lead_times.items() if v}
    if not data:
        return None
    fig = figures.new_figure(figsize=(10, 2.8 * ((len(data) + 2) // 3)))
    axes = np.atleast_1d(fig.subplots((len(data) + 2) // 3, 3)).ravel()
    for ax, (name, leads) in zip(axes, data.items(), strict=False):
        ax.hist(leads, bins=15, color="tab:purple")
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(f"{name}: median {np.median(leads):.0f} d", fontsize=9)
        ax.set_xlabel("lead time over marrow relapse (days)", fontsize=8)
    for ax in axes[len(data):]:
        ax.set_visible(False)
    fig.tight_layout()
    return figures.png(fig)


def _num(x) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def page(a: Analysis, seconds: float | None = None) -> str:
    """The report of ``a`` (``seconds``: wall time of the run, shown when given)."""
    esc = html.escape
    s = a.settings
    table = a.table()
    rows = "".join(
        f"<tr><td>{esc(r.biomarker)}</td><td>{_num(r.patients_true_median)}</td><td>"
        f"{_num(r.controls_true_median)}</td><td>{r.auc:.3f}</td><td>{r.ci_low:.3f} – "
        f"{r.ci_high:.3f}</td><td>{_num(r.cutoff)}</td><td>{r.sensitivity:.0%}</td>"
        f"<td>{r.specificity:.0%}</td><td>{_num(r.n_for_80pct_power)}</td></tr>"
        for r in table.itertuples())
    units = "".join(f"<li><b>{esc(m.name)}</b> ({esc(m.unit)}): {esc(m.summary)}</li>"
                    for m in a.markers)
    findings = "".join(
        f"<tr><td>{esc(f['name'])}</td><td>{esc(f['summary'])}</td><td><b>{esc(f['verdict'])}"
        f"</b></td><td>{esc(f['detail'])}</td><td>{esc(f['source'])}</td></tr>"
        for f in a.findings)
    variations = [population.Variation(**v) if isinstance(v, dict) else v
                  for v in s.get("variations", [])]
    stage = s.get("stage")
    if isinstance(stage, dict):
        variations.append(population.Variation(**stage))
    pop = "".join(
        f"<tr><td>{esc(v.parameter)}</td><td>{esc(', '.join(v.arms))}</td><td>{esc(v.law)}"
        f"</td><td>{_num(v.low)} – {_num(v.high)}"
        + (f" (mean {_num(v.mean)}, SD {_num(v.sd)})" if v.law == "normal" else "")
        + f"</td><td>{esc(v.source)}</td></tr>" for v in variations)
    assay_rows = "".join(
        f"<tr><td>{esc(k)}</td><td>{_num(p.value)}</td><td>{esc(p.unit)}</td><td>"
        f"{'' if p.range is None else _num(p.range[0]) + ' – ' + _num(p.range[1])}</td>"
        f"<td>{esc(p.source)}</td></tr>" for k, p in assays.PARAMETERS.items())
    lead = _lead_figure(a)
    if a.monitored:
        lead_text = (f"{a.monitored} patients treated from their sampling day "
                     f"({esc(', '.join(t['name'] for t in s.get('therapy', [])))}), visits "
                     f"every {s.get('visit_days', 0):g} days for "
                     f"{s.get('followup_days', 0):g} days: {a.remissions} complete "
                     f"remissions (ELN), {a.relapses} relapses after remission.")
        if not a.relapses:
            lead_text += (" No relapse after remission, so no lead time can be measured: "
                          "the model gives no lead-time distribution for this cohort.")
    else:
        lead_text = "No monitoring arm (the model lacks the drugs of the 7+3 therapy, or " \
                    "--no-monitoring)."
    failed = "".join(f"<li>{esc(x)}</li>" for x in a.failed[:20])
    findings_table = (
        "<table><tr><th>finding</th><th>what</th><th>verdict</th><th>cohort vs published"
        f"</th><th>source</th></tr>{findings}</table>" if findings
        else "<p>No published AUC for this model.</p>")
    timing = f"<p>Wall time of the run: {seconds:.0f} s.</p>" if seconds else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>evniche cohort: {esc(s['model_name'])}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;}}
table{{border-collapse:collapse;font-size:0.85em}} td,th{{border:1px solid #ccc;padding:2px 6px;
vertical-align:top}} img{{max-width:100%}}</style></head><body>
<h1>Virtual liquid-biopsy cohort: {esc(s['model_name'])}</h1>
<p>Model digest {esc(str(s['digest']))}, seed {s['seed']}, untreated horizon {s['days']:g}
days; controls are the same model without leukemic cells, sampled on day
{s['control_days']:g}; patients are sampled on the day their marrow blasts reach their drawn
stage. Scores are log10 of the measured values; a value at 0 (below the limit of detection)
reads as half the smallest positive value of that biomarker.{' Parameters of the posterior '
+ esc(str(s['posterior'])) + ' are drawn from it.' if s.get('posterior') else ''}</p>
{timing}
<h2>Summary</h2><ul>{''.join(f'<li>{esc(x)}</li>' for x in summary_lines(a))}</ul>
{f'<h3>Failed runs (first 20)</h3><ul>{failed}</ul>' if failed else ''}
<h2>Biomarkers</h2><ul>{units}<li><b>{PANEL}</b>: the mean of the biomarkers' log10 values
standardised by the controls' mean and SD (no fitted weights)</li></ul>
<table><tr><th>biomarker</th><th>patients: median true value</th><th>controls: median
true value</th><th>AUC</th><th>95 % CI (bootstrap)</th><th>cut-off (Youden,
measured unit)</th><th>sensitivity</th><th>specificity</th><th>patients for 80 % power
(1:{a.n_controls / a.n_patients:.2g} controls)</th></tr>{rows}</table>
<h2>ROC curves</h2><img src="data:image/png;base64,{_roc_figure(a)}" alt="ROC curves">
<h2>Patients vs controls</h2><p>Dashed: the cut-off.</p>
<img src="data:image/png;base64,{_distributions(a)}" alt="distributions">
<h2>Power</h2><p>Power to tell each biomarker's AUC from 0.5 (Hanley–McNeil variance, normal
approximation) against the number of patients.</p>
<img src="data:image/png;base64,{_power_figure(a)}" alt="power curves">
<h2>Monitoring after therapy: lead time over marrow relapse</h2><p>{lead_text} The cut-off
of each biomarker is its diagnostic (Youden) cut-off; lead time = marrow relapse day (blasts
back to 5 %) − first visit after remission with the biomarker at or above it.</p>
{f'<img src="data:image/png;base64,{lead}" alt="lead times">' if lead else ''}
<h2>Published AUCs (scenario catalog, cohort findings)</h2>
{findings_table}
<h2>Population</h2><table><tr><th>parameter</th><th>arms</th><th>law</th><th>range (file
unit)</th><th>source</th></tr>{pop}</table>
<h2>Assay parameters</h2><table><tr><th>name</th><th>value</th><th>unit</th><th>range</th>
<th>source</th></tr>{assay_rows}</table>
</body></html>
"""


def write(a: Analysis, out: str | Path, seconds: float | None = None) -> list[Path]:
    """``report.html``, ``biomarkers.csv`` (:meth:`Analysis.table`) and ``summary.json``
    into ``out``; the paths written."""
    out = Path(out)
    paths = [out / "report.html", out / "biomarkers.csv", out / "summary.json"]
    paths[0].write_text(page(a, seconds), encoding="utf-8")
    a.table().to_csv(paths[1], index=False)
    paths[2].write_text(json.dumps({
        "patients": a.n_patients, "controls": a.n_controls, "draws": a.draws,
        "undiagnosed": a.undiagnosed, "failed": len(a.failed), "seconds": seconds,
        "summary": summary_lines(a), "findings": a.findings,
        "lead_times": a.lead_times}, indent=2, default=str), encoding="utf-8")
    return paths
