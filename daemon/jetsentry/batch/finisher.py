"""Finish batches behind inference: tracking and message building on a thread of their own.

With the GPU doing pre-processing, inference and head decoding, what is left on the host
per frame (NMS results to tracks, tracks to JSON) takes as long as the inference call
(bench/gpu/end_to_end.py).  Run in the inference thread, it leaves the GPU idle; here it
runs while the next batch is inferred.  Batches are finished in the order submitted, by
one thread (each camera's tracker sees its frames in order), with at most ``depth``
batches waiting: a slow finisher slows inference down instead of queueing without bound.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")

_STOP = object()


class BackgroundFinisher(Generic[Item]):
    """``finish(item)`` for each submitted item, in order, on one thread.

    An exception from ``finish`` stops the thread and is raised by the next ``submit`` or
    by ``close``; ``finish`` should handle the errors it can (the daemon counts a failed
    batch and goes on).  Use as a context manager, or call ``close``.
    """

    def __init__(self, finish: Callable[[Item], None], *, depth: int = 2, name: str = "finish") -> None:
        if depth < 1:
            raise ValueError("depth must be >= 1")
        self._finish = finish
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def __enter__(self) -> BackgroundFinisher[Item]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def submit(self, item: Item) -> None:
        """Queue ``item``; waits while ``depth`` items are waiting."""
        self._raise_pending()
        while True:
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                self._raise_pending()

    def close(self, timeout_s: float = 30.0) -> None:
        """Finish what was submitted, then stop the thread."""
        if self._thread.is_alive():
            while self._thread.is_alive():
                try:
                    self._queue.put(_STOP, timeout=0.1)
                    break
                except queue.Full:
                    continue
            self._thread.join(timeout_s)
        self._raise_pending()

    def _raise_pending(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self._finish(item)
            except BaseException as exc:  # handed to the submitting thread
                self._error = exc
                return
