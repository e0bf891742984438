"""The error tree: every failure a user can cause is a CkredisError the CLI maps to an exit code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in a spec, located at the offending key or value (line and column are 1-based)."""

    line: int
    column: int
    path: str
    message: str
    hint: str = ""
    source: str = ""
    severity: str = "error"  # "warning": reported, but it neither blocks writing nor changes the exit code

    def __str__(self) -> str:
        label = "warning: " if self.severity == "warning" else ""
        text = f"{self.source}:{self.line}:{self.column}: {self.path or '(document)'}: {label}{self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


MAX_SHOWN = 60  # characters of a spec's value repeated in a message; a message stays one readable line


def clip(text: str) -> str:
    """`text`, or its start and length when it is too long to repeat in a message."""
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN - 20]}... ({len(text)} characters)"


class CkredisError(Exception):
    """Base of every error ckredis reports to users (exit code 2)."""

    exit_code = 2

    def lines(self) -> list[str]:
        return [str(self)]


class SpecError(CkredisError):
    """A spec could not be read, or it was read and is invalid."""

    def __init__(self, issues: list[Issue]):
        super().__init__(f"{len(issues)} problem(s)")
        # Files in the order given, each file's problems in document order.
        first_seen = {source: index for index, source in reversed(list(enumerate(i.source for i in issues)))}
        self.issues = sorted(issues, key=lambda issue: (first_seen[issue.source], issue))

    def lines(self) -> list[str]:
        return [str(issue) for issue in self.issues]


class OutputError(CkredisError):
    """The output directory cannot take the chart without losing something."""
