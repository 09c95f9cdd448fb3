"""The intervention catalog: what each intervention of the reviews does to the network.

An intervention is named in a model file (``interventions: [{name, start, options}]``),
on the command line (``--intervene NAME@DAY[:key=value,…]``, see
:func:`parse_intervention`) or in Python (a dict with ``name``, ``start`` in days or a
string with a unit, and ``options``). :func:`build_schedule` compiles the list into a
:class:`~evniche.compile.schedule.Schedule` of windows (multipliers of behaviors and uptake
routes, removal rates of pools from blood) and jumps (doses) that every engine applies.

Each intervention acts only where it acts in the reviews and the literature they cite, and
on every cell type unless ``targets`` restricts it — healthy cells included:

=====================  ===================================================================
secretion inhibitors   ``nsmase2_inhibitor`` (exosomes only), ``rab27_silencing``,
                       ``dimethyl_amiloride``, ``escrt_targeting``,
                       ``proton_pump_inhibitor``, and the experimental
                       control ``secretion_block`` (seed 000 "inhibition of secretion")
uptake inhibitors      ``heparin`` (all routes), ``annexin_v`` / ``diannexin`` (routes of
                       phosphatidylserine-exposing pools only)
removal                ``plasmapheresis``: an antibody column against one surface marker
chemotherapy           ``cytarabine``, ``etoposide``, ``imatinib`` (BCR-ABL1 TKI),
                       ``flt3_inhibitor``: doses of ``drug:<name>``; what the drug does is
                       written as rules of the model; ``imatinib_400mg``: the clinical
                       once-daily dose, continued, at the published steady-state trough
therapeutic EVs        ``therapeutic_ev`` (any pool), ``msc_ev``, ``mir34c_ev`` (engineered
                       MSC-EVs with miR-34c-5p, Lamp2b-IL3 and HCELL), ``drug_loaded_ev``,
                       ``nk_exosomes``; doses in µg EV protein per kg; where each applies:
                       :mod:`evniche.compile.therapies`
=====================  ===================================================================

Option values carry units (``"40 mL/min"``); a bare number is read in the option's default
unit. Every default is a parameter with provenance (see :data:`CATALOG` and
``docs/interventions.md``).
"""

from __future__ import annotations

import difflib
import math
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..errors import EvnicheError, ModelError
from ..spec.model import Intervention
from ..spec.parameters import Parameter
from ..units import DESCRIPTION, to_canonical
from .network import BLOOD, Network
from .schedule import Jump, Schedule, Window

SEED_000 = "seed: 000_0fd60b7714f79a13.txt"
SEED_003 = "seed: 003_94ab5ca458a47f16.txt"

#: option kinds beyond the unit kinds of :data:`evniche.units.CANONICAL`
TEXT, TEXTS, FLAG, COUNT = "text", "texts", "flag", "count"
#: a value whose dimension is known only when compiled (``set``: that of its parameter)
QUANTITY = "quantity"


@dataclass(frozen=True)
class Option:
    """One option of an intervention: its kind (a unit kind of ``evniche.units`` or text),
    its default in ``unit`` (None: required or 'not set') and where the default comes from."""

    name: str
    kind: str
    default: float | str | tuple[str, ...] | bool | None
    unit: str = ""
    source: str = ""
    range: tuple[float, float] | None = None
    doc: str = ""
    at_most: float | None = None


@dataclass(frozen=True)
class InterventionType:
    """A catalog entry: ``compile`` turns (network, start h, options, run end h) into
    windows and jumps. Options are canonical floats (h, 1/h, mL, nM, counts) or text."""

    name: str
    summary: str
    source: str
    options: tuple[Option, ...]
    compile: Callable[[Network, float, dict, float], list[Window | Jump]]
    aliases: tuple[str, ...] = ()

    def option(self, name: str) -> Option:
        return {o.name: o for o in self.options}[name]


# ----------------------------------------------------------------------------- options
def _efficacy(default: float, source: str, low: float, high: float, what: str) -> Option:
    return Option("efficacy", "dimensionless", default, "1", source, (low, high),
                  f"fraction by which {what} is reduced while the intervention acts",
                  at_most=1.0)


DURATION = Option("duration", "time", None, "day", "",
                  doc="how long it acts; default: to the end of the run")
TARGETS = Option("targets", TEXTS, None, doc="cell types it acts on (default: every cell type, "
                 "healthy ones included); 'leukemic', 'normal', 'stroma', 'immune' name "
                 "all cell types of that lineage")


def _classes_option(default: tuple[str, ...], source: str) -> Option:
    return Option("classes", TEXTS, default, source=source,
                  doc="vesicle classes whose secretion it lowers (a class or an is_a parent)")


# ----------------------------------------------------------------------------- helpers
def _norm(text: str) -> str:
    return re.sub(r"[\s_\-.]", "", text).casefold()


def _class_matches(net: Network, name: str, wanted: Iterable[str]) -> bool:
    """Whether vesicle class ``name`` is, or is-a (within the model), one of ``wanted``."""
    wanted_n = {_norm(w) for w in wanted}
    if "all" in wanted_n or "*" in wanted_n:
        return True
    seen: set[str] = set()
    classes = net.model.spec.vesicle_classes
    current: str | None = name
    while current and current not in seen:
        seen.add(current)
        if _norm(current) in wanted_n:
            return True
        current = classes[current].is_a if current in classes else None
    return False


def _cell_types(net: Network, targets, where: str) -> set[str]:
    """Expand ``targets`` (cell types or lineage names) to cell-type names; None = all."""
    names = {c.name for c in net.cells}
    if targets is None:
        return names
    out: set[str] = set()
    lineages = {c.lineage for c in net.cells}
    for t in targets:
        if t in names:
            out.add(t)
        elif t in lineages or t in ("normal", "leukemic", "stroma", "immune", "blood"):
            out |= {c.name for c in net.cells if c.lineage == t}
        else:
            raise ModelError(f"'{t}' is neither a cell type of the model nor a lineage"
                             f"{_close(t, names)}", f"{where}.options.targets")
    return out


def _window(start: float, opts: dict, t_end: float, label: str, **kw) -> Window:
    end = t_end if opts.get("duration") is None else min(start + opts["duration"], t_end)
    return Window(start=start, end=end, label=label, **kw)


