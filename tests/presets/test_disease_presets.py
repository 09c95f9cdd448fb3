"""The disease presets (CML, CLL, B-ALL, T-ALL, MM) on the well-mixed engine.

Each runs a year with its EV ledger closed; each disease-specific mechanism of the reviews,
switched off (its rule removed, or the EV pool that carries it blocked), moves the readout it
acts on in the direction the cited finding gives; patients' plasma EVs exceed healthy
plasma EVs, and the excess is secreted by the leukemic cells (it vanishes when they secrete
nothing). Nothing is compared with a number the model was set to produce.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest
import xarray as xr

import evniche
from evniche.readouts import clinical, liquid_biopsy
from evniche.spec.loader import load_model, locate, read_merged

DISEASES = ("cml", "cll", "all", "t_all", "mm")
DAYS = 365.0
#: a day while a chronic clone still expands
EXPANDING = 200.0
#: a day while the CML clone expands (Michor's compartments start in quasi-steady state with the
#: seeded stem cells, which grow at r_y - d0 = 0.005 per day: docs/sources/cml.md)
CML_EXPANDING = 120.0


def without_rules(name: str, drop: Callable[[dict], bool]):
    """Preset ``name`` with the rules for which ``drop(rule)`` is true removed."""
    data = copy.deepcopy(read_merged(locate(name)))
    kept = [r for r in data["rules"] if not drop(r)]
    assert len(kept) < len(data["rules"]), "the rule to switch off was not found"
    data["rules"] = kept
    return load_model(data)


def block(*pools: str, targets: tuple[str, ...] = ()) -> list[dict]:
    """An experimental knock-out of EV secretion from day 0: pools, or all pools of targets."""
    options: dict = {"pools": list(pools)} if pools else {"targets": list(targets)}
    return [{"name": "secretion_block", "start": 0, "options": options}]


def cells(ds: xr.Dataset, name: str, day: float = DAYS) -> float:
    return float(ds.cells.sel(cell_type=name).sel(time=day))


def plasma(ds: xr.Dataset, day: float = DAYS) -> float:
    return float(liquid_biopsy.plasma_concentration(ds).sum("vesicle_class").sel(time=day))


def cytokine(ds: xr.Dataset, name: str, day: float = DAYS) -> float:
    return float(ds.cytokines.sel(cytokine=name).sel(time=day))


@pytest.fixture(scope="module")
def healthy() -> xr.Dataset:
    return evniche.simulate("healthy", days=DAYS)


@pytest.fixture(scope="module")
def runs() -> dict[str, xr.Dataset]:
    return {name: evniche.simulate(name, days=DAYS) for name in DISEASES}


# ----------------------------------------------------------------------------- every preset
@pytest.mark.parametrize("name", DISEASES)
def test_preset_runs_a_year_with_the_ledger_closed(name, runs):
    ds = runs[name]
    assert ds.attrs["ledger_relative_error"] < 1e-9
    assert ds.attrs["disease"] != "healthy"
    leukemic = clinical.leukemic_marrow(ds)
    assert float(leukemic.isel(time=-1)) > float(leukemic.isel(time=0)) > 0  # the clone grows


@pytest.mark.parametrize("name", DISEASES)
def test_every_rule_cites_the_knowledge_base_or_says_why_not(name):
    model = evniche.load_model(name)
    for rule, path in model.rules:
        assert rule.kb or rule.note, f"{name} {path}: no knowledge-base id and no note"


@pytest.mark.parametrize("name", DISEASES)
def test_plasma_evs_exceed_healthy_through_leukemic_secretion(name, runs, healthy):
    # seed 003 [20, 21]: serum EV number is higher in HM patients; seed 000 [34-38]
    base = plasma(healthy)
    assert plasma(runs[name]) > 1.05 * base
    silent = evniche.simulate(name, days=DAYS, interventions=block(targets=("leukemic",)))
    # no excess without leukemic secretion; a clone that displaces normal marrow cells
    # (EV sources themselves) may leave plasma EVs a little below healthy
    assert 0.97 * base < plasma(silent) < 1.02 * base


@pytest.mark.parametrize("name", DISEASES)
def test_plasma_carries_leukemic_mir155(name, runs, healthy):
    # seed 003 [20, 21]: EV oncomiRNA-155 is higher in HM patients' serum
    def mir155(ds):
        table = liquid_biopsy.cargo_per_ml(ds)
        if "miR-155" not in table["cargo"].values:
            return 0.0
        return float(table.sel(cargo="miR-155").isel(time=-1))

    # healthy blood-cell exosomes carry miR-155 too (at an upper-bound copy number), so
    # "higher" is measured against a real baseline, with the scenario catalog's 5 % margin
    assert mir155(healthy) > 0
    assert mir155(runs[name]) > 1.05 * mir155(healthy)


# ----------------------------------------------------------------------------- CML
def test_cml_granulocyte_exosomes_carry_a_blood_cells_mir155():
    """BCR-ABL1+ granulocytes are blood cells: their exosomes carry the hematopoietic
    miR-155 at a healthy blood cell's copy number (no leukemic enrichment), plus BCR-ABL1."""
    def exosome_cargo(model, cell_type):
        return next(s.cargo for s in model.spec.cell_types[cell_type].secretion
                    if s.vesicle_class == "exosome")

    cml = exosome_cargo(load_model("cml"), "CML_granulocyte")
    blood = exosome_cargo(load_model("healthy"), "blood_cells")
    assert cml["miR-155"] == blood["miR-155"] == "blood_mir155_per_ev"
    assert "BCR-ABL1" in cml


