"""The stochastic engine (hybrid SSA/ODE, evniche.engines.stochastic) on small models with
closed forms: the chance that one cell establishes (1 − death/birth), the mean of many
runs against the well-mixed ODE, regime switching at the threshold, the EV ledger, the
same seed giving the same run, and bad options refused with a clear message."""

from __future__ import annotations

import math

import numpy as np
import pytest

import evniche
from evniche import engines
from evniche.compile.network import compile_model
from evniche.engines import stochastic
from evniche.engines.compiled import CompiledKinetics
from evniche.engines.kinetics import Kinetics
from evniche.errors import SimulationError

BIRTH, DEATH = 0.04, 0.01  # 1/h: one leukemic stem cell's division and death rates
P, A, F, D, E, DB = 0.02, 0.75, 0.25, 0.004, 0.003, 0.05  # 1/h or fractions
BODIES = 3.0  # apoptotic bodies per dying cell
EXO = 10.0  # exosomes per cell per hour
N0 = 20_000.0


def _p(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "source": "assumption: a test value"}


def _compartments() -> dict:
    return {"parameters": {"vm": _p(1000, "mL"), "vb": _p(3000, "mL")},
            "compartments": {"marrow": {"volume": "vm"}, "blood": {"volume": "vb"}}}


def birth_death_model(birth: float = BIRTH, death: float = DEATH, initial: float = 1) -> dict:
    """One leukemic stem cell type in the marrow: each division makes two LSCs (self-renewal
    1, so births at ``birth`` per cell per hour), deaths at ``death``; nothing else."""
    return {"name": "birth_death", "disease": "AML", **_compartments(),
            "vesicle_classes": {"exosome": {
                "diameter": {"median": _p(0.1, "um"), "gsd": _p(1.4, "dimensionless"),
                             "min": _p(0.03, "um"), "max": _p(0.15, "um")},
                "degradation": _p(0.1, "1/h"), "drainage": _p(0.5, "1/h"),
                "clearance": _p(7, "1/min")}},
            "cell_types": {"LSC": {"lineage": "leukemic", "initial": _p(initial, "cell"),
                                   "proliferation": _p(birth, "1/h"),
                                   "self_renewal": _p(1.0, "dimensionless"),
                                   "death": _p(death, "1/h")}}}


def fates_model(n0: float = N0) -> dict:
    """Marrow blasts that divide (p, self-renewal a, a share f of divisions failing), die
    (d), exit (e) into blood blasts (death d_b), secrete exosomes and release apoptotic
    bodies per dying cell; a large mature pool they differentiate into."""
    exo = {"diameter": {"median": _p(0.1, "um"), "gsd": _p(1.4, "dimensionless"),
                        "min": _p(0.03, "um"), "max": _p(0.15, "um")},
           "degradation": _p(0.1, "1/h"), "drainage": _p(0.5, "1/h"),
           "clearance": _p(7, "1/min")}
    bodies = {"diameter": {"median": _p(1.2, "um"), "gsd": _p(2, "dimensionless"),
                           "min": _p(0.05, "um"), "max": _p(5, "um")},
              "ps_exposed": True, "degradation": _p(0.5, "1/h"), "drainage": _p(0.01, "1/h"),
              "clearance": _p(6, "1/h")}
    return {
        "name": "fates", "disease": "AML", **_compartments(),
        "vesicle_classes": {"exosome": exo, "apoptotic_body": bodies},
        "cell_types": {
            "blast": {"lineage": "leukemic", "initial": _p(n0, "cell"),
                      "proliferation": _p(P, "1/h"), "self_renewal": _p(A, "dimensionless"),
                      "division_failure": _p(F, "dimensionless"), "death": _p(D, "1/h"),
                      "exit": _p(E, "1/h"), "exit_to": "blast_blood",
                      "differentiates_to": "mature",
                      "secretion": [{"class": "exosome", "rate": _p(EXO, "EV/cell/h")},
                                    {"class": "apoptotic_body", "per": "death",
                                     "rate": _p(BODIES, "EV")}]},
            "blast_blood": {"is_a": "blast", "lineage": "leukemic", "compartment": "blood",
                            "initial": _p(0, "cell"), "death": _p(DB, "1/h")},
            "mature": {"is_a": "mature", "initial": _p(1e7, "cell"), "death": _p(0.01, "1/h")},
        },
    }


def _cells(ds, name: str) -> np.ndarray:
    return ds.cells.sel(cell_type=name).values


