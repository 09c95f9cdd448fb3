"""Snapshots of the section: fields on the grid (2-D: the section; 3-D: the middle
z-slice) and the agents, kept in the Dataset and optionally written to Zarr (fields, the
whole grid) and Parquet (agents, one row per agent and snapshot).

Memory: a snapshot keeps in memory only what the Dataset holds (the fields' section and
the agents' x, y and type, float32); the agents' rows for ``agents.parquet`` are streamed
to a hidden partial file under ``snapshot_dir`` as they are taken (and dropped when there
is no ``snapshot_dir``); 3-D grids keep the whole grid per snapshot for ``fields.zarr``
only when there is a ``snapshot_dir``.

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
from ...files import hidden_beside, remove, replacing, swap_in

if TYPE_CHECKING:
    from .state import Section

#: compression of the snapshot fields in NetCDF (smooth fields compress well)
ENCODING = {"zlib": True, "complevel": 4, "shuffle": True}


class Snapshots:
    """Collects snapshots of a run."""

    def __init__(self, run: Section) -> None:
        self.run = run
        self.days: list[float] = []
        self.sections: list[np.ndarray] = []  # the fields' section, float32 (F, ny, nx)
        self.grids: list[np.ndarray] = []  # 3-D with a snapshot_dir: float32 (F, nz, ny, nx)
        self.agents: list[dict[str, np.ndarray]] = []  # x, y (float32) and type
        directory = run.o.get("snapshot_dir")
        self.directory = Path(directory) if directory else None
        #: the agents' rows, streamed (see the module docstring)
        self.rows_path: Path | None = None
        self.writer = None
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
        """Picture the section now (``day``: its time in days)."""
        run = self.run
        a = run.agents
        # identities: agents made since the last snapshot get the next free numbers
        self.next_id = a.number(getattr(self, "next_id", 0))
        self.days.append(float(day))
        nz = run.geom.shape[0]
        self.sections.append(run.fields[:, nz // 2].astype(np.float32))
        if nz > 1 and self.directory is not None:
            self.grids.append(run.fields.astype(np.float32))
        self.agents.append({"x": a.pos[:, 0].astype(np.float32),
                            "y": a.pos[:, 1].astype(np.float32), "type": a.type.copy()})
        if self.directory is not None:
            self._stream_rows(float(day))

    def _stream_rows(self, day: float) -> None:
        """Append the agents' rows of this snapshot to the partial ``agents.parquet``."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        run = self.run
        a = run.agents
        rows = np.arange(a.n)[:, None]

        def by_name(values: np.ndarray, slot: np.ndarray) -> np.ndarray:
            """(agents, names): the agent's slot of each name, NaN where it has none."""
            s = slot[a.type]
            picked = values[rows, np.maximum(s, 0)] if values.shape[1] else np.zeros(s.shape)
            return np.where(s >= 0, picked, np.nan).astype(np.float32)

        names = np.array([c.name for c in run.net.cells], dtype=object)
        pos = a.pos.astype(np.float32)
        columns = {"day": np.full(a.n, day), "agent": a.id, "cell_type": names[a.type],
                   "cells_per_agent": run.w[a.type].astype(float),
                   "x_um": pos[:, 0], "y_um": pos[:, 1], "z_um": pos[:, 2],
                   "cycle_h": a.cycle.astype(np.float32)}
        state, cargo = by_name(a.state, self.s_slot), by_name(a.cargo, self.q_slot)
        for j, var in enumerate(self.state_vars):
            columns[f"state:{var}"] = state[:, j]
        for j, name in enumerate(self.cargo_names):
            columns[f"cargo:{name}"] = cargo[:, j]
        schema = pa.schema([(k, pa.string() if k == "cell_type" else
                             pa.from_numpy_dtype(np.asarray(v).dtype))
                            for k, v in columns.items()])
        table = pa.table({k: pa.array(v, type=schema.field(k).type)
                          for k, v in columns.items()}, schema=schema)
        try:
            if self.writer is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                self.rows_path = hidden_beside(self.directory / "agents.parquet", "partial")
                self.writer = pq.ParquetWriter(self.rows_path, schema, compression="zstd")
            self.writer.write_table(table)
        except OSError as exc:
            raise SimulationError(f"cannot write the snapshots into {self.directory}: {exc}"
                                  ) from exc

    def close(self) -> None:
        """Remove the partial agents' rows of a run that did not finish (no-op after
        :meth:`write`)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.rows_path is not None:
            remove(self.rows_path)
            self.rows_path = None

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
            ax[s, :n], ay[s, :n], at[s, :n] = snap["x"], snap["y"], snap["type"]
        self.agents = []  # now in the arrays above
        fields = np.zeros((S, len(run.field_names), ny, nx), np.float32)
        for s in range(S):  # one section at a time, each freed once copied
            fields[s] = self.sections[s]
            self.sections[s] = fields[s]
        self.stacked = fields  # what fields.zarr holds in 2-D (a view, not a copy)
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

    def write(self) -> None:
        """Fields to ``fields.zarr`` and the streamed agents' rows to ``agents.parquet`` under
        the run's ``snapshot_dir``."""
        out = self.directory
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
        if nz == 1:  # the sections are the whole grid: no copy
            stacked = getattr(self, "stacked", None)  # set by attach
            if stacked is None:
                stacked = (np.stack(self.sections) if self.sections
                           else np.zeros((0, F, ny, nx), np.float32))
            fields = stacked[:, :, None]
        else:
            fields = (np.stack(self.grids) if self.grids
                      else np.zeros((0, F, nz, ny, nx), np.float32))
            self.grids = []
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

        if self.writer is None:  # no snapshot taken: an empty table
            table = pa.table({"day": pa.array(np.zeros(0)),
                              "cell_type": pa.array(np.zeros(0, object), pa.string())})
            with replacing(path) as tmp:
                pq.write_table(table, tmp, compression="zstd")
            return
        self.writer.close()
        self.writer = None
        swap_in(self.rows_path, path)
        self.rows_path = None
