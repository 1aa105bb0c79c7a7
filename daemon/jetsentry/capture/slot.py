"""The newest frame of one camera: a one-frame, thread-safe hand-over to the batcher."""

from __future__ import annotations

import threading

from jetsentry.capture.frame import Frame


class LatestFrameSlot:
    """Holds at most one frame; a newer frame replaces an unread one (counted as dropped).

    `ready` is a threading.Event shared by all slots of a process: every put sets it, so
    one consumer can wait for a frame from any camera (clear it, look at all slots, wait).
    Capture never blocks here: put() only swaps a reference under a short lock.
    """

    def __init__(self, ready: threading.Event | None = None) -> None:
        self.ready = ready if ready is not None else threading.Event()
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._put = 0
        self._dropped = 0

    def put(self, frame: Frame) -> None:
        with self._lock:
            if self._frame is not None:
                self._dropped += 1
            self._frame = frame
            self._put += 1
        self.ready.set()

    def take(self) -> Frame | None:
        """The newest frame, or None when nothing new arrived since the last take."""
        with self._lock:
            frame, self._frame = self._frame, None
        return frame

    def has_frame(self) -> bool:
        with self._lock:
            return self._frame is not None

    @property
    def dropped(self) -> int:
        """Frames replaced before anyone took them."""
        with self._lock:
            return self._dropped

    @property
    def put_count(self) -> int:
        with self._lock:
            return self._put