# ----------------------------------------------------------------------- establishment
def test_one_leukemic_stem_cell_establishes_with_probability_one_minus_death_over_birth():
    """A branching process with births b and deaths d per cell survives with probability
    1 − d/b (reaching 30 cells from 1: (1 − d/b) / (1 − (d/b)^30), the same to 1e-18).
    Seed 7 gives 7,401 of 10,000 (0.740 against 0.75; one standard error is 0.0043)."""
    out = stochastic.establishment(evniche.load_model(birth_death_model()), "LSC",
                                   runs=10_000, days=60, seed=7, threshold=30)
    expected = 1.0 - DEATH / BIRTH
    assert out.runs == 10_000 and out.undecided == 0
    assert out.established + out.extinct == out.runs
    assert abs(out.probability - expected) <= 0.02 * expected  # 3.4 standard errors


def test_a_subcritical_cell_that_secretes_evs_never_establishes():
    """d/b = 4: reaching 100 cells from 1 has probability 3/(4^100 - 1) ≈ 0. The LSCs
    secrete exosomes, so each run goes through the hybrid steps (EV pools as ODEs)."""
    data = birth_death_model(0.01, 0.04)
    data["cell_types"]["LSC"]["secretion"] = [{"class": "exosome",
                                               "rate": _p(EXO, "EV/cell/h")}]
    out = stochastic.establishment(evniche.load_model(data), "LSC", runs=50, days=200,
                                   seed=1, threshold=100)
    assert out.established == 0 and out.extinct == 50


# ------------------------------------------------------------------ mean of runs vs ODE
@pytest.fixture(scope="module")
def fates_runs():
    """Sixteen 5-day runs of the fates model, the blasts (20,000) and blood blasts
    discrete (threshold 100,000), the mature pool (1e7) and every EV pool continuous."""
    data = fates_model()
    ode = evniche.simulate(data, days=5, output_hours=12.0, equilibrate_first=False)
    runs = [evniche.simulate(data, days=5, engine="stochastic", seed=s, threshold=1e5,
                             coupling_hours=6.0, output_hours=12.0,
                             equilibrate_first=False) for s in range(16)]
    return ode, runs


def test_mean_of_runs_matches_the_ode_within_2_percent(fates_runs):
    """Large populations (20,000 blasts, the mature pool, the exosomes they secrete, the
    EVs secreted over the run): the mean of the runs within 2 % of the ODE."""
    ode, runs = fates_runs
    for name in ("blast", "mature"):
        mean = np.mean([_cells(ds, name)[-1] for ds in runs])
        assert mean == pytest.approx(_cells(ode, name)[-1], rel=0.02), name
    exosomes = np.mean([float(ds.ev.sel(pool="blast.exosome").sum("compartment")[-1])
                        for ds in runs])
    assert exosomes == pytest.approx(float(
        ode.ev.sel(pool="blast.exosome").sum("compartment")[-1]), rel=0.02)
    for pool in ("blast.exosome", "blast.apoptotic_body"):
        secreted = np.mean([float(ds.ledger.sel(pool=pool, term="secreted")[-1])
                            for ds in runs])
        assert secreted == pytest.approx(float(ode.ledger.sel(pool=pool,
                                                              term="secreted")[-1]),
                                         rel=0.02), pool


def test_mean_of_small_noisy_quantities_lies_within_three_standard_errors(fates_runs):
    """~800 blood blasts, and the apoptotic bodies present (they live ~2 h, so they count
    only the last hours' deaths): noisier than 2 % over 16 runs, so the mean is held to
    three standard errors of the ODE."""
    ode, runs = fates_runs
    values = {"blast_blood": ([_cells(ds, "blast_blood")[-1] for ds in runs],
                              _cells(ode, "blast_blood")[-1])}
    values["bodies"] = ([float(ds.ev.sel(pool="blast.apoptotic_body").sum("compartment")[-1])
                         for ds in runs],
                        float(ode.ev.sel(pool="blast.apoptotic_body").sum("compartment")[-1]))
    for name, (sample, expected) in values.items():
        error = np.std(sample, ddof=1) / math.sqrt(len(sample))
        assert 0 < error < 0.05 * expected, name
        assert abs(np.mean(sample) - expected) < 3 * error, name


def test_discrete_types_hold_whole_cells_and_vary_between_runs(fates_runs):
    _, runs = fates_runs
    for ds in runs:
        for name in ("blast", "blast_blood"):
            values = _cells(ds, name)
            np.testing.assert_array_equal(values, np.round(values))
        assert _cells(ds, "mature")[-1] != np.round(_cells(ds, "mature")[-1])
    finals = {_cells(ds, "blast")[-1] for ds in runs}
    assert len(finals) > 10  # random: the runs differ
    assert all(ds.attrs["events"] > 10_000 for ds in runs)


