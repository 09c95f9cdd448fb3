"""Every preset's SBML at the simulators' default settings: COPASI (python-copasi) and
libRoadRunner each simulate the export and match evniche's well-mixed engine on every
species (cells, EV pools, EV ledger, cargo per cell, states, cytokines, drugs), and
libSBML's unit consistency check reports nothing.

Every preset takes seconds to a minute on 2 cores (export, evniche, a libRoadRunner
compile): the regular suite runs the healthy preset and a treated cml run,
``EVNICHE_SBML_ALL=1`` runs them all and aml under 7+3 induction (docs/interop.md, "SBML",
has the measured table)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sbml_conditions import continuous_conditions

import evniche
from evniche.compile.interventions import parse_intervention
from evniche.compile.network import compile_model
from evniche.engines import prepare, wellmixed
from evniche.interop import export_sbml
from evniche.spec.loader import preset_names

COPASI = pytest.importorskip("COPASI")
roadrunner = pytest.importorskip("roadrunner")
libsbml = pytest.importorskip("libsbml")

DAYS = 3
#: default settings of both tools (relative 1e-6) against evniche (relative 1e-10): allowed
#: difference MAX_RELATIVE_ERROR × |value| (at least 1e-6 of the species' largest value)
#: plus ATOL_FACTOR × evniche's absolute tolerance for that kind of species (1e-6 cells,
#: 1e-3 EVs, 1e-10 copies per cell, ...)
MAX_RELATIVE_ERROR = 1e-4
ATOL_FACTOR = 10.0
REFERENCE_RTOL = 1e-10


@pytest.fixture(scope="module")
def runs() -> dict:
    """Per case: the SBML text, evniche's species names, trajectory and absolute
    tolerances (each computed once)."""
    return {}


def _case(runs: dict, case: str):
    """``case``: a preset, or ``preset+NAME@DAY`` with an intervention (doses become events,
    drugs reactions in plasma). The reference is evniche's well-mixed engine at relative
    1e-10 (at its default 1e-7 its own error reaches 1.5e-4 on cargo near its absolute
    tolerance: all, t_all), so that the comparison measures the tools and the export."""
    if case not in runs:
        name, _, plan = case.partition("+")
        interventions = [parse_intervention(plan)] if plan else None
        model = evniche.load_model(name)
        net, schedule = prepare(model, None, interventions, DAYS)
        sol = wellmixed.integrate(net, DAYS, schedule, rtol=REFERENCE_RTOL)
        floor = wellmixed.tolerances(sol.kinetics, np.zeros(sol.kinetics.n), 0.0)
        runs[case] = (export_sbml(model, interventions=interventions, days=DAYS),
                      [s.name for s in net.species], sol.y, floor)
    return runs[case]


def _variables(text: str) -> dict[str, tuple[str, bool, float]]:
    """evniche species name -> (SBML id, counted in amount?, initial value)."""
    model = libsbml.readSBMLFromString(text).getModel()
    out = {}
    for i in range(model.getNumSpecies()):
        sp = model.getSpecies(i)
        amount = sp.getHasOnlySubstanceUnits()
        out[sp.getName()] = (sp.getId(), amount,
                             sp.getInitialAmount() if amount else sp.getInitialConcentration())
    return out


def _copasi(text: str, names: list[str]) -> np.ndarray:
    """COPASI's trajectory (LSODA at its defaults: relative 1e-6, absolute 1e-12, 100000
    steps) of ``names``, daily. A species no reaction changes is constant in SBML and
    COPASI leaves it out of the time series: its initial value stands."""
    variables = _variables(text)
    dm = COPASI.CRootContainer.addDatamodel()
    try:
        assert dm.importSBMLFromString(text)
        task = dm.getTask("Time-Course")
        problem = task.getProblem()
        problem.setDuration(DAYS * 24.0)
        problem.setStepNumber(DAYS)
        task.setMethodType(COPASI.CTaskEnum.Method_deterministic)
        ok = task.processWithOutputFlags(True, COPASI.CCopasiTask.ONLY_TIME_SERIES)
        assert ok, COPASI.CCopasiMessage.getAllMessageText()[-500:]
        ts = task.getTimeSeries()
        column = {ts.getSBMLId(i, dm): i for i in range(ts.getNumVariables())}
        steps = ts.getRecordedSteps()
        out = np.empty((steps, len(names)))
        for j, name in enumerate(names):
            sid, amount, initial = variables[name]
            if sid not in column:
                out[:, j] = initial
                continue
            get = ts.getData if amount else ts.getConcentrationData
            out[:, j] = [get(k, column[sid]) for k in range(steps)]
        return out
    finally:
        COPASI.CRootContainer.removeDatamodel(dm)


def _roadrunner(text: str, names: list[str]) -> np.ndarray:
    """libRoadRunner's trajectory (CVODE at its defaults) of ``names``, daily."""
    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
    variables = _variables(text)
    rr = roadrunner.RoadRunner(text)
    rr.timeCourseSelections = [variables[n][0] if variables[n][1] else f"[{variables[n][0]}]"
                               for n in names]
    return np.asarray(rr.simulate(0, DAYS * 24.0, DAYS + 1))


