"""``evniche lab PROTOCOL --sample DIR[@DAY] --out OUT``: a virtual EV isolation and
characterization of a sample from a run, with an HTML report and an EV-TRACK-style record
(docs/lab.md)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import EvnicheError


def _list() -> None:
    from ..lab.protocols import load, shipped

    for name in shipped():
        proto = load(name)
        steps = ", ".join(s.step for s in proto.steps)
        typer.echo(f"{name}: {proto.description.strip()} [{steps}]")


def _findings() -> None:
    from ..lab.findings import FINDINGS

    for finding in FINDINGS:
        check = finding.check()
        typer.echo(f"{finding.id}: {check.verdict} — {finding.claim} | measured: "
                   f"{check.measured} | {finding.source}")


def lab(
    protocol: Annotated[str | None, typer.Argument(
        metavar="PROTOCOL",
        help="A shipped protocol (duc, sec, sec_uf, gradient, precipitation, cd63_beads; "
             "see --list) or a protocol YAML file (docs/lab.md).")] = None,
    sample: Annotated[str | None, typer.Option(
        metavar="DIR[@DAY]",
        help="The run folder of `evniche run MODEL --out DIR`, and the day (days) the sample "
             "is drawn; default the run's last day.")] = None,
    out: Annotated[str | None, typer.Option(
        metavar="OUT",
        help="Folder for lab_report.html, lab_record.json, yields.csv and nta.csv (new, "
             "empty, or an earlier lab report, which is replaced).")] = None,
    fluid: Annotated[str, typer.Option(
        help="plasma or serum (the run's blood EVs), marrow_plasma (its marrow EVs), or "
             "medium (conditioned serum-free medium: marrow EVs, no lipoproteins).")
    ] = "plasma",
    volume: Annotated[float, typer.Option(
        metavar="ML", help="Volume of fluid taken (mL).")] = 1.0,
    platelets: Annotated[str | None, typer.Option(
        help="Platelets left by the plasma preparation: prp (platelet-rich), ppp "
             "(platelet-poor, the default for plasma), pfp (platelet-free).")] = None,
    fed: Annotated[bool, typer.Option(
        "--fed", help="A non-fasting sample: chylomicrons present.")] = False,
    seed: Annotated[int, typer.Option(
        help="Seed of the virtual EM particle count.")] = 0,
    list_: Annotated[bool, typer.Option(
        "--list", help="List the shipped protocols and exit.")] = False,
    findings: Annotated[bool, typer.Option(
        "--findings", help="Check the literature findings (docs/lab.md) and exit.")] = False,
) -> None:
    """Isolate EVs from a sample of a run with a protocol (centrifugation, gradients, SEC,
    filtration, precipitation, beads as physics) and characterize them (NTA, flow, EM,
    markers) with instrument limits; write a report and an EV-TRACK-style record."""
    if list_:
        _list()
        return
    if findings:
        _findings()
        return
    from ..lab import experiment
    from ..lab.protocols import load
    from ..lab.report import REPORT, check_folder
    from ..lab.samples import from_run, parse_spec

    if protocol is None:
        raise EvnicheError("lab: expected a PROTOCOL (a shipped name or a YAML file; "
                           "`evniche lab --list` lists them)")
    if sample is None:
        raise EvnicheError("lab: --sample DIR[@DAY] is missing (a run folder of "
                           "`evniche run aml --out DIR`)")
    if out is None:
        raise EvnicheError("lab: --out OUT is missing (a folder for the report)")
    folder = check_folder(out)
    proto = load(protocol)
    where, day = parse_spec(sample)
    drawn = from_run(where, day, fluid=fluid, volume_ml=volume, platelet_prep=platelets,
                     fasting=not fed)
    command = "evniche " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = experiment(proto, drawn, seed=seed, command=command)
    path = result.write(folder)
    o = result.outcome
    typer.echo(f"{proto.name} on {drawn.volume_ml:g} mL {drawn.fluid} (day {drawn.day:g}): "
               f"EV yield {100 * o.ev_yield:.3g} %, {o.particles_per_ug:.3g} particles/µg, "
               f"lipoproteins {100 * o.lipoprotein_share:.3g} % of NTA particles "
               f"({o.lipoprotein_per_ev:.3g} per EV), "
               f"EV-METRIC-style {100 * result.record['checklists']['ev_metric']['score']:.3g} %")
    typer.echo(f"wrote {Path(path).parent / REPORT}")


def register(app: typer.Typer) -> None:
    app.command("lab")(lab)
