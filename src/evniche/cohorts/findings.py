"""Published biomarker AUCs as findings a virtual cohort is checked against
(calibration_targets.md, ROC rows). A finding names the model, the cohort biomarker(s) that
stand for the published one and the published AUC with its interval; it is *reproduced*
when the published interval (or the published point, without one) overlaps the cohort's
95 % bootstrap interval for every biomarker it names, *not reproduced* otherwise, and *not
evaluable* when the cohort has none of its biomarkers or cannot sample its stratum.
Nothing here is tuned: the cohort's AUC comes from the model's mechanisms and the assays.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True)
class CohortFinding:
    """A published AUC: ``biomarkers`` are cohort biomarker names or globs (``qpcr_*``);
    ``proxy`` a stand-in used when the model lacks them (said so in the verdict);
    ``stratum`` ``diagnosis`` (patients at diagnosis vs controls) or ``mrd`` (residual
    disease; not sampled by the diagnostic cohort)."""

    name: str
    model: str
    summary: str
    biomarkers: tuple[str, ...]
    auc: float
    interval: tuple[float, float] | None
    source: str
    proxy: tuple[str, ...] = ()
    stratum: str = "diagnosis"

    def evaluate(self, analysis) -> dict:
        """The verdict of this finding on ``analysis`` (an
        :class:`evniche.cohorts.analysis.Analysis`): name, verdict, detail."""
        out = {"name": self.name, "summary": self.summary, "published": self.auc,
               "interval": self.interval, "source": self.source}
        if self.stratum != "diagnosis":
            return {**out, "verdict": "not evaluable", "detail": "needs patients sampled at "
                    "measurable residual disease; the cohort samples at diagnosis"}
        names = _match(self.biomarkers, analysis.rocs)
        note = ""
        if not names and self.proxy:
            names = _match(self.proxy, analysis.rocs)
            note = (f"the model has no {', '.join(self.biomarkers)}; proxy "
                    f"{', '.join(names)}: ")
        if not names:
            return {**out, "verdict": "not evaluable",
                    "detail": f"the cohort has no biomarker {', '.join(self.biomarkers)}"}
        low, high = self.interval or (self.auc, self.auc)
        parts, ok = [], True
        for n in names:
            r = analysis.rocs[n]
            hit = r.ci[0] <= high and low <= r.ci[1]
            ok &= hit
            parts.append(f"{n} AUC {r.auc:.3f} (95 % CI {r.ci[0]:.3f}–{r.ci[1]:.3f})")
        published = f"published {self.auc:g}" + (f" ({low:g}–{high:g})" if self.interval
                                                  else "")
        return {**out, "verdict": "reproduced" if ok else "not reproduced",
                "detail": note + "; ".join(parts) + f" vs {published}"}


def _match(patterns: tuple[str, ...], names) -> list[str]:
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


@dataclass(frozen=True)
class RelapseFreeFinding:
    """A published median relapse-free survival after complete remission (days), checked
    against the Kaplan–Meier median of a ``--monitoring`` cohort: *reproduced* when the
    published median lies in the cohort median's 95 % interval, *not reproduced* when it
    lies outside, *not evaluable* without monitored remissions or when the follow-up ends
    before the published median while the cohort's median is not reached."""

    name: str
    model: str
    summary: str
    median_days: float
    source: str

    def evaluate(self, analysis) -> dict:
        import math

        out = {"name": self.name, "summary": self.summary, "published": self.median_days,
               "interval": None, "source": self.source}
        rfs = getattr(analysis, "relapse_free", None)
        if rfs is None:
            return {**out, "verdict": "not evaluable",
                    "detail": "needs a --monitoring cohort with patients in remission"}
        if math.isinf(rfs.median) and rfs.longest_follow_up < self.median_days:
            return {**out, "verdict": "not evaluable",
                    "detail": f"median not reached within {rfs.longest_follow_up:.0f} days "
                              f"of follow-up, shorter than the published "
                              f"{self.median_days:.0f}: give --followup-days"}
        low, high = rfs.interval
        ok = low <= self.median_days <= high
        shown = "not reached" if math.isinf(rfs.median) else f"{rfs.median:.0f}"
        return {**out, "verdict": "reproduced" if ok else "not reproduced",
                "detail": f"cohort median relapse-free survival {shown} days (95 % CI "
                          f"{low:.0f}–{high:.0f}; {rfs.patients} patients in CR, "
                          f"{rfs.relapses} relapses) vs published {self.median_days:.0f} "
                          "days"}
