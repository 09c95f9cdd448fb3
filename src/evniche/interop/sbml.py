"""SBML export of the well-mixed model: the same ODEs as :class:`~evniche.engines.kinetics.
Kinetics`, written so that libRoadRunner, Tellurium or COPASI simulate the same trajectory.

Layout of the file (SBML Level 3 Version 2, no species, no reactions):

* every parameter of ``net.params`` is a constant global parameter in evniche's canonical
  units (hours, counts, mL, µm); its original name is the ``name`` attribute, its unit and
  provenance are in its notes;
* every species of the network is a non-constant parameter with one ``RateRule`` holding
  its whole right-hand side (per hour); ``name`` keeps the evniche species name
  (``cell:HSC``, ``ev:MSC.exosome@blood``, ``ledger:MSC.exosome.secreted``...);
* intermediate quantities are parameters set by ``AssignmentRule``: signals (``sig_*``),
  Hill terms of rules (``hill_*``), rule-combined behaviors (``beh_*``: PhysiCell's
  combination of up- and down-regulating rules, one saturation value per rule), feedback
  ``s_feedback``, niche ``nu_niche``, crowding death ``crowd_death``, homeostatic death
  factors ``homeostasis_<type>`` ((N / set point)^power), per-cell uptake rates
  of every route (``r_*``, EVs per target cell per hour) and fluxes (``S_*`` secretion,
  ``U_*`` uptake, EVs per hour);
* interventions of a :class:`~evniche.compile.schedule.Schedule` become events: a flag per
  window (``window_k``, 0 or 1) switched at its start and end, the multipliers it carries
  written as ``piecewise`` products of those flags; doses (jumps) add to their species and
  ledger entry. Parameter windows (``scale``/``set``) make the parameters they change (and
  the derived parameters that follow them) non-constant: an event at each change of the
  values in force (``parameters_k``) assigns every such parameter its value for the
  segment that starts.

Time is in hours. Simulate from t = 0.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from ..compile.network import BLOOD, MARROW, ONE, Network
from ..compile.schedule import Schedule
from ..errors import EvnicheError, SimulationError
from ..spec.resolve import ResolvedModel

#: names the infix parser of libSBML reads as constants, operators or functions
_RESERVED = {
    "time", "avogadro", "pi", "e", "exponentiale", "true", "false", "inf", "infinity", "nan",
    "notanumber", "and", "or", "not", "xor", "piecewise", "pow", "power", "sqrt", "root",
    "exp", "log", "log10", "ln", "abs", "floor", "ceil", "ceiling", "factorial", "min", "max",
    "rem", "quotient", "implies", "delay", "rateOf", "sin", "cos", "tan", "sec", "csc", "cot",
    "sinh", "cosh", "tanh", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "eq", "neq",
    "gt", "lt", "geq", "leq", "plus", "times", "minus", "divide", "lambda",
}


#: SBML unit definitions of evniche's canonical units: id -> [(kind, exponent, scale,
#: multiplier)]; counts (cells, EVs, copies) are dimensionless
_UNITS = {
    "hour": [("second", 1, 0, 3600.0)],
    "per_hour": [("second", -1, 0, 3600.0)],
    "mL": [("litre", 1, -3, 1.0)],
    "per_mL": [("litre", -1, -3, 1.0)],
    "mL_per_hour": [("litre", 1, -3, 1.0), ("second", -1, 0, 3600.0)],
    "nM": [("mole", 1, -9, 1.0), ("litre", -1, 0, 1.0)],
    "um": [("metre", 1, -6, 1.0)],
    "um2": [("metre", 2, -6, 1.0)],
    "um2_per_s": [("metre", 2, -6, 1.0), ("second", -1, 0, 1.0)],
    "mPa_s": [("pascal", 1, -3, 1.0), ("second", 1, 0, 1.0)],
    "ug_per_mL": [("gram", 1, -6, 1.0), ("litre", -1, -3, 1.0)],
    "um_per_hour": [("metre", 1, -6, 1.0), ("second", -1, 0, 3600.0)],
}
#: unit id of each kind of parameter (evniche.units.CANONICAL) and species unit
_UNIT_OF_KIND = {
    "dimensionless": "dimensionless", "time": "hour", "rate": "per_hour", "length": "um",
    "volume": "mL", "concentration": "per_mL", "clearance": "mL_per_hour", "molar": "nM",
    "diffusivity": "um2_per_s", "area": "um2", "viscosity": "mPa_s", "temperature": "kelvin",
    "mass_concentration": "ug_per_mL", "speed": "um_per_hour",
}
_UNIT_OF_SPECIES = {"cell": "dimensionless", "1": "dimensionless", "EV": "dimensionless",
                    "copies/cell": "dimensionless", "1/mL": "per_mL", "nM": "nM"}


class _Ids:
    """SBML identifiers: [A-Za-z0-9_], not starting with a digit, unique in the file."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def make(self, text: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", text) or "x"
        if base[0].isdigit():
            base = "_" + base
        if base in _RESERVED:
            base += "_"
        sid, k = base, 2
        while sid in self.used:
            sid = f"{base}_{k}"
            k += 1
        self.used.add(sid)
        return sid


