"""The well-mixed engine on the shipped models: steady state, ledger, emergent take-over."""

from __future__ import annotations

import numpy as np
import pytest

import evniche
from evniche.compile.network import compile_model
from evniche.engines.kinetics import Kinetics
from evniche.engines.wellmixed import equilibrate, integrate, ledger_error
from evniche.errors import SimulationError
from evniche.readouts import clinical


@pytest.fixture(scope="module")
def healthy_year():
    return evniche.simulate("healthy", days=365)


@pytest.fixture(scope="module")
def aml_year():
    return evniche.simulate("aml", days=365)


def test_healthy_holds_its_steady_state_for_a_year(healthy_year):
    ds = healthy_year
    start, end = ds.isel(time=0), ds.isel(time=-1)
    cells = np.abs(end.cells - start.cells) / start.cells
    assert float(cells.max()) < 1e-6
    ev = ds.ev_concentration.sum("pool")
    assert float((np.abs(ev.isel(time=-1) - ev.isel(time=0)) / ev.isel(time=0)).max()) < 1e-6


def test_healthy_steady_state_matches_measured_orders(healthy_year):
    ds = healthy_year.isel(time=-1)
    hsc = float(ds.cells.sel(cell_type="HSC"))
    assert 5e4 <= hsc <= 2e5  # Lee-Six 2018: 50,000-200,000 contributing HSCs
    plasma = float(ds.ev_concentration.sel(compartment="blood").sum("pool"))
    assert 1e9 <= plasma <= 1e11  # Johnsen 2019: ~1e10 EVs/mL in healthy plasma
    output = float(ds.cells.sel(cell_type="mature")) / 1.0  # mature lifespan 1 day
    assert 5e10 <= output <= 5e11  # Catlin 2011: > 1e11 blood cells/day


def test_ledger_closes_on_aml(aml_year):
    assert aml_year.attrs["ledger_relative_error"] < 1e-9


def test_leukemic_takeover_emerges_and_normal_output_falls(aml_year):
    day = clinical.takeover_day(aml_year)
    assert day is not None and 0 < day < 365
    mature = aml_year.cells.sel(cell_type="mature")
    assert float(mature.isel(time=-1)) < 0.5 * float(mature.isel(time=0))
    # MSC reprogramming is not an input: it starts at zero and follows the leukemic EVs
    reprog = aml_year.states.sel(state="MSC.reprogrammed")
    assert abs(float(reprog.isel(time=0))) < 1e-6
    assert float(reprog.max()) > 0.5


def test_no_takeover_without_leukemic_founders():
    # the aml preset starts with LSCs and blasts (blast_seed): none of either, no leukemia
    ds = evniche.simulate("aml", days=365, overrides={"parameters.lsc_seed.value": 0,
                                                     "parameters.lsc_seed.range": [0, 1000],
                                                     "parameters.blast_seed.value": 0,
                                                     "parameters.blast_seed.range": [0, 1e7]})
    assert clinical.takeover_day(ds) is None
    assert float(ds.cells.sel(cell_type="blast").max()) < 1.0  # round-off only


def test_ledger_check_detects_a_broken_balance():
    net = compile_model(evniche.load_model("healthy"))
    sol = integrate(net, 5)
    y = sol.y[-1].copy()
    y[sol.kinetics.i_led["secreted"][0]] *= 1.01  # one pool gains EVs from nowhere
    assert ledger_error(sol.kinetics, sol.initial, y) > 1e-6


def test_same_model_same_numbers():
    a = evniche.simulate("aml", days=60)
    b = evniche.simulate("aml", days=60)
    np.testing.assert_array_equal(a.cells.values, b.cells.values)


def test_equilibrium_is_a_root_of_the_right_hand_side():
    net = compile_model(evniche.load_model("healthy"))
    kin = Kinetics(net)
    y = equilibrate(kin, kin.initial_state())
    dy = kin.rhs(0.0, y)
    for i, s in enumerate(net.species):
        if s.kind in ("cell", "ev", "cytokine", "state"):
            assert abs(dy[i]) <= 1e-6 * max(abs(y[i]), 1.0), s.name


def test_days_must_be_positive():
    net = compile_model(evniche.load_model("healthy"))
    with pytest.raises(SimulationError, match="positive"):
        integrate(net, 0)


def test_the_steady_state_is_cached_and_reused_bitwise(tmp_path, monkeypatch):
    from evniche.engines import wellmixed

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    kin = Kinetics(compile_model(evniche.load_model("healthy")))
    first = wellmixed.starting_state(kin)
    files = list((tmp_path / "evniche" / "steady").glob("*.npy"))
    assert len(files) == 1
    calls = []
    monkeypatch.setattr(wellmixed, "equilibrate", lambda *a, **k: calls.append(1))
    again = wellmixed.starting_state(kin)
    assert not calls  # read from the cache, not recomputed
    np.testing.assert_array_equal(again, first)
    # another parameter value is another steady state, computed anew
    other = Kinetics(compile_model(evniche.load_model(
        "healthy", overrides={"parameters.hsc_count.value": 9.0e4})))
    assert wellmixed._steady_path(other, other.initial_state()) != files[0]
    # a damaged cache file is recomputed, not read
    files[0].write_bytes(b"not an array")
    assert wellmixed._read_steady(files[0], first.size) is None


def test_without_a_writable_cache_folder_the_steady_state_is_computed(tmp_path, monkeypatch):
    from evniche.engines import wellmixed

    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would go", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    kin = Kinetics(compile_model(evniche.load_model("healthy")))
    y = wellmixed.starting_state(kin)
    assert np.all(np.isfinite(y))
