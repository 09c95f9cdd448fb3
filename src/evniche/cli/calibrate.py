"""``evniche calibrate MODEL --out DIR``: ABC-SMC posterior of the model's assumed
parameters given observation records (docs/calibration.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def calibrate(
    model: Annotated[str, typer.Argument(help="a preset name or a model file")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="output folder: history.db (pyABC), posterior.parquet, "
        "posterior.json, report.html; running the same command again resumes it "
        "(required, except with --ship)")] = None,
    observations: Annotated[list[Path] | None, typer.Option(
        "--observations", help="a folder (or file) of observation records; repeat for "
        "several (default: the records shipped with evniche); the records with a condition "
        "on MODEL are used")] = None,
    parameters: Annotated[str | None, typer.Option(
        "--parameters", help="comma-separated parameter names to calibrate (default: every "
        "'assumption:' parameter of MODEL with a range)")] = None,
    population: Annotated[int, typer.Option(
        "--population", help="particles per generation (at least 2)")] = 4,
    generations: Annotated[int, typer.Option(
        "--generations", help="generations in total (a resumed run adds the missing ones)")
    ] = 2,
    max_simulations: Annotated[int | None, typer.Option(
        "--max-simulations", help="stop after this many simulated particles (all "
        "generations; default: no cap)")] = None,
    days: Annotated[float | None, typer.Option(
        "--days", help="run length (days) of every record's conditions (default: each "
        "record's own, 365 unless it says)")] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="address of a running Dask scheduler (default: a LocalCluster "
        "with one single-threaded worker per CPU core)")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="LocalCluster workers (default: the CPU count)")] = None,
    predictive: Annotated[int, typer.Option(
        "--predictive", help="posterior draws simulated again for the report's "
        "posterior-predictive plots (0: none)")] = 4,
    seed: Annotated[int, typer.Option(
        "--seed", help="seeds the parameter draws: the same seed gives the same posterior "
        "on any number of workers, and a resumed run the same as an uninterrupted one; a "
        "resumed run must keep its seed")] = 0,
    ship: Annotated[bool, typer.Option(
        "--ship", help="MODEL is a preset: install the posterior (posterior.parquet + "
        "posterior.json) as the one shipped with it, in the package folder "
        "evniche/posteriors/MODEL/, which `evniche run MODEL` then uses by default. "
        "--out defaults to build/posteriors/MODEL-DIGEST-KEY (the same command resumes; a "
        "changed preset or budget starts afresh). `make posteriors` runs this for every shipped "
        "posterior (docs/calibration.md)")] = False,
    leave_one_out: Annotated[bool, typer.Option(
        "--leave-one-out", help="with --ship: then calibrate again, with the same budget, "
        "once per finding whose own observation records are in the fit, without them, and "
        "ship each as evniche/posteriors/MODEL/leave-one-out/FINDING/ (`evniche scenarios "
        "run --leave-one-out` answers the finding over it; docs/calibration.md)")] = False,
) -> None:
    """Calibrate MODEL's assumed parameters against observations by ABC-SMC (pyABC on Dask).

    Priors are uniform on each parameter's range, log-uniform where the range spans more
    than a decade. The distance is the records' summed distance; a record that fails to
    simulate rejects the particle (the reason is logged)."""
    import logging

    from ..errors import EvnicheError
    from ..experiments.calibration import calibrate as run_calibration
    from ..experiments.calibration import dask_sampler

    if workers is not None and workers <= 0:
        raise EvnicheError(f"--workers: must be > 0, got {workers}")
    if leave_one_out and not ship:
        raise EvnicheError("--leave-one-out: only with --ship (it ships the leave-one-out "
                           "posteriors next to the shipped one)")
    command = _command_line(model, out, observations, parameters, population, generations,
                            max_simulations, days, predictive, ship, seed)
    if leave_one_out:
        command += " --leave-one-out"
    if ship:
        from ..spec.loader import preset_names

        if model not in preset_names():
            raise EvnicheError(f"--ship: '{model}' is not a preset; only presets ship a "
                               f"posterior (presets: {', '.join(preset_names())})")
        if out is None:
            from ..experiments.calibration import work_folder

            out = work_folder(model, repr((parameters, [str(o) for o in observations or []],
                                           population, days, seed)))
    elif out is None:
        raise EvnicheError("--out: give the output folder (only --ship has a default)")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logging.getLogger("evniche.calibration").addHandler(handler)
    logging.getLogger("distributed").setLevel(logging.WARNING)  # cluster start-up chatter
    names = None if parameters is None else parameters.split(",")

    def say(line: str) -> None:
        typer.echo(line, err=True)

    sampler = None

    def lazy_sampler():
        nonlocal sampler
        if sampler is None:
            sampler = dask_sampler(scheduler, workers, seed)
            return sampler
        # a fresh sampler on the same cluster for each leave-one-out refit
        from ..experiments.seeded_sampler import SeededSampler

        return SeededSampler(sampler.client, seed)

    try:
        info = run_calibration(model, out, observations=observations, parameters=names,
                               population=population, generations=generations,
                               max_simulations=max_simulations, days=days,
                               sampler=_Deferred(lazy_sampler), predictive=predictive,
                               progress=say, command=command, seed=seed)
        typer.echo(f"{info['generations']} generation(s), {info['simulations']} simulations,"
                   f" epsilon {info['epsilons'][-1]:.4g}; posterior in {out}/posterior.parquet"
                   f", report in {out}/report.html")
        if ship:
            from ..experiments.calibration import ship as install

            typer.echo(f"shipped with preset '{model}': {install(out, model)}")
        if leave_one_out:
            from ..experiments.leave_one_out import ship_all

            shipped = ship_all(model, out, observations=observations,
                               sampler=_Deferred(lazy_sampler), progress=say, command=command)
            for folder in shipped:
                typer.echo(f"shipped leave-one-out posterior: {folder}")
            if not shipped:
                typer.echo(f"no finding's own observation is in the fit of '{model}': no "
                           "leave-one-out posterior to ship")
    finally:
        if sampler is not None:
            sampler.client.close()


def _command_line(model: str, out: Path | None, observations: list[Path] | None,
                  parameters: str | None, population: int, generations: int,
                  max_simulations: int | None, days: float | None, predictive: int,
                  ship: bool, seed: int = 0) -> str:
    """The command that makes this calibration again (``evniche calibrate …``, every
    option that changes the result spelled out; the cluster options do not)."""
    import shlex

    words = ["evniche", "calibrate", model]
    if out is not None:
        words += ["--out", str(out)]
    for folder in observations or []:
        words += ["--observations", str(folder)]
    if parameters is not None:
        words += ["--parameters", parameters]
    words += ["--population", str(population), "--generations", str(generations)]
    if max_simulations is not None:
        words += ["--max-simulations", str(max_simulations)]
    if days is not None:
        words += ["--days", f"{days:g}"]
    words += ["--predictive", str(predictive), "--seed", str(seed)]
    if ship:
        words.append("--ship")
    return shlex.join(words)


class _Deferred:
    """Builds the Dask sampler only once the inputs are checked (no cluster is started
    for a command that fails on a bad option)."""

    def __init__(self, build):
        self.build = build

    def __call__(self):
        return self.build()


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)
