"""A calibration posterior on disk, checked against the model it is used with.

The contract (written by ``evniche calibrate``): a folder ``DIR`` with

* ``DIR/posterior.parquet``: one row per particle, a column per override key
  ``parameters.NAME`` (the value in the unit the model file writes the parameter in) and a
  column ``weight`` (importance weights, normalised to sum 1);
* ``DIR/posterior.json``: at least ``model`` (the model's name), ``digest`` (the model's
  digest, :attr:`evniche.spec.resolve.ResolvedModel.digest`) and ``parameters``
  (``{key: {"unit": ..., "range": [low, high]}}``, the prior range in that unit, or the
  list ``[{"key": ..., "unit": ..., "prior": ...}, ...]`` that ``evniche calibrate``
  writes).

A posterior made for another model (another name or digest) is refused: its particles
would set parameters of a model they were not fitted to. Draws are weighted resampling
with replacement, seeded (the same seed gives the same draw).

Shipped posteriors: a preset may come with a posterior in the package folder
``evniche/posteriors/PRESET/`` (the same two files, written by ``evniche calibrate PRESET
--ship``; ``make posteriors`` regenerates all of them). ``evniche run PRESET`` and
``evniche scenarios run`` use it by default (:func:`shipped_folder`); one made for another
digest of the preset is not used, with a warning (:func:`stale_message`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EvnicheError

PARQUET = "posterior.parquet"
META = "posterior.json"
#: the package folder of the shipped posteriors (one subfolder per preset)
SHIPPED = "posteriors"
#: the one command that regenerates every shipped posterior (Makefile target)
REGENERATE = "make posteriors"
#: the quantiles every band and credible interval is made of (5 %, 25 %, 50 %, 75 %, 95 %)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def weighted_quantile(values: Sequence[float], weights: Sequence[float] | None,
                      q: float | Sequence[float]) -> np.ndarray:
    """Quantiles ``q`` (in [0, 1]) of ``values`` with ``weights`` (None: equal).

    The weighted form of the Hazen (midpoint) rule: each sorted value stands at the middle
    of its weight on the cumulative scale, ``c_i = (W_{i-1} + W_i) / 2 / W``; a quantile
    between two midpoints is linearly interpolated and one outside them is the smallest /
    largest value. With equal weights it is numpy's ``method="hazen"``. ``+inf`` values (a
    censored outcome beyond the horizon) sort last and give ``inf`` where they are reached.
    """
    x = np.asarray(values, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if x.ndim != 1 or w.shape != x.shape or x.size == 0:
        raise EvnicheError("weighted_quantile: expected equally long, non-empty 1-D values "
                           f"and weights, got {x.shape} and {w.shape}")
    if np.isnan(x).any() or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise EvnicheError("weighted_quantile: values must not be NaN and weights must be "
                           "finite, >= 0 and not all 0")
    qs = np.atleast_1d(np.asarray(q, dtype=float))
    if ((qs < 0) | (qs > 1)).any():
        raise EvnicheError(f"weighted_quantile: quantiles must lie in [0, 1], got {q}")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    keep = w > 0
    x, w = x[keep], w[keep]
    cum = np.cumsum(w)
    mid = (cum - w / 2) / cum[-1]
    out = np.empty(qs.shape)
    for k, p in enumerate(qs):
        if p <= mid[0]:
            out[k] = x[0]
        elif p >= mid[-1]:
            out[k] = x[-1]
        else:
            j = int(np.searchsorted(mid, p, side="right"))  # mid[j-1] <= p < mid[j]
            lo, hi = x[j - 1], x[j]
            if math.isinf(hi) or math.isinf(lo):
                out[k] = hi if p > mid[j - 1] else lo
            else:
                out[k] = lo + (hi - lo) * (p - mid[j - 1]) / (mid[j] - mid[j - 1])
    return out


@dataclass(frozen=True)
class Posterior:
    """Particles (override key → values) and their normalised weights, with the metadata."""

    folder: Path
    model: str
    digest: str
    particles: pd.DataFrame  # one column per override key ``parameters.NAME``
    weights: np.ndarray
    meta: dict

    @property
    def keys(self) -> list[str]:
        return list(self.particles.columns)

    @property
    def units(self) -> dict[str, str]:
        """Override key → the unit ``posterior.json`` gives for it, from either form of
        ``parameters``: ``{key: {"unit": ...}}`` or ``evniche calibrate``'s list of
        ``{"key": ..., "unit": ...}``."""
        declared = self.meta.get("parameters") or {}
        if isinstance(declared, dict):
            pairs = ((k, v.get("unit") if isinstance(v, dict) else None)
                     for k, v in declared.items())
        else:
            pairs = ((v.get("key"), v.get("unit")) for v in declared if isinstance(v, dict))
        return {str(k): str(u) for k, u in pairs if k is not None and u is not None}

    def check_model(self, resolved) -> None:
        """Refuse this posterior for ``resolved`` (a ResolvedModel) when it was made for
        another model: another name, another digest, or parameters the model lacks or
        writes in another unit."""
        where = self.folder / META
        if self.model != resolved.name:
            raise EvnicheError(f"{where}: the posterior was made for model '{self.model}', "
                               f"not '{resolved.name}'")
        mine, theirs = str(resolved.digest), self.digest
        if not (mine.startswith(theirs) or theirs.startswith(mine)):
            raise EvnicheError(
                f"{where}: the posterior was made for model '{self.model}' with digest "
                f"{theirs}, but this model has digest {mine} (the model file or its --set "
                "overrides changed since calibration); calibrate again")
        params = resolved.params.resolved
        for key in self.keys:
            name = key.split(".", 1)[1]
            if name not in params:
                raise EvnicheError(f"{self.folder / PARQUET}: column '{key}' names no "
                                   f"parameter of model '{resolved.name}'")
            unit = self.units.get(key)
            if unit is not None and unit != str(params[name].unit):
                raise EvnicheError(f"{where}: parameters['{key}'] is in '{unit}' but the "
                                   f"model writes {name} in '{params[name].unit}'")

    def draw(self, n: int, seed: int) -> list[dict[str, float]]:
        """``n`` particles resampled with replacement in proportion to their weights
        (numpy's default generator seeded with ``seed``), as override mappings."""
        if n < 1:
            raise EvnicheError(f"--ensemble must be a whole number >= 1, got {n}")
        rng = np.random.default_rng(seed)
        rows = rng.choice(len(self.weights), size=n, replace=True, p=self.weights)
        values = self.particles.to_numpy(dtype=float)
        return [dict(zip(self.keys, (float(v) for v in values[i]), strict=True))
                for i in rows]

    def quantiles(self, key: str) -> np.ndarray:
        """The weighted 5/25/50/75/95 % quantiles of one parameter (the model's unit)."""
        return weighted_quantile(self.particles[key].to_numpy(dtype=float), self.weights,
                                 QUANTILES)


def load_posterior(folder: str | Path) -> Posterior:
    """Read and check ``folder/posterior.parquet`` and ``folder/posterior.json``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EvnicheError(f"--posterior {folder}: expected a folder holding {PARQUET} and "
                           f"{META}")
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvnicheError(f"--posterior {folder}: {META} is missing") from None
    except (OSError, ValueError) as exc:
        raise EvnicheError(f"{folder / META}: not readable JSON ({exc})") from None
    if not isinstance(meta, dict) or not all(k in meta for k in ("model", "digest",
                                                                  "parameters")) \
            or not isinstance(meta["parameters"], dict | list):
        raise EvnicheError(f"{folder / META}: expected an object with 'model', 'digest' and "
                           "'parameters' (a mapping or a list)")
    try:
        frame = pd.read_parquet(folder / PARQUET)
    except FileNotFoundError:
        raise EvnicheError(f"--posterior {folder}: {PARQUET} is missing") from None
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise EvnicheError(f"{folder / PARQUET}: not a readable parquet file ({exc})") from None
    where = folder / PARQUET
    if "weight" not in frame.columns:
        raise EvnicheError(f"{where}: no 'weight' column")
    keys = [c for c in frame.columns if c != "weight"]
    bad = [c for c in keys if not (str(c).startswith("parameters.") and str(c).count(".") == 1)]
    if bad or not keys:
        raise EvnicheError(f"{where}: expected columns 'parameters.NAME' and 'weight', got "
                           f"{', '.join(map(str, frame.columns))}")
    if len(frame) == 0:
        raise EvnicheError(f"{where}: no particles")
    try:
        weights = frame["weight"].to_numpy(dtype=float)
        values = frame[keys].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise EvnicheError(f"{where}: every column must be numeric") from None
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise EvnicheError(f"{where}: weights must be finite, >= 0 and not all 0")
    if not np.isfinite(values).all():
        raise EvnicheError(f"{where}: parameter values must be finite numbers")
    return Posterior(folder, str(meta["model"]), str(meta["digest"]), frame[keys].copy(),
                     weights / weights.sum(), meta)


def shipped_folder(model: str):
    """The folder of the posterior shipped for preset ``model`` (``evniche/posteriors/
    MODEL/`` inside the package, holding both files), or None: no posterior is shipped for
    it, or ``model`` is a model file rather than a preset name."""
    from importlib import resources

    from ..spec.loader import preset_names

    if model not in preset_names() or Path(model).exists():  # a file of that name wins
        return None
    folder = resources.files("evniche") / SHIPPED / model
    if (folder / PARQUET).is_file() and (folder / META).is_file():
        return Path(str(folder))
    return None


def stale_message(model: str, reason: str) -> str:
    """Why the shipped posterior of preset ``model`` is not used (``reason``: the refusal
    of :meth:`Posterior.check_model` or :func:`load_posterior`), with how to regenerate it."""
    return (f"the posterior shipped for preset '{model}' does not fit the model run: "
            f"{reason}. Regenerate the shipped posteriors with `{REGENERATE}` (after a preset "
            "change), or pass --posterior none to run the point model without this warning")
