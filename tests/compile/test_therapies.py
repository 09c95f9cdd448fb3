"""Every EV therapy of the reviews runs on every preset it applies to (issue 11 item 4).

Each case gives one dose (the top of the cited dose range, 1000 µg EV protein per kg) on day
1 of a 3-day run and compares the target readout with the untreated preset: the effect has
the direction the cited mechanism gives, and stands clear of the solver's noise (the
difference before the dose). A preset a therapy does not apply to refuses it with the
reason; every preset shipped (those added later included) either runs a therapy or says
why it does not apply.
"""

from __future__ import annotations

import numpy as np
import pytest

import evniche
from evniche.compile.interventions import CATALOG, build_schedule, parse_intervention
from evniche.compile.therapies import APPLIES, PARTICLES, ev_particles, with_products
from evniche.engines import prepare
from evniche.errors import ModelError
from evniche.spec.loader import load_model, preset_names

DAYS, DOSE_DAY = 2, 1
TOP = {"dose_per_kg": "1000 ug/kg", "doses": 1}
#: both arms start from the preset's initial state (no relaxation to a steady state first:
#: the comparison needs the same start, not a steady one)
RUN = {"output_hours": 4.0, "equilibrate_first": False}
CYTARABINE = {"name": "cytarabine", "start": 0.5, "options": {"doses": 3}}


def _plasma_exosomes(ds) -> np.ndarray:
    pools = [p for p in ds["pool"].values if str(p).split(".")[1] == "exosome"]
    return ds["ev_concentration"].sel(pool=pools, compartment="blood").sum("pool").values


def _behavior(name: str):
    return lambda ds: ds["behaviors"].sel(behavior=name).values


# (preset, therapy, options, readout name, readout, direction, interventions of both arms)
CASES = [
    *[(p, "nk_exosomes", {}, f"{t}.death", _behavior(f"{t}.death"), +1, ())
      for p, t in [("aml", "blast"), ("cml", "CML_progenitor"), ("cll", "CLL_marrow"),
                   ("all", "ALL_blast"), ("t_all", "ALL_blast"), ("mm", "MM_cell")]],
    ("cml", "drug_loaded_ev", {"cargo": "imatinib"}, "CML_progenitor.death",
     _behavior("CML_progenitor.death"), +1, ()),
    # MSC-EVs: pro-apoptotic for AML blasts (miR-222-3p), protective for CLL and MM cells,
    # and they lower the cytarabine damage of ALL blasts (miR-10a)
    ("aml", "msc_ev", {}, "blast.death", _behavior("blast.death"), +1, ()),
    ("cll", "msc_ev", {}, "CLL_marrow.death", _behavior("CLL_marrow.death"), -1, ()),
    ("mm", "msc_ev", {}, "MM_cell.death", _behavior("MM_cell.death"), -1, ()),
    *[(p, "msc_ev", {}, "ALL_blast.state:chemo_damage",
       _behavior("ALL_blast.state:chemo_damage"), -1, (CYTARABINE,)) for p in ("all", "t_all")],
    ("aml", "mir34c_ev", {}, "LSC.death", _behavior("LSC.death"), +1, ()),
    *[(p, "proton_pump_inhibitor", {}, "plasma exosomes", _plasma_exosomes, -1, ())
      for p in ("healthy", "aml", "cml", "cll", "all", "t_all", "mm")],
]
NOT_APPLICABLE = [
    ("healthy", "nk_exosomes", {}), ("healthy", "msc_ev", {}), ("cml", "msc_ev", {}),
    *[(p, "mir34c_ev", {}) for p in ("healthy", "cml", "cll", "all", "t_all", "mm")],
    *[(p, "drug_loaded_ev", {"cargo": "imatinib"})
      for p in ("healthy", "aml", "cll", "all", "t_all", "mm")],
    *[(p, "drug_loaded_ev", {"cargo": d}) for p in ("aml", "cml", "mm")
      for d in ("doxorubicin", "paclitaxel", "curcumin")],
]


_CONTROLS: dict[tuple[str, str], object] = {}


def _control(preset: str, extra: tuple) -> object:
    """The untreated run of ``preset`` (with the interventions both arms get), once."""
    key = (preset, repr(extra))
    if key not in _CONTROLS:
        _CONTROLS[key] = evniche.simulate(preset, days=DAYS, interventions=list(extra), **RUN)
    return _CONTROLS[key]