def _close(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def _doses(start: float, opts: dict, t_end: float) -> list[float]:
    """Dose times (h): ``doses`` doses every ``interval`` (> 0) from ``start``, within the
    run (the doses after its end are never listed, however many are asked for)."""
    times: list[float] = []
    for k in range(int(opts["doses"])):
        t = start + k * opts["interval"]
        if t >= t_end:
            break
        times.append(t)
    return times


# ----------------------------------------------------------------------------- secretion
def _secretion(name: str, opts: dict, net: Network, start: float, t_end: float) -> list:
    cells = _cell_types(net, opts.get("targets"), name)
    pools = opts.get("pools")
    names = [p.name for p in net.pools]
    for p in pools or ():
        if p not in names:
            raise ModelError(f"the model has no EV pool '{p}'{_close(p, names)}",
                             f"{name}.options.pools")
    hit = {p.secretion for p in net.pools
           if p.source in cells and _class_matches(net, p.vesicle_class, opts["classes"])
           and (pools is None or p.name in pools)}
    if not hit:
        classes = sorted(net.classes)
        raise ModelError(
            f"no EV pool of the model is secreted as {', '.join(opts['classes'])} by the "
            f"cell types it targets; the model's vesicle classes are {', '.join(classes)} — "
            "declare a class with that name or 'is_a' to use this intervention",
            f"{name}.options.classes")
    factor = 1.0 - opts["efficacy"]
    return [_window(start, opts, t_end, name, behavior_factor={i: factor for i in hit})]


def _secretion_type(name: str, summary: str, source: str, efficacy: Option,
                    classes: tuple[str, ...], classes_source: str,
                    aliases: tuple[str, ...] = (), extra: tuple[Option, ...] = ()
                    ) -> InterventionType:
    return InterventionType(
        name, summary, source,
        (efficacy, _classes_option(classes, classes_source), TARGETS, DURATION, *extra),
        lambda net, start, opts, t_end: _secretion(name, opts, net, start, t_end), aliases)


# ----------------------------------------------------------------------------- uptake
def _uptake(name: str, opts: dict, net: Network, start: float, t_end: float,
            ps_only: bool) -> list:
    cells = _cell_types(net, opts.get("targets"), name)
    hit = [i for i, r in enumerate(net.uptakes)
           if r.target in cells and (not ps_only or net.pools[r.pool].ps_exposed)]
    if not hit:
        what = "of phosphatidylserine-exposing EVs (a vesicle class with ps_exposed: true)" \
            if ps_only else ""
        raise ModelError(f"the model has no uptake route {what} into the targeted cell types; "
                         "declare one in 'uptake' to use this intervention", f"{name}")
    factor = 1.0 - opts["efficacy"]
    return [_window(start, opts, t_end, name, uptake_factor={i: factor for i in hit})]


# ----------------------------------------------------------------------------- removal
def _plasmapheresis(opts: dict, net: Network, start: float, t_end: float) -> list:
    marker = str(opts["marker"])
    hit = [i for i, p in enumerate(net.pools) if _norm(marker) in {_norm(m) for m in p.markers}]
    if not hit:
        markers = sorted({m for p in net.pools for m in p.markers})
        raise ModelError(
            f"no EV pool of the model carries marker '{marker}'; markers present: "
            f"{', '.join(markers) or 'none'} — declare it in a vesicle class's or a "
            "secretion's 'markers'", "plasmapheresis.options.marker")
    plasma = opts.get("plasma_volume")
    if plasma is None:
        # the blood compartment holds the plasma: its EV concentrations are per mL of plasma
        plasma = net.params[net.volumes[BLOOD]]
    if not plasma > 0:
        raise ModelError("plasma volume must be positive", "plasmapheresis.options.plasma_volume")
    rate = opts["flow"] / plasma * opts["efficiency"]  # 1/h: share of plasma EVs captured
    out = []
    for k in range(int(opts["sessions"])):
        a = start + k * opts["interval"]
        if a >= t_end:
            break
        out.append(Window(a, min(a + opts["session_length"], t_end),
                          removal_rate={i: rate for i in hit},
                          label=f"plasmapheresis anti-{marker} session {k + 1}"))
    return out


# ----------------------------------------------------------------------------- drugs
def _chemo(name: str, opts: dict, net: Network, start: float, t_end: float) -> list:
    drug = str(opts.get("drug") or name)
    if drug not in net.drugs:
        raise ModelError(
            f"the model declares no drug '{drug}'; add it under 'drugs:' (with its "
            f"elimination rate) and rules on signal 'drug:{drug}' for what it does"
            f"{_close(drug, net.drugs)}", f"{name}.options.drug")
    if not any(s.kind == "drug" and s.argument == drug for s in net.signals):
        warnings.warn(f"no rule of model '{net.name}' senses 'drug:{drug}': {name} will "
                      "change nothing", stacklevel=3)
    return [Jump(t, f"drug:{drug}", opts["dose"], label=f"{name} dose {k + 1}")
            for k, t in enumerate(_doses(start, opts, t_end))]


def _chemo_type(name: str, summary: str, dose: Option, doses: float, interval_days: float,
                schedule_source: str) -> InterventionType:
    return InterventionType(name, summary, f"{SEED_000} (chemotherapy and EV-mediated "
                            "resistance); seed: 003_94ab5ca458a47f16.txt [109, 110, 113]",
                            (dose,
                             Option("doses", COUNT, doses, "1", schedule_source,
                                    (1, max(doses, 90)), "number of doses"),
                             Option("interval", "time", interval_days, "day", schedule_source,
                                    (0.25, 7), "time between doses"),
                             Option("drug", TEXT, name,
                                    doc="the model's drug (under 'drugs:') to dose")),
                            lambda net, start, opts, t_end: _chemo(name, opts, net, start,
                                                                   t_end))


# ----------------------------------------------------------------------------- catalog
_NSMASE_EFF = _efficacy(0.5, "assumption: GW4869 lowers exosome release by a cell-type "
                        "dependent amount (research: ev_parameters.md I, flagged U); "
                        "range 0.2-0.9", 0.2, 0.9, "exosome secretion")
_RAB27_EFF = _efficacy(0.7, "assumption: Rab27a knock-down 'significantly delayed leukemia' "
                       "(Kumar 2018, research: ev_parameters.md I), % reduction of secretion "
                       "U (Ostrowski 2010, doi:10.1038/ncb2000); range 0.4-0.95",
                       0.4, 0.95, "exosome secretion")
_DMA_EFF = _efficacy(0.5, "assumption: seed 000 [8, 17] lists dimethyl amiloride among "
                     "secretion inhibitors without a magnitude; range 0.2-0.9", 0.2, 0.9,
                     "EV secretion")
_ESCRT_EFF = _efficacy(0.5, "assumption: seed 000 [8, 17] names ESCRT targeting without a "
                       "magnitude (the VPS33B study, seed 003 [123], is retracted and not "
                       "used); range 0.2-0.9", 0.2, 0.9, "exosome secretion")
_HEPARIN_EFF = _efficacy(0.6, "assumption: heparin 'greatly diminished' (Atai 2013) or "
                         "'partially blocked' (Franzen 2014) EV uptake, % U "
                         "(research: ev_parameters.md E); range 0.3-0.9", 0.3, 0.9,
                         "EV uptake")
_PS_EFF = _efficacy(0.8, "assumption: annexin V/diannexin bind exposed phosphatidylserine "
                    "(seed 000 [8, 17]); fraction of PS+ uptake blocked U; range 0.5-0.95",
                    0.5, 0.95, "uptake of PS-exposing EVs")
_EXO = "assumption: acts on multivesicular-body (ESCRT/ceramide) biogenesis, i.e. exosomes " \
       "(DESIGN: exosome = MVB/ESCRT origin; Trajkovic 2008 for nSMase2)"

CATALOG: dict[str, InterventionType] = {}


def _add(t: InterventionType) -> None:
    CATALOG[t.name] = t


_add(_secretion_type("nsmase2_inhibitor", "neutral sphingomyelinase-2 inhibitor (GW4869): "
                     "lowers exosome secretion; microvesicles untouched",
                     f"{SEED_000} [8, 17]", _NSMASE_EFF, ("exosome",), _EXO,
                     aliases=("gw4869", "nsmase2")))
_add(_secretion_type("rab27_silencing", "RAB27a/b silencing: MVB docking, so exosome "
                     "secretion", f"{SEED_000} [8, 17]; doi:10.1038/ncb2000", _RAB27_EFF,
                     ("exosome",), _EXO, aliases=("rab27", "rab27a")))
_add(_secretion_type("dimethyl_amiloride", "dimethyl amiloride: lowers EV secretion",
                     f"{SEED_000} [8, 17]", _DMA_EFF, ("exosome",),
                     "assumption: dimethyl amiloride was shown to lower exosome release "
                     "(H+/Na+ and Na+/Ca2+ channel block); extend 'classes' to test "
                     "microvesicles", aliases=("dma", "amiloride")))
_add(_secretion_type("escrt_targeting", "ESCRT protein / GTPase targeting: exosome "
                     "biogenesis", f"{SEED_000} [8, 17]", _ESCRT_EFF, ("exosome",), _EXO,
                     aliases=("escrt",)))
_add(_secretion_type("secretion_block", "experimental control: no EVs of the chosen classes "
                     "from the chosen cell types (efficacy 1 by definition)", "definition",
                     Option("efficacy", "dimensionless", 1.0, "1", "definition: a knock-out "
                            "control", (0.0, 1.0), "fraction of secretion removed",
                            at_most=1.0),
                     ("all",), "definition: every class unless given",
                     extra=(Option("pools", TEXTS, None, doc="only these pools "
                                   "(SOURCE.CLASS[.SUBSET]); default: every pool of the "
                                   "chosen classes and cell types"),)))
_add(InterventionType(
    "heparin", "heparin: blocks heparan-sulfate-dependent binding, so uptake of every EV",
    f"{SEED_000} [8, 17]", (_HEPARIN_EFF, TARGETS, DURATION),
    lambda net, s, o, e: _uptake("heparin", o, net, s, e, ps_only=False)))
for _name in ("annexin_v", "diannexin"):
    _add(InterventionType(
        _name, f"{_name.replace('_', ' ')}: masks phosphatidylserine, so only uptake of "
        "PS-exposing EVs (e.g. microvesicles, apoptotic bodies)", f"{SEED_000} [8, 17]",
        (_PS_EFF, TARGETS, DURATION),
        (lambda n: lambda net, s, o, e: _uptake(n, o, net, s, e, ps_only=True))(_name)))
_add(InterventionType(
    "plasmapheresis", "plasmapheresis through an antibody column: removes blood EVs that "
    "carry one marker (e.g. PD-L1); rate = flow / plasma volume × capture efficiency, "
    "during sessions", f"{SEED_000} [8, 17, 54, 55]",
    (Option("marker", TEXT, None, doc="surface marker the column's antibody binds "
            "(required), e.g. PD-L1"),
     Option("flow", "clearance", 40.0, "mL/min", "assumption: plasma flow through an "
            "immunoadsorption column in therapeutic apheresis; range 20-60 mL/min",
            (20, 60), "plasma flow through the column"),
     Option("efficiency", "dimensionless", 0.9, "1", "assumption: share of marker-positive "
            "EVs a passage captures; range 0.5-0.99", (0.5, 0.99),
            "capture efficiency per passage", at_most=1.0),
     Option("plasma_volume", "volume", None, "mL", "derived: the volume of the model's blood "
            "compartment, which holds plasma (EV concentrations are per mL of plasma)",
            doc="plasma volume the column filters (default: the model's blood compartment)"),
     Option("session_length", "time", 2.5, "h", "assumption: a therapeutic apheresis "
            "session; range 2-4 h", (2, 4), "length of one session"),
     Option("sessions", COUNT, 5, "1", "assumption: a course of 5 sessions; range 1-10",
            (1, 10), "number of sessions"),
     Option("interval", "time", 2.0, "day", "assumption: every other day; range 1-7 days",
            (1, 7), "time between session starts")),
    lambda net, s, o, e: _plasmapheresis(o, net, s, e), aliases=("apheresis", "ev_column")))

_add(_chemo_type("cytarabine", "cytarabine (7+3 induction): daily doses × 7",
                 Option("dose", "molar", 1.0, "uM", "assumption: plasma cytarabine of "
                        "0.1-10 uM during 100-200 mg/m2/day infusion; range 0.1-10 uM",
                        (0.1, 10), "plasma concentration added per dose"),
                 7, 1.0, "assumption: 7+3 induction, cytarabine daily for 7 days"))
_add(_chemo_type("etoposide", "etoposide: daily doses × 5",
                 Option("dose", "molar", 20.0, "uM", "assumption: peak plasma etoposide "
                        "after 100 mg/m2; range 5-50 uM", (5, 50),
                        "plasma concentration added per dose"),
                 5, 1.0, "assumption: etoposide days 1-5 (ADE-like)"))
_add(_chemo_type("imatinib", "imatinib (BCR-ABL1 TKI): daily doses",
                 Option("dose", "molar", 3.0, "uM", "assumption: plasma imatinib of "
                        "1-5 uM at 400 mg/day; range 1-5 uM", (1, 5),
                        "plasma concentration added per dose"),
                 56, 1.0, "assumption: continuous daily TKI, 8 weeks"))
_add(_chemo_type("flt3_inhibitor", "FLT3 inhibitor (e.g. gilteritinib): daily doses",
                 Option("dose", "molar", 0.5, "uM", "assumption: plasma gilteritinib "
                        "~0.3-1 uM at 120 mg/day; range 0.1-2 uM", (0.1, 2),
                        "plasma concentration added per dose"),
                 56, 1.0, "assumption: continuous daily FLT3 inhibitor, 8 weeks"))
CATALOG["bcr_abl1_tki"] = CATALOG["imatinib"]


# ----------------------------------------------------------------------------- AML courses
# Plasma levels come from published pharmacokinetics (docs/sources/clinical-course.md):
# a continuous infusion is a zero-order input that holds the plasma level at its steady
# state Css, so the input rate is Css × the model's elimination rate of the drug.
FLEMING_1995 = ("doi:10.1007/BF00686192 (Fleming 1995, CALGB: cytarabine 200 mg/m2/day by "
                "continuous infusion gives a steady-state plasma level of 0.30 +- 0.13 uM, "
                "n = 265)")
HIDAC_LEVEL = ("doi:10.1002/1097-0142(19821001)50:7<1248::aid-cncr2820500705>3.0.co;2-5 "
               "(Cancer 1982: 1.8-3 g/m2 over 2 h gives 32-97 uM at steady state); "
               "Lopez 1985, J Neurooncol 3:119 (30 ug/mL, ~123 uM, after 3 g/m2)")
DAUNORUBICIN_LEVEL = ("derived: 60 mg/m2 × 1.8 m2 over a volume of distribution of 39 L/kg × "
                      "70 kg (Swiss label, reg. 34092) and 527.5 g/mol: 0.040 mg/L = 75 nM "
                      "just after a dose; range for 45-90 mg/m2 (CR 72 vs 82.5 %, "
                      "Lee 2011, Blood 118:3832)")


def _drug_index(name: str, net: Network, drug: str) -> int:
    if drug not in net.drugs:
        raise ModelError(
            f"the model declares no drug '{drug}'; add it under 'drugs:' (with its "
            f"elimination rate) and rules on signal 'drug:{drug}' for what it does"
            f"{_close(drug, net.drugs)}", f"{name}.options")
    return list(net.drugs).index(drug)


def _infusion(name: str, drug: str, level: float, spans: list[tuple[float, float]],
              net: Network, t_end: float) -> list[Window]:
    """Windows infusing ``drug`` at the rate that holds plasma ``level`` (nM) at steady
    state, over each (start, end) span in hours that begins within the run."""
    i = _drug_index(name, net, drug)
    rate = level * net.params[net.drugs[drug]]
    return [Window(a, min(b, t_end), infusion={i: rate}, label=f"{name} {drug} infusion")
            for a, b in spans if a < t_end]


def _induction(opts: dict, net: Network, start: float, t_end: float) -> list:
    """7+3: cytarabine by continuous infusion for 7 days, daunorubicin on days 1-3."""
    out: list[Window | Jump] = _infusion(
        "induction_7_3", "cytarabine", opts["cytarabine_level"],
        [(start, start + opts["infusion_days"])], net, t_end)
    _drug_index("induction_7_3", net, "daunorubicin")
    out += [Jump(start + k * 24.0, "drug:daunorubicin", opts["daunorubicin_level"],
                 label=f"induction_7_3 daunorubicin dose {k + 1}")
            for k in range(int(opts["daunorubicin_doses"])) if start + k * 24.0 < t_end]
    return out


def _consolidation(opts: dict, net: Network, start: float, t_end: float) -> list:
    """High-dose cytarabine: cycles of infusions every 12 h on days 1, 3 and 5."""
    spans = []
    for c in range(int(opts["cycles"])):
        first = start + c * opts["cycle_interval"]
        for day in (0, 2, 4):
            for half in (0, 12):
                a = first + day * 24.0 + half
                spans.append((a, a + opts["infusion_hours"]))
    return _infusion("consolidation", "cytarabine", opts["cytarabine_level"], spans, net,
                     t_end)


_add(InterventionType(
    "cytarabine_infusion", "cytarabine by continuous infusion at a steady plasma level",
    FLEMING_1995,
    (Option("level", "molar", 300.0, "nM", FLEMING_1995, (100, 600),
            "steady-state plasma cytarabine during the infusion"),
     Option("duration", "time", 7.0, "day", "Fleming 1995 (7-day infusion of 7+3)", (1, 14),
            "length of the infusion")),
    lambda net, s, o, e: _infusion("cytarabine_infusion", "cytarabine", o["level"],
                                   [(s, s + o["duration"])], net, e)))
_add(_chemo_type("daunorubicin", "daunorubicin: daily doses × 3 (the '3' of 7+3)",
                 Option("dose", "molar", 75.0, "nM", DAUNORUBICIN_LEVEL, (55, 115),
                        "plasma concentration added per dose"),
                 3, 1.0, "Lee 2011, Blood 118:3832; Burnett 2015, Blood 125:3878 "
                 "(daunorubicin on days 1-3 of 7+3)"))
_add(InterventionType(
    "induction_7_3", "7+3 induction: cytarabine infusion for 7 days and daunorubicin on "
    "days 1-3", f"{FLEMING_1995}; Lee 2011, Blood 118:3832",
    (Option("cytarabine_level", "molar", 300.0, "nM", FLEMING_1995, (100, 600),
            "steady-state plasma cytarabine during the infusion"),
     Option("infusion_days", "time", 7.0, "day", "7+3: cytarabine days 1-7", (5, 10),
            "length of the cytarabine infusion"),
     Option("daunorubicin_level", "molar", 75.0, "nM", DAUNORUBICIN_LEVEL, (55, 115),
            "plasma daunorubicin added per dose"),
     Option("daunorubicin_doses", COUNT, 3, "1", "7+3: daunorubicin days 1-3", (1, 3),
            "number of daily daunorubicin doses")),
    lambda net, s, o, e: _induction(o, net, s, e), aliases=("seven_plus_three", "7+3")))
_add(InterventionType(
    "consolidation", "high-dose cytarabine consolidation: cycles of 3 g/m2 infusions every "
    "12 h on days 1, 3 and 5", HIDAC_LEVEL,
    (Option("cytarabine_level", "molar", 60.0, "uM", HIDAC_LEVEL, (30, 120),
            "plasma cytarabine during each high-dose infusion"),
     Option("infusion_hours", "time", 3.0, "h", "assumption: 1-3 h infusions of 3 g/m2 "
            "(Lopez 1985: 1 h; Cancer 1982: 2 h); range 1-3 h", (1, 3),
            "length of each infusion"),
     Option("cycles", COUNT, 3, "1", "assumption: 3-4 high-dose cytarabine cycles are usual "
            "after 7+3; range 1-4", (1, 4), "number of cycles"),
     Option("cycle_interval", "time", 35.0, "day", "assumption: a cycle every 4-6 weeks, "
            "after count recovery; range 28-42 days", (28, 42), "time between cycle starts")),
    lambda net, s, o, e: _consolidation(o, net, s, e), aliases=("hidac",)))

# ----------------------------------------------------------------------------- CML
# imatinib 400 mg once daily by mouth, the standard first-line dose (ELN 2013): each dose
# adds the same plasma level, and first-order elimination between doses gives a steady
# state whose trough is the published one (docs/sources/cml.md).
LARSON_2008 = ("doi:10.1182/blood-2007-10-116475 (Larson 2008, IRIS: steady-state trough of "
               "imatinib 400 mg once daily 979 +- 530 ng/mL, n = 351; / 493.6 g/mol = 1.98 uM)")
PENG_2005 = ("doi:10.2165/00003088-200544090-00001 (Peng 2005: bioavailability 98 %, "
             "terminal half-life ~18 h; at 400 mg once daily 2.6 +- 0.8 ug/mL at peak, "
             "1.2 +- 0.8 ug/mL at trough)")


def _daily_oral(name: str, opts: dict, net: Network, start: float, t_end: float) -> list:
    """Once-daily oral doses of ``opts['drug']`` from ``start`` to the end of the run (or of
    ``duration``). With the model's elimination rate k, each dose adds
    trough × (1 − e^(−k·24 h)) / e^(−k·24 h), so the steady-state trough is ``trough``."""
    drug = str(opts["drug"])
    _drug_index(name, net, drug)
    keep = math.exp(-net.params[net.drugs[drug]] * 24.0)  # share left after a day
    dose = opts["trough"] * (1.0 - keep) / keep
    end = t_end if opts.get("duration") is None else min(start + opts["duration"], t_end)
    out: list[Window | Jump] = []
    t, k = start, 0
    while t < end:
        out.append(Jump(t, f"drug:{drug}", dose, label=f"{name} dose {k + 1}"))
        k += 1
        t = start + 24.0 * k
    return out


_add(InterventionType(
    "imatinib_400mg", "imatinib 400 mg by mouth once daily, continued (first-line CML "
    "therapy): daily doses that give the published steady-state trough",
    f"{LARSON_2008}; {PENG_2005}",
    (Option("trough", "molar", 1.98, "uM", LARSON_2008, (0.91, 3.06),
            "steady-state plasma trough (range: mean +- 1 SD of IRIS, 449-1509 ng/mL)"),
     Option("duration", "time", None, "day", "",
            doc="how long it is given; default: to the end of the run"),
     Option("drug", TEXT, "imatinib", doc="the model's drug (under 'drugs:') to dose")),
    lambda net, s, o, e: _daily_oral("imatinib_400mg", o, net, s, e),
    aliases=("imatinib_daily", "imatinib_400")))


# ----------------------------------------------------------------------------- parameters
def _parameter(name: str, opts: dict, net: Network) -> str:
    """The model parameter an option names (a ``parameters`` entry or an inline
    parameter's path, e.g. ``cell_types.HSC.proliferation``)."""
    wanted = opts.get("parameter")
    if not wanted:
        raise ModelError(f"'{name}' needs option parameter (the name of a model parameter)",
                         f"{name}.options.parameter")
    known = [n for n in net.params if n in net.model.params.resolved]
    if wanted not in known:
        raise ModelError(f"the model has no parameter '{wanted}'{_close(wanted, known)}",
                         f"{name}.options.parameter")
    return wanted


def _scale(opts: dict, net: Network, start: float, t_end: float) -> list:
    param = _parameter("scale", opts, net)
    if opts.get("factor") is None:
        raise ModelError("'scale' needs option factor (a number >= 0)", "scale.options.factor")
    return [_window(start, opts, t_end, f"scale {param} × {opts['factor']:g}",
                    parameter_factor={param: opts["factor"]})]


def _set(opts: dict, net: Network, start: float, t_end: float) -> list:
    param = _parameter("set", opts, net)
    raw = opts.get("value")
    rp = net.model.params.resolved[param]
    where = "set.options.value"
    if raw is None:
        raise ModelError(f"'set' needs option value (a number with a unit, e.g. "
                         f"'{rp.value_in_unit:g} {rp.unit}')", where)
    if isinstance(raw, Parameter):
        value = to_canonical(float(raw.value), raw.unit, rp.kind, where)
        raw = f"{raw.value:g} {raw.unit}"
    elif raw in net.model.params.resolved and raw != param:
        other = net.model.params.resolved[raw]
        if other.kind != rp.kind:
            raise ModelError(f"parameter '{raw}' is {units_description(other.kind)}; "
                             f"'{param}' needs {units_description(rp.kind)}", where)
        value = net.params[raw]
    else:
        m = _QUANTITY.match(raw)
        if not m:
            raise ModelError(f"expected a number with a unit (e.g. '{rp.value_in_unit:g} "
                             f"{rp.unit}') or a parameter name, got '{raw}'", where)
        # a bare number is in the unit the model writes the parameter in
        value = to_canonical(float(m.group(1)), m.group(2).strip() or rp.unit, rp.kind, where)
    if not math.isfinite(value) or value < 0:
        raise ModelError(f"expected a finite value >= 0, got '{raw}'", where)
    bare = _QUANTITY.match(raw)
    shown = f"{raw} {rp.unit}" if bare and not bare.group(2).strip() else raw
    return [_window(start, opts, t_end, f"set {param} = {shown}",
                    parameter_value={param: value})]


def units_description(kind: str) -> str:
    return DESCRIPTION[kind]


_PARAMETER = Option("parameter", TEXT, None, doc="the model parameter it changes: a name "
                    "under 'parameters' (or an inline parameter's path, e.g. "
                    "cell_types.HSC.proliferation)")
_add(InterventionType(
    "scale", "multiplies one model parameter by a factor while it acts; parameters "
    "defined by a formula over it follow", "definition: a scenario setting",
    (_PARAMETER,
     Option("factor", "dimensionless", None, "1", doc="the factor (>= 0) the parameter "
            "is multiplied by"),
     DURATION),
    lambda net, s, o, e: _scale(o, net, s, e), aliases=("scale_parameter",)))
_add(InterventionType(
    "set", "replaces the value of one model parameter while it acts; parameters defined "
    "by a formula over it follow", "definition: a scenario setting",
    (_PARAMETER,
     Option("value", QUANTITY, None, doc="the new value with its unit (e.g. '0.02 1/day'; a "
            "bare number is in the unit the model writes the parameter in) or the name of "
            "another parameter of the same dimension"),
     DURATION),
    lambda net, s, o, e: _set(o, net, s, e), aliases=("set_parameter",)))


# The EV therapies (doses in µg EV protein per kg, the product each brings, where each
# applies) and proton pump inhibitors: evniche.compile.therapies registers them.
from . import therapies as _therapies  # noqa: E402,F401

ALIASES: dict[str, str] = {a: t.name for t in CATALOG.values() for a in t.aliases}


def lookup(name: str) -> InterventionType:
    """The catalog entry for ``name`` (or an alias); ModelError listing the catalog."""
    key = _norm(name)
    for n in CATALOG:
        if _norm(n) == key:
            return CATALOG[n]
    for a, n in ALIASES.items():
        if _norm(a) == key:
            return CATALOG[n]
    raise ModelError(f"unknown intervention '{name}'{_close(name, list(CATALOG) + list(ALIASES))}"
                     f"; the catalog has {', '.join(sorted(CATALOG))}")


# ----------------------------------------------------------------------------- values
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*)$")


