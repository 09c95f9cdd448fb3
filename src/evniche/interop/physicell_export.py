"""An evniche model as a PhysiCell 1.14 project: settings XML, rules CSV (v3), initial cells.

The project is a marrow section (the model's ``spatial`` size and voxel, or the spatial
engine's defaults) holding real cells at the marrow's densities: each marrow cell type gets
``N · V_section / V_marrow`` cells (rounded at random), and at least one if the model has
any (a rare type is then over-represented; the notes say by how much). What carries over,
in PhysiCell's units (µm, minutes):

- substrates: one per marrow EV pool (``EV <source>.<class>``, density in EVs per mL),
  with its Stokes–Einstein diffusion coefficient in tissue and a decay rate = degradation +
  drainage (drainage as a marrow average), and one per cytokine;
- cells: a live cycle at rate proliferation · self-renewal (self-renewing divisions);
  differentiating divisions as transformation to the target at proliferation ·
  (1 − self-renewal) · fraction (one differentiated cell per division where evniche makes
  two: an approximation), exit into another marrow type as transformation, death as
  apoptosis; EV secretion and cytokine production as net export (exact: a constant amount
  per cell per minute); EV uptake as the uptake rate clearance / cell volume (exact: the
  same loss per cell for a given density);
- rules whose signal is a cytokine, an EV pool (``ev:``) or the uptake of one pool
  (``uptake:S.C``: uptake rate = clearance · density, so the half-max becomes a density)
  and whose behavior is proliferation, death, exit into a marrow type, secretion or
  production.

Everything else (blood, cargo, states, drugs, self-renewal and other rules, kills,
homeostasis, feedback, niche, crowding) is listed in ``EXPORT_NOTES.txt`` with the reason.
"""

from __future__ import annotations

import csv
import io
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..compile.network import MARROW, Network
from ..errors import EvnicheError

UM3_PER_ML = 1e12
#: PhysiCell's default cell volume (µm³), used for uptake rates (the XML says so too)
CELL_VOLUME_UM3 = 2494.0
MIN_PER_H = 60.0


@dataclass
class Exported:
    settings: str  # the settings XML text
    rules: list[list[str]]  # v3 rows
    cells: list[tuple[float, float, float, str]]
    notes: list[str] = field(default_factory=list)
    substrates: dict[str, str] = field(default_factory=dict)  # evniche field → substrate


def _sub(parent: ET.Element, tag: str, text: object = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attrs.items()})
    if text is not None:
        el.text = _num(text) if isinstance(text, float | int) and not isinstance(
            text, bool) else str(text)
    return el


def _num(x: float) -> str:
    return "0" if x == 0 else f"{x:.10g}"


def _section(net: Network) -> tuple[tuple[float, float, float], float, bool]:
    """(x, y, z) size in µm, voxel dx and whether the section is 2-D."""
    from ..engines.spatial.engine import model_options
    from ..engines.spatial.geometry import GeometrySettings

    opts = model_options(net)
    default = GeometrySettings()
    size = tuple(opts.get("size_um", default.size_um))
    dx = float(opts.get("dx_um", default.dx_um))
    two_d = len(size) < 3 or not size[2]
    z = dx if two_d else float(size[2])
    return (float(size[0]), float(size[1]), z), dx, two_d


