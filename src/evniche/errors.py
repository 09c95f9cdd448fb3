"""Errors raised for bad user input: they name the file, the place inside it and what was
expected."""

from __future__ import annotations


class EvnicheError(Exception):
    """Base class of every error evniche reports to a user without a traceback."""


class ModelError(EvnicheError):
    """A model file (or a value given on the command line) is not a valid model.

    ``source`` is the file (or ``--set``), ``path`` the place inside it in dotted form
    (``cell_types.MSC.secretion[2].rate``), ``message`` what was expected.
    """

    def __init__(self, message: str, path: str = "", source: str = "") -> None:
        self.message = message
        self.path = path
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.source, self.path) if part)
        return f"{where}: {self.message}" if where else self.message

    def at(self, path: str = "", source: str = "") -> ModelError:
        """Return the same error located at ``path`` in ``source`` (where not already set)."""
        return ModelError(self.message, self.path or path, self.source or source)


class SimulationError(EvnicheError):
    """A run could not be completed (solver failure, ledger not closing, bad intervention)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says what the output folder holds now."""
