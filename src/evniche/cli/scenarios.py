"""``evniche scenarios list|run``: the review findings as checks.

The tables fold long scenario names instead of cutting them, so they stay readable at 80
columns and in a pipe (where rich assumes 80 columns).
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, add_completion=False)
console = Console()


def fold_name(name: str, width: int) -> str:
    """``name`` broken into lines of at most ``width`` characters, at hyphens."""
    return "\n".join(textwrap.wrap(name, max(width, 8), break_on_hyphens=True,
                                   break_long_words=True)) or name


def _effect(x: float) -> str:
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    return f"{x:+.1%}" if abs(x) < 10 else f"{x:+.0%}"


def _table(title: str | None = None) -> Table:
    return Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, expand=False)


@app.command("list")
def list_scenarios() -> None:
    """List the scenarios: name, finding, references, expected direction and margin."""
    from ..experiments.catalog import catalog
    from ..experiments.scenarios import wanted

    table = _table()
    table.add_column("scenario", overflow="fold", min_width=18)
    table.add_column("finding and references", overflow="fold")
    table.add_column("wanted", no_wrap=True)
    name_width = max(18, min(30, console.width // 3))
    for s in catalog().values():
        table.add_row(fold_name(s.name, name_width), f"{s.finding} ({'; '.join(s.kb)})",
                      wanted(s.expected, s.margin, s.most))
    console.print(table)


def results_table(results) -> Table:
    """The verdict table: control, treatment, effect, the effect wanted, verdict, and the
    largest rise of plasma EV tissue factor the treatment causes (coagulation risk)."""
    from ..experiments.scenarios import format_value, wanted

    headers = ("control", "treated", "effect", "wanted", "verdict", "TF")
    rows = []
    for r in results:
        s = r.scenario
        risk = "–" if math.isnan(r.risk_ratio) else f"×{r.risk_ratio:.2f}"
        rows.append((s.name, format_value(r.control), format_value(r.treatment),
                     _effect(r.effect),
                     wanted(s.expected, s.margin, s.most), r.verdict, risk))
    # the other columns keep their width; the name gets the rest, folded at hyphens
    widths = [max([len(h)] + [len(row[i + 1]) for row in rows]) for i, h in enumerate(headers)]
    # between columns: padding and a blank rule (3 characters); the edges take 2 each
    longest = max([len("scenario")] + [len(row[0]) for row in rows])
    name_width = max(16, min(longest, console.width - sum(widths) - 3 * len(headers) - 4))
    table = _table()
    table.add_column("scenario", overflow="fold", width=name_width)
    for h, w in zip(headers, widths, strict=True):
        table.add_column(h, justify="left" if h == "verdict" else "right", no_wrap=True,
                         min_width=w)
    colour = {"agree": "green", "disagree": "red"}
    for name, *cells in rows:
        verdict = cells[4]
        cells[4] = f"[{colour.get(verdict, 'yellow')}]{verdict}[/]"
        table.add_row(fold_name(name, name_width), *cells)
    return table


@app.command("run")
def run(names: Annotated[list[str] | None, typer.Argument(help="scenarios (default: all)")]
        = None,
        report: Annotated[Path | None, typer.Option("--report", help="write an HTML page "
                                                    "into this directory")] = None) -> None:
    """Run scenarios and print control, treatment, effect, the effect wanted and verdict.

    effect = (treatment − control) / |control|; a scenario agrees when the effect has the
    expected sign and at least the margin. TF: the largest rise of plasma EV tissue factor
    (coagulation risk, seed 000 [68]) in the treatment arm over the control arm."""
    from ..experiments.catalog import select
    from ..experiments.scenario_report import write_report
    from ..experiments.scenarios import run_scenarios

    chosen = select(names or [])
    results = run_scenarios(chosen, progress=lambda r: console.print(
        f"{r.scenario.name}: {r.verdict}", highlight=False))
    console.print(results_table(results))
    anchors = {f"{a.name} ({a.description})": r.anchors[a.name]
               for r in results for a in r.scenario.anchors if a.name in r.anchors}
    for text, day in anchors.items():
        console.print(f"{text}: day {day:.1f}", highlight=False, soft_wrap=True)
    agree = sum(r.agrees for r in results)
    console.print(f"{agree} of {len(results)} scenarios agree; effect = (treatment − control)"
                  " / |control|; TF = peak rise of plasma EV tissue factor, treatment over "
                  "control (coagulation risk)", highlight=False, soft_wrap=True)
    for r in results:
        if r.error:
            console.print(f"{r.scenario.name}: {r.error}", highlight=False, soft_wrap=True)
    if report is not None:
        path = write_report(results, report)
        console.print(f"report: {path}", highlight=False, soft_wrap=True)
    if not all(r.agrees for r in results):
        raise typer.Exit(1)
