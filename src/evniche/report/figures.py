"""Figures of the report: matplotlib (Agg, no display) drawn to PNG/GIF bytes, base64-encoded.

Every function takes a Trajectory (or a readout of it) and returns the base64 text of
one image, ready for ``<img src="data:image/png;base64,...">``; none keeps global
pyplot state: figures are ``matplotlib.figure.Figure`` objects on an Agg canvas, so no
display is needed and the session's backend is left alone.
"""

from __future__ import annotations

import base64
import io

import matplotlib
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, ScalarFormatter

from ..readouts import clinical, liquid_biopsy

DPI = 96
CELL_COLOURS = ("tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple", "tab:brown",
                "tab:pink", "tab:gray", "tab:olive", "tab:cyan")


def new_figure(**kwargs) -> Figure:
    """A figure drawn by the Agg backend, whatever the session's pyplot backend is."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def png(fig: Figure, tight: bool = False) -> str:
    """Render ``fig`` to PNG and return it base64-encoded (``tight``: crop to the drawn
    extent, at the cost of a second drawing pass)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight" if tight else None)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _positive(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return np.where(values > 0, values, np.nan)


#: log-scale line plots do not go below this (counts below 0.1 cell mean extinction)
LOG_FLOOR = 0.1
#: the communication heatmap's colour scale spans at most this many decades below its top
HEATMAP_DECADES = 9