def _value(opt: Option, raw, where: str, net: Network):
    """Canonical value of option ``opt`` from ``raw`` (number, 'number unit', Parameter,
    parameter name, text, list or bool)."""
    if opt.kind == TEXT:
        if not isinstance(raw, str):
            raise ModelError(f"expected a name, got {raw!r}", where)
        return raw
    if opt.kind == QUANTITY:
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Parameter)):
            raise ModelError(f"expected a number with a unit or a parameter name, got {raw!r}",
                             where)
        if isinstance(raw, Parameter) and raw.value is None:
            raise ModelError("an inline parameter of an intervention needs a value", where)
        return str(raw) if isinstance(raw, (int, float)) else raw
    if opt.kind == TEXTS:
        if isinstance(raw, str):
            return tuple(x.strip() for x in re.split(r"[;+|]", raw) if x.strip())
        if isinstance(raw, (list, tuple)) and all(isinstance(x, str) for x in raw):
            return tuple(raw)
        raise ModelError(f"expected a list of names, got {raw!r}", where)
    if opt.kind == FLAG:
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "yes", "1", "false", "no", "0"):
            return str(raw).lower() in ("true", "yes", "1")
        raise ModelError(f"expected true or false, got {raw!r}", where)
    kind = "dimensionless" if opt.kind == COUNT else opt.kind
    if isinstance(raw, bool):
        raise ModelError(f"expected {DESCRIPTION[kind]}, got {raw!r}", where)
    if isinstance(raw, Parameter):
        if raw.value is None:
            raise ModelError("an inline parameter of an intervention needs a value", where)
        value = to_canonical(raw.value, raw.unit, kind, where)
    elif isinstance(raw, (int, float)):
        value = to_canonical(float(raw), opt.unit or "1", kind, where)
    elif isinstance(raw, str):
        params = net.model.spec.parameters
        if raw in params:
            p = params[raw]
            value = net.params[raw] if p.value is None else to_canonical(p.value, p.unit, kind,
                                                                         where)
            if p.value is None and raw not in net.params:
                raise ModelError(f"parameter '{raw}' is not resolved", where)
        else:
            m = _QUANTITY.match(raw)
            if not m:
                wanted = "a whole number" if opt.kind == COUNT else \
                    f"a number with a unit (e.g. 1 {opt.unit or 'h'})"
                raise ModelError(f"expected {wanted} or a parameter name, got '{raw}'", where)
            value = to_canonical(float(m.group(1)), m.group(2).strip() or opt.unit or "1",
                                 kind, where)
    else:
        raise ModelError(f"expected {DESCRIPTION[kind]}, got {raw!r}", where)
    if not math.isfinite(value) or value < 0:
        raise ModelError(f"expected a finite value >= 0, got {raw!r}", where)
    if opt.kind == COUNT and value != int(value):
        raise ModelError(f"expected a whole number, got {raw!r}", where)
    _within_range(opt, kind, value, raw, where)
    if opt.at_most is not None and value > opt.at_most:
        raise ModelError(f"expected a fraction between 0 and {opt.at_most}, got {raw!r}", where)
    return value


