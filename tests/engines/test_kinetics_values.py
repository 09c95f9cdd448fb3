"""``Kinetics.with_values`` (a calibration's next particle: the same network, other
parameter values) gives every attribute a fresh ``Kinetics`` of that network gives: a
parameter-dependent attribute left out of ``Kinetics._values`` would keep the first
particle's values and fail here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import sparse

from evniche.engines import prepare
from evniche.engines.kinetics import Kinetics, without_ledger
from evniche.spec.loader import load_model


def same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if sparse.issparse(a):
        return sparse.issparse(b) and a.shape == b.shape and (a != b).nnz == 0
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("preset, interventions", [
    ("aml", []), ("aml", [{"name": "induction_7_3", "start": 5.0, "options": {}}]),
    ("healthy", [])])
def test_with_values_equals_a_fresh_kinetics(preset, interventions):
    net, _ = prepare(load_model(preset), None, interventions, 30.0)
    rng = np.random.default_rng(4)
    for network in (net, without_ledger(net)):
        template = Kinetics(network)
        for _ in range(2):  # every parameter moved, feedback couplings kept in [0, 1]
            params = {k: v * (0.5 + rng.random()) if not 0 <= v <= 1 else v * rng.random()
                      for k, v in network.params.items()}
            other = dataclasses.replace(network, params=params)
            fresh, reused = Kinetics(other), template.with_values(other)
            assert fresh.__dict__.keys() == reused.__dict__.keys()
            moved = [k for k in fresh.__dict__ if not same(getattr(template, k),
                                                           getattr(fresh, k))]
            assert "b_base" in moved and "r_rate" in moved
            for name, value in fresh.__dict__.items():
                assert same(value, getattr(reused, name)), name
            extra = {next(iter(params)): 1.0}
            assert same(Kinetics(other, extra).p, template.with_values(other, extra).p)


def test_kinetics_of_gives_the_same_object_for_the_same_values_only():
    """The runs of one particle share their Kinetics: equal values give the object built
    for them; other values a new one, equal to a fresh build."""
    from evniche.engines.kinetics import kinetics_of

    net, _ = prepare(load_model("healthy"), None, [], 10.0)
    first = kinetics_of(net)
    moved = {k: v * 1.1 for k, v in net.params.items() if k == "mpp_division"}
    a = kinetics_of(dataclasses.replace(net, params=dict(net.params, **moved)))
    b = kinetics_of(dataclasses.replace(net, params=dict(net.params, **moved)))
    assert a is b and a is not first
    assert kinetics_of(net) is first
    fresh = Kinetics(dataclasses.replace(net, params=dict(net.params, **moved)))
    assert a.p == fresh.p
    assert all(same(getattr(a, k), getattr(fresh, k)) for k in vars(fresh) if k != "net")
