"""Parameter windows: the ``scale`` and ``set`` interventions change a model parameter
between two times.

A window multiplies a parameter by a factor (``scale``) or replaces its value (``set``)
from its start to its end. During a segment of the run the value of parameter X is

    X = (set value if a set window is in force, else X's formula over the segment's
         values if X is derived (``expr``), else X's base value) × Π scale factors in force

so a parameter defined by a formula over a scaled one follows it. Two set windows in
force at once that give one parameter different values are refused. Engines rebuild
their parameter-dependent arrays at each segment
(:class:`~evniche.engines.kinetics.Kinetics` with the segment's values);
nothing changes where no window is in force.

Values are canonical (hours, counts, mL, µm; :mod:`evniche.units`).
"""

from __future__ import annotations

import functools
import math

from .. import expressions, units
from ..errors import ModelError
from .network import Network
from .schedule import Schedule

#: parameter uses (the end of a path where a parameter is used) whose value must stay a
#: fraction in [0, 1]
FRACTION_USES = ("self_renewal", "division_failure", "mutates_to.rate")
#: uses read once, before a run: a window on a parameter used only there changes nothing
STARTS_ONLY = ("interventions[", "spatial.")
#: uses whose value must stay > 0 (a zero would divide by zero)
POSITIVE_USES = ("volume", "half_max", "hill_power", "relaxation", "set_point", "capacity")


@functools.cache
def _formula(text: str) -> expressions.Formula:
    return expressions.parse(text)


def dependents(net: Network) -> dict[str, list[str]]:
    """For each parameter, the derived parameters whose formula names it directly."""
    out: dict[str, list[str]] = {}
    for name, rp in net.model.params.resolved.items():
        if rp.expr:
            for other in _formula(rp.expr).names:
                out.setdefault(other, []).append(name)
    return out


def values_in_force(net: Network, schedule: Schedule, t: float,
                    base: dict[str, float] | None = None) -> dict[str, float]:
    """The parameters whose value differs from ``base`` (default ``net.params``) during
    the segment that starts at ``t`` (h), with their canonical values; ``{}`` when no
    parameter window is in force."""
    base = net.params if base is None else base
    sets: dict[str, float] = {}
    factors: dict[str, float] = {}
    for w in schedule.windows:
        if not (w.start <= t < w.end):
            continue
        for name, value in w.parameter_value.items():
            if name in sets and sets[name] != value:
                raise ModelError(f"two 'set' interventions give parameter '{name}' different "
                                 f"values at {t / 24:g} days; let their windows not overlap",
                                 w.label or "set")
            sets[name] = value
        for name, factor in w.parameter_factor.items():
            factors[name] = factors.get(name, 1.0) * factor
    if not sets and not factors:
        return {}
    return segment_values(net, sets, factors, base)


def segment_values(net: Network, sets: dict[str, float], factors: dict[str, float],
                   base: dict[str, float]) -> dict[str, float]:
    """The changed parameters of a segment: those ``sets`` (canonical values) and
    ``factors`` name, and every derived parameter that depends on one of them through its
    formula, in dependency order (see the module docstring)."""
    resolved = net.model.params.resolved
    deps = dependents(net)
    affected: set[str] = set(sets) | set(factors)
    todo = list(affected)
    while todo:
        for d in deps.get(todo.pop(), ()):
            if d not in affected:
                affected.add(d)
                todo.append(d)
    out: dict[str, float] = {}

    def evaluate(name: str) -> float:
        if name in out:
            return out[name]
        rp = resolved.get(name)
        if name in sets:
            v = sets[name]
        elif rp is not None and rp.expr and any(n in affected for n in _formula(rp.expr).names):
            formula = _formula(rp.expr)
            inputs = {n: evaluate(n) if n in affected else base[n] for n in formula.names}
            v = _evaluated(rp, formula, inputs, resolved)
        else:
            v = base[name]
        out[name] = v * factors.get(name, 1.0)
        return out[name]

    for name in sorted(affected):
        evaluate(name)
    return out


def _evaluated(rp, formula: expressions.Formula, values: dict[str, float],
               resolved) -> float:
    """A derived parameter's canonical value from canonical ``values`` of its inputs."""
    q = formula.evaluate({n: units.ureg.Quantity(values[n], units.CANONICAL[resolved[n].kind])
                          for n in formula.names})
    q = q if isinstance(q, units.Quantity) else units.Quantity(q, "")
    in_unit = float(q.to(units.parse_unit(rp.unit)).magnitude)
    return units.to_canonical(in_unit, rp.unit, rp.kind)


def check_segment(net: Network, values: dict[str, float], when: str) -> None:
    """Refuse segment values a model could not hold: negative or non-finite values,
    fractions above 1, zero where a positive value is needed, branching fractions that no
    longer sum to 1. ``when`` names the segment in the message."""
    resolved = net.model.params.resolved
    for name, v in values.items():
        rp = resolved.get(name)
        uses = rp.used_at if rp else []
        if not math.isfinite(v) or v < 0:
            raise ModelError(f"parameter '{name}' would be {v:g} {_unit(rp)}; expected a "
                             "finite value >= 0", when)
        fraction = [u for u in uses if u.endswith(FRACTION_USES) or ".differentiates_to." in u]
        if v > 1.0 and fraction:
            raise ModelError(f"parameter '{name}' would be {v:g}, but it is a fraction "
                             f"(used at {fraction[0]}); expected a value between 0 and 1", when)
        positive = [u for u in uses if u.endswith(POSITIVE_USES)]
        if v == 0 and positive:
            raise ModelError(f"parameter '{name}' would be 0, but it must stay positive (used "
                             f"at {positive[0]})", when)
        if uses and all(u.endswith(".initial") or u.startswith(STARTS_ONLY) for u in uses):
            raise ModelError(f"parameter '{name}' is only an initial value, an intervention "
                             f"start or a setting of the spatial section (used at {uses[0]}): "
                             "changing it during a run would change nothing", when)
    from ..spec.resolve import FRACTION_TOLERANCE

    for c in net.cells:
        if len(c.differentiation) < 2 or not any(f in values for _, f in c.differentiation):
            continue
        total = sum(values.get(f, net.params[f]) for _, f in c.differentiation)
        if abs(total - 1.0) > FRACTION_TOLERANCE:
            raise ModelError(f"the differentiation fractions of '{c.name}' would sum to "
                             f"{total:.6g}; expected 1 (change them together so that they "
                             "still sum to 1)", when)


def _unit(rp) -> str:
    return rp.canonical_unit if rp is not None else ""
