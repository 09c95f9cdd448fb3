"""One HTML page for a scenario run: the verdict table and, per scenario, the readout of
treatment and control over time (matplotlib PNGs embedded as base64)."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

from .scenarios import ScenarioResult


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if math.isinf(x):
        return "+∞" if x > 0 else "−∞"
    return f"{x:.4g}"


def _plot(result: ScenarioResult) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result.scenario
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=90)
    for da, label, style in ((result.control_series, "control", "--"),
                             (result.treatment_series, "treatment", "-")):
        if da is not None:
            ax.plot(da["time"].values, da.values, style, label=label)
    ax.set_xlabel("day")
    ax.set_ylabel(f"{s.readout.label} ({s.readout.unit})", fontsize=8)
    ax.set_title(s.name, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def write_report(results: list[ScenarioResult], directory: str | Path) -> Path:
    """Write ``index.html`` into ``directory`` (created) and return its path."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    rows, sections = [], []
    for r in results:
        row = r.row()
        cls = {"agree": "ok", "disagree": "bad"}.get(r.verdict, "err")
        rows.append(
            f"<tr class='{cls}'><td><a href='#{html.escape(row['scenario'])}'>"
            f"{html.escape(row['scenario'])}</a></td><td>{html.escape(row['finding'])}</td>"
            f"<td>{html.escape(row['kb'])}</td><td>{html.escape(row['readout'])}</td>"
            f"<td>{row['expected']}</td><td>{_fmt(r.control)}</td><td>{_fmt(r.treatment)}</td>"
            f"<td>{_fmt(r.effect * 100 if math.isfinite(r.effect) else r.effect)} %</td>"
            f"<td>{_fmt(r.scenario.margin * 100)} %</td><td>{r.verdict}</td></tr>")
        body = (f"<p class='err'>{html.escape(r.error)}</p>" if r.error else
                f"<img alt='{html.escape(r.scenario.name)}' "
                f"src='data:image/png;base64,{_plot(r)}'>")
        sections.append(
            f"<h2 id='{html.escape(r.scenario.name)}'>{html.escape(r.scenario.name)}</h2>"
            f"<p>{html.escape(r.scenario.finding)}</p><p>treatment: "
            f"<code>{html.escape(str(r.scenario.treatment))}</code><br>control: "
            f"<code>{html.escape(str(r.scenario.control))}</code></p>{body}")
    agree = sum(r.agrees for r in results)
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>evniche scenarios</title><style>
body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse;font-size:90%}}
td,th{{border:1px solid #ccc;padding:3px 6px}} tr.ok td:last-child{{color:#070}}
tr.bad td:last-child{{color:#b00}} .err{{color:#b60}}</style></head><body>
<h1>Scenario catalog: {agree} of {len(results)} agree</h1>
<p>effect = (treatment − control) / |control|; a scenario agrees when the effect has the
expected sign and is at least the margin.</p>
<table><tr><th>scenario</th><th>finding</th><th>reference</th><th>readout</th>
<th>expected</th><th>control</th><th>treatment</th><th>effect</th><th>margin</th>
<th>verdict</th></tr>{''.join(rows)}</table>{''.join(sections)}</body></html>"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