def export_project(model, seed: int = 0) -> Exported:
    """The PhysiCell project of ``model`` (a loaded model or a preset name)."""
    from ..engines import prepare
    from ..engines.spatial.engine import diffusion_coefficients
    from ..engines.spatial.transport import TransportSettings

    net, _ = prepare(model)
    p = net.params
    notes: list[str] = []
    (w, h, d), dx, two_d = _section(net)
    v_section_ml = w * h * d / UM3_PER_ML
    v_marrow = p[net.volumes[MARROW]]
    marrow = [c for c in net.cells if c.compartment == MARROW]
    names = [c.name for c in marrow]
    for c in net.cells:
        if c.compartment != MARROW:
            notes.append(f"cell type {c.name}: lives in {c.compartment}; a PhysiCell section "
                         "has no blood")

    field_names, D = diffusion_coefficients(net, TransportSettings())
    D_min = dict(zip(field_names, D / MIN_PER_H, strict=True))  # µm²/min
    subs: dict[str, str] = {}  # evniche field → PhysiCell substrate
    variables = []  # (name, units, D µm²/min, decay 1/min, initial)
    for i, pool in enumerate(net.pools):
        if pool.compartment != MARROW:
            notes.append(f"EV pool {pool.name}: secreted in {pool.compartment}, not exported")
            continue
        vc = net.classes[pool.vesicle_class]
        decay = (p[vc.degradation] + p[vc.drainage]) / MIN_PER_H
        name = f"EV {pool.name}"
        subs[pool.name] = name
        initial = _pool_initial(net, i) / v_marrow
        variables.append((name, "EV/mL", D_min[pool.name], decay, initial))
    for cyt in net.cytokines:
        spec = net.model.spec.cytokines[cyt]
        ref = spec.decay
        decay = p[ref if isinstance(ref, str) else f"cytokines.{cyt}.decay"] / MIN_PER_H
        subs[cyt] = cyt
        variables.append((cyt, "1/mL", D_min[cyt], decay, 0.0))
    if not variables:
        variables.append(("none", "dimensionless", 0.0, 0.0, 0.0))

    beh = net.behaviors

    def base(i: int | None) -> float:
        return 0.0 if i is None else p[beh[i].base]

    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {}
    cells_out: list[tuple[float, float, float, str]] = []
    for c in marrow:
        n = p[c.initial] * v_section_ml / v_marrow
        counts[c.name] = int(math.floor(n + rng.random()))  # stochastic rounding
        if p[c.initial] > 0 and counts[c.name] == 0:
            # a rare type (stem cells, a leukemic seed) is still there to be cross-checked
            counts[c.name] = 1
            notes.append(f"cell type {c.name}: {p[c.initial]:.3g} cells in the marrow are "
                         f"{n:.3g} in the section; 1 placed ({1 / n:.3g}× its density)")
        for _ in range(counts[c.name]):
            x, y = rng.uniform(-w / 2, w / 2), rng.uniform(-h / 2, h / 2)
            z = 0.0 if two_d else rng.uniform(-d / 2, d / 2)
            cells_out.append((x, y, z, c.name))

    root = ET.Element("PhysiCell_settings", version="devel-version")
    _domain(root, w, h, d, dx, two_d)
    _overall(root)
    mic = _sub(root, "microenvironment_setup")
    for i, (name, units, dcoef, decay, initial) in enumerate(variables):
        _variable(mic, i, name, units, dcoef, decay, initial)
    opts = _sub(mic, "options")
    _sub(opts, "calculate_gradients", "true")
    _sub(opts, "track_internalized_substrates_in_each_agent", "false")
    ic = _sub(opts, "initial_condition", type="matlab", enabled="false")
    _sub(ic, "filename", "./config/initial.mat")
    dn = _sub(opts, "dirichlet_nodes", type="matlab", enabled="false")
    _sub(dn, "filename", "./config/dirichlet.mat")

    defs = _sub(root, "cell_definitions")
    sub_names = [v[0] for v in variables]
    for idx, c in enumerate(marrow):
        prolif = base(c.proliferation)
        renew = base(c.self_renewal) if c.self_renewal is not None else 1.0
        transform = {t: 0.0 for t in names}
        for target, frac in c.differentiation:
            if target in transform:
                transform[target] += prolif * (1 - renew) * p[frac] / MIN_PER_H
            else:
                notes.append(f"cell type {c.name}: differentiation into {target} (not in the "
                             "marrow) not exported")
        if c.differentiation and renew < 1:
            notes.append(f"cell type {c.name}: a differentiating division gives one "
                         "transformed cell in PhysiCell where evniche gives two daughters")
        exit_rate = base(c.exit) / MIN_PER_H
        if exit_rate > 0:
            if c.exit_to in transform:
                transform[c.exit_to] += exit_rate
            else:
                notes.append(f"cell type {c.name}: exit ({exit_rate:.3g}/min) to "
                             f"{c.exit_to or 'outside'} is not exported (no blood)")
        for what, ref in (("division failure", c.division_failure),
                          ("drug-induced death", c.drug_death), ("mutation", None)):
            if ref is not None and base(ref) > 0:
                notes.append(f"cell type {c.name}: {what} is not exported")
        if c.mutation is not None:
            notes.append(f"cell type {c.name}: mutation into {c.mutation[0]} is not exported")
        for what, flag in (("systemic feedback", c.feedback), ("joint niche", c.niche),
                           ("homeostatic death", c.homeostasis is not None)):
            if flag:
                notes.append(f"cell type {c.name}: {what} is not exported (a global term)")
        export = {s: 0.0 for s in sub_names}
        for pool in net.pools:
            if pool.source == c.name and pool.name in subs:
                if pool.per_death:
                    notes.append(f"EV pool {pool.name}: released per dying cell, not exported")
                    continue
                export[subs[pool.name]] += base(pool.secretion) / MIN_PER_H * UM3_PER_ML
        for prod in net.productions:
            if prod.cell_type == c.name:
                export[subs[prod.cytokine]] += base(prod.behavior) / MIN_PER_H * UM3_PER_ML
        uptake = {s: 0.0 for s in sub_names}
        for route in net.uptakes:
            pool = net.pools[route.pool]
            if route.target == c.name and pool.name in subs:
                uptake[subs[pool.name]] += _uptake_rate(p[route.rate])
        for k in net.kills:
            if k.killer == c.name:
                notes.append(f"cell type {c.name}: killing of {k.target} is not exported "
                             "(PhysiCell's attack damages; death by damage needs a rule)")
        _cell_definition(defs, idx, c.name, names, sub_names, prolif * renew / MIN_PER_H,
                         base(c.death) / MIN_PER_H, transform, export, uptake)

    ini = _sub(root, "initial_conditions")
    pos = _sub(ini, "cell_positions", type="csv", enabled="true")
    _sub(pos, "folder", "./config")
    _sub(pos, "filename", "cells.csv")
    cr = _sub(root, "cell_rules")
    rss = _sub(cr, "rulesets")
    rs = _sub(rss, "ruleset", protocol="CBHG", version="3.0", format="csv", enabled="true")
    _sub(rs, "folder", "./config")
    _sub(rs, "filename", "cell_rules.csv")
    _sub(cr, "settings")
    up = _sub(root, "user_parameters")
    _sub(up, "number_of_cells", 0, type="int", units="none",
         description="initial number of cells (for each cell type)")
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
    rules = _rules(net, subs, marrow, notes)
    return Exported(text, rules, cells_out, notes, subs)


