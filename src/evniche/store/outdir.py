"""The output folder of a run (``evniche run --out OUT``): checked before anything runs,
written whole or not at all, by one run at a time.

A run writes every file into a new staging folder beside OUT and, only when all are
complete, swaps it in for OUT (see :func:`evniche.files.swap_in`): at every instant OUT
holds either the complete previous run or the complete new one. Beside OUT, in its parent
folder:

* ``.OUT.lock``: locked (``flock``) by the run writing into OUT, and holding its process
  id; a second run into OUT is refused while it is locked. The file itself stays;
* ``.OUT.partial-XXXXXXXX``: the staging folder of a run in progress; one left by a
  killed run is deleted by the next run into OUT;
* ``.OUT.old-XXXXXXXX``: the previous run, set aside for the instant between the two
  renames of the swap; if a run was killed in that instant, the next run into OUT (or
  :func:`evniche.store.runs.read_run`) renames it back to OUT.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import EvnicheError
from ..files import beside, hidden_beside, remove, restore_aside, swap_in

#: files whose presence marks a folder as a run folder (one a new run may replace)
RUN_FILES = ("run.json", "trajectory.nc")


def lock_path(out: Path) -> Path:
    """The lock file of the run folder ``out``: ``.OUT.lock`` beside it."""
    return out.parent / f".{out.name}.lock"


def check(out: str | os.PathLike[str], name: str = "run folder") -> Path:
    """The run folder ``out`` as an absolute path, if a run can be written there.

    ``name`` says what ``out`` is in messages (``--out`` on the command line).

    Refused, with a one-line :class:`EvnicheError`: an empty name; the current folder or
    one that contains it; an existing file; a path under a file; a folder that holds other
    files but no run (a run replaces its folder whole); a place this user cannot write.
    """
    text = os.fspath(out)
    if not text.strip():
        raise EvnicheError(f"{name}: expected a folder name, got an empty string")
    path = Path(text).expanduser().resolve()
    if Path(os.path.realpath(os.curdir)).is_relative_to(path):
        raise EvnicheError(f"{name} {text}: this is the current folder or contains it; a run "
                           "replaces its output folder whole, so give it a folder of its own")
    if path.exists() and not path.is_dir():
        raise EvnicheError(f"{name} {text}: {path} is a file, not a folder")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise EvnicheError(f"{name} {text}: {existing} is a file, so no folder can be made "
                           "under it")
    if existing == path and any(path.iterdir()) and \
            not any((path / name).exists() for name in RUN_FILES):
        raise EvnicheError(f"{name} {text}: {path} holds other files and no run "
                           f"({' or '.join(RUN_FILES)}); a run replaces its output folder "
                           "whole, so give a new or empty folder")
    for where in (path.parent, path) if existing == path else (existing,):
        if not os.access(where, os.W_OK | os.X_OK):
            raise EvnicheError(f"{name} {text}: cannot write into {where} (permission "
                               "denied)")
    return path


class OutputFolder:
    """Writing one run into ``out``: ``with OutputFolder(out) as folder:`` locks OUT,
    restores or removes what killed runs left beside it and creates the staging folder
    ``folder.staging``; :meth:`commit` swaps it in for OUT. Leaving the block without a
    commit deletes the staging folder and leaves OUT as it was. The lock is held until the
    block ends."""

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = check(out)
        self.staging = hidden_beside(self.out, "partial")
        self.had_run = False
        self.committed = False
        self._lock_fd: int | None = None

    def __enter__(self) -> OutputFolder:
        parent = self.out.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self._lock()
        except OSError as exc:
            raise EvnicheError(f"cannot write into {parent}: {exc.strerror or exc}") from None
        try:
            restore_aside(self.out)
            for stale in beside(self.out, "partial"):
                remove(stale)  # the lock is ours: the runs that made these are gone
            check(self.out)  # again: another run may have written OUT meanwhile
            self.had_run = self.out.exists()
            self.staging.mkdir()
        except BaseException:
            self._unlock()
            raise
        return self

    def commit(self) -> None:
        """Swap the staging folder in for OUT (the previous run there is deleted); sets
        :attr:`committed` once it is OUT, even if interrupted just after."""
        try:
            swap_in(self.staging, self.out)
        finally:
            self.committed = not os.path.lexists(self.staging)

    def outcome(self) -> str:
        """What OUT holds now, in words (for a message after an interruption)."""
        if self.committed:
            return f"the new run is complete in {self.out}"
        if self.had_run:
            return f"the previous run in {self.out} is unchanged; nothing was written"
        return f"nothing was written to {self.out}"

    def __exit__(self, *exc: object) -> None:
        try:
            if self.staging.exists():
                remove(self.staging)
        finally:
            self._unlock()

    def _lock(self) -> None:
        import fcntl

        path = lock_path(self.out)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise EvnicheError(f"another run is writing into {self.out} (pid {pid})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None


def recover(out: str | os.PathLike[str]) -> None:
    """If OUT is missing because a run was killed between the two renames of its swap, put
    the previous run back (waiting for the lock of OUT, which a live run holds only for
    that instant then). Nothing happens where nothing was left aside."""
    path = Path(out).expanduser().resolve()
    if path.exists() or not beside(path, "old"):
        return
    import fcntl

    try:
        fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return  # a read-only place: nothing can be renamed there either
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        restore_aside(path)
    finally:
        os.close(fd)
