"""Statistics of a finished cohort (the folder :func:`evniche.cohorts.cohort.run` wrote):
per biomarker and for the panel, the ROC curve, AUC with its bootstrap interval,
sensitivity and specificity at the cut-off, power curve and patients needed; for monitored
patients the lead time of each biomarker over marrow relapse. Scores are log10 of the
measured value (a value of 0, below the limit of detection, reads as half the smallest
positive value seen for that biomarker), so every biomarker is "higher in disease".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EvnicheError
from . import assays, biomarkers, cohort, survival

#: patient counts of the power curves
POWER_N = (5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500)
PANEL = "panel"


@dataclass
class Analysis:
    """The statistics of one cohort (see the module text)."""

    settings: dict
    markers: list[assays.Biomarker]
    n_patients: int
    n_controls: int
    draws: int
    undiagnosed: int
    failed: list[str]
    rocs: dict[str, biomarkers.RocSummary]
    scores: dict[str, tuple[np.ndarray, np.ndarray]]
    power: dict[str, list[float]]
    monitored: int = 0
    remissions: int = 0
    relapses: int = 0
    lead_times: dict[str, list[float]] = field(default_factory=dict)
    missed: dict[str, int] = field(default_factory=dict)
    findings: list[dict] = field(default_factory=list)
    #: relapse-free survival after CR of the monitored patients (None without monitoring
    #: or without a remission)
    relapse_free: survival.RelapseFree | None = None
    #: per biomarker, the median noise-free value in patients and in controls (its unit)
    true_medians: dict[str, tuple[float, float]] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per biomarker (and the panel): AUC, 95 % CI, cut-off (measured unit),
        sensitivity, specificity, patients for 80 % power."""
        rows = []
        for name, r in self.rocs.items():
            true = self.true_medians.get(name, (math.nan, math.nan))
            rows.append({"biomarker": name, "patients_true_median": true[0],
                         "controls_true_median": true[1], "auc": r.auc, "ci_low": r.ci[0],
                         "ci_high": r.ci[1], "cutoff": _unlog(name, r.cutoff),
                         "sensitivity": r.sensitivity, "specificity": r.specificity,
                         "n_for_80pct_power": r.n_for_power, "patients": r.n_pos,
                         "controls": r.n_neg})
        return pd.DataFrame(rows)


def _unlog(name: str, score: float) -> float:
    return score if name == PANEL else float(10 ** score)


def _log_scores(values: pd.Series, floor: float) -> np.ndarray:
    x = values.to_numpy(dtype=float)
    return np.log10(np.where(x > 0, x, floor))


