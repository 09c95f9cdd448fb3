"""The interventions of the scenarios, in runs of the AML preset: each changes exactly what
it should (and nothing else it could be mistaken for)."""

from __future__ import annotations

import numpy as np
import pytest

import evniche
from evniche.compile.interventions import build_schedule
from evniche.engines import prepare

DAYS = 2.0
#: the first two days isolate what an intervention changes when the marrow holds no blasts
#: yet (the preset starts with founder blasts, blast_seed, whose EVs would carry knock-on
#: effects, e.g. less FGF2 uptake -> slower blasts -> fewer exosomes taken up)
NO_FOUNDER_BLASTS = {"parameters.blast_seed": 0, "parameters.blast_seed.range": [0, 1.0e7]}


@pytest.fixture(scope="module")
def control():
    return evniche.simulate("aml", days=DAYS, output_hours=6.0, overrides=NO_FOUNDER_BLASTS)


@pytest.fixture(scope="module")
def aml_net():
    return prepare("aml")[0]


@pytest.fixture(scope="module")
def diagnosis() -> float:
    """The untreated run's diagnosis day (20 % marrow blasts), days."""
    from evniche.readouts.clinical import diagnosis_day

    day = diagnosis_day(evniche.simulate("aml", days=400.0, output_hours=24.0))
    assert day is not None
    return day


def _secretion(ds, cls: str):
    keys = [str(b) for b in ds["behavior"].values if f".secretion:{cls}" in str(b)]
    assert keys, cls
    return ds["behaviors"].sel(behavior=keys)


def test_nsmase2_inhibitor_leaves_microvesicle_secretion_unchanged(control):
    treated = evniche.simulate("aml", days=DAYS, output_hours=6.0,
                               overrides=NO_FOUNDER_BLASTS, interventions=[
        {"name": "nsmase2_inhibitor", "start": 0, "options": {"efficacy": 0.5}}])
    for cls in ("microvesicle", "oncosome"):
        np.testing.assert_allclose(_secretion(treated, cls), _secretion(control, cls),
                                   rtol=1e-9, err_msg=cls)
    # exosomes of every source at half the rate, to the last sample of the run — except
    # the reprogrammed-MSC pool, which falls further: fewer leukemic exosomes reprogram
    # fewer MSCs (a consequence, not a second target of the inhibitor)
    exo_t, exo_c = _secretion(treated, "exosome"), _secretion(control, "exosome")
    direct = [str(b) for b in exo_c["behavior"].values if not str(b).endswith(".reprogrammed")]
    np.testing.assert_allclose(exo_t.sel(behavior=direct) / exo_c.sel(behavior=direct), 0.5,
                               rtol=1e-4)
    reprogrammed = "MSC.secretion:exosome.reprogrammed"
    assert bool((exo_t.sel(behavior=reprogrammed)[1:]
                 < 0.5 * exo_c.sel(behavior=reprogrammed)[1:]).all())


def test_annexin_v_leaves_ps_negative_vesicles_alone(aml_net, control):
    s = build_schedule(aml_net, [{"name": "annexin_v", "start": 0,
                                  "options": {"efficacy": 0.8}}], DAYS)
    _, upt, _ = s.modifiers(0.0, len(aml_net.behaviors), len(aml_net.uptakes),
                            len(aml_net.pools))
    ps = np.array([aml_net.pools[r.pool].ps_exposed for r in aml_net.uptakes])
    assert ps.any() and (~ps).any()
    np.testing.assert_allclose(upt[ps], 0.2)
    np.testing.assert_allclose(upt[~ps], 1.0)
    # in a run: uptake of PS-negative pools (exosomes) is what it is without annexin V,
    # uptake of PS-exposing pools (microvesicles, apoptotic bodies, oncosomes) falls
    treated = evniche.simulate("aml", days=DAYS, output_hours=6.0,
                               overrides=NO_FOUNDER_BLASTS, interventions=[
        {"name": "annexin_v", "start": 0, "options": {"efficacy": 0.8}}])
    negative = [p for p, v in zip(control["pool"].values, control["pool_ps"].values,
                                  strict=True) if not v]
    positive = [p for p, v in zip(control["pool"].values, control["pool_ps"].values,
                                  strict=True) if v]
    taken = "ledger", {"term": "taken_up", "time": DAYS}
    c = control[taken[0]].sel(**taken[1])
    t = treated[taken[0]].sel(**taken[1])
    np.testing.assert_allclose(t.sel(pool=negative), c.sel(pool=negative), rtol=1e-5,
                               atol=1e-2)  # EVs: the solver's absolute tolerance is 1e-3
    moved = c.sel(pool=positive) > 0
    assert bool((t.sel(pool=positive)[moved] < 0.5 * c.sel(pool=positive)[moved]).all())


