"""MQTT topic names, all under {prefix}/{device_id}/ (the tree is in docs/MQTT.md): status, health,
{camera_id}/detections, {camera_id}/snapshot, events, commands and commands/result.

The rules (config/mqtt_names.py) are the config models' own, so a topic built from a
validated config always passes; callers with other strings get a ValueError."""

from __future__ import annotations

from jetsentry.config.mqtt_names import check_topic, check_topic_level, check_topic_prefix

DEVICE_TOPICS = ("status", "health", "events", "commands", "commands/result")


def _level(value: str, what: str) -> str:
    return check_topic_level(value, what)


def _prefix(prefix: str) -> str:
    return check_topic_prefix(prefix)


def detections_topic(prefix: str, device_id: str, camera_id: str) -> str:
    return check_topic(f"{_prefix(prefix)}/{_level(device_id, 'device_id')}/{_level(camera_id, 'camera_id')}/detections")


def snapshot_topic(prefix: str, device_id: str, camera_id: str) -> str:
    """Where the `snapshot` command publishes a camera's JPEG."""
    return check_topic(f"{_prefix(prefix)}/{_level(device_id, 'device_id')}/{_level(camera_id, 'camera_id')}/snapshot")


def status_topic(prefix: str, device_id: str) -> str:
    return check_topic(f"{_prefix(prefix)}/{_level(device_id, 'device_id')}/status")


def health_topic(prefix: str, device_id: str) -> str:
    return check_topic(f"{_prefix(prefix)}/{_level(device_id, 'device_id')}/health")


def events_topic(prefix: str, device_id: str) -> str:
    return device_topic(prefix, device_id, "events")


def device_topic(prefix: str, device_id: str, name: str) -> str:
    """{prefix}/{device_id}/{name} for the device-level topics: status, health, events, commands
    (read by the device), commands/result."""
    if name not in DEVICE_TOPICS:
        raise ValueError(f"{name!r} is not a device topic; those are {', '.join(DEVICE_TOPICS)}")
    return check_topic(f"{_prefix(prefix)}/{_level(device_id, 'device_id')}/{name}")


def is_detections_topic(topic: str) -> bool:
    """A per-frame detections topic: the one kind of message a full disk outbox may drop."""
    return topic.endswith("/detections")
