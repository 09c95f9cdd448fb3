"""Where the compiled kernels (spatial engine, well-mixed right-hand side) are cached on disk.

Numba's ``cache=True`` keeps compiled machine code (``*.nbi`` index and ``*.nbc`` data
files) so that a later process loads it instead of compiling again (seconds per kernel).
By default Numba writes these files into the ``__pycache__`` folder beside the source, that
is inside the installed package, which is read-only in many installs. This module points
Numba at a user cache folder instead (the well-mixed engine's compiled right-hand side,
:mod:`evniche.engines.compiled`, is cached there too):

* ``NUMBA_CACHE_DIR`` when the user set it;
* else ``$XDG_CACHE_HOME/evniche/numba/SOURCES`` (``~/.cache/evniche/numba/SOURCES``
  when ``XDG_CACHE_HOME`` is unset or not an absolute path), SOURCES a digest of the
  engines' source, so that no kernel keeps a stale copy of another module's kernels.

The folder is created and marked as used; the folders of older versions of the sources are
removed beyond the :data:`KEEP` most recently used (:func:`prune`), so that the cache does
not grow by ~10 MB with every version. When it cannot be created or written, the kernels
are compiled in every process and cached nowhere (:data:`ENABLED` is False): a run is
slower to start but works, and nothing is written into the package.

The spatial package and :mod:`evniche.engines.compiled` import this module before Numba
(Numba reads ``NUMBA_CACHE_DIR`` when it is imported); if Numba was imported earlier, its
configuration is updated as well, which also takes effect since a kernel's cache folder is
looked up when the kernel is defined.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from .. import user_cache

#: the environment variable through which Numba takes its cache folder
VARIABLE = "NUMBA_CACHE_DIR"
#: how many versions' kernel folders the user cache keeps (the most recently used)
KEEP = 4
#: the names of the version folders (:func:`sources_digest`) and of earlier layouts
_VERSION_FOLDER = re.compile(r"[0-9a-f]{16}|(?:engines|spatial)_[0-9a-f]{40}")


def folder(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The cache folder the environment asks for (None: no home folder to put it in):
    ``NUMBA_CACHE_DIR``, else ``numba/SOURCES`` in the user cache, SOURCES a digest of
    the engines' source (:func:`sources_digest`)."""
    if environ.get(VARIABLE):
        return Path(environ[VARIABLE])
    root = user_cache.base(environ)
    return None if root is None else root / "numba" / sources_digest()


def sources_digest() -> str:
    """The first 16 hex digits of a SHA-256 over the engines' Python sources.

    Numba checks a cached kernel against its own source file only, not the kernels of
    other modules it calls (the C callbacks of :mod:`.sundials` call those of
    :mod:`.compiled`): after a change to compiled.py the compiled CVODE gave wrong
    trajectories until the cache was emptied (measured 2026-12-01, docs/calibration.md).
    A folder per version of the sources leaves no old machine code to load."""
    import hashlib

    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted(here.rglob("*.py")):
        digest.update(path.relative_to(here).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def configure(environ: dict | os._Environ = os.environ) -> bool:
    """Point Numba's cache at :func:`folder`; False (cache off) when it is not writable."""
    path = folder(environ)
    if path is None or not user_cache.writable(path):
        return False
    environ[VARIABLE] = str(path)
    root = user_cache.base(environ)
    if root is not None and path == root / "numba" / sources_digest():
        prune(path)  # the user cache's own folder, not one the user named
    numba = sys.modules.get("numba")
    if numba is not None and environ is os.environ:
        numba.config.CACHE_DIR = str(path)
    return True


def prune(current: Path, keep: int = KEEP) -> list[Path]:
    """Mark ``current`` as used now and remove its sibling version folders beyond the
    ``keep`` most recently used (``current`` included); returns the removed folders.

    Only folders named like a version (:func:`sources_digest`, or the ``engines_<sha1>``
    and ``spatial_<sha1>`` of earlier layouts) are touched. A folder that cannot be
    removed is left: the cache only makes later runs start faster, and a process of an old
    version that still uses a removed folder compiles its kernels again."""
    try:
        os.utime(current)
        siblings = [p for p in current.parent.iterdir()
                    if p.is_dir() and p != current and _VERSION_FOLDER.fullmatch(p.name)]
        siblings.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return []
    removed = []
    for old in siblings[max(keep - 1, 0):]:
        shutil.rmtree(old, ignore_errors=True)
        if not old.exists():
            removed.append(old)
    return removed


#: whether compiled kernels are cached on disk (decorators read it: ``cache=ENABLED``)
ENABLED: bool = configure()
