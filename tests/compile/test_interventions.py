"""The intervention catalog: each intervention changes exactly what it should."""

from __future__ import annotations

import numpy as np
import pytest

import evniche
from evniche.compile.interventions import (
    CATALOG,
    build_schedule,
    describe,
    parse_intervention,
)
from evniche.engines import prepare
from evniche.errors import ModelError

A = 'source: "assumption: a test value"'
MODEL = f"""
name: catalog-test
parameters:
  vm: {{value: 1000, unit: mL, {A}}}
  vb: {{value: 3000, unit: mL, {A}}}
  dmin: {{value: 30, unit: nm, {A}}}
  dmed: {{value: 100, unit: nm, {A}}}
  dmax: {{value: 1000, unit: nm, {A}}}
  gsd: {{value: 1.4, unit: dimensionless, {A}}}
  kdeg: {{value: 0.1, unit: 1/h, {A}}}
  kdrain: {{value: 0.5, unit: 1/h, {A}}}
  kclear: {{value: 0.1, unit: 1/min, {A}}}
  khome: {{value: 0.01, unit: 1/h, {A}}}
  n_msc: {{value: 1e6, unit: cell, {A}}}
  n_blast: {{value: 1e7, unit: cell, {A}}}
  n_hsc: {{value: 1e5, unit: cell, {A}}}
  none: {{value: 0, unit: cell, {A}}}
  sec: {{value: 100, unit: EV/cell/h, {A}}}
  up: {{value: 1e-7, unit: mL/h, {A}}}
  copies: {{value: 0.01, unit: copies, {A}}}
  decay: {{value: 0.03, unit: 1/h, {A}}}
  p1: {{value: 0.01, unit: 1/h, {A}}}
  d1: {{value: 0.001, unit: 1/h, {A}}}
  a1: {{value: 0.5, unit: dimensionless, {A}}}
  elim: {{value: 0.3, unit: 1/h, {A}}}
  dmax_rate: {{value: 0.05, unit: 1/h, {A}}}
  drug_half: {{value: 0.5, unit: uM, {A}}}
  h: {{value: 1, unit: dimensionless, {A}}}
compartments: {{marrow: {{volume: vm}}, blood: {{volume: vb}}}}
vesicle_classes:
  exosome: {{diameter: {{median: dmed, gsd: gsd, min: dmin, max: dmax}},
            degradation: kdeg, drainage: kdrain, clearance: kclear, homing: khome}}
  microvesicle: {{diameter: {{median: dmed, gsd: gsd, min: dmin, max: dmax}}, ps_exposed: true,
                 markers: [phosphatidylserine],
                 degradation: kdeg, drainage: kdrain, clearance: kclear, homing: khome}}
cargo: {{miR-150: {{decay: decay}}, miR-34c-5p: {{decay: decay}}}}
drugs: {{cytarabine: {{elimination: elim}}}}
cell_types:
  MSC:
    lineage: stroma
    initial: n_msc
    secretion:
      - {{class: exosome, rate: sec}}
      - {{class: microvesicle, rate: sec}}
  blast:
    lineage: leukemic
    initial: n_blast
    proliferation: p1
    self_renewal: a1
    death: d1
    secretion:
      - {{class: exosome, rate: sec, cargo: {{miR-150: copies}}}}
      - {{class: exosome, subset: pdl1, rate: sec, markers: [PD-L1]}}
      - {{class: microvesicle, rate: sec}}
  HSC:
    initial: n_hsc
    proliferation: p1
    self_renewal: a1
  engMSC:
    is_a: MSC
    lineage: stroma
    initial: none
    secretion:
      - {{class: exosome, rate: sec, cargo: {{miR-34c-5p: copies}}, markers: [Lamp2b-IL3, HCELL]}}
uptake:
  - {{target: HSC, class: exosome, rate: up}}
  - {{target: HSC, class: microvesicle, rate: up}}
  - {{target: blast, class: exosome, rate: up}}
rules:
  - {{cell_type: blast, signal: "drug:cytarabine", direction: increases, behavior: death,
     saturation: dmax_rate, half_max: drug_half, hill_power: h}}
"""


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "catalog.yaml"
    path.write_text(MODEL, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def net(model_path):
    return prepare(model_path)[0]


def _secretion_factor(net, schedule, pool_name: str) -> float:
    pool = next(p for p in net.pools if p.name == pool_name)
    beh, _, _ = schedule.modifiers(schedule.windows[0].start, len(net.behaviors),
                                   len(net.uptakes), len(net.pools))
    return beh[pool.secretion]


def test_nsmase2_inhibitor_lowers_exosomes_only(net):
    s = build_schedule(net, [{"name": "nsmase2_inhibitor", "start": 1,
                              "options": {"efficacy": 0.6}}], days=10)
    for pool in net.pools:
        factor = _secretion_factor(net, s, pool.name)
        expected = 0.4 if pool.vesicle_class == "exosome" else 1.0
        assert factor == pytest.approx(expected), pool.name


def test_nsmase2_inhibitor_in_a_run_leaves_microvesicle_secretion_unchanged(model_path):
    kw = {"days": 4, "equilibrate_first": False}
    base = evniche.simulate(model_path, **kw)
    inh = evniche.simulate(model_path, interventions=[parse_intervention(
        "nsmase2_inhibitor@1:efficacy=0.5")], **kw)
    secreted = "ledger", {"term": "secreted", "time": 4}
    b = base[secreted[0]].sel(**secreted[1])
    i = inh[secreted[0]].sel(**secreted[1])
    mv = [p for p in base.pool.values if ".microvesicle" in p]
    exo = [p for p in base.pool.values if ".exosome" in p and not p.startswith("engMSC")]
    np.testing.assert_allclose(i.sel(pool=mv), b.sel(pool=mv), rtol=1e-6)
    # exosomes: 1 day at full rate then 3 days at half rate (cell counts change slowly)
    ratio = (i.sel(pool=exo) / b.sel(pool=exo)).values
    np.testing.assert_allclose(ratio, (1 + 3 * 0.5) / 4, rtol=0.02)


def test_targeted_rab27_silencing_spares_healthy_sources(net):
    s = build_schedule(net, [{"name": "rab27_silencing", "start": 0,
                              "options": {"targets": ["leukemic"], "efficacy": 0.7}}], 10)
    assert _secretion_factor(net, s, "blast.exosome") == pytest.approx(0.3)
    assert _secretion_factor(net, s, "blast.exosome.pdl1") == pytest.approx(0.3)
    assert _secretion_factor(net, s, "MSC.exosome") == 1.0
    assert _secretion_factor(net, s, "blast.microvesicle") == 1.0


def test_untargeted_inhibitor_acts_on_healthy_cells_too(net):
    s = build_schedule(net, [{"name": "escrt_targeting", "start": 0}], 10)
    assert _secretion_factor(net, s, "MSC.exosome") < 1.0


def _uptake_factors(net, schedule):
    _, upt, _ = schedule.modifiers(schedule.windows[0].start, len(net.behaviors),
                                   len(net.uptakes), len(net.pools))
    return upt


@pytest.mark.parametrize("name", ["annexin_v", "diannexin"])
def test_ps_blockers_leave_ps_negative_vesicles_alone(net, name):
    s = build_schedule(net, [{"name": name, "start": 0, "options": {"efficacy": 0.8}}], 10)
    upt = _uptake_factors(net, s)
    for i, route in enumerate(net.uptakes):
        ps = net.pools[route.pool].ps_exposed
        assert upt[i] == pytest.approx(0.2 if ps else 1.0)
    assert any(net.pools[r.pool].ps_exposed for r in net.uptakes)


def test_heparin_blocks_every_route(net):
    s = build_schedule(net, [parse_intervention("heparin@0:efficacy=0.6")], 10)
    np.testing.assert_allclose(_uptake_factors(net, s), 0.4)


def test_column_removes_marker_positive_evs_at_flow_times_efficiency(net):
    s = build_schedule(net, [parse_intervention(
        "plasmapheresis@2:marker=PD-L1,flow=50 mL/min,efficiency=0.8,plasma_volume=3 L,"
        "sessions=3,interval=2 day,session_length=3 h")], days=20)
    assert [w.start for w in s.windows] == [48.0, 96.0, 144.0]
    assert all(w.end - w.start == pytest.approx(3.0) for w in s.windows)
    expected = 50 * 60 / 3000 * 0.8  # 1/h
    for w in s.windows:
        pools = {net.pools[i].name: r for i, r in w.removal_rate.items()}
        assert pools == {"blast.exosome.pdl1": pytest.approx(expected)}
    _, _, rem = s.modifiers(50.0, len(net.behaviors), len(net.uptakes), len(net.pools))
    assert rem.sum() == pytest.approx(expected)
    _, _, rem = s.modifiers(60.0, len(net.behaviors), len(net.uptakes), len(net.pools))
    assert rem.sum() == 0.0


def test_column_in_a_run_removes_only_pd_l1_positive_evs(model_path):
    ds = evniche.simulate(model_path, days=3, equilibrate_first=False,
                          interventions=[parse_intervention(
                              "plasmapheresis@1:marker=PD-L1,sessions=1")])
    removed = ds["ledger"].sel(term="removed").isel(time=-1)
    assert float(removed.sel(pool="blast.exosome.pdl1")) > 0
    others = removed.drop_sel(pool="blast.exosome.pdl1")
    assert float(others.sum()) == 0.0
    assert ds.attrs["ledger_relative_error"] < 1e-6


def test_cytarabine_doses_the_drug_daily(net):
    s = build_schedule(net, [parse_intervention("cytarabine@3:dose=2 uM")], days=30)
    assert [j.time for j in s.jumps] == [72.0 + 24 * k for k in range(7)]
    assert {j.species for j in s.jumps} == {"drug:cytarabine"}
    assert all(j.amount == pytest.approx(2000.0) for j in s.jumps)  # nM


def test_doses_past_the_run_end_are_dropped(net):
    s = build_schedule(net, [parse_intervention("cytarabine@5")], days=8)
    assert len(s.jumps) == 3


def test_mir34c_ev_doses_the_engineered_pool_with_its_ledger(net):
    s = build_schedule(net, [parse_intervention("mir34c_ev@1:dose=1e10,doses=2,"
                                                "interval=3 day")], days=30)
    assert [(j.time, j.species, j.ledger, j.amount) for j in s.jumps] == [
        (24.0, "ev:engMSC.exosome@blood", "ledger:engMSC.exosome.administered", 1e10),
        (96.0, "ev:engMSC.exosome@blood", "ledger:engMSC.exosome.administered", 1e10)]


def test_mir34c_ev_refused_when_the_pool_lacks_a_ligand(net):
    with pytest.raises(ModelError, match="markers Lamp2b-IL3, HCELL, CD19"):
        build_schedule(net, [{"name": "mir34c_ev", "start": 0,
                              "options": {"ligands": ["Lamp2b-IL3", "HCELL", "CD19"]}}], 10)


def test_administered_evs_close_the_ledger(model_path):
    ds = evniche.simulate(model_path, days=3, equilibrate_first=False,
                          interventions=[parse_intervention("mir34c_ev@1:dose=1e10,doses=1")])
    administered = ds["ledger"].sel(term="administered", pool="engMSC.exosome").isel(time=-1)
    assert float(administered) == pytest.approx(1e10)
    assert ds.attrs["ledger_relative_error"] < 1e-6


def test_unknown_name_is_refused_with_close_matches(net):
    with pytest.raises(ModelError, match=r"unknown intervention 'nsmase2_inhibiter'.*"
                       r"did you mean 'nsmase2_inhibitor'"):
        build_schedule(net, [{"name": "nsmase2_inhibiter", "start": 0}], 10)


@pytest.mark.parametrize("start", [-1, 10, 12.5, "300 h"])
def test_start_outside_the_run_is_refused(net, start):
    with pytest.raises(ModelError, match="outside the run"):
        build_schedule(net, [{"name": "heparin", "start": start}], days=10)


def test_wrong_unit_is_refused_naming_the_option(net):
    with pytest.raises(ModelError, match=r"options\.flow.*expected a volume per time"):
        build_schedule(net, [parse_intervention("plasmapheresis@0:marker=PD-L1,flow=3 nM")],
                       10)


def test_unknown_option_and_missing_marker_are_refused(net):
    with pytest.raises(ModelError, match="has no option 'efficiancy'.*efficacy"):
        build_schedule(net, [parse_intervention("heparin@0:efficiancy=0.3")], 10)
    with pytest.raises(ModelError, match="needs option marker"):
        build_schedule(net, [parse_intervention("plasmapheresis@0")], 10)
    with pytest.raises(ModelError, match="no EV pool of the model carries marker 'FasL'"):
        build_schedule(net, [parse_intervention("plasmapheresis@0:marker=FasL")], 10)


def test_efficacy_above_one_is_refused(net):
    low, high = CATALOG["heparin"].option("efficacy").range
    with pytest.raises(ModelError, match=f"efficacy = 1.5 is outside the option's range "
                                         f"{low:g}–{high:g}"):
        build_schedule(net, [parse_intervention("heparin@0:efficacy=1.5")], 10)


def test_undeclared_drug_is_refused_naming_what_to_declare(net):
    with pytest.raises(ModelError, match="declares no drug 'etoposide'.*drugs:"):
        build_schedule(net, [parse_intervention("etoposide@0")], 10)


def test_parse_intervention():
    assert parse_intervention("plasmapheresis@60:marker=PD-L1,flow=40 mL/min") == {
        "name": "plasmapheresis", "start": 60.0,
        "options": {"marker": "PD-L1", "flow": "40 mL/min"}}
    assert parse_intervention("heparin@12 h")["start"] == "12 h"
    for bad in ("heparin", "heparin@", "heparin@x", "heparin@1:efficacy"):
        with pytest.raises(ModelError, match="--intervene"):
            parse_intervention(bad)
    with pytest.raises(ModelError, match="unknown intervention"):
        parse_intervention("heparine_x@1")


def test_model_file_interventions_are_honoured(tmp_path):
    text = MODEL + """
interventions:
  - name: nsmase2_inhibitor
    start: {value: 1, unit: day, source: "assumption: a test value"}
    options: {efficacy: {value: 50, unit: percent, source: "assumption: a test value"}}
"""
    path = tmp_path / "with.yaml"
    path.write_text(text, encoding="utf-8")
    net, schedule = prepare(str(path), days=5)
    assert schedule.windows[0].start == 24.0
    assert _secretion_factor(net, schedule, "MSC.exosome") == pytest.approx(0.5)


def test_every_catalog_default_has_provenance_and_unit():
    for row in describe():
        assert row["summary"] and row["source"], row["name"]
        for opt in row["options"]:
            if opt["default"] is not None and opt["kind"] not in ("text", "texts"):
                assert opt["unit"], (row["name"], opt["name"])
                assert opt["source"], (row["name"], opt["name"])
                if opt["source"].startswith("assumption"):
                    assert opt["range"] is not None, (row["name"], opt["name"])
    assert {"nsmase2_inhibitor", "rab27_silencing", "dimethyl_amiloride", "escrt_targeting",
            "heparin", "annexin_v", "diannexin", "plasmapheresis", "cytarabine", "etoposide",
            "imatinib", "flt3_inhibitor", "mir34c_ev", "nk_exosomes"} <= set(CATALOG)
