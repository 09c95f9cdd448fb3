"""Load a model file: YAML → merged with what it ``extends`` → overrides → schema → resolved.

Errors name the file, the path inside it and what was expected (:class:`ModelError`).
What a model may read (``extends``, ``rules_csv``) is confined and checked in
:mod:`evniche.spec.sources`.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import math
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ModelError
from .model import Model, Rule
from .resolve import ResolvedModel, resolve
from .sources import (
    MAX_EXTENDS,
    Allowed,
    check_file,
    check_nesting,
    exists,
    parse_yaml,
    read_text,
    read_yaml_file,
    shown,
)

#: lists that a model extending another adds to, rather than replaces
CONCATENATED = {"rules", "uptake", "interventions", "rules_csv", "secretion", "kills"}
PRESET_SUFFIX = ".yaml"


def preset_names() -> list[str]:
    """Names of the models shipped with evniche."""
    folder = resources.files("evniche") / "presets"
    return sorted(p.name[: -len(PRESET_SUFFIX)] for p in folder.iterdir()
                  if p.name.endswith(PRESET_SUFFIX))


def locate(source: str | Path, relative_to: Path | None = None) -> Path:
    """A preset name or a path → the model file's path; a relative path named in the model
    file ``relative_to`` is relative to that file's folder."""
    text = str(source)
    candidate = Path(text)
    if relative_to is not None and not candidate.is_absolute():
        candidate = relative_to.parent / candidate
    if exists(candidate):
        return candidate
    if text in preset_names():
        return Path(str(resources.files("evniche") / "presets" / f"{text}{PRESET_SUFFIX}"))
    if candidate.suffix in (".yaml", ".yml") or "/" in text:
        raise FileNotFoundError(f"model file {shown(candidate)} does not exist")
    raise ModelError(f"{shown(text)} is neither a model file nor a preset; presets: "
                     f"{', '.join(preset_names())}")


def read_yaml(path: Path) -> dict:
    """The top-level mapping of the model file ``path`` (see :mod:`.sources` for what is
    refused)."""
    data = read_yaml_file(path, "model file")
    if not isinstance(data, dict):
        raise ModelError("expected a mapping (name:, compartments:, cell_types: …) at the top",
                         source=str(path))
    return data


def merge(base: Any, child: Any, key: str = "") -> Any:
    """Deep-merge ``child`` over ``base``; CONCATENATED lists add up; ``null`` deletes."""
    if isinstance(base, dict) and isinstance(child, dict):
        out = dict(base)
        for k, v in child.items():
            if v is None and k in out and k != "extends":
                del out[k]
            elif k in out:
                out[k] = merge(out[k], v, k)
            else:
                out[k] = copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(child, list) and key in CONCATENATED:
        return base + child
    return copy.deepcopy(child)


def read_merged(path: Path, seen: tuple[Path, ...] = (), allowed: Allowed | None = None
                ) -> dict:
    """Read ``path`` and what it extends, merged; rules_csv paths made absolute.

    What ``extends`` and ``rules_csv`` name must lie in ``allowed`` (by default: the folder
    of ``path`` and the presets); ``path`` itself is read wherever it is."""
    if allowed is None:
        allowed = Allowed.for_model(path)
    if path.resolve() in seen:
        raise ModelError("'extends' forms a cycle", "extends", str(path))
    data = read_yaml(path)
    if "rules_csv" in data and isinstance(data["rules_csv"], list):
        data["rules_csv"] = [str(locate_csv(p, path, allowed, f"rules_csv[{i}]"))
                             for i, p in enumerate(data["rules_csv"])]
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ModelError("expected the name or path of a model", "extends", str(path))
    if len(seen) >= MAX_EXTENDS:
        raise ModelError(f"more than {MAX_EXTENDS} models extend one another", "extends",
                         str(path))
    try:
        parent_path = locate(parent, path)
        allowed.check(parent_path, "extends", str(path))
        check_file(parent_path, "model file")
    except (ModelError, FileNotFoundError) as exc:
        message = exc.message if isinstance(exc, ModelError) else str(exc)
        raise ModelError(message, "extends", str(path)) from None
    base = read_merged(parent_path, (*seen, path.resolve()), allowed)
    merged = merge(base, {k: v for k, v in data.items() if k != "extends"})
    merged["extends"] = parent
    return merged


