"""One HTML page for a scenario run: the verdict table and, per scenario, the readout of
treatment and control over time and the coagulation-risk readout (matplotlib PNGs embedded
as base64)."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np

from ..files import write_text
from .scenarios import ScenarioResult, format_value, wanted


def _fmt(x: float | None) -> str:
    return format_value(x, digits=4)


def _plot(result: ScenarioResult) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result.resolved or result.scenario
    panels = [(result.control_series, result.treatment_series,
               s.readout.series_label or f"{s.readout.label} ({s.readout.unit})",
               s.readout.window)]
    if result.risk_control_series is not None and s.risk is not None:
        panels.append((result.risk_control_series, result.risk_treatment_series,
                       f"{s.risk.label.replace('peak ', '')} ({s.risk.unit})", None))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.2), dpi=90,
                             squeeze=False)
    # with an anchored readout window late in the run, show the weeks around it
    window = s.readout.window
    x0 = None
    if window is not None and all(isinstance(w, (int, float)) for w in window) \
            and window[0] > 60:
        x0 = window[0] - 60
    for ax, (control, treatment, label, shade) in zip(axes[0], panels, strict=True):
        for da, name, style in ((control, "control", "--"), (treatment, "treatment", "-")):
            if da is None:
                continue
            t, y = np.asarray(da["time"].values), np.asarray(da.values, dtype=float)
            keep = (t >= x0) if x0 is not None else np.ones(t.shape, bool)
            ax.plot(t[keep], y[keep], style, label=name)
        if shade is not None and all(isinstance(w, (int, float)) for w in shade):
            ax.axvspan(shade[0], max(shade[1], shade[0] + 0.2), color="0.9", zorder=0)
        ax.set_xlabel("day")
        ax.set_ylabel(label, fontsize=8)
        ax.legend(fontsize=8)
    fig.suptitle(s.name, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _arm(arm) -> str:
    parts = [f"model <code>{html.escape(arm.model)}</code>"]
    if arm.overrides:
        parts.append(f"overrides <code>{html.escape(str(arm.overrides))}</code>")
    for iv in arm.interventions:
        start = iv.get("start", 0)
        when = f"day {start:.2f}" if isinstance(start, (int, float)) else html.escape(str(start))
        opts = iv.get("options") or {}
        extra = f" {html.escape(str(opts))}" if opts else ""
        parts.append(f"<code>{html.escape(iv['name'])}</code> from {when}{extra}")
    if not arm.interventions:
        parts.append("no intervention")
    return ", ".join(parts)


def _pct(x: float) -> str:
    return "–" if math.isnan(x) else f"{x * 100:+.3g} %"


def _left_out_cell(row) -> str:
    """A finding's 'without its own observations' cell (:class:`LeftOut` or None)."""
    if row is None:
        return "<td>–</td>"
    if not row.fitted:
        return ("<td title='its observation is not in the fit: the verdict does not rest on "
                "it'>not in fit</td>")
    effect = "" if row.without is None else \
        f"; effect without them {_pct(row.without.effect_q[2])} (90 % CrI " \
        f"{_pct(row.without.effect_q[0])} – {_pct(row.without.effect_q[4])})"
    title = html.escape(f"left out: {', '.join(row.fitted)}" + effect
                        + (f"; {row.error}" if row.error else "")
                        + (f"; posterior {row.posterior}" if row.posterior else ""))
    cls = {"yes": "ok", "no": "bad"}.get(row.still, "err")
    return f"<td class='{cls}' title='{title}'>{html.escape(row.cell())}</td>"


def answer_tables(answers, left_out=None) -> str:
    """The findings table (P(agree), effect and its 90 % credible interval, verdict and,
    with ``left_out`` (:class:`evniche.experiments.leave_one_out.LeftOut` per finding),
    P(agree) without the finding's own observations in the fit) and the proposals table
    (P(effect ≥ threshold), effect and interval), as HTML."""
    from .agreement import CONTRADICTED_BELOW
    from .leave_one_out import NOT_IN_FIT

    loo = None if left_out is None else {r.scenario.name: r for r in left_out}

    def row(a, last: str) -> str:
        q = a.effect_q
        s = a.scenario
        return (f"<tr><td><a href='#{html.escape(s.name)}'>{html.escape(s.name)}</a></td>"
                f"<td>{html.escape(s.reason)}</td><td>{html.escape(a.source)}</td>"
                f"<td>{len(a.members)}</td><td>{a.p:.2f}</td><td>{_pct(q[2])}</td>"
                f"<td>{_pct(q[0])} – {_pct(q[4])}</td>"
                f"<td>{wanted(s.expected, s.margin)}</td>{last}</tr>")

    head = ("<tr><th>scenario</th><th>why this kind</th><th>ensemble</th><th>n</th>"
            "<th>{p}</th><th>effect (median)</th><th>90 % CrI</th><th>{w}</th>{v}</tr>")
    findings = [row(a, f"<td class='{'bad' if a.contradicted else 'ok'}'>{a.verdict}</td>"
                    + ("" if loo is None else _left_out_cell(loo.get(a.scenario.name))))
                for a in answers if a.kind == "finding"]
    loo_head = "" if loo is None else "<th>without own observations</th>"
    loo_text = "" if loo is None else (
        " Without own observations: P(agree) with → without the finding's own observation "
        "records in the fit (the same calibration refitted without them; <code>evniche "
        "scenarios run --leave-one-out</code>) and whether it is still reproduced; 'not in "
        f"fit': {html.escape(NOT_IN_FIT)}.")
    proposals = [row(a, "") for a in answers if a.kind == "proposal"]
    return (f"<h2>Findings: published results the model must reproduce</h2><p>P(agree): the "
            f"share of ensemble members whose effect has the expected sign and at least the "
            f"margin; contradicted when P(agree) &lt; {CONTRADICTED_BELOW:g}. With the point "
            f"model (n = 1) P is 0 or 1.{loo_text}</p><table>"
            + head.format(p="P(agree)", w="wanted", v="<th>verdict</th>" + loo_head)
            + "".join(findings)
            + "</table><h2>Proposals: the reviews' hypotheses (no pass/fail)</h2><p>P(effect "
            "≥ threshold): the share of members whose effect reaches the threshold in the "
            "expected direction.</p><table>"
            + head.format(p="P(effect ≥ threshold)", w="threshold", v="")
            + "".join(proposals) + "</table>")


