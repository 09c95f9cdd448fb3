"""Resolve a validated :class:`Model`: parameters to canonical floats, names to objects.

Checks what pydantic cannot: units of the dimension each field expects, references to
cell types, classes, cargo and cytokines that exist, signs of rates, fractions in [0, 1],
rule signals and behaviors, knowledge-base ids. Every error names the path in the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import expressions, units
from ..errors import ModelError
from ..knowledge import vocabulary
from .model import Model, Rule
from .parameters import Parameter, ParamRef
from .signals import BEHAVIOR_KINDS, PLAIN_BEHAVIORS, SIGNAL_KINDS, split


@dataclass
class ResolvedParameter:
    """A parameter in canonical units, with what the report needs to cite it."""

    name: str
    value: float  # canonical units
    kind: str
    unit: str  # as written in the file
    value_in_unit: float
    source: str
    range: tuple[float, float] | None = None  # canonical units
    expr: str | None = None
    used_at: list[str] = field(default_factory=list)
    #: what the places that use it accept: (path, lowest, highest) in canonical units (None:
    #: no bound), e.g. ``(cell_types.HSC.self_renewal, 0.0, 1.0)``; checked at load time
    #: and, for an ensemble's new values, by :class:`evniche.engines.ensemble.ParameterValues`
    limits: list[tuple[str, float | None, float | None]] = field(default_factory=list)

    @property
    def is_assumption(self) -> bool:
        return self.source.lower().startswith("assumption:")

    @property
    def canonical_unit(self) -> str:
        return units.CANONICAL[self.kind]


class ParameterTable:
    """All parameters of a model, by name, in canonical units."""

    def __init__(self, model: Model, source_name: str) -> None:
        self._spec: dict[str, Parameter] = dict(model.parameters)
        self._origin: dict[str, str] = {name: f"parameters.{name}" for name in self._spec}
        self.resolved: dict[str, ResolvedParameter] = {}
        self._kinds: dict[str, str] = {}
        self._resolving: set[str] = set()
        self.source_name = source_name

    def ref(self, ref: ParamRef | None, kind: str, path: str, *, nonnegative: bool = True,
            at_most: float | None = None) -> str | None:
        """Register the use of ``ref`` at ``path`` as a ``kind``; return the parameter name."""
        if ref is None:
            return None
        if isinstance(ref, Parameter):
            name = path
            self._spec[name] = ref
            self._origin[name] = path
        else:
            name = ref
            if name not in self._spec:
                close = _close(name, self._spec)
                raise ModelError(
                    f"refers to parameter '{name}', which is not defined in 'parameters'{close}",
                    path,
                )
        resolved = self._resolve(name, kind, path)
        if nonnegative and resolved.value < 0:
            raise ModelError(
                f"parameter '{name}' = {resolved.value_in_unit} {resolved.unit} is negative; "
                f"expected a value >= 0",
                path,
            )
        if at_most is not None and resolved.value > at_most:
            raise ModelError(
                f"parameter '{name}' = {resolved.value_in_unit} is above {at_most}; "
                f"expected a fraction between 0 and {at_most}",
                path,
            )
        resolved.used_at.append(path)
        if nonnegative or at_most is not None:
            resolved.limits.append((path, 0.0 if nonnegative else None, at_most))
        return name

    def _resolve(self, name: str, kind: str, path: str) -> ResolvedParameter:
        spec = self._spec[name]
        origin = self._origin[name]
        where = path if origin == path else f"{path} (parameter '{name}' at {origin})"
        if name in self.resolved:
            existing = self.resolved[name]
            if existing.kind != kind:
                raise ModelError(
                    f"parameter '{name}' is in {existing.unit}; expected "
                    f"{units.DESCRIPTION[kind]} here (it is also used as "
                    f"{units.DESCRIPTION[existing.kind]} at {existing.used_at[0]})",
                    path,
                )
            return existing
        if spec.expr is not None:
            value_in_unit = self._evaluate(name, spec, kind, where)
        else:
            value_in_unit = float(spec.value)
        value = units.to_canonical(value_in_unit, spec.unit, kind, where)
        if not (math.isfinite(value_in_unit) and math.isfinite(value)):
            raise ModelError(
                f"parameter '{name}' is {value_in_unit} {spec.unit} = {value} "
                f"{units.CANONICAL[kind]}; expected a finite number",
                where,
            )
        factor = value / value_in_unit if value_in_unit else units.to_canonical(
            1.0, spec.unit, kind, where)
        rng = None
        if spec.range is not None:
            rng = (spec.range[0] * factor, spec.range[1] * factor)
        resolved = ResolvedParameter(
            name=name, value=value, kind=kind, unit=spec.unit, value_in_unit=value_in_unit,
            source=spec.source, range=rng, expr=spec.expr,
        )
        self.resolved[name] = resolved
        return resolved

    def _evaluate(self, name: str, spec: Parameter, kind: str, where: str) -> float:
        formula = expressions.parse(spec.expr or "", f"{self._origin[name]}.expr")
        if name in self._resolving:
            raise ModelError(f"parameter '{name}' is defined in terms of itself", where)
        self._resolving.add(name)
        try:
            values = {}
            for other in formula.names:
                if other not in self._spec:
                    raise ModelError(
                        f"formula refers to '{other}', which is not a parameter"
                        f"{_close(other, self._spec)}",
                        f"{self._origin[name]}.expr",
                    )
                if other not in self.resolved:
                    other_spec = self._spec[other]
                    other_kind = units.kind_of(other_spec.unit)
                    if other_kind is None:
                        raise ModelError(
                            f"unit '{other_spec.unit}' is of no dimension evniche uses",
                            f"parameters.{other}.unit",
                        )
                    self._resolve(other, other_kind, f"{self._origin[name]}.expr")
                    self.resolved[other].used_at.append(f"{self._origin[name]}.expr")
                item = self.resolved[other]
                values[other] = units.ureg.Quantity(item.value, units.CANONICAL[item.kind])
            try:
                result = formula.evaluate(values)
            except ModelError as exc:
                raise exc.at(f"{self._origin[name]}.expr") from None
        finally:
            self._resolving.discard(name)
        quantity = result if isinstance(result, units.Quantity) else units.Quantity(result, "")
        target = units.parse_unit(spec.unit, f"{self._origin[name]}.unit")
        try:
            return float(quantity.to(target).magnitude)
        except Exception:
            raise ModelError(
                f"formula '{spec.expr}' gives {quantity.dimensionality or 'a dimensionless'} "
                f"value, not one in '{spec.unit}'",
                f"{self._origin[name]}.expr",
            ) from None

    def value(self, name: str) -> float:
        return self.resolved[name].value

    def unused(self) -> list[str]:
        return [name for name in self._spec if name not in self.resolved]


def _close(name: str, names) -> str:
    import difflib

    matches = difflib.get_close_matches(name, list(names), n=3)
    return f" (did you mean {', '.join(repr(m) for m in matches)}?)" if matches else ""


@dataclass
class ResolvedModel:
    """A validated model: the spec plus its parameter table in canonical units."""

    spec: Model
    params: ParameterTable
    source: str
    raw: dict
    digest: str
    rules: list[tuple[Rule, str]]  # with the path each stands at

    @property
    def name(self) -> str:
        return self.spec.name

    def assumptions(self) -> list[ResolvedParameter]:
        return [p for p in self.params.resolved.values() if p.is_assumption]


def resolve(model: Model, source: str, raw: dict, digest: str,
            extra_rules: list[tuple[Rule, str]] | None = None) -> ResolvedModel:
    """Check everything about ``model`` that its schema cannot, and resolve parameters."""
    table = ParameterTable(model, source)
    cells = model.cell_types
    classes = model.vesicle_classes

    def need(kind: str, name: str, known, path: str) -> None:
        if name not in known:
            raise ModelError(f"unknown {kind} '{name}'{_close(name, known)}; "
                             f"defined: {', '.join(sorted(known)) or 'none'}", path)

    def vocab(kind: str, name: str, path: str) -> None:
        if vocabulary.resolve(kind, name) is None:
            hint = vocabulary.suggest(kind, name)
            extra = f" (close: {', '.join(hint)})" if hint else ""
            raise ModelError(f"'{name}' is not a known {kind.replace('_', ' ')} in the "
                             f"knowledge-base vocabulary{extra}", path)

    for name, compartment in model.compartments.items():
        volume = table.ref(compartment.volume, "volume", f"compartments.{name}.volume")
        if table.value(volume) <= 0:
            raise ModelError("volume must be positive", f"compartments.{name}.volume")
    for required in ("marrow", "blood"):
        if required not in model.compartments:
            raise ModelError(f"the model needs a '{required}' compartment", "compartments")

    for name, vc in classes.items():
        base = f"vesicle_classes.{name}"
        vocab("vesicle_class", vc.is_a or name, f"{base}.is_a" if vc.is_a else base)
        d = vc.diameter
        lo, med, hi = (table.value(table.ref(getattr(d, k), "length", f"{base}.diameter.{k}"))
                       for k in ("min", "median", "max"))
        if table.value(table.ref(d.gsd, "dimensionless", f"{base}.diameter.gsd")) < 1:
            raise ModelError("geometric standard deviation must be >= 1", f"{base}.diameter.gsd")
        if not 0 < lo <= med <= hi:
            raise ModelError(f"expected 0 < min <= median <= max, got {lo}, {med}, {hi} µm",
                             f"{base}.diameter")
        for key in ("degradation", "drainage", "clearance", "homing"):
            table.ref(getattr(vc, key), "rate", f"{base}.{key}")
        for i, marker in enumerate(vc.markers):
            vocab("marker", marker, f"{base}.markers[{i}]")

    for name, cargo in model.cargo.items():
        vocab("cargo", cargo.is_a or name, f"cargo.{name}")
        table.ref(cargo.decay, "rate", f"cargo.{name}.decay")
    for name, cytokine in model.cytokines.items():
        table.ref(cytokine.decay, "rate", f"cytokines.{name}.decay")
        table.ref(cytokine.diffusion, "diffusivity", f"cytokines.{name}.diffusion")
    for name, drug in model.drugs.items():
        table.ref(drug.elimination, "rate", f"drugs.{name}.elimination")

    for name, ct in cells.items():
        base = f"cell_types.{name}"
        vocab("cell_type", ct.is_a or name, f"{base}.is_a" if ct.is_a else base)
        need("compartment", ct.compartment, model.compartments, f"{base}.compartment")
        table.ref(ct.initial, "dimensionless", f"{base}.initial")
        for key in ("proliferation", "death", "exit", "drug_death"):
            table.ref(getattr(ct, key), "rate", f"{base}.{key}")
        table.ref(ct.self_renewal, "dimensionless", f"{base}.self_renewal", at_most=1.0)
        if not isinstance(ct.feedback, (bool, float)):  # a parameter: coupling φ in [0, 1]
            table.ref(ct.feedback, "dimensionless", f"{base}.feedback", at_most=1.0)
        table.ref(ct.division_failure, "dimensionless", f"{base}.division_failure",
                  at_most=1.0)
        if ct.division_failure is not None and ct.proliferation is None:
            raise ModelError("'division_failure' needs a dividing cell type (give it "
                             "'proliferation')", f"{base}.division_failure")
        _check_differentiation(name, ct, cells, table, need, base)
        if ct.mutates_to is not None:
            where = f"{base}.mutates_to"
            need("cell type", ct.mutates_to.target, cells, f"{where}.target")
            if ct.mutates_to.target == name:
                raise ModelError("a cell type cannot mutate into itself", f"{where}.target")
            table.ref(ct.mutates_to.rate, "dimensionless", f"{where}.rate", at_most=1.0)
            if ct.proliferation is None:
                raise ModelError("mutation happens at division: the cell type needs "
                                 "'proliferation'", where)
        if ct.exit_to is not None:
            need("cell type", ct.exit_to, cells, f"{base}.exit_to")
            if ct.exit is None:
                raise ModelError("'exit_to' names where exiting cells go: the cell type "
                                 "needs an 'exit' rate", f"{base}.exit_to")
            if ct.exit_to == name:
                raise ModelError("a cell type cannot exit into itself", f"{base}.exit_to")
        if ct.homeostasis is not None:
            point = table.ref(ct.homeostasis.set_point, "dimensionless",
                              f"{base}.homeostasis.set_point")
            if not table.value(point) > 0:
                raise ModelError(f"parameter '{point}' = {table.value(point)} cells; expected "
                                 "a set point > 0 cells", f"{base}.homeostasis.set_point")
            table.ref(ct.homeostasis.power, "dimensionless", f"{base}.homeostasis.power")
        if ct.proliferation is not None and ct.self_renewal is None:
            raise ModelError("a dividing cell type needs 'self_renewal' (use a parameter "
                             "equal to 1 if every division renews)", f"{base}.self_renewal")
        for var, state in ct.states.items():
            table.ref(state.baseline, "dimensionless", f"{base}.states.{var}.baseline")
            relax = table.ref(state.relaxation, "time", f"{base}.states.{var}.relaxation")
            if table.value(relax) <= 0:
                raise ModelError("relaxation time must be positive",
                                 f"{base}.states.{var}.relaxation")
        seen_pools: set[tuple[str, str | None]] = set()
        for i, sec in enumerate(ct.secretion):
            path = f"{base}.secretion[{i}]"
            need("vesicle class", sec.vesicle_class, classes, f"{path}.class")
            key = (sec.vesicle_class, sec.subset)
            if key in seen_pools:
                raise ModelError(f"a second secretion of class '{sec.vesicle_class}'"
                                 f"{' subset ' + sec.subset if sec.subset else ''}; give the "
                                 "second one a distinct 'subset'", path)
            seen_pools.add(key)
            # per dying cell: a number of EVs; per time: EVs per cell per time
            table.ref(sec.rate, "dimensionless" if sec.per == "death" else "rate",
                      f"{path}.rate")
            for cargo, copies in sec.cargo.items():
                need("cargo", cargo, model.cargo, f"{path}.cargo.{cargo}")
                table.ref(copies, "dimensionless", f"{path}.cargo.{cargo}")
            for j, marker in enumerate(sec.markers):
                vocab("marker", marker, f"{path}.markers[{j}]")
        for cytokine, rate in ct.produces.items():
            need("cytokine", cytokine, model.cytokines, f"{base}.produces.{cytokine}")
            table.ref(rate, "rate", f"{base}.produces.{cytokine}")
        for i, kill in enumerate(ct.kills):
            need("cell type", kill.target, cells, f"{base}.kills[{i}].target")
            table.ref(kill.rate, "rate", f"{base}.kills[{i}].rate")

    for i, up in enumerate(model.uptake):
        path = f"uptake[{i}]"
        need("cell type", up.target, cells, f"{path}.target")
        need("vesicle class", up.vesicle_class, classes, f"{path}.class")
        if up.source != "*":
            need("cell type", up.source, cells, f"{path}.source")
        table.ref(up.rate, "clearance", f"{path}.rate")

    hema = model.hematopoiesis
    if hema.feedback:
        for j, name in enumerate(hema.feedback.from_):
            need("cell type", name, cells, f"hematopoiesis.feedback.from[{j}]")
        table.ref(hema.feedback.strength, "dimensionless", "hematopoiesis.feedback.strength")
    if hema.niche:
        for j, name in enumerate(hema.niche.members):
            need("cell type", name, cells, f"hematopoiesis.niche.members[{j}]")
        table.ref(hema.niche.capacity, "dimensionless", "hematopoiesis.niche.capacity")
    if hema.crowding:
        for j, name in enumerate(hema.crowding.members):
            need("cell type", name, cells, f"hematopoiesis.crowding.members[{j}]")
        table.ref(hema.crowding.capacity, "dimensionless", "hematopoiesis.crowding.capacity")
        table.ref(hema.crowding.rate, "rate", "hematopoiesis.crowding.rate")
        table.ref(hema.crowding.power, "dimensionless", "hematopoiesis.crowding.power")

    rules: list[tuple[Rule, str]] = [(r, f"rules[{i}]") for i, r in enumerate(model.rules)]
    rules += extra_rules or []
    for rule, path in rules:
        _check_rule(rule, path, model, table, need)

    for i, intervention in enumerate(model.interventions):
        table.ref(intervention.start, "time", f"interventions[{i}].start")

    if model.spatial is not None:
        _check_spatial(model, table, need)

    return ResolvedModel(spec=model, params=table, source=source, raw=raw, digest=digest,
                         rules=rules)


#: how far the fractions of a branching differentiation may sum from 1
FRACTION_TOLERANCE = 1e-6


def _check_differentiation(name: str, ct, cells, table: ParameterTable, need,
                           base: str) -> None:
    """``differentiates_to``: one cell type, or cell types with fractions (dimensionless
    parameters in [0, 1]) that sum to 1."""
    target = ct.differentiates_to
    where = f"{base}.differentiates_to"
    if target is None:
        return
    if isinstance(target, str):
        need("cell type", target, cells, where)
        if target == name:
            raise ModelError("a cell type cannot differentiate into itself (that is "
                             "self-renewal)", where)
        return
    if not target:
        raise ModelError("expected at least one cell type with its fraction, e.g. "
                         "{erythroid: f_ery, myeloid: f_mye}", where)
    total = 0.0
    for other, fraction in target.items():
        need("cell type", other, cells, f"{where}.{other}")
        if other == name:
            raise ModelError("a cell type cannot differentiate into itself (that is "
                             "self-renewal)", f"{where}.{other}")
        total += table.value(table.ref(fraction, "dimensionless", f"{where}.{other}",
                                       at_most=1.0))
    if abs(total - 1.0) > FRACTION_TOLERANCE:
        shown = ", ".join(f"{o} {table.value(_ref_name(f, f'{where}.{o}')):.6g}"
                          for o, f in target.items())
        raise ModelError(f"the fractions sum to {total:.6g} ({shown}); expected them to "
                         "sum to 1", where)


def _ref_name(ref, path: str) -> str:
    return ref if isinstance(ref, str) else path


def _check_rule(rule: Rule, path: str, model: Model, table: ParameterTable, need) -> None:
    cells = model.cell_types
    need("cell type", rule.cell_type, cells, f"{path}.cell_type")
    ct = cells[rule.cell_type]
    signal = split(rule.signal)
    if signal.kind not in SIGNAL_KINDS:
        raise ModelError(f"unknown signal '{rule.signal}'; expected one of "
                         f"{', '.join(k + ':…' for k in SIGNAL_KINDS)}", f"{path}.signal")
    arg = signal.argument
    if not arg:
        raise ModelError(f"signal '{rule.signal}' needs a name after ':'", f"{path}.signal")
    if signal.kind == "cargo":
        need("cargo", arg, model.cargo, f"{path}.signal")
    elif signal.kind in ("uptake", "ev"):
        src, _, cls = arg.partition(".")
        need("cell type", src, cells, f"{path}.signal")
        if cls or signal.kind == "ev":
            secreted = {s.vesicle_class for s in cells[src].secretion} | {
                f"{s.vesicle_class}.{s.subset}" for s in cells[src].secretion if s.subset}
            need(f"EV pool of {src} (class or class.subset)", cls, secreted, f"{path}.signal")
    elif signal.kind == "cytokine":
        need("cytokine", arg, model.cytokines, f"{path}.signal")
    elif signal.kind == "state":
        need("state variable of " + rule.cell_type, arg, ct.states, f"{path}.signal")
    elif signal.kind == "drug":
        need("drug", arg, model.drugs, f"{path}.signal")
    elif signal.kind == "fraction":
        need("cell type", arg, cells, f"{path}.signal")

    behavior = split(rule.behavior)
    if behavior.kind not in BEHAVIOR_KINDS:
        raise ModelError(f"unknown behavior '{rule.behavior}'; expected one of "
                         f"{', '.join(sorted(BEHAVIOR_KINDS))}", f"{path}.behavior")
    if behavior.kind in PLAIN_BEHAVIORS:
        if behavior.argument:
            raise ModelError(f"behavior '{behavior.kind}' takes no ':' argument",
                             f"{path}.behavior")
        base_value = ct.mutates_to if behavior.kind == "mutation" else getattr(
            ct, behavior.kind)
        if base_value is None:
            what = "'mutates_to'" if behavior.kind == "mutation" else f"'{behavior.kind}'"
            raise ModelError(f"cell type '{rule.cell_type}' has no base {what} for "
                             "this rule to change; give it one", f"{path}.behavior")
    elif behavior.kind == "secretion":
        cls, _, subset = behavior.argument.partition(".")
        if not any(s.vesicle_class == cls and (s.subset or "") == subset for s in ct.secretion):
            raise ModelError(f"cell type '{rule.cell_type}' secretes no '{behavior.argument}'",
                             f"{path}.behavior")
    elif behavior.kind == "production":
        need("cytokine produced by " + rule.cell_type, behavior.argument, ct.produces,
             f"{path}.behavior")
    elif behavior.kind == "state":
        need("state variable of " + rule.cell_type, behavior.argument, ct.states,
             f"{path}.behavior")
    elif behavior.kind == "uptake":
        if not any(u.target == rule.cell_type and u.vesicle_class == behavior.argument
                   for u in model.uptake):
            raise ModelError(f"cell type '{rule.cell_type}' takes up no "
                             f"'{behavior.argument}' EVs", f"{path}.behavior")
    elif behavior.kind == "kill":
        if not any(k.target == behavior.argument for k in ct.kills):
            raise ModelError(f"cell type '{rule.cell_type}' kills no '{behavior.argument}'",
                             f"{path}.behavior")

    at_most = 1.0 if behavior.kind in ("self_renewal", "division_failure", "mutation") \
        else None
    kind = BEHAVIOR_KINDS[behavior.kind]
    if behavior.kind == "secretion" and any(
            s.per == "death" and s.vesicle_class == cls and (s.subset or "") == subset
            for s in ct.secretion):
        kind = "dimensionless"  # EVs per dying cell
    table.ref(rule.saturation, kind, f"{path}.saturation", at_most=at_most)
    half = table.ref(rule.half_max, SIGNAL_KINDS[signal.kind], f"{path}.half_max")
    if table.value(half) <= 0:
        raise ModelError("half_max must be positive", f"{path}.half_max")
    hill = table.ref(rule.hill_power, "dimensionless", f"{path}.hill_power")
    if table.value(hill) <= 0:
        raise ModelError("hill_power must be positive", f"{path}.hill_power")
    if rule.kb:
        from ..knowledge import load as load_kb

        kb = load_kb()
        for j, record_id in enumerate(rule.kb):
            if record_id not in kb.records:
                close = kb.suggest_ids(record_id, 3)
                hint = f" (close: {', '.join(close)})" if close else ""
                raise ModelError(f"'{record_id}' is not a knowledge-base record id{hint}",
                                 f"{path}.kb[{j}]")


def _check_spatial(model: Model, table: ParameterTable, need) -> None:
    """The ``spatial`` section: lengths (positive), cell types and cytokines it names."""
    sp = model.spatial
    for key in ("width", "height", "depth", "voxel", "sinusoid_radius", "sinusoid_spacing",
                "niche_distance"):
        name = table.ref(getattr(sp, key), "length", f"spatial.{key}")
        if name is not None and key != "depth" and not table.resolved[name].value > 0:
            raise ModelError("expected a positive length", f"spatial.{key}")
    for name in sp.placement:
        need("cell type", name, model.cell_types, f"spatial.placement.{name}")
    for j, name in enumerate(sp.chemotactic_types or []):
        need("cell type", name, model.cell_types, f"spatial.chemotactic_types[{j}]")
    for name, ret in sp.retention.items():
        where = f"spatial.retention.{name}"
        need("cell type", name, model.cell_types, where)
        table.ref(ret.reach, "length", f"{where}.reach")
        table.ref(ret.motility_factor, "dimensionless", f"{where}.motility_factor",
                  at_most=1.0)
        table.ref(ret.chemotaxis, "speed", f"{where}.chemotaxis")
    if sp.chemoattractant is not None:
        need("cytokine", sp.chemoattractant, model.cytokines, "spatial.chemoattractant")
    days = sp.snapshot_days or []
    if any(not d >= 0 for d in days):
        raise ModelError(f"expected days ≥ 0, got {days}", "spatial.snapshot_days")