def test_cml_exosomes_raise_msc_il8_which_keeps_cml_cells_alive(runs):
    ds = runs["cml"]
    off = evniche.simulate(without_rules("cml", lambda r: r["behavior"] == "production:IL-8"),
                           days=DAYS)
    assert cytokine(ds, "IL-8") > 5 * cytokine(off, "IL-8")
    # while the clone expands. IL-8 lowers the progenitors' turnover (Michor's d1 = 0.008 per
    # day) by at most 70 % (cml_death_il8), so the progenitors, which turn over in 1/d1 = 125
    # days, gain at most exp(0.7 · 0.008 · 120) = 1.96× in 120 days; more than the scenario
    # catalog's 5 % margin is asked
    assert cells(ds, "CML_progenitor", CML_EXPANDING) > \
        1.05 * cells(off, "CML_progenitor", CML_EXPANDING)
    assert cells(ds, "CML_progenitor", CML_EXPANDING) < \
        1.96 * cells(off, "CML_progenitor", CML_EXPANDING)
    death = ds.behaviors.sel(behavior="CML_progenitor.death").isel(time=-1)
    assert float(death) < float(off.behaviors.sel(behavior="CML_progenitor.death").isel(time=-1))


def test_cml_microvesicles_carry_bcr_abl1_into_mscs_which_proliferate(runs):
    ds = runs["cml"]
    off = evniche.simulate("cml", days=DAYS, interventions=block(
        "CML_progenitor.microvesicle", "CML_precursor.microvesicle"))
    bcr_abl = ds.cargo_per_cell.sel(target="MSC", cargo="BCR-ABL1").isel(time=-1)
    assert float(bcr_abl) > 0
    # exosomes carry BCR-ABL1 too; blocking the microvesicles lowers the MSC load
    assert float(off.cargo_per_cell.sel(target="MSC", cargo="BCR-ABL1").isel(time=-1)) < \
        float(bcr_abl)
    # MSC division rises by at most half (msc_division_bcr_abl): at most exp(0.5 · 0.01 · 365)
    # = 6.2× in a year if the load were saturating from day 0; more than 1 % is asked
    assert cells(ds, "MSC") > 1.01 * cells(off, "MSC")
    # BCR-ABL1 transcripts appear in plasma EVs (liquid biopsy)
    table = liquid_biopsy.cargo_per_ml(ds)
    assert float(table.sel(cargo="BCR-ABL1").isel(time=-1)) > 0