def test_column_removes_only_marker_positive_evs_at_flow_times_efficiency():
    flow_ml_min, efficiency = 50.0, 0.8
    ds = evniche.simulate("aml", days=1.0, output_hours=0.02, interventions=[
        {"name": "plasmapheresis", "start": "6 h",
         "options": {"marker": "PD-L1", "flow": f"{flow_ml_min} mL/min",
                     "efficiency": efficiency, "sessions": 1, "session_length": "2 h"}}])
    removed = ds["ledger"].sel(term="removed").isel(time=-1)
    pdl1 = [p for p, m in zip(ds["pool"].values, ds["pool_markers"].values, strict=True)
            if "PD-L1" in str(m).split(";")]
    # marrow blasts and circulating blasts both make PD-L1+ exosomes
    assert sorted(pdl1) == ["blast.exosome.PDL1", "blast_blood.exosome.PDL1"]
    assert float(removed.sel(pool=pdl1).sum()) > 0
    assert float(removed.drop_sel(pool=pdl1).sum()) == 0.0
    # removed = rate × ∫ plasma EVs dt over the session, rate = flow / plasma × efficiency
    rate = flow_ml_min * 60.0 / ds.attrs["volume_blood_mL"] * efficiency  # 1/h
    t_h = ds["time"].values * 24.0
    inside = (t_h >= 6.0 - 1e-9) & (t_h <= 8.0 + 1e-9)
    for pool in pdl1:
        blood = ds["ev"].sel(pool=pool, compartment="blood")
        expected = rate * np.trapezoid(blood.values[inside], t_h[inside])
        assert float(removed.sel(pool=pool)) == pytest.approx(expected, rel=2e-3)
    assert ds.attrs["ledger_relative_error"] < 1e-9


def test_column_frees_blood_cd8_t_cells_more_than_marrow_ones(diagnosis):
    """PD-L1+ EVs suppress CD8 T cells where they meet them. Blood CD8 T cells meet the
    plasma EVs the column removes; marrow ones see only the ~1 % of plasma EVs that home
    back (homing / (clearance + homing)). With blasts present (the untreated run's
    diagnosis day, 20 % marrow blasts) a session raises the killing capacity of blood CD8 T
    cells and that of marrow ones far less."""
    start, hours = diagnosis, 2.0
    column = {"name": "plasmapheresis", "start": start,
              "options": {"marker": "PD-L1", "sessions": 1, "session_length": f"{hours} h"}}
    end = start + hours / 24.0
    runs = [evniche.simulate("aml", days=end, output_hours=hours, interventions=iv)
            for iv in ([], [column])]
    blood, kill = ({}, {})
    for arm, ds in zip(("control", "column"), runs, strict=True):
        last = ds.sel(time=end, method="nearest")
        blood[arm] = float(last["ev_concentration"].sel(pool="blast.exosome.PDL1",
                                                        compartment="blood"))
        kill[arm] = {c: float(last["behaviors"].sel(behavior=f"{c}.kill:blast"))
                     for c in ("CD8_T", "CD8_T_blood")}
    assert blood["column"] < 0.95 * blood["control"]  # plasma PD-L1+ EVs fall
    gain = {c: kill["column"][c] / kill["control"][c] - 1.0 for c in kill["control"]}
    assert gain["CD8_T_blood"] > 0.0
    assert 0.0 <= gain["CD8_T"] < 0.1 * gain["CD8_T_blood"]


def test_protective_cargo_divides_blast_division_failure_under_7_3(aml_net, diagnosis):
    """Under 7+3 the failed share of blast divisions is PhysiCell's combination of the
    rules, by hand: the drugs raise it to u = (h_c + h_d) / (1 + h_c + h_d) with h = level /
    EC50 (Hill 1); BMP-2 (reprogrammed-MSC exosomes) and the resistance RNA (resistant
    blasts' exosomes) pull it toward 0, dividing it by 1 + h_BMP2 + h_RNA (about 3.6 at
    diagnosis in this preset, the main reason 7+3 kills few blasts here:
    docs/sources/clinical-course.md note 11)."""
    p = aml_net.params
    ds = evniche.simulate("aml", days=diagnosis + 4.0, output_hours=6.0,
                          interventions=[{"name": "induction_7_3", "start": diagnosis}])
    at = ds.sel(time=diagnosis + 3.0, method="nearest")
    h_c = float(at["drugs"].sel(drug="cytarabine")) / p["cytarabine_ec50"]
    h_d = float(at["drugs"].sel(drug="daunorubicin")) / p["daunorubicin_ec50"]
    u = (h_c + h_d) / (1.0 + h_c + h_d)
    rules = [str(r) for r in ds["rule"].values]

    def signal(prefix: str) -> float:
        k = next(i for i, r in enumerate(rules) if r.startswith(prefix))
        return float(at["rule_signals"][k])

    h_bmp2 = signal("blast: cargo:BMP-2 decreases") / p["chemoprotection_half_max"]
    h_rna = signal("blast: cargo:chemoresistance_rna decreases") / p["resistance_rna_half_max"]
    failure = float(at["behaviors"].sel(behavior="blast.division_failure"))
    assert failure == pytest.approx(u / (1.0 + h_bmp2 + h_rna), rel=1e-6)
    assert h_c == pytest.approx(300.0 / 100.0, rel=0.01)  # the infusion's steady state

