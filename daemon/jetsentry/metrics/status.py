"""The daemon's status as one JSON document (`/status.json`, read by `jetsentry status`).

Frame rates come from a short window of samples of the processed-frame counters, taken by
the HTTP server's loop about twice a second, so a single request gets a current rate.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from jetsentry import __version__
from jetsentry.metrics.histogram import FrameRecorder
from jetsentry.metrics.sources import DaemonSources, governor_view
from jetsentry.publish.message import format_utc_ms

STATUS_SCHEMA = "jetsentry.status/1"
RATE_WINDOW_S = 10.0  # frame rates average over this long: steady enough to read, recent enough to trust
SAMPLE_INTERVAL_S = 0.5


class FrameRates:
    """Processed frames per second per camera (and in all), over the last RATE_WINDOW_S."""

    def __init__(self, read: Callable[[], dict[str, int]], clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._clock = clock
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, dict[str, int]]] = deque()
        self._last = -float("inf")

    def sample(self) -> None:
        now = self._clock()
        if now - self._last < SAMPLE_INTERVAL_S:
            return
        self._last = now
        counts = self._read()
        with self._lock:
            self._samples.append((now, counts))
            while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW_S:
                self._samples.popleft()

    def rates(self) -> dict[str, float]:
        """camera id -> frames/s; empty until two samples are at least a second apart."""
        self.sample()
        with self._lock:
            if len(self._samples) < 2:
                return {}
            (t0, first), (t1, last) = self._samples[0], self._samples[-1]
        if t1 - t0 < 1.0:
            return {}
        return {camera: round((count - first.get(camera, 0)) / (t1 - t0), 2) for camera, count in last.items()}


def status_document(src: DaemonSources, recorder: FrameRecorder, rates: FrameRates) -> dict[str, Any]:
    """The status: what `jetsentry status` shows.  Error texts are the sessions' own, which name
    sources by their masked form (config/source_uri.py), never with a password."""
    fps = rates.rates()
    processed = recorder.processed()
    health = src.health.state.current
    cameras = {}
    for camera_id, session in src.sessions.items():
        stats = session.stats
        cameras[camera_id] = {
            "state": stats.state.value,
            "fps": fps.get(camera_id, 0.0 if fps else None),
            "decoded": stats.decoded,
            "processed": processed.get(camera_id, 0),
            "dropped": stats.dropped,
            "reconnects": stats.reconnects,
            "decode_errors": stats.decode_errors,
            "last_error": stats.last_error,
        }
    counters, mqtt = src.counters, src.publisher.stats()
    governor = governor_view(src.health.latest)
    return {
        "schema": STATUS_SCHEMA,
        "device_id": src.device_id,
        "version": __version__,
        "started": format_utc_ms(src.started),
        "uptime_s": round(time.monotonic() - src.started_monotonic, 1),
        "health": {"state": health.state.value, "since": format_utc_ms(health.since),
                   "reasons": [str(reason) for reason in health.reasons]},
        "model": {"name": src.model, "precision": src.precision},
        "backend": (governor and governor.backend) or src.backend,
        "governor": None if governor is None else {
            "mode": governor.mode, "since": governor.since, "reason": governor.reason,
            "switches": governor.switches, "temperatures_c": governor.temperatures_c,
            "gpu_load": governor.gpu_load, "gpu_memory_used_bytes": governor.gpu_memory_used_bytes,
            "shed_cameras": governor.shed_cameras,
        },
        "cameras": cameras,
        "inference": {"frames": counters.frames, "batches": counters.batches, "batch_errors": counters.batch_errors,
                      "fps": round(sum(fps.values()), 2) if fps else None},
        "queues": {"prefetch": src.prefetch.waiting if src.prefetch is not None else 0,
                   "mqtt_outbox": mqtt.queued, "mqtt_in_flight": mqtt.in_flight,
                   "mqtt_capacity": src.outbox_capacity, "mqtt_outbox_bytes": mqtt.outbox_bytes},
        "mqtt": {"connected": mqtt.connected, "sent": mqtt.sent, "dropped_overflow": mqtt.dropped_overflow,
                 "dropped_quota": mqtt.dropped_quota, "dropped_rejected": mqtt.dropped_rejected,
                 "reconnects": mqtt.reconnects},
    }