def _num(x: float) -> str:
    if not math.isfinite(x):
        raise SimulationError(f"cannot write the non-finite number {x} into SBML")
    return repr(float(x))


def _sum(terms: list[str]) -> str:
    return " + ".join(terms) if terms else "0"


class _Writer:
    """Builds the libSBML model; formulas are written in libSBML's L3 infix syntax."""

    def __init__(self, libsbml, name: str) -> None:
        self.sbml = libsbml
        self.doc = libsbml.SBMLDocument(3, 2)
        self.model = self.doc.createModel()
        self.ids = _Ids()
        self.model.setId(self.ids.make(f"evniche_{name}"))
        self.model.setName(name)
        for uid, parts in _UNITS.items():
            ud = self.model.createUnitDefinition()
            ud.setId(uid)
            for kind, exponent, scale, multiplier in parts:
                unit = ud.createUnit()
                unit.setKind(libsbml.UnitKind_forName(kind))
                unit.setExponent(exponent)
                unit.setScale(scale)
                unit.setMultiplier(multiplier)
        self.model.setTimeUnits("hour")
        self.settings = libsbml.L3ParserSettings()
        self.settings.setModel(self.model)
        self.settings.setParseCollapseMinus(True)

    def _check(self, status: int, what: str) -> None:
        if status != self.sbml.LIBSBML_OPERATION_SUCCESS:
            raise SimulationError(f"SBML export: could not set {what} "
                                  f"({self.sbml.OperationReturnValue_toString(status)})")

    def parameter(self, sid: str, name: str, value: float, constant: bool,
                  notes: str | None = None, units: str | None = None) -> None:
        par = self.model.createParameter()
        self._check(par.setId(sid), f"id '{sid}'")
        par.setName(name)
        par.setValue(float(value))
        par.setConstant(constant)
        if units:
            par.setUnits(units)
        if notes:
            self._check(par.setNotes(f'<body xmlns="http://www.w3.org/1999/xhtml">{notes}</body>'),
                        f"notes of '{sid}'")

    def _math(self, formula: str, what: str):
        ast = self.sbml.parseL3FormulaWithSettings(formula, self.settings)
        if ast is None:
            raise SimulationError(f"SBML export: cannot parse the formula of {what}: "
                                  f"{self.sbml.getLastParseL3Error()} in '{formula}'")
        return ast

    def assign(self, sid: str, name: str, formula: str) -> None:
        """A parameter set by an assignment rule."""
        self.parameter(sid, name, 0.0, constant=False)
        rule = self.model.createAssignmentRule()
        rule.setVariable(sid)
        self._check(rule.setMath(self._math(formula, sid)), f"the rule of '{sid}'")

    def rate(self, sid: str, formula: str) -> None:
        rule = self.model.createRateRule()
        rule.setVariable(sid)
        self._check(rule.setMath(self._math(formula, sid)), f"the rate rule of '{sid}'")

    def event(self, sid: str, name: str, trigger: str, assignments: list[tuple[str, str]]
              ) -> None:
        ev = self.model.createEvent()
        ev.setId(sid)
        ev.setName(name)
        ev.setUseValuesFromTriggerTime(True)
        trig = ev.createTrigger()
        trig.setInitialValue(True)
        trig.setPersistent(True)
        self._check(trig.setMath(self._math(trigger, sid)), f"the trigger of '{sid}'")
        for variable, formula in assignments:
            ea = ev.createEventAssignment()
            ea.setVariable(variable)
            self._check(ea.setMath(self._math(formula, sid)), f"an assignment of '{sid}'")


