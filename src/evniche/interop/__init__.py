"""Exchange with other tools: SBML export of the well-mixed model (:mod:`.sbml`)."""

from __future__ import annotations

from .sbml import export_sbml, to_sbml

__all__ = ["export_sbml", "to_sbml"]