def test_cml_keeps_differentiating_and_imatinib_spares_the_stem_cells(runs):
    ds = runs["cml"]
    assert cells(ds, "CML_granulocyte") > 1e9  # BCR-ABL1+ granulocytes reach blood
    treated = evniche.simulate("cml", days=260, interventions=[{"name": "imatinib_400mg",
                                                                 "start": 200}])
    # imatinib kills no BCR-ABL1+ cell (Michor 2005): it cuts what the stem cells and the
    # progenitors produce, so each compartment falls no faster than its own turnover
    # (d0 = 0.003, d1 = 0.008, d2 = 0.05 per day); the differentiated cells, which lose their
    # supply 750-fold, fall at nearly d2: exp(-0.05 · 56) = 0.061 in 8 weeks
    # (per compartment and against patients: tests/presets/test_cml_imatinib.py)
    for name, turnover in (("CML_LSC", 0.003), ("CML_progenitor", 0.008),
                           ("CML_precursor", 0.05)):
        assert cells(treated, name, 256) >= 0.999 * np.exp(-turnover * 56) * \
            cells(treated, name, 200), name
    assert cells(treated, "CML_precursor", 256) < 0.08 * cells(treated, "CML_precursor", 200)


# ----------------------------------------------------------------------------- CLL
def test_cll_msc_evs_rescue_cll_cells_from_apoptosis(runs):
    ds = runs["cll"]
    off = evniche.simulate(without_rules("cll", lambda r: r["signal"] == "uptake:MSC"),
                           days=DAYS)
    assert cells(ds, "CLL_marrow") > 1.02 * cells(off, "CLL_marrow")
    on_death = float(ds.behaviors.sel(behavior="CLL_marrow.death").isel(time=-1))
    assert on_death < float(off.behaviors.sel(behavior="CLL_marrow.death").isel(time=-1))


def test_cll_platelet_mito_evs_raise_oxphos_and_survival(runs):
    ds = runs["cll"]
    off = evniche.simulate("cll", days=DAYS, interventions=block("blood_cells.microvesicle.mito"))
    assert float(ds.cargo_per_cell.sel(target="CLL_blood", cargo="mitochondria").isel(time=-1)) > 0
    for cell in ("CLL_blood", "CLL_marrow"):
        state = f"{cell}.oxphos"
        assert float(ds.states.sel(state=state).isel(time=-1)) > 0.1
        assert float(off.states.sel(state=state).isel(time=-1)) < 1e-6
    assert cells(ds, "CLL_blood") > 1.1 * cells(off, "CLL_blood")


def test_cll_microvesicles_raise_msc_vegf_a_cll_survival_factor(runs):
    ds = runs["cll"]
    off = evniche.simulate(without_rules("cll", lambda r: r["behavior"] == "production:VEGF"),
                           days=DAYS)
    assert cytokine(ds, "VEGF") > 3 * cytokine(off, "VEGF")
    # 1.09x at one year: the inflammatory cytokines of CAF-like stroma (seed 003 [148]) share
    # the survival saturation and take part of the VEGF effect
    assert cells(ds, "CLL_marrow") > 1.05 * cells(off, "CLL_marrow")


def test_cll_is_chronic_and_lives_in_blood_and_marrow(runs):
    ds = runs["cll"]
    assert cells(ds, "CLL_blood") > cells(ds, "CLL_marrow")
    growth = cells(ds, "CLL_marrow") / cells(ds, "CLL_marrow", 0)
    assert 1.0 < growth < 4.0  # expands over a year, does not replace the marrow


# ----------------------------------------------------------------------------- ALL
def test_all_replaces_the_marrow_within_a_year(runs):
    for name in ("all", "t_all"):
        day = clinical.takeover_day(runs[name])
        assert day is not None and day < DAYS
        assert float(clinical.blast_percent(runs[name]).isel(time=-1)) > 50


def test_all_evs_carry_the_fusion_transcript_into_niche_cells_and_plasma(runs):
    ds = runs["all"]
    for target in ("MSC", "progenitor"):
        assert float(ds.cargo_per_cell.sel(target=target, cargo="ETV6-RUNX1").isel(time=-1)) > 0
    table = liquid_biopsy.cargo_per_ml(ds)
    assert float(table.sel(cargo="ETV6-RUNX1").isel(time=-1)) > 0
    # t(12;21) is a B-ALL lesion: the T-ALL preset carries none
    t_table = liquid_biopsy.cargo_per_ml(runs["t_all"])
    assert float(t_table.sel(cargo="ETV6-RUNX1").isel(time=-1)) == 0


def test_all_autocrine_evs_speed_the_marrow_replacement(runs):
    autocrine = without_rules("all", lambda r: r["signal"] == "uptake:ALL_blast.exosome")
    off = evniche.simulate(autocrine, days=DAYS)
    day = clinical.takeover_day(runs["all"])
    assert day is not None
    late = clinical.takeover_day(off)
    assert late is None or late > day + 5  # without the loop: later, or not within the year