def locate_csv(entry: Any, model_path: Path, allowed: Allowed | None = None,
               key: str = "rules_csv") -> Path:
    """The path of a rules CSV file named (as ``key``) in the model file ``model_path``,
    relative to its folder; refused outside ``allowed``."""
    if not isinstance(entry, str):
        raise ModelError("expected the path of a rules CSV file", key, str(model_path))
    candidate = Path(entry)
    if not candidate.is_absolute():
        candidate = model_path.parent / candidate
    (allowed or Allowed.for_model(model_path)).check(candidate, key, str(model_path))
    return candidate


def apply_overrides(data: dict, overrides: dict[str, Any] | None, source: str) -> dict:
    """Set ``path=value`` pairs (``parameters.x`` sets the value of parameter x).

    A new ``unit`` for a parameter that declares a plausible ``range`` also converts the
    range (written in the old unit) into the new unit, so the value given with its unit is
    checked against the same physical range."""
    if not overrides:
        return data
    data = copy.deepcopy(data)
    new_unit: dict[int, tuple[dict, Any, str]] = {}  # parameter mapping → its old unit, path
    new_range: set[int] = set()
    for path, value in overrides.items():
        keys = _split_path(path)
        if keys[0] == "parameters" and len(keys) == 2:
            keys.append("value")
        node: Any = data
        for i, key in enumerate(keys[:-1]):
            node = _child(node, key, keys[:i], path)
        last = keys[-1]
        if isinstance(node, dict) and last == "value" and "expr" in node:
            node.pop("expr")
        if isinstance(node, dict) and last == "unit" and "unit" in node:
            new_unit.setdefault(id(node), (node, node["unit"], path))
        if isinstance(node, dict) and last == "range":
            new_range.add(id(node))
        if isinstance(node, list) or isinstance(last, int):
            _child(node, last, keys[:-1], path)  # a list entry must exist
        elif not isinstance(node, dict):
            raise ModelError(f"'{_join(keys[:-1])}' is a single value, not a mapping or a "
                             "list; cannot set anything inside it", path, "--set")
        node[last] = value
    for key, (node, old, path) in new_unit.items():
        if key not in new_range and node.get("range") is not None:
            node["range"] = _range_in(node["range"], old, node["unit"], path)
    return data


def _join(keys: list[Any]) -> str:
    """``['rules', 3, 'saturation']`` → ``rules[3].saturation``."""
    out = ""
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def _child(node: Any, key: Any, parents: list[Any], path: str) -> Any:
    """``node[key]`` while walking an override path, or a ModelError saying why not."""
    where = _join(parents)
    if isinstance(node, list):
        if not isinstance(key, int):
            raise ModelError(f"'{where}' is a list; pick an entry by its index, "
                             f"{where}[0] to {where}[{len(node) - 1}]" if node else
                             f"'{where}' is an empty list", path, "--set")
        if key >= len(node):
            raise ModelError(f"index {key} is out of range: '{where}' has {len(node)} "
                             f"entr{'y' if len(node) == 1 else 'ies'}"
                             + (f" (0 to {len(node) - 1})" if node else ""), path, "--set")
        return node[key]
    if isinstance(node, dict):
        if isinstance(key, int):
            raise ModelError(f"'{where}' is a mapping, not a list; name an entry "
                             f"({where}.NAME) instead of [{key}]", path, "--set")
        if key not in node:
            raise ModelError(f"no '{_join([*parents, key])}' in the model to set", path,
                             "--set")
        return node[key]
    raise ModelError(f"'{where}' is a single value, not a mapping or a list; cannot set "
                     "anything inside it", path, "--set")


