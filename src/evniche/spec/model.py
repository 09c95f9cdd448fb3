"""The schema of a model file (YAML), as pydantic models.

Numbers never appear bare: every numeric field is a :data:`ParamRef`, the name of an
entry of ``parameters`` or an inline parameter with unit and provenance. Units and the
dimension each field expects are checked when the model is resolved
(:mod:`evniche.spec.resolve`), so an error can name the field.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .parameters import Parameter, ParamRef


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Compartment(Strict):
    volume: ParamRef
    description: str | None = None


class Diameter(Strict):
    """Log-normal size distribution of a vesicle class, truncated to [min, max]."""

    median: ParamRef
    gsd: ParamRef
    min: ParamRef
    max: ParamRef


class VesicleClass(Strict):
    """A class of EVs: size, surface markers and fate rates (per EV)."""

    is_a: str | None = None
    diameter: Diameter
    markers: list[str] = Field(default_factory=list)
    ps_exposed: bool = False
    degradation: ParamRef  # 1/time, in the marrow interstitium
    drainage: ParamRef  # 1/time, marrow -> blood through sinusoids
    clearance: ParamRef  # 1/time, blood -> liver/spleen macrophages
    homing: ParamRef | None = None  # 1/time, blood -> marrow


class Cargo(Strict):
    """A cargo species; ``decay`` is the loss rate of internalized copies in a cell."""

    is_a: str | None = None
    decay: ParamRef


class Cytokine(Strict):
    """A soluble signal of the niche (e.g. CXCL12): concentration per mL of marrow."""

    decay: ParamRef
    diffusion: ParamRef | None = None


class Drug(Strict):
    """A drug given by interventions: plasma concentration with first-order elimination."""

    elimination: ParamRef  # 1/time


class Secretion(Strict):
    """EV secretion by a cell type: one pool (source × class × optional subset)."""

    vesicle_class: str = Field(alias="class")
    rate: ParamRef  # EVs per cell per time
    subset: str | None = None
    #: "time": ``rate`` is EVs per cell per time; "death": ``rate`` is EVs (e.g. apoptotic
    #: bodies) released per dying cell, so secretion follows the type's death flux
    per: Literal["time", "death"] = "time"
    cargo: dict[str, ParamRef] = Field(default_factory=dict)  # copies per EV
    markers: list[str] = Field(default_factory=list)  # markers beyond the class's own

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StateVariable(Strict):
    """A population-average state of a cell type that relaxes to a rule-set target."""

    baseline: ParamRef  # dimensionless target without signals
    relaxation: ParamRef  # time constant
    description: str | None = None


class Killing(Strict):
    target: str
    rate: ParamRef  # targets killed per killer per time when all marrow cells are targets


class Mutation(Strict):
    """Mutation into another cell type (e.g. a leukemic stem cell) at division: each
    daughter of a successful division is of ``target`` with probability ``rate``."""

    target: str
    rate: ParamRef  # dimensionless, 0..1: probability per daughter cell, per division


class Homeostasis(Strict):
    """Homeostatic control of a pool: the death rate is multiplied by
    (N / set_point)^power, N the type's own count (cells). At N = set_point nothing changes."""

    set_point: ParamRef  # cells
    power: ParamRef  # dimensionless, >= 0


class CellType(Strict):
    """A cell type: count, kinetics (hematopoiesis core), states, EV secretion."""

    is_a: str | None = None
    compartment: str = "marrow"
    lineage: Literal["normal", "leukemic", "stroma", "immune", "blood"] = "normal"
    initial: ParamRef
    proliferation: ParamRef | None = None  # divisions per cell per time
    self_renewal: ParamRef | None = None  # fraction of divisions giving two cells of this type
    death: ParamRef | None = None  # 1/time
    exit: ParamRef | None = None  # 1/time, leaving the marrow (mobilization)
    exit_to: str | None = None  # the cell type exiting cells become (egress), else lost
    #: fraction of divisions that fail (both daughters die: e.g. an S-phase drug)
    division_failure: ParamRef | None = None
    #: drug-induced death (1/time, e.g. a cycle-non-specific anthracycline kill): added to
    #: ``death``; rules on ``death`` (survival signals) and homeostasis do not act on it
    drug_death: ParamRef | None = None
    #: the type differentiating divisions give (one name), or several types with the
    #: fraction of differentiated daughters each receives (parameters; they sum to 1)
    differentiates_to: str | dict[str, ParamRef] | None = None
    mutates_to: Mutation | None = None  # mutation into another type at division
    #: coupling φ of self-renewal to the systemic feedback signal s: renewal is scaled by
    #: s^φ; a number in [0, 1], a parameter (dimensionless, in [0, 1]), or true (φ = 1) /
    #: false (φ = 0, no feedback)
    feedback: bool | float | ParamRef = False
    niche: bool = False  # self-renewal scaled by the joint stem-cell niche signal
    homeostasis: Homeostasis | None = None  # death × (N / set_point)^power
    states: dict[str, StateVariable] = Field(default_factory=dict)
    secretion: list[Secretion] = Field(default_factory=list)
    produces: dict[str, ParamRef] = Field(default_factory=dict)  # cytokine per cell per time
    kills: list[Killing] = Field(default_factory=list)
    description: str | None = None

    @field_validator("feedback")
    @classmethod
    def _coupling(cls, value):
        """A numeric coupling φ must lie in [0, 1] (a parameter is checked on resolving)."""
        if isinstance(value, float) and not 0.0 <= value <= 1.0:
            raise ValueError(f"feedback coupling φ = {value} is outside [0, 1]; expected a "
                             "number between 0 and 1, a parameter name, or true/false")
        return value


