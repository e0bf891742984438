"""A progress bar on stderr for long runs: only on a terminal, never under CI, and only after a second."""

from __future__ import annotations

import os
import sys
from time import monotonic
from typing import TextIO

DELAY_SECONDS = 1.0
_WIDTH = 30


class Progress:
    """Counts finished specs; draws `verb  412/1000 [######....]` in place once DELAY_SECONDS have passed."""

    def __init__(self, verb: str, total: int, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.verb, self.total, self.done = verb, total, 0
        self.started = monotonic()
        self.shown = False
        self.enabled = total > 1 and self.stream.isatty() and not os.environ.get("CI")

    def advance(self) -> None:
        self.done += 1
        if self.enabled and (self.shown or monotonic() - self.started >= DELAY_SECONDS):
            filled = _WIDTH * self.done // self.total
            self.stream.write(
                f"\r{self.verb} {self.done:>{len(str(self.total))}}/{self.total} "
                f"[{'#' * filled}{'.' * (_WIDTH - filled)}]"
            )
            self.stream.flush()
            self.shown = True

    def close(self) -> None:
        """Erase the bar, so the messages that follow start on a clean line."""
        if self.shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
