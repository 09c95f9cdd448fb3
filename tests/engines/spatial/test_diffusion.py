import numpy as np
import pytest
from scipy import linalg

from evniche.engines.spatial import threads
from evniche.engines.spatial.diffusion import Diffuser


def gaussian(x, y, var):
    return np.exp(-(x**2 + y**2) / (2 * var)) / (2 * np.pi * var)


def test_point_source_spreads_as_the_analytic_gaussian():
    # a narrow Gaussian (σ0 = 3 voxels) spreads to variance σ0² + 2·D·t in each axis
    n, dx, D, T, steps = 121, 1.0, 1.0, 40.0, 400
    c = (np.arange(n) - n // 2) * dx
    X, Y = np.meshgrid(c, c)
    var0 = 9.0
    u = gaussian(X, Y, var0)[None, None].copy()
    diff = Diffuser((1, n, n), dx, np.array([D]), T / steps)
    for _ in range(steps):
        diff.step(u)
    exact = gaussian(X, Y, var0 + 2 * D * T)
    rel_l2 = np.linalg.norm(u[0, 0] - exact) / np.linalg.norm(exact)
    assert rel_l2 <= 0.01


def test_diffusion_conserves_mass_and_is_stable_at_huge_steps():
    rng = np.random.default_rng(3)
    u = rng.random((2, 4, 9, 11))
    total = u.sum(axis=(1, 2, 3))
    Diffuser((4, 9, 11), 10.0, np.array([1e3, 1e9]), 100.0).step(u)
    assert u.sum(axis=(1, 2, 3)) == pytest.approx(total, rel=1e-12)
    assert np.all(u >= 0)
    assert np.ptp(u[1]) < 1e-6 * u[1].mean()  # very fast diffusion: uniform


def test_three_dimensional_point_source_is_isotropic():
    n = 21
    u = np.zeros((1, n, n, n))
    u[0, n // 2, n // 2, n // 2] = 1.0
    diff = Diffuser((n, n, n), 1.0, np.array([1.0]), 0.5)
    for _ in range(10):
        diff.step(u)
    m = n // 2
    assert u[0, m, m, m + 3] == pytest.approx(u[0, m + 3, m, m], rel=1e-12)
    assert u[0, m, m, m + 3] == pytest.approx(u[0, m, m + 3, m], rel=1e-12)


def reference_lod(u, alpha):
    """The LOD step by a straightforward reference: each line along x, then y, then z
    solved on its own as the banded system (I - α·L) v = u with zero-flux ends
    (scipy.linalg.solve_banded), independent of the solver's factors and sweep order."""
    u = u.copy()
    for f in range(u.shape[0]):
        a = alpha[f]
        for axis in (3, 2, 1):  # x, y, z
            n = u.shape[axis]
            if n == 1:
                continue
            bands = np.zeros((3, n))
            bands[0, 1:] = bands[2, :-1] = -a
            bands[1] = 1.0 + 2.0 * a
            bands[1, 0] = bands[1, -1] = 1.0 + a
            lines = np.moveaxis(u[f], axis - 1, -1)  # a view: writes go to u
            flat = lines.reshape(-1, n)
            solved = linalg.solve_banded((1, 1), bands, flat.T).T
            lines[...] = solved.reshape(lines.shape)
    return u


SHAPES = [(1, 13, 17), (9, 1, 11), (7, 19, 1), (12, 23, 10), (1, 40, 3), (5, 8, 16),
          (20, 30, 25)]


@pytest.mark.parametrize("shape", SHAPES)
def test_sweeps_agree_with_a_reference_solve_of_each_line(shape):
    # random fields, α from 0.0075 to 1 per step; sizes that are and are not multiples of
    # the x sweep's row blocks, 2-D sections, and single-voxel axes
    rng = np.random.default_rng(5)
    u = rng.random((3, *shape))
    D = np.array([0.3, 40.0, 7.0])
    diff = Diffuser(shape, 2.0, D, 0.1)
    expected = reference_lod(u, diff.alpha)
    diff.step(u)
    np.testing.assert_allclose(u, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("shape", [(16, 24, 20), (1, 64, 48)])
def test_many_fields_agree_with_the_reference_at_one_and_two_threads(shape, monkeypatch):
    monkeypatch.setattr(threads, "FIELD_VALUES", 0)  # force the parallel path
    rng = np.random.default_rng(11)
    u = 1.0 + rng.random((5, *shape))
    D = np.array([0.3, 4.0, 40.0, 400.0, 7.0])  # α up to 10 per step
    diff = Diffuser(shape, 2.0, D, 0.1)
    expected = reference_lod(u, diff.alpha)
    one, two = u.copy(), u.copy()
    with threads.using(1):
        diff.step(one)
    with threads.using(2):
        diff.step(two)
    assert np.array_equal(one, two)  # each field is solved by the same instructions
    np.testing.assert_allclose(one, expected, rtol=1e-12, atol=0)
