"""Fleet side: `jetsentry consume`, a reference consumer of detections messages (docs/MQTT.md)."""
