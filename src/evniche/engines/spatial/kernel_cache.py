"""The spatial engine's kernel cache folder: :mod:`evniche.engines.kernel_cache`."""

from __future__ import annotations

from ..kernel_cache import ENABLED, VARIABLE, configure, folder, sources_digest

__all__ = ["ENABLED", "VARIABLE", "configure", "folder", "sources_digest"]
