"""Frames of batches the failing primary could not infer, held until the fallback serves them.

A batch that fails with an engine error on the primary backend is kept so that the fallback
infers it once it serves, before any newer frame: no frame taken from a camera is lost to the
failure that caused the switch.  Frames whose device (GPU) pictures the frame processor
copied to the host before giving them back (capture/frame.py pictures_to_host) are held like any
host frame; a frame still holding a device picture (its copy failed: the GPU may be lost) is
given up, counted and logged.  Bounded: while the fallback is being
built the primary may fail batch after batch, and the oldest are given up beyond the bound;
batches held longer than the error window with no fallback decided are given up too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence

from jetsentry.capture.frame import Frame

log = logging.getLogger("jetsentry.governor")

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
        """Keep a failed batch's host frames; frames still holding a device picture are given up.
        False when nothing was kept."""
        host = [frame for frame in frames if frame.device is None]
        if len(host) < len(frames):
            lost = [frame for frame in frames if frame.device is not None]
            with self._lock:
                self.given_up += len(lost)
            log.warning("governor: %d frame(s) of a failed batch given up (%s): their device pictures could not "
                        "be copied to the host", len(lost), ", ".join(f"{f.camera_id} seq {f.seq}" for f in lost))
        if not host:
            return False
        with self._lock:
            self._batches.append((time.monotonic() if now is None else now, host))
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
