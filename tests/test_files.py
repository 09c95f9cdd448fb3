"""Output files are replaced only when complete: a failing writer leaves the previous file
(or folder) as it was and no temporary file behind; a folder swap interrupted between its
two renames leaves the old folder in place, or aside where it is restored."""

from __future__ import annotations

import os

import pytest

from evniche.files import replacing, restore_aside, swap_in, write_text


def test_a_failing_writer_keeps_the_previous_file(tmp_path):
    path = write_text(tmp_path / "run.json", "previous run\n")
    with pytest.raises(RuntimeError), replacing(path) as tmp:
        tmp.write_text("half a rec", encoding="utf-8")
        raise RuntimeError("the disk is full")
    assert path.read_text(encoding="utf-8") == "previous run\n"
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


def test_an_interruption_between_the_two_renames_puts_the_old_folder_back(tmp_path,
                                                                           monkeypatch):
    store = tmp_path / "fields.zarr"
    (store / "old").mkdir(parents=True)
    new = tmp_path / "new"
    (new / "new").mkdir(parents=True)
    real, calls = os.rename, []

    def rename(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # Ctrl-C just before the new folder is renamed into place
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        swap_in(new, store)
    assert [p.name for p in store.iterdir()] == ["old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fields.zarr", "new"]


def test_a_folder_left_aside_by_a_killed_swap_is_restored(tmp_path):
    store = tmp_path / "fields.zarr"
    (store / "old").mkdir(parents=True)
    aside = tmp_path / ".fields.zarr.old-0123abcd"
    os.rename(store, aside)  # the first rename of a swap; the process died there
    assert restore_aside(store)
    assert [p.name for p in store.iterdir()] == ["old"]
    assert not restore_aside(store)  # nothing left aside any more
