"""Where the compiled kernels (spatial engine, well-mixed right-hand side) are cached on disk.

Numba's ``cache=True`` keeps compiled machine code (``*.nbi`` index and ``*.nbc`` data
files) so that a later process loads it instead of compiling again (seconds per kernel).
By default Numba writes these files into the ``__pycache__`` folder beside the source, that
is inside the installed package, which is read-only in many installs. This module points
Numba at a user cache folder instead (the well-mixed engine's compiled right-hand side,
:mod:`evniche.engines.compiled`, is cached there too):

* ``NUMBA_CACHE_DIR`` when the user set it;
* else ``$XDG_CACHE_HOME/evniche/numba`` (``~/.cache/evniche/numba`` when
  ``XDG_CACHE_HOME`` is unset or not an absolute path).

The folder is created. When it cannot be created or written, the kernels are compiled in
every process and cached nowhere (:data:`ENABLED` is False): a run is slower to start but
works, and nothing is written into the package.

The spatial package and :mod:`evniche.engines.compiled` import this module before Numba
(Numba reads ``NUMBA_CACHE_DIR`` when it is imported); if Numba was imported earlier, its
configuration is updated as well, which also takes effect since a kernel's cache folder is
looked up when the kernel is defined.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from .. import user_cache

#: the environment variable through which Numba takes its cache folder
VARIABLE = "NUMBA_CACHE_DIR"


def folder(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The cache folder the environment asks for (None: no home folder to put it in)."""
    if environ.get(VARIABLE):
        return Path(environ[VARIABLE])
    root = user_cache.base(environ)
    return None if root is None else root / "numba"


def configure(environ: dict | os._Environ = os.environ) -> bool:
    """Point Numba's cache at :func:`folder`; False (cache off) when it is not writable."""
    path = folder(environ)
    if path is None or not user_cache.writable(path):
        return False
    environ[VARIABLE] = str(path)
    numba = sys.modules.get("numba")
    if numba is not None and environ is os.environ:
        numba.config.CACHE_DIR = str(path)
    return True


#: whether compiled kernels are cached on disk (decorators read it: ``cache=ENABLED``)
ENABLED: bool = configure()
