"""EV therapies of the reviews: doses in lab units, the product each brings, where each applies.

Seed 000 names EV therapies (drug-loaded ExMVs [22, 32, 33], NK-cell exosomes [65–67],
engineered MSC-EVs with miR-34c-5p [64], MSC-EVs from BM stroma cultures [8, 25, 32]) and
secretion inhibitors (proton pump inhibitors among them [8, 17]). Each therapy here is a
catalog entry of :mod:`evniche.compile.interventions`:

=======================  ===============================================================
``therapeutic_ev``       doses of any pool of the model (``pool=SOURCE.CLASS``)
``msc_ev``               doses of the exosomes of the model's ``MSC`` cell type; applies
                         where a rule of the model senses them (their uptake or cargo)
``mir34c_ev``            the engineered MSC-EV product of the model (a pool with cargo
                         miR-34c-5p and markers Lamp2b-IL3, HCELL); applies where the model
                         declares it (the AML preset)
``drug_loaded_ev``       carrier exosomes loaded with ``cargo=<drug>``; applies where the
                         model declares the drug and rules on ``drug:<drug>`` for cell types
                         that take up exosomes
``nk_exosomes``          exosomes of NK cells (FasL-bearing); apply where leukemic cell types
                         take up exosomes
``proton_pump_inhibitor`` lowers exosome secretion (every model with exosomes)
=======================  ===============================================================

**The product a therapy brings.** A drug-loaded EV or an NK-cell exosome is a manufactured
product, not a pool the disease makes, so the presets do not declare it. :func:`with_products`
(called by :func:`evniche.engines.prepare` before the model is compiled) adds it to the model
of the run that uses the therapy: a source cell type with no cells (lineage stroma or
immune, ``is_a`` the cell it is made from) whose exosomes carry the cargo, and the rules of
what the cargo does, built from what the model already says:

- ``drug_loaded_ev`` (cargo = drug D): each rule of the model on ``drug:D`` is mirrored by a
  rule on ``cargo:D`` (the drug delivered into the cell) with the same behavior, direction,
  saturation and Hill power; its half-maximum is the rule's EC50 as copies per cell
  (EC50 × a cell volume of 1 pL × Avogadro's number). Only rules of cell types that take up
  exosomes are mirrored.
- ``nk_exosomes``: every leukemic cell type that takes up exosomes dies faster with the
  FasL the exosomes deliver (Lugini 2012; seed 000 [67]).

Nothing is added to a model that does not use the therapy, and the product has no cells,
so the untreated arm of a comparison is the preset itself. When the model lacks what the
therapy acts on, the intervention is refused with the reason (its applicability rule).

**Doses** are µg of EV protein per kg body weight (``dose_per_kg``), converted to particles
with the protein per EV (``protein_per_ev``, research: ev_parameters.md D, protein per
particle) and the body weight; ``dose`` (a number of EVs) overrides them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from ..errors import ModelError
from ..spec.model import Intervention
from .interventions import (
    COUNT,
    SEED_000,
    TEXT,
    TEXTS,
    InterventionType,
    Option,
    _add,
    _close,
    _doses,
    _efficacy,
    _norm,
    _secretion_type,
)
from .network import BLOOD, Network, Pool
from .schedule import Jump

NK_PRODUCT = "NK_exosome_product"
AVOGADRO = 6.02214076e23
#: copies per cell of a drug at 1 nM in a cell of 1 pL: 1e-9 mol/L × 1e-12 L × N_A
COPIES_PER_NM = 1e-9 * 1e-12 * AVOGADRO
REVIEW_DRUGS = ("imatinib", "paclitaxel", "doxorubicin", "curcumin")

#: what each EV therapy needs in a model to act (its applicability rule)
APPLIES: dict[str, str] = {
    "therapeutic_ev": "any model: doses of the pool named with pool=SOURCE.CLASS",
    "msc_ev": "models with an 'MSC' cell type whose exosomes a rule senses (uptake:MSC, "
              "uptake:MSC.exosome, ev:MSC.exosome or a cargo of those exosomes)",
    "mir34c_ev": "models that declare the engineered product: a pool with cargo miR-34c-5p "
                 "and markers Lamp2b-IL3 and HCELL, and a rule on cargo:miR-34c-5p",
    "drug_loaded_ev": "models that declare the loaded drug (one of imatinib, paclitaxel, "
                      "doxorubicin, curcumin) under 'drugs:' with rules on drug:<drug> for "
                      "cell types that take up exosomes",
    "nk_exosomes": "models with a leukemic cell type (lineage 'leukemic') that has a death "
                   "rate and takes up exosomes",
    "proton_pump_inhibitor": "models whose cell types secrete exosomes",
}


# ----------------------------------------------------------------------------- doses
_KORDELAS = ("seed: 003_94ab5ca458a47f16.txt [30] (MSC-EVs for steroid-refractory GvHD; "
             "Kordelas 2014: repeated doses every 2-3 days, recalled, not re-read)")


#: EVs per dose (a given ``dose`` or the one dose_per_kg gives): 10 ug/kg × 40 kg at
#: 500 ag/EV = 8e11 up to 1000 ug/kg × 120 kg at 5 ag/EV = 2.4e16; 1e9: a mouse dose
PARTICLES = (1e9, 2.5e16)


def ev_dose_options(doses: float, interval: float) -> tuple[Option, ...]:
    """Dose options of every EV therapy: a dose per kg in µg EV protein (or a number of
    EVs), the number of doses and the interval."""
    return (
        Option("dose_per_kg", "dimensionless", 100.0, "ug/kg",
               "derived: the exosome PK study of research: ev_parameters.md C (Kim 2019 "
               "Table 1 / Imai 2015) injects 5 ug of exosome protein iv per mouse, 200 "
               "ug/kg for a 25-g mouse (assumption: the weight); range 10-1000 ug/kg "
               "(assumption: an order of magnitude either side, as doses are reported per "
               "animal and rarely scaled)", (10, 1000),
               "µg of EV protein per kg body weight per dose"),
        Option("body_weight", "mass", 70.0, "kg", "assumption: adult body weight; "
               "range 40-120 kg", (40, 120), "body weight the dose is scaled by"),
        Option("protein_per_ev", "mass", 10.0, "ag",
               "research: ev_parameters.md D (protein per particle: 1 ug of EV protein is "
               "about 1-2e11 EVs, i.e. 5-10 ag per EV; Webber & Clayton 2013, JEV 2:19861: "
               "preparations of 2e9-3e10 particles/ug are of low to high purity, i.e. "
               "33-500 ag per particle); range 5-500 ag", (5, 500),
               "EV protein per particle (attograms), to convert the dose to particles"),
        Option("dose", "dimensionless", None, "EV",
               "derived: dose_per_kg × body_weight / protein_per_ev (default 7e14 EVs); "
               f"range {PARTICLES[0]:g}-{PARTICLES[1]:g} EVs",
               doc="EVs injected into blood per dose; overrides dose_per_kg"),
        Option("doses", COUNT, doses, "1", f"{_KORDELAS}; range 1-10", (1, 10),
               "number of doses"),
        Option("interval", "time", interval, "day", f"{_KORDELAS}; EVs leave blood within "
               "hours (research: ev_parameters.md C); range 1-7 days", (1, 7),
               "time between doses"),
        Option("pool", TEXT, None, doc="the model's pool to administer (SOURCE.CLASS"
               "[.SUBSET]); default: the one that matches"),
    )


def ev_particles(opts: dict) -> float:
    """EVs per dose: ``dose`` when given, else dose_per_kg × body weight / protein per EV
    (canonical options: dose_per_kg dimensionless, masses in kg)."""
    if opts.get("dose") is not None:
        return float(opts["dose"])
    return opts["dose_per_kg"] * opts["body_weight"] / opts["protein_per_ev"]


def _dose_jumps(name: str, pool: Pool, opts: dict, start: float, t_end: float) -> list:
    count = ev_particles(opts)
    if not PARTICLES[0] <= count <= PARTICLES[1]:
        raise ModelError(f"dose = {count:.3g} EVs is outside the range {PARTICLES[0]:g}–"
                         f"{PARTICLES[1]:g} EVs per dose (see docs/interventions.md)",
                         f"{name}.options.dose")
    return [Jump(t, f"ev:{pool.name}@{BLOOD}", count, ledger=f"ledger:{pool.name}.administered",
                 label=f"{name} dose {k + 1}") for k, t in enumerate(_doses(start, opts, t_end))]


# ----------------------------------------------------------------------------- pools
def _refuse(name: str, net: Network, why: str) -> ModelError:
    return ModelError(f"{name} does not apply to model '{net.name}': {why}. It applies to "
                      f"{APPLIES[name]} (see docs/interventions.md for the presets)", name)


def _named_pool(name: str, net: Network, opts: dict) -> Pool | None:
    if not opts.get("pool"):
        return None
    names = [p.name for p in net.pools]
    if opts["pool"] not in names:
        raise ModelError(f"the model has no EV pool '{opts['pool']}'"
                         f"{_close(opts['pool'], names)}", f"{name}.options.pool")
    return net.pools[names.index(opts["pool"])]


def _product_first(net: Network, pools: list[Pool]) -> Pool:
    """A manufactured source (no cells) before a living one, then by name."""
    initial = {c.name: c.initial for c in net.cells}
    return sorted(pools, key=lambda p: (net.params[initial[p.source]] > 0, p.name))[0]


def _senses(net: Network, pool: Pool) -> bool:
    """Whether a rule of the model senses ``pool``: its uptake, concentration or cargo."""
    for s in net.signals:
        parts = s.argument.split(".")
        if s.kind == "uptake" and parts[0] == pool.source and (
                len(parts) == 1 or parts[1] == pool.vesicle_class):
            return True
        if s.kind == "ev" and s.argument.startswith(f"{pool.source}.{pool.vesicle_class}"):
            return True
        if s.kind == "cargo" and s.argument in pool.cargo:
            return True
    return False


def _msc_ev(opts: dict, net: Network, start: float, t_end: float) -> list:
    pool = _named_pool("msc_ev", net, opts)
    if pool is None:
        hits = [p for p in net.pools if p.source == "MSC" and p.vesicle_class == "exosome"
                and p.subset is None]
        if not hits:
            raise _refuse("msc_ev", net, "it has no exosomes of an 'MSC' cell type")
        pool = hits[0]
    if not _senses(net, pool):
        raise _refuse("msc_ev", net, f"no rule of the model senses the '{pool.name}' EVs "
                      "(their uptake or cargo), so a dose would change nothing")
    return _dose_jumps("msc_ev", pool, opts, start, t_end)


def _mir34c_ev(opts: dict, net: Network, start: float, t_end: float) -> list:
    pool = _named_pool("mir34c_ev", net, opts)
    ligands = {_norm(x) for x in opts.get("ligands") or ()}
    cargo = _norm(opts["cargo"])
    hits = [p for p in ([pool] if pool else net.pools)
            if cargo in {_norm(c) for c in p.cargo}
            and ligands <= {_norm(m) for m in p.markers}]
    if not hits:
        raise _refuse("mir34c_ev", net, f"it has no EV pool carrying '{opts['cargo']}' with "
                      f"markers {', '.join(opts.get('ligands') or ()) or '(none)'} (the "
                      "engineered product)")
    return _dose_jumps("mir34c_ev", _product_first(net, hits), opts, start, t_end)


def _drug_loaded_ev(opts: dict, net: Network, start: float, t_end: float) -> list:
    drug = opts.get("cargo")
    if not drug:
        raise ModelError("name the loaded drug as cargo (e.g. cargo=imatinib)",
                         "drug_loaded_ev.options.cargo")
    pool = _named_pool("drug_loaded_ev", net, opts)
    hits = [p for p in ([pool] if pool else net.pools) if drug in p.cargo]
    if not hits:
        raise _refuse("drug_loaded_ev", net, drug_gap(net.model, drug) or
                      f"it has no EV pool carrying '{drug}'")
    return _dose_jumps("drug_loaded_ev", _product_first(net, hits), opts, start, t_end)


def _nk_exosomes(opts: dict, net: Network, start: float, t_end: float) -> list:
    pool = _named_pool("nk_exosomes", net, opts)
    source = _norm(opts["source"])
    specs = net.model.spec.cell_types

    def from_source(p: Pool) -> bool:
        return source in (_norm(p.source), _norm(specs[p.source].is_a or ""))

    hits = [p for p in ([pool] if pool else net.pools)
            if from_source(p) and p.vesicle_class == "exosome"]
    if not hits:
        raise _refuse("nk_exosomes", net, "it has no leukemic cell type that takes up "
                      "exosomes" if not _leukemic_takers(net.model) else
                      f"it has no exosomes of '{opts['source']}' cells")
    return _dose_jumps("nk_exosomes", _product_first(net, hits), opts, start, t_end)


# ----------------------------------------------------------------------------- products
def _takes_up_exosomes(model, cell_type: str) -> bool:
    return any(u.target == cell_type and u.vesicle_class == "exosome"
               and u.source in (None, "*", "") for u in model.spec.uptake)


def _leukemic_takers(model) -> list[str]:
    """Leukemic cell types with a death rate that take up exosomes (a rule can raise only
    a death rate the cell type has)."""
    return [n for n, ct in model.spec.cell_types.items()
            if ct.lineage == "leukemic" and ct.death is not None
            and _takes_up_exosomes(model, n)]


def drug_gap(model, drug: str) -> str | None:
    """Why EVs loaded with ``drug`` cannot act in ``model`` (None: they can)."""
    if drug not in REVIEW_DRUGS:
        return (f"'{drug}' is not one of the drugs the reviews load into EVs "
                f"({', '.join(REVIEW_DRUGS)})")
    if drug not in model.spec.drugs:
        return (f"the model declares no drug '{drug}' (under 'drugs:', with rules on "
                f"drug:{drug} for what it does to cells)")
    rules = [r for r, _ in model.rules if r.signal == f"drug:{drug}"]
    if not rules:
        return f"no rule of the model senses drug:{drug}"
    if not any(_takes_up_exosomes(model, r.cell_type) for r in rules):
        acted_on = ", ".join(sorted({r.cell_type for r in rules}))
        return f"no cell type the drug acts on ({acted_on}) takes up exosomes, the carriers"
    return None


def _ref(value):
    """A rule field (parameter name or inline parameter) as model-file data."""
    return value if isinstance(value, str) else value.model_dump(exclude_none=True)


def _drug_fragment(model, drug: str) -> dict | None:
    if drug_gap(model, drug) is not None:
        return None
    carrier = f"EV_carrier_{drug}"
    p = f"evtherapy_{drug}"
    params = {
        f"{p}_cells": {"value": 0, "unit": "cell", "source": "derived: the carrier "
                       "product has no cells; its EVs come from the doses"},
        f"{p}_rate": {"value": 0, "unit": "EV/cell/h", "source": "derived: no cells, "
                      "no secretion"},
        f"{p}_copies_per_ev": {
            "value": 160, "unit": "copies", "range": [10, 10000],
            "source": "derived: inner volume of a 100-nm exosome (40 nm inner radius: "
                      "2.7e-19 L) × a 1 mM loading concentration × Avogadro = 160 "
                      "molecules; range 10-1e4 (assumption: passive loading to active "
                      "loading with membrane-bound drug; no loading per EV is given in the "
                      "reviews, seed 000 [22, 32, 33])"},
    }
    cell_types = {carrier: {
        "is_a": "MSC", "lineage": "stroma", "initial": f"{p}_cells",
        "secretion": [{"class": "exosome", "rate": f"{p}_rate",
                       "cargo": {drug: f"{p}_copies_per_ev"}}],
        "description": f"carrier EVs loaded with {drug} (seed 000 [22, 32, 33]; carriers "
                       "from BM stroma cultures, seed 000 [8]); no cells: the source of "
                       "the drug_loaded_ev product"}}
    rules = []
    for i, (rule, _) in enumerate(r for r in model.rules if r[0].signal == f"drug:{drug}"):
        if not _takes_up_exosomes(model, rule.cell_type) or not isinstance(rule.half_max, str):
            continue
        ec50 = model.params.resolved[rule.half_max]
        name = f"{p}_half_max_{i}"
        params[name] = {
            "value": ec50.value * COPIES_PER_NM, "unit": "copies",
            "source": f"derived: EC50 {rule.half_max} ({ec50.value:g} nM) × a cell volume "
                      "of 1 pL (assumption: a 12-um leukocyte) × Avogadro's number: the "
                      "copies per cell at which the drug delivered by EVs reaches its EC50"}
        rules.append({"cell_type": rule.cell_type, "signal": f"cargo:{drug}",
                      "direction": rule.direction, "behavior": rule.behavior,
                      "saturation": _ref(rule.saturation), "half_max": name,
                      "hill_power": _ref(rule.hill_power),
                      "kb": [f"therapy-carrier-{drug}"],
                      "note": f"the drug delivered by EVs acts as drug:{drug} does"})
    fragment: dict = {"parameters": params, "cell_types": cell_types, "rules": rules}
    if drug not in model.spec.cargo:
        fragment["cargo"] = {drug: {"decay": _ref(model.spec.drugs[drug].elimination)}}
    return fragment


def _nk_fragment(model) -> dict | None:
    targets = _leukemic_takers(model)
    if not targets or NK_PRODUCT in model.spec.cell_types:
        return None
    params: dict = {
        "nk_exo_product_cells": {"value": 0, "unit": "cell", "source": "derived: the "
                                 "product has no cells; its EVs come from the doses"},
        "nk_exo_product_rate": {"value": 0, "unit": "EV/cell/h", "source": "derived: no "
                                "cells, no secretion"},
        "nk_exo_fasl_per_ev": {
            "value": 10, "unit": "copies", "range": [1, 100],
            "source": "assumption: FasL copies per NK exosome; NK exosomes carry FasL and "
                      "perforin and kill tumour cells (Lugini 2012, J Immunol 189:2833, "
                      "recalled; seed 000 [67] names NK exosomes as a cell-free leukemia "
                      "therapy); copies not given"},
        "nk_exo_fasl_half_life": {
            "value": 24, "unit": "h", "range": [6, 72],
            "source": "assumption: delivered FasL signals for about a day"},
        "nk_exo_fasl_decay": {"expr": "ln(2) / nk_exo_fasl_half_life", "unit": "1/h",
                              "source": "derived: first-order decay from the half-life"},
        "nk_exo_extra_death": {
            "value": 0.5, "unit": "1/day", "range": [0.05, 2],
            "source": "assumption: extra death of a leukemic cell saturated with NK-exosome "
                      "FasL (NK exosomes kill leukemic cells in vitro, seed 000 [67]; rate "
                      "not given)"},
        "nk_exo_half_max": {
            "value": 1000, "unit": "copies", "range": [100, 10000],
            "source": "assumption: FasL copies per leukemic cell for half the effect: the "
                      "FasL of ~100 NK exosomes, as in-vitro killing needs ug/mL exposures "
                      "(thousands of EVs per cell); not placed at what a dose gives (a 100 "
                      "ug/kg dose leaves at most ~45 copies per marrow leukemic cell: iv EVs "
                      "are cleared in minutes and < 1 % home to the marrow)"},
        "nk_exo_hill": {"value": 1, "unit": "dimensionless",
                        "source": "assumption: no cooperativity"},
    }
    rules = []
    for t in targets:
        base = model.spec.cell_types[t].death
        sat = f"nk_exo_death_{t}"
        if isinstance(base, str):
            params[sat] = {"expr": f"{base} + nk_exo_extra_death", "unit": "1/h",
                           "source": f"derived: {t}'s death rate plus the extra death"}
        else:
            params[f"{sat}_base"] = base.model_dump(exclude_none=True)
            params[sat] = {"expr": f"{sat}_base + nk_exo_extra_death", "unit": "1/h",
                           "source": f"derived: {t}'s death rate plus the extra death"}
        rules.append({"cell_type": t, "signal": "cargo:FasL", "direction": "increases",
                      "behavior": "death", "saturation": sat, "half_max": "nk_exo_half_max",
                      "hill_power": "nk_exo_hill", "kb": ["therapy-nk-exosomes"]})
    fragment: dict = {
        "parameters": params,
        "cell_types": {NK_PRODUCT: {
            "is_a": "NK", "lineage": "immune", "initial": "nk_exo_product_cells",
            "secretion": [{"class": "exosome", "rate": "nk_exo_product_rate",
                           "cargo": {"FasL": "nk_exo_fasl_per_ev"}}],
            "description": "NK-cell exosomes given as therapy (seed 000 [67]); no cells: the "
                           "source of the nk_exosomes product"}},
        "rules": rules,
    }
    if "FasL" not in model.spec.cargo:
        fragment["cargo"] = {"FasL": {"decay": "nk_exo_fasl_decay"}}
    return fragment


def _name_and_options(item) -> tuple[str | None, dict]:
    if isinstance(item, Intervention):
        return item.name, dict(item.options or {})
    if isinstance(item, dict):
        options = item.get("options") or {}
        return item.get("name"), dict(options) if isinstance(options, dict) else {}
    return None, {}


def with_products(model, interventions: Iterable):
    """``model`` (a ResolvedModel) with the product of every EV therapy in
    ``interventions`` that needs one and can act in it (see the module docstring); the
    same object when none does. The model keeps its name and source."""
    from .interventions import lookup

    fragments = []
    for item in interventions:
        name, options = _name_and_options(item)
        if not isinstance(name, str) or options.get("pool"):
            continue
        try:
            kind = lookup(name).name
        except ModelError:
            continue  # build_schedule names the place
        if kind == "nk_exosomes":
            fragment = _nk_fragment(model)
        elif kind == "drug_loaded_ev" and isinstance(options.get("cargo"), str):
            drug = options["cargo"]
            fragment = (None if f"EV_carrier_{drug}" in model.spec.cell_types
                        else _drug_fragment(model, drug))
        else:
            fragment = None
        if fragment and fragment not in fragments:
            fragments.append(fragment)
    if not fragments:
        return model
    import hashlib
    import json

    from pydantic import ValidationError

    from ..spec.loader import merge, translate
    from ..spec.model import Model
    from ..spec.resolve import resolve

    data = copy.deepcopy(model.raw)
    for fragment in fragments:
        data = merge(data, fragment)
    # rules read from rules_csv files stay as they were read (not read again)
    csv_rules = [(r, path) for r, path in model.rules if not path.startswith("rules[")]
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    try:
        try:
            spec = Model.model_validate(data)
        except ValidationError as exc:
            raise translate(exc, data, model.source) from None
        return resolve(spec, model.source, data, digest[:16], csv_rules)
    except ModelError as exc:  # a product that does not fit the model: say which therapy
        raise ModelError(f"the EV therapy product could not be added to model "
                         f"'{model.name}': {exc}", "interventions") from None


# ----------------------------------------------------------------------------- catalog
_add(InterventionType(
    "therapeutic_ev", "a dose schedule of EVs of one of the model's pools into blood",
    f"{SEED_000} [22, 25, 32, 33]", ev_dose_options(3, 3.0),
    lambda net, s, o, e: _therapeutic_ev(o, net, s, e)))


def _therapeutic_ev(opts: dict, net: Network, start: float, t_end: float) -> list:
    pool = _named_pool("therapeutic_ev", net, opts)
    if pool is None:
        raise ModelError("name the pool to administer (pool=SOURCE.CLASS); pools: "
                         f"{', '.join(p.name for p in net.pools)}",
                         "therapeutic_ev.options.pool")
    return _dose_jumps("therapeutic_ev", pool, opts, start, t_end)


_add(InterventionType(
    "msc_ev", "MSC-EVs (from BM stroma cultures) given as therapy: doses of the exosomes of "
    "the model's MSCs; applies where a rule senses them", f"{SEED_000} [8, 25, 32]; "
    "seed: 003_94ab5ca458a47f16.txt [30, 31]", ev_dose_options(3, 3.0),
    lambda net, s, o, e: _msc_ev(o, net, s, e), aliases=("msc_exosomes",)))
_add(InterventionType(
    "mir34c_ev", "engineered MSC-EVs loaded with miR-34c-5p, targeted by Lamp2b-IL3 (CD123+ "
    "LSCs) and HCELL (marrow homing); the targeting acts through the model's uptake routes "
    "and vesicle class of that pool", f"{SEED_000} [64]",
    (*ev_dose_options(3, 3.0),
     Option("cargo", TEXT, "miR-34c-5p", doc="the loaded miRNA"),
     Option("ligands", TEXTS, ("Lamp2b-IL3", "HCELL"), source=f"{SEED_000} [64]",
            doc="targeting ligands the pool must display (markers)")),
    lambda net, s, o, e: _mir34c_ev(o, net, s, e)))
_add(InterventionType(
    "drug_loaded_ev", "EVs loaded with a drug (imatinib, paclitaxel, doxorubicin, curcumin): "
    "the drug delivered into the cells that take them up acts as the model's drug does",
    f"{SEED_000} [22, 32, 33]",
    (*ev_dose_options(3, 3.0), Option("cargo", TEXT, None, doc="the loaded drug (imatinib, "
                                      "paclitaxel, doxorubicin or curcumin)")),
    lambda net, s, o, e: _drug_loaded_ev(o, net, s, e)))
_add(InterventionType(
    "nk_exosomes", "exosomes of NK cells given as therapy: FasL-bearing exosomes that raise "
    "the death of leukemic cells that take them up", f"{SEED_000} [65, 66, 67]",
    (*ev_dose_options(3, 3.0), Option("source", TEXT, "NK", doc="cell type (or is_a) that "
                                      "makes the pool")),
    lambda net, s, o, e: _nk_exosomes(o, net, s, e)))
_add(_secretion_type(
    "proton_pump_inhibitor", "proton pump inhibitors (e.g. esomeprazole, lansoprazole): "
    "lower exosome secretion", f"{SEED_000} [8, 17]",
    _efficacy(0.3, "assumption: seed 000 [8, 17] lists proton pump inhibitors among "
              "secretion inhibitors without a magnitude; they act through the pH of an "
              "acidic microenvironment (shown for solid tumours), so a modest default; "
              "range 0.1-0.9", 0.1, 0.9, "exosome secretion"),
    ("exosome",), "assumption: acts on exosome release as the other secretion inhibitors of "
    "seed 000 [8, 17]", aliases=("ppi", "esomeprazole", "lansoprazole")))
