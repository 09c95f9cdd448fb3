"""Readouts of a thrombin generation curve, as a calibrated automated thrombogram (CAT)
reports them: lag time, peak, time to peak, endogenous thrombin potential (ETP).

Definitions (time in min, thrombin in nM):

* **lag time** — the first time thrombin reaches :data:`LAG_NM` = 2 nM, the "time to 2 nM
  thrombin" of the Mann-laboratory simulations (Danforth et al. 2012, PLoS One 7:e30385,
  doi:10.1371/journal.pone.0030385: "max rate, max level, total thrombin, time to 2 nM").
  About when plasma clots; NaN when thrombin never reaches it within the simulated time.
* **peak** — the largest thrombin concentration (nM); **time to peak** (min).
* **ETP** — the area under the curve (nM·min) over the simulated time: the total thrombin
  activity the sample generated (Hemker's endogenous thrombin potential).
* **velocity index** — peak / (time to peak − lag time) (nM/min), the CAT's slope.

No thrombin burst (peak below the lag threshold) gives lag, time to peak and velocity NaN.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .hockin import ThrombinCurve

#: thrombin concentration that defines the lag time (nM), see the module docstring
LAG_NM = 2.0


@dataclass(frozen=True)
class Thrombogram:
    """The CAT readouts of one curve (units in the field names)."""

    lag_min: float
    peak_nM: float
    time_to_peak_min: float
    etp_nM_min: float
    velocity_nM_per_min: float
    tf_pM: float
    membrane: float

    @property
    def burst(self) -> bool:
        """Whether thrombin reached the lag threshold (a clot would form)."""
        return math.isfinite(self.lag_min)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def time_to(curve: ThrombinCurve, level_nM: float) -> float:
    """The first time (min) thrombin reaches ``level_nM`` (nM), linearly interpolated
    between the samples around it; NaN when it never does within the curve."""
    t, y = curve.time_min, curve.thrombin_nM
    above = np.nonzero(y >= level_nM)[0]
    if above.size == 0:
        return math.nan
    i = int(above[0])
    if i == 0:
        return float(t[0])
    return float(t[i - 1] + (level_nM - y[i - 1]) * (t[i] - t[i - 1]) / (y[i] - y[i - 1]))


def read(curve: ThrombinCurve) -> Thrombogram:
    """The CAT readouts of ``curve``."""
    t, y = curve.time_min, curve.thrombin_nM
    k = int(np.argmax(y))
    peak = float(y[k])
    etp = float(np.trapezoid(y, t))
    lag = time_to(curve, LAG_NM)
    if math.isnan(lag):
        return Thrombogram(math.nan, peak, math.nan, etp, math.nan, curve.tf_pM,
                           curve.membrane)
    ttp = float(t[k])
    velocity = peak / (ttp - lag) if ttp > lag else math.nan
    return Thrombogram(lag, peak, ttp, etp, velocity, curve.tf_pM, curve.membrane)
