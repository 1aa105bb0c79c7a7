"""A problem that can repeat many times a second, logged without flooding the log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RateLimitedLog:
    """The first event in full; later ones counted and summed up in one line at most every
    `interval_s` seconds.  After an interval without events, the next one is in full again.

    Not thread-safe: one thread calls event() and tick() (a capture session's thread).
    tick() writes a pending summary once its interval is over, so the last events of a
    burst are reported even when no further event comes.
    """

    def __init__(
        self,
        logger: logging.Logger,
        prefix: str,
        *,
        what: str,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
        level: int = logging.WARNING,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self._log = logger
        self._prefix = prefix
        self._what = what
        self._interval_s = interval_s
        self._clock = clock
        self._level = level
        self._logged_at: float | None = None  # the last line written
        self._pending = 0  # events since then
        self._latest = ""

    @property
    def pending(self) -> int:
        """Events counted but not yet written in a summary."""
        return self._pending

    def event(self, text: str, count: int = 1) -> None:
        """`count` events, the newest described by `text`."""
        now = self._clock()
        if self._pending == 0 and (self._logged_at is None or now - self._logged_at >= self._interval_s):
            self._log.log(self._level, "%s%s", self._prefix, text)
            self._logged_at = now
            count -= 1
        self._pending += count
        if count > 0:
            self._latest = text
        self.tick()

    def tick(self) -> None:
        """Write the summary of pending events when `interval_s` has passed since the last line."""
        if self._pending == 0 or self._logged_at is None:
            return
        now = self._clock()
        elapsed = now - self._logged_at
        if elapsed < self._interval_s:
            return
        self._log.log(self._level, "%s%d more %s in the last %.0f s (latest: %s)",
                      self._prefix, self._pending, self._what, elapsed, self._latest)
        self._logged_at = now
        self._pending = 0
