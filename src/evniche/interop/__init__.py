"""Exchange with other tools: SBML export of the well-mixed model (:mod:`.sbml`); PhysiCell
projects in (:mod:`.physicell_import`: settings XML, rules CSV v1/v2/v3 with PhysiCell's
dictionary, initial cells) and out (:mod:`.physicell_export`)."""

from __future__ import annotations

from .sbml import export_sbml, to_sbml

__all__ = ["export_sbml", "to_sbml"]
