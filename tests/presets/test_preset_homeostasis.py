"""Homeostatic control in the presets: every controlled pool sits at its set point in the
healthy steady state, and in AML the pools that rules push stay within the bound the
control gives, set_point · (max proliferation / death)^(1/power)."""

from __future__ import annotations

import pytest

import evniche
from evniche.compile.network import compile_model
from evniche.engines.kinetics import Kinetics
from evniche.engines.wellmixed import equilibrate
from evniche.spec.loader import preset_names


@pytest.mark.parametrize("name", sorted(preset_names()))
def test_controlled_pools_sit_at_their_set_points_in_the_healthy_state(name):
    net = compile_model(evniche.load_model(name))
    kin = Kinetics(net)
    y = equilibrate(kin, kin.initial_state())
    controlled = [(i, c) for i, c in enumerate(net.cells) if c.homeostasis]
    assert {"NK", "CD8_T", "CD8_T_blood", "MSC"} <= {c.name for _, c in controlled}
    for i, c in controlled:
        assert y[kin.i_cell[i]] == pytest.approx(net.params[c.homeostasis[0]], rel=1e-6), c.name


def test_aml_pools_pushed_by_rules_stay_bounded():
    ds = evniche.simulate("aml", days=365)
    net = compile_model(evniche.load_model("aml"))
    p = net.params
    end = ds.cells.isel(time=-1)
    power = p["homeostasis_power"]
    # MDSC proliferation and endothelial proliferation rise at most 3x (rule saturations)
    for cell, top, base, count in (
            ("MDSC", "mdsc_division_activated", "immune_turnover", "mdsc_count"),
            ("endothelial", "endothelial_division_angiogenic", "endothelial_turnover",
             "endothelial_count")):
        bound = p[count] * (p[top] / p[base]) ** (1 / power)
        assert p[count] < float(end.sel(cell_type=cell)) <= bound * (1 + 1e-6), cell
    # FasL EVs triple CD8 death at most: the pool falls, but not below its bound
    low = p["cd8_count"] * (p["immune_turnover"] / p["cd8_death_fasl"]) ** (1 / power)
    cd8 = float(end.sel(cell_type="CD8_T"))
    assert low * (1 - 1e-6) <= cd8 < p["cd8_count"]
