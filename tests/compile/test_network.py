"""Compiling models into the network representation, and the rule combination."""

from __future__ import annotations

import numpy as np
import pytest

import evniche
from evniche.compile.network import compile_model
from evniche.engines.kinetics import Kinetics, combine_rules


@pytest.fixture(scope="module")
def aml():
    return compile_model(evniche.load_model("aml"))


def test_every_secretion_becomes_a_pool_with_its_source(aml):
    names = {p.name for p in aml.pools}
    assert {"blast.exosome", "blast.exosome.PDL1", "MSC.exosome.reprogrammed"} <= names
    pdl1 = next(p for p in aml.pools if p.name == "blast.exosome.PDL1")
    assert "PD-L1" in pdl1.markers and "CD63" in pdl1.markers  # subset + class markers


def test_uptake_routes_respect_class(aml):
    for route in aml.uptakes:
        pool = aml.pools[route.pool]
        assert any(u.target == route.target and u.vesicle_class == pool.vesicle_class
                   for u in aml.model.spec.uptake)


def test_rule_combination_reduces_to_physicell_with_one_saturation(aml):
    kin = Kinetics(aml)
    rng = np.random.default_rng(0)
    sig = rng.random((5, len(aml.signals))) * 3
    beh = combine_rules(kin, sig)
    # PhysiCell: u = b0 + (bM - b0) U ; b = u + (bm - u) D, per behavior with one saturation
    for bi, b in enumerate(aml.behaviors):
        ups = {t.saturation for t in b.up}
        downs = {t.saturation for t in b.down}
        if len(ups) > 1 or len(downs) > 1:
            continue
        for row in range(5):
            b0 = aml.params[b.base]
            hu = sum((sig[row, t.signal] / aml.params[t.half_max]) ** aml.params[t.hill_power]
                     for t in b.up)
            hd = sum((sig[row, t.signal] / aml.params[t.half_max]) ** aml.params[t.hill_power]
                     for t in b.down)
            u = b0 + ((aml.params[next(iter(ups))] - b0) * hu / (1 + hu) if ups else 0.0)
            expected = u + ((aml.params[next(iter(downs))] - u) * hd / (1 + hd) if downs
                            else 0.0)
            assert beh[row, bi] == pytest.approx(expected, rel=1e-12)


def test_two_up_rules_with_different_saturations_pull_toward_each(aml):
    kin = Kinetics(aml)
    death = aml.behavior_index()["blast.death"]
    b = aml.behaviors[death]
    sats = sorted(aml.params[t.saturation] for t in b.up)
    assert len(sats) == 2 and sats[0] < sats[1]
    sig = np.zeros(len(aml.signals))
    for t in b.up:  # both signals at a huge level: the value lies between the saturations
        sig[t.signal] = 1e12
    value = combine_rules(kin, sig)[death]
    assert sats[0] < value < sats[1]


def test_a_killer_in_another_compartment_has_a_capacity_but_kills_nothing(aml):
    """Blood CD8 T cells: kill:blast is a behavior (the PD-L1 rule lowers it), but blasts
    live in the marrow and a kill needs both in one compartment."""
    keys = aml.behavior_index()
    assert {"CD8_T.kill:blast", "CD8_T_blood.kill:blast"} <= set(keys)
    assert any(t.saturation == "kill_suppressed"
               for t in aml.behaviors[keys["CD8_T_blood.kill:blast"]].down)
    pairs = {(k.killer, k.target) for k in aml.kills}
    assert ("CD8_T", "blast") in pairs and ("CD8_T_blood", "blast") not in pairs
    # in the right-hand side: more blood CD8 T cells kill no more blasts, more marrow ones do
    kin = Kinetics(aml)
    y = kin.initial_state()
    idx = aml.index()
    y[idx["cell:blast"]] = 1e9
    blast = idx["cell:blast"]
    base = kin.rhs(0.0, y)[blast]
    for cell, changes in (("CD8_T_blood", False), ("CD8_T", True)):
        more = y.copy()
        more[idx[f"cell:{cell}"]] *= 2.0
        assert bool(kin.rhs(0.0, more)[blast] != base) is changes, cell
