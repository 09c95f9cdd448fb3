"""Simulations and scenario runs of the dashboard, in a background worker.

A page callback submits a job and returns at once; the page polls :meth:`Jobs.get` for the
job's progress (0 … 1), its status and, once done, its result or error message. One worker
thread runs the jobs in order: the well-mixed engine releases no GIL in its Python parts,
so more threads would not run faster, and one worker keeps the machine responsive.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import EvnicheError


@dataclass
class Job:
    """One submitted job: what it is, how far it got and how it ended."""

    id: str
    label: str
    progress: float = 0.0
    status: str = "queued"  # queued | running | done | failed
    result: Any = None
    error: str = ""
    log: list[str] = field(default_factory=list)


class Jobs:
    """A queue of jobs run one at a time by a background thread."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evniche-job")
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def submit(self, label: str, work: Callable[[Callable[[float], None]], Any]) -> str:
        """Queue ``work(progress)`` (``progress(fraction)`` reports how far it is) and
        return the job's id."""
        with self._lock:
            job = Job(id=f"job-{next(self._ids)}", label=label)
            self._jobs[job.id] = job

        def progress(fraction: float) -> None:
            job.progress = min(max(float(fraction), 0.0), 1.0)

        def body() -> None:
            job.status = "running"
            try:
                job.result = work(progress)
            except EvnicheError as exc:  # the user's input or the model: say what
                job.error, job.status = str(exc), "failed"
                return
            except Exception as exc:  # noqa: BLE001 - shown on the page, not lost
                job.error = f"{type(exc).__name__}: {exc}"
                job.log.append(traceback.format_exc())
                job.status = "failed"
                return
            job.progress, job.status = 1.0, "done"

        self._pool.submit(body)
        return job.id

    def get(self, job_id: str) -> Job:
        """The job ``job_id`` (an EvnicheError for an unknown id)."""
        job = self._jobs.get(job_id)
        if job is None:
            raise EvnicheError(f"no job '{job_id}'")
        return job

    def shutdown(self) -> None:
        """Stop taking jobs; the running one finishes."""
        self._pool.shutdown(wait=False, cancel_futures=True)
