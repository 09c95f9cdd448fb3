"""How much of the reviews' knowledge the shipped models use.

An effect record is *used* when a rule of some model cites it (``kb: [record ids]``): the
record drives a mechanism of that model. :func:`effect_coverage` counts, per disease of the
record, the effect records used by any of the given models against all effect records that
may be used (retracted records are left out of both counts: no model should rest on them).
``evniche kb summary`` prints it for the shipped presets (:func:`preset_rule_citations`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .base import KnowledgeBase


@dataclass(frozen=True)
class Coverage:
    """Effect records of one disease (``"all"``: every disease) that drive a model rule."""

    disease: str
    used: int
    total: int

    @property
    def share(self) -> float:
        """used / total (0 when there is no record)."""
        return self.used / self.total if self.total else 0.0


def rule_citations(models: Iterable) -> set[str]:
    """Record ids cited by the rules of ``models`` (ResolvedModels)."""
    return {record_id for model in models for rule, _ in model.rules for record_id in rule.kb}


def preset_rule_citations() -> set[str]:
    """Record ids cited by the rules of the presets shipped with evniche."""
    from ..spec.loader import load_model, preset_names

    return rule_citations(load_model(name) for name in preset_names())


def effect_coverage(kb: KnowledgeBase, cited: set[str]) -> list[Coverage]:
    """Per disease (most records first, then by name), then ``"all"``: the effect records
    that are cited (by id in ``cited``) against the effect records that are not retracted."""
    totals: dict[str, list[int]] = {}
    for record in kb.effects.values():
        if record.status == "retracted":
            continue
        row = totals.setdefault(record.disease, [0, 0])
        row[1] += 1
        row[0] += record.id in cited
    rows = [Coverage(d, u, t) for d, (u, t) in
            sorted(totals.items(), key=lambda kv: (-kv[1][1], kv[0]))]
    rows.append(Coverage("all", sum(r.used for r in rows), sum(r.total for r in rows)))
    return rows
