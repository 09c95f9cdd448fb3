"""A PhysiCell project (settings XML + rules CSV + initial cells) as an evniche model.

What maps (every number keeps PhysiCell's unit: rates per minute, lengths in µm):

- the domain → the spatial section (``spatial.width/height/depth``, ``voxel`` = dx); the
  marrow volume is the domain's, so that one agent is one cell (weight 1);
- each substrate → a cytokine (diffusion coefficient and decay rate);
- each cell definition → a cell type: initial count from the cells file (or the sample
  projects' ``number_of_cells`` user parameter), proliferation = 1 / (mean cycle time),
  death = apoptosis + necrosis rate, secretion → production (S·ρ*·V, the rate at zero
  density), attack and live phagocytosis rates → kills, a transformation → exit into the
  target type;
- each rule row whose signal and behavior :mod:`.physicell_dictionary` maps → a rule.

What does not map is listed in :attr:`Imported.refused` with the place and the reason (a
rule row with its file and line; a settings element with its XML path): never dropped
without a word. :func:`import_project` returns the model mapping (load it with
:func:`evniche.load_model`) and that list.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelError
from . import physicell_dictionary as dictionary
from . import physicell_rules, physicell_settings
from .physicell_rules import Problem, RuleRow

UM3_PER_ML = 1e12


@dataclass
class Imported:
    """The evniche model of a PhysiCell project and what could not be carried over."""

    model: dict
    refused: list[Problem] = field(default_factory=list)
    #: PhysiCell name → evniche name (cell types and substrates)
    names: dict[str, str] = field(default_factory=dict)
    rules_mapped: int = 0

    def summary(self) -> str:
        return (f"{len(self.model['cell_types'])} cell types, "
                f"{len(self.model.get('cytokines', {}))} substrates as cytokines, "
                f"{self.rules_mapped} rules mapped, {len(self.refused)} items refused")


def evniche_name(text: str) -> str:
    """A PhysiCell name as an evniche name: letters, digits, '-' and '_' only."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", text.strip()).strip("_")
    return name or "unnamed"


def _is_a(name: str) -> str:
    """The knowledge-base cell type a PhysiCell cell type is (a generic one when its name
    says no more)."""
    from ..knowledge import vocabulary

    found = vocabulary.resolve("cell_type", name)
    if found is not None:
        return found
    low = name.lower()
    for words, term in ((("macrophage",), "macrophage"), (("nk ",), "NK"),
                        (("cd8", "effector t", "cytotoxic"), "CD8_T"),
                        (("t cell", "t-cell", "lymphocyte"), "T_cell"),
                        (("tumor", "tumour", "cancer", "malignant", "carcinoma"), "tumor_cell"),
                        (("stem",), "stem_cell"), (("progenitor",), "progenitor"),
                        (("fibroblast",), "fibroblast"), (("endothel",), "endothelial"),
                        (("immune", "dendritic", "monocyte"), "immune_cell")):
        if any(w in low + " " for w in words):
            return term
    return "unspecified"


def _lineage(is_a: str) -> str:
    return "immune" if is_a in ("macrophage", "NK", "CD8_T", "T_cell", "immune_cell") \
        else "normal"


def _counts(settings: physicell_settings.Settings, refused: list[Problem]) -> dict[str, int]:
    """Initial cells of each type: the project's cells file, plus ``number_of_cells`` of
    each type that the sample projects place at random."""
    counts = {cd.name: settings.number_of_cells for cd in settings.cells}
    ids = {cd.id: cd.name for cd in settings.cells}
    path = settings.cells_csv
    if path is None:
        return counts
    if not path.exists():
        refused.append(Problem(settings.path.name, 0, "initial_conditions/cell_positions",
                               f"the initial cells file {path.name} is not in the project; "
                               "no cells are placed from it"))
        return counts
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    start = 1 if rows and rows[0] and rows[0][0].strip().lower() == "x" else 0
    for lineno, row in enumerate(rows[start:], start=start + 1):
        if not row or not "".join(row).strip():
            continue
        kind = row[3].strip() if len(row) > 3 else ""
        name = kind if kind in counts else ids.get(kind.split(".")[0])
        if name is None:
            refused.append(Problem(path.name, lineno, ",".join(row),
                                   f"unknown cell type '{kind}'; defined: "
                                   f"{', '.join(counts)}"))
            continue
        counts[name] += 1
    refused.append(Problem(path.name, 0, "positions",
                           "positions are not carried over: evniche places agents by a "
                           "scheme (uniform here); only the counts per type are used"))
    return counts


