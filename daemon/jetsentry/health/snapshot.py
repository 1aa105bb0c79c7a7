"""Periodic health snapshots: logged as one line, and kept for whoever asks (tests, metrics)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger("jetsentry.health")


@dataclass
class ServiceCounters:
    """Counters the inference loop updates (one writer thread)."""

    batches: int = 0
    frames: int = 0
    messages: int = 0
    batch_errors: int = 0


class HealthReporter:
    """Builds a snapshot from the sessions, counters and publisher; logs it every `interval_s`."""

    def __init__(
        self,
        sessions: Mapping[str, object],
        counters: ServiceCounters,
        publisher: object,
        *,
        interval_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._counters = counters
        self._publisher = publisher
        self._interval_s = interval_s
        self._clock = clock
        self._last_time = clock()
        self._last_frames = 0
        self._lock = threading.Lock()
        self.latest: dict = {}

    def snapshot(self) -> dict:
        cameras = {}
        for camera_id, session in self._sessions.items():
            stats = session.stats
            cameras[camera_id] = {
                "state": stats.state.value if hasattr(stats.state, "value") else str(stats.state),
                "frames": stats.frames,
                "dropped": stats.dropped,
                "reconnects": stats.reconnects,
                "last_error": stats.last_error,
            }
        pub = self._publisher.stats()
        now = self._clock()
        elapsed = max(now - self._last_time, 1e-9)
        fps = (self._counters.frames - self._last_frames) / elapsed
        snap = {
            "cameras": cameras,
            "inference": {
                "frames": self._counters.frames,
                "batches": self._counters.batches,
                "batch_errors": self._counters.batch_errors,
                "fps": round(fps, 2),
            },
            "mqtt": {
                "connected": pub.connected,
                "queued": pub.queued,
                "sent": pub.sent,
                "dropped_overflow": pub.dropped_overflow,
                "reconnects": pub.reconnects,
            },
        }
        with self._lock:
            self._last_time, self._last_frames = now, self._counters.frames
            self.latest = snap
        return snap

    def maybe_log(self) -> None:
        if self._clock() - self._last_time >= self._interval_s:
            log.info("health %s", json.dumps(self.snapshot(), separators=(",", ":")))
