"""The newest frame of one camera: a one-frame, thread-safe hand-over to the batcher."""

from __future__ import annotations

import threading

from jetsentry.capture.frame import Frame


class LatestFrameSlot:
    """Holds at most one frame; a newer frame replaces an unread one (counted as dropped).

    `ready` is a threading.Event shared by all slots of a process: every put sets it, so
    one consumer can wait for a frame from any camera (clear it, look at all slots, wait).
    Live capture never blocks here: put() only swaps a reference under a short lock; a
    replaced frame is released (its device picture goes back to the decoder's pool).
    A video file processed frame by frame uses put_when_taken() instead, which waits for
    the consumer and so never drops.
    """

    def __init__(self, ready: threading.Event | None = None) -> None:
        self.ready = ready if ready is not None else threading.Event()
        self._lock = threading.Lock()
        self._taken = threading.Condition(self._lock)
        self._frame: Frame | None = None
        self._put = 0
        self._dropped = 0

    def put(self, frame: Frame) -> None:
        with self._lock:
            replaced, self._frame = self._frame, frame
            if replaced is not None:
                self._dropped += 1
            self._put += 1
        self.ready.set()
        if replaced is not None:
            replaced.release()  # a device picture goes back to its decoder's pool

    def put_when_taken(self, frame: Frame, cancel: threading.Event, poll_s: float = 0.1) -> bool:
        """Put `frame` once the previous one was taken; False (frame not put) if `cancel`
        is set first.  `cancel` is polled every `poll_s`, so setting it needs no notify."""
        with self._lock:
            while self._frame is not None:
                if cancel.is_set():
                    return False
                self._taken.wait(poll_s)
            self._frame = frame
            self._put += 1
        self.ready.set()
        return True

    def take(self) -> Frame | None:
        """The newest frame, or None when nothing new arrived since the last take."""
        with self._lock:
            frame, self._frame = self._frame, None
            if frame is not None:
                self._taken.notify_all()
        return frame

    def discard(self) -> None:
        """Drop and release an untaken frame (at shutdown, so device pictures go back)."""
        frame = self.take()
        if frame is not None:
            frame.release()

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
