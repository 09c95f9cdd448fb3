"""The healthy baseline holds its cited values: the set points are derived with every loss
term (HSC exit, crowding of the progenitor stages and of the post-mitotic marrow pool), so
the equilibrium the engines start from is the one the parameters cite; and a disease preset
starts from a healthy-looking marrow (resting states at their healthy values)."""

from __future__ import annotations

import numpy as np
import pytest

import evniche
from evniche.compile.network import compile_model
from evniche.engines.kinetics import Kinetics
from evniche.engines.wellmixed import equilibrate


def _equilibrium(name: str):
    model = evniche.load_model(name)
    kin = Kinetics(compile_model(model))
    y = equilibrate(kin, kin.initial_state())
    params = {n: p.value for n, p in model.params.resolved.items()}
    return kin, y, params


@pytest.fixture(scope="module")
def healthy():
    return _equilibrium("healthy")


def cell(kin, y, name: str) -> float:
    return float(y[kin.i_cell[kin.net.cell_index()[name]]])


def test_cited_counts_hold_at_the_healthy_equilibrium(healthy):
    kin, y, p = healthy
    # Lee-Six 2018: 1e5 HSCs; Catlin 2011: 1e11 blood cells a day (per hour here)
    assert cell(kin, y, "HSC") == pytest.approx(p["hsc_count"], rel=0.01)
    released = p["maturing_release"] * cell(kin, y, "maturing")
    assert released == pytest.approx(p["daily_output"], rel=0.01)
    # blood output: what the marrow releases dies in blood with the cited half-life
    assert cell(kin, y, "mature") * p["mature_death"] == pytest.approx(released, rel=0.01)
    # Lahoz-Beneytez 2016: 5.8 days of marrow transit → post-mitotic pool = output × transit
    assert cell(kin, y, "maturing") == pytest.approx(p["daily_output"] * p["maturing_transit"],
                                                     rel=0.01)


def test_marrow_cellularity_is_near_harrisons_count(healthy):
    kin, y, p = healthy
    marrow = sum(cell(kin, y, n) for n in kin.net.marrow_counted)
    assert marrow == pytest.approx(p["marrow_cellularity"], rel=0.01)
    # Harrison 1962: 10.4–11.1e9 nucleated cells/kg, 7.3–7.8e11 at 70 kg; the model's
    # hematopoietic marrow has no lymphocytes or erythroid line, so it may sit a little lower
    assert 0.9 * 7.3e11 < marrow < 7.8e11
    # the marrow is half full: crowding is the assumed healthy fill, not an accident
    assert marrow / p["marrow_capacity"] == pytest.approx(p["healthy_marrow_fill"], rel=0.01)


def test_stem_cell_balance_identity_holds_with_every_loss_term(healthy):
    """At steady state a stem cell renews as often as it is lost: 2·a·s·ν·p = p + exit +
    death + crowding (the general form; HSCs have exit only)."""
    kin, y, p = healthy
    part = kin.parts(y)
    beh = np.append(part["beh"], 0.0)
    i = kin.net.cell_index()["HSC"]
    N = part["N"]
    s = 1.0 / (1.0 + kin.fb_k * np.sum(N[kin.fb_members]))
    nu = 1.0 / (1.0 + np.sum(N[kin.niche_members]) / kin.niche_cap)
    a, prolif = beh[kin.c_renew[i]], beh[kin.c_prolif[i]]
    losses = beh[kin.c_exit[i]] + beh[kin.c_death[i]]
    assert not kin.crowd_members[i]
    assert 2 * a * s * nu * prolif == pytest.approx(prolif + losses, rel=1e-6)
    # and the exit the derivation used is the one the CXCL12 retention rule gives
    assert beh[kin.c_exit[i]] == pytest.approx(p["hsc_exit_at_rest"], rel=1e-6)


def test_every_dividing_stage_amplifies_as_derived(healthy):
    kin, y, p = healthy
    for stage, count in (("MPP", "mpp_count"), ("progenitor", "progenitor_count"),
                         ("precursor", "precursor_count")):
        assert cell(kin, y, stage) == pytest.approx(p[count], rel=0.01), stage


def test_aml_starts_from_a_healthy_looking_marrow():
    """Before any leukemia the AML model's marrow is healthy: c-MYB fully expressed in
    progenitors (the cited repression is by AML exosomes) and NK cells with their NKG2D
    (microvesicles of healthy controls leave NK cytotoxicity unchanged, Szczepanski 2011);
    the cited counts hold within 2 % although the AML model adds rules to the healthy one."""
    ds = evniche.simulate("aml", days=1.0)
    states = ds["states"].isel(time=0)
    assert float(states.sel(state="progenitor.cmyb_repression")) <= 0.05
    assert float(states.sel(state="NK.nkg2d")) >= 0.95
    assert float(states.sel(state="HSC.cxcr4")) >= 0.95
    cells = ds["cells"].isel(time=0)
    p = {n: q.value for n, q in evniche.load_model("aml").params.resolved.items()}
    # HSCs within 2.5 %: the AML model's HSC exit at rest is 4.52e-6 /h against the
    # 5.10e-6 /h the set points are derived with (measured), which the joint niche turns
    # into +1.5 % HSCs at the healthy niche occupancy 0.75 and +2.2 % at the aml preset's
    # 0.818 (calibrated on O6; the niche's restoring slope is 1 - ν: 0.25 → 0.18)
    assert float(cells.sel(cell_type="HSC")) == pytest.approx(p["hsc_count"], rel=0.025)
    assert float(cells.sel(cell_type="mature")) == pytest.approx(p["mature_count"], rel=0.02)
