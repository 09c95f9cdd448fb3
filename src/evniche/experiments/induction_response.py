"""Response to 7+3 induction as a function of the resistant-subclone share, and the
calibration of that share as a between-patient distribution on published CR rates.

The ``aml`` preset's chemoresistant subclone (``resistant_share``: the share of the
leukemic founder cells that resist both drugs ``resistant_fold`` times) is a patient
property that varies between patients. Taken as log-uniform over ``decades`` decades
(an assumed family), and with CR reached exactly by the patients whose share lies below a
threshold share s* (the response falls with the share: more resistant cells, more
regrowth), the CR rate of a cohort is the share of the distribution below s*::

    P(CR) = (log10 s* − log10 lo) / decades      (lo <= s* <= lo · 10^decades)

so a published CR rate q fixes the distribution: lo = s* · 10^(−q · decades), and its
median (the typical patient) is the geometric middle, lo · 10^(decades / 2).
:func:`response` measures one patient (wellmixed engine), :func:`threshold_share` finds
s* on a grid and :func:`calibrate` places the distribution; without any share that reaches
CR (s* does not exist) the share cannot be calibrated on a CR rate, and :func:`calibrate`
says so. Run ``python -m evniche.experiments.induction_response`` for the measured table
(docs/sources/clinical-course.md item 16).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import EvnicheError

#: Ohtake 2011 (JALSG AML201, Blood 117:2358; docs/sources/clinical-course.md O3): CR after
#: 7-day cytarabine + anthracycline in 407 of 525 (daunorubicin) and 416 of 532
#: (idarubicin) patients under 65
CR_RATE_O3 = (407 + 416) / (525 + 532)
#: assumption: the between-patient spread of the resistant share, in decades (a share from
#: 1 in 10^4 of the leukemic cells to all of them; range 2-4)
DECADES = 4.0
#: the untreated run's length (days) in which the patient presents
PRESENTATION_DAYS = 365.0
#: how long after presentation CR and relapse are looked for (days)
FOLLOW_UP_DAYS = 120.0


@dataclass(frozen=True)
class Response:
    """One patient's course after 7+3 at presentation (days from the start of 7+3)."""

    share: float
    presentation_day: float | None
    blasts_day16: float | None  # marrow blast % on day +16 (O5)
    remission: float | None  # days from the start of 7+3 to CR, None: refractory
    relapse: float | None  # days from the start of 7+3 to relapse after CR


def response(share: float, overrides: dict | None = None,
             follow_up: float = FOLLOW_UP_DAYS) -> Response:
    """The measured course of the ``aml`` preset with ``resistant_share`` = ``share``
    (dimensionless, 0-1) and ``overrides``: presentation in the untreated run, 7+3 at the
    first daily sample that meets it, CR and relapse by :func:`evniche.readouts.clinical.
    course` within ``follow_up`` days (induction only: consolidation follows CR)."""
    import evniche

    from ..readouts import clinical

    if not 0.0 <= share <= 1.0:
        raise EvnicheError(f"resistant share {share!r}: expected a fraction from 0 to 1")
    over = {"parameters.resistant_share.range": [0.0, 1.0],
            "parameters.resistant_share": float(share), **(overrides or {})}
    untreated = evniche.simulate("aml", days=PRESENTATION_DAYS, output_hours=24.0,
                                 overrides=over)
    k = clinical.diagnosis_sample(untreated)
    if k is None:
        return Response(share, None, None, None, None)
    start = float(untreated["time"].values[k])
    treated = evniche.simulate("aml", days=start + follow_up, output_hours=6.0,
                               overrides=over,
                               interventions=[{"name": "induction_7_3", "start": start}])
    c = clinical.course(treated)
    blasts16 = float(clinical.value_at(clinical.blast_percent(treated), start + 16.0))
    cr, relapse = c["remission_day"], c["relapse_day"]
    return Response(share, start, blasts16,
                    None if cr is None else cr - start,
                    None if relapse is None else relapse - start)


#: overrides that start the ``aml`` preset without a leukemia (no founder cells)
NO_LEUKEMIA = {"parameters.lsc_seed.range": [0, 1000], "parameters.lsc_seed": 0,
               "parameters.blast_seed.range": [0, 1.0e7], "parameters.blast_seed": 0}
#: ANC 0.5e9/L (the count of O6) over the healthy median ANC of about 4e9/L
ANC_HALF = 0.5 / 4.0


