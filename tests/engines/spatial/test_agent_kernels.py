"""The cell step's per-agent kernels give bitwise what the NumPy forms they replace give."""

from __future__ import annotations

import numpy as np
import pytest

from evniche.engines.spatial import agents as ag
from evniche.engines.spatial import cells, threads


def _agents(rng: np.random.Generator, n: int, types: int = 4, ids: bool = True) -> ag.Agents:
    return ag.Agents(rng.integers(0, types, n).astype(np.int32), rng.random((n, 3)),
                     rng.random(n), rng.random((n, 5)), rng.random((n, 3)),
                     np.arange(n, dtype=np.int64) if ids else None)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_add_by_voxel_is_bincount_bitwise(seed):
    rng = np.random.default_rng(seed)
    row = rng.random(50) * (rng.random(50) < 0.5)
    vox = rng.integers(0, 50, 400)
    values = rng.random(400) * 1e3 * (rng.random(400) < 0.7)
    scratch = np.zeros(50)
    expected = row + np.bincount(vox, values, minlength=50)
    ag.add_by_voxel(row, vox, values, scratch)
    assert row.tobytes() == expected.tobytes()
    assert not scratch.any()


@pytest.mark.parametrize("ids", [True, False])
def test_kept_is_take_then_concat(ids):
    rng = np.random.default_rng(3)
    a, b, c = _agents(rng, 40, ids=ids), _agents(rng, 7, ids=False), _agents(rng, 3)
    index = np.flatnonzero(rng.random(40) < 0.6)
    got = a.kept(index, [b, c])
    want = ag.Agents.concat([a.take(index), b, c])
    for f in ("type", "pos", "cycle", "cargo", "state", "id"):
        assert getattr(got, f).dtype == getattr(want, f).dtype
        assert np.array_equal(getattr(got, f), getattr(want, f)), f
    all_kept = a.kept(None, [b])
    assert np.array_equal(all_kept.pos, np.concatenate([a.pos, b.pos]))


def test_groups_are_the_type_masks():
    a = _agents(np.random.default_rng(4), 60, types=5)
    groups = a.groups(6)
    for t in range(6):
        assert np.array_equal(groups[t], np.flatnonzero(a.type == t))


@pytest.mark.parametrize("parallel", [False, True])
def test_cargo_and_state_kernels_are_the_numpy_forms(parallel, monkeypatch):
    if parallel:
        monkeypatch.setattr(threads, "AGENTS", 0)
    rng = np.random.default_rng(5)
    n, q, nt = 101, 5, 4
    types = rng.integers(0, nt, n).astype(np.int32)
    own = rng.random((nt, q)) < 0.6
    decay, spread = rng.random((nt, q)), rng.random((nt, q))
    cargo, delivered = rng.random((n, q)), rng.random((n, q))
    want = np.where(own[types], cargo * decay[types] + delivered * spread[types], 0.0)
    threads.run(lambda s, k: cells._cargo(cargo, types, own, decay, delivered, spread,
                                          *threads.span(n, s, k)), n, "agents")
    assert cargo.tobytes() == want.tobytes()
    state, target, factor = rng.random((n, 3)), rng.random((n, 3)), rng.random(3)
    s_own = rng.random((nt, 3)) < 0.5
    want = np.where(s_own[types], target + (state - target) * factor[None, :], state)
    threads.run(lambda s, k: cells._relax(state, types, s_own, target, factor,
                                          *threads.span(n, s, k)), n, "agents")
    assert state.tobytes() == want.tobytes()


def test_kept_writes_over_the_arrays_it_is_given_and_never_over_its_sources():
    rng = np.random.default_rng(6)
    a, b, spare = _agents(rng, 40), _agents(rng, 5, ids=False), _agents(rng, 60)
    index = np.flatnonzero(rng.random(40) < 0.7)
    want = ag.Agents.concat([a.take(index), b])
    got = a.kept(index, [b], into=spare)
    for f in ("type", "pos", "cycle", "cargo", "state", "id"):
        assert np.array_equal(getattr(got, f), getattr(want, f)), f
        assert np.shares_memory(getattr(got, f), getattr(spare, f)), f
    small = _agents(rng, 3)  # too small to hold them: fresh arrays
    fresh = a.kept(index, [b], into=small)
    assert not np.shares_memory(fresh.cargo, small.cargo)
    assert np.array_equal(fresh.cargo, want.cargo)
    same = a.kept(index, [b], into=a)  # its own arrays are its sources: never written over
    assert np.array_equal(same.cargo, want.cargo)
    assert not np.shares_memory(same.cargo, a.cargo)
