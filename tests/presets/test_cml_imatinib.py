"""The CML preset under imatinib 400 mg daily: the dose schedule gives the published
steady-state plasma levels, and imatinib acts per compartment (docs/sources/cml.md,
"Imatinib per compartment"): the divisions of BCR-ABL1+ progenitors and precursors fail;
the stem cells are not killed and only lose their renewal advantage. Expected values are
derived by hand from docs/sources/cml.md."""

from __future__ import annotations

import math

import pytest

import evniche
from evniche.compile.interventions import build_schedule
from evniche.engines import prepare
from evniche.readouts.molecular import bcr_abl_is, first_day_at_or_above, log_slope

#: imatinib: terminal half-life ~18 h (Peng 2005); IRIS trough 979 ng/mL (Larson 2008) /
#: 493.6 g/mol = 1.98 uM
HALF_LIFE_H, TROUGH_NM = 18.0, 1980.0
#: the share of a dose left after a day: 2^(-24/18) = 0.39685
KEEP = 2.0 ** (-24.0 / HALF_LIFE_H)
#: each dose adds trough (1 - keep) / keep = 3009 nM; steady-state peak = dose / (1 - keep)
DOSE_NM = TROUGH_NM * (1 - KEEP) / KEEP
PEAK_NM = DOSE_NM / (1 - KEEP)


@pytest.fixture(scope="module")
def cml_net():
    return prepare("cml")[0]


def test_the_daily_dose_gives_the_iris_trough_and_the_published_peak(cml_net):
    assert DOSE_NM == pytest.approx(3009.3, abs=0.5)
    # Peng 2005: 2.6 +- 0.8 ug/mL at the steady-state peak = 5.27 +- 1.6 uM
    assert PEAK_NM == pytest.approx(4989.3, abs=0.5)
    assert 2.6e6 / 493.6 - 1.6e3 < PEAK_NM < 2.6e6 / 493.6 + 1.6e3
    schedule = build_schedule(cml_net, [{"name": "imatinib_400mg", "start": 10}], 40.0)
    jumps = schedule.jumps
    assert [j.time for j in jumps] == [240.0 + 24.0 * k for k in range(30)]  # days 10-39
    assert {j.species for j in jumps} == {"drug:imatinib"}
    assert all(j.amount == pytest.approx(DOSE_NM, rel=1e-9) for j in jumps)


def test_duration_and_trough_options_and_the_aliases(cml_net):
    short = build_schedule(cml_net, [{"name": "imatinib_daily", "start": 0,
                                      "options": {"duration": "7 day"}}], 40.0)
    assert len(short.jumps) == 7
    low = build_schedule(cml_net, [{"name": "imatinib_400", "start": 0,
                                    "options": {"trough": "1 uM"}}], 2.0)
    assert low.jumps[0].amount == pytest.approx(1000.0 * (1 - KEEP) / KEEP, rel=1e-9)


def test_the_steady_state_trough_in_a_run_is_the_iris_trough():
    ds = evniche.simulate("cml", days=12, interventions=[{"name": "imatinib_400mg",
                                                          "start": 0.5}], output_hours=6.0)
    drug = ds["drugs"].sel(drug="imatinib")
    # day 11.25 is 18 h after the dose of day 10.5; by hand: peak · 2^(-18/18)
    assert float(drug.sel(time=11.25)) == pytest.approx(PEAK_NM / 2, rel=0.01)


def test_imatinib_acts_per_compartment_at_the_plasma_level():
    """Each rule by hand, with h = imatinib / EC50 (1 uM) and the share h/(1+h) of the way to
    the rule's saturation: stem cells lose their renewal advantage over HSCs (0.85 -> 0.8,
    Corbin 2011) and are not killed; progenitor and precursor divisions fail (share 1 at
    saturation)."""
    ds = evniche.simulate("cml", days=3, interventions=[{"name": "imatinib_400mg",
                                                         "start": 0.5}], output_hours=6.0)
    drug = ds["drugs"].sel(drug="imatinib").values
    share = (drug / 1000.0) / (1 + drug / 1000.0)
    behaviors = ds["behaviors"]

    def behavior(name: str):
        return behaviors.sel(behavior=name).values

    assert share[0] == 0 and share[-1] > 0.6
    assert behavior("CML_LSC.self_renewal") == pytest.approx(0.85 - share * (0.85 - 0.8),
                                                             rel=1e-6)
    assert behavior("CML_progenitor.division_failure") == pytest.approx(share, rel=1e-6)
    assert behavior("CML_precursor.division_failure") == pytest.approx(share, rel=1e-6)
    # the stem cells have no failed divisions and no death for imatinib to raise
    names = {str(n) for n in behaviors["behavior"].values}
    assert "CML_LSC.division_failure" not in names and "CML_LSC.death" not in names


