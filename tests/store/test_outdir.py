"""The run folder (``--out``): refused before anything runs when a run cannot go there,
locked while a run writes it, swapped in whole, and put back where a run was killed
between the two renames of its swap."""

from __future__ import annotations

import os

import pytest

from evniche.errors import EvnicheError
from evniche.store import outdir


def _run_folder(path, text="previous"):
    path.mkdir(parents=True)
    (path / "run.json").write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("make", "out", "expected"), [
    (None, "", "expected a folder name, got an empty string"),
    (lambda d: (d / "f").write_text("x", encoding="utf-8"), "f", "is a file, not a folder"),
    (lambda d: (d / "f").write_text("x", encoding="utf-8"), "f/sub/run",
     "is a file, so no folder can be made"),
    (lambda d: (d / "notes").mkdir() or (d / "notes" / "a.txt").write_text("x", encoding="utf-8"),
     "notes",
     "holds other files and no run"),
])
def test_a_folder_no_run_can_go_into_is_refused(tmp_path, monkeypatch, make, out, expected):
    monkeypatch.chdir(tmp_path)
    if make:
        make(tmp_path)
    with pytest.raises(EvnicheError, match=expected) as err:
        outdir.check(out, "--out")
    assert "\n" not in str(err.value) and str(err.value).startswith("--out")


def test_the_current_folder_and_its_parents_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(_run_folder(tmp_path / "run"))
    for out in (".", "..", str(tmp_path)):
        with pytest.raises(EvnicheError, match="current folder"):
            outdir.check(out)


def test_a_new_an_empty_and_a_run_folder_are_accepted(tmp_path):
    (tmp_path / "empty").mkdir()
    _run_folder(tmp_path / "old")
    for name in ("new/deeper", "empty", "old"):
        assert outdir.check(tmp_path / name) == (tmp_path / name).resolve()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission bits")
def test_an_unwritable_place_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(EvnicheError, match="cannot write into"):
            outdir.check(locked / "run")
    finally:
        locked.chmod(0o700)


def test_an_unwritable_place_is_refused_as_root_too(tmp_path, monkeypatch):
    """Root bypasses permission bits: the place is made unwritable for os.access alone."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: real(p, mode) and
                        os.fspath(p) != os.fspath(locked))
    with pytest.raises(EvnicheError, match=f"cannot write into {locked}"):
        outdir.check(locked / "a" / "run")
    _run_folder(locked / "old")  # an existing run folder whose parent cannot be written
    with pytest.raises(EvnicheError, match=f"cannot write into {locked}"):
        outdir.check(locked / "old")


def test_a_second_writer_is_refused_with_the_pid_of_the_first(tmp_path):
    out = tmp_path / "run"
    with outdir.OutputFolder(out):
        second = outdir.OutputFolder(out)
        with pytest.raises(EvnicheError, match=rf"another run is writing into {out} "
                                               rf"\(pid {os.getpid()}\)"), second:
            pass
    with outdir.OutputFolder(out) as folder:  # free again once the first one ended
        assert folder.staging.is_dir()


def test_the_staging_folder_is_swapped_in_whole(tmp_path):
    out = _run_folder(tmp_path / "run")
    (out / "fields.zarr").mkdir()
    with outdir.OutputFolder(out) as folder:
        assert folder.staging.parent == tmp_path and folder.had_run
        (folder.staging / "run.json").write_text("new", encoding="utf-8")
        folder.commit()
    assert sorted(p.name for p in out.iterdir()) == ["run.json"]
    assert (out / "run.json").read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.lock", "run"]


def test_leaving_without_a_commit_keeps_the_previous_run(tmp_path):
    out = _run_folder(tmp_path / "run")
    with pytest.raises(RuntimeError), outdir.OutputFolder(out) as folder:
        (folder.staging / "run.json").write_text("half", encoding="utf-8")
        raise RuntimeError("the solver failed")
    assert (out / "run.json").read_text(encoding="utf-8") == "previous"
    assert not folder.committed
    assert folder.outcome() == f"the previous run in {out} is unchanged; nothing was written"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.lock", "run"]


def test_what_killed_runs_left_is_cleaned_up_by_the_next_run(tmp_path):
    out = _run_folder(tmp_path / "run")
    stale = tmp_path / ".run.partial-0123abcd"
    (stale / "fields.zarr").mkdir(parents=True)
    done_aside = _run_folder(tmp_path / ".run.old-89abcdef")  # a swap deleting it was killed
    other = _run_folder(tmp_path / ".run.partial-0123abcd.x")  # not a name of ours
    with outdir.OutputFolder(out) as folder:
        assert not stale.exists() and not done_aside.exists() and other.exists()
        assert (out / "run.json").read_text(encoding="utf-8") == "previous"
        folder.commit()


def test_a_run_killed_between_the_two_renames_is_put_back(tmp_path):
    out = _run_folder(tmp_path / "run")
    aside = tmp_path / ".run.old-0123abcd"
    os.rename(out, aside)  # the swap's first rename; killed before the second
    outdir.recover(out)
    assert (out / "run.json").read_text(encoding="utf-8") == "previous" and not aside.exists()
    os.rename(out, aside)
    with outdir.OutputFolder(out) as folder:  # the next run puts it back first
        assert folder.had_run and (out / "run.json").read_text(encoding="utf-8") == "previous"
