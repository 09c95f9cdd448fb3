"""``evniche check``, ``evniche run``, ``evniche export`` and ``evniche presets``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import EvnicheError, ModelError

if TYPE_CHECKING:
    from ..spec.resolve import ResolvedModel
    from ..store.runs import RunWriter

console = Console()

ModelArg = Annotated[str, typer.Argument(help="A preset name (see `evniche presets`) or a "
                                               "model YAML file.")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Override a value: PATH=VALUE, e.g. parameters.lsc_self_renewal=0.8, "
                  "rules[0].saturation=0.5 or 'parameters.blood_half_life=5 min' (a value "
                  "with a unit is checked against the parameter's plausible range in that "
                  "unit). Repeatable.")]
AllowOpt = Annotated[list[Path] | None, typer.Option(
    "--allow-path", metavar="DIR",
    help="Also let the model's extends: and rules_csv: read files under DIR (by default only "
         "the model file's folder and the shipped presets). Repeatable.")]


def _overrides(items: list[str] | None) -> dict:
    from ..spec.loader import parse_override

    out = {}
    for item in items or []:
        path, value = parse_override(item)
        if isinstance(value, str) and path.startswith("parameters.") and path.count(".") == 1:
            # "5 min": a value with its unit
            number, _, unit = value.partition(" ")
            try:
                out[path + ".value"] = float(number)
                if unit.strip():
                    out[path + ".unit"] = unit.strip()
                continue
            except ValueError:
                pass
        out[path] = value
    return out


def check(model: ModelArg, set_: SetOpt = None, allow_path: AllowOpt = None) -> None:
    """Validate a model and print a summary: counts and the assumptions it rests on."""
    from ..compile.interventions import build_schedule
    from ..compile.network import compile_model
    from ..spec.loader import load_model

    resolved = load_model(model, overrides=_overrides(set_), allow_paths=allow_path or ())
    net = compile_model(resolved)
    spec = resolved.spec
    try:  # the model's own interventions: names, options, parameter windows
        build_schedule(net, list(spec.interventions), None)
    except ModelError as exc:
        raise exc.at(source=resolved.source) from None
    table = Table(title=f"model '{spec.name}' ({resolved.source}) is valid", show_header=False)
    rows = [
        ("disease", spec.disease),
        ("compartments", ", ".join(spec.compartments)),
        ("cell types", f"{len(spec.cell_types)}: {', '.join(spec.cell_types)}"),
        ("vesicle classes", ", ".join(spec.vesicle_classes)),
        ("EV pools (source × class)", str(len(net.pools))),
        ("uptake routes", str(len(net.uptakes))),
        ("cargo species", ", ".join(spec.cargo) or "none"),
        ("rules", str(len(resolved.rules))),
        ("knowledge-base records cited", str(len({k for r, _ in resolved.rules for k in r.kb}))),
        ("interventions", str(len(spec.interventions))),
        ("state variables (ODE)", str(len(net.species))),
        ("parameters", str(len(resolved.params.resolved))),
        ("of which assumptions", str(len(resolved.assumptions()))),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    _print_retractions(resolved)
    unused = resolved.params.unused()
    if unused:
        console.print(f"[yellow]parameters defined but not used:[/] {', '.join(unused)}")
    assumptions = Table(title="assumptions this model rests on")
    for col in ("parameter", "value", "unit", "range", "why"):
        assumptions.add_column(col)
    for p in sorted(resolved.assumptions(), key=lambda p: p.name):
        rng = "" if p.range is None else f"{p.range[0] / (p.value / p.value_in_unit or 1):.3g}–" \
            f"{p.range[1] / (p.value / p.value_in_unit or 1):.3g}" if p.value else ""
        assumptions.add_row(p.name, f"{p.value_in_unit:.4g}", p.unit, rng,
                            p.source.split(":", 1)[1].strip())
    console.print(assumptions)


def _print_retractions(resolved: ResolvedModel) -> None:
    """Warn (stderr) about every rule or parameter that cites retracted evidence."""
    from ..spec.evidence import retraction_warnings

    for line in retraction_warnings(resolved):
        Console(stderr=True, soft_wrap=True, highlight=False).print(
            f"[bold red]warning: retracted evidence:[/] {line}")


def _out_folder(text: str) -> Path:
    """``--out``, checked before anything runs (see :func:`evniche.store.outdir.check`)."""
    from ..store.outdir import check

    return check(text, "--out")


def run(
    model: ModelArg,
    out: Annotated[Path, typer.Option(
        "--out", parser=_out_folder, metavar="FOLDER",
        help="Folder for trajectory.nc, run.json and report.html (created). Replaced whole "
             "when the run is complete: an interrupted or failed run leaves the previous "
             "run there unchanged. Refused: an existing file, a folder that holds other "
             "files but no run, a folder another run is writing into.")],
    days: Annotated[float | None, typer.Option(
        help="Simulated days (a finite number > 0; at most 36525, 100 years, without "
             "--allow-large). Default 365; with a start at 'diagnosis' (see --intervene) "
             "and no --days, 365 days after the diagnosis day, so that the course is "
             "followed for a year (announced).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (stochastic and spatial engines), a "
                                           "whole number in [0, 2**63).")] = 0,
    set_: SetOpt = None,
    intervene: Annotated[list[str] | None, typer.Option(
        help="NAME@DAY[:key=value,…], e.g. nsmase2_inhibitor@30 or "
             "plasmapheresis@60:marker=PD-L1,sessions=5. DAY may be 'diagnosis' or "
             "'diagnosis+N' (N days after the untreated run first shows >= 20 % marrow "
             "blasts, for AML with cytopenia: the day the patient presents; one extra "
             "run), or 'remission' / 'remission+N' (N days after the complete remission "
             "of the run with the other interventions, e.g. consolidation@remission after "
             "induction_7_3@diagnosis; one extra run; without a remission it is not "
             "given, and the report says so). Each "
             "option must lie within its declared range. "
             "scale@DAY:parameter=P,factor=F[,duration=D] multiplies a model parameter, "
             "set@DAY:parameter=P,value='V UNIT'[,duration=D] replaces it (parameters "
             "derived from it follow). Repeatable; see docs/interventions.md."
    )] = None,
    engine: Annotated[str, typer.Option(
        help="wellmixed (ODEs), spatial (agents and fields) or stochastic (cell types below "
             "a threshold as random events, the rest as ODEs; see docs/stochastic.md)."
    )] = "wellmixed",
    spatial: Annotated[list[str] | None, typer.Option(
        help="Spatial-engine option KEY=VALUE (repeatable; overrides the model's spatial: "
             "section), e.g. agents=8000, size_um=[1000,1000] (x, y in µm; three numbers x, y, z "
             "give a 3-D block), dx_um=10, snapshot_days=[0,10,30] (report images), "
             "animation_frames=16, placement.MSC=perivascular, threads=2, "
             "retention.HSC={motility_factor: 0.2} or retention={} (niche retention; the "
             "mapping replaces the model's). Snapshots go "
             "to OUT/fields.zarr and OUT/agents.parquet. See docs/spatial.md.")] = None,
    stochastic: Annotated[list[str] | None, typer.Option(
        help="Stochastic-engine option KEY=VALUE (repeatable): threshold=1000 (cells: a "
             "type with fewer is simulated one random event at a time), coupling_hours=6 "
             "(longest step between events and ODEs, h), output_hours=24, rtol=1e-6, "
             "equilibrate_first=true. --seed seeds the draws. See docs/stochastic.md.")] = None,
    report: Annotated[bool, typer.Option(help="Write report.html.")] = True,
    sensitivity: Annotated[bool, typer.Option(
        help="Rank the parameters the take-over day depends on (extra runs; wellmixed only)."
    )] = True,
    allow_path: AllowOpt = None,
    allow_large: Annotated[bool, typer.Option(
        "--allow-large", help="Run even beyond the size limits: more than 36525 days (100 "
        "years), results above 2 GiB, or more than a million spatial time steps. Without "
        "it such a run is refused before it starts, with the estimate. A run whose results "
        "exceed this machine's memory is refused anyway.")] = False,
    time_limit: Annotated[float, typer.Option(
        "--time-limit", metavar="SECONDS",
        help="Stop a simulation that takes longer than this (wall clock; the run and each "
             "sensitivity run separately) with an error saying how far it got.")] = 600.0,
    posterior: Annotated[str | None, typer.Option(
        "--posterior", metavar="DIR|none",
        help="Run an ensemble drawn from the calibration posterior in DIR (posterior.parquet "
             "+ posterior.json, made for this very model: another name or digest is "
             "refused). trajectory.nc and the single-run sections are the run at the "
             "draws' median parameters; the report adds an uncertainty section (median, "
             "50 %/90 % bands, credible intervals) and OUT/ensemble.parquet holds every "
             "member. Default: the posterior shipped with a preset (evniche/posteriors/"
             "PRESET/), when there is one and it was made for the preset as it is now (if "
             "not: a warning, and the point model runs); 'none': the point model. "
             "Well-mixed engine only; see docs/uncertainty.md.")] = None,
    ensemble: Annotated[int, typer.Option(
        "--ensemble", metavar="N", help="Members drawn from the posterior (weighted "
        "resampling seeded by --seed: the same seed draws the same members).")] = 50,
    from_: Annotated[str | None, typer.Option(
        "--from", metavar="DIR@DAY",
        help="Continue the well-mixed run saved in DIR (an earlier `evniche run --out DIR`) "
             "from its state at day DAY (a saved day) until --days (counted from the "
             "saved run's day 0), with this run's --set and --intervene: the same options "
             "continue the run, others branch it. The trajectory starts at DAY; no "
             "sensitivity runs. See docs/interop.md.")] = None,
) -> None:
    """Simulate a model and write its trajectory, run record and HTML report."""
    from ..spec.loader import load_model
    from .run_input import checked_interventions

    start = None
    if from_ is not None:
        from ..engines.restart import parse_from, saved_state

        if engine != "wellmixed" or posterior not in (None, "none"):
            raise EvnicheError("--from continues a well-mixed run (no --engine spatial, no "
                               "--posterior)")
        folder, day = parse_from(from_)
        start = saved_state(folder, day)
        sensitivity = False

    if not time_limit > 0:
        raise EvnicheError(f"--time-limit must be a positive number of seconds, got "
                           f"{time_limit:g}")
    resolved = load_model(model, overrides=_overrides(set_), allow_paths=allow_path or ())
    _print_retractions(resolved)
    plan = None
    if posterior is not None and posterior != "none":
        if engine != "wellmixed":
            raise EvnicheError("--posterior runs the well-mixed engine only")
        from ..experiments.ensemble import plan as posterior_plan

        resolved, plan = posterior_plan(resolved, posterior, ensemble, seed)
    elif posterior is None:
        resolved, plan = _shipped_plan(model, resolved, engine, ensemble, seed,
                                       continued=start is not None)
    options = _spatial_options(spatial, engine)
    options.update(_stochastic_options(stochastic, engine))
    # days, seed, interventions ('diagnosis' resolved from an untreated run) and the size
    # of the run: refused before anything is written
    not_given: list[str] = []
    interventions, days = checked_interventions(
        resolved, intervene, days=days, seed=seed, engine=engine, options=options,
        allow_large=allow_large, not_given=not_given,
        announce=lambda text: console.print(text, highlight=False))
    from ..store.runs import RunWriter

    with RunWriter(out, resolved, seed, sys.argv, days=days, engine=engine) as writer:
        if engine == "spatial":
            options["snapshot_dir"] = str(writer.staging)
        if start is not None:
            options["start"] = start
        _simulate_and_write(writer, resolved, days, seed, engine, interventions, options,
                            report, sensitivity, allow_large, time_limit, plan, not_given)
    files = sorted(p.name for p in out.iterdir())
    console.print(f"[green]wrote[/] {out}: {', '.join(files)}", highlight=False)


def _shipped_plan(model: str, resolved: ResolvedModel, engine: str, ensemble: int,
                  seed: int, continued: bool):
    """(model, plan) for ``evniche run PRESET`` without --posterior: an ensemble from the
    posterior shipped with the preset when there is one and it fits the model as loaded;
    otherwise (model, None), with a warning on stderr when a shipped posterior is not used
    (never silently)."""
    from ..experiments.posterior import shipped_folder, stale_message

    folder = shipped_folder(model)
    if folder is None:
        return resolved, None
    warn = Console(stderr=True, soft_wrap=True, highlight=False).print
    if engine != "wellmixed" or continued:
        why = "--from" if continued else f"--engine {engine}"
        warn(f"[yellow]note:[/] the posterior shipped for preset '{model}' is for well-mixed "
             f"runs; with {why} this is the point model (no bands)")
        return resolved, None
    from ..experiments.ensemble import plan as posterior_plan
    from ..experiments.posterior import load_posterior

    try:
        load_posterior(folder).check_model(resolved)
    except EvnicheError as exc:
        warn(f"[bold yellow]warning:[/] {stale_message(model, str(exc))}. Running the point "
             "model (no bands).")
        return resolved, None
    base, plan = posterior_plan(resolved, str(folder), ensemble, seed)  # refuses --ensemble 0
    plan.label = f"the posterior shipped for preset '{model}' (evniche/posteriors/{model}/)"
    console.print(f"ensemble of {ensemble} from {plan.source} (--posterior none: the point "
                  "model)", highlight=False)
    return base, plan


def _simulate_and_write(writer: RunWriter, resolved: ResolvedModel, days: float, seed: int,
                        engine: str,
                        interventions: list, options: dict, report: bool,
                        sensitivity: bool, allow_large: bool = False,
                        time_limit: float | None = None, plan=None,
                        not_given: list[str] | None = None) -> None:
    """The body of ``evniche run``: simulate, print the readouts, write every file into
    ``writer.staging`` (a :class:`evniche.store.runs.RunWriter`). ``not_given``: why
    interventions asked for were not given (attribute ``interventions_not_given``)."""
    import time

    from .. import engines

    out = writer.staging
    start = time.perf_counter()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.percentage:>5.1f}%"), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        task = bar.add_task(f"{resolved.name}: {days:g} days ({engine})", total=1.0)
        ds = engines.simulate(resolved, days=days, seed=seed, engine=engine,
                              interventions=interventions, allow_large=allow_large,
                              wall_limit_s=time_limit,
                              progress=lambda frac: bar.update(task, completed=frac),
                              **options)
        bar.update(task, completed=1.0)
    wall = time.perf_counter() - start
    from ..readouts import clinical

    if not_given:
        ds.attrs["interventions_not_given"] = "; ".join(not_given)
    writer.write(ds, wall)
    takeover = clinical.takeover_day(ds)
    console.print(f"simulated in {wall:.1f} s; EV ledger error "
                  f"{ds.attrs.get('ledger_relative_error', 0):.1e}")
    if resolved.spec.cell_types and ds.attrs.get("leukemic"):
        console.print(f"leukemic take-over ({clinical.malignant_noun(ds)} ≥ 20% of marrow "
                      "cells): "
                      + (f"day {takeover:.0f}" if takeover is not None else "not within the run"))
        console.print("clinical course: " + clinical.course(ds)["text"], highlight=False)
    from ..readouts import coagulation
    from ..readouts import rules as rule_readout

    if rule_readout.has_rule_signals(ds):
        console.print("rules: " + rule_readout.describe(rule_readout.operating_range(ds))
                      + (" (table in the report)" if report else ""), highlight=False)
    tf = coagulation.summary(ds)
    if tf["tf_start_per_ml"] > 0:  # the model's EVs carry tissue factor
        console.print(f"coagulation risk (tissue factor on plasma EVs): "
                      f"{tf['tf_end_per_ml']:.3g} copies/mL at the end, peak ×"
                      f"{tf['tf_peak_fold']:.2f} of day 0 on day {tf['tf_peak_day']:.0f}",
                      highlight=False)
    from ..readouts import thrombin

    thrombogram = thrombin.table(ds)
    if thrombogram:
        console.print("thrombin generation of plasma EVs (virtual thrombogram, Hockin–Mann "
                      "model; EV tissue factor as the only trigger):", highlight=False)
        for row in thrombogram:
            console.print("  " + thrombin.describe(row), highlight=False)
    table = None
    if sensitivity and takeover is not None and engine == "wellmixed":
        from ..readouts.sensitivity import takeover_elasticities

        names = takeover_parameters(resolved)
        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                            TextColumn("{task.completed}/{task.total} runs"),
                            TimeElapsedColumn(), console=console)
        task = progress.add_task("sensitivity of the take-over day", total=2 * len(names))

        def runner(overrides: dict):
            try:
                return engines.simulate(resolved_with(resolved, overrides), days=days,
                                        seed=seed, interventions=interventions,
                                        allow_large=allow_large,
                                        wall_limit_s=time_limit)
            finally:
                progress.advance(task)

        params = resolved.params.resolved
        ranges = {n: (params[n].range[0] * params[n].value_in_unit / params[n].value,
                      params[n].range[1] * params[n].value_in_unit / params[n].value)
                  for n in names if params[n].range is not None}
        with progress:
            table = takeover_elasticities(runner, {n: params[n].value_in_unit for n in names},
                                          baseline=ds, ranges=ranges)
    summary = None
    if plan is not None:  # an ensemble from --posterior
        from ..experiments import ensemble
        from ..report.html import num

        summary = ensemble.run_plan(plan, days, interventions, console, out,
                                    allow_large=allow_large, wall_limit_s=time_limit)
        for line in ensemble.describe(summary, num):
            console.print(line, highlight=False)
    if report:
        from ..report import write_report

        write_report(ds, out, model=resolved, sensitivity=table, ensemble=summary,
                     ensemble_source=plan.source if plan else "", thrombin=thrombogram)


def _engine_items(items: list[str] | None, engine: str, name: str) -> list[tuple[str, object]]:
    """(KEY, VALUE) pairs of ``--NAME KEY=VALUE`` items (VALUE read as YAML); refused when
    given for another engine than NAME."""
    from ..spec.loader import parse_override

    if engine != name:
        if items:
            raise EvnicheError(f"--{name} applies to --engine {name} only")
        return []
    pairs = []
    for item in items or []:
        try:
            pairs.append(parse_override(item))
        except EvnicheError:
            raise EvnicheError(f"--{name}: expected KEY=VALUE, got '{item}'") from None
    return pairs


def _spatial_options(items: list[str] | None, engine: str) -> dict:
    """Engine options from ``--spatial KEY=VALUE`` items (VALUE read as YAML; a dotted KEY
    such as placement.MSC sets one entry of a mapping)."""
    options: dict = {}
    for key, value in _engine_items(items, engine, "spatial"):
        head, _, entry = key.partition(".")
        if entry:
            options.setdefault(head, {})
            if not isinstance(options[head], dict):
                raise EvnicheError(f"--spatial {key}: {head} is not a mapping")
            options[head][entry] = value
        else:
            options[key] = value
    return options


def _stochastic_options(items: list[str] | None, engine: str) -> dict:
    """Engine options from ``--stochastic KEY=VALUE`` items (VALUE read as YAML), checked
    by :func:`evniche.engines.stochastic.validated_options`."""
    options = dict(_engine_items(items, engine, "stochastic"))
    if engine == "stochastic":
        from ..engines.stochastic import validated_options

        validated_options(options)  # refused before anything is written
    return options


def takeover_parameters(resolved, limit: int = 16) -> list[str]:
    """Parameters of leukemic kinetics, leukemic EV secretion and the rules (those acting
    on leukemic cells first, then the rest): the candidates for the sensitivity table."""
    spec = resolved.spec
    names: list[str] = []
    leukemic = sorted(n for n, c in spec.cell_types.items() if c.lineage == "leukemic")
    for name in leukemic:
        ct = spec.cell_types[name]
        for ref in (ct.proliferation, ct.self_renewal, ct.death):
            if isinstance(ref, str):
                names.append(ref)
        names += [s.rate for s in ct.secretion if isinstance(s.rate, str)]
    rules = sorted((rule for rule, _ in resolved.rules),
                   key=lambda rule: rule.cell_type not in leukemic)
    for rule in rules:
        for ref in (rule.saturation, rule.half_max):
            if isinstance(ref, str):
                names.append(ref)
    seen = []
    for n in names:
        if n not in seen and n in resolved.params.resolved and \
                resolved.params.resolved[n].value != 0:
            seen.append(n)
    return seen[:limit]


def resolved_with(resolved, overrides: dict):
    """The model reloaded with parameter values replaced (names → values in their unit)."""
    from ..spec.loader import load_model

    return load_model(resolved.raw, overrides={f"parameters.{k}": v for k, v in
                                              overrides.items()})


def export(
    what: Annotated[str, typer.Argument(help="Format: sbml or physicell.")],
    model: ModelArg,
    out: Annotated[Path | None, typer.Option(
        help="sbml: output file (default: stdout). physicell: the project folder to write "
             "(required): config/PhysiCell_settings.xml, config/cell_rules.csv, "
             "config/cells.csv and EXPORT_NOTES.txt.")] = None,
    allow_path: AllowOpt = None,
) -> None:
    """Export a model: SBML Level 3 of the well-mixed model, a reaction network with units
    (simulable in libRoadRunner, Tellurium and COPASI at their default settings), or a
    PhysiCell 1.14 project of a marrow section (EV pools as substrates; docs/interop.md
    says how to run it)."""
    if what not in ("sbml", "physicell"):
        raise EvnicheError(f"unknown export format '{what}'; available: sbml, physicell")
    from ..interop.sbml import export_sbml
    from ..spec.loader import load_model

    if what == "physicell":
        from ..interop.physicell_export import write_project

        if out is None:
            raise EvnicheError("export physicell needs --out DIR (the project folder)")
        exported = write_project(load_model(model, allow_paths=allow_path or ()), out)
        console.print(f"[green]wrote[/] {out}: config/PhysiCell_settings.xml, "
                      f"config/cell_rules.csv ({len(exported.rules)} rules), config/cells.csv "
                      f"({len(exported.cells)} cells), EXPORT_NOTES.txt ({len(exported.notes)} "
                      "items not exported)", highlight=False)
        return

    text = export_sbml(load_model(model, allow_paths=allow_path or ()), out)
    if out is None:
        sys.stdout.write(text)
    else:
        console.print(f"[green]wrote[/] {out}")


def presets() -> None:
    """List the models shipped with evniche."""
    from ..spec.loader import load_model, preset_names

    table = Table(title="preset models")
    table.add_column("name")
    table.add_column("disease")
    table.add_column("description")
    for name in preset_names():
        spec = load_model(name).spec
        table.add_row(name, spec.disease, spec.description.strip().splitlines()[0]
                      if spec.description else "")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("run")(run)
    app.command("export")(export)
    app.command("presets")(presets)
