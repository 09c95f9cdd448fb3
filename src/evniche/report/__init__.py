"""Report: one self-contained HTML page per run (figures embedded, no JavaScript needed)."""

from __future__ import annotations

from .html import write_report

__all__ = ["write_report"]
