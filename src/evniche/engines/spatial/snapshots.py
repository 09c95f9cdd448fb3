"""Snapshots of the section: fields on the grid (2-D: the section; 3-D: the middle
z-slice) and agent positions and types, kept in the Dataset and optionally written to
Zarr (fields) and Parquet (agents)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ...errors import SimulationError

if TYPE_CHECKING:
    from .engine import Run


class Snapshots:
    """Collects snapshots of a run."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.days: list[float] = []
        self.fields: list[np.ndarray] = []
        self.agents: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def take(self, day: float) -> None:
        run = self.run
        nz = run.geom.shape[0]
        self.days.append(float(day))
        self.fields.append(run.fields[:, nz // 2].astype(np.float32))
        a = run.agents
        self.agents.append((a.pos[:, 0].copy(), a.pos[:, 1].copy(), a.type.copy()))

    def attach(self, ds: xr.Dataset) -> xr.Dataset:
        """Add ``field_snapshot(snapshot, field, y, x)``, ``agent_x/agent_y/agent_type
        (snapshot, agent)`` with coordinate ``snapshot_day`` to ``ds``."""
        run = self.run
        g = run.geom
        n_max = max((len(t) for _, _, t in self.agents), default=0)
        S = len(self.days)
        ax = np.full((S, n_max), np.nan)
        ay = np.full((S, n_max), np.nan)
        at = np.full((S, n_max), -1, np.int32)
        for s, (x, y, t) in enumerate(self.agents):
            ax[s, : x.size], ay[s, : y.size], at[s, : t.size] = x, y, t
        _, ny, nx = g.shape
        fields = (np.stack(self.fields) if self.fields
                  else np.zeros((0, len(run.field_names), ny, nx), np.float32))
        sin = g.sinusoid[g.shape[0] // 2]
        ds = ds.assign(
            field_snapshot=(("snapshot", "field", "y", "x"), fields),
            agent_x=(("snapshot", "agent"), ax),
            agent_y=(("snapshot", "agent"), ay),
            agent_type=(("snapshot", "agent"), at),
            sinusoid_mask=(("y", "x"), sin),
        )
        ds = ds.assign_coords(
            snapshot_day=("snapshot", np.array(self.days)),
            field=list(run.field_names),
            y=("y", (np.arange(ny) + 0.5) * g.dx, {"units": "um"}),
            x=("x", (np.arange(nx) + 0.5) * g.dx, {"units": "um"}),
        )
        ds["field_snapshot"].attrs["units"] = "1/mL (EV pools: EV/mL; cytokines as the model)"
        ds["agent_x"].attrs["units"] = "um"
        ds["agent_y"].attrs["units"] = "um"
        ds.attrs["agent_type_names"] = ";".join(c.name for c in run.net.cells)
        ds.attrs["bone_surface"] = "x = 0" if g.settings.bone else "none"
        return ds

    def write(self, directory: str | Path) -> None:
        """Fields to ``fields.zarr`` and agents to ``agents.parquet`` under ``directory``."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        run = self.run
        out = Path(directory)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SimulationError(f"cannot create the snapshot directory {out}: {exc}") from exc
        _, ny, nx = run.geom.shape
        xr.Dataset(
            {"field_snapshot": (("snapshot", "field", "y", "x"),
                                np.stack(self.fields) if self.fields
                                else np.zeros((0, len(run.field_names), ny, nx), np.float32))},
            coords={"snapshot_day": ("snapshot", np.array(self.days)),
                    "field": list(run.field_names)},
        ).to_zarr(out / "fields.zarr", mode="w")
        names = [c.name for c in run.net.cells]
        day, x, y, t = [], [], [], []
        for d, (ax, ay, at) in zip(self.days, self.agents, strict=True):
            day.append(np.full(ax.size, d))
            x.append(ax)
            y.append(ay)
            t.append(at)
        types = np.concatenate(t) if t else np.zeros(0, np.int32)
        table = pa.table({
            "day": np.concatenate(day) if day else np.zeros(0),
            "x_um": np.concatenate(x) if x else np.zeros(0),
            "y_um": np.concatenate(y) if y else np.zeros(0),
            "cell_type": [names[int(i)] for i in types],
        })
        pq.write_table(table, out / "agents.parquet")
