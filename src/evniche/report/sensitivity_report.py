"""The files of ``evniche sensitivity --out DIR``: samples, indices, settings and one HTML page.

* ``samples.parquet``: one row per run (``run``, each assumption's value in its unit, each
  readout, ``NAME_censored``, ``note``, ``error``);
* ``indices.csv``: one row per readout × assumption (the method's indices, ``influence``,
  ``matters``);
* ``rejected.parquet``: one row per candidate design block drawn again because it held an
  infeasible parameter set (``candidate``, ``set``, that set's values, ``cause``,
  ``error``; no rows when every candidate was valid);
* ``sensitivity.json``: the settings, the factors (unit, range, log or linear sampling,
  source) and the summary sentences;
* ``report.html``: self-contained (PNG figures as base64, no JavaScript): the summary, the
  ranked table, for Morris the mu*–sigma plot of each readout, for Sobol' bars of S1 and ST
  with their 95 % CIs, for local the elasticities, and the factors.

The folder is written whole (staged beside DIR, then swapped in); a DIR that exists must
be empty or hold an earlier analysis (``sensitivity.json``).
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import numpy as np

from ..errors import EvnicheError
from ..files import replacing
from . import figures

MARKER = "sensitivity.json"
#: bars and labels per readout in the figures
TOP = 15


def check_folder(out: str | os.PathLike[str]) -> Path:
    """``out`` as an absolute path, if an analysis can be written there (checked before
    anything runs): not a file, and empty or holding an earlier analysis."""
    text = os.fspath(out)
    if not text.strip():
        raise EvnicheError("--out: expected a folder name, got an empty string")
    path = Path(text).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise EvnicheError(f"--out {text}: {path} is a file, not a folder")
    if path.is_dir() and any(path.iterdir()) and not (path / MARKER).exists():
        raise EvnicheError(f"--out {text}: {path} holds other files and no {MARKER}; the "
                           f"analysis replaces its folder whole, so give a new or empty folder")
    if Path(os.path.realpath(os.curdir)).is_relative_to(path):
        raise EvnicheError(f"--out {text}: this is the current folder or contains it")
    return path


def write(result, out: str | os.PathLike[str]) -> Path:
    """Write every file of ``result`` (a :class:`~evniche.experiments.global_sensitivity.
    Result`) into ``out``, replacing an earlier analysis there."""
    path = check_folder(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        tmp.mkdir()
        result.samples.to_parquet(tmp / "samples.parquet", index=False)
        result.indices.to_csv(tmp / "indices.csv", index=False)
        result.design.rejected.to_parquet(tmp / "rejected.parquet", index=False)
        (tmp / MARKER).write_text(json.dumps(record(result), indent=2), encoding="utf-8")
        (tmp / "report.html").write_text(page(result), encoding="utf-8")
    return path


def record(result) -> dict:
    """The settings, factors, readout notes and summary of ``result`` (JSON-ready)."""
    return {
        "model": result.model, **result.settings,
        "factors": [{"name": f.name, "unit": f.unit, "value": f.value, "low": f.low,
                     "high": f.high, "sampling": "log-uniform" if f.log else "uniform",
                     "source": f.source} for f in result.factors],
        "infeasible_causes": result.design.causes(),
        "readout_notes": result.readout_notes,
        "summary": result.summary(),
    }


def _num(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.3g}"


def _morris_figure(result) -> str:
    names = [r.name for r in result.readouts]
    fig = figures.new_figure(figsize=(4.6 * len(names), 4.0))
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        part = result.indices[result.indices["readout"] == name]
        ax.scatter(part["mu_star"], part["sigma"], s=14, color="tab:blue")
        top = part.sort_values("mu_star", ascending=False).head(8)
        largest = float(np.nan_to_num(part["mu_star"].max()))
        for row in top.itertuples():
            # label the leaders only: points at the origin would overprint each other
            if np.isfinite(row.mu_star) and row.mu_star > 0.01 * largest:
                ax.annotate(row.parameter, (row.mu_star, row.sigma), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
        unit = next(r.unit for r in result.readouts if r.name == name)
        ax.set_xlabel(f"μ* ({unit or 'readout unit'} per range)")
        ax.set_ylabel("σ")
        ax.set_title(name)
    fig.tight_layout()
    return figures.png(fig)


def _bars_figure(result, columns: list[tuple[str, str | None, str]], xlabel: str) -> str:
    names = [r.name for r in result.readouts]
    fig = figures.new_figure(figsize=(4.6 * len(names), 0.3 * TOP + 1.5))
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        part = result.indices[result.indices["readout"] == name]
        part = part.sort_values("influence", ascending=False, na_position="last").head(TOP)
        y = np.arange(len(part))[::-1]
        height = 0.8 / len(columns)
        for j, (col, conf, label) in enumerate(columns):
            err = part[conf].to_numpy(float) if conf else None
            ax.barh(y + (j - (len(columns) - 1) / 2) * height, part[col].to_numpy(float),
                    height=height, xerr=err, label=label, capsize=2)
        ax.set_yticks(y, part["parameter"], fontsize=7)
        ax.set_xlabel(xlabel)
        ax.set_title(name)
        if len(columns) > 1:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return figures.png(fig)


def _figure(result) -> tuple[str, str]:
    if result.method == "morris":
        return "Morris: μ* (mean |elementary effect|) against σ (non-linearity or " \
               "interaction)", _morris_figure(result)
    if result.method == "sobol":
        return "Sobol': first-order (S1) and total (ST) indices, 95 % CIs", \
            _bars_figure(result, [("S1", "S1_conf", "S1"), ("ST", "ST_conf", "ST")],
                         "share of variance")
    return "Local elasticities (±10 % around the model's values)", \
        _bars_figure(result, [("elasticity", None, "elasticity")], "d ln readout / d ln p")


def page(result) -> str:
    """The HTML report of ``result``."""
    esc = html.escape
    ranked = result.ranked()
    matters = result.indices.pivot(index="parameter", columns="readout", values="matters")
    head = "".join(f"<th>{esc(c)}</th>" for c in ranked.columns)
    rows = []
    for name, row in ranked.iterrows():
        cells = "".join(
            f"<td class='{'hit' if matters.loc[name, c] else ''}'>{_num(v)}</td>"
            for c, v in row.items())
        rows.append(f"<tr><td>{esc(str(name))}</td>{cells}</tr>")
    notes = "".join(f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in
                    result.readout_notes.items() if v)
    factor_rows = "".join(
        f"<tr><td>{esc(f.name)}</td><td>{_num(f.value)}</td><td>{_num(f.low)}–{_num(f.high)}"
        f"</td><td>{esc(f.unit)}</td><td>{'log' if f.log else 'linear'}</td>"
        f"<td>{esc(f.source.split(':', 1)[1].strip())}</td></tr>" for f in result.factors)
    caption, image = _figure(result)
    s = result.settings
    failed = result.samples[result.samples["error"] != ""]
    failures = "".join(f"<li>run {int(r.run)}: {esc(r.error)}</li>"
                       for r in failed.head(20).itertuples())
    rejected = result.design.rejected
    examples = rejected.drop_duplicates("cause")
    infeasible = "".join(
        f"<li><b>{esc(r.cause)}</b> ({int((rejected['cause'] == r.cause).sum())}), e.g. "
        f"candidate {int(r.candidate)}: {esc(r.error)}</li>" for r in examples.itertuples())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>evniche sensitivity: {esc(result.model)}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;}}
table{{border-collapse:collapse;font-size:0.85em}} td,th{{border:1px solid #ccc;padding:2px 6px}}
td.hit{{background:#fde6b3}} img{{max-width:100%}}</style></head><body>
<h1>Global sensitivity of {esc(result.model)}</h1>
<p>Method <b>{esc(result.method)}</b>, {s['runs']} runs of {s['days']:g} days, seed {s['seed']};
{len(result.factors)} assumption parameters varied over their plausible ranges
(log-uniform where a range spans more than a decade). Influence: {esc(s['thresholds']
['influence'])}; an assumption <i>matters</i> for a readout (shaded) at
{s['thresholds']['matters']:g} or more.</p>
<h2>Summary</h2><ul>{''.join(f'<li>{esc(x)}</li>' for x in result.summary())}</ul>
{f'<h3>Readout notes</h3><ul>{notes}</ul>' if notes else ''}
{f'<h3>Failed runs (first 20)</h3><ul>{failures}</ul>' if failures else ''}
{f'<h3>Infeasible candidates, drawn again before running (by cause; all in '
  f'rejected.parquet)</h3><ul>{infeasible}</ul>' if infeasible else ''}
<h2>Figure</h2><p>{esc(caption)}</p><img src="data:image/png;base64,{image}" alt="{esc(caption)}">
<h2>Ranked assumptions</h2>
<table><tr><th>assumption</th>{head}</tr>{''.join(rows)}</table>
<h2>Assumptions varied</h2>
<table><tr><th>parameter</th><th>model value</th><th>range</th><th>unit</th><th>sampling</th>
<th>why (assumption)</th></tr>{factor_rows}</table>
</body></html>
"""

