"""Options of the spatial engine: defaults, the model file's ``spatial`` section, and their
validation (a wrong name or value raises a SimulationError naming the option).

Units are in the option names (µm, hours); everything here is an assumption of the engine,
not a biological parameter, except where a comment cites a source.
"""

from __future__ import annotations

import numpy as np

from ...compile.network import Network
from ...errors import SimulationError
from . import geometry, transport

#: engine options with defaults (units in the name); everything here is an assumption
#: of the engine, not a biological parameter, except where a docstring cites a source
DEFAULTS: dict[str, object] = {
    "dt_hours": 0.5,
    "output_hours": 24.0,
    "agents": 4000,
    "min_agents": 40,
    "field_substeps": None,  # default: enough that a sub-step loses ≤ max_substep_loss
    "max_substep_loss": 0.1,  # fraction lost to the fastest local sink per field sub-step
    "cell_radius_um": 5.0,  # assumption: ~10 µm marrow cells
    "repulsion_um_h": 20.0,  # assumption: relaxes a full overlap within ~0.25 h
    "adhesion_um_h": 1.0,  # assumption
    "motility_um2_h": 10.0,  # assumption: slow random motility of marrow cells
    "chemotaxis_um_h": 2.0,  # assumption: directed speed along CXCL12 at full CXCR4
    "kill_reach_um": 20.0,  # assumption: contact distance of an NK/CD8 cell and its target
    "chemoattractant": None,  # cytokine name; default: one named like CXCL12/SDF-1
    "chemotactic_types": None,  # default: niche cell types and types with a cxcr4 state
    "placement": None,  # {cell type: uniform|perivascular|hsc|sinusoid|bone}
    # {cell type: {reach_um, motility_factor, chemotaxis_um_h}}: niche retention (adhesion
    # near a sinusoid and chemotaxis up the chemoattractant); none by default
    "retention": None,
    "niche_distance_um": 10.0,  # readout niche_fraction: "within 10 µm" as Acar 2015
    "equilibrate_first": True,
    "params": None,
    "snapshot_days": None,  # days pictured in the report (default: 4, evenly spaced)
    "animation_frames": 16,  # snapshots for the report's animation, evenly spaced (0: none)
    "snapshot_dir": None,
    "threads": None,
}
#: options the well-mixed engine takes that have no meaning here (accepted, ignored)
IGNORED = {"rtol"}


def validated_options(net: Network, options: dict) -> dict:
    """The engine options of a run: the model's ``spatial`` section, overridden by
    ``options``, validated, defaults filled in (see :func:`_options`)."""
    return _options({**model_options(net), **options})


def model_options(net: Network) -> dict:
    """Engine options from the model file's ``spatial`` section (validated when the model was
    loaded; lengths in µm). Options given to :func:`simulate` override them."""
    sp = getattr(net.model.spec, "spatial", None)
    if sp is None:
        return {}
    p = net.params

    def length(key: str, ref) -> float | None:
        if ref is None:
            return None
        return float(p[ref if isinstance(ref, str) else f"spatial.{key}"])

    out: dict[str, object] = {}
    size = [length(k, getattr(sp, k)) for k in ("width", "height", "depth")]
    if any(v is not None for v in size):
        default = geometry.GeometrySettings().size_um
        out["size_um"] = tuple(d if v is None else v for v, d in zip(size, default, strict=True))
    for key, option in (("voxel", "dx_um"), ("sinusoid_radius", "sinusoid_radius_um"),
                        ("sinusoid_spacing", "sinusoid_spacing_um"),
                        ("niche_distance", "niche_distance_um")):
        value = length(key, getattr(sp, key))
        if value is not None:
            out[option] = value
    for key in ("bone", "agents", "min_agents", "snapshot_days", "animation_frames",
                "chemoattractant", "chemotactic_types"):
        if getattr(sp, key) is not None:
            out[key] = getattr(sp, key)
    if sp.placement:
        out["placement"] = dict(sp.placement)
    if sp.retention:
        out["retention"] = {
            cell: {option: float(p[ref if isinstance(ref, str) else
                                   f"spatial.retention.{cell}.{key}"])
                   for key, option in (("reach", "reach_um"),
                                       ("motility_factor", "motility_factor"),
                                       ("chemotaxis", "chemotaxis_um_h"))
                   if (ref := getattr(entry, key)) is not None}
            for cell, entry in sp.retention.items()}
    return out


#: options that are numbers: their type and whether they must be > 0 (else ≥ 0)
NUMBERS: dict[str, tuple[type, bool]] = {
    "dt_hours": (float, True), "output_hours": (float, True), "agents": (int, True),
    "min_agents": (int, True), "max_substep_loss": (float, True),
    "cell_radius_um": (float, True), "repulsion_um_h": (float, False),
    "adhesion_um_h": (float, False), "motility_um2_h": (float, False),
    "chemotaxis_um_h": (float, False), "kill_reach_um": (float, True),
    "niche_distance_um": (float, True),
    "animation_frames": (int, False), "field_substeps": (int, True), "threads": (int, True),
}


def _number(key: str, value, kind: type, positive: bool):
    """``value`` as ``kind`` (int or float), or a SimulationError naming ``key``."""
    try:
        number = kind(value)
        if kind is int and number != float(value):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        what = "an integer" if kind is int else "a number"
        raise SimulationError(f"spatial option {key}: expected {what}, got {value!r}"
                              ) from None
    if not (number > 0 if positive else number >= 0):
        bound = "positive" if positive else "≥ 0"
        raise SimulationError(f"spatial option {key} must be {bound}, got {value!r}")
    return number


