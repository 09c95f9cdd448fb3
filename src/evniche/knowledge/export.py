"""Export the knowledge base as JSON (all records), CSV (one row per effect) or GraphML.

The GraphML graph is a directed multigraph: one node per cell type, one edge per effect
record from the source cell type to the target cell type, keyed by the record id. Every
node and edge attribute is a string, so Cytoscape and networkx both read it back.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .base import KnowledgeBase
from .records import EffectRecord, RecordBase

if TYPE_CHECKING:  # networkx is imported where a graph is made (slow to import)
    import networkx as nx

FORMATS: tuple[str, ...] = ("json", "csv", "graphml")

CSV_COLUMNS: tuple[str, ...] = (
    "id", "source_cell_type", "source_disease_context", "source_state", "ev_class", "cargo",
    "mode", "target_cell_type", "target_state", "effect", "direction", "disease", "status",
    "seed", "refs", "first_author", "year", "quote", "opposite_of", "notes",
)


def _refs(record: RecordBase) -> str:
    return ", ".join(str(r) for r in record.evidence.refs)


def to_json(kb: KnowledgeBase, records: Iterable[RecordBase] | None = None) -> str:
    """A JSON list of records (all of them by default), each with its ``kind``."""
    chosen = list(kb.records.values()) if records is None else list(records)
    payload = [r.model_dump(mode="json", exclude_none=True) for r in chosen]
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def effect_row(record: EffectRecord) -> dict[str, str]:
    """One flat CSV row for an effect record (lists joined with ``; ``)."""
    ev = record.evidence
    return {
        "id": record.id,
        "source_cell_type": record.source.cell_type,
        "source_disease_context": record.source.disease_context or "",
        "source_state": record.source.state or "",
        "ev_class": record.ev_class,
        "cargo": "; ".join(record.cargo),
        "mode": record.mode,
        "target_cell_type": record.target.cell_type,
        "target_state": record.target.state or "",
        "effect": record.effect.what,
        "direction": record.effect.direction,
        "disease": record.disease,
        "status": record.status,
        "seed": ev.seed,
        "refs": _refs(record),
        "first_author": ev.first_author or "",
        "year": "" if ev.year is None else str(ev.year),
        "quote": ev.quote,
        "opposite_of": "; ".join(record.opposite_of),
        "notes": record.notes or "",
    }


def to_csv(kb: KnowledgeBase, records: Iterable[EffectRecord] | None = None) -> str:
    """CSV text with a header and one row per effect record."""
    chosen = list(kb.effects.values()) if records is None else list(records)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for record in chosen:
        writer.writerow(effect_row(record))
    return buffer.getvalue()


def to_graph(kb: KnowledgeBase, records: Iterable[EffectRecord] | None = None
             ) -> nx.MultiDiGraph:
    """Directed multigraph source cell type → target cell type, one edge per effect."""
    chosen = list(kb.effects.values()) if records is None else list(records)
    import networkx as nx

    graph = nx.MultiDiGraph(name="evniche knowledge base: EV-mediated effects")
    voc = kb.vocabulary
    for record in chosen:
        for cell in (record.source.cell_type, record.target.cell_type):
            if cell not in graph:
                term = voc.terms_by_kind["cell_type"].get(cell)
                graph.add_node(cell, label=cell, name=term.name if term else cell)
        graph.add_edge(
            record.source.cell_type, record.target.cell_type, key=record.id,
            record_id=record.id,
            cargo="; ".join(record.cargo),
            effect=record.effect.what,
            direction=record.effect.direction,
            disease=record.disease,
            mode=record.mode,
            ev_class=record.ev_class,
            status=record.status,
            source_state=record.source.state or "",
            target_state=record.target.state or "",
            seed=record.evidence.seed,
            refs=_refs(record),
        )
    return graph


def to_graphml(kb: KnowledgeBase, records: Iterable[EffectRecord] | None = None) -> str:
    """GraphML text of :func:`to_graph`."""
    import networkx as nx

    return "\n".join(nx.generate_graphml(to_graph(kb, records))) + "\n"


def render(kb: KnowledgeBase, fmt: str) -> str:
    """The whole knowledge base in ``fmt`` (``json``, ``csv`` or ``graphml``)."""
    if fmt == "json":
        return to_json(kb)
    if fmt == "csv":
        return to_csv(kb)
    if fmt == "graphml":
        return to_graphml(kb)
    raise ValueError(f"unknown export format '{fmt}'; expected one of {', '.join(FORMATS)}")
