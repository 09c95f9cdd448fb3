"""What ``evniche run`` is given, checked before anything is written or run: the days, the
seed, the engine, the interventions (each option within its declared range) and the cost
of the run (see :mod:`evniche.engines.cost`)."""

from __future__ import annotations

import re

from ..errors import ModelError, SimulationError
from ..spec.resolve import ResolvedModel

_ENTRY = re.compile(r"^interventions\[(\d+)\](?: \([^)]*\))?\.?")


def checked_interventions(resolved: ResolvedModel, texts: list[str] | None, *, days: float,
                          seed: int, engine: str, options: dict, allow_large: bool
                          ) -> list[dict]:
    """The ``--intervene`` texts parsed, once the whole run has been checked: an error
    names the ``--intervene`` text it comes from."""
    from .. import engines
    from ..compile.interventions import parse_intervention
    from ..engines import cost

    days = cost.check_days(days)
    cost.check_seed(seed)
    if engine not in engines.ENGINES:
        raise SimulationError(f"unknown engine '{engine}'; choose one of "
                              f"{', '.join(engines.ENGINES)}")
    texts = list(texts or [])
    interventions = [parse_intervention(text) for text in texts]
    try:
        net, _ = engines.prepare(resolved, None, interventions, days)
    except ModelError as exc:
        raise _located(exc, len(resolved.spec.interventions), texts) from None
    cost.check(cost.estimate(net, days, engine, options), allow_large)
    return interventions


def _located(exc: ModelError, in_model: int, texts: list[str]) -> ModelError:
    """``exc`` located at the ``--intervene`` text it concerns (those follow the model's
    own ``in_model`` interventions), or as it is."""
    m = _ENTRY.match(exc.path)
    if m is None or int(m.group(1)) < in_model:
        return exc
    return ModelError(exc.message, exc.path[m.end():],
                      f"--intervene {texts[int(m.group(1)) - in_model]}")