def _uptake_rate(clearance_ml_h: float) -> float:
    """PhysiCell's uptake rate (1/min) of a cell that clears ``clearance_ml_h`` mL/h:
    PhysiCell removes U·V_cell·ρ per cell, evniche clearance·ρ."""
    return clearance_ml_h * UM3_PER_ML / MIN_PER_H / CELL_VOLUME_UM3


def _pool_initial(net: Network, pool: int) -> float:
    """The initial number of EVs of marrow pool ``pool`` (the model's initial value)."""
    name = net.pools[pool].name
    for s in net.species:
        if s.kind == "ev" and s.compartment == MARROW and s.name.endswith(name):
            return net.params.get(s.initial, 0.0)
    return 0.0


def _rules(net: Network, subs: dict[str, str], marrow, notes: list[str]) -> list[list[str]]:
    """v3 rows for the rules whose signal and behavior PhysiCell can express."""
    p = net.params
    marrow_names = {c.name for c in marrow}
    by_name = {c.name: c for c in marrow}
    rows = []
    for b in net.behaviors:
        if b.cell_type not in marrow_names:
            continue
        c = by_name[b.cell_type]
        for direction, terms in (("increases", b.up), ("decreases", b.down)):
            for term in terms:
                sig = net.signals[term.signal]
                where = f"rule {b.cell_type}: {sig.kind}:{sig.argument} {direction} {b.name}"
                signal, half = _signal(net, sig, term, subs)
                behavior, scale = _behavior(net, c, b, subs, marrow_names)
                if signal is None or behavior is None:
                    notes.append(f"{where}: not exported ({_why(sig, b, signal)})")
                    continue
                rows.append([b.cell_type, signal, direction, behavior,
                             _num(p[term.saturation] * scale), _num(half),
                             _num(p[term.hill_power]), "0"])
    return rows


