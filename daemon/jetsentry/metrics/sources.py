"""What the metrics read from the daemon: its stages' own counters, at scrape time."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GOVERNOR_MODES = ("normal", "shedding", "cpu_fallback")


@dataclass
class DaemonSources:
    """The daemon's stages as the metrics see them (read only, from the HTTP server's threads).

    sessions: camera id -> CameraSession (`.stats`, `.slot`); counters: ServiceCounters;
    publisher: MqttPublisher (`.stats()`); health: HealthReporter (`.state.current`, `.latest`,
    the retained health message last built, with its optional `governor` part).
    """

    device_id: str
    sessions: Mapping[str, Any]
    counters: Any
    publisher: Any
    health: Any
    backend: str  # the configured backend type; the governor's, once it reports one
    model: str
    precision: str
    outbox_capacity: int  # messages: mqtt.queue_max (memory outbox) or mqtt.outbox_max_messages (disk)
    max_batch: int
    outbox_capacity_bytes: int | None = None  # mqtt.outbox_max_bytes; None for the memory outbox
    started: float = field(default_factory=time.time)  # wall clock: when the daemon's stages were built
    started_monotonic: float = field(default_factory=time.monotonic)
    prefetch: Any = None  # PrefetchedBatches while the daemon prepares batches ahead
    snapshots: Any = None  # snapshot/snapshots.py Snapshots: GET /snapshot/{camera}.jpg; None: 404


@dataclass(frozen=True)
class GovernorView:
    """The health message's `governor` part (issue 11's health governor), checked field by field:
    a value of the wrong type is left out rather than failing the scrape."""

    mode: str | None
    backend: str | None
    since: str | None
    reason: str | None
    temperatures_c: dict[str, float]
    gpu_load: float | None  # utilisation, 0..1
    gpu_memory_used_bytes: int | None
    switches: int | None
    shed_cameras: dict[str, float]


def governor_view(health_message: Mapping[str, Any] | None) -> GovernorView | None:
    """The governor part of a health message (a dict as `HealthReporter.latest` holds it), or None."""
    part = (health_message or {}).get("governor")
    if not isinstance(part, Mapping):
        return None
    mode = part.get("mode")
    return GovernorView(
        mode=mode if mode in GOVERNOR_MODES else None,
        backend=_text(part.get("backend")),
        since=_text(part.get("since")),
        reason=_text(part.get("reason")),
        temperatures_c=_numbers(part.get("temperatures_c")),
        gpu_load=_number(part.get("gpu_load")),
        gpu_memory_used_bytes=_count(part.get("gpu_memory_used_bytes")),
        switches=_count(part.get("switches")),
        shed_cameras=_numbers(part.get("shed_cameras")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _numbers(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        return {}
    out = {}
    for key, number in value.items():
        number = _number(number)
        if isinstance(key, str) and number is not None:
            out[key] = number
    return out