def test_t_all_notch1_mir17_92_microvesicles_speed_expansion(runs):
    ds = runs["t_all"]
    off = evniche.simulate("t_all", days=DAYS, interventions=block("ALL_blast.microvesicle.notch1"))
    assert float(ds.cargo_per_cell.sel(target="ALL_blast", cargo="miR-17-92").isel(time=-1)) > 0
    assert clinical.takeover_day(off) > clinical.takeover_day(ds) + 2
    # while the blasts expand (take-over on day 268): 1.24x on day 250. The general leukemia
    # mechanisms of the all preset (LSC-EV HMGCR, fibroblast EVs, the autocrine loop) share the
    # blasts' division and survival saturations, so each adds less than alone (was > 1.5x on
    # day 300 without them; by day 300 both arms now fill the marrow)
    assert cells(ds, "ALL_blast", 250) > 1.15 * cells(off, "ALL_blast", 250)


def test_all_msc_evs_lower_the_chemosensitivity_of_blasts():
    chemo = [{"name": "cytarabine", "start": 330}]
    with_msc = evniche.simulate("all", days=345, interventions=chemo)
    without_msc = evniche.simulate("all", days=345,
                                   interventions=chemo + block(targets=("MSC",)))
    untreated = evniche.simulate("all", days=345)

    def fold(ds):
        return cells(ds, "ALL_blast", 345) / cells(ds, "ALL_blast", 330)

    assert fold(with_msc) < fold(untreated)  # cytarabine works
    # MSC EVs (miR-10a) protect. Blocking MSC EVs now also removes their pro-apoptotic effect
    # (seed 000 [36]) and the reprogrammed MSCs' supporting vesicles, and LSC-EV FGF2,
    # endothelial and fibroblast EVs protect blasts as well (shared saturation): the net
    # protection left to MSC EVs is small (0.984 vs 0.991), no longer > 10 %
    assert fold(without_msc) < fold(with_msc)


# ----------------------------------------------------------------------------- MM
def test_mm_mir146a_makes_mscs_secrete_il8_which_keeps_mm_cells_alive(runs):
    ds = runs["mm"]
    assert float(ds.cargo_per_cell.sel(target="MSC", cargo="miR-146a").isel(time=-1)) > 0
    off = evniche.simulate(without_rules("mm", lambda r: r["behavior"] == "production:IL-8"),
                           days=DAYS)
    assert cytokine(ds, "IL-8") > 5 * cytokine(off, "IL-8")
    assert cells(ds, "MM_cell") > 1.5 * cells(off, "MM_cell")


def test_mm_stromal_il8_conveys_etoposide_resistance():
    chemo = [{"name": "etoposide", "start": 300}]
    no_il8 = without_rules("mm", lambda r: r["behavior"] == "production:IL-8")

    def kill(model) -> float:
        """MM cells 10 days after etoposide, relative to the same model untreated."""
        treated = evniche.simulate(model, days=310, interventions=chemo)
        control = evniche.simulate(model, days=310)
        return cells(treated, "MM_cell", 310) / cells(control, "MM_cell", 310)

    with_loop, without_loop = kill("mm"), kill(no_il8)
    assert with_loop < 1.0 and without_loop < 1.0
    assert without_loop < 0.9 * with_loop


def test_mm_msc_evs_support_mm_cells(runs):
    off = evniche.simulate(without_rules("mm", lambda r: r["signal"] == "uptake:MSC"), days=DAYS)
    assert cells(runs["mm"], "MM_cell") > 1.05 * cells(off, "MM_cell")


def test_mm_expands_in_the_marrow_without_collapsing_blood_output(runs, healthy):
    ds = runs["mm"]
    share = clinical.blast_percent(ds)
    # plasma cells divide rarely: the clone grows over a year (9 → 11 % of the marrow's
    # nucleated cells, post-mitotic ones included; 9 → 14 % before NK and CD8 killing and
    # the egress of circulating myeloma cells were added)
    assert float(share.isel(time=-1)) > 1.15 * float(share.isel(time=0))
    assert np.isclose(cells(ds, "mature"), cells(healthy, "mature"), rtol=0.2)