def analyse(out: str | Path, patients: int | None = None, controls: int | None = None,
            n_boot: int = 2000, seed: int = 0) -> Analysis:
    """The statistics of the cohort in ``out``: the first ``patients`` diagnosed patients and
    first ``controls`` controls by index (None: all finished ones)."""
    out = Path(out)
    try:
        settings = json.loads((out / cohort.SETTINGS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvnicheError(f"{out}: no {cohort.SETTINGS}; not a cohort folder") from None
    frame = cohort.load(out)
    if frame.empty:
        raise EvnicheError(f"{out}: no finished subject")
    markers = assays.biomarkers(list(settings["cargos"]))
    first = frame.groupby("subject", sort=False).first()
    failed = [f"{s}: {e}" for s, e in first["error"].items() if e]
    diag = frame[frame["phase"] == "diagnosis"]
    pat = diag[diag["arm"] == "patient"].sort_values("index")
    con = diag[diag["arm"] == "control"].sort_values("index")
    if patients is not None:
        pat = pat.head(patients)
    if controls is not None:
        con = con.head(controls)
    if len(pat) < 2 or len(con) < 2:
        raise EvnicheError(f"{out}: {len(pat)} diagnosed patients and {len(con)} controls; "
                           "a ROC needs at least 2 of each")
    draws = int(first[first["arm"] == "patient"]["index"].max()) + 1 \
        if (first["arm"] == "patient").any() else 0
    last = int(pat["index"].max())
    undiagnosed = int(((first["arm"] == "patient") & (first["phase"] == "undiagnosed")
                       & (first["index"] <= last)).sum())
    rng = np.random.default_rng(seed)
    rocs: dict[str, biomarkers.RocSummary] = {}
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    floors: dict[str, float] = {}
    for m in markers:
        both = pd.concat([pat[m.name], con[m.name]]).to_numpy(dtype=float)
        positive = both[both > 0]
        floors[m.name] = float(positive.min()) / 2 if positive.size else 1e-300
        p, n = _log_scores(pat[m.name], floors[m.name]), _log_scores(con[m.name],
                                                                    floors[m.name])
        scores[m.name] = (p, n)
        rocs[m.name] = biomarkers.summarise(m.name, p, n, rng, n_boot=n_boot)
    pp, pn = biomarkers.panel_scores(np.column_stack([scores[m.name][0] for m in markers]),
                                     np.column_stack([scores[m.name][1] for m in markers]))
    scores[PANEL] = (pp, pn)
    rocs[PANEL] = biomarkers.summarise(PANEL, pp, pn, rng, n_boot=n_boot)
    ratio = len(con) / len(pat)
    curves = {name: [biomarkers.power(r.auc, n, ratio) for n in POWER_N]
              for name, r in rocs.items()}
    result = Analysis(settings, markers, len(pat), len(con), draws, undiagnosed, failed,
                      rocs, scores, curves)
    result.true_medians = {m.name: (float(pat[f"{m.name}_true"].median()),
                                    float(con[f"{m.name}_true"].median()))
                           for m in markers if f"{m.name}_true" in pat}
    _lead_times(result, frame, pat, floors)
    from ..experiments.catalog import cohort_findings

    result.findings = [f.evaluate(result) for f in cohort_findings()
                       if f.model == settings["model_name"]]
    return result


def _lead_times(result: Analysis, frame: pd.DataFrame, pat: pd.DataFrame,
                floors: dict[str, float]) -> None:
    """Lead time of each biomarker over marrow relapse, for the monitored patients: the
    cut-off is the biomarker's diagnostic (Youden) cut-off."""
    visits = frame[(frame["phase"] == "monitoring") & frame["subject"].isin(pat["subject"])]
    result.monitored = int(visits["subject"].nunique())
    courses = pat.set_index("subject")[["remission_day", "relapse_day"]]
    result.remissions = int(courses["remission_day"].notna().sum()) if result.monitored else 0
    relapsed = courses[courses["remission_day"].notna() & courses["relapse_day"].notna()]
    result.relapses = len(relapsed) if result.monitored else 0
    in_cr = courses[courses["remission_day"].notna()]
    if result.monitored and len(in_cr):
        # censored at the end of the treated run: the sampling day + the follow-up
        ends = pat.set_index("subject").loc[in_cr.index, "sample_day"] + float(
            result.settings.get("followup_days", 365.0))
        relapse = in_cr["relapse_day"].notna()
        durations = np.where(relapse, in_cr["relapse_day"], ends) - in_cr["remission_day"]
        result.relapse_free = survival.relapse_free(durations, relapse.to_numpy())
    names = [m.name for m in result.markers]
    result.lead_times = {n: [] for n in names}
    result.missed = {n: 0 for n in names}
    for subject, course in relapsed.iterrows():
        rows = visits[visits["subject"] == subject]
        if rows.empty:
            continue
        for name in names:
            values = _log_scores(rows[name], floors[name])
            lead = biomarkers.lead_time(float(course["relapse_day"]), rows["day"].to_numpy(),
                                        values, result.rocs[name].cutoff,
                                        float(course["remission_day"]))
            if lead is None:
                result.missed[name] += 1
            else:
                result.lead_times[name].append(lead)


def summary_lines(a: Analysis) -> list[str]:
    """Plain sentences: cohort size, each biomarker's AUC with its interval, lead times."""
    lines = [f"{a.n_patients} diagnosed patients ({a.undiagnosed} more draws reached no "
             f"diagnosis within {a.settings['days']:g} days) and {a.n_controls} controls"
             + (f"; {len(a.failed)} runs failed" if a.failed else "")]
    for name, r in a.rocs.items():
        need = "—" if r.n_for_power is None else str(r.n_for_power)
        lines.append(f"{name}: AUC {r.auc:.3f} (95 % CI {r.ci[0]:.3f}–{r.ci[1]:.3f}); at "
                     f"cut-off {_unlog(name, r.cutoff):.3g} sensitivity {r.sensitivity:.0%}, "
                     f"specificity {r.specificity:.0%}; patients for 80 % power: {need}")
    if a.monitored:
        lines.append(f"monitoring: {a.monitored} treated patients, {a.remissions} complete "
                     f"remissions, {a.relapses} relapses after remission")
        rfs = a.relapse_free
        if rfs is not None:
            def months(days: float) -> str:
                return "not reached" if math.isinf(days) else f"{days / 30.44:.1f}"
            year = "" if math.isnan(rfs.at_one_year) else \
                f"; relapse-free 1 year after CR: {rfs.at_one_year:.0%}"
            lines.append(f"relapse-free survival after CR (Kaplan–Meier, {rfs.patients} "
                         f"patients, {rfs.relapses} relapses, observed up to "
                         f"{rfs.longest_follow_up:.0f} days after CR): median {months(rfs.median)} "
                         f"months (95 % CI {months(rfs.interval[0])}–"
                         f"{months(rfs.interval[1])}){year}")
        for name, leads in a.lead_times.items():
            if leads:
                lines.append(f"{name}: median lead time over marrow relapse "
                             f"{np.median(leads):.0f} days ({len(leads)} relapses; missed "
                             f"{a.missed[name]})")
    for f in a.findings:
        lines.append(f"finding {f['name']}: {f['verdict']} — {f['detail']}")
    return lines


def is_finite(x: float) -> bool:
    return x is not None and math.isfinite(x)
