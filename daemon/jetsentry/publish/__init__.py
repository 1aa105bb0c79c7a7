"""publish stage: detections messages, their JSON Schema, the outboxes and the MQTT publisher."""

from jetsentry.publish.message import (
    LATENCY_STAGES,
    SCHEMA_ID,
    DetectionsMessage,
    ModelInfo,
    build_detections_message,
    format_utc_ms,
)
from jetsentry.publish.disk_outbox import DiskOutbox, open_outbox
from jetsentry.publish.mqtt import MqttPublisher, PublisherStats
from jetsentry.publish.outbox import MemoryOutbox, Outbox, OutgoingMessage
from jetsentry.publish.outbox_db import OutboxError
from jetsentry.publish.run_counter import next_run
from jetsentry.publish.topics import (
    detections_topic,
    device_topic,
    events_topic,
    health_topic,
    snapshot_topic,
    status_topic,
)

__all__ = [
    "LATENCY_STAGES",
    "SCHEMA_ID",
    "DetectionsMessage",
    "DiskOutbox",
    "MemoryOutbox",
    "ModelInfo",
    "MqttPublisher",
    "Outbox",
    "OutboxError",
    "OutgoingMessage",
    "PublisherStats",
    "build_detections_message",
    "detections_topic",
    "device_topic",
    "events_topic",
    "format_utc_ms",
    "health_topic",
    "next_run",
    "open_outbox",
    "snapshot_topic",
    "status_topic",
]