def _within_range(opt: Option, kind: str, value: float, raw, where: str) -> None:
    """Refuse a canonical ``value`` of ``opt`` outside the option's declared range (given
    in the option's unit; a last-digit rounding of the unit conversion is tolerated)."""
    if opt.range is None:
        return
    unit = opt.unit or "1"
    scale = to_canonical(1.0, unit, kind, where)
    low, high = (x * scale for x in opt.range)
    if math.isclose(value, low, rel_tol=1e-9) or math.isclose(value, high, rel_tol=1e-9) \
            or low <= value <= high:
        return
    shown = "" if unit in ("1", "dimensionless") else f" {unit}"
    given = f"{value / scale:.6g}{shown}"
    written = _QUANTITY.match(raw) if isinstance(raw, str) else None
    if written and written.group(2).strip():  # a number with its own unit
        given = f"{raw.strip()} ({given})"
    raise ModelError(f"{opt.name} = {given} is outside the option's range "
                     f"{opt.range[0]:g}–{opt.range[1]:g}{shown} ({opt.doc or opt.name}; see "
                     "docs/interventions.md)", where)


def default_value(opt: Option):
    """The canonical default of ``opt`` (None when it has none)."""
    if opt.default is None or opt.kind in (TEXT, TEXTS, FLAG, QUANTITY):
        return opt.default
    kind = "dimensionless" if opt.kind == COUNT else opt.kind
    return to_canonical(float(opt.default), opt.unit or "1", kind, f"default of {opt.name}")