@pytest.mark.parametrize(("preset", "therapy", "options", "label", "readout", "sign", "extra"),
                         CASES, ids=[f"{c[1]}-{c[0]}" for c in CASES])
def test_therapy_moves_its_readout_the_cited_way(preset, therapy, options, label, readout,
                                                sign, extra):
    given = dict(options) if therapy == "proton_pump_inhibitor" else {**TOP, **options}
    item = {"name": therapy, "start": DOSE_DAY, "options": given}
    treated = evniche.simulate(preset, days=DAYS, interventions=[*extra, item], **RUN)
    control = _control(preset, tuple(extra))
    t, c = readout(treated), readout(control)
    rel = (t - c) / np.maximum(np.abs(c), 1e-30)
    before = treated["time"].values < DOSE_DAY
    noise = float(np.max(np.abs(rel[before])))
    effect = sign * rel[~before]
    # the peak effect goes the cited way, clear of the noise and of any later excursion
    # the other way (e.g. more surviving cells after the dose: a rebound)
    assert effect.max() > max(10 * noise, 1e-12), (label, effect.max(), noise)
    assert effect.max() > 10 * max(-effect.min(), 0.0), (label, effect.min(), effect.max())


@pytest.mark.parametrize(("preset", "therapy", "options"), NOT_APPLICABLE,
                         ids=[f"{c[1]}-{c[2].get('cargo', '')}-{c[0]}" for c in NOT_APPLICABLE])
def test_therapy_refused_where_it_does_not_apply(preset, therapy, options):
    with pytest.raises(ModelError) as exc:
        prepare(preset, None, [{"name": therapy, "start": 1, "options": options}], 5)
    message = exc.value.message
    assert f"{therapy} does not apply to model '{preset}'" in message
    assert APPLIES[therapy] in message
    assert exc.value.path.startswith("interventions[0]")


def test_doxorubicin_says_what_the_model_lacks():
    with pytest.raises(ModelError, match="declares no drug 'doxorubicin'"):
        prepare("aml", None, [parse_intervention("drug_loaded_ev@1:cargo=doxorubicin")], 5)
    with pytest.raises(ModelError, match="not one of the drugs the reviews load"):
        prepare("aml", None, [parse_intervention("drug_loaded_ev@1:cargo=cytarabine")], 5)


@pytest.mark.parametrize("therapy", sorted(APPLIES))
def test_every_preset_runs_a_therapy_or_says_why_not(therapy):
    options = {"cargo": "imatinib"} if therapy == "drug_loaded_ev" else {}
    if therapy == "therapeutic_ev":
        options = {"pool": "MSC.exosome"}
    for preset in preset_names():
        try:
            net, schedule = prepare(preset, None,
                                    [{"name": therapy, "start": 1, "options": options}], 5)
        except ModelError as exc:
            assert "does not apply to model" in exc.message, (preset, exc.message)
            continue
        assert schedule.jumps or schedule.windows, preset


def test_products_join_only_the_model_that_uses_them():
    cml = load_model("cml")
    assert with_products(cml, []) is cml
    assert with_products(cml, [{"name": "heparin", "start": 1}]) is cml
    treated = with_products(cml, [parse_intervention("drug_loaded_ev@1:cargo=imatinib")])
    assert treated.source == cml.source and treated.name == cml.name
    assert "EV_carrier_imatinib" in treated.spec.cell_types
    mirrored = [r for r, _ in treated.rules if r.signal == "cargo:imatinib"]
    # a drug carried by EVs reaches only the cell types that take up exosomes
    from evniche.compile.therapies import _takes_up_exosomes

    on_drug = [(r.cell_type, r.behavior, r.direction) for r, _ in cml.rules
               if r.signal == "drug:imatinib" and _takes_up_exosomes(cml, r.cell_type)]
    assert on_drug and sorted((r.cell_type, r.behavior, r.direction) for r in mirrored) == \
        sorted(on_drug)
    # the half-max as copies per cell: cml.yaml's imatinib_progenitor_half_max (IRIS trough
    # 1.98 uM / (750 - 1) = 2.643 nM) × 1 pL × Avogadro = 1.59e3
    assert cml.params.resolved["imatinib_progenitor_half_max"].value == \
        pytest.approx(1980.0 / 749, rel=1e-9)  # nM, the canonical unit
    on_progenitor = [r for r, _ in treated.rules if r.signal == "cargo:imatinib"
                     and r.cell_type == "CML_progenitor"]
    half = treated.params.resolved[on_progenitor[0].half_max].value
    assert half == pytest.approx(1980.0 / 749 * 1e-9 * 1e-12 * 6.02214076e23, rel=1e-9)
    nk = with_products(load_model("aml"), [parse_intervention("nk_exosomes@1")])
    killers = {r.cell_type for r, _ in nk.rules if r.signal == "cargo:FasL"}
    assert killers == {"LSC", "blast", "blast_resistant"}


