"""The error tree: every failure a user can cause is a CkredisError the CLI maps to an exit code."""

from __future__ import annotations

import re
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
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 20]}... ({len(text)} characters)"


# Characters that move or rewrite what a terminal, a pull-request comment or a reviewer sees, rather than show text:
# C0 and C1 controls (ESC starts terminal sequences, CR returns to the line's start, U+0085 ends a line), DEL, the
# Unicode line and paragraph separators, and the bidirectional marks, embeddings, overrides and isolates (U+202E shows
# text backwards). The schema refuses them in every text field (the same list, as patterns); output escapes them.
UNSAFE_CHARACTERS = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{UNSAFE_CHARACTERS}]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def first_unsafe(text: str) -> str | None:
    """The first character of text that a terminal or a renderer would act on instead of showing it, if any."""
    found = _UNSAFE.search(text)
    return found[0] if found else None


def visible(text: str, keep: str = "") -> str:
    """text with every unsafe character (but those in keep) written as an escape: \\n, \\r, \\t, \\u001b, \\u2028."""
    return _UNSAFE.sub(
        lambda match: match[0] if match[0] in keep else _ESCAPES.get(match[0], f"\\u{ord(match[0]):04x}"), text
    )


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
    """The output directory cannot take the chart without losing something (one message per line given)."""

    def __init__(self, *messages: str):
        super().__init__("\n".join(messages))
        self.messages = list(messages)

    def lines(self) -> list[str]:
        return self.messages