def _style(i: int) -> dict:
    """Colour and line style of the i-th series: 10 colours, then dashed, then dotted."""
    return {"color": CELL_COLOURS[i % len(CELL_COLOURS)],
            "linestyle": ("-", "--", ":")[(i // len(CELL_COLOURS)) % 3]}


def _log_lines(ax, time: np.ndarray, series: dict[str, np.ndarray], ylabel: str,
               floor: float | None = None) -> None:
    drawn = []
    for i, (label, values) in enumerate(series.items()):
        y = _positive(values)
        if np.isfinite(y).any():
            ax.plot(time, y, label=label, **_style(i))
            drawn.append(y)
    if drawn:
        ax.set_yscale("log")
        if floor is not None:
            top = max(float(np.nanmax(y)) for y in drawn)
            bottom = min(float(np.nanmin(y)) for y in drawn)
            if bottom < floor < top:
                ax.set_ylim(bottom=floor)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        ax.text(0.5, 0.5, "nothing above zero", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel("time (days)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def populations(ds: xr.Dataset, threshold: float = 20.0) -> str:
    """Cell counts of every type over time (log scale) above marrow blast % (linear)."""
    fig = new_figure(figsize=(8, 6.5))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    fig.subplots_adjust(left=0.1, right=0.82, bottom=0.08, top=0.95, hspace=0.08)
    time = ds["time"].values
    cells = clinical.present(ds["cells"])  # below one cell: extinct, the line ends
    _log_lines(top, time, {str(c): cells.sel(cell_type=c).values
                           for c in cells["cell_type"].values}, "cells", floor=LOG_FLOOR)
    top.set_xlabel("")
    top.set_title("Cell populations")
    pct = clinical.blast_percent(ds).values
    bottom.plot(time, pct, color="tab:red")
    bottom.axhline(threshold, color="k", ls="--", lw=0.8, label=f"{threshold:g} % take-over")
    bottom.set_ylabel("marrow blasts (%)")
    bottom.set_xlabel("time (days)")
    bottom.set_ylim(0, max(100.0, float(np.nanmax(pct)) if np.isfinite(pct).any() else 100.0))
    bottom.legend(fontsize=8)
    bottom.grid(alpha=0.3)
    return png(fig)


def blood_output(ds: xr.Dataset) -> str:
    """Normal blood output and normal HSC/progenitor counts over time (cells, log scale;
    below one cell: extinct)."""
    fig = new_figure(figsize=(8, 3.6))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.1, right=0.82, bottom=0.14, top=0.9)
    series = {"normal blood output": clinical.present(clinical.normal_blood_output(ds)).values}
    stem = clinical.present(clinical.normal_stem_progenitor(ds))
    for c in stem["cell_type"].values:
        series[f"{c} (normal)"] = stem.sel(cell_type=c).values
    _log_lines(ax, ds["time"].values, series, "cells", floor=LOG_FLOOR)
    ax.set_title("Normal hematopoiesis")
    return png(fig)


def plasma_evs(ds: xr.Dataset) -> str:
    """Plasma EV concentration by vesicle class over time (EV/mL, log scale)."""
    conc = liquid_biopsy.plasma_concentration(ds)
    fig = new_figure(figsize=(8, 3.6))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.1, right=0.82, bottom=0.14, top=0.9)
    _log_lines(ax, ds["time"].values, {str(c): conc.sel(vesicle_class=c).values
                                       for c in conc["vesicle_class"].values}, "EV per mL plasma")
    ax.set_title("Plasma EVs by class")
    return png(fig)


def _therapy_strip(ax, therapies: list[dict], timeline: list[dict]) -> None:
    """One row per intervention given: its windows as bars, its doses as ticks."""
    for row, t in enumerate(therapies):
        colour = _style(row)["color"]
        mine = [r for r in timeline if (r["item"], r["intervention"]) == (t["item"],
                                                                         t["intervention"])]
        bars = [(r["start_day"], r["end_day"] - r["start_day"]) for r in mine
                if r["end_day"] > r["start_day"]]
        if bars:
            ax.broken_barh(bars, (row - 0.3, 0.6), color=colour, alpha=0.5)
        doses = [r["start_day"] for r in mine if r["end_day"] == r["start_day"]]
        if doses:
            ax.plot(doses, [row] * len(doses), "|", color=colour, markersize=12, mew=2)
    ax.set_yticks(range(len(therapies)), [t["intervention"] for t in therapies], fontsize=8)
    ax.set_ylim(len(therapies) - 0.5, -0.5)
    ax.set_title("Therapy (bars: while it acts; ticks: doses)", fontsize=9)
    ax.grid(alpha=0.3, axis="x")


def clinical_course(ds: xr.Dataset, course: dict) -> str:
    """The clinical course: therapy timeline (when there is one), blasts in marrow and
    blood (cells), the normal hematopoietic lineages (cells), plasma EVs by origin (EV/mL)
    and MRD (%, with the 0.1 % negativity line), all log scale over time (days); therapy
    windows shaded, diagnosis / CR / relapse marked. Counts below one cell are extinct,
    and so is a plasma EV source with less than one EV in the whole plasma volume.
    ``course`` is :func:`evniche.readouts.clinical.course` of ``ds``."""
    therapies = course["therapies"]
    timeline = clinical.interventions(ds)
    panels = 4 + bool(therapies)
    ratios = ([max(1.0, 0.45 * len(therapies))] if therapies else []) + [2.2] * 4
    fig = new_figure(figsize=(8, 2.3 * 4 + (0.9 + 0.3 * len(therapies)) * bool(therapies)))
    axes = list(np.atleast_1d(fig.subplots(panels, 1, sharex=True,
                                           gridspec_kw={"height_ratios": ratios})))
    fig.subplots_adjust(left=0.12, right=0.74, bottom=0.05, top=0.97, hspace=0.18)
    time = ds["time"].values
    if therapies:
        _therapy_strip(axes.pop(0), therapies, timeline)
    blasts, normal, plasma, mrd_ax = axes
    _log_lines(blasts, time, {
        "marrow blasts": clinical.present(clinical.leukemic_marrow(ds)).values,
        "blood blasts": clinical.blood_blasts(ds).values}, "leukemic cells", floor=LOG_FLOOR)
    blasts.set_title("Blasts (leukemic cells in marrow and blood)", fontsize=9)
    lineages = clinical.present(clinical.normal_lineages(ds))
    _log_lines(normal, time, {str(c): lineages.sel(cell_type=c).values
                              for c in lineages["cell_type"].values}, "cells", floor=LOG_FLOOR)
    normal.set_title("Normal hematopoiesis (marrow lineages and blood output)", fontsize=9)
    by_source = liquid_biopsy.plasma_by_source(ds)
    volume = float(ds.attrs.get("volume_blood_mL", 0.0) or 0.0)
    if volume > 0:  # less than one EV in all of the plasma: none
        by_source = by_source.where(by_source >= 1.0 / volume, 0.0)
    leuk = set(clinical.names_attr(ds, "leukemic"))
    _log_lines(plasma, time, {f"{s}{' (leukemic)' if str(s) in leuk else ''}":
                              by_source.sel(source=s).values
                              for s in by_source["source"].values}, "EV per mL plasma")
    plasma.set_title("Plasma EVs by the cell type that secreted them", fontsize=9)
    levels = clinical.mrd(ds)
    _log_lines(mrd_ax, time, {"marrow": 100 * levels["marrow"].values,
                              "blood": 100 * levels["blood"].values,
                              "plasma EVs": 100 * levels["ev"].values}, "MRD (%)")
    mrd_ax.axhline(100 * clinical.MRD_NEGATIVE, color="k", ls="--", lw=0.8)
    mrd_ax.text(time[0], 100 * clinical.MRD_NEGATIVE, " 0.1 % (MRD-negative below)",
                fontsize=7, va="bottom")
    mrd_ax.set_title("Measurable residual disease", fontsize=9)
    for ax in (blasts, normal, plasma):
        ax.set_xlabel("")
    marks = [(course["diagnosis_day"], "diagnosis"), (course["remission_day"], "CR"),
             (course["relapse_day"], "relapse")]
    for ax in (blasts, normal, plasma, mrd_ax):
        for r in timeline:
            if r["end_day"] > r["start_day"]:
                ax.axvspan(r["start_day"], r["end_day"], color="0.85", alpha=0.5, lw=0)
            else:
                ax.axvline(r["start_day"], color="0.6", lw=0.5, alpha=0.6)
        for day, _ in marks:
            if day is not None:
                ax.axvline(day, color="k", ls=":", lw=1)
    for day, label in marks:
        if day is not None:
            blasts.text(day, 1.0, f" {label}", transform=blasts.get_xaxis_transform(),
                        fontsize=8, va="top")
    return png(fig)


def nta(hist: liquid_biopsy.NTAHistogram) -> str:
    """The virtual NTA histogram: particles/mL per size bin, stacked by class."""
    fig = new_figure(figsize=(8, 3.6))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.14, top=0.9)
    widths = np.diff(hist.edges_nm)
    bottom = np.zeros_like(hist.per_ml)
    for i, (cls, values) in enumerate(hist.by_class.items()):
        ax.bar(hist.edges_nm[:-1], values, width=widths, bottom=bottom, align="edge",
               color=CELL_COLOURS[i % len(CELL_COLOURS)], label=cls, edgecolor="none")
        bottom = bottom + values
    ax.set_xlabel("diameter (nm)")
    ax.set_ylabel("particles per mL per bin")
    ax.set_title(f"Virtual NTA, day {hist.day:g} "
                 f"({hist.edges_nm[0]:g}–{hist.edges_nm[-1]:g} nm detected)")
    if hist.by_class:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return png(fig)


def heatmap(matrix: pd.DataFrame, title: str, unit: str) -> str:
    """A source × target heatmap on a log colour scale (zeros left blank)."""
    values = _positive(matrix.to_numpy(dtype=float))
    fig = new_figure(figsize=(1.6 + 0.7 * max(matrix.shape[1], 2), 1.4 + 0.5 * max(matrix.shape[0],
                                                                                 2)))
    ax = fig.subplots()
    if np.isfinite(values).any():
        vmax = float(np.nanmax(values))
        vmin = max(float(np.nanmin(values)), vmax * 10.0 ** -HEATMAP_DECADES)
        cmap = matplotlib.colormaps["viridis"].with_extremes(under="#d9d9d9")
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, aspect="auto",
                          norm=LogNorm(vmin=vmin, vmax=max(vmax, vmin * 1.0001)))
        fig.colorbar(image, ax=ax, label=unit,
                     extend="min" if float(np.nanmin(values)) < vmin else "neither")
    else:
        ax.text(0.5, 0.5, "no EVs delivered", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns], rotation=45,
                  ha="right")
    ax.set_yticks(range(matrix.shape[0]), [str(r) for r in matrix.index])
    ax.set_xlabel("target")
    ax.set_ylabel("source")
    ax.set_title(title)
    return png(fig, tight=True)


