"""What the consumer does with each message: de-duplicate, report gaps, write one JSON line, acknowledge."""

from __future__ import annotations

import json
import logging
import threading
from typing import IO, Any

from jetsentry.consume.tracker import DeliveryTracker, MessageIdError, Observation, Verdict, stream_name

log = logging.getLogger("jetsentry.consume")

# Messages dropped as malformed are logged individually up to this many, then counted only.
MALFORMED_LOG_LIMIT = 20


class Consumer:
    """The paho callbacks, the tracker and the output; fatal is set when the consumer must end."""

    def __init__(self, out: IO[str], tracker: DeliveryTracker):
        self._out = out
        self.tracker = tracker
        self._lock = threading.Lock()
        self.fatal: str | None = None
        self.malformed = 0

    def on_message(self, client: Any, _userdata: Any, message: Any) -> None:
        """Acknowledges (manual acks) once the message is written, dropped as a duplicate or malformed."""
        if self._handle(message):
            client.ack(message.mid, message.qos)

    def _handle(self, message: Any) -> bool:
        try:
            body = json.loads(message.payload)
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
            observation = self._observe(body)
        except (ValueError, TypeError, KeyError, MessageIdError) as exc:
            self._malformed(message.topic, exc)
            return True
        if observation.verdict is Verdict.DUPLICATE:
            log.debug("duplicate %s dropped", body.get("message_id"))
            return True
        self._report(observation, body)
        line = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        try:
            with self._lock:
                self._out.write(line + "\n")
                self._out.flush()
        except OSError as exc:
            # Left unacknowledged: the broker delivers it again to this session or the group.
            self.fatal = f"cannot write the output: {exc.strerror or exc}"
            return False
        return True

    def _observe(self, body: dict[str, Any]) -> Observation:
        with self._lock:
            if "message_id" in body:
                return self.tracker.observe(body["message_id"])
            seq = body["seq"]
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
                raise ValueError("seq is not a count")
            return self.tracker.observe_unidentified(str(body["device_id"]), str(body["camera_id"]), seq)

    def _report(self, observation: Observation, body: dict[str, Any]) -> None:
        gap = observation.gap
        if gap is not None:
            seqs = str(gap.first) if gap.missing == 1 else f"{gap.first}-{gap.last}"
            log.warning("gap: %s seq %s missing (%d)", stream_name(gap.device_id, gap.camera_id, gap.run), seqs,
                        gap.missing)
        if observation.restarted:
            log.warning("restart: %s/%s seq went back to %s (messages without message_id)", body.get("device_id"),
                        body.get("camera_id"), body.get("seq"))

    def _malformed(self, topic: str, exc: Exception) -> None:
        self.malformed += 1
        if self.malformed <= MALFORMED_LOG_LIMIT:
            log.warning("message on %s dropped: not a detections message (%s)%s", topic, exc,
                        "; further ones are only counted" if self.malformed == MALFORMED_LOG_LIMIT else "")

    def summary(self) -> str:
        c = self.tracker.counts
        return (f"{c.new + c.late} messages written ({c.late} late, {c.unidentified} without message_id), "
                f"{c.duplicates} duplicates dropped, {c.gaps} gaps ({c.missing} missing), {self.malformed} malformed")
