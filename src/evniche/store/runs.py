"""Runs on disk and the run registry.

A run folder holds ``trajectory.nc`` (the Trajectory as NetCDF-4, h5netcdf engine) and
``run.json`` (model name and digest, every parameter with value, unit and source, the
versions of evniche/numpy/scipy/xarray, seed, wall time, command line, creation time).
Each run is also registered in an embedded SQLite database, ``runs.sqlite``, in the
registry folder: ``~/.evniche`` by default, or the folder named by the environment
variable ``EVNICHE_REGISTRY`` (a path ending in ``.sqlite``/``.db`` names the file itself).
No server is needed; the registry is safe to share between processes (SQLite locking).
A run folder is written whole or not at all, by one run at a time (:class:`RunWriter`,
:mod:`evniche.store.outdir`); the registry records each run's status.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import EvnicheError, Interrupted
from .outdir import OutputFolder, recover

TRAJECTORY = "trajectory.nc"
RUN_JSON = "run.json"
REGISTRY_FILE = "runs.sqlite"
ENV = "EVNICHE_REGISTRY"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    model TEXT NOT NULL,
    digest TEXT NOT NULL,
    seed INTEGER,
    days REAL,
    engine TEXT,
    wall_seconds REAL,
    out_dir TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'complete'
)
"""
_COLUMNS = ("id", "created", "model", "digest", "seed", "days", "engine", "wall_seconds",
            "out_dir", "status")


def registry_path(registry: str | Path | None = None) -> Path:
    """The SQLite registry file: ``registry`` (a folder, or a ``.sqlite``/``.db`` file),
    else ``$EVNICHE_REGISTRY``, else ``~/.evniche/runs.sqlite``."""
    where = registry if registry is not None else os.environ.get(ENV)
    if where is None or str(where) == "":
        return Path.home() / ".evniche" / REGISTRY_FILE
    path = Path(where).expanduser()
    return path if path.suffix in (".sqlite", ".db") else path / REGISTRY_FILE


def _connect(registry: str | Path | None) -> sqlite3.Connection:
    path = registry_path(registry)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=30.0)
        con.execute(_SCHEMA)
        _migrate(con)
    except (OSError, sqlite3.Error) as exc:
        raise EvnicheError(f"cannot open the run registry {path}: {exc}; set {ENV} to a "
                           "writable folder") from None
    return con


def _migrate(con: sqlite3.Connection) -> None:
    """Add the ``status`` column to a registry made before it existed (its runs were
    registered once complete)."""
    if "status" in {row[1] for row in con.execute("PRAGMA table_info(runs)")}:
        return
    try:
        with con:
            con.execute("ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT 'complete'")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):  # else another process added it meanwhile
            raise


