"""Each knowledge-base mechanism the kb work added to a preset, switched off, moves its readout.

One case per cited mechanism (a rule, or the chain of rules one record backs): the preset with
that rule removed is run beside the preset itself, and the readout the rule acts on (a
behaviour, a state, a cytokine or a cell count at the last day) must move in the direction the
cited finding gives. Runs start from the models' initial values (``equilibrate_first=False``:
the derived set points of the healthy niche) and are short, so each case takes about a second;
both arms start from the same state, so the comparison is the mechanism's own effect.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
import xarray as xr

import evniche
from evniche.spec.loader import load_model, locate, read_merged

#: run length per preset (days): long enough for the clone's EVs to reach the cells they act on
DAYS = {"all": 270.0, "cll": 120.0, "mm": 365.0, "atll": 365.0, "mcl": 365.0, "mds": 365.0}
#: cytarabine from this day of the ALL run (a short course before the end), for the rules
#: that protect blasts from drug damage
CHEMO = ({"name": "cytarabine", "start": 255},)

Readout = Callable[[xr.Dataset], float]


def cell(name: str) -> Readout:
    return lambda ds: float(ds.cells.sel(cell_type=name).isel(time=-1))


def cells(names: Sequence[str]) -> Readout:
    return lambda ds: float(ds.cells.sel(cell_type=list(names)).sum("cell_type").isel(time=-1))


def behavior(key: str) -> Readout:
    return lambda ds: float(ds.behaviors.sel(behavior=key).isel(time=-1))


def state(key: str) -> Readout:
    return lambda ds: float(ds.states.sel(state=key).isel(time=-1))


def state_peak(key: str) -> Readout:
    return lambda ds: float(ds.states.sel(state=key).max("time"))


def cytokine(name: str) -> Readout:
    return lambda ds: float(ds.cytokines.sel(cytokine=name).isel(time=-1))


def rule(cell_type: str, signal: str | None = None, behavior: str | None = None):
    """A predicate that picks the rules of ``cell_type`` with the given signal/behavior."""
    def pick(r: dict) -> bool:
        return (r["cell_type"] == cell_type and (signal is None or r["signal"] == signal)
                and (behavior is None or r["behavior"] == behavior))
    return pick


def any_rule(*picks: Callable[[dict], bool]) -> Callable[[dict], bool]:
    """A predicate that picks the rules any of ``picks`` picks."""
    return lambda r: any(pick(r) for pick in picks)


#: the normal CD34+ stages of the 12-stage hierarchy (healthy.yaml dividing stages 1-6)
CD34_STAGES = ("MPP", "progenitor_2", "progenitor_3", "progenitor_4", "progenitor_5", "progenitor")


@dataclass(frozen=True)
class Case:
    """Mechanism ``kb`` of ``preset``: removing the rules ``drop`` picks moves ``readout``
    ``up`` (True: off > on) or down, by more than the relative ``margin``."""

    kb: str
    preset: str
    drop: Callable[[dict], bool]
    readout: Readout
    up: bool
    margin: float = 0.01
    chemo: bool = False


CASES = [
    # ---------------------------------------------------------------- ALL (leukemia records)
    Case("leuk-lsc-exmv-survival-up", "all", rule("ALL_blast", "cargo:FGF2", "death"),
         behavior("ALL_blast.death"), up=True),
    Case("leuk-lsc-exmv-drug-resistance-up", "all",
         rule("ALL_blast", "cargo:FGF2", "state:chemo_damage"),
         state_peak("ALL_blast.chemo_damage"), up=True, chemo=True),
    Case("leuk-lsc-exmv-hmgcr-cholesterol-up", "all", rule("ALL_blast", "cargo:HMGCR"),
         cell("ALL_blast"), up=False),
    Case("leuk-exmv-table-stemness-up", "all", rule("ALL_LIC", behavior="self_renewal"),
         cell("ALL_LIC"), up=False),
    Case("leuk-exmv-stroma-leukemia-support-up", "all",
         rule("MSC", "uptake:ALL_blast", "state:reprogrammed"), cytokine("KITL"), up=True),
    Case("leuk-exmv-stroma-kitl-down", "all", rule("MSC", behavior="production:KITL"),
         cytokine("KITL"), up=True),
    Case("leuk-exmv-stroma-kitl-down (HSC support)", "all",
         rule("HSC", "cytokine:KITL"), cell("HSC"), up=False),
    Case("leuk-exmv-stroma-inflammatory-cytokines-up", "all",
         rule("MSC", behavior="production:IL-6"), cytokine("IL-6"), up=False),
    Case("leuk-exmv-table-hematopoiesis-down", "all",
         any_rule(*(rule(t, "cytokine:IL-6") for t in CD34_STAGES)), cells(CD34_STAGES),
         up=True, margin=0.1),
    Case("leuk-exmv-table-stroma-leukemia-support-up", "all",
         rule("ALL_blast", "uptake:MSC.microvesicle.support"), behavior("ALL_blast.death"),
         up=True),
    Case("leuk-exmv-table-stroma-leukemia-support-up (secretion)", "all",
         rule("MSC", behavior="secretion:microvesicle.support"),
         behavior("ALL_blast.death"), up=True),
    Case("leuk-exmv-hsc-ckit-down", "all", rule("HSC", behavior="state:ckit_loss"),
         behavior("HSC.exit"), up=False, margin=0.5),
    Case("leuk-exmv-hsc-niche-retention-down", "all", rule("HSC", "state:ckit_loss"),
         behavior("HSC.exit"), up=False, margin=0.5),
    Case("leuk-exmv-mirna-hsc-survival-down", "all", rule("HSC", behavior="death"),
         cell("HSC"), up=True, margin=0.1),
    Case("hm-ev-hspc-malignant-transformation-up", "all",
         rule("MPP", "uptake:ALL_blast.exosome", "exit"), cell("ALL_LIC_transformed"),
         up=False, margin=0.05),
    Case("leuk-exmv-dnmt1-hspc-reprogramming-hypothesis", "all",
         rule("MPP", "cargo:DNMT1", "exit"), cell("ALL_LIC_transformed"), up=False,
         margin=0.2),
    Case("leuk-exmv-table-angiogenesis-up", "all",
         rule("endothelial", behavior="proliferation"), cell("endothelial"), up=False,
         margin=0.1),
    Case("leuk-exmv-endothelial-inflammatory-cytokines-up", "all",
         rule("endothelial", behavior="production:IL-6"), cytokine("IL-6"), up=False,
         margin=0.1),
    Case("leuk-endothelial-exmv-blast-drug-resistance-up", "all",
         rule("ALL_blast", "uptake:endothelial.exosome"), state_peak("ALL_blast.chemo_damage"),
         up=True, chemo=True),
    Case("leuk-exmv-fibroblast-expansion-up", "all",
         rule("fibroblast", behavior="proliferation"), cell("fibroblast"), up=False,
         margin=0.1),
    Case("leuk-fibroblast-exmv-blast-proliferation-up", "all",
         rule("ALL_blast", "uptake:fibroblast.exosome", "proliferation"),
         behavior("ALL_blast.proliferation"), up=False),
    Case("leuk-fibroblast-exmv-blast-apoptosis-down", "all",
         rule("ALL_blast", "uptake:fibroblast.exosome", "death"),
         behavior("ALL_blast.death"), up=True),
    Case("leuk-fibroblast-exmv-blast-drug-resistance-up", "all",
         rule("ALL_blast", "uptake:fibroblast.exosome", "state:chemo_damage"),
         state_peak("ALL_blast.chemo_damage"), up=True, chemo=True),
    Case("leuk-exmv-nk-anti-leukemic-activity-down", "all",
         rule("NK", behavior="state:cytotoxic"), behavior("NK.kill:ALL_blast"), up=True,
         margin=0.3),
    Case("leuk-exmv-nk-anti-leukemic-activity-down (killing)", "all",
         rule("NK", "state:cytotoxic"), behavior("NK.kill:ALL_blast"), up=False, margin=0.3),
    Case("leuk-exmv-treg-tgfb1-secretion-up", "all", rule("Treg"), cytokine("TGF-beta1"),
         up=False, margin=0.5),
    Case("leuk-exmv-treg-immunosuppression-up", "all", rule("CD8_T", "cytokine:TGF-beta1"),
         behavior("CD8_T.kill:ALL_blast"), up=True, margin=0.5),
    Case("leuk-exmv-monocyte-mdsc-differentiation-up", "all",
         rule("monocyte", behavior="exit"), cell("MDSC"), up=False, margin=0.05),
    Case("leuk-exmv-table-immunosuppression", "all", rule("CD8_T", "fraction:MDSC"),
         behavior("CD8_T.kill:ALL_blast"), up=True),
    Case("leuk-exmv-monocyte-tam-differentiation-up", "all",
         rule("monocyte", behavior="state:tam"), behavior("ALL_blast.death"), up=True),
    Case("leuk-exmv-monocyte-tam-differentiation-up (factors)", "all",
         rule("ALL_blast", "cytokine:TAM_factors"), behavior("ALL_blast.death"), up=True),
    Case("leuk-msc-exmv-apoptosis-up", "all", rule("ALL_blast", "uptake:MSC.exosome"),
         behavior("ALL_blast.death"), up=False),
    # ---------------------------------------------------------------- CLL
    Case("cll-msc-exmv-egr-up", "cll", rule("CLL_marrow", "uptake:MSC", "state:activated"),
         state("CLL_marrow.activated"), up=False, margin=0.9),
    Case("cll-msc-exmv-ccl3-ccl4-up", "cll", rule("CLL_marrow", "state:activated"),
         cytokine("CCL3"), up=False, margin=0.9),
    Case("cll-msc-ev-migration-up", "cll", rule("CLL_blood", "uptake:MSC"),
         cell("CLL_marrow"), up=False),
    Case("leuk-platelet-exmv-receptor-transfer-endothelial-interaction-up", "cll",
         rule("CLL_blood", "uptake:blood_cells.microvesicle"), cell("CLL_marrow"), up=False),
    Case("cll-ev-nk-cytotoxicity-down", "cll", rule("NK", behavior="state:cytotoxic"),
         behavior("NK.kill:CLL_marrow"), up=True, margin=0.3),
    Case("cll-ev-t-cell-apoptosis-up", "cll", rule("CD8_T", behavior="death"),
         cell("CD8_T"), up=True, margin=0.1),
    Case("cll-ev-t-cell-apoptosis-up (blood)", "cll", rule("CD8_T_blood", behavior="death"),
         cell("CD8_T_blood"), up=True, margin=0.05),
    Case("cll-ev-mdsc-immunosuppression-up", "cll", rule("MDSC"), cell("MDSC"), up=False,
         margin=0.1),
    Case("cll-ev-mdsc-immunosuppression-up (killing)", "cll", rule("CD8_T", "fraction:MDSC"),
         behavior("CD8_T.kill:CLL_marrow"), up=True),
    Case("cll-exo-msc-caf-phenotype-up", "cll", rule("MSC", behavior="state:caf"),
         cytokine("IL-6"), up=False, margin=0.3),
    Case("cll-exo-endothelial-caf-phenotype-up", "cll", rule("endothelial"),
         cytokine("IL-6"), up=False, margin=0.5),
    Case("cll-exo-msc-caf-phenotype-up (survival)", "cll", rule("CLL_marrow", "cytokine:IL-6"),
         behavior("CLL_marrow.death"), up=True),
    # ---------------------------------------------------------------- MM
    Case("mm-ev-nk-cytotoxicity-down", "mm", rule("NK", behavior="state:cytotoxic"),
         behavior("NK.kill:MM_cell"), up=True, margin=0.3),
    Case("mm-ev-t-cell-apoptosis-up", "mm", rule("CD8_T", behavior="death"), cell("CD8_T"),
         up=True, margin=0.1),
    Case("mm-ev-mdsc-immunosuppression-up", "mm", rule("MDSC"), cell("MDSC"), up=False,
         margin=0.1),
    Case("mm-ev-mdsc-immunosuppression-up (killing)", "mm", rule("CD8_T", "fraction:MDSC"),
         behavior("CD8_T.kill:MM_cell"), up=True),
    Case("mm-msc-ev-migration-up", "mm", rule("MM_blood", "uptake:MSC"), cell("MM_blood"),
         up=True, margin=0.3),
    # ---------------------------------------------------------------- ATLL
    Case("tcl-ev-mdsc-immunosuppression-up", "atll", rule("MDSC"), cell("MDSC"), up=False,
         margin=0.1),
    Case("tcl-ev-mdsc-immunosuppression-up (killing)", "atll",
         rule("CD8_T", "fraction:MDSC"), behavior("CD8_T.kill:ATL_marrow"), up=True),
    # ---------------------------------------------------------------- MCL
    Case("mcl-exo-self-uptake-up", "mcl", rule("MCL_marrow", "uptake:MCL_marrow.exosome"),
         cell("MCL_marrow"), up=False),
    Case("bcl-ev-nk-cytotoxicity-down", "mcl", rule("NK", behavior="state:cytotoxic"),
         behavior("NK.kill:MCL_marrow"), up=True, margin=0.3),
    Case("bcl-ev-t-cell-apoptosis-up", "mcl", rule("CD8_T", behavior="death"), cell("CD8_T"),
         up=True, margin=0.1),
    Case("bcl-ev-mdsc-immunosuppression-up", "mcl", rule("MDSC"), cell("MDSC"), up=False,
         margin=0.1),
    # ---------------------------------------------------------------- MDS
    Case("mds-stroma-exmv-hspc-mutagenesis-up", "mds", rule("progenitor", behavior="exit"),
         cell("MDS_blast_induced"), up=False, margin=0.5),
    # the mds preset gives this rule to every normal CD34+ stage (MPP .. progenitor, dividing
    # stages 1-6): the mechanism is off when all of them are removed
    Case("healthy-supportive-stroma-ev-hspc-survival-up", "mds",
         any_rule(*(rule(t, "uptake:MSC.exosome", "death") for t in CD34_STAGES)),
         cell("progenitor"), up=False, margin=0.005),
]


def without(preset: str, drop: Callable[[dict], bool]):
    """Preset ``preset`` with the rules ``drop`` picks removed."""
    data = copy.deepcopy(read_merged(locate(preset)))
    kept = [r for r in data["rules"] if not drop(r)]
    assert len(kept) < len(data["rules"]), "the rule to switch off was not found"
    data["rules"] = kept
    return load_model(data)


def run(model, preset: str, chemo: bool) -> xr.Dataset:
    return evniche.simulate(model, days=DAYS[preset], equilibrate_first=False,
                            interventions=list(CHEMO) if chemo else None)


@pytest.fixture(scope="module")
def reference() -> dict:
    """The presets themselves, run once per (preset, with cytarabine)."""
    cache: dict = {}

    def get(preset: str, chemo: bool) -> xr.Dataset:
        if (preset, chemo) not in cache:
            cache[(preset, chemo)] = run(preset, preset, chemo)
        return cache[(preset, chemo)]
    return get


@pytest.mark.parametrize("case", CASES, ids=[c.kb for c in CASES])
def test_switching_the_mechanism_off_moves_its_readout(case: Case, reference):
    on = case.readout(reference(case.preset, case.chemo))
    off = case.readout(run(without(case.preset, case.drop), case.preset, case.chemo))
    if case.up:
        assert off > on * (1 + case.margin), (case.kb, on, off)
    else:
        assert off < on * (1 - case.margin), (case.kb, on, off)


def test_mcl_exosomes_taken_up_by_mcl_cells_themselves_feed_the_autocrine_loop(reference):
    # seed 003 [85]: MCL exosomes are taken up preferentially by MCL cells; without that
    # route (only the untargeted uptake of any cell) the autocrine signal and the clone fall
    data = copy.deepcopy(read_merged(locate("mcl")))
    kept = [u for u in data["uptake"] if u.get("source") != "MCL_marrow"]
    assert len(kept) == len(data["uptake"]) - 1
    data["uptake"] = kept
    off = run(load_model(data), "mcl", False)
    on = reference("mcl", False)
    signal = behavior("MCL_marrow.proliferation")
    assert signal(off) < 0.95 * signal(on)
    assert cell("MCL_marrow")(off) < 0.8 * cell("MCL_marrow")(on)


def test_mcl_is_listed_checks_and_runs_with_the_ledger_closed(reference, capsys):
    from evniche.cli import main
    from evniche.spec.loader import preset_names

    assert "mcl" in preset_names()
    assert main(["check", "mcl"]) == 0
    ds = reference("mcl", False)
    assert ds.attrs["ledger_relative_error"] < 1e-9
    # the clone expands in marrow and blood over the year (division against death and killing)
    assert cell("MCL_marrow")(ds) > float(ds.cells.sel(cell_type="MCL_marrow").isel(time=0))
    assert cell("MCL_blood")(ds) > float(ds.cells.sel(cell_type="MCL_blood").isel(time=0))


def test_every_case_cites_a_record_its_rules_carry():
    # the cases name the mechanism by a record the removed rules cite
    rules = {name: read_merged(locate(name))["rules"] for name in {c.preset for c in CASES}}
    for case in CASES:
        cited = {k for r in rules[case.preset] if case.drop(r) for k in r.get("kb", [])}
        assert case.kb.split(" ")[0] in cited, case.kb
