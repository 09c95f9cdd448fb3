"""``evniche risks MODEL``: benefit beside risks for each EV therapy (and the catalog's
proposals) on a disease model."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import EvnicheError

console = Console()


def _pct(x: float, q=None) -> str:
    if not math.isfinite(x):
        return "–"
    text = f"{100 * x:+.1f} %"
    if q is not None:
        text += f" [{100 * q[0]:+.1f} %, {100 * q[2]:+.1f} %]"
    return text


def _num(x: float, digits: int = 3) -> str:
    return "–" if not math.isfinite(x) else f"{x:.{digits}g}"


def short(therapy) -> str:
    """A row's short name: the intervention and its options, e.g. 'drug_loaded_ev
    (cargo=imatinib)'; catalog proposals and the reference say so."""
    opts = ", ".join(f"{k}={v}" for k, v in therapy.options.items())
    name = therapy.name + (f" ({opts})" if opts else "")
    return name + {"catalog proposal": " [catalog]", "reference": " [reference]"}.get(
        therapy.origin, "")


def why_not(error: str) -> str:
    """The reason of an intervention's refusal, without its preamble and applicability list."""
    text = error.split(": ", 2)[-1] if "does not apply" in error else error
    return text.split(". It applies to")[0].split(" (under")[0]


def cells(row) -> tuple[list[str], list[str]]:
    """The benefit and the risk cells of one :class:`evniche.experiments.risk_benefit.Row`
    (a refused therapy: its reason in the second cell of both)."""
    name = short(row.therapy)
    if row.error:
        reason = "does not apply: " + why_not(row.error)
        return [name, reason], [name, reason]
    delay = "–" if not math.isfinite(row.takeover_delay_days) else \
        f"{row.takeover_delay_days:+.1f}" + (" (≥)" if row.takeover_lower_bound else "")
    thrombin = f"{_num(row.etp_control)} → {_num(row.etp_treated)}"
    if row.etp_treated_q is not None:
        thrombin += f" [{_num(row.etp_treated_q[0])}, {_num(row.etp_treated_q[2])}]"
    thrombin += f"; burst, lag {row.lag_treated:.1f} min" if row.burst_treated else \
        "; no burst"
    cargo = "–" if not row.cargo else \
        f"{100 * row.off_target_share:.1f} % of {row.cargo}; " \
        f"{_num(row.cargo_per_hspc)}/HSPC/dose"
    benefit = [name, f"{row.start_day:.0f}", _pct(row.blast_change, row.blast_change_q),
               delay]
    risk = [name, f"{_num(row.tf_pM_control)} → {_num(row.tf_pM_treated)}", thrombin,
            f"×{_num(row.complement_fold)}", cargo, _pct(row.support_change)]
    return benefit, risk


BENEFIT = ("therapy", "start (day)", "marrow blasts at window end", "Δ take-over (days)")
RISK = ("therapy", "EV tissue factor (pM)", "thrombin ETP (nM·min)", "complement proxy",
        "off-target cargo (share; copies per HSPC per dose)", "MSC EVs to HSPCs")


def tables(rows, diagnosis: float, window: float) -> tuple[Table, Table]:
    """The benefit table and the risk table (treated against untreated)."""
    out = []
    for title, headers, k in (
            (f"benefit (treated against untreated; diagnosis on day {diagnosis:.0f}, "
             f"window {window:g} days)", BENEFIT, 0),
            ("risks (treated against untreated, same window)", RISK, 1)):
        t = Table(title=title, box=box.SIMPLE_HEAD)
        for h in headers:
            t.add_column(h, overflow="fold")
        for row in rows:
            values = cells(row)[k]
            # plain text: '[catalog]' and option values are not rich markup
            t.add_row(*(Text(v) for v in values + [""] * (len(headers) - len(values))))
        out.append(t)
    return out[0], out[1]


