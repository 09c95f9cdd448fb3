"""A wall-clock limit on a run, checked from inside the engine's callbacks.

The solver calls the right-hand side thousands of times a second, so the clock is read
only every :data:`CHECK_EVERY` calls: the limit costs one integer increment per call.
"""

from __future__ import annotations

import math
import time

from ..errors import SimulationError

#: calls between two readings of the clock
CHECK_EVERY = 64


class Stopwatch:
    """Stops a run that has taken more than ``limit_s`` seconds of wall-clock time
    (``None``: no limit). ``days`` is the run's length, for the message."""

    def __init__(self, limit_s: float | None, days: float) -> None:
        if limit_s is not None and not (isinstance(limit_s, int | float) and limit_s > 0):
            raise SimulationError(f"the time limit must be a positive number of seconds, "
                                  f"got {limit_s!r}")
        self.limit_s = limit_s
        self.days = days
        self.deadline = math.inf if limit_s is None else time.perf_counter() + limit_s
        self.calls = 0

    def tick(self, hours: float, relaxing: bool = False) -> None:
        """Count one call; every CHECK_EVERY calls :meth:`check` the clock."""
        self.calls += 1
        if self.calls % CHECK_EVERY == 0:
            self.check(hours, relaxing)

    def check(self, hours: float, relaxing: bool = False) -> None:
        """Raise a SimulationError if the limit has passed. ``hours``: the simulated time
        the engine has reached (h); ``relaxing``: the engine is still relaxing the model to
        its healthy steady state (before day 0)."""
        if time.perf_counter() <= self.deadline:
            return
        if relaxing:
            where = (f"while relaxing the model to its healthy steady state (year "
                     f"{hours / 8766.0:.3g} of the relaxation), before day 0 of {self.days:g}")
        else:
            where = f"at simulated day {hours / 24.0:.3g} of {self.days:g}"
        raise SimulationError(f"the run was stopped at its time limit of {self.limit_s:g} s "
                              f"(wall clock) {where}; allow more time with --time-limit "
                              f"SECONDS (wall_limit_s in Python), or simulate fewer days")


class Budget:
    """A limit on the right-hand-side evaluations of one solve, beside a run's
    :class:`Stopwatch` (or none): the solver's watch calls :meth:`tick` once per evaluation,
    and past ``calls`` evaluations the solve stops with a SimulationError saying ``why``
    (the same evaluations, whatever the machine's load: a deterministic bound, unlike the
    wall clock)."""

    def __init__(self, stopwatch: Stopwatch | None, calls: int, why: str) -> None:
        self.stopwatch = stopwatch
        self.calls = calls
        self.why = why
        self.used = 0

    @property
    def limit_s(self) -> float | None:
        """The wall-clock limit of the run's stopwatch (None: none)."""
        return None if self.stopwatch is None else self.stopwatch.limit_s

    def tick(self, hours: float, relaxing: bool = False) -> None:
        self.used += 1
        if self.used > self.calls:
            raise SimulationError(self.why.format(calls=self.calls, hours=hours,
                                                  years=hours / 8766.0))
        if self.stopwatch is not None:
            self.stopwatch.tick(hours, relaxing)

    def spend(self, calls: int, hours: float) -> None:
        """Count ``calls`` evaluations made outside :meth:`tick` (CVODE calling the compiled
        kinetics directly, which stops past the evaluations left): past ``calls`` in all,
        the SimulationError of :meth:`tick`."""
        self.used += calls
        if self.used > self.calls:
            raise SimulationError(self.why.format(calls=self.calls, hours=hours,
                                                  years=hours / 8766.0))

    def check(self, hours: float, relaxing: bool = False) -> None:
        if self.stopwatch is not None:
            self.stopwatch.check(hours, relaxing)
