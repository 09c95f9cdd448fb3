"""The MDS, MPN (JAK2 V617F) and ATLL presets on the well-mixed engine.

Each runs a year with its EV ledger closed and passes ``evniche check``; each EV mechanism it
cites, switched off (its rule removed), moves the readout it acts on in the direction the
review gives; the disease readouts are checked against the sources where they give one.
Nothing is compared with a number the model was set to produce.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import xarray as xr

import evniche
from evniche.cli import main
from evniche.readouts import clinical, liquid_biopsy
from evniche.spec.loader import load_model, locate, preset_names, read_merged

PRESETS = ("mds", "mpn", "atll")
DAYS = 365.0


def without_rules(name: str, drop: Callable[[dict], bool]):
    """Preset ``name`` with the rules for which ``drop(rule)`` is true removed."""
    data = copy.deepcopy(read_merged(locate(name)))
    kept = [r for r in data["rules"] if not drop(r)]
    assert len(kept) < len(data["rules"]), "the rule to switch off was not found"
    data["rules"] = kept
    return load_model(data)


def off(name: str, drop: Callable[[dict], bool]) -> xr.Dataset:
    return evniche.simulate(without_rules(name, drop), days=DAYS)


def cells(ds: xr.Dataset, name: str, day: float = DAYS) -> float:
    return float(ds.cells.sel(cell_type=name).sel(time=day))


def state(ds: xr.Dataset, key: str) -> float:
    return float(ds.states.sel(state=key).isel(time=-1))


def cytokine(ds: xr.Dataset, name: str) -> float:
    return float(ds.cytokines.sel(cytokine=name).isel(time=-1))


def behavior(ds: xr.Dataset, key: str) -> float:
    return float(ds.behaviors.sel(behavior=key).isel(time=-1))


@pytest.fixture(scope="module")
def healthy() -> xr.Dataset:
    return evniche.simulate("healthy", days=DAYS)


@pytest.fixture(scope="module")
def runs() -> dict[str, xr.Dataset]:
    return {name: evniche.simulate(name, days=DAYS) for name in PRESETS}


# ----------------------------------------------------------------------------- every preset
@pytest.mark.parametrize("name", PRESETS)
def test_preset_is_listed_checks_and_runs_a_year_with_the_ledger_closed(name, runs, capsys):
    assert name in preset_names()
    assert main(["check", name]) == 0
    assert main(["presets"]) == 0
    assert name in capsys.readouterr().out
    ds = runs[name]
    assert ds.attrs["ledger_relative_error"] < 1e-9
    assert ds.attrs["disease"] != "healthy"


@pytest.mark.parametrize("name", PRESETS)
def test_every_rule_cites_the_knowledge_base_of_its_disease(name):
    model = evniche.load_model(name)
    for rule, path in model.rules:
        assert rule.kb, f"{name} {path}: no knowledge-base id"


# ----------------------------------------------------------------------------- MDS
def mds_blast_percent(ds: xr.Dataset) -> float:
    """Clonal CD34+ cells (MDS_MPP + MDS_blast) as % of marrow cells at the last day."""
    blasts = cells(ds, "MDS_MPP") + cells(ds, "MDS_blast")
    return 100 * blasts / float(clinical.marrow_cellularity(ds).isel(time=-1))


def test_mds_marrow_is_hypercellular_with_fewer_than_20_percent_blasts(runs, healthy):
    # WHO: MDS has < 20 % marrow blasts (20 % is AML); the MDS marrow is usually
    # hypercellular (docs/sources/diseases.md M1)
    ds = runs["mds"]
    assert 0 < mds_blast_percent(ds) < 20
    assert float(clinical.marrow_cellularity(ds).isel(time=-1)) > \
        1.02 * float(clinical.marrow_cellularity(healthy).isel(time=-1))

    # ineffective hematopoiesis: fewer blood cells per marrow cell than healthy. (A
    # cytopenia, blood output < 45 % of healthy, is not reproduced: the model's cytokine
    # feedback makes up the clone's lost output, 0.95x healthy at one year.)
    def output_per_marrow_cell(run):
        return cells(run, "mature") / float(clinical.marrow_cellularity(run).isel(time=-1))

    assert output_per_marrow_cell(ds) < 0.97 * output_per_marrow_cell(healthy)


def test_mds_mir7977_lowers_msc_pcbp1_and_kitl_support_of_normal_cd34_cells(runs):
    # seed 003 [150]: EV miR-7977 of MDS CD34+ cells lowers PCBP1 in MSCs, compromising
    # their support of CD34+ cells
    ds = runs["mds"]
    no = off("mds", lambda r: r["signal"] == "cargo:miR-7977")
    assert float(ds.cargo_per_cell.sel(target="MSC", cargo="miR-7977").isel(time=-1)) > 0
    assert state(ds, "MSC.pcbp1_loss") > 0.1
    assert state(no, "MSC.pcbp1_loss") < 1e-9
    assert cytokine(no, "KITL") > 1.1 * cytokine(ds, "KITL")
    assert cells(no, "progenitor") > 1.05 * cells(ds, "progenitor")
    assert cells(no, "HSC") > cells(ds, "HSC")
    # the clone gains from the niche it damages
    assert float(clinical.blast_percent(no).isel(time=-1)) < \
        float(clinical.blast_percent(ds).isel(time=-1))


def test_mds_msc_microvesicles_keep_mds_cd34_cells_alive(runs):
    # seed 003 [126]: MDS-MSC MVs promote CD34+ cell viability
    no = off("mds", lambda r: r["cell_type"] == "MDS_blast" and r["behavior"] == "death")
    assert cells(no, "MDS_blast") < 0.8 * cells(runs["mds"], "MDS_blast")


def test_mds_msc_microvesicles_raise_clonogenic_capacity_of_mds_cd34_cells(runs):
    # seed 003 [126]: MDS-MSC MVs promote CD34+ clonogenic capacity
    no = off("mds", lambda r: r["cell_type"] == "MDS_blast" and r["behavior"] == "proliferation")
    assert cells(no, "MDS_blast") < 0.98 * cells(runs["mds"], "MDS_blast")


def test_mds_stromal_exmvs_damage_normal_progenitors(runs):
    # seed 000 [46]: myelodysplastic stromal ExMVs induce DNA damage in normal hematopoietic
    # cells: failed divisions
    ds = runs["mds"]
    no = off("mds", lambda r: r["behavior"] == "division_failure")
    assert behavior(ds, "progenitor.division_failure") > 0.01
    assert behavior(no, "progenitor.division_failure") == 0


@pytest.mark.xfail(strict=True, reason=(
    "12-stage hierarchy (docs/sources/hierarchy-study.md, 'The MDS and MPN clones'): the "
    "damaged stage is a transit pool, so failed divisions shrink it and the feedback makes up "
    "the output through the other stages; output per progenitor off/on 0.86 (main 1.18)"))
def test_mds_stromal_exmvs_make_each_blood_cell_cost_more_progenitors(runs):
    # seed 000 [46] as above: failed divisions, so each blood cell costs more progenitors (the
    # feedback keeps the blood count itself)
    ds = runs["mds"]
    no = off("mds", lambda r: r["behavior"] == "division_failure")

    def output_per_progenitor(run):
        return cells(run, "mature") / cells(run, "progenitor")

    assert output_per_progenitor(no) > 1.1 * output_per_progenitor(ds)


# ----------------------------------------------------------------------------- MPN
def allele_burden(ds: xr.Dataset, day: float = DAYS) -> float:
    """JAK2 V617F allele burden of blood granulocyte-equivalents (%): half the clonal share
    of the hematopoietic blood cells (a heterozygous clone)."""
    return float(clinical.blood_blast_percent(ds).sel(time=day)) / 2


def test_mpn_raises_blood_counts_and_the_allele_burden_creeps_up(runs, healthy):
    ds = runs["mpn"]
    total = cells(ds, "mature") + cells(ds, "JAK2_mature")
    assert total > 1.1 * cells(healthy, "mature")
    # JAK2 V617F burden rose 0.55 % a year before diagnosis (docs/sources/diseases.md P2):
    # a slow climb over one year, not a take-over
    rise = allele_burden(ds) - allele_burden(ds, 0)
    assert 0 < rise < 5


def test_mpn_msc_mir155_evs_raise_the_clones_output_and_allele_burden(runs):
    # seed 003 [127]: MPN-MSC EVs rich in miR-155 raise CFU-G of neoplastic CD34+ cells; the
    # clone's blood output and allele burden follow
    ds = runs["mpn"]
    no = off("mpn", lambda r: r["signal"] == "uptake:MSC.exosome.mir155")
    assert cells(no, "JAK2_mature") < cells(ds, "JAK2_mature")
    assert allele_burden(no) < allele_burden(ds)


@pytest.mark.xfail(strict=True, reason=(
    "12-stage JAK2 clone (docs/sources/hierarchy-study.md, 'The MDS and MPN clones'): faster "
    "divisions of a transit stage shorten its residence, so JAK2_progenitor falls with the "
    "EVs (off/on 1.33; main 0.65, where the stage was near balance)"))
def test_mpn_msc_mir155_evs_raise_granulocyte_colony_formation(runs):
    # seed 003 [127]: MPN-MSC EVs rich in miR-155 raise CFU-G of neoplastic CD34+ cells
    ds = runs["mpn"]
    no = off("mpn", lambda r: r["signal"] == "uptake:MSC.exosome.mir155")
    assert cells(no, "JAK2_progenitor") < 0.8 * cells(ds, "JAK2_progenitor")


# ----------------------------------------------------------------------------- ATLL
def test_atll_exosomes_activate_msc_and_change_their_shape(runs):
    # seed 003 [149]: ATL exosomes change MSC morphology (NF-κB activation)
    ds = runs["atll"]
    assert float(ds.cargo_per_cell.sel(target="MSC", cargo="miR-155").isel(time=-1)) > 0
    no = off("atll", lambda r: r["behavior"] == "state:activated")
    assert state(ds, "MSC.activated") > 0.3
    assert state(no, "MSC.activated") < 1e-9
    assert cells(no, "MSC") < 0.9 * cells(ds, "MSC")


def test_atll_exosomes_make_msc_proliferate(runs, healthy):
    # seed 003 [149]: ATL exosomes promote MSC proliferation
    ds = runs["atll"]
    assert cells(ds, "MSC") > 1.1 * cells(healthy, "MSC")
    no = off("atll", lambda r: r["cell_type"] == "MSC" and r["behavior"] == "proliferation")
    assert cells(no, "MSC") < 0.9 * cells(ds, "MSC")


def test_lymphoma_evs_inhibit_nk_cytotoxicity(runs):
    # seed 003 [114, 115]: lymphoma EVs inhibit NK-cell cytotoxicity
    ds = runs["atll"]
    no = off("atll", lambda r: r["behavior"] == "state:cytotoxic")
    assert state(ds, "NK.cytotoxic") < 0.7
    assert behavior(no, "NK.kill:ATL_marrow") > 1.3 * behavior(ds, "NK.kill:ATL_marrow")
    assert cells(no, "ATL_marrow") < cells(ds, "ATL_marrow")


def test_lymphoma_evs_promote_t_cell_apoptosis(runs, healthy):
    # seed 003 [114, 115]: lymphoma EVs promote T-cell apoptosis
    ds = runs["atll"]
    assert cells(ds, "CD8_T") < 0.8 * cells(healthy, "CD8_T")
    no = off("atll", lambda r: r["behavior"] == "death")
    assert cells(no, "CD8_T") > 1.5 * cells(ds, "CD8_T")
    assert cells(no, "CD8_T_blood") > 1.2 * cells(ds, "CD8_T_blood")


def test_atll_plasma_carries_more_ev_mir155_than_healthy(runs, healthy):
    # seed 003 [20, 21]: serum EV number and miR-155 are higher in HM patients
    def mir155(ds):
        return float(liquid_biopsy.cargo_per_ml(ds).sel(cargo="miR-155").isel(time=-1))

    def plasma(ds):
        return float(liquid_biopsy.plasma_concentration(ds).sum("vesicle_class").isel(time=-1))

    assert mir155(runs["atll"]) > 2 * mir155(healthy)
    assert plasma(runs["atll"]) > 1.05 * plasma(healthy)
