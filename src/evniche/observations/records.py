"""Read and check observation files: YAML, one record (a mapping) or several (a list) per
file, every ``*.yaml``/``*.yml`` of a folder. The records shipped with evniche live in
``evniche/observations/data``; a user folder is read the same way.

Errors are one line naming the file, the record (its id, or its place in the file) and the
field: ``clearance.yaml: CLR-6 (entry 2): observed.spread: give exactly one of …``.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ModelError
from ..spec.sources import check_nesting, read_yaml_file
from .schema import Observation, Override

SUFFIXES = (".yaml", ".yml")


def shipped_folder() -> Path:
    """The folder of the observation records shipped with evniche."""
    return Path(str(resources.files("evniche") / "observations" / "data"))


def _where(loc: tuple, data: Any) -> str:
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        elif isinstance(item, str) and not item.startswith(("function-", "union[",
                                                            "literal[", "tuple[")) and \
                item not in ("Quantity", "str", "float", "int"):
            out += f".{item}" if out else item
    return out


def _message(err: dict) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "unknown field (check its spelling against docs/observations.md)"
    if kind == "missing":
        return "required field is missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    got = err.get("input")
    if kind not in ("missing",) and got is not None and not isinstance(got, dict | list):
        msg += f" (got {got!r})"
    return msg


def validate(entry: Any, source: str, index: int | None = None) -> Observation:
    """One record from its parsed YAML ``entry``; a ModelError names ``source``, the record
    and the field."""
    label = entry.get("id") if isinstance(entry, dict) else None
    place = (f"{label} (entry {index + 1})" if label else f"entry {index + 1}") \
        if index is not None else (str(label) if label else "")
    if not isinstance(entry, dict):
        raise ModelError("expected a record (a mapping with id, measured, system, …)",
                         place, source)
    try:
        return Observation.model_validate(entry)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # the most specific complaint: not a 'missing' when another branch says more
        best = min(errors, key=lambda e: (e["type"] == "missing", -len(e["loc"])))
        field = _where(best["loc"], entry)
        raise ModelError(_message(best), f"{place}: {field}" if place and field
                         else place or field, source) from None


def read_file(path: Path) -> list[Observation]:
    """The records of one observation file."""
    data = read_yaml_file(path, "observation file")
    check_nesting(data, str(path))
    if isinstance(data, dict):
        return [validate(data, str(path))]
    if isinstance(data, list) and data:
        return [validate(entry, str(path), i) for i, entry in enumerate(data)]
    raise ModelError("expected a record (a mapping) or a list of records", source=str(path))


def files(folder: Path) -> list[Path]:
    """The observation files of ``folder`` (sorted), or ``[folder]`` for a file."""
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise FileNotFoundError(f"observation folder {folder} does not exist")
    found = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file())
    if not found:
        raise ModelError("no observation files (*.yaml) in the folder", source=str(folder))
    return found


def load(folders: Iterable[str | Path] | None = None,
         origins: dict[str, str] | None = None) -> list[Observation]:
    """Every record of ``folders`` (files or folders; default: the shipped records).
    Ids must be unique across everything read. ``origins``, if given, is filled with each
    record's file (id → path)."""
    seen: dict[str, Path] = {}
    out: list[Observation] = []
    for folder in list(folders or []) or [shipped_folder()]:
        for path in files(Path(folder)):
            for record in read_file(path):
                if record.id in seen:
                    raise ModelError(f"id '{record.id}' is used twice (also in "
                                     f"{seen[record.id]})", record.id, str(path))
                seen[record.id] = path
                out.append(record)
    if origins is not None:
        origins.update({k: str(v) for k, v in seen.items()})
    return out


def model_overrides(overrides: Iterable[Override]) -> dict[str, Any]:
    """Species overrides as the ``overrides`` of :func:`evniche.load_model`: a parameter
    (``parameters.NAME``) gets a new value, unit, source and range (the override's, or none:
    the preset's range is that of the preset's species; an ``expr`` is dropped); any other
    place of the model an inline parameter ``{value, unit, source[, range]}``."""
    out: dict[str, Any] = {}
    for o in overrides:
        parts = o.path.split(".")
        if len(parts) == 2 and parts[0] == "parameters":
            out[f"{o.path}.value"] = o.value
            out[f"{o.path}.unit"] = o.unit
            out[f"{o.path}.source"] = o.source
            out[f"{o.path}.range"] = list(o.range) if o.range else None
        else:
            out[o.path] = {"value": o.value, "unit": o.unit, "source": o.source}
            if o.range:
                out[o.path]["range"] = list(o.range)
    return out


def check_models(records: Iterable[Observation], origin: dict[str, str] | None = None
                 ) -> int:
    """Load every (preset, overrides) pair the records use, so that an unknown preset or an
    override of a place the model lacks is reported (naming the record) before any run.
    Returns how many distinct models were loaded."""
    from ..spec.loader import load_model

    loaded: set[str] = set()
    for record in records:
        overrides = model_overrides(record.overrides)
        for i, condition in enumerate(record.conditions):
            key = repr((condition.preset, sorted(overrides.items(), key=str)))
            if key in loaded:
                continue
            try:
                load_model(condition.preset, overrides=overrides or None)
            except (ModelError, FileNotFoundError) as exc:
                message = exc.message if isinstance(exc, ModelError) else str(exc)
                where = getattr(exc, "path", "")
                place = f"{record.id}: conditions[{i}]" + (f" ({where})" if where else "")
                raise ModelError(message, place, (origin or {}).get(record.id, "")) from None
            loaded.add(key)
    return len(loaded)