def _param(value: float, unit: str, source: str) -> dict:
    return {"value": float(value), "unit": unit, "source": source}


def import_project(settings_path: str | Path) -> Imported:
    """The evniche model of the PhysiCell project whose settings XML is ``settings_path``
    (its rules and cells files are found as PhysiCell finds them: the settings' folder
    elements, relative to the project root, or beside the settings file)."""
    settings = physicell_settings.read(Path(settings_path))
    where = settings.path.name
    refused: list[Problem] = []
    src = f"derived: PhysiCell project {settings.path.parent.name}/{where}"
    names = {cd.name: evniche_name(cd.name) for cd in settings.cells}
    names.update({s.name: evniche_name(s.name) for s in settings.substrates})
    if len(set(names.values())) < len(names):
        raise ModelError("two cell types or substrates have the same name once spaces and "
                         "punctuation are replaced by '_'", source=str(settings.path))
    w, h, d = settings.size_um
    depth = None if settings.use_2d else d
    volume_um3 = w * h * (depth if depth is not None else settings.dx_um)

    counts = _counts(settings, refused)
    cytokines = {}
    for s in settings.substrates:
        cytokines[names[s.name]] = {
            "decay": _param(s.decay_per_min, "1/min", f"{src}: {s.name} decay_rate"),
            "diffusion": _param(s.diffusion_um2_min, "um**2/min",
                                f"{src}: {s.name} diffusion_coefficient")}
        xml = f"microenvironment_setup/variable[@name='{s.name}']"
        if s.dirichlet is not None:
            refused.append(Problem(where, 0, f"{xml}/Dirichlet_boundary_condition",
                                   f"the boundary supply ({s.dirichlet:g} {s.units}) is not "
                                   "represented: evniche's cytokines come from cells only"))
        if s.initial != 0:
            refused.append(Problem(where, 0, f"{xml}/initial_condition",
                                   f"the initial density ({s.initial:g} {s.units}) is not "
                                   "represented: evniche's fields start from the cells' "
                                   "production"))

    vocab = dictionary.Vocabulary(tuple(s.name for s in settings.substrates),
                                  tuple(cd.name for cd in settings.cells),
                                  {cd.id: cd.name for cd in settings.cells})
    cells: dict[str, dict] = {}
    #: per cell type and evniche behavior: {PhysiCell component: base (1/min)}
    components: dict[tuple[str, str], dict[str, float]] = {}
    for cd in settings.cells:
        name = names[cd.name]
        base = f"{src}: cell_definition '{cd.name}'"
        entry: dict = {"is_a": _is_a(cd.name)}
        entry["lineage"] = _lineage(entry["is_a"])
        entry["initial"] = _param(counts[cd.name], "cell",
                                  f"derived: PhysiCell project {settings.path.parent.name}, "
                                  "initial cells")
        prolif = _proliferation(cd.cycle_entry_per_min, cd.rest_of_cycle_min)
        entry["proliferation"] = _param(prolif, "1/min", f"{base} cycle (1 / mean cycle time)")
        entry["self_renewal"] = _param(1.0, "dimensionless", "derived: a PhysiCell division "
                                       "gives two cells of the parent's type")
        entry["death"] = _param(cd.apoptosis_per_min + cd.necrosis_per_min, "1/min",
                                f"{base} death rates (apoptosis + necrosis)")
        components[(cd.name, "death")] = {"apoptosis": cd.apoptosis_per_min,
                                          "necrosis": cd.necrosis_per_min}
        produces, uptakes = {}, []
        for sub, (rate, target, uptake) in cd.secretion.items():
            if sub not in vocab.substrates:
                continue
            if rate > 0:
                produces[names[sub]] = _param(rate * target * cd.volume_um3 / UM3_PER_ML,
                                              "1/min", f"{base} {sub} secretion rate × "
                                              "target × cell volume (rate at zero density)")
            if uptake > 0:
                uptakes.append(f"{sub} {uptake:g}/min")
        if produces:
            entry["produces"] = produces
        if uptakes:
            refused.append(Problem(where, 0, f"cell_definition[@name='{cd.name}']/secretion/"
                                   "substrate/uptake_rate", f"uptake ({', '.join(uptakes)}) "
                                   "is not represented: evniche's cells take up EVs only"))
        kills = {}
        for target in vocab.cell_types:
            a = cd.attack_per_min.get(target, 0.0)
            p = cd.phagocytosis_per_min.get(target, 0.0)
            components[(cd.name, f"kill:{target}")] = {f"attack {target}": a,
                                                       f"phagocytose {target}": p}
            if a + p > 0:
                kills[target] = a + p
        entry["kills"] = [{"target": names[t], "rate": _param(r, "1/min",
                                                              f"{base} attack + live "
                                                              "phagocytosis rate")}
                          for t, r in kills.items()]
        targets = {t: r for t, r in cd.transformation_per_min.items() if r > 0 and t in names}
        for t in vocab.cell_types:
            components[(cd.name, f"transform to {t}")] = {f"transform to {t}":
                                                          targets.get(t, 0.0)}
        if len(targets) > 1:
            refused.append(Problem(where, 0, f"cell_definition[@name='{cd.name}']/"
                                   "cell_transformations", "evniche's cells change into one "
                                   f"type only; transformations to {', '.join(targets)}"))
        elif targets:
            (t, r), = targets.items()
            entry["exit"] = _param(r, "1/min", f"{base} transformation rate to {t}")
            entry["exit_to"] = names[t]
        if cd.motile and cd.speed_um_min > 0:
            refused.append(Problem(where, 0, f"cell_definition[@name='{cd.name}']/motility",
                                   f"the migration speed ({cd.speed_um_min:g} µm/min) is not "
                                   "carried over: evniche's motility is an engine setting "
                                   "(--spatial motility_um2_h)"))
        cells[name] = entry

    rules, n_mapped = _rules(settings, vocab, names, cells, components, refused)
    model = {
        "name": evniche_name(settings.path.parent.name if settings.path.parent.name != "config"
                             else settings.path.parent.parent.name),
        "description": f"Imported from the PhysiCell project {settings.path}. Refused "
                       f"items: {len(refused)} (see `evniche import physicell`).",
        "compartments": {
            "marrow": {"volume": _param(volume_um3 / UM3_PER_ML, "mL",
                                        f"{src}: domain volume")},
            "blood": {"volume": _param(volume_um3 / UM3_PER_ML, "mL",
                                       "assumption: a PhysiCell project has no blood; a "
                                       "placeholder compartment that nothing enters")}},
        "vesicle_classes": {},
        "cytokines": cytokines,
        "cell_types": cells,
        "rules": rules,
        "spatial": _spatial(settings, depth, counts, names, src),
    }
    return Imported(model, refused, names, n_mapped)


