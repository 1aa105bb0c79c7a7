"""A one-line progress bar on stderr (redrawn on a terminal, a line per tenth otherwise)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self._label = label
        self._total = max(total, 1)
        self._stream = stream if stream is not None else sys.stderr
        self._width = width
        self._done = 0
        self._started = time.monotonic()
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._last_tenth = -1

    def advance(self, count: int = 1) -> None:
        self._done = min(self._done + count, self._total)
        tenth = self._done * 10 // self._total
        if self._tty:
            self._stream.write("\r" + self._line())
        elif tenth != self._last_tenth:
            self._stream.write(self._line() + "\n")
        self._last_tenth = tenth
        if self._done == self._total and self._tty:
            self._stream.write("\n")
        self._stream.flush()

    def _line(self) -> str:
        filled = self._width * self._done // self._total
        elapsed = time.monotonic() - self._started
        return (f"{self._label}: [{'#' * filled}{'.' * (self._width - filled)}] "
                f"{self._done}/{self._total} frames, {elapsed:.0f} s")
