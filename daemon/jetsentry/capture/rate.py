"""fps cap: decide which frames pass, by source timestamps (steady even when arrival jitters)."""

from __future__ import annotations


class FpsLimiter:
    """Passes at most `max_fps` frames per second of source time.

    Timestamps are the buffer PTS in seconds (or arrival time when a source has none).
    A timestamp that goes backwards (file loop, reconnect) restarts the schedule.
    """

    def __init__(self, max_fps: float | None) -> None:
        if max_fps is not None and max_fps <= 0:
            raise ValueError("max_fps must be > 0")
        self.max_fps = max_fps
        self._period = 1.0 / max_fps if max_fps else 0.0
        # Accept frames a little early so a 30 fps source capped at 15 gives 15, not 10.
        self._slack = self._period * 0.1
        self._next_due: float | None = None
        self._last_ts: float | None = None

    def reset(self) -> None:
        self._next_due = None
        self._last_ts = None

    def admit(self, ts: float) -> bool:
        if not self._period:
            return True
        if self._last_ts is not None and ts < self._last_ts:
            self._next_due = None
        self._last_ts = ts
        if self._next_due is not None and ts < self._next_due - self._slack:
            return False
        if self._next_due is None or ts - self._next_due > self._period:
            self._next_due = ts + self._period  # first frame, or after a gap: no burst to catch up
        else:
            self._next_due += self._period
        return True
