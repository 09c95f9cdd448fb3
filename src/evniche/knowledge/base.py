"""Load the knowledge base from its YAML files and query it.

Every YAML file in ``evniche/knowledge/data`` other than ``vocabulary.yaml`` holds a
``records:`` list; each record has a ``kind`` (see :mod:`evniche.knowledge.records`).
Loading validates each record against its schema and every vocabulary-typed field against
the vocabularies (canonical ids only: a synonym in a data file is an error that names the
canonical id), checks that ids are unique and that ``opposite_of`` and ``applies_to``
name existing records. Any failure raises :class:`KnowledgeBaseError` naming the file and
the record id.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from . import vocabulary as vocab_module
from .errors import KnowledgeBaseError, UnknownRecordError
from .records import RECORD_KINDS, EffectRecord, Record, RecordBase, RiskRecord
from .vocabulary import Vocabulary

_RECORD_ADAPTER: TypeAdapter[Record] = TypeAdapter(Record)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~7x faster
FILTERS: tuple[str, ...] = ("source", "target", "cargo", "disease")
_FILTER_VOCAB = {"source": "cell_type", "target": "cell_type", "cargo": "cargo",
                 "disease": "disease"}


@dataclass
class KnowledgeBase:
    """All records, by id, with the file each came from."""

    records: dict[str, RecordBase]
    vocabulary: Vocabulary
    files: dict[str, str] = field(default_factory=dict)  # record id -> data file name

    @cached_property
    def effects(self) -> dict[str, EffectRecord]:
        """The effect records, by id (computed once)."""
        return {k: r for k, r in self.records.items() if isinstance(r, EffectRecord)}

    def of_kind(self, kind: str) -> dict[str, RecordBase]:
        """Records of one kind (``effect``, ``ev_class``, ``therapy``...), by id."""
        if kind not in RECORD_KINDS:
            raise KnowledgeBaseError(f"unknown record kind '{kind}'; expected one of "
                                     f"{', '.join(RECORD_KINDS)}")
        return {k: r for k, r in self.records.items() if getattr(r, "kind", None) == kind}

    def get(self, record_id: str) -> RecordBase:
        """The record with this id; :class:`UnknownRecordError` (a ``KeyError``) lists close
        ids otherwise."""
        try:
            return self.records[record_id]
        except KeyError:
            raise UnknownRecordError(record_id, self.suggest_ids(record_id)) from None

    def suggest_ids(self, record_id: str, n: int = 5) -> list[str]:
        """Record ids close to ``record_id`` (difflib, then shared words)."""
        ids = list(self.records)
        out = difflib.get_close_matches(record_id.lower(), ids, n=n, cutoff=0.5)
        if len(out) < n:
            words = {w for w in record_id.lower().replace("_", "-").split("-") if len(w) > 2}
            scored = sorted(((sum(w in rid.split("-") for w in words), rid) for rid in ids
                             if rid not in out), key=lambda s: (-s[0], s[1]))
            out += [rid for score, rid in scored if score > 0][: n - len(out)]
        return out

    def select(self, kind: str | None = "effect", *, source: str | None = None,
               target: str | None = None, cargo: str | None = None,
               disease: str | None = None, exact: bool = False) -> list[RecordBase]:
        """Records of ``kind`` (``None``: all kinds) matching every filter given.

        Filter names may be synonyms. Unless ``exact``, a filter also matches the terms
        below it in the is-a hierarchy (``ALL`` matches ``B-ALL`` and ``T-ALL``, ``HSPC``
        matches ``HSC``, ``miRNA`` every microRNA). A record kind without the facet a
        filter asks about does not match. Unknown terms raise :class:`UnknownTermError`.
        """
        wanted: dict[str, set[str]] = {}
        for facet, value in (("source", source), ("target", target), ("cargo", cargo),
                             ("disease", disease)):
            if value is None:
                continue
            vkind = _FILTER_VOCAB[facet]
            term_id = self.vocabulary.require(vkind, value)
            wanted[facet] = ({term_id} if exact
                             else self.vocabulary.descendants(vkind, term_id))
        pool = self.records.values() if kind is None else self.of_kind(kind).values()
        out = []
        for record in pool:
            facets = record.facets()
            if all(facets.get(f, set()) & ids for f, ids in wanted.items()):
                out.append(record)
        return out

    def query(self, source: str | None = None, target: str | None = None,
              cargo: str | None = None, disease: str | None = None,
              exact: bool = False) -> list[EffectRecord]:
        """Effect records matching every filter given (names may be synonyms)."""
        found = self.select("effect", source=source, target=target, cargo=cargo,
                            disease=disease, exact=exact)
        return [r for r in found if isinstance(r, EffectRecord)]


def _validate_vocab(record: RecordBase, voc: Vocabulary, file: str) -> None:
    for vkind, value, path in record.vocab_refs():
        if value in voc.terms_by_kind[vkind]:
            continue
        canonical = voc.resolve(vkind, value)
        if canonical is not None:
            msg = (f"{path}: '{value}' is a synonym; data files use the canonical "
                   f"{vkind.replace('_', ' ')} id '{canonical}'")
        else:
            hint = voc.suggest(vkind, value)
            msg = (f"{path}: '{value}' is not a {vkind.replace('_', ' ')} in the vocabulary"
                   + (f" (close: {', '.join(hint)})" if hint else ""))
        raise KnowledgeBaseError(msg, file, record.id)


def parse_records(data: Any, file: str, voc: Vocabulary) -> list[RecordBase]:
    """Validate the parsed YAML of one data file (``{records: [...]}``)."""
    if not isinstance(data, Mapping) or set(data) != {"records"}:
        raise KnowledgeBaseError("expected a mapping with one key, 'records'", file)
    items = data["records"] or []
    if not isinstance(items, list):
        raise KnowledgeBaseError("'records' must be a list", file)
    out: list[RecordBase] = []
    for i, item in enumerate(items):
        record_id = str(item.get("id", f"records[{i}]")) if isinstance(item, Mapping) else ""
        try:
            record = _RECORD_ADAPTER.validate_python(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise KnowledgeBaseError(f"{loc}: {first['msg']}{more}", file,
                                     record_id or f"records[{i}]") from None
        _validate_vocab(record, voc, file)
        out.append(record)
    return out


def build(files: Iterable[tuple[str, str]], voc: Vocabulary) -> KnowledgeBase:
    """Build a knowledge base from ``(file name, YAML text)`` pairs and check links."""
    records: dict[str, RecordBase] = {}
    where: dict[str, str] = {}
    for name, text in files:
        try:
            data = yaml.load(text, Loader=_LOADER)
        except yaml.YAMLError as exc:
            raise KnowledgeBaseError(f"not valid YAML: {exc}", name) from exc
        for record in parse_records(data, name, voc):
            if record.id in records:
                raise KnowledgeBaseError(f"duplicate id (also in {where[record.id]})", name,
                                         record.id)
            records[record.id] = record
            where[record.id] = name
    for record in records.values():
        links: list[tuple[str, list[str]]] = []
        if isinstance(record, EffectRecord):
            links.append(("opposite_of", record.opposite_of))
        if isinstance(record, RiskRecord):
            links.append(("applies_to", record.applies_to))
        for field_name, ids in links:
            for other in ids:
                if other not in records:
                    close = difflib.get_close_matches(other, list(records), n=3)
                    hint = f" (close: {', '.join(close)})" if close else ""
                    raise KnowledgeBaseError(f"{field_name}: no record '{other}'{hint}",
                                             where[record.id], record.id)
                if other == record.id:
                    raise KnowledgeBaseError(f"{field_name} names the record itself",
                                             where[record.id], record.id)
    return KnowledgeBase(records, voc, where)


def data_files(directory: Path | None = None) -> list[tuple[str, str]]:
    """``(name, text)`` of every record file, in name order (``vocabulary.yaml`` excluded)."""
    root = Path(directory) if directory else resources.files("evniche.knowledge") / "data"
    out = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml") and entry.name != "vocabulary.yaml":
            out.append((entry.name, entry.read_text(encoding="utf-8")))
    return out


@lru_cache(maxsize=1)
def load() -> KnowledgeBase:
    """The knowledge base shipped with the package, parsed and validated once."""
    return build(data_files(), vocab_module.get())
