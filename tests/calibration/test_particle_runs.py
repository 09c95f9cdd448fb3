"""A calibration particle's runs: compiled once per process and only re-parameterised per
particle, they give what :func:`evniche.simulate` gives (the path runs took before), a
record's own override of a proposed parameter still wins, and the particles' steady
states are not written to the cache folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import evniche.engines.compiled  # noqa: F401 - Numba's cache folder, before XDG_CACHE_HOME moves
from evniche.experiments import calibration
from evniche.experiments.calibration import Objective, free_parameters
from evniche.observations import load
from evniche.spec.loader import load_model

MODEL = str((Path(__file__).parent / "tiny.yaml").resolve())


def record(rid: str, overrides: list[dict] | None = None) -> dict:
    """The tiny model's plasma NTA count on day 2 (value 1/mL: only the model side is
    compared here)."""
    out = {"id": rid, "measured": "plasma EVs", "system": "in_vitro", "species": "human",
           "conditions": [{"preset": MODEL, "at": 2, "days": 2}],
           "measurement": {"model": "nta_count", "parameters": {
               "low_nm": {"value": 20, "unit": "nm", "source": "assumption: test"}}},
           "observed": {"value": 1.0, "unit": "1/mL", "statistic": "median",
                        "spread": {"fold": 1.5, "source": "assumption: synthetic"}},
           "source": {"ref": "synthetic", "quote": "made for a test"}}
    if overrides:
        out["overrides"] = overrides
    return out


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    folder = tmp_path_factory.mktemp("obs")
    mine = [record("SYN-plain"),
            record("SYN-own-sec", [{"path": "parameters.sec", "value": 400.0,
                                    "unit": "EV/cell/h", "species": "mouse",
                                    "source": "assumption: a record's own value"}])]
    (folder / "syn.yaml").write_text(yaml.safe_dump(mine), encoding="utf-8")
    return load([folder])


def test_a_particle_gives_what_evniche_simulate_gives(records, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    priors = free_parameters(load_model(MODEL), ["sec", "kdrain"])
    proposal = {"parameters.sec": 37.0, "parameters.kdrain": 0.8}
    fast = Objective(records, priors).comparisons(proposal)
    # any simulate option sends the runs through evniche.simulate (load, compile, relax
    # from the initial values), as every run went before
    slow = Objective(records, priors, {"rtol": 1e-7}).comparisons(proposal)
    for a, b in zip(fast, slow, strict=True):
        assert not a.error and not b.error
        assert a.model == pytest.approx(b.model, rel=1e-6)
    plain, own = (r.model for r in fast)
    # the record's own secretion (400) wins over the proposal (37): 10.8 times the EVs
    assert own / plain == pytest.approx(400.0 / 37.0, rel=1e-3)


def test_conditions_are_compiled_once_and_particles_leave_no_steady_state_files(
        records, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(calibration, "_COMPILED", {})
    loads = []
    from evniche.spec import loader

    original = loader.load_model

    def counted(*args, **kwargs):
        loads.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(loader, "load_model", counted)
    objective = Objective(records, free_parameters(load_model(MODEL), ["sec"]))
    first = objective.comparisons({"parameters.sec": 50.0})
    assert len(calibration._COMPILED) == 2  # the plain model and the one with the mouse value
    steady = tmp_path / "evniche" / "steady"
    before = sorted(steady.glob("*.npy"))  # the two unchanged models' steady states
    loads.clear()
    second = objective.comparisons({"parameters.sec": 60.0})
    assert loads == []  # nothing loaded or compiled again
    assert sorted(steady.glob("*.npy")) == before  # the particle's own state stays in memory
    assert second[0].model == pytest.approx(first[0].model * 60.0 / 50.0, rel=1e-3)