def states(ds: xr.Dataset) -> str | None:
    """Cell-state variables over time (one line each); None if the model has none."""
    if "states" not in ds or ds.sizes.get("state", 0) == 0:
        return None
    fig = new_figure(figsize=(8, 3.6))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.1, right=0.82, bottom=0.14, top=0.9)
    for i, s in enumerate(ds["state"].values):
        ax.plot(ds["time"].values, ds["states"].sel(state=s).values, label=str(s), **_style(i))
    ax.set_xlabel("time (days)")
    ax.set_ylabel("state (model units)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    ax.set_title("Cell states")
    return png(fig)


# --- spatial snapshots -------------------------------------------------------------------
#
# One figure per snapshot, three panels side by side on the same section (x: distance from
# the bone surface, y: along it): the cells (one dot per agent, coloured by type), one EV
# field and CXCL12 (heatmaps with a colour bar in their unit, one scale for all snapshots so
# that the animation compares like with like). Sinusoids are drawn on every panel (filled
# on the cell panel, outlined on the fields) and the bone surface as a band at x = 0.

#: colours of normal cell types: distinguishable, and none red (red is for sinusoids)
SECTION_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#7f7f7f",
                   "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5",
                   "#c49c94", "#dbdb8d", "#9edae5", "#393b79", "#637939", "#7b4173")
