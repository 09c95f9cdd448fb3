"""A therapy that starts later than day 0 (induction at diagnosis) starts from the
untreated run's sample there instead of solving the same equations from day 0 again
(:func:`evniche.engines.wellmixed.integrate`'s ``branch_from``). Not bitwise: the
untreated run's state on that day is CVODE's interpolant inside a step, where the
therapy's own solve stops at the breakpoint; both are the same solution within the
solver's tolerance (rtol 1e-7). The records' readouts stay within 1e-5 relative of the
runs solved from day 0 (measured up to 1.3e-6 over 18 prior draws of ``msc_mv_rate`` and
``lsc_division_interval``), the distances within 1e-5 relative or 1e-6 absolute."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evniche.engines import prepare
from evniche.engines.wellmixed import integrate
from evniche.experiments import calibration
from evniche.experiments.calibration import free_parameters, select_records
from evniche.observations import load
from evniche.observations.comparison import evaluate
from evniche.spec.loader import load_model

#: readouts of a branched run against the run solved from day 0 (relative)
TOLERANCE = 1e-5


def close(a: float, b: float, absolute: float = 0.0) -> bool:
    if not (math.isfinite(a) and math.isfinite(b)):
        return a == b or (math.isnan(a) and math.isnan(b))
    return abs(a - b) <= max(TOLERANCE * max(abs(a), abs(b)), absolute)


def particle(records, proposal, branches: bool):
    cls = type("Sims", (calibration._simulations_class(),), {"branches": branches})
    sims = cls(overrides=proposal)
    sims.plan(records)
    return sims, [evaluate(r, sims) for r in records]


@pytest.mark.parametrize("factor", [1.0, 0.6, 1.5])
def test_a_therapy_branched_off_the_untreated_run_reads_the_same(factor):
    records = select_records(load(None), "aml")
    priors = free_parameters(load_model("aml"), ["msc_mv_rate", "lsc_division_interval"])
    proposal = {p.key: p.value * factor for p in priors}
    sims, mine = particle(records, proposal, True)
    _, theirs = particle(records, proposal, False)
    branched = [r.solved.sol.branched_at for r in sims._runs.values()
                if r.solved.sol.branched_at is not None]
    assert branched and all(0 < t < 365 * 24 for t in branched)
    moved = 0.0
    for a, b in zip(mine, theirs, strict=True):
        assert bool(a.error) == bool(b.error), (a.record.id, a.error, b.error)
        for x, y in zip([a.model, *a.per_condition], [b.model, *b.per_condition],
                        strict=True):
            assert close(x, y), (a.record.id, x, y)
            if math.isfinite(x) and x != y:
                moved = max(moved, abs(x - y) / abs(y))
        assert close(a.distance, b.distance, 1e-6), (a.record.id, a.distance, b.distance)
    assert 0.0 < moved  # the branched readouts are not the same numbers: it did branch


def test_a_branched_run_keeps_the_untreated_samples_before_the_therapy():
    model = load_model("aml")
    therapy = [{"name": "induction_7_3", "start": 20.0, "options": {}}]
    net, _ = prepare(model, None, therapy, 40.0)
    from evniche.compile.interventions import build_schedule

    untreated = integrate(net, 40.0)
    own = integrate(net, 40.0, build_schedule(net, therapy, 40.0), initial=untreated.initial)
    branched = integrate(net, 40.0, build_schedule(net, therapy, 40.0),
                         initial=untreated.initial, branch_from=untreated)
    np.testing.assert_array_equal(branched.t, own.t)
    assert branched.branched_at == 20 * 24.0 and own.branched_at is None
    before = branched.t < 20 * 24.0
    np.testing.assert_array_equal(branched.y[before], untreated.y[before])
    assert branched.n_rhs < own.n_rhs
    scale = np.abs(own.y).max(axis=0) + 1e-3
    assert np.max(np.abs(branched.y - own.y) / scale) < TOLERANCE
    assert not np.array_equal(branched.y[~before], own.y[~before])
    # not from another start, another tolerance or a therapy in force from day 0
    moved = untreated.initial * 1.01
    other = integrate(net, 40.0, build_schedule(net, therapy, 40.0), initial=moved,
                      branch_from=untreated)
    assert other.branched_at is None
    assert integrate(net, 40.0, build_schedule(net, therapy, 40.0), rtol=1e-8,
                     initial=untreated.initial, branch_from=untreated).branched_at is None
    assert other.n_rhs == integrate(net, 40.0, build_schedule(net, therapy, 40.0),
                                    initial=moved).n_rhs
    at_zero = [{"name": "induction_7_3", "start": 0.0, "options": {}}]
    first = integrate(net, 40.0, build_schedule(net, at_zero, 40.0),
                      initial=untreated.initial, branch_from=untreated)
    assert first.branched_at is None
    assert first.n_rhs == integrate(net, 40.0, build_schedule(net, at_zero, 40.0),
                                    initial=untreated.initial).n_rhs
