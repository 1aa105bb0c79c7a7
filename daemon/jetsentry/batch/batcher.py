"""Cross-camera batching: up to max_batch frames, round-robin, bounded wait.

Capture never blocks on inference: each camera's slot holds only its newest
frame, and the batcher takes whatever is fresh.  One frame per camera per batch
(a slot holds one frame), so a fast camera cannot starve a slow one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from jetsentry.capture.frame import Frame
from jetsentry.health.heartbeat import Heartbeat


class FrameSource(Protocol):
    def take(self) -> Frame | None: ...


class FrameBatcher:
    """Forms batches from per-camera newest-frame slots.

    `ready` is set by any slot that receives a frame (a threading.Event shared by
    all slots); the batcher clears it before looking, so a frame that lands
    between the look and the wait still wakes it.  `add_source` and `remove_source`
    may be called from another thread while a batch is formed (cameras changed at
    run time): each replaces the camera list whole, so a look sees one version.
    """

    def __init__(
        self,
        slots: Mapping[str, FrameSource],
        ready: threading.Event,
        *,
        max_batch: int,
        max_wait_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self._camera_ids = tuple(slots)
        self._slots = dict(slots)
        self._change_lock = threading.Lock()
        self._ready = ready
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._clock = clock
        self._next = 0  # round-robin start position
        # Required only while a call runs (health/heartbeat.py): a call lasts at most `timeout`
        # plus max_wait, also when no camera has a frame; between calls the caller's own
        # heartbeat (the inference loop's) answers for the time.
        self.heartbeat = Heartbeat("batcher")

    def add_source(self, camera_id: str, slot: FrameSource) -> None:
        with self._change_lock:
            self._slots = {**self._slots, camera_id: slot}
            self._camera_ids = (*[c for c in self._camera_ids if c != camera_id], camera_id)

    def remove_source(self, camera_id: str) -> None:
        """Take no more frames from this camera (one already taken is still returned)."""
        with self._change_lock:
            self._camera_ids = tuple(c for c in self._camera_ids if c != camera_id)
            self._slots = {c: s for c, s in self._slots.items() if c != camera_id}

    def _collect(self, batch: list[Frame], taken: set[str]) -> None:
        camera_ids, slots = self._camera_ids, self._slots
        count = len(camera_ids)
        last_taken = None
        for offset in range(count):
            if len(batch) >= self._max_batch:
                break
            index = (self._next + offset) % count
            camera_id = camera_ids[index]
            if camera_id in taken:
                continue
            slot = slots.get(camera_id)
            frame = slot.take() if slot is not None else None
            if frame is not None:
                batch.append(frame)
                taken.add(camera_id)
                last_taken = index
        if last_taken is not None:
            self._next = (last_taken + 1) % count

    def next_batch(self, timeout: float) -> list[Frame]:
        """Block up to `timeout` s for a first frame, then up to max_wait to fill the batch.

        Returns [] when no frame arrived within `timeout`.
        """
        self.heartbeat.start()
        try:
            return self._next_batch(timeout)
        finally:
            self.heartbeat.finish()

    def _next_batch(self, timeout: float) -> list[Frame]:
        batch: list[Frame] = []
        taken: set[str] = set()
        deadline = self._clock() + timeout
        while not batch:
            self._ready.clear()
            self._collect(batch, taken)
            if batch:
                break
            remaining = deadline - self._clock()
            if remaining <= 0:
                return batch
            self._ready.wait(remaining)
        fill_deadline = self._clock() + self._max_wait_s
        while len(batch) < self._max_batch and len(taken) < len(self._camera_ids):
            remaining = fill_deadline - self._clock()
            if remaining <= 0:
                break
            self._ready.clear()
            self._collect(batch, taken)
            if len(batch) >= self._max_batch or len(taken) == len(self._camera_ids):
                break
            self._ready.wait(remaining)
        return batch
