"""The publisher's counters, their snapshot (PublisherStats), and the rate-limited drop warning."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from jetsentry.publish.outbox import Outbox

OVERFLOW_WARNING_INTERVAL_S = 10.0


@dataclass(frozen=True, slots=True)
class PublisherStats:
    connected: bool
    queued: int  # waiting or in flight: not yet acknowledged
    in_flight: int  # handed to the broker connection, awaiting acknowledgement
    sent: int  # acknowledged by the broker (QoS 1) or written to the socket (QoS 0)
    dropped_overflow: int  # oldest messages dropped because the memory outbox was full
    dropped_quota: int  # oldest detections dropped because the disk outbox reached its quota
    dropped_rejected: int  # messages paho refused outright (logged each time)
    connects: int  # successful CONNACKs
    reconnects: int  # connection attempts after the first
    outbox_bytes: int  # topic plus payload bytes not yet acknowledged


class DropCounter:
    """Messages the outbox dropped, by its drop_reason, and the warning to log about them:
    at most one per OVERFLOW_WARNING_INTERVAL_S.  Called under the publisher's lock."""

    def __init__(self) -> None:
        self.dropped = {"overflow": 0, "quota": 0}
        self._unreported = 0
        self._last_warning = -float("inf")

    def count(self, outbox: Outbox, dropped: int) -> tuple[Any, ...] | None:
        """Count `dropped` messages; returns the warning's logging arguments (log it outside the
        lock), or None within the interval."""
        reason = outbox.drop_reason
        self.dropped[reason] += dropped
        self._unreported += dropped
        now = time.monotonic()
        if now - self._last_warning < OVERFLOW_WARNING_INTERVAL_S:
            return None
        self._last_warning = now
        unreported, self._unreported = self._unreported, 0
        if reason == "quota":
            return (
                "MQTT disk outbox at its quota (%d messages, %d bytes; broker unreachable or slow): dropped the %d "
                "oldest detections messages since the last warning, %d in total",
                len(outbox), outbox.nbytes, unreported, self.dropped[reason],
            )
        return (
            "MQTT outbox full (%d messages, broker unreachable or slow): dropped the %d oldest since the "
            "last warning, %d in total",
            len(outbox),
            unreported,
            self.dropped[reason],
        )
