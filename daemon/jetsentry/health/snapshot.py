"""Health reports: the stages' facts into the health state, out as a retained message and a log line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from jetsentry.health.message import SCHEMA_ID, HealthMessage
from jetsentry.health.state import CameraFacts, HealthChange, HealthState, StageFacts
from jetsentry.publish.message import format_utc_ms

log = logging.getLogger("jetsentry.health")

# How often the facts are gathered (each camera's stats are read under its lock): often
# enough that a change is published within a second, rarely enough to cost nothing.
ASSESS_INTERVAL_S = 0.5


@dataclass
class ServiceCounters:
    """Counters the inference loop updates (one writer thread)."""

    batches: int = 0
    frames: int = 0
    messages: int = 0
    batch_errors: int = 0
    consecutive_batch_errors: int = 0
    last_batch_error: str | None = None

    def batch_failed(self, error: str) -> None:
        self.batch_errors += 1
        self.consecutive_batch_errors += 1
        self.last_batch_error = error

    def batch_done(self, frames: int, messages: int) -> None:
        self.batches += 1
        self.frames += frames
        self.messages += messages
        self.consecutive_batch_errors = 0


class HealthReporter:
    """Feeds `state` from the sessions, counters and publisher, and reports it.

    `check()` (called by the daemon's loop between batches) gathers the facts at most every
    ASSESS_INTERVAL_S; the retained health message goes out at once when the state or the
    set of subjects it names changes, and at least every `interval_s`, with a log line.
    """

    def __init__(
        self,
        sessions: Mapping[str, object],
        counters: ServiceCounters,
        publisher: object,
        state: HealthState,
        *,
        device_id: str,
        topic: str,
        interval_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        governor: Callable[[], dict | None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._counters = counters
        self._publisher = publisher
        self.state = state
        self._device_id = device_id
        self.topic = topic
        self._interval_s = interval_s
        self._clock = clock
        self._governor = governor  # the governor's health part (a GovernorHealth dict), or None
        self._last_assessed = -float("inf")
        self._last_report = clock()
        self._last_frames = 0
        self.latest: dict = {}

    def check(self, *, force: bool = False) -> HealthChange | None:
        """Assess the stages now and then; report when something changed or the interval is up."""
        now = self._clock()
        if not force and now - self._last_assessed < ASSESS_INTERVAL_S:
            return None
        self._last_assessed = now
        sessions = {camera_id: session.stats for camera_id, session in self._sessions.items()}
        publisher = self._publisher.stats()
        governor = self._governor() if self._governor is not None else None
        subjects = self.state.current.subjects
        change = self.state.update(self._facts(sessions, publisher, governor))
        if change is not None:
            log.log(logging.WARNING if change.worse else logging.INFO, "health %s -> %s: %s",
                    change.previous.value, change.state.value, change.reason)
        periodic = now - self._last_report >= self._interval_s
        if force or periodic or change is not None or self.state.current.subjects != subjects:
            message = self._report(sessions, publisher, now, governor)
            if periodic:
                log.info("health %s", message)
        return change

    def _facts(self, sessions: Mapping[str, object], publisher, governor: dict | None = None) -> StageFacts:
        counters = self._counters
        return StageFacts(
            cameras={
                camera_id: CameraFacts(stats.state.value, stats.reconnects, stats.decode_errors, stats.last_error)
                for camera_id, stats in sessions.items()
            },
            consecutive_batch_failures=counters.consecutive_batch_errors,
            last_batch_error=counters.last_batch_error,
            # Before the first connection attempt has ended, the broker is not yet known unreachable.
            broker_unreachable=not publisher.connected and (publisher.connects > 0 or publisher.reconnects > 0),
            governor_mode=governor["mode"] if governor else "normal",
            governor_reason=governor["reason"] if governor else "",
        )

    def _report(self, sessions: Mapping[str, object], publisher, now: float, governor: dict | None = None) -> str:
        """Build, keep and publish (retained) the health message; returns its JSON text."""
        counters, status = self._counters, self.state.current
        fps = (counters.frames - self._last_frames) / max(now - self._last_report, 1e-9)
        self._last_report, self._last_frames = now, counters.frames
        message = HealthMessage(
            schema_id=SCHEMA_ID,
            device_id=self._device_id,
            ts=format_utc_ms(time.time()),
            state=status.state.value,
            since=format_utc_ms(status.since),
            reasons=[str(reason) for reason in status.reasons],
            cameras={
                camera_id: {
                    "state": stats.state.value,
                    "frames": stats.frames,
                    "dropped": stats.dropped,
                    "dropped_policy": stats.dropped_policy,
                    "reconnects": stats.reconnects,
                    "decode_errors": stats.decode_errors,
                    "last_error": stats.last_error,
                }
                for camera_id, stats in sessions.items()
            },
            inference={
                "frames": counters.frames,
                "batches": counters.batches,
                "batch_errors": counters.batch_errors,
                "consecutive_batch_errors": counters.consecutive_batch_errors,
                "fps": round(fps, 2),
            },
            mqtt={
                "connected": publisher.connected,
                "queued": publisher.queued,
                "sent": publisher.sent,
                "dropped_overflow": publisher.dropped_overflow,
                "reconnects": publisher.reconnects,
            },
            governor=governor,
        )
        text = message.model_dump_json(by_alias=True)
        self.latest = message.model_dump(by_alias=True)
        self._publisher.publish(self.topic, text.encode(), qos=1, retain=True)
        return text
