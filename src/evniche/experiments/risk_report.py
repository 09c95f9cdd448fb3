"""The risk–benefit table as a self-contained HTML page (``evniche risks --report DIR``)."""

from __future__ import annotations

import html
from pathlib import Path

from ..errors import EvnicheError
from ..files import write_text


def write(rows, diagnosis: float, window: float, model: str, folder: Path) -> Path:
    """Write ``folder/risks.html`` with one row per therapy and return its path."""
    from ..cli.risks import BENEFIT, RISK, cells

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvnicheError(f"cannot create the report folder {folder}: {exc}") from None

    def table(headers, k: int) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = []
        for row in rows:
            values = cells(row)[k]
            span = f' colspan="{len(headers) - 1}"' if len(values) == 2 else ""
            body.append(f"<tr><td>{html.escape(values[0])}</td>" + "".join(
                f"<td{span}>{html.escape(v)}</td>" for v in values[1:]) + "</tr>")
        return f"<table><tr>{head}</tr>{''.join(body)}</table>"

    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>evniche risk–benefit: {html.escape(model)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border-bottom:1px solid #ccc;
padding:4px 8px;text-align:left;vertical-align:top}}</style></head><body>
<h1>Risk–benefit of EV therapies: {html.escape(model)}</h1>
<p>Each therapy against the untreated model; diagnosis (20 % marrow blasts) on day
{diagnosis:.1f}; benefit and risks read over {window:g} days after each therapy's start.
Thrombin: the Hockin–Mann virtual thrombogram of plasma EVs (Hockin et al. 2002, J Biol Chem
277:18322); complement: a labelled proxy (PS-exposing EV surface, the C1q ligand);
off-target cargo: the product's cargo delivered to non-leukemic cells (docs/risks.md).</p>
<h2>Benefit</h2>{table(BENEFIT, 0)}<h2>Risks</h2>{table(RISK, 1)}</body></html>
"""
    return write_text(folder / "risks.html", page)
