"""SBML export of the well-mixed model: the same ODEs as :class:`~evniche.engines.kinetics.
Kinetics`, written as a reaction network that libRoadRunner, Tellurium or COPASI simulate
at their default settings to the same trajectory.

Layout of the file (SBML Level 3 Version 2; time in hours, counts dimensionless, volumes mL;
every parameter, species, compartment and formula carries units, so that libSBML's unit
consistency check has nothing to report):

* compartments ``marrow`` and ``blood`` (mL, the model's volumes), ``plasma`` (the blood
  volume in litres, for drug concentrations in nM; only with drugs) and ``ledger``, a
  bookkeeping bin of size 1 with no physical meaning for the EV ledger;
* every state of the network is a species; there is no rate rule. Counted in amounts
  (``hasOnlySubstanceUnits``, dimensionless): cells (``cell_*``) and EV pools
  (``ev_*_marrow``, ``ev_*_blood``) where they live, cell states (``state_*``) and
  internalized cargo per cell (``cargo_*``, copies per cell) in their cell type's
  compartment, the EV ledger counters (``ledger_*``: EVs secreted, administered, degraded,
  cleared, removed, taken up by each target type, counted from t = 0) in ``ledger``. In
  concentration: cytokines (``cytokine_*``, per mL of marrow) and drugs (``drug_*``, nM in
  ``plasma``; substance nmol, with the conversion factor ``nmol_per_extent`` = 1 nmol from
  the dimensionless reaction extent);
* reactions with kinetic laws (extent per hour): divisions (``division_X``: X → 2 X) and
  the fates of daughters (``differentiation_X_Y``: X → Y, ``mutation_X``,
  ``failed_division_X``, ``unassigned_daughters_X``), deaths (``death_X``, with
  homeostasis and crowding), exits (``exit_X``), kills (``kill_K_T``, the killer a
  modifier), secretion (``secretion_P``: ∅ → pool + its ``secreted`` counter, the source a
  modifier), uptake per route (``uptake_P_T_k``: pool → ``uptake:T`` counter),
  degradation, drainage (marrow → blood), homing (blood → marrow), clearance and removal
  (pool → counter), cytokine production and decay, state rise and relaxation, cargo
  delivery, decay and dilution by division, drug infusion and elimination. The daughters'
  fates sum to evniche's (2·renew·(1 - fail)·(1 - mut) - 1)·p·N. A per-cell quantity (a
  state, cargo per cell) written as a species keeps evniche's equation; it is not a pool
  of molecules;
* every parameter of ``net.params`` is a constant global parameter in evniche's canonical
  units; its original name is the ``name`` attribute, its unit and provenance are in its
  notes. Intermediate quantities are parameters set by ``AssignmentRule``: signals
  (``sig_*``), Hill terms (``hill_*``), rule-combined behaviors (``beh_*``: PhysiCell's
  combination of up- and down-regulating rules, one saturation value per rule), feedback
  ``s_feedback`` (raised to a cell type's graded coupling φ where 0 < φ < 1), niche
  ``nu_niche``, crowding death ``crowd_death``, homeostatic factors ``homeostasis_<type>``,
  self-renewal ``renew_<type>``, per-cell uptake rates ``r_*``;
* interventions of a :class:`~evniche.compile.schedule.Schedule` become events: a flag per
  window (``window_k``, 0 or 1) switched at its start and end, the multipliers it carries
  written as ``piecewise`` products of those flags; doses (jumps) add to their species and
  ledger entry. Parameter windows (``scale``/``set``) make the parameters they change (and
  the derived parameters that follow them) non-constant: an event at each change of the
  values in force (``parameters_k``) assigns every such parameter its value for the
  segment that starts.

Floors at zero (signals, the cell counts of homeostasis and crowding) are ``max(x, 0)``,
never ``piecewise``: libRoadRunner restarts CVODE whenever a piecewise condition changes,
with tolerances scaled by the current amounts (:func:`_at_least_zero`). The only
``piecewise`` left in rules and kinetic laws are window factors (flags changed by events)
and the guard of ``n_total``.

Initial values smaller than evniche's absolute tolerance are written as 0
(:func:`below_tolerance_as_zero`). No rate rules: libRoadRunner 2.10 orders its state
vector rate rules first but builds its per-variable absolute tolerances species first, so in
a file with both the tolerances land on the wrong variables (measured: mm, atll and all
then fail at default settings, aml and t_all take 20-90 s instead of 1-2 s). Simulate from
t = 0.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from ..compile.network import BLOOD, MARROW, ONE, ZERO, Network
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
    "nmol": [("mole", 1, -9, 1.0)],
    "nM_per_hour": [("mole", 1, -9, 1.0), ("litre", -1, 0, 1.0), ("second", -1, 0, 3600.0)],
    "um": [("metre", 1, -6, 1.0)],
    "um2": [("metre", 2, -6, 1.0)],
    "um2_per_s": [("metre", 2, -6, 1.0), ("second", -1, 0, 1.0)],
    "mPa_s": [("pascal", 1, -3, 1.0), ("second", 1, 0, 1.0)],
    "ug_per_mL": [("gram", 1, -6, 1.0), ("litre", -1, -3, 1.0)],
    "um_per_hour": [("metre", 1, -6, 1.0), ("second", -1, 0, 3600.0)],
}
#: unit id of each kind of parameter (evniche.units.CANONICAL)
_UNIT_OF_KIND = {
    "dimensionless": "dimensionless", "time": "hour", "rate": "per_hour", "length": "um",
    "volume": "mL", "concentration": "per_mL", "clearance": "mL_per_hour", "molar": "nM",
    "diffusivity": "um2_per_s", "area": "um2", "viscosity": "mPa_s", "temperature": "kelvin",
    "mass_concentration": "ug_per_mL", "speed": "um_per_hour",
}
#: unit of each kind of signal (the quantity a rule's half-maximum is written in)
_UNIT_OF_SIGNAL = {"cargo": "dimensionless", "uptake": "per_hour", "ev": "per_mL",
                   "cytokine": "per_mL", "state": "dimensionless", "drug": "nM",
                   "fraction": "dimensionless"}
#: compartment of drug concentrations (the blood volume in litres) and the conversion
#: factor of drug species (nmol per unit of extent, 1)
PLASMA, DRUG_EXTENT = "plasma", "nmol_per_extent"
#: unit of the value of each kind of species (doses add to it)
_UNIT_OF_VALUE = {"cell": "dimensionless", "ev": "dimensionless", "ledger": "dimensionless",
                  "cytokine": "per_mL", "drug": "nM", "state": "dimensionless",
                  "cargo": "dimensionless"}
#: compartment of the EV ledger counters: a bookkeeping bin, not a place
LEDGER = "ledger"


def _lit(value: float, unit: str) -> str:
    """A number with its unit, in libSBML's infix syntax (``2 dimensionless``)."""
    return f"{_num(value)} {unit}"


