"""A calibration's run stops once it has the samples its records read (a
:class:`Horizon` from :meth:`ModelSimulations.plan`): the records' readouts and distances
are bitwise those of the runs solved to their end, because CVODE's stop time stays the
segment's end and its steps do not depend on later output times; a readout that asks
for more has the run solved to its end."""

from __future__ import annotations

import numpy as np
import pytest

from evniche.engines import prepare, solver
from evniche.engines.wellmixed import integrate
from evniche.experiments import calibration
from evniche.experiments.calibration import free_parameters, select_records
from evniche.experiments.calibration_runs import ArrayRun, Horizon, blast_percent, needs
from evniche.observations import load
from evniche.observations.comparison import DIAGNOSIS_BLASTS, evaluate
from evniche.spec.loader import load_model


@pytest.fixture(scope="module")
def records():
    return select_records(load(None), "aml")


def particle(records, proposal, horizons: bool):
    """A particle's runs (with or without horizons; each run solved from day 0: a
    therapy's run branched off the untreated one is tests/calibration/test_run_branches.py)."""
    cls = type("Sims", (calibration._simulations_class(),),
               {"horizons": horizons, "branches": False})
    sims = cls(overrides=proposal)
    sims.plan(records)
    rows = [evaluate(r, sims) for r in records]
    return sims, [(r.record.id, r.error, r.model, r.per_condition, r.distance) for r in rows]


@pytest.mark.parametrize("factor", [1.0, 0.6, 1.5])
def test_runs_stopped_at_their_last_read_sample_read_bitwise_the_same(records, factor):
    priors = free_parameters(load_model("aml"), ["msc_mv_rate", "lsc_division_interval"])
    proposal = {p.key: p.value * factor for p in priors}
    sims, mine = particle(records, proposal, True)
    whole, theirs = particle(records, proposal, False)
    assert mine == theirs or repr(mine) == repr(theirs)  # NaN == NaN in repr
    assert all(r.complete for r in whole._runs.values())
    stopped = [r for r in sims._runs.values() if not r.complete]
    assert stopped, "no run stopped early"
    for key, run in sims._runs.items():  # every sample a stopped run has is the whole one's
        other = whole._runs[key]
        n = run.time.size
        np.testing.assert_array_equal(run.solved.sol.y, other.solved.sol.y[:n])
        assert run.complete == (n == other.time.size)


def test_needs_of_the_aml_records(records):
    by_id = {r.id: needs(r) for r in records}
    assert [n for _, n in by_id["P6-AML-marrow-blasts-at-diagnosis"]] == [("diagnosis", 0.0)]
    assert [n for _, n in by_id["O5-AML-day16-blasts-after-induction"]] == [
        ("diagnosis", 15.0)]
    assert [n for _, n in by_id["GRW-1-AML-rab27a-knockdown-delays"]] == [
        ("crossing", 20.0), ("crossing", 20.0)]
    assert [n for _, n in by_id["PAT-1-AML-above-healthy"]] == [("end",), ("diagnosis", 0.0)]


def test_a_stopped_run_read_past_its_last_sample_is_solved_to_its_end():
    model = load_model("aml")
    net, _ = prepare(model, None, [], 365.0)
    from evniche.engines.ensemble import Solved

    def solved(until=None):
        with solver.compiled_cvode():  # the path that stops a solve early
            sol = integrate(net, 365.0, until=until)
        return Solved(net, sol.schedule, sol, 365.0, 0.0)

    whole = solved()
    early = ArrayRun(solved(Horizon(net, [("day", 30.0)], DIAGNOSIS_BLASTS)), whole=solved)
    assert not early.complete and 30.0 <= early.time[-1] < 60.0
    first = blast_percent(early, 20.0)  # inside: no second solve
    assert not early.complete
    last = blast_percent(early, 200.0)  # past its last sample: solved to its end
    assert early.complete and early.time[-1] == 365.0
    full = ArrayRun(whole)
    assert (first, last) == (blast_percent(full, 20.0), blast_percent(full, 200.0))
    stuck = ArrayRun(solved(Horizon(net, [("day", 30.0)], DIAGNOSIS_BLASTS)))
    with pytest.raises(Exception, match="stopped early"):
        blast_percent(stuck, 200.0)


def test_a_horizon_waits_for_every_need():
    model = load_model("aml")
    net, _ = prepare(model, None, [], 365.0)
    sol = integrate(net, 365.0)
    blasts = ArrayRun(type("S", (), {"net": net, "sol": sol})()).blast_percent
    crossed = int(np.argmax(blasts >= 20.0))
    assert 0 < crossed
    horizon = Horizon(net, [("crossing", 20.0), ("day", 10.0)], DIAGNOSIS_BLASTS)
    assert not horizon([sol.t[:crossed]], [sol.y[:crossed]])
    assert horizon([sol.t[:crossed], sol.t[crossed:crossed + 1]],
                   [sol.y[:crossed], sol.y[crossed:crossed + 1]])
    assert not Horizon(net, [("day", 400.0)], DIAGNOSIS_BLASTS)([sol.t], [sol.y])
    assert not horizon([], [])