def _proliferation(entry_per_min: float, rest_min: float) -> float:
    """Divisions per cell per minute for a cycle-entry rate and the mean time of the
    other phases: 1 / (1/entry + rest); 0 when cells never enter the cycle."""
    if entry_per_min <= 0 or not math.isfinite(rest_min):
        return 0.0
    if math.isinf(entry_per_min):
        return 1.0 / rest_min if rest_min > 0 else 0.0
    return 1.0 / (1.0 / entry_per_min + rest_min)


def _spatial(settings, depth, counts, names, src) -> dict:
    w, h, _ = settings.size_um
    out = {
        "width": _param(w, "um", f"{src}: domain x extent"),
        "height": _param(h, "um", f"{src}: domain y extent"),
        "voxel": _param(settings.dx_um, "um", f"{src}: domain dx"),
        "bone": False,
        "min_agents": 1,
        "placement": {names[n]: "uniform" for n in counts},
    }
    if depth is not None:
        out["depth"] = _param(depth, "um", f"{src}: domain z extent")
    # one agent per cell: enough agents that the engine's sqrt(N) share gives every type
    # all its cells (see evniche.engines.spatial.state, _initial_state)
    roots = [math.sqrt(n) for n in counts.values() if n > 0]
    out["agents"] = max(1, math.ceil(max(roots, default=1.0) * sum(roots)) + len(roots))
    return out


def _rules(settings, vocab, names, cells, components, refused) -> tuple[list[dict], int]:
    """Rules of every enabled ruleset, mapped; refused rows appended to ``refused``."""
    out: list[dict] = []
    #: which PhysiCell behavior feeds each (cell type, evniche behavior) through rules
    claimed: dict[tuple[str, str], str] = {}
    by_name = {cd.name: cd for cd in settings.cells}
    for rs in settings.rulesets:
        if not rs.enabled:
            continue
        if not rs.path.exists():
            refused.append(Problem(settings.path.name, 0, "cell_rules/rulesets/ruleset",
                                   f"the rules file {rs.path.name} is not in the project"))
            continue
        rows, problems = physicell_rules.read(rs.path, rs.version)
        refused.extend(problems)
        for row in rows:
            try:
                out.append(_rule(row, vocab, names, cells, components, claimed, by_name,
                                 rs.path.name))
            except dictionary.Refused as exc:
                refused.append(Problem(rs.path.name, row.line, row.text, str(exc)))
    return out, len(out)


