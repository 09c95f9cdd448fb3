"""Schema of knowledge-base records (pydantic v2, ``extra="forbid"``).

Every record has an ``id`` (lowercase slug, unique across the knowledge base), a ``kind``,
a ``status`` and ``evidence``: the seed review it comes from, the reference numbers the
review prints for the statement, the first author and year of the first of those
references where the seed names them, and a short exact quote of the seed text.

Kinds:

- ``effect``: one EV-mediated effect, source cell → target cell, with EV class, cargo,
  mode of action, the behaviour that changes and its direction, and the disease;
- ``ev_class``: a vesicle class with its size ranges, biogenesis and markers;
- ``marker``: a surface marker and the classes that show it;
- ``uptake``: an uptake route, modulator, tropism or biodistribution finding;
- ``secretion``: what raises or triggers EV release;
- ``therapy``: a therapeutic strategy with agents and molecular targets;
- ``risk``: a risk of EV therapies or of EVs themselves;
- ``biomarker``: an EV-borne diagnostic or prognostic marker;
- ``method``: an isolation or characterization method;
- ``database``: a public EV database;
- ``cargo_profile``: what the EVs of one source were found to carry.

Vocabulary-typed fields are plain strings here; :mod:`evniche.knowledge.base` checks each
against :mod:`evniche.knowledge.vocabulary` after parsing (``vocab_refs``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

SEED_FILES: tuple[str, ...] = ("000_0fd60b7714f79a13.txt", "003_94ab5ca458a47f16.txt")

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=80)]
Status = Literal["established", "reported", "hypothesis", "retracted"]
Direction = Literal["increase", "decrease", "change"]
SeedFile = Literal["000_0fd60b7714f79a13.txt", "003_94ab5ca458a47f16.txt"]
RECORD_KINDS: tuple[str, ...] = (
    "effect", "ev_class", "marker", "uptake", "secretion", "therapy", "risk", "biomarker",
    "method", "database", "cargo_profile",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Evidence(_Strict):
    """Where a statement stands in a seed review."""

    seed: SeedFile
    refs: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list)
    first_author: str | None = None  # of refs[0], where the seed names it
    year: Annotated[int, Field(ge=1900, le=2100)] | None = None  # of refs[0]
    quote: Annotated[str, StringConstraints(min_length=10, max_length=200)]
    where: Literal["body", "figure", "table", "reference_list"] = "body"
    #: a problem of the review's own citation found on audit (a reference number used for
    #: two different studies, a reference off the topic of the statement), with the reason
    citation_problem: Annotated[str, StringConstraints(min_length=10)] | None = None


class Retraction(_Strict):
    """Notice that a cited study was retracted."""

    date: dt.date
    notice: str
    doi: str


class RecordBase(_Strict):
    """Fields every record kind has."""

    id: Slug
    name: str | None = None
    description: str | None = None
    status: Status
    evidence: Evidence
    more_evidence: list[Evidence] = Field(default_factory=list)
    notes: str | None = None
    retraction: Retraction | None = None

    @model_validator(mode="after")
    def _retraction_matches_status(self) -> RecordBase:
        if (self.status == "retracted") != (self.retraction is not None):
            raise ValueError("status 'retracted' and a 'retraction' notice go together")
        return self

    def vocab_refs(self) -> Iterator[tuple[str, str, str]]:
        """(vocabulary kind, value, field path) for each vocabulary-typed field."""
        return iter(())

    def facets(self) -> dict[str, set[str]]:
        """Values filters match against: source, target, cargo, disease (cell types etc.)."""
        return {}

    def evidences(self) -> list[Evidence]:
        """The primary evidence followed by any further evidence."""
        return [self.evidence, *self.more_evidence]

    def title(self) -> str:
        """A one-line human label."""
        return self.name or self.id


# -- effects -----------------------------------------------------------------------------
class Source(_Strict):
    """The cell that releases the EVs."""

    cell_type: str
    disease_context: str | None = None  # disease of the donor/source, or healthy
    state: str | None = None


class Target(_Strict):
    """The cell that receives the EVs."""

    cell_type: str
    state: str | None = None


class Effect(_Strict):
    """What changes in the target and which way."""

    what: str  # behaviour vocabulary
    direction: Direction


class EffectRecord(RecordBase):
    """One EV-mediated effect: source → target, EV class, cargo, mode, effect, disease."""

    kind: Literal["effect"] = "effect"
    source: Source
    ev_class: str
    cargo: list[str] = Field(default_factory=list)
    mode: str
    target: Target
    effect: Effect
    disease: str
    opposite_of: list[str] = Field(default_factory=list)

    def vocab_refs(self) -> Iterator[tuple[str, str, str]]:
        yield "cell_type", self.source.cell_type, "source.cell_type"
        if self.source.disease_context is not None:
            yield "disease", self.source.disease_context, "source.disease_context"
        yield "vesicle_class", self.ev_class, "ev_class"
        for i, cargo in enumerate(self.cargo):
            yield "cargo", cargo, f"cargo[{i}]"
        yield "mode", self.mode, "mode"
        yield "cell_type", self.target.cell_type, "target.cell_type"
        yield "behaviour", self.effect.what, "effect.what"
        yield "disease", self.disease, "disease"

    def facets(self) -> dict[str, set[str]]:
        return {"source": {self.source.cell_type}, "target": {self.target.cell_type},
                "cargo": set(self.cargo), "disease": {self.disease}}

    def title(self) -> str:
        arrow = {"increase": "↑", "decrease": "↓", "change": "~"}[self.effect.direction]
        return (f"{self.source.cell_type} → {self.target.cell_type}: "
                f"{self.effect.what} {arrow}")


# -- vesicle classes, markers, uptake, secretion -------------------------------------------
class SizeRange(_Strict):
    """A diameter range of a vesicle class as one seed gives it (nm)."""

    min_nm: Annotated[float, Field(ge=0)] | None = None
    max_nm: Annotated[float, Field(gt=0)]
    evidence: Evidence

    @model_validator(mode="after")
    def _ordered(self) -> SizeRange:
        if self.min_nm is not None and self.min_nm >= self.max_nm:
            raise ValueError("min_nm must be below max_nm")
        return self


class EVClassRecord(RecordBase):
    """A vesicle class: size ranges, biogenesis, markers."""

    kind: Literal["ev_class"] = "ev_class"
    name: str
    term: str  # vesicle_class vocabulary
    size_ranges: list[SizeRange] = Field(default_factory=list)
    biogenesis: str | None = None
    markers: list[str] = Field(default_factory=list)

    def vocab_refs(self) -> Iterator[tuple[str, str, str]]:
        yield "vesicle_class", self.term, "term"
        for i, marker in enumerate(self.markers):
            yield "marker", marker, f"markers[{i}]"

    def evidences(self) -> list[Evidence]:
        """Primary and further evidence, then the evidence of each size range."""
        return [*super().evidences(), *(s.evidence for s in self.size_ranges)]


class MarkerRecord(RecordBase):
    """A surface marker and the vesicle classes (or sources) that show it."""

    kind: Literal["marker"] = "marker"
    name: str
    term: str  # marker vocabulary
    classes: list[str] = Field(default_factory=list)
    source_cell_types: list[str] = Field(default_factory=list)

    def vocab_refs(self) -> Iterator[tuple[str, str, str]]:
        yield "marker", self.term, "term"
        for i, cls in enumerate(self.classes):
            yield "vesicle_class", cls, f"classes[{i}]"
        for i, cell in enumerate(self.source_cell_types):
            yield "cell_type", cell, f"source_cell_types[{i}]"

    def facets(self) -> dict[str, set[str]]:
        return {"source": set(self.source_cell_types)}


class UptakeRecord(RecordBase):
    """An uptake route, a modulator of uptake, a tropism or a biodistribution finding."""

    kind: Literal["uptake"] = "uptake"
    name: str
    category: Literal["route", "modulator", "tropism", "biodistribution"]
    effect_on_uptake: Literal["increase", "decrease", "change"] | None = None
    ev_class: str | None = None
    source_cell_type: str | None = None
    target_cell_types: list[str] = Field(default_factory=list)
    agents: list[str] = Field(default_factory=list)
    organs: list[str] = Field(default_factory=list)
    disease: str | None = None

    def vocab_refs(self) -> Iterator[tuple[str, str, str]]:
        if self.ev_class is not None:
            yield "vesicle_class", self.ev_class, "ev_class"
        if self.source_cell_type is not None:
            yield "cell_type", self.source_cell_type, "source_cell_type"
        for i, cell in enumerate(self.target_cell_types):
            yield "cell_type", cell, f"target_cell_types[{i}]"
        if self.disease is not None:
            yield "disease", self.disease, "disease"

    def facets(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {"target": set(self.target_cell_types)}
        if self.source_cell_type:
            out["source"] = {self.source_cell_type}
        if self.disease:
            out["disease"] = {self.disease}
        return out


class SecretionRecord(RecordBase):
    """What raises or triggers EV release, and from which cells."""

    kind: Literal["secretion"] = "secretion"
    name: str
    cell_types: list[str] = Field(default_factory=list)
    triggers: list[str] = Field(default_factory=list)
    direction: Direction | None = None
    disease: str | None = None

    def vocab_refs(self) -> Iterator[tuple[str, str, str]]:
        for i, cell in enumerate(self.cell_types):
            yield "cell_type", cell, f"cell_types[{i}]"
        if self.disease is not None:
            yield "disease", self.disease, "disease"

    def facets(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {"source": set(self.cell_types)}
        if self.disease:
            out["disease"] = {self.disease}
        return out


# -- therapy, risks, biomarkers, methods, databases, cargo profiles -----------------------
class TherapyRecord(RecordBase):
    """A therapeutic strategy against or with EVs."""

    kind: Literal["therapy"] = "therapy"
    name: str
    category: Literal["removal", "secretion_inhibition", "uptake_inhibition", "drug_carrier",
                      "therapeutic_ev"]
    agents: list[str] = Field(default_factory=list)
    molecular_targets: list[str] = Field(default_factory=list)
    cargo: list[str] = Field(default_factory=list)
    markers: list[str] = Field(default_factory=list)
    source_cell_type: str | None = None
    target_cell_types: list[str] = Field(default_factory=list)
    disease: str | None = None

    def vocab_refs(self) -> Iterator[tuple[str, str, str]]:
        for i, cargo in enumerate(self.cargo):
            yield "cargo", cargo, f"cargo[{i}]"
        for i, marker in enumerate(self.markers):
            yield "marker", marker, f"markers[{i}]"
        if self.source_cell_type is not None:
            yield "cell_type", self.source_cell_type, "source_cell_type"
        for i, cell in enumerate(self.target_cell_types):
            yield "cell_type", cell, f"target_cell_types[{i}]"
        if self.disease is not None:
            yield "disease", self.disease, "disease"

    def facets(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {"cargo": set(self.cargo),
                                    "target": set(self.target_cell_types)}
        if self.source_cell_type:
            out["source"] = {self.source_cell_type}
        if self.disease:
            out["disease"] = {self.disease}
        return out


class RiskRecord(RecordBase):
    """A risk: side effects of EV therapies, or harm EVs themselves may do."""

    kind: Literal["risk"] = "risk"
    name: str
    mechanism: str | None = None
    markers: list[str] = Field(default_factory=list)
    cargo: list[str] = Field(default_factory=list)
    source_cell_types: list[str] = Field(default_factory=list)
    applies_to: list[str] = Field(default_factory=list)  # therapy record ids

    def vocab_refs(self) -> Iterator[tuple[str, str, str]]:
        for i, marker in enumerate(self.markers):
            yield "marker", marker, f"markers[{i}]"
        for i, cargo in enumerate(self.cargo):
            yield "cargo", cargo, f"cargo[{i}]"
        for i, cell in enumerate(self.source_cell_types):
            yield "cell_type", cell, f"source_cell_types[{i}]"

    def facets(self) -> dict[str, set[str]]:
        return {"cargo": set(self.cargo), "source": set(self.source_cell_types)}


class BiomarkerRecord(RecordBase):
    """An EV-borne marker for diagnosis or prognosis (a liquid-biopsy readout)."""

    kind: Literal["biomarker"] = "biomarker"
    name: str
    analyte: str  # what is measured, e.g. "serum EV count", "EV miR-155"
    cargo: list[str] = Field(default_factory=list)
    markers: list[str] = Field(default_factory=list)
    diseases: list[str] = Field(default_factory=list)
    finding: Literal["higher", "lower", "correlates", "candidate", "limitation"]
    use: Literal["diagnostic", "prognostic", "diagnostic_and_prognostic"]

    def vocab_refs(self) -> Iterator[tuple[str, str, str]]:
        for i, cargo in enumerate(self.cargo):
            yield "cargo", cargo, f"cargo[{i}]"
        for i, marker in enumerate(self.markers):
            yield "marker", marker, f"markers[{i}]"
        for i, disease in enumerate(self.diseases):
            yield "disease", disease, f"diseases[{i}]"

    def facets(self) -> dict[str, set[str]]:
        return {"cargo": set(self.cargo), "disease": set(self.diseases)}


class MethodRecord(RecordBase):
    """An isolation, purification or characterization method."""

    kind: Literal["method"] = "method"
    name: str
    category: Literal["characterization", "isolation", "molecular_profiling"]


class DatabaseRecord(RecordBase):
    """A public database of EV components or experiments."""

    kind: Literal["database"] = "database"
    name: str


class CargoProfileRecord(RecordBase):
    """What the EVs of one source carry (composition, not an effect)."""

    kind: Literal["cargo_profile"] = "cargo_profile"
    name: str
    source: Source
    ev_class: str
    cargo: list[str] = Field(default_factory=list)

    def vocab_refs(self) -> Iterator[tuple[str, str, str]]:
        yield "cell_type", self.source.cell_type, "source.cell_type"
        if self.source.disease_context is not None:
            yield "disease", self.source.disease_context, "source.disease_context"
        yield "vesicle_class", self.ev_class, "ev_class"
        for i, cargo in enumerate(self.cargo):
            yield "cargo", cargo, f"cargo[{i}]"

    def facets(self) -> dict[str, set[str]]:
        out = {"source": {self.source.cell_type}, "cargo": set(self.cargo)}
        if self.source.disease_context:
            out["disease"] = {self.source.disease_context}
        return out


Record = Annotated[
    EffectRecord | EVClassRecord | MarkerRecord | UptakeRecord | SecretionRecord
    | TherapyRecord | RiskRecord | BiomarkerRecord | MethodRecord | DatabaseRecord
    | CargoProfileRecord,
    Field(discriminator="kind"),
]
