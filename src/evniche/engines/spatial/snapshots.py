"""Snapshots of the section: fields on the grid (2-D: the section; 3-D: the middle
z-slice) and the agents, kept in the Dataset and optionally written to Zarr (fields, the
whole grid) and Parquet (agents, one row per agent and snapshot).

In the Dataset (what the report draws): ``field_snapshot(snapshot, field, y, x)``
(float32, per mL), ``agent_x/agent_y(snapshot, agent)`` (µm, float32, NaN padding),
``agent_type(snapshot, agent)`` (index into attribute ``agent_type_names``, -1 padding),
``sinusoid_mask(y, x)`` and coordinate ``snapshot_day``.

On disk, under ``snapshot_dir``:

* ``fields.zarr``: ``field(snapshot, field, z, y, x)`` (float32; EV pools in EV/mL of
  marrow, cytokines in molecules/mL), ``sinusoid(z, y, x)``, coordinates in µm;
* ``agents.parquet``: ``day, agent, cell_type, cells_per_agent, x_um, y_um, z_um,
  cycle_h``; ``agent`` is the agent's identity, the same number in every snapshot while
  it lives (an agent made by a division, a change of type or a duplication gets a new
  number; numbers are never reused); one ``state:<var>`` column per state variable and
  one ``cargo:<name>`` column per cargo species (internalized copies per cell); NaN where
  a cell type has no such state or takes up no such cargo.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ...errors import SimulationError
from ...files import replacing

if TYPE_CHECKING:
    from .state import Section

#: compression of the snapshot fields in NetCDF (smooth fields compress well)
ENCODING = {"zlib": True, "complevel": 4, "shuffle": True}


class Snapshots:
    """Collects snapshots of a run."""

    def __init__(self, run: Section) -> None:
        self.run = run
        self.days: list[float] = []
        self.fields: list[np.ndarray] = []  # whole grid, float32 (F, nz, ny, nx)
        self.agents: list[dict[str, np.ndarray]] = []
        net = run.net
        self.state_vars = sorted({s.var for s in net.states})
        self.cargo_names = sorted({q.cargo for q in net.cargo_states})
        # per cell type: the slot of each state variable / cargo species (-1: none)
        cidx = net.cell_index()
        self.s_slot = np.full((len(net.cells), len(self.state_vars)), -1)
        for i, st in enumerate(net.states):
            self.s_slot[cidx[st.cell_type], self.state_vars.index(st.var)] = i
        self.q_slot = np.full((len(net.cells), len(self.cargo_names)), -1)
        for i, q in enumerate(net.cargo_states):
            self.q_slot[cidx[q.cell_type], self.cargo_names.index(q.cargo)] = run.cargo_col[i]

    def take(self, day: float) -> None:
        run = self.run
        a = run.agents
        # identities: agents made since the last snapshot get the next free numbers
        self.next_id = a.number(getattr(self, "next_id", 0))
        rows = np.arange(a.n)[:, None]

        def by_name(values: np.ndarray, slot: np.ndarray) -> np.ndarray:
            """(agents, names): the agent's slot of each name, NaN where it has none."""
            s = slot[a.type]
            picked = values[rows, np.maximum(s, 0)] if values.shape[1] else np.zeros(s.shape)
            return np.where(s >= 0, picked, np.nan).astype(np.float32)

        self.days.append(float(day))
        self.fields.append(run.fields.astype(np.float32))
        self.agents.append({"pos": a.pos.astype(np.float32), "type": a.type.copy(),
                            "id": a.id.copy(),
                            "cycle": a.cycle.astype(np.float32),
                            "weight": run.w[a.type].astype(float),
                            "state": by_name(a.state, self.s_slot),
                            "cargo": by_name(a.cargo, self.q_slot)})

    def attach(self, ds: xr.Dataset) -> xr.Dataset:
        """Add the section variables (see the module docstring) to ``ds``."""
        run = self.run
        g = run.geom
        nz, ny, nx = g.shape
        n_max = max((s["type"].size for s in self.agents), default=0)
        S = len(self.days)
        ax = np.full((S, n_max), np.nan, np.float32)
        ay = np.full((S, n_max), np.nan, np.float32)
        at = np.full((S, n_max), -1, np.int32)
        for s, snap in enumerate(self.agents):
            n = snap["type"].size
            ax[s, :n], ay[s, :n], at[s, :n] = snap["pos"][:, 0], snap["pos"][:, 1], snap["type"]
        fields = (np.stack([f[:, nz // 2] for f in self.fields]) if self.fields
                  else np.zeros((0, len(run.field_names), ny, nx), np.float32))
        ds = ds.assign(
            field_snapshot=(("snapshot", "field", "y", "x"), fields),
            agent_x=(("snapshot", "agent"), ax),
            agent_y=(("snapshot", "agent"), ay),
            agent_type=(("snapshot", "agent"), at),
            sinusoid_mask=(("y", "x"), g.sinusoid[nz // 2]),
        )
        ds = ds.assign_coords(
            snapshot_day=("snapshot", np.array(self.days)),
            field=list(run.field_names),
            y=("y", (np.arange(ny) + 0.5) * g.dx, {"units": "um"}),
            x=("x", (np.arange(nx) + 0.5) * g.dx, {"units": "um"}),
        )
        ds["field_snapshot"].attrs.update(
            units="EV pools: EV per mL of marrow; cytokines: molecules per mL",
            description="fields on the section (3-D: the middle z-slice)")
        ds["field_snapshot"].encoding.update(ENCODING)
        for name in ("agent_x", "agent_y"):
            ds[name].attrs["units"] = "um"
        ds["agent_x"].attrs["description"] = "distance from the bone surface (x = 0)"
        ds.attrs["agent_type_names"] = ";".join(c.name for c in run.net.cells)
        ds.attrs["bone_surface"] = "x = 0" if g.settings.bone else "none"
        if nz > 1:
            ds.attrs["section_z_um"] = (nz // 2 + 0.5) * g.dx
        return ds

    def write(self, directory: str | Path) -> None:
        """Fields to ``fields.zarr`` and agents to ``agents.parquet`` under ``directory``."""
        out = Path(directory)
        try:
            out.mkdir(parents=True, exist_ok=True)
            self._zarr(out / "fields.zarr")
            self._parquet(out / "agents.parquet")
        except OSError as exc:
            raise SimulationError(f"cannot write the snapshots into {out}: {exc}") from exc

    def _zarr(self, path: Path) -> None:
        run = self.run
        g = run.geom
        nz, ny, nx = g.shape
        F = len(run.field_names)
        fields = (np.stack(self.fields) if self.fields
                  else np.zeros((0, F, nz, ny, nx), np.float32))
        centre = (np.arange(max(nz, ny, nx)) + 0.5) * g.dx
        ds = xr.Dataset(
            {"field": (("snapshot", "field_name", "z", "y", "x"), fields,
                       {"units": "EV pools: EV per mL of marrow; cytokines: molecules per mL"}),
             "sinusoid": (("z", "y", "x"), g.sinusoid)},
            coords={"snapshot_day": ("snapshot", np.array(self.days)),
                    "field_name": np.array(run.field_names, dtype=object),
                    "z": ("z", centre[:nz], {"units": "um"}),
                    "y": ("y", centre[:ny], {"units": "um"}),
                    "x": ("x", centre[:nx], {"units": "um", "description":
                                             "distance from the bone surface"})},
            attrs={"model": run.net.model.name, "seed": run.seed, "voxel_um": g.dx},
        )
        with replacing(path) as tmp:
            # Zarr format 2 with consolidated metadata: what xarray.open_zarr reads by
            # default, without a warning (format 3 has no consolidated metadata yet)
            ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2,
                       encoding={"field": {"chunks": (1, 1, nz, ny, nx)}})

    def _parquet(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        names = np.array([c.name for c in self.run.net.cells], dtype=object)
        columns: dict[str, list[np.ndarray]] = {}

        def add(name: str, values: np.ndarray) -> None:
            columns.setdefault(name, []).append(values)

        for day, snap in zip(self.days, self.agents, strict=True):
            t = snap["type"]
            n = t.size
            add("day", np.full(n, day))
            add("agent", snap["id"])
            add("cell_type", names[t])
            add("cells_per_agent", snap["weight"])
            for k, axis in enumerate(("x_um", "y_um", "z_um")):
                add(axis, snap["pos"][:, k])
            add("cycle_h", snap["cycle"])
            for j, var in enumerate(self.state_vars):
                add(f"state:{var}", snap["state"][:, j])
            for j, cargo in enumerate(self.cargo_names):
                add(f"cargo:{cargo}", snap["cargo"][:, j])
        if not columns:
            columns = {"day": [np.zeros(0)], "cell_type": [np.zeros(0, object)]}
        table = pa.table({k: pa.array(np.concatenate(v)) for k, v in columns.items()})
        with replacing(path) as tmp:
            pq.write_table(table, tmp, compression="zstd")
