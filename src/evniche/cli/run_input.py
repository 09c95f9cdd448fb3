"""What ``evniche run`` is given, checked before anything is written or run: the days, the
seed, the engine, the interventions (each option within its declared range; starts written
``diagnosis[+N]`` or ``remission[+N]`` resolved by extra runs) and the cost of the run
(see :mod:`evniche.engines.cost`)."""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import ModelError, SimulationError
from ..spec.resolve import ResolvedModel

_ENTRY = re.compile(r"^interventions\[(\d+)\](?: \([^)]*\))?\.?")
#: days simulated when --days is not given; with a start at diagnosis the run follows the
#: patient this long after the diagnosis day instead
DEFAULT_DAYS = 365.0
#: without --days, how long the untreated run looks for the diagnosis (days)
DIAGNOSIS_SEARCH_DAYS = 3 * DEFAULT_DAYS


def checked_interventions(resolved: ResolvedModel, texts: list[str] | None, *,
                          days: float | None, seed: int, engine: str, options: dict,
                          allow_large: bool, announce: Callable[[str], None] | None = None,
                          not_given: list[str] | None = None) -> tuple[list[dict], float]:
    """The ``--intervene`` texts parsed and the days to simulate, once the whole run has
    been checked: an error names the ``--intervene`` text it comes from. Starts written
    ``diagnosis[+N]`` are resolved from the untreated run (sized first), then starts
    written ``remission[+N]`` from the run with the other interventions (its
    complete-remission day); ``announce`` is told each resolved day. When that run reaches
    no remission, the interventions that wait for it are not given: why is announced and
    appended to ``not_given``. ``days`` None (no --days): :data:`DEFAULT_DAYS`, or, with a
    start at diagnosis, the diagnosis day (looked for over :data:`DIAGNOSIS_SEARCH_DAYS`)
    plus :data:`DEFAULT_DAYS`, so that a course begun at diagnosis is followed for a year."""
    from .. import engines
    from ..compile.interventions import (
        NoRemission,
        diagnosis_offset,
        parse_intervention,
        remission_offset,
        resolve_diagnosis,
        resolve_remission,
    )
    from ..engines import cost

    follow_diagnosis = days is None
    days = cost.check_days(DEFAULT_DAYS if days is None else days)
    cost.check_seed(seed)
    if engine not in engines.ENGINES:
        raise SimulationError(f"unknown engine '{engine}'; choose one of "
                              f"{', '.join(engines.ENGINES)}")
    texts = list(texts or [])
    interventions = [parse_intervention(text) for text in texts]
    given = interventions
    if any(diagnosis_offset(it["start"], "start") is not None for it in interventions):
        search = DIAGNOSIS_SEARCH_DAYS if follow_diagnosis else days
        untreated, _ = engines.prepare(resolved, None, [], search)
        cost.check(cost.estimate(untreated, search, engine, options), allow_large)
        interventions = resolve_diagnosis(
            interventions, resolved, search, engine=engine, seed=seed,
            **{k: v for k, v in options.items() if k != "snapshot_dir"})
        for text, before, after in zip(texts, given, interventions, strict=True):
            if before["start"] != after["start"] and announce is not None:
                announce(f"{text}: diagnosis of the untreated run → starts on day "
                         f"{after['start']:g}")
        if follow_diagnosis:
            diagnosis = min(after["start"] - diagnosis_offset(before["start"], "start")
                            for before, after in zip(given, interventions, strict=True)
                            if diagnosis_offset(before["start"], "start") is not None)
            days = cost.check_days(diagnosis + DEFAULT_DAYS)
            if announce is not None:
                announce(f"--days not given: {DEFAULT_DAYS:g} days after the diagnosis "
                         f"(day {diagnosis:g}) → {days:g} days")
    if any(remission_offset(it["start"], "start") is not None for it in interventions):
        before_cr = interventions
        try:
            interventions = resolve_remission(
                interventions, resolved, days, engine=engine, seed=seed,
                **{k: v for k, v in options.items() if k != "snapshot_dir"})
        except NoRemission as exc:
            interventions = exc.given
            texts = [t for t, it in zip(texts, before_cr, strict=True)
                     if remission_offset(it["start"], "start") is None]
            if not_given is not None:
                not_given.append(f"not given: {exc}")
            if announce is not None:
                announce(f"[yellow]not given:[/] {exc}")
        else:
            for text, before, after in zip(texts, before_cr, interventions, strict=True):
                if before["start"] != after["start"] and announce is not None:
                    announce(f"{text}: complete remission of the run with the other "
                             f"interventions → starts on day {after['start']:g}")
    try:
        net, _ = engines.prepare(resolved, None, interventions, days)
    except ModelError as exc:
        raise _located(exc, len(resolved.spec.interventions), texts) from None
    cost.check(cost.estimate(net, days, engine, options), allow_large)
    return interventions, days


def _located(exc: ModelError, in_model: int, texts: list[str]) -> ModelError:
    """``exc`` located at the ``--intervene`` text it concerns (those follow the model's
    own ``in_model`` interventions), or as it is."""
    m = _ENTRY.match(exc.path)
    if m is None or int(m.group(1)) < in_model:
        return exc
    return ModelError(exc.message, exc.path[m.end():],
                      f"--intervene {texts[int(m.group(1)) - in_model]}")
