"""Store: runs on disk (NetCDF trajectory, run.json) and the embedded SQLite run registry."""

from __future__ import annotations

from .runs import list_runs, read_run, registry_path, write_run

__all__ = ["list_runs", "read_run", "registry_path", "write_run"]
