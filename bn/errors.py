"""Errors a user can act on.

Every error raised for bad input is a :class:`BNError`; the command line prints its message on one
line and exits with status 2, so messages are written for the person at the terminal: what is wrong,
where, and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass


class BNError(Exception):
    """Base class for every error caused by user input (files, findings, references)."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a network file.

    ``variable`` is ``None`` for problems of the file as a whole (metadata, references).
    """

    file: str
    variable: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: variable '{self.variable}'" if self.variable else self.file
        return f"{where}: {self.message}"


class NetworkFileError(BNError):
    """A network file could not be read or is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "invalid network file"
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''}; run 'bn check' to list them)" if more else ""
        super().__init__(first + suffix)


class UnknownNetworkError(BNError):
    """A network reference names no network file."""


class EvidenceError(BNError):
    """A finding names an unknown variable or state, or is malformed."""


class CaseFileError(BNError):
    """A case file could not be read or is invalid."""


class ImpossibleEvidenceError(BNError):
    """The findings have probability zero under the model.

    ``conflict`` is a smallest set of findings (by variable id) that is already impossible together.
    """

    def __init__(self, message: str, conflict: tuple[str, ...]):
        self.conflict = conflict
        super().__init__(message)
