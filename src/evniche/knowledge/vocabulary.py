"""Controlled vocabularies of the knowledge base, with synonyms and is-a parents.

Seven kinds of term: ``cell_type``, ``cargo``, ``behaviour``, ``disease``,
``vesicle_class``, ``marker`` and ``mode``. Each term has a canonical id (what records and
model files store), a name, a description, synonyms (how the reviews spell it: ``MSCs``,
``BM stroma``, ``SDF-1``, ``miRNA155``...) and optional parents (``B-ALL`` is an ``ALL``,
``HSC`` is an ``HSPC``). Cargo terms also carry a ``kind`` (miRNA, mRNA, protein...).

Lookup is case-insensitive, treats Greek letters and dashes alike (``TGF-β1`` =
``TGF-beta1``), ignores punctuation and spacing where that is unambiguous
(``miRNA222-3p`` = ``miR-222-3p``), spells every microRNA the ways the reviews do
(``miR-155``, ``miRNA155``, ``oncomiRNA155``, ``microRNA-155``) and accepts a plural
``s`` (``HSPCs``)::

    >>> from evniche.knowledge import vocabulary
    >>> vocabulary.resolve("cell_type", "mesenchymal stromal cells")
    'MSC'
    >>> vocabulary.resolve("cargo", "SDF-1")
    'CXCL12'
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from .errors import KnowledgeBaseError, UnknownTermError

KINDS: tuple[str, ...] = (
    "cell_type", "cargo", "behaviour", "disease", "vesicle_class", "marker", "mode",
)
_KIND_ALIASES = {"behavior": "behaviour", "cell": "cell_type", "disease_context": "disease",
                 "ev_class": "vesicle_class", "class": "vesicle_class"}

CARGO_KINDS: tuple[str, ...] = (
    "miRNA", "mRNA", "fusion_transcript", "lncRNA", "tRNA", "DNA", "protein", "organelle",
    "lipid", "drug", "metabolite",
)
# A specific cargo term is-a its generic term (miR-150 is a miRNA) when that generic exists.
_GENERIC_CARGO = {"miRNA": "miRNA", "mRNA": "mRNA", "fusion_transcript": "mRNA",
                  "lncRNA": "lncRNA", "tRNA": "tRNA", "DNA": "DNA", "protein": "protein",
                  "lipid": "lipid", "metabolite": "metabolite"}

_TRANSLATE = str.maketrans({
    "β": "beta", "α": "alpha", "γ": "gamma", "κ": "kappa", "ζ": "zeta",
    "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "’": "'", "_": " ",
})
_MIR_PREFIX = re.compile(r"^(?:hsa)?(?:oncomirna|oncomir|microrna|mirna)")


def normalize(name: str) -> str:
    """Case-folded, NFKC, Greek spelled out, dashes unified, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", name).translate(_TRANSLATE).casefold()
    return " ".join(text.split())


def loose_key(name: str) -> str:
    """``normalize`` without punctuation or spaces; every microRNA prefix becomes ``mir``."""
    key = re.sub(r"[^a-z0-9+]", "", normalize(name))
    return _MIR_PREFIX.sub("mir", key)


@dataclass(frozen=True)
class Term:
    """One canonical term of a vocabulary."""

    id: str
    kind: str  # the vocabulary it belongs to: cell_type, cargo, ...
    name: str
    description: str = ""
    synonyms: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    cargo_kind: str | None = None  # cargo terms only: miRNA, mRNA, protein, ...


def _mirna_spellings(term_id: str) -> list[str]:
    """The ways the reviews write a microRNA id such as ``miR-222-3p``."""
    if not term_id.startswith("miR-"):
        return []
    suffix = term_id[4:]
    return [f"miRNA{suffix}", f"miRNA-{suffix}", f"miR{suffix}", f"microRNA-{suffix}",
            f"oncomiRNA{suffix}", f"oncomiR-{suffix}", f"hsa-miR-{suffix}"]


