"""The schema of an observation record (YAML), as pydantic models; docs/observations.md.

A record says what was measured, in which system and species, under which condition(s) of
which preset, how the model reads it (a measurement model with its parameters, each with
unit and provenance), the observed value with its spread (or only a direction/ordering),
the species-specific model values it needs and its source with a verbatim quote.
Unknown fields are refused, so a misspelt key cannot pass silently.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import ModelError
from . import distance
from .measurement import MODELS, convert


@contextmanager
def _as_value_error(prefix: str = "") -> Iterator[None]:
    """A ModelError raised inside a validator becomes the ValueError pydantic reports."""
    try:
        yield
    except ModelError as exc:
        raise ValueError(prefix + exc.message) from None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Quantity(Strict):
    """A number with its unit and provenance (``source``: DOI, seed ref, ``research:``,
    ``derived:`` or ``assumption:``)."""

    value: float
    unit: str
    source: str = Field(min_length=1)


Species = Literal["human", "mouse"]

#: a record id: letters, digits, '.', '_' and '-'
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: a condition's ``at``: a day, or an anchor with an optional offset in days
AT_PATTERN = re.compile(r"^(start|end|diagnosis)(\s*[+]\s*\d+(\.\d*)?)?$")


class Override(Strict):
    """A model value this record needs that differs by species (a mouse parameter and a
    human one are separate values): ``path`` is ``parameters.NAME`` or an inline place of
    the model (``vesicle_classes.microvesicle.clearance``), set to ``value`` in ``unit``."""

    path: str = Field(min_length=1)
    value: float
    unit: str
    species: Species
    source: str = Field(min_length=1)
    #: plausible range of this species' value (same unit); for a parameter it replaces the
    #: preset's range, which belongs to the preset's species (absent: no range)
    range: tuple[float, float] | None = None


class Condition(Strict):
    """One simulated condition: a preset (or model file), interventions in the catalog's
    ``NAME@DAY[:key=value,…]`` syntax (DAY may be ``diagnosis[+N]``), when it is read
    (``at``: days, ``start``, ``end``, ``diagnosis`` or ``diagnosis+N``: diagnosis is the
    first day the untreated run's marrow blasts are >= 20 %, for AML with cytopenia:
    :func:`evniche.readouts.clinical.diagnosis_day`) and the run length ``days``."""

    preset: str = Field(min_length=1)
    interventions: list[str] = Field(default_factory=list)
    at: float | str = "end"
    days: float = Field(365.0, gt=0, le=3650)
    label: str | None = None

    @field_validator("at")
    @classmethod
    def _at(cls, at: float | str) -> float | str:
        if isinstance(at, str) and not AT_PATTERN.match(at.strip()):
            raise ValueError(f"expected a day number, 'start', 'end', 'diagnosis' or "
                             f"'diagnosis+N', got {at!r}")
        if isinstance(at, float) and not (math.isfinite(at) and at >= 0):
            raise ValueError(f"expected a day >= 0, got {at}")
        return at.strip() if isinstance(at, str) else at

    @field_validator("interventions")
    @classmethod
    def _interventions(cls, items: list[str]) -> list[str]:
        from ..compile.interventions import parse_intervention

        for text in items:
            with _as_value_error():
                parse_intervention(text)
        return items

    def name(self) -> str:
        """A short label: ``label`` or preset + interventions + day."""
        if self.label:
            return self.label
        parts = [self.preset, *self.interventions]
        return " + ".join(parts) + f" @ {self.at}"


class Measurement(Strict):
    """How the model reads the observation: a measurement model
    (:data:`evniche.observations.measurement.MODELS`) and its parameters, quantities with
    unit and source, or names (a cargo, a vesicle class, the readout of a fold change)."""

    model: str
    parameters: dict[str, Quantity | str] = Field(default_factory=dict)

    @field_validator("parameters", mode="before")
    @classmethod
    def _parameters(cls, given: object) -> object:
        if not isinstance(given, dict):
            return given
        for name, value in given.items():
            if not isinstance(value, dict | str):
                raise ValueError(f"parameter '{name}' is a quantity {{value, unit, source}} or "
                                 "a name; a bare number has no unit and no provenance")
        return given

    @model_validator(mode="after")
    def _known(self) -> Measurement:
        if self.model not in MODELS:
            raise ValueError(f"unknown measurement model '{self.model}'; known: "
                             f"{', '.join(MODELS)}")
        spec = MODELS[self.model]
        allowed = dict(spec.parameters)
        if self.model == "fold_change":
            inner = self.parameters.get("readout")
            if not isinstance(inner, str) or inner not in MODELS or \
                    MODELS[inner].kind != "readout":
                readouts = [m.name for m in MODELS.values() if m.kind == "readout"]
                raise ValueError("fold_change needs parameters.readout, the name of a "
                                 f"readout: one of {', '.join(readouts)}")
            allowed.update(MODELS[inner].parameters)
        for name, given in self.parameters.items():
            if name not in allowed:
                raise ValueError(f"measurement model '{self.model}' has no parameter "
                                 f"'{name}'; its parameters: {', '.join(allowed) or 'none'}")
            want = allowed[name].unit
            if want is None and not isinstance(given, str):
                raise ValueError(f"parameter '{name}' is a name (text), not a quantity")
            choices = allowed[name].choices
            if choices and given not in choices:
                raise ValueError(f"parameter '{name}' must be one of {', '.join(choices)}, "
                                 f"got {given!r}")
            if want is not None:
                if isinstance(given, str):
                    raise ValueError(f"parameter '{name}' is a quantity: give {{value, unit: "
                                     f"{want}, source}}")
                with _as_value_error():
                    convert(given.value, given.unit, want)
        missing = [n for n, p in allowed.items() if p.default is None
                   and n not in self.parameters]
        if missing:
            raise ValueError(f"measurement model '{self.model}' needs parameter(s) "
                             f"{', '.join(missing)}")
        return self

    def values(self) -> dict[str, float | str]:
        """The parameters in the units the measurement function takes (names as text)."""
        spec = dict(MODELS[self.model].parameters)
        if self.model == "fold_change":
            spec.update(MODELS[str(self.parameters["readout"])].parameters)
        out: dict[str, float | str] = {}
        for name, given in self.parameters.items():
            unit = spec[name].unit
            out[name] = given if isinstance(given, str) or unit is None else \
                convert(given.value, given.unit, unit)
        return out


class Spread(Strict):
    """The spread of an observed value: exactly one of ``sd``, ``se`` (needs ``n``),
    ``ci95``, ``iqr``, ``range`` (of individuals) or ``fold`` (a 95 % multiplicative
    tolerance for a value published without spread: needs ``source``, e.g. an
    ``assumption:`` saying why that width). Same unit as the value."""

    sd: float | None = Field(None, gt=0)
    se: float | None = Field(None, gt=0)
    ci95: tuple[float, float] | None = None
    iqr: tuple[float, float] | None = None
    range: tuple[float, float] | None = None
    fold: float | None = Field(None, gt=1)
    source: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Spread:
        given = [k for k in ("sd", "se", "ci95", "iqr", "range", "fold")
                 if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of sd, se, ci95, iqr, range, fold"
                             + (f" (got {', '.join(given)})" if given else ""))
        for key in ("ci95", "iqr", "range"):
            pair = getattr(self, key)
            if pair is not None and not 0 < pair[0] < pair[1]:
                raise ValueError(f"{key} must be [low, high] with 0 < low < high, got "
                                 f"{list(pair)}")
        if self.fold is not None and not self.source:
            raise ValueError("a fold tolerance needs a source (why this width: "
                             "'assumption: …' or a citation)")
        return self


class Observed(Strict):
    """What was observed: a magnitude (``value`` in ``unit`` with its ``spread``, ``n``
    and which ``statistic`` the value is) or only a ``trend`` across the conditions
    (``increasing``, ``decreasing`` or ``similar``, each step by at least ``margin``)."""

    value: float | None = None
    unit: str | None = None
    statistic: Literal["mean", "median", "estimate"] = "estimate"
    n: int | None = Field(None, ge=1)
    spread: Spread | None = None
    trend: Literal["increasing", "decreasing", "similar"] | None = None
    margin: float = Field(0.05, gt=0, le=10)

    @model_validator(mode="after")
    def _kind(self) -> Observed:
        if (self.value is None) == (self.trend is None):
            raise ValueError("give either a value (with unit and spread) or a trend, not "
                             "both")
        if self.value is not None:
            if self.unit is None or self.spread is None:
                raise ValueError("a value needs a unit and a spread (sd, se, ci95, iqr, "
                                 "range or fold)")
            if not (math.isfinite(self.value) and self.value > 0):
                raise ValueError(f"the value must be a finite number > 0 (a log-normal "
                                 f"distance), got {self.value}")
            if self.spread.se is not None and self.n is None:
                raise ValueError("a standard error needs n")
        return self

    def centre(self) -> float:
        """The observation's log-scale centre, in its unit: the value, except for a mean
        given with an SD (or SE): the median of the log-normal with that mean and SD,
        mean / √(1 + (sd/mean)²), since the model stands for a typical patient."""
        assert self.value is not None
        if self.statistic == "mean" and self.spread is not None and \
                (self.spread.sd is not None or self.spread.se is not None):
            return self.value * math.exp(-0.5 * self.sigma() ** 2)
        return self.value

    def sigma(self) -> float:
        """The log-scale spread (see :func:`evniche.observations.distance.log_sigma`)."""
        s = self.spread
        assert self.value is not None and s is not None
        return distance.log_sigma(self.value, sd=s.sd, se=s.se, n=self.n, ci95=s.ci95,
                                  iqr=s.iqr, range_=s.range, fold=s.fold)


class Source(Strict):
    """Where the observation comes from: ``ref`` (DOI, PMID, ``seed: FILE [N]`` or a
    title), ``where`` it was read (URL) and a verbatim ``quote`` of the text read."""

    ref: str = Field(min_length=1)
    quote: str = Field(min_length=1)
    where: str | None = None


class Observation(Strict):
    """One observation record."""

    id: str
    measured: str = Field(min_length=1)
    system: Literal["patients", "healthy_donors", "mouse", "in_vitro"]
    species: Species
    conditions: list[Condition] = Field(min_length=1)
    measurement: Measurement
    observed: Observed
    overrides: list[Override] = Field(default_factory=list)
    source: Source
    note: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ID_PATTERN.match(value):
            raise ValueError(f"an id is letters, digits, '.', '_' and '-', got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Observation:
        spec = MODELS[self.measurement.model]
        n = len(self.conditions)
        if self.observed.trend is not None:
            if spec.kind != "readout":
                raise ValueError(f"a trend compares a readout across conditions; "
                                 f"'{spec.name}' is a contrast (give a value instead)")
            if n < 2:
                raise ValueError("a trend needs at least two conditions, in order")
        elif spec.kind == "contrast" and n != 2:
            raise ValueError(f"'{spec.name}' compares two conditions (first over second); "
                             f"got {n}")
        elif spec.kind == "readout" and n != 1:
            raise ValueError(f"'{spec.name}' reads one condition; got {n} (a trend or a "
                             "fold_change compares several)")
        if self.observed.value is not None:
            with _as_value_error("observed.unit: "):
                convert(self.observed.value, str(self.observed.unit), spec.unit)
        return self

    def observed_in_model_unit(self) -> float:
        """The observation's centre (:meth:`Observed.centre`) in the unit the measurement
        model reports."""
        spec = MODELS[self.measurement.model]
        assert self.observed.value is not None and self.observed.unit is not None
        return convert(self.observed.centre(), self.observed.unit, spec.unit)

    def presets(self) -> list[str]:
        """The presets (or model files) the record's conditions use, in order, once each."""
        return list(dict.fromkeys(c.preset for c in self.conditions))
