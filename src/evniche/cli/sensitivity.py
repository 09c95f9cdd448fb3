"""``evniche sensitivity MODEL``: which assumptions matter for which readout (SALib on Dask)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import EvnicheError
from .model_commands import AllowOpt, ModelArg, SetOpt, _overrides, console


def _folder(text: str) -> Path:
    from ..report.sensitivity_report import check_folder

    return check_folder(text)


def sensitivity(
    model: ModelArg,
    method: Annotated[str, typer.Option(
        help="morris (elementary effects: mu*, sigma), sobol (S1 and ST with 95 % CIs) or "
             "local (elasticities ±10 % around the model's values, 2k + 1 runs).")
    ] = "morris",
    budget: Annotated[int | None, typer.Option(
        metavar="RUNS",
        help="Most model runs. Default: Morris 6 trajectories, 6(k + 1) runs (624 for aml's "
             "103 assumptions; measured: 9.9 min on 2 shared cores); Sobol' N = 8, 8(k + 2) "
             "runs. Morris uses the most trajectories of k + 1 runs that fit, Sobol' the "
             "largest power of two N with N(k + 2) runs that fits. Trajectories or blocks "
             "holding an infeasible parameter set (not a valid model) are drawn again before "
             "any run and counted. Not for local.")] = None,
    days: Annotated[float, typer.Option(
        help="Horizon of each run (days). A run without take-over is censored at it.")
    ] = 365.0,
    seed: Annotated[int, typer.Option(
        help="Seed of the sampling (and of stochastic engines): same seed, same samples "
             "and same tables.")] = 0,
    readout: Annotated[list[str] | None, typer.Option(
        help="A readout to analyse (repeatable): takeover_day, plasma_evs, normal_output, "
             "or package.module:function for any function Dataset -> float. Default: the "
             "three built-in ones.")] = None,
    parameter: Annotated[list[str] | None, typer.Option(
        metavar="GLOB",
        help="Vary only the assumptions whose name matches (shell glob, repeatable), e.g. "
             "'lsc_*'. Default: every assumption parameter with a plausible range.")] = None,
    out: Annotated[Path | None, typer.Option(
        parser=_folder, metavar="DIR",
        help="Write samples.parquet, indices.csv, sensitivity.json and report.html here "
             "(a new or empty folder, or an earlier analysis, which is replaced).")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes of the local Dask cluster (one thread each). Default: one "
             "per CPU core.")] = None,
    scheduler: Annotated[str | None, typer.Option(
        metavar="ADDRESS",
        help="Use the running Dask cluster at this scheduler address (e.g. "
             "tcp://10.0.0.5:8786) instead of a local one.")] = None,
    time_limit: Annotated[float, typer.Option(
        "--time-limit", metavar="SECONDS",
        help="Stop one run after this long (wall clock); it is reported as failed with "
             "the reason and its design block left out of the analysis. A run of aml takes "
             "0.1-2 s.")] = 120.0,
    set_: SetOpt = None,
    allow_path: AllowOpt = None,
) -> None:
    """Global sensitivity: vary every assumption parameter over its plausible range and
    rank which ones the take-over day, plasma EVs and normal blood output depend on, and
    which readouts can never constrain them."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ..experiments import distribute
    from ..experiments import global_sensitivity as gsa
    from ..spec.loader import load_model

    if not time_limit > 0:
        raise EvnicheError(f"--time-limit must be a positive number of seconds, got "
                           f"{time_limit:g}")
    if workers is not None and workers < 1:
        raise EvnicheError(f"--workers must be a whole number >= 1, got {workers}")
    resolved = load_model(model, overrides=_overrides(set_), allow_paths=allow_path or ())
    # everything that can be refused is checked before a cluster starts
    from ..readouts import scalars

    scalars.choose(readout)
    items = gsa.factors(resolved, parameter)
    gsa.design(method, items, budget, seed)  # a bad budget is refused before the checks
    from ..engines import cost

    days = cost.check_days(days)
    with console.status("drawing a design of valid parameter sets"):
        planned = gsa.design(method, items, budget, seed,
                             gsa.feasibility(resolved, items, days))
    console.print(f"{resolved.name}: {method}, {planned.runs} runs of {days:g} days over "
                  f"{len(items)} assumptions "
                  f"({sum(f.log for f in items)} sampled log-uniformly)", highlight=False)
    if len(planned.rejected):
        console.print(f"{len(planned.rejected)} of {planned.candidates} candidate design "
                      "blocks held an infeasible parameter set and were drawn again (see the "
                      "summary)", highlight=False)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console)
    with distribute.cluster(scheduler, workers) as client, progress:
        task = progress.add_task("runs", total=planned.runs)
        result = gsa.run(resolved, method=method, budget=budget, seed=seed, days=days,
                         readouts=readout, parameters=parameter, client=client,
                         wall_limit_s=time_limit, plan=planned,
                         progress=lambda done, total: progress.update(task, completed=done))
    _print(result)
    if out is not None:
        from ..report.sensitivity_report import write

        write(result, out)
        console.print(f"[green]wrote[/] {out}: indices.csv, rejected.parquet, report.html, "
                      "samples.parquet, sensitivity.json", highlight=False)


def _print(result, limit: int = 20) -> None:
    from rich.table import Table

    from ..experiments.global_sensitivity import INFLUENCE, MATTERS

    ranked = result.ranked()
    matters = result.indices.pivot(index="parameter", columns="readout", values="matters")
    table = Table(title=f"influence ({INFLUENCE[result.method]}; bold: matters, >= "
                        f"{MATTERS[result.method]:g}), top {min(limit, len(ranked))} of "
                        f"{len(ranked)}")
    table.add_column("assumption")
    for name in ranked.columns:
        table.add_column(name, justify="right")
    for name, row in ranked.head(limit).iterrows():
        table.add_row(str(name), *(
            ("[bold]" if matters.loc[name, c] else "") + ("–" if v != v else f"{v:.3g}")
            for c, v in row.items()))
    console.print(table)
    for line in result.summary():
        console.print(line, highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("sensitivity")(sensitivity)