def resolve_options(itype: InterventionType, given: dict, where: str, net: Network) -> dict:
    """Options of ``itype`` in canonical units: defaults overridden by ``given``."""
    known = {o.name: o for o in itype.options}
    opts = {name: default_value(o) for name, o in known.items()}
    for key, raw in (given or {}).items():
        if key not in known:
            raise ModelError(f"'{itype.name}' has no option '{key}'{_close(key, known)}; its "
                             f"options are {', '.join(known)}", f"{where}.options")
        opts[key] = _value(known[key], raw, f"{where}.options.{key}", net)
    missing = [o.name for o in itype.options
               if opts[o.name] is None and o.name in ("marker",)]
    if missing:
        raise ModelError(f"'{itype.name}' needs option {', '.join(missing)}", f"{where}.options")
    return opts


def _start_hours(item: Intervention | dict, where: str, net: Network) -> float:
    start = item.start if isinstance(item, Intervention) else item.get("start", 0.0)
    if isinstance(start, Parameter):
        return to_canonical(start.value or 0.0, start.unit, "time", f"{where}.start")
    if isinstance(start, (int, float)) and not isinstance(start, bool):
        return float(start) * 24.0  # days
    if isinstance(start, str):
        if diagnosis_offset(start, f"{where}.start") is not None:
            raise ModelError(f"start '{start}' counts from the diagnosis day, known only after "
                             "an untreated run: resolve it first with evniche.compile."
                             "interventions.resolve_diagnosis (evniche run does)",
                             f"{where}.start")
        if remission_offset(start, f"{where}.start") is not None:
            raise ModelError(f"start '{start}' counts from the complete-remission day, known "
                             "only after a treated run: resolve it first with evniche.compile."
                             "interventions.resolve_remission (evniche run does)",
                             f"{where}.start")
        if start in net.params:
            return net.params[start]
        if start in net.model.spec.parameters:
            p = net.model.spec.parameters[start]
            return to_canonical(p.value or 0.0, p.unit, "time", f"{where}.start")
        m = _QUANTITY.match(start)
        if m:
            return to_canonical(float(m.group(1)), m.group(2).strip() or "day", "time",
                                f"{where}.start")
    raise ModelError(f"expected a start time (days, or a number with a time unit), got "
                     f"{start!r}", f"{where}.start")


