"""Writing output files so that a failure never leaves a half-written file, nor destroys
the one a previous run wrote: each file (or folder, such as a Zarr store or a whole run
folder) is written next to its destination under a temporary name and swapped into place
only when complete.

Swapping a folder takes two renames: the old folder is first renamed aside
(``.NAME.old-XXXXXXXX``), then the new one is renamed into place, then the old one is
deleted. At every instant either the old or the new folder is complete at its name, or,
between the two renames, the old one is complete under its aside name;
:func:`restore_aside` puts it back where a process was killed in that instant.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path


def hidden_beside(path: Path, tag: str) -> Path:
    """A new, unused name beside ``path``: ``.NAME.TAG-XXXXXXXX`` (8 hex digits)."""
    return path.parent / f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}"


def beside(path: Path, tag: str) -> list[Path]:
    """The names :func:`hidden_beside` gave for ``path`` and ``tag`` that exist now."""
    pattern = re.compile(re.escape(f".{path.name}.{tag}-") + "[0-9a-f]{8}")
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return []
    return sorted(p for p in entries if pattern.fullmatch(p.name))


def remove(path: Path) -> None:
    """Delete a file or a folder tree, if there; errors are ignored (a leftover is harmless
    and is removed again next time)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def swap_in(new: Path, path: Path) -> None:
    """Put ``new`` (a complete file or folder) at ``path``, deleting what was there.

    A file (or a link) is replaced by one atomic rename; a folder by renaming the old one
    aside, renaming ``new`` into place and deleting the old one. An interruption
    (KeyboardInterrupt) or error between the two renames puts the old folder back.
    """
    if not (path.is_dir() and not path.is_symlink()):
        os.replace(new, path)
        return
    aside = hidden_beside(path, "old")
    try:
        os.rename(path, aside)
        os.rename(new, path)
    except BaseException:
        if not os.path.lexists(path) and os.path.lexists(aside):
            os.rename(aside, path)
        raise
    remove(aside)


def restore_aside(path: Path) -> bool:
    """Where a swap was killed between its two renames, rename the old folder back to
    ``path``; delete old folders left aside by swaps that completed. True if one was put
    back. The caller must hold whatever lock keeps other writers of ``path`` out."""
    asides = beside(path, "old")
    restored = False
    if asides and not os.path.lexists(path):
        os.rename(asides.pop(), path)
        restored = True
    for aside in asides:
        remove(aside)
    return restored


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without an error it is
    swapped in for ``path`` (a file or a folder such as a Zarr store, see
    :func:`swap_in`), else it is removed and ``path`` is left as it was."""
    path = Path(path)
    tmp = hidden_beside(path, "partial")  # the writer creates it (some refuse an existing one)
    try:
        yield tmp
        swap_in(tmp, path)
    finally:
        if os.path.lexists(tmp):
            remove(tmp)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`replacing`."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
