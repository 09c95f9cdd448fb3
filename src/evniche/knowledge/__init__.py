"""Cited knowledge base of EV-mediated communication in the bone-marrow niche.

Machine-readable records of every EV effect, vesicle class, marker, uptake route,
therapy, risk, biomarker, method and database that the two seed reviews describe, each
with its evidence (seed file, reference numbers, first author and year, exact quote) and
status (established, reported, hypothesis, retracted), plus controlled vocabularies with
synonyms so that records and model files can refer to the same terms::

    from evniche.knowledge import load, vocabulary
    kb = load()
    kb.query(target="MSCs", disease="AML")       # synonyms accepted
    vocabulary.resolve("cargo", "SDF-1")          # -> "CXCL12"
"""

from __future__ import annotations

from . import vocabulary
from .base import KnowledgeBase, load
from .errors import KnowledgeBaseError, UnknownRecordError, UnknownTermError
from .records import (
    RECORD_KINDS,
    SEED_FILES,
    EffectRecord,
    Evidence,
    Record,
    RecordBase,
)

__all__ = [
    "RECORD_KINDS",
    "SEED_FILES",
    "EffectRecord",
    "Evidence",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Record",
    "RecordBase",
    "UnknownRecordError",
    "UnknownTermError",
    "load",
    "vocabulary",
]
