"""A failure that may repeat on every batch, logged without flooding the journal.

The first failure of a run of failures is logged in full, with its traceback; while the
failures go on, one summary line at most every ``interval_s`` says how many there were and
what the last one was; when they stop, one line says so.  A new run of failures within
``interval_s`` of the last traceback is not logged in full again (a flapping failure would
otherwise print a traceback each time); its failures are counted into the next summary.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable


def exception_summary() -> str:
    """'Type: message' of the exception being handled (one line, for logs and health reasons)."""
    exc = sys.exc_info()[1]
    if exc is None:
        return ""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


class RepeatedFailureLog:
    def __init__(self, logger: logging.Logger, *, interval_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self._log = logger
        self._interval_s = interval_s
        self._clock = clock
        self._in_a_row = 0
        self._unlogged = 0  # failures since the last line about them
        self._run_logged = False  # this run of failures has been logged, so its end is too
        self._last_traceback = -float("inf")
        self._last_line = -float("inf")

    def failed(self, what: str) -> None:
        """Record one failure; call it from the `except` block that caught it."""
        now = self._clock()
        self._in_a_row += 1
        self._unlogged += 1
        if self._in_a_row == 1 and now - self._last_traceback >= self._interval_s:
            earlier = self._unlogged - 1
            note = f" ({earlier} earlier failure(s) not logged)" if earlier else ""
            self._log.error("%s%s", what, note, exc_info=True)
            self._last_traceback = now
        elif now - self._last_line >= self._interval_s:
            self._log.error(
                "%d more failure(s) in the last %.0f s, %d in a row; the last: %s: %s",
                self._unlogged, now - self._last_line, self._in_a_row, what, exception_summary(),
            )
        else:
            return
        self._last_line = now
        self._unlogged = 0
        self._run_logged = True

    def succeeded(self, what: str) -> None:
        """Record a success; ends a run of failures (logged once, if the run was)."""
        if self._in_a_row and self._run_logged:
            self._log.info("%s again after %d failure(s) in a row", what, self._in_a_row)
        self._in_a_row = 0
        self._run_logged = False
