"""Runs on disk and the run registry.

A run folder holds ``trajectory.nc`` (the Trajectory as NetCDF-4, h5netcdf engine) and
``run.json`` (model name and digest, every parameter with value, unit and source, the
versions of evniche/numpy/scipy/xarray, seed, wall time, command line, creation time).
Each run is also registered in an embedded SQLite database, ``runs.sqlite``, in the
registry folder: ``~/.evniche`` by default, or the folder named by the environment
variable ``EVNICHE_REGISTRY`` (a path ending in ``.sqlite``/``.db`` names the file itself).
No server is needed; the registry is safe to share between processes (SQLite locking).
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

from ..errors import EvnicheError
from ..files import replacing, write_text

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
    out_dir TEXT NOT NULL
)
"""
_COLUMNS = ("id", "created", "model", "digest", "seed", "days", "engine", "wall_seconds",
            "out_dir")


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
    except (OSError, sqlite3.Error) as exc:
        raise EvnicheError(f"cannot open the run registry {path}: {exc}; set {ENV} to a "
                           "writable folder") from None
    return con


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


def write_run(ds: xr.Dataset, out_dir: str | Path, model: Any, seed: int | None,
              argv: Sequence[str] | None, wall_seconds: float | None,
              registry: str | Path | None = None) -> dict[str, Any]:
    """Write ``ds`` and its record to ``out_dir`` and register the run; return the record.

    ``model`` is the ResolvedModel that was run (None: name and digest from ``ds.attrs``,
    no parameter table); ``seed`` the random seed; ``argv`` the command line; wall time in
    seconds. The record (also in ``run.json``) has id, created (UTC, ISO 8601), model,
    digest, seed, days (simulated, days), engine, wall_seconds, argv, versions,
    parameters, and paths ``trajectory``/``run_json``/``out_dir``.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvnicheError(f"cannot create the run folder {out}: {exc}") from None
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    digest = str(getattr(model, "digest", None) or ds.attrs.get("digest", ""))
    name = str(getattr(model, "name", None) or ds.attrs.get("model", "unnamed"))
    stamp = created.replace("-", "").replace(":", "").split("+")[0]
    run_id = f"{stamp}-{digest[:8] or 'nodigest'}-{uuid.uuid4().hex[:6]}"
    time = ds["time"].values if "time" in ds.coords else np.array([0.0])
    days = float(time[-1] - time[0]) if len(time) else 0.0
    seed = _int_or_none(seed if seed is not None else ds.attrs.get("seed"))

    nc_path = out / TRAJECTORY
    safe = netcdf_safe(ds)
    safe.attrs.update({"run_id": run_id, "created": created})
    try:
        with replacing(nc_path) as tmp:
            safe.to_netcdf(tmp, engine="h5netcdf")
    except (OSError, ValueError, TypeError) as exc:
        raise EvnicheError(f"cannot write the trajectory to {nc_path}: {exc}") from None

    record: dict[str, Any] = {
        "id": run_id,
        "created": created,
        "model": name,
        "digest": digest,
        "seed": seed,
        "days": days,
        "engine": str(ds.attrs.get("engine", "")),
        "disease": str(ds.attrs.get("disease", "")),
        "wall_seconds": _json_number(None if wall_seconds is None else float(wall_seconds)),
        "argv": [str(a) for a in (argv or [])],
        "versions": _versions(),
        "model_source": str(getattr(model, "source", "")) if model is not None else "",
        "ledger_relative_error": _json_number(
            float(ds.attrs["ledger_relative_error"])) if "ledger_relative_error" in ds.attrs
        else None,
        "parameters": parameters_record(model),
        "out_dir": str(out.resolve()),
        "trajectory": str(nc_path.resolve()),
        "run_json": str((out / RUN_JSON).resolve()),
    }
    write_text(out / RUN_JSON, json.dumps(record, indent=2, sort_keys=False) + "\n")
    con = _connect(registry)
    try:
        with con:
            con.execute(f"INSERT INTO runs ({', '.join(_COLUMNS)}) VALUES "
                        f"({', '.join('?' * len(_COLUMNS))})",
                        tuple(record[c] for c in _COLUMNS))
    finally:
        con.close()
    return record


def list_runs(registry: str | Path | None = None, model: str | None = None,
              limit: int | None = None) -> list[dict[str, Any]]:
    """Registered runs, newest first, as dicts (id, created, model, digest, seed, days,
    engine, wall_seconds, out_dir); only those of ``model`` if given."""
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
    """Reload a run folder: the Trajectory (loaded into memory) and its ``run.json``."""
    out = Path(out_dir)
    nc_path, js = out / TRAJECTORY, out / RUN_JSON
    if not nc_path.exists() or not js.exists():
        raise EvnicheError(f"{out} is not a run folder: expected {TRAJECTORY} and {RUN_JSON}")
    with xr.open_dataset(nc_path, engine="h5netcdf") as handle:
        ds = handle.load()
    return ds, json.loads(js.read_text(encoding="utf-8"))
