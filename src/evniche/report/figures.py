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
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

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
    cells = ds["cells"]
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
    """Normal blood output (mature cells) and normal HSC/progenitor counts over time."""
    fig = new_figure(figsize=(8, 3.6))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.1, right=0.82, bottom=0.14, top=0.9)
    series = {"mature (blood output)": clinical.normal_blood_output(ds).values}
    stem = clinical.normal_stem_progenitor(ds)
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

def has_snapshots(ds: xr.Dataset) -> bool:
    """Whether ``ds`` carries spatial snapshots (fields and agents)."""
    return "field_snapshot" in ds and ds.sizes.get("snapshot", 0) > 0


def _field_names(ds: xr.Dataset) -> list[str]:
    return [str(f) for f in ds["field"].values] if "field" in ds.coords else [
        str(i) for i in range(ds["field_snapshot"].sizes["field"])]


def pick_fields(ds: xr.Dataset) -> tuple[str | None, str | None]:
    """(EV field, CXCL12 field) among the snapshot fields (None where absent).

    CXCL12 is the field named like ``CXCL12``/``SDF-1``; the EV field is the first one named
    after a pool, a vesicle class or ``ev…``, else the first field that is not CXCL12.
    """
    names = _field_names(ds)
    cxcl12 = next((n for n in names if "cxcl12" in n.lower() or "sdf" in n.lower()), None)
    known = {str(p) for p in ds.coords.get("pool", xr.DataArray([])).values}
    known |= {str(c) for c in ds.coords.get("vesicle_class", xr.DataArray([])).values}
    rest = [n for n in names if n != cxcl12]
    ev = next((n for n in rest if n in known or n.lower().startswith("ev")
               or any(k and k in n for k in known)), rest[0] if rest else None)
    return ev, cxcl12


def _agent_names(ds: xr.Dataset) -> list[str]:
    raw = ds.attrs.get("agent_type_names", "")
    return [n for n in str(raw).split(";") if n] if not isinstance(raw, list | tuple) else [
        str(n) for n in raw]


def _draw_snapshot(fig: Figure, ds: xr.Dataset, k: int, ev_field: str | None,
                   cxcl12: str | None, scales: dict[str, tuple[float, float]]) -> None:
    fig.clear()
    panels = [None] + [f for f in (ev_field, cxcl12) if f is not None]
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    day = float(ds["snapshot_day"].values[k]) if "snapshot_day" in ds.coords else float(k)
    names = _agent_names(ds)
    fld = ds["field_snapshot"].isel(snapshot=k)
    ny, nx = fld.sizes["y"], fld.sizes["x"]
    extent = _extent(ds, nx, ny)
    for ax, name in zip(axes, panels, strict=True):
        if name is None:
            if "agent_x" in ds:
                x = ds["agent_x"].isel(snapshot=k).values.astype(float)
                y = ds["agent_y"].isel(snapshot=k).values.astype(float)
                kinds = ds["agent_type"].isel(snapshot=k).values
                kinds = np.where(np.isfinite(kinds.astype(float)), kinds, -1).astype(int)
                for t in sorted(set(kinds.tolist()) - {-1}):
                    sel = (kinds == t) & np.isfinite(x) & np.isfinite(y)
                    label = names[t] if 0 <= t < len(names) else f"type {t}"
                    ax.scatter(x[sel], y[sel], s=6, label=label,
                               color=CELL_COLOURS[t % len(CELL_COLOURS)])
                if len(set(kinds.tolist()) - {-1}):
                    ax.legend(fontsize=6, loc="upper right", markerscale=2)
            ax.set_xlim(extent[0], extent[1])
            ax.set_ylim(extent[2], extent[3])
            ax.set_aspect("equal")
            ax.set_title(f"cells, day {day:g}")
        else:
            data = _positive(fld.sel(field=name).values) if "field" in fld.coords else \
                _positive(fld.isel(field=_field_names(ds).index(name)).values)
            lo, hi = scales[name]
            image = ax.imshow(np.ma.masked_invalid(data), origin="lower", extent=extent,
                              cmap="magma", norm=LogNorm(vmin=lo, vmax=hi))
            bar = fig.colorbar(image, ax=ax, shrink=0.7)
            bar.ax.minorticks_off()
            ax.set_title(f"{name}, day {day:g}")
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")


def _extent(ds: xr.Dataset, nx: int, ny: int) -> tuple[float, float, float, float]:
    if "x" in ds.coords and "y" in ds.coords and ds.sizes["x"] > 1 and ds.sizes["y"] > 1:
        x, y = ds["x"].values.astype(float), ds["y"].values.astype(float)
        dx, dy = x[1] - x[0], y[1] - y[0]
        return (x[0] - dx / 2, x[-1] + dx / 2, y[0] - dy / 2, y[-1] + dy / 2)
    return (0.0, float(nx), 0.0, float(ny))


def _scales(ds: xr.Dataset, fields: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for name in fields:
        da = ds["field_snapshot"].sel(field=name) if "field" in ds.coords else \
            ds["field_snapshot"].isel(field=_field_names(ds).index(name))
        values = _positive(da.values)
        if np.isfinite(values).any():
            lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
            lo = max(lo, hi * 1e-6)
            out[name] = (lo, max(hi, lo * 1.0001))
        else:
            out[name] = (1e-3, 1.0)
    return out


#: at most this many snapshots are drawn (evenly chosen, first and last included)
MAX_SNAPSHOTS = 24
#: static snapshot images shown in the page besides the animation
MAX_STATIC = 6


def _evenly(n: int, k: int) -> list[int]:
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, min(n, k))})


def snapshots(ds: xr.Dataset) -> tuple[list[tuple[float, str]], str | None]:
    """Static PNGs of up to :data:`MAX_STATIC` snapshots ((day, base64) list) and an animated
    GIF (base64) of up to :data:`MAX_SNAPSHOTS`; the GIF is None for a single snapshot.

    Frames are drawn once on an Agg canvas and assembled into the GIF with Pillow (the
    library matplotlib's PillowWriter uses), which avoids drawing every frame twice.
    """
    from PIL import Image

    ev_field, cxcl12 = pick_fields(ds)
    scales = _scales(ds, [f for f in (ev_field, cxcl12) if f is not None])
    n = ds.sizes["snapshot"]
    days = ds["snapshot_day"].values if "snapshot_day" in ds.coords else np.arange(n)
    width = 4.2 * (1 + (ev_field is not None) + (cxcl12 is not None))
    chosen = _evenly(n, MAX_SNAPSHOTS)
    static = set(_evenly(n, MAX_STATIC))
    frames: list[tuple[float, str]] = []
    images = []
    for k in chosen:
        fig = new_figure(figsize=(width, 3.8))
        _draw_snapshot(fig, ds, k, ev_field, cxcl12, scales)
        fig.subplots_adjust(left=0.06, right=0.98, bottom=0.13, top=0.9, wspace=0.35)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
        if k in static:
            frames.append((float(days[k]), base64.b64encode(buf.getvalue()).decode("ascii")))
        buf.seek(0)
        images.append(Image.open(buf).convert("RGB"))
    gif = None
    if len(images) > 1:
        size = images[0].size
        images = [im if im.size == size else im.resize(size) for im in images]
        out = io.BytesIO()
        images[0].save(out, format="GIF", save_all=True, append_images=images[1:],
                       duration=500, loop=0)
        gif = base64.b64encode(out.getvalue()).decode("ascii")
    return frames, gif
