"""Protocols: a sequence of isolation steps, written as YAML and validated with pydantic
(unknown fields refused, every number checked), as model files are.

A protocol file::

    name: duc
    description: differential ultracentrifugation of plasma
    steps:
      - {step: centrifuge, g: 2500, minutes: 15, keep: supernatant}
      - {step: centrifuge, g: 100000, minutes: 70, rotor: Type 70 Ti, keep: pellet,
         resuspend_ml: 0.1}

Steps (field ``step``): ``centrifuge`` (:mod:`.centrifugation`), ``density_gradient``
(:mod:`.gradients`), ``size_exclusion`` (:mod:`.chromatography`), ``filtration``
(:mod:`.filtration`), ``precipitation`` (:mod:`.precipitation`), ``immunocapture``
(:mod:`.affinity`). The shipped protocols live in ``evniche/lab/protocols``; docs/lab.md
describes every field.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError

from ..errors import ModelError
from ..spec.sources import check_nesting, read_yaml_file
from .affinity import Immunocapture
from .centrifugation import Centrifuge
from .chromatography import SizeExclusion
from .filtration import Filtration
from .gradients import DensityGradient
from .precipitation import Precipitation
from .samples import Sample
from .steps import StepResult, Strict

AnyStep = Annotated[Centrifuge | DensityGradient | SizeExclusion | Filtration | Precipitation
                    | Immunocapture, Field(discriminator="step")]
STEP_NAMES = ("centrifuge", "density_gradient", "size_exclusion", "filtration",
              "precipitation", "immunocapture")


class Protocol(Strict):
    """A protocol: ``name``, ``description``, the ``fluid`` it is meant for (a hint for
    the record), optional ``reference`` (what it is modelled on) and its ``steps``."""

    name: str = Field(min_length=1)
    description: str = ""
    fluid: str | None = None
    reference: str | None = None
    steps: list[AnyStep] = Field(min_length=1)


def shipped_folder() -> Path:
    """The folder of the protocols shipped with evniche."""
    return Path(str(resources.files("evniche") / "lab" / "protocols"))


def shipped() -> dict[str, Path]:
    """Shipped protocols by name (file stem)."""
    return {p.stem: p for p in sorted(shipped_folder().glob("*.yaml"))}


def _where(loc: tuple) -> str:
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        elif isinstance(item, str) and item not in STEP_NAMES and \
                not item.startswith(("function-", "union[", "literal[", "tuple[", "str",
                                     "Rotor")):
            out += f".{item}" if out else item
    return out


def _message(err: dict) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "union_tag_invalid":
        return f"unknown step {err['input'].get('step')!r}" if isinstance(err.get("input"),
                                                                          dict) else msg
    if kind == "union_tag_not_found":
        return f"each step needs a 'step' field, one of {', '.join(STEP_NAMES)}"
    if kind == "extra_forbidden":
        return "unknown field (check its spelling against docs/lab.md)"
    if kind == "missing":
        return "required field is missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    got = err.get("input")
    if got is not None and not isinstance(got, dict | list):
        msg += f" (got {got!r})"
    return msg


def validate(data: Any, source: str) -> Protocol:
    """A protocol from parsed YAML ``data``; a one-line ModelError names ``source`` and
    the field."""
    if not isinstance(data, dict):
        raise ModelError("expected a mapping with name and steps", source=source)
    check_nesting(data, source)
    try:
        return Protocol.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        message = _message(err)
        if err["type"] == "union_tag_invalid":
            message += f"; steps are {', '.join(STEP_NAMES)}"
        raise ModelError(message, _where(err["loc"]), source) from None


def load(name_or_path: str | Path) -> Protocol:
    """A shipped protocol by name, or a protocol file (YAML)."""
    text = str(name_or_path)
    known = shipped()
    if text in known:
        path = known[text]
    else:
        path = Path(text)
        if not path.is_file():
            raise ModelError(f"no such protocol: expected a shipped protocol "
                             f"({', '.join(known)}) or a YAML file", source=text)
    return validate(read_yaml_file(path, "protocol file"), str(path))


@dataclass
class Isolation:
    """A protocol applied: the ``start`` sample, the ``isolate`` and each step's result."""

    protocol: Protocol
    start: Sample
    isolate: Sample
    results: list[StepResult]


def run(protocol: Protocol, sample: Sample) -> Isolation:
    """Apply each step of ``protocol`` to ``sample`` in turn."""
    current, results = sample, []
    for step in protocol.steps:
        current, result = step.apply(current)
        results.append(result)
    return Isolation(protocol=protocol, start=sample, isolate=current, results=results)
