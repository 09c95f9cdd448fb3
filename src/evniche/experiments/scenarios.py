"""The scenario catalog: review findings the models cover, run as checks.

A :class:`Scenario` names a finding of the reviews (with knowledge-base ids), two arms —
*treatment* and *control* — that differ only in what the finding is about (an intervention,
a source of EVs switched off, or the disease model itself), a :class:`Readout` and the
direction the reviews report (+1: the treatment arm reads higher, −1: lower). The verdict
is computed from the simulated numbers: *agree* when the relative effect
``(treatment − control) / |control|`` has the expected sign and a size of at least
``margin``; *disagree* otherwise. Nothing in a scenario changes a mechanism: the arms use
the catalog's interventions and the presets' cited rules only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import xarray as xr

from ..errors import EvnicheError

#: a readout series: (trajectory, network) -> DataArray over time (days)
Series = Callable[[xr.Dataset, object], xr.DataArray]


@dataclass(frozen=True)
class Readout:
    """What a scenario measures: a time series and how it is summarized to one number.

    ``summary`` is ``"end"`` (the last sample), ``"mean"`` (time-weighted mean over
    ``window`` days) or ``"at"`` (the value at day ``window[0]``)."""

    label: str
    unit: str
    series: Series
    summary: str = "end"
    window: tuple[float, float] | None = None
    scalar: Callable[[xr.Dataset, object], float] | None = None  # overrides ``summary``

    def value(self, ds: xr.Dataset, net) -> float:
        if self.scalar is not None:
            return float(self.scalar(ds, net))
        da = self.series(ds, net)
        t = np.asarray(da["time"].values, dtype=float)
        y = np.asarray(da.values, dtype=float)
        if self.summary == "end":
            return float(y[-1])
        if self.summary == "at":
            return float(np.interp(self.window[0], t, y))
        a, b = self.window if self.window else (t[0], t[-1])
        grid = np.linspace(max(a, t[0]), min(b, t[-1]), 401)
        return float(np.trapezoid(np.interp(grid, t, y), grid) / (grid[-1] - grid[0]))


@dataclass(frozen=True)
class Arm:
    """One arm: a model (preset name or file), parameter overrides and interventions."""

    model: str
    interventions: tuple[dict, ...] = ()
    overrides: dict = field(default_factory=dict)

    def key(self, days: float) -> str:
        return json.dumps([self.model, self.overrides, list(self.interventions), days],
                          sort_keys=True, default=str)


@dataclass(frozen=True)
class Scenario:
    """A review finding as a check (see the module docstring)."""

    name: str
    finding: str
    kb: tuple[str, ...]
    treatment: Arm
    control: Arm
    readout: Readout
    expected: int  # +1 or -1
    margin: float = 0.05  # minimal relative effect
    days: float = 120.0
    group: str = ""

    def opposite(self) -> Scenario:
        """The same scenario expecting the opposite direction (a check of the verdict)."""
        return replace(self, name=f"{self.name} (opposite)", expected=-self.expected)


@dataclass
class ScenarioResult:
    """The numbers of one scenario run and the verdict computed from them."""

    scenario: Scenario
    control: float = math.nan
    treatment: float = math.nan
    effect: float = math.nan  # relative change (treatment - control) / |control|
    verdict: str = "error"  # agree | disagree | error
    error: str = ""
    control_series: xr.DataArray | None = None
    treatment_series: xr.DataArray | None = None

    @property
    def agrees(self) -> bool:
        return self.verdict == "agree"

    def row(self) -> dict:
        s = self.scenario
        return {"scenario": s.name, "finding": s.finding, "kb": ", ".join(s.kb),
                "readout": f"{s.readout.label} ({s.readout.unit})",
                "expected": "higher" if s.expected > 0 else "lower",
                "control": self.control, "treatment": self.treatment,
                "effect": self.effect, "margin": s.margin, "verdict": self.verdict,
                "error": self.error}


def relative_effect(control: float, treatment: float) -> float:
    """(treatment − control) / |control|; ±inf when control is 0 and treatment is not."""
    if control == 0:
        return 0.0 if treatment == 0 else math.copysign(math.inf, treatment)
    return (treatment - control) / abs(control)


def verdict(effect: float, expected: int, margin: float) -> str:
    """'agree' when ``effect`` has the sign of ``expected`` and |effect| >= ``margin``."""
    if not math.isfinite(effect) and not math.isinf(effect):
        return "disagree"
    return "agree" if effect * expected > 0 and abs(effect) >= margin else "disagree"


class Runner:
    """Runs arms on the well-mixed engine, caching identical arms (shared controls)."""

    def __init__(self, simulate_options: dict | None = None) -> None:
        self.options = simulate_options or {}
        self._cache: dict[str, tuple[xr.Dataset, object]] = {}

    def run(self, arm: Arm, days: float) -> tuple[xr.Dataset, object]:
        key = arm.key(days)
        if key not in self._cache:
            from ..engines import prepare, simulate
            from ..spec.loader import load_model

            model = load_model(arm.model, overrides=arm.overrides or None)
            net, _ = prepare(model, None, list(arm.interventions), days)
            ds = simulate(model, days=days, interventions=list(arm.interventions),
                          **self.options)
            self._cache[key] = (ds, net)
        return self._cache[key]


def run_scenario(scenario: Scenario, runner: Runner | None = None) -> ScenarioResult:
    """Run both arms of ``scenario``; the verdict comes from the simulated readouts.

    A model that lacks what the scenario needs (an intervention's pool, marker, drug) gives
    verdict 'error' with the message naming what the model must declare."""
    runner = runner or Runner()
    result = ScenarioResult(scenario)
    try:
        ds_c, net_c = runner.run(scenario.control, scenario.days)
        ds_t, net_t = runner.run(scenario.treatment, scenario.days)
        result.control_series = scenario.readout.series(ds_c, net_c)
        result.treatment_series = scenario.readout.series(ds_t, net_t)
        result.control = scenario.readout.value(ds_c, net_c)
        result.treatment = scenario.readout.value(ds_t, net_t)
    except EvnicheError as exc:
        result.error = str(exc)
        return result
    result.effect = relative_effect(result.control, result.treatment)
    result.verdict = verdict(result.effect, scenario.expected, scenario.margin)
    return result


def run_scenarios(scenarios: Sequence[Scenario], runner: Runner | None = None,
                  progress: Callable[[ScenarioResult], None] | None = None
                  ) -> list[ScenarioResult]:
    runner = runner or Runner()
    out = []
    for s in scenarios:
        r = run_scenario(s, runner)
        if progress:
            progress(r)
        out.append(r)
    return out
