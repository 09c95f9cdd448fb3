"""The CML preset under imatinib 400 mg daily: the dose schedule gives the published
steady-state plasma levels, and the BCR-ABL1+ lineage is Michor et al. 2005's four compartments
(Nature 435:1267, doi:10.1038/nature03669; docs/sources/cml.md, "Michor compartments"): stem
cells, progenitors, differentiated and terminally differentiated cells, each with Michor's
production rate and turnover; imatinib cuts what the stem cells and the progenitors produce
(100-fold and 750-fold at the IRIS trough) and kills nothing. Expected values are Michor's
numbers, the IRIS trough and the published slopes, derived by hand (docs/sources/cml.md)."""

from __future__ import annotations

import math

import pytest

import evniche
from evniche.compile.interventions import build_schedule
from evniche.engines import prepare
from evniche.readouts.molecular import log_slope

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


#: Michor 2005 (docs/sources/cml.md T2), per day: turnovers of stem cells, progenitors and
#: differentiated cells; leukemic stem-cell proliferation; production per cell of the leukemic
#: stem cells, progenitors and differentiated cells; imatinib's cuts of a_y and b_y
D0, D1, D2 = 0.003, 0.008, 0.05
R_Y, A_Y, B_Y, C_Y = 0.008, 1.6, 10.0, 100.0
STEM_FOLD, PROGENITOR_FOLD = 100.0, 750.0
PER_DAY = 24.0  # behaviors are per hour


def test_the_compartments_are_michors_equations(cml_net):
    """With growth (2a - 1) p - death and output 2 (1 - a) p per cell (docs/model-format.md),
    the compiled rates are Michor's: dY0 = (r_y - d0) Y0 and a_y Y0 into the progenitors,
    dY1 = a_y Y0 - d1 Y1 and b_y Y1 out, dY2 = b_y Y1 - d2 Y2 and c_y Y2 out."""
    ds = evniche.simulate("cml", days=1, output_hours=24.0)

    def rate(key: str) -> float:
        return float(ds.behaviors.sel(behavior=key).isel(time=0))

    p, a = rate("CML_LSC.proliferation") * PER_DAY, rate("CML_LSC.self_renewal")
    assert (2 * a - 1) * p - rate("CML_LSC.death") * PER_DAY == pytest.approx(R_Y - D0, rel=1e-9)
    assert 2 * (1 - a) * p == pytest.approx(A_Y, rel=1e-9)
    for name, output, turnover in (("CML_progenitor", B_Y, D1), ("CML_precursor", C_Y, D2)):
        assert rate(f"{name}.self_renewal") == 0.5
        assert rate(f"{name}.proliferation") * PER_DAY == pytest.approx(output, rel=1e-9)
        if name == "CML_precursor":  # the progenitors' turnover is lowered by IL-8 (below)
            assert rate(f"{name}.death") * PER_DAY == pytest.approx(turnover, rel=1e-9)
    assert rate("CML_progenitor.death") * PER_DAY <= D1 * (1 + 1e-9)
    # the compartments start in Michor's quasi-steady state with the seeded stem cells
    cells = ds.cells.isel(time=0)
    y0 = float(cells.sel(cell_type="CML_LSC"))
    assert float(cells.sel(cell_type="CML_progenitor")) == pytest.approx(A_Y * y0 / D1)
    assert float(cells.sel(cell_type="CML_precursor")) == pytest.approx(A_Y * B_Y * y0 / D1 / D2)


def test_untreated_stem_cells_grow_at_michors_rate():
    # Michor: dY0/dt = (r_y - d0) Y0, neither the niche nor the feedback holds them
    ds = evniche.simulate("cml", days=60)
    assert log_slope(ds.cells.sel(cell_type="CML_LSC"), 10.0, 60.0) == \
        pytest.approx(R_Y - D0, rel=1e-3)


def test_imatinib_cuts_production_at_the_plasma_level_and_kills_nothing():
    """Each rule by hand: production p / (1 + c / half_max), half_max = IRIS trough / (fold - 1),
    so that at the trough (1.98 uM) the stem cells' production is cut 100-fold and the
    progenitors' 750-fold (Michor 2005); the differentiated cells' production and every
    turnover stay as they are."""
    ds = evniche.simulate("cml", days=3, interventions=[{"name": "imatinib_400mg",
                                                         "start": 0.5}], output_hours=6.0)
    off = evniche.simulate("cml", days=3, output_hours=6.0)
    drug = ds["drugs"].sel(drug="imatinib").values  # nM

    def behavior(run, name: str):
        return run.behaviors.sel(behavior=name).values * PER_DAY

    assert drug[0] == 0 and drug.max() > TROUGH_NM
    p0 = A_Y + R_Y
    assert behavior(ds, "CML_LSC.proliferation") == pytest.approx(
        p0 / (1 + drug / (TROUGH_NM / (STEM_FOLD - 1))), rel=1e-6)
    assert behavior(ds, "CML_progenitor.proliferation") == pytest.approx(
        B_Y / (1 + drug / (TROUGH_NM / (PROGENITOR_FOLD - 1))), rel=1e-6)
    # at the trough exactly Michor's folds
    assert p0 / (1 + TROUGH_NM / (TROUGH_NM / (STEM_FOLD - 1))) == pytest.approx(p0 / 100)
    assert behavior(ds, "CML_precursor.proliferation") == pytest.approx(C_Y, rel=1e-9)
    for name in ("CML_LSC.death", "CML_precursor.death", "CML_LSC.self_renewal"):
        assert behavior(ds, name) == pytest.approx(behavior(off, name), rel=1e-9), name
    names = {str(n) for n in ds.behaviors["behavior"].values}
    assert not any(n.endswith("division_failure") and n.startswith("CML") for n in names)


@pytest.fixture(scope="module")
def treated():
    """Imatinib from day 0, when Michor's compartments are in quasi-steady state."""
    return evniche.simulate("cml", days=150, interventions=[{"name": "imatinib_400mg",
                                                            "start": 0}])


def test_each_compartment_empties_at_its_own_turnover(treated):
    cells = treated.cells

    def slope(name: str, a: float, b: float) -> float:
        return log_slope(cells.sel(cell_type=name), a, b)

    # the differentiated cells lose their supply >= 750-fold and fall at their turnover d2,
    # the blood granulocytes (1/5.8 and 0.88 per day behind them) follow: Tang 2011 reads the
    # patients' first slope, -0.052 +- 0.018 per day, as this turnover
    assert slope("CML_precursor", 30, 90) == pytest.approx(-D2, rel=0.1)
    assert slope("CML_granulocyte", 30, 90) == pytest.approx(-D2, rel=0.1)
    # the progenitors lose their supply >= 100-fold and fall at their turnover d1 once the
    # IL-8 their EVs induced is gone (Tang's second slope, -0.0057 +- 0.0038 per day)
    assert slope("CML_progenitor", 90, 150) == pytest.approx(-D1, rel=0.15)
    # no compartment falls faster than its turnover: nothing is killed
    for name, turnover in (("CML_LSC", D0), ("CML_progenitor", D1), ("CML_precursor", D2)):
        assert slope(name, 1, 150) >= -turnover * (1 + 1e-3), name


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