def _rule(row: RuleRow, vocab, names, cells, components, claimed, by_name, file) -> dict:
    cd = by_name.get(row.cell_type)
    if cd is None:
        raise dictionary.Refused(f"unknown cell type '{row.cell_type}'; defined: "
                                 f"{', '.join(by_name)}")
    if row.applies_to_dead:
        raise dictionary.Refused("the rule applies to dead cells, which evniche does not keep")
    sig = dictionary.signal(row.signal, vocab)
    beh = dictionary.behavior(row.behavior, vocab)
    cell = names[cd.name]
    key_name = "exit" if beh.name == "exit" else beh.name
    key = (cd.name, key_name)
    owner = claimed.setdefault(key, beh.physicell)
    if owner != beh.physicell:
        raise dictionary.Refused(f"evniche has one '{key_name}' for '{owner}' and "
                                 f"'{beh.physicell}'; a rule on '{owner}' came first, and "
                                 "the Hill combination of rules of two different behaviors "
                                 "in one rate is not PhysiCell's sum")
    source = f"derived: PhysiCell rules {file}, line {row.line}"
    entry = cells[cell]
    if beh.name == "proliferation":
        base = cd.cycle_entry_per_min
        saturation = _proliferation(row.saturation, cd.rest_of_cycle_min)
        source += " (max cycle entry → 1 / mean cycle time)"
    elif beh.name == "exit":
        target = names[beh.target]
        if entry.get("exit_to", target) != target:
            raise dictionary.Refused(f"cells of this type already transform to "
                                     f"'{entry['exit_to']}'; evniche's cells change into one "
                                     "type only")
        base = cd.transformation_per_min.get(beh.target, 0.0)
        entry.setdefault("exit", _param(base, "1/min", f"{source} (base transformation "
                                                       "rate)"))
        entry["exit_to"] = target
        saturation = row.saturation
    elif beh.name.startswith("production:"):
        sub = beh.physicell[: -len(" secretion")]
        rate, target, _ = cd.secretion.get(sub, (0.0, 1.0, 0.0))
        scale = target * cd.volume_um3 / UM3_PER_ML
        base = rate
        saturation = row.saturation * scale
        entry.setdefault("produces", {}).setdefault(
            names[sub], _param(rate * scale, "1/min", f"{source} (base secretion)"))
        source += " (secretion rate × target × cell volume)"
        beh = dictionary.Behavior(f"production:{names[sub]}", beh.physicell, beh.unit)
    else:  # death, kill: sums of PhysiCell components
        parts = components[(cd.name, beh.name)]
        base = parts[beh.physicell]
        saturation = row.saturation + sum(v for k, v in parts.items() if k != beh.physicell)
        if beh.name.startswith("kill:"):
            target = names[beh.target]
            if not any(k["target"] == target for k in entry["kills"]):
                entry["kills"].append({"target": target, "rate": _param(
                    0.0, "1/min", f"{source} (no base attack rate)")})
            beh = dictionary.Behavior(f"kill:{target}", beh.physicell, beh.unit)
        if len(parts) > 1 and any(v for k, v in parts.items() if k != beh.physicell):
            source += f" (plus the other components of {beh.name}: " \
                      + ", ".join(f"{k} {v:g}/min" for k, v in parts.items()
                                  if k != beh.physicell) + ")"
    if row.base is not None and abs(row.base - base) > 1e-15:
        raise dictionary.Refused(f"the v1 base value {row.base:g} differs from the cell "
                                 f"definition's {base:g} (PhysiCell stops on this too)")
    signal_name = sig.name
    if signal_name.startswith("cytokine:"):
        signal_name = f"cytokine:{names[signal_name[len('cytokine:'):]]}"
    return {
        "cell_type": cell, "signal": signal_name, "direction": row.direction,
        "behavior": beh.name,
        "saturation": _param(saturation, beh.unit, source),
        "half_max": _param(row.half_max, sig.unit, f"{source}; {sig.note}" if sig.note
                           else source),
        "hill_power": _param(row.hill_power, "dimensionless", source),
        "note": f"PhysiCell {file}, line {row.line}: {row.text}",
    }
