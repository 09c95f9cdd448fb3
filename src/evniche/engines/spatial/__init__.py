"""Spatial engine: agents in a 2-D or 3-D marrow section with diffusing EV and cytokine
fields, run from the same compiled network as the well-mixed engine (see docs/spatial.md).
"""

from __future__ import annotations

# first: the kernels' cache folder must be set before Numba is imported
from . import kernel_cache  # noqa: F401
from .engine import simulate

__all__ = ["simulate"]
