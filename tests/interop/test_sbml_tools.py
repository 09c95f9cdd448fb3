"""Every preset's SBML at the simulators' default settings: COPASI (python-copasi) and
libRoadRunner each simulate the export and match evniche's well-mixed engine.

Every preset takes minutes on 2
cores (export, evniche, COPASI and a libRoadRunner compile each): the regular suite runs the
healthy preset, ``EVNICHE_SBML_ALL=1`` runs them all."""

from __future__ import annotations

import os

import numpy as np
import pytest

import evniche
from evniche.interop import export_sbml
from evniche.spec.loader import preset_names

COPASI = pytest.importorskip("COPASI")
roadrunner = pytest.importorskip("roadrunner")

DAYS = 3
#: default settings of both tools (relative 1e-6): their error against evniche (rtol 1e-7)
MAX_RELATIVE_ERROR = 1e-4

@pytest.fixture(scope="module")
def runs() -> dict:
    """Per preset: the SBML text and evniche's trajectory (both computed once)."""
    return {}


def _case(runs: dict, name: str):
    if name not in runs:
        model = evniche.load_model(name)
        runs[name] = (export_sbml(model), evniche.simulate(model, days=DAYS))
    return runs[name]


def _worst(ds, series) -> tuple[float, str]:
    worst = (0.0, "")
    for ct in ds.cell_type.values:
        a = ds.cells.sel(cell_type=ct).values
        b = series(f"cell_{ct}")
        assert b.shape == a.shape, f"{ct}: {b.shape} samples, expected {a.shape}"
        floor = 1e-6 * np.abs(a).max() + 1e-12
        rel = float(np.max(np.abs(a - b) / np.maximum(np.abs(a), floor)))
        worst = max(worst, (rel, str(ct)), key=lambda w: w[0])
    return worst


def _copasi(text: str):
    dm = COPASI.CRootContainer.addDatamodel()
    try:
        assert dm.importSBMLFromString(text)
        task = dm.getTask("Time-Course")
        problem = task.getProblem()
        problem.setDuration(DAYS * 24.0)
        problem.setStepNumber(DAYS)
        task.setMethodType(COPASI.CTaskEnum.Method_deterministic)  # LSODA, its defaults
        ok = task.processWithOutputFlags(True, COPASI.CCopasiTask.ONLY_TIME_SERIES)
        assert ok, COPASI.CCopasiMessage.getAllMessageText()[-500:]
        ts = task.getTimeSeries()
        names = [ts.getSBMLId(i, dm) for i in range(ts.getNumVariables())]
        steps = ts.getRecordedSteps()
        data = {n: np.array([ts.getConcentrationData(k, i) for k in range(steps)])
                for i, n in enumerate(names) if n.startswith("cell_")}
        return data.__getitem__
    finally:
        COPASI.CRootContainer.removeDatamodel(dm)


def _roadrunner(text: str):
    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
    rr = roadrunner.RoadRunner(text)  # CVODE, its defaults
    res = rr.simulate(0, DAYS * 24.0, DAYS + 1)
    cols = list(res.colnames)
    return lambda sid: np.asarray(res[:, cols.index(sid)])


CASES = [pytest.param(name, tool, id=f"{name}-{tool}")
         for name in (preset_names() if os.environ.get("EVNICHE_SBML_ALL") else ["healthy"])
         for tool in ("copasi", "roadrunner")]


@pytest.mark.parametrize(("name", "tool"), CASES)
def test_preset_sbml_simulates_at_default_settings_and_matches(runs, name: str,
                                                                tool: str) -> None:
    text, ds = _case(runs, name)
    series = (_copasi if tool == "copasi" else _roadrunner)(text)
    error, where = _worst(ds, series)
    assert error <= MAX_RELATIVE_ERROR, f"{name} in {tool}: relative error {error:.2e} ({where})"