def test_the_ev_ledger_closes_with_bursts_from_discrete_deaths(fates_runs):
    _, runs = fates_runs
    for ds in runs:
        assert ds.attrs["ledger_relative_error"] <= 1e-9
        bodies = ds.ledger.sel(pool="blast.apoptotic_body").isel(time=-1)
        present = float(ds.ev.sel(pool="blast.apoptotic_body").isel(time=-1).sum())
        out = float(bodies.sel(term=["degraded", "cleared", "removed", "taken_up"]).sum())
        secreted = float(bodies.sel(term="secreted"))
        assert secreted > 0
        assert present + out == pytest.approx(secreted, rel=1e-9)


def test_arrivals_from_a_continuous_type_and_kills_of_discrete_cells_match_the_ode():
    """A large stem pool (continuous) whose daughters mutate into a leukemic type
    (discrete, from 0: each mutant arrives as one event) that NK cells (continuous) kill:
    the mean of 20 runs within three standard errors of the ODE, and every run starts
    with none and ends with some."""
    data = {"name": "arrivals", "disease": "AML", **_compartments(),
            "vesicle_classes": birth_death_model()["vesicle_classes"],
            "cell_types": {
                "stem": {"is_a": "HSC", "initial": _p(1e6, "cell"),
                         "proliferation": _p(0.02, "1/h"),
                         "self_renewal": _p(0.5, "dimensionless"),
                         "mutates_to": {"target": "mutant", "rate": _p(1e-4, "dimensionless")}},
                "mutant": {"is_a": "LSC", "lineage": "leukemic", "initial": _p(0, "cell"),
                           "proliferation": _p(0.01, "1/h"),
                           "self_renewal": _p(0.7, "dimensionless"),
                           "death": _p(0.002, "1/h")},
                "NK": {"lineage": "immune", "initial": _p(2e5, "cell"),
                       "kills": [{"target": "mutant", "rate": _p(0.1, "1/h")}]}}}
    ode = evniche.simulate(data, days=2, equilibrate_first=False)
    finals = []
    for seed in range(20):
        ds = evniche.simulate(data, days=2, engine="stochastic", seed=seed, threshold=1e5,
                              equilibrate_first=False)
        mutants = _cells(ds, "mutant")
        assert mutants[0] == 0 and mutants[-1] > 0
        finals.append(mutants[-1])
    expected = _cells(ode, "mutant")[-1]
    error = np.std(finals, ddof=1) / math.sqrt(len(finals))
    assert 0 < error < 0.05 * expected
    assert abs(np.mean(finals) - expected) < 3 * error
    # without the kills the ODE ends higher: the kill events are taking cells away
    data["cell_types"]["NK"]["kills"] = []
    assert _cells(evniche.simulate(data, days=2, equilibrate_first=False),
                  "mutant")[-1] > 1.05 * np.mean(finals)


# --------------------------------------------------------------------- regime switching
def test_a_growing_population_switches_to_the_ode_at_the_threshold():
    """200 cells growing at b − d = 0.03/h pass the threshold of 1,000 after ~2.5 days and
    go on as an ODE: whole counts before, fractional after, and the mean of the runs
    within three standard errors of the ODE's exponential growth."""
    data = birth_death_model(initial=200)
    finals = []
    for seed in range(30):
        ds = evniche.simulate(data, days=6, engine="stochastic", seed=seed,
                              equilibrate_first=False, output_hours=6.0)
        lsc = _cells(ds, "LSC")
        below = lsc < 1000
        assert below[0] and not below[-1]
        np.testing.assert_array_equal(lsc[below], np.round(lsc[below]))
        finals.append(lsc[-1])
    expected = 200 * math.exp((BIRTH - DEATH) * 6 * 24)
    error = np.std(finals, ddof=1) / math.sqrt(len(finals))
    assert abs(np.mean(finals) - expected) < 3 * error
    assert any(f != round(f) for f in finals)  # continuous at the end


def test_large_populations_follow_the_ode():
    """Types above the threshold follow the well-mixed trajectory (to the solver's
    tolerances); blood blasts, discrete from 0, are fed by egress."""
    data = fates_model(n0=2e5)
    ode = evniche.simulate(data, days=2, equilibrate_first=False)
    ds = evniche.simulate(data, days=2, engine="stochastic", seed=3, threshold=1e5,
                          equilibrate_first=False)
    # blood blasts start at 0 (discrete) and are fed by egress: a few hundred cells
    np.testing.assert_allclose(_cells(ds, "blast"), _cells(ode, "blast"), rtol=1e-4)
    np.testing.assert_allclose(_cells(ds, "mature"), _cells(ode, "mature"), rtol=1e-4)
    assert _cells(ds, "blast_blood")[-1] == pytest.approx(_cells(ode, "blast_blood")[-1],
                                                          rel=0.1)


