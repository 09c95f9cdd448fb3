import numpy as np
import pytest

from evniche.engines.spatial import transport
from evniche.errors import SimulationError


def test_stokes_einstein_matches_the_research_table():
    # ev_parameters.md section D: water at 37 °C (η = 0.6913 mPa·s): 100 nm → 6.57 µm²/s,
    # 1 µm → 0.657 µm²/s
    assert transport.stokes_einstein(0.1, 310.15, 0.6913) == pytest.approx(6.57, rel=2e-3)
    assert transport.stokes_einstein(1.0, 310.15, 0.6913) == pytest.approx(0.657, rel=2e-3)


def test_mean_over_a_narrow_distribution_is_the_median_value():
    narrow = transport.mean_diffusion(0.1, 1.0001, 0.05, 0.2)
    assert narrow == pytest.approx(transport.stokes_einstein(0.1), rel=1e-3)


def test_mean_over_a_wide_distribution_is_larger_than_at_the_median():
    # D ∝ 1/d and E[1/d] > 1/median for a log-normal: small vesicles dominate
    wide = transport.mean_diffusion(0.1, 1.6, 0.02, 1.0)
    assert wide > transport.stokes_einstein(0.1)


def test_hindrance_and_bad_input():
    assert transport.hindrance(1.57) == pytest.approx(1 / 1.57**2)
    with pytest.raises(SimulationError, match="diameter"):
        transport.stokes_einstein(np.array([0.1, -1.0]))
    with pytest.raises(SimulationError, match="tortuosity"):
        transport.hindrance(0.5)
