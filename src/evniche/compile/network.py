"""The network representation every engine shares: species, behaviors, rules, fluxes.

A :class:`Network` is compiled from a resolved model. Engines never read YAML; they read
this. Every coefficient is kept as the *name* of a parameter so that engines build a
parameter vector (and sweeps change it) while the SBML export writes the same names.

Semantics (all rates per hour, counts dimensionless, volumes in mL):

* Behaviors. Each (cell type, behavior) has a base value; rules move it as PhysiCell
  does, generalized to rules with different saturation values: with h_i = (s_i/K_i)^n_i,
  ``u = base + Σ_up h_i·(sat_i - base) / (1 + Σ_up h_i)`` and then
  ``b = u + Σ_down h_j·(sat_j - u) / (1 + Σ_down h_j)``. When all up-rules (and all
  down-rules) share one saturation this is exactly PhysiCell's ``u = b0 + (bM - b0)·U``,
  ``b = u + (bm - u)·D``. Interventions then multiply the behavior.
* Hematopoiesis core (Marciniak-Czochra / Stiehl): a division of type i renews
  (two cells of i) with probability ``a = self_renewal · s^φ · ν^niche`` (φ in [0, 1]:
  the cell type's ``feedback`` coupling, true = 1, false = 0; niche 0 or 1), else
  gives two cells of ``differentiates_to`` — or, with several targets, shares them with
  the fractions φ_k (Σ φ_k = 1); s = 1/(1 + k·Σ feedback cells) and
  ν = 1/(1 + Σ niche members / capacity). Deaths, marrow exit, crowding deaths and
  kills by immune cells are first-order losses, and so is ``drug_death`` (a drug's
  cycle-non-specific kill): it is added to the death rate after homeostasis, and the rules
  on ``death`` (survival signals that lower basal apoptosis) do not act on it, where in
  PhysiCell's combination a ``decreases death`` rule would pull a drug's ``increases
  death`` rule back toward its own saturation. A share ``division_failure`` of divisions
  fails (both daughters die: an S-phase drug). Each daughter of a successful division is
  a mutant (``mutates_to``, e.g. a leukemic stem cell) with probability μ, whatever its
  fate would have been. So growth is ``(2·a·(1 - f)·(1 - μ) - 1)·p``, differentiation
  into target k ``2·(1 - a)·(1 - f)·(1 - μ)·φ_k·p`` and mutation ``2·(1 - f)·μ·p`` (all
  times N). Cells that exit go to ``exit_to`` when it is
  given (egress: marrow → blood), else they are lost. A type with ``homeostasis`` has its
  death rate (after rules and interventions) multiplied by ``(N / set_point)^power``, N its
  own count; exit, crowding and kills are not scaled. A kill needs killer and target in one
  compartment; a ``kills`` entry across compartments only defines the behavior
  ``kill:<target>`` (the killer's capacity, which rules change and readouts read).
* EV pools: one per secretion entry (source cell type × class × subset) and compartment.
  A secretion ``per: death`` releases its EVs (apoptotic bodies) per dying cell: its rate
  is the number per death times the type's death flux (deaths, crowding deaths, kills and
  the two daughters of each failed division).
  Secretion adds EVs where the source lives; in the marrow EVs are degraded, drained
  into blood and taken up; in blood they are cleared (liver/spleen), home back to the
  marrow, are taken up by blood cells and removed by interventions.
* Uptake of a pool by a target type: EVs per hour = clearance · multiplier · N_target ·
  E / V. Each EV delivers its cargo copies to the target's per-cell cargo, which decays
  and is halved at each division (dilution by the proliferation rate).
* Cell states relax to their rule-set target: dx/dt = (target - x) / τ.
* Cytokines: produced by cells into the marrow, first-order decay.
* Ledger per pool: initial + secreted + administered = present + taken up + degraded +
  cleared + removed, with taken up kept per target (the communication matrix).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..spec.resolve import ResolvedModel
from ..spec.signals import PLAIN_BEHAVIORS, split

#: the two compartments every model has; "clearance" (liver/spleen) is a sink in the ledger
MARROW, BLOOD = "marrow", "blood"
ONE = "__one__"  # structural constant 1 (base of multiplier behaviors)
ZERO = "__zero__"


@dataclass(frozen=True)
class Species:
    name: str
    kind: str  # cell | state | cargo | cytokine | ev | drug | ledger
    compartment: str
    initial: str  # parameter name of the initial value
    unit: str


@dataclass
class RuleTerm:
    signal: int  # index into Network.signals
    half_max: str
    hill_power: str
    saturation: str  # the value this rule pulls the behavior toward
    kb: tuple[str, ...] = ()


@dataclass
class Behavior:
    cell_type: str
    name: str
    base: str
    up: list[RuleTerm] = field(default_factory=list)
    down: list[RuleTerm] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.cell_type}.{self.name}"


@dataclass(frozen=True)
class Signal:
    kind: str
    argument: str
    cell_type: str  # the sensing cell type

    @property
    def key(self) -> str:
        return f"{self.cell_type}<{self.kind}:{self.argument}>"


@dataclass
class CellKinetics:
    name: str
    compartment: str
    lineage: str
    initial: str
    proliferation: int | None  # behavior index
    self_renewal: int | None
    death: int | None
    exit: int | None
    #: (target cell type, parameter name of the fraction of differentiated daughters it
    #: receives); one target has the fraction ONE
    differentiation: tuple[tuple[str, str], ...]
    #: coupling φ of self-renewal to the systemic feedback (renewal × s^φ): a number in
    #: [0, 1] (0: no feedback) or the name of a dimensionless parameter
    feedback: float | str
    niche: bool
    homeostasis: tuple[str, str] | None = None  # (set_point, power) parameter names
    exit_to: str | None = None  # cell type that exiting cells become (None: they are lost)
    division_failure: int | None = None  # behavior index: share of divisions that fail
    #: behavior index of the drug-induced death rate (1/h), added to the death rate after
    #: homeostasis; survival rules on ``death`` do not reach it
    drug_death: int | None = None
    #: (target cell type, behavior index of the mutation probability per daughter cell)
    mutation: tuple[str, int] | None = None


@dataclass
class Pool:
    name: str  # source.class[.subset]
    source: str
    vesicle_class: str
    subset: str | None
    compartment: str  # where the source lives and secretes
    secretion: int  # behavior index (EVs per cell per hour)
    cargo: dict[str, str]  # cargo -> parameter (copies per EV)
    markers: frozenset[str]
    ps_exposed: bool
    #: secretion per dying cell (the behavior is EVs per death) rather than per hour
    per_death: bool = False


@dataclass
class VesicleClassInfo:
    name: str
    degradation: str
    drainage: str
    clearance: str
    homing: str
    diameter: dict[str, str]  # median, gsd, min, max (µm, dimensionless gsd)
    markers: frozenset[str]
    ps_exposed: bool


@dataclass
class UptakeRoute:
    target: str
    pool: int
    rate: str  # clearance, mL/h per target cell
    multiplier: int  # behavior index (uptake:<class> of the target)


@dataclass
class StateVar:
    cell_type: str
    var: str
    target: int  # behavior index
    relaxation: str
    baseline: str


@dataclass
class CargoState:
    cell_type: str
    cargo: str
    decay: str


@dataclass
class Production:
    cell_type: str
    cytokine: str
    behavior: int


@dataclass
class Kill:
    killer: str
    target: str
    behavior: int


@dataclass
class Network:
    """The compiled model. ``params`` holds canonical values of every parameter name."""

    name: str
    digest: str
    disease: str
    params: dict[str, float]
    model: ResolvedModel
    volumes: dict[str, str]
    cells: list[CellKinetics]
    behaviors: list[Behavior]
    signals: list[Signal]
    states: list[StateVar]
    cargo_states: list[CargoState]
    cytokines: dict[str, str]  # name -> decay parameter
    productions: list[Production]
    classes: dict[str, VesicleClassInfo]
    pools: list[Pool]
    uptakes: list[UptakeRoute]
    kills: list[Kill]
    drugs: dict[str, str]  # name -> elimination parameter
    feedback: tuple[list[str], str] | None
    niche: tuple[list[str], str] | None
    crowding: tuple[list[str], str, str, str] | None
    species: list[Species] = field(default_factory=list)

    # ------------------------------------------------------------------ helpers
    def index(self) -> dict[str, int]:
        return {s.name: i for i, s in enumerate(self.species)}

    def cell_index(self) -> dict[str, int]:
        return {c.name: i for i, c in enumerate(self.cells)}

    def behavior_index(self) -> dict[str, int]:
        return {b.key: i for i, b in enumerate(self.behaviors)}

    @property
    def marrow_counted(self) -> list[str]:
        """Cell types that make up 'marrow cells' for blast % and fraction signals."""
        return [c.name for c in self.cells
                if c.compartment == MARROW and c.lineage in ("normal", "leukemic")]

    @property
    def leukemic(self) -> list[str]:
        return [c.name for c in self.cells if c.lineage == "leukemic"]

    def pool_targets(self, pool: int) -> list[str]:
        return sorted({u.target for u in self.uptakes if u.pool == pool})


def compile_model(model: ResolvedModel) -> Network:
    """Compile a resolved model into a Network."""
    spec = model.spec
    params = {name: p.value for name, p in model.params.resolved.items()}
    params[ONE] = 1.0
    params[ZERO] = 0.0

    behaviors: list[Behavior] = []
    bindex: dict[str, int] = {}

    def behavior(cell: str, name: str, base: str) -> int:
        key = f"{cell}.{name}"
        if key not in bindex:
            bindex[key] = len(behaviors)
            behaviors.append(Behavior(cell, name, base))
        return bindex[key]

    cells: list[CellKinetics] = []
    states: list[StateVar] = []
    productions: list[Production] = []
    kills: list[Kill] = []
    pools: list[Pool] = []
    classes = {
        name: VesicleClassInfo(
            name=name, degradation=_p(vc.degradation, f"vesicle_classes.{name}.degradation"),
            drainage=_p(vc.drainage, f"vesicle_classes.{name}.drainage"),
            clearance=_p(vc.clearance, f"vesicle_classes.{name}.clearance"),
            homing=_p(vc.homing, f"vesicle_classes.{name}.homing") if vc.homing else ZERO,
            diameter={k: _p(getattr(vc.diameter, k), f"vesicle_classes.{name}.diameter.{k}")
                      for k in ("median", "gsd", "min", "max")},
            markers=frozenset(vc.markers), ps_exposed=vc.ps_exposed)
        for name, vc in spec.vesicle_classes.items()
    }

    for name, ct in spec.cell_types.items():
        base = f"cell_types.{name}"

        def opt(attr: str, ct=ct, name=name, base=base) -> int | None:
            ref = getattr(ct, attr)
            return None if ref is None else behavior(name, attr, _p(ref, f"{base}.{attr}"))

        cells.append(CellKinetics(
            name=name, compartment=ct.compartment, lineage=ct.lineage,
            initial=_p(ct.initial, f"{base}.initial"), proliferation=opt("proliferation"),
            self_renewal=opt("self_renewal"), death=opt("death"), exit=opt("exit"),
            differentiation=_differentiation(ct.differentiates_to, base),
            feedback=_coupling(ct.feedback, f"{base}.feedback"), niche=ct.niche,
            homeostasis=(_p(ct.homeostasis.set_point, f"{base}.homeostasis.set_point"),
                         _p(ct.homeostasis.power, f"{base}.homeostasis.power"))
            if ct.homeostasis else None,
            exit_to=ct.exit_to, division_failure=opt("division_failure"),
            drug_death=opt("drug_death"),
            mutation=(ct.mutates_to.target, behavior(name, "mutation", _p(
                ct.mutates_to.rate, f"{base}.mutates_to.rate"))) if ct.mutates_to else None))
        for var, st in ct.states.items():
            baseline = _p(st.baseline, f"{base}.states.{var}.baseline")
            states.append(StateVar(name, var, behavior(name, f"state:{var}", baseline),
                                   _p(st.relaxation, f"{base}.states.{var}.relaxation"),
                                   baseline))
        for i, sec in enumerate(ct.secretion):
            path = f"{base}.secretion[{i}]"
            suffix = f"{sec.vesicle_class}.{sec.subset}" if sec.subset else sec.vesicle_class
            vc = classes[sec.vesicle_class]
            pools.append(Pool(
                name=f"{name}.{suffix}", source=name, vesicle_class=sec.vesicle_class,
                subset=sec.subset, compartment=ct.compartment,
                secretion=behavior(name, f"secretion:{suffix}", _p(sec.rate, f"{path}.rate")),
                cargo={c: _p(v, f"{path}.cargo.{c}") for c, v in sec.cargo.items()},
                markers=vc.markers | frozenset(sec.markers), ps_exposed=vc.ps_exposed,
                per_death=sec.per == "death"))
        for cytokine, rate in ct.produces.items():
            productions.append(Production(name, cytokine, behavior(
                name, f"production:{cytokine}", _p(rate, f"{base}.produces.{cytokine}"))))
        for i, kill in enumerate(ct.kills):
            b = behavior(name, f"kill:{kill.target}", _p(kill.rate, f"{base}.kills[{i}].rate"))
            # killing needs contact: a killer in another compartment than its target keeps
            # its killing capacity as a behavior (for rules and readouts) but kills nothing
            if spec.cell_types[kill.target].compartment == ct.compartment:
                kills.append(Kill(name, kill.target, b))

    compartment_of = {c.name: c.compartment for c in cells}
    uptakes: list[UptakeRoute] = []
    for i, up in enumerate(spec.uptake):
        mult = behavior(up.target, f"uptake:{up.vesicle_class}", ONE)
        for p, pool in enumerate(pools):
            if pool.vesicle_class != up.vesicle_class:
                continue
            if up.source not in ("*", pool.source):
                continue
            # a cell takes up EVs where it lives: marrow pools in the marrow, blood in blood
            uptakes.append(UptakeRoute(up.target, p, _p(up.rate, f"uptake[{i}].rate"), mult))

    # per-cell cargo tracked wherever some uptake route can deliver it
    cargo_pairs: dict[tuple[str, str], None] = {}
    for route in uptakes:
        for cargo in pools[route.pool].cargo:
            cargo_pairs[(route.target, cargo)] = None

    signals: list[Signal] = []
    sindex: dict[Signal, int] = {}
    for rule, path in model.rules:
        sig_name = split(rule.signal)
        sig = Signal(sig_name.kind, sig_name.argument, rule.cell_type)
        if sig not in sindex:
            sindex[sig] = len(signals)
            signals.append(sig)
        if sig.kind == "cargo":
            cargo_pairs.setdefault((rule.cell_type, sig.argument), None)
        beh_name = split(rule.behavior)
        key = f"{rule.cell_type}.{beh_name}"
        if key not in bindex:
            # plain behaviors exist if the cell type has them (checked in resolve); uptake
            # multipliers exist once an uptake route does
            raise AssertionError(f"behavior {key} was not created")
        b = behaviors[bindex[key]]
        term = RuleTerm(sindex[sig], _p(rule.half_max, f"{path}.half_max"),
                        _p(rule.hill_power, f"{path}.hill_power"),
                        _p(rule.saturation, f"{path}.saturation"), tuple(rule.kb))
        (b.up if rule.direction == "increases" else b.down).append(term)

    cargo_states = [CargoState(cell, cargo, _p(spec.cargo[cargo].decay, f"cargo.{cargo}.decay"))
                    for cell, cargo in cargo_pairs]

    hema = spec.hematopoiesis
    network = Network(
        name=spec.name, digest=model.digest, disease=spec.disease, params=params, model=model,
        volumes={n: _p(c.volume, f"compartments.{n}.volume")
                 for n, c in spec.compartments.items()},
        cells=cells, behaviors=behaviors, signals=signals, states=states,
        cargo_states=cargo_states,
        cytokines={n: _p(c.decay, f"cytokines.{n}.decay") for n, c in spec.cytokines.items()},
        productions=productions, classes=classes, pools=pools, uptakes=uptakes, kills=kills,
        drugs={n: _p(d.elimination, f"drugs.{n}.elimination") for n, d in spec.drugs.items()},
        feedback=(list(hema.feedback.from_), _p(hema.feedback.strength,
                  "hematopoiesis.feedback.strength")) if hema.feedback else None,
        niche=(list(hema.niche.members), _p(hema.niche.capacity, "hematopoiesis.niche.capacity"))
        if hema.niche else None,
        crowding=(list(hema.crowding.members),
                  _p(hema.crowding.capacity, "hematopoiesis.crowding.capacity"),
                  _p(hema.crowding.rate, "hematopoiesis.crowding.rate"),
                  _p(hema.crowding.power, "hematopoiesis.crowding.power"))
        if hema.crowding else None,
    )
    network.species = _species(network, compartment_of)
    return network


def _differentiation(target, base: str) -> tuple[tuple[str, str], ...]:
    """(target, fraction parameter) pairs of a ``differentiates_to`` entry."""
    if target is None:
        return ()
    if isinstance(target, str):
        return ((target, ONE),)
    return tuple((t, _p(f, f"{base}.differentiates_to.{t}")) for t, f in target.items())


def _coupling(ref, path: str) -> float | str:
    """The feedback coupling φ of a cell type: true → 1, false → 0, a number as given, or
    the name of its parameter."""
    if isinstance(ref, (bool, float)):
        return float(ref)
    return _p(ref, path)


def _p(ref, path: str) -> str:
    """The parameter name behind a reference: its name, or for an inline parameter the
    path where it stands (resolve registered it under that path)."""
    return ref if isinstance(ref, str) else path


def _species(net: Network, compartment_of: dict[str, str]) -> list[Species]:
    out: list[Species] = []
    for c in net.cells:
        out.append(Species(f"cell:{c.name}", "cell", c.compartment, c.initial, "cell"))
    for s in net.states:
        out.append(Species(f"state:{s.cell_type}.{s.var}", "state", compartment_of[s.cell_type],
                           s.baseline, "1"))
    for q in net.cargo_states:
        out.append(Species(f"cargo:{q.cell_type}.{q.cargo}", "cargo",
                           compartment_of[q.cell_type], ZERO, "copies/cell"))
    for name in net.cytokines:
        out.append(Species(f"cytokine:{name}", "cytokine", MARROW, ZERO, "1/mL"))
    for name in net.drugs:
        out.append(Species(f"drug:{name}", "drug", BLOOD, ZERO, "nM"))
    for pool in net.pools:
        for comp in (MARROW, BLOOD):
            out.append(Species(f"ev:{pool.name}@{comp}", "ev", comp, ZERO, "EV"))
    for pool in net.pools:
        for term in ("secreted", "administered", "degraded", "cleared", "removed"):
            out.append(Species(f"ledger:{pool.name}.{term}", "ledger", "", ZERO, "EV"))
        for target in net.pool_targets(net.pools.index(pool)):
            out.append(Species(f"ledger:{pool.name}.uptake:{target}", "ledger", "", ZERO, "EV"))
    return out


def plain(name: str) -> bool:
    return name in PLAIN_BEHAVIORS
