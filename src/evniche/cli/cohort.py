"""``evniche cohort MODEL --patients N --controls M --out DIR``: a virtual liquid-biopsy
cohort (docs/cohorts.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ..errors import EvnicheError
from .model_commands import AllowOpt, ModelArg, SetOpt, _overrides, console

#: the engines a cohort can run (through evniche.simulate_many)
ENGINES = ("wellmixed",)


def cohort(
    model: ModelArg,
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="DIR",
        help="Output folder: cohort.json, subjects/*.parquet (one file per finished "
             "subject), report.html, biomarkers.csv, summary.json. Rerunning the same "
             "command resumes a killed cohort without redoing finished subjects.")],
    patients: Annotated[int, typer.Option(
        help="Diagnosed patients (draws that reach no diagnosis within --days are "
             "replaced, up to 5 draws per patient).")] = 200,
    controls: Annotated[int, typer.Option(
        help="Controls: the same model without leukemic cells.")] = 100,
    days: Annotated[float, typer.Option(
        help="Horizon of each patient's untreated run (days).")] = 365.0,
    seed: Annotated[int, typer.Option(
        help="Seed of the draws, the assay noise and the bootstrap: same seed, same "
             "cohort.")] = 0,
    posterior: Annotated[Path | None, typer.Option(
        "--posterior", metavar="DIR",
        help="Draw the patients' parameters that a calibration posterior holds from it "
             "(posterior.parquet + posterior.json made for this very model).")] = None,
    monitoring: Annotated[bool, typer.Option(
        "--monitoring/--no-monitoring",
        help="Also treat each patient from the sampling day (7+3 induction, consolidation "
             "on day +35; the model needs cytarabine and daunorubicin) and sample every "
             "--visit-days for each biomarker's lead time over marrow relapse. A treated "
             "run costs about 5 untreated ones.")] = False,
    followup_days: Annotated[float, typer.Option(
        "--followup-days", help="Length of the monitoring run after sampling (days).")
    ] = 365.0,
    visit_days: Annotated[float, typer.Option(
        "--visit-days", help="Days between monitoring visits (assumption: monthly).")
    ] = 30.0,
    bootstrap: Annotated[int, typer.Option(
        help="Bootstrap resamples of each AUC's 95 % interval.")] = 2000,
    engine: Annotated[str, typer.Option(
        help="Simulation engine; cohorts run the well-mixed engine (evniche.simulate_many)."
    )] = "wellmixed",
    workers: Annotated[int | None, typer.Option(
        help="Worker processes of the local Dask cluster (one thread each). Default: one "
             "per CPU core.")] = None,
    scheduler: Annotated[str | None, typer.Option(
        metavar="ADDRESS",
        help="Use the running Dask cluster at this scheduler address (e.g. "
             "tcp://10.0.0.5:8786) instead of a local one; its workers must be able to "
             "import evniche.")] = None,
    set_: SetOpt = None,
    allow_path: AllowOpt = None,
) -> None:
    """Simulate a virtual cohort of patients and controls, apply the assays (NTA, flow
    cytometry, qPCR) with their limits and noise, and report each biomarker's ROC curve,
    AUC with its bootstrap interval, power and lead time over relapse."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..cohorts import analysis
    from ..cohorts import cohort as runner
    from ..experiments import distribute
    from ..report import cohort_report
    from ..spec.loader import load_model

    if engine not in ENGINES:
        raise EvnicheError(f"--engine {engine}: cohorts run {', '.join(ENGINES)} only")
    if workers is not None and workers < 1:
        raise EvnicheError(f"--workers must be a whole number >= 1, got {workers}")
    if bootstrap < 100:
        raise EvnicheError(f"--bootstrap must be at least 100, got {bootstrap}")
    for name, n in (("--patients", patients), ("--controls", controls)):
        if n < 2:
            raise EvnicheError(f"{name} must be a whole number >= 2, got {n}")
    resolved = load_model(model, overrides=_overrides(set_), allow_paths=allow_path or ())
    post = None
    if posterior is not None:
        from ..experiments.posterior import load_posterior

        post = load_posterior(posterior)
    settings = runner.make_settings(resolved, days=days, seed=seed, monitoring=monitoring,
                                    followup_days=followup_days, visit_days=visit_days,
                                    posterior=post)
    path = runner.check_folder(out, settings)
    before = len(runner.finished(path))
    console.print(f"{resolved.name}: {patients} patients, {controls} controls, biomarkers "
                  f"{', '.join(m.name for m in settings.markers)}"
                  + (f"; resuming ({before} subjects on disk)" if before else ""),
                  highlight=False)
    start = time.perf_counter()
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console)
    try:
        with distribute.cluster(scheduler, workers) as client, progress:
            task = progress.add_task("subjects", total=None)
            info = runner.run(settings, path, patients, controls, client=client,
                              progress=lambda _name: progress.advance(task))
    except KeyboardInterrupt:
        from ..errors import Interrupted

        raise Interrupted(f"interrupted: {len(runner.finished(path))} finished subjects are "
                          f"kept in {path}; run the same command again to resume") from None
    seconds = time.perf_counter() - start
    result = analysis.analyse(path, patients, controls, n_boot=bootstrap, seed=seed)
    cohort_report.write(result, path, seconds)
    console.print(f"simulated {info.simulated} subjects ({info.resumed} already on disk) in "
                  f"{seconds:.0f} s", highlight=False)
    for line in analysis.summary_lines(result):
        console.print(line, highlight=False, markup=False)
    console.print(f"[green]wrote[/] {path}: report.html, biomarkers.csv, summary.json, "
                  "subjects/", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("cohort")(cohort)
