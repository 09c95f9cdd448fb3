"""Runs on disk (NetCDF + run.json) and the SQLite run registry."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
import scipy
import xarray as xr

import evniche
from evniche.errors import EvnicheError
from evniche.store import runs


def test_write_run_round_trips_the_trajectory(store_run, store_model, tmp_path, registry):
    out = tmp_path / "run1"
    record = runs.write_run(store_run, out, store_model, seed=7,
                            argv=["evniche", "run", "tiny_leukemia"], wall_seconds=1.5)
    back, meta = runs.read_run(out)
    assert set(back.data_vars) == set(store_run.data_vars)
    for name in store_run.data_vars:
        np.testing.assert_array_equal(back[name].values, store_run[name].values, err_msg=name)
    for name in store_run.coords:
        np.testing.assert_array_equal(back[name].values, store_run[name].values, err_msg=name)
    xr.testing.assert_identical(back.drop_attrs(), store_run.drop_attrs())
    assert back.attrs["digest"] == store_model.digest
    assert back.attrs["run_id"] == record["id"]
    assert meta == json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert meta["id"] == record["id"]


def test_run_json_records_model_parameters_and_versions(store_run, store_model, tmp_path):
    record = runs.write_run(store_run, tmp_path / "r", store_model, seed=7,
                            argv=["evniche", "run"], wall_seconds=0.25)
    meta = json.loads((tmp_path / "r" / "run.json").read_text(encoding="utf-8"))
    assert meta["model"] == "tiny_leukemia"
    assert meta["digest"] == store_model.digest
    assert meta["seed"] == 7 and meta["days"] == 30.0 and meta["wall_seconds"] == 0.25
    assert meta["argv"] == ["evniche", "run"]
    assert meta["versions"] == {"evniche": evniche.__version__, "numpy": np.__version__,
                                "scipy": scipy.__version__, "xarray": xr.__version__}
    p_lsc = meta["parameters"]["p_lsc"]
    assert (p_lsc["value"], p_lsc["unit"]) == (0.02, "1/h")
    assert p_lsc["source"].startswith("assumption:")
    assert p_lsc["range_canonical"] == pytest.approx([0.01, 0.04])
    assert set(meta["parameters"]) == set(store_model.params.resolved)
    assert record["created"] == meta["created"]


def test_registry_rows_and_listing(store_run, store_model, tmp_path, registry):
    first = runs.write_run(store_run, tmp_path / "a", store_model, 7, ["x"], 1.0)
    second = runs.write_run(store_run, tmp_path / "b", None, 3, ["y"], 2.0)
    assert runs.registry_path() == registry / "runs.sqlite"
    listed = runs.list_runs()
    assert [r["id"] for r in listed] == [second["id"], first["id"]]
    row = listed[1]
    assert row["model"] == "tiny_leukemia" and row["digest"] == store_model.digest
    assert row["seed"] == 7 and row["days"] == 30.0
    assert row["out_dir"] == str((tmp_path / "a").resolve())
    assert listed[0]["seed"] == 3  # seed given explicitly wins over the trajectory's
    assert runs.list_runs(model="other") == []
    with sqlite3.connect(registry / "runs.sqlite") as con:
        assert con.execute("SELECT COUNT(*) FROM runs").fetchone() == (2,)


def test_attributes_are_made_netcdf_safe(store_run, tmp_path):
    ds = store_run.copy()
    ds.attrs.update({"flag": True, "nothing": None, "names": ["a", "b"],
                     "nested": {"k": 1}, "numbers": [1, 2.5]})
    ds["cells"].attrs["checked"] = np.bool_(False)
    runs.write_run(ds, tmp_path / "attrs", None, 0, [], None)
    back, _ = runs.read_run(tmp_path / "attrs")
    assert back.attrs["flag"] == 1 and back.attrs["nothing"] == ""
    assert back.attrs["names"] == "a;b"
    assert json.loads(back.attrs["nested"]) == {"k": 1}
    np.testing.assert_array_equal(back.attrs["numbers"], [1.0, 2.5])
    assert back["cells"].attrs["checked"] == 0


def test_registry_location_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("EVNICHE_REGISTRY", str(tmp_path / "db.sqlite"))
    assert runs.registry_path() == tmp_path / "db.sqlite"
    assert runs.list_runs() == []
    monkeypatch.delenv("EVNICHE_REGISTRY")
    assert runs.registry_path().name == "runs.sqlite"
    assert runs.registry_path().parent.name == ".evniche"
    with pytest.raises(EvnicheError, match="not a run folder"):
        runs.read_run(tmp_path)


def _status(record_or_id) -> str:
    run_id = record_or_id if isinstance(record_or_id, str) else record_or_id["id"]
    return {r["id"]: r["status"] for r in runs.list_runs()}[run_id]


def test_a_run_is_running_until_complete_and_replaced_by_the_next(store_run, store_model,
                                                                  tmp_path):
    out = tmp_path / "run"
    with runs.RunWriter(out, store_model, 7, ["x"], days=30, engine="wellmixed") as writer:
        assert _status(writer.id) == "running"
        record = writer.write(store_run, 1.0)
        assert not out.exists()  # the files are in the staging folder until the end
        assert record["trajectory"] == str(out.resolve() / "trajectory.nc")
    assert _status(record) == "complete"
    again = runs.write_run(store_run, out, store_model, 7, ["y"], 1.0)
    assert (_status(record), _status(again)) == ("replaced", "complete")
    assert runs.read_run(out)[1]["id"] == again["id"]


def test_a_failed_run_is_registered_failed_and_keeps_the_previous_files(store_run, store_model,
                                                                        tmp_path):
    out = tmp_path / "run"
    first = runs.write_run(store_run, out, store_model, 7, ["x"], 1.0)
    with pytest.raises(RuntimeError), runs.RunWriter(out, store_model, 7, ["y"]) as writer:
        writer.write(store_run, 1.0)
        raise RuntimeError("the report failed")
    assert (_status(first), _status(writer.id)) == ("complete", "failed")
    assert runs.read_run(out)[1]["id"] == first["id"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "registry") == [".run.lock",
                                                                                  "run"]


def test_a_killed_run_is_marked_failed_by_the_next_run_into_its_folder(store_run, store_model,
                                                                       tmp_path):
    out = tmp_path / "run"
    killed = runs.RunWriter(out, store_model, 7, ["x"])
    killed.__enter__()
    killed.write(store_run, 1.0)
    killed.folder._unlock()  # what the kernel does when the process is killed
    assert _status(killed.id) == "running" and killed.staging.is_dir()
    after = runs.write_run(store_run, out, store_model, 7, ["y"], 1.0)
    assert (_status(killed.id), _status(after)) == ("failed", "complete")
    assert not killed.staging.exists()


def test_a_registry_without_the_status_column_is_migrated(store_run, tmp_path, registry):
    registry.mkdir()
    with sqlite3.connect(registry / "runs.sqlite") as con:
        con.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, created TEXT NOT NULL, model TEXT "
                    "NOT NULL, digest TEXT NOT NULL, seed INTEGER, days REAL, engine TEXT, "
                    "wall_seconds REAL, out_dir TEXT NOT NULL)")
        con.execute("INSERT INTO runs VALUES ('old', '2025-01-01T00:00:00+00:00', 'm', 'd', 1, "
                    "2.0, 'wellmixed', 1.0, '/somewhere')")
    assert [(r["id"], r["status"]) for r in runs.list_runs()] == [("old", "complete")]
    new = runs.write_run(store_run, tmp_path / "run", None, 0, [], None)
    assert {r["id"]: r["status"] for r in runs.list_runs()} == {"old": "complete",
                                                                new["id"]: "complete"}


def test_a_run_killed_after_its_files_were_swapped_in_is_marked_complete(store_run,
                                                                         store_model, tmp_path):
    out = tmp_path / "run"
    killed = runs.RunWriter(out, store_model, 7, ["x"])
    killed.__enter__()
    killed.write(store_run, 1.0)
    killed.folder.commit()
    killed.folder._unlock()  # killed before its status was set
    with runs.RunWriter(out, store_model, 7, ["y"]) as after:
        assert _status(killed.id) == "complete"
        after.write(store_run, 1.0)
    assert (_status(killed.id), _status(after.id)) == ("replaced", "complete")
