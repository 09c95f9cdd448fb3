"""Risk–benefit of EV therapies: the benefit of each therapy beside its risks, per model.

For a disease model the rows are the EV therapies of :mod:`evniche.compile.therapies` (the
products: engineered MSC-EVs with miR-34c-5p, NK-cell exosomes, MSC-EVs, drug-loaded EVs;
and the secretion inhibitor, a proton pump inhibitor), the proposals of the scenario catalog
that use the model (:mod:`evniche.experiments.catalog`, ``kind="proposal"``) and, as a
reference, 7+3 induction chemotherapy. Each row is one run with the therapy against the
untreated model, both to the same day, with a therapy that starts "at diagnosis" given on
the untreated run's day of 20 % marrow blasts.

**Benefit** (treatment against control):

* ``takeover_delay_days`` — days the take-over (20 % marrow blasts) moves later; for a
  therapy started before the control's take-over; the run's end stands for "not within
  the run" (a lower bound then);
* ``blast_change`` — relative change of the marrow blast % at the end of the window
  (−0.5: half the control's).

**Risks:**

* thrombin — the virtual thrombogram (:mod:`evniche.readouts.thrombin`) of both arms' plasma
  on the day the treated arm's EV tissue factor peaks in the window, a dose counted at its
  bolus peak: EV-TF (pM), whether thrombin bursts, ETP (nM·min) and lag (min);
* complement — the PS-exposing EV surface, treated over control (a labelled proxy:
  :mod:`evniche.readouts.complement`);
* off-target cargo — the share of the product's delivered cargo that reaches non-leukemic
  cells, and the copies per dose and per normal HSPC of its first cargo
  (:mod:`evniche.readouts.off_target`);
* loss of supportive EVs — MSC EVs delivered to normal HSPCs (HSC, MPP, progenitors), mean
  over the window, treated against control (seed 000 [8, 17]: the side effect of a
  systemic secretion inhibitor).

With posterior draws (``draws``) every row is answered per draw and the benefit and ETP
columns carry the median and the 5–95 % range; the point model otherwise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import EvnicheError
from .scenarios import Arm, Runner

#: days after a therapy's start that benefit and risks are read over (days)
WINDOW_DAYS = 28.0
#: the untreated run that finds the day of diagnosis (days)
DIAGNOSIS_SEARCH_DAYS = 365.0
#: the EV therapies tried on every model (name, options, label)
EV_THERAPIES: tuple[tuple[str, dict, str], ...] = (
    ("mir34c_ev", {}, "engineered MSC-EVs (miR-34c-5p, Lamp2b-IL3/HCELL)"),
    ("nk_exosomes", {}, "NK-cell exosomes (FasL)"),
    ("msc_ev", {}, "MSC-EVs"),
    ("drug_loaded_ev", {"cargo": "imatinib"}, "drug-loaded EVs (imatinib)"),
    ("drug_loaded_ev", {"cargo": "doxorubicin"}, "drug-loaded EVs (doxorubicin)"),
    ("proton_pump_inhibitor", {}, "proton pump inhibitor (secretion)"),
)
#: the reference row: standard chemotherapy (apoptotic bodies with tissue factor)
REFERENCE = ("induction_7_3", {}, "reference: 7+3 induction chemotherapy")


@dataclass(frozen=True)
class Therapy:
    """One row: an intervention (name, options, start: a day or "diagnosis") and a label."""

    label: str
    name: str
    options: dict = field(default_factory=dict)
    start: float | str = "diagnosis"
    origin: str = "EV therapy"

    def item(self, diagnosis: float) -> dict:
        start = diagnosis if self.start == "diagnosis" else float(self.start)
        return {"name": self.name, "start": start, "options": dict(self.options)}


@dataclass
class Row:
    """The numbers of one therapy (units in the names; NaN where a value does not apply)."""

    therapy: Therapy
    start_day: float = math.nan
    error: str = ""
    takeover_delay_days: float = math.nan
    takeover_lower_bound: bool = False
    blast_change: float = math.nan
    tf_pM_control: float = math.nan
    tf_pM_treated: float = math.nan
    burst_treated: bool = False
    etp_control: float = math.nan
    etp_treated: float = math.nan
    lag_treated: float = math.nan
    complement_fold: float = math.nan
    off_target_share: float = math.nan
    cargo: str = ""
    cargo_per_dose_hspc: float = math.nan
    cargo_per_hspc: float = math.nan
    support_change: float = math.nan
    #: (5 %, 50 %, 95 %) over posterior draws of blast_change and etp_treated
    blast_change_q: tuple[float, float, float] | None = None
    etp_treated_q: tuple[float, float, float] | None = None
    draws: int = 0


def therapies(model: str) -> list[Therapy]:
    """The rows for ``model``: the EV therapies, the catalog's proposals on the model (their
    first intervention, at its catalog start), the reference chemotherapy."""
    from .catalog import catalog

    rows = [Therapy(label, name, opts) for name, opts, label in EV_THERAPIES]
    def key(name: str, opts: dict) -> str:
        return json.dumps([name, opts], sort_keys=True, default=str)

    seen = {key(t.name, t.options) for t in rows}
    for s in catalog().values():
        if s.kind != "proposal" or s.treatment.model != model or not s.treatment.interventions:
            continue
        item = s.treatment.interventions[-1]
        opts = dict(item.get("options", {}))
        if key(item["name"], opts) in seen:
            continue
        seen.add(key(item["name"], opts))
        rows.append(Therapy(f"{item['name']} (catalog: {s.name})", item["name"], opts,
                            item.get("start", 0), origin="catalog proposal"))
    name, opts, label = REFERENCE
    rows.append(Therapy(label, name, opts, origin="reference"))
    return rows


def _hspc_support(ds):
    """MSC EVs delivered to normal HSPCs per day (an EV/day series over time); None when
    the model has no MSC source or no communication record."""
    from ..readouts.clinical import NORMAL_STEM_PROGENITOR

    if "communication" not in ds or "MSC" not in ds["source"].values:
        return None
    targets = [t for t in NORMAL_STEM_PROGENITOR if t in ds["target"].values]
    return ds["communication"].sel(source="MSC", target=targets).sum("target")


def _relative(control: float, treated: float) -> float:
    from .scenarios import relative_effect

    return relative_effect(control, treated)


def _evaluate(row: Row, control, treated, start: float, end: float) -> None:
    """Fill ``row`` from the two Datasets (window [start, end] days)."""
    from ..readouts import complement, off_target, thrombin
    from ..readouts.clinical import blast_percent, takeover_day
    from .scenarios import summarize

    t_end = float(control["time"].values[-1])
    c_day, t_day = takeover_day(control), takeover_day(treated)
    if start < (c_day if c_day is not None else t_end):
        c = c_day if c_day is not None else t_end
        t = t_day if t_day is not None else t_end
        row.takeover_delay_days = t - c
        row.takeover_lower_bound = t_day is None
    window = (start, end)
    row.blast_change = _relative(summarize(blast_percent(control), "at", (end, end)),
                                 summarize(blast_percent(treated), "at", (end, end)))
    # thrombin on the day the treated arm's EV-TF peaks in the window, doses at their peak
    days = treated["time"].values
    inside = [float(d) for d in days if start <= d <= end] or [float(days[-1])]
    samples = [thrombin.plasma_sample(treated, d, doses=True) for d in inside]
    peak = max(samples, key=lambda s: s.tf_pM)
    control_sample = thrombin.plasma_sample(control, peak.day)
    got_t, _ = thrombin.assay(peak)
    got_c, _ = thrombin.assay(control_sample)
    row.tf_pM_treated, row.tf_pM_control = peak.tf_pM, control_sample.tf_pM
    row.burst_treated, row.lag_treated = got_t.burst, got_t.lag_min
    row.etp_treated, row.etp_control = got_t.etp_nM_min, got_c.etp_nM_min
    row.complement_fold = complement.proxy_fold(treated.sel(time=slice(start, end)),
                                                control.sel(time=slice(start, end)))
    frame = off_target.delivery(treated, start, end, control=control)
    if len(frame):
        row.off_target_share = off_target.off_target_share(frame)
        row.cargo = str(frame["cargo"].iloc[0])
        hspc = frame[(frame["cargo"] == row.cargo) & (frame["group"] == "normal HSPCs")]
        if len(hspc):
            row.cargo_per_dose_hspc = float(hspc["per_dose"].iloc[0])
            row.cargo_per_hspc = float(hspc["per_cell"].iloc[0])
    support_c, support_t = _hspc_support(control), _hspc_support(treated)
    if support_c is not None and support_t is not None:
        row.support_change = _relative(summarize(support_c, "mean", window),
                                       summarize(support_t, "mean", window))


def _quantiles(values: Sequence[float]) -> tuple[float, float, float] | None:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    q = np.quantile(finite, [0.05, 0.5, 0.95])
    return float(q[0]), float(q[1]), float(q[2])


def assess(model: str, chosen: Sequence[Therapy] | None = None,
           window: float = WINDOW_DAYS, draws: Sequence[dict] = (),
           progress: Callable[[Row], None] | None = None,
           runner: Runner | None = None) -> tuple[float, list[Row]]:
    """The diagnosis day (days) of ``model`` and one :class:`Row` per therapy. A therapy
    the model cannot take (the intervention's applicability rule) gives a row with
    ``error`` saying why. ``draws``: posterior parameter overrides (``parameters.NAME`` →
    value) to answer every row over."""
    from ..readouts.clinical import takeover_day

    if not (math.isfinite(window) and window > 0):
        raise EvnicheError(f"--window must be a number of days > 0, got {window}")
    runner = runner or Runner()
    untreated, _ = runner.run(Arm(model), DIAGNOSIS_SEARCH_DAYS)
    diagnosis = takeover_day(untreated)
    if diagnosis is None:
        raise EvnicheError(f"model '{model}' never reaches 20 % marrow blasts in "
                           f"{DIAGNOSIS_SEARCH_DAYS:g} days: there is no diagnosis to treat at")
    days = diagnosis + window
    rows = []
    for therapy in chosen if chosen is not None else therapies(model):
        row = Row(therapy)
        item = therapy.item(diagnosis)
        row.start_day = float(item["start"])
        try:
            control, _ = runner.run(Arm(model), days)
            treated, _ = runner.run(Arm(model, (item,)), days)
            _evaluate(row, control, treated, row.start_day, days)
            if draws:
                members = []
                for draw in draws:
                    member = Row(therapy)
                    c, _ = Runner(runner.options).run(Arm(model, (), draw), days)
                    t, _ = Runner(runner.options).run(Arm(model, (item,), draw), days)
                    _evaluate(member, c, t, row.start_day, days)
                    members.append(member)
                row.draws = len(members)
                row.blast_change_q = _quantiles([m.blast_change for m in members])
                row.etp_treated_q = _quantiles([m.etp_treated for m in members])
        except EvnicheError as exc:
            row.error = str(exc)
        if progress is not None:
            progress(row)
        rows.append(row)
    return diagnosis, rows
