"""Frames of batches the failing primary could not infer, held until the fallback serves them.

A batch that fails with an engine error on the primary backend is kept (frames with host
pictures only: a device picture went back to its decoder when the batch was prepared) so
that the fallback infers it once it serves, before any newer frame: no frame taken from a
camera is lost to the failure that caused the switch.  Bounded: while the fallback is being
built the primary may fail batch after batch, and the oldest are given up beyond the bound;
batches held longer than the error window with no fallback decided are given up too.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence

from jetsentry.capture.frame import Frame

# Batches held at most: the errors that trigger the fallback (governor.engine_errors, 3 by
# default) plus those failing while it is built and warmed (a few hundred milliseconds).
MAX_BATCHES = 16


class HeldFrames:
    """Thread-safe: failures are reported from the inference and the prefetch threads."""

    def __init__(self, max_batches: int = MAX_BATCHES) -> None:
        self._lock = threading.Lock()
        self._batches: deque[tuple[float, list[Frame]]] = deque()  # (when held, frames)
        self._max = max_batches
        self.given_up = 0  # frames dropped: over the bound, or no fallback came to serve them
        self.retried = 0  # frames handed back to be inferred again

    def hold(self, frames: Sequence[Frame], now: float | None = None) -> bool:
        """Keep a failed batch; False (not kept) when a frame holds a device picture."""
        if not frames or any(frame.device is not None for frame in frames):
            return False
        with self._lock:
            self._batches.append((time.monotonic() if now is None else now, list(frames)))
            while len(self._batches) > self._max:
                self.given_up += len(self._batches.popleft()[1])
        return True

    def expire(self, older_than: float) -> int:
        """Give up batches held before ``older_than`` (no fallback came for them); how many frames."""
        dropped = 0
        with self._lock:
            while self._batches and self._batches[0][0] < older_than:
                dropped += len(self._batches.popleft()[1])
            self.given_up += dropped
        return dropped

    def take_all(self) -> list[list[Frame]]:
        """The held batches, oldest first; the holder is empty afterwards."""
        with self._lock:
            batches, self._batches = [frames for _, frames in self._batches], deque()
            self.retried += sum(len(batch) for batch in batches)
        return batches

    def give_up(self) -> int:
        """Drop every held frame (no fallback will serve them); how many."""
        with self._lock:
            dropped = sum(len(frames) for _, frames in self._batches)
            self._batches.clear()
            self.given_up += dropped
        return dropped

    def __len__(self) -> int:
        with self._lock:
            return sum(len(frames) for _, frames in self._batches)
