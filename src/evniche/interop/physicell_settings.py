"""PhysiCell's settings XML (``PhysiCell_settings.xml``), read into plain dataclasses.

Only the elements PhysiCell's own parser reads for what evniche can use are read
(core/PhysiCell_settings.cpp, modules/PhysiCell_settings, the ``<cell_definitions>`` of
core/PhysiCell_cell.cpp): the domain, the substrates of ``<microenvironment_setup>``, each
``<cell_definition>``'s cycle, death, volume, motility, secretion, interactions and
transformations, the initial cells file and the rulesets. Units are PhysiCell's: µm,
minutes, rates per minute.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelError


@dataclass
class Substrate:
    name: str
    units: str
    diffusion_um2_min: float
    decay_per_min: float
    initial: float
    dirichlet: float | None  # the boundary value where Dirichlet conditions are enabled


@dataclass
class CellDefinition:
    name: str
    id: str
    cycle_code: str
    #: mean durations of the cycle phases (min), phase 0 first; inf where a rate is 0
    phase_durations_min: list[float]
    apoptosis_per_min: float = 0.0
    necrosis_per_min: float = 0.0
    volume_um3: float = 2494.0  # PhysiCell's default cell volume
    speed_um_min: float = 0.0
    motile: bool = False
    #: per substrate: (secretion rate 1/min, secretion target, uptake rate 1/min)
    secretion: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    attack_per_min: dict[str, float] = field(default_factory=dict)
    phagocytosis_per_min: dict[str, float] = field(default_factory=dict)
    transformation_per_min: dict[str, float] = field(default_factory=dict)

    @property
    def cycle_entry_per_min(self) -> float:
        """The rate of leaving phase 0 (PhysiCell's behavior 'cycle entry')."""
        d = self.phase_durations_min[0] if self.phase_durations_min else float("inf")
        return 0.0 if d == float("inf") else (1.0 / d if d > 0 else float("inf"))

    @property
    def rest_of_cycle_min(self) -> float:
        """Mean time of the phases after phase 0 (min)."""
        return float(sum(self.phase_durations_min[1:]))


@dataclass
class Ruleset:
    path: Path
    version: float
    enabled: bool


@dataclass
class Settings:
    path: Path
    domain_um: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    dx_um: float
    use_2d: bool
    max_time_min: float
    substrates: list[Substrate]
    cells: list[CellDefinition]
    cells_csv: Path | None  # enabled initial cell positions (may not exist)
    rulesets: list[Ruleset]
    number_of_cells: int  # user parameter: random cells of each type (sample projects)

    @property
    def size_um(self) -> tuple[float, float, float]:
        return tuple(hi - lo for lo, hi in self.domain_um)  # type: ignore[return-value]


def _float(node: ET.Element | None, path: str, default: float | None, where: str) -> float:
    el = node.find(path) if node is not None else None
    if el is None or el.text is None or not el.text.strip():
        if default is None:
            raise ModelError(f"missing <{path}>", where)
        return default
    try:
        return float(el.text.strip())
    except ValueError:
        raise ModelError(f"<{path}> must be a number, got '{el.text.strip()}'", where) from None


def _enabled(el: ET.Element) -> bool:
    return (el.get("enabled") or "true").strip().lower() in ("true", "1", "yes")


def _folder_file(el: ET.Element, base: Path) -> Path:
    folder = (el.findtext("folder") or ".").strip()
    name = (el.findtext("filename") or "").strip()
    # PhysiCell resolves paths against the folder it runs in (the project root, whose
    # config/ holds the files); a project copied as its config folder alone has them beside
    # the settings file
    candidate = base / folder / name
    if candidate.exists():
        return candidate
    return base / name


def _cycle(pheno: ET.Element | None, where: str) -> tuple[str, list[float]]:
    cyc = pheno.find("cycle") if pheno is not None else None
    if cyc is None:
        return "", []
    code = cyc.get("code", "")
    durations: dict[int, float] = {}
    rates = cyc.find("phase_transition_rates")
    if rates is not None:
        for r in rates.findall("rate"):
            i = int(r.get("start_index", "0"))
            value = float((r.text or "0").strip())
            durations[i] = float("inf") if value == 0 else 1.0 / value
    durs = cyc.find("phase_durations")
    if durs is not None:
        for d in durs.findall("duration"):
            durations[int(d.get("index", "0"))] = float((d.text or "0").strip())
    return code, [durations[i] for i in sorted(durations)]


def _named_rates(node: ET.Element | None, path: str, child: str) -> dict[str, float]:
    out = {}
    if node is None:
        return out
    parent = node.find(path)
    if parent is None:
        return out
    for el in parent.findall(child):
        name = el.get("name")
        if name:
            out[name] = float((el.text or "0").strip())
    return out


def _cell(el: ET.Element, where: str, parents: dict[str, CellDefinition]) -> CellDefinition:
    name = el.get("name") or ""
    if not name.strip():
        raise ModelError("a <cell_definition> has no name", where)
    pheno = el.find("phenotype")
    code, durations = _cycle(pheno, f"{where}: {name}")
    parent = parents.get(el.get("parent_type", ""))
    cd = CellDefinition(name=name, id=el.get("ID", ""), cycle_code=code,
                        phase_durations_min=durations)
    if parent is not None:  # a child definition starts as a copy of its parent
        cd = CellDefinition(**{**parent.__dict__, "name": name, "id": cd.id})
        if code:
            cd.cycle_code, cd.phase_durations_min = code, durations
    if pheno is None:
        return cd
    for model in pheno.findall("death/model"):
        kind = (model.get("name") or "").lower()
        if model.get("code") == "100" or kind == "apoptosis":
            cd.apoptosis_per_min = _float(model, "death_rate", 0.0, where)
        elif model.get("code") == "101" or kind == "necrosis":
            cd.necrosis_per_min = _float(model, "death_rate", 0.0, where)
    cd.volume_um3 = _float(pheno, "volume/total", cd.volume_um3, where)
    mot = pheno.find("motility")
    if mot is not None:
        cd.speed_um_min = _float(mot, "speed", 0.0, where)
        cd.motile = (mot.findtext("options/enabled") or "false").strip().lower() == "true"
    for sub in pheno.findall("secretion/substrate"):
        cd.secretion[sub.get("name", "")] = (_float(sub, "secretion_rate", 0.0, where),
                                             _float(sub, "secretion_target", 1.0, where),
                                             _float(sub, "uptake_rate", 0.0, where))
    inter = pheno.find("cell_interactions")
    cd.attack_per_min.update(_named_rates(inter, "attack_rates", "attack_rate"))
    cd.phagocytosis_per_min.update(_named_rates(inter, "live_phagocytosis_rates",
                                                "phagocytosis_rate"))
    cd.transformation_per_min.update(_named_rates(pheno, "cell_transformations/"
                                                  "transformation_rates",
                                                  "transformation_rate"))
    return cd


def read(path: Path) -> Settings:
    """The settings in the PhysiCell settings XML at ``path`` (ModelError if it is not one)."""
    path = Path(path)
    where = str(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise FileNotFoundError(f"PhysiCell settings file {path} does not exist") from None
    except (ET.ParseError, OSError) as exc:
        raise ModelError(f"not a readable XML file: {exc}", source=where) from None
    if root.tag != "PhysiCell_settings":
        raise ModelError(f"expected a <PhysiCell_settings> document, got <{root.tag}>",
                         source=where)
    dom = root.find("domain")
    if dom is None:
        raise ModelError("missing <domain>", source=where)
    bounds = tuple((_float(dom, f"{a}_min", None, where), _float(dom, f"{a}_max", None, where))
                   for a in "xyz")
    for axis, (lo, hi) in zip("xyz", bounds, strict=True):
        if not hi > lo:
            raise ModelError(f"<domain>: {axis}_max ({hi:g}) must exceed {axis}_min ({lo:g})",
                             source=where)
    use_2d = (dom.findtext("use_2D") or "false").strip().lower() == "true"
    subs = []
    for var in root.findall("microenvironment_setup/variable"):
        dirichlet = var.find("Dirichlet_boundary_condition")
        on = dirichlet is not None and _enabled(dirichlet)
        subs.append(Substrate(
            name=var.get("name", ""), units=var.get("units", "dimensionless"),
            diffusion_um2_min=_float(var, "physical_parameter_set/diffusion_coefficient", 0.0,
                                     where),
            decay_per_min=_float(var, "physical_parameter_set/decay_rate", 0.0, where),
            initial=_float(var, "initial_condition", 0.0, where),
            dirichlet=_float(var, "Dirichlet_boundary_condition", 0.0, where) if on else None))
    cells: list[CellDefinition] = []
    by_name: dict[str, CellDefinition] = {}
    for el in root.findall("cell_definitions/cell_definition"):
        cd = _cell(el, where, by_name)
        cells.append(cd)
        by_name[cd.name] = cd
    base = path.parent.parent if path.parent.name == "config" else path.parent
    csv_path = None
    pos = root.find("initial_conditions/cell_positions")
    if pos is not None and _enabled(pos):
        csv_path = _folder_file(pos, base)
        if not csv_path.exists():  # beside the settings file
            csv_path = path.parent / csv_path.name
    rulesets = []
    for rs in root.findall("cell_rules/rulesets/ruleset"):
        try:
            version = float(rs.get("version", "3"))
        except ValueError:
            raise ModelError(f"<ruleset version='{rs.get('version')}'> must be a number",
                             source=where) from None
        rule_path = _folder_file(rs, base)
        if not rule_path.exists():
            rule_path = path.parent / rule_path.name
        rulesets.append(Ruleset(rule_path, version, _enabled(rs)))
    n_cells = root.findtext("user_parameters/number_of_cells")
    return Settings(
        path=path, domain_um=bounds, dx_um=_float(dom, "dx", 20.0, where), use_2d=use_2d,
        max_time_min=_float(root, "overall/max_time", 0.0, where), substrates=subs,
        cells=cells, cells_csv=csv_path, rulesets=rulesets,
        number_of_cells=int(float(n_cells)) if n_cells and n_cells.strip() else 0)
