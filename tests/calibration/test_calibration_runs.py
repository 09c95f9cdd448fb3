"""A calibration reads its runs' arrays (evniche.experiments.calibration_runs) instead of
building and reading their Datasets: the same values (1e-10 relative) and the same
errors as the measurement models read off the Dataset, on a tiny model and on every
``aml`` record, and the same diagnosis sample."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from evniche.engines import prepare
from evniche.engines.ensemble import ParameterValues, _run, solve_run
from evniche.errors import EvnicheError
from evniche.experiments import calibration, calibration_runs
from evniche.experiments.calibration import free_parameters, select_records
from evniche.experiments.calibration_runs import ArrayRun
from evniche.observations import load, measurement
from evniche.observations.comparison import evaluate
from evniche.readouts import clinical
from evniche.spec.loader import load_model

TINY = str((Path(__file__).parent / "tiny.yaml").resolve())


def same(a: float, b: float) -> bool:
    """Equal within 1e-10 relative (infinities and NaNs equal themselves)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-10 * max(abs(a), abs(b), 1e-300)


def both(model, runs, params):
    """The array value and the Dataset value of a measurement model, or their errors."""
    out = []
    for reader, given in ((calibration_runs.read, runs),
                          (measurement.read, [(r.dataset, d) for r, d in runs])):
        try:
            out.append(reader(model, given, params))
        except EvnicheError as exc:
            out.append(f"error: {exc}")
    return out


@pytest.fixture(scope="module")
def tiny_run():
    model = load_model(TINY)
    net, _ = prepare(model, None, [], 3.0)
    params = ParameterValues(model, net).canonical({"sec": 250.0})
    return ArrayRun(solve_run(model, net, params, 3.0, [], 1e-7, 24.0, True))


@pytest.mark.parametrize("name, params", [
    ("nta_count", {}), ("nta_count", {"low_nm": 90.0, "compartment": "marrow"}),
    ("flow_count", {"threshold_nm": 120.0}), ("flow_fraction", {"threshold_nm": 120.0}),
    ("exosome_protein", {"protein_per_ev_fg": 7.5}), ("cell_count", {"cell_type": "MSC"}),
    ("cell_count", {"cell_type": "HSC"}), ("blast_percent", {}), ("takeover_day", {}),
    ("nta_count", {"origin": "nobody"}), ("nta_count", {"low_nm": 200.0, "high_nm": 100.0}),
    ("blood_half_life", {}),  # not read from arrays: the Dataset's
])
@pytest.mark.parametrize("day", [None, 0.0, 1.5, 3.0, 4.0])
def test_tiny_model_array_values_equal_dataset_values(tiny_run, name, params, day):
    fast, slow = both(measurement.MODELS[name], [(tiny_run, day)], params)
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert same(fast, slow), (fast, slow)


def test_the_dataset_of_an_array_run_is_the_ensembles(tiny_run):
    model = load_model(TINY)
    net, _ = prepare(model, None, [], 3.0)
    params = ParameterValues(model, net).canonical({"sec": 250.0})
    ds = _run(model, net, params, 3.0, [], 1e-7, 24.0, True, restartable=False)
    for name in ("cells", "ev_concentration", "ledger", "behaviors"):
        np.testing.assert_array_equal(ds[name].values, tiny_run.dataset[name].values)


def test_every_aml_record_reads_the_same_from_arrays_as_from_the_dataset(monkeypatch):
    records = select_records(load(None), "aml")
    priors = free_parameters(load_model("aml"), ["msc_mv_rate", "lsc_division_interval"])
    proposal = {p.key: p.value * 1.3 for p in priors}
    seen: list[tuple[str, object, object]] = []

    def reader(model, runs, params):
        fast, slow = both(model, runs, params)
        seen.append((model.name, fast, slow))
        return calibration_runs.read(model, runs, params)

    # runs with their ledger: the Dataset is then the very run the arrays are read from
    # (a calibration's runs leave it out: tests/calibration/test_lean_runs.py)
    with_ledger = type("WithLedger", (calibration._simulations_class(),), {"ledger": True})
    sims = with_ledger(overrides=proposal)
    sims.read = reader
    rows = [evaluate(r, sims) for r in records]
    assert not [r.error for r in rows if r.error]
    assert {"blast_percent", "neutrophil_count", "takeover_day", "flow_count",
            "exosome_protein"} <= {name for name, _, _ in seen}
    for name, fast, slow in seen:
        assert not isinstance(slow, str) and same(fast, slow), (name, fast, slow)
    runs = list(sims._runs.values())
    assert len(runs) >= 8 and all(isinstance(r, ArrayRun) for r in runs)
    hits = 0
    for run in runs:
        k = run.diagnosis_sample()
        assert k == clinical.diagnosis_sample(run.dataset)
        np.testing.assert_allclose(run.blast_percent, clinical.blast_percent(run.dataset),
                                   rtol=1e-12)
        hits += k is not None
    assert hits >= 3  # the untreated aml runs reach diagnosis


def test_a_run_that_never_reaches_diagnosis_says_so(tiny_run, monkeypatch):
    sims = calibration._simulations_class()(overrides={"parameters.sec": 250.0})
    monkeypatch.setattr(sims, "run", lambda *a: tiny_run)
    with pytest.raises(EvnicheError, match="marrow_counted"):
        sims.diagnosis_day(TINY, {}, 3.0)