#: colours of leukemic cell types (drawn last, larger, outlined): they must stand out
LEUKEMIC_COLOURS = ("#000000", "#e7298a", "#6a3d9a", "#b15928")
SINUSOID_FILL = "#fbd5d0"
SINUSOID_EDGE = "#b2182b"
BONE_COLOUR = "#c8a165"
#: units of a snapshot field, by kind
EV_UNIT = "EV per mL of marrow"
CYTOKINE_UNIT = "molecules per mL"


def has_snapshots(ds: xr.Dataset) -> bool:
    """Whether ``ds`` carries spatial snapshots (fields and agents)."""
    return "field_snapshot" in ds and ds.sizes.get("snapshot", 0) > 0


def _field_names(ds: xr.Dataset) -> list[str]:
    return [str(f) for f in ds["field"].values] if "field" in ds.coords else [
        str(i) for i in range(ds["field_snapshot"].sizes["field"])]


def pick_fields(ds: xr.Dataset) -> tuple[str | None, str | None]:
    """(EV field, CXCL12 field) among the snapshot fields (None where absent).

    CXCL12 is the field named like ``CXCL12``/``SDF-1``. The EV field is the EV pool (a
    field named after a pool of the Dataset) with the most EVs in the marrow at the last
    snapshot, preferring pools from leukemic cells when there are any; without pool
    information, the first field named after a pool, a class or ``ev…``, else the first
    field that is not CXCL12.
    """
    names = _field_names(ds)
    cxcl12 = next((n for n in names if "cxcl12" in n.lower() or "sdf" in n.lower()), None)
    rest = [n for n in names if n != cxcl12]
    pools = [str(p) for p in ds.coords["pool"].values] if "pool" in ds.coords else []
    candidates = [n for n in rest if n in pools]
    if candidates and "field_snapshot" in ds:
        leukemic = {n for n in str(ds.attrs.get("leukemic", "")).split(";") if n}
        source = ({str(p): str(s) for p, s in zip(ds["pool"].values,
                                                   ds["pool_source"].values, strict=True)}
                  if "pool_source" in ds.coords else {})
        from_leukemia = [n for n in candidates if source.get(n) in leukemic]
        last = ds["field_snapshot"].isel(snapshot=-1)
        pool_of = from_leukemia or candidates
        totals = {n: float(np.nansum(last.isel(field=names.index(n)).values)) for n in pool_of}
        best = max(pool_of, key=lambda n: (totals[n], -pool_of.index(n)))
        return best, cxcl12
    known = set(pools)
    known |= {str(c) for c in ds.coords.get("vesicle_class", xr.DataArray([])).values}
    ev = next((n for n in rest if n in known or n.lower().startswith("ev")
               or any(k and k in n for k in known)), rest[0] if rest else None)
    return ev, cxcl12


