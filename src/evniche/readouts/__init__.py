"""Readouts: pure functions of a Trajectory ``xarray.Dataset`` (never of an engine).

* :mod:`.clinical` — marrow cellularity, blast %, normal HSC/progenitors, blood output,
  take-over day; the clinical course: diagnosis, complete remission, MRD, relapse.
* :mod:`.molecular` — CML: BCR-ABL1/ABL1 in blood (% IS), log reductions, the slopes of
  its decline under a TKI.
* :mod:`.liquid_biopsy` — plasma EVs by class, cargo per mL, surface markers, virtual NTA.
* :mod:`.communication` — who talks to whom: the communication matrix and cargo flows.
* :mod:`.sensitivity` — elasticities of the take-over day to parameters.
* :mod:`.coagulation` — tissue factor on plasma EVs: the hypercoagulation risk.
* :mod:`.thrombin` — the thrombin generation that EV tissue factor and PS trigger: a
  virtual thrombogram of plasma (Hockin–Mann model, :mod:`evniche.coagulation`).
* :mod:`.complement` — a labelled proxy: the PS-exposing EV surface (C1q ligand).
* :mod:`.off_target` — where the cargo of administered EV products lands.
* :mod:`.rules` — where each rule operates: signal/half-max, inert or saturated rules.
"""

from __future__ import annotations

from .clinical import (
    blast_percent,
    course,
    marrow_cellularity,
    mrd,
    normal_blood_output,
    normal_output_drop,
    normal_stem_progenitor,
    present,
    relapse_day,
    remission_day,
    takeover_day,
)
from .coagulation import coagulation_risk, tissue_factor_per_ml
from .communication import cargo_flows, communication_matrix, communication_table
from .liquid_biopsy import (
    cargo_per_ml,
    marker_profile,
    nta_histogram,
    plasma_by_source,
    plasma_concentration,
)
from .molecular import bcr_abl_is, biphasic_slopes, log_reduction
from .rules import operating_range
from .sensitivity import elasticities, takeover_elasticities

__all__ = [
    "bcr_abl_is", "biphasic_slopes", "blast_percent", "cargo_flows", "cargo_per_ml",
    "coagulation_risk", "communication_matrix", "communication_table", "course",
    "elasticities", "log_reduction", "marker_profile", "marrow_cellularity",
    "mrd", "normal_blood_output", "normal_output_drop", "normal_stem_progenitor",
    "nta_histogram", "operating_range", "plasma_by_source", "plasma_concentration", "present",
    "relapse_day", "remission_day", "takeover_day", "takeover_elasticities",
    "tissue_factor_per_ml",
]
