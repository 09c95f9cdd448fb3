"""The marrow section: a voxel grid with a bone surface and sinusoids, made from a seed.

Geometry (µm):

* The grid is the marrow cavity, ``nx × ny × nz`` voxels of edge ``dx``. A 2-D section is
  one cell layer thick (``nz == 1``, thickness ``dx``); a 3-D block has ``nz > 1``.
* The bone (endosteal) surface is the plane ``x = 0``: fields do not cross it (zero flux)
  and osteoblast-like cells line it. This is the endosteal niche.
* Sinusoids are smooth random vessels (meandering tubes) of radius ``sinusoid_radius``
  running across the section; their voxels make the vascular niche and drain EVs into the
  blood compartment. Cells never sit inside a sinusoid.
* CXCL12-abundant reticular (MSC-like) cells are placed around sinusoids, and ~85 % of
  HSC-like (``niche``) cells within 10 µm of one (Acar et al., Nature 2015 — ev_parameters.md
  section G, flag V). The number of sinusoids follows ``sinusoid_spacing`` (assumption:
  sinusoids tens of µm apart so that cells are within tens of µm of a vessel,
  Nombela-Arrieta 2013, flag U).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ...errors import SimulationError


@dataclass(frozen=True)
class GeometrySettings:
    """Configurable geometry (lengths in µm)."""

    size_um: tuple[float, float, float] = (1000.0, 1000.0, 0.0)  # z = 0: a 2-D section
    dx_um: float = 10.0
    sinusoid_radius_um: float = 10.0
    sinusoid_spacing_um: float = 150.0
    bone: bool = True

    @classmethod
    def from_options(cls, options: dict) -> GeometrySettings:
        """Settings from engine options (popped from ``options``); errors name the option."""
        kw = {}
        if "size_um" in options:
            raw = options.pop("size_um")
            try:
                size = tuple(float(s) for s in raw)
            except (TypeError, ValueError):
                size = ()
            if len(size) == 2:
                size = (*size, 0.0)
            if len(size) != 3 or not min(size[:2]) > 0 or not size[2] >= 0:
                raise SimulationError("spatial option size_um: give (x, y) or (x, y, z) in µm "
                                      f"with positive x and y, got {raw!r}")
            kw["size_um"] = size
        for key in ("dx_um", "sinusoid_radius_um", "sinusoid_spacing_um"):
            if key in options:
                value = options.pop(key)
                try:
                    kw[key] = float(value)
                except (TypeError, ValueError):
                    kw[key] = float("nan")
                if not kw[key] > 0:
                    raise SimulationError(f"spatial option {key}: expected a positive length "
                                          f"in µm, got {value!r}")
        if "bone" in options:
            value = options.pop("bone")
            if not isinstance(value, bool | np.bool_):
                raise SimulationError(f"spatial option bone: expected true or false, got "
                                      f"{value!r}")
            kw["bone"] = bool(value)
        return cls(**kw)


@dataclass
class Geometry:
    """A generated section: grid shape (nz, ny, nx), voxel edge (µm), masks and distances."""

    shape: tuple[int, int, int]
    dx: float
    sinusoid: np.ndarray  # bool (nz, ny, nx)
    dist_sinusoid: np.ndarray  # µm from each voxel centre to the nearest sinusoid voxel
    settings: GeometrySettings

    @property
    def dims(self) -> int:
        return 3 if self.shape[0] > 1 else 2

    @property
    def extent(self) -> np.ndarray:
        """Domain size (x, y, z) in µm (z is one voxel in 2-D)."""
        nz, ny, nx = self.shape
        return np.array([nx, ny, nz], dtype=float) * self.dx

    @property
    def n_voxels(self) -> int:
        return int(np.prod(self.shape))

    def voxel_of(self, pos: np.ndarray) -> np.ndarray:
        """Flat voxel index of positions ``pos`` (n, 3) µm."""
        nz, ny, nx = self.shape
        ix = np.clip((pos[:, 0] / self.dx).astype(np.int64), 0, nx - 1)
        iy = np.clip((pos[:, 1] / self.dx).astype(np.int64), 0, ny - 1)
        iz = np.clip((pos[:, 2] / self.dx).astype(np.int64), 0, nz - 1)
        return (iz * ny + iy) * nx + ix


def grid_shape(settings: GeometrySettings) -> tuple[int, int, int]:
    """Voxels of the section along (z, y, x): its size over the voxel edge, at least 1."""
    sx, sy, sz = settings.size_um
    dx = settings.dx_um
    nx, ny = max(int(round(sx / dx)), 1), max(int(round(sy / dx)), 1)
    nz = max(int(round(sz / dx)), 1) if sz > 0 else 1
    return nz, ny, nx


def generate(settings: GeometrySettings, rng: np.random.Generator) -> Geometry:
    """Make the grid and its sinusoids from ``rng``."""
    sx, sy, sz = settings.size_um
    dx = settings.dx_um
    nz, ny, nx = grid_shape(settings)
    if nx * ny * nz > 2e8:
        raise SimulationError(f"the grid would have {nx * ny * nz:.3g} voxels; use a coarser "
                              "dx_um or a smaller size_um")
    shape = (nz, ny, nx)
    sin = np.zeros(shape, bool)
    r = settings.sinusoid_radius_um
    # vessels run roughly along y (parallel to the bone surface at x = 0), meandering
    n_vessels = max(1, int(round(sx / settings.sinusoid_spacing_um)))
    n_deep = max(1, int(round(sz / settings.sinusoid_spacing_um))) if nz > 1 else 1
    zc = (np.arange(nz) + 0.5) * dx
    yc = (np.arange(ny) + 0.5) * dx
    xc = (np.arange(nx) + 0.5) * dx
    margin = 30.0 if settings.bone else 0.0
    for k in range(n_deep):
        for v in range(n_vessels):
            x0 = margin + (v + rng.uniform(0.2, 0.8)) * (sx - margin) / n_vessels
            z0 = (k + rng.uniform(0.2, 0.8)) * sz / n_deep if nz > 1 else 0.5 * dx
            amp = rng.uniform(0.1, 0.3) * settings.sinusoid_spacing_um
            wave = rng.uniform(150.0, 400.0)
            phase = rng.uniform(0, 2 * np.pi)
            centre_x = x0 + amp * np.sin(2 * np.pi * yc / wave + phase)  # per y row
            centre_z = z0 + (0.5 * amp * np.cos(2 * np.pi * yc / wave + phase) if nz > 1
                             else 0.0)
            for j in range(ny):
                dxx = (xc - centre_x[j])[None, :]
                if nz > 1:
                    dzz = (zc - centre_z[j])[:, None]
                    sin[:, j, :] |= dxx**2 + dzz**2 <= r**2
                else:
                    sin[0, j, :] |= np.abs(dxx[0]) <= r
    if not sin.any():
        raise SimulationError("the section has no sinusoid; make size_um larger than "
                              "sinusoid_spacing_um or the radius larger than dx_um")
    dist = ndimage.distance_transform_edt(~sin, sampling=dx)
    return Geometry(shape=shape, dx=dx, sinusoid=sin, dist_sinusoid=dist, settings=settings)


def place(geom: Geometry, n: int, where: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` positions (µm, (n, 3)) for cells placed ``where``: "uniform" (any marrow
    voxel), "perivascular" (within 10 µm of a sinusoid), "hsc" (85 % perivascular, Acar
    2015), "sinusoid" (on a vessel wall) or "bone" (along x = 0)."""
    nz, ny, nx = geom.shape
    marrow = ~geom.sinusoid
    if where == "hsc":
        near = rng.random(n) < 0.85
        out = np.empty((n, 3))
        out[near] = place(geom, int(near.sum()), "perivascular", rng)
        out[~near] = place(geom, int((~near).sum()), "uniform", rng)
        return out
    if where == "perivascular":
        mask = marrow & (geom.dist_sinusoid <= 10.0)
    elif where == "sinusoid":
        mask = marrow & (geom.dist_sinusoid <= geom.dx)
    elif where == "bone":
        mask = np.zeros_like(marrow)
        mask[:, :, 0] = marrow[:, :, 0]
    elif where == "uniform":
        mask = marrow
    else:
        raise SimulationError(f"unknown placement '{where}'; use uniform, perivascular, hsc, "
                              "sinusoid or bone")
    cand = np.flatnonzero(mask.ravel())
    if cand.size == 0:
        cand = np.flatnonzero(marrow.ravel())
    pick = cand[rng.integers(0, cand.size, n)] if n else np.zeros(0, np.int64)
    iz, rem = np.divmod(pick, ny * nx)
    iy, ix = np.divmod(rem, nx)
    jitter = rng.random((n, 3))
    pos = np.stack([(ix + jitter[:, 0]) * geom.dx, (iy + jitter[:, 1]) * geom.dx,
                    (iz + (jitter[:, 2] if nz > 1 else 0.5)) * geom.dx], axis=1)
    if where == "bone":
        pos[:, 0] = rng.random(n) * 0.5 * geom.dx
    return pos
