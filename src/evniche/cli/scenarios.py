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

from ..errors import EvnicheError

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
    """List the scenarios: name, kind (finding or proposal), the statement with its
    references, expected direction and margin (a proposal's threshold)."""
    from ..experiments.catalog import catalog
    from ..experiments.scenarios import wanted

    table = _table()
    table.add_column("scenario", overflow="fold", min_width=18)
    table.add_column("kind", no_wrap=True)
    table.add_column("statement and references", overflow="fold")
    table.add_column("wanted", no_wrap=True)
    name_width = max(18, min(30, console.width // 3))
    for s in catalog().values():
        table.add_row(fold_name(s.name, name_width), s.kind,
                      f"{s.finding} ({'; '.join(s.kb)})",
                      wanted(s.expected, s.margin, s.most))
    console.print(table)


def _interval(q) -> str:
    """An effect's median and 90 % credible interval, e.g. '+12.0% [+3.1%, +20.2%]'."""
    if math.isnan(q[2]):
        return "–"
    if q[0] == q[4]:
        return _effect(q[2])
    return f"{_effect(q[2])} [{_effect(q[0])}, {_effect(q[4])}]"


#: value columns wider than this many characters may wrap in a narrow console
WRAP_ABOVE = 12


def _folded(headers: tuple[str, ...], rows: list[tuple[str, ...]], title: str,
            status: int | None = None) -> Table:
    """A table whose first column (the scenario name) takes the width the others leave,
    folded at hyphens; column ``status`` coloured (green: reproduced, red: contradicted)."""
    widths = [max([len(h)] + [len(row[i + 1]) for row in rows]) for i, h in enumerate(headers)]
    longest = max([len("scenario")] + [len(row[0]) for row in rows])
    name_width = max(16, min(longest, console.width - sum(widths) - 3 * len(headers) - 4))
    table = _table(title)
    table.add_column("scenario", overflow="fold", width=name_width)
    for h, w in zip(headers, widths, strict=True):
        # short cells never wrap; a long one (an effect with its interval) wraps at its
        # spaces when the console is too narrow, rather than another column being cut
        table.add_column(h, justify="right", no_wrap=w <= WRAP_ABOVE, overflow="fold",
                         min_width=min(w, WRAP_ABOVE))
    colour = {"reproduced": "green", "contradicted": "red"}
    for name, *cells in rows:
        if status is not None:
            cells[status] = f"[{colour.get(cells[status], 'yellow')}]{cells[status]}[/]"
        table.add_row(fold_name(name, name_width), *cells)
    return table


def findings_table(answers) -> Table:
    """Findings: P(agree) over the ensemble, the effect (median [90 % CrI]), the effect
    wanted, reproduced/contradicted and the coagulation-risk ratio of the first member
    (the ensemble and its size are printed under the tables)."""
    from ..experiments.scenarios import wanted

    rows = []
    for a in answers:
        s, r = a.scenario, a.point
        risk = "–" if math.isnan(r.risk_ratio) else f"×{r.risk_ratio:.2f}"
        rows.append((s.name, f"{a.p:.2f}", _interval(a.effect_q),
                     wanted(s.expected, s.margin, s.most), a.verdict, risk))
    return _folded(("P(agree)", "effect [CrI]", "wanted", "verdict", "TF"), rows,
                   "findings (published results the model must reproduce)", status=3)


def left_out_table(left_out) -> Table:
    """Per finding (:class:`evniche.experiments.leave_one_out.LeftOut`): how many of its
    own observation records are in the fit of its posterior, P(agree) with them and
    without them (the leave-one-out posterior) and whether it is still reproduced."""
    rows = []
    for row in left_out:
        without = "–" if row.without is None else f"{row.p_without:.2f}"
        rows.append((row.scenario.name, str(len(row.fitted)) if row.fitted else "none",
                     f"{row.p_with:.2f}", without, row.still))
    return _folded(("own obs. in fit", "P(agree)", "without them", "still reproduced"), rows,
                   "findings without their own observations (leave one out)")


def left_out_lines(left_out) -> list[str]:
    """Under the leave-one-out table: what it means, and per finding whose observations
    are in the fit which records were left out and over which posterior."""
    from ..experiments.leave_one_out import NOT_IN_FIT

    lines = ["without them: P(agree) over the same calibration refitted without the "
             "finding's own observation records (--leave-one-out); 'not in the fit': "
             f"{NOT_IN_FIT}"]
    for row in left_out:
        if not row.fitted:
            continue
        what = (f"P(agree) {row.p_with:.2f} with, {row.p_without:.2f} without (effect "
                f"{_interval(row.without.effect_q)}); still reproduced: {row.still}; "
                f"leave-one-out posterior {row.posterior}"
                if row.without is not None else (row.error or "not run: add --leave-one-out"))
        lines.append(f"{row.scenario.name}: its observation(s) {', '.join(row.fitted)} are in "
                     f"the fit; {what}")
    return lines


def proposals_table(answers) -> Table:
    """Proposals: P(effect ≥ threshold) and the effect (median [90 % CrI]); no verdict."""
    from ..experiments.scenarios import wanted

    rows = [(a.scenario.name, f"{a.p:.2f}", _interval(a.effect_q),
             wanted(a.scenario.expected, a.scenario.margin, a.scenario.most)) for a in answers]
    return _folded(("P(effect≥thr)", "effect [CrI]", "threshold"), rows,
                   "proposals (the reviews' hypotheses: no pass/fail)")


@app.command("run")
def run(names: Annotated[list[str] | None, typer.Argument(help="scenarios (default: all)")]
        = None,
        report: Annotated[Path | None, typer.Option("--report", help="write an HTML page "
                                                    "into this directory")] = None,
        posterior: Annotated[str | None, typer.Option(
            "--posterior", metavar="DIR|none",
            help="Answer the scenarios whose arms use the posterior's model over draws of "
                 "the calibration posterior in DIR (see docs/uncertainty.md). Default: the "
                 "posterior shipped with a scenario's preset, when there is one; 'none': "
                 "no posterior (the prior predictive or the point model).")] = None,
        ensemble: Annotated[int, typer.Option(
            "--ensemble", metavar="N", help="Draws per scenario from --posterior (or from a "
            "posterior shipped with the preset).")] = 20,
        prior_draws: Annotated[int, typer.Option(
            "--prior-draws", metavar="N",
            help="Without a posterior: draws of the prior predictive for the scenarios "
                 "that declare uncertain parameters (0: the point model everywhere, P is "
                 "then 0 or 1).")] = 8,
        seed: Annotated[int, typer.Option(help="Seed of the draws (same seed, same "
                                               "draws).")] = 0,
        leave_one_out: Annotated[bool, typer.Option(
            "--leave-one-out",
            help="Answer each finding whose own observation records are in the fit of its "
                 "posterior again over the leave-one-out posterior (the same calibration "
                 "without those records): the one shipped next to the preset's posterior "
                 "(`make posteriors`), else a refit now (minutes; resumable in "
                 "build/posteriors/). The table 'findings without their own "
                 "observations' (and --report's findings table) then gives P(agree) with "
                 "and without them and whether the finding is still reproduced; without "
                 "this option it says only whether they are in the fit "
                 "(docs/calibration.md, 'Leave one out').")] = False) -> None:
    """Run scenarios: findings get P(agree) over an ensemble, proposals P(effect ≥ threshold).

    effect = (treatment − control) / |control|; a member agrees when the effect has the
    expected sign and at least the margin. A finding is contradicted when P(agree) < 0.5;
    the command exits with status 1 only then. Proposals (the reviews' hypotheses) have no
    pass/fail. The ensemble: the posterior (--posterior, else one shipped with the
    preset), else the prior predictive over a
    scenario's uncertain parameters (--prior-draws), else the point model (P is 0 or 1).
    TF: the largest rise of plasma EV tissue factor (coagulation risk, seed 000 [68]) in
    the treatment arm over the control arm."""
    from ..experiments.agreement import CONTRADICTED_BELOW, answer_all, posterior_draws
    from ..experiments.catalog import select
    from ..experiments.scenario_report import write_report

    if ensemble < 1 or prior_draws < 0:
        raise EvnicheError("--ensemble must be >= 1 and --prior-draws >= 0")
    chosen = select(names or [])
    given = posterior not in (None, "none")
    draws = posterior_draws(str(posterior), ensemble, seed) if given else None
    answers = answer_all(chosen, draws, prior_draws, seed, progress=lambda a: console.print(
        f"{a.scenario.name}: P = {a.p:.2f}, {a.verdict}", highlight=False),
        ensemble_n=ensemble, shipped=posterior != "none")
    findings = [a for a in answers if a.kind == "finding"]
    proposals = [a for a in answers if a.kind == "proposal"]
    left_out = _left_out(findings, leave_one_out, ensemble, seed)
    if findings:
        console.print(findings_table(findings))
        console.print(left_out_table(left_out))
        for line in left_out_lines(left_out):
            console.print(line, highlight=False)
    if proposals:
        console.print(proposals_table(proposals))
    anchors = {f"{a.name} ({a.description})": r.anchors[a.name]
               for ans in answers for r in ans.members[:1] for a in r.scenario.anchors
               if a.name in r.anchors}
    for text, day in anchors.items():
        console.print(f"{text}: day {day:.1f}", highlight=False, soft_wrap=True)
    sources: dict[str, list[str]] = {}
    for a in answers:
        sources.setdefault(a.source, []).append(a.scenario.name)
    for source, which in sources.items():
        console.print(f"ensemble: {source}: {', '.join(which)}", highlight=False)
    bad = [a for a in findings if a.contradicted]
    console.print(f"{len(findings) - len(bad)} of {len(findings)} findings reproduced "
                  f"(contradicted: P(agree) < {CONTRADICTED_BELOW:g}); {len(proposals)} "
                  "proposals answered; effect = (treatment − control) / |control|, median "
                  "[90 % credible interval over the ensemble]; TF = peak "
                  "rise of plasma EV tissue factor, treatment over control (coagulation "
                  "risk)", highlight=False, soft_wrap=True)
    for a in answers:
        for error in a.errors:
            console.print(f"{a.scenario.name}: {error}", highlight=False, soft_wrap=True)
    if report is not None:
        path = write_report([a.point for a in answers], report, answers, left_out)
        console.print(f"report: {path}", highlight=False, soft_wrap=True)
    if bad:
        raise typer.Exit(1)


def _left_out(findings, run: bool, ensemble: int, seed: int) -> list:
    """Each finding's standing without its own observations: answered over its
    leave-one-out posterior when ``run`` (a refit, when one is needed, runs on a Dask
    LocalCluster that is closed afterwards), else only whether they are in the fit."""
    from ..experiments.leave_one_out import answer_without, standing

    if not run:
        return standing(findings)
    client = None

    def sampler():
        nonlocal client
        from ..experiments.calibration import dask_sampler
        from ..experiments.seeded_sampler import SeededSampler

        if client is None:
            client = dask_sampler().client
        return SeededSampler(client)  # refit() gives it the base fit's seed

    def say(line: str) -> None:
        console.print(line, highlight=False, soft_wrap=True)

    try:
        return answer_without(findings, ensemble, seed, sampler=sampler, progress=say)
    finally:
        if client is not None:
            client.close()
