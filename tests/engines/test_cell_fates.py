"""Cell fates beyond renewal and differentiation: failed divisions (an S-phase drug),
egress into another cell type (marrow → blood), EVs released per dying cell (apoptotic
bodies) and drug infusion, checked against closed-form solutions on one-type models."""

from __future__ import annotations

import numpy as np
import pytest

import evniche
from evniche.compile.network import compile_model
from evniche.compile.schedule import Schedule, Window
from evniche.engines.kinetics import Kinetics
from evniche.engines.wellmixed import integrate
from evniche.errors import ModelError

P, A, F, D, E, DB = 0.02, 0.6, 0.25, 0.004, 0.003, 0.05  # 1/h or fractions
BODIES = 3.0  # apoptotic bodies per dying cell
N0 = 1.0e6


def _p(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "source": "assumption: a test value"}


def fates_model(**blast_extra) -> dict:
    """Blasts in the marrow that divide (p, self-renewal a, a share f of divisions failing),
    die (d), exit (e) into blood blasts (death d_b) and release apoptotic bodies per death."""
    blast = {"lineage": "leukemic", "initial": _p(N0, "cell"), "proliferation": _p(P, "1/h"),
             "self_renewal": _p(A, "dimensionless"),
             "division_failure": _p(F, "dimensionless"), "death": _p(D, "1/h"),
             "exit": _p(E, "1/h"), "exit_to": "blast_blood",
             "secretion": [{"class": "apoptotic_body", "per": "death",
                            "rate": _p(BODIES, "EV")}]}
    blast.update(blast_extra)
    return {
        "name": "fates", "disease": "AML",
        "parameters": {"vm": _p(1000, "mL"), "vb": _p(3000, "mL")},
        "compartments": {"marrow": {"volume": "vm"}, "blood": {"volume": "vb"}},
        "vesicle_classes": {"apoptotic_body": {
            "diameter": {"median": _p(1.2, "um"), "gsd": _p(2, "dimensionless"),
                         "min": _p(0.05, "um"), "max": _p(5, "um")},
            "ps_exposed": True, "degradation": _p(0.5, "1/h"), "drainage": _p(0.01, "1/h"),
            "clearance": _p(6, "1/h")}},
        "drugs": {"cytarabine": {"elimination": _p(0.3, "1/h")}},
        "cell_types": {
            "blast": blast,
            "blast_blood": {"is_a": "blast", "lineage": "leukemic", "compartment": "blood",
                            "initial": _p(0, "cell"), "death": _p(DB, "1/h")},
        },
    }


def net_of(data: dict):
    return compile_model(evniche.load_model(data))


def test_failed_divisions_egress_and_bodies_per_death_follow_the_closed_form():
    net = net_of(fates_model())
    days = 10.0
    sol = integrate(net, days, equilibrate_first=False, rtol=1e-10)
    kin, t = sol.kinetics, sol.t
    # marrow blasts: dB/dt = ((2a(1 - f) - 1)p - d - e) B
    g = (2 * A * (1 - F) - 1) * P - D - E
    blast = N0 * np.exp(g * t)
    np.testing.assert_allclose(sol.y[:, kin.i_cell[0]], blast, rtol=1e-6)
    # blood blasts: dBb/dt = e B - d_b Bb, Bb(0) = 0
    blood = E * N0 / (g + DB) * (np.exp(g * t) - np.exp(-DB * t))
    np.testing.assert_allclose(sol.y[1:, kin.i_cell[1]], blood[1:], rtol=1e-6)
    # bodies secreted: BODIES × ∫ (d + 2 f p) B dt (exits are not deaths)
    secreted = sol.y[:, kin.species_index["ledger:blast.apoptotic_body.secreted"]]
    expected = BODIES * (D + 2 * F * P) * N0 * np.expm1(g * t) / g
    np.testing.assert_allclose(secreted[1:], expected[1:], rtol=1e-6)


