"""The spatial engine's kernel cache folder: :mod:`evniche.engines.kernel_cache`."""

from __future__ import annotations

from ..kernel_cache import ENABLED, KEEP, VARIABLE, configure, folder, prune, sources_digest

__all__ = ["ENABLED", "KEEP", "VARIABLE", "configure", "folder", "prune", "sources_digest"]
