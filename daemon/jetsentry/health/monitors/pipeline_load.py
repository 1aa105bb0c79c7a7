"""The pipeline's own load: capture-to-publish latency and the frames inference could not keep up with.

Sources, both written by the daemon's frame path at no more than a lock and an append per
batch:

- `PublishLatency`: the inference loop records each published batch (the time it was
  published and when capture handed over the batch's oldest frame); the monitor reads the
  batches of the last `window_s`.
- the cameras' LatestFrameSlots: a slot holds one frame, and a newer frame replaces one
  inference has not taken yet, counted in `slot.dropped` (frames dropped because inference
  was busy; frames over a camera's fps cap are the capture's policy, not counted here).

A reading's `latency_s` is the 90th percentile (nearest rank) of the window's batch
latencies, so one slow batch among many does not move it (None when nothing was published
in the window); `dropped_by_camera` the frames each camera dropped since the previous
reading, and `backlog` those drops plus the frames waiting in the slots now.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Protocol

from jetsentry.health.monitors.base import Reading

# Enough batches for a window of tens of seconds at a few hundred batches a second.
MAX_BATCHES = 8192
LATENCY_QUANTILE = 0.9


class FrameSlot(Protocol):
    """What the monitor reads of a camera's slot (capture/slot.py LatestFrameSlot)."""

    @property
    def dropped(self) -> int: ...

    def has_frame(self) -> bool: ...


class PublishLatency:
    """A bounded record of published batches, written by the inference loop, read by the monitor."""

    def __init__(self, max_batches: int = MAX_BATCHES) -> None:
        self._lock = threading.Lock()
        self._batches: deque[tuple[float, float, int]] = deque(maxlen=max_batches)  # published, latency, frames

    def record(self, now: float, oldest_received: float, frames: int = 1) -> None:
        """A batch of `frames` published at `now` (time.monotonic()); its oldest frame was
        handed over by capture at `oldest_received` (Frame.received_monotonic)."""
        with self._lock:
            self._batches.append((now, now - oldest_received, frames))

    def since(self, start: float) -> list[tuple[float, float, int]]:
        """The batches published at or after `start`, oldest first."""
        with self._lock:
            batches = list(self._batches)
        first = len(batches)
        while first > 0 and batches[first - 1][0] >= start:
            first -= 1
        return batches[first:]


class PipelineMonitor:
    name = "pipeline"

    def __init__(self, slots: Mapping[str, FrameSlot], latency: PublishLatency, *, window_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self._slots = slots
        self._latency = latency
        self.window_s = window_s
        self._clock = clock
        self._last_dropped = {camera: slot.dropped for camera, slot in slots.items()}

    def read(self) -> Reading:
        now = self._clock()
        batches = self._latency.since(now - self.window_s)
        latencies = sorted(latency for _, latency, _ in batches)
        latency_s = latencies[max(0, math.ceil(LATENCY_QUANTILE * len(latencies)) - 1)] if latencies else None
        dropped: dict[str, int] = {}
        waiting = 0
        for camera, slot in self._slots.items():
            total = slot.dropped
            dropped[camera] = total - self._last_dropped.get(camera, 0)
            self._last_dropped[camera] = total
            waiting += slot.has_frame()
        return Reading(self.name, latency_s=latency_s, backlog=sum(dropped.values()) + waiting,
                       dropped_by_camera=dropped)

    def close(self) -> None:
        pass
