"""A thread that reads the monitors every interval and hands each Snapshot to a callback."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from jetsentry.health.failures import RepeatedFailureLog
from jetsentry.health.monitors.monitor_set import MonitorSet, Snapshot

log = logging.getLogger("jetsentry.health.monitors")

# How long stop() waits for the thread; a read is a few file reads and NVML calls.
STOP_TIMEOUT_S = 5.0


class MonitorThread:
    """Samples `monitors` every `interval_s` (on a fixed schedule: a slow read does not shift
    the next) and calls `on_snapshot` with each Snapshot, on its own thread.

    A callback that raises is logged (rate-limited) and sampling goes on.  The thread does
    not own the monitors: close the MonitorSet after stop().
    """

    def __init__(self, monitors: MonitorSet, on_snapshot: Callable[[Snapshot], None], *,
                 interval_s: float = 1.0, name: str = "health-monitors",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self.monitors = monitors
        self.interval_s = interval_s
        self._on_snapshot = on_snapshot
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._failures = RepeatedFailureLog(log, interval_s=60.0, clock=clock)
        self.latest: Snapshot | None = None
        self.samples = 0

    def start(self) -> MonitorThread:
        if self._thread.ident is not None:
            raise RuntimeError("MonitorThread can be started once")
        self._thread.start()
        return self

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop sampling and wait for the thread (a sample in progress finishes first)."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("the monitor thread did not stop within %.0f s", timeout_s)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        next_at = self._clock()
        while not self._stop.is_set():
            snapshot = self.monitors.read()
            self.latest = snapshot
            self.samples += 1
            try:
                self._on_snapshot(snapshot)
            except Exception:  # one bad handler must not stop the monitoring
                self._failures.failed("the monitor snapshot handler failed")
            else:
                self._failures.succeeded("the monitor snapshot handler works")
            next_at += self.interval_s
            now = self._clock()
            if next_at < now:  # fell behind (a read took longer than the interval): skip, don't burst
                next_at = now
            self._stop.wait(next_at - now)

    def __enter__(self) -> MonitorThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
