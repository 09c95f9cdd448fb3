"""The scenario catalog: review findings the models cover, run as checks.

A :class:`Scenario` names a finding of the reviews (with knowledge-base ids), two arms —
*treatment* and *control* — that differ only in what the finding is about (an intervention,
a source of EVs switched off, or the disease model itself), a :class:`Readout` and the
direction the reviews report (+1: the treatment arm reads higher, −1: lower). The verdict
is computed from the simulated numbers: *agree* when the relative effect
``(treatment − control) / |control|`` has the expected sign and a size of at least
``margin``; *disagree* otherwise. Nothing in a scenario changes a mechanism: the arms use
the catalog's interventions and the presets' cited rules only.

Days can be *anchored* to an event of a reference run (:class:`Anchor`): an intervention
start, a readout window or the run length written ``"diagnosis"`` or ``"diagnosis+14"``
(days) is resolved from the day the reference run reaches the event (e.g. diagnosis: the
untreated leukemia's blasts reach 20 % of marrow cells). So chemotherapy is given when a
patient would be diagnosed, whatever day the model's dynamics put that on. An anchor's run
may itself use the anchors before it: remission is the first sample in complete remission
of the run with induction at diagnosis, and consolidation starts there (an optional
anchor: without a remission the consolidation is left out).
"""

from __future__ import annotations

import json
import math
import re
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
    ``window`` days), ``"min"`` / ``"max"`` (the smallest / largest value in ``window``,
    e.g. the nadir of leukemic cells after chemotherapy) or ``"at"`` (the value at day
    ``window[0]``). Window days may be anchored (``"diagnosis+7"``, see :class:`Anchor`)."""

    label: str
    unit: str
    series: Series
    summary: str = "end"
    window: tuple[float | str, float | str] | None = None
    scalar: Callable[[xr.Dataset, object], float] | None = None  # overrides ``summary``
    #: what the plotted series is, when a ``scalar`` summarizes it into something else
    series_label: str | None = None

    def value(self, ds: xr.Dataset, net) -> float:
        if self.scalar is not None:
            return float(self.scalar(ds, net))
        return summarize(self.series(ds, net), self.summary, self.window)


SUMMARIES = ("end", "mean", "min", "max", "at")
#: the two kinds of scenario: published findings and the reviews' proposals
KINDS = ("finding", "proposal")


def wanted(expected: int, margin: float, most: float | None = None) -> str:
    """The effect a scenario needs to agree: '≥ +5%' (higher) or '≤ -1%' (lower); with an
    upper bound ``most`` on the size, '-32% … -174%'."""
    if most is not None:
        sign = "+" if expected > 0 else "-"
        return f"{sign}{margin:.0%} … {sign}{most:.0%}"
    return f"≥ +{margin:.0%}" if expected > 0 else f"≤ -{margin:.0%}"


def format_value(x: float | None, digits: int = 3) -> str:
    """A scenario number for a table: ``digits`` significant digits, "–" for a missing
    value (None or NaN), "+inf"/"-inf" for infinities."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def summarize(da: xr.DataArray, summary: str, window=None) -> float:
    """One number from a series over time (days): see :class:`Readout`."""
    if summary not in SUMMARIES:
        raise EvnicheError(f"unknown readout summary '{summary}'; expected one of "
                           f"{', '.join(SUMMARIES)}")
    t = np.asarray(da["time"].values, dtype=float)
    y = np.asarray(da.values, dtype=float)
    if summary == "end":
        return float(y[-1])
    if window is not None and any(isinstance(w, str) for w in window):
        raise EvnicheError(f"readout window {window} is not resolved (anchored days are "
                           "resolved by run_scenario)")
    if summary == "at":
        return float(np.interp(window[0], t, y))
    a, b = window if window else (t[0], t[-1])
    grid = np.linspace(max(a, t[0]), min(b, t[-1]), 401)
    inside = np.interp(grid, t, y)
    if summary == "min":
        return float(min(inside.min(), y[(t >= grid[0]) & (t <= grid[-1])].min(initial=np.inf)))
    if summary == "max":
        return float(max(inside.max(),
                         y[(t >= grid[0]) & (t <= grid[-1])].max(initial=-np.inf)))
    return float(np.trapezoid(inside, grid) / (grid[-1] - grid[0]))


@dataclass(frozen=True)
class Anchor:
    """A day taken from a reference run: ``day(ds, net)`` of ``arm`` run for ``days``.

    Scenarios name anchors in intervention starts, readout windows and their run length
    as ``"NAME"`` or ``"NAME+OFFSET"`` / ``"NAME-OFFSET"`` (offset in days). An anchor's
    own arm and run length may name the anchors listed before it (e.g. remission: the run
    with induction at ``"diagnosis"`` for ``"diagnosis+60"`` days). An anchor that is not
    ``required`` and never reached leaves out the interventions that start at it (a
    patient without remission is not consolidated) instead of failing the scenario."""

    name: str
    arm: Arm
    day: Callable[[xr.Dataset, object], float | None]
    description: str
    days: float | str = 365.0
    required: bool = True