def _agent_names(ds: xr.Dataset) -> list[str]:
    raw = ds.attrs.get("agent_type_names", "")
    return [n for n in str(raw).split(";") if n] if not isinstance(raw, list | tuple) else [
        str(n) for n in raw]


def _extent(ds: xr.Dataset, nx: int, ny: int) -> tuple[float, float, float, float]:
    if "x" in ds.coords and "y" in ds.coords and ds.sizes["x"] > 1 and ds.sizes["y"] > 1:
        x, y = ds["x"].values.astype(float), ds["y"].values.astype(float)
        dx, dy = x[1] - x[0], y[1] - y[0]
        return (x[0] - dx / 2, x[-1] + dx / 2, y[0] - dy / 2, y[-1] + dy / 2)
    return (0.0, float(nx), 0.0, float(ny))


def _field(ds: xr.Dataset, name: str, k: int | None = None) -> np.ndarray:
    da = ds["field_snapshot"]
    if k is not None:
        da = da.isel(snapshot=k)
    return da.isel(field=_field_names(ds).index(name)).values.astype(float)


def _scale(ds: xr.Dataset, name: str) -> Normalize:
    """One colour scale for a field over all snapshots: logarithmic when it spans more than
    a decade, else linear."""
    values = _positive(_field(ds, name))
    if not np.isfinite(values).any():
        return Normalize(vmin=0.0, vmax=1.0)
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    if hi > 10.0 * lo:
        return LogNorm(vmin=max(lo, hi * 1e-6), vmax=hi)
    if hi == lo:
        lo, hi = 0.9 * lo, 1.1 * hi
    return Normalize(vmin=lo, vmax=hi)


def _unit(ds: xr.Dataset, name: str) -> str:
    pools = {str(p) for p in ds.coords["pool"].values} if "pool" in ds.coords else set()
    cytokines = ({str(c) for c in ds.coords["cytokine"].values} if "cytokine" in ds.coords
                 else set())
    if name in pools:
        return EV_UNIT
    if name in cytokines or "cxcl12" in name.lower():
        return CYTOKINE_UNIT
    return "per mL"


def panel_title(ds: xr.Dataset, name: str) -> str:
    """A readable panel title: "EVs: blast exosome" for a pool ``blast.exosome``."""
    if "pool" in ds.coords and name in {str(p) for p in ds.coords["pool"].values}:
        return "EVs: " + name.replace(".", " ", 1).replace(".", ", ")
    return name


def _slice(ds: xr.Dataset) -> str:
    """", slice z = 35 µm" for a 3-D block (fields show its middle slice), else ""."""
    z = ds.attrs.get("section_z_um")
    return f", slice z = {float(z):g} µm" if z not in (None, "") else ""


def _vessels(ax, ds: xr.Dataset, extent, filled: bool) -> None:
    """Sinusoids (filled or outlined) and the bone surface on ``ax``."""
    if "sinusoid_mask" in ds:
        mask = ds["sinusoid_mask"].values.astype(float)
        ny, nx = mask.shape
        xs = np.linspace(extent[0], extent[1], nx + 1)
        ys = np.linspace(extent[2], extent[3], ny + 1)
        xc, yc = 0.5 * (xs[1:] + xs[:-1]), 0.5 * (ys[1:] + ys[:-1])
        if filled:
            ax.contourf(xc, yc, mask, levels=[0.5, 1.5], colors=[SINUSOID_FILL], zorder=0)
        ax.contour(xc, yc, mask, levels=[0.5], colors=[SINUSOID_EDGE if filled else "white"],
                   linewidths=0.6, zorder=1)
    if str(ds.attrs.get("bone_surface", "x = 0")) == "x = 0":
        width = 0.012 * (extent[1] - extent[0])
        ax.axvspan(extent[0] - width, extent[0], color=BONE_COLOUR, zorder=3, clip_on=False)


