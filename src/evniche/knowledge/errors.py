"""Errors of the knowledge base: bad data files, unknown vocabulary terms, unknown record ids.

All are :class:`evniche.errors.EvnicheError`, so the command line prints them as one line
and exits with status 2. :class:`UnknownRecordError` is also a :class:`KeyError` and
:class:`UnknownTermError` also a :class:`ValueError`, so library callers can catch either.
"""

from __future__ import annotations

from ..errors import EvnicheError


class KnowledgeBaseError(EvnicheError):
    """A data file of the knowledge base is invalid; the message names the file and record id."""

    def __init__(self, message: str, file: str = "", record_id: str = "") -> None:
        self.message = message
        self.file = file
        self.record_id = record_id
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.record_id) if part)
        return f"{where}: {self.message}" if where else self.message


class UnknownTermError(EvnicheError, ValueError):
    """A name is not a term (nor a synonym of one) of a controlled vocabulary."""

    def __init__(self, kind: str, name: str, suggestions: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        self.message = f"unknown {kind.replace('_', ' ')} '{name}'{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class UnknownRecordError(EvnicheError, KeyError):
    """No record has this id; the message lists close ids."""

    def __init__(self, record_id: str, suggestions: list[str]) -> None:
        self.record_id = record_id
        self.suggestions = suggestions
        hint = f"; close ids: {', '.join(suggestions)}" if suggestions else ""
        self.message = f"no knowledge-base record '{record_id}'{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