def _why(sig, b, signal) -> str:
    if signal is None:
        return {"cargo": "internalized cargo has no PhysiCell signal",
                "state": "evniche states have no PhysiCell signal",
                "drug": "drugs are not exported", "fraction": "a population share is global",
                "uptake": "uptake of several pools (or by no marrow route) is no single "
                          "substrate",
                "ev": "the pool is not a marrow substrate"}.get(sig.kind, "no PhysiCell signal")
    return f"'{b.name}' has no PhysiCell behavior here"


def _signal(net: Network, sig, term, subs) -> tuple[str | None, float]:
    """The PhysiCell signal and half-max (as a density per mL) for an evniche signal."""
    half = net.params[term.half_max]
    if sig.kind == "cytokine" and sig.argument in subs:
        return subs[sig.argument], half
    if sig.kind in ("ev", "uptake"):
        src, _, cls = sig.argument.partition(".")
        pools = [pl for pl in net.pools if pl.source == src and pl.name in subs
                 and (not cls or cls == pl.vesicle_class or pl.name == f"{src}.{cls}")]
        if len(pools) != 1:
            return None, half
        if sig.kind == "ev":
            return subs[pools[0].name], half
        routes = [r for r in net.uptakes if r.target == sig.cell_type
                  and net.pools[r.pool].name == pools[0].name]
        if len(routes) != 1 or net.params[routes[0].rate] <= 0:
            return None, half
        # uptake per cell = clearance · density: the half-max as a density
        return subs[pools[0].name], half / net.params[routes[0].rate]
    return None, half


def _behavior(net: Network, c, b, subs, marrow_names) -> tuple[str | None, float]:
    """The PhysiCell behavior for an evniche behavior and the factor its values take."""
    p = net.params
    if b.name == "proliferation":
        renew = p[net.behaviors[c.self_renewal].base] if c.self_renewal is not None else 1.0
        return "cycle entry", renew / MIN_PER_H
    if b.name == "death":
        return "apoptosis", 1 / MIN_PER_H
    if b.name == "exit" and c.exit_to in marrow_names:
        return f"transform to {c.exit_to}", 1 / MIN_PER_H
    if b.name.startswith("production:"):
        cyt = b.name.partition(":")[2]
        return f"{subs[cyt]} export", UM3_PER_ML / MIN_PER_H
    if b.name.startswith("secretion:"):
        suffix = b.name.partition(":")[2]
        name = f"{c.name}.{suffix}"
        if name in subs:
            return f"{subs[name]} export", UM3_PER_ML / MIN_PER_H
    return None, 1.0


def _domain(root, w, h, d, dx, two_d) -> None:
    dom = _sub(root, "domain")
    for axis, size in zip("xyz", (w, h, d), strict=True):
        _sub(dom, f"{axis}_min", -size / 2)
        _sub(dom, f"{axis}_max", size / 2)
    for axis in "xyz":
        _sub(dom, f"d{axis}", dx)
    _sub(dom, "use_2D", "true" if two_d else "false")


def _overall(root) -> None:
    ov = _sub(root, "overall")
    _sub(ov, "max_time", 1440, units="min")
    _sub(ov, "time_units", "min")
    _sub(ov, "space_units", "micron")
    _sub(ov, "dt_diffusion", 0.01, units="min")
    _sub(ov, "dt_mechanics", 0.1, units="min")
    _sub(ov, "dt_phenotype", 6, units="min")
    par = _sub(root, "parallel")
    _sub(par, "omp_num_threads", 2)
    save = _sub(root, "save")
    _sub(save, "folder", "output")
    fd = _sub(save, "full_data")
    _sub(fd, "interval", 60, units="min")
    _sub(fd, "enable", "true")
    svg = _sub(save, "SVG")
    _sub(svg, "interval", 60, units="min")
    _sub(svg, "enable", "false")
    leg = _sub(save, "legacy_data")
    _sub(leg, "enable", "false")
    opt = _sub(root, "options")
    _sub(opt, "legacy_random_points_on_sphere_in_divide", "false")
    _sub(opt, "virtual_wall_at_domain_edge", "true")
    _sub(opt, "disable_automated_spring_adhesions", "false")
    _sub(opt, "random_seed", 0)