def _safe_attr(value: Any) -> Any:
    """An attribute value NetCDF can hold: str, int, float, or a 1-D numeric array."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, np.generic):
        return value.item() if not isinstance(value, np.bool_) else int(value)
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return value.astype(float if value.dtype.kind == "f" else np.int64)
        return ";".join(str(v) for v in value.ravel())
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return ";".join(value)
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return np.asarray(value, dtype=float)
    return json.dumps(value, default=str, sort_keys=True)


def netcdf_safe(ds: xr.Dataset) -> xr.Dataset:
    """A shallow copy of ``ds`` whose attributes (dataset, variables, coordinates) are all
    NetCDF-safe: booleans → 0/1, None → "", lists of str → ";"-joined, others → JSON."""
    out = ds.copy(deep=False)
    out.attrs = {str(k): _safe_attr(v) for k, v in ds.attrs.items()}
    for name in list(out.variables):
        var = out[name]
        var.attrs = {str(k): _safe_attr(v) for k, v in ds[name].attrs.items()}
    return out


def _versions() -> dict[str, str]:
    import scipy

    from .. import __version__

    return {"evniche": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "xarray": xr.__version__}


def _json_number(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def parameters_record(model: Any) -> dict[str, dict[str, Any]]:
    """Every resolved parameter of ``model`` (a ResolvedModel): value and unit as written,
    canonical value and unit, source, plausible range (canonical), where it is used."""
    if model is None:
        return {}
    out = {}
    for name, p in model.params.resolved.items():
        out[name] = {
            "value": _json_number(p.value_in_unit),
            "unit": p.unit,
            "canonical_value": _json_number(p.value),
            "canonical_unit": p.canonical_unit,
            "source": p.source,
            "range_canonical": None if p.range is None else [_json_number(x) for x in p.range],
            "expr": p.expr,
            "used_at": list(p.used_at),
        }
    return out


def _int_or_none(x: Any) -> int | None:
    try:
        return int(x)
    except (TypeError, ValueError):
        return None


class RunWriter:
    """Writing one run into the folder ``out_dir``, whole or not at all.

    ``with RunWriter(out, model, seed, argv) as run:`` checks and locks the folder (see
    :mod:`evniche.store.outdir`), registers the run with status ``running`` and gives the
    staging folder ``run.staging`` for every file of the run; :meth:`write` writes the
    trajectory and ``run.json`` there. When the block ends without an error the staging
    folder replaces ``out_dir`` and the run becomes ``complete`` (the runs registered
    there before become ``replaced``); else the staging folder is deleted, ``out_dir``
    is left as it was and the run becomes ``failed``. A KeyboardInterrupt is re-raised as
    :class:`evniche.errors.Interrupted` saying what ``out_dir`` holds. A run killed
    outright stays ``running`` until the next run into ``out_dir`` marks it ``failed``
    (``complete`` if it was killed after its files were swapped in).

    ``model`` is the ResolvedModel (None: name and digest from ``attrs``, the
    trajectory's attributes, when known); ``days`` the simulated days asked for and
    ``engine`` the engine (registered at the start; :meth:`write` records the trajectory's).
    """

    def __init__(self, out_dir: str | Path, model: Any, seed: int | None,
                 argv: Sequence[str] | None, *, days: float | None = None, engine: str = "",
                 registry: str | Path | None = None, attrs: Mapping[str, Any] | None = None
                 ) -> None:
        self.folder = OutputFolder(out_dir)
        self.out = self.folder.out
        self.model, self.seed, self.argv, self.registry = model, seed, argv, registry
        attrs = attrs or {}
        self.created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        self.digest = str(getattr(model, "digest", None) or attrs.get("digest", ""))
        self.name = str(getattr(model, "name", None) or attrs.get("model", "unnamed"))
        stamp = self.created.replace("-", "").replace(":", "").split("+")[0]
        self.id = f"{stamp}-{self.digest[:8] or 'nodigest'}-{uuid.uuid4().hex[:6]}"
        self.days, self.engine = days, str(engine or attrs.get("engine", ""))
        self.record: dict[str, Any] | None = None

    @property
    def staging(self) -> Path:
        """The folder the run's files are written into (beside ``out_dir``)."""
        return self.folder.staging

    def __enter__(self) -> RunWriter:
        self.folder.__enter__()
        try:
            # the lock is ours: a run still 'running' here was killed; complete if it was
            # killed after its files were swapped in, else failed
            self._execute("UPDATE runs SET status = CASE WHEN id = ? THEN 'complete' ELSE "
                          "'failed' END WHERE out_dir = ? AND status = 'running'",
                          (_run_id(self.out), str(self.out)))
            row = {"id": self.id, "created": self.created, "model": self.name,
                   "digest": self.digest, "seed": _int_or_none(self.seed),
                   "days": None if self.days is None else float(self.days),
                   "engine": self.engine, "wall_seconds": None, "out_dir": str(self.out),
                   "status": "running"}
            self._execute(f"INSERT INTO runs ({', '.join(_COLUMNS)}) VALUES "
                          f"({', '.join('?' * len(_COLUMNS))})", tuple(row[c] for c in _COLUMNS))
        except BaseException:
            self.folder.__exit__(None, None, None)
            raise
        return self

    def write(self, ds: xr.Dataset, wall_seconds: float | None) -> dict[str, Any]:
        """Write ``ds`` (``trajectory.nc``) and its record (``run.json``) into the staging
        folder; return the record: id, created (UTC, ISO 8601), model, digest, seed, days
        (simulated, days), engine, wall_seconds, argv, versions, parameters, and the paths
        ``out_dir``/``trajectory``/``run_json`` the files will have once the run is
        complete. A ``snapshot_dir`` attribute naming the staging folder is set to
        ``out_dir`` (in ``ds`` too, so a report names the final place)."""
        if str(ds.attrs.get("snapshot_dir", "")) == str(self.staging):
            ds.attrs["snapshot_dir"] = str(self.out)
        time = ds["time"].values if "time" in ds.coords else np.array([0.0])
        days = float(time[-1] - time[0]) if len(time) else 0.0
        seed = _int_or_none(self.seed if self.seed is not None else ds.attrs.get("seed"))
        name = str(getattr(self.model, "name", None) or ds.attrs.get("model", self.name))
        from .conventions import apply as cf_conventions

        safe = netcdf_safe(cf_conventions(ds))
        safe.attrs.update({"run_id": self.id, "created": self.created})
        try:
            safe.to_netcdf(self.staging / TRAJECTORY, engine="h5netcdf")
        except (OSError, ValueError, TypeError) as exc:
            raise EvnicheError(f"cannot write the trajectory of {self.out}: {exc}") from None
        model = self.model
        record: dict[str, Any] = {
            "id": self.id,
            "created": self.created,
            "model": name,
            "digest": self.digest,
            "seed": seed,
            "days": days,
            "engine": str(ds.attrs.get("engine", self.engine)),
            "disease": str(ds.attrs.get("disease", "")),
            "wall_seconds": _json_number(None if wall_seconds is None else float(wall_seconds)),
            "argv": [str(a) for a in (self.argv or [])],
            "versions": _versions(),
            "model_source": str(getattr(model, "source", "")) if model is not None else "",
            "ledger_relative_error": _json_number(
                float(ds.attrs["ledger_relative_error"])) if "ledger_relative_error" in ds.attrs
            else None,
            "parameters": parameters_record(model),
            "out_dir": str(self.out),
            "trajectory": str(self.out / TRAJECTORY),
            "run_json": str(self.out / RUN_JSON),
        }
        (self.staging / RUN_JSON).write_text(json.dumps(record, indent=2, sort_keys=False)
                                             + "\n", encoding="utf-8")
        columns = [c for c in _COLUMNS if c not in ("id", "status")]
        self._execute(f"UPDATE runs SET {', '.join(c + ' = ?' for c in columns)} WHERE id = ?",
                      (*(record[c] for c in columns), self.id))
        self.record = record
        return record

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: Any) -> None:
        error = exc
        try:
            if exc is None:
                if self.record is None:
                    raise EvnicheError(f"the run into {self.out} wrote no trajectory")
                try:
                    self.folder.commit()
                except OSError as failure:
                    raise EvnicheError(f"cannot move the run into {self.out}: "
                                       f"{failure.strerror or failure}") from None
        except BaseException as failure:  # KeyboardInterrupt included
            error = failure
        try:
            if self.folder.committed:
                self._execute("UPDATE runs SET status = 'replaced' WHERE out_dir = ? AND "
                              "status = 'complete' AND id != ?", (str(self.out), self.id))
            self._execute("UPDATE runs SET status = ? WHERE id = ?",
                          ("complete" if self.folder.committed else "failed", self.id))
        finally:
            self.folder.__exit__(None, None, None)
        if isinstance(error, KeyboardInterrupt):
            raise Interrupted(f"interrupted: {self.folder.outcome()}") from None
        if error is not exc:
            raise error

    def _execute(self, sql: str, args: Sequence[Any]) -> None:
        con = _connect(self.registry)
        try:
            with con:
                con.execute(sql, args)
        finally:
            con.close()


def _run_id(out: Path) -> str | None:
    """The id in ``out/run.json``, if there is a readable one."""
    try:
        return str(json.loads((out / RUN_JSON).read_text(encoding="utf-8"))["id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_run(ds: xr.Dataset, out_dir: str | Path, model: Any, seed: int | None,
              argv: Sequence[str] | None, wall_seconds: float | None,
              registry: str | Path | None = None) -> dict[str, Any]:
    """Write ``ds`` and its record to the run folder ``out_dir`` (replaced whole, see
    :class:`RunWriter`) and register the run; return the record (see
    :meth:`RunWriter.write`).

    ``model`` is the ResolvedModel that was run (None: name and digest from ``ds.attrs``,
    no parameter table); ``seed`` the random seed; ``argv`` the command line; wall time in
    seconds.
    """
    with RunWriter(out_dir, model, seed, argv, registry=registry, attrs=ds.attrs) as run:
        record = run.write(ds, wall_seconds)
    return record


def list_runs(registry: str | Path | None = None, model: str | None = None,
              limit: int | None = None) -> list[dict[str, Any]]:
    """Registered runs, newest first, as dicts (id, created, model, digest, seed, days,
    engine, wall_seconds, out_dir, status); only those of ``model`` if given.

    ``status``: ``running`` (being written, or killed outright: the next run into the same
    folder marks it ``failed``), ``complete`` (its files are in ``out_dir``), ``failed``
    (stopped by an error or Ctrl-C; nothing of it was kept) or ``replaced`` (a later run
    into the same folder replaced it)."""
    path = registry_path(registry)
    if not path.exists():
        return []
    con = _connect(registry)
    try:
        query = f"SELECT {', '.join(_COLUMNS)} FROM runs"
        args: list[Any] = []
        if model is not None:
            query += " WHERE model = ?"
            args.append(model)
        query += " ORDER BY created DESC, rowid DESC"
        if limit is not None:
            query += " LIMIT ?"
            args.append(int(limit))
        rows = con.execute(query, args).fetchall()
    finally:
        con.close()
    return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]


def read_run(out_dir: str | Path) -> tuple[xr.Dataset, Mapping[str, Any]]:
    """Reload a run folder: the Trajectory (loaded into memory) and its ``run.json``.

    A folder missing because its run was killed while swapping a new run in is first put
    back (see :func:`evniche.store.outdir.recover`)."""
    out = Path(out_dir)
    recover(out)
    nc_path, js = out / TRAJECTORY, out / RUN_JSON
    if not nc_path.exists() or not js.exists():
        raise EvnicheError(f"{out} is not a run folder: expected {TRAJECTORY} and {RUN_JSON}")
    with xr.open_dataset(nc_path, engine="h5netcdf") as handle:
        ds = handle.load()
    return ds, json.loads(js.read_text(encoding="utf-8"))