@dataclass(frozen=True)
class Arm:
    """One arm: a model (preset name or file), parameter overrides and interventions."""

    model: str
    interventions: tuple[dict, ...] = ()
    overrides: dict = field(default_factory=dict)

    def key(self, days: float, output_hours: float = 24.0) -> str:
        return json.dumps([self.model, self.overrides, list(self.interventions), days,
                           output_hours], sort_keys=True, default=str)


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
    #: largest size of the relative effect the finding allows (a published range has two
    #: ends: e.g. a decline no faster than the data's spread); None: no upper bound
    most: float | None = None
    days: float | str = 120.0
    group: str = ""
    anchors: tuple[Anchor, ...] = ()
    risk: Readout | None = None  # a side-effect readout shown next to the verdict
    output_hours: float = 24.0  # sampling of the runs (h): finer for hour-long sessions
    #: "finding" (a published result the model must reproduce: answered with P(agree)) or
    #: "proposal" (a hypothesis of the reviews: answered with P(effect ≥ margin), no
    #: pass/fail); see :mod:`evniche.experiments.agreement`
    kind: str = "finding"
    #: one line: why the scenario is a finding or a proposal
    reason: str = ""
    #: parameters whose plausible ranges the prior predictive spans (no posterior given)
    uncertain: tuple[str, ...] = ()
    #: ids of the observation records that state the same published result (linked by hand
    #: against the record's source; a calibration fitted to them cannot be said to
    #: reproduce the finding on its own: :mod:`evniche.experiments.leave_one_out`)
    observations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise EvnicheError(f"scenario '{self.name}': kind must be one of "
                               f"{', '.join(KINDS)}, got '{self.kind}'")

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
    anchors: dict[str, float] = field(default_factory=dict)  # resolved anchor days
    resolved: Scenario | None = None  # the scenario with anchored days filled in
    risk_control: float = math.nan
    risk_treatment: float = math.nan
    risk_control_series: xr.DataArray | None = None
    risk_treatment_series: xr.DataArray | None = None

    @property
    def risk_ratio(self) -> float:
        """The largest rise of the side-effect readout the treatment causes: the maximum
        over time of treatment / control (1: never above control; NaN without one)."""
        a, b = self.risk_treatment_series, self.risk_control_series
        if a is None or b is None:
            return math.nan
        t = np.union1d(a["time"].values, b["time"].values)
        ta = np.interp(t, a["time"].values, a.values)
        tb = np.interp(t, b["time"].values, b.values)
        ok = tb > 0
        return float(np.max(ta[ok] / tb[ok])) if ok.any() else math.nan

    @property
    def agrees(self) -> bool:
        return self.verdict == "agree"

    def row(self) -> dict:
        s = self.scenario
        return {"scenario": s.name, "finding": s.finding, "kb": ", ".join(s.kb),
                "readout": f"{s.readout.label} ({s.readout.unit})",
                "expected": "higher" if s.expected > 0 else "lower",
                "control": self.control, "treatment": self.treatment,
                "effect": self.effect, "margin": s.margin, "most": s.most,
                "verdict": self.verdict,
                "error": self.error, "anchors": dict(self.anchors),
                "risk": (f"{s.risk.label} ({s.risk.unit})" if s.risk else ""),
                "risk_ratio": self.risk_ratio}


def relative_effect(control: float, treatment: float) -> float:
    """(treatment − control) / |control|; ±inf when control is 0 and treatment is not."""
    if control == 0:
        return 0.0 if treatment == 0 else math.copysign(math.inf, treatment)
    return (treatment - control) / abs(control)


def verdict(effect: float, expected: int, margin: float, most: float | None = None) -> str:
    """'agree' when ``effect`` has the sign of ``expected`` and |effect| >= ``margin``
    (and, when ``most`` is given, |effect| <= ``most``)."""
    if not math.isfinite(effect) and not math.isinf(effect):
        return "disagree"
    if most is not None and abs(effect) > most:
        return "disagree"
    return "agree" if effect * expected > 0 and abs(effect) >= margin else "disagree"


_ANCHORED = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*(?:([+-])\s*(\d+(?:\.\d*)?|\.\d+))?\s*$")


def anchored_day(value, anchors: dict[str, float]):
    """``value`` with an anchored day (``"diagnosis+7"``) replaced by days; other values
    (numbers, ``"12 h"``, parameter names) pass unchanged."""
    if not isinstance(value, str):
        return value
    m = _ANCHORED.match(value)
    if not m or m.group(1) not in anchors:
        return value
    offset = float(m.group(3)) if m.group(3) else 0.0
    return anchors[m.group(1)] + (offset if m.group(2) != "-" else -offset)


def _uses(value, names: Sequence[str]) -> set[str]:
    if isinstance(value, str):
        m = _ANCHORED.match(value)
        if m and m.group(1) in names:
            return {m.group(1)}
    return set()