def _variable(mic, i, name, units, dcoef, decay, initial) -> None:
    var = _sub(mic, "variable", name=name, units=units, ID=str(i))
    pps = _sub(var, "physical_parameter_set")
    _sub(pps, "diffusion_coefficient", dcoef, units="micron^2/min")
    _sub(pps, "decay_rate", decay, units="1/min")
    _sub(var, "initial_condition", initial, units=units)
    _sub(var, "Dirichlet_boundary_condition", 0, units=units, enabled="False")
    opts = _sub(var, "Dirichlet_options")
    for side in ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax"):
        _sub(opts, "boundary_value", 0, ID=side, enabled="False")


def _named(parent, tag, child, names, values: dict[str, float], units="1/min") -> None:
    el = _sub(parent, tag)
    for n in names:
        _sub(el, child, values.get(n, 0.0), name=n, units=units)


def _cell_definition(defs, idx, name, names, subs, cycle_rate, death_rate, transform,
                     export, uptake) -> None:
    cd = _sub(defs, "cell_definition", name=name, ID=str(idx))
    ph = _sub(cd, "phenotype")
    cyc = _sub(ph, "cycle", code="5", name="live")
    rates = _sub(cyc, "phase_transition_rates", units="1/min")
    _sub(rates, "rate", cycle_rate, start_index="0", end_index="0", fixed_duration="false")
    death = _sub(ph, "death")
    for code, kind, rate, transitions in (
            ("100", "apoptosis", death_rate, [("0", "1", 0.001938, "true")]),
            ("101", "necrosis", 0.0, [("0", "1", 9e9, "false"), ("1", "2", 1.15741e-05,
                                                                 "true")])):
        m = _sub(death, "model", code=code, name=kind)
        _sub(m, "death_rate", rate, units="1/min")
        tr = _sub(m, "phase_transition_rates", units="1/min")
        for s, e, r, fixed in transitions:
            _sub(tr, "rate", r, start_index=s, end_index=e, fixed_duration=fixed)
        pars = _sub(m, "parameters")
        for tag, value, unit in (("unlysed_fluid_change_rate", 0.05, "1/min"),
                                 ("lysed_fluid_change_rate", 0, "1/min"),
                                 ("cytoplasmic_biomass_change_rate", 1.66667e-02, "1/min"),
                                 ("nuclear_biomass_change_rate", 5.83333e-03, "1/min"),
                                 ("calcification_rate", 0, "1/min"),
                                 ("relative_rupture_volume", 2.0, "dimensionless")):
            _sub(pars, tag, value, units=unit)
    vol = _sub(ph, "volume")
    for tag, value, unit in (("total", CELL_VOLUME_UM3, "micron^3"),
                             ("fluid_fraction", 0.75, "dimensionless"),
                             ("nuclear", 540, "micron^3"), ("fluid_change_rate", 0.05, "1/min"),
                             ("cytoplasmic_biomass_change_rate", 0.0045, "1/min"),
                             ("nuclear_biomass_change_rate", 0.0055, "1/min"),
                             ("calcified_fraction", 0, "dimensionless"),
                             ("calcification_rate", 0, "1/min"),
                             ("relative_rupture_volume", 2.0, "dimensionless")):
        _sub(vol, tag, value, units=unit)
    mech = _sub(ph, "mechanics")
    _sub(mech, "cell_cell_adhesion_strength", 0.4, units="micron/min")
    _sub(mech, "cell_cell_repulsion_strength", 10.0, units="micron/min")
    _sub(mech, "relative_maximum_adhesion_distance", 1.25, units="dimensionless")
    aff = _sub(mech, "cell_adhesion_affinities")
    for n in names:
        _sub(aff, "cell_adhesion_affinity", 1.0, name=n)
    mo = _sub(mech, "options")
    _sub(mo, "set_relative_equilibrium_distance", 1.8, enabled="false", units="dimensionless")
    _sub(mo, "set_absolute_equilibrium_distance", 15.12, enabled="false", units="micron")
    _sub(mech, "attachment_elastic_constant", 0.01, units="1/min")
    _sub(mech, "attachment_rate", 0.0, units="1/min")
    _sub(mech, "detachment_rate", 0.0, units="1/min")
    _sub(mech, "maximum_number_of_attachments", 12)
    mot = _sub(ph, "motility")
    # evniche's random motility (10 µm²/h, an engine assumption) as PhysiCell's speed with a
    # persistence time T: D = s²T/2 in 2-D → s = sqrt(2 D / T)
    persistence = 5.0
    _sub(mot, "speed", math.sqrt(2 * (10.0 / MIN_PER_H) / persistence), units="micron/min")
    _sub(mot, "persistence_time", persistence, units="min")
    _sub(mot, "migration_bias", 0.0, units="dimensionless")
    mopt = _sub(mot, "options")
    _sub(mopt, "enabled", "true")
    _sub(mopt, "use_2D", "true")
    chem = _sub(mopt, "chemotaxis")
    _sub(chem, "enabled", "false")
    _sub(chem, "substrate", subs[0])
    _sub(chem, "direction", 1)
    adv = _sub(mopt, "advanced_chemotaxis")
    _sub(adv, "enabled", "false")
    _sub(adv, "normalize_each_gradient", "false")
    sens = _sub(adv, "chemotactic_sensitivities")
    for s in subs:
        _sub(sens, "chemotactic_sensitivity", 0.0, substrate=s)
    sec = _sub(ph, "secretion")
    for s in subs:
        el = _sub(sec, "substrate", name=s)
        _sub(el, "secretion_rate", 0.0, units="1/min")
        _sub(el, "secretion_target", 1.0, units="substrate density")
        _sub(el, "uptake_rate", uptake.get(s, 0.0), units="1/min")
        _sub(el, "net_export_rate", export.get(s, 0.0), units="total substrate/min")
    inter = _sub(ph, "cell_interactions")
    _sub(inter, "apoptotic_phagocytosis_rate", 0, units="1/min")
    _sub(inter, "necrotic_phagocytosis_rate", 0, units="1/min")
    _sub(inter, "other_dead_phagocytosis_rate", 0, units="1/min")
    _named(inter, "live_phagocytosis_rates", "phagocytosis_rate", names, {})
    _named(inter, "attack_rates", "attack_rate", names, {})
    _sub(inter, "attack_damage_rate", 1.0, units="1/min")
    _sub(inter, "attack_duration", 0.1, units="min")
    _named(inter, "fusion_rates", "fusion_rate", names, {})
    tr = _sub(ph, "cell_transformations")
    _named(tr, "transformation_rates", "transformation_rate", names, transform)
    integ = _sub(ph, "cell_integrity")
    _sub(integ, "damage_rate", 0.0, units="1/min")
    _sub(integ, "damage_repair_rate", 0.0, units="1/min")
    custom = _sub(cd, "custom_data")
    _sub(custom, "sample", 0.0, conserved="false", units="dimensionless", description="")
    _sub(cd, "initial_parameter_distributions", enabled="false")


def write_project(model, out: Path, seed: int = 0) -> Exported:
    """Write the PhysiCell project of ``model`` into ``out``: ``config/PhysiCell_settings.xml``,
    ``config/cell_rules.csv``, ``config/cells.csv`` and ``EXPORT_NOTES.txt``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise EvnicheError(f"--out {out}: a file is in the way; give a folder")
    exported = export_project(model, seed)
    config = out / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "PhysiCell_settings.xml").write_text(exported.settings, encoding="utf-8")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(exported.rules)
    (config / "cell_rules.csv").write_text(buf.getvalue(), encoding="utf-8")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["x", "y", "z", "type"])
    writer.writerows([f"{x:.4f}", f"{y:.4f}", f"{z:.4f}", t] for x, y, z, t in exported.cells)
    (config / "cells.csv").write_text(buf.getvalue(), encoding="utf-8")
    (out / "EXPORT_NOTES.txt").write_text(
        "What evniche could not express in PhysiCell 1.14 (docs/interop.md):\n"
        + "".join(f"- {n}\n" for n in exported.notes), encoding="utf-8")
    return exported