def _range_in(rng: Any, old: Any, new: Any, path: str) -> Any:
    """A plausible ``[low, high]`` written in unit ``old``, in unit ``new``. Anything not a
    pair of numbers and two units is left for the schema to reject."""
    from ..units import parse_unit, ureg

    if not (isinstance(old, str) and isinstance(new, str) and isinstance(rng, list | tuple)
            and len(rng) == 2 and all(isinstance(x, int | float) and not isinstance(x, bool)
                                      for x in rng)):
        return rng
    old_u, new_u = parse_unit(old, path), parse_unit(new, path)
    try:
        return [float(ureg.Quantity(float(x), old_u).to(new_u).magnitude) for x in rng]
    except Exception:  # pint: a unit of another dimension
        raise ModelError(f"unit '{new}' does not measure the same quantity as the "
                         f"parameter's unit '{old}'; give a unit of the same dimension",
                         path, "--set") from None


_PATH_PART = re.compile(r"([^.\[\]]+)((?:\[[^\[\]]*\])*)")
_INDEX = re.compile(r"\[([^\[\]]*)\]")


def _split_path(path: str) -> list[Any]:
    """``rules[3].saturation`` → ``['rules', 3, 'saturation']``; a malformed path (an empty
    name, an index that is not a whole number ≥ 0, a stray bracket) is a ModelError."""
    keys: list[Any] = []
    if not path:
        raise ModelError("empty path", path, "--set")
    for part in path.split("."):
        m = _PATH_PART.fullmatch(part)
        if not m:
            what = "an empty name" if not part else f"'{part}'"
            raise ModelError(f"malformed path: {what} is not NAME or NAME[INDEX]; expected "
                             "e.g. parameters.lsc_self_renewal or rules[0].saturation",
                             path, "--set")
        keys.append(m.group(1))
        for index in _INDEX.findall(m.group(2)):
            if not re.fullmatch(r"\s*[0-9]+\s*", index):
                raise ModelError(f"malformed path: list index [{index}] is not a whole "
                                 "number ≥ 0", path, "--set")
            keys.append(int(index))
    return keys


def parse_override(text: str) -> tuple[str, Any]:
    """``PATH=VALUE`` from the command line; VALUE is read as YAML (a number, a word…)."""
    path, sep, value = text.partition("=")
    if not sep or not path.strip():
        raise ModelError(f"expected PATH=VALUE, got '{text}'", source="--set")
    try:
        parsed = parse_yaml(value)
    except yaml.YAMLError:
        parsed = value
    return path.strip(), parsed


def load_model(source: str | Path | dict, overrides: dict[str, Any] | None = None, *,
               allow_paths: Iterable[str | Path] = ()) -> ResolvedModel:
    """Load, validate and resolve a model from a preset name, a file path or a mapping.

    A model file's ``extends`` and ``rules_csv`` may read only under the file's folder, the
    shipped presets and the folders ``allow_paths`` (see docs/model-format.md). A mapping is
    taken as given: its ``rules_csv`` paths are read as they are."""
    if isinstance(source, dict):
        origin = "<mapping>"
        data = source
        check_nesting(data, origin)
    else:
        path = locate(source)
        origin = str(source) if str(source) in preset_names() else str(path)
        data = read_merged(path, allowed=Allowed.for_model(path, allow_paths))
    data = apply_overrides(data, overrides, origin)
    check_nesting(data, origin)
    try:
        model = Model.model_validate(data)
    except ValidationError as exc:
        raise translate(exc, data, origin) from None
    except RecursionError:  # not expected after check_nesting; never a traceback
        raise ModelError("the model is nested too deeply to validate", source=origin) from None
    extra = []
    for i, entry in enumerate(model.rules_csv):
        try:
            extra += read_rules_csv(Path(entry))
        except FileNotFoundError as exc:
            raise ModelError(str(exc), f"rules_csv[{i}]", origin) from None
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    try:
        return resolve(model, origin, data, digest[:16], extra)
    except ModelError as exc:
        raise exc.at(source=origin) from None


