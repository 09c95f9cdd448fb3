"""The compiled right-hand side equals Kinetics.rhs, and its exact Jacobian equals finite
differences, on every shipped preset (and the tiny test model) at several states and
under schedule modifiers. A term added to Kinetics.rhs without its compiled counterpart
(evniche.engines.compiled) fails here."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from evniche.compile.network import compile_model
from evniche.engines.compiled import CompiledKinetics
from evniche.engines.kinetics import Kinetics
from evniche.spec.loader import load_model, preset_names

TINY = Path(__file__).parents[1] / "spec" / "tiny.yaml"
MODELS = [*preset_names(), str(TINY)]


@functools.cache
def kinetics(name: str) -> tuple[Kinetics, CompiledKinetics]:
    kin = Kinetics(compile_model(load_model(name)))
    return kin, CompiledKinetics(kin)


def states(kin: Kinetics) -> list[np.ndarray]:
    """The initial state, two random positive states around it, one without leukemic
    cells, and one with small negative solver excursions of cells and signals' inputs."""
    rng = np.random.default_rng(7)
    y0 = kin.initial_state()
    scale = np.abs(y0) + 1.0
    out = [y0, scale * rng.uniform(0.2, 3.0, kin.n), scale * rng.uniform(0.5, 1.5, kin.n)]
    healthy = out[1].copy()
    leukemic = [kin.net.cell_index()[c] for c in kin.net.leukemic]
    healthy[kin.i_cell[leukemic]] = 0.0
    out.append(healthy)
    negative = out[2].copy()
    negative[kin.i_cell[::2]] *= -1e-6
    negative[kin.i_ev_m[::3]] *= -1e-6
    out.append(negative)
    return out


def modifiers(kin: Kinetics, seed: int) -> tuple:
    """None (no schedule) for seed 0, else random behavior/uptake factors, removal rates
    (1/h) and infusions (nM/h)."""
    if seed == 0:
        return (None, None, None, None)
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.0, 2.0, kin.n_beh), rng.uniform(0.0, 2.0, kin.n_routes),
            rng.uniform(0.0, 1.0, kin.n_pools), rng.uniform(0.0, 5.0, len(kin.drug_elim)))


def close(a: np.ndarray, b: np.ndarray, rtol: float, kin: Kinetics) -> None:
    """Equal to ``rtol`` of each value or, for sums that cancel, of the largest value of
    the same kind of species."""
    kinds = np.array([s.kind for s in kin.net.species])
    floor = np.zeros(kin.n)
    for k in set(kinds.tolist()):
        floor[kinds == k] = np.max(np.abs(b[kinds == k]))
    bad = np.abs(a - b) > rtol * (np.abs(b) + 1e-6 * floor) + 1e-300
    assert not bad.any(), [(kin.net.species[i].name, a[i], b[i]) for i in np.flatnonzero(bad)[:5]]


@pytest.mark.parametrize("model", MODELS)
def test_compiled_rhs_equals_kinetics_rhs(model):
    kin, ck = kinetics(model)
    for seed in (0, 1, 2):
        mods = modifiers(kin, seed)
        for y in states(kin):
            close(ck.rhs(0.0, y, *mods), kin.rhs(0.0, y, *mods), 1e-11, kin)


