"""Output files are replaced only when complete: a failing writer leaves the previous file
(or folder) as it was and no temporary file behind."""

from __future__ import annotations

import pytest

from evniche.files import replacing, write_text


def test_a_failing_writer_keeps_the_previous_file(tmp_path):
    path = write_text(tmp_path / "run.json", "previous run\n")
    with pytest.raises(RuntimeError), replacing(path) as tmp:
        tmp.write_text("half a rec")
        raise RuntimeError("the disk is full")
    assert path.read_text() == "previous run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_folder_is_replaced_whole(tmp_path):
    store = tmp_path / "fields.zarr"
    (store / "old").mkdir(parents=True)
    with replacing(store) as tmp:
        (tmp / "new").mkdir(parents=True)
    assert [p.name for p in store.iterdir()] == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["fields.zarr"]


def test_a_failing_folder_writer_keeps_the_previous_folder(tmp_path):
    store = tmp_path / "fields.zarr"
    (store / "old").mkdir(parents=True)
    with pytest.raises(ValueError), replacing(store) as tmp:
        (tmp / "new").mkdir(parents=True)
        raise ValueError("bad chunk")
    assert [p.name for p in store.iterdir()] == ["old"]
    assert [p.name for p in tmp_path.iterdir()] == ["fields.zarr"]