def dump_model(model: Model) -> str:
    """The model as YAML text that loads back to an equal model.

    A model read from a file that ``extends`` another is already merged, so the text is
    self-contained: ``extends`` is left out (keeping it would merge the parent twice).
    """
    data = model.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
    data.pop("extends", None)
    data["name"] = model.name
    data["compartments"] = model.model_dump(by_alias=True, exclude_none=True)["compartments"]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


# ---------------------------------------------------------------- errors from pydantic

_UNION_BRANCHES = {"str", "Parameter", "float", "int", "bool", "list[str]", "function-after"}
#: pydantic's names of the branches of a union in an error location, never keys of a model
_BRANCH_PREFIXES = ("function-", "union[", "list[", "dict[", "tuple[", "literal[")
PARAM_REF_EXPECTED = ("expected the name of a parameter, or an inline parameter "
                      "{value: …, unit: …, source: …} (a bare number has no unit and no "
                      "provenance)")


def _is_branch(item: Any) -> bool:
    return isinstance(item, str) and (item in _UNION_BRANCHES
                                      or item.startswith(_BRANCH_PREFIXES))


def translate(exc: ValidationError, data: dict, source: str) -> ModelError:
    """The most useful single message from a pydantic ValidationError."""
    errors = exc.errors(include_url=False)

    def clean(loc) -> str:
        out = ""
        for item in loc:
            if isinstance(item, int):
                out += f"[{item}]"
            elif _is_branch(item):
                continue
            else:
                out += f".{item}" if out else str(item)
        return out

    def value_at(loc):
        node: Any = data
        for item in loc:
            if _is_branch(item):
                continue
            try:
                node = node[item]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def score(err) -> int:
        loc = err["loc"]
        value = value_at(loc[:-1]) if loc else None
        branch_str = "str" in [str(x) for x in loc]
        # an inline mapping is judged by the Parameter branch, a name by the str branch
        if branch_str and isinstance(value_at(_strip_branch(loc)), dict):
            return 0
        return 2 if err["type"] != "missing" or value is not None else 1

    best = max(errors, key=score)
    path = clean(best["loc"])
    msg = best["msg"]
    if len(best["loc"]) >= 2 and best["loc"][-1] == "[key]":  # a mapping key, not a value
        key = best["loc"][-2]
        parent = clean(best["loc"][:-2])
        return ModelError(f"the name {key!r} must be text; quote it ('{key}')",
                          f"{parent}.{key}" if parent else str(key), source)
    if best["type"] == "extra_forbidden":
        msg = "unknown field (check its spelling against docs/model-format.md)"
    elif best["type"] == "missing":
        msg = "required field is missing"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    got = value_at(best["loc"])
    param_ref = any(_is_branch(item) and "Parameter" in item for err in errors
                    for item in err["loc"] if clean(err["loc"]) == path)
    if param_ref and best["type"] in ("string_type", "model_type") and not isinstance(got, dict):
        msg = PARAM_REF_EXPECTED
    if best["type"] not in ("missing", "extra_forbidden") and got is not None and not isinstance(
            got, dict | list):
        msg += f" (got {_short(got)})"
    return ModelError(msg, path, source)


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, a long text cut to its start and its length."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit // 2]!r}… ({len(value)} characters)"
    return repr(value)


def _strip_branch(loc):
    out = []
    for item in loc:
        if _is_branch(item):
            break
        out.append(item)
    return tuple(out)


# ---------------------------------------------------------------- PhysiCell rules CSV

PHYSICELL_V3 = ["cell_type", "signal", "direction", "behavior", "saturation", "half_max",
                "hill_power", "applies_to_dead"]