def _options(options: dict) -> dict:
    """Validated engine options: defaults filled in, geometry and transport settings
    grouped; a wrong name or value raises a SimulationError naming the option."""
    options = dict(options)
    unknown = sorted(set(options) - set(DEFAULTS) - IGNORED
                     - set(geometry.GeometrySettings.__dataclass_fields__)
                     - set(transport.TransportSettings.__dataclass_fields__))
    if unknown:
        geo = ", ".join(sorted(geometry.GeometrySettings.__dataclass_fields__))
        tra = ", ".join(sorted(transport.TransportSettings.__dataclass_fields__))
        raise SimulationError(f"unknown option(s) for the spatial engine: {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(DEFAULTS))}, geometry {geo}, "
                              f"transport {tra}")
    settings = {"geometry": geometry.GeometrySettings.from_options(options),
                "transport": transport.TransportSettings.from_options(options)}
    out = {k: options.get(k, v) for k, v in DEFAULTS.items()}
    out.update(settings)
    for key, (kind, positive) in NUMBERS.items():
        if out[key] is not None:
            out[key] = _number(key, out[key], kind, positive)
    _agents_per_cell(out)
    if out["snapshot_days"] is not None:
        try:
            days = [float(d) for d in np.atleast_1d(out["snapshot_days"])]
        except (TypeError, ValueError):
            days = [-1.0]
        if not days or any(not d >= 0 for d in days):
            raise SimulationError("spatial option snapshot_days: give a list of days ≥ 0, "
                                  f"got {out['snapshot_days']!r}")
        out["snapshot_days"] = days
    if out["retention"] is not None:
        out["retention"] = _retention(out["retention"])
    if out["placement"] is not None and not isinstance(out["placement"], dict):
        raise SimulationError("spatial option placement: expected {cell type: uniform|"
                              f"perivascular|hsc|sinusoid|bone}}, got {out['placement']!r}")
    return out


#: the most agents the ``agents`` option may ask for per cell footprint of the section (its
#: area over (2·cell_radius_um)² in 2-D, its volume over (2·cell_radius_um)³ in 3-D).
#: Assumption: agents are sampling particles with a cell's radius and contact mechanics;
#: their neighbour work per agent grows with the agents per footprint (at 100 per 10-µm
#: cell a step of 1e6 agents took minutes), and a footprint holds one real cell
MAX_AGENTS_PER_CELL = 32


def _agents_per_cell(out: dict) -> None:
    """Refuse an ``agents`` target above :data:`MAX_AGENTS_PER_CELL` per cell footprint of
    the section, naming a section that would hold it."""
    nz, ny, nx = geometry.grid_shape(out["geometry"])
    dx, cell = out["geometry"].dx_um, 2.0 * float(out["cell_radius_um"])
    dims = 3 if nz > 1 else 2
    cells = nz * ny * nx * (dx / cell) ** dims
    agents = out["agents"]
    if agents > MAX_AGENTS_PER_CELL * cells:
        side = (agents / MAX_AGENTS_PER_CELL) ** (1 / dims) * cell
        shape = "square" if dims == 2 else "cube"
        raise SimulationError(
            f"spatial option agents: {agents} agents in a section of {cells:.4g} cells of "
            f"{cell:g} µm are {agents / cells:.3g} per cell, more than {MAX_AGENTS_PER_CELL}: "
            f"enlarge the section (size_um, at least a {side:.0f}-µm {shape}) or ask for "
            "fewer agents")


#: keys of one cell type's ``retention`` entry: (whether it must be ≤ 1, default)
RETENTION_KEYS: dict[str, tuple[bool, float | None]] = {
    "reach_um": (False, 10.0), "motility_factor": (True, 1.0), "chemotaxis_um_h": (False, None)}


def _retention(raw) -> dict[str, dict[str, float | None]]:
    """The ``retention`` option validated: {cell type: {reach_um (µm from a sinusoid within
    which the cell adheres), motility_factor (0–1: random motility of an adherent cell),
    chemotaxis_um_h (directed speed up the chemoattractant, none: the engine's)}}."""
    if not isinstance(raw, dict):
        raise SimulationError("spatial option retention: expected {cell type: {reach_um, "
                              f"motility_factor, chemotaxis_um_h}}}}, got {raw!r}")
    out = {}
    for cell, entry in raw.items():
        where = f"spatial option retention.{cell}"
        if not isinstance(entry, dict):
            raise SimulationError(f"{where}: expected {{reach_um, motility_factor, "
                                  f"chemotaxis_um_h}}, got {entry!r}")
        unknown = sorted(set(entry) - set(RETENTION_KEYS))
        if unknown:
            raise SimulationError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
                                  f"known: {', '.join(RETENTION_KEYS)}")
        values: dict[str, float | None] = {}
        for key, (fraction, default) in RETENTION_KEYS.items():
            value = entry.get(key, default)
            if value is not None:
                value = _number(f"retention.{cell}.{key}", value, float, False)
                if fraction and value > 1:
                    raise SimulationError(f"{where}.{key}: expected a fraction in [0, 1], got "
                                          f"{value!r}")
            values[key] = value
        out[str(cell)] = values
    return out
