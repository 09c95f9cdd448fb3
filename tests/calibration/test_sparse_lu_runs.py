"""A calibration particle's runs factorise CVODE's Newton matrices with
evniche.engines.sparse_lu (their steady states too) instead of SuperLU_MT: another
pivot order rounds differently, so the steps and the solution move within the solver's
tolerance. The records' readouts stay within 1e-5 relative of the SuperLU_MT runs' at
three parameter sets (measured up to 1.3e-6 over 8 prior draws), the distances within
1e-5 relative or 1e-6 absolute, and the same records fail or pass."""

from __future__ import annotations

import math

import pytest

from evniche.experiments import calibration
from evniche.experiments.calibration import free_parameters, select_records
from evniche.observations import load
from evniche.observations.comparison import evaluate
from evniche.spec.loader import load_model

#: readouts with the sparse LU against SuperLU_MT's (relative)
TOLERANCE = 1e-5


def close(a: float, b: float, absolute: float = 0.0) -> bool:
    if not (math.isfinite(a) and math.isfinite(b)):
        return a == b or (math.isnan(a) and math.isnan(b))
    return abs(a - b) <= max(TOLERANCE * max(abs(a), abs(b)), absolute)


def particle(records, proposal, lu: bool):
    cls = type("Sims", (calibration._simulations_class(),), {"sparse_lu": lu})
    sims = cls(overrides=proposal)
    sims.plan(records)
    return [evaluate(r, sims) for r in records]


@pytest.mark.parametrize("factor", [1.0, 0.6, 1.5])
def test_records_read_the_same_with_the_sparse_lu(factor):
    records = select_records(load(None), "aml")
    priors = free_parameters(load_model("aml"), ["msc_mv_rate", "lsc_division_interval"])
    proposal = {p.key: p.value * factor for p in priors}
    mine, theirs = particle(records, proposal, True), particle(records, proposal, False)
    moved = False
    for a, b in zip(mine, theirs, strict=True):
        assert bool(a.error) == bool(b.error), (a.record.id, a.error, b.error)
        for x, y in zip([a.model, *a.per_condition], [b.model, *b.per_condition],
                        strict=True):
            assert close(x, y), (a.record.id, x, y)
            moved |= math.isfinite(x) and x != y
        assert close(a.distance, b.distance, 1e-6), (a.record.id, a.distance, b.distance)
    assert moved  # the sparse LU was used: not SuperLU_MT's numbers