@pytest.mark.parametrize("model", MODELS)
def test_compiled_behaviors_and_signals_equal_kinetics_parts(model):
    kin, ck = kinetics(model)
    mods = modifiers(kin, 3)
    Y = np.array(states(kin))
    beh, sig = ck.behaviors_signals(Y, np.tile(mods[0], (len(Y), 1)),
                                    np.tile(mods[1], (len(Y), 1)))
    for row, y in enumerate(Y):
        part = kin.parts(y, mods[0], mods[1])
        np.testing.assert_allclose(beh[row], part["beh"], rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(sig[row], part["sig"], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("model", MODELS)
def test_exact_jacobian_equals_finite_differences(model):
    """J·v against central differences of the right-hand side along random directions v
    (scaled to the state, so every species moves by ~1e-6 of itself): row by row within
    1e-4 of the sum of the row's absolute contributions |J|·|v|, plus the rounding of the
    differences (1e-8 of |f|). A missing or wrong dependency fails here."""
    kin, ck = kinetics(model)
    rng = np.random.default_rng(11)
    for seed, y in ((0, states(kin)[1]), (1, states(kin)[2]), (2, states(kin)[3])):
        mods = modifiers(kin, seed)
        J = ck.jacobian(0.0, y, *mods)
        f0 = np.abs(ck.rhs(0.0, y, *mods))
        for _ in range(3):
            v = (np.abs(y) + 1e-6) * rng.standard_normal(ck.n)
            eps = 1e-6
            up, down = ck.rhs(0.0, y + eps * v, *mods), ck.rhs(0.0, y - eps * v, *mods)
            fd = (up - down) / (2 * eps)
            allowed = 1e-4 * (abs(J) @ np.abs(v)) + 1e-8 * np.maximum(
                f0, np.maximum(np.abs(up), np.abs(down))) + 1e-300
            bad = np.abs(J @ v - fd) > allowed
            assert not bad.any(), [(kin.net.species[i].name, (J @ v)[i], fd[i])
                                   for i in np.flatnonzero(bad)[:5]]


@pytest.mark.parametrize("model", MODELS)
def test_the_pattern_covers_every_dependency_the_numpy_rhs_has(model):
    kin, ck = kinetics(model)
    probed = kin.jacobian_sparsity(kin.initial_state()).toarray() != 0
    ours = ck.sparsity().toarray() != 0
    missing = np.argwhere(probed & ~ours)
    assert missing.size == 0, [(kin.net.species[i].name, kin.net.species[j].name)
                               for i, j in missing[:5]]


def test_held_species_read_as_zero_and_stay_zero():
    kin, _ = kinetics("aml")
    held = kin.i_cell[[kin.net.cell_index()[c] for c in kin.net.leukemic]]
    ck = CompiledKinetics(kin, held=held)
    y = states(kin)[1]
    f = ck.rhs(0.0, y)
    zeroed = y.copy()
    zeroed[held] = 0.0
    expected = kin.rhs(0.0, zeroed)
    expected[held] = 0.0
    close(f, expected, 1e-11, kin)
    J = ck.jacobian(0.0, y).toarray()
    assert not J[held].any() and not J[:, held].any()


def test_the_presets_exercise_every_block_of_the_right_hand_side():
    """So that the equivalence tests above check every compiled block on some model."""
    used = set()
    for model in MODELS:
        kin, _ = kinetics(model)
        used.update(name for name, present in {
            "up rules": kin.up_beh.size, "down rules": kin.dn_beh.size,
            "differentiation": kin.diff_from.size, "egress": kin.exit_from.size,
            "kills": kin.k_beh.size, "states": kin.s_tau.size, "cargo": kin.q_decay.size,
            "cytokines": kin.cyt_decay.size, "drugs": kin.drug_elim.size,
            "per-death pools": kin.pl_per_death.any(), "homeostasis": kin.h_on.any(),
            "crowding": kin.crowd[1] != 0, "feedback": kin.fb_k != 0,
            "niche": np.isfinite(kin.niche_cap), "routes": kin.n_routes}.items() if present)
    assert used == {"up rules", "down rules", "differentiation", "egress", "kills", "states",
                    "cargo", "cytokines", "drugs", "per-death pools", "homeostasis",
                    "crowding", "feedback", "niche", "routes"}


def test_a_hill_power_below_one_has_a_bounded_slope_at_a_zero_signal():
    """(s/half)^h with h < 1: its slope h x^(h-1) is unbounded at x -> 0. The complex step
    (the Jacobian) takes the slope at HILL_FLOOR below it; the value is x^h, bitwise, on a
    real state (the right-hand side); powers >= 1 and x above the floor are unchanged."""
    from evniche.engines.compiled import HILL_FLOOR, _hill

    step = 1e-26
    near_zero = _hill(complex(1e-50, step), 1.0, 0.5)
    assert near_zero.imag / step == pytest.approx(0.5 * HILL_FLOOR ** -0.5, rel=1e-12)
    assert near_zero.real == 1e-25  # (1e-50)^0.5
    # an excursion below 0 clipped to 0 + the step: the slope at the floor too
    assert _hill(complex(0.0, step), 2.0, 0.5).imag / step == pytest.approx(
        0.5 * HILL_FLOOR ** -0.5 / 2.0, rel=1e-12)  # d/ds = slope / half
    above = complex(0.3, step)
    assert _hill(above, 1.0, 0.5) == above ** 0.5
    assert _hill(complex(1e-50, step), 1.0, 2.0) == complex(1e-50, step) ** 2.0
    for x in (1e-50, 1e-9, 5e-7, 0.3, 7.0):
        for h in (0.5, 0.8, 1.0, 3.0):
            assert _hill(x, 1.0, h) == x ** h  # bitwise


def test_a_hill_power_below_one_lets_the_exact_jacobian_relax_aml(monkeypatch):
    """aml with hill_1 = 0.5: its drug rules' signals sit at 0 (no drug given) through the
    relaxation. With the unbounded slope there (Jacobian entries of 1e12-1e21) CVODE with
    the exact Jacobian stalled twice (~5 s each) before finite differences finished; now the
    first attempt, with the exact Jacobian, reaches the end."""
    from evniche.engines import solver, wellmixed

    attempts = []
    original = solver._cvode

    def recorded(*args, **kwargs):
        try:
            result = original(*args, **kwargs)
        except Exception as exc:
            attempts.append((kwargs["jac"] is not None, type(exc).__name__))
            raise
        attempts.append((kwargs["jac"] is not None, result.status))
        return result

    monkeypatch.setattr(solver, "_cvode", recorded)
    kin = Kinetics(compile_model(load_model("aml", overrides={"parameters.hill_1.value": 0.5})))
    y = wellmixed.equilibrate(kin, kin.initial_state())
    assert attempts == [(True, 0)]
    assert np.isfinite(y).all()
