"""``evniche scenarios list|run``: the review findings as checks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, add_completion=False)
console = Console()


@app.command("list")
def list_scenarios() -> None:
    """List the scenarios: name, finding, references, expected direction."""
    from ..experiments.catalog import catalog

    table = Table("scenario", "finding", "reference", "expected")
    for s in catalog().values():
        table.add_row(s.name, s.finding, "; ".join(s.kb), "higher" if s.expected > 0 else
                      "lower")
    console.print(table)


@app.command("run")
def run(names: Annotated[list[str] | None, typer.Argument(help="scenarios (default: all)")]
        = None,
        report: Annotated[Path | None, typer.Option("--report", help="write an HTML page "
                                                    "into this directory")] = None) -> None:
    """Run scenarios and print control, treatment, effect and verdict of each."""
    from ..experiments.catalog import select
    from ..experiments.scenario_report import write_report
    from ..experiments.scenarios import run_scenarios

    chosen = select(names or [])
    results = run_scenarios(chosen, progress=lambda r: console.print(
        f"{r.scenario.name}: {r.verdict}", highlight=False))
    table = Table("scenario", "expected", "control", "treatment", "effect", "margin",
                  "verdict")
    for r in results:
        table.add_row(r.scenario.name, "higher" if r.scenario.expected > 0 else "lower",
                      f"{r.control:.4g}", f"{r.treatment:.4g}", f"{r.effect:+.2%}",
                      f"{r.scenario.margin:.0%}", r.verdict)
    console.print(table)
    for r in results:
        if r.error:
            console.print(f"{r.scenario.name}: {r.error}", highlight=False, soft_wrap=True)
    if report is not None:
        path = write_report(results, report)
        console.print(f"report: {path}")
    if not all(r.agrees for r in results):
        raise typer.Exit(1)