def test_without_the_new_fields_dynamics_are_unchanged():
    plain = fates_model()
    for key in ("division_failure", "exit_to"):
        del plain["cell_types"]["blast"][key]
    kin = Kinetics(net_of(plain))
    y = kin.initial_state()
    dB = kin.rhs(0.0, y)[kin.i_cell[0]]
    assert dB == pytest.approx(((2 * A - 1) * P - D - E) * N0, rel=1e-12)
    assert kin.rhs(0.0, y)[kin.i_cell[1]] == 0.0  # exits are lost without exit_to


def test_kills_count_as_deaths_for_apoptotic_bodies():
    data = fates_model()
    data["cell_types"]["NK"] = {"lineage": "immune", "initial": _p(1e6, "cell"),
                                "kills": [{"target": "blast", "rate": _p(0.01, "1/h")}]}
    kin = Kinetics(net_of(data))
    y = kin.initial_state()
    secreted = kin.rhs(0.0, y)[kin.species_index["ledger:blast.apoptotic_body.secreted"]]
    # the NK are not marrow-counted: the target share is N_blast / N_blast = 1
    kills = 0.01 * 1e6 * N0 / N0
    assert secreted == pytest.approx(BODIES * ((D + 2 * F * P) * N0 + kills), rel=1e-12)


def test_infusion_reaches_the_closed_form_plateau_and_decays_after():
    net = net_of(fates_model())
    rate, k = 30.0, 0.3  # nM/h, 1/h
    start, end = 24.0, 24.0 + 72.0
    schedule = Schedule(windows=[Window(start, end, infusion={0: rate}, label="infusion")])
    sol = integrate(net, 6.0, schedule, equilibrate_first=False, output_hours=1.0, rtol=1e-10)
    drug = sol.y[:, sol.kinetics.i_drug[0]]
    t = sol.t
    expected = np.where(t < start, 0.0, rate / k * -np.expm1(-k * (np.minimum(t, end) - start)))
    expected = np.where(t > end, expected * np.exp(-k * (t - end)), expected)
    np.testing.assert_allclose(drug, expected, rtol=1e-6, atol=1e-6)
    assert drug[t == end][0] == pytest.approx(rate / k, rel=1e-6)


@pytest.mark.parametrize(("change", "where", "message"), [
    ({"exit_to": "nowhere"}, "exit_to", "unknown cell type 'nowhere'"),
    ({"exit_to": "blast"}, "exit_to", "cannot exit into itself"),
    ({"exit": None}, "exit_to", "needs an 'exit' rate"),
    ({"division_failure": _p(1.5, "dimensionless")}, "division_failure", "above 1"),
    ({"division_failure": _p(0.1, "1/h")}, "division_failure", "dimensionless"),
])
def test_bad_fates_are_refused_by_name(change, where, message):
    data = fates_model()
    blast = data["cell_types"]["blast"]
    for key, value in change.items():
        if value is None:
            del blast[key]
        else:
            blast[key] = value
    with pytest.raises(ModelError, match=message) as err:
        evniche.load_model(data)
    assert f"cell_types.blast.{where}" in str(err.value)


def test_bodies_per_death_must_be_a_number_not_a_rate():
    data = fates_model()
    data["cell_types"]["blast"]["secretion"][0]["rate"] = _p(3, "1/h")
    with pytest.raises(ModelError, match="secretion\\[0\\].rate"):
        evniche.load_model(data)


def test_spatial_engine_follows_the_same_fates():
    """The spatial engine's agents fail divisions, egress and release bodies per death with
    the same rates: over 3 days its counts agree with the closed form within sampling
    noise (a few thousand agents)."""
    net_model = evniche.load_model(fates_model())
    days = 3.0
    sp = evniche.simulate(net_model, days=days, seed=2, engine="spatial",
                          size_um=(200.0, 200.0), dx_um=20.0, agents=4000, min_agents=20,
                          equilibrate_first=False, sinusoid_spacing_um=100.0)
    t = days * 24.0
    g = (2 * A * (1 - F) - 1) * P - D - E
    blast = float(sp.cells.sel(cell_type="blast").isel(time=-1))
    blood = float(sp.cells.sel(cell_type="blast_blood").isel(time=-1))
    assert blast == pytest.approx(N0 * np.exp(g * t), rel=0.05)
    assert blood == pytest.approx(E * N0 / (g + DB) * (np.exp(g * t) - np.exp(-DB * t)),
                                  rel=0.1)
    secreted = float(sp.ledger.sel(pool="blast.apoptotic_body", term="secreted").isel(time=-1))
    assert secreted == pytest.approx(BODIES * (D + 2 * F * P) * N0 * np.expm1(g * t) / g,
                                     rel=0.05)