def _compare(names: list[str], ref: np.ndarray, floor: np.ndarray, other: np.ndarray
             ) -> tuple[float, str]:
    """Check every value of every species within the allowance; return the worst relative
    error over values above 1000 × evniche's absolute tolerance, and where it is."""
    assert other.shape == ref.shape, f"{other.shape} samples, expected {ref.shape}"
    scale = np.max(np.abs(ref), axis=0)
    allowed = (MAX_RELATIVE_ERROR * np.maximum(np.abs(ref), 1e-6 * scale)
               + ATOL_FACTOR * floor)
    excess = np.abs(other - ref) - allowed
    i, j = np.unravel_index(int(np.argmax(excess)), excess.shape)
    assert excess[i, j] <= 0, (f"{names[j]} on day {i}: {other[i, j]:.6g} instead of "
                               f"{ref[i, j]:.6g}")
    meaningful = np.abs(ref) > 1000 * floor
    rel = np.where(meaningful, np.abs(other - ref) / np.where(meaningful, np.abs(ref), 1.0),
                   0.0)
    k = int(np.argmax(np.max(rel, axis=0)))
    return float(np.max(rel)), names[k]


#: a treated run: daily imatinib doses from day 1 (events adding to a drug in plasma)
TREATED = "cml+imatinib@1"
#: with EVNICHE_SBML_ALL, the largest export under 7+3 induction from day 1 too (daily dose
#: events, two drugs; libRoadRunner restarts at each dose and runs)
INDUCTION = "aml+induction_7_3@1"
#: (preset, tool) → the measured reason it fails at the tool's default settings (none now)
KNOWN: dict[tuple[str, str], str] = {}
CASES = [pytest.param(name, tool, id=f"{name}-{tool}",
                      marks=[pytest.mark.xfail(strict=True, reason=KNOWN[name, tool])]
                      if (name, tool) in KNOWN else [])
         for name in [*(preset_names() if os.environ.get("EVNICHE_SBML_ALL") else
                        ["healthy"]), TREATED,
                      *([INDUCTION] if os.environ.get("EVNICHE_SBML_ALL") else [])]
         for tool in ("copasi", "roadrunner")]


@pytest.mark.parametrize(("name", "tool"), CASES)
def test_preset_sbml_simulates_at_default_settings_and_matches(runs, name: str,
                                                                tool: str) -> None:
    text, names, ref, floor = _case(runs, name)
    if name == TREATED:  # the doses reach the drug and are not lost in the comparison
        drug = names.index("drug:imatinib")
        assert ref[-1, drug] > 1000 * floor[drug]
    other = (_copasi if tool == "copasi" else _roadrunner)(text, names)
    error, where = _compare(names, ref, floor, other)
    assert error <= MAX_RELATIVE_ERROR, f"{name} in {tool}: relative error {error:.2e} ({where})"