class Uptake(Strict):
    """Uptake of EVs of a class (optionally from one source) by a target cell type.

    ``rate`` is a clearance: the volume of medium cleared of EVs per target cell per time.
    """

    target: str
    vesicle_class: str = Field(alias="class")
    source: str = "*"
    rate: ParamRef

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Feedback(Strict):
    """Systemic feedback s = 1 / (1 + strength · Σ counts of ``from``)."""

    from_: list[str] = Field(alias="from")
    strength: ParamRef  # 1/cell

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Niche(Strict):
    """Joint stem-cell niche: ν = 1 / (1 + Σ counts of ``members`` / capacity)."""

    members: list[str]
    capacity: ParamRef  # cells


class Crowding(Strict):
    """Marrow crowding: extra death rate · (Σ counts of members / capacity)^power."""

    members: list[str]
    capacity: ParamRef
    rate: ParamRef
    power: ParamRef


class Hematopoiesis(Strict):
    feedback: Feedback | None = None
    niche: Niche | None = None
    crowding: Crowding | None = None


class Rule(Strict):
    """A rule in the PhysiCell grammar, extended with EV signals and knowledge-base ids.

    ``behavior`` of ``cell_type`` moves from its base value toward ``saturation`` as
    ``signal`` rises (Hill function with ``half_max`` and ``hill_power``). Up- and
    down-regulating rules of one behavior combine as PhysiCell combines them.
    """

    cell_type: str
    signal: str
    direction: Literal["increases", "decreases"]
    behavior: str
    saturation: ParamRef
    half_max: ParamRef
    hill_power: ParamRef
    kb: list[str] = Field(default_factory=list)
    note: str | None = None


class Intervention(Strict):
    """A time-scheduled change, by name from the intervention catalog."""

    name: str
    start: ParamRef  # time
    options: dict[str, ParamRef | str | list[str] | bool] = Field(default_factory=dict)


class Retention(Strict):
    """How the niche holds a cell type in the spatial engine (docs/spatial.md): within
    ``reach`` (a length) of a sinusoid the cell adheres and moves at ``motility_factor``
    (a fraction) of its free motility; ``chemotaxis`` (a speed) is its directed speed up the
    chemoattractant (CXCL12) at full CXCR4."""

    reach: ParamRef | None = None
    motility_factor: ParamRef | None = None
    chemotaxis: ParamRef | None = None


class Spatial(Strict):
    """How the spatial engine represents the model (docs/spatial.md); every key optional.

    Lengths are parameters (unit and provenance, like every other number); ``agents``,
    ``min_agents``, ``snapshot_days`` and ``animation_frames`` are numerical and output
    settings (how many simulation particles, which days to picture), not biology.
    """

    width: ParamRef | None = None  # x, away from the bone surface at x = 0
    height: ParamRef | None = None  # y, along the bone surface
    depth: ParamRef | None = None  # z; absent: a 2-D section one voxel (cell layer) thick
    voxel: ParamRef | None = None
    sinusoid_radius: ParamRef | None = None
    sinusoid_spacing: ParamRef | None = None
    bone: bool | None = None
    agents: int | None = Field(default=None, ge=1)
    min_agents: int | None = Field(default=None, ge=1)
    snapshot_days: list[float] | None = None
    animation_frames: int | None = Field(default=None, ge=0)
    placement: dict[str, Literal["uniform", "perivascular", "hsc", "sinusoid", "bone"]] = \
        Field(default_factory=dict)
    chemoattractant: str | None = None
    chemotactic_types: list[str] | None = None
    retention: dict[str, Retention] = Field(default_factory=dict)
    niche_distance: ParamRef | None = None  # readout niche_fraction: "near a sinusoid"


#: the longest model name: it titles the report, the progress line and the run registry
MAX_NAME_LENGTH = 100


def check_model_name(name: str) -> str:
    """A model name: 1 to :data:`MAX_NAME_LENGTH` characters, none of them a control
    character (a line break or a tab would break the one-line places that show it)."""
    if not name.strip():
        raise ValueError("the model needs a name (a short text, e.g. aml_variant)")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"the name has {len(name)} characters; at most {MAX_NAME_LENGTH} are "
                         "allowed (put longer text under 'description')")
    bad = next((c for c in name if unicodedata.category(c).startswith("C")), None)
    if bad is not None:
        raise ValueError(f"the name contains the control character {bad!r}; use printable "
                         "text on one line")
    return name


class Model(Strict):
    """A whole model file."""

    name: str
    description: str = ""
    extends: str | None = None
    disease: str = "healthy"
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    compartments: dict[str, Compartment]
    vesicle_classes: dict[str, VesicleClass]
    cargo: dict[str, Cargo] = Field(default_factory=dict)
    cytokines: dict[str, Cytokine] = Field(default_factory=dict)
    drugs: dict[str, Drug] = Field(default_factory=dict)
    cell_types: dict[str, CellType]
    uptake: list[Uptake] = Field(default_factory=list)
    hematopoiesis: Hematopoiesis = Field(default_factory=Hematopoiesis)
    rules: list[Rule] = Field(default_factory=list)
    rules_csv: list[str] = Field(default_factory=list)
    interventions: list[Intervention] = Field(default_factory=list)
    spatial: Spatial | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        return check_model_name(name)