def write_report(results: list[ScenarioResult], directory: str | Path,
                 answers: list | None = None, left_out: list | None = None) -> Path:
    """Write ``index.html`` into ``directory`` (created) and return its path; ``answers``
    (:class:`evniche.experiments.agreement.Answer`, one per result) add the findings and
    proposals tables at the top, ``left_out`` (:class:`evniche.experiments.leave_one_out.
    LeftOut`) the findings' column without their own observations."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    rows, sections = [], []
    anchors: dict[str, float] = {}
    for r in results:
        row = r.row()
        s = r.resolved or r.scenario
        for a in r.scenario.anchors:
            if a.name in r.anchors:
                anchors[f"{a.name}: {a.description}"] = r.anchors[a.name]
        cls = {"agree": "ok", "disagree": "bad"}.get(r.verdict, "err")
        risk = "–" if math.isnan(r.risk_ratio) else f"×{r.risk_ratio:.3f}"
        want = wanted(r.scenario.expected, r.scenario.margin, r.scenario.most)
        rows.append(
            f"<tr class='{cls}'><td><a href='#{html.escape(row['scenario'])}'>"
            f"{html.escape(row['scenario'])}</a></td><td>{html.escape(row['finding'])}</td>"
            f"<td>{html.escape(row['kb'])}</td><td>{html.escape(row['readout'])}</td>"
            f"<td>{_fmt(r.control)}</td><td>{_fmt(r.treatment)}</td>"
            f"<td>{_fmt(r.effect * 100 if math.isfinite(r.effect) else r.effect)} %</td>"
            f"<td>{want}</td><td>{r.verdict}</td><td>{risk}</td></tr>")
        body = (f"<p class='err'>{html.escape(r.error)}</p>" if r.error else
                f"<img alt='{html.escape(r.scenario.name)}' "
                f"src='data:image/png;base64,{_plot(r)}'>")
        when = "".join(f"; {html.escape(k)} = day {v:.2f}" for k, v in r.anchors.items())
        sections.append(
            f"<h2 id='{html.escape(r.scenario.name)}'>{html.escape(r.scenario.name)}</h2>"
            f"<p>{html.escape(r.scenario.finding)} ({html.escape(row['kb'])})</p>"
            + (f"<p>own observation records (the same published result): "
               f"{html.escape(', '.join(r.scenario.observations))}</p>"
               if r.scenario.observations else "") +
            f"<p>treatment: {_arm(s.treatment)}<br>control: {_arm(s.control)}<br>"
            f"readout: {html.escape(row['readout'])}, {html.escape(s.readout.summary)}"
            f"{' over days ' + html.escape(str(s.readout.window)) if s.readout.window else ''}"
            f"; run of {_fmt(float(s.days)) if not isinstance(s.days, str) else s.days} days"
            f"{when}</p>"
            f"<p>control {_fmt(r.control)}, treatment {_fmt(r.treatment)}, effect "
            f"{_fmt(r.effect * 100 if math.isfinite(r.effect) else r.effect)} % (wanted "
            f"{want}): <b>{r.verdict}</b>; peak rise of plasma EV tissue factor "
            f"{risk}</p>{body}")
    agree = sum(r.agrees for r in results)
    anchor_text = "".join(f"<li>{html.escape(k)}: day {v:.2f}</li>" for k, v in anchors.items())
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>evniche scenarios</title><style>
body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse;font-size:90%}}
td,th{{border:1px solid #ccc;padding:3px 6px}} tr.ok td:nth-child(9){{color:#070}}
tr.bad td:nth-child(9){{color:#b00}} .err{{color:#b60}}</style></head><body>
<h1>Scenario catalog: {agree} of {len(results)} agree</h1>
<p>effect = (treatment − control) / |control|; a scenario agrees when the effect has the
expected sign and is at least the margin ("wanted"). TF: the largest rise over time of
plasma EV tissue factor in the treatment arm over the control arm — the coagulation risk
the reviews warn of (seed 000 [68]; knowledge base risk-hypercoagulation); administered
EVs are counted at their bolus peak.</p>
{f'<p>Anchored days:</p><ul>{anchor_text}</ul>' if anchor_text else ''}
{answer_tables(answers, left_out) if answers else ''}
<h2>First member of each scenario (the point model without an ensemble)</h2>
<table><tr><th>scenario</th><th>finding</th><th>reference</th><th>readout</th>
<th>control</th><th>treatment</th><th>effect</th><th>wanted</th>
<th>verdict</th><th>TF</th></tr>{''.join(rows)}</table>{''.join(sections)}</body></html>"""
    path = out / "index.html"
    return write_text(path, page)