@pytest.fixture(scope="module")
def course():
    """Untreated CML until BCR-ABL1 in blood reaches 95 % IS, then imatinib for 270 days."""
    untreated = evniche.simulate("cml", days=300)
    dx = first_day_at_or_above(bcr_abl_is(untreated), 95.0)
    assert dx is not None
    treated = evniche.simulate("cml", days=dx + 270, interventions=[
        {"name": "imatinib_400mg", "start": dx}])
    return untreated, treated, dx


def test_untreated_bcr_abl1_doubles_as_fast_as_it_does_off_imatinib(course):
    untreated, _, _ = course
    # Branford 2012 (Blood 119:4264): after imatinib is stopped BCR-ABL1 doubles in a median
    # 9.0 days (range 6.9-26.5): growth ln 2 / 26.5 = 0.026 ... ln 2 / 6.9 = 0.100 per day,
    # measured at low levels, where % IS = 100 L / (L + N) ≈ 100 L / N. The model's clone is
    # past 10 % by day 30, so the growth of L / N = level / (100 - level) is read instead
    # (days 30-90, after the seeded progenitors have filled the empty later stages)
    level = bcr_abl_is(untreated)
    growth = log_slope(level / (100.0 - level), 30.0, 90.0)
    assert math.log(2) / 26.5 < growth < math.log(2) / 6.9


def test_the_two_slopes_are_the_post_mitotic_transit_and_the_stem_cells(course):
    _, ds, dx = course
    level = bcr_abl_is(ds)
    cells = ds["cells"]

    def count(name: str, day: float) -> float:
        return float(cells.sel(cell_type=name, time=day))

    def fall(name: str, a: float, b: float) -> float:
        return count(name, b) / count(name, a)

    # BCR-ABL1+ granulocytes come from a post-mitotic marrow pool that imatinib does not hit
    # and that empties into blood at 1 / 5.8 per day (Lahoz-Beneytez 2016): even with its
    # inflow stopped at once, blood loses them no faster than ln(fall) = -30 / 5.8 in 30 days
    assert fall("CML_granulocyte", dx, dx + 30) > math.exp(-30 / 5.8)
    # the cycling progenitors fall by orders of magnitude in a month (failed divisions)
    assert fall("CML_progenitor", dx, dx + 30) < 1e-3
    # fast slope: once the dividing stages have collapsed (within ~3 weeks), blood follows the
    # post-mitotic pool as it drains at its exit rate 1 / 5.8 per day, the normal cells being
    # back at their level: d ln(% IS)/dt = -1/5.8 = -0.172 per day (months 1.5-3)
    fast = log_slope(level, dx + 45, dx + 91)
    assert fast == pytest.approx(-1 / 5.8, rel=0.05)
    # the stem cells are not depleted: no rule kills them and their renewal stays at or above
    # the HSCs' (0.85 - 0.83 · 0.05 >= 0.8 at the peak level), so they keep their share
    assert fall("CML_LSC", dx, dx + 270) >= fall("HSC", dx, dx + 270)
    assert fall("CML_LSC", dx, dx + 270) >= 1.0
    # slow slope: at the drug's steady state the leukemic output is the stem cells' flux times
    # fixed stage factors, over a recovered normal output, so % IS moves as the stem cells do
    late = log_slope(level, dx + 180, dx + 270)
    lsc_rate = math.log(fall("CML_LSC", dx + 180, dx + 270)) / 90.0
    assert late == pytest.approx(lsc_rate, abs=1e-4)
    assert abs(fast) > 100 * abs(late)


def test_the_scenario_windows_are_the_published_ranges():
    """Both ends of each CML scenario come from data (docs/sources/cml.md): the readout is
    log10 % IS (2 untreated), so effect = -(log reduction) / 2."""
    from evniche.experiments.catalog import catalog

    first = catalog()["cml-imatinib-first-slope"]
    # Tang 2011: first slope 0.052 +- 0.018 per day; mean +- 2 SD over 91 days, in log10
    low, high = ((0.052 - 2 * 0.018) * 91 / math.log(10), (0.052 + 2 * 0.018) * 91 / math.log(10))
    assert (first.margin, first.most) == pytest.approx((low / 2, high / 2), abs=0.005)
    year = catalog()["cml-imatinib-12-month-response"]
    # ELN 2013: > 1 % IS at 12 months is failure (>= 2 logs); MR4.5 (4.5 logs) still measurable
    assert (year.margin, year.most) == pytest.approx((2 / 2, 4.5 / 2))
    assert first.expected == year.expected == -1
