"""MQTT topic names: {prefix}/{device_id}/{camera_id}/detections, {prefix}/{device_id}/status and .../health."""

from __future__ import annotations


def _level(value: str, what: str) -> str:
    # A topic level must be non-empty and free of separators and wildcards.
    if not value or any(c in value for c in "/+#\0"):
        raise ValueError(f"{what} {value!r} cannot be an MQTT topic level (empty, or contains '/', '+', '#')")
    return value


def _prefix(prefix: str) -> str:
    if not prefix or any(c in prefix for c in "+#\0") or prefix.startswith("/") or prefix.endswith("/"):
        raise ValueError(f"topic prefix {prefix!r} must be non-empty, without '+' or '#' or a leading/trailing '/'")
    return prefix


def detections_topic(prefix: str, device_id: str, camera_id: str) -> str:
    return f"{_prefix(prefix)}/{_level(device_id, 'device_id')}/{_level(camera_id, 'camera_id')}/detections"


def status_topic(prefix: str, device_id: str) -> str:
    return f"{_prefix(prefix)}/{_level(device_id, 'device_id')}/status"


def health_topic(prefix: str, device_id: str) -> str:
    return f"{_prefix(prefix)}/{_level(device_id, 'device_id')}/health"
