"""A calibration's runs leave out the EV ledger species (evniche.engines.kinetics.
without_ledger): the other species follow the same equations, so the right-hand side is
the full network's without the ledger rows, and the records' readouts and distances of
fixed ``aml`` parameter sets stay within 1e-4 relative of those of the full network's
runs (the path before; both solved at rtol 1e-7: the two solutions differ by what each
step's error control lets through, measured up to ~1e-5 relative on these records, far
below any record's spread of >= 10 %). A lone run keeps its ledger."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evniche.engines import prepare
from evniche.engines.compiled import CompiledKinetics
from evniche.engines.kinetics import Kinetics, without_ledger
from evniche.engines.wellmixed import integrate
from evniche.experiments import calibration
from evniche.experiments.calibration import free_parameters, select_records
from evniche.experiments.calibration_runs import ArrayRun
from evniche.observations import load
from evniche.observations.comparison import evaluate
from evniche.spec.loader import load_model

#: how far a readout or distance of the runs without the ledger may lie from the full
#: network's (relative): 1000 x rtol, the solutions' own global error at rtol 1e-7
TOLERANCE = 1e-4


def close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return a == b or (math.isnan(a) and math.isnan(b))
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b), 1e-12)


@pytest.fixture(scope="module")
def aml():
    model = load_model("aml")
    net, _ = prepare(model, None, [], 365.0)
    return model, net


def test_without_ledger_keeps_every_other_species_and_its_rates(aml):
    _, net = aml
    lean = without_ledger(net)
    kinds = [s.kind for s in net.species]
    assert "ledger" in kinds and "ledger" not in [s.kind for s in lean.species]
    kept = np.array([k != "ledger" for k in kinds])
    assert [s.name for s in lean.species] == [s.name for s, k in zip(net.species, kept,
                                                                      strict=True) if k]
    full, mine = Kinetics(net), Kinetics(lean)
    assert full.has_ledger and not mine.has_ledger
    rng = np.random.default_rng(3)
    y = np.abs(full.initial_state()) * (1 + rng.random(full.n)) + rng.random(full.n)
    removal = np.full(full.n_pools, 0.01)
    expected = full.rhs(0.0, y, removal=removal)[kept]
    np.testing.assert_array_equal(mine.rhs(0.0, y[kept], removal=removal), expected)
    compiled = CompiledKinetics(mine)
    np.testing.assert_array_equal(compiled.rhs(0.0, y[kept], removal=removal), expected)
    np.testing.assert_array_equal(
        compiled.jacobian(0.0, y[kept], removal=removal).toarray(),
        CompiledKinetics(full).jacobian(0.0, y, removal=removal).toarray()[np.ix_(kept, kept)])


def test_a_run_without_ledger_follows_the_full_run(aml):
    model, net = aml
    lean = without_ledger(net)
    kept = np.array([s.kind != "ledger" for s in net.species])
    full = integrate(net, 60.0)
    mine = integrate(lean, 60.0, initial=full.initial[kept])
    assert math.isnan(mine.ledger_error) and full.ledger_error < 1e-9
    np.testing.assert_array_equal(mine.t, full.t)
    scale = np.abs(full.y[:, kept]).max(axis=0) + 1e-3
    assert np.max(np.abs(mine.y - full.y[:, kept]) / scale) < TOLERANCE


def readouts(sims, records) -> list[tuple[str, list[float], float]]:
    rows = [evaluate(r, sims) for r in records]
    assert not [r.error for r in rows if r.error]
    return [(r.record.id, [r.model, *r.per_condition], r.distance) for r in rows]


@pytest.mark.parametrize("factor", [1.0, 0.6, 1.5])
def test_aml_records_read_the_same_without_the_ledger(factor):
    records = select_records(load(None), "aml")
    priors = free_parameters(load_model("aml"), ["msc_mv_rate", "lsc_division_interval"])
    proposal = {p.key: p.value * factor for p in priors}
    lean_class = calibration._simulations_class()
    full_class = type("WithLedger", (calibration._simulations_class(),), {"ledger": True})
    lean = lean_class(overrides=proposal)
    mine = readouts(lean, records)
    theirs = readouts(full_class(overrides=proposal), records)
    assert all(isinstance(r, ArrayRun) and r.full is not None for r in lean._runs.values())
    assert all(not r.solved.sol.kinetics.has_ledger for r in lean._runs.values())
    for (rid, values, distance), (_, expected, expected_distance) in zip(
            mine, theirs, strict=True):
        for a, b in zip(values, expected, strict=True):
            assert close(a, b), (rid, a, b)
        assert close(distance, expected_distance) or abs(distance - expected_distance) \
            < 1e-6, (rid, distance, expected_distance)


def test_a_dataset_of_a_run_without_ledger_is_the_full_runs():
    records = select_records(load(None), "aml")[:1]
    priors = free_parameters(load_model("aml"), ["msc_mv_rate"])
    sims = calibration._simulations_class()(overrides={p.key: p.value for p in priors})
    readouts(sims, records)
    run = next(iter(sims._runs.values()))
    ds = run.dataset  # with the ledger: solved again on the full network
    assert "ledger" in ds and float(ds.attrs["ledger_relative_error"]) < 1e-9
    assert ds.sizes["time"] == run.time.size


def test_an_ev_dose_on_a_network_without_ledger_adds_the_same_evs():
    """A dose's jump also counts into the ledger's 'administered' entry: without the
    ledger only the EVs are added (the run follows the full network's)."""
    from evniche.compile.interventions import build_schedule

    model = load_model("aml")
    doses = [{"name": "msc_ev", "start": 1.0, "options": {}}]
    net, _ = prepare(model, None, doses, 3.0)
    schedule = build_schedule(net, doses, 3.0)
    assert any(j.ledger for a in schedule.breakpoints(72.0) for j in schedule.jumps_at(a))
    kept = np.array([s.kind != "ledger" for s in net.species])
    full = integrate(net, 3.0, schedule, equilibrate_first=False)
    mine = integrate(without_ledger(net), 3.0, schedule, initial=full.initial[kept])
    scale = np.abs(full.y[:, kept]).max(axis=0) + 1e-3
    assert np.max(np.abs(mine.y - full.y[:, kept]) / scale) < TOLERANCE
    ev = [i for i, s in enumerate(without_ledger(net).species) if s.kind == "ev"]
    assert mine.y[-1, ev].sum() > 0
