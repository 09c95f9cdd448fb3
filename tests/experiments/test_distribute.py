"""Ensembles on Dask (evniche.experiments.distribute): chunks come back in item order
whatever finishes first, errors surface, a bad cluster request is refused clearly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from evniche.errors import EvnicheError
from evniche.experiments import distribute


def square_slowly(chunk: list[int], offset: int) -> list[int]:
    """Later items finish first: the order of results must not follow completion."""
    time.sleep(0.01 * (10 - min(chunk)) if chunk else 0)
    return [x * x + offset for x in chunk]


def fails_on_seven(chunk: list[int]) -> list[int]:
    if 7 in chunk:
        raise ValueError("seven")
    return chunk


def test_split_covers_every_item_once_in_order():
    pieces = distribute.split(10, 4)
    assert [list(p) for p in pieces] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert [list(p) for p in distribute.split(3, 8)] == [[0], [1], [2]]
    assert distribute.split(0, 4) == []


def test_in_process_map_keeps_order_and_reports_progress():
    seen: list[int] = []
    out = distribute.map_chunks(square_slowly, range(10), 1, n_chunks=3, progress=seen.append)
    assert out == [x * x + 1 for x in range(10)]
    assert seen == [4, 4, 2]


def test_dask_map_keeps_item_order_whatever_finishes_first():
    seen: list[int] = []
    with distribute.cluster(workers=3, processes=False) as client:
        out = distribute.map_chunks(square_slowly, list(range(10)), 2, client=client,
                                    n_chunks=10, progress=seen.append)
        assert len(client.scheduler_info()["workers"]) == 3
    assert out == [x * x + 2 for x in range(10)]
    assert sum(seen) == 10


def test_an_error_in_a_task_is_raised_here():
    with distribute.cluster(workers=1, processes=False) as client, \
            pytest.raises(ValueError, match="seven"):
        distribute.map_chunks(fails_on_seven, list(range(10)), client=client, n_chunks=5)


@pytest.mark.parametrize("workers", [0, -2])
def test_bad_worker_counts_are_refused(workers):
    with pytest.raises(EvnicheError, match=f"--workers must be a whole number >= 1, got "
                                           f"{workers}"), distribute.cluster(workers=workers):
        pass


def test_workers_and_scheduler_together_are_refused():
    with pytest.raises(EvnicheError, match="--workers sizes the local cluster"), \
            distribute.cluster("tcp://127.0.0.1:1", workers=2):
        pass


def test_an_unreachable_scheduler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(distribute, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(EvnicheError, match="--scheduler tcp://127.0.0.1:1: cannot connect"), \
            distribute.cluster("tcp://127.0.0.1:1"):
        pass


def test_an_existing_cluster_is_used_by_its_scheduler_address():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, processes=False, dashboard_address="127.0.0.1:0") as existing, \
            distribute.cluster(existing.scheduler_address) as client:
        assert client.scheduler.address == existing.scheduler_address
        out = distribute.map_chunks(square_slowly, list(range(5)), 0, client=client)
    assert out == [x * x for x in range(5)]


def test_an_ensemble_refuses_options_it_would_not_pass_on():
    from evniche.spec.loader import load_model

    model = load_model(str(Path(__file__).with_name("gsa_tiny.yaml")))
    ens = distribute.Ensemble(model=model.raw, days=5, readouts=(), options={"engine": "x"})
    with pytest.raises(EvnicheError, match="not engine options"):
        list(distribute.simulate_rows(ens, [{}]))


def test_override_paths_name_their_parameters():
    assert distribute._parameter_name("parameters.p_lsc.value") == "p_lsc"
    assert distribute._parameter_name("cell_types.HSC.proliferation.value") == \
        "cell_types.HSC.proliferation"


def test_chunks_of_one_ensemble_load_and_compile_the_model_once(monkeypatch):
    """A worker runs many chunks of one (scattered) ensemble: the model is loaded and its
    network compiled on the first chunk only, and the results are those of a fresh load."""
    from evniche.engines import ensemble as engine
    from evniche.readouts import scalars
    from evniche.spec import loader

    model = loader.load_model(str(Path(__file__).with_name("gsa_tiny.yaml")))
    ens = distribute.Ensemble(model=model.raw, days=3,
                              readouts=(scalars.BUILTIN["plasma_evs"],))
    loads, compiles = [], []
    load_model, prepare = loader.load_model, engine.prepare
    monkeypatch.setattr(loader, "load_model", lambda *a, **k: loads.append(1) or load_model(
        *a, **k))
    monkeypatch.setattr(engine, "prepare", lambda *a, **k: compiles.append(1) or prepare(
        *a, **k))
    monkeypatch.setattr(engine, "_PREPARED", {})
    monkeypatch.setattr(distribute, "_LAST", [None, None])
    first = distribute.run_chunk([{}], ens)
    second = distribute.run_chunk([{}], ens)
    assert (len(loads), len(compiles)) == (1, 1)
    assert first == second and not first[0]["error"] and first[0]["plasma_evs"] > 0
    other = distribute.Ensemble(model=dict(model.raw), days=3, readouts=ens.readouts)
    assert distribute.run_chunk([{}], other) == first  # another mapping: loaded again
    assert len(loads) == 2