@dataclass
class Vocabulary:
    """All controlled vocabularies, indexed for synonym lookup."""

    terms_by_kind: dict[str, dict[str, Term]]
    source: str = "vocabulary.yaml"
    _exact: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _loose: dict[str, dict[str, str | None]] = field(default_factory=dict, repr=False)
    _children: dict[str, dict[str, set[str]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for kind in KINDS:
            self.terms_by_kind.setdefault(kind, {})
        for kind, terms in self.terms_by_kind.items():
            self._index(kind, terms)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "vocabulary.yaml") -> Vocabulary:
        """Build from the parsed YAML: ``{kind: {id: {name, description, synonyms...}}}``."""
        unknown = set(data) - set(KINDS)
        if unknown:
            raise KnowledgeBaseError(f"unknown vocabulary kind(s) {sorted(unknown)}; "
                                     f"expected {', '.join(KINDS)}", source)
        terms_by_kind: dict[str, dict[str, Term]] = {}
        for kind in KINDS:
            entries = data.get(kind) or {}
            if not isinstance(entries, Mapping):
                raise KnowledgeBaseError(f"'{kind}' must map term ids to entries", source)
            terms: dict[str, Term] = {}
            for term_id, entry in entries.items():
                terms[str(term_id)] = _make_term(kind, str(term_id), entry or {}, source)
            terms_by_kind[kind] = terms
        cargo = terms_by_kind["cargo"]
        for term_id, term in list(cargo.items()):
            generic = _GENERIC_CARGO.get(term.cargo_kind or "")
            if generic and generic in cargo and generic != term_id and generic not in term.parents:
                cargo[term_id] = Term(term.id, term.kind, term.name, term.description,
                                      term.synonyms, (*term.parents, generic), term.cargo_kind)
        return cls(terms_by_kind, source)

    def _index(self, kind: str, terms: dict[str, Term]) -> None:
        exact: dict[str, str] = {}
        loose: dict[str, str | None] = {}
        children: dict[str, set[str]] = {t: set() for t in terms}
        for term in terms.values():
            spellings = [term.id, term.name, *term.synonyms]
            if kind == "cargo":
                spellings += _mirna_spellings(term.id)
            for spelling in spellings:
                key = normalize(spelling)
                if key in exact and exact[key] != term.id:
                    raise KnowledgeBaseError(
                        f"{kind} spelling '{spelling}' names both '{exact[key]}' and "
                        f"'{term.id}'", self.source, term.id)
                exact[key] = term.id
                lkey = loose_key(spelling)
                if lkey and loose.get(lkey, term.id) != term.id:
                    loose[lkey] = None  # ambiguous once punctuation is dropped
                elif lkey:
                    loose[lkey] = term.id
            for parent in term.parents:
                if parent not in terms:
                    raise KnowledgeBaseError(f"parent '{parent}' is not a {kind} term",
                                             self.source, term.id)
                children[parent].add(term.id)
        self._exact[kind] = exact
        self._loose[kind] = loose
        self._children[kind] = children
        for term_id in terms:  # no cycles
            self._walk_up(kind, term_id)

    def _walk_up(self, kind: str, term_id: str) -> set[str]:
        seen: set[str] = set()
        stack = [term_id]
        while stack:
            current = stack.pop()
            for parent in self.terms_by_kind[kind][current].parents:
                if parent == term_id:
                    raise KnowledgeBaseError(f"is-a cycle through '{term_id}'", self.source,
                                             term_id)
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen

    # -- queries ------------------------------------------------------------------------
    @staticmethod
    def check_kind(kind: str) -> str:
        """Return the canonical kind name; raise ``ValueError`` for an unknown kind."""
        kind = _KIND_ALIASES.get(kind, kind)
        if kind not in KINDS:
            raise ValueError(f"unknown vocabulary kind '{kind}'; expected one of "
                             f"{', '.join(KINDS)}")
        return kind

    def resolve(self, kind: str, name: str) -> str | None:
        """Canonical id of ``name`` (an id, name or synonym, any case), or ``None``."""
        kind = self.check_kind(kind)
        if not isinstance(name, str) or not name.strip():
            return None
        if name in self.terms_by_kind[kind]:
            return name
        found = self._exact[kind].get(normalize(name))
        if found:
            return found
        lkey = loose_key(name)
        loose = self._loose[kind]
        if loose.get(lkey):
            return loose[lkey]
        if lkey.endswith("s") and loose.get(lkey[:-1]):
            return loose[lkey[:-1]]
        return None

    def require(self, kind: str, name: str) -> str:
        """Like :meth:`resolve`, but raise :class:`UnknownTermError` with suggestions."""
        found = self.resolve(kind, name)
        if found is None:
            raise UnknownTermError(self.check_kind(kind), name, self.suggest(kind, name))
        return found

    def suggest(self, kind: str, name: str, n: int = 3) -> list[str]:
        """Up to ``n`` canonical ids close to ``name`` (difflib on ids, names, synonyms)."""
        kind = self.check_kind(kind)
        exact = self._exact[kind]
        key = normalize(name)
        out: list[str] = []
        for match in difflib.get_close_matches(key, list(exact), n=4 * n, cutoff=0.6):
            if exact[match] not in out:
                out.append(exact[match])
        if len(out) < n and key:
            for spelling, term_id in exact.items():
                if (key in spelling or spelling in key) and term_id not in out:
                    out.append(term_id)
        return out[:n]

    def terms(self, kind: str) -> list[str]:
        """Canonical ids of one vocabulary, in file order."""
        return list(self.terms_by_kind[self.check_kind(kind)])

    def term(self, kind: str, name: str) -> Term:
        """The :class:`Term` named ``name`` (any spelling); raise if unknown."""
        kind = self.check_kind(kind)
        return self.terms_by_kind[kind][self.require(kind, name)]

    def descendants(self, kind: str, term_id: str) -> set[str]:
        """``term_id`` and every term that is-a ``term_id`` (transitively)."""
        kind = self.check_kind(kind)
        children = self._children[kind]
        out = {term_id}
        stack = [term_id]
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in out:
                    out.add(child)
                    stack.append(child)
        return out

    def ancestors(self, kind: str, term_id: str) -> set[str]:
        """Every term that ``term_id`` is-a (transitively), without ``term_id`` itself."""
        return self._walk_up(self.check_kind(kind), term_id)


def _make_term(kind: str, term_id: str, entry: Mapping[str, Any], source: str) -> Term:
    allowed = {"name", "description", "synonyms", "parents", "kind"}
    extra = set(entry) - allowed
    if extra:
        raise KnowledgeBaseError(f"unexpected field(s) {sorted(extra)} in {kind} term",
                                 source, term_id)
    cargo_kind = entry.get("kind")
    if kind == "cargo":
        if cargo_kind not in CARGO_KINDS:
            raise KnowledgeBaseError(f"cargo kind must be one of {', '.join(CARGO_KINDS)}, "
                                     f"got {cargo_kind!r}", source, term_id)
    elif cargo_kind is not None:
        raise KnowledgeBaseError("only cargo terms have a 'kind'", source, term_id)
    synonyms = entry.get("synonyms") or []
    parents = entry.get("parents") or []
    if not isinstance(synonyms, list) or not isinstance(parents, list):
        raise KnowledgeBaseError("'synonyms' and 'parents' must be lists", source, term_id)
    return Term(id=term_id, kind=kind, name=str(entry.get("name") or term_id),
                description=str(entry.get("description") or ""),
                synonyms=tuple(str(s) for s in synonyms),
                parents=tuple(str(p) for p in parents), cargo_kind=cargo_kind)


def load_file(text: str, source: str = "vocabulary.yaml") -> Vocabulary:
    """Parse vocabulary YAML text."""
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"not valid YAML: {exc}", source) from exc
    if not isinstance(data, Mapping):
        raise KnowledgeBaseError("expected a mapping of vocabulary kinds", source)
    return Vocabulary.from_mapping(data, source)