def read_rules_csv(path: Path) -> list[tuple[Rule, str]]:
    """Read rules in PhysiCell's v3 CSV form, optionally with a 9th column of knowledge-base
    ids (separated by ';') and a 10th column with the provenance of the numbers.

    The names are evniche's (:mod:`evniche.spec.signals`) and the bare numbers are in the
    canonical unit of the signal or behavior they belong to (rates per hour); their
    provenance is the file unless column 10 says more. Column 8 (applies to dead) must be 0.
    A file in PhysiCell's own dictionary and units (rates per minute) is refused here with a
    pointer to :mod:`evniche.interop.physicell_import`.
    """
    from ..units import CANONICAL
    from .signals import BEHAVIOR_KINDS, SIGNAL_KINDS, split

    content = read_text(path, "rules file")
    rules: list[tuple[Rule, str]] = []
    for lineno, row in enumerate(csv.reader(content.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("//") \
                or row[0].lstrip().startswith("#"):
            continue
        where = f"line {lineno}"
        if len(row) < 8:
            raise ModelError(f"expected at least 8 columns ({', '.join(PHYSICELL_V3)}), "
                             f"got {len(row)}", where, str(path))
        cells = [c.strip() for c in row]
        cell_type, signal, direction, behavior = cells[:4]
        if direction not in ("increases", "decreases"):
            raise ModelError(f"column 3 must be 'increases' or 'decreases', got "
                             f"'{direction}'", where, str(path))
        numbers = []
        for col, text in zip((5, 6, 7), cells[4:7], strict=True):
            try:
                number = float(text)
            except ValueError:
                number = float("nan")
            if not math.isfinite(number):
                raise ModelError(f"column {col} must be a finite number, got '{text}'",
                                 where, str(path))
            numbers.append(number)
        dead = cells[7].lower()
        if dead not in ("0", "1", "0.0", "1.0", "true", "false"):
            raise ModelError(f"column 8 (applies to dead) must be 0 or 1, got '{cells[7]}'",
                             where, str(path))
        if dead in ("1", "1.0", "true"):
            raise ModelError("column 8 is 1 (the rule applies to dead cells), but evniche "
                             "removes a cell when it dies; use 0", where, str(path))
        for col, name, kinds in ((2, signal, SIGNAL_KINDS), (4, behavior, BEHAVIOR_KINDS)):
            if ":" not in name and name not in kinds:
                raise ModelError(
                    f"column {col}: '{name}' is not an evniche name (kind:argument, see "
                    "docs/model-format.md); a PhysiCell rules file (its dictionary, rates "
                    "per minute) is read by `evniche import physicell` (docs/interop.md)",
                    where, str(path))
        kb = [k.strip() for k in cells[8].split(";") if k.strip()] if len(cells) > 8 else []
        provenance = cells[9] if len(cells) > 9 and cells[9] else (
            f"assumption: value from the rules file {path.name}, line {lineno}")
        s_kind = SIGNAL_KINDS.get(split(signal).kind, "dimensionless")
        b_kind = BEHAVIOR_KINDS.get(split(behavior).kind, "dimensionless")

        def param(value: float, kind: str, source: str = provenance) -> dict:
            return {"value": value, "unit": CANONICAL[kind], "source": source}

        fields = {
            "cell_type": cell_type, "signal": signal, "direction": direction,
            "behavior": behavior, "saturation": param(numbers[0], b_kind),
            "half_max": param(numbers[1], s_kind),
            "hill_power": param(numbers[2], "dimensionless"), "kb": kb,
        }
        try:
            rule = Rule.model_validate(fields)
        except ValidationError as exc:
            err = translate(exc, fields, str(path))
            raise ModelError(err.message, f"{where}: {err.path}" if err.path else where,
                             str(path)) from None
        rules.append((rule, f"{path.name}:{lineno}"))
    return rules