# ----------------------------------------------------------------------------- public
@dataclass
class Compiled:
    """One intervention, resolved: its type, start (h) and canonical options."""

    type: InterventionType
    start: float
    options: dict = field(default_factory=dict)


def compile_intervention(net: Network, item: Intervention | dict, where: str,
                         days: float | None) -> tuple[Compiled, list[Window | Jump]]:
    """Resolve one intervention and compile it to windows and jumps."""
    name = item.name if isinstance(item, Intervention) else item.get("name")
    if not isinstance(name, str):
        raise ModelError("an intervention needs a 'name' from the catalog", where)
    unknown = set(item) - {"name", "start", "options"} if isinstance(item, dict) else set()
    if unknown:
        raise ModelError(f"unknown keys {sorted(unknown)}; an intervention has name, start, "
                         "options", where)
    itype = lookup(name)
    where = f"{where} ({itype.name})"
    start = _start_hours(item, where, net)
    t_end = math.inf if days is None else days * 24.0
    if start < 0 or start >= t_end:
        raise ModelError(f"starts at day {start / 24:g}, outside the run "
                         f"[0, {days:g}) days" if days is not None else
                         f"starts at day {start / 24:g}; expected a day >= 0", f"{where}.start")
    given = item.options if isinstance(item, Intervention) else item.get("options") or {}
    opts = resolve_options(itype, dict(given), where, net)
    try:
        parts = itype.compile(net, start, opts, t_end)
    except ModelError as exc:  # paths inside compile functions start with the type's name
        sub = exc.path.split(".", 1)[1] if "." in exc.path else ""
        raise ModelError(exc.message, f"{where}.{sub}" if sub else where) from None
    for p in parts:
        if not p.label:
            p.label = itype.name
    return Compiled(itype, start, opts), parts