# ----------------------------------------------------------------------------- drug death
KILL, DRUG, EC50 = 0.06, 150.0, 50.0  # 1/h at saturation, nM, nM
SURVIVAL = 0.3  # a survival rule pulls basal death to 0.3 × D at full effect


def drug_death_model(survival: bool = True) -> dict:
    """Blasts with a drug-induced death rule (cytarabine raises ``drug_death`` toward KILL)
    and, optionally, a saturated survival rule on ``death`` (fraction:blast = 1 in a marrow
    of blasts only, half-max 0.01: h = 100)."""
    data = fates_model(drug_death=_p(0.0, "1/h"))
    data["parameters"].update(kill=_p(KILL, "1/h"), ec50=_p(EC50, "nM"),
                              one=_p(1.0, "dimensionless"),
                              protected=_p(SURVIVAL * D, "1/h"),
                              half=_p(0.01, "dimensionless"))
    data["rules"] = [{"cell_type": "blast", "signal": "drug:cytarabine",
                      "direction": "increases", "behavior": "drug_death",
                      "saturation": "kill", "half_max": "ec50", "hill_power": "one"}]
    if survival:
        data["rules"].append({"cell_type": "blast", "signal": "fraction:blast",
                              "direction": "decreases", "behavior": "death",
                              "saturation": "protected", "half_max": "half",
                              "hill_power": "one"})
    return data


@pytest.mark.parametrize("survival", [True, False])
def test_drug_death_adds_to_death_and_survival_rules_do_not_cancel_it(survival):
    """dB/dt = ((2a(1 - f) - 1)p - d_basal - k·h/(1 + h) - e)·B with h = drug / EC50: the
    survival rule lowers the basal death only (d_basal = D + 100·(0.3·D − D)/101 with it),
    the drug's kill stays whole; the dying (deaths, drug deaths, failed divisions) release
    apoptotic bodies. Kinetics and the compiled right-hand side agree."""
    from evniche.engines.compiled import CompiledKinetics

    kin = Kinetics(net_of(drug_death_model(survival)))
    y = kin.initial_state()
    y[kin.i_drug[0]] = DRUG
    h = DRUG / EC50
    basal = D + 100.0 * (SURVIVAL * D - D) / 101.0 if survival else D
    drug = KILL * h / (1.0 + h)
    expected = ((2 * A * (1 - F) - 1) * P - basal - drug - E) * N0
    for dy in (kin.rhs(0.0, y), CompiledKinetics(kin).rhs(0.0, y)):
        assert dy[kin.i_cell[0]] == pytest.approx(expected, rel=1e-12)
        secreted = dy[kin.species_index["ledger:blast.apoptotic_body.secreted"]]
        assert secreted == pytest.approx(BODIES * (basal + drug + 2 * F * P) * N0, rel=1e-12)
    # in PhysiCell's combination the same drug rule on 'death' would be pulled back to
    # the survival saturation: the separate term is what keeps the kill
    assert drug > 10 * SURVIVAL * D


def test_drug_death_without_a_drug_changes_nothing():
    with_term = Kinetics(net_of(drug_death_model()))
    plain = drug_death_model()
    del plain["cell_types"]["blast"]["drug_death"]
    plain["rules"] = plain["rules"][1:]
    without = Kinetics(net_of(plain))
    y = with_term.initial_state()
    np.testing.assert_array_equal(with_term.rhs(0.0, y)[with_term.i_cell],
                                  without.rhs(0.0, y)[without.i_cell])


def test_a_drug_death_rule_needs_a_base_drug_death():
    data = drug_death_model()
    del data["cell_types"]["blast"]["drug_death"]
    with pytest.raises(ModelError, match="no base 'drug_death'"):
        net_of(data)
