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


def axis_sweeps(u, alpha):
    """The LOD step as x, y and z sweeps each over the whole field in turn (the solver's
    order before its sweeps were fused plane by plane), in plain NumPy: the reference."""
    from evniche.engines.spatial.diffusion import factorize

    u = u.copy()
    for f in range(u.shape[0]):
        a = alpha[f]
        for axis in (3, 2, 1):  # x, y, z
            n = u.shape[axis]
            if n == 1:
                continue
            cp, inv = factorize(np.array([a]), n)
            s = np.moveaxis(u[f:f + 1], axis, -1)  # a view: writes go to u
            p = s[..., 0] * inv[0, 0]
            s[..., 0] = p
            for i in range(1, n):
                p = (s[..., i] + a * p) * inv[0, i]
                s[..., i] = p
            for i in range(n - 2, -1, -1):
                p = s[..., i] - cp[0, i] * p
                s[..., i] = p
    return u


@pytest.mark.parametrize("shape", [(1, 13, 17), (9, 1, 11), (7, 19, 1), (12, 23, 10)])
def test_fused_sweeps_equal_sweeping_each_axis_in_turn(shape):
    rng = np.random.default_rng(5)
    u = rng.random((3, *shape))
    D = np.array([0.3, 40.0, 7.0])  # α from 0.0075 to 1 per step
    diff = Diffuser(shape, 2.0, D, 0.1)
    expected = axis_sweeps(u, diff.alpha)
    diff.step(u)
    np.testing.assert_allclose(u, expected, rtol=1e-14, atol=0)
    assert np.array_equal(u, expected)  # same arithmetic per line: bitwise
