"""Evidence status of a model: warnings for what it cites that has been retracted.

A model cites the knowledge base in two ways: a rule's ``kb: [record ids]`` and a
parameter's ``source:`` (``seed: <file> [refs]``, the reference numbers of a seed review).
:func:`retraction_warnings` lists every rule that cites a record with status ``retracted``
and every parameter whose source cites, in a seed review, a reference that a retracted
record rests on (e.g. Gu et al. 2016, seed 003 [123], retracted on 15 Aug 2025). ``evniche
check`` prints them and ``evniche run`` prints them and writes them into the run's report.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..knowledge.base import KnowledgeBase
    from .resolve import ResolvedModel

#: ``seed: 003_94ab5ca458a47f16.txt [123, 124]`` in a parameter's source
_SEED_CITATION = re.compile(r"seed:\s*([0-9]{3}_[0-9a-f]+\.txt)\s*\[([0-9,\s\-–]+)\]")


def _refs(group: str) -> set[int]:
    out: set[int] = set()
    for part in group.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.replace("–", "-").partition("-")
        if high.strip():
            out |= set(range(int(low), int(high) + 1))
        else:
            out.add(int(low))
    return out


def _notice(record) -> str:
    r = record.retraction
    return f"{r.notice} (doi:{r.doi})" if r is not None else "retracted"


def retracted_references(kb: KnowledgeBase) -> dict[tuple[str, int], str]:
    """(seed file, reference number) → record id, for the reference each evidence of a
    retracted record cites first (the retracted study itself)."""
    out: dict[tuple[str, int], str] = {}
    for record in kb.records.values():
        if record.status != "retracted":
            continue
        for ev in record.evidences():
            if ev.refs:
                out.setdefault((ev.seed, ev.refs[0]), record.id)
    return out


def retraction_warnings(model: ResolvedModel, kb: KnowledgeBase | None = None) -> list[str]:
    """One line per rule or parameter of ``model`` that cites retracted evidence (the
    knowledge base shipped with evniche unless ``kb`` is given)."""
    if kb is None:
        from ..knowledge import load

        kb = load()
    lines: list[str] = []
    for rule, path in model.rules:
        for record_id in rule.kb:
            record = kb.records.get(record_id)
            if record is not None and record.status == "retracted":
                lines.append(f"{path} ({rule.cell_type}: {rule.signal} {rule.direction} "
                             f"{rule.behavior}) cites retracted record '{record_id}': "
                             f"{_notice(record)}")
    retracted = retracted_references(kb)
    for name, param in sorted(model.params.resolved.items()):
        for seed, group in _SEED_CITATION.findall(param.source):
            for ref in sorted(_refs(group)):
                record_id = retracted.get((seed, ref))
                if record_id is not None:
                    lines.append(f"parameters.{name} cites seed {seed} [{ref}], the study of "
                                 f"retracted record '{record_id}': "
                                 f"{_notice(kb.records[record_id])}")
    return lines