def normal_recovery_days(overrides: dict | None = None, level: float = ANC_HALF,
                         start: float = 5.0) -> float | None:
    """Days from the start of 7+3 until normal blood output, past its nadir, is back at
    ``level`` × its healthy (day-0) value, in the ``aml`` preset without a leukemia
    (:data:`NO_LEUKEMIA`) and with ``overrides``; None if it never is within 90 days.
    O6 (Ciftciler 2020) measures ANC >= 0.5e9/L: a median 28 days (13-51) from day 1."""
    import numpy as np

    import evniche

    from ..readouts import clinical

    ds = evniche.simulate("aml", days=start + 90.0, output_hours=6.0,
                          overrides={**NO_LEUKEMIA, **(overrides or {})},
                          interventions=[{"name": "induction_7_3", "start": start}])
    out = np.asarray(clinical.normal_blood_output(ds).values, dtype=float)
    t = np.asarray(ds["time"].values, dtype=float)
    nadir = int(np.argmin(out))
    back = clinical.first_crossing(t[nadir:], out[nadir:] / out[0], level)
    return None if back is None else back - start


def threshold_share(responses: Sequence[Response]) -> float | None:
    """s*: the largest share of the grid whose patient reaches CR, provided every smaller
    share does too (the response must fall with the share); None if no share reaches CR."""
    ordered = sorted(responses, key=lambda r: r.share)
    best = None
    for r in ordered:
        if r.remission is None:
            break
        best = r.share
    later = [r for r in ordered if best is not None and r.share > best]
    if any(r.remission is not None for r in later):
        raise EvnicheError("CR is not monotone in the resistant share on this grid: "
                           "no single threshold share")
    return best


def refine_threshold(low: float, high: float, steps: int = 6,
                     overrides: dict | None = None) -> tuple[float, float]:
    """Bisect s* in log10 between a share ``low`` whose patient reaches CR and a share
    ``high`` whose patient does not: (largest share measured with CR, smallest without)
    after ``steps`` halvings of the log interval."""
    if response(low, overrides).remission is None or response(high, overrides).remission:
        raise EvnicheError(f"shares {low:g} and {high:g} do not bracket the CR threshold")
    for _ in range(steps):
        mid = math.sqrt(low * high)
        if response(mid, overrides).remission is None:
            high = mid
        else:
            low = mid
    return low, high


def calibrate(threshold: float | None, cr_rate: float = CR_RATE_O3,
              decades: float = DECADES) -> tuple[float, float, float]:
    """(lo, median, hi) of a log-uniform share distribution over ``decades`` decades whose
    CR rate is ``cr_rate`` when the patients below ``threshold`` (s*) reach CR:
    lo = s*·10^(−q·decades), median = lo·10^(decades/2), hi = lo·10^decades."""
    if threshold is None:
        raise EvnicheError("no resistant share reaches complete remission after 7+3 (not "
                           "even none): the share cannot be calibrated on a CR rate")
    if not 0.0 < cr_rate < 1.0 or decades <= 0:
        raise EvnicheError(f"CR rate {cr_rate!r} and decades {decades!r}: expected 0 < rate "
                           "< 1 and decades > 0")
    if threshold <= 0.0:
        raise EvnicheError("only patients without a resistant subclone reach CR: a "
                           "log-uniform share cannot place a CR rate")
    lo = threshold * 10.0 ** (-cr_rate * decades)
    return lo, lo * 10.0 ** (decades / 2.0), lo * 10.0 ** decades


def grid(low: float = 1e-4, high: float = 1.0, per_decade: int = 2) -> list[float]:
    """Shares log-spaced from ``low`` to ``high`` (``per_decade`` points a decade), with 0
    (no subclone) first."""
    n = round(math.log10(high / low) * per_decade)
    return [0.0] + [low * 10.0 ** (i / per_decade) for i in range(n + 1)]


def table(responses: Sequence[Response]) -> str:
    """The measured responses as a markdown table."""
    def day(x: float | None) -> str:
        return "—" if x is None else f"d+{x:.1f}"

    rows = ["| resistant share | presentation day | marrow blasts d+16 | CR | relapse |",
            "|---|---|---|---|---|"]
    for r in responses:
        rows.append(f"| {r.share:.3g} | "
                    f"{'—' if r.presentation_day is None else f'{r.presentation_day:.0f}'} | "
                    f"{'—' if r.blasts_day16 is None else f'{r.blasts_day16:.2g} %'} | "
                    f"{day(r.remission) if r.remission is not None else 'no (refractory)'} | "
                    f"{day(r.relapse)} |")
    return "\n".join(rows)


def main() -> None:  # pragma: no cover - the measured table of item 16
    responses = [response(s) for s in grid(1e-6)]
    print(table(responses))
    s_star = threshold_share(responses)
    if s_star is not None:
        above = min(r.share for r in responses if r.share > s_star)
        low, high = refine_threshold(max(s_star, 1e-7), above)
        print(f"s* between {low:.4g} (CR) and {high:.4g} (refractory)")
        s_star = low
    try:
        lo, median, hi = calibrate(s_star)
        print(f"s* = {s_star:.3g}; log-uniform {lo:.3g}-{hi:.3g}, median {median:.3g}")
    except EvnicheError as exc:
        print(f"not calibrated: {exc}")


if __name__ == "__main__":  # pragma: no cover
    main()
