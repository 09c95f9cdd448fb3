"""Molecular response of CML: BCR-ABL1/ABL1 in blood on the International Scale (IS).

All functions are pure functions of a Trajectory ``xarray.Dataset``. Time is in days,
BCR-ABL1 levels in % IS, slopes in 1/day (natural log), log reductions in log10 units.

**The measurement.** CML is monitored by RT-qPCR of peripheral-blood leukocytes: BCR-ABL1
transcripts over transcripts of a control gene (ABL1), expressed on the International
Scale, whose 100 % is the IRIS standardized baseline (the median BCR-ABL1/control ratio of
30 untreated chronic-phase patients) and whose 0.1 % is a 3-log reduction from it, the
major molecular response (MMR; eutos.org molecular-monitoring review; ELN 2013, Baccarani
et al., Blood 2013;122:872–884, doi:10.1182/blood-2013-05-501569). Sources and quotes:
docs/sources/cml.md.

**From the model.** The model's blood leukocytes are granulocyte-equivalents: the
hematopoietic cell types that live in blood, leukemic (BCR-ABL1+, ``L``) or normal (``N``)
lineage (:func:`evniche.readouts.clinical.cell_types`; immune and background blood cells
are not counted). The readout is

    BCR-ABL1 (% IS) = 100 × L / (L + N)

with two assumptions, both stated in docs/sources/cml.md: (1) a BCR-ABL1+ and a normal
leukocyte carry the same amount of control-gene transcript and every BCR-ABL1+ cell the
same amount of fusion transcript, so the transcript ratio is proportional to the leukemic
share of blood leukocytes; (2) the proportionality factor (the laboratory's conversion
factor to the IS) is the one that makes a blood of only BCR-ABL1+ leukocytes read 100 %,
which is what the IRIS baseline of untreated patients — whose blood leukocytes are almost
all Ph+ at diagnosis — stands for. Lymphocytes (mostly Ph− in CML) are not in the model;
they would dilute both arms alike. The well-mixed model's cell numbers are expected
values, so levels far below a single cell (and below any assay: :data:`DETECTION_LIMIT`)
are kept as numbers: they carry the slopes the published fits measure while the assay
still sees the disease.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from ..errors import EvnicheError
from .clinical import cell_types

#: the International Scale's baseline (%): the IRIS standardized baseline of untreated CML
IS_BASELINE = 100.0
#: major molecular response (MMR, MR3): BCR-ABL1 <= 0.1 % IS, a 3-log reduction
MMR = 0.1
#: ELN 2013 (Baccarani et al., Blood 2013;122:872): optimal response is <= 10 % at 3 months
#: and <= 0.1 % from 12 months; > 1 % from 12 months is failure (% IS)
ELN_3_MONTHS_OPTIMAL = 10.0
ELN_12_MONTHS_FAILURE = 1.0
#: a good RT-qPCR detects a 4.5-log reduction (MR4.5, 0.0032 % IS) (% IS)
DETECTION_LIMIT = 0.0032


def bcr_abl_is(ds: xr.Dataset) -> xr.DataArray:
    """BCR-ABL1/ABL1 in blood (% IS) over time: 100 × leukemic / (leukemic + normal)
    hematopoietic blood cells (see the module text). NaN where blood holds no
    hematopoietic cell; an error when the model has no leukemic blood cell type."""
    leukemic = cell_types(ds, "blood", "leukemic")
    normal = cell_types(ds, "blood", "normal")
    if not leukemic:
        raise EvnicheError("BCR-ABL1 in blood needs a leukemic cell type that lives in blood "
                           "(lineage 'leukemic', compartment 'blood'); the model has none")
    cells = ds["cells"].clip(min=0.0)  # round-off negatives of the solver read 0
    lk = cells.sel(cell_type=leukemic).sum("cell_type")
    nm = cells.sel(cell_type=normal).sum("cell_type") if normal else xr.zeros_like(lk)
    total = lk + nm
    out = (100.0 * lk / total.where(total > 0)).rename("bcr_abl_is")
    out.attrs.update(unit="% IS", description="BCR-ABL1/ABL1 in blood, International Scale")
    return out


def log_reduction(level: float | xr.DataArray, baseline: float = IS_BASELINE):
    """Log10 reduction of a BCR-ABL1 level (% IS) from ``baseline`` (the IS baseline,
    100 %): 3 at MMR (0.1 %); +inf for an undetectable (0) level."""
    if isinstance(level, xr.DataArray):
        return np.log10(baseline / level)
    level = float(level)
    if level < 0 or math.isnan(level):
        raise EvnicheError(f"a BCR-ABL1 level must be a number >= 0 (% IS), got {level}")
    return math.inf if level == 0 else math.log10(baseline / level)


def log_slope(series: xr.DataArray, start: float, end: float) -> float:
    """Least-squares slope of ln(series) over days [start, end] (1/day; negative for a
    decline), the way the biphasic decline of BCR-ABL1 is fitted (Michor et al., Nature
    2005, doi:10.1038/nature03669; Tang et al., Blood 2011;118:1622). Samples that are 0
    or NaN (undetectable) are left out; NaN when fewer than two samples remain."""
    if not end > start:
        raise EvnicheError(f"slope window must end after it starts, got [{start}, {end}] days")
    t = np.asarray(series["time"].values, dtype=float)
    y = np.asarray(series.values, dtype=float)
    ok = (t >= start) & (t <= end) & np.isfinite(y) & (y > 0)
    if ok.sum() < 2:
        return math.nan
    slope, _ = np.polyfit(t[ok], np.log(y[ok]), 1)
    return float(slope)


def biphasic_slopes(ds: xr.Dataset, start: float,
                    first: tuple[float, float] = (0.0, 90.0),
                    second: tuple[float, float] = (365.0, 730.0)) -> tuple[float, float]:
    """The first and second slope (1/day) of BCR-ABL1 in blood after a therapy started on
    day ``start``: ln-slopes over days ``first`` and ``second`` counted from the start
    (defaults: months 0–3 and 12–24, where the published fits place the two phases)."""
    level = bcr_abl_is(ds)
    return (log_slope(level, start + first[0], start + first[1]),
            log_slope(level, start + second[0], start + second[1]))


def first_day_at_or_below(series: xr.DataArray, level: float, after: float = 0.0
                          ) -> float | None:
    """First sampled day >= ``after`` on which ``series`` is at or below ``level`` (e.g.
    :data:`MMR` for the day of major molecular response); None if never."""
    t = np.asarray(series["time"].values, dtype=float)
    y = np.asarray(series.values, dtype=float)
    hit = np.flatnonzero((t >= after) & (y <= level))
    return float(t[hit[0]]) if hit.size else None


def first_day_at_or_above(series: xr.DataArray, level: float, after: float = 0.0
                          ) -> float | None:
    """First sampled day >= ``after`` on which ``series`` is at or above ``level``; None
    if never."""
    t = np.asarray(series["time"].values, dtype=float)
    y = np.asarray(series.values, dtype=float)
    hit = np.flatnonzero((t >= after) & (y >= level))
    return float(t[hit[0]]) if hit.size else None