def _agent_dots(ax, ds: xr.Dataset, k: int) -> list:
    """Agents of snapshot ``k`` as dots, coloured by cell type: frequent types first, rare
    on top, leukemic types last, larger and outlined. Returns the scatters in type order."""
    names = _agent_names(ds)
    leukemic = [n for n in str(ds.attrs.get("leukemic", "")).split(";") if n]
    handles = []
    if "agent_x" in ds:
        x = ds["agent_x"].isel(snapshot=k).values.astype(float)
        y = ds["agent_y"].isel(snapshot=k).values.astype(float)
        kinds = ds["agent_type"].isel(snapshot=k).values.astype(float)
        kinds = np.where(np.isfinite(kinds), kinds, -1).astype(int)
        present = sorted(set(kinds.tolist()) - {-1})
        counts = {t: int(np.sum(kinds == t)) for t in present}
        label = {t: names[t] if 0 <= t < len(names) else f"type {t}" for t in present}
        bad = {t for t in present if label[t] in leukemic}
        normal = [t for t in range(max(len(names), max(present, default=0) + 1))
                  if not (0 <= t < len(names) and names[t] in leukemic)]
        for t in sorted(present, key=lambda t: (t in bad, -counts[t])):
            sel = (kinds == t) & np.isfinite(x) & np.isfinite(y)
            if t in bad:
                style = {"s": 16, "color": LEUKEMIC_COLOURS[leukemic.index(label[t])
                                                            % len(LEUKEMIC_COLOURS)],
                         "edgecolors": "white", "linewidths": 0.4, "zorder": 4}
            else:
                style = {"s": 5 if counts[t] > 200 else 10, "linewidths": 0, "zorder": 2,
                         "color": SECTION_COLOURS[normal.index(t) % len(SECTION_COLOURS)]}
            handles.append((t, ax.scatter(x[sel], y[sel], label=f"{label[t]} ({counts[t]})",
                                          **style)))
    return [h for _, h in sorted(handles, key=lambda th: th[0])]


def _cells_panel(ax, ds: xr.Dataset, extent) -> list:
    """The cells panel without its agents (:func:`_agent_dots` adds a snapshot's):
    sinusoids, bone, limits and title. Returns its legend entries (sinusoid, bone)."""
    _vessels(ax, ds, extent, filled=True)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_title("cells (one dot per agent" + (", all depths)" if _slice(ds) else ")"),
                 fontsize=10)
    out = []
    if "sinusoid_mask" in ds:
        out.append(Patch(facecolor=SINUSOID_FILL, edgecolor=SINUSOID_EDGE, label="sinusoid"))
    if str(ds.attrs.get("bone_surface", "x = 0")) == "x = 0":
        out.append(Patch(facecolor=BONE_COLOUR, label="bone surface"))
    return out


def _field_panel(fig: Figure, ax, ds: xr.Dataset, name: str, norm: Normalize, extent):
    """A field's panel without its data (:func:`_show_field` puts a snapshot's): colour
    map, sinusoid outlines, colour bar and title. Returns the (empty) image."""
    cmap = matplotlib.colormaps["viridis" if _unit(ds, name) == EV_UNIT else "magma"]
    cmap = cmap.with_extremes(bad="#d9d9d9", under=cmap(0.0))
    ny, nx = ds["field_snapshot"].shape[-2:]
    image = ax.imshow(np.ma.masked_all((ny, nx)), origin="lower", extent=extent, cmap=cmap,
                      norm=norm, interpolation="nearest")
    _vessels(ax, ds, extent, filled=False)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    bar = fig.colorbar(image, ax=ax, shrink=0.8, pad=0.03)
    bar.set_label(_unit(ds, name), fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if isinstance(norm, LogNorm):
        decades = np.log10(norm.vmax / norm.vmin)
        subs = (1.0,) if decades > 4 else (1.0, 2.0, 5.0) if decades > 1.5 else \
            (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
        bar.ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=subs))
        bar.ax.yaxis.set_major_formatter(FuncFormatter(_tick))
        bar.ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        bar.formatter = ScalarFormatter(useMathText=True)
        bar.formatter.set_powerlimits((-2, 3))
        bar.update_ticks()
    ax.set_title(panel_title(ds, name) + _slice(ds), fontsize=10)
    return image


