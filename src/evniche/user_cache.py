"""The user's cache folder for evniche: files that only make later runs start faster.

``$XDG_CACHE_HOME/evniche`` (``~/.cache/evniche`` when ``XDG_CACHE_HOME`` is unset or not
an absolute path), with one sub-folder per use: ``numba`` (compiled kernels of the spatial
engine, :mod:`evniche.engines.spatial.kernel_cache`) and ``pint`` (the parsed unit
definitions, :mod:`evniche.units`). Nothing here is needed: when the folder cannot be
created or written, callers work without it. Deleting it is always safe.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def base(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The cache folder the environment names (None: no home folder to put it in)."""
    xdg = environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "evniche"
    home = environ.get("HOME") or ""
    if not home:
        try:
            home = str(Path.home())
        except (RuntimeError, KeyError):
            return None
    return Path(home) / ".cache" / "evniche"


def writable(path: Path) -> bool:
    """Create ``path`` if needed and check that a file can be written in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError:
        return False
    return True


def folder(name: str, environ: Mapping[str, str] = os.environ) -> Path | None:
    """The sub-folder ``name`` of :func:`base`, created; None when it cannot be written."""
    root = base(environ)
    if root is None or not writable(root / name):
        return None
    return root / name