def resolve_anchors(scenario: Scenario, runner: Runner) -> tuple[Scenario, dict[str, float]]:
    """The scenario with every anchored day replaced by its day in the reference run."""
    if not scenario.anchors:
        return scenario, {}
    days: dict[str, float] = {}
    missed: set[str] = set()

    def arm(a: Arm) -> Arm:
        items = tuple({**iv, "start": anchored_day(iv.get("start", 0), days)}
                      for iv in a.interventions
                      if not _uses(iv.get("start"), sorted(missed)))
        return replace(a, interventions=items)

    for anchor in scenario.anchors:
        length = anchored_day(anchor.days, days)
        if isinstance(length, str):
            raise EvnicheError(f"anchor '{anchor.name}': run length '{anchor.days}' names no "
                               f"anchor listed before it ({', '.join(days) or 'none'})")
        ds, net = runner.run(arm(anchor.arm), float(length))
        day = anchor.day(ds, net)
        if day is None or not math.isfinite(day):
            if not anchor.required:
                missed.add(anchor.name)
                continue
            raise EvnicheError(f"anchor '{anchor.name}' ({anchor.description}) is never "
                               f"reached in {float(length):g} days of model "
                               f"'{anchor.arm.model}'")
        days[anchor.name] = float(day)

    readout = scenario.readout
    if readout.window is not None:
        readout = replace(readout, window=tuple(anchored_day(w, days) for w in readout.window))
    risk = scenario.risk
    if risk is not None and risk.window is not None:
        risk = replace(risk, window=tuple(anchored_day(w, days) for w in risk.window))
    run_days = anchored_day(scenario.days, days)
    if isinstance(run_days, str):
        raise EvnicheError(f"scenario '{scenario.name}': run length '{scenario.days}' names "
                           f"no anchor of the scenario ({', '.join(days)})")
    return replace(scenario, treatment=arm(scenario.treatment), control=arm(scenario.control),
                   readout=readout, risk=risk, days=float(run_days)), days


def anchors_used(scenario: Scenario) -> set[str]:
    """Names of the scenario's anchors that its days refer to."""
    names = [a.name for a in scenario.anchors]
    used = _uses(scenario.days, names)
    for a in (scenario.treatment, scenario.control):
        for iv in a.interventions:
            used |= _uses(iv.get("start"), names)
    for w in scenario.readout.window or ():
        used |= _uses(w, names)
    return used


class Runner:
    """Runs arms on the well-mixed engine, caching identical arms (shared controls)."""

    def __init__(self, simulate_options: dict | None = None) -> None:
        self.options = simulate_options or {}
        self._cache: dict[str, tuple[xr.Dataset, object]] = {}

    def run(self, arm: Arm, days: float, output_hours: float = 24.0
            ) -> tuple[xr.Dataset, object]:
        """The trajectory (sampled every ``output_hours`` h) and network of ``arm``."""
        key = arm.key(days, output_hours)
        if key not in self._cache:
            from ..engines import prepare, simulate
            from ..spec.loader import load_model

            model = load_model(arm.model, overrides=arm.overrides or None)
            net, _ = prepare(model, None, list(arm.interventions), days)
            options = dict(self.options)
            if output_hours != 24.0:
                options["output_hours"] = output_hours
            ds = simulate(model, days=days, interventions=list(arm.interventions), **options)
            self._cache[key] = (ds, net)
        return self._cache[key]


def run_scenario(scenario: Scenario, runner: Runner | None = None) -> ScenarioResult:
    """Run both arms of ``scenario``; the verdict comes from the simulated readouts.

    A model that lacks what the scenario needs (an intervention's pool, marker, drug) gives
    verdict 'error' with the message naming what the model must declare."""
    runner = runner or Runner()
    result = ScenarioResult(scenario)
    try:
        resolved, result.anchors = resolve_anchors(scenario, runner)
        result.resolved = resolved
        ds_c, net_c = runner.run(resolved.control, resolved.days, resolved.output_hours)
        ds_t, net_t = runner.run(resolved.treatment, resolved.days, resolved.output_hours)
        result.control_series = resolved.readout.series(ds_c, net_c)
        result.treatment_series = resolved.readout.series(ds_t, net_t)
        result.control = resolved.readout.value(ds_c, net_c)
        result.treatment = resolved.readout.value(ds_t, net_t)
        if resolved.risk is not None:
            result.risk_control_series = resolved.risk.series(ds_c, net_c)
            result.risk_treatment_series = resolved.risk.series(ds_t, net_t)
            result.risk_control = resolved.risk.value(ds_c, net_c)
            result.risk_treatment = resolved.risk.value(ds_t, net_t)
    except EvnicheError as exc:
        result.error = str(exc)
        return result
    result.effect = relative_effect(result.control, result.treatment)
    result.verdict = verdict(result.effect, scenario.expected, scenario.margin, scenario.most)
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