def risks(
    model: Annotated[str, typer.Argument(help="A disease preset or model YAML file.")],
    therapy: Annotated[list[str] | None, typer.Option(
        "--therapy", metavar="NAME",
        help="Only these rows: an intervention name (e.g. nk_exosomes, mir34c_ev, "
             "nsmase2_inhibitor). Repeatable; default: every EV therapy, the catalog's "
             "proposals on MODEL and 7+3 induction as a reference.")] = None,
    window: Annotated[float, typer.Option(
        help="Days after each therapy's start that benefit and risks are read over.")] = 28.0,
    posterior: Annotated[Path | None, typer.Option(
        "--posterior", metavar="DIR",
        help="Answer every row over draws of the calibration posterior in DIR (made for "
             "MODEL); the blast and ETP columns then show the median and the 5-95 % "
             "range.")] = None,
    ensemble: Annotated[int, typer.Option(
        "--ensemble", metavar="N", help="Draws from --posterior.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the posterior draws.")] = 0,
    report: Annotated[Path | None, typer.Option(
        "--report", metavar="DIR", help="Also write DIR/risks.html.")] = None,
) -> None:
    """Benefit beside risks for each EV therapy on MODEL.

    Each therapy runs against the untreated model to diagnosis + window (a therapy "at
    diagnosis" starts on the untreated run's day of 20 % marrow blasts). Benefit: marrow
    blasts at the window's end (relative to untreated) and the take-over delay (therapies
    started before it). Risks: EV tissue factor in plasma and the thrombin generation it
    triggers (Hockin–Mann virtual thrombogram; a dose counted at its bolus peak), the
    complement proxy (PS-exposing EV surface, treated over untreated), the share of the
    product's cargo delivered to non-leukemic cells and the copies per normal HSPC per
    dose, and the change of the supportive MSC EVs reaching normal HSPCs. See
    docs/risks.md."""
    from ..experiments import risk_benefit as rb

    if ensemble < 1:
        raise EvnicheError("--ensemble must be >= 1")
    rows = rb.therapies(model) if not therapy else None
    if therapy:
        known = rb.therapies(model)
        rows = [t for t in known if t.name in therapy]
        missing = sorted(set(therapy) - {t.name for t in rows})
        if missing:
            raise EvnicheError(f"--therapy: no row named {', '.join(missing)}; the rows of "
                               f"'{model}' are {', '.join(sorted({t.name for t in known}))}")
    draws: tuple = ()
    if posterior is not None:
        from ..experiments.agreement import posterior_draws

        draws = posterior_draws(str(posterior), ensemble, seed, model).draws
    diagnosis, answered = rb.assess(
        model, rows, window, draws,
        progress=lambda r: console.print(f"{r.therapy.label}: "
                                         + ("does not apply" if r.error else "done"),
                                         highlight=False))
    for t in tables(answered, diagnosis, window):
        console.print(t)
    console.print("ETP: endogenous thrombin potential of the plasma sample (untreated → "
                  "treated) on the day the treated arm's EV tissue factor peaks; the model's "
                  "tissue factor threshold for a thrombin burst in normal plasma is about "
                  "0.5-1 pM. Complement proxy: PS-exposing EV surface, treated over "
                  "untreated (no C3 deposition is modelled). "
                  + (f"Posterior: {len(draws)} draws." if draws else
                     "Point model (no posterior given: no uncertainty shown)."),
                  highlight=False, soft_wrap=True)
    if report is not None:
        from ..experiments.risk_report import write

        path = write(answered, diagnosis, window, model, report)
        console.print(f"report: {path}", highlight=False)


def thrombogram(
    run: Annotated[Path, typer.Argument(help="A run folder written by `evniche run --out`.")],
    day: Annotated[list[float] | None, typer.Option(
        "--day", help="Day of the blood draw (repeatable; default: the days the run's "
                      "report shows: first, last, EV tissue factor peaks).")] = None,
    reagent: Annotated[str, typer.Option(
        help="none: the sample as drawn, its EVs the only trigger; cat: add the CAT PPP "
             "reagent (5 pM tissue factor, 800 nM phosphatidylserine).")] = "none",
    doses: Annotated[bool, typer.Option(
        help="Count EVs administered in the sampling interval before the day at their "
             "bolus peak.")] = False,
    csv: Annotated[Path | None, typer.Option(
        "--csv", metavar="FILE", help="Write the thrombin curves (min, nM per day) as CSV.")
    ] = None,
) -> None:
    """A virtual thrombogram of a run's plasma on chosen days: lag time, peak, time to peak,
    ETP (Hockin–Mann model driven by the EVs' tissue factor and phosphatidylserine; see
    docs/risks.md)."""
    from ..readouts import thrombin as th
    from ..store.runs import read_run

    ds, _ = read_run(run)
    days = list(day) if day else th.sample_days(ds)
    curves = {}
    for d in days:
        sample = th.plasma_sample(ds, d, doses=doses)
        readout, curve = th.assay(sample, reagent)
        curves[d] = curve
        row = {"day": d, "tf_pM": sample.tf_pM, "ps_nM": sample.ps_nM,
               "tf_apoptotic_share": sample.tf_classes.get("apoptotic_body", 0.0),
               **{k: getattr(readout, k) for k in ("lag_min", "peak_nM",
                                                   "time_to_peak_min", "etp_nM_min")}}
        console.print(th.describe(row) + f" (membrane factor {readout.membrane:.2f}, "
                      f"reagent {reagent})", highlight=False, soft_wrap=True)
    if csv is not None:
        import pandas as pd

        first = next(iter(curves.values()))
        frame = pd.DataFrame({"time_min": first.time_min,
                              **{f"thrombin_nM_day_{d:g}": c.thrombin_nM
                                 for d, c in curves.items()}})
        try:
            frame.to_csv(csv, index=False)
        except OSError as exc:
            raise EvnicheError(f"--csv: cannot write {csv}: {exc}") from None
        console.print(f"wrote {csv}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("risks")(risks)
    app.command("thrombogram")(thrombogram)
