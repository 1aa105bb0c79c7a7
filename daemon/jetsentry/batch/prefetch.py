"""Prepare the next batch while the current one is inferred.

Colour conversion and letterboxing of batch n+1 overlap inference of batch n, so the
inference thread goes from one engine run to the next with only decoding, tracking and
message building in between.  The preparing thread may run at SCHED_IDLE: it then uses
only CPU time the engine leaves idle (ONNX Runtime's threads waiting at the end of an
operator, the inference thread's serial work) instead of preempting an engine thread,
which would stall the other engine threads at the next barrier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from jetsentry.idle import make_this_thread_idle

Batch = TypeVar("Batch")
Prepared = TypeVar("Prepared")

_EMPTY = object()


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Handoff:
    """A one-item hand-over whose give() returns only once the item was taken."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: object = _EMPTY
        self._closed = False

    def give(self, item: object) -> bool:
        """False when closed before the item was taken."""
        with self._cond:
            self._item = item
            self._cond.notify_all()
            while self._item is not _EMPTY and not self._closed:
                self._cond.wait()
            return self._item is _EMPTY

    def take(self) -> object:
        with self._cond:
            while self._item is _EMPTY:
                self._cond.wait()
            item, self._item = self._item, _EMPTY
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def holding(self) -> object:
        """The item given and not yet taken (a read without the lock: for reports only)."""
        return self._item


class _Done:
    pass


class PrefetchedBatches(Generic[Batch, Prepared]):
    """Iterates ``prepare(batch)`` for every batch of ``batches``, one batch ahead, in order.

    A background thread pulls the next batch and prepares it while the consumer works on
    the previous one; it prepares batch k+1 only after the consumer took batch k, so at
    most two prepared batches exist at a time (the Detector's two input buffers).  An
    exception from ``batches`` or ``prepare`` is raised in the consumer.  Use as a context
    manager, or call close(), to stop the thread early.
    """

    def __init__(
        self,
        batches: Iterable[Batch],
        prepare: Callable[[Batch], Prepared],
        *,
        idle_priority: bool = False,
        name: str = "prepare",
    ) -> None:
        self._batches = batches
        self._prepare = prepare
        self._idle_priority = idle_priority
        self._handoff = _Handoff()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False

    def __enter__(self) -> PrefetchedBatches[Batch, Prepared]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Prepared]:
        if not self._started:
            self._started = True
            self._thread.start()
        while True:
            item = self._handoff.take()
            if isinstance(item, _Done):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]

    @property
    def waiting(self) -> int:
        """Prepared batches waiting for the consumer to take them: 0 or 1."""
        item = self._handoff.holding
        return 0 if item is _EMPTY or isinstance(item, (_Done, _Failed)) else 1

    def close(self, timeout_s: float = 10.0) -> None:
        self._handoff.close()
        if self._started:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        if self._idle_priority:
            make_this_thread_idle()
        source = iter(self._batches)
        try:
            for batch in source:
                if not self._handoff.give(self._prepare(batch)):
                    return  # closed by the consumer
            self._handoff.give(_Done())
        except BaseException as exc:  # handed to the consumer, which raises it
            self._handoff.give(_Failed(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a generator source (a video reader) tears its pipeline down here
