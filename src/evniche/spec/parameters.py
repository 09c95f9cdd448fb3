"""Parameters: a value with a unit, a provenance and an optional plausible range.

Every number in a model is a parameter. Fields elsewhere in the model refer to a
parameter by name, or hold an inline parameter mapping with the same keys.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import ModelError
from ..expressions import parse

#: provenance forms: a seed file with reference numbers, a DOI, or an explicit assumption
_SEED = re.compile(r"^seed:\s*\S+\.txt(\s*\[[\d,\s–-]+\])?")
_DOI = re.compile(r"doi:\s*10\.\d{4,9}/\S+", re.IGNORECASE)
_ASSUMPTION = re.compile(r"^assumption:\s*\S.{4,}", re.IGNORECASE | re.DOTALL)
_DERIVED = re.compile(r"^derived:\s*\S", re.IGNORECASE)
_RESEARCH = re.compile(r"^research:\s*ev_parameters\.md\s+\S", re.IGNORECASE)


def check_provenance(text: str) -> str:
    """Accept ``seed: FILE [refs]``, a text containing ``doi:10.x/...``, ``research:
    ev_parameters.md <row>`` (the project's parameter table, with its own sources),
    ``derived: <how>`` or ``assumption: <why>``."""
    text = text.strip()
    if (
        _SEED.match(text)
        or _DOI.search(text)
        or _ASSUMPTION.match(text)
        or _DERIVED.match(text)
        or _RESEARCH.match(text)
    ):
        return text
    raise ValueError(
        "provenance must be 'seed: <file>.txt [refs]', contain 'doi:10.…', be "
        "'research: ev_parameters.md <row>', 'derived: <how>' or 'assumption: <why>'"
    )


class Parameter(BaseModel):
    """A number with a unit and where it comes from.

    Either ``value`` or ``expr`` (a formula over other parameters, parsed by the
    whitelisting parser) is given. ``range`` is a plausible [low, high] in ``unit``.
    """

    model_config = ConfigDict(extra="forbid")

    value: float | None = None
    expr: str | None = None
    unit: str
    source: str
    range: tuple[float, float] | None = None
    description: str | None = None

    @field_validator("source")
    @classmethod
    def _provenance(cls, text: str) -> str:
        return check_provenance(text)

    @field_validator("expr")
    @classmethod
    def _formula(cls, text: str | None) -> str | None:
        """Check the formula's syntax against the whitelist now, even if it is never used."""
        if text is not None:
            try:
                parse(text)
            except ModelError as exc:
                raise ValueError(exc.message) from None
        return text

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and (value != value or value in (float("inf"), float("-inf"))):
            raise ValueError("value must be a finite number")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> Parameter:
        if (self.value is None) == (self.expr is None):
            raise ValueError("give exactly one of 'value' or 'expr'")
        if self.range is not None:
            low, high = self.range
            if not low <= high:
                raise ValueError(f"range [{low}, {high}] must have low <= high")
            if self.value is not None and not low <= self.value <= high:
                unit = "" if self.unit in ("", "1", "dimensionless") else f" (in {self.unit})"
                raise ValueError(f"value {self.value:.6g} lies outside its range [{low:.6g}, "
                                 f"{high:.6g}]{unit}")
        return self


#: a field that holds a number: the name of a parameter, or an inline parameter
ParamRef = Annotated[str | Parameter, Field(union_mode="left_to_right")]
