"""Scenarios over an ensemble: findings get P(agree), proposals P(effect ≥ threshold).

The catalog holds two kinds of scenario (:attr:`evniche.experiments.scenarios.Scenario.kind`):

* a **finding** is a published result the model must reproduce. Its answer is the
  probability of agreement, ``P(agree)``: the share of ensemble members whose verdict is
  *agree* (effect in the expected direction and at least the margin; a member whose run
  fails counts as not agreeing). A finding is *contradicted* when ``P(agree) < 0.5``
  (:data:`CONTRADICTED_BELOW`), *reproduced* otherwise; ``evniche scenarios run`` exits
  non-zero only when a finding is contradicted.
* a **proposal** is a hypothesis of the reviews (a therapy or a measurement nobody has
  shown to work in patients). It has no pass/fail: its answer is ``P(effect ≥
  threshold)`` (the threshold is the scenario's margin in the expected direction, stated
  as its clinical threshold) and the effect's credible interval.

The ensemble (:class:`Draws`) is, in order of preference: the calibration posterior given
with ``--posterior DIR`` (applied to the arms of the model it was made for), a posterior
shipped for the preset (``evniche/posteriors/MODEL/``, see :func:`shipped_posterior`), the prior
predictive over the plausible ranges of the parameters a scenario declares uncertain
(:attr:`Scenario.uncertain`; log-uniform within each declared ``range``, ``n`` draws,
default :data:`PRIOR_DRAWS`), or the point model (one run per arm, so P is 0 or 1 — stated
as such in every table).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import EvnicheError
from .posterior import QUANTILES, weighted_quantile
from .scenarios import Arm, Runner, Scenario, ScenarioResult, run_scenario

#: a finding with P(agree) below this is contradicted
CONTRADICTED_BELOW = 0.5
#: members of a prior-predictive ensemble (small: each member runs every arm of a scenario)
PRIOR_DRAWS = 8


@dataclass(frozen=True)
class Draws:
    """Parameter draws (override key ``parameters.NAME`` → value in the model's unit) and
    where they came from; ``model``: the only model they apply to (None: any arm whose
    model declares the parameter)."""

    label: str
    draws: tuple[dict[str, float], ...]
    model: str | None = None
    #: the posterior folder the draws come from (None: prior predictive or point model)
    folder: str | None = None


POINT = Draws("point model (P is 0 or 1)", ())


def prior_draws(model: str, names: Sequence[str], n: int, seed: int = 0) -> Draws:
    """``n`` draws of ``names``, each log-uniform within the plausible ``range`` the model
    declares for it (uniform when the range reaches 0), in the model's unit; seeded."""
    from ..spec.loader import load_model

    if n < 1:
        raise EvnicheError(f"--prior-draws must be >= 1 for a prior predictive, got {n}")
    params = load_model(model).params.resolved
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    spans = []
    for name in names:
        p = params.get(name)
        if p is None or p.range is None or not p.value:
            raise EvnicheError(f"model '{model}': parameter '{name}' has no plausible range "
                               "to draw from")
        factor = p.value_in_unit / p.value
        low, high = p.range[0] * factor, p.range[1] * factor
        if low > 0:
            columns[f"parameters.{name}"] = np.exp(rng.uniform(math.log(low), math.log(high),
                                                               n))
        else:
            columns[f"parameters.{name}"] = rng.uniform(low, high, n)
        spans.append(f"{name} {low:g}–{high:g} {p.unit}")
    draws = tuple({k: float(v[i]) for k, v in columns.items()} for i in range(n))
    return Draws(f"prior predictive, {n} draws over {', '.join(spans)} (seed {seed})", draws)


def posterior_draws(folder: str, n: int, seed: int = 0, source: str | None = None) -> Draws:
    """``n`` draws of the posterior in ``folder``, checked against the model ``source`` (a
    preset name or model file; default: the preset named as the posterior's model); the
    draws apply to the arms whose model is ``source``."""
    from ..spec.loader import load_model
    from .posterior import load_posterior

    post = load_posterior(folder)
    source = source or post.model
    post.check_model(load_model(source))
    return Draws(f"posterior {folder}, {n} draws (seed {seed})",
                 tuple(post.draw(n, seed)), source, str(folder))


def _applies(draws: Draws, arm: Arm) -> bool:
    return draws.model is None or arm.model == draws.model


def with_draw(scenario: Scenario, draws: Draws, draw: dict[str, float]) -> Scenario:
    """The scenario with ``draw`` set in every arm (and anchor arm) it applies to."""
    def arm(a: Arm) -> Arm:
        if not _applies(draws, a):
            return a
        return replace(a, overrides={**a.overrides, **draw})

    anchors = tuple(replace(an, arm=arm(an.arm)) for an in scenario.anchors)
    return replace(scenario, treatment=arm(scenario.treatment),
                   control=arm(scenario.control), anchors=anchors)


@dataclass
class Answer:
    """A scenario over an ensemble: its members' results, P and the effect's interval."""

    scenario: Scenario
    source: str
    members: list[ScenarioResult] = field(default_factory=list)
    #: the posterior folder of the ensemble (None: prior predictive or point model)
    folder: str | None = None

    @property
    def kind(self) -> str:
        return self.scenario.kind

    @property
    def p(self) -> float:
        """Findings: P(agree); proposals: P(effect ≥ threshold in the expected direction).
        Members in error count as neither agreeing nor reaching the threshold."""
        if not self.members:
            return math.nan
        return float(np.mean([m.verdict == "agree" for m in self.members]))

    @property
    def errors(self) -> list[str]:
        return sorted({m.error for m in self.members if m.error})

    @property
    def effect_q(self) -> np.ndarray:
        """The relative effect's 5/25/50/75/95 % quantiles over the members that ran."""
        e = [m.effect for m in self.members if not m.error and not math.isnan(m.effect)]
        if not e:
            return np.full(len(QUANTILES), math.nan)
        return weighted_quantile(e, None, QUANTILES)

    @property
    def verdict(self) -> str:
        """Findings: 'reproduced' or 'contradicted'; proposals: 'answered' (no pass/fail)."""
        if self.kind == "proposal":
            return "answered" if not math.isnan(self.p) else "error"
        return "contradicted" if not self.p >= CONTRADICTED_BELOW else "reproduced"

    @property
    def contradicted(self) -> bool:
        return self.verdict == "contradicted"

    @property
    def point(self) -> ScenarioResult:
        """The first member (the point model's result when there is no ensemble)."""
        return self.members[0]


def shipped_posterior(model: str):
    """The posterior folder shipped for preset ``model`` (``evniche/posteriors/MODEL/``
    inside the package) or None (:func:`evniche.experiments.posterior.shipped_folder`)."""
    from .posterior import shipped_folder

    return shipped_folder(model)


def draws_for(scenario: Scenario, posterior: Draws | None, prior_n: int,
              seed: int = 0, ensemble_n: int = 20, shipped: bool = True) -> Draws:
    """The ensemble a scenario is answered over: the posterior given when it applies to one
    of its arms, else a posterior shipped for the treatment arm's preset (``ensemble_n``
    draws; one made for an older version of the preset is skipped, and the label says
    so; none when ``shipped`` is false), else the prior predictive over its uncertain
    parameters, else the point model."""
    arms = (scenario.treatment, scenario.control)
    if posterior is not None and any(_applies(posterior, a) for a in arms):
        return posterior
    note = ""
    shipped = shipped_posterior(scenario.treatment.model) if shipped else None
    if posterior is None and shipped is not None:
        try:
            return posterior_draws(str(shipped), ensemble_n, seed, scenario.treatment.model)
        except EvnicheError as exc:
            note = f" (shipped posterior not used: {exc})"
    if scenario.uncertain and prior_n > 0:
        draws = prior_draws(scenario.treatment.model, scenario.uncertain, prior_n, seed)
    else:
        draws = POINT
    return replace(draws, label=draws.label + note) if note else draws


def answer(scenario: Scenario, draws: Draws, runner: Runner | None = None,
           advance: Callable[[], None] | None = None) -> Answer:
    """Run ``scenario`` once per draw (once for the point model)."""
    runner = runner or Runner()
    out = Answer(scenario, draws.label, folder=draws.folder)
    for draw in draws.draws or (None,):
        member = scenario if draw is None else with_draw(scenario, draws, draw)
        # a member's runs are its own: a fresh cache each, so memory stays one member's
        result = run_scenario(member, runner if draw is None else Runner(runner.options))
        result.scenario = scenario
        out.members.append(result)
        if advance is not None:
            advance()
    return out


def answer_all(scenarios: Sequence[Scenario], posterior: Draws | None = None,
               prior_n: int = PRIOR_DRAWS, seed: int = 0, runner: Runner | None = None,
               progress: Callable[[Answer], None] | None = None,
               ensemble_n: int = 20, shipped: bool = True) -> list[Answer]:
    """Every scenario over its ensemble (:func:`draws_for`)."""
    runner = runner or Runner()
    out = []
    for s in scenarios:
        a = answer(s, draws_for(s, posterior, prior_n, seed, ensemble_n, shipped), runner)
        if progress:
            progress(a)
        out.append(a)
    return out
