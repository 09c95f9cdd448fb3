"""Complement: a labelled proxy, the phosphatidylserine (PS)-exposing EV surface in plasma.

**Why a proxy.** The cited data say *which* EVs activate complement and *how*, not how much
C3 a given EV surface gathers per minute in plasma:

* C1q, the recognition unit of the classical pathway, binds PS "specifically and avidly
  (KD = 3.7–7 × 10−8 M)" (Païdassi et al. 2008, J Immunol 180:2329; docs/sources/
  thrombin.md C1);
* "purified C1q binds to apoptotic cells and isolated blebs … and induces activation of the
  classical complement pathway, as shown by the deposition of C4 and C3 on the surface of
  these cells and on cell-derived blebs", and "surface-bound C1q is present on a
  subpopulation of microparticles isolated from human plasma" (Nauta et al. 2002, Eur J
  Immunol 32:1726; docs/sources/thrombin.md C2).

With plasma C1q far above that KD (assumption: ~70–180 µg/mL of a 460-kDa protein,
150–400 nM), the C1q-covered — complement-activating — surface scales with the exposed-PS
EV surface, which the model knows (the pools with ``ps_exposed``, their size
distributions, their plasma counts). Deposition per µm² (C4b/C3b molecules) and its
consequences (opsonization, anaphylatoxins C3a/C5a, complement-activation-related
pseudoallergy after infusions) are not quantified in the cited data, so this module stops
at the surface: µm² of PS-exposing EV membrane per mL of plasma, and its fold over a
reference (the run's first day, or the control arm of a therapy).

Pure functions of a Trajectory; time in days.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from ..errors import EvnicheError
from .liquid_biopsy import _plasma

#: what this readout is, for tables and reports
LABEL = "complement proxy: PS-exposing EV surface in plasma (C1q ligand)"


def surface_per_ev_um2(ds: xr.Dataset) -> xr.DataArray:
    """Outer membrane area per EV of each pool that exposes PS, ``(pool,)`` in µm² (0 for
    pools that do not): π·E[d²] of the class's log-normal diameter
    (E[d²] = median² · exp(2 ln² gsd))."""
    if "pool_ps" not in ds.coords:
        raise EvnicheError("the trajectory has no 'pool_ps' coordinate (which pools expose "
                           "phosphatidylserine); expected it on the pool dimension")
    classes = [str(c) for c in ds["vesicle_class"].values]
    median = np.asarray(ds["class_median_um"].values, dtype=float)
    gsd = np.asarray(ds["class_gsd"].values, dtype=float)
    area = dict(zip(classes, math.pi * median ** 2 * np.exp(2 * np.log(gsd) ** 2),
                    strict=True))
    pool_class = np.asarray(ds["pool_class"].values).astype(str)
    exposed = np.asarray(ds["pool_ps"].values, dtype=bool)
    values = [area[c] if e else 0.0 for c, e in zip(pool_class, exposed, strict=True)]
    return xr.DataArray(values, coords={"pool": ds["pool"]}, dims=("pool",),
                        attrs={"units": "µm²/EV"}, name="ps_surface_per_ev")


def ps_surface_per_ml(ds: xr.Dataset) -> xr.DataArray:
    """PS-exposing EV surface in plasma over time, ``(time,)`` in µm² per mL of plasma."""
    out = (_plasma(ds) * surface_per_ev_um2(ds)).sum("pool")
    out.attrs["units"] = "µm²/mL"
    return out.rename("ps_surface")


def proxy_fold(ds: xr.Dataset, reference: xr.Dataset | None = None) -> float:
    """The largest PS-exposing EV surface of ``ds`` over the largest of ``reference`` (the
    control arm; default: ``ds``'s first day), a fold (1: no change; NaN when the
    reference has none)."""
    mine = float(ps_surface_per_ml(ds).max())
    base = float(ps_surface_per_ml(reference).max()) if reference is not None else \
        float(ps_surface_per_ml(ds).isel(time=0))
    return mine / base if base > 0 else math.nan
