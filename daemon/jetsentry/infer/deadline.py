"""A deadline for engine calls: the call runs on a worker thread the caller waits on.

A Python thread stuck in a native call (a CUDA synchronisation that never returns, a hung
driver) cannot be interrupted, so the engine's calls run on a worker thread of their own and
the inference thread waits for each with a timeout.  When the deadline passes,
EngineTimeoutError is raised, the worker (a daemon thread) is abandoned with the call it is
stuck in, and every later call fails at once with the same error: the engine is never called
again, nor closed (closing a session another thread is still running in could crash the
process).  A result that arrives after the deadline is dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from jetsentry.infer.errors import EngineTimeoutError

log = logging.getLogger("jetsentry.infer")

_STOP = None


class _Call:
    __slots__ = ("fn", "args", "kwargs", "done", "result", "error")

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class EngineDeadline:
    """Runs calls on one worker thread, waiting at most ``timeout_s`` for each; one caller at a time."""

    def __init__(self, timeout_s: float, *, name: str = "engine") -> None:
        if not timeout_s > 0:
            raise ValueError(f"an engine deadline must be > 0 s, got {timeout_s}")
        self.timeout_s = float(timeout_s)
        self.name = name
        self._requests: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self.hung: str | None = None  # why the engine is abandoned, once a call passed its deadline

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` on the worker; its result, or what it raised.  EngineTimeoutError
        when it gives nothing within the deadline, and for every call after that."""
        if self.hung is not None:
            raise EngineTimeoutError(self.hung, call=self.name)
        if self._worker is None:
            self._worker = threading.Thread(target=self._serve, name=f"{self.name}-call", daemon=True)
            self._worker.start()
        request = _Call(fn, args, kwargs)
        self._requests.put(request)
        if not request.done.wait(self.timeout_s):
            self.hung = (f"{self.name} engine call gave no result within {self.timeout_s:g} s "
                         "(governor.engine_timeout_s): the engine is abandoned")
            log.error("%s; its thread is left behind", self.hung)
            raise EngineTimeoutError(self.hung, call=self.name)
        if request.error is not None:
            raise request.error
        return request.result

    def close(self) -> None:
        """Stop the worker; a hung one stops once its call returns, if ever (it is not waited for)."""
        if self._worker is not None:
            self._requests.put(_STOP)
            if self.hung is None:
                self._worker.join(self.timeout_s)
        self._worker = None

    def _serve(self) -> None:
        while True:
            request = self._requests.get()
            if request is _STOP:
                return
            try:
                request.result = request.fn(*request.args, **request.kwargs)
            except BaseException as exc:  # handed to the waiting caller
                request.error = exc
            request.done.set()
