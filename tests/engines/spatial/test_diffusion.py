import numpy as np
import pytest

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
