"""Diffusion coefficients of EVs and cytokines in the marrow interstitium.

Stokes–Einstein gives the free diffusion coefficient of a sphere of diameter ``d``::

    D = k_B · T / (3 · π · η · d)

and the interstitium hinders it by the tortuosity λ of the extracellular space:
``D_eff = D / λ²`` (Rusakov & Kullmann, PNAS 1998). A vesicle class has a log-normal
size distribution truncated to [min, max]; its field uses the number-weighted mean of
``D`` over that distribution (``D ∝ 1/d``, so the mean of ``1/d``).

Defaults (see ``/work/shared/research/ev_parameters.md`` section D):

* temperature 310.15 K (37 °C; D row "Stokes–Einstein, water 37 °C");
* interstitial viscosity 0.85 mPa·s — "close to water (~0.7–1 mPa·s); no BM-specific value
  found" (flag **U**: an assumption, the middle of that range);
* tortuosity 1.57 (geometric tortuosity for linear flux among random space-filling
  obstacles, Rusakov & Kullmann 1998, flag V) → hindrance 1/λ² ≈ 0.41;
* cytokines without a ``diffusion`` entry in the model: 100 µm²/s — an assumption (U)
  for a ~10 kDa chemokine such as CXCL12 in tissue.

Units: diameters in µm, diffusion coefficients in µm²/s (canonical "diffusivity"); the
engine converts to µm²/h.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import SimulationError

BOLTZMANN = 1.380649e-23  # J/K (exact, SI 2019)

#: defaults with provenance (ev_parameters.md section D); override through ``options``
DEFAULTS: dict[str, tuple[float, str, str]] = {
    "temperature_K": (310.15, "K", "37 °C body temperature; ev_parameters.md D (flag D)"),
    "viscosity_mPa_s": (0.85, "mPa·s", "assumption: interstitial fluid close to water, "
                        "0.7–1 mPa·s, no marrow value found; ev_parameters.md D (flag U)"),
    "tortuosity": (1.57, "1", "geometric tortuosity for linear flux, Rusakov & Kullmann "
                   "PNAS 1998; ev_parameters.md D (flag V)"),
    "cytokine_diffusion_um2_s": (100.0, "µm²/s", "assumption: a ~10 kDa chemokine (CXCL12) "
                                 "in tissue when the model gives no diffusion (flag U)"),
}


def stokes_einstein(d_um: float | np.ndarray, temperature_K: float = 310.15,
                    viscosity_mPa_s: float = 0.85) -> float | np.ndarray:
    """Free diffusion coefficient (µm²/s) of a sphere of diameter ``d_um`` (µm) in a fluid
    of dynamic viscosity ``viscosity_mPa_s`` (mPa·s) at ``temperature_K`` (K)."""
    d = np.asarray(d_um, dtype=float)
    if np.any(d <= 0) or temperature_K <= 0 or viscosity_mPa_s <= 0:
        raise SimulationError("Stokes–Einstein needs a positive diameter (µm), temperature (K) "
                              f"and viscosity (mPa·s); got d={d_um}, T={temperature_K}, "
                              f"η={viscosity_mPa_s}")
    D = BOLTZMANN * temperature_K / (3.0 * np.pi * viscosity_mPa_s * 1e-3 * d * 1e-6)  # m²/s
    out = D * 1e12
    return float(out) if np.ndim(out) == 0 else out


def mean_diffusion(median_um: float, gsd: float, min_um: float, max_um: float,
                   temperature_K: float = 310.15, viscosity_mPa_s: float = 0.85,
                   n: int = 2001) -> float:
    """Number-weighted mean Stokes–Einstein coefficient (µm²/s) over a log-normal size
    distribution (median ``median_um``, geometric SD ``gsd``) truncated to [min, max] µm."""
    if not (0 < min_um <= max_um) or median_um <= 0 or gsd < 1:
        raise SimulationError(f"bad size distribution: median={median_um} µm, gsd={gsd}, "
                              f"min={min_um} µm, max={max_um} µm (need 0 < min ≤ max, gsd ≥ 1)")
    if gsd == 1.0 or min_um == max_um:
        d = float(np.clip(median_um, min_um, max_um))
        return float(stokes_einstein(d, temperature_K, viscosity_mPa_s))
    # integrate in log d: density of ln d is normal(ln median, ln gsd)
    u = np.linspace(np.log(min_um), np.log(max_um), n)
    s = np.log(gsd)
    w = np.exp(-0.5 * ((u - np.log(median_um)) / s) ** 2)
    if not np.any(w > 0):
        d = float(np.clip(median_um, min_um, max_um))
        return float(stokes_einstein(d, temperature_K, viscosity_mPa_s))
    D = stokes_einstein(np.exp(u), temperature_K, viscosity_mPa_s)
    return float(np.trapezoid(w * D, u) / np.trapezoid(w, u))


def hindrance(tortuosity: float) -> float:
    """Hindrance factor 1/λ² of the extracellular space (dimensionless)."""
    if tortuosity < 1:
        raise SimulationError(f"tortuosity must be ≥ 1, got {tortuosity}")
    return 1.0 / tortuosity**2


@dataclass(frozen=True)
class TransportSettings:
    """Physical settings of the interstitium (see the module docstring for provenance)."""

    temperature_K: float = DEFAULTS["temperature_K"][0]
    viscosity_mPa_s: float = DEFAULTS["viscosity_mPa_s"][0]
    tortuosity: float = DEFAULTS["tortuosity"][0]
    cytokine_diffusion_um2_s: float = DEFAULTS["cytokine_diffusion_um2_s"][0]
    diffusion_factor: float = 1.0  # multiplies every coefficient (well-mixed limit tests)

    @classmethod
    def from_options(cls, options: dict) -> TransportSettings:
        kw = {}
        for k in [k for k in options if k in cls.__dataclass_fields__]:
            value = options.pop(k)
            try:
                kw[k] = float(value)
            except (TypeError, ValueError):
                raise SimulationError(f"spatial option {k}: expected a number, got {value!r}"
                                      ) from None
            if not kw[k] > 0:
                raise SimulationError(f"spatial option {k} must be positive, got {value!r}")
        return cls(**kw)