def to_sbml(net: Network, initial: np.ndarray | None = None,
            schedule: Schedule | None = None) -> str:
    """The SBML (Level 3 Version 2) text of ``net``: the right-hand side of
    :meth:`Kinetics.rhs` as rate rules, starting from ``initial`` (one value per species of
    ``net.species``, in evniche's units; default: the model's initial values, before any
    equilibration) with the interventions of ``schedule`` as events. Doses at t = 0 are
    added to ``initial`` (the engine applies them before integrating); doses before t = 0
    are ignored, as the engine ignores them. Time unit: hour."""
    try:
        import libsbml
    except ImportError:  # pragma: no cover - a declared dependency
        raise EvnicheError("SBML export needs python-libsbml: pip install python-libsbml"
                           ) from None
    from ..engines.kinetics import Kinetics

    kin = Kinetics(net)
    if initial is None:
        y0 = kin.initial_state()
    else:
        y0 = np.asarray(initial, dtype=float)
        if y0.shape != (kin.n,):
            raise SimulationError(f"SBML export: 'initial' must hold one value per species "
                                  f"({kin.n}), got an array of shape {y0.shape}")
        y0 = y0.copy()
    if not np.all(np.isfinite(y0)):
        bad = [s.name for s, v in zip(net.species, y0, strict=True) if not math.isfinite(v)]
        raise SimulationError(f"SBML export: initial values are not finite for {', '.join(bad)}")
    y0 = below_tolerance_as_zero(kin, y0)
    schedule = schedule or Schedule()
    idx = net.index()
    for jump in schedule.jumps:
        for target in (jump.species, jump.ledger):
            if target and target not in idx:
                raise SimulationError(f"SBML export: dose '{jump.label or jump.species}' names "
                                      f"'{target}', which is not a species of the network")
        if jump.time == 0.0:
            y0[idx[jump.species]] += jump.amount
            if jump.ledger:
                y0[idx[jump.ledger]] += jump.amount

    w = _Writer(libsbml, net.name)
    _describe_model(w, net)
    segments = _parameter_segments(net, schedule)
    p = _write_parameters(w, net, segments[0][1] if segments else {},
                          {n for _, v in segments for n in v})
    x = {}  # species name -> id
    for i, sp in enumerate(net.species):
        x[sp.name] = w.ids.make(sp.name.replace(":", "_").replace("@", "_"))
        w.parameter(x[sp.name], sp.name, y0[i], constant=False,
                    units=_UNIT_OF_SPECIES.get(sp.unit),
                    notes=f"<p>{escape(sp.kind)} in {escape(sp.compartment or 'ledger')}, "
                          f"unit: {escape(sp.unit)}</p>")
    factors = _write_schedule(w, net, schedule, x)
    _write_parameter_events(w, net, p, segments)
    _write_dynamics(w, net, kin, p, x, factors, {n for _, v in segments for n in v})

    errors = [w.doc.getError(i) for i in range(w.doc.getNumErrors())
              if w.doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if errors:  # pragma: no cover - a bug in this module if it happens
        raise SimulationError("SBML export produced an invalid document: "
                              + "; ".join(e.getMessage().strip() for e in errors[:5]))
    return libsbml.writeSBMLToString(w.doc)


# ---------------------------------------------------------------------------------------
def below_tolerance_as_zero(kin, y0: np.ndarray) -> np.ndarray:
    """``y0`` with every value smaller in magnitude than the well-mixed engine's absolute
    tolerance for its kind of species (1e-6 cells, 1e-3 EVs, 1e-10 copies per cell...:
    :func:`evniche.engines.wellmixed.tolerances`) set to exactly 0.

    The equilibrated start holds solver residue such as -2e-75 copies per cell or -5e-58
    EVs where the value is 0. libRoadRunner scales the absolute tolerance of each variable
    by its initial value when that is not 0 (1e-12 × |value|), so such residue asks for an
    accuracy of 1e-87 and CVODE fails its error test at t ≈ 1e-51 h; COPASI's LSODA runs
    out of steps (measured on aml and cml). For evniche these values are 0 within its own
    tolerance."""
    from ..engines.wellmixed import tolerances

    floor = tolerances(kin, np.zeros_like(y0), 0.0)
    return np.where(np.abs(y0) < floor, 0.0, y0)


def _describe_model(w: _Writer, net: Network) -> None:
    w.model.setNotes(
        '<body xmlns="http://www.w3.org/1999/xhtml">'
        f"<p>evniche model '{escape(net.name)}' (digest {escape(net.digest)}, disease "
        f"{escape(net.disease)}), exported by evniche.interop.sbml.</p>"
        "<p>Time unit: hour. Cells and EVs are counts, volumes mL, lengths µm. Species of "
        "the network are parameters with rate rules; intermediate quantities are "
        "parameters with assignment rules.</p></body>")


def _parameter_segments(net: Network, schedule: Schedule
                        ) -> list[tuple[float, dict[str, float]]]:
    """(start h, values of the parameters changed in that segment) for every segment of a
    run with parameter windows (``scale``/``set``), from t = 0; ``[]`` without any. Each
    segment lists every parameter some window changes (at its base value where none
    does)."""
    from ..compile.parameter_windows import values_in_force

    if not any(w.parameter_factor or w.parameter_value for w in schedule.windows):
        return []
    times = [t for t in schedule.breakpoints(math.inf) if math.isfinite(t)]
    changed = [(t, values_in_force(net, schedule, t)) for t in times]
    names = sorted({n for _, v in changed for n in v})
    out: list[tuple[float, dict[str, float]]] = []
    for t, values in changed:
        full = {n: values.get(n, net.params[n]) for n in names}
        if not out or out[-1][1] != full:
            out.append((t, full))
    return out


def _write_parameter_events(w: _Writer, net: Network, p: dict[str, str],
                            segments: list[tuple[float, dict[str, float]]]) -> None:
    """One event per change of the parameter windows' values after t = 0: it assigns every
    windowed parameter (derived ones included) its value for the segment that starts."""
    for k, (when, values) in enumerate(segments[1:]):
        w.event(w.ids.make(f"parameters_{k}"), f"parameter windows from {_num(when)} h",
                f"time >= {_num(when)}", [(p[n], _num(v)) for n, v in values.items()])


def _write_parameters(w: _Writer, net: Network, initial: dict[str, float],
                      varying: set[str]) -> dict[str, str]:
    """Every parameter of ``net.params`` as a global parameter; those in ``varying``
    (changed by parameter windows) are not constant and start at ``initial``."""
    resolved = net.model.params.resolved
    ids: dict[str, str] = {}
    for name, value in net.params.items():
        value = initial.get(name, value)
        ids[name] = w.ids.make(name)
        units = None  # structural 0 and 1 stand for quantities of several units
        if name in resolved:
            rp = resolved[name]
            units = _UNIT_OF_KIND.get(rp.kind)
            notes = (f"<p>value {escape(_num(rp.value))} {escape(rp.canonical_unit)} "
                     f"(written as {escape(_num(rp.value_in_unit))} {escape(rp.unit)})</p>"
                     f"<p>source: {escape(rp.source)}</p>")
            if rp.expr:
                notes += f"<p>formula: {escape(rp.expr)}</p>"
        else:
            notes = "<p>source: structural constant of the evniche network</p>"
        if name in varying:
            notes += "<p>changed by parameter windows (scale/set interventions): see the " \
                     "events parameters_*</p>"
        w.parameter(ids[name], name, value, constant=name not in varying, notes=notes,
                    units=units)
    return ids


def _write_schedule(w: _Writer, net: Network, schedule: Schedule, x: dict[str, str]
                    ) -> dict[str, dict[int, str]]:
    """Window flags, factor expressions and dose events. Returns, per kind ("behavior",
    "uptake", "removal"), the formula of each index any window touches."""
    beh: dict[int, list[str]] = {}
    upt: dict[int, list[str]] = {}
    rem: dict[int, list[str]] = {}
    inf: dict[int, list[str]] = {}
    for k, win in enumerate(schedule.windows):
        if not win.end > max(win.start, 0.0):
            continue  # never in force at t >= 0
        if not (win.behavior_factor or win.uptake_factor or win.removal_rate
                or win.infusion):
            continue  # a parameter window only: see _write_parameter_events
        flag = w.ids.make(f"window_{k}")
        label = win.label or f"window {k}"
        on_at_start = win.start <= 0.0
        w.parameter(flag, f"{label} in force", 1.0 if on_at_start else 0.0, constant=False,
                    notes=f"<p>1 between {_num(win.start)} h and {_num(win.end)} h</p>")
        if not on_at_start:
            w.event(w.ids.make(f"{flag}_start"), f"{label} starts",
                    f"time >= {_num(win.start)}", [(flag, "1")])
        if math.isfinite(win.end):
            w.event(w.ids.make(f"{flag}_end"), f"{label} ends", f"time >= {_num(win.end)}",
                    [(flag, "0")])
        for i, f in win.behavior_factor.items():
            beh.setdefault(i, []).append(f"piecewise({_num(f)}, {flag} > 0.5, 1)")
        for i, f in win.uptake_factor.items():
            upt.setdefault(i, []).append(f"piecewise({_num(f)}, {flag} > 0.5, 1)")
        for i, r in win.removal_rate.items():
            rem.setdefault(i, []).append(f"piecewise({_num(r)}, {flag} > 0.5, 0)")
        for i, r in win.infusion.items():
            inf.setdefault(i, []).append(f"piecewise({_num(r)}, {flag} > 0.5, 0)")
    out: dict[str, dict[int, str]] = {"behavior": {}, "uptake": {}, "removal": {},
                                      "infusion": {}}
    drugs = list(net.drugs)
    for i, terms in inf.items():
        out["infusion"][i] = w.ids.make(f"infusion_{drugs[i]}")
        w.assign(out["infusion"][i], f"infusion of {drugs[i]} into plasma (nM/h)",
                 " + ".join(terms))
    for i, terms in beh.items():
        out["behavior"][i] = w.ids.make(f"factor_{net.behaviors[i].key}")
        w.assign(out["behavior"][i], f"intervention factor of {net.behaviors[i].key}",
                 " * ".join(terms))
    for i, terms in upt.items():
        route = net.uptakes[i]
        label = f"{net.pools[route.pool].name}->{route.target}#{i}"
        out["uptake"][i] = w.ids.make(f"factor_uptake_{label}")
        w.assign(out["uptake"][i], f"intervention factor of uptake route {label}",
                 " * ".join(terms))
    for i, terms in rem.items():
        out["removal"][i] = w.ids.make(f"removal_{net.pools[i].name}")
        w.assign(out["removal"][i], f"removal rate of {net.pools[i].name} from blood (1/h)",
                 " + ".join(terms))
    # one event per dose time: assignments use values from the trigger time, so two events
    # adding to one species at the same instant would overwrite each other
    doses: dict[float, dict[str, list[float]]] = {}
    labels: dict[float, list[str]] = {}
    for jump in schedule.jumps:
        if jump.time <= 0.0:
            continue
        at = doses.setdefault(jump.time, {})
        for target in (jump.species, jump.ledger):
            if target:
                at.setdefault(target, []).append(jump.amount)
        labels.setdefault(jump.time, []).append(jump.label or f"dose of {jump.species}")
    for k, (when, added) in enumerate(sorted(doses.items())):
        assignments = [(x[name], " + ".join([x[name]] + [_num(a) for a in amounts]))
                       for name, amounts in added.items()]
        w.event(w.ids.make(f"dose_{k}"), "; ".join(labels[when]), f"time >= {_num(when)}",
                assignments)
    return out


def _write_dynamics(w: _Writer, net: Network, kin, p: dict[str, str], x: dict[str, str],
                    factors: dict[str, dict[int, str]], varying: set[str]) -> None:
    cells = {c.name: c for c in net.cells}
    vol = {MARROW: p[net.volumes[MARROW]], BLOOD: p[net.volumes[BLOOD]]}
    N = {c.name: x[f"cell:{c.name}"] for c in net.cells}
    Em = [x[f"ev:{pl.name}@{MARROW}"] for pl in net.pools]
    Eb = [x[f"ev:{pl.name}@{BLOOD}"] for pl in net.pools]

    def ev_of(route) -> str:
        marrow = cells[route.target].compartment == MARROW
        return (Em if marrow else Eb)[route.pool]

    def vol_of(route) -> str:
        return vol[MARROW] if cells[route.target].compartment == MARROW else vol[BLOOD]

    # --- share of marrow cells (kills, fraction signals)
    counted = [N[c] for c in net.marrow_counted]
    n_total = w.ids.make("n_total")
    total = _sum(counted)
    w.assign(n_total, "marrow cells counted for fractions and kills (cells)",
             f"piecewise({total}, {total} > 0, 1)")

    # --- signals (uptake:<source> signals see base multipliers times intervention factors)
    base_rate: dict[int, str] = {}

    def route_base(ri: int) -> str:
        if ri not in base_rate:
            route = net.uptakes[ri]
            mult = p[net.behaviors[route.multiplier].base]
            if ri in factors["uptake"]:
                mult = f"{mult} * {factors['uptake'][ri]}"
            label = f"{net.pools[route.pool].name}->{route.target}#{ri}"
            base_rate[ri] = w.ids.make(f"r_base_{label}")
            w.assign(base_rate[ri], f"uptake of route {label} with base multipliers "
                     "(EVs per cell per hour; seen by uptake signals)",
                     f"{p[route.rate]} * {mult} * {ev_of(route)} / {vol_of(route)}")
        return base_rate[ri]

    # Signals are the linear map Kinetics.A of z = [q, r (base per-cell uptake by route),
    # Em/V_marrow, Eb/V_blood, C, x, D, N/n_total], floored at zero: read it from there.
    species = net.species
    off = [int(v) for v in kin.z_off]
    n_pools = len(net.pools)

    def z_term(col: int) -> str:
        if col < off[1]:
            return x[species[kin.i_cargo[col - off[0]]].name]
        if col < off[2]:
            return route_base(col - off[1])
        if col < off[3]:
            k = col - off[2]
            return (f"{Em[k]} / {vol[MARROW]}" if k < n_pools
                    else f"{Eb[k - n_pools]} / {vol[BLOOD]}")
        if col < off[4]:
            return x[species[kin.i_cyt[col - off[3]]].name]
        if col < off[5]:
            return x[species[kin.i_state[col - off[4]]].name]
        if col < off[6]:
            return x[species[kin.i_drug[col - off[5]]].name]
        return f"{N[net.cells[col - off[6]].name]} / {n_total}"

    A = kin.A.tocsr()
    sig_ids: list[str] = []
    for si, sig in enumerate(net.signals):
        row = A.getrow(si)
        terms = [z_term(int(c)) if v == 1.0 else f"{_num(v)} * {z_term(int(c))}"
                 for c, v in zip(row.indices, row.data, strict=True)]
        sid = w.ids.make(f"sig_{sig.cell_type}_{sig.kind}_{sig.argument}")
        expr = _sum(terms)
        w.assign(sid, f"signal {sig.key}", f"piecewise({expr}, {expr} > 0, 0)" if terms else "0")
        sig_ids.append(sid)

    # --- behaviors: PhysiCell's combination of Hill terms, generalized to one saturation
    # value per rule: u = base + Σ h·(sat - base)/(1 + Σ h), then b = u + Σ h·(sat - u)/(1 + Σ h)
    beh: list[str] = []
    for bi, b in enumerate(net.behaviors):
        key = b.key
        value = p[b.base]
        for direction, terms in (("up", b.up), ("down", b.down)):
            if not terms:
                continue
            if direction == "down" and b.up:
                mid = w.ids.make(f"beh_up_{key}")
                w.assign(mid, f"{key} after the rules that raise it", value)
                value = mid
            hills = []
            for k, t in enumerate(terms):
                hills.append(w.ids.make(f"hill_{key}_{direction}{k}"))
                w.assign(hills[-1], f"Hill term {k} {direction} of {key}",
                         f"pow({sig_ids[t.signal]} / {p[t.half_max]}, {p[t.hill_power]})")
            pull = _sum([f"{h} * ({p[t.saturation]} - {value})"
                         for h, t in zip(hills, terms, strict=True)])
            value = f"{value} + ({pull}) / (1 + {_sum(hills)})"
        if bi in factors["behavior"]:
            value = f"({value}) * {factors['behavior'][bi]}"
        sid = w.ids.make(f"beh_{key}")
        w.assign(sid, f"behavior {key}", value)
        beh.append(sid)

    # --- hematopoiesis core
    s_fb = nu = crowd = None
    if net.feedback:
        s_fb = w.ids.make("s_feedback")
        w.assign(s_fb, "systemic feedback s", f"1 / (1 + {p[net.feedback[1]]} * "
                 f"({_sum([N[c] for c in net.feedback[0]])}))")
    if net.niche:
        nu = w.ids.make("nu_niche")
        members = _sum([N[c] for c in net.niche[0]])
        w.assign(nu, "joint stem-cell niche signal", f"1 / (1 + ({members}) / {p[net.niche[1]]})")
    crowd_members: set[str] = set()
    if net.crowding and (net.params[net.crowding[2]] or net.crowding[2] in varying):
        members, cap, crate, cpow = net.crowding
        crowd_members = set(members)
        crowd = w.ids.make("crowd_death")
        w.assign(crowd, "extra death rate from marrow crowding (1/h)",
                 f"{p[crate]} * pow(({_sum([N[c] for c in members])}) / {p[cap]}, {p[cpow]})")

    prolif: dict[str, str | None] = {}
    renew: dict[str, str] = {}
    dN: dict[str, list[str]] = {c.name: [] for c in net.cells}
    dying: dict[str, list[str]] = {c.name: [] for c in net.cells}  # dying cells per hour
    success: dict[str, str] = {}  # share of divisions that do not fail
    for c in net.cells:
        prolif[c.name] = beh[c.proliferation] if c.proliferation is not None else None
        if prolif[c.name] is not None:
            factors_r = [beh[c.self_renewal]] if c.self_renewal is not None else ["0"]
            if c.feedback and s_fb:
                factors_r.append(s_fb)
            if c.niche and nu:
                factors_r.append(nu)
            renew[c.name] = w.ids.make(f"renew_{c.name}")
            w.assign(renew[c.name], f"self-renewal probability of {c.name}",
                     " * ".join(factors_r))
            kept = f" * (1 - {beh[c.mutation[1]]})" if c.mutation else ""
            if c.division_failure is not None:
                ok = f"(1 - {beh[c.division_failure]})"
                success[c.name] = ok
                dN[c.name].append(f"(2 * {renew[c.name]} * {ok}{kept} - 1) * "
                                  f"{prolif[c.name]} * {N[c.name]}")
                dying[c.name].append(f"2 * {beh[c.division_failure]} * {prolif[c.name]} * "
                                     f"{N[c.name]}")
            else:
                dN[c.name].append(f"(2 * {renew[c.name]}{kept} - 1) * {prolif[c.name]} * "
                                  f"{N[c.name]}")
        loss = []
        if c.death is not None:
            death = beh[c.death]
            if c.homeostasis is not None:
                point, power = c.homeostasis
                h = w.ids.make(f"homeostasis_{c.name}")
                w.assign(h, f"homeostatic factor on the death rate of {c.name}",
                         f"pow(piecewise({N[c.name]}, {N[c.name]} > 0, 0) / {p[point]}, "
                         f"{p[power]})")
                death = f"{death} * {h}"
            loss.append(death)
        if c.name in crowd_members and crowd:
            loss.append(crowd)
        if loss:
            dying[c.name].append(f"({_sum(loss)}) * {N[c.name]}")
        if c.exit is not None:
            loss.append(beh[c.exit])
            if c.exit_to is not None:
                dN[c.exit_to].append(f"{beh[c.exit]} * {N[c.name]}")
        if loss:
            dN[c.name].append(f"-({_sum(loss)}) * {N[c.name]}")
    for c in net.cells:
        if prolif[c.name] is None:
            continue
        ok = f" * {success[c.name]}" if c.name in success else ""
        kept = f" * (1 - {beh[c.mutation[1]]})" if c.mutation else ""
        for target, fraction in c.differentiation:
            share = "" if fraction == ONE else f" * {p[fraction]}"
            dN[target].append(f"2 * (1 - {renew[c.name]}){ok}{kept}{share} * "
                              f"{prolif[c.name]} * {N[c.name]}")
        if c.mutation:
            dN[c.mutation[0]].append(f"2{ok} * {beh[c.mutation[1]]} * {prolif[c.name]} * "
                                     f"{N[c.name]}")
    for k in net.kills:
        kill = f"{beh[k.behavior]} * {N[k.killer]} * {N[k.target]} / {n_total}"
        dN[k.target].append(f"-{kill}")
        dying[k.target].append(kill)
    for c in net.cells:
        w.rate(N[c.name], _sum(dN[c.name]).replace("+ -", "- "))

    # --- states relax to their rule-set targets
    for s in net.states:
        xs = x[f"state:{s.cell_type}.{s.var}"]
        w.rate(xs, f"({beh[s.target]} - {xs}) / {p[s.relaxation]}")

    # --- EV pools: secretion, uptake per route, fates; the ledger
    S: list[str] = []
    for pl in net.pools:
        sid = w.ids.make(f"S_{pl.name}")
        flux = f"({_sum(dying[pl.source])})" if pl.per_death else N[pl.source]
        w.assign(sid, f"secretion of {pl.name} (EVs per hour)", f"{beh[pl.secretion]} * {flux}")
        S.append(sid)
    r_ids: list[str] = []
    U: list[str] = []
    for ri, route in enumerate(net.uptakes):
        label = f"{net.pools[route.pool].name}->{route.target}#{ri}"
        mult = beh[route.multiplier]
        if ri in factors["uptake"]:
            mult = f"{mult} * {factors['uptake'][ri]}"
        r_ids.append(w.ids.make(f"r_{label}"))
        w.assign(r_ids[-1], f"uptake of route {label} (EVs per target cell per hour)",
                 f"{p[route.rate]} * {mult} * {ev_of(route)} / {vol_of(route)}")
        U.append(w.ids.make(f"U_{label}"))
        w.assign(U[-1], f"uptake of route {label} (EVs per hour)",
                 f"{r_ids[-1]} * {N[route.target]}")
    for pi, pl in enumerate(net.pools):
        vc = net.classes[pl.vesicle_class]
        deg, drain, clear, home = (p[vc.degradation], p[vc.drainage], p[vc.clearance],
                                   p[vc.homing])
        rem = factors["removal"].get(pi)
        up_m = [U[ri] for ri, r in enumerate(net.uptakes)
                if r.pool == pi and cells[r.target].compartment == MARROW]
        up_b = [U[ri] for ri, r in enumerate(net.uptakes)
                if r.pool == pi and cells[r.target].compartment != MARROW]
        in_marrow = pl.compartment == MARROW
        m_terms = ([S[pi]] if in_marrow else []) + [f"-({_sum(up_m)})"] * bool(up_m) + [
            f"-({deg} + {drain}) * {Em[pi]}", f"{home} * {Eb[pi]}"]
        fates = " + ".join([clear, home] + ([rem] if rem else []))
        b_terms = ([] if in_marrow else [S[pi]]) + [f"-({_sum(up_b)})"] * bool(up_b) + [
            f"{drain} * {Em[pi]}", f"-({fates}) * {Eb[pi]}"]
        w.rate(Em[pi], _sum(m_terms).replace("+ -", "- "))
        w.rate(Eb[pi], _sum(b_terms).replace("+ -", "- "))
        led = {t: x[f"ledger:{pl.name}.{t}"]
               for t in ("secreted", "administered", "degraded", "cleared", "removed")}
        w.rate(led["secreted"], S[pi])
        w.rate(led["administered"], "0")
        w.rate(led["degraded"], f"{deg} * {Em[pi]}")
        w.rate(led["cleared"], f"{clear} * {Eb[pi]}")
        w.rate(led["removed"], f"{rem} * {Eb[pi]}" if rem else "0")
        for target in net.pool_targets(pi):
            w.rate(x[f"ledger:{pl.name}.uptake:{target}"],
                   _sum([U[ri] for ri, r in enumerate(net.uptakes)
                         if r.pool == pi and r.target == target]))

    # --- internalized cargo per cell: delivery, decay, dilution by division
    for q in net.cargo_states:
        xq = x[f"cargo:{q.cell_type}.{q.cargo}"]
        delivered = [f"{p[net.pools[r.pool].cargo[q.cargo]]} * {r_ids[ri]}"
                     for ri, r in enumerate(net.uptakes)
                     if r.target == q.cell_type and q.cargo in net.pools[r.pool].cargo]
        losses = p[q.decay] + (f" + {prolif[q.cell_type]}" if prolif[q.cell_type] else "")
        w.rate(xq, f"{_sum(delivered)} - ({losses}) * {xq}")

    # --- cytokines (per mL of marrow) and drugs (plasma)
    for name, decay in net.cytokines.items():
        xc = x[f"cytokine:{name}"]
        prod = [f"{beh[pr.behavior]} * {N[pr.cell_type]}" for pr in net.productions
                if pr.cytokine == name]
        made = f"({_sum(prod)}) / {vol[MARROW]} - " if prod else "-"
        w.rate(xc, f"{made}{p[decay]} * {xc}")
    for i, (name, elim) in enumerate(net.drugs.items()):
        xd = x[f"drug:{name}"]
        infusion = factors["infusion"].get(i)
        w.rate(xd, f"{infusion} - {p[elim]} * {xd}" if infusion else f"-{p[elim]} * {xd}")


# ---------------------------------------------------------------------------------------
def starting_state(net: Network, equilibrate_first: bool = True) -> np.ndarray:
    """The state the well-mixed engine starts from: the model's initial values or, with
    ``equilibrate_first``, the healthy steady state with the leukemic seeds put back (as
    :func:`evniche.engines.wellmixed.integrate` does)."""
    from ..engines.kinetics import Kinetics
    from ..engines.wellmixed import starting_state as engine_start

    return engine_start(Kinetics(net), equilibrate_first)


def export_sbml(model: str | Path | ResolvedModel, out: Path | None = None, *,
                interventions: list | None = None, days: float | None = None,
                equilibrate_first: bool = True) -> str:
    """SBML text of a preset, a model file or a loaded model, starting where ``evniche
    simulate`` starts (the equilibrated healthy state plus leukemic seeds unless
    ``equilibrate_first`` is false), with the model's own interventions and
    ``interventions`` (as for :func:`evniche.simulate`; windows without an end last ``days``
    if given, else for ever) as events. Written to ``out`` (UTF-8) if given."""
    from ..engines import prepare

    net, schedule = prepare(model if isinstance(model, ResolvedModel) else str(model), None,
                            interventions, days)
    text = to_sbml(net, starting_state(net, equilibrate_first), schedule)
    if out is not None:
        out = Path(out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        except OSError as err:
            raise EvnicheError(f"cannot write the SBML file '{out}': {err.strerror}") from None
    return text