def build_schedule(net: Network, interventions: list[Intervention | dict],
                   days: float | None) -> Schedule:
    """Compile ``interventions`` (model-file entries or dicts) for a run of ``days`` days."""
    schedule = Schedule()
    for i, item in enumerate(interventions):
        try:
            compiled, parts = compile_intervention(net, item, f"interventions[{i}]", days)
        except ModelError as exc:
            raise exc.at(f"interventions[{i}]") from None
        for p in parts:
            p.intervention, p.item = compiled.type.name, i
            (schedule.jumps if isinstance(p, Jump) else schedule.windows).append(p)
    _check_parameter_windows(net, schedule, days)
    return schedule


def _check_parameter_windows(net: Network, schedule: Schedule, days: float | None) -> None:
    """Refuse parameter windows that give a parameter a value the model cannot hold, in
    any segment of the run (see :func:`.parameter_windows.check_segment`)."""
    from .parameter_windows import check_segment, values_in_force

    items = {w.item for w in schedule.windows if w.parameter_factor or w.parameter_value}
    if not items:
        return
    t_end = math.inf if days is None else days * 24.0
    for t in schedule.breakpoints(t_end)[:-1]:
        active = [w for w in schedule.windows if w.start <= t < w.end and w.item in items]
        if not active:
            continue
        where = f"interventions[{active[0].item}] ({active[0].intervention})"
        try:
            check_segment(net, values_in_force(net, schedule, t), f"{where} at day {t / 24:g}")
        except ModelError as exc:
            if exc.path.startswith("interventions["):
                raise
            raise ModelError(exc.message, f"{where} at day {t / 24:g}") from None


_DIAGNOSIS = re.compile(r"^\s*diagnosis\b\s*(.*)$", re.IGNORECASE)
_REMISSION = re.compile(r"^\s*remission\b\s*(.*)$", re.IGNORECASE)


def _event_offset(start: object, pattern: re.Pattern, event: str, where: str) -> float | None:
    """Days after ``event`` for a start written ``EVENT`` or ``EVENT+N``; ``None`` for any
    other start; a malformed offset is a ModelError naming ``where``."""
    if not isinstance(start, str):
        return None
    m = pattern.match(start)
    if not m:
        return None
    rest = m.group(1).strip()
    if not rest:
        return 0.0
    q = _QUANTITY.match(rest[1:]) if rest.startswith("+") else None
    if q is None or q.group(1).startswith(("-", "+")):
        raise ModelError(f"expected '{event}' or '{event}+N' (N days after {event}, or "
                         f"a number with a time unit), got '{start.strip()}'", where)
    return to_canonical(float(q.group(1)), q.group(2).strip() or "day", "time", where) / 24.0


def diagnosis_offset(start: object, where: str = "start") -> float | None:
    """Days after diagnosis for a start written ``diagnosis`` or ``diagnosis+N`` (N days,
    or a number with a time unit: ``diagnosis+12h``, ``diagnosis + 5 weeks``); ``None``
    for any other start. A malformed offset is a ModelError naming ``where``."""
    return _event_offset(start, _DIAGNOSIS, "diagnosis", where)


def remission_offset(start: object, where: str = "start") -> float | None:
    """Days after complete remission for a start written ``remission`` or ``remission+N``
    (as :func:`diagnosis_offset`); ``None`` for any other start."""
    return _event_offset(start, _REMISSION, "remission", where)


class NoRemission(EvnicheError):
    """The run with the other interventions reaches no complete remission, so those that
    start at remission are not given: ``given`` holds the others (starts as days)."""

    def __init__(self, message: str, given: list) -> None:
        super().__init__(message)
        self.given = given