def test_dose_per_kg_converts_to_particles():
    net, _ = prepare("aml", None, [], 5)

    def count(text: str) -> float:
        return build_schedule(net, [parse_intervention(text)], 5).jumps[0].amount

    assert count("msc_ev@1") == pytest.approx(100e-9 * 70 / 10e-21)  # 7e14 EVs
    assert count("msc_ev@1:dose_per_kg=0.5 mg/kg,body_weight=50 kg,protein_per_ev=100 ag") \
        == pytest.approx(500e-9 * 50 / 100e-21)
    assert count("msc_ev@1:dose=3e12") == pytest.approx(3e12)
    with pytest.raises(ModelError, match="outside the option's range"):
        count("msc_ev@1:dose_per_kg=5 mg/kg")
    with pytest.raises(ModelError, match="outside the range"):
        count("msc_ev@1:dose=1e3")
    assert ev_particles({"dose": None, "dose_per_kg": 1e-7, "body_weight": 70.0,
                         "protein_per_ev": 1e-20}) == pytest.approx(7e14)
    assert PARTICLES[0] < 7e14 < PARTICLES[1]


SHIPPED = ("healthy", "aml", "cml", "cll", "all", "t_all", "mm")


def _applies(therapy: str, options: dict, preset: str) -> bool:
    try:
        prepare(preset, None, [{"name": therapy, "start": 1, "options": options}], 5)
    except ModelError as exc:
        assert "does not apply to model" in exc.message, exc.message
        return False
    return True


def test_catalog_states_where_each_therapy_applies():
    """docs/interventions.md lists, per EV therapy, the shipped presets it applies to: the
    list must be what the compile step does."""
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "interventions.md").read_text(
        encoding="utf-8")
    table = docs.split("## Which presets each EV therapy applies to", 1)[1].split("\n\n**")[0]
    rows = {line.split("|")[1].strip(" `"): line.split("|")[3].strip()
            for line in table.splitlines() if line.startswith("| `")}
    assert set(rows) == set(APPLIES) and all(name in CATALOG for name in APPLIES)
    for therapy, shown in rows.items():
        options = {"pool": "MSC.exosome"} if therapy == "therapeutic_ev" else {}
        if therapy == "drug_loaded_ev":
            assert shown.startswith("imatinib: cml;")
            options = {"cargo": "imatinib"}
            shown = "cml"
        wanted = set(SHIPPED) if shown == "every preset" else set(shown.split(", "))
        assert {p for p in SHIPPED if _applies(therapy, options, p)} == wanted, therapy


def test_a_model_file_with_rules_csv_keeps_them_with_the_product(tmp_path):
    """The product is merged into the model as it was read: rules of rules_csv files are
    kept (not read again from a path that would now be relative to nothing)."""
    import yaml

    (tmp_path / "extra.csv").write_text("MSC,cytokine:IL-8,increases,proliferation,"
                                        "0.0001,1e5,1,0\n", encoding="utf-8")
    model_file = tmp_path / "cml_csv.yaml"
    model_file.write_text(yaml.safe_dump({"name": "cml_csv", "extends": "cml",
                                          "rules_csv": ["extra.csv"]}), encoding="utf-8")
    model = load_model(model_file)
    treated = with_products(model, [parse_intervention("nk_exosomes@1")])
    assert [p for _, p in treated.rules if not p.startswith("rules[")] == ["extra.csv:1"]
    assert any(r.signal == "cargo:FasL" for r, _ in treated.rules)
    assert treated.source == model.source and treated.digest != model.digest
    net, schedule = prepare(model, None, [parse_intervention("nk_exosomes@1")], 5)
    assert len(schedule.jumps) == 2 and "NK_exosome_product" in {c.name for c in net.cells}
