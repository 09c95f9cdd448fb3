"""Assay models on hand cases: flow's counting limit, qPCR's Ct, limit of detection and
spike-in normalisation, NTA's lipoprotein background, marker specificity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evniche.cohorts import assays
from evniche.errors import EvnicheError


def test_flow_counts_whole_events_in_the_acquired_volume():
    rng = np.random.default_rng(0)
    volume = assays.value("flow_volume_ul")
    assert assays.flow(0.0, rng) == 0.0
    reads = np.array([assays.flow(2.0 / volume, rng) for _ in range(4000)])
    # Poisson(2) events: every reading is a whole number of events over the volume
    assert np.allclose(reads * volume, np.round(reads * volume))
    assert (reads == 0).mean() == pytest.approx(math.exp(-2), abs=0.03)  # below the LOD
    assert reads.mean() == pytest.approx(2.0 / volume, rel=0.05)
    with pytest.raises(EvnicheError, match="count >= 0"):
        assays.flow(-1.0, rng)


def test_qpcr_ct_follows_the_copies_and_reads_the_last_cycle_without_template():
    rng = np.random.default_rng(1)
    cycles = assays.value("qpcr_cycles")
    assert assays.qpcr_ct(0.0, rng) == cycles
    expected = assays.value("qpcr_ct_one_copy") - math.log(1e6) / math.log1p(
        assays.value("qpcr_efficiency"))  # 37 - log_1.95(1e6) = 16.3 cycles
    cts = [assays.qpcr_ct(1e6, rng) for _ in range(400)]
    assert np.mean(cts) == pytest.approx(expected, abs=0.05)
    assert np.std(cts) == pytest.approx(assays.value("qpcr_ct_sd"), rel=0.15)
    # 0.5 copies on average: no copy in the reaction in exp(-0.5) = 61 % of them
    low = np.array([assays.qpcr_ct(0.5, rng) for _ in range(2000)])
    assert (low == cycles).mean() == pytest.approx(math.exp(-0.5), abs=0.03)


def test_qpcr_spike_in_normalisation_removes_the_recovery():
    rng = np.random.default_rng(2)
    true = 1e8  # copies/mL: far above the limit of detection
    reads = np.array([assays.qpcr(true, rng) for _ in range(400)])
    # the recovery varies 1.6-fold (geometric SD) between samples, yet the normalised
    # estimate is centred on the truth, with only the two Ct errors left (~0.35 cycle)
    assert np.median(reads) == pytest.approx(true, rel=0.05)
    assert np.std(np.log2(reads)) < 0.5


def test_qpcr_limit_of_detection_is_the_same_for_any_amount_below_it():
    rng = np.random.default_rng(3)
    none = np.median([assays.qpcr(0.0, rng) for _ in range(200)])
    assert none > 0  # undetermined reads the last cycle: a positive limit, not 0
    trace = np.median([assays.qpcr(1e-3, rng) for _ in range(200)])
    assert trace == pytest.approx(none, rel=0.2)
    assert np.median([assays.qpcr(1e6, rng) for _ in range(50)]) > 100 * none


def test_nta_is_dominated_by_the_lipoprotein_background():
    rng = np.random.default_rng(4)
    empty = np.array([assays.nta(0.0, rng) for _ in range(4000)])
    lo, hi = assays.value("nta_background_low"), assays.value("nta_background_high")
    # the reference interval is the 2.5-97.5 % range of the background
    assert np.quantile(empty, 0.025) == pytest.approx(lo, rel=0.15)
    assert np.quantile(empty, 0.975) == pytest.approx(hi, rel=0.15)
    assert np.median(empty) == pytest.approx(math.sqrt(lo * hi), rel=0.05)
    # 1e10 EVs/mL (healthy plasma, PAR-1) add ~2 % to the median reading
    with_evs = np.array([assays.nta(1e10, rng) for _ in range(4000)])
    assert np.median(with_evs) / np.median(empty) == pytest.approx(1.025, abs=0.03)


class _Fake:
    """Stands in for a Trajectory: only flow_count is read for the marker assay."""


def test_marker_positive_evs_include_the_shared_share_of_normal_ones(monkeypatch):
    def flow_count(ds, day, threshold, origin="all"):
        return 100.0 if origin == "leukemic" else 1100.0

    monkeypatch.setattr(assays.measurement, "flow_count", flow_count)
    marker = [m for m in assays.biomarkers([]) if m.name == "flow_marker_evs"]
    got = assays.true_values(_Fake(), 10.0, marker)["flow_marker_evs"]
    assert got == pytest.approx(100.0 + assays.value("marker_shared") * 1000.0)


def test_biomarkers_are_the_assays_plus_one_qpcr_per_cargo():
    names = [m.name for m in assays.biomarkers(["miR-155", "miR-150"])]
    assert names == ["nta_particles", "flow_evs", "flow_marker_evs", "qpcr_miR-155",
                     "qpcr_miR-150"]
