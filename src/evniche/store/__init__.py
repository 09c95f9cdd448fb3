"""Store: runs on disk (NetCDF trajectory, run.json; a run folder written whole, by one run
at a time) and the embedded SQLite run registry."""

from __future__ import annotations

from .runs import RunWriter, list_runs, read_run, registry_path, write_run

__all__ = ["RunWriter", "list_runs", "read_run", "registry_path", "write_run"]