ZERO_D, ONE_D = "0 dimensionless", "1 dimensionless"


def _at_least_zero(expr: str, unit: str = "dimensionless") -> str:
    """``expr`` floored at zero, as evniche floors signals and population sizes, written
    ``max(expr, 0)`` and not as a ``piecewise``: libRoadRunner watches the condition of every
    ``piecewise`` in a rule or kinetic law as a root and, each time one changes, restarts
    CVODE with absolute tolerances recomputed as 1e-12 × each species' current amount. A
    floor whose argument starts at exactly 0 (the uptake of the leukemic seed's EVs, the
    cargo they carry) changes at t ≈ 1e-33 h, when the species that grow from 0 hold 1e-69
    and less, and the tolerances (down to 1e-146) that follow fail CVODE's error test at
    t ≈ 0.0015 h (measured on aml with libRoadRunner 2.10)."""
    return f"max({expr}, 0 {unit})"


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


def _sum(terms: list[str], unit: str = "dimensionless") -> str:
    return " + ".join(terms) if terms else f"0 {unit}"


def _html(text: str) -> str:
    return f'<body xmlns="http://www.w3.org/1999/xhtml">{text}</body>'


class _Writer:
    """Builds the libSBML model; formulas are written in libSBML's L3 infix syntax, every
    number with its unit."""

    def __init__(self, libsbml, name: str) -> None:
        self.sbml = libsbml
        self.doc = libsbml.SBMLDocument(3, 2)
        self.model = self.doc.createModel()
        self.ids = _Ids()
        self.ids.used.update({MARROW, BLOOD, LEDGER, PLASMA, DRUG_EXTENT})
        self.species_ids: set[str] = set()
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
        self.model.setSubstanceUnits("dimensionless")
        self.model.setExtentUnits("dimensionless")
        self.model.setVolumeUnits("mL")
        self.settings = libsbml.L3ParserSettings()
        self.settings.setModel(self.model)
        self.settings.setParseCollapseMinus(True)
        self.settings.setParseUnits(True)

    def _check(self, status: int, what: str) -> None:
        if status != self.sbml.LIBSBML_OPERATION_SUCCESS:
            raise SimulationError(f"SBML export: could not set {what} "
                                  f"({self.sbml.OperationReturnValue_toString(status)})")

    def compartment(self, sid: str, name: str, size: float, notes: str,
                    units: str = "mL") -> None:
        comp = self.model.createCompartment()
        self._check(comp.setId(sid), f"id '{sid}'")
        comp.setName(name)
        comp.setSpatialDimensions(3)
        comp.setSize(float(size))
        comp.setUnits(units)
        comp.setConstant(True)
        self._check(comp.setNotes(_html(notes)), f"notes of '{sid}'")

    def species(self, sid: str, name: str, compartment: str, value: float, notes: str,
                amount: bool = True, units: str = "dimensionless",
                conversion: str | None = None) -> None:
        """A species counted in amounts (``amount``, in ``units``) or in concentration per
        mL; ``conversion``: the parameter that converts a reaction's extent into it."""
        sp = self.model.createSpecies()
        self._check(sp.setId(sid), f"id '{sid}'")
        sp.setName(name)
        sp.setCompartment(compartment)
        if amount:
            sp.setInitialAmount(float(value))
        else:
            sp.setInitialConcentration(float(value))
        sp.setHasOnlySubstanceUnits(amount)
        sp.setSubstanceUnits(units)
        if conversion:
            sp.setConversionFactor(conversion)
        sp.setBoundaryCondition(False)
        sp.setConstant(False)
        self._check(sp.setNotes(_html(notes)), f"notes of '{sid}'")
        self.species_ids.add(sid)

    def parameter(self, sid: str, name: str, value: float, constant: bool, units: str,
                  notes: str | None = None) -> None:
        par = self.model.createParameter()
        self._check(par.setId(sid), f"id '{sid}'")
        par.setName(name)
        par.setValue(float(value))
        par.setConstant(constant)
        self._check(par.setUnits(units), f"the units of '{sid}'")
        if notes:
            self._check(par.setNotes(_html(notes)), f"notes of '{sid}'")

    def _math(self, formula: str, what: str):
        ast = self.sbml.parseL3FormulaWithSettings(formula, self.settings)
        if ast is None:
            raise SimulationError(f"SBML export: cannot parse the formula of {what}: "
                                  f"{self.sbml.getLastParseL3Error()} in '{formula}'")
        return ast

    def assign(self, sid: str, name: str, formula: str, units: str) -> None:
        """A parameter (in ``units``) set by an assignment rule."""
        self.parameter(sid, name, 0.0, constant=False, units=units)
        rule = self.model.createAssignmentRule()
        rule.setVariable(sid)
        self._check(rule.setMath(self._math(formula, sid)), f"the rule of '{sid}'")

    def reaction(self, name: str, reactants: dict[str, int], products: dict[str, int],
                 law: str, modifiers: tuple[str, ...] = ()) -> str:
        """An irreversible reaction with kinetic law ``law`` (EVs or cells per hour);
        reactants and products: species id -> stoichiometry. Every other species the law
        names is a modifier."""
        sid = self.ids.make(name)
        rxn = self.model.createReaction()
        rxn.setId(sid)
        rxn.setReversible(False)
        for sp, n in reactants.items():
            ref = rxn.createReactant()
            ref.setSpecies(sp)
            ref.setStoichiometry(float(n))
            ref.setConstant(True)
        for sp, n in products.items():
            ref = rxn.createProduct()
            ref.setSpecies(sp)
            ref.setStoichiometry(float(n))
            ref.setConstant(True)
        named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", law))
        for sp in dict.fromkeys([*modifiers, *sorted(named & self.species_ids)]):
            if sp not in reactants and sp not in products:
                rxn.createModifier().setSpecies(sp)
        self._check(rxn.createKineticLaw().setMath(self._math(law, sid)),
                    f"the kinetic law of '{sid}'")
        return sid

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
    :meth:`Kinetics.rhs` as species and reactions, starting from ``initial`` (one value
    per species of ``net.species``, in evniche's units; default: the model's initial
    values, before any equilibration; values below evniche's absolute tolerance are
    written as 0) with the interventions of ``schedule`` as events. Doses at t = 0 are
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
    for comp, what in ((MARROW, "bone marrow"), (BLOOD, "peripheral blood")):
        w.compartment(comp, what, net.params[net.volumes[comp]],
                      f"<p>volume: parameter {escape(net.volumes[comp])} (mL)</p>")
    if net.drugs:
        w.compartment(PLASMA, "plasma", net.params[net.volumes[BLOOD]] / 1000.0,
                      f"<p>the blood volume (parameter {escape(net.volumes[BLOOD])}) in "
                      "litres, where drug concentrations (nM) live</p>", units="litre")
        w.parameter(DRUG_EXTENT, "nmol of drug per unit of reaction extent", 1.0,
                    constant=True, units="nmol",
                    notes="<p>conversion factor of the drug species: reaction extents are "
                          "dimensionless counts, drug amounts nmol</p>")
    w.compartment(LEDGER, "EV ledger", 1.0,
                  "<p>a bookkeeping bin for the EV ledger counters (EVs secreted, "
                  "administered, degraded, cleared, removed and taken up, counted since "
                  "t = 0); its size means nothing: every species in it is an amount</p>")
    segments = _parameter_segments(net, schedule)
    p = _write_parameters(w, net, segments[0][1] if segments else {},
                          {n for _, v in segments for n in v})
    x = {}  # species name -> id
    for i, sp in enumerate(net.species):
        x[sp.name] = w.ids.make(sp.name.replace(":", "_").replace("@", "_"))
        notes = f"<p>{escape(sp.kind)} in {escape(sp.compartment or 'the ledger')}, " \
                f"unit: {escape(sp.unit)}</p>"
        if sp.kind == "drug":
            w.species(x[sp.name], sp.name, PLASMA, y0[i], notes, amount=False, units="nmol",
                      conversion=DRUG_EXTENT)
        elif sp.kind == "cytokine":
            w.species(x[sp.name], sp.name, MARROW, y0[i], notes, amount=False)
        else:
            w.species(x[sp.name], sp.name, LEDGER if sp.kind == "ledger" else sp.compartment,
                      y0[i], notes)  # cells, EVs, ledger; cell states and cargo per cell
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
    w.model.setNotes(_html(
        f"<p>evniche model '{escape(net.name)}' (digest {escape(net.digest)}, disease "
        f"{escape(net.disease)}), exported by evniche.interop.sbml.</p>"
        "<p>Time unit: hour. Cells, EVs and copies are dimensionless counts, volumes mL. "
        "Every state is a species: cells, EV pools, the EV ledger, cell states and cargo "
        "per cell counted in amounts, cytokines (per mL of marrow) and drugs (nM in "
        "plasma) in concentration; births, deaths, transitions, kills, "
        "secretion, uptake, degradation, drainage, homing, clearance and removal are "
        "reactions, and so are the changes of cell states, cargo per cell and drugs (nM "
        "in plasma); intermediate quantities are parameters with assignment rules.</p>"))