def test_hybrid_right_hand_side_keeps_discrete_counts_and_the_rest_of_the_ode():
    """With no type discrete the hybrid right-hand side is the compiled one; with every
    type discrete the cell rows are 0 and the EV pools lose exactly the per-death EVs."""
    net = compile_model(evniche.load_model(fates_model()))
    kin = Kinetics(net)
    comp = CompiledKinetics(kin)
    y = kin.initial_state()
    y[kin.i_ev_m] = 1e6
    mods = comp.modifiers()
    full = comp.rhs(0.0, y)
    out = np.empty_like(y)
    none = np.zeros(kin.n_cells, bool)
    stochastic._hybrid_rhs(y, out, comp.ints, comp.int_off, comp.floats, comp.float_off,
                           *mods, none, np.zeros(kin.n_pools))
    np.testing.assert_array_equal(out, full)
    stochastic._hybrid_rhs(y, out, comp.ints, comp.int_off, comp.floats, comp.float_off,
                           *mods, ~none, np.zeros(kin.n_pools))
    assert not out[kin.i_cell].any()
    bodies = [p for p, pool in enumerate(net.pools) if pool.per_death][0]
    dying = (D + 2 * F * P) * N0
    assert full[kin.i_ev_m[bodies]] - out[kin.i_ev_m[bodies]] == pytest.approx(
        BODIES * dying, rel=1e-12)
    secreted = kin.i_led["secreted"][bodies]
    assert full[secreted] - out[secreted] == pytest.approx(BODIES * dying, rel=1e-12)


# ---------------------------------------------------------------------- reproducibility
def test_same_seed_same_run_other_seed_other_run():
    data = fates_model(n0=2000)

    def run(seed: int):
        return evniche.simulate(data, days=2, engine="stochastic", seed=seed, threshold=1e4,
                                equilibrate_first=False, output_hours=6.0)

    a, b, c = run(11), run(11), run(12)
    np.testing.assert_array_equal(a.cells.values, b.cells.values)
    np.testing.assert_array_equal(a.ev.values, b.ev.values)
    assert a.attrs["events"] == b.attrs["events"]
    assert not np.array_equal(a.cells.values, c.cells.values)
    first = stochastic.establishment(evniche.load_model(birth_death_model()), "LSC",
                                     runs=200, days=60, seed=5, threshold=50)
    again = stochastic.establishment(evniche.load_model(birth_death_model()), "LSC",
                                     runs=200, days=60, seed=5, threshold=50)
    assert first == again


# ------------------------------------------------------------------------ bad options
@pytest.mark.parametrize(("options", "message"), [
    ({"threshold": 0.5}, "option threshold of the stochastic engine must be a number of "
                         "cells >= 1, got 0.5"),
    ({"threshold": "many"}, "option threshold"),
    ({"coupling_hours": 0}, "option coupling_hours of the stochastic engine must be a "
                            "number of hours > 0, got 0"),
    ({"coupling_hours": float("inf")}, "option coupling_hours"),
    ({"rtol": 1.0}, "option rtol"),
    ({"equilibrate_first": "yes"}, "option equilibrate_first"),
    ({"agents": 10}, "unknown option 'agents' of the stochastic engine; choose from "
                     "threshold, coupling_hours"),
])
def test_bad_options_are_refused_by_name(options, message):
    with pytest.raises(SimulationError, match="^" + message.replace("(", r"\(")
                       .replace(")", r"\)").replace(".", r"\.")):
        engines.simulate(birth_death_model(), days=1, engine="stochastic", **options)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cell_type": "HSC"}, "'HSC' is not a cell type of model 'birth_death'; choose one of "
                           "LSC"),
    ({"runs": 0}, "runs must be a whole number >= 1, got 0"),
    ({"cells": 100, "threshold": 50}, r"cells \(100\) must lie below the threshold \(50\)"),
])
def test_establishment_refuses_bad_input(kwargs, message):
    args = {"cell_type": "LSC", "runs": 10, "days": 10, **kwargs}
    with pytest.raises(SimulationError, match=message):
        stochastic.establishment(birth_death_model(), **args)


def test_a_run_past_its_wall_clock_limit_stops_with_a_message():
    with pytest.raises(SimulationError, match="stopped at its time limit of 1e-09 s"):
        engines.simulate(fates_model(n0=2000), days=2, engine="stochastic", threshold=1e4,
                         equilibrate_first=False, wall_limit_s=1e-9)
