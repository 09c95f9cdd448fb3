"""Observations as data: published measurements the models are calibrated and checked
against, each with the measurement model that turns a Trajectory into what the assay
reports, and a distance given the observation's spread (docs/observations.md).

* :mod:`.schema` — the record format (pydantic, unknown fields refused).
* :mod:`.records` — reading and checking folders of records (shipped: ``data/``).
* :mod:`.measurement` — measurement models: NTA, flow cytometry, exosome protein,
  miRNA copies, blast %, normal output, take-over ratio, fold change …
* :mod:`.distance` — log-normal and trend (hinge) distances.
* :mod:`.comparison` — simulate each distinct condition once and compare.

Python::

    from evniche.observations import load, compare
    rows = compare(load(), "aml")   # every record on the AML preset beside the model
    # a calibration: proposed parameters for every run, the summed distance to minimise
    sims = Simulations(overrides={"parameters.leukemic_secretion_fold": 8})
    cost = total_distance(compare(load(), "aml", sims))
"""

from __future__ import annotations

from .comparison import Comparison, Simulations, compare, total_distance
from .records import load, shipped_folder

__all__ = ["Comparison", "Simulations", "compare", "load", "shipped_folder", "total_distance"]