def resolve_remission(interventions: list, model, days: float, **options) -> list:
    """``interventions`` with every start written ``remission[+N]`` replaced by a day.

    Consolidation follows a documented complete remission (CR with count recovery, ELN;
    docs/sources/clinical-course.md items 15-16): the remission day is that of the run of
    ``model`` for ``days`` with the other ``interventions`` (whose starts must be days
    already: resolve ``diagnosis`` first): the first output sample in CR
    (:func:`evniche.readouts.clinical.remission_sample`), the day a marrow and a blood
    count would document it, as ``diagnosis`` is resolved, so that the treated run's CR
    (interpolated before that sample) comes before the intervention; the offset N (days)
    is added.
    Interventions without such a start are returned as they are; none: no run. A run
    that reaches no CR raises :class:`NoRemission` (a patient without remission is not
    consolidated), which holds the interventions that are given. ``options`` go to
    :func:`evniche.engines.simulate`."""
    from ..engines import prepare, simulate
    from ..readouts.clinical import course, remission_sample

    offsets = [remission_offset(it.get("start"), f"interventions[{i}].start")
               if isinstance(it, dict) else None for i, it in enumerate(interventions)]
    if all(o is None for o in offsets):
        return list(interventions)
    others = [it for it, o in zip(interventions, offsets, strict=True) if o is None]
    # refuse a bad name or option before the treated run: the offsets stand in as starts
    prepare(model, None, [it if o is None else {**it, "start": o}
                          for it, o in zip(interventions, offsets, strict=True)], days)
    treated = simulate(model, days=days, interventions=others, **options)
    c = course(treated)
    if c["remission_day"] is None:
        waiting = ", ".join(f"{it.get('name')}@{it.get('start')}" for it, o
                            in zip(interventions, offsets, strict=True) if o is not None)
        given = ", ".join(f"{it.get('name')}@{it.get('start'):g}" for it in others
                          if isinstance(it.get("start"), (int, float))) or "no therapy"
        raise NoRemission(
            f"{waiting}: the run with {given} reaches no complete remission within "
            f"{days:g} days ({c['text']}); a patient without remission is not "
            "consolidated", others)
    day = float(treated["time"].values[remission_sample(treated)])
    return [it if o is None else {**it, "start": day + o}
            for it, o in zip(interventions, offsets, strict=True)]


def resolve_diagnosis(interventions: list, model, days: float,
                      threshold: float = 20.0, **options) -> list:
    """``interventions`` with every start written ``diagnosis[+N]`` replaced by a day.

    The diagnosis day is that of the untreated run: ``model`` (a ResolvedModel or a preset
    name / file) simulated for the same ``days`` without ``interventions`` (its own
    model-file interventions kept; ``options``, e.g. ``engine``, ``seed``, go to
    :func:`evniche.engines.simulate`): the first output sample (day) that meets the
    diagnosis criteria of :func:`evniche.readouts.clinical.diagnosis_day` (marrow blasts
    >= ``threshold`` %, 20 % WHO/ELN, and for AML a cytopenia: the day the patient
    presents), the day a marrow and a blood count would show it, so that
    the treated run's samples before it are those of the untreated run. The offset N (days)
    is added. Interventions without such a start are returned as they are; none: no run.
    Names and options are checked before the untreated run; a run that never reaches
    diagnosis is an EvnicheError.
    """
    import numpy as np

    from ..engines import prepare, simulate
    from ..errors import EvnicheError
    from ..readouts.clinical import blast_percent, diagnosis_criteria, diagnosis_sample

    offsets = [diagnosis_offset(it.get("start"), f"interventions[{i}].start")
               if isinstance(it, dict) else None for i, it in enumerate(interventions)]
    if all(o is None for o in offsets):
        return list(interventions)
    # refuse a bad name or option before the untreated run: the offsets stand in as starts
    # (those of starts after remission too, resolved later by resolve_remission)
    stand_in = [remission_offset(it.get("start")) if isinstance(it, dict) else None
                for it in interventions]
    prepare(model, None, [it if o is None and r is None else {**it, "start": o or r or 0.0}
                          for it, o, r in zip(interventions, offsets, stand_in, strict=True)],
            days)
    untreated = simulate(model, days=days, **options)
    pct = blast_percent(untreated)
    hit = diagnosis_sample(untreated, threshold)
    if hit is None:
        first = next(it for it, o in zip(interventions, offsets, strict=True) if o is not None)
        raise EvnicheError(
            f"{first.get('name')}@{first.get('start')}: the untreated run never reaches "
            f"diagnosis ({diagnosis_criteria(untreated, threshold)}; highest blasts "
            f"{float(np.nanmax(pct.values)):.3g} %) within {days:g} days; give a day number "
            "or simulate longer")
    day = float(pct["time"].values[hit])
    return [it if o is None else {**it, "start": day + o}
            for it, o in zip(interventions, offsets, strict=True)]


def parse_intervention(text: str) -> dict:
    """Parse ``NAME@DAY[:key=value,…]`` (the ``--intervene`` option) into a dict.

    ``DAY`` is a number of days or a number with a time unit (``12h``), or ``diagnosis``
    / ``diagnosis+N`` (N days or with a unit), kept as text for :func:`resolve_diagnosis`,
    or ``remission`` / ``remission+N``, kept as text for :func:`resolve_remission`.
    Values keep their units as text (``flow=40 mL/min``) and are checked when the schedule
    is built; lists use ``+`` or ``;`` (``targets=blast+LSC``).
    """
    where = f"--intervene {text}"
    head, _, rest = text.partition(":")
    name, at, day = head.partition("@")
    name = name.strip()
    if not name or not at or not day.strip():
        raise ModelError("expected NAME@DAY[:key=value,…], e.g. nsmase2_inhibitor@30 or "
                         "plasmapheresis@60:marker=PD-L1,flow=40 mL/min", where)
    lookup(name)
    m = _QUANTITY.match(day)
    start: float | str
    if diagnosis_offset(day, where) is not None or remission_offset(day, where) is not None:
        start = day.strip()
    elif not m:
        raise ModelError(f"'{day.strip()}' is not a day number, 'diagnosis[+N]' or "
                         "'remission[+N]'", where)
    else:
        start = float(m.group(1)) if not m.group(2).strip() else day.strip()
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))) if rest else ():
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise ModelError(f"option '{part}' is not key=value", where)
        options[key.strip()] = value.strip()
    return {"name": name, "start": start, "options": options}


def describe() -> list[dict]:
    """The catalog as rows (name, summary, source, options with unit/default/source)."""
    return [{"name": t.name, "summary": t.summary, "source": t.source,
             "aliases": list(t.aliases),
             "options": [{"name": o.name, "kind": o.kind, "unit": o.unit,
                          "default": o.default, "source": o.source, "range": o.range,
                          "doc": o.doc} for o in t.options]}
            for n, t in CATALOG.items() if n == t.name]