def _show_field(image, ds: xr.Dataset, k: int, name: str, note):
    """Put snapshot ``k`` of field ``name`` into its panel's ``image``; returns the
    "none at this time" note when the field is empty (``note``: the previous one, removed)."""
    if note is not None:
        note.remove()
    data = _field(ds, name, k)
    log = isinstance(image.norm, LogNorm)
    image.set_data(np.ma.masked_invalid(_positive(data)) if log else data)
    if np.any(data > 0):
        return None
    return image.axes.text(0.5, 0.5, "none at this time", ha="center", va="center",
                           fontsize=9, transform=image.axes.transAxes,
                           bbox={"facecolor": "white", "edgecolor": "none"})


def _tick(value: float, _pos=None) -> str:
    """A colour-bar label: 0.5, 20, 3×10⁸."""
    if value <= 0:
        return "0"
    exp = int(np.floor(np.log10(value) + 1e-9))
    if -2 <= exp <= 3:
        return f"{value:g}"
    mant = value / 10.0**exp
    return f"$10^{{{exp}}}$" if abs(mant - 1) < 1e-6 else f"${mant:.2g}\\times10^{{{exp}}}$"


class _Section:
    """The snapshot figure: its panels are built once; :meth:`show` puts one snapshot's
    agents, legend, field images and day into them (rebuilding the axes, colour bars and
    ticks for every frame took most of the report's time)."""

    def __init__(self, fig: Figure, ds: xr.Dataset, ev_field: str | None,
                 cxcl12: str | None, norms: dict[str, Normalize]) -> None:
        self.fig, self.ds = fig, ds
        fields = [f for f in (ev_field, cxcl12) if f is not None]
        # the cell panel is wider: its legend sits to its right
        axes = np.atleast_1d(fig.subplots(
            1, 1 + len(fields), gridspec_kw={"width_ratios": [1.45] + [1.1] * len(fields)}))
        fld = ds["field_snapshot"].isel(snapshot=0)
        extent = _extent(ds, fld.sizes["x"], fld.sizes["y"])
        self.cells = axes[0]
        self.patches = _cells_panel(self.cells, ds, extent)
        self.images = {name: _field_panel(fig, ax, ds, name, norms[name], extent)
                       for ax, name in zip(axes[1:], fields, strict=True)}
        self.notes: dict[str, object] = dict.fromkeys(fields)
        self.dots: list = []
        for ax in axes:
            ax.set_xlabel("x: distance from bone (µm)", fontsize=8)
            ax.set_ylabel("y (µm)", fontsize=8)
            ax.tick_params(labelsize=7)
        self.size = ((extent[1] - extent[0]) / 1000.0, (extent[3] - extent[2]) / 1000.0)

    def show(self, k: int) -> None:
        """Put snapshot ``k`` into the panels."""
        ds = self.ds
        for dot in self.dots:
            dot.remove()
        self.dots = _agent_dots(self.cells, ds, k)
        handles = self.dots + self.patches
        if self.cells.get_legend() is not None:
            self.cells.get_legend().remove()
        if handles:
            self.cells.legend(handles=handles, fontsize=7, loc="upper left",
                              bbox_to_anchor=(1.02, 1.0), frameon=False, markerscale=2.0,
                              title="cell type (agents)", title_fontsize=7,
                              handletextpad=0.2, borderaxespad=0.0)
        for name, image in self.images.items():
            self.notes[name] = _show_field(image, ds, k, name, self.notes[name])
        day = float(ds["snapshot_day"].values[k]) if "snapshot_day" in ds.coords else float(k)
        self.fig.suptitle(f"Day {day:g} — marrow section {self.size[0]:.3g} × "
                          f"{self.size[1]:.3g} mm (bone surface at left; sinusoids outlined)",
                          fontsize=11)