@pytest.mark.parametrize("name", sorted({c.values[0] for c in CASES}))
def test_preset_sbml_has_no_unit_warning(runs, name: str) -> None:
    doc = libsbml.readSBMLFromString(_case(runs, name)[0])
    doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, True)
    doc.checkConsistency()
    messages = [doc.getError(i).getMessage() for i in range(doc.getNumErrors())]
    assert messages == [], f"{len(messages)} messages, the first: {messages[:1]}"


@pytest.mark.parametrize("name", sorted({c.values[0] for c in CASES}))
def test_preset_sbml_restarts_roadrunner_only_at_events(runs, name: str) -> None:
    """No piecewise condition of a rule or kinetic law changes between events: each change
    restarts libRoadRunner's CVODE with tolerances of 1e-12 × the current amounts (aml
    failed so at t ≈ 0.0015 h, tests/interop/sbml_conditions.py)."""
    assert continuous_conditions(_case(runs, name)[0]) == []


def _coupled(feedback) -> dict:
    """Blasts whose renewal 0.8·s^φ is fed back by their own count (s = 1/(1 + 1e-6·N)),
    growing from 1e5 toward 7.8e5 (φ = 0.5) within the run; they secrete exosomes."""
    def p(value: float, unit: str) -> dict:
        return {"value": value, "unit": unit, "source": "assumption: a test value"}
    return {
        "name": "coupling", "disease": "AML",
        "parameters": {"vm": p(1000, "mL"), "vb": p(3000, "mL"),
                       "phi": p(0.5, "dimensionless")},
        "compartments": {"marrow": {"volume": "vm"}, "blood": {"volume": "vb"}},
        "vesicle_classes": {"exosome": {
            "diameter": {"median": p(0.1, "um"), "gsd": p(1.5, "dimensionless"),
                         "min": p(0.03, "um"), "max": p(0.2, "um")},
            "degradation": p(0.1, "1/h"), "drainage": p(0.01, "1/h"),
            "clearance": p(1, "1/h")}},
        "cell_types": {"blast": {
            "lineage": "leukemic", "initial": p(1e5, "cell"), "proliferation": p(0.02, "1/h"),
            "self_renewal": p(0.8, "dimensionless"), "death": p(0.004, "1/h"),
            "feedback": feedback,
            "secretion": [{"class": "exosome", "rate": p(10, "EV/h")}]}},
        "hematopoiesis": {"feedback": {"from": ["blast"], "strength": p(1e-6, "dimensionless")}},
    }


@pytest.mark.parametrize("feedback", [0.5, "phi"], ids=["number", "parameter"])
def test_graded_feedback_coupling_exports_as_a_power_and_matches_in_roadrunner(feedback):
    """renew = a · s_feedback^φ in the export (a number or the parameter), simulated by
    libRoadRunner at its defaults against evniche over 3 days (blasts 1e5 → 2.7e5)."""
    model = evniche.load_model(_coupled(feedback))
    net, schedule = prepare(model, None, None, DAYS)
    sol = wellmixed.integrate(net, DAYS, schedule, rtol=REFERENCE_RTOL,
                              equilibrate_first=False)
    floor = wellmixed.tolerances(sol.kinetics, np.zeros(sol.kinetics.n), 0.0)
    text = export_sbml(model, days=DAYS, equilibrate_first=False)
    doc = libsbml.readSBMLFromString(text)
    rule = doc.getModel().getAssignmentRuleByVariable("renew_blast")
    formula = libsbml.formulaToL3String(rule.getMath()).replace(" ", "")
    assert "s_feedback^" in formula or "pow(s_feedback," in formula, formula
    names = [s.name for s in net.species]
    other = _roadrunner(text, names)
    error, where = _compare(names, sol.y, floor, other)
    assert error <= MAX_RELATIVE_ERROR, f"relative error {error:.2e} ({where})"
    # the coupling matters: with φ = 1 the blasts grow 10 % less over these 3 days
    full = wellmixed.integrate(compile_model(evniche.load_model(_coupled(True))), DAYS,
                               equilibrate_first=False)
    blast = names.index("cell:blast")
    assert full.y[-1, blast] < 0.95 * other[-1, blast]
