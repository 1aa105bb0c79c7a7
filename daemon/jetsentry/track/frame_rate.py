"""The rate at which one camera's frames are processed, measured from their timestamps."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque

# 32 intervals: about 3 s at 10 processed frames/s, long enough for the median to ignore
# a burst or a stall, short enough to follow a change of load within seconds.
WINDOW = 32
# Until this many intervals are known the initial rate is used: the first frames of a
# camera come while the pipeline warms up (first inferences, decoder start).
MIN_INTERVALS = 8
# Intervals longer than this many medians (a stall, a slow batch) are left out of the mean.
OUTLIER_FACTOR = 3.0


class FrameRateMeter:
    """Processed frames per second of one camera, from the intervals between its frames.

    The rate is the mean over the last WINDOW intervals, leaving out those longer than
    OUTLIER_FACTOR times their median, so jitter (a newest-frame slot hands over every
    second or third decoded frame) averages out and a stall does not count.  It is
    rounded to 4 significant digits: timestamps in whole nanoseconds make a 15 fps file
    measure 14.9999998, which would cost the lost-track buffer a frame.
    """

    def __init__(self, initial: float) -> None:
        check_frame_rate(initial, "initial frame rate")
        self._intervals: deque[float] = deque(maxlen=WINDOW)
        self._rate = float(initial)
        self._usual: float | None = None

    @property
    def rate(self) -> float:
        """The measured rate once MIN_INTERVALS intervals are known, before that the initial one."""
        return self._rate

    @property
    def measured(self) -> bool:
        return len(self._intervals) >= MIN_INTERVALS

    @property
    def usual_interval(self) -> float | None:
        """The median interval in the window (seconds); None before the first."""
        return self._usual

    def add(self, interval_s: float) -> None:
        """One interval between consecutive processed frames, in seconds; others than
        finite positive ones (repeated or backward timestamps) are ignored."""
        if not (math.isfinite(interval_s) and interval_s > 0):
            return
        self._intervals.append(interval_s)
        # Plain Python: on 32 numbers it is several times faster than numpy's call overhead.
        ordered = sorted(self._intervals)
        middle = len(ordered) // 2
        self._usual = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        if self.measured:
            usual = ordered[: bisect_right(ordered, OUTLIER_FACTOR * self._usual)]
            self._rate = float(f"{len(usual) / sum(usual):.4g}")


def check_frame_rate(value: float, what: str = "frame_rate") -> None:
    """ValueError unless ``value`` is a finite positive number (not a bool)."""
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{what} must be a positive number of frames per second, got {value!r}")