def _widest_legend(ds: xr.Dataset, indices: list[int]) -> int:
    """The snapshot among ``indices`` whose cell legend is widest (longest label, then most
    entries): the figure is laid out for it, so no other frame's legend overflows."""
    if "agent_type" not in ds:
        return indices[0]
    names = _agent_names(ds)

    def size(k: int) -> tuple[int, int]:
        kinds = ds["agent_type"].isel(snapshot=k).values.astype(float)
        kinds = kinds[np.isfinite(kinds)].astype(int)
        types, counts = np.unique(kinds, return_counts=True)
        labels = [f"{names[t] if 0 <= t < len(names) else f'type {t}'} ({c})"
                  for t, c in zip(types, counts, strict=True)]
        return max(map(len, labels), default=0), len(labels)

    return max(indices, key=size)


#: at most this many snapshots are animated (evenly chosen, first and last included)
MAX_SNAPSHOTS = 24
#: at most this many snapshot images are shown in the page besides the animation
MAX_STATIC = 6
#: resolution of the animation's frames (dots per inch; the static images use :data:`DPI`)
GIF_DPI = 72


def _evenly(n: int, k: int) -> list[int]:
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, min(n, k))})


def _static_indices(ds: xr.Dataset) -> list[int]:
    """Snapshots shown as images: those on the run's chosen days (attribute
    ``section_days``), else up to :data:`MAX_STATIC` evenly chosen ones."""
    n = ds.sizes["snapshot"]
    days = ds["snapshot_day"].values.astype(float) if "snapshot_day" in ds.coords else None
    chosen = [float(d) for d in str(ds.attrs.get("section_days", "")).split(";") if d]
    if days is not None and chosen:
        picked = sorted({int(np.argmin(np.abs(days - d))) for d in chosen})
        if len(picked) > MAX_STATIC:
            picked = [picked[i] for i in _evenly(len(picked), MAX_STATIC)]
        return picked
    return _evenly(n, MAX_STATIC)


def snapshots(ds: xr.Dataset) -> tuple[list[tuple[float, str]], str | None]:
    """PNGs of the snapshots on the chosen days ((day, base64) list) and an animated GIF
    (base64) of up to :data:`MAX_SNAPSHOTS` snapshots; the GIF is None for a single one.

    Frames are drawn once on an Agg canvas and assembled into the GIF with Pillow (the
    library matplotlib's PillowWriter uses), which avoids drawing every frame twice.
    """
    from PIL import Image

    ev_field, cxcl12 = pick_fields(ds)
    norms = {f: _scale(ds, f) for f in (ev_field, cxcl12) if f is not None}
    n = ds.sizes["snapshot"]
    days = ds["snapshot_day"].values if "snapshot_day" in ds.coords else np.arange(n)
    width = 5.4 + 4.0 * ((ev_field is not None) + (cxcl12 is not None))
    static = _static_indices(ds)
    animated = _evenly(n, MAX_SNAPSHOTS) if n > 1 else []
    frames: list[tuple[float, str]] = []
    images = []
    fig = new_figure(figsize=(width, 4.2), layout="constrained")
    section = _Section(fig, ds, ev_field, cxcl12, norms)
    wanted = sorted(set(static) | set(animated))
    # lay the figure out once, for the widest legend, then keep that layout for every frame
    section.show(_widest_legend(ds, wanted))
    fig.canvas.draw()
    fig.set_layout_engine("none")
    for k in wanted:
        section.show(k)
        if k in static:
            frames.append((float(days[k]), png(fig)))
        if k in animated:
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=GIF_DPI)
            buf.seek(0)
            # max-coverage quantization keeps the colour maps' hues (median cut shifted
            # viridis' yellow towards orange)
            images.append(Image.open(buf).convert("RGB").quantize(
                colors=256, method=Image.Quantize.MAXCOVERAGE))
    gif = None
    if len(images) > 1:
        size = images[0].size
        images = [im if im.size == size else im.resize(size) for im in images]
        out = io.BytesIO()
        images[0].save(out, format="GIF", save_all=True, append_images=images[1:],
                       duration=600, loop=0, optimize=True)
        gif = base64.b64encode(out.getvalue()).decode("ascii")
    return frames, gif
