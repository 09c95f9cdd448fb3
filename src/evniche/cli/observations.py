"""``evniche observations list|check|compare``: published observations as data.

``list`` shows the records, ``check`` validates folders of records (the shipped ones by
default), ``compare MODEL`` simulates every distinct condition of the records on a preset
once and prints the model's value beside the data with the distance
(docs/observations.md).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, add_completion=False)
console = Console()

Folders = Annotated[list[Path] | None, typer.Option(
    "--folder", "-f", help="a folder (or file) of observation records; repeat for several "
    "(default: the records shipped with evniche)")]


def _number(x: float | None) -> str:
    from ..experiments.scenarios import format_value

    return format_value(x)


def observed_text(record) -> str:
    """The observation in words: ``656 1/uL (median, n = 5, fold 8.6)`` or a trend."""
    o = record.observed
    if o.trend is not None:
        return f"{o.trend} (each step ≥ {o.margin:.0%})" if o.trend != "similar" else \
            f"similar (within {o.margin:.0%})"
    s = o.spread
    spread = next(f"{k} {_pair(getattr(s, k))}" for k in ("sd", "se", "ci95", "iqr",
                                                          "range", "fold")
                  if getattr(s, k) is not None)
    n = f", n = {o.n}" if o.n else ""
    return f"{_number(o.value)} {o.unit} ({o.statistic}{n}, {spread})"


def _pair(value) -> str:
    if isinstance(value, tuple | list):
        return "–".join(_number(v) for v in value)
    return _number(value)


def _table() -> Table:
    return Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False)


@app.command("list")
def list_records(folder: Folders = None) -> None:
    """List the records: id, system and species, presets, measurement model, observation."""
    from ..observations.records import load

    table = _table()
    for name in ("id", "system", "presets", "measurement", "observed"):
        table.add_column(name, overflow="fold")
    records = load(folder)
    for r in records:
        table.add_row(r.id, f"{r.system} ({r.species})", ", ".join(r.presets()),
                      r.measurement.model, observed_text(r))
    console.print(table)
    console.print(f"{len(records)} records", highlight=False)


@app.command("check")
def check(folders: Annotated[list[Path] | None, typer.Argument(
        help="folders or files of observation records (default: the shipped ones)")] = None
          ) -> None:
    """Validate observation records (the schema, unique ids, presets and overrides).

    Every preset and species override the records name must load. An error is one line
    naming the file, the record and the field."""
    from ..observations.records import check_models, load

    origins: dict[str, str] = {}
    records = load(folders, origins)
    models = check_models(records, origins)
    console.print(f"{len(records)} records in {len(set(origins.values()))} files are valid "
                  f"({models} model variants load)", highlight=False, soft_wrap=True)


def model_text(c) -> str:
    """The model's value: one number, or the values per condition joined by arrows."""
    if c.error:
        return "–"
    if c.per_condition:
        return " → ".join("never" if math.isinf(v) else _number(v) for v in c.per_condition)
    return "never" if math.isinf(c.model) else _number(c.model)


@app.command("compare")
def compare(model: Annotated[str, typer.Argument(
        help="a preset: the records with a condition on it ('all': every record)")],
            folder: Folders = None) -> None:
    """Print the model's value beside each observation on MODEL, with the distance.

    Each distinct condition is simulated once. Values are in the assay's unit; the
    distance is ½ z² on a log scale for a value with its spread, a hinge for a trend
    (0: as observed; docs/observations.md)."""
    from ..errors import EvnicheError
    from ..observations.comparison import Simulations, evaluate, select
    from ..observations.measurement import MODELS
    from ..observations.records import check_models, load

    origins: dict[str, str] = {}
    records = load(folder, origins)
    chosen = select(records, None if model == "all" else model)
    if not chosen:
        presets = sorted({p for r in records for p in r.presets()})
        raise EvnicheError(f"no record has a condition on '{model}'; records name: "
                           f"{', '.join(presets)} (or 'all')")
    check_models(chosen, origins)
    sims = Simulations(progress=lambda line: console.print(line, highlight=False,
                                                           style="dim"))
    rows = [evaluate(r, sims) for r in chosen]
    table = _table()
    table.add_column("observation", overflow="fold", max_width=34)
    table.add_column("unit", overflow="fold")
    table.add_column("model", overflow="fold", justify="right")
    table.add_column("observed", overflow="fold")
    table.add_column("z", justify="right", no_wrap=True)
    table.add_column("distance", justify="right", no_wrap=True)
    for c in rows:
        unit = MODELS[c.record.measurement.model].unit
        z = "–" if math.isnan(c.z) else f"{c.z:+.2f}"
        d = "–" if math.isnan(c.distance) else \
            f"{c.distance:.2f}" if c.distance < 100 else f"{c.distance:.3g}"
        table.add_row(c.record.id, unit, model_text(c), observed_text(c.record), z, d)
    console.print(table)
    finite = [c.distance for c in rows if not math.isnan(c.distance)]
    console.print(f"{len(rows)} observations, {sims.runs} runs; total distance "
                  f"{sum(finite):.3g} (distance: ½ z², z the log-scale residual in σ of "
                  "the observation's spread; trends: a hinge, ½ per margin missed)",
                  highlight=False, soft_wrap=True)
    for c in rows:
        if c.error:
            console.print(f"{c.record.id}: {c.error}", highlight=False, soft_wrap=True)
