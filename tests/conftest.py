"""Fixtures shared by test folders."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest


@pytest.fixture
def hang_guard() -> Iterator[None]:
    """Fail (rather than hang the suite) if a read blocks: opening a pipe with no writer
    would wait for ever."""
    if not hasattr(signal, "SIGALRM") or not hasattr(os, "mkfifo"):
        pytest.skip("needs POSIX pipes and SIGALRM")

    def hung(signum, frame):
        raise TimeoutError("reading the model blocked")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