@lru_cache(maxsize=1)
def get() -> Vocabulary:
    """The vocabulary shipped with the package (parsed once)."""
    path = resources.files("evniche.knowledge") / "data" / "vocabulary.yaml"
    return load_file(path.read_text(encoding="utf-8"), "vocabulary.yaml")


def resolve(kind: str, name: str) -> str | None:
    """Canonical id for ``name`` (synonym- and case-insensitive) in ``kind``, or ``None``."""
    return get().resolve(kind, name)


def suggest(kind: str, name: str, n: int = 3) -> list[str]:
    """Up to ``n`` canonical ids of ``kind`` close to ``name``, for error messages."""
    return get().suggest(kind, name, n)


def terms(kind: str) -> list[str]:
    """Canonical ids of ``kind``."""
    return get().terms(kind)


def term(kind: str, name: str) -> Term:
    """The :class:`Term` for ``name`` in ``kind``; :class:`UnknownTermError` if unknown."""
    return get().term(kind, name)


def require(kind: str, name: str) -> str:
    """Canonical id for ``name``; :class:`UnknownTermError` with suggestions if unknown."""
    return get().require(kind, name)


def descendants(kind: str, term_id: str) -> set[str]:
    """``term_id`` and every term below it in the is-a hierarchy."""
    return get().descendants(kind, term_id)


def expand(kind: str, names: Iterable[str]) -> set[str]:
    """Canonical ids of ``names`` and all their descendants (unknown names raise)."""
    out: set[str] = set()
    for name in names:
        out |= descendants(kind, require(kind, name))
    return out
