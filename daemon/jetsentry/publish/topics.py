"""MQTT topic names: {prefix}/{device_id}/{camera_id}/detections, {prefix}/{device_id}/status and .../health.

The rules (config/mqtt_names.py) are the config models' own, so a topic built from a
validated config always passes; callers with other strings get a ValueError."""

from __future__ import annotations

from jetsentry.config.mqtt_names import check_topic, check_topic_level, check_topic_prefix


def _level(value: str, what: str) -> str:
    return check_topic_level(value, what)


def _prefix(prefix: str) -> str:
    return check_topic_prefix(prefix)


def detections_topic(prefix: str, device_id: str, camera_id: str) -> str:
    return check_topic(f"{_prefix(prefix)}/{_level(device_id, 'device_id')}/{_level(camera_id, 'camera_id')}/detections")


def status_topic(prefix: str, device_id: str) -> str:
    return check_topic(f"{_prefix(prefix)}/{_level(device_id, 'device_id')}/status")


def health_topic(prefix: str, device_id: str) -> str:
    return check_topic(f"{_prefix(prefix)}/{_level(device_id, 'device_id')}/health")


def is_detections_topic(topic: str) -> bool:
    """A per-frame detections topic: the one kind of message a full disk outbox may drop."""
    return topic.endswith("/detections")
