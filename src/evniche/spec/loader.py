"""Load a model file: YAML → merged with what it ``extends`` → overrides → schema → resolved.

Errors name the file, the path inside it and what was expected (:class:`ModelError`).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ModelError
from .model import Model, Rule
from .resolve import ResolvedModel, resolve

#: lists that a model extending another adds to, rather than replaces
CONCATENATED = {"rules", "uptake", "interventions", "rules_csv", "secretion", "kills"}
PRESET_SUFFIX = ".yaml"


def preset_names() -> list[str]:
    """Names of the models shipped with evniche."""
    folder = resources.files("evniche") / "presets"
    return sorted(p.name[: -len(PRESET_SUFFIX)] for p in folder.iterdir()
                  if p.name.endswith(PRESET_SUFFIX))


def locate(source: str | Path, relative_to: Path | None = None) -> Path:
    """A preset name or a path → the model file's path."""
    text = str(source)
    candidate = Path(text)
    if relative_to is not None and not candidate.is_absolute():
        near = relative_to.parent / candidate
        if near.exists():
            return near
    if candidate.exists():
        return candidate
    if text in preset_names():
        return Path(str(resources.files("evniche") / "presets" / f"{text}{PRESET_SUFFIX}"))
    if candidate.suffix in (".yaml", ".yml") or "/" in text:
        raise FileNotFoundError(f"model file '{text}' does not exist")
    raise ModelError(f"'{text}' is neither a model file nor a preset; presets: "
                     f"{', '.join(preset_names())}")


def read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"model file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read the file ({exc})", source=str(path)) from None
    try:
        # libyaml's parser when installed: the same safe constructor, ~7x faster to read
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ModelError(f"not valid YAML: {problem}", where, str(path)) from None
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


def read_merged(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """Read ``path`` and what it extends, merged; rules_csv paths made absolute."""
    if path.resolve() in seen:
        raise ModelError("'extends' forms a cycle", "extends", str(path))
    data = read_yaml(path)
    if "rules_csv" in data and isinstance(data["rules_csv"], list):
        data["rules_csv"] = [str(locate_csv(p, path)) for p in data["rules_csv"]]
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ModelError("expected the name or path of a model", "extends", str(path))
    try:
        parent_path = locate(parent, path)
    except (ModelError, FileNotFoundError) as exc:
        raise ModelError(str(exc), "extends", str(path)) from None
    base = read_merged(parent_path, (*seen, path.resolve()))
    merged = merge(base, {k: v for k, v in data.items() if k != "extends"})
    merged["extends"] = parent
    return merged


def locate_csv(entry: Any, model_path: Path) -> Path:
    if not isinstance(entry, str):
        raise ModelError("expected the path of a rules CSV file", "rules_csv", str(model_path))
    candidate = Path(entry)
    if not candidate.is_absolute():
        candidate = model_path.parent / candidate
    return candidate


def apply_overrides(data: dict, overrides: dict[str, Any] | None, source: str) -> dict:
    """Set ``path=value`` pairs (``parameters.x`` sets the value of parameter x)."""
    if not overrides:
        return data
    data = copy.deepcopy(data)
    for path, value in overrides.items():
        keys = _split_path(path)
        if keys[0] == "parameters" and len(keys) == 2:
            keys.append("value")
        node: Any = data
        for i, key in enumerate(keys[:-1]):
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                raise ModelError(f"no '{'.'.join(map(str, keys[: i + 1]))}' in the model to set",
                                 path, "--set") from None
        last = keys[-1]
        if isinstance(node, dict) and last == "value" and "expr" in node:
            node.pop("expr")
        if isinstance(node, dict) or (isinstance(node, list) and isinstance(last, int)
                                      and last < len(node)):
            node[last] = value
        else:
            raise ModelError("cannot set this path", path, "--set")
    return data


def _split_path(path: str) -> list[Any]:
    keys: list[Any] = []
    for part in path.split("."):
        name, _, rest = part.partition("[")
        if name:
            keys.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            keys.append(int(index))
            rest = rest.lstrip("[")
    if not keys:
        raise ModelError("empty path", path, "--set")
    return keys


def parse_override(text: str) -> tuple[str, Any]:
    """``PATH=VALUE`` from the command line; VALUE is read as YAML (a number, a word…)."""
    path, sep, value = text.partition("=")
    if not sep or not path.strip():
        raise ModelError(f"expected PATH=VALUE, got '{text}'", source="--set")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        parsed = value
    return path.strip(), parsed


def load_model(source: str | Path | dict, overrides: dict[str, Any] | None = None
               ) -> ResolvedModel:
    """Load, validate and resolve a model from a preset name, a file path or a mapping."""
    if isinstance(source, dict):
        origin = "<mapping>"
        data = source
    else:
        path = locate(source)
        origin = str(source) if str(source) in preset_names() else str(path)
        data = read_merged(path)
    data = apply_overrides(data, overrides, origin)
    try:
        model = Model.model_validate(data)
    except ValidationError as exc:
        raise translate(exc, data, origin) from None
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
        msg += f" (got {got!r})"
    return ModelError(msg, path, source)


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

    PhysiCell files carry bare numbers; their unit is the canonical unit of the signal or
    behavior they belong to, and their provenance is the file unless column 10 says more.
    """
    from ..units import CANONICAL
    from .signals import BEHAVIOR_KINDS, SIGNAL_KINDS, split

    if not path.exists():
        raise FileNotFoundError(f"rules file '{path}' does not exist")
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read the rules file ({exc})", source=str(path)) from None
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