def _unit_of_param(net: Network, name: str) -> str:
    """SBML unit id of a parameter of ``net.params``: its canonical unit; the structural
    1 (base of uptake multipliers, the share of a single differentiation target) is
    dimensionless, the structural 0 (the homing rate of classes without one) per hour."""
    if name == ONE:
        return "dimensionless"
    if name == ZERO:
        return "per_hour"
    return _UNIT_OF_KIND[net.model.params.resolved[name].kind]


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
                f"time >= {_lit(when, 'hour')}",
                [(p[n], _lit(v, _unit_of_param(net, n))) for n, v in values.items()])


def _write_parameters(w: _Writer, net: Network, initial: dict[str, float],
                      varying: set[str]) -> dict[str, str]:
    """Every parameter of ``net.params`` as a global parameter; those in ``varying``
    (changed by parameter windows) are not constant and start at ``initial``."""
    resolved = net.model.params.resolved
    ids: dict[str, str] = {}
    for name, value in net.params.items():
        value = initial.get(name, value)
        ids[name] = w.ids.make(name)
        if name in resolved:
            rp = resolved[name]
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
        w.parameter(ids[name], name, value, constant=name not in varying,
                    units=_unit_of_param(net, name), notes=notes)
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
                    units="dimensionless",
                    notes=f"<p>1 between {_num(win.start)} h and {_num(win.end)} h</p>")
        if not on_at_start:
            w.event(w.ids.make(f"{flag}_start"), f"{label} starts",
                    f"time >= {_lit(win.start, 'hour')}", [(flag, ONE_D)])
        if math.isfinite(win.end):
            w.event(w.ids.make(f"{flag}_end"), f"{label} ends", f"time >= {_lit(win.end, 'hour')}",
                    [(flag, ZERO_D)])
        on = f"{flag} > 0.5 dimensionless"
        for i, f in win.behavior_factor.items():
            beh.setdefault(i, []).append(f"piecewise({_lit(f, 'dimensionless')}, {on}, {ONE_D})")
        for i, f in win.uptake_factor.items():
            upt.setdefault(i, []).append(f"piecewise({_lit(f, 'dimensionless')}, {on}, {ONE_D})")
        for i, r in win.removal_rate.items():
            rem.setdefault(i, []).append(f"piecewise({_lit(r, 'per_hour')}, {on}, 0 per_hour)")
        for i, r in win.infusion.items():
            inf.setdefault(i, []).append(
                f"piecewise({_lit(r, 'nM_per_hour')}, {on}, 0 nM_per_hour)")
    out: dict[str, dict[int, str]] = {"behavior": {}, "uptake": {}, "removal": {},
                                      "infusion": {}}
    drugs = list(net.drugs)
    for i, terms in inf.items():
        out["infusion"][i] = w.ids.make(f"infusion_{drugs[i]}")
        w.assign(out["infusion"][i], f"infusion of {drugs[i]} into plasma (nM/h)",
                 " + ".join(terms), "nM_per_hour")
    for i, terms in beh.items():
        out["behavior"][i] = w.ids.make(f"factor_{net.behaviors[i].key}")
        w.assign(out["behavior"][i], f"intervention factor of {net.behaviors[i].key}",
                 " * ".join(terms), "dimensionless")
    for i, terms in upt.items():
        route = net.uptakes[i]
        label = f"{net.pools[route.pool].name}->{route.target}#{i}"
        out["uptake"][i] = w.ids.make(f"factor_uptake_{label}")
        w.assign(out["uptake"][i], f"intervention factor of uptake route {label}",
                 " * ".join(terms), "dimensionless")
    for i, terms in rem.items():
        out["removal"][i] = w.ids.make(f"removal_{net.pools[i].name}")
        w.assign(out["removal"][i], f"removal rate of {net.pools[i].name} from blood (1/h)",
                 " + ".join(terms), "per_hour")
    # one event per dose time: assignments use values from the trigger time, so two events
    # adding to one species at the same instant would overwrite each other
    kinds = {s.name: s.kind for s in net.species}
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
        assignments = [(x[name], " + ".join(
            [x[name]] + [_lit(a, _UNIT_OF_VALUE[kinds[name]]) for a in amounts]))
                       for name, amounts in added.items()]
        w.event(w.ids.make(f"dose_{k}"), "; ".join(labels[when]),
                f"time >= {_lit(when, 'hour')}",
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
             f"piecewise({total}, {total} > {ZERO_D}, {ONE_D})", "dimensionless")

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
                     f"{p[route.rate]} * {mult} * {ev_of(route)} / {vol_of(route)}", "per_hour")
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
        unit = _UNIT_OF_SIGNAL[sig.kind]
        row = A.getrow(si)
        terms = [z_term(int(c)) if v == 1.0 else f"{_lit(v, 'dimensionless')} * {z_term(int(c))}"
                 for c, v in zip(row.indices, row.data, strict=True)]
        sid = w.ids.make(f"sig_{sig.cell_type}_{sig.kind}_{sig.argument}")
        expr = _sum(terms, unit)
        zero = f"0 {unit}"
        w.assign(sid, f"signal {sig.key}",
                 _at_least_zero(expr, unit) if terms else zero, unit)
        sig_ids.append(sid)

    # --- behaviors: PhysiCell's combination of Hill terms, generalized to one saturation
    # value per rule: u = base + Σ h·(sat - base)/(1 + Σ h), then b = u + Σ h·(sat - u)/(1 + Σ h)
    beh: list[str] = []
    for bi, b in enumerate(net.behaviors):
        key = b.key
        unit = _unit_of_param(net, b.base)
        value = p[b.base]
        for direction, terms in (("up", b.up), ("down", b.down)):
            if not terms:
                continue
            if direction == "down" and b.up:
                mid = w.ids.make(f"beh_up_{key}")
                w.assign(mid, f"{key} after the rules that raise it", value, unit)
                value = mid
            hills = []
            for k, t in enumerate(terms):
                hills.append(w.ids.make(f"hill_{key}_{direction}{k}"))
                w.assign(hills[-1], f"Hill term {k} {direction} of {key}",
                         f"pow({sig_ids[t.signal]} / {p[t.half_max]}, {p[t.hill_power]})",
                         "dimensionless")
            pull = _sum([f"{h} * ({p[t.saturation]} - {value})"
                         for h, t in zip(hills, terms, strict=True)])
            value = f"{value} + ({pull}) / ({ONE_D} + {_sum(hills)})"
        if bi in factors["behavior"]:
            value = f"({value}) * {factors['behavior'][bi]}"
        sid = w.ids.make(f"beh_{key}")
        w.assign(sid, f"behavior {key}", value, unit)
        beh.append(sid)

    # --- hematopoiesis core
    s_fb = nu = crowd = None
    if net.feedback:
        s_fb = w.ids.make("s_feedback")
        w.assign(s_fb, "systemic feedback s", f"{ONE_D} / ({ONE_D} + {p[net.feedback[1]]} * "
                 f"({_sum([N[c] for c in net.feedback[0]])}))", "dimensionless")
    if net.niche:
        nu = w.ids.make("nu_niche")
        members = _sum([N[c] for c in net.niche[0]])
        w.assign(nu, "joint stem-cell niche signal",
                 f"{ONE_D} / ({ONE_D} + ({members}) / {p[net.niche[1]]})", "dimensionless")
    crowd_members: set[str] = set()
    if net.crowding and (net.params[net.crowding[2]] or net.crowding[2] in varying):
        members, cap, crate, cpow = net.crowding
        crowd_members = set(members)
        crowd = w.ids.make("crowd_death")
        total = _sum([N[c] for c in members])
        w.assign(crowd, "extra death rate from marrow crowding (1/h)",
                 f"{p[crate]} * pow({_at_least_zero(total)} "
                 f"/ {p[cap]}, {p[cpow]})", "per_hour")

    dying: dict[str, list[str]] = {c.name: [] for c in net.cells}  # dying cells per hour

    def reaction(name: str, law: str, reactants: dict[str, int], products: dict[str, int],
                 modifiers: tuple[str, ...] = ()) -> None:
        w.reaction(name, reactants, products, law, modifiers)

    prolif: dict[str, str | None] = {}
    for c in net.cells:
        prolif[c.name] = beh[c.proliferation] if c.proliferation is not None else None
        n = N[c.name]
        if prolif[c.name] is not None:
            factors_r = [beh[c.self_renewal]] if c.self_renewal is not None else [ZERO_D]
            if s_fb and isinstance(c.feedback, str):  # graded coupling: s^φ
                factors_r.append(f"pow({s_fb}, {p[c.feedback]})")
            elif s_fb and c.feedback == 1.0:
                factors_r.append(s_fb)
            elif s_fb and c.feedback:
                factors_r.append(f"pow({s_fb}, {_lit(c.feedback, 'dimensionless')})")
            if c.niche and nu:
                factors_r.append(nu)
            renew = w.ids.make(f"renew_{c.name}")
            w.assign(renew, f"self-renewal probability of {c.name}", " * ".join(factors_r),
                     "dimensionless")
            # one division: the mother becomes two daughters of its type (X -> 2 X); each
            # daughter then fails (dies), mutates, or differentiates unless it self-renews
            divisions = f"{prolif[c.name]} * {n}"
            reaction(f"division_{c.name}", divisions, {n: 1}, {n: 2})
            ok = kept = ""
            if c.division_failure is not None:
                law = f"2 dimensionless * {beh[c.division_failure]} * {divisions}"
                reaction(f"failed_division_{c.name}", law, {n: 1}, {})
                dying[c.name].append(law)
                ok = f" * ({ONE_D} - {beh[c.division_failure]})"
            if c.mutation:
                target, mut = c.mutation[0], beh[c.mutation[1]]
                reaction(f"mutation_{c.name}", f"2 dimensionless{ok} * {mut} * {divisions}",
                         {n: 1}, {N[target]: 1})
                kept = f" * ({ONE_D} - {mut})"
            committed = f"2 dimensionless * ({ONE_D} - {renew}){ok}{kept} * {divisions}"
            for target, fraction in c.differentiation:
                share = "" if fraction == ONE else f" * {p[fraction]}"
                reaction(f"differentiation_{c.name}_{target}", f"{committed}{share}",
                         {n: 1}, {N[target]: 1})
            if not c.differentiation:
                reaction(f"unassigned_daughters_{c.name}", committed, {n: 1}, {})
        loss = []
        if c.death is not None:
            death = beh[c.death]
            if c.homeostasis is not None:
                point, power = c.homeostasis
                h = w.ids.make(f"homeostasis_{c.name}")
                w.assign(h, f"homeostatic factor on the death rate of {c.name}",
                         f"pow({_at_least_zero(n)} / {p[point]}, "
                         f"{p[power]})", "dimensionless")
                death = f"{death} * {h}"
            loss.append(death)
        if c.drug_death is not None:  # added after homeostasis (compile.network)
            loss.append(beh[c.drug_death])
        if c.name in crowd_members and crowd:
            loss.append(crowd)
        if loss:
            law = f"({_sum(loss)}) * {n}"
            reaction(f"death_{c.name}", law, {n: 1}, {})
            dying[c.name].append(law)
        if c.exit is not None:
            reaction(f"exit_{c.name}", f"{beh[c.exit]} * {n}", {n: 1},
                     {N[c.exit_to]: 1} if c.exit_to is not None else {})
    for k in net.kills:
        law = f"{beh[k.behavior]} * {N[k.killer]} * {N[k.target]} / {n_total}"
        reaction(f"kill_{k.killer}_{k.target}", law, {N[k.target]: 1}, {}, (N[k.killer],))
        dying[k.target].append(law)

    # --- states relax to their rule-set targets
    for s in net.states:
        xs = x[f"state:{s.cell_type}.{s.var}"]
        label = f"{s.cell_type}_{s.var}"
        reaction(f"state_rise_{label}", f"{beh[s.target]} / {p[s.relaxation]}", {}, {xs: 1})
        reaction(f"state_relaxation_{label}", f"{xs} / {p[s.relaxation]}", {xs: 1}, {})

    # --- EV pools: secretion, uptake per route, fates; the ledger counts what moved
    r_ids: list[str] = []
    for ri, route in enumerate(net.uptakes):
        label = f"{net.pools[route.pool].name}->{route.target}#{ri}"
        mult = beh[route.multiplier]
        if ri in factors["uptake"]:
            mult = f"{mult} * {factors['uptake'][ri]}"
        r_ids.append(w.ids.make(f"r_{label}"))
        w.assign(r_ids[-1], f"uptake of route {label} (EVs per target cell per hour)",
                 f"{p[route.rate]} * {mult} * {ev_of(route)} / {vol_of(route)}", "per_hour")
    for pi, pl in enumerate(net.pools):
        led = {t: x[f"ledger:{pl.name}.{t}"]
               for t in ("secreted", "administered", "degraded", "cleared", "removed")}
        em, eb = Em[pi], Eb[pi]
        src = N[pl.source]
        flux = f"({_sum(dying[pl.source], 'per_hour')})" if pl.per_death else src
        reaction(f"secretion_{pl.name}", f"{beh[pl.secretion]} * {flux}", {},
                 {em if pl.compartment == MARROW else eb: 1, led["secreted"]: 1}, (src,))
        for ri, r in enumerate(net.uptakes):
            if r.pool == pi:
                target = N[r.target]
                reaction(f"uptake_{pl.name}_{r.target}_{ri}", f"{r_ids[ri]} * {target}",
                         {ev_of(r): 1}, {x[f"ledger:{pl.name}.uptake:{r.target}"]: 1},
                         (target,))
        vc = net.classes[pl.vesicle_class]
        reaction(f"degradation_{pl.name}", f"{p[vc.degradation]} * {em}", {em: 1},
                 {led["degraded"]: 1})
        reaction(f"drainage_{pl.name}", f"{p[vc.drainage]} * {em}", {em: 1}, {eb: 1})
        if vc.homing != ZERO or vc.homing in varying:
            reaction(f"homing_{pl.name}", f"{p[vc.homing]} * {eb}", {eb: 1}, {em: 1})
        reaction(f"clearance_{pl.name}", f"{p[vc.clearance]} * {eb}", {eb: 1},
                 {led["cleared"]: 1})
        if pi in factors["removal"]:
            reaction(f"removal_{pl.name}", f"{factors['removal'][pi]} * {eb}", {eb: 1},
                     {led["removed"]: 1})

    # --- internalized cargo per cell: delivery, decay, dilution by division
    for q in net.cargo_states:
        xq = x[f"cargo:{q.cell_type}.{q.cargo}"]
        delivered = [f"{p[net.pools[r.pool].cargo[q.cargo]]} * {r_ids[ri]}"
                     for ri, r in enumerate(net.uptakes)
                     if r.target == q.cell_type and q.cargo in net.pools[r.pool].cargo]
        label = f"{q.cell_type}_{q.cargo}"
        if delivered:
            reaction(f"cargo_delivery_{label}", _sum(delivered), {}, {xq: 1})
        reaction(f"cargo_decay_{label}", f"{p[q.decay]} * {xq}", {xq: 1}, {})
        if prolif[q.cell_type]:
            reaction(f"cargo_dilution_{label}", f"{prolif[q.cell_type]} * {xq}", {xq: 1}, {})

    # --- cytokines (per mL of marrow: the species' compartment) and drugs (plasma, nM)
    for name, decay in net.cytokines.items():
        xc = x[f"cytokine:{name}"]
        for pr in net.productions:
            if pr.cytokine == name:
                reaction(f"production_{pr.cell_type}_{name}",
                         f"{beh[pr.behavior]} * {N[pr.cell_type]}", {}, {xc: 1},
                         (N[pr.cell_type],))
        reaction(f"decay_{name}", f"{p[decay]} * {xc} * {MARROW}", {xc: 1}, {})
    for i, (name, elim) in enumerate(net.drugs.items()):
        xd = x[f"drug:{name}"]
        infusion = factors["infusion"].get(i)
        if infusion:
            reaction(f"infusion_{name}", f"{infusion} * {PLASMA} / {DRUG_EXTENT}", {},
                     {xd: 1})
        reaction(f"elimination_{name}", f"{p[elim]} * {xd} * {PLASMA} / {DRUG_EXTENT}",
                 {xd: 1}, {})


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
