"""publish stage: detections messages, their JSON Schema, and the MQTT publisher."""

from jetsentry.publish.message import (
    LATENCY_STAGES,
    SCHEMA_ID,
    DetectionsMessage,
    ModelInfo,
    build_detections_message,
    format_utc_ms,
)
from jetsentry.publish.mqtt import MqttPublisher, PublisherStats
from jetsentry.publish.outbox import MemoryOutbox, Outbox, OutgoingMessage
from jetsentry.publish.topics import detections_topic, events_topic, health_topic, status_topic

__all__ = [
    "LATENCY_STAGES",
    "SCHEMA_ID",
    "DetectionsMessage",
    "MemoryOutbox",
    "ModelInfo",
    "MqttPublisher",
    "Outbox",
    "OutgoingMessage",
    "PublisherStats",
    "build_detections_message",
    "detections_topic",
    "events_topic",
    "format_utc_ms",
    "health_topic",
    "status_topic",
]
